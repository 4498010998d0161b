// Search over HTTP on a real log on disk: every filter and combinations against a naive scan of
// the log, both orders, cursor paging, time ranges, proofs that verify, tenant restriction, and
// errors that name the parameter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64 } from '@candor/core/bytes';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { decodeLoggedEvent, type LoggedEvent } from '../../src/query/types.js';
import { naiveLeaf, naiveMTH } from '../helpers/naive.js';
import { READERS, allEvents, allPages, httpSearch, ingest, naive, rfc3339, startSearchLog, variedEvent, type NaiveFilter, type SearchLog } from './helpers.js';

let log: SearchLog;
let events: LoggedEvent[];

beforeAll(async () => {
  log = await startSearchLog();
  // Events with an opaque entry in between (never a search result).
  await ingest(log, Array.from({ length: 300 }, (_, i) => variedEvent(i)));
  await fetch(`${log.url}/add`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: 'opaque entry' });
  await ingest(log, Array.from({ length: 300 }, (_, i) => variedEvent(i + 300)), 37);
  events = await allEvents(log);
}, 60_000);
afterAll(() => log?.cleanup());

const toParams = (f: NaiveFilter): Record<string, string> =>
  Object.fromEntries(Object.entries(f).map(([k, v]) => [k, typeof v === 'bigint' ? rfc3339(v) : String(v)]));

