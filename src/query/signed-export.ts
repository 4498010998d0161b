/**
 * The signed export bundle (docs/export.md): a filtered range of events, each with its inclusion
 * proof against one checkpoint, and a manifest the log signs. It is checked with no network, per
 * event: the equivalent of CloudTrail's validate-logs, with Merkle proofs and witness cosignatures
 * instead of a chain of digest files. The file is NDJSON, one object per line:
 *
 *   {"format":"candor-export/v1","checkpoint":"<signed checkpoint note, cosignatures included>","filter":{...}}
 *   {"index":17,"leaf":"<base64 event leaf>","proof":["<base64 hash>",...]}      one per event, in index order
 *   {"progress":{"scanned":65536,"of":1000000}}                                    optional, for readers; ignored
 *   {"manifest":"<signed note>"}
 *
 * The manifest is a C2SP signed note by the log's key(s), whose text is
 *
 *   candor-export/v1
 *   origin <origin>
 *   checkpoint <size> <base64 root>
 *   filter <the filter as canonical JSON>
 *   count <events>
 *   first <first index, or ->
 *   last <last index, or ->
 *   events-sha256 <base64 SHA-256 over uint64be(index) || leaf hash of each event, in order>
 *
 * Pure and portable (no Node built-ins): the CLI and the auditor client verify with it.
 *
 * @example
 *   const v = new ExportVerifier({ logVerifiers: [parseVerifierKey(vkey)] });
 *   for (const line of text.split('\n')) v.line(line);
 *   const { count } = v.finish();
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equal, fromBase64, putU64be, toBase64 } from '@candor/core/bytes';
import type { Checkpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { HASH_SIZE, portableHasher, type Hasher } from '@candor/core/hash';
import { MAX_PROOF_HASHES, openWitnessedCheckpoint, type CosignaturePolicy } from '@candor/core/tlog-proof';
import { verifyInclusion } from '@candor/core/merkle';
import { openNote, type NoteVerifier } from '@candor/core/note';
import { compileFilter, filterJson, parseFilter, type EventFilter } from './filter.js';
import { decodeLoggedEvent, type LoggedEvent } from './types.js';

export const EXPORT_FORMAT = 'candor-export/v1';
/** Bundles SHOULD be stored with this extension. */
export const EXPORT_EXTENSION = '.candor-export';

export interface Manifest {
  origin: string;
  size: number;
  root: Uint8Array;
  filter: EventFilter;
  count: number;
  first?: number;
  last?: number;
  eventsSha256: Uint8Array;
}

/** An incremental SHA-256 (node:crypto's Hash and @noble/hashes' both fit). */
export interface IncrementalHash {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}

/** The manifest's events digest: SHA-256 over uint64be(index) || leaf hash, event by event. */
export class EventsDigest {
  readonly #h: IncrementalHash;
  constructor(h: IncrementalHash = sha256.create()) {
    this.#h = h;
  }
  add(index: number, leafHash: Uint8Array): void {
    this.#h.update(putU64be(index));
    this.#h.update(leafHash);
  }
  digest(): Uint8Array {
    return this.#h.digest();
  }
}

export function formatManifest(m: Manifest): string {
  return [
    EXPORT_FORMAT,
    `origin ${m.origin}`,
    `checkpoint ${m.size} ${toBase64(m.root)}`,
    `filter ${filterJson(m.filter)}`,
    `count ${m.count}`,
    `first ${m.first ?? '-'}`,
    `last ${m.last ?? '-'}`,
    `events-sha256 ${toBase64(m.eventsSha256)}`,
  ]
    .map((l) => `${l}\n`)
    .join('');
}

function fail(why: string): never {
  throw new CandorError('verification_failed', why);
}

