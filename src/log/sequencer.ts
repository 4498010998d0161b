/**
 * The sequencer: the log's only writer. Submissions wait in a bounded queue; a batch closes when
 * it reaches maxBatch entries or has waited maxDelayMs; integrating it hashes the leaves, builds
 * the tiles, signs the checkpoint and commits everything in one atomic, synced write. Only then
 * is each submission answered, with its index, the checkpoint and an inclusion proof against it:
 * zero merge delay, and nothing acknowledged that a crash could lose.
 *
 * Two batches are in flight at most: while one is written and synced (on libuv's thread pool),
 * the next is hashed and tiled on the main thread, if enough entries wait (PREPARE_AHEAD_MIN),
 * and its commit is chained after the first. Under load batches grow by themselves (group
 * commit), so the cost of each sync is shared.
 */
import { EventEmitter } from 'node:events';
import { toBase64 } from '@candor/core/bytes';
import { formatCheckpoint, parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import type { Hasher } from '@candor/core/hash';
import { inclusionProof, inclusionProofRanges, proofHashes, proofNodes } from '@candor/core/merkle';
import { openNote, signNote, type NoteSigner, type NoteVerifier } from '@candor/core/note';
import { HASH_SIZE } from '@candor/core/hash';
import { MAX_ENTRY_SIZE, TILE_WIDTH } from '@candor/core/tile';
import type { CommitBatch, EntryTerms, LogStore } from '../storage/store.js';
import type { LogMetrics } from './metrics.js';
import { TreeReader } from './reader.js';
import { TreeState } from './tree.js';

export interface Ack {
  index: number;
  leafHash: Uint8Array;
  /** The signed checkpoint the proof is against. */
  checkpoint: string;
  /** Tree size of that checkpoint. */
  size: number;
  inclusionProof: Uint8Array[];
  /** True when the same entry was already in the log: index is where it was first logged. */
  duplicate: boolean;
}

export interface SequencerOptions {
  origin: string;
  /** Signs each checkpoint; several signers give several signatures (key rotation). */
  signers: readonly NoteSigner[];
  /** Verifies the stored checkpoint at start-up. */
  verifiers: readonly NoteVerifier[];
  hasher: Hasher;
  store: LogStore;
  reader?: TreeReader;
  maxBatch?: number;
  maxDelayMs?: number;
  maxQueue?: number;
  maxQueueBytes?: number;
  metrics?: LogMetrics;
}

/** One submission: one entry (submit) or several (submitMany), answered together. */
interface Pending {
  entries: readonly Uint8Array[];
  /** Search index terms per entry, committed with them (CommitBatch.terms). */
  terms: readonly (EntryTerms | undefined)[] | undefined;
  /** The caller vouches that no entry is in the log or in flight: no leaf-hash lookup (SubmitOptions). */
  unique: boolean;
  bytes: number;
  resolve(acks: Ack[]): void;
  reject(err: unknown): void;
}

export interface SubmitOptions {
  /**
   * The caller guarantees that none of these entries is in the log or in flight, so they are not
   * looked up by leaf hash before they are appended: one store read fewer per batch, on the path
   * every submission waits on. Event ingestion sets it: its leaves hold their receive time and
   * producer, and it refuses resubmissions itself, by (tenant, producer, producer_event_id), before
   * a leaf is built (src/events/idempotency.ts). Were such an entry already logged after all, it
   * would be logged twice (the same bytes at two indexes, each with a valid proof) and the
   * leaf-hash index would name the later one.
   */
  unique?: boolean;
}

export const DEFAULTS = {
  maxBatch: 4096,
  maxDelayMs: 0,
  maxQueue: 65_536,
  maxQueueBytes: 256 * 1024 * 1024,
};

/** Batches prepared but not yet committed, at most (one being written, one waiting). */
const PIPELINE_DEPTH = 2;

/**
 * Entries that must be waiting before the next batch is prepared while one commits. Preparing
 * ahead pays when preparing takes about as long as a commit (256 entries take about 0.6 ms to
 * hash and tile, a synced commit about 1 ms under load). Fewer wait until the commit ends and
 * go, with whatever arrived meanwhile, into one larger batch: fewer syncs for the same entries.
 * A full batch (maxBatch, when smaller) is always prepared ahead.
 * Measured (bench/RESULTS.md machine, 2026-11-24, alternating rounds): POST /add at 64
 * connections 16,815-17,452 req/s against 15,081-15,354; gRPC batches of 256 unchanged.
 */
export const PREPARE_AHEAD_MIN = 256;

/** A map key for a leaf hash; latin1 keeps one character per byte and is cheap to make. */
function hashKey(h: Uint8Array): string {
  return (Buffer.isBuffer(h) ? h : Buffer.from(h.buffer, h.byteOffset, h.byteLength)).toString('latin1');
}

export class Sequencer extends EventEmitter {
  readonly reader: TreeReader;
  readonly #o: Required<Omit<SequencerOptions, 'reader' | 'metrics'>> & { metrics?: LogMetrics };
  #tree: TreeState;
  #checkpoint: string;
  #queue: Pending[] = [];
  #queuedEntries = 0;
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #preparing = false;
  #inflight = 0;
  /** The chain of commits; each batch's write starts after the previous one's resolves. */
  #tail: Promise<void> = Promise.resolve();
  /** Bumped when a commit fails: batches prepared on top of it must not be committed. */
  #generation = 0;
  #needsReload = false;
  /**
   * Leaf hash -> index of the batches prepared but not yet durable, for deduplication across
   * them: a store lookup only finds batches whose commit landed before it read. A lookup takes
   * the set as it was when it began, since a batch in it may commit (and leave it) before the
   * lookup answers.
   */
  #inflightSeen = new Set<Map<string, number>>();
  #closed = false;

  private constructor(opts: SequencerOptions, tree: TreeState, checkpoint: string, reader: TreeReader) {
    super();
    this.#o = { ...DEFAULTS, ...opts };
    this.#tree = tree;
    this.#checkpoint = checkpoint;
    this.reader = reader;
  }

  /**
   * Opens the log: resumes at the last committed checkpoint after checking that the stored tiles
   * reproduce its root, or starts a new log with a signed checkpoint of the empty tree.
   */
  static async open(opts: SequencerOptions): Promise<Sequencer> {
    const reader = opts.reader ?? new TreeReader(opts.store, opts.hasher);
    const { tree, checkpoint } = await loadState(opts);
    const seq = new Sequencer(opts, tree, checkpoint, reader);
    reader.advance(tree.size, tree.edge());
    opts.metrics?.treeSize.set(tree.size);
    return seq;
  }

  /** The latest committed, signed checkpoint. */
  get checkpoint(): string {
    return this.#checkpoint;
  }

  /** The committed tree size. */
  get size(): number {
    return this.reader.size;
  }

  get queueDepth(): number {
    return this.#queuedEntries;
  }

  /** Queues an entry; resolves once it is committed, with its proof. */
  async submit(entry: Uint8Array): Promise<Ack> {
    return (await this.submitMany([entry]))[0]!;
  }

  /**
   * Queues several entries at once (a producer's batch); they are integrated in order, in one or
   * more batches, and answered together once all are committed. `terms` (aligned with entries)
   * are the entries' search index terms, committed in the same batch.
   */
  submitMany(entries: readonly Uint8Array[], terms?: readonly (EntryTerms | undefined)[], opts: SubmitOptions = {}): Promise<Ack[]> {
    const o = this.#o;
    if (this.#closed) return Promise.reject(new CandorError('unavailable', 'the log is shutting down', { retryAfterMs: 1000 }));
    if (entries.length === 0) return Promise.resolve([]);
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const n = entries[i]!.length;
      const which = entries.length === 1 ? 'entry' : `entry ${i}`;
      if (n === 0) return Promise.reject(new CandorError('invalid_argument', `${which} is empty`));
      if (n > MAX_ENTRY_SIZE) return Promise.reject(new CandorError('payload_too_large', `${which} is ${n} bytes; the limit is ${MAX_ENTRY_SIZE}`));
      bytes += n;
    }
    if (this.#queuedEntries + entries.length > o.maxQueue || this.#queuedBytes + bytes > o.maxQueueBytes) {
      if (entries.length > o.maxQueue) {
        return Promise.reject(new CandorError('invalid_argument', `${entries.length} entries in one submission; the limit is ${o.maxQueue}`));
      }
      return Promise.reject(new CandorError('resource_exhausted', 'the submission queue is full; retry later', { retryAfterMs: 1000 }));
    }
    return new Promise<Ack[]>((resolve, reject) => {
      this.#queue.push({ entries, terms, unique: opts.unique === true, bytes, resolve, reject });
      this.#queuedEntries += entries.length;
      this.#queuedBytes += bytes;
      o.metrics?.queueDepth.set(this.#queuedEntries);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#queue.length === 0 || this.#preparing || this.#inflight >= PIPELINE_DEPTH) return;
    // While a batch is committing, the next one is prepared at once if enough entries wait.
    if (this.#inflight > 0 && this.#queuedEntries < Math.min(PREPARE_AHEAD_MIN, this.#o.maxBatch) && !this.#closed) return;
    if (this.#inflight > 0 || this.#closed || this.#queuedEntries >= this.#o.maxBatch || this.#o.maxDelayMs <= 0) {
      this.#startBatch();
    } else {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#startBatch();
      }, this.#o.maxDelayMs);
    }
  }

  /** Takes submissions up to maxBatch entries (at least one submission) and integrates them. */
  #startBatch(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0 || this.#preparing || this.#inflight >= PIPELINE_DEPTH) return;
    let take = 0;
    let n = 0;
    while (take < this.#queue.length && (take === 0 || n + this.#queue[take]!.entries.length <= this.#o.maxBatch)) {
      n += this.#queue[take]!.entries.length;
      take++;
    }
    const batch = this.#queue.splice(0, take);
    this.#queuedEntries -= n;
    for (const p of batch) this.#queuedBytes -= p.bytes;
    this.#o.metrics?.queueDepth.set(this.#queuedEntries);
    this.#preparing = true;
    this.#inflight++;
    void this.#integrate(batch, n);
  }

  async #integrate(batch: Pending[], count: number): Promise<void> {
    const started = performance.now();
    const generation = this.#generation;
    let prepared: Prepared | undefined;
    try {
      if (this.#needsReload) {
        await this.#tail;
        await this.#reload();
      }
      prepared = await this.#prepare(batch, count);
      if (generation !== this.#generation) throw new Error('an earlier batch failed to commit');
      const p = prepared;
      const commit = this.#tail.then(() => {
        if (generation !== this.#generation) throw new Error('an earlier batch failed to commit');
        // A batch of duplicates only changes nothing: it just waits for the batches before it.
        if (p.commit.entries.length === 0) return undefined;
        const timer = this.#o.metrics?.commitSeconds.startTimer();
        return this.#o.store.commit(p.commit).finally(() => timer?.());
      });
      this.#tail = commit.catch(() => undefined);
      this.#preparing = false;
      this.#schedule();
      await commit;
      this.#committed(p);
      this.#o.metrics?.batchSize.observe(count);
      this.#o.metrics?.integrationSeconds.observe((performance.now() - started) / 1000);
    } catch (err) {
      this.#preparing = false;
      this.#generation++;
      this.#needsReload = true;
      this.emit('commitError', err);
      const e = new CandorError('unavailable', 'the log could not commit this batch; retry', { retryAfterMs: 1000, cause: err });
      for (const p of batch) p.reject(e);
    } finally {
      if (prepared) this.#inflightSeen.delete(prepared.seen);
      this.#inflight--;
      this.emit('settled');
      this.#schedule();
    }
  }

  /** After a failed commit, whether it landed or not, the store is the truth. */
  async #reload(): Promise<void> {
    const state = await loadState(this.#o);
    this.#tree = state.tree;
    this.#checkpoint = state.checkpoint;
    this.reader.advance(state.tree.size, state.tree.edge());
    this.#o.metrics?.treeSize.set(state.tree.size);
    this.#needsReload = false;
  }

  /** Hashes, deduplicates, appends and signs a batch; returns what to commit and how to answer. */
  async #prepare(batch: Pending[], count: number): Promise<Prepared> {
    const { hasher, store } = this.#o;
    const entries: Uint8Array[] = new Array(count);
    const terms: (EntryTerms | undefined)[] | undefined = batch.some((p) => p.terms) ? new Array(count) : undefined;
    // Entries to look up by leaf hash: all but those submitted as unique.
    const unique = new Uint8Array(count);
    let i = 0;
    for (const p of batch) {
      if (terms && p.terms) for (let k = 0; k < p.entries.length; k++) terms[i + k] = p.terms[k];
      if (p.unique) unique.fill(1, i, i + p.entries.length);
      for (const e of p.entries) entries[i++] = e;
    }
    const leafHashes = entries.map((e) => hasher.leaf(e));
    // Every batch not durable yet is in the set now (batches are prepared one at a time).
    const earlier = [...this.#inflightSeen];
    const known = await lookUp(store, leafHashes, unique);

    // Deduplicate: an entry already logged, in flight, or earlier in this batch keeps its index.
    const start = this.#tree.size;
    const indexes = new Array<number>(count);
    const fresh = new Uint8Array(count);
    const freshHashes: Uint8Array[] = [];
    const freshEntries: Uint8Array[] = [];
    const freshTerms: (EntryTerms | undefined)[] = [];
    const seen = new Map<string, number>();
    for (let j = 0; j < count; j++) {
      if (unique[j] === 0) {
        const k = known[j];
        if (k !== undefined) {
          indexes[j] = k;
          continue;
        }
        const key = hashKey(leafHashes[j]!);
        let prior = seen.get(key);
        for (const other of earlier) prior ??= other.get(key);
        if (prior !== undefined) {
          indexes[j] = prior;
          continue;
        }
        seen.set(key, start + freshHashes.length);
      }
      const index = start + freshHashes.length;
      indexes[j] = index;
      fresh[j] = 1;
      freshHashes.push(leafHashes[j]!);
      freshEntries.push(entries[j]!);
      if (terms) freshTerms.push(terms[j]);
    }
    this.#inflightSeen.add(seen);

    const appended = this.#tree.append(freshHashes);
    const text = formatCheckpoint({ origin: this.#o.origin, size: appended.newSize, root: this.#tree.root(), extensions: [] });
    const timer = this.#o.metrics?.signSeconds.startTimer();
    const checkpoint = signNote(text, this.#o.signers);
    timer?.();
    return {
      batch,
      commit: {
        start,
        entries: freshEntries,
        tiles: appended.tiles,
        leafIndex: freshHashes.map((hash, j) => ({ hash, index: start + j })),
        checkpoint,
        ...(terms ? { terms: freshTerms } : {}),
      },
      newSize: appended.newSize,
      edge: this.#tree.edge(),
      read: appended.read,
      leafHashes,
      indexes,
      fresh,
      seen,
    };
  }

  /** The batch is durable: publish its checkpoint and answer every submission in it. */
  #committed(p: Prepared): void {
    const { hasher } = this.#o;
    if (p.commit.entries.length > 0) {
      this.#checkpoint = p.commit.checkpoint;
      const full = p.commit.tiles.filter((t) => t.hashes.length === TILE_WIDTH * HASH_SIZE);
      this.reader.advance(p.newSize, p.edge, full);
      this.#o.metrics?.treeSize.set(p.newSize);
      this.emit('checkpoint', p.commit.checkpoint, p.newSize);
    }

    // New leaves are proved from the nodes this batch created; entries logged before are proved
    // from the tiles, which the reader now serves at the new size.
    const rightEdge = new Map<number, Uint8Array>();
    const start = p.commit.start;
    let j = 0;
    const older: Promise<void>[] = [];
    for (const sub of p.batch) {
      const acks: Ack[] = new Array(sub.entries.length);
      for (let s = 0; s < sub.entries.length; s++, j++) {
        const index = p.indexes[j]!;
        const ack: Ack = {
          index,
          leafHash: p.leafHashes[j]!,
          checkpoint: p.commit.checkpoint,
          size: p.newSize,
          inclusionProof: [],
          duplicate: p.fresh[j] === 0,
        };
        if (index >= start) ack.inclusionProof = inclusionProof(hasher, index, p.newSize, p.read, rightEdge);
        else older.push(this.#proveOlder(ack));
        acks[s] = ack;
      }
      if (older.length === 0) sub.resolve(acks);
      else {
        Promise.all(older.splice(0)).then(
          () => sub.resolve(acks),
          (err) => sub.reject(new CandorError('unavailable', 'could not build the proof of an entry already logged; retry', { retryAfterMs: 100, cause: err })),
        );
      }
    }
  }

  async #proveOlder(ack: Ack): Promise<void> {
    const ranges = inclusionProofRanges(ack.index, ack.size);
    ack.inclusionProof = proofHashes(this.#o.hasher, ranges, await this.reader.nodes(proofNodes(ranges)));
  }

  /** Stops taking submissions and waits until everything queued is committed and answered. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#queue.length > 0 || this.#inflight > 0) {
      const settled = new Promise((r) => this.once('settled', r));
      this.#schedule();
      await settled;
    }
  }
}

/** The indexes of the entries already logged, by leaf hash; only entries not marked unique are read. */
async function lookUp(store: LogStore, leafHashes: readonly Uint8Array[], unique: Uint8Array): Promise<readonly (number | undefined)[]> {
  const which: number[] = [];
  for (let j = 0; j < unique.length; j++) if (unique[j] === 0) which.push(j);
  if (which.length === leafHashes.length) return store.lookupLeafHashes(leafHashes);
  const known: (number | undefined)[] = new Array(leafHashes.length);
  if (which.length === 0) return known;
  const found = await store.lookupLeafHashes(which.map((j) => leafHashes[j]!));
  for (let k = 0; k < which.length; k++) known[which[k]!] = found[k];
  return known;
}

interface Prepared {
  batch: Pending[];
  commit: CommitBatch;
  newSize: number;
  edge: ReturnType<TreeState['edge']>;
  read: ReturnType<TreeState['append']>['read'];
  leafHashes: Uint8Array[];
  indexes: number[];
  fresh: Uint8Array;
  seen: Map<string, number>;
}

async function loadState(o: SequencerOptions): Promise<{ tree: TreeState; checkpoint: string }> {
  const stored = await o.store.readCheckpoint();
  if (stored === undefined) {
    const tree = TreeState.empty(o.hasher);
    const checkpoint = signNote(formatCheckpoint({ origin: o.origin, size: 0, root: tree.root(), extensions: [] }), o.signers);
    await o.store.commit({ start: 0, entries: [], tiles: [], leafIndex: [], checkpoint });
    return { tree, checkpoint };
  }
  let cp;
  try {
    cp = parseCheckpoint(stored.slice(0, stored.lastIndexOf('\n\n') + 1));
    // The stored checkpoint must carry a valid signature by a configured key. Otherwise a store
    // rewritten wholesale (tiles and a checkpoint signed by some other key) would be resumed and
    // then signed by us: a fork. To rotate keys, keep the old key configured beside the new one
    // until a checkpoint signed by both has been committed.
    openNote(stored, o.verifiers);
  } catch (err) {
    throw new CandorError('internal', `refusing to start: the stored checkpoint is invalid (${(err as Error).message})`);
  }
  if (cp.origin !== o.origin) {
    throw new CandorError('internal', `refusing to start: the store holds the log "${cp.origin}", not "${o.origin}"`);
  }
  const tree = await TreeState.load(o.hasher, o.store, cp.size);
  const root = tree.root();
  if (toBase64(root) !== toBase64(cp.root)) {
    throw new CandorError(
      'internal',
      `refusing to start: the stored tiles give root ${toBase64(root)} for size ${cp.size}, but the last signed checkpoint says ${toBase64(cp.root)}; the store is corrupt or was modified`,
    );
  }
  return { tree, checkpoint: stored };
}
