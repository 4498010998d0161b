/**
 * Merges the posting blocks of each finished window of MERGE_WINDOW entries (docs/search.md
 * "Merging"). A commit writes one block per term it holds, so under a steady stream of small
 * commits a term is spread over thousands of small blocks, and a search that checks a sparse
 * list against a dense one reads a block per check. Once every entry of a window is committed,
 * the merger rewrites each shared term's blocks that start in the window as the fewest blocks of
 * at most MAX_BLOCK postings, and records that the window is merged, in one atomic write.
 *
 * Safe beside ingestion and search: commits only write blocks that start at or after the tree
 * size, so a finished window's blocks no longer change; a merge keeps every posting and the
 * invariants readers rely on (a term's blocks never overlap and sort by first index), and each
 * cursor reads one LevelDB snapshot. A crash loses at most a merge, which is redone: the marker
 * is in the same write. The index is derived data, so the write is not synced.
 *
 * Which terms a window holds: counted from the blocks of the commits this process saw (no read),
 * or, for a window that began before this process (a restart, or a log indexed before merging
 * existed), recomputed from the window's leaves, as `candor index rebuild` does.
 */
import type { ClassicLevel } from 'classic-level';
import { MAX_BLOCK, blockFirst, blockKey, blockRecords, decodeBlockOnto, putIndex, termPrefix, type IndexRecord } from './postings.js';
import type { EntryTerms } from './store.js';

type Bytes = Uint8Array;

/** Entries per merged window (aligned): a multiple of the tile width. */
export const MERGE_WINDOW = 65_536;
/** "m": every window below this index (8 bytes) is merged. Not under "x", so no reader sees it. */
export const MERGED_KEY = Uint8Array.of(0x6d);
/** A term with fewer blocks in a window is left as it is: merging it would save a read or two. */
const MIN_BLOCKS = 4;
/** Terms whose blocks are read at once while merging. */
const CONCURRENCY = 32;
/** Leaves read at once when a window's terms come from its leaves. */
const LEAF_PAGE = 4096;

/** The value of MERGED_KEY: every window below `index` is merged. */
export function mergedMarker(index: number): Uint8Array {
  const v = new Uint8Array(8);
  putIndex(v, 0, index);
  return v;
}

export interface MergeOptions {
  /** The fields whose terms recur (tenant, actor, ...); a unique term (event_id) is one block already. */
  shared: readonly number[];
  /** An entry's terms from its leaf (src/query/terms.ts leafTerms), for windows no commit of this process covered. */
  termsOf(leaf: Bytes): EntryTerms | undefined;
  /** A merge failed (it is retried after the next commit, from the window that failed). */
  onError?(err: unknown): void;
}

/** The store reads a merge needs besides the index keys. */
export interface MergeSource {
  readEntries(start: number, end: number): Promise<Bytes[]>;
  mergedBelow(): Promise<number>;
  /** Writes a batch in turn with the log's commits (the store reopens between them after a failed write). */
  write(b: ReturnType<ClassicLevel<Bytes, Bytes>['batch']>): Promise<void>;
}

/** The term part of a block key, as a map key (latin1 keeps every byte). */
const termOf = (key: Bytes): string => Buffer.from(key.buffer, key.byteOffset, key.length - 8).toString('latin1');

export class PostingMerger {
  readonly #db: ClassicLevel<Bytes, Bytes>;
  readonly #source: MergeSource;
  readonly #opts: MergeOptions;
  readonly #shared: Set<number>;
  /** Window start -> term -> blocks the commits this process saw wrote for it. */
  readonly #seen = new Map<number, Map<string, number>>();
  /** The first index this process saw committed: a window starting before it has unseen blocks. */
  #from: number | undefined;
  #size = 0;
  #running: Promise<void> | undefined;
  /** The last merge failed: the next commit tries again. */
  #failed = false;
  #closed = false;
  /** Windows merged by this process (for tests and the benchmark). */
  merged = 0;

  constructor(db: ClassicLevel<Bytes, Bytes>, source: MergeSource, opts: MergeOptions) {
    this.#db = db;
    this.#source = source;
    this.#opts = opts;
    this.#shared = new Set(opts.shared);
  }

