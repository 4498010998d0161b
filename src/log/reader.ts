/**
 * The read side of the tree: tiles, Merkle nodes and entries of the committed tree, for proofs
 * and for tile serving. Proof nodes are computed from tiles (c2sp.org/tlog-tiles keeps only the
 * nodes at heights that are multiples of 8). A full tile is stored with its interior (its nodes
 * at within-tile heights 4..7), so any node of it costs at most 7 hashes, whether or not the tile
 * is in memory; the partial tiles at the right edge come from the sequencer after each commit and
 * are expanded once into all their nodes. Tiles are kept in a byte-bounded LRU; full tiles never
 * change, so it needs no invalidation.
 */
import type { Hasher } from '../core/hash.js';
import { HASH_SIZE } from '../core/hash.js';
import type { NodeId, NodeReader } from '../core/merkle.js';
import { TILE_HEIGHT, TILE_WIDTH, nodeLocation, rowWidth, tileNode } from '../core/tile.js';
import { CandorError } from '../core/errors.js';
import type { LogStore, StoredTile } from '../storage/store.js';
import type { TileContent } from './tree.js';

/** Slot of the first node at within-tile height r (0..7) in an expanded tile: 512 - 512/2^r. */
const SLOT = Array.from({ length: TILE_HEIGHT }, (_, r) => 2 * TILE_WIDTH - (2 * TILE_WIDTH) / 2 ** r);
const EXPANDED_SLOTS = 2 * TILE_WIDTH - 2;

/** All nodes of a tile at within-tile heights 0..7, laid out height by height. */
export function expandTile(hasher: Hasher, hashes: Uint8Array): Uint8Array {
  const out = new Uint8Array(EXPANDED_SLOTS * HASH_SIZE);
  out.set(hashes);
  let width = hashes.length / HASH_SIZE;
  for (let r = 1; r < TILE_HEIGHT; r++) {
    width = Math.floor(width / 2);
    const below = SLOT[r - 1]!;
    for (let p = 0; p < width; p++) {
      const l = out.subarray((below + 2 * p) * HASH_SIZE, (below + 2 * p + 1) * HASH_SIZE);
      const rt = out.subarray((below + 2 * p + 1) * HASH_SIZE, (below + 2 * p + 2) * HASH_SIZE);
      out.set(hasher.node(l, rt), (SLOT[r]! + p) * HASH_SIZE);
    }
  }
  return out;
}

interface Cached {
  raw: Uint8Array;
  interior?: Uint8Array;
  /** All nodes, for partial tiles (which have no stored interior). */
  expanded?: Uint8Array;
}

export interface ReaderOptions {
  /** Bytes of tiles (raw and expanded) kept in memory. */
  cacheBytes?: number;
}

export class TreeReader {
  readonly #store: LogStore;
  readonly #hasher: Hasher;
  readonly #maxBytes: number;
  readonly #cache = new Map<number, Cached>();
  readonly #inflight = new Map<number, Promise<StoredTile | undefined>>();
  #bytes = 0;
  #size = 0;
  /** The partial tile per level at #size. */
  #edge = new Map<number, { index: number; tile: Cached }>();

  constructor(store: LogStore, hasher: Hasher, opts: ReaderOptions = {}) {
    this.#store = store;
    this.#hasher = hasher;
    this.#maxBytes = opts.cacheBytes ?? 64 * 1024 * 1024;
  }

  /** The committed tree size that reads are served for. */
  get size(): number {
    return this.#size;
  }

  /** Called by the sequencer after each commit: the new size, its partial tiles, new full tiles. */
  advance(size: number, edge: readonly TileContent[], full: readonly TileContent[] = []): void {
    for (const t of full) this.#remember(key(t.level, t.index), { raw: t.hashes, ...(t.interior ? { interior: t.interior } : {}) });
    this.#edge = new Map(edge.map((t) => [t.level, { index: t.index, tile: { raw: t.hashes } }]));
    this.#size = size;
  }