describe('GET /v1/search', () => {
  it('holds every event, newest first by default', async () => {
    expect(events.length).toBe(600);
    const r = await allPages(log.url, { limit: 1000 });
    expect(r.indexes).toEqual(naive(events, {}));
  });

  const single: NaiveFilter[] = [
    { tenant: 'org-2' },
    { actor: 'usr_c' },
    { resource: 'mysql-1' },
    { type: 'producer.heartbeat' },
    { review: 'rev-5' },
    { session: 'ses-17' },
    { object: 'app.public.orders' },
    { object: 'app.public.users.ssn' },
  ];
  it.each(single)('filters by %o like a scan of the log', async (f) => {
    const want = naive(events, f);
    expect(want.length).toBeGreaterThan(0);
    expect((await allPages(log.url, { ...toParams(f), limit: 1000 })).indexes).toEqual(want);
  });

  it('finds one event by event_id, producer_event_id and leaf_hash', async () => {
    const e = events[123]!;
    for (const f of [{ event_id: e.event.eventId }, { producer_event_id: e.event.producerEventId }] as Record<string, string>[]) {
      expect((await allPages(log.url, f)).indexes).toEqual([e.index]);
    }
    const leafHash = Buffer.from(portableHasher.leaf(e.leaf)).toString('base64');
    expect((await allPages(log.url, { leaf_hash: leafHash })).indexes).toEqual([e.index]);
    expect((await allPages(log.url, { leaf_hash: leafHash, tenant: e.event.tenantId === 'org-1' ? 'org-2' : 'org-1' })).indexes).toEqual([]);
  });

  const combos: NaiveFilter[] = [
    { tenant: 'org-1', actor: 'usr_a' },
    { tenant: 'org-3', resource: 'pg-prod', type: 'session.started' },
    { actor: 'usr_b', session: 'ses-1' },
    { tenant: 'org-2', object: 'app.public.users', resource: 'pg-stage' },
    { actor: 'usr_a', review: 'rev-0' },
    { tenant: 'org-1', actor: 'nobody' },
  ];
  it.each(combos)('intersects %o in both orders', async (f) => {
    for (const order of ['newest', 'oldest'] as const) {
      expect((await allPages(log.url, { ...toParams(f), order, limit: 1000 })).indexes).toEqual(naive(events, f, order));
    }
  });

  it('pages with cursors to exactly the full result, in both orders', async () => {
    for (const order of ['newest', 'oldest'] as const) {
      for (const f of [{}, { tenant: 'org-2' }, { tenant: 'org-1', type: 'session.started' }] as NaiveFilter[]) {
        const paged = await allPages(log.url, { ...toParams(f), order, limit: 7 });
        const want = naive(events, f, order);
        expect(paged.indexes).toEqual(want);
        expect(paged.pages).toBeGreaterThanOrEqual(Math.ceil(want.length / 7));
      }
    }
  });

  it('is stable under inserts: a cursor taken before new events continues where it was', async () => {
    const first = await httpSearch(log.url, { tenant: 'org-1', limit: 10 });
    const rest = await allPages(log.url, { tenant: 'org-1', limit: 1000, cursor: first.body.nextCursor! });
    expect([...first.body.results.map((h) => h.index), ...rest.indexes]).toEqual(naive(events, { tenant: 'org-1' }));
  });

  it('filters integrated_at and occurred_at ranges', async () => {
    const times = [...new Set(events.map((e) => e.receivedAt))].sort((a, b) => (a < b ? -1 : 1));
    expect(times.length).toBeGreaterThan(3);
    const from = times[2]!;
    const to = times[times.length - 2]!;
    const occ = events.map((e) => e.event.occurredAt!.seconds * 1_000_000_000n).sort((a, b) => (a < b ? -1 : 1));
    const oFrom = occ[100]!;
    const oTo = occ[400]!;
    const cases: NaiveFilter[] = [
      { integrated_from: from },
      { integrated_to: to },
      { integrated_from: from, integrated_to: to, tenant: 'org-3' },
      { occurred_from: oFrom, occurred_to: oTo },
      { occurred_from: oFrom, actor: 'usr_d', integrated_to: to },
    ];
    for (const f of cases) {
      for (const order of ['newest', 'oldest'] as const) {
        expect((await allPages(log.url, { ...toParams(f), order, limit: 13 })).indexes).toEqual(naive(events, f, order));
      }
    }
  });

  it('proves each result against the latest checkpoint or a given size', async () => {
    const latest = await httpSearch(log.url, { actor: 'usr_e', limit: 5, proof: 'latest' });
    const cp = openCheckpoint(latest.body.checkpoint!, log.keys.verifiers).checkpoint;
    const older = await httpSearch(log.url, { actor: 'usr_e', limit: 5, proof: 200, order: 'oldest' });
    const root200 = naiveMTH((await log.service.entries({ start: 0, end: 200 })).map((e) => naiveLeaf(e.data)));
    expect(older.body.results.every((h) => h.index < 200)).toBe(true);
    for (const [r, size] of [
      [latest, cp.size],
      [older, 200],
    ] as const) {
      expect(r.body.results.length).toBe(5);
      for (const h of r.body.results) {
        const leafHash = portableHasher.leaf(fromBase64(h.leaf));
        expect(Buffer.from(leafHash).toString('base64')).toBe(h.proof!.leafHash);
        expect(h.proof!.size).toBe(size);
        verifyInclusion(portableHasher, h.index, size, leafHash, h.proof!.hashes.map((x) => fromBase64(x)), size === cp.size ? cp.root : root200);
      }
    }
  });

  it('restricts a reader to its tenants', async () => {
    expect((await allPages(log.url, { limit: 1000 }, 'tok-org2')).indexes).toEqual(naive(events, { tenant: 'org-2' }));
    expect((await allPages(log.url, { actor: 'usr_a', limit: 1000 }, 'tok-org13')).indexes).toEqual(naive(events, { actor: 'usr_a', tenants: ['org-1', 'org-3'] }));
    // A term list longer than one probe chunk (256) driving the intersection with the tenants.
    for (const order of ['newest', 'oldest'] as const) {
      for (const limit of [7, 300, 1000]) {
        const want = naive(events, { type: 'session.started', tenants: ['org-1', 'org-3'] }, order);
        expect(want.length).toBeGreaterThan(256);
        expect((await allPages(log.url, { type: 'session.started', order, limit }, 'tok-org13')).indexes).toEqual(want);
      }
    }
    const denied = await httpSearch(log.url, { tenant: 'org-1' }, 'tok-org2');
    expect(denied.status).toBe(403);
    expect(denied.body.error!.message).toMatch(/tenant org-1/);
  });

  it('refuses callers without the search permission', async () => {
    expect((await httpSearch(log.url, {}, '')).status).toBe(401);
    expect((await httpSearch(log.url, {}, 'tok-nope')).status).toBe(401);
    expect((await httpSearch(log.url, {}, 'tok-export')).status).toBe(403);
  });

  it('answers bad parameters with 400 naming the parameter', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ actr: 'x' }, /actr is not a parameter/],
      [{ occurred_from: 'yesterday' }, /occurred_from must be an RFC 3339 time/],
      [{ integrated_to: '2026-13-45T00:00:00Z' }, /integrated_to must be an RFC 3339 time/],
      [{ cursor: 'garbage!' }, /cursor is not a cursor/],
      [{ limit: '0' }, /limit must be 1 to 1000/],
      [{ limit: '1001' }, /limit must be 1 to 1000/],
      [{ limit: 'ten' }, /limit must be a decimal integer from 0 to 2\^53 - 1/], [{ limit: '010' }, /limit must be a decimal integer/],
      [{ order: 'sideways' }, /order must be/],
      [{ proof: '999999' }, /proof 999999 is beyond the tree size/],
      [{ leaf_hash: 'AAAA' }, /leaf_hash must be a 32-byte leaf hash/],
      [{ actor: '' }, /actor must not be empty/],
      [{ occurred_from: '2026-01-02T00:00:00Z', occurred_to: '2026-01-01T00:00:00Z' }, /occurred_to is before occurred_from/],
    ];
    for (const [params, message] of cases) {
      const r = await httpSearch(log.url, params);
      expect(r.status, JSON.stringify(params)).toBe(400);
      expect(r.body.error!.message).toMatch(message);
    }
    const newest = await httpSearch(log.url, { limit: 1 });
    const r = await httpSearch(log.url, { order: 'oldest', cursor: newest.body.nextCursor! });
    expect(r.status).toBe(400);
    expect(r.body.error!.message).toMatch(/cursor was returned for order=newest/);
  });
});