  /** A commit of the entries [start, size) wrote these index records: count them, merge what is finished. */
  committed(start: number, size: number, records: readonly IndexRecord[]): void {
    this.#from ??= start;
    for (const { key } of records) {
      if (!this.#shared.has(key[1]!)) continue;
      const first = blockFirst(key);
      const w = first - (first % MERGE_WINDOW);
      let terms = this.#seen.get(w);
      if (!terms) this.#seen.set(w, (terms = new Map()));
      const t = termOf(key);
      terms.set(t, (terms.get(t) ?? 0) + 1);
    }
    this.#size = Math.max(this.#size, size);
    // At the first commit (windows finished before this process may wait), when one finishes,
    // and after a failed merge.
    const finished = Math.floor(size / MERGE_WINDOW) > Math.floor(start / MERGE_WINDOW);
    if (finished || this.#from === start || this.#failed) void this.run().catch(() => {});
  }

  /** Merges every finished window below `size` not merged yet; resolves when done (or closed). */
  run(size = this.#size): Promise<void> {
    this.#size = Math.max(this.#size, size);
    // One merge at a time; a call while one runs is served by it (it reads #size as it goes).
    this.#running ??= this.#loop().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #loop(): Promise<void> {
    this.#failed = false;
    try {
      let w = await this.#source.mergedBelow();
      while (!this.#closed && w + MERGE_WINDOW <= this.#size) {
        if (!(await this.#merge(w))) return;
        w += MERGE_WINDOW;
      }
    } catch (err) {
      this.#failed = true;
      if (!this.#closed) this.#opts.onError?.(err);
      throw err;
    }
  }

  /** The terms of window w worth merging (at least MIN_BLOCKS blocks), as key prefixes. */
  async #terms(w: number): Promise<Bytes[]> {
    const seen = this.#seen.get(w);
    for (const k of this.#seen.keys()) if (k <= w) this.#seen.delete(k);
    if (seen && this.#from !== undefined && this.#from <= w) return [...seen].filter(([, n]) => n >= MIN_BLOCKS).map(([t]) => Buffer.from(t, 'latin1'));
    // Blocks written before this process: count the window's postings per term from its leaves.
    const counts = new Map<number, Map<string, number>>();
    for (let s = w; s < w + MERGE_WINDOW && !this.#closed; s += LEAF_PAGE) {
      for (const leaf of await this.#source.readEntries(s, s + LEAF_PAGE)) {
        for (const { field, value } of this.#opts.termsOf(leaf)?.values ?? []) {
          if (!this.#shared.has(field)) continue;
          let values = counts.get(field);
          if (!values) counts.set(field, (values = new Map()));
          values.set(value, (values.get(value) ?? 0) + 1);
        }
      }
    }
    const out: Bytes[] = [];
    for (const [field, values] of counts) for (const [value, n] of values) if (n >= MIN_BLOCKS) out.push(termPrefix(field, value));
    return out;
  }

  /** Merges window w in one write; false when closed part-way (nothing written). */
  async #merge(w: number): Promise<boolean> {
    const terms = await this.#terms(w);
    const dels: Bytes[] = [];
    const puts: IndexRecord[] = [];
    for (let i = 0; i < terms.length; i += CONCURRENCY) {
      if (this.#closed) return false;
      await Promise.all(terms.slice(i, i + CONCURRENCY).map((prefix) => this.#mergeTerm(prefix, w, dels, puts)));
    }
    if (this.#closed) return false;
    const b = this.#db.batch();
    for (const k of dels) b.del(k);
    for (const r of puts) b.put(r.key, r.value);
    b.put(MERGED_KEY, mergedMarker(w + MERGE_WINDOW));
    await this.#source.write(b);
    this.merged++;
    return true;
  }

  /** Adds to dels/puts what turns the term's blocks starting in window w into the fewest blocks. */
  async #mergeTerm(prefix: Bytes, w: number, dels: Bytes[], puts: IndexRecord[]): Promise<void> {
    const blocks = await this.#db.iterator({ gte: blockKey(prefix, w), lt: blockKey(prefix, w + MERGE_WINDOW) }).all();
    const postings: number[] = [];
    for (const [k, v] of blocks) decodeBlockOnto(blockFirst(k), v, postings);
    if (blocks.length <= Math.ceil(postings.length / MAX_BLOCK)) return;
    // The old keys go first: a merged block may reuse one (the write applies in order).
    for (const [k] of blocks) dels.push(k);
    blockRecords(prefix, postings, puts);
  }

  /** Stops merging; resolves once a merge in progress has stopped (without writing). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running?.catch(() => {});
  }
}