/** Parses a manifest's text (the signature is checked by the caller). */
export function parseManifest(text: string): Manifest {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : fail('manifest: no final newline');
  const field = (i: number, name: string): string => {
    const l = lines[i] ?? '';
    if (!l.startsWith(`${name} `)) fail(`manifest: line ${i + 1} must be "${name} ..."`);
    return l.slice(name.length + 1);
  };
  if (lines[0] !== EXPORT_FORMAT || lines.length !== 8) fail(`manifest: not a ${EXPORT_FORMAT} manifest of 8 lines`);
  const num = (s: string, what: string): number => {
    if (!/^(0|[1-9][0-9]*)$/.test(s) || !Number.isSafeInteger(Number(s))) fail(`manifest: ${what} is not a decimal number`);
    return Number(s);
  };
  const optional = (s: string, what: string) => (s === '-' ? undefined : num(s, what));
  const [size, root] = field(2, 'checkpoint').split(' ');
  let filter: EventFilter;
  try {
    filter = parseFilter(JSON.parse(field(3, 'filter')) as Record<string, unknown>, 'manifest filter');
  } catch (err) {
    return fail(`manifest: ${(err as Error).message}`);
  }
  const first = optional(field(5, 'first'), 'first');
  const last = optional(field(6, 'last'), 'last');
  return {
    origin: field(1, 'origin'),
    size: num(size ?? '', 'checkpoint size'),
    root: fromBase64(root ?? '', 'manifest checkpoint root'),
    filter,
    count: num(field(4, 'count'), 'count'),
    ...(first === undefined ? {} : { first }),
    ...(last === undefined ? {} : { last }),
    eventsSha256: fromBase64(field(7, 'events-sha256'), 'manifest events-sha256'),
  };
}

export interface ExportVerifyOptions {
  /** The log's verifier keys: one must have signed the checkpoint and the manifest. */
  logVerifiers: readonly NoteVerifier[];
  /** Expected origin; by default the name of the first log key. */
  origin?: string;
  /** Witness cosignatures the checkpoint must carry; none by default. */
  policy?: CosignaturePolicy;
  hasher?: Hasher;
  /** Called with each event once its proof verified (e.g. to show or count it). */
  onEvent?: (e: LoggedEvent) => void;
}

export interface VerifiedExport {
  checkpoint: Checkpoint;
  manifest: Manifest;
  count: number;
  /** The witness keys whose cosignatures verified. */
  cosigners: NoteVerifier[];
}

/**
 * Checks a bundle line by line, in constant memory: the checkpoint's signature and cosignatures,
 * then each event (its leaf decodes, it matches the filter, its index is in order and its inclusion
 * proof reaches the checkpoint's root), then the manifest's signature, its checkpoint, count,
 * index range, filter and events digest. Throws CandorError('verification_failed') naming the
 * line, and the event's index when an event failed.
 */
export class ExportVerifier {
  readonly #o: ExportVerifyOptions;
  readonly #hasher: Hasher;
  #line = 0;
  #checkpoint: Checkpoint | undefined;
  #cosigners: NoteVerifier[] = [];
  #filter: EventFilter = {};
  #matches: (e: LoggedEvent) => boolean = () => true;
  #digest = new EventsDigest();
  #count = 0;
  #first: number | undefined;
  #last: number | undefined;
  #manifest: Manifest | undefined;

  constructor(o: ExportVerifyOptions) {
    if (o.logVerifiers.length === 0) throw new CandorError('invalid_argument', 'give at least one log verifier key');
    this.#o = o;
    this.#hasher = o.hasher ?? portableHasher;
  }

