/**
 * The embedded LogStore on classic-level (LevelDB). Keys are prefixed by kind:
 *   c                      the latest checkpoint
 *   t <level:1> <index:8>  a hash tile: its current hashes; a full tile (final) is followed by
 *                          its 960-byte interior
 *   e <index:8>            a run of consecutive entries from that index, entry-bundle encoded;
 *                          a run never crosses a multiple of ENTRY_RUN (16) entries (logs written
 *                          before runs were capped, or capped wider, hold runs of up to 256 entries)
 *   h <leaf hash:32>       leaf hash -> index (8 bytes)
 *   x ...                  the search indexes: posting blocks and time runs (src/storage/postings.ts)
 *   m                      the search indexes are merged below this index (src/storage/merge.ts)
 *   p                      per-tenant terms are indexed from this index on (8 bytes; absent: nowhere)
 *   a                      evidence that the log published past this store (AheadEvidence, JSON)
 * Integers are big-endian, so entries and tiles sort in index order and a bundle is one range
 * scan. Entries are written as runs (one key per batch and 16 entries, not per entry) because each
 * LevelDB put costs more than hashing the entry, and a run is no wider than 16 entries because a
 * search reading one event decodes the whole run that holds it. Each commit is one LevelDB write batch with sync:
 * the WAL is fsynced before it resolves. Postings go into the same write batch as the entries
 * they index, so the indexes never disagree with the tree (docs/search.md).
 */
import { readdirSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { CandorError } from '@candor/core/errors';
import { HASH_SIZE } from '@candor/core/hash';
import { TILE_WIDTH, bundleCount, decodeBundle, encodeBundle } from '@candor/core/tile';
import { INDEX_PREFIX, MAX_BLOCK, blockFirst, blockKey, decodeBlockInto, indexRecords, parseTimeKey, putIndex, readIndex, termPrefix, timeKey, type IndexRecord } from './postings.js';
import { MERGED_KEY, MERGE_WINDOW, PostingMerger, mergedMarker, type MergeOptions } from './merge.js';
import { ENTRY_RUN, FencedError, type AheadEvidence, type CommitBatch, type EntryTerms, type LogStore, type PostingCursor, type SearchIndex, type StoredTile, type TileId } from './store.js';

const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;

type Bytes = Uint8Array;
type Batch = ReturnType<ClassicLevel<Bytes, Bytes>['batch']>;

const CHECKPOINT_KEY = Uint8Array.of(0x63); // "c"
const TILE = 0x74; // "t"
const ENTRY = 0x65; // "e"
const LEAF = 0x68; // "h"
const INDEX_START = Uint8Array.of(INDEX_PREFIX);
/** Where per-tenant terms begin: the first commit with terms by code that writes them (src/query/terms.ts PER_TENANT_FIELDS). */
const PER_TENANT_KEY = Uint8Array.of(0x70); // "p"
const AHEAD_KEY = Uint8Array.of(0x61); // "a"
const INDEX_END = Uint8Array.of(INDEX_PREFIX + 1);
/** Block keys one cursor read fetches at first; doubles per read up to MAX_GULP. */
const FIRST_GULP = 4;
const MAX_GULP = 256;
/** The bytes one gulp may carry (classic-level's default, 16 KiB, would split gulps of dense terms). */
const GULP_BYTES = 1 << 20;
/** A target more than this many blocks past the blocks read is reached by a seek instead of reading on. */
const NEAR_BLOCKS = 4;
/** Bytes of a store copy written per LevelDB batch. */
const COPY_BATCH_BYTES = 4 << 20;

function tileKey(level: number, index: number): Bytes {
  const k = new Uint8Array(10);
  k[0] = TILE;
  k[1] = level;
  putIndex(k, 2, index);
  return k;
}

function entryKey(index: number): Bytes {
  const k = new Uint8Array(9);
  k[0] = ENTRY;
  putIndex(k, 1, index);
  return k;
}

const LEAF_KEY_BYTES = 1 + HASH_SIZE;

/** Writes the leaf-index key of `hash` into buf at off and returns it (a view of buf). */
function leafKeyAt(buf: Uint8Array, off: number, hash: Uint8Array): Bytes {
  buf[off] = LEAF;
  buf.set(hash, off + 1);
  return buf.subarray(off, off + LEAF_KEY_BYTES);
}

/**
 * A term's posting list over its blocks, bounded to the index window [lo, hi). Forward: seek(t)
 * gives the smallest posting >= t; reverse: the largest <= t. Block keys are read in growing
 * gulps (one store call each) and a block is decoded only when a target falls in it: a target
 * inside or near the blocks read costs no I/O, a far one a seek. The block holding an index is
 * the one with the largest first index at or below it: a reverse iterator's seek lands on it, a
 * forward one needs the block before its seek position (one more read, run alongside).
 */
class BlockPostings implements PostingCursor {
  readonly #db: ClassicLevel<Bytes, Bytes>;
  readonly #it;
  readonly #prefix: Bytes;
  readonly #lo: number;
  readonly #hi: number;
  readonly #reverse: boolean;
  /** Blocks read and not yet passed: [first index, value], in traversal order. */
  #blocks: [number, Bytes][] = [];
  #bi = 0;
  /** The decoded block: its postings in [lo, hi), in traversal order. */
  readonly #buf = new Float64Array(MAX_BLOCK);
  #len = 0;
  #pos = 0;
  /** The iterator has no more blocks. */
  #done = false;
  #gulp = FIRST_GULP;
  /** Not positioned yet. */
  #fresh = true;
  /** The mean distance between the first indexes of the blocks last read (0: not known). */
  #span = 0;
  /** Forward only: a reverse iterator that finds the block holding a seek target. */
  readonly #cover;
  reads = 0;

  constructor(db: ClassicLevel<Bytes, Bytes>, prefix: Bytes, lo: number, hi: number, reverse: boolean) {
    this.#db = db;
    this.#prefix = prefix;
    this.#lo = lo;
    this.#hi = hi;
    this.#reverse = reverse;
    // A gulp is at most MAX_GULP blocks of at most MAX_BLOCK postings: let one nextv return it whole.
    const highWaterMarkBytes = GULP_BYTES;
    this.#it = reverse
      ? db.iterator({ gte: blockKey(prefix, 0), lte: blockKey(prefix, Math.max(0, hi - 1)), reverse, highWaterMarkBytes })
      : db.iterator({ gte: blockKey(prefix, lo), lt: blockKey(prefix, hi), highWaterMarkBytes });
    this.#cover = reverse ? undefined : db.iterator({ gte: blockKey(prefix, 0), lt: blockKey(prefix, hi), reverse: true });
  }

  /** Whether posting p is at or past the target in traversal order. */
  #reached(p: number, target: number): boolean {
    return this.#reverse ? p <= target : p >= target;
  }

  async seek(target: number): Promise<number | undefined> {
    for (;;) {
      const at = this.seekRead(target);
      if (at !== null) return at;
      await this.#read(target);
    }
  }

  seekRead(target: number): number | undefined | null {
    for (;;) {
      // In the decoded block: gallop, then binary search.
      const buf = this.#buf;
      const len = this.#len;
      if (this.#pos < len && this.#reached(buf[len - 1]!, target)) {
        let step = 1;
        let a = this.#pos;
        while (a + step < len && !this.#reached(buf[a + step]!, target)) {
          a += step;
          step *= 2;
        }
        let lo = a;
        let hi = Math.min(len - 1, a + step);
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (this.#reached(buf[mid]!, target)) hi = mid;
          else lo = mid + 1;
        }
        this.#pos = lo;
        return buf[lo];
      }
      this.#pos = len;
      if (this.#bi < this.#blocks.length) {
        this.#nextBlock(target);
        continue;
      }
      return this.#done ? undefined : null;
    }
  }

  /** Decodes the next block that may hold the target, skipping (undecoded) those before it. */
  #nextBlock(target: number): void {
    const blocks = this.#blocks;
    let bi = this.#bi;
    if (this.#reverse) {
      // Descending first indexes: a block starting after the target holds nothing at or below it.
      while (bi + 1 < blocks.length && blocks[bi]![0] > target) bi++;
    } else {
      // Ascending: a block is passed when the next one starts at or before the target.
      while (bi + 1 < blocks.length && blocks[bi + 1]![0] <= target) bi++;
    }
    const [first, value] = blocks[bi]!;
    this.#bi = bi + 1;
    this.#len = decodeBlockInto(first, value, this.#lo, this.#hi, this.#buf);
    if (this.#reverse) {
      this.#buf.subarray(0, this.#len).reverse();
      // Blocks further back start before this one: all below lo once this one does.
      if (first < this.#lo) this.#end();
    }
    this.#pos = 0;
  }

  #end(): void {
    this.#done = true;
    this.#blocks = [];
    this.#bi = 0;
  }

  /**
   * Reads the next gulp of blocks; first seeks to the block holding the target when it is more
   * than a few blocks past those read (a seek costs the same store call as reading on).
   */
  async #read(target: number): Promise<void> {
    const last = this.#blocks.length > 0 ? this.#blocks[this.#blocks.length - 1]![0] : undefined;
    let cover: Promise<[Bytes, Bytes] | undefined> | undefined;
    if (this.#fresh || last === undefined || this.#span === 0 || Math.abs(target - last) > NEAR_BLOCKS * this.#span) {
      const at = this.#reverse ? Math.min(target, this.#hi - 1) : Math.max(target, this.#lo);
      this.#it.seek(blockKey(this.#prefix, at));
      this.#gulp = FIRST_GULP;
      if (!this.#reverse && at > 0) {
        // Forward, the block holding `at` starts before the seek position: read it alongside.
        this.#cover!.seek(blockKey(this.#prefix, at - 1));
        cover = this.#cover!.next();
      }
    }
    this.#fresh = false;
    const n = this.#gulp;
    const [entries, before] = await Promise.all([this.#it.nextv(n), cover]);
    this.reads += entries.length + (before ? 1 : 0);
    this.#gulp = Math.min(MAX_GULP, n * 2);
    // nextv may return fewer than asked (it also stops at a byte budget): only none is the end.
    if (entries.length === 0) this.#done = true;
    const blocks: [number, Bytes][] = [];
    if (before !== undefined) blocks.push([blockFirst(before[0]), before[1]]);
    for (const [k, v] of entries) blocks.push([blockFirst(k), v]);
    if (blocks.length > 1) this.#span = Math.abs(blocks[blocks.length - 1]![0] - blocks[0]![0]) / (blocks.length - 1);
    this.#blocks = blocks;
    this.#bi = 0;
  }

  async close(): Promise<void> {
    await Promise.all([this.#it.close(), this.#cover?.close()]);
  }
}

/** Why a commit was fenced, naming the sizes of the two checkpoints (first lines only). */
export function fencedMessage(stored: string | undefined, previous: string | undefined): string {
  const size = (note: string | undefined) => (note === undefined ? 'no checkpoint' : `the checkpoint of size ${note.split('\n')[1]}`);
  return `the store holds ${size(stored)}, not ${size(previous)} that this commit extends: another writer has committed, or the store was replaced; this node stops sequencing`;
}

export interface LevelStoreOptions {
  /** Merge each finished window's posting blocks in the background (a serving log with indexes). */
  merge?: MergeOptions;
}

/**
 * Free bytes a reopen needs besides the write-ahead log's size: LevelDB's recovery writes the
 * replayed log into a table (at most about the log's size) and appends to its MANIFEST.
 */
const REOPEN_MARGIN = 1 << 20;

export class LevelStore implements LogStore, SearchIndex {
  readonly #db: ClassicLevel<Bytes, Bytes>;
  readonly #path: string;
  /** Present when merging: it counts each commit's blocks and merges finished windows. */
  readonly merger: PostingMerger | undefined;
  /** The PER_TENANT_KEY value, read at open; Infinity until a commit or rebuild writes terms. */
  #perTenantFrom: number;
  /**
   * The error of a write that failed; no write is made until the database has been reopened.
   * LevelDB does not recover from a failed write by itself: after a failed sync it fails every
   * later write, and after a failed append (a full disk) it drops the bytes it had buffered and
   * goes on appending after the gap, so that later writes are acknowledged but do not survive a
   * restart (measured on a full tmpfs: test/faults/disk.test.ts). Reopening replays the
   * write-ahead log up to the failed record and starts a new one.
   */
  #broken: Error | undefined;
  /** Set while the database is closed and reopened: reads wait for it. */
  #reopening: Promise<void> | undefined;

  private constructor(db: ClassicLevel<Bytes, Bytes>, path: string, opts: LevelStoreOptions, perTenantFrom: number) {
    this.#db = db;
    this.#path = path;
    this.merger = opts.merge ? new PostingMerger(db, this, opts.merge) : undefined;
    this.#perTenantFrom = perTenantFrom;
  }

  static async open(path: string, opts: LevelStoreOptions = {}): Promise<LevelStore> {
    const db = new ClassicLevel<Bytes, Bytes>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new CandorError('unavailable', `cannot open the log store at ${path}: ${cause}`, { cause: err });
    }
    const from = await db.get(PER_TENANT_KEY);
    return new LevelStore(db, path, opts, from === undefined ? Infinity : readIndex(from));
  }

  /** Writes a batch after the writes before it (the merger's writes come through here). */
  write(b: Batch, sync = false): Promise<void> {
    return this.#serial(() => this.#write(b, sync));
  }

  /** Writes a batch; a failure leaves the store broken (no write until reopened, see #broken). Only within #serial. */
  async #write(b: Batch, sync: boolean): Promise<void> {
    try {
      await b.write({ sync });
    } catch (err) {
      // A batch closed by a reopen (the merger's, made before it) was not written: nothing broke.
      // Nor did a write refused because the store is closing (a reopen must never revive it).
      const code = (err as { code?: string }).code;
      if (code !== 'LEVEL_BATCH_NOT_OPEN' && code !== 'LEVEL_DATABASE_NOT_OPEN' && !this.#closed) this.#broken ??= err as Error;
      throw err;
    }
  }

  /** The writes, one after another: each commit's fence check sees the one before, and a reopen runs between two. */
  #writes: Promise<unknown> = Promise.resolve();
  /** Set by close(): no write, and above all no reopen, after it. */
  #closed = false;

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(async () => {
      if (this.#closed) throw new CandorError('unavailable', 'the log store is closed', { retryAfterMs: 1000 });
      if (this.#broken) await this.#reopen();
      return fn();
    });
    this.#writes = run.catch(() => undefined);
    return run;
  }

  /** Reopens the store after a failed write, if it is broken; throws (retryable) while it cannot. */
  afterFailedCommit(): Promise<void> {
    return this.#serial(async () => undefined);
  }

  async #reopen(): Promise<void> {
    const failed = this.#broken!;
    // Reopening on a filesystem that is still full would fail half-way and leave the store closed
    // (reads failing too); while the old database stays open, reads are served from it.
    const need = this.#walBytes() + REOPEN_MARGIN;
    const { bavail, bsize } = statfsSync(this.#path);
    if (bavail * bsize < need) {
      throw new CandorError('unavailable', `the log store cannot be written (${failed.message}); reopening it needs about ${need} free bytes and ${bavail * bsize} are free`, { retryAfterMs: 1000, cause: failed });
    }
    this.#reopening = (async () => {
      await this.#db.close();
      await this.#db.open();
    })();
    try {
      await this.#reopening;
    } catch (err) {
      throw new CandorError('unavailable', `the log store could not be reopened after a failed write: ${(err as Error).message}`, { retryAfterMs: 1000, cause: err });
    } finally {
      this.#reopening = undefined;
    }
    this.#broken = undefined;
  }

  /** The size of LevelDB's write-ahead log files (what a reopen replays). */
  #walBytes(): number {
    let n = 0;
    for (const f of readdirSync(this.#path)) if (f.endsWith('.log')) n += statSync(join(this.#path, f)).size;
    return n;
  }

  async readCheckpoint(): Promise<string | undefined> {
    if (this.#reopening) await this.#reopening.catch(() => undefined);
    const v = await this.#db.get(CHECKPOINT_KEY);
    return v === undefined ? undefined : new TextDecoder().decode(v);
  }

  async readTiles(ids: readonly TileId[]): Promise<(StoredTile | undefined)[]> {
    if (ids.length === 0) return [];
    if (this.#reopening) await this.#reopening.catch(() => undefined);
    const values = await this.#db.getMany(ids.map((t) => tileKey(t.level, t.index)));
    return values.map((v, i) => {
      if (v === undefined) return undefined;
      const { level, index } = ids[i]!;
      if (v.length <= FULL_TILE_BYTES) return { level, index, hashes: v };
      return { level, index, hashes: v.subarray(0, FULL_TILE_BYTES), interior: v.subarray(FULL_TILE_BYTES) };
    });
  }

  async storedEntries(): Promise<number> {
    if (this.#reopening) await this.#reopening.catch(() => undefined);
    const [last] = await this.#db.iterator({ gte: entryKey(0), lt: Uint8Array.of(ENTRY + 1), reverse: true, limit: 1 }).all();
    return last === undefined ? 0 : readIndex(last[0], 1) + bundleCount(last[1]);
  }

  async readAhead(): Promise<AheadEvidence | undefined> {
    if (this.#reopening) await this.#reopening.catch(() => undefined);
    const v = await this.#db.get(AHEAD_KEY);
    return v === undefined ? undefined : (JSON.parse(new TextDecoder().decode(v)) as AheadEvidence);
  }

  recordAhead(evidence: AheadEvidence): Promise<void> {
    return this.#serial(async () => {
      const known = await this.readAhead();
      if (known && known.size >= evidence.size) return;
      await this.#write(this.#db.batch().put(AHEAD_KEY, new TextEncoder().encode(JSON.stringify(evidence))), true);
    });
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    if (end <= start) return [];
    if (this.#reopening) await this.#reopening.catch(() => undefined);
    try {
      return await this.#readEntries(start, end);
    } catch (err) {
      // A run that is gone (a write-ahead log record LevelDB dropped as damaged), will not decode
      // or fails LevelDB's checksum: named, so that neither a client (a 400 from the decoder) nor
      // an operator (an opaque 500) is misled. Other failures (an I/O error) stay internal.
      const damaged = err instanceof CandorError ? err.code === 'invalid_argument' || err.code === 'data_loss' : (err as { code?: string }).code === 'LEVEL_CORRUPTION';
      if (!damaged) throw err;
      if (err instanceof CandorError && err.code === 'data_loss') throw err;
      throw new CandorError('data_loss', `the log store is damaged: entries [${start}, ${end}) cannot be read (${(err as Error).message}); candor fsck names the damaged bundles`, { cause: err });
    }
  }

  async #readEntries(start: number, end: number): Promise<Uint8Array[]> {
    // The run holding `start` is the last one starting at or before it: one read, which is all when
    // it also holds `end - 1` (a search reading scattered events). Commits of a busy log write whole
    // ENTRY_RUN-aligned runs, so try the run at that boundary first (one get, cheaper than an
    // iterator), then seek back from `start` no further than its bundle, which also finds the
    // bundle-wide runs of logs written before runs were capped.
    const runKey = entryKey(start - (start % ENTRY_RUN));
    const atRun = await this.#db.get(runKey);
    let first: [Uint8Array, Uint8Array] | undefined = atRun === undefined ? undefined : [runKey, atRun];
    if (!first || bundleCount(atRun!) <= start % ENTRY_RUN) {
      [first] = await this.#db.iterator({ gte: entryKey(start - (start % TILE_WIDTH)), lte: entryKey(start), reverse: true, limit: 1 }).all();
    }
    if (!first) throw new CandorError('data_loss', `the log store is damaged: it is missing entry ${start}`);
    const out: Uint8Array[] = [];
    const take = ([k, v]: [Uint8Array, Uint8Array]) => {
      const runStart = readIndex(k, 1);
      for (const e of decodeBundle(v, start - runStart, end - runStart)) out.push(e);
    };
    take(first);
    if (out.length < end - start) for await (const run of this.#db.iterator({ gt: first[0], lt: entryKey(end) })) take(run);
    if (out.length !== end - start) throw new CandorError('data_loss', `the log store is damaged: it is missing entries in [${start}, ${end})`);
    return out;
  }

  async lookupLeafHashes(hashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    if (hashes.length === 0) return [];
    if (this.#reopening) await this.#reopening.catch(() => undefined);
    // The keys are views of one buffer: a separate small Uint8Array per key would be allocated on
    // V8's heap, and the binding, to read it, moves each one off the heap (an allocation and a
    // copy per key).
    const buf = new Uint8Array(hashes.length * LEAF_KEY_BYTES);
    const keys: Bytes[] = new Array(hashes.length);
    for (let i = 0; i < hashes.length; i++) keys[i] = leafKeyAt(buf, i * LEAF_KEY_BYTES, hashes[i]!);
    const values = await this.#db.getMany(keys);
    return values.map((v) => (v === undefined ? undefined : readIndex(v)));
  }

  commit(batch: CommitBatch): Promise<void> {
    return this.#serial(() => this.#commit(batch));
  }

  async #commit(batch: CommitBatch): Promise<void> {
    // The fence: commits in this process run one at a time (above) and LevelDB's LOCK keeps other
    // processes out, so reading the checkpoint before the write is as good as checking within it.
    const stored = await this.readCheckpoint();
    if (stored !== batch.previous) throw new FencedError(fencedMessage(stored, batch.previous));
    const b = this.#db.batch();
    for (let i = 0; i < batch.entries.length; ) {
      const index = batch.start + i;
      const n = Math.min(batch.entries.length - i, ENTRY_RUN - (index % ENTRY_RUN));
      b.put(entryKey(index), encodeBundle(batch.entries.slice(i, i + n)));
      i += n;
    }
    for (const t of batch.tiles) {
      let v = t.hashes;
      if (t.interior) {
        v = new Uint8Array(t.hashes.length + t.interior.length);
        v.set(t.hashes);
        v.set(t.interior, t.hashes.length);
      }
      b.put(tileKey(t.level, t.index), v);
    }
    // Leaf-index keys and values as views of one buffer, for the reason given in lookupLeafHashes.
    const n = batch.leafIndex.length;
    const buf = new Uint8Array(n * (LEAF_KEY_BYTES + 8));
    for (let i = 0, off = 0; i < n; i++, off += LEAF_KEY_BYTES + 8) {
      const { hash, index } = batch.leafIndex[i]!;
      const key = leafKeyAt(buf, off, hash);
      putIndex(buf, off + LEAF_KEY_BYTES, index);
      b.put(key, buf.subarray(off + LEAF_KEY_BYTES, off + LEAF_KEY_BYTES + 8));
    }
    const records = batch.terms ? indexRecords(batch.start, batch.terms) : [];
    for (const r of records) b.put(r.key, r.value);
    const perTenant = batch.terms ? this.#notePerTenant(b, batch.start) : undefined;
    b.put(CHECKPOINT_KEY, new TextEncoder().encode(batch.checkpoint));
    await this.#write(b, true);
    if (perTenant !== undefined) this.#perTenantFrom = perTenant;
    if (batch.terms) this.merger?.committed(batch.start, batch.start + batch.entries.length, records);
  }

  /**
   * Records, in the write batch `b` that writes the terms of the entries from `start`, that
   * per-tenant terms exist from `start` on, unless known from earlier: terms come from
   * src/query/terms.ts in this process, so every later commit has them too. A log indexed by
   * earlier code has none below that point.
   */
  #notePerTenant(b: Batch, start: number): number | undefined {
    if (this.#perTenantFrom <= start) return undefined;
    const v = new Uint8Array(8);
    putIndex(v, 0, start);
    b.put(PER_TENANT_KEY, v);
    return start;
  }

  perTenantFrom(): number {
    return this.#perTenantFrom;
  }

  postings(field: number, value: string, lo: number, hi: number, reverse: boolean): PostingCursor {
    return new BlockPostings(this.#db, termPrefix(field, value), lo, hi, reverse);
  }

  async firstIntegratedAtOrAfter(ns: bigint): Promise<number | undefined> {
    if (this.#reopening) await this.#reopening.catch(() => undefined);
    const start = timeKey(ns);
    const [k] = await this.#db.keys({ gte: start, lt: Uint8Array.of(INDEX_PREFIX, start[1]! + 1), limit: 1 }).all();
    return k === undefined ? undefined : parseTimeKey(k).first;
  }

  /** Deletes every index record (before a rebuild). */
  clearIndexes(): Promise<void> {
    return this.#serial(async () => {
      try {
        await this.#db.clear({ gte: INDEX_START, lt: INDEX_END });
      } catch (err) {
        this.#broken ??= err as Error;
        throw err;
      }
      await this.#write(this.#db.batch().del(MERGED_KEY).del(PER_TENANT_KEY), false);
      this.#perTenantFrom = Infinity;
    });
  }

  /**
   * Writes the index records of the entries from `start` (a rebuild; synced only when asked: the
   * last write). A whole merge window written at once is merged already: it is marked so.
   */
  writeIndexes(start: number, terms: readonly (EntryTerms | undefined)[], sync = false): Promise<void> {
    return this.#serial(async () => {
      const b = this.#db.batch();
      for (const r of indexRecords(start, terms)) b.put(r.key, r.value);
      if (start % MERGE_WINDOW === 0 && terms.length === MERGE_WINDOW) {
        b.put(MERGED_KEY, mergedMarker(start + MERGE_WINDOW));
      }
      const perTenant = this.#notePerTenant(b, start);
      await this.#write(b, sync);
      if (perTenant !== undefined) this.#perTenantFrom = perTenant;
    });
  }

  /** Where merging has got to: every window below this index is merged. */
  async mergedBelow(): Promise<number> {
    if (this.#reopening) await this.#reopening.catch(() => undefined);
    const v = await this.#db.get(MERGED_KEY);
    return v === undefined ? 0 : readIndex(v);
  }

  /** Every index record, in key order (tests compare indexes with this). */
  async *indexRecords(): AsyncGenerator<IndexRecord> {
    for await (const [key, value] of this.#db.iterator({ gte: INDEX_START, lt: INDEX_END })) yield { key, value };
  }

  /**
   * Copies the whole store, as of one moment, into a new LevelDB at `path` (a backup of a serving
   * log: LevelDB's LOCK keeps other processes out, so the copy is made here). One iterator reads
   * one implicit snapshot, so the copy's checkpoint, tiles, entries and indexes agree with each
   * other whatever commits meanwhile. Returns the copied checkpoint note.
   */
  async copyTo(path: string): Promise<string | undefined> {
    const out = new ClassicLevel<Bytes, Bytes>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await out.open({ errorIfExists: true });
    let checkpoint: string | undefined;
    try {
      let b = out.batch();
      let bytes = 0;
      for await (const [k, v] of this.#db.iterator({ highWaterMarkBytes: GULP_BYTES })) {
        if (k.length === 1 && k[0] === CHECKPOINT_KEY[0]) checkpoint = new TextDecoder().decode(v);
        b.put(k, v);
        bytes += k.length + v.length;
        if (bytes >= COPY_BATCH_BYTES) {
          await b.write();
          b = out.batch();
          bytes = 0;
        }
      }
      await b.write({ sync: true });
    } finally {
      await out.close();
    }
    return checkpoint;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#writes;
    await this.merger?.close();
    await this.#db.close();
  }
}
