import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toHex } from '../../src/core/bytes.js';
import { portableHasher as H } from '../../src/core/hash.js';
import {
  CompactRange,
  consistencyProofRanges,
  inclusionProof,
  inclusionProofRanges,
  proofHashes,
  splitPoint,
  proofNodes,
  rangeNodes,
  treeHash,
  verifyConsistency,
  verifyInclusion,
  type NodeReader,
} from '../../src/core/merkle.js';
import { loadVectors } from '../helpers/vectors.js';
import { naiveConsistency, naiveLeaf, naiveMTH, naivePath } from '../helpers/naive.js';

const tree = loadVectors('rfc6962-merkle-tree.json');
const reference = loadVectors('rfc6962-reference-proofs.json');
const inclusionProbes = loadVectors('inclusion-probes.json');
const consistencyProbes = loadVectors('consistency-probes.json');

/** Builds every complete node of a tree through CompactRange's visitor. */
function buildTree(leafHashes: Uint8Array[]): { range: CompactRange; read: NodeReader } {
  const nodes = new Map<string, Uint8Array>();
  const range = new CompactRange(H);
  for (const lh of leafHashes) range.append(lh, (h, i, hash) => nodes.set(`${h}/${i}`, hash));
  const read: NodeReader = (h, i) => {
    const v = nodes.get(`${h}/${i}`);
    if (!v) throw new Error(`node ${h}/${i} not in tree`);
    return v;
  };
  return { range, read };
}

const b64list = (l: string[] | null) => (l ?? []).map((s) => fromBase64(s));
const leaves: Uint8Array[] = tree.leaves_hex.map((h: string) => H.leaf(fromHex(h)));

describe('RFC 9162 hashing vectors', () => {
  it.each(tree.hasher_cases as any[])('$desc', (c) => {
    const got =
      c.kind === 'empty' ? H.empty : c.kind === 'leaf' ? H.leaf(fromHex(c.input_hex)) : H.node(fromHex(c.left_hex), fromHex(c.right_hex));
    expect(toHex(got)).toBe(c.want_hex);
  });

  it('reproduces every complete node and the root of each size 0..8', () => {
    const { range, read } = buildTree(leaves);
    expect(range.size).toBe(8);
    tree.node_hashes_hex_by_level.forEach((level: string[], h: number) =>
      level.forEach((want, i) => expect(toHex(read(h, i))).toBe(want)),
    );
    tree.root_hashes_hex_by_size.forEach((want: string, size: number) => {
      expect(toHex(treeHash(H, size, read))).toBe(want);
      const prefix = buildTree(leaves.slice(0, size)).range;
      expect(toHex(prefix.root())).toBe(want);
    });
  });
});

describe('reference proofs (transparency-dev/merkle)', () => {
  const { read } = buildTree(leaves);
  it.each(reference.inclusion as any[])('inclusion of leaf $leaf_index in size $tree_size', (c) => {
    const proof = proofHashes(H, inclusionProofRanges(c.leaf_index, c.tree_size), read);
    expect(proof.map(toHex)).toEqual(c.proof_hex);
    const root = fromHex(reference.root_hashes_hex_by_size[c.tree_size]);
    verifyInclusion(H, c.leaf_index, c.tree_size, leaves[c.leaf_index]!, proof, root);
  });
  it.each(reference.consistency as any[])('consistency $size1 -> $size2', (c) => {
    const proof = proofHashes(H, consistencyProofRanges(c.size1, c.size2), read);
    expect(proof.map(toHex)).toEqual(c.proof_hex);
    const r1 = fromHex(reference.root_hashes_hex_by_size[c.size1]);
    const r2 = fromHex(reference.root_hashes_hex_by_size[c.size2]);
    verifyConsistency(H, c.size1, c.size2, r1, r2, proof);
  });
});

describe('golden inclusion probes', () => {
  it('has all 98 probes', () => expect(inclusionProbes.cases).toHaveLength(98));
  it.each(inclusionProbes.cases as any[])('$source_path: $desc', (c) => {
    const run = () =>
      verifyInclusion(H, c.leafIdx, c.treeSize, fromBase64(c.leafHash), b64list(c.proof), fromBase64(c.root));
    if (c.wantErr) expect(run).toThrow();
    else expect(run).not.toThrow();
  });
});

describe('golden consistency probes', () => {
  it('has all 98 probes', () => expect(consistencyProbes.cases).toHaveLength(98));
  it.each(consistencyProbes.cases as any[])('$source_path: $desc', (c) => {
    const run = () => verifyConsistency(H, c.size1, c.size2, fromBase64(c.root1), fromBase64(c.root2), b64list(c.proof));
    if (c.wantErr) expect(run).toThrow();
    else expect(run).not.toThrow();
  });
});

