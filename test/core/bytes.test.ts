import { randomBytes } from 'node:crypto';
import { base64 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../src/core/bytes.js';

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
