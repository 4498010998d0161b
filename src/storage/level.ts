/**
 * The embedded LogStore on classic-level (LevelDB). Keys are prefixed by kind:
 *   c                      the latest checkpoint
 *   t <level:1> <index:8>  a hash tile: its current hashes; a full tile (final) is followed by
 *                          its 960-byte interior
 *   e <index:8>            a run of consecutive entries from that index, entry-bundle encoded;
 *                          a run never crosses a bundle (256-entry) boundary
 *   h <leaf hash:32>       leaf hash -> index (8 bytes)
 * Integers are big-endian, so entries and tiles sort in index order and a bundle is one range
 * scan. Entries are written as runs (one key per batch and bundle, not per entry) because each
 * LevelDB put costs more than hashing the entry. Each commit is one LevelDB write batch with sync:
 * the WAL is fsynced before it resolves.
 */
import { ClassicLevel } from 'classic-level';
import { CandorError } from '../core/errors.js';
import { HASH_SIZE } from '../core/hash.js';
import { TILE_WIDTH, decodeBundle, encodeBundle } from '../core/tile.js';

const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
import type { CommitBatch, LogStore, StoredTile } from './store.js';

type Bytes = Uint8Array;

const CHECKPOINT_KEY = Uint8Array.of(0x63); // "c"
const TILE = 0x74; // "t"
const ENTRY = 0x65; // "e"
const LEAF = 0x68; // "h"

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

export class LevelStore implements LogStore {
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
    b.put(CHECKPOINT_KEY, new TextEncoder().encode(batch.checkpoint));
    await b.write({ sync: true });
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
