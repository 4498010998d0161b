// One RFC 3339 parser (src/core/time.ts) behind every time a client gives: GET /v1/search's
// occurred_from/... and GET /v1/export's from/to accept and refuse the same inputs, and both keep
// nanoseconds (before, search kept nanoseconds and required seconds, export kept milliseconds and
// made seconds optional).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRfc3339 } from '@candor/core/time';
import { ingest, startSearchLog, variedEvent, type SearchLog } from './helpers.js';

const SEC = 1_000_000_000n;
const base = BigInt(Date.UTC(2026, 4, 4, 14, 45)) / 1000n;

const ACCEPTED: [string, bigint][] = [
  ['2026-05-04T14:45:00Z', base * SEC],
  ['2026-05-04t14:45:00z', base * SEC],
  ['2026-05-04T14:45:00.5Z', base * SEC + 500_000_000n],
  ['2026-05-04T14:45:00.123456789Z', base * SEC + 123_456_789n],
  ['2026-05-04T16:45:00.000000001+02:00', base * SEC + 1n],
  ['2026-05-04T14:15:00-00:30', base * SEC],
  ['2024-02-29T00:00:00Z', BigInt(Date.UTC(2024, 1, 29)) * 1_000_000n],
  ['1970-01-01T00:00:00Z', 0n],
  ['9999-12-31T23:59:59.999999999Z', 253_402_300_799n * SEC + 999_999_999n],
];

const REFUSED = [
  '2026-05-04T14:45Z', // no seconds
  '2026-05-04T14:45:00', // no zone
  '2026-05-04 14:45:00Z', // a space for T
  '2026-05-04T14:45:00.1234567891Z', // finer than a nanosecond
  '2026-05-04T14:45:60Z', // a leap second
  '2026-02-30T00:00:00Z',
  '2025-02-29T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-05-04T24:00:00Z',
  '2026-05-04T14:45:00+24:00',
  '2026-05-04',
  'yesterday',
  '',
];

describe('parseRfc3339', () => {
  it('reads each accepted form to the nanosecond', () => {
    for (const [s, ns] of ACCEPTED) expect(parseRfc3339(s, 'from'), s).toBe(ns);
  });
  it('refuses times before the epoch, which the search index cannot hold', () => {
    expect(() => parseRfc3339('1969-12-31T23:59:59.999999999Z', 'to')).toThrow(/^to must not be before 1970-01-01T00:00:00Z/);
    expect(() => parseRfc3339('0001-01-01T00:00:00Z', 'to')).toThrow(/^to must not be before 1970/);
  });
  it('refuses the rest, naming the parameter and the form it wants', () => {
    for (const s of REFUSED) expect(() => parseRfc3339(s, 'occurred_from'), s).toThrow(/^occurred_from must be an RFC 3339 time with seconds and a zone/);
  });
});

describe('GET /v1/search and GET /v1/export', () => {
  let log: SearchLog;
  // Three events a nanosecond apart: only a parser that keeps nanoseconds tells them apart.
  const at = (nanos: number) => variedEvent(0, { occurredAt: { seconds: base, nanos } });
  beforeAll(async () => {
    log = await startSearchLog();
    await ingest(log, [at(1), at(2), at(3)]);
  });
  afterAll(() => log?.cleanup());

  const search = async (from: string, to?: string) => {
    const res = await fetch(`${log.url}/v1/search?${new URLSearchParams({ occurred_from: from, ...(to ? { occurred_to: to } : {}) })}`, { headers: { authorization: 'Bearer tok-all' }, signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { results?: { event: { occurredAt: string } }[]; error?: { message: string } };
    return { status: res.status, times: body.results?.map((r) => r.event.occurredAt).sort(), error: body.error?.message };
  };
  const exported = async (from: string, to?: string) => {
    const res = await fetch(`${log.url}/v1/export?${new URLSearchParams({ format: 'ndjson', from, ...(to ? { to } : {}) })}`, { headers: { authorization: 'Bearer tok-export' }, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (res.status !== 200) return { status: res.status, error: (JSON.parse(text) as { error: { message: string } }).error.message };
    const times = text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: { occurredAt: string } }).event.occurredAt).sort();
    return { status: res.status, times };
  };

  it('select the same events, to the nanosecond', async () => {
    const from = '2026-05-04T16:45:00.000000002+02:00';
    const to = '2026-05-04T14:45:00.000000003Z';
    const s = await search(from, to);
    const e = await exported(from, to);
    expect(s).toEqual({ status: 200, times: ['2026-05-04T14:45:00.000000002Z'], error: undefined });
    expect(e).toEqual({ status: 200, times: s.times });
  });

  it('accept and refuse the same times', async () => {
    for (const [t] of ACCEPTED) {
      expect((await search(t)).status, t).toBe(200);
      expect((await exported(t)).status, t).toBe(200);
    }
    for (const t of [...REFUSED, '1969-12-31T23:59:59Z']) {
      const s = await search(t);
      const e = await exported(t);
      expect([s.status, e.status], t).toEqual([400, 400]);
      if (t === '') continue; // export says "must be a non-empty string"
      expect(s.error).toMatch(/^occurred_from must (be an RFC 3339 time with seconds and a zone|not be before 1970)/);
      expect(e.error).toBe(s.error!.replace(/^occurred_from/, 'query.from'));
    }
  });
});