describe('proofs against a naive recursive implementation', () => {
  // Deterministic pseudo-random leaves, so a failure is reproducible.
  let seed = 0x2545f491;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const N = 3000;
  const data = Array.from({ length: N }, (_, i) => new TextEncoder().encode(`entry ${i} ${rand(1e9)}`));
  const leafHashes = data.map(naiveLeaf);
  const { read } = buildTree(leafHashes);
  const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 2047, 2048, 2049, N];
  for (let i = 0; i < 40; i++) sizes.push(1 + rand(N));

  it('tree hashes match MTH for many sizes', () => {
    for (const n of sizes) expect(toHex(treeHash(H, n, read))).toBe(toHex(naiveMTH(leafHashes.slice(0, n))));
  });

  it('inclusion proofs match PATH and verify, and tampering is detected', () => {
    for (const n of sizes) {
      const prefix = leafHashes.slice(0, n);
      const root = naiveMTH(prefix);
      const memo = new Map<number, Uint8Array>();
      for (const m of [0, n - 1, rand(n), rand(n), rand(n)]) {
        const proof = proofHashes(H, inclusionProofRanges(m, n), read);
        expect(proof.map(toHex)).toEqual(naivePath(m, prefix).map(toHex));
        expect(inclusionProof(H, m, n, read, memo).map(toHex)).toEqual(proof.map(toHex));
        verifyInclusion(H, m, n, prefix[m]!, proof, root);
        if (proof.length > 0) {
          const bad = proof.map((p) => p.slice());
          bad[rand(bad.length)]![rand(32)] ^= 1;
          expect(() => verifyInclusion(H, m, n, prefix[m]!, bad, root)).toThrow();
        }
        if (n > 1) expect(() => verifyInclusion(H, (m + 1) % n, n, prefix[m]!, proof, root)).toThrow();
      }
    }
  });

  it('inclusion proofs (bottom-up, one pass) equal the planned ones for every leaf of every size up to 300', () => {
    for (let n = 1; n <= 300; n++) {
      const memo = new Map<number, Uint8Array>();
      const naive = n <= 64 ? leafHashes.slice(0, n) : undefined;
      for (let m = 0; m < n; m++) {
        const want = proofHashes(H, inclusionProofRanges(m, n), read).map(toHex);
        expect(inclusionProof(H, m, n, read, memo).map(toHex), `leaf ${m} of ${n}`).toEqual(want);
        expect(inclusionProof(H, m, n, read).map(toHex)).toEqual(want);
        if (naive) expect(naivePath(m, naive).map(toHex)).toEqual(want);
      }
    }
  });

  it('consistency proofs match PROOF and verify, and tampering is detected', () => {
    for (const n of sizes) {
      const rootN = naiveMTH(leafHashes.slice(0, n));
      for (const m of [1, n, 1 + rand(n), 1 + rand(n), 1 + rand(n)]) {
        const proof = proofHashes(H, consistencyProofRanges(m, n), read);
        expect(proof.map(toHex)).toEqual(naiveConsistency(m, leafHashes.slice(0, n)).map(toHex));
        const rootM = naiveMTH(leafHashes.slice(0, m));
        verifyConsistency(H, m, n, rootM, rootN, proof);
        if (proof.length > 0) {
          const bad = proof.map((p) => p.slice());
          bad[rand(bad.length)]![rand(32)] ^= 1;
          expect(() => verifyConsistency(H, m, n, rootM, rootN, bad)).toThrow();
          expect(() => verifyConsistency(H, m, n, rootM, rootN, [...proof, proof[0]!])).toThrow();
        }
      }
    }
  });

  it('proofNodes lists exactly the nodes proofHashes reads', () => {
    for (const n of sizes.slice(0, 20)) {
      const ranges = inclusionProofRanges(n - 1, n);
      const seen: string[] = [];
      proofHashes(H, ranges, (h, i) => (seen.push(`${h}/${i}`), read(h, i)));
      expect(proofNodes(ranges).map((x) => `${x.height}/${x.index}`)).toEqual(seen);
    }
  });
});

describe('split points', () => {
  it('is the largest power of two below n, exactly, up to 2^53', () => {
    const slow = (n: number) => {
      let k = 1;
      while (k * 2 < n) k *= 2;
      return k;
    };
    for (let n = 2; n < 5000; n++) expect(splitPoint(n)).toBe(slow(n));
    for (let e = 2; e <= 53; e++) for (const d of [-1, 0, 1]) if (2 ** e + d <= 2 ** 53) expect(splitPoint(2 ** e + d)).toBe(slow(2 ** e + d));
  });
});

describe('compact ranges', () => {
  it('decomposes [0, size) by the bits of size', () => {
    expect(rangeNodes(0, 13)).toEqual([
      { height: 3, index: 0 },
      { height: 2, index: 2 },
      { height: 0, index: 12 },
    ]);
    expect(rangeNodes(12, 16)).toEqual([{ height: 2, index: 3 }]);
    expect(rangeNodes(0, 0)).toEqual([]);
  });

  it('resumes from saved hashes and keeps appending identically', () => {
    const a = new CompactRange(H);
    for (const l of leaves.slice(0, 5)) a.append(l);
    const b = new CompactRange(H, a.size, [...a.hashes]);
    for (const l of leaves.slice(5)) {
      a.append(l);
      b.append(l);
    }
    expect(toHex(b.root())).toBe(toHex(a.root()));
    expect(toHex(a.root())).toBe(tree.root_hashes_hex_by_size[8]);
    expect(() => new CompactRange(H, 5, [])).toThrow(/bad math/);
  });

  it('rejects out-of-range proof requests with stable codes', () => {
    expect(() => inclusionProofRanges(5, 5)).toThrow(expect.objectContaining({ code: 'out_of_range' }));
    expect(() => consistencyProofRanges(6, 5)).toThrow(expect.objectContaining({ code: 'out_of_range' }));
    expect(() => consistencyProofRanges(0, 5)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => inclusionProofRanges(-1, 5)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
