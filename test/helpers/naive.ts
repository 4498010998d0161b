// A naive, recursive RFC 9162 §2.1 implementation, straight from the definitions, used as the
// reference that the fast code is compared against on random inputs.
import { createHash } from 'node:crypto';

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const k = (n: number) => {
  let x = 1;
  while (x * 2 < n) x *= 2;
  return x;
};

export function naiveLeaf(d: Uint8Array): Uint8Array {
  return sha(new Uint8Array([0]), d);
}

/** MTH over leaf hashes. */
export function naiveMTH(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0]!;
  const s = k(leaves.length);
  return sha(new Uint8Array([1]), naiveMTH(leaves.slice(0, s)), naiveMTH(leaves.slice(s)));
}

export function naivePath(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const s = k(leaves.length);
  if (m < s) return [...naivePath(m, leaves.slice(0, s)), naiveMTH(leaves.slice(s))];
  return [...naivePath(m - s, leaves.slice(s)), naiveMTH(leaves.slice(0, s))];
}

function subproof(m: number, leaves: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === leaves.length) return b ? [] : [naiveMTH(leaves)];
  const s = k(leaves.length);
  if (m <= s) return [...subproof(m, leaves.slice(0, s), b), naiveMTH(leaves.slice(s))];
  return [...subproof(m - s, leaves.slice(s), false), naiveMTH(leaves.slice(0, s))];
}

export function naiveConsistency(m: number, leaves: Uint8Array[]): Uint8Array[] {
  return subproof(m, leaves, true);
}
