/**
 * The log's operations, independent of transport: HTTP (src/http) and gRPC adapt these and never
 * implement an operation a second time. Every argument is checked here, once, with an error that
 * names the field.
 */
import { leafTerms } from '../query/terms.js';
import { toBase64 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import type { Hasher } from '@candor/core/hash';
import { HASH_SIZE } from '@candor/core/hash';
import { consistencyProofRanges, inclusionProof, inclusionProofRanges, proofHashes, proofNodes, type NodeId } from '@candor/core/merkle';
import { ENTRIES, TILE_WIDTH, encodeBundle, rowWidth, type TileRef } from '@candor/core/tile';
import type { EntryTerms, LogStore } from '../storage/store.js';
import { isEventLeaf } from '@candor/schema/leaf';
import type { LogMetrics } from './metrics.js';
import type { Ack, Sequencer, SubmitOptions } from './sequencer.js';

export const MAX_ENTRIES_PAGE = 1000;

export interface InclusionProof {
  index: number;
  size: number;
  leafHash: Uint8Array;
  proof: Uint8Array[];
}

export interface ConsistencyProof {
  from: number;
  to: number;
  proof: Uint8Array[];
}

/** Log-side witnessing as the service sees it (src/witnessing implements it). */
export interface CheckpointWitnessing {
  /** The checkpoint to publish, with the cosignatures collected; throws 'unavailable' if none may be published yet. */
  published(): string;
  /** The first checkpoint of at least `size` leaves that meets the witness policy; rejects (retryable) on timeout. */
  witnessed(size: number): Promise<{ note: string; size: number }>;
}

/** A node's role when several share one store (src/cluster/ha.ts RoleStatus). */
export interface NodeRole {
  role: 'leader' | 'follower';
  term: number;
  leader?: string;
  lagEntries: number;
  lagMs: number;
}

export class LogService {
  readonly #seq: Sequencer;
  readonly #store: LogStore;
  readonly #hasher: Hasher;
  readonly #metrics: LogMetrics | undefined;
  readonly #witnessing: CheckpointWitnessing | undefined;
  readonly #indexes: boolean;

  readonly #role: (() => NodeRole) | undefined;

  /**
   * `indexes`: event leaves appended without terms get their search terms computed here
   * (src/query/terms.ts). `role`: this node's role when several nodes share the store.
   */
  constructor(opts: { sequencer: Sequencer; store: LogStore; hasher: Hasher; metrics?: LogMetrics; witnessing?: CheckpointWitnessing; indexes?: boolean; role?: () => NodeRole }) {
    this.#role = opts.role;
    this.#seq = opts.sequencer;
    this.#store = opts.store;
    this.#hasher = opts.hasher;
    this.#metrics = opts.metrics;
    this.#witnessing = opts.witnessing;
    this.#indexes = opts.indexes ?? false;
  }

  /** The committed tree size that reads are answered for. */
  get size(): number {
    return this.#seq.reader.size;
  }

  /**
   * The checkpoint a client last accepted from this log, as it sends it with a write (gRPC
   * metadata `candor-checkpoint-bin`, HTTP header `Candor-Checkpoint`, base64): when it shows the
   * log published past its store, the log steps down before this write is sequenced
   * (docs/fencing.md). Absent: nothing to check.
   */
  async observeClientCheckpoint(note: Uint8Array | string | undefined): Promise<void> {
    if (note === undefined || note.length === 0) return;
    const text = typeof note === 'string' ? Buffer.from(note, 'base64').toString('utf8') : new TextDecoder().decode(note);
    await this.#seq.observeCheckpoint(text, 'a client');
  }

  /**
   * Whether this node takes writes now, and if not why (GET /readyz). A follower is ready while
   * it serves reads and there is a leader to pass writes to.
   */
  readiness(): { ready: boolean; reason?: string; role?: NodeRole } {
    const seq = this.#seq;
    const role = this.#role?.();
    if (role?.role === 'follower') return { ready: role.leader !== undefined, role, ...(role.leader ? {} : { reason: seq.fenced?.message ?? 'no node leads right now' }) };
    if (seq.fenced) return { ready: false, reason: seq.fenced.message, ...(role ? { role } : {}) };
    if (seq.failing) return { ready: false, reason: `the last commit failed: ${seq.failing.message}`, ...(role ? { role } : {}) };
    return { ready: true, ...(role ? { role } : {}) };
  }

  /** Appends an entry; resolves once it is durable, with its index and proof. */
  add(entry: Uint8Array): Promise<Ack> {
    // Opaque entries must not pass for event leaves, whose producer the log authenticated.
    if (isEventLeaf(entry)) return Promise.reject(new CandorError('invalid_argument', 'entry starts with "candor/event/v1\\n", which marks event leaves: submit events through POST /v1/events or gRPC'));
    return this.#seq.submit(entry);
  }

  /**
   * Appends entries in order, as one submission: all are committed together and answered with
   * one checkpoint (event ingestion, src/events/ingest.ts, builds the leaves). `terms` are the
   * entries' search index terms (src/query/terms.ts), committed in the same batch.
   */
  addMany(entries: readonly Uint8Array[], terms?: readonly (EntryTerms | undefined)[], opts?: SubmitOptions): Promise<Ack[]> {
    // Callers other than ingestion (the log's own events, tools) get their event leaves indexed too.
    return this.#seq.submitMany(entries, terms ?? (this.#indexes ? entries.map(leafTerms) : undefined), opts);
  }

  /** The published checkpoint: with a witness policy, the one witnessing publishes, cosignatures included. */
  checkpoint(): string {
    return this.#witnessing ? this.#witnessing.published() : this.#seq.checkpoint;
  }

  /** The newest checkpoint the log signed, witnessed or not. */
  latestCheckpoint(): string {
    return this.#seq.checkpoint;
  }

  /**
   * Appends an entry and acknowledges it only once a checkpoint covering it meets the witness
   * policy: the ack carries that checkpoint (with its cosignatures) and a proof against it.
   */
  async addWitnessed(entry: Uint8Array): Promise<Ack> {
    if (!this.#witnessing) throw new CandorError('invalid_argument', 'witnessed: this log has no witness policy, so it cannot give witnessed acknowledgements');
    const ack = await this.add(entry);
    const cp = await this.#witnessing.witnessed(ack.index + 1);
    const p = await this.inclusionProof({ index: ack.index, size: cp.size });
    return { ...ack, checkpoint: cp.note, size: cp.size, inclusionProof: p.proof };
  }

  /** A hash tile or entry bundle, exactly as tlog-tiles serves it; not_found if it does not exist yet. */
  async tile(t: TileRef): Promise<Uint8Array> {
    const size = this.size;
    const row = rowWidth(size, t.level === ENTRIES ? 0 : t.level);
    if (t.index * TILE_WIDTH + t.width > row) {
      throw new CandorError('not_found', `tile does not exist at tree size ${size}`);
    }
    if (t.level === ENTRIES) {
      const start = t.index * TILE_WIDTH;
      return encodeBundle(await this.#seq.reader.entries(start, start + t.width));
    }
    const hashes = await this.#seq.reader.tile(t.level, t.index);
    if (!hashes || hashes.length < t.width * HASH_SIZE) throw new CandorError('not_found', 'tile does not exist yet');
    return hashes.length === t.width * HASH_SIZE ? hashes : hashes.subarray(0, t.width * HASH_SIZE);
  }

  #checkSize(size: number | undefined, name = 'size'): number {
    const current = this.size;
    if (size === undefined) return current;
    if (!Number.isSafeInteger(size) || size < 0) throw new CandorError('invalid_argument', `${name} must be a non-negative integer`);
    if (size > current) throw new CandorError('out_of_range', `${name} ${size} is beyond the tree size ${current}`);
    return size;
  }

  /** An inclusion proof by index or by leaf hash, in the tree of `size` (default: the latest). */
  async inclusionProof(q: { index?: number; hash?: Uint8Array; size?: number }): Promise<InclusionProof> {
    const size = this.#checkSize(q.size);
    let index: number;
    if (q.hash !== undefined) {
      if (q.index !== undefined) throw new CandorError('invalid_argument', 'give either index or hash, not both');
      if (q.hash.length !== HASH_SIZE) throw new CandorError('invalid_argument', 'hash must be a 32-byte leaf hash');
      const [found] = await this.#store.lookupLeafHashes([q.hash]);
      if (found === undefined || found >= this.size) throw new CandorError('not_found', `no entry with leaf hash ${toBase64(q.hash)}`);
      if (found >= size) throw new CandorError('out_of_range', `the entry is at index ${found}, not in the tree of size ${size}`);
      index = found;
    } else if (q.index !== undefined) {
      if (!Number.isSafeInteger(q.index) || q.index < 0) throw new CandorError('invalid_argument', 'index must be a non-negative integer');
      if (q.index >= size) throw new CandorError('out_of_range', `index ${q.index} is not below tree size ${size}`);
      index = q.index;
    } else {
      throw new CandorError('invalid_argument', 'give index or hash');
    }
    const reader = this.#seq.reader;
    const p = await reader.withNodes((read) => ({
      index,
      size,
      leafHash: read(0, index),
      proof: inclusionProof(this.#hasher, index, size, read, reader.rightEdge(size)),
    }));
    this.#metrics?.proofsServed.inc({ kind: 'inclusion' });
    return p;
  }

  /**
   * Inclusion proofs of many entries in the tree of `size`, as export needs them. Entries in one
   * 256-entry block share their proof above the block (RFC 9162's splits stay multiples of 256
   * until the range fits in it), so one proof's nodes per block locate every tile the batch
   * needs; the tiles are read at once, and a node that several proofs share is read once (the
   * same bytes, which export encodes once).
   */
  async inclusionProofs(indexes: readonly number[], size: number): Promise<InclusionProof[]> {
    const s = this.#checkSize(size);
    const blocks = new Set<number>();
    const ids: NodeId[] = [];
    for (const i of indexes) {
      if (!Number.isSafeInteger(i) || i < 0 || i >= s) throw new CandorError('out_of_range', `index ${i} is not below tree size ${s}`);
      const block = Math.floor(i / TILE_WIDTH);
      if (blocks.has(block)) continue;
      blocks.add(block);
      ids.push({ height: 0, index: i }, ...proofNodes(inclusionProofRanges(i, s)));
    }
    const read = await this.#seq.reader.nodes(ids);
    const nodes = new Map<number, Uint8Array>();
    // Heights are below 64 and indexes below 2^53 / 2^height, so height + 64 * index is exact and unique.
    const shared = (height: number, index: number) => {
      const k = height + 64 * index;
      let h = nodes.get(k);
      if (!h) nodes.set(k, (h = read(height, index)));
      return h;
    };
    // A proof is the path inside the entry's block [lo, hi) (as if the block were a tree of its
    // own), then the hashes above the block, which the block's entries share: computed once each.
    const edges = new Map<number, Uint8Array>();
    const above = new Map<number, Uint8Array[]>();
    this.#metrics?.proofsServed.inc({ kind: 'inclusion' }, indexes.length);
    return indexes.map((index) => {
      const lo = index - (index % TILE_WIDTH);
      const hi = Math.min(lo + TILE_WIDTH, s);
      const inBlock = (height: number, i: number) => shared(height, i + lo / 2 ** height);
      const lower = inclusionProof(this.#hasher, index - lo, hi - lo, inBlock);
      let upper = above.get(lo);
      if (!upper) above.set(lo, (upper = inclusionProof(this.#hasher, index, s, shared, edges).slice(lower.length)));
      return { index, size: s, leafHash: shared(0, index), proof: lower.concat(upper) };
    });
  }

  /** A consistency proof from tree size `from` to `to` (default: the latest). */
  async consistencyProof(q: { from: number; to?: number }): Promise<ConsistencyProof> {
    const to = this.#checkSize(q.to, 'to');
    if (!Number.isSafeInteger(q.from) || q.from < 1) throw new CandorError('invalid_argument', 'from must be a positive integer');
    if (q.from > to) throw new CandorError('out_of_range', `from ${q.from} is larger than to ${to}`);
    const ranges = consistencyProofRanges(q.from, to);
    const proof = await this.#seq.reader.withNodes((read) => proofHashes(this.#hasher, ranges, read));
    this.#metrics?.proofsServed.inc({ kind: 'consistency' });
    return { from: q.from, to, proof };
  }

  /** Entries [start, end), at most MAX_ENTRIES_PAGE and only committed ones (end is clamped). */
  async entries(q: { start: number; end?: number }): Promise<{ index: number; data: Uint8Array }[]> {
    const size = this.size;
    if (!Number.isSafeInteger(q.start) || q.start < 0) throw new CandorError('invalid_argument', 'start must be a non-negative integer');
    if (q.end !== undefined && (!Number.isSafeInteger(q.end) || q.end <= q.start)) {
      throw new CandorError('invalid_argument', 'end must be an integer larger than start');
    }
    if (q.start >= size) throw new CandorError('out_of_range', `start ${q.start} is not below tree size ${size}`);
    const end = Math.min(q.end ?? size, size, q.start + MAX_ENTRIES_PAGE);
    const data = await this.#seq.reader.entries(q.start, end);
    return data.map((d, i) => ({ index: q.start + i, data: d }));
  }
}
