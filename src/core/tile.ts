/**
 * c2sp.org/tlog-tiles coordinates: tile paths, which tiles a tree size publishes, where a Merkle
 * node lives inside the tiles, and the entry-bundle encoding. Pure: no I/O.
 *
 * Tile height is 8: a full tile holds 256 hashes. The level-L tile row holds the nodes at height
 * 8·L, so tile (L, N) holds nodes (8·L, N·256 + i) for i < width.
 */
import { CandorError, invalid } from './errors.js';
import type { Hasher } from './hash.js';
import { HASH_SIZE } from './hash.js';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** The level used for entry bundles (tile/entries/...) in a TileRef. */
export const ENTRIES = -1;
/** tlog-tiles levels are 0..63. */
export const MAX_LEVEL = 63;
/** Entry bundles length-prefix entries with a uint16. */
export const MAX_ENTRY_SIZE = 0xffff;

export interface TileRef {
  /** 0..63 for hash tiles, ENTRIES (-1) for entry bundles. */
  level: number;
  index: number;
  /** 1..256; 256 is a full tile (no .p/ suffix). */
  width: number;
}

/** N as zero-padded 3-digit groups, all but the last prefixed with "x" (1234067 → x001/x234/067). */
export function formatTileIndex(n: number): string {
  let s = String(n % 1000).padStart(3, '0');
  n = Math.floor(n / 1000);
  while (n > 0) {
    s = `x${String(n % 1000).padStart(3, '0')}/${s}`;
    n = Math.floor(n / 1000);
  }
  return s;
}

export function tilePath(t: TileRef): string {
  const level = t.level === ENTRIES ? 'entries' : String(t.level);
  const suffix = t.width === TILE_WIDTH ? '' : `.p/${t.width}`;
  return `tile/${level}/${formatTileIndex(t.index)}${suffix}`;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * Parses a tile path strictly ("tile/" included); anything that tilePath would not produce is
 * rejected, so each tile has exactly one name.
 */
export function parseTilePath(path: string): TileRef {
  const bad = (why: string): never => {
    throw invalid(`malformed tile path ${JSON.stringify(path.slice(0, 120))}: ${why}`);
  };
  const parts = path.split('/');
  if (parts.length < 3 || parts[0] !== 'tile') bad('expected tile/<L>/<N>[.p/<W>]');
  let level: number;
  if (parts[1] === 'entries') level = ENTRIES;
  else {
    if (!DECIMAL.test(parts[1]!)) bad('level is not a decimal number');
    level = Number(parts[1]);
    if (level > MAX_LEVEL) bad(`level is above ${MAX_LEVEL}`);
  }
  let groups = parts.slice(2);
  let width = TILE_WIDTH;
  const last = groups[groups.length - 1]!;
  const beforeLast = groups[groups.length - 2];
  if (groups.length >= 2 && beforeLast!.endsWith('.p')) {
    if (!DECIMAL.test(last)) bad('width is not a decimal number');
    width = Number(last);
    if (width < 1 || width >= TILE_WIDTH) bad('partial width must be 1..255');
    groups = groups.slice(0, -1);
    groups[groups.length - 1] = beforeLast!.slice(0, -2);
  }
  let index = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const digits = i < groups.length - 1 ? (g.startsWith('x') ? g.slice(1) : bad('index group lacks x prefix')) : g;
    if (!/^[0-9]{3}$/.test(digits)) bad('index groups must be 3 digits');
    index = index * 1000 + Number(digits);
  }
  if (!Number.isSafeInteger(index)) bad('index is too large');
  const t = { level, index, width };
  if (tilePath(t) !== path) bad('index is not in canonical form');
  return t;
}

