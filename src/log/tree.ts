/**
 * The sequencer's in-memory right edge of the tree: the compact range (for the root) and, per
 * level, the hashes of the rightmost, incomplete tile. Appending a batch turns new leaf hashes
 * into the tiles to commit and keeps every node the batch created, so the acknowledgement proofs
 * of that batch need no reads at all.
 */
import { CandorError } from '@candor/core/errors';
import type { Hasher } from '@candor/core/hash';
import { HASH_SIZE } from '@candor/core/hash';
import { CompactRange, rangeNodes, type NodeReader } from '@candor/core/merkle';
import {
  INTERIOR_HASHES,
  INTERIOR_MIN_HEIGHT,
  TILE_HEIGHT,
  TILE_WIDTH,
  interiorSlot,
  nodeLocation,
  rowWidth,
  subtreeHash,
} from '@candor/core/tile';
import type { LogStore, StoredTile, TileId } from '../storage/store.js';

const TILE_BYTES = TILE_WIDTH * HASH_SIZE;

/** A tile's hashes (1..256 of them) and, for a full tile, its interior (core/tile.ts). */
export type TileContent = StoredTile;

/** What appending a batch produced. */
export interface AppendResult {
  oldSize: number;
  newSize: number;
  /** Tiles whose contents changed: newly full tiles and the current partial ones. */
  tiles: TileContent[];
  /** Reads any node an inclusion proof of a new leaf in the new tree needs. */
  read: NodeReader;
}

interface Row {
  buf: Uint8Array;
  width: number;
  /** The tile's nodes at within-tile heights 4..7, filled in as they are created. */
  interior: Uint8Array;
}

function newRow(): Row {
  return { buf: new Uint8Array(TILE_BYTES), width: 0, interior: new Uint8Array(INTERIOR_HASHES * HASH_SIZE) };
}

export class TreeState {
  #range: CompactRange;
  /** rows[L]: the level-L tile being filled (never full: a full tile moves out at once). */
  #rows: Row[];

  private constructor(range: CompactRange, rows: Row[]) {
    this.#range = range;
    this.#rows = rows;
  }

  static empty(hasher: Hasher): TreeState {
    return new TreeState(new CompactRange(hasher), []);
  }

  /**
   * Rebuilds the right edge of a tree of `size` from stored tiles. The caller compares root()
   * with the checkpoint's root, so a store whose tiles do not match its checkpoint is caught.
   */
  static async load(hasher: Hasher, store: LogStore, size: number): Promise<TreeState> {
    // Every tile this needs, read in one round trip: the right edge of each level, which must be
    // exactly as wide as the size says (a wider one means the store holds hashes past its
    // checkpoint: it was rewound), and the tiles of the compact range's nodes.
    const ids = new Map<string, TileId>();
    const want = (level: number, index: number) => ids.set(`${level}/${index}`, { level, index });
    for (let level = 0; level === 0 || rowWidth(size, level) > 0; level++) want(level, Math.floor(rowWidth(size, level) / TILE_WIDTH));
    const nodes = rangeNodes(0, size).map((n) => nodeLocation(n.height, n.index));
    for (const loc of nodes) want(loc.level, loc.tile);
    const read = await store.readTiles([...ids.values()]);
    const tiles = new Map<string, Uint8Array | undefined>([...ids.keys()].map((k, i) => [k, read[i]?.hashes]));
    const tile = (level: number, index: number): Uint8Array => {
      const t = tiles.get(`${level}/${index}`);
      if (!t) throw new CandorError('internal', `store is missing tile ${level}/${index} for tree size ${size}`);
      return t;
    };

    const rows: Row[] = [];
    for (let level = 0; level === 0 || rowWidth(size, level) > 0; level++) {
      const width = rowWidth(size, level) % TILE_WIDTH;
      const edge = tiles.get(`${level}/${Math.floor(rowWidth(size, level) / TILE_WIDTH)}`);
      const held = edge === undefined ? 0 : edge.length / HASH_SIZE;
      if (held > width) {
        throw new CandorError('internal', `the store holds ${held} hashes in tile ${level}/${Math.floor(rowWidth(size, level) / TILE_WIDTH)}, past its checkpoint's tree size ${size} (which needs ${width}): the store was rewound or mixed with another copy`);
      }
      if (rowWidth(size, level) === 0) break;
      const row = newRow();
      row.width = width;
      if (width > 0) {
        const t = tile(level, Math.floor(rowWidth(size, level) / TILE_WIDTH));
        if (t.length < width * HASH_SIZE) throw new CandorError('internal', `stored tile ${level} is narrower than tree size ${size} needs`);
        row.buf.set(t.subarray(0, width * HASH_SIZE));
        // The interior nodes complete so far, as append would have filled them in.
        for (let r = INTERIOR_MIN_HEIGHT; r < TILE_HEIGHT; r++) {
          for (let p = 0; p < Math.floor(width / 2 ** r); p++) {
            row.interior.set(subtreeHash(hasher, row.buf, p * 2 ** r, 2 ** r), interiorSlot(r, p) * HASH_SIZE);
          }
        }
      }
      rows.push(row);
    }
    const hashes: Uint8Array[] = [];
    for (const loc of nodes) {
      const t = tile(loc.level, loc.tile);
      if (t.length < (loc.offset + loc.count) * HASH_SIZE) throw new CandorError('internal', `stored tile ${loc.level}/${loc.tile} is too narrow`);
      hashes.push(subtreeHash(hasher, t, loc.offset, loc.count).slice());
    }
    return new TreeState(new CompactRange(hasher, size, hashes), rows);
  }

