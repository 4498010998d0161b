// Per-tenant terms (src/query/terms.ts PER_TENANT_FIELDS): a search within a tenant reads the
// per-tenant list instead of intersecting two long ones. A log indexed by code from before they
// existed has none below the point where this code began to commit: there a search must read the
// plain lists, above it the per-tenant ones, and the results must be what a scan of the log says.
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD, PER_TENANT, eventTerms } from '../../src/query/terms.js';
import { INDEX_PREFIX } from '../../src/storage/postings.js';
import { allEvents, allPages, ingest, naive, startSearchLog, variedEvent, type NaiveFilter, type SearchLog } from './helpers.js';
import type { LevelStore } from '../../src/storage/level.js';

let log: SearchLog;
let before: number;

/** Deletes every per-tenant block and the marker of where they begin: the index earlier code wrote. */
async function forgetPerTenantTerms(db: string): Promise<number> {
  const level = new ClassicLevel<Uint8Array, Uint8Array>(db, { keyEncoding: 'view', valueEncoding: 'view' });
  await level.open();
  const batch = level.batch();
  let n = 0;
  for await (const key of level.keys({ gte: Uint8Array.of(INDEX_PREFIX), lt: Uint8Array.of(INDEX_PREFIX + 1) })) {
    if (key[1]! & PER_TENANT) {
      batch.del(key);
      n++;
    }
  }
  await batch.del(Uint8Array.of(0x70)).write();
  await level.close();
  return n;
}

beforeAll(async () => {
  log = await startSearchLog();
  await ingest(log, Array.from({ length: 240 }, (_, i) => variedEvent(i)));
  const dir = log.dir;
  await log.close();
  expect(await forgetPerTenantTerms(join(dir, 'db'))).toBeGreaterThan(0);
  log = await startSearchLog({ data: dir }, log.producer);
  before = log.service.size;
  await ingest(log, Array.from({ length: 240 }, (_, i) => variedEvent(i + 240)), 31);
}, 60_000);
afterAll(() => log?.cleanup());

describe('per-tenant terms', () => {
  it('are the tenant-scoped copies of actor, resource, type and object', () => {
    const e = variedEvent(1);
    const { values } = eventTerms(e, 0n);
    const perTenant = values.filter((v) => v.field & PER_TENANT).map((v) => [v.field & ~PER_TENANT, v.value]);
    expect(perTenant).toEqual([
      [FIELD.actor, `org-2\u0000${e.actor!.id}`],
      [FIELD.resource, `org-2\u0000${e.resource!.id}`],
      [FIELD.type, 'org-2\u0000session.started'],
      [FIELD.object, 'org-2\u0000app.public.users'],
      [FIELD.object, 'org-2\u0000app.public.users.email'],
      [FIELD.object, 'org-2\u0000app.public.users.ssn'],
    ]);
  });

  it('begin where the first commit of this code wrote terms, not below it', async () => {
    expect(before).toBe(240);
    expect((log.store as LevelStore).perTenantFrom()).toBe(before);
  });

  const filters: NaiveFilter[] = [
    { tenant: 'org-1', actor: 'usr_a' },
    { tenant: 'org-3', resource: 'pg-prod', type: 'session.started' },
    { tenant: 'org-2', object: 'app.public.users' },
    { tenant: 'org-2', object: 'app.public.users.ssn', session: 'ses-1' },
    { tenant: 'org-1', type: 'producer.heartbeat' },
  ];
  it.each(filters)('find %o on both sides of that point, in both orders and pages', async (f) => {
    const events = await allEvents(log);
    for (const order of ['newest', 'oldest'] as const) {
      const want = naive(events, f, order);
      expect(want.some((i) => i < before)).toBe(true);
      expect(want.some((i) => i >= before)).toBe(true);
      for (const limit of [3, 1000]) {
        const params = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, String(v)]));
        expect((await allPages(log.url, { ...params, order, limit })).indexes).toEqual(want);
      }
    }
  });

  it('serve a reader limited to some tenants as a union of their lists', async () => {
    const events = await allEvents(log);
    for (const order of ['newest', 'oldest'] as const) {
      const want = naive(events, { actor: 'usr_a', tenants: ['org-1', 'org-3'] }, order);
      expect(want.length).toBeGreaterThan(0);
      expect((await allPages(log.url, { actor: 'usr_a', order, limit: 5 }, 'tok-org13')).indexes).toEqual(want);
    }
  });
});
