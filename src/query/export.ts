/**
 * Export of a filtered range of events (docs/export.md), streamed: nothing holds more than one
 * page of the log and one output chunk, whatever the range.
 *
 *   ndjson   one JSON object per event: where it is in the log and the event in the protobuf JSON
 *            mapping (bytes as base64), for SIEMs and jq
 *   csv      RFC 4180 (CRLF, quoted where needed), a header row, the stable columns CSV_COLUMNS
 *   bundle   the signed export bundle of src/query/signed-export.ts: the events with their inclusion
 *            proofs against one checkpoint, and a manifest signed by the log, for `candor
 *            verify-export` with no network
 *
 * Every format covers the leaf index range fixed when the export starts (the published
 * checkpoint's size), so the events of an export never change while it runs.
 */
import { createHash } from 'node:crypto';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { parseNote, signNote, type NoteSigner } from '@candor/core/note';
import { nodeHasher } from '../crypto/node.js';
import { ActorType, EventSchema, Outcome } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import type { LogService } from '../log/service.js';
import { EXPORT_FORMAT, EventsDigest, formatManifest } from './signed-export.js';
import { fieldsOf } from './fields.js';
import { filterJson, type EventFilter } from './filter.js';
import { scanEvents, type EventSource } from './scan.js';
import { jsonWriter } from './json.js';
import { nsTime, rfc3339 } from '@candor/core/time';
import type { LoggedEvent } from './types.js';

export type ExportFormat = 'ndjson' | 'csv' | 'bundle';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ndjson', 'csv', 'bundle'];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
  bundle: 'application/x-ndjson; charset=utf-8',
};

/** Standard base64 by node:crypto's Buffer: several times faster than the portable encoder on this hot path. */
function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** The bundle carries a progress line after every this many entries read. */
export const PROGRESS_EVERY = 65_536;
/** Output is written in chunks of about this many bytes. */
const CHUNK_BYTES = 64 * 1024;

const eventJson = jsonWriter(EventSchema, toBase64);

/**
 * One NDJSON line (without its newline) for an event: where it is in the log, and the event in the
 * protobuf JSON mapping, written straight from its canonical bytes (json.ts).
 */
export function ndjsonLine(e: LoggedEvent, leafHash: Uint8Array = nodeHasher.leaf(e.leaf)): string {
  const head = JSON.stringify({
    index: e.index,
    leafHash: toBase64(leafHash),
    receivedAt: nsTime(e.receivedAt),
    producer: e.producer,
    authMethod: `AUTH_METHOD_${AuthMethod[e.authMethod]}`,
    signed: e.signed,
  });
  return `${head.slice(0, -1)},"event":${eventJson(e.eventBytes, 0, e.eventBytes.length)}}`;
}

/**
 * The CSV columns, in order. Stable: new columns are only ever added at the end. `event` is the
 * canonical event encoding in base64 (the bytes the producer signed), so no field is lost.
 */
export const CSV_COLUMNS = [
  'index',
  'leaf_hash',
  'received_at',
  'producer',
  'auth_method',
  'signed',
  'event_id',
  'producer_event_id',
  'type',
  'occurred_at',
  'tenant_id',
  'actor_id',
  'actor_type',
  'outcome',
  'resource_type',
  'resource_id',
  'resource_name',
  'session_id',
  'review_id',
  'source_ip',
  'event',
] as const;

/** RFC 4180 §2: a field with a comma, a quote, CR or LF is quoted, and its quotes doubled. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

/** One CSV record (with its CRLF) for an event; it needs no decoding of the event (fields.ts). */
export function csvRow(e: LoggedEvent, leafHash: Uint8Array = nodeHasher.leaf(e.leaf)): string {
  const ev = fieldsOf(e);
  const fields = [
    String(e.index),
    toBase64(leafHash),
    nsTime(e.receivedAt),
    e.producer,
    AuthMethod[e.authMethod] ?? String(e.authMethod),
    e.signed ? 'true' : 'false',
    ev.eventId,
    ev.producerEventId,
    ev.type,
    ev.seconds === 0 && ev.nanos === 0 ? '' : rfc3339(BigInt(ev.seconds), ev.nanos),
    ev.tenantId,
    ev.actorId,
    ActorType[ev.actorType] ?? String(ev.actorType),
    Outcome[ev.outcome] ?? String(ev.outcome),
    ev.resourceType,
    ev.resourceId,
    ev.resourceName,
    ev.sessionId,
    ev.reviewId,
    ev.sourceIp,
    toBase64(e.eventBytes),
  ];
  return `${fields.map(csvField).join(',')}\r\n`;
}

/** What an export did, once its body ended (complete) or was abandoned by the client. */
export interface ExportSummary {
  format: ExportFormat;
  filter: EventFilter;
  /** The leaf index range read. */
  start: number;
  end: number;
  count: number;
  first?: number;
  last?: number;
  /** Bytes of the body sent, and their SHA-256 (for the bundle: the digest of the file). */
  bytes: number;
  sha256: Uint8Array;
  complete: boolean;
}

