/**
 * The read side of the tree: tiles, Merkle nodes and entries of the committed tree, for proofs
 * and for tile serving. Proof nodes are computed from tiles (c2sp.org/tlog-tiles keeps only the
 * nodes at heights that are multiples of 8). A full tile is stored with its interior (its nodes
 * at within-tile heights 4..7), so any node of it costs at most 7 hashes, whether or not the tile
 * is in memory; the partial tiles at the right edge come from the sequencer after each commit and
 * are expanded once into all their nodes, and so are full tiles above level 0 when first used: a
 * level-1 tile covers 65,536 entries, so nearly every proof reads one and its expansion (255
 * hashes, once) saves up to 11 hashes per proof. Level-0 tiles are too many to expand (at 100M
 * entries, 390,625 of them) and are read through their interiors. Tiles are kept in a
 * byte-bounded LRU; full tiles never change, so it needs no invalidation. The hashes of the
 * incomplete subtrees at the right edge, which proofs at the latest size share, are kept until
 * the tree grows.
 */
import type { Hasher } from '@candor/core/hash';
import { HASH_SIZE } from '@candor/core/hash';
import type { NodeId, NodeReader } from '@candor/core/merkle';
import { TILE_HEIGHT, TILE_WIDTH, nodeLocation, rowWidth, tileNode } from '@candor/core/tile';
import { CandorError } from '@candor/core/errors';
import type { LogStore, StoredTile, TileId } from '../storage/store.js';
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
  /** Hashes of right-edge subtrees [start, #size), by start (see rightEdge). */
  #rightEdge = new Map<number, Uint8Array>();

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
    if (size !== this.#size) this.#rightEdge = new Map();
    this.#size = size;
  }

  /**
   * A cache of the incomplete right-edge subtree hashes of the tree at `size`, by start leaf, for
   * merkle.inclusionProof: shared by every proof at the latest size, emptied when the tree grows.
   * Undefined for older sizes.
   */
  rightEdge(size: number): Map<number, Uint8Array> | undefined {
    return size === this.#size ? this.#rightEdge : undefined;
  }

  /**
   * The hashes of tile (level, index) at the committed size: all 256 for a full tile, else the
   * partial tile's; undefined if the tile has no hash yet.
   */
  async tile(level: number, index: number): Promise<Uint8Array | undefined> {
    return (await this.#tile(level, index))?.raw;
  }

  async #tile(level: number, index: number): Promise<Cached | undefined> {
    return (await this.#tiles([{ level, index }]))[0];
  }

  /**
   * Tiles of the committed tree, from memory or else from the store: those not in memory (and not
   * being read already) in one store read. Undefined for a tile beyond the committed size.
   */
  async #tiles(ids: readonly TileId[]): Promise<(Cached | undefined)[]> {
    const out: (Cached | undefined)[] = new Array(ids.length);
    const waits: Promise<void>[] = [];
    const ask: TileId[] = [];
    const asked: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const { level, index } = ids[i]!;
      if (index * TILE_WIDTH >= rowWidth(this.#size, level)) continue;
      const hit = this.#peek(level, index);
      if (hit) {
        out[i] = hit;
        continue;
      }
      const k = key(level, index);
      const p = this.#inflight.get(k);
      if (p) waits.push(p.then((t) => void (out[i] = this.#loaded(level, index, t))));
      else {
        ask.push({ level, index });
        asked.push(i);
      }
    }
    if (ask.length > 0) {
      const read = this.#store.readTiles(ask);
      ask.forEach((t, j) => {
        const k = key(t.level, t.index);
        const p = read.then((r) => r[j]);
        this.#inflight.set(k, p);
        void p.finally(() => this.#inflight.delete(k)).catch(() => undefined);
      });
      const got = await read;
      ask.forEach((t, j) => (out[asked[j]!] = this.#loaded(t.level, t.index, got[j])));
    }
    await Promise.all(waits);
    return out;
  }

  /** A tile just read from the store, checked and cached. */
  #loaded(level: number, index: number, stored: StoredTile | undefined): Cached {
    if (!stored || stored.hashes.length !== TILE_WIDTH * HASH_SIZE) {
      throw new CandorError('internal', `stored tile ${level}/${index} is missing or not full`);
    }
    // The stored interior is not rehashed here: that costs 255 hashes per tile load, which cut
    // proofs/s on a cold cache to a third (bench/RESULTS.md, Scale). A corrupted interior yields a
    // proof that fails the client's verification (never one that passes wrongly); fsck and the
    // auditor name the tile (docs/faults.md).
    const k = key(level, index);
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
   * Runs `compute` with a synchronous reader of the committed tree's nodes and returns its
   * result. Tiles in memory are read directly, so a proof over cached tiles costs no await and no
   * list of the nodes it needs; when `compute` reads a node whose tile is not in memory, the tile
   * is read from the store and `compute` runs again (it must be pure apart from caching correct
   * hashes, which every proof computation here is). Nodes must lie in the committed tree.
   */
  async withNodes<T>(compute: (read: NodeReader) => T): Promise<T> {
    let loaded: Map<number, Cached> | undefined;
    for (;;) {
      // Tiles not in memory are all noted in one pass (their nodes read as zeros meanwhile, and
      // the result discarded), then read from the store at once: one round trip per proof.
      const missing = new Map<number, TileId>();
      // A proof reads its nodes tile by tile: the last tile is looked up once, not per node.
      let lastK = -1;
      let last: Cached | undefined;
      const read: NodeReader = (height, index) => {
        // nodeLocation's arithmetic, inline: no object per node read.
        const level = Math.floor(height / TILE_HEIGHT);
        const r = height - level * TILE_HEIGHT;
        const first = index * 2 ** r;
        const tile = Math.floor(first / TILE_WIDTH);
        const k = key(level, tile);
        if (k !== lastK) {
          last = loaded?.get(k) ?? this.#peek(level, tile);
          if (!last) {
            missing.set(k, { level, index: tile });
            lastK = -1;
            return ZERO;
          }
          lastK = k;
        }
        return this.#node(last!, k, level, r, (first % TILE_WIDTH) / 2 ** r);
      };
      const result = compute(read);
      if (missing.size === 0) return result;
      const ids = [...missing.values()];
      const tiles = await this.#tiles(ids);
      ids.forEach((t, i) => {
        if (!tiles[i]) throw new Error(`bad math: tile ${t.level}/${t.index} is beyond tree size ${this.#size}`);
        (loaded ??= new Map()).set(key(t.level, t.index), tiles[i]!);
      });
    }
  }

  /**
   * Loads what the given nodes need and returns a synchronous reader for them (nodes must lie in
   * the committed tree), for computations that read many tiles at once (a batch of proofs): the
   * tiles are read once each, before any hashing.
   */
  async nodes(ids: readonly NodeId[]): Promise<NodeReader> {
    const want = new Map<number, TileId>();
    for (const { height, index } of ids) {
      const loc = nodeLocation(height, index);
      want.set(key(loc.level, loc.tile), { level: loc.level, index: loc.tile });
    }
    const ask = [...want.values()];
    const got = await this.#tiles(ask);
    const tiles = new Map<number, Cached>();
    ask.forEach((t, i) => {
      if (!got[i]) throw new Error(`bad math: tile ${t.level}/${t.index} is beyond tree size ${this.#size}`);
      tiles.set(key(t.level, t.index), got[i]!);
    });
    return (height, index) => {
      const loc = nodeLocation(height, index);
      const k = key(loc.level, loc.tile);
      return this.#node(tiles.get(k)!, k, loc.level, height - loc.level * TILE_HEIGHT, loc.offset / loc.count);
    };
  }

  /**
   * A tile that is in memory (refreshing its place in the LRU), or undefined: the caller has
   * checked that it lies in the committed tree, or learns it from #tile after a miss.
   */
  #peek(level: number, index: number): Cached | undefined {
    const edge = this.#edge.get(level);
    if (edge && edge.index === index) return edge.tile;
    const k = key(level, index);
    const hit = this.#cache.get(k);
    if (hit) {
      this.#cache.delete(k);
      this.#cache.set(k, hit);
    }
    return hit;
  }

  /** The node at within-tile height r, position p, of a tile at `level`, expanding the tile first where that pays. */
  #node(t: Cached, k: number, level: number, r: number, p: number): Uint8Array {
    if (!t.expanded && (!t.interior || level > 0)) this.#expand(t, k);
    if (t.expanded) {
      const slot = SLOT[r]! + p;
      return t.expanded.subarray(slot * HASH_SIZE, (slot + 1) * HASH_SIZE);
    }
    return tileNode(this.#hasher, t.raw, t.interior, r, p);
  }

  #expand(t: Cached, k: number): void {
    // The expanded form starts with the tile's own hashes and holds the interior: keep one copy.
    const before = bytesOf(t);
    t.expanded = expandTile(this.#hasher, t.raw);
    t.raw = t.expanded.subarray(0, t.raw.length);
    delete t.interior;
    if (this.#cache.get(k) === t) this.#bytes += bytesOf(t) - before;
  }

  async entries(start: number, end: number): Promise<Uint8Array[]> {
    return this.#store.readEntries(start, end);
  }
}

/** What withNodes' reader answers for a node whose tile is not in memory yet (that pass is discarded). */
const ZERO = new Uint8Array(HASH_SIZE);

function key(level: number, index: number): number {
  return index * 64 + level;
}

function bytesOf(c: Cached): number {
  return (c.expanded?.length ?? c.raw.length) + (c.interior?.length ?? 0);
}
