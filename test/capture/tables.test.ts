// The pure parts of the capture: the row key against an independent HMAC (node:crypto), column
// declarations and their errors, LSN arithmetic, and which role a change is given.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rowKey } from '@candor/schema/rowkey';
import { ValueClass } from '@candor/schema/gen/candor/v1/event_pb';
import { PostgresCapture } from '../../src/capture/postgres.js';
import { formatLsn, parseColumn, parseLsn } from '../../src/capture/tables.js';

const lp = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const n = Buffer.alloc(4);
  n.writeUInt32BE(b.length);
  return Buffer.concat([n, b]);
};

describe('row keys (docs/leaf-format.md §Row keys)', () => {
  const secret = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

  it('is the documented HMAC, recomputed with node:crypto', () => {
    const msg = Buffer.concat([Buffer.from('candor/row-key/v1\n'), lp('app'), lp('public'), lp('accounts'), Buffer.from([0, 2]), lp('42'), lp('é')]);
    const expected = `rk1_${createHmac('sha256', secret).update(msg).digest('hex')}`;
    expect(rowKey(secret, { database: 'app', schema: 'public', table: 'accounts', primaryKey: ['42', 'é'] })).toBe(expected);
  });

  it('separates its parts unambiguously and refuses a short secret or no key', () => {
    const k = (table: string, pk: string[]) => rowKey(secret, { database: 'app', schema: 'public', table, primaryKey: pk });
    expect(k('a', ['bc'])).not.toBe(k('ab', ['c']));
    expect(k('a', ['b', 'c'])).not.toBe(k('a', ['bc']));
    expect(() => rowKey(secret.subarray(0, 8), { database: 'd', schema: 's', table: 't', primaryKey: ['1'] })).toThrow(/at least 16 bytes/);
    expect(() => k('a', [])).toThrow(/1 to 65535 primary key values/);
  });
});

describe('column declarations', () => {
  it('parses schema.table.column=CLASS and names what is wrong', () => {
    expect(parseColumn('public.accounts.iban=pci')).toEqual({ schema: 'public', table: 'accounts', column: 'iban', valueClass: ValueClass.PCI });
    expect(() => parseColumn('accounts.iban=PCI')).toThrow(/must be schema.table.column=CLASS/);
    expect(() => parseColumn('public.accounts.iban=SECRETISH')).toThrow(/class must be one of PII, PCI, PHI, SECRET, OTHER/);
    expect(() => parseColumn('public.acc-ounts.iban=PII')).toThrow(/the table "acc-ounts" is not a plain identifier/);
  });
});

describe('LSNs', () => {
  it('round-trips and orders', () => {
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(formatLsn(parseLsn('1/0') - 1n)).toBe('0/FFFFFFFF');
    expect(() => parseLsn('16-B3')).toThrow(/is not an LSN/);
  });
});

describe('the role of a change', () => {
  const roles = [
    { position: 2, role: 'alice' },
    { position: 5, role: 'bob' },
  ];
  it("is that of the first role message after it (its statement's AFTER trigger), else the last before it, else unknown", () => {
    expect(PostgresCapture.roleAt(roles, 0)).toBe('alice'); // rows 0 and 1, then alice's statement trigger
    expect(PostgresCapture.roleAt(roles, 1)).toBe('alice');
    expect(PostgresCapture.roleAt(roles, 2)).toBe('bob'); // rows 2 to 4, then bob's
    expect(PostgresCapture.roleAt(roles, 4)).toBe('bob');
    expect(PostgresCapture.roleAt(roles, 7)).toBe('bob'); // nothing after: the last before
    expect(PostgresCapture.roleAt([], 0)).toBeUndefined();
  });
});
