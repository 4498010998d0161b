// Deterministic pseudo-random numbers for property tests, so that a failure is reproducible.

/**
 * mulberry32: a generator of integers in [0, n) from a 32-bit seed. Unlike a bare LCG, its low
 * bits are random too (a test taking `% 2` of an LCG's output would see a fixed cycle).
 */
export function mulberry32(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}
