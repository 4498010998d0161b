/**
 * Offline check of a log store (`candor fsck`): recomputes the tree the store claims to hold and
 * reports every stored tile or entry bundle that disagrees, by its c2sp.org/tlog-tiles path.
 *
 *   - every entry bundle decodes and its entries' leaf hashes (RFC 9162 §2.1.1) are exactly the
 *     level-0 tile's hashes;
 *   - every hash of a level-L tile (L >= 1) is the root of the full level-(L-1) tile below it;
 *   - every full tile's stored interior (core/tile.ts tileInterior) matches its hashes;
 *   - the tiles give the root of the stored checkpoint, whose signature verifies.
 *
 * Each tile is compared with the stored tiles around it (not with values recomputed from the
 * entries all the way up), so one corrupted tile is named by the checks on either side of it
 * and nothing beyond. The server does the root check at start-up; this reads every byte.
 */
import { equal, toBase64 } from '@candor/core/bytes';
import { openCheckpoint, parseCheckpoint } from '@candor/core/checkpoint';
import { HASH_SIZE, type Hasher } from '@candor/core/hash';
import type { NoteVerifier } from '@candor/core/note';
import { ENTRIES, TILE_WIDTH, rowWidth, subtreeHash, tileInterior, tilePath } from '@candor/core/tile';
import { TreeState } from '../log/tree.js';
import type { LogStore } from './store.js';

export interface FsckProblem {
  /** The tlog-tiles path of the tile or bundle at fault (or "checkpoint"). */
  path: string;
  message: string;
}

export interface FsckReport {
  size: number;
  bundles: number;
  tiles: number;
  problems: FsckProblem[];
}

export interface FsckOptions {
  store: LogStore;
  hasher: Hasher;
  /** Verifier keys of the log; the checkpoint must carry a valid signature by one of them. */
  verifiers: readonly NoteVerifier[];
  /** Called after each bundle with the entries checked so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

const hashAt = (tile: Uint8Array, i: number) => tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);

export async function fsck(o: FsckOptions): Promise<FsckReport> {
  const { store, hasher } = o;
  const problems: FsckProblem[] = [];
  const note = await store.readCheckpoint();
  if (note === undefined) return { size: 0, bundles: 0, tiles: 0, problems: [{ path: 'checkpoint', message: 'the store holds no checkpoint' }] };
  let size: number;
  let root: Uint8Array;
  try {
    ({ size, root } = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1)));
  } catch (err) {
    return { size: 0, bundles: 0, tiles: 0, problems: [{ path: 'checkpoint', message: `the stored checkpoint does not parse: ${(err as Error).message}` }] };
  }
  try {
    openCheckpoint(note, o.verifiers);
  } catch (err) {
    problems.push({ path: 'checkpoint', message: `the stored checkpoint's signature does not verify: ${(err as Error).message}` });
  }

  let bundles = 0;
  let tiles = 0;
  // below[i]: the root of stored full tile i of the level below (undefined if unreadable).
  let below: (Uint8Array | undefined)[] = [];
  for (let level = 0; rowWidth(size, level) > 0; level++) {
    const row = rowWidth(size, level);
    const roots: (Uint8Array | undefined)[] = [];
    for (let n = 0; n * TILE_WIDTH < row; n++) {
      const width = Math.min(TILE_WIDTH, row - n * TILE_WIDTH);
      const path = tilePath({ level, index: n, width });
      // What this tile must hold, from the level below; undefined where that is unknown.
      let expected: (Uint8Array | undefined)[];
      let source: string;
      if (level === 0) {
        source = tilePath({ level: ENTRIES, index: n, width });
        bundles++;
        try {
          expected = (await store.readEntries(n * TILE_WIDTH, n * TILE_WIDTH + width)).map((e) => hasher.leaf(e));
        } catch (err) {
          problems.push({ path: source, message: `${source} cannot be read: ${(err as Error).message}` });
          expected = [];
        }
        o.onProgress?.(n * TILE_WIDTH + width, size);
      } else {
        source = `the level-${level - 1} tiles`;
        expected = below.slice(n * TILE_WIDTH, n * TILE_WIDTH + width);
      }
      tiles++;
      const stored = await store.readTiles([{ level, index: n }]).then(([t]) => t, (err: unknown) => err as Error);
      if (stored instanceof Error || stored === undefined || stored.hashes.length < width * HASH_SIZE) {
        const why = stored instanceof Error ? stored.message : stored === undefined ? 'it is missing' : `it holds ${stored.hashes.length / HASH_SIZE} hashes`;
        problems.push({ path, message: `${path} cannot be read: ${why}` });
        roots.push(undefined);
        continue;
      }
      const hashes = stored.hashes;
      if (width === TILE_WIDTH) {
        if (hashes.length !== TILE_WIDTH * HASH_SIZE) problems.push({ path, message: `${path} holds ${hashes.length} bytes, not ${TILE_WIDTH * HASH_SIZE}` });
        if (!stored.interior) problems.push({ path, message: `${path} is full but has no stored interior` });
        else if (!equal(stored.interior, tileInterior(hasher, hashes.subarray(0, TILE_WIDTH * HASH_SIZE)))) {
          problems.push({ path, message: `${path}: its stored interior does not match its hashes` });
        }
      } else if (hashes.length !== width * HASH_SIZE || stored.interior) {
        problems.push({ path, message: `${path} holds ${hashes.length / HASH_SIZE} hashes${stored.interior ? ' and an interior' : ''}; the tree of size ${size} has ${width}` });
      }
      const bad: number[] = [];
      for (let i = 0; i < expected.length; i++) {
        const want = expected[i];
        if (want && !equal(hashAt(hashes, i), want)) bad.push(i);
      }
      if (bad.length > 0) {
        const what = level === 0 ? `the leaf hashes of ${source}` : `the roots of tiles ${bad.map((i) => tilePath({ level: level - 1, index: n * TILE_WIDTH + i, width: TILE_WIDTH })).join(', ')}`;
        problems.push({ path, message: `${path} differs at offset${bad.length > 1 ? 's' : ''} ${bad.join(', ')} from ${what}` });
      }
      roots.push(width === TILE_WIDTH ? subtreeHash(hasher, hashes, 0, TILE_WIDTH) : undefined);
    }
    below = roots;
  }

  try {
    const got = (await TreeState.load(hasher, store, size)).root();
    if (!equal(got, root)) {
      problems.push({ path: 'checkpoint', message: `the stored tiles give root ${toBase64(got)} for size ${size}, but the checkpoint signs ${toBase64(root)}` });
    }
  } catch (err) {
    problems.push({ path: 'checkpoint', message: `the root of size ${size} cannot be computed from the stored tiles: ${(err as Error).message}` });
  }
  return { size, bundles, tiles, problems };
}
