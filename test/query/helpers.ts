// Helpers for the search tests: a real log on disk (HTTP and gRPC on 127.0.0.1) with a producer
// and a small reader table behind `authorize`, varied events, and a naive reference search that
// filters every leaf of the log in memory.
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { rmSync } from 'node:fs';
import { startLog, type RunningLog } from '../../src/app.js';
import { CONFIG_DEFAULTS, type Config } from '../../src/config.js';
import { CandorError } from '@candor/core/errors';
import { isEventLeaf } from '@candor/schema/leaf';
import { ActorType, EventSchema, Outcome, SessionVerb, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import type { Authorize, Permission, Reader } from '../../src/query/access.js';
import { timestampNs } from '@candor/core/time';
import { decodeLoggedEvent, type LoggedEvent } from '../../src/query/types.js';
import { registerProducers, type TestProducer } from '../grpc/helpers.js';
import { tempDir } from '../helpers/server.js';

export const READERS: Record<string, Reader> = {
  'tok-all': { id: 'aud-all', tenants: ['*'], permissions: new Set<Permission>(['search']) },
  'tok-org2': { id: 'aud-2', tenants: ['org-2'], permissions: new Set<Permission>(['search']) },
  'tok-org13': { id: 'aud-13', tenants: ['org-1', 'org-3'], permissions: new Set<Permission>(['search']) },
  'tok-export': { id: 'aud-x', tenants: ['*'], permissions: new Set<Permission>(['export']) },
};

/** A small reader table, as the auditor registry would answer. */
export const testAuthorize: Authorize = (credentials, permission, tenant) => {
  if (!credentials.token) throw new CandorError('unauthenticated', 'a reader token is required');
  const r = READERS[credentials.token];
  if (!r) throw new CandorError('unauthenticated', 'unknown reader token');
  if (!r.permissions.has(permission)) throw new CandorError('permission_denied', `reader ${r.id} may not ${permission}`);
  if (tenant !== undefined && !r.tenants.includes('*') && !r.tenants.includes(tenant)) throw new CandorError('permission_denied', `reader ${r.id} may not see tenant ${tenant}`);
  return r;
};

export type SearchLog = RunningLog & { dir: string; producer: TestProducer; cleanup(): Promise<void> };

/**
 * A log for search tests. Reads are not audited unless `over.auditReads` says so: each audit
 * event is itself an event a later search would find (the test of that is in search.test.ts).
 */
export async function startSearchLog(over: Partial<Config> = {}, registered?: TestProducer): Promise<SearchLog> {
  const dir = over.data ?? tempDir();
  // A restart on the same data passes the producer it registered.
  const producer = registered ?? registerProducers(dir, [{ id: 'gw', tenants: ['org-1', 'org-2', 'org-3'] }]).gw!;
  const log = await startLog(
    { ...CONFIG_DEFAULTS, data: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', logLevel: 'silent', origin: 'test.example/log', auditReads: false, ...over },
    { authorize: testAuthorize },
  );
  return Object.assign(log, {
    dir,
    producer,
    async cleanup() {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

let n = 0;
const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

/** The i-th of a deterministic mix of events: tenants, actors, resources, reviews, sessions, objects, two types. */
export function variedEvent(i: number, over: Partial<MessageInitShape<typeof EventSchema>> = {}): Event {
  const k = ++n;
  const heartbeat = i % 7 === 3;
  return create(EventSchema, {
    eventId: `ev-${process.pid}-${k}`,
    producerEventId: `pe-${process.pid}-${k}`,
    type: heartbeat ? 'producer.heartbeat' : 'session.started',
    // Not in log order: occurred_at runs backwards in blocks.
    occurredAt: timestampFromMs(1_760_000_000_000 + ((i * 7919) % 1000) * 1000),
    tenantId: pick(['org-1', 'org-2', 'org-3'], i),
    actor: heartbeat ? { id: 'gw', type: ActorType.SYSTEM } : { id: pick(['usr_a', 'usr_b', 'usr_c', 'usr_d', 'usr_e'], i), type: ActorType.HUMAN },
    source: { ip: '203.0.113.7', origin: 'cli' },
    resource: { id: pick(['pg-prod', 'pg-stage', 'mysql-1', 'redis'], i >> 1), name: 'db', type: 'database' },
    sessionId: `ses-${i % 40}`,
    outcome: Outcome.SUCCESS,
    ...(i % 5 === 0 ? { correlation: { reviewId: `rev-${i % 15}` } } : {}),
    ...(i % 4 === 1 ? { object: { database: 'app', schema: 'public', name: pick(['users', 'orders'], i >> 2), columns: i % 8 === 1 ? ['email', 'ssn'] : [] } } : {}),
    body: heartbeat ? { case: 'heartbeat', value: {} } : { case: 'sessionStarted', value: { verb: SessionVerb.CONNECT, protocol: 'postgres' } },
    ...(over as object), // see sampleEvent in test/grpc/helpers.ts
  });
}

/** Submits events in-process through ingestion (requests of `per` events). */
export async function ingest(log: SearchLog, events: Event[], per = 50): Promise<void> {
  for (let i = 0; i < events.length; i += per) {
    await log.events.submit({ token: log.producer.token }, { events: [], eventMessages: events.slice(i, i + per) });
  }
}

/** Every event leaf of the log, decoded. */
export async function allEvents(log: RunningLog): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for (let s = 0; s < log.service.size; s += 1000) {
    for (const e of await log.service.entries({ start: s })) if (isEventLeaf(e.data)) out.push(decodeLoggedEvent(e.index, e.data));
  }
  return out;
}

export interface NaiveFilter {
  tenant?: string;
  actor?: string;
  resource?: string;
  type?: string;
  review?: string;
  session?: string;
  object?: string;
  event_id?: string;
  producer_event_id?: string;
  occurred_from?: bigint;
  occurred_to?: bigint;
  integrated_from?: bigint;
  integrated_to?: bigint;
  tenants?: readonly string[];
}

/** The reference: a linear scan with the filters written out again, plainly. */
export function naive(events: LoggedEvent[], f: NaiveFilter, order: 'newest' | 'oldest' = 'newest'): number[] {
  const objects = (e: Event) => {
    const o = e.object;
    if (!o?.name) return [];
    const t = `${o.database}.${o.schema}.${o.name}`;
    return [t, ...o.columns.map((c) => `${t}.${c}`)];
  };
  const out = events
    .filter(({ event: e, receivedAt }) => {
      const occ = e.occurredAt === undefined ? 0n : timestampNs(e.occurredAt);
      const review = e.correlation?.reviewId ?? '';
      return (
        (f.tenant === undefined || e.tenantId === f.tenant) &&
        (f.tenants === undefined || f.tenants.includes(e.tenantId)) &&
        (f.actor === undefined || e.actor?.id === f.actor) &&
        (f.resource === undefined || e.resource?.id === f.resource) &&
        (f.type === undefined || e.type === f.type) &&
        (f.review === undefined || review === f.review) &&
        (f.session === undefined || e.sessionId === f.session) &&
        (f.object === undefined || objects(e).includes(f.object)) &&
        (f.event_id === undefined || e.eventId === f.event_id) &&
        (f.producer_event_id === undefined || e.producerEventId === f.producer_event_id) &&
        (f.occurred_from === undefined || occ >= f.occurred_from) &&
        (f.occurred_to === undefined || occ < f.occurred_to) &&
        (f.integrated_from === undefined || receivedAt >= f.integrated_from) &&
        (f.integrated_to === undefined || receivedAt < f.integrated_to)
      );
    })
    .map((e) => e.index);
  return order === 'newest' ? out.reverse() : out;
}

export { nsTime as rfc3339 } from '@candor/core/time';

export interface JsonHit {
  index: number;
  integratedAt: string;
  leaf: string;
  event: { tenantId: string; [k: string]: unknown };
  proof?: { size: number; leafHash: string; hashes: string[] };
}

export async function httpSearch(url: string, params: Record<string, string | number>, token = 'tok-all'): Promise<{ status: number; body: { results: JsonHit[]; nextCursor?: string; checkpoint?: string; error?: { code: string; message: string } } }> {
  const q = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
  const res = await fetch(`${url}/v1/search?${q}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as never };
}

/** Every page of a search, following cursors (bounded). */
export async function allPages(url: string, params: Record<string, string | number>, token = 'tok-all'): Promise<{ indexes: number[]; pages: number }> {
  const indexes: number[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const r = await httpSearch(url, { ...params, ...(cursor ? { cursor } : {}) }, token);
    if (r.status !== 200) throw new Error(`search failed: ${JSON.stringify(r.body)}`);
    indexes.push(...r.body.results.map((h) => h.index));
    cursor = r.body.nextCursor;
    if (++pages > 10_000) throw new Error('too many pages');
  } while (cursor);
  return { indexes, pages };
}
