/**
 * The sequencer: the log's only writer. Submissions wait in a bounded queue; a batch closes when
 * it reaches maxBatch entries or has waited maxDelayMs; integrating it hashes the leaves, builds
 * the tiles, signs the checkpoint and commits everything in one atomic, synced write. Only then
 * is each submission answered, with its index, the checkpoint and an inclusion proof against it:
 * zero merge delay, and nothing acknowledged that a crash could lose.
 *
 * While one batch commits, the next fills up, so under load batches grow by themselves (group
 * commit) and the cost of each sync is shared.
 */
import { EventEmitter } from 'node:events';
import { toBase64 } from '../core/bytes.js';
import { formatCheckpoint, parseCheckpoint } from '../core/checkpoint.js';
import { CandorError } from '../core/errors.js';
import type { Hasher } from '../core/hash.js';
import { inclusionProofRanges, proofHashes, proofNodes } from '../core/merkle.js';
import { openNote, signNote, type NoteSigner, type NoteVerifier } from '../core/note.js';
import { MAX_ENTRY_SIZE } from '../core/tile.js';
import type { LogStore } from '../storage/store.js';
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

interface Pending {
  data: Uint8Array;
  resolve(ack: Ack): void;
  reject(err: unknown): void;
}

export const DEFAULTS = {
  maxBatch: 4096,
  maxDelayMs: 1,
  maxQueue: 65_536,
  maxQueueBytes: 256 * 1024 * 1024,
};

export class Sequencer extends EventEmitter {
  readonly reader: TreeReader;
  readonly #opts: Required<Omit<SequencerOptions, 'reader' | 'metrics'>> & { metrics?: LogMetrics };
  #tree: TreeState;
  #checkpoint: string;
  #queue: Pending[] = [];
  #queueBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #needsReload = false;
  #closed = false;

  private constructor(opts: SequencerOptions, tree: TreeState, checkpoint: string, reader: TreeReader) {
    super();
    this.#opts = { ...DEFAULTS, ...opts };
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
    return this.#queue.length;
  }