/** Hashes of the level-L row for a tree of `size` leaves: floor(size / 256^L). */
export function rowWidth(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/** The tiles published for a tree of `size`: all full tiles per level, then the partial ones. */
export function partialTiles(size: number): TileRef[] {
  const out: TileRef[] = [];
  for (let level = 0; rowWidth(size, level) > 0; level++) {
    const w = rowWidth(size, level) % TILE_WIDTH;
    if (w > 0) out.push({ level, index: Math.floor(rowWidth(size, level) / TILE_WIDTH), width: w });
  }
  return out;
}

/**
 * Whether tile t (hash tile or entry bundle) is part of the tree of `size`: its hashes or entries
 * all exist at that size. A partial tile is served for any width up to what exists, since its
 * content is a prefix of the eventual full tile.
 */
export function tileExists(t: TileRef, size: number): boolean {
  const row = rowWidth(size, t.level === ENTRIES ? 0 : t.level);
  return t.index * TILE_WIDTH + t.width <= row;
}

/** Where node (height, index) is computed from: the level-L tile and the span of its hashes. */
export function nodeLocation(height: number, index: number): { level: number; tile: number; offset: number; count: number } {
  const level = Math.floor(height / TILE_HEIGHT);
  const count = 2 ** (height - level * TILE_HEIGHT);
  const first = index * count;
  return { level, tile: Math.floor(first / TILE_WIDTH), offset: first % TILE_WIDTH, count };
}

/** The Merkle hash of `count` (a power of two) consecutive hashes of a tile, starting at `offset`. */
export function subtreeHash(hasher: Hasher, tile: Uint8Array, offset: number, count: number): Uint8Array {
  if ((offset + count) * HASH_SIZE > tile.length) throw new Error('bad math: node outside tile');
  if (count === 1) return tile.subarray(offset * HASH_SIZE, (offset + 1) * HASH_SIZE);
  const half = count / 2;
  return hasher.node(subtreeHash(hasher, tile, offset, half), subtreeHash(hasher, tile, offset + half, half));
}

/**
 * A full tile's "interior": its nodes at within-tile heights 4 to 7 (16 + 8 + 4 + 2 = 30 hashes,
 * 960 bytes). Stored beside each full tile, it caps the work of computing any node of that tile
 * at 7 hashes (a node at height 1 to 3 spans at most 8 tile hashes), so a proof costs at most a few
 * hashes per tile level even when the tile is not in memory. tlog-tiles does not serve it.
 */
export const INTERIOR_MIN_HEIGHT = 4;
export const INTERIOR_HASHES = 30;

/** Slot of the node at within-tile height r (4..7), position p, in an interior. */
export function interiorSlot(r: number, p: number): number {
  return INTERIOR_HASHES + 2 - 2 ** (TILE_HEIGHT + 1 - r) + p;
}

/** Computes the interior of a full tile from its 256 hashes (one pass, 255 hashes). */
export function tileInterior(hasher: Hasher, tile: Uint8Array): Uint8Array {
  const out = new Uint8Array(INTERIOR_HASHES * HASH_SIZE);
  for (let r = INTERIOR_MIN_HEIGHT; r < TILE_HEIGHT; r++) {
    const span = 2 ** r;
    for (let p = 0; p < TILE_WIDTH / span; p++) {
      const h =
        r === INTERIOR_MIN_HEIGHT
          ? subtreeHash(hasher, tile, p * span, span)
          : hasher.node(out.subarray(interiorSlot(r - 1, 2 * p) * HASH_SIZE, (interiorSlot(r - 1, 2 * p) + 1) * HASH_SIZE), out.subarray(interiorSlot(r - 1, 2 * p + 1) * HASH_SIZE, (interiorSlot(r - 1, 2 * p + 1) + 1) * HASH_SIZE));
      out.set(h, interiorSlot(r, p) * HASH_SIZE);
    }
  }
  return out;
}

/**
 * The node at within-tile height r (0..7), position p, of a tile: read from the tile or its
 * interior when possible, else hashed from at most 8 tile hashes.
 */
export function tileNode(hasher: Hasher, tile: Uint8Array, interior: Uint8Array | undefined, r: number, p: number): Uint8Array {
  if (interior && r >= INTERIOR_MIN_HEIGHT) {
    const s = interiorSlot(r, p);
    return interior.subarray(s * HASH_SIZE, (s + 1) * HASH_SIZE);
  }
  return subtreeHash(hasher, tile, p * 2 ** r, 2 ** r);
}

/** Encodes entries as an entry bundle: uint16 big-endian length || bytes, per entry. */
export function encodeBundle(entries: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const e of entries) n += 2 + e.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const e of entries) {
    if (e.length > MAX_ENTRY_SIZE) throw new CandorError('payload_too_large', 'entry exceeds 65535 bytes');
    out[off] = e.length >>> 8;
    out[off + 1] = e.length & 0xff;
    out.set(e, off + 2);
    off += 2 + e.length;
  }
  return out;
}

/** The number of entries in an entry bundle (its length prefixes walked, nothing copied). */
export function bundleCount(bundle: Uint8Array): number {
  let n = 0;
  for (let off = 0; off < bundle.length; n++) off += 2 + ((bundle[off]! << 8) | bundle[off + 1]!);
  return n;
}

/** Splits an entry bundle into its entries, or those at positions [from, to) (the others are skipped, not copied); throws on a truncated bundle. */
export function decodeBundle(bundle: Uint8Array, from = 0, to = Number.POSITIVE_INFINITY): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  for (let i = 0; off < bundle.length && i < to; i++) {
    if (off + 2 > bundle.length) throw invalid('entry bundle is truncated');
    const n = (bundle[off]! << 8) | bundle[off + 1]!;
    if (off + 2 + n > bundle.length) throw invalid('entry bundle is truncated');
    if (i >= from) out.push(bundle.subarray(off + 2, off + 2 + n));
    off += 2 + n;
  }
  return out;
}