  get size(): number {
    return this.#range.size;
  }

  root(): Uint8Array {
    return this.#range.root();
  }

  /** The partial tiles at the current size (what GET /tile/<L>/<N>.p/<W> serves for the newest tiles). */
  edge(): TileContent[] {
    const out: TileContent[] = [];
    this.#rows.forEach((row, level) => {
      if (row.width > 0) {
        const index = Math.floor(rowWidth(this.size, level) / TILE_WIDTH);
        out.push({ level, index, hashes: row.buf.slice(0, row.width * HASH_SIZE) });
      }
    });
    return out;
  }

  /** Appends leaf hashes. The state is changed in place; on a failed commit, reload it. */
  append(leafHashes: readonly Uint8Array[]): AppendResult {
    const oldSize = this.size;
    // Nodes of the old compact range: the left siblings a new leaf's proof can need. Their
    // heights strictly decrease, so there is at most one per height.
    const oldIndex: number[] = [];
    const oldHash: Uint8Array[] = [];
    rangeNodes(0, oldSize).forEach((n, i) => {
      oldIndex[n.height] = n.index;
      oldHash[n.height] = this.#range.hashes[i]!;
    });
    // Every node this batch creates, per height: a contiguous run of indexes.
    const created: { start: number; hashes: Uint8Array[] }[] = [];
    const full: TileContent[] = [];
    const touched = new Set<number>();

    const visit = (height: number, index: number, hash: Uint8Array): void => {
      const run = (created[height] ??= { start: index, hashes: [] });
      run.hashes.push(hash);
      const level = Math.floor(height / TILE_HEIGHT);
      const r = height - level * TILE_HEIGHT;
      if (r >= INTERIOR_MIN_HEIGHT) {
        this.#rows[level]!.interior.set(hash, interiorSlot(r, index % (TILE_WIDTH / 2 ** r)) * HASH_SIZE);
        return;
      }
      if (r !== 0) return;
      if (level > 0) {
        // This node is the root of the full level - 1 tile (index), whose interior is now complete.
        const below = this.#rows[level - 1]!;
        full.push({ level: level - 1, index, hashes: below.buf, interior: below.interior });
        this.#rows[level - 1] = newRow();
      }
      const row = (this.#rows[level] ??= newRow());
      row.buf.set(hash, row.width * HASH_SIZE);
      row.width++;
      touched.add(level);
    };
    for (const h of leafHashes) this.#range.append(h, visit);

    const tiles = [...full, ...this.edge().filter((t) => touched.has(t.level))];
    const read: NodeReader = (height, index) => {
      const run = created[height];
      if (run && index >= run.start && index < run.start + run.hashes.length) return run.hashes[index - run.start]!;
      if (oldIndex[height] !== index) throw new Error(`bad math: node ${height}/${index} is neither new nor on the old right edge`);
      return oldHash[height]!;
    };
    return { oldSize, newSize: this.size, tiles, read };
  }
}
