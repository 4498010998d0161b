/**
 * RFC 9162 §2.1 Merkle tree math: tree hashes, proof planning and proof verification.
 *
 * Pure: no I/O. A tree is addressed by complete subtrees ("nodes"): node (height h, index k) covers
 * leaves [k·2^h, (k+1)·2^h). Every hash a proof needs is either such a node or the hash of an
 * incomplete right-edge subtree, which is folded from the nodes that decompose it. Callers supply
 * nodes through a NodeReader, so the math never knows whether hashes come from tiles on disk or
 * from the batch the sequencer is integrating.
 *
 * Indexes and sizes are JavaScript numbers, exact up to 2^53; bit operators are avoided because
 * they truncate to 32 bits.
 */
import { CandorError } from './errors.js';
import type { Hasher } from './hash.js';
import { HASH_SIZE } from './hash.js';
import { equal } from './bytes.js';

export interface NodeId {
  height: number;
  index: number;
}

/** A half-open leaf range [start, end) whose subtree hash appears in a proof. */
export type LeafRange = readonly [start: number, end: number];

/** Reads complete-subtree hashes. Every node asked for lies within the tree being proved. */
export type NodeReader = (height: number, index: number) => Uint8Array;

/** Largest power of two strictly less than n, for n > 1 (RFC 9162 §2.1.1's k). */
export function splitPoint(n: number): number {
  // 32-bit fast path: the top set bit of n - 1.
  if (n <= 0x8000_0000) return 2 ** (31 - Math.clz32(n - 1));
  // log2 is exact on powers of two; the loops absorb float rounding near 2^53.
  let k = 2 ** Math.floor(Math.log2(n - 1));
  while (k >= n) k /= 2;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function log2(n: number): number {
  let h = 0;
  while (n > 1) {
    n /= 2;
    h++;
  }
  return h;
}

/**
 * The complete subtrees that decompose [start, end), left to right: at each step the largest
 * aligned power of two that fits. For [0, size) this is the compact range of the tree.
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  while (start < end) {
    // The widest subtree that is aligned at start and fits in what remains.
    let width = 1;
    while (start % (width * 2) === 0 && width * 2 <= end - start) width *= 2;
    out.push({ height: log2(width), index: start / width });
    start += width;
  }
  return out;
}

/**
 * MTH(D[start:end]) from complete nodes. For the ranges RFC 9162 proofs use (start aligned to a
 * power of two at least end - start), folding the decomposition right to left reproduces the
 * RFC's split at the largest power of two. `memo` caches incomplete ranges, which many proofs over
 * the same tree share (the right edge).
 */
export function rangeHash(hasher: Hasher, start: number, end: number, read: NodeReader, memo?: Map<string, Uint8Array>): Uint8Array {
  if (start === end) return hasher.empty;
  const width = end - start;
  if (isPowerOfTwo(width) && start % width === 0) return read(log2(width), start / width);
  const key = memo && `${start}:${end}`;
  const cached = key && memo.get(key);
  if (cached) return cached;
  const nodes = rangeNodes(start, end);
  let acc = read(nodes[nodes.length - 1]!.height, nodes[nodes.length - 1]!.index);
  for (let i = nodes.length - 2; i >= 0; i--) acc = hasher.node(read(nodes[i]!.height, nodes[i]!.index), acc);
  if (key) memo.set(key, acc);
  return acc;
}

/** The root of a tree of `size` leaves (RFC 9162 §2.1.1). */
export function treeHash(hasher: Hasher, size: number, read: NodeReader): Uint8Array {
  return rangeHash(hasher, 0, size, read);
}

function checkSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new CandorError('invalid_argument', `${name} must be a non-negative integer`);
}

/**
 * The leaf ranges of an inclusion proof for `index` in a tree of `size` (RFC 9162 §2.1.3.1 PATH),
 * leaf sibling first.
 */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) throw new CandorError('out_of_range', `index ${index} is not below tree size ${size}`);
  const out: LeafRange[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index - lo < k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
    }
  }
  return out.reverse();
}

/**
 * The leaf ranges of a consistency proof from size m to size n (RFC 9162 §2.1.4.1 PROOF), for
 * 0 < m <= n. Equal sizes give an empty proof.
 */
export function consistencyProofRanges(m: number, n: number): LeafRange[] {
  checkSize('from', m);
  checkSize('to', n);
  if (m === 0) throw new CandorError('invalid_argument', 'a consistency proof needs from > 0');
  if (m > n) throw new CandorError('out_of_range', `from size ${m} is larger than to size ${n}`);
  const out: LeafRange[] = [];
  let lo = 0;
  let hi = n;
  let mm = m;
  let complete = true; // SUBPROOF's b: whether D[lo:hi]'s left edge is the old tree's own root
  while (mm !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (mm <= k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
      mm -= k;
      complete = false;
    }
  }
  if (!complete) out.push([lo, hi]);
  return out.reverse();
}