  /** Queues an entry; resolves once it is committed, with its proof. */
  submit(data: Uint8Array): Promise<Ack> {
    if (this.#closed) return Promise.reject(new CandorError('unavailable', 'the log is shutting down', { retryAfterMs: 1000 }));
    if (data.length === 0) return Promise.reject(new CandorError('invalid_argument', 'entry is empty'));
    if (data.length > MAX_ENTRY_SIZE) {
      return Promise.reject(new CandorError('payload_too_large', `entry is ${data.length} bytes; the limit is ${MAX_ENTRY_SIZE}`));
    }
    const o = this.#opts;
    if (this.#queue.length >= o.maxQueue || this.#queueBytes + data.length > o.maxQueueBytes) {
      o.metrics?.rejected.inc({ reason: 'queue_full' });
      return Promise.reject(new CandorError('resource_exhausted', 'the submission queue is full; retry later', { retryAfterMs: 1000 }));
    }
    return new Promise<Ack>((resolve, reject) => {
      this.#queue.push({ data, resolve, reject });
      this.#queueBytes += data.length;
      o.metrics?.queueDepth.set(this.#queue.length);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running || this.#queue.length === 0) return;
    if (this.#queue.length >= this.#opts.maxBatch || this.#opts.maxDelayMs <= 0) {
      this.#kick();
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#kick(), this.#opts.maxDelayMs);
    }
  }

  #kick(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running || this.#queue.length === 0) return;
    this.#running = this.#integrate().finally(() => {
      this.#running = undefined;
      this.#schedule();
    });
  }

  async #integrate(): Promise<void> {
    const o = this.#opts;
    const batch = this.#queue.splice(0, o.maxBatch);
    for (const p of batch) this.#queueBytes -= p.data.length;
    o.metrics?.queueDepth.set(this.#queue.length);
    const started = performance.now();
    try {
      if (this.#needsReload) await this.#reload();
      await this.#integrateBatch(batch);
      o.metrics?.batchSize.observe(batch.length);
      o.metrics?.integrationSeconds.observe((performance.now() - started) / 1000);
    } catch (err) {
      this.#needsReload = true;
      await this.#reload().catch(() => undefined);
      o.metrics?.rejected.inc({ reason: 'storage_error' }, batch.length);
      const e = new CandorError('unavailable', 'the log could not commit this batch; retry', { retryAfterMs: 1000, cause: err });
      this.emit('commitError', err);
      for (const p of batch) p.reject(e);
    }
  }

  /** After a failed commit, whether it landed or not, the store is the truth. */
  async #reload(): Promise<void> {
    const state = await loadState(this.#opts);
    this.#tree = state.tree;
    this.#checkpoint = state.checkpoint;
    this.reader.advance(state.tree.size, state.tree.edge());
    this.#needsReload = false;
  }

  async #integrateBatch(batch: Pending[]): Promise<void> {
    const { hasher, store } = this.#opts;
    const leafHashes = batch.map((p) => hasher.leaf(p.data));
    // Deduplicate: an entry already logged (or twice in this batch) keeps its first index.
    const known = await store.lookupLeafHashes(leafHashes);
    const firstInBatch = new Map<string, number>();
    const fresh: number[] = []; // positions in batch that get a new index
    const indexOf: (number | undefined)[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      if (known[i] !== undefined) continue;
      const k = toBase64(leafHashes[i]!);
      const prior = firstInBatch.get(k);
      if (prior !== undefined) {
        indexOf[i] = -1 - prior; // resolved below, once positions are known
        continue;
      }
      firstInBatch.set(k, i);
      fresh.push(i);
    }
    const start = this.#tree.size;
    const isFresh = new Uint8Array(batch.length);
    fresh.forEach((pos, n) => {
      indexOf[pos] = start + n;
      isFresh[pos] = 1;
    });
    for (let i = 0; i < batch.length; i++) {
      if (known[i] !== undefined) indexOf[i] = known[i];
      else if (indexOf[i]! < 0) indexOf[i] = indexOf[-1 - indexOf[i]!];
    }

    const appended = this.#tree.append(fresh.map((i) => leafHashes[i]!));
    const root = this.#tree.root();
    const text = formatCheckpoint({ origin: this.#opts.origin, size: appended.newSize, root, extensions: [] });
    const checkpoint = signNote(text, this.#opts.signers);
    await store.commit({
      start,
      entries: fresh.map((i) => batch[i]!.data),
      tiles: appended.tiles,
      leafIndex: fresh.map((i) => ({ hash: leafHashes[i]!, index: indexOf[i]! })),
      checkpoint,
    });
    this.#checkpoint = checkpoint;
    const edge = this.#tree.edge();
    this.reader.advance(appended.newSize, edge, appended.tiles.filter((t) => t.hashes.length === 8192));
    this.#opts.metrics?.treeSize.set(appended.newSize);
    this.emit('checkpoint', checkpoint, appended.newSize);

    // Durable: answer. New leaves are proved from the nodes this batch created; entries that
    // were already logged are proved from the tiles.
    const memo = new Map<string, Uint8Array>();
    for (let i = 0; i < batch.length; i++) {
      const index = indexOf[i]!;
      let proof: Uint8Array[];
      const ranges = inclusionProofRanges(index, appended.newSize);
      if (index >= start) proof = proofHashes(hasher, ranges, appended.read, memo);
      else proof = proofHashes(hasher, ranges, await this.reader.nodes(proofNodes(ranges)), memo);
      batch[i]!.resolve({
        index,
        leafHash: leafHashes[i]!,
        checkpoint,
        size: appended.newSize,
        inclusionProof: proof,
        duplicate: isFresh[i] === 0,
      });
    }
  }

  /** Stops taking submissions and waits until everything queued is committed and answered. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#queue.length > 0 || this.#running) {
      this.#kick();
      await this.#running;
    }
  }
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
    const text = stored.slice(0, stored.lastIndexOf('\n\n') + 1);
    cp = parseCheckpoint(text);
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
