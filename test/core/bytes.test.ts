import { randomBytes } from 'node:crypto';
import { base64 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { allocBytes, fromBase64, toBase64 } from '@candor/core/bytes';

describe('base64', () => {
  it('encodes views into larger buffers exactly as the portable encoder does, and round-trips', () => {
    const pool = new Uint8Array(randomBytes(4096));
    for (let len = 0; len <= 100; len++) {
      for (const off of [0, 1, 7, 1000]) {
        const view = pool.subarray(off, off + len);
        const s = toBase64(view);
        expect(s).toBe(base64.encode(view));
        expect(fromBase64(s)).toEqual(view);
      }
    }
  });

  it('rejects a non-canonical string, naming the field', () => {
    expect(() => fromBase64('AB==', 'root hash')).toThrow(/root hash/);
  });
});

describe('allocBytes', () => {
  it('hands out zeroed, non-overlapping buffers of the asked size, small ones from shared slabs', () => {
    const sizes = Array.from({ length: 3000 }, (_, i) => 1 + ((i * 37) % 700));
    const bufs = sizes.map((n) => allocBytes(n));
    bufs.forEach((b, i) => {
      expect(b.length).toBe(sizes[i]);
      expect(b.every((x) => x === 0)).toBe(true);
      b.fill((i % 255) + 1);
    });
    // Filling each one changed no other: no two overlap, across slab boundaries too.
    bufs.forEach((b, i) => expect(b.every((x) => x === (i % 255) + 1)).toBe(true));
    expect(new Set(bufs.map((b) => b.buffer)).size).toBeGreaterThan(1);
    expect(allocBytes(10_000).byteOffset).toBe(0); // a large one is its own
  });
});
