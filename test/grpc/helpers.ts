// Helpers for the event-ingestion tests: a real log (store on disk in a temp dir, gRPC and HTTP
// on 127.0.0.1) with registered producers, a raw gRPC client that speaks bytes (so tests see the
// server's contract, not the SDK's), and sample events.
import { join } from 'node:path';
import type { ClientHttp2Session } from 'node:http2';
import { Client, Metadata, credentials, type ChannelCredentials, type ServiceError, type status } from '@grpc/grpc-js';
import { clone, create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { generateSignerKey } from '@candor/core/note';
import type { Config } from '../../src/config.js';
import { ActorType, EventSchema, Outcome, SessionVerb, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import { logServiceDefinition } from '@candor/schema/grpc';
import { REGISTRY_FILE, newToken, updateRegistryFile, type ProducerRecord } from '../../src/producers/registry.js';
import { startTestLog } from '../helpers/log.js';
import { tempDir } from '../helpers/server.js';

export interface TestProducer {
  id: string;
  token: string;
  /** Signer key, when the producer was registered with one. */
  skey?: string;
  vkey?: string;
}

export interface ProducerSpec {
  id: string;
  tenants?: string[];
  types?: string[];
  signed?: boolean;
  mtls?: string[];
  token?: boolean;
  rateLimit?: ProducerRecord['rateLimit'];
  dailyQuota?: number;
}

/** Registers producers in a data dir's registry; returns their tokens and keys. */
export function registerProducers(dir: string, specs: readonly ProducerSpec[]): Record<string, TestProducer> {
  const out: Record<string, TestProducer> = {};
  updateRegistryFile(join(dir, REGISTRY_FILE), (doc) => {
    for (const s of specs) {
      const t = newToken();
      const k = s.signed ? generateSignerKey(s.id) : undefined;
      const rec: ProducerRecord = {
        id: s.id,
        tenants: s.tenants ?? ['org-1'],
        eventTypes: s.types ?? ['*'],
        tokens: s.token === false ? [] : [t.record],
        mtls: s.mtls ?? [],
        keys: k ? [k.vkey] : [],
        disabled: false,
        created: new Date().toISOString(),
        ...(s.rateLimit ? { rateLimit: s.rateLimit } : {}),
        ...(s.dailyQuota !== undefined ? { dailyQuota: s.dailyQuota } : {}),
      };
      doc.producers.push(rec);
      out[s.id] = { id: s.id, token: t.token, ...(k ? { skey: k.skey, vkey: k.vkey } : {}) };
    }
  });
  return out;
}

export type EventLog = Awaited<ReturnType<typeof startTestLog>> & { creds: Record<string, TestProducer>; address: string };

/** A log with gRPC on 127.0.0.1 and the given producers registered before it starts. */
export async function startEventLog(specs: readonly ProducerSpec[], over: Partial<Config> = {}): Promise<EventLog> {
  const dir = over.data ?? tempDir();
  const producers = registerProducers(dir, specs);
  const log = await startTestLog({ grpc: '127.0.0.1:0', ...over, data: dir });
  return Object.assign(log, { creds: producers, address: log.grpc!.address });
}

export interface CallError {
  code: status;
  details: string;
  trailers: Record<string, string>;
}

function trailers(md: Metadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md?.getMap() ?? {})) out[k] = String(v);
  return out;
}

/** A raw candor.v1.LogService client: requests in, decoded responses or status errors out. */
export class RawClient {
  readonly client: Client;
  token: string | undefined;
  /** A raw authorization header, instead of "Bearer <token>". */
  header: string | undefined;

  constructor(address: string, token?: string, creds: ChannelCredentials = credentials.createInsecure(), options: Record<string, string | number> = {}) {
    this.client = new Client(address, creds, { 'grpc.max_send_message_length': 64 * 1024 * 1024, ...options });
    this.token = token;
  }

  metadata(): Metadata {
    const md = new Metadata();
    if (this.header !== undefined) md.set('authorization', this.header);
    else if (this.token !== undefined) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  /** A unary call with raw request bytes. */
  callBytes(method: string, bytes: Uint8Array): Promise<{ ok: Uint8Array } | { err: CallError }> {
    const def = logServiceDefinition[method]!;
    return new Promise((resolve) =>
      this.client.makeUnaryRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, bytes, this.metadata(), { deadline: Date.now() + 20_000 }, (err, res) => {
        if (err) resolve({ err: { code: err.code, details: err.details, trailers: trailers((err as ServiceError).metadata) } });
        else resolve({ ok: res! });
      }),
    );
  }

