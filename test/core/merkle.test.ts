import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toHex } from '@candor/core/bytes';
import { portableHasher as H } from '@candor/core/hash';
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
  verifyInclusions,
  type InclusionClaim,
  type NodeReader,
} from '@candor/core/merkle';
import { loadVectors } from '../helpers/vectors.js';
import { naiveConsistency, naiveLeaf, naiveMTH, naivePath } from '../helpers/naive.js';
import { mulberry32 } from '../helpers/random.js';

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
          bad[rand(bad.length)]![rand(32)]! ^= 1;
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
          bad[rand(bad.length)]![rand(32)]! ^= 1;
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

describe('verifyInclusions (many proofs, shared nodes hashed once) against verifyInclusion on each', () => {
  const rand = mulberry32(0x6d2b79f5);
  const N = 1500;
  const leafHashes = Array.from({ length: N }, (_, i) => naiveLeaf(new TextEncoder().encode(`leaf ${i} ${rand(1e9)}`)));
  const { read } = buildTree(leafHashes);
  const proofOf = (m: number, n: number) => proofHashes(H, inclusionProofRanges(m, n), read);

  /** The straightforward answer: the position of the first claim verifyInclusion rejects, or -1. */
  const firstBad = (n: number, root: Uint8Array, claims: InclusionClaim[]) =>
    claims.findIndex((c) => {
      try {
        verifyInclusion(H, c.index, n, c.leafHash, c.proof, root);
        return false;
      } catch {
        return true;
      }
    });

  /** One random way to spoil one claim, some of them only detectable above the shared part of the paths. */
  function tamper(claims: InclusionClaim[], n: number): void {
    const k = rand(claims.length);
    const c = claims[k]!;
    const proof = c.proof.map((p) => p.slice());
    switch (rand(7)) {
      case 0: // one bit of one sibling, anywhere on the path (the top ones are shared with every other claim)
        if (proof.length > 0) proof[rand(proof.length)]![rand(32)]! ^= 1 << rand(8);
        break;
      case 1: // the top sibling only: everything below it is identical to the honest claims' paths
        if (proof.length > 0) proof[proof.length - 1]![rand(32)]! ^= 1;
        break;
      case 2: // a sibling taken from another claim's proof
        if (proof.length > 0) proof[rand(proof.length)] = (claims[rand(claims.length)]!.proof[rand(proof.length)] ?? new Uint8Array(32)) as Uint8Array<ArrayBuffer>;
        break;
      case 3:
        claims[k] = { ...c, leafHash: leafHashes[(c.index + 1) % n]! };
        return;
      case 4:
        claims[k] = { ...c, index: (c.index + 1 + rand(n - 1)) % n };
        return;
      case 5: // two siblings swapped
        if (proof.length > 1) {
          const [a, b] = [rand(proof.length), rand(proof.length)];
          [proof[a], proof[b]] = [proof[b]!, proof[a]!];
        }
        break;
      default: // a sibling too many or too few
        if (rand(2) === 0) proof.push(proof[0] ?? new Uint8Array(32));
        else proof.pop();
    }
    claims[k] = { ...c, proof };
  }

  it('gives the same verdict, naming the same first bad claim, on random batches and random tampering', () => {
    let rejected = 0;
    for (let round = 0; round < 400; round++) {
      const n = round < 20 ? 1 + round : 1 + rand(N);
      const root = naiveMTH(leafHashes.slice(0, n));
      const count = 1 + rand(Math.min(n, 300));
      // Mostly consecutive leaves (a batch's receipts), sometimes scattered ones, sometimes repeats.
      const start = rand(n - count + 1);
      const indexes =
        round % 5 === 4
          ? Array.from({ length: count }, () => rand(n))
          : Array.from({ length: count }, (_, i) => start + i);
      const claims: InclusionClaim[] = indexes.map((m) => ({ index: m, leafHash: leafHashes[m]!, proof: proofOf(m, n) }));
      if (round % 3 !== 0) {
        const spoilt = 1 + rand(3);
        for (let t = 0; t < spoilt; t++) tamper(claims, n);
      }
      const want = firstBad(n, root, claims);
      if (want < 0) {
        expect(() => verifyInclusions(H, n, root, claims)).not.toThrow();
      } else {
        rejected++;
        expect(() => verifyInclusions(H, n, root, claims)).toThrow(new RegExp(`^claim ${want} \\(`));
      }
    }
    expect(rejected).toBeGreaterThan(150);
  });

  it('rejects a bad claim after good ones that computed the same nodes first, and before them', () => {
    const n = 1000;
    const root = naiveMTH(leafHashes.slice(0, n));
    const good = Array.from({ length: 64 }, (_, i) => ({ index: 512 + i, leafHash: leafHashes[512 + i]!, proof: proofOf(512 + i, n) }));
    const bad = { ...good[5]!, proof: good[5]!.proof.map((p, j, all) => (j === all.length - 1 ? p.map((b) => b ^ 0xff) : p)) };
    expect(() => verifyInclusions(H, n, root, [...good, bad])).toThrow(/^claim 64 \(leaf 517\)/);
    expect(() => verifyInclusions(H, n, root, [bad, ...good])).toThrow(/^claim 0 \(leaf 517\)/);
  });

  it('hashes each node of a batch of consecutive leaves once', () => {
    const n = 1_000;
    const root = naiveMTH(leafHashes.slice(0, n));
    const claims = Array.from({ length: 256 }, (_, i) => ({ index: 700 + i, leafHash: leafHashes[700 + i]!, proof: proofOf(700 + i, n) }));
    let hashes = 0;
    const counting = { ...H, node: (l: Uint8Array, r: Uint8Array) => (hashes++, H.node(l, r)) };
    verifyInclusions(counting, n, root, claims);
    const separately = claims.reduce((a, c) => a + c.proof.length, 0);
    // 255 nodes inside the batch and the few above it, instead of one per proof step.
    expect(hashes).toBeLessThan(300);
    expect(separately).toBeGreaterThan(2_000);
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
