/**
 * The embedded LogStore on classic-level (LevelDB). Keys are prefixed by kind:
 *   c                      the latest checkpoint
 *   t <level:1> <index:8>  a hash tile: its current hashes; a full tile (final) is followed by
 *                          its 960-byte interior
 *   e <index:8>            a run of consecutive entries from that index, entry-bundle encoded;
 *                          a run never crosses a bundle (256-entry) boundary
 *   h <leaf hash:32>       leaf hash -> index (8 bytes)
 *   x <field:1> <value> 0x00 <index:8>   a search posting (empty value): the entry at index has
 *                          the term (field, value) (src/query/terms.ts FIELD)
 *   x <field:1> <ns:8> <index:8>         a time posting (TIME): the entry's time in nanoseconds
 * Integers are big-endian, so entries and tiles sort in index order and a bundle is one range
 * scan. Entries are written as runs (one key per batch and bundle, not per entry) because each
 * LevelDB put costs more than hashing the entry. Each commit is one LevelDB write batch with sync:
 * the WAL is fsynced before it resolves. Postings go into the same write batch as the entries
 * they index, so the indexes never disagree with the tree (docs/search.md).
 */
import { ClassicLevel } from 'classic-level';
import { CandorError } from '../core/errors.js';
import { HASH_SIZE } from '../core/hash.js';
import { TILE_WIDTH, decodeBundle, encodeBundle } from '../core/tile.js';

const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
import type { CommitBatch, EntryTerms, LogStore, PostingCursor, SearchIndex, StoredTile } from './store.js';

type Bytes = Uint8Array;

const CHECKPOINT_KEY = Uint8Array.of(0x63); // "c"
const TILE = 0x74; // "t"
const ENTRY = 0x65; // "e"
const LEAF = 0x68; // "h"
const INDEX = 0x78; // "x"
const INDEX_END = Uint8Array.of(INDEX + 1);
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

function putIndex(buf: Uint8Array, off: number, n: number): void {
  // 8-byte big-endian without BigInt: high 32 bits, then low 32 bits.
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  dv.setUint32(off, hi);
  dv.setUint32(off + 4, lo);
}

function readIndex(buf: Uint8Array, off = 0): number {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return dv.getUint32(off) * 0x1_0000_0000 + dv.getUint32(off + 4);
}

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

function leafKey(hash: Uint8Array): Bytes {
  const k = new Uint8Array(33);
  k[0] = LEAF;
  k.set(hash, 1);
  return k;
}

/** x <field> <value> 0x00: the prefix of a term's postings. */
function termPrefix(field: number, value: string): Bytes {
  const v = encoder.encode(value);
  const k = new Uint8Array(v.length + 3);
  k[0] = INDEX;
  k[1] = field;
  k.set(v, 2);
  return k;
}

/** A posting key: `prefix` (a term prefix, or x <field> <ns:8> for times) then the index. */
function postingKey(prefix: Bytes, index: number): Bytes {
  const k = new Uint8Array(prefix.length + 8);
  k.set(prefix);
  putIndex(k, prefix.length, index);
  return k;
}

function timePrefix(field: number, ns: bigint): Bytes {
  const k = new Uint8Array(10);
  k[0] = INDEX;
  k[1] = field;
  new DataView(k.buffer).setBigUint64(2, ns < 0n ? 0n : ns);
  return k;
}

/** Every posting key of the entry at `index`, in the order it is written. */
export function postingKeys(index: number, t: EntryTerms): Bytes[] {
  const out: Bytes[] = [];
  for (const { field, value } of t.values) out.push(postingKey(termPrefix(field, value), index));
  for (const { field, ns } of t.times) out.push(postingKey(timePrefix(field, ns), index));
  return out;
}

/**
 * A posting list as a seekable cursor over one classic-level iterator, bounded to the index
 * window [lo, hi). Forward: seek(t) gives the smallest posting >= t; reverse: the largest <= t.
 * A target the iterator has already passed costs no I/O.
 */
class LevelPostings implements PostingCursor {
  readonly #it;
  readonly #db: ClassicLevel<Bytes, Bytes>;
  readonly #prefix: Bytes;
  readonly #reverse: boolean;
  /** The posting the iterator stands on (undefined: none read yet), or null at the end. */
  #at: number | null | undefined;

  constructor(db: ClassicLevel<Bytes, Bytes>, prefix: Bytes, lo: number, hi: number, reverse: boolean) {
    this.#db = db;
    this.#prefix = prefix;
    this.#reverse = reverse;
    this.#it = db.keys({ gte: postingKey(prefix, lo), lt: postingKey(prefix, hi), reverse });
  }

