// LogService.inclusionProofs (what export's bundle uses) against the one-at-a-time inclusionProof,
// on a real log: batches of consecutive and scattered indexes, in and out of order, over tree
// sizes that end inside a tile and on tile boundaries, and the proofs checked by the verifier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '@candor/core/bytes';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { verifyInclusion } from '@candor/core/merkle';
import { parseNote } from '@candor/core/note';
import { nodeHasher } from '../../src/crypto/node.js';
import { startTestLog } from '../helpers/log.js';

let log: Awaited<ReturnType<typeof startTestLog>>;
const ENTRIES = 70_000;

beforeAll(async () => {
  log = await startTestLog();
  for (let s = 0; s < ENTRIES; s += 5000) {
    await log.service.addMany(Array.from({ length: Math.min(5000, ENTRIES - s) }, (_, i) => new TextEncoder().encode(`entry ${s + i}`)));
  }
}, 60_000);
afterAll(() => log?.cleanup());

describe('inclusion proofs in batches', () => {
  it('equal the single proofs and verify, for every kind of batch and tree size', async () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const sizes = [1, 2, 255, 256, 257, 511, 65_536, 65_537, ENTRIES - 1, ENTRIES];
    for (const size of sizes) {
      const start = rand(size);
      const batches = [
        Array.from({ length: Math.min(1000, size - start) }, (_, i) => start + i), // consecutive, across tiles
        Array.from({ length: 50 }, () => rand(size)), // scattered, unordered, repeats
        [size - 1, 0, size - 1],
      ];
      for (const batch of batches) {
        const got = await log.service.inclusionProofs(batch, size);
        expect(got.map((p) => p.index)).toEqual(batch);
        for (const [k, index] of batch.entries()) {
          const one = await log.service.inclusionProof({ index, size });
          expect(toHex(got[k]!.leafHash)).toBe(toHex(one.leafHash));
          expect(got[k]!.proof.map(toHex), `index ${index} in a tree of ${size}`).toEqual(one.proof.map(toHex));
        }
      }
    }
    // And against the latest checkpoint's root, by the verifier.
    const size = log.service.size;
    const cp = parseCheckpoint(parseNote(log.sequencer.checkpoint).text);
    for (const p of await log.service.inclusionProofs([0, 300, 65_535, 65_536, size - 1], size)) {
      expect(() => verifyInclusion(nodeHasher, p.index, size, p.leafHash, p.proof, cp.root)).not.toThrow();
    }
  });

  it('names an index beyond the tree', async () => {
    await expect(log.service.inclusionProofs([0, ENTRIES], ENTRIES)).rejects.toThrow(/index 70000 is not below tree size 70000/);
  });
});