  async call<Q extends DescMessage, R extends DescMessage>(method: string, q: Q, r: R, req: MessageInitShape<Q>): Promise<MessageShape<R>> {
    const res = await this.callBytes(method, toBinary(q, create(q, req)));
    if ('err' in res) throw Object.assign(new Error(`${method}: ${res.err.details}`), res.err);
    return fromBinary(r, res.ok);
  }

  /** Like call, but expects an error and returns it. */
  async fail<Q extends DescMessage>(method: string, q: Q, req: MessageInitShape<Q>): Promise<CallError> {
    const res = await this.callBytes(method, toBinary(q, create(q, req)));
    if (!('err' in res)) throw new Error(`${method} succeeded; an error was expected`);
    return res.err;
  }

  close(): void {
    this.client.close();
  }
}

let counter = 0;

/** A valid session.started event; `over` replaces envelope fields. */
export function sampleEvent(over: Partial<MessageInitShape<typeof EventSchema>> = {}): Event {
  const n = ++counter;
  return create(EventSchema, {
    eventId: `ev-${process.pid}-${n}`,
    producerEventId: `pe-${process.pid}-${n}`,
    type: 'session.started',
    occurredAt: timestampFromMs(1_760_000_000_000 + n),
    tenantId: 'org-1',
    actor: { id: 'usr_1', type: ActorType.HUMAN },
    source: { ip: '203.0.113.7', origin: 'cli' },
    resource: { name: 'pg-prod', type: 'database', subtype: 'postgres' },
    sessionId: `ses-${n}`,
    outcome: Outcome.SUCCESS,
    body: { case: 'sessionStarted', value: { verb: SessionVerb.CONNECT, protocol: 'postgres' } },
    // A MessageInitShape is a union (a message or its init); spread, it no longer type-checks as one.
    ...(over as object),
  });
}

/** A copy of an event with changes applied (protobuf-es messages are plain objects). */
export function changed(ev: Event, change: (e: Event) => void): Event {
  const c = clone(EventSchema, ev);
  change(c);
  return c;
}

export function encoded(ev: Event): Uint8Array {
  return toBinary(EventSchema, ev);
}

/** The value of a Prometheus counter with the given labels (0 if absent). */
export async function metricValue(log: EventLog, name: string, labels: Record<string, string>): Promise<number> {
  const m = await log.metrics.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** Bytes a raw call writes at a time. */
const RAW_CHUNK = 1024 * 1024;

export interface RawAnswer {
  status: string;
  message: string;
  /** The candor-error-code trailer, when the log sent one. */
  code?: string;
}

/**
 * One gRPC call over a raw HTTP/2 stream: the 5-byte message prefix announcing `length` bytes,
 * then `body` (a view of a shared buffer, never copied). Resolves with grpc-status and
 * grpc-message, from the headers of a trailers-only answer or from the trailers.
 */
export function rawCall(session: ClientHttp2Session, path: string, headers: Record<string, string>, length: number, body: Uint8Array, compressed = false): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let answered = false;
    const answer = (h: Record<string, unknown>) => {
      if (answered || h['grpc-status'] === undefined) return;
      answered = true;
      resolve({ status: String(h['grpc-status']), message: decodeURIComponent(String(h['grpc-message'] ?? '')), ...(h['candor-error-code'] ? { code: String(h['candor-error-code']) } : {}) });
      stream.close();
    };
    stream.on('response', answer);
    stream.on('trailers', answer);
    stream.on('error', (err) => (answered ? undefined : reject(err)));
    stream.on('close', () => (answered ? undefined : reject(new Error(`stream closed without a status (rst ${stream.rstCode})`))));
    stream.resume();
    const prefix = Buffer.alloc(5);
    prefix.writeUInt8(compressed ? 1 : 0, 0);
    prefix.writeUInt32BE(length, 1);
    stream.write(prefix);
    // In 1 RAW_CHUNK views, so a refused call stops being written as soon as the answer arrives.
    const send = async () => {
      for (let at = 0; at < body.length && !answered && !stream.destroyed; at += RAW_CHUNK) {
        if (!stream.write(body.subarray(at, Math.min(body.length, at + RAW_CHUNK)))) {
          await new Promise<void>((r) => {
            stream.once('drain', r);
            stream.once('close', r);
          });
        }
      }
      if (!answered && !stream.destroyed) stream.end();
    };
    void send();
  });
}