describe('audit of searches (auditReads on)', () => {
  it('appends exactly one audit.log.queried event per search, before answering, and names it in the response', async () => {
    const audited = await startSearchLog({ auditReads: true });
    try {
      await ingest(audited, Array.from({ length: 20 }, (_, i) => variedEvent(i)));
      const before = audited.service.size;
      const res = await fetch(`${audited.url}/v1/search?tenant=org-1&limit=5`, { headers: { Authorization: 'Bearer tok-all' } });
      expect(res.status).toBe(200);
      const index = Number(res.headers.get('candor-audit-index'));
      expect(res.headers.get('candor-audit-query-salt')).toMatch(/^[A-Za-z0-9+/]+=*$/);
      // Logged before the answer: the audit event is already in the tree the response was read from.
      expect(audited.service.size).toBe(before + 1);
      expect(index).toBe(before);
      const [entry] = await audited.service.entries({ start: index, end: index + 1 });
      const ev = decodeLoggedEvent(index, entry!.data);
      expect(ev.producer).toBe('candor');
      expect(ev.event.type).toBe('audit.log.queried');
      expect(ev.event.actor?.id).toBe(READERS['tok-all']!.id);
      expect(ev.event.tenantId).toBe('org-1');
      // A refused search (bad parameter) logs nothing.
      expect((await fetch(`${audited.url}/v1/search?limit=0`, { headers: { Authorization: 'Bearer tok-all' } })).status).toBe(400);
      expect(audited.service.size).toBe(before + 1);
      // The log's own events are indexed like any other: the audit event is found by its type.
      const found = await httpSearch(audited.url, { type: 'audit.log.queried', order: 'oldest' });
      expect(found.body.results.map((h) => h.index)[0]).toBe(index);
    } finally {
      await audited.cleanup();
    }
  });
});