/**
 * The inclusion proof for `index` in a tree of `size` (RFC 9162 §2.1.3.1), leaf sibling first,
 * computed in one pass: the same hashes as proofHashes(inclusionProofRanges(...)) without the
 * intermediate plan, for the sequencer's acknowledgements where it runs once per entry.
 *
 * It walks up from the leaf, the way §2.1.3.2 verifies: at each height the node on the path has
 * a left sibling (always complete), a right sibling (complete, or the one incomplete subtree at
 * that height, which ends at `size`), or none (it is the last node of its height: no hash). An
 * incomplete right sibling is shared by every proof in this tree, so it is cached by its start in
 * `rightEdge`.
 */
export function inclusionProof(
  hasher: Hasher,
  index: number,
  size: number,
  read: NodeReader,
  rightEdge?: Map<number, Uint8Array>,
): Uint8Array[] {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) throw new CandorError('out_of_range', `index ${index} is not below tree size ${size}`);
  // Built in a scratch array and copied out at its length: the sequencer keeps one proof per
  // acknowledgement, and an array grown by push would be more than twice as large.
  const out = PROOF_SCRATCH;
  let n = 0;
  // fn: the path's node at this height; last: the last node at this height; width = 2^height.
  let fn = index;
  let last = size - 1;
  let height = 0;
  let width = 1;
  while (last > 0) {
    const odd = fn % 2;
    if (odd === 1) out[n++] = read(height, fn - 1);
    else if (fn < last) {
      const start = (fn + 1) * width;
      if (start + width <= size) out[n++] = read(height, fn + 1);
      else {
        let h = rightEdge?.get(start);
        if (!h) {
          h = rangeHash(hasher, start, size, read);
          rightEdge?.set(start, h);
        }
        out[n++] = h;
      }
    }
    fn = (fn - odd) / 2;
    last = (last - (last % 2)) / 2;
    height++;
    width *= 2;
  }
  return out.slice(0, n);
}

/** Room for any proof: a tree of at most 2^53 leaves has at most 53 heights. */
const PROOF_SCRATCH = new Array<Uint8Array>(64);

/** Hashes the ranges of a proof plan with the given node reader. */
export function proofHashes(
  hasher: Hasher,
  ranges: readonly LeafRange[],
  read: NodeReader,
  memo?: Map<string, Uint8Array>,
): Uint8Array[] {
  return ranges.map(([s, e]) => rangeHash(hasher, s, e, read, memo));
}

/** Every complete node the ranges need, in the order proofHashes reads them (for batched reads). */
export function proofNodes(ranges: readonly LeafRange[]): NodeId[] {
  const out: NodeId[] = [];
  for (const [s, e] of ranges) out.push(...rangeNodes(s, e));
  return out;
}

function fail(message: string): never {
  throw new CandorError('verification_failed', message);
}

function checkHashes(proof: readonly Uint8Array[]): void {
  for (const p of proof) if (p.length !== HASH_SIZE) fail('proof hash is not 32 bytes');
}

/** Hashes two children; `height` and `index` say which node of the tree the result is. */
type NodeHash = (left: Uint8Array, right: Uint8Array, height: number, index: number) => Uint8Array;

/**
 * RFC 9162 §2.1.3.2's loop, hashing through `node`. The right-edge shifts of a step are done
 * before its hash (the RFC does them after; the hash does not depend on them), so that the hash
 * is asked for knowing which node it is: (height, fn) once the step's shifts are done.
 */
function foldInclusion(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[], node: NodeHash): Uint8Array {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0) fail('index or size out of range');
  if (index >= size) fail(`index ${index} is not below tree size ${size}`);
  if (leafHash.length !== HASH_SIZE) fail('leaf hash is not 32 bytes');
  checkHashes(proof);
  let fn = index;
  let sn = size - 1;
  let height = 0;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) fail('inclusion proof is too long');
    const right = fn % 2 === 1 || fn === sn;
    if (right && fn % 2 === 0) {
      // A last node with no right sibling moves up unchanged until it is a right child.
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
        height++;
      }
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
    height++;
    r = right ? node(p, r, height, fn) : node(r, p, height, fn);
  }
  if (sn !== 0) fail('inclusion proof is too short');
  return r;
}

/**
 * Recomputes the root from an inclusion proof (RFC 9162 §2.1.3.2). Throws if the proof has the
 * wrong shape for (index, size).
 */
export function rootFromInclusionProof(
  hasher: Hasher,
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  return foldInclusion(index, size, leafHash, proof, (l, r) => hasher.node(l, r));
}

/** Verifies an inclusion proof against a root; throws CandorError('verification_failed') if not. */
export function verifyInclusion(
  hasher: Hasher,
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  const got = rootFromInclusionProof(hasher, index, size, leafHash, proof);
  if (!equal(got, root)) fail('inclusion proof does not lead to the root');
}

/** One leaf's claim to be in a tree: its index, its leaf hash and its inclusion proof. */
export interface InclusionClaim {
  index: number;
  leafHash: Uint8Array;
  proof: readonly Uint8Array[];
}

