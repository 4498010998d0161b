// Posting blocks (src/storage/postings.ts) and the block cursor of LevelStore against a naive
// reference: random terms written in groups of random sizes (as commit batches or rebuild windows
// write them), read back by seek sequences in both directions, over random windows, with near and
// far targets, and blocks split at MAX_BLOCK.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LevelStore } from '../../src/storage/level.js';
import { MAX_BLOCK, decodeBlock, indexRecords, putIndex, readIndex } from '../../src/storage/postings.js';
import type { EntryTerms } from '../../src/storage/store.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir();
let store: LevelStore;
/** term value -> its indexes, ascending. */
const reference = new Map<string, number[]>();
const SIZE = 400_000;
const TERMS = ['dense', 'sparse', 'rare', 'far', 'huge'];

/** Which terms entry i has: dense every 3rd, sparse every 97th, rare 5 in all, far two clusters far apart, huge a run past MAX_BLOCK. */
function termsOf(i: number): string[] {
  const out: string[] = [];
  if (i % 3 === 0) out.push('dense');
  if (i % 97 === 5) out.push('sparse');
  if ([7, 1000, 150_000, 150_001, 399_999].includes(i)) out.push('rare');
  if ((i >= 10 && i < 20) || (i >= 300_000 && i < 300_010)) out.push('far');
  if (i >= 200_000 && i < 200_000 + 3 * MAX_BLOCK) out.push('huge');
  return out;
}

beforeAll(async () => {
  store = await LevelStore.open(join(dir, 'db'));
  for (const t of TERMS) reference.set(t, []);
  // Groups of varied sizes, like commit batches; every 11th entry is opaque (no terms).
  let start = 0;
  for (let g = 0; start < SIZE; g++) {
    const n = Math.min(SIZE - start, [1, 7, 256, 4096, 16_384][g % 5]!);
    const terms: (EntryTerms | undefined)[] = [];
    for (let i = start; i < start + n; i++) {
      if (i % 11 === 10) {
        terms.push(undefined);
        continue;
      }
      const names = termsOf(i);
      for (const t of names) reference.get(t)!.push(i);
      terms.push({ values: names.map((value) => ({ field: 3, value })), integratedAt: BigInt(Math.floor(i / 100)) });
    }
    await store.writeIndexes(start, terms);
    start += n;
  }
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The reference answer to seek(target): smallest posting >= target in [lo, hi) (reverse: largest <= target). */
function naiveSeek(list: number[], lo: number, hi: number, reverse: boolean, target: number): number | undefined {
  const inside = list.filter((x) => x >= lo && x < hi);
  return reverse ? inside.filter((x) => x <= target).pop() : inside.find((x) => x >= target);
}

describe('posting blocks', () => {
  it('encode and decode a group, one block per term, split at MAX_BLOCK', () => {
    const terms: EntryTerms[] = Array.from({ length: MAX_BLOCK + 10 }, (_, i) => ({ values: [{ field: 3, value: 'a' }, ...(i % 2 ? [{ field: 4, value: `u${i}` }] : [])], integratedAt: 5n }));
    const records = indexRecords(1000, terms);
    // 2 blocks of "a", one per u<i>, one time run.
    expect(records.length).toBe(2 + (MAX_BLOCK + 10) / 2 + 1);
    const a = records.filter((r) => r.key[1] === 3);
    expect(a.map((r) => decodeBlock(Number(Buffer.from(r.key.subarray(-8)).readBigUInt64BE()), r.value)).flat()).toEqual(Array.from({ length: MAX_BLOCK + 10 }, (_, i) => 1000 + i));
    // A unique term is a block of one: an empty value.
    expect(records.filter((r) => r.key[1] === 4).every((r) => r.value.length === 0)).toBe(true);
  });

  it('a cursor seeks like the naive list, in both orders, on random windows and targets', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TERMS),
        fc.integer({ min: 0, max: SIZE }),
        fc.integer({ min: 1, max: SIZE }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 120_000 }), { minLength: 1, maxLength: 30 }),
        async (term, a, len, reverse, steps) => {
          const lo = Math.min(a, SIZE - 1);
          const hi = Math.min(SIZE, lo + len);
          const list = reference.get(term)!;
          const cursor = store.postings(3, term, lo, hi, reverse);
          try {
            let target = reverse ? hi - 1 : lo;
            for (const s of steps) {
              const got = await cursor.seek(target);
              expect(got).toBe(naiveSeek(list, lo, hi, reverse, target));
              if (got === undefined) break;
              // Small steps walk the list, big ones jump (a seek in the store).
              target = reverse ? got - (s % 7 === 0 ? s : s % 5) : got + (s % 7 === 0 ? s : s % 5);
              if (target < lo || target >= hi) break;
            }
          } finally {
            await cursor.close();
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it('maps a receive time to the first entry integrated at or after it', async () => {
    expect(await store.firstIntegratedAtOrAfter(0n)).toBe(0);
    // Entries 1200..1299 were integrated at 12.
    expect(await store.firstIntegratedAtOrAfter(12n)).toBe(1200);
    expect(await store.firstIntegratedAtOrAfter(11n)).toBe(1100);
    // Entry 1000 (time 10) is opaque: it has no time, the run starts at the next event.
    expect(await store.firstIntegratedAtOrAfter(10n)).toBe(1001);
    expect(await store.firstIntegratedAtOrAfter(BigInt(SIZE))).toBeUndefined();
  });
});

describe('8-byte indexes', () => {
  it('putIndex writes what DataView writes as two big-endian uint32s, at any offset, and readIndex reads it back', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.nat({ max: 16 }), (n, off) => {
        const got = new Uint8Array(off + 8).fill(0xaa);
        putIndex(got, off, n);
        const want = new Uint8Array(off + 8).fill(0xaa);
        const dv = new DataView(want.buffer);
        dv.setUint32(off, Math.floor(n / 2 ** 32));
        dv.setUint32(off + 4, n % 2 ** 32);
        expect(got).toEqual(want);
        expect(readIndex(got, off)).toBe(n);
      }),
      { numRuns: 2000, examples: [[0, 0], [2 ** 32 - 1, 0], [2 ** 32, 3], [Number.MAX_SAFE_INTEGER, 1]] },
    );
  });
});