export interface ExportStream {
  format: ExportFormat;
  contentType: string;
  /** The leaf index range [start, end) the export covers: a record's index over it is the progress. */
  start: number;
  end: number;
  body: AsyncIterable<Buffer>;
  /** Settles once the body ended or its reader stopped. */
  done: Promise<ExportSummary>;
}

/** Where events come from (the scan of src/query/scan.ts until the search index replaces it). */
export type SourceFactory = (filter: EventFilter, size: number) => EventSource;

export interface ExporterOptions {
  service: LogService;
  /** The log's signers, for the bundle's manifest. */
  signers: readonly NoteSigner[];
  source?: SourceFactory;
}

export class Exporter {
  readonly #o: ExporterOptions;
  readonly #source: SourceFactory;

  constructor(o: ExporterOptions) {
    if (o.signers.length === 0) throw new CandorError('internal', 'an exporter needs the log signers');
    this.#o = o;
    this.#source = o.source ?? ((filter, size) => scanEvents(o.service, filter, { size }));
  }

  /** Starts an export; nothing is read until the body is. */
  open(format: ExportFormat, filter: EventFilter): ExportStream {
    if (!EXPORT_FORMATS.includes(format)) throw new CandorError('invalid_argument', `format must be one of ${EXPORT_FORMATS.join(', ')}`);
    const note = this.#o.service.checkpoint();
    const checkpoint = parseCheckpoint(parseNote(note).text);
    const source = this.#source(filter, checkpoint.size);
    let settle!: (s: ExportSummary) => void;
    const done = new Promise<ExportSummary>((r) => (settle = r));
    const service = this.#o.service;
    const signers = this.#o.signers;

    async function* body(): AsyncGenerator<Buffer> {
      const bodyHash = createHash('sha256');
      const digest = new EventsDigest(createHash('sha256'));
      let parts: string[] = [];
      let pending = 0;
      let bytes = 0;
      let count = 0;
      let first: number | undefined;
      let last: number | undefined;
      let complete = false;
      let reported = 0;
      // Proofs of neighbouring events share most of their hashes, as the same arrays (inclusionProofs): encode each once.
      // A Map (faster than a WeakMap here), emptied per batch: proofs of one batch share hashes.
      const encoded = new Map<Uint8Array, string>();
      const b64 = (h: Uint8Array) => {
        let s = encoded.get(h);
        if (s === undefined) encoded.set(h, (s = toBase64(h)));
        return s;
      };
      const push = (s: string) => {
        parts.push(s);
        pending += s.length;
      };
      const flush = (): Buffer => {
        const b = Buffer.from(parts.join(''), 'utf8');
        parts = [];
        pending = 0;
        bodyHash.update(b);
        bytes += b.length;
        return b;
      };
      try {
        if (format === 'csv') push(csvHeader());
        if (format === 'bundle') push(`${JSON.stringify({ format: EXPORT_FORMAT, checkpoint: note, filter: JSON.parse(filterJson(filter)) as unknown })}\n`);
        for await (const batch of source.batches()) {
          const proofs = format === 'bundle' ? await service.inclusionProofs(batch.map((e) => e.index), checkpoint.size) : undefined;
          encoded.clear();
          for (let i = 0; i < batch.length; i++) {
            const e = batch[i]!;
            const leafHash = proofs ? proofs[i]!.leafHash : nodeHasher.leaf(e.leaf);
            if (format === 'ndjson') push(`${ndjsonLine(e, leafHash)}\n`);
            else if (format === 'csv') push(csvRow(e, leafHash));
            else {
              push(`{"index":${e.index},"leaf":"${toBase64(e.leaf)}","proof":[${proofs![i]!.proof.map((h) => `"${b64(h)}"`).join(',')}]}\n`);
              digest.add(e.index, leafHash);
            }
            count++;
            first ??= e.index;
            last = e.index;
          }
          if (format === 'bundle' && source.progress.scanned - reported >= PROGRESS_EVERY) {
            reported = source.progress.scanned;
            push(`${JSON.stringify({ progress: { scanned: reported, of: source.end - source.start } })}\n`);
          }
          if (pending >= CHUNK_BYTES) yield flush();
        }
        if (format === 'bundle') {
          const text = formatManifest({
            origin: checkpoint.origin,
            size: checkpoint.size,
            root: checkpoint.root,
            filter,
            count,
            ...(first === undefined ? {} : { first, last: last! }),
            eventsSha256: digest.digest(),
          });
          push(`${JSON.stringify({ manifest: signNote(text, signers) })}\n`);
        }
        if (pending > 0) yield flush();
        complete = true;
      } finally {
        settle({
          format,
          filter,
          start: source.start,
          end: source.end,
          count,
          ...(first === undefined ? {} : { first, last: last! }),
          bytes,
          sha256: new Uint8Array(bodyHash.digest()),
          complete,
        });
      }
    }

    return { format, contentType: CONTENT_TYPES[format], start: source.start, end: source.end, body: body(), done };
  }
}