  async seek(target: number): Promise<number | undefined> {
    const at = this.#at;
    if (at === null) return undefined;
    if (at !== undefined && (this.#reverse ? at <= target : at >= target)) return at;
    // A short gap is cheaper to step over than to seek across (a seek drops the read-ahead cache).
    if (at === undefined || Math.abs(target - at) > 64) this.#it.seek(postingKey(this.#prefix, target));
    for (;;) {
      const k = await this.#it.next();
      if (k === undefined) {
        this.#at = null;
        return undefined;
      }
      const i = readIndex(k, this.#prefix.length);
      if (this.#reverse ? i <= target : i >= target) {
        this.#at = i;
        return i;
      }
    }
  }

  async next(n: number): Promise<number[]> {
    const keys = await this.#it.nextv(n);
    return keys.map((k) => readIndex(k, this.#prefix.length));
  }

  async has(indexes: readonly number[]): Promise<boolean[]> {
    if (indexes.length === 0) return [];
    const values = await this.#db.getMany(indexes.map((i) => postingKey(this.#prefix, i)));
    return values.map((v) => v !== undefined);
  }

  async close(): Promise<void> {
    await this.#it.close();
  }
}

export class LevelStore implements LogStore, SearchIndex {
  readonly #db: ClassicLevel<Bytes, Bytes>;

  private constructor(db: ClassicLevel<Bytes, Bytes>) {
    this.#db = db;
  }

  static async open(path: string): Promise<LevelStore> {
    const db = new ClassicLevel<Bytes, Bytes>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new CandorError('unavailable', `cannot open the log store at ${path}: ${cause}`, { cause: err });
    }
    return new LevelStore(db);
  }

  async readCheckpoint(): Promise<string | undefined> {
    const v = await this.#db.get(CHECKPOINT_KEY);
    return v === undefined ? undefined : new TextDecoder().decode(v);
  }

  async readTile(level: number, index: number): Promise<StoredTile | undefined> {
    const v = await this.#db.get(tileKey(level, index));
    if (v === undefined) return undefined;
    if (v.length <= FULL_TILE_BYTES) return { level, index, hashes: v };
    return { level, index, hashes: v.subarray(0, FULL_TILE_BYTES), interior: v.subarray(FULL_TILE_BYTES) };
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    if (end <= start) return [];
    // The run holding `start` begins at or before it, in the same bundle.
    const bundleStart = start - (start % TILE_WIDTH);
    const [first] = await this.#db.keys({ gte: entryKey(bundleStart), lte: entryKey(start), reverse: true, limit: 1 }).all();
    if (!first) throw new CandorError('internal', `store is missing entry ${start}`);
    const out: Uint8Array[] = [];
    for await (const [k, v] of this.#db.iterator({ gte: first, lt: entryKey(end) })) {
      const runStart = readIndex(k, 1);
      decodeBundle(v).forEach((e, i) => {
        const index = runStart + i;
        if (index >= start && index < end) out.push(e);
      });
    }
    if (out.length !== end - start) throw new CandorError('internal', `store is missing entries in [${start}, ${end})`);
    return out;
  }

  async lookupLeafHashes(hashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    if (hashes.length === 0) return [];
    const values = await this.#db.getMany(hashes.map(leafKey));
    return values.map((v) => (v === undefined ? undefined : readIndex(v)));
  }

  async commit(batch: CommitBatch): Promise<void> {
    const b = this.#db.batch();
    for (let i = 0; i < batch.entries.length; ) {
      const index = batch.start + i;
      const n = Math.min(batch.entries.length - i, TILE_WIDTH - (index % TILE_WIDTH));
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
    for (const { hash, index } of batch.leafIndex) {
      const v = new Uint8Array(8);
      putIndex(v, 0, index);
      b.put(leafKey(hash), v);
    }
    if (batch.terms) {
      batch.terms.forEach((t, i) => {
        if (t) for (const k of postingKeys(batch.start + i, t)) b.put(k, EMPTY);
      });
    }
    b.put(CHECKPOINT_KEY, new TextEncoder().encode(batch.checkpoint));
    await b.write({ sync: true });
  }

  postings(field: number, value: string, lo: number, hi: number, reverse: boolean): PostingCursor {
    return new LevelPostings(this.#db, termPrefix(field, value), lo, hi, reverse);
  }

  async firstAtOrAfter(field: number, ns: bigint): Promise<number | undefined> {
    const [k] = await this.#db.keys({ gte: timePrefix(field, ns), lt: Uint8Array.of(INDEX, field + 1), limit: 1 }).all();
    return k === undefined ? undefined : readIndex(k, 10);
  }

  async lastTime(field: number): Promise<bigint | undefined> {
    const [k] = await this.#db.keys({ gte: Uint8Array.of(INDEX, field), lt: Uint8Array.of(INDEX, field + 1), reverse: true, limit: 1 }).all();
    return k === undefined ? undefined : new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(2);
  }

  /** Deletes every posting (before a rebuild). */
  async clearIndexes(): Promise<void> {
    await this.#db.clear({ gte: Uint8Array.of(INDEX), lt: INDEX_END });
  }

  /** Writes the postings of entries from `start` (a rebuild; not synced: the caller syncs at the end). */
  async writeIndexes(start: number, terms: readonly (EntryTerms | undefined)[], sync = false): Promise<void> {
    const b = this.#db.batch();
    terms.forEach((t, i) => {
      if (t) for (const k of postingKeys(start + i, t)) b.put(k, EMPTY);
    });
    await b.write({ sync });
  }

  /** Every posting key, in key order (tests compare indexes with this). */
  async *indexKeys(): AsyncGenerator<Bytes> {
    for await (const k of this.#db.keys({ gte: Uint8Array.of(INDEX), lt: INDEX_END })) yield k;
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