  /** Feeds the next line of the file (without its newline); empty lines are skipped. */
  line(text: string): void {
    this.#line++;
    if (text.trim() === '') return;
    const at = `line ${this.#line}`;
    if (this.#manifest) fail(`${at}: content after the manifest`);
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return fail(`${at}: not a JSON object`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) fail(`${at}: not a JSON object`);
    if (!this.#checkpoint) return this.#header(o, at);
    if ('progress' in o) return;
    if ('manifest' in o) return this.#readManifest(o, at);
    this.#event(o, at);
  }

  #header(o: Record<string, unknown>, at: string): void {
    if (o.format !== EXPORT_FORMAT) fail(`${at}: the bundle must start with {"format":"${EXPORT_FORMAT}",...}`);
    if (typeof o.checkpoint !== 'string') fail(`${at}: the header has no checkpoint`);
    let cp: Checkpoint;
    try {
      ({ checkpoint: cp, cosigners: this.#cosigners } = openWitnessedCheckpoint(o.checkpoint, this.#o));
    } catch (err) {
      return fail(`checkpoint (${at}): ${(err as Error).message}`);
    }
    try {
      this.#filter = parseFilter((o.filter ?? {}) as Record<string, unknown>, 'header filter');
    } catch (err) {
      fail(`${at}: ${(err as Error).message}`);
    }
    this.#matches = compileFilter(this.#filter);
    this.#checkpoint = cp;
  }

  #event(o: Record<string, unknown>, at: string): void {
    const cp = this.#checkpoint!;
    const index = o.index;
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) fail(`${at}: an event line needs a non-negative integer "index"`);
    const ev = `event ${index} (${at})`;
    if (this.#last !== undefined && index <= this.#last) fail(`${ev}: index is not above the previous event's ${this.#last}`);
    if (index >= cp.size) fail(`${ev}: index is not below the checkpoint size ${cp.size}`);
    if (typeof o.leaf !== 'string') fail(`${ev}: no "leaf"`);
    if (!Array.isArray(o.proof) || o.proof.length > MAX_PROOF_HASHES || !o.proof.every((h) => typeof h === 'string')) fail(`${ev}: "proof" must be a list of base64 hashes`);
    let leaf: Uint8Array;
    let proof: Uint8Array[];
    try {
      leaf = fromBase64(o.leaf, 'leaf');
      proof = (o.proof as string[]).map((h, i) => {
        const b = fromBase64(h, `proof hash ${i + 1}`);
        if (b.length !== HASH_SIZE) throw new Error(`proof hash ${i + 1} is not 32 bytes`);
        return b;
      });
    } catch (err) {
      return fail(`${ev}: ${(err as Error).message}`);
    }
    const leafHash = this.#hasher.leaf(leaf);
    try {
      verifyInclusion(this.#hasher, index, cp.size, leafHash, proof, cp.root);
    } catch (err) {
      fail(`${ev}: the inclusion proof does not verify against the checkpoint (${(err as Error).message}): the leaf or the proof was altered`);
    }
    let decoded: LoggedEvent;
    try {
      decoded = decodeLoggedEvent(index, leaf);
    } catch (err) {
      return fail(`${ev}: the leaf does not decode: ${(err as Error).message}`);
    }
    if (!this.#matches(decoded)) fail(`${ev}: the event does not match the export's filter ${filterJson(this.#filter)}`);
    this.#digest.add(index, leafHash);
    this.#count++;
    this.#first ??= index;
    this.#last = index;
    this.#o.onEvent?.(decoded);
  }

  #readManifest(o: Record<string, unknown>, at: string): void {
    if (typeof o.manifest !== 'string') fail(`manifest (${at}): must be a signed note`);
    let text: string;
    try {
      const opened = openNote(o.manifest, this.#o.logVerifiers);
      if (!this.#o.logVerifiers.some((v) => opened.verified.some((s) => s.name === v.name && s.keyId === v.keyId))) fail('no valid signature by the log key');
      text = opened.text;
    } catch (err) {
      return fail(`manifest (${at}): ${(err as Error).message}`);
    }
    const m = parseManifest(text);
    const cp = this.#checkpoint!;
    const bad = (why: string): never => fail(`manifest (${at}): ${why}`);
    if (m.origin !== cp.origin || m.size !== cp.size || !equal(m.root, cp.root)) bad(`it is for checkpoint ${m.origin} ${m.size} ${toBase64(m.root)}, the bundle's is ${cp.origin} ${cp.size} ${toBase64(cp.root)}`);
    if (filterJson(m.filter) !== filterJson(this.#filter)) bad(`its filter ${filterJson(m.filter)} is not the header's ${filterJson(this.#filter)}`);
    if (m.count !== this.#count) bad(`it counts ${m.count} events, the bundle holds ${this.#count} (events were added or removed)`);
    if (m.first !== this.#first || m.last !== this.#last) bad(`it spans indexes ${m.first ?? '-'}..${m.last ?? '-'}, the bundle ${this.#first ?? '-'}..${this.#last ?? '-'}`);
    if (!equal(m.eventsSha256, this.#digest.digest())) bad('the events digest does not match the events in the bundle');
    this.#manifest = m;
  }

  /** Ends verification: throws if the file stopped before its manifest. */
  finish(): VerifiedExport {
    if (!this.#checkpoint) fail('the bundle is empty: no header line');
    if (!this.#manifest) fail(`the bundle ends after ${this.#count} events without its manifest (truncated)`);
    return { checkpoint: this.#checkpoint, manifest: this.#manifest, count: this.#count, cosigners: this.#cosigners };
  }
}

/** Verifies a whole bundle held in memory (see ExportVerifier for files of any size). */
export function verifyExportBundle(text: string, o: ExportVerifyOptions): VerifiedExport {
  const v = new ExportVerifier(o);
  for (const line of text.split('\n')) v.line(line);
  return v.finish();
}
