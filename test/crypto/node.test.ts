// The server's node:crypto hashing (src/crypto/node.ts) against the portable @noble/hashes one:
// the same bytes for every input length the log can see, and results that stay put when later
// hashes are computed (they are views of a shared buffer pool).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { portableHasher } from '@candor/core/hash';
import { nodeDigest, nodeHasher } from '../../src/crypto/node.js';

const lengths = [0, 1, 31, 32, 55, 56, 63, 64, 65, 127, 4096, 0xffff, 0xffff + 1, 100_000];

describe('node:crypto hashing', () => {
  it('gives the same digests, leaf and node hashes as @noble/hashes for every input length', () => {
    for (const n of lengths) {
      const data = randomBytes(n);
      expect(Buffer.from(nodeDigest(data)).toString('hex'), `digest of ${n} bytes`).toBe(Buffer.from(sha256(data)).toString('hex'));
      expect(Buffer.from(nodeHasher.leaf(data)).toString('hex'), `leaf of ${n} bytes`).toBe(Buffer.from(portableHasher.leaf(data)).toString('hex'));
    }
    const [l, r] = [randomBytes(32), randomBytes(32)];
    expect(Buffer.from(nodeHasher.node(l, r))).toEqual(Buffer.from(portableHasher.node(l, r)));
    expect(Buffer.from(nodeHasher.empty)).toEqual(Buffer.from(portableHasher.empty));
  });

  it('returns 32-byte results that later hashes do not overwrite', () => {
    const inputs = Array.from({ length: 2000 }, () => randomBytes(65));
    const results = inputs.map((d) => nodeDigest(d));
    for (let i = 0; i < inputs.length; i++) {
      expect(results[i]!.length).toBe(32);
      expect(Buffer.from(results[i]!).equals(Buffer.from(sha256(inputs[i]!)))).toBe(true);
    }
  });
});