  /**
   * The hashes of tile (level, index) at the committed size: all 256 for a full tile, else the
   * partial tile's; undefined if the tile has no hash yet.
   */
  async tile(level: number, index: number): Promise<Uint8Array | undefined> {
    return (await this.#tile(level, index))?.raw;
  }

  async #tile(level: number, index: number): Promise<Cached | undefined> {
    const row = rowWidth(this.#size, level);
    if (index * TILE_WIDTH >= row) return undefined;
    const edge = this.#edge.get(level);
    if (edge && edge.index === index) return edge.tile;
    const k = key(level, index);
    const hit = this.#cache.get(k);
    if (hit) {
      // Refresh its place in the LRU.
      this.#cache.delete(k);
      this.#cache.set(k, hit);
      return hit;
    }
    let p = this.#inflight.get(k);
    if (!p) {
      p = this.#store.readTile(level, index).finally(() => this.#inflight.delete(k));
      this.#inflight.set(k, p);
    }
    const stored = await p;
    if (!stored || stored.hashes.length !== TILE_WIDTH * HASH_SIZE) {
      throw new CandorError('internal', `stored tile ${level}/${index} is missing or not full`);
    }
    // The stored interior is not rehashed here: that costs 255 hashes per tile load, which cut
    // proofs/s on a cold cache to a third (bench/RESULTS.md, Scale). A corrupted interior yields a
    // proof that fails the client's verification (never one that passes wrongly); fsck and the
    // auditor name the tile (docs/faults.md).
    return this.#cache.get(k) ?? this.#remember(k, { raw: stored.hashes, ...(stored.interior ? { interior: stored.interior } : {}) });
  }

  #remember(k: number, c: Cached): Cached {
    const old = this.#cache.get(k);
    if (old) this.#bytes -= bytesOf(old);
    this.#cache.delete(k);
    this.#cache.set(k, c);
    this.#bytes += bytesOf(c);
    for (const [victim, v] of this.#cache) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#cache.delete(victim);
      this.#bytes -= bytesOf(v);
    }
    return c;
  }

  /**
   * Loads what the given nodes need and returns a synchronous reader for them (nodes must lie in
   * the committed tree). Reads are batched per tile.
   */
  async nodes(ids: readonly NodeId[]): Promise<NodeReader> {
    const tiles = new Map<number, Cached>();
    for (const { height, index } of ids) {
      const loc = nodeLocation(height, index);
      const k = key(loc.level, loc.tile);
      if (tiles.has(k)) continue;
      const t = await this.#tile(loc.level, loc.tile);
      if (!t) throw new Error(`bad math: node ${height}/${index} is beyond tree size ${this.#size}`);
      if (!t.interior && !t.expanded) {
        // The expanded form starts with the tile's own hashes: keep one copy, not two.
        const before = bytesOf(t);
        t.expanded = expandTile(this.#hasher, t.raw);
        t.raw = t.expanded.subarray(0, t.raw.length);
        if (this.#cache.get(k) === t) this.#bytes += bytesOf(t) - before;
      }
      tiles.set(k, t);
    }
    return (height, index) => {
      const loc = nodeLocation(height, index);
      const t = tiles.get(key(loc.level, loc.tile))!;
      const r = height - loc.level * TILE_HEIGHT;
      const p = loc.offset / loc.count;
      if (t.expanded) {
        const slot = SLOT[r]! + p;
        return t.expanded.subarray(slot * HASH_SIZE, (slot + 1) * HASH_SIZE);
      }
      return tileNode(this.#hasher, t.raw, t.interior, r, p);
    };
  }

  async entries(start: number, end: number): Promise<Uint8Array[]> {
    return this.#store.readEntries(start, end);
  }
}

function key(level: number, index: number): number {
  return index * 64 + level;
}

function bytesOf(c: Cached): number {
  return (c.expanded?.length ?? c.raw.length) + (c.interior?.length ?? 0);
}
