// Salted commitments against a naive implementation of the documented formula, and statement
// fingerprints.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { commit, commitmentDigest, normalizeStatement, statementFingerprint, verifyOpening } from '@candor/schema/commitment';

/** docs/leaf-format.md §Commitments. */
function naive(field: string, salt: Uint8Array, value: Uint8Array): Buffer {
  const f = Buffer.from(field, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(f.length);
  return createHash('sha256').update('candor/commitment/v1\n').update(Buffer.from([salt.length])).update(salt).update(len).update(f).update(value).digest();
}

describe('commitments', () => {
  it('follow the documented formula', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.uint8Array({ minLength: 16, maxLength: 64 }), fc.uint8Array({ maxLength: 100 }), (field, salt, value) => {
        expect(Buffer.from(commitmentDigest({ field, salt, value })).equals(naive(field, salt, value))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('open only with the right field, salt and value', () => {
    const c = commit('column_change.new_value', 'DE89 3704 0044 0532 0130 00');
    expect(c.opening.salt.length).toBeGreaterThanOrEqual(16);
    expect(verifyOpening(c.digest, c.opening)).toBe(true);
    expect(verifyOpening(c.digest, { ...c.opening, field: 'old_value' })).toBe(false);
    expect(verifyOpening(c.digest, { ...c.opening, value: new TextEncoder().encode('DE89 3704 0044 0532 0130 01') })).toBe(false);
    expect(verifyOpening(c.digest, { ...c.opening, salt: c.opening.salt.map((b) => b ^ 1) })).toBe(false);
    // A fresh salt every time: equal values do not give equal commitments.
    expect(Buffer.from(commit('f', 'x').digest).equals(Buffer.from(commit('f', 'x').digest))).toBe(false);
    expect(() => commit('f', 'x', new Uint8Array(15))).toThrow(/salt/);
  });
});

describe('statement fingerprints', () => {
  it('are equal for the same statement with other literals, and differ for other shapes', () => {
    const a = statementFingerprint("SELECT * FROM accounts WHERE id = 42 AND name = 'O''Brien' -- who\n");
    const b = statementFingerprint("select *   from accounts where id=7 and name='x'");
    const c = statementFingerprint('select * from accounts where owner = 42');
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(normalizeStatement("UPDATE t SET v = $1, w = $$x$$ WHERE k IN (1, 2, 3) /* c */;")).toBe('update t set v=?,w=? where k in(?)');
    expect(normalizeStatement('SELECT "Col1" FROM t2')).toBe('select "Col1" from t2');
  });
});
