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
import { FencedError, type AheadEvidence, type CommitBatch, type EntryTerms, type LogStore } from '../storage/store.js';
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
  /**
   * Open as a follower (several nodes on one shared store, src/cluster/ha.ts): serve the tree the
   * leader commits, refreshed by follow(), and sequence nothing. A follower never creates a log.
   */
  follower?: boolean;
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
  readonly #o: Required<Omit<SequencerOptions, 'reader' | 'metrics' | 'follower'>> & { metrics?: LogMetrics };
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
  /** The checkpoint the next prepared batch extends: the last one prepared, or the committed one. */
  #head: string;
  /** Checkpoints this node prepared and has not seen committed: a reload may find one of them. */
  #ours = new Set<string>();
  /** Set once this node stops sequencing (stepDown): why; every submission is refused with it. */
  #fenced: CandorError | undefined;
  #failing: Error | undefined;
  /**
   * Leaf hash -> index of the batches prepared but not yet durable, for deduplication across
   * them: a store lookup only finds batches whose commit landed before it read. A lookup takes
   * the set as it was when it began, since a batch in it may commit (and leave it) before the
   * lookup answers.
   */
  #inflightSeen = new Set<Map<string, number>>();
  #closed = false;
  #follower = false;

  private constructor(opts: SequencerOptions, tree: TreeState, checkpoint: string, reader: TreeReader) {
    super();
    this.#o = { ...DEFAULTS, ...opts };
    this.#tree = tree;
    this.#checkpoint = checkpoint;
    this.#head = checkpoint;
    this.reader = reader;
  }

  /**
   * Opens the log: resumes at the last committed checkpoint after checking that the stored tiles
   * reproduce its root, or starts a new log with a signed checkpoint of the empty tree.
   */
  static async open(opts: SequencerOptions): Promise<Sequencer> {
    const reader = opts.reader ?? new TreeReader(opts.store, opts.hasher);
    const { tree, checkpoint } = await loadState(opts, opts.follower);
    const seq = new Sequencer(opts, tree, checkpoint, reader);
    seq.#follower = opts.follower === true;
    if (opts.follower) seq.#fenced = new CandorError('unavailable', 'this node follows the leader and does not sequence; send writes to the leader', { retryAfterMs: 1000 });
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
    if (this.#fenced) return Promise.reject(this.#fenced);
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
        if (this.#fenced) throw this.#fenced;
        // A batch of duplicates only changes nothing: it just waits for the batches before it.
        if (p.commit.entries.length === 0) return undefined;
        const timer = this.#o.metrics?.commitSeconds.startTimer();
        return this.#o.store.commit(p.commit).finally(() => timer?.());
      });
      this.#tail = commit.catch(() => undefined);
      this.#preparing = false;
      this.#schedule();
      await commit;
      // Stepped down while this batch was committing: what it signed is not given to anyone.
      if (this.#fenced) throw this.#fenced;
      this.#failing = undefined;
      this.#committed(p);
      this.#o.metrics?.batchSize.observe(count);
      this.#o.metrics?.integrationSeconds.observe((performance.now() - started) / 1000);
    } catch (err) {
      this.#preparing = false;
      this.#generation++;
      this.#needsReload = true;
      if (err instanceof FencedError) this.stepDown(err.message);
      else if (err !== this.#fenced) {
        this.#failing = err as Error;
        this.emit('commitError', err);
      }
      const e = this.#fenced ?? new CandorError('unavailable', 'the log could not commit this batch; retry', { retryAfterMs: 1000, cause: err });
      for (const p of batch) p.reject(e);
    } finally {
      if (prepared) this.#inflightSeen.delete(prepared.seen);
      this.#inflight--;
      this.emit('settled');
      this.#schedule();
    }
  }

  /**
   * After a failed commit, whether it landed or not, the store (reopened if it needs it) is the
   * truth, provided it holds a checkpoint this node wrote: the committed one, or one it prepared (a commit whose outcome was
   * unknown). Any other means another writer moved the tree: step down, never build on it.
   */
  async #reload(): Promise<void> {
    // A store that keeps a failed write's error (LevelDB) is reopened first; it throws while it
    // cannot be (a disk still full), and the next batch tries again.
    await this.#o.store.afterFailedCommit?.();
    const state = await loadState(this.#o);
    if (state.checkpoint !== this.#checkpoint && !this.#ours.has(state.checkpoint)) {
      this.stepDown(`the store's checkpoint (size ${state.tree.size}) was not written by this node: another writer has committed; this node stops sequencing`);
      throw this.#fenced;
    }
    this.#ours.clear();
    this.#tree = state.tree;
    this.#checkpoint = state.checkpoint;
    this.#head = state.checkpoint;
    this.reader.advance(state.tree.size, state.tree.edge());
    this.#o.metrics?.treeSize.set(state.tree.size);
    this.#needsReload = false;
  }

  /**
   * A follower's refresh: when the store's checkpoint moved, loads the new tree (checked as at
   * start-up: signature, origin, tiles against the root) and serves it. Resolves with the size.
   */
  async follow(): Promise<number> {
    const stored = await this.#o.store.readCheckpoint();
    if (stored === undefined || stored === this.#checkpoint) return this.size;
    const state = await loadState(this.#o, true);
    if (state.tree.size < this.size) throw new CandorError('internal', `the store's checkpoint went back from size ${this.size} to ${state.tree.size}: refusing to serve it`);
    this.#tree = state.tree;
    this.#checkpoint = state.checkpoint;
    this.#head = state.checkpoint;
    this.reader.advance(state.tree.size, state.tree.edge());
    this.#o.metrics?.treeSize.set(state.tree.size);
    this.emit('checkpoint', state.checkpoint, state.tree.size);
    return state.tree.size;
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
    const previous = this.#head;
    if (freshEntries.length > 0) {
      this.#head = checkpoint;
      this.#ours.add(checkpoint);
    }
    return {
      batch,
      commit: {
        previous,
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
      this.#ours.delete(p.commit.checkpoint);
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

  /** The error of the last commit, while no commit has succeeded since (a full disk, a store down). */
  get failing(): Error | undefined {
    return this.#failing;
  }

  /** Why this node stopped sequencing, or undefined while it sequences. */
  get fenced(): CandorError | undefined {
    return this.#fenced;
  }

  /**
   * A follower's answer to writes (src/cluster/ha.ts names the leader in it). Only for a sequencer
   * opened as a follower: a leader that stepped down keeps its reason.
   */
  notLeader(reason: string): void {
    if (this.#follower) this.#fenced = new CandorError('unavailable', reason, { retryAfterMs: 1000 });
  }

  /**
   * Stops sequencing for good: every submission queued or to come is refused, naming the reason,
   * and nothing more is signed. Emits 'fenced' once. Batches already committing finish.
   */
  stepDown(reason: string): void {
    if (this.#fenced) return;
    this.#fenced = new CandorError('unavailable', `this node does not sequence: ${reason}`, { retryAfterMs: 5000 });
    const queued = this.#queue.splice(0);
    this.#queuedEntries = 0;
    this.#queuedBytes = 0;
    this.#o.metrics?.queueDepth.set(0);
    for (const p of queued) p.reject(this.#fenced);
    this.emit('fenced', this.#fenced);
  }

  /**
   * Evidence from outside that the log has published a tree of `size`: a witness's 409, a bucket's
   * checkpoint. Past the committed size, the store was rolled back (or another node has moved
   * on): the evidence is recorded in the store, so that a restart refuses too, and this node steps
   * down rather than sign a second root for a size it has published.
   */
  async observeSize(size: number, source: string, note?: string): Promise<void> {
    if (size <= this.size) return;
    const evidence = { size, source, ...(note !== undefined ? { note } : {}) };
    await this.#o.store.recordAhead(evidence).catch(() => undefined);
    this.stepDown(aheadMessage(evidence, this.size));
  }

  /**
   * A checkpoint note a client holds (it accepted it from this log earlier). Larger than the
   * committed tree, or of the same size with another root, and validly signed by this log: the log
   * was rolled back, and observeSize steps down. A note this log did not sign is the client's
   * mistake (invalid_argument). Cheap when the client is not ahead: only the size line is read.
   */
  async observeCheckpoint(note: string, source = 'a client'): Promise<void> {
    const nl = note.indexOf('\n');
    const size = Number(note.slice(nl + 1, note.indexOf('\n', nl + 1)));
    if (nl < 0 || !Number.isSafeInteger(size) || size < 0) throw new CandorError('invalid_argument', 'the client checkpoint is not a checkpoint note (its second line must be the tree size)');
    const committed = this.#checkpoint;
    if (size < this.size || note === committed) return;
    let cp;
    try {
      openNote(note, this.#o.verifiers);
      cp = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
    } catch (err) {
      throw new CandorError('invalid_argument', `the client checkpoint does not verify with this log's key: ${(err as Error).message}`);
    }
    if (cp.origin !== this.#o.origin) throw new CandorError('invalid_argument', `the client checkpoint is for the log "${cp.origin}", not "${this.#o.origin}"`);
    if (cp.size === this.size && toBase64(cp.root) === toBase64(parseCheckpoint(committed.slice(0, committed.lastIndexOf('\n\n') + 1)).root)) return;
    if (cp.size === this.size) {
      // Same size, another root, both signed by this log: two histories exist already.
      this.stepDown(`${source} holds a checkpoint of size ${cp.size} signed by this log with another root than the store's: the log has signed two histories; an operator must investigate`);
      return;
    }
    await this.observeSize(cp.size, source, note);
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

/** Why a log refuses to sequence when it is shown a larger tree than its store holds. */
function aheadMessage(e: AheadEvidence, size: number): string {
  return `${e.source} showed that this log has published a tree of size ${e.size}, but its store holds only size ${size}: the store was rolled back (restored from an older backup?) or another node has moved on. Signing now would sign a second history, so the log refuses to sequence; restore a copy that reaches size ${e.size} (docs/operations.md, "Restoring")`;
}

/**
 * Reads back the last entry bundle the checkpoint covers and checks each entry against its leaf
 * hash in the level-0 tile: a damaged write-ahead log or table (a bit flip, a record LevelDB
 * dropped) would otherwise let the log start with acknowledged entries it cannot serve. One read
 * of at most TILE_WIDTH entries; the rest of the store is fsck's (docs/faults.md).
 */
async function checkLastBundle(o: SequencerOptions, size: number): Promise<void> {
  if (size === 0) return;
  const first = size - 1 - ((size - 1) % TILE_WIDTH);
  const tile = first / TILE_WIDTH;
  const refuse = (why: string) => new CandorError('data_loss', `refusing to start: ${why}; the store is damaged (run candor fsck, restore from a backup: docs/operations.md)`);
  let entries: Uint8Array[];
  try {
    entries = await o.store.readEntries(first, size);
  } catch (err) {
    throw refuse(`the last entries its checkpoint covers, [${first}, ${size}), cannot be read: ${(err as Error).message}`);
  }
  const [leaves] = await o.store.readTiles([{ level: 0, index: tile }]);
  for (let i = 0; i < entries.length; i++) {
    const want = leaves?.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
    if (!want || want.length < HASH_SIZE || toBase64(o.hasher.leaf(entries[i]!)) !== toBase64(want)) {
      throw refuse(`entry ${first + i} does not hash to its leaf in tile 0/${tile}`);
    }
  }
}

async function loadState(o: SequencerOptions, follower = false): Promise<{ tree: TreeState; checkpoint: string }> {
  const stored = await o.store.readCheckpoint();
  // A follower does not compare entries held with the checkpoint: the leader may commit between
  // the two reads.
  const [ahead, held] = await Promise.all([o.store.readAhead(), follower ? 0 : o.store.storedEntries()]);
  if (stored === undefined && follower) throw new CandorError('unavailable', 'the store has no checkpoint yet: a follower waits for the leader to create the log', { retryAfterMs: 1000 });
  if (stored === undefined) {
    if (held > 0 || ahead) throw new CandorError('internal', `refusing to start: the store has no checkpoint but holds ${held} entries${ahead ? ` and evidence of a published size ${ahead.size}` : ''}; it is damaged or was partly replaced`);
    const tree = TreeState.empty(o.hasher);
    const checkpoint = signNote(formatCheckpoint({ origin: o.origin, size: 0, root: tree.root(), extensions: [] }), o.signers);
    await o.store.commit({ previous: undefined, start: 0, entries: [], tiles: [], leafIndex: [], checkpoint });
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
  if (held > cp.size) {
    throw new CandorError('internal', `refusing to start: the store holds ${held} entries but its checkpoint's tree size is ${cp.size}: the checkpoint was rewound or the store mixed with another copy; a log started on it would sign other roots for sizes it has published (docs/fencing.md)`);
  }
  // A follower serves what is committed even so; it is the leader that must not sign on it.
  if (ahead && ahead.size > cp.size && !follower) throw new CandorError('internal', `refusing to start: ${aheadMessage(ahead, cp.size)}`);
  const tree = await TreeState.load(o.hasher, o.store, cp.size);
  const root = tree.root();
  if (toBase64(root) !== toBase64(cp.root)) {
    throw new CandorError(
      'internal',
      `refusing to start: the stored tiles give root ${toBase64(root)} for size ${cp.size}, but the last signed checkpoint says ${toBase64(cp.root)}; the store is corrupt or was modified`,
    );
  }
  await checkLastBundle(o, cp.size);
  return { tree, checkpoint: stored };
}
