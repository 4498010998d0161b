import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '@candor/core/bytes';
import { consistencyProofRanges, inclusionProof, inclusionProofRanges, proofHashes, proofNodes } from '@candor/core/merkle';
import { nodeHasher as H } from '../../src/crypto/node.js';
import { expandTile, TreeReader } from '../../src/log/reader.js';
import { tileInterior } from '@candor/core/tile';
import { TreeState } from '../../src/log/tree.js';
import { LevelStore } from '../../src/storage/level.js';
import { naiveConsistency, naivePath } from '../helpers/naive.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TreeReader', () => {
  it('serves proofs that match the naive definition at every size, even with a cache of two tiles', async () => {
    const store = await LevelStore.open(join(dir, 'db'));
    let tree = TreeState.empty(H);
    const reader = new TreeReader(store, H, { cacheBytes: 40_000 });
    const leaves: Uint8Array[] = [];
    // Batches of awkward sizes, committed as the sequencer would.
    for (const n of [1, 255, 1, 300, 65_000, 1000, 2]) {
      // Restart in the middle of a tile: the right edge, interiors included, comes from the store.
      if (leaves.length === 557) tree = await TreeState.load(H, store, 557);
      const batch = Array.from({ length: n }, (_, i) => H.leaf(new TextEncoder().encode(`r${leaves.length + i}`)));
      const start = tree.size;
      const a = tree.append(batch);
      await store.commit({ previous: await store.readCheckpoint(), start, entries: batch, tiles: a.tiles, leafIndex: [], checkpoint: String(a.newSize) });
      reader.advance(a.newSize, tree.edge(), a.tiles.filter((t) => t.hashes.length === 8192));
      leaves.push(...batch);
      const size = a.newSize;
      for (const m of [0, size - 1, Math.floor(size / 3), start]) {
        if (m >= size) continue;
        const ranges = inclusionProofRanges(m, size);
        const got = proofHashes(H, ranges, await reader.nodes(proofNodes(ranges)));
        const want = naivePath(m, leaves.slice(0, size)).map(toHex);
        expect(got.map(toHex)).toEqual(want);
        // The synchronous path: tiles read on a miss, right-edge hashes kept for this size only
        // (a stale one from the size before would give a wrong proof here).
        const direct = await reader.withNodes((read) => inclusionProof(H, m, size, read, reader.rightEdge(size)));
        expect(direct.map(toHex)).toEqual(want);
      }
      for (const from of [1, Math.max(1, start), Math.floor(size / 2) || 1]) {
        const ranges = consistencyProofRanges(from, size);
        const got = proofHashes(H, ranges, await reader.nodes(proofNodes(ranges)));
        expect(got.map(toHex)).toEqual(naiveConsistency(from, leaves.slice(0, size)).map(toHex));
        expect((await reader.withNodes((read) => proofHashes(H, ranges, read))).map(toHex)).toEqual(got.map(toHex));
      }
    }
    // Every full tile was stored with the interior its hashes imply, including tiles completed
    // across batches.
    for (let level = 0; level < 2; level++) {
      for (let index = 0; (index + 1) * 256 ** (level + 1) <= leaves.length; index++) {
        const t = (await store.readTiles([{ level: level, index: index }]))[0]!;
        expect(toHex(t.interior!)).toBe(toHex(tileInterior(H, t.hashes)));
      }
    }
    // Tiles: a full one, and the partial edge as a prefix.
    expect(toHex((await reader.tile(0, 3))!.subarray(0, 32))).toBe(toHex(leaves[768]!));
    expect(await reader.tile(0, 9999)).toBeUndefined();
    expect(reader.rightEdge(leaves.length - 1)).toBeUndefined();
    // A computation's own errors pass through withNodes unchanged.
    await expect(reader.withNodes(() => { throw new Error('boom'); })).rejects.toThrow('boom');
    await store.close();
  });

  it('expands a tile into every interior node', () => {
    const hashes = new Uint8Array(256 * 32);
    for (let i = 0; i < 256; i++) hashes.set(H.leaf(Uint8Array.of(i)), i * 32);
    const x = expandTile(H, hashes);
    // Height 1, position 0 = node(leaf 0, leaf 1); height 7, position 1 = the right half's root.
    expect(toHex(x.subarray(256 * 32, 257 * 32))).toBe(toHex(H.node(hashes.subarray(0, 32), hashes.subarray(32, 64))));
    const half = (off: number, n: number): Uint8Array => (n === 1 ? hashes.subarray(off * 32, off * 32 + 32) : H.node(half(off, n / 2), half(off + n / 2, n / 2)));
    expect(toHex(x.subarray(509 * 32, 510 * 32))).toBe(toHex(half(128, 128)));
  });
});
