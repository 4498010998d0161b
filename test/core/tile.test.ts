import { describe, expect, it } from 'vitest';
import { portableHasher as H } from '@candor/core/hash';
import { CompactRange, treeHash } from '@candor/core/merkle';
import {
  ENTRIES,
  decodeBundle,
  encodeBundle,
  nodeLocation,
  parseTilePath,
  partialTiles,
  rowWidth,
  subtreeHash,
  tileExists,
  tileInterior,
  tileNode,
  tilePath,
} from '@candor/core/tile';
import { concat } from '@candor/core/bytes';
import { loadVectors } from '../helpers/vectors.js';

const tiles = loadVectors('tiles.json');

describe('tile paths (c2sp.org/tlog-tiles)', () => {
  it.each(tiles.path_cases as any[])('$path', (c) => {
    const ref = { level: c.level, index: c.index, width: c.width };
    expect(tilePath(ref)).toBe(c.path);
    expect(parseTilePath(c.path)).toEqual(ref);
  });

  it.each([
    'tile/0/1',
    'tile/0/0001',
    'tile/0/x000/001',
    'tile/0/x001',
    'tile/0/001/002',
    'tile/64/000',
    'tile/01/000',
    'tile/-1/000',
    'tile/0/000.p/0',
    'tile/0/000.p/256',
    'tile/0/000.p/007',
    'tile/0/000.p',
    'tile/0/000.p/',
    'tile/data/000',
    'tile/0',
    'tile/0/',
    'tile//000',
    'tiles/0/000',
    'tile/0/00a',
    'tile/0/x999/x999/x999/x999/x999/x999/000',
  ])('rejects %s', (p) => {
    expect(() => parseTilePath(p)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('tiles for a tree size', () => {
  it.each(tiles.size_cases as any[])('size $size', (c) => {
    for (const [level, full] of Object.entries(c.full_tiles_by_level as Record<string, number>)) {
      expect(Math.floor(rowWidth(c.size, Number(level)) / 256)).toBe(full);
    }
    expect(partialTiles(c.size).map(({ level, width }) => ({ level, width }))).toEqual(c.partial_tiles);
  });

  it('knows which tiles exist at a size', () => {
    expect(tileExists({ level: 0, index: 0, width: 256 }, 256)).toBe(true);
    expect(tileExists({ level: 0, index: 0, width: 256 }, 255)).toBe(false);
    expect(tileExists({ level: 0, index: 1, width: 1 }, 257)).toBe(true);
    expect(tileExists({ level: 0, index: 1, width: 2 }, 257)).toBe(false);
    expect(tileExists({ level: 1, index: 0, width: 1 }, 256)).toBe(true);
    expect(tileExists({ level: 1, index: 0, width: 2 }, 511)).toBe(false);
    expect(tileExists({ level: ENTRIES, index: 273, width: 112 }, 70000)).toBe(true);
  });
});

describe('nodes from tiles', () => {
  it('computes every node of a 70,000-leaf tree from its tile rows', () => {
    // Tile rows: the nodes at heights 0, 8, 16 as CompactRange reports them.
    const rows: Uint8Array[][] = [[], [], []];
    const all = new Map<string, Uint8Array>();
    const range = new CompactRange(H);
    for (let i = 0; i < 70000; i++) {
      range.append(H.leaf(new Uint8Array([i & 0xff, (i >> 8) & 0xff, i >> 16])), (h, k, hash) => {
        if (h % 8 === 0) rows[h / 8]!.push(hash);
        if (k % 97 === 0 || h > 10) all.set(`${h}/${k}`, hash);
      });
    }
    const tileBytes = (level: number, index: number) => concat(...rows[level]!.slice(index * 256, index * 256 + 256));
    const fromTiles = (h: number, k: number) => {
      const loc = nodeLocation(h, k);
      return subtreeHash(H, tileBytes(loc.level, loc.tile), loc.offset, loc.count);
    };
    for (const [key, want] of all) {
      const [h, k] = key.split('/').map(Number) as [number, number];
      expect(fromTiles(h, k)).toEqual(want);
    }
    expect(treeHash(H, 70000, fromTiles)).toEqual(range.root());
  });
});

describe('tile interiors', () => {
  it('holds the nodes at within-tile heights 4..7, and tileNode agrees with subtreeHash everywhere', () => {
    const tile = new Uint8Array(256 * 32);
    for (let i = 0; i < 256; i++) tile.set(H.leaf(Uint8Array.of(i, 7)), i * 32);
    const interior = tileInterior(H, tile);
    expect(interior.length).toBe(30 * 32);
    for (let r = 0; r < 8; r++) {
      for (let p = 0; p < 256 / 2 ** r; p++) {
        const want = subtreeHash(H, tile, p * 2 ** r, 2 ** r);
        expect(tileNode(H, tile, interior, r, p)).toEqual(want);
        expect(tileNode(H, tile, undefined, r, p)).toEqual(want);
      }
    }
    // Height 7's two nodes hash to the tile's root.
    expect(H.node(interior.subarray(28 * 32, 29 * 32), interior.subarray(29 * 32))).toEqual(subtreeHash(H, tile, 0, 256));
  });
});

describe('entry bundles', () => {
  it('round-trips uint16-length-prefixed entries', () => {
    const entries = [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(65535).fill(7)];
    const b = encodeBundle(entries);
    expect(b.length).toBe(2 + 5 + 2 + 65535);
    expect(Array.from(b.subarray(0, 7))).toEqual([0, 0, 0, 3, 1, 2, 3]);
    expect(decodeBundle(b)).toEqual(entries);
    expect(() => decodeBundle(b.subarray(0, 8))).toThrow(/truncated/);
    expect(() => encodeBundle([new Uint8Array(65536)])).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
  });
});