/**
 * Verifies many inclusion proofs in one tree of `size` against its root: the same answer as
 * verifyInclusion on each claim in turn, and the same cost for one claim. The proofs of nearby
 * leaves share most of their paths (a batch of consecutive leaves shares all of it above the
 * batch's own subtrees), so each node hash is remembered with the two children it was computed
 * from, under the node it is; a later proof reaching that node with byte-equal children takes
 * the remembered hash instead of hashing again. Reuse only ever replaces SHA-256 of identical
 * input, so every proof is still folded on its own from its own leaf hash and its own siblings
 * and compared with the root: one bad proof, sibling or leaf hash fails its claim. Throws
 * CandorError('verification_failed') naming the first claim (by position) that does not verify.
 */
export function verifyInclusions(hasher: Hasher, size: number, root: Uint8Array, claims: readonly InclusionClaim[]): void {
  // memo[height] maps a node's index at that height to its hash and the children it came from.
  const memo: Map<number, { left: Uint8Array; right: Uint8Array; hash: Uint8Array }>[] = [];
  const node: NodeHash = (left, right, height, index) => {
    const level = (memo[height] ??= new Map());
    const seen = level.get(index);
    if (seen && equal(seen.left, left) && equal(seen.right, right)) return seen.hash;
    const hash = hasher.node(left, right);
    if (!seen) level.set(index, { left, right, hash });
    return hash;
  };
  for (let i = 0; i < claims.length; i++) {
    const c = claims[i]!;
    let got: Uint8Array;
    try {
      got = foldInclusion(c.index, size, c.leafHash, c.proof, node);
    } catch (err) {
      if (err instanceof CandorError) fail(`claim ${i} (leaf ${c.index}): ${err.message}`);
      throw err;
    }
    if (!equal(got, root)) fail(`claim ${i} (leaf ${c.index}): inclusion proof does not lead to the root`);
  }
}

/**
 * Verifies a consistency proof between two tree heads (RFC 9162 §2.1.4.2); throws if not.
 * Conventions outside the RFC's 0 < m < n, as in transparency-dev/merkle and golang.org/x/mod:
 * m = n needs an empty proof and equal roots; m = 0 is an error (a witness special-cases it).
 */
export function verifyConsistency(
  hasher: Hasher,
  m: number,
  n: number,
  rootM: Uint8Array,
  rootN: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0) fail('size out of range');
  if (m > n) fail(`old size ${m} is larger than new size ${n}`);
  if (m === 0) fail('consistency from the empty tree is not defined');
  if (m === n) {
    if (proof.length !== 0) fail('consistency proof between equal sizes must be empty');
    if (!equal(rootM, rootN)) fail('roots differ for equal sizes');
    return;
  }
  if (proof.length === 0) fail('consistency proof is empty');
  checkHashes(proof);
  const path = isPowerOfTwo(m) ? [rootM, ...proof] : proof;
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) fail('consistency proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      fr = hasher.node(c, fr);
      sr = hasher.node(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hasher.node(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) fail('consistency proof is too short');
  if (!equal(fr, rootM)) fail('consistency proof does not lead to the old root');
  if (!equal(sr, rootN)) fail('consistency proof does not lead to the new root');
}

/**
 * The right edge of an append-only tree: the roots of the maximal complete subtrees of
 * [0, size), left to right (a compact range over a prefix). Appending reports each complete node
 * it creates to a visitor instead of storing it, so the caller decides what to keep (tiles).
 */
export class CompactRange {
  #size: number;
  readonly #hashes: Uint8Array[];
  readonly #hasher: Hasher;

  /** `hashes` are the roots of rangeNodes(0, size), left to right. */
  constructor(hasher: Hasher, size = 0, hashes: Uint8Array[] = []) {
    if (rangeNodes(0, size).length !== hashes.length) throw new Error('bad math: compact range shape');
    this.#hasher = hasher;
    this.#size = size;
    this.#hashes = hashes.slice();
  }

  get size(): number {
    return this.#size;
  }

  /** The compact range's node hashes, left to right (see rangeNodes(0, size)). */
  get hashes(): readonly Uint8Array[] {
    return this.#hashes;
  }

  /** Appends one leaf hash; `visit` sees the leaf and every node it completes, lowest first. */
  append(leafHash: Uint8Array, visit?: (height: number, index: number, hash: Uint8Array) => void): void {
    let h = leafHash;
    let index = this.#size;
    let height = 0;
    visit?.(0, index, h);
    // Each trailing 1 bit of the old size is a left sibling waiting for this subtree.
    while (index % 2 === 1) {
      h = this.#hasher.node(this.#hashes.pop()!, h);
      index = (index - 1) / 2;
      height++;
      visit?.(height, index, h);
    }
    this.#hashes.push(h);
    this.#size++;
  }

  /** The tree hash of [0, size). */
  root(): Uint8Array {
    const hs = this.#hashes;
    if (hs.length === 0) return this.#hasher.empty;
    let acc = hs[hs.length - 1]!;
    for (let i = hs.length - 2; i >= 0; i--) acc = this.#hasher.node(hs[i]!, acc);
    return acc;
  }
}
