/**
 * Search (issue 5): on a log of BENCH_SEARCH_EVENTS audit events (default 1M; 10M with
 * BENCH_SEARCH_EVENTS=10000000), built once through EventIngest in-process with realistic
 * variety and cached under $TMPDIR/candor-bench-logs/events-<n>:
 *   - ingest events/s with the search indexes on and off, in the same run, alternating, into
 *     fresh logs of BENCH_SEARCH_INGEST events (ceiling: ingest without indexes; goal >= 70%);
 *   - disk bytes per event with and without indexes (LevelDB's size estimate per kind of key);
 *   - search latency (in-process SearchService, p50/p99) for several filter shapes, each
 *     returning up to 100 results, newest first (goal: p99 < 20 ms).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ClassicLevel } from 'classic-level';
import { encodeEvent } from '@candor/schema/encoding';
import { IdempotencyIndex } from '../src/events/idempotency.js';
import { EventIngest } from '../src/events/ingest.js';
import { ActorType, EventSchema, Outcome, SessionVerb } from '@candor/schema/gen/candor/v1/event_pb';
import { nodeHasher } from '../src/crypto/node.js';
import { loadLogKeys } from '../src/keys.js';
import { Sequencer } from '../src/log/sequencer.js';
import { LogService } from '../src/log/service.js';
import { ProducerRegistry, REGISTRY_FILE, newToken, updateRegistryFile } from '../src/producers/registry.js';
import type { Permission } from '../src/query/access.js';
import { SearchService, type SearchRequest } from '../src/query/search.js';
import { SHARED_FIELDS, leafTerms } from '../src/query/terms.js';
import { LevelStore } from '../src/storage/level.js';
import { MERGE_WINDOW } from '../src/storage/merge.js';
import { fmt, headline, median, meta, ms, otherLoad, quantile, saveResult, verdict, writeSection, type ResultMeta } from './lib.js';

const N = Number(process.env.BENCH_SEARCH_EVENTS ?? 1_000_000);
const INGEST_N = Number(process.env.BENCH_SEARCH_INGEST ?? Math.min(N, 200_000));
const QUERIES = Number(process.env.BENCH_SEARCH_QUERIES ?? 300);
/** Ingest runs with and without indexes, alternating (the median of each is compared). */
const INGEST_ROUNDS = Number(process.env.BENCH_SEARCH_ROUNDS ?? 3);
/** Events per request and requests in flight while ingesting. */
const PER_REQUEST = 256;
const IN_FLIGHT = 8;

const TENANTS = 50;
const ACTORS = 5000;
const RESOURCES = 2000;
const SESSION_EVENTS = 20;

function h(x: number): number {
  let v = (x ^ 0x9e3779b9) >>> 0;
  v = Math.imul(v ^ (v >>> 16), 0x85ebca6b) >>> 0;
  v = Math.imul(v ^ (v >>> 13), 0xc2b2ae35) >>> 0;
  return (v ^ (v >>> 16)) >>> 0;
}

/** Who a session is: skewed, a few big tenants and busy actors, then a long tail. */
function sessionAttrs(session: number): { tenant: number; actor: number; resource: number } {
  const s = h(session);
  return { tenant: Math.floor(TENANTS * (s / 2 ** 32) ** 2), actor: Math.floor(ACTORS * (h(s) / 2 ** 32) ** 2), resource: h(s + 1) % RESOURCES };
}

/** A deterministic pseudo-random mix: zipf-like tenants and actors, sessions of 20 events, reviews, objects. */
function eventAt(i: number, producer: string, salt: string): Uint8Array {
  const session = Math.floor(i / SESSION_EVENTS);
  const { tenant, actor, resource } = sessionAttrs(session);
  const heartbeat = h(i) % 20 === 0;
  const review = session % 10 === 0 ? `rev-${session}` : '';
  const table = h(i + 7) % 3 === 0;
  return encodeEvent(
    create(EventSchema, {
      eventId: `ev-${salt}-${i}`,
      producerEventId: `pe-${salt}-${i}`,
      type: heartbeat ? 'producer.heartbeat' : 'session.started',
      occurredAt: timestampFromMs(1_760_000_000_000 + i),
      tenantId: `org-${tenant}`,
      actor: heartbeat ? { id: producer, type: ActorType.SYSTEM } : { id: `usr_${actor}`, type: ActorType.HUMAN },
      source: { ip: '203.0.113.7', origin: 'cli' },
      resource: { id: `db-${resource}`, name: `db-${resource}`, type: 'database', subtype: 'postgres' },
      sessionId: `ses-${salt}-${session}`,
      outcome: Outcome.SUCCESS,
      ...(review ? { correlation: { reviewId: review } } : {}),
      ...(table ? { object: { database: `app${resource % 10}`, schema: 'public', name: `t${h(i) % 50}`, columns: h(i) % 2 ? ['email'] : [] } } : {}),
      body: heartbeat ? { case: 'heartbeat', value: {} } : { case: 'sessionStarted', value: { verb: SessionVerb.CONNECT, protocol: 'postgres' } },
    }),
  );
}

interface BenchLog {
  store: LevelStore;
  seq: Sequencer;
  service: LogService;
  ingest: EventIngest;
  index: IdempotencyIndex;
  registry: ProducerRegistry;
  token: string;
  close(): Promise<void>;
}

async function openLog(dir: string, indexes: boolean): Promise<BenchLog> {
  mkdirSync(dir, { recursive: true });
  const reg = join(dir, REGISTRY_FILE);
  let token = existsSync(join(dir, 'token')) ? readFileSync(join(dir, 'token'), 'utf8') : '';
  if (!token) {
    const t = newToken();
    updateRegistryFile(reg, (doc) => {
      doc.producers.push({ id: 'gw', tenants: ['*'], eventTypes: ['*'], tokens: [t.record], mtls: [], keys: [], disabled: false, created: new Date().toISOString() });
    });
    token = t.token;
    writeFileSync(join(dir, 'token'), token);
  }
  const keys = loadLogKeys({ dataDir: dir, origin: 'bench.example/events' });
  // As the server opens it: finished windows' blocks merged in the background (src/storage/merge.ts).
  const store = await LevelStore.open(join(dir, 'db'), indexes ? { merge: { shared: SHARED_FIELDS, termsOf: leafTerms } } : {});
  const seq = await Sequencer.open({ origin: keys.origin, signers: keys.signers, verifiers: keys.verifiers, hasher: nodeHasher, store, maxBatch: 16384, maxQueue: 1 << 20 });
  const service = new LogService({ sequencer: seq, store, hasher: nodeHasher });
  const registry = ProducerRegistry.open(reg, { watchMs: 0 });
  const index = await IdempotencyIndex.open(join(dir, 'idempotency'), service);
  const ingest = new EventIngest({ service, registry, index, indexes });
  return {
    store,
    seq,
    service,
    ingest,
    index,
    registry,
    token,
    async close() {
      await seq.close();
      registry.close();
      await index.close();
      await store.close();
    },
  };
}

/** Ingests events [from, to) with IN_FLIGHT requests of PER_REQUEST events; returns events/s. */
async function ingestRange(log: BenchLog, from: number, to: number, salt: string, report?: (done: number) => void): Promise<number> {
  const t0 = performance.now();
  let next = from;
  let lastReport = t0;
  const worker = async () => {
    while (next < to) {
      const start = next;
      const end = Math.min(to, start + PER_REQUEST);
      next = end;
      const events: Uint8Array[] = [];
      for (let i = start; i < end; i++) events.push(eventAt(i, 'gw', salt));
      await log.ingest.submit({ token: log.token }, { events, eventMessages: [] });
      if (report && performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        report(next);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return (to - from) / ((performance.now() - t0) / 1000);
}

interface Disk {
  total: number;
  indexes: number;
}

async function diskUse(dir: string): Promise<Disk> {
  const db = join(dir, 'db');
  const level = new ClassicLevel<Uint8Array, Uint8Array>(db, { keyEncoding: 'view', valueEncoding: 'view' });
  await level.open();
  try {
    // Compacted first, so both logs are measured in the same state.
    await level.compactRange(Uint8Array.of(0), Uint8Array.of(0xff));
    const indexes = await level.approximateSize(Uint8Array.of(0x78), Uint8Array.of(0x79));
    const total = readdirSync(db).reduce((a, f) => a + statSync(join(db, f)).size, 0);
    return { total, indexes };
  } finally {
    await level.close();
  }
}

/** What the cached log's bytes depend on: the leaf, entry-run and index formats, and the generated events. */
function fingerprint(): string {
  const hash = createHash('sha256');
  for (const m of ['../src/storage/postings.js', '../src/storage/level.js', '../src/storage/merge.js', '../src/query/terms.js', '../src/schema/leaf.js']) hash.update(readFileSync(fileURLToPath(new URL(m, import.meta.url))));
  hash.update(`${eventAt.toString()}${sessionAttrs.toString()}${h.toString()}`);
  return hash.digest('hex').slice(0, 16);
}

/** The cached log of N events with indexes (built now if missing or built by other code). */
async function cachedEventLog(n: number): Promise<{ dir: string; buildRate: number }> {
  const dir = join(tmpdir(), 'candor-bench-logs', `events-${n}`);
  const info = join(dir, 'build.json');
  const fp = fingerprint();
  if (existsSync(info)) {
    const b = JSON.parse(readFileSync(info, 'utf8')) as { fingerprint: string; rate: number };
    if (b.fingerprint === fp || process.env.BENCH_REUSE_LOGS === '1') return { dir, buildRate: b.rate };
  }
  rmSync(dir, { recursive: true, force: true });
  const log = await openLog(dir, true);
  console.log(`building a log of ${fmt(n)} events with indexes in ${dir}`);
  const rate = await ingestRange(log, 0, n, 'big', (done) => console.log(`  ${fmt(done)} of ${fmt(n)} events`));
  await log.close();
  writeFileSync(info, `${JSON.stringify({ fingerprint: fp, rate, date: new Date().toISOString() })}\n`);
  return { dir, buildRate: rate };
}

interface Shape {
  name: string;
  make(r: () => number): SearchRequest;
}

const pickInt = (r: () => number, n: number, skew = 2) => Math.floor(n * r() ** skew);

const SHAPES: Shape[] = [
  { name: 'tenant', make: (r) => ({ terms: { tenant: `org-${pickInt(r, TENANTS)}` } }) },
  { name: 'actor', make: (r) => ({ terms: { actor: `usr_${pickInt(r, ACTORS)}` } }) },
  // Pairs that occur together: taken from a random session.
  {
    name: 'tenant + actor',
    make: (r) => {
      const a = sessionAttrs(Math.floor((r() * N) / SESSION_EVENTS));
      return { terms: { tenant: `org-${a.tenant}`, actor: `usr_${a.actor}` } };
    },
  },
  {
    name: 'tenant + type + resource',
    make: (r) => {
      const a = sessionAttrs(Math.floor((r() * N) / SESSION_EVENTS));
      return { terms: { tenant: `org-${a.tenant}`, type: 'session.started', resource: `db-${a.resource}` } };
    },
  },
  { name: 'session', make: (r) => ({ terms: { session: `ses-big-${Math.floor((r() * N) / SESSION_EVENTS)}` } }) },
  { name: 'review', make: (r) => ({ terms: { review: `rev-${Math.floor((r() * N) / SESSION_EVENTS / 10) * 10}` } }) },
  {
    name: 'object + tenant',
    make: (r) => {
      const a = sessionAttrs(Math.floor((r() * N) / SESSION_EVENTS));
      return { terms: { object: `app${a.resource % 10}.public.t${Math.floor(r() * 50)}`, tenant: `org-${a.tenant}` } };
    },
  },
  { name: 'tenant, oldest first, page 2', make: (r) => ({ terms: { tenant: `org-${pickInt(r, TENANTS)}` }, order: 'oldest' }) },
  { name: 'all, integrated_at range', make: () => ({ terms: {} }) },
];

export interface SearchBench {
  meta: ResultMeta;
  events: number;
  ingestEvents: number;
  buildRate: number;
  ingest: { on: number[]; off: number[] };
  disk: { on: Disk; off: Disk; big: Disk };
  /** Windows merged when the big log was opened (0 when it was merged already), and how long it took. */
  merge?: { windows: number; seconds: number };
  shapes: { name: string; p50: number; p99: number; max: number; meanResults: number }[];
}

export async function main(): Promise<void> {
  if (process.env.BENCH_SEARCH_BUILD_ONLY === '1') {
    // Builds (or checks) the cached log only: it takes long at 10M, so it can be started early.
    const { dir, buildRate } = await cachedEventLog(N);
    console.log(`log of ${fmt(N)} events in ${dir}, built at ${fmt(buildRate)} events/s`);
    return;
  }
  const before = await otherLoad();
  const root = join(tmpdir(), 'candor-bench-search');
  rmSync(root, { recursive: true, force: true });
  // Ingest with and without indexes, alternating, into fresh logs.
  const ingest = { on: [] as number[], off: [] as number[] };
  const disks: Partial<Record<'on' | 'off', Disk>> = {};
  for (let round = 0; round < INGEST_ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const dir = join(root, `${mode}-${round}`);
      const log = await openLog(dir, mode === 'on');
      const rate = await ingestRange(log, 0, INGEST_N, `${mode}${round}`);
      await log.close();
      ingest[mode].push(rate);
      console.log(`ingest, indexes ${mode}: ${fmt(rate)} events/s`);
      if (round === INGEST_ROUNDS - 1) disks[mode] = await diskUse(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const { dir, buildRate } = await cachedEventLog(N);
  // A log built before merging existed, or by an earlier version, is merged on open: timed here
  // (nothing to do when already merged), then measured on disk.
  let log = await openLog(dir, true);
  const mergeStart = performance.now();
  await log.store.merger!.run(log.seq.size);
  const merge = { windows: log.store.merger!.merged, seconds: (performance.now() - mergeStart) / 1000 };
  if (merge.windows > 0) console.log(`merged ${merge.windows} windows of ${fmt(MERGE_WINDOW)} entries in ${fmt(merge.seconds, 1)} s`);
  await log.close();
  const big = await diskUse(dir);
  log = await openLog(dir, true);
  const all = new Set<Permission>(['search']);
  const search = new SearchService({ service: log.service, store: log.store, index: log.store, commits: log.seq, authorize: () => ({ id: 'bench', tenants: ['*'], permissions: all }) });
  let seed = 42;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  // integrated_at of the last tenth of the log: the receive time of its first event.
  const tenth = (await log.service.entries({ start: Math.floor(N * 0.9), end: Math.floor(N * 0.9) + 1 }))[0]!.data;
  const { parseEventLeaf } = await import('@candor/schema/leaf');
  const from = parseEventLeaf(tenth).receivedAt;
  const shapes: SearchBench['shapes'] = [];
  for (const shape of SHAPES) {
    const times: number[] = [];
    let results = 0;
    for (let q = 0; q < QUERIES + 10; q++) {
      const req = { ...shape.make(rand), limit: 100 };
      if (shape.name.startsWith('all')) req.integratedFrom = from;
      let cursor: string | undefined;
      if (shape.name.includes('page 2')) cursor = (await search.search({}, req)).nextCursor;
      const t0 = performance.now();
      const page = await search.search({}, cursor ? { ...req, cursor } : req);
      const t = performance.now() - t0;
      if (q >= 10) {
        times.push(t);
        results += page.results.length;
      }
    }
    times.sort((a, b) => a - b);
    const row = { name: shape.name, p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: times[times.length - 1]!, meanResults: results / QUERIES };
    shapes.push(row);
    console.log(`search ${row.name}: p50 ${ms(row.p50)} ms, p99 ${ms(row.p99)} ms, ${fmt(row.meanResults, 1)} results`);
  }
  await log.close();
  const after = await otherLoad();
  const data: SearchBench = {
    meta: meta('search', 'npm run bench -- search', before, after),
    events: N,
    ingestEvents: INGEST_N,
    buildRate,
    ingest,
    disk: { on: disks.on!, off: disks.off!, big },
    merge,
    shapes,
  };
  saveResult('search', data);
  writeSection('Search', searchSection(data));
}

export function searchSection(d: SearchBench): string {
  const on = median(d.ingest.on);
  const off = median(d.ingest.off);
  const ratio = on / off;
  // Each round ran both modes back to back: their ratios show how much the load moved.
  const rounds = d.ingest.on.map((x, i) => `${fmt((x / d.ingest.off[i]!) * 100)}%`).join(', ');
  const worst = Math.max(...d.shapes.map((s) => s.p99));
  const per = (b: number, n: number) => fmt(b / n, 1);
  return [
    headline(d.meta, `${fmt(d.events)} audit events; ingest compared on fresh logs of ${fmt(d.ingestEvents)}`),
    '',
    '| Goal | Measured | Ceiling | Verdict |',
    '|---|---|---|---|',
    `| Ingest with all indexes ≥ 70% of ingest without (same run) | ${fmt(on)} events/s, median (runs ${d.ingest.on.map((x) => fmt(x)).join(', ')}) | ${fmt(off)} events/s without indexes, median (runs ${d.ingest.off.map((x) => fmt(x)).join(', ')}) | ${fmt(ratio * 100)}%: ${verdict(ratio >= 0.7)} |`,
    `| Indexed search of up to 100 results, p99 < 20 ms (log of ${fmt(d.events)}) | worst shape p99 ${ms(worst)} ms | | ${verdict(worst < 20)} |`,
    '',
    `Ingest is EventIngest in-process (${PER_REQUEST} events per request, ${IN_FLIGHT} requests in flight, validation, leaf encoding, idempotency, one synced commit per batch), ${d.ingest.on.length} runs each, alternating, medians compared; ratio per round ${rounds}. The ${fmt(d.events)}-event log was built at ${fmt(d.buildRate)} events/s with indexes.`,
    '',
    '| Disk (LevelDB, compacted) | bytes/event | of which indexes |',
    '|---|---|---|',
    `| Without indexes (${fmt(d.ingestEvents)} events) | ${per(d.disk.off.total, d.ingestEvents)} | ${per(d.disk.off.indexes, d.ingestEvents)} |`,
    `| With indexes (${fmt(d.ingestEvents)} events) | ${per(d.disk.on.total, d.ingestEvents)} | ${per(d.disk.on.indexes, d.ingestEvents)} |`,
    `| With indexes (${fmt(d.events)} events) | ${per(d.disk.big.total, d.events)} | ${per(d.disk.big.indexes, d.events)} |`,
    '',
    ...(d.merge && d.merge.windows > 0
      ? [`The ${fmt(d.events)}-event log was built before its windows were merged: opening it merged ${d.merge.windows} windows of ${fmt(MERGE_WINDOW)} entries from their leaves in ${fmt(d.merge.seconds, 1)} s (${fmt((d.merge.windows * MERGE_WINDOW) / d.merge.seconds)} entries/s), before the disk and search figures.`, '']
      : []),
    `Search latency: SearchService in-process (HTTP adds its own ~1 ms), newest first unless said, limit 100, ${QUERIES} queries per shape with random values (skewed like the data), sequential.`,
    '',
    '| Filters | p50 ms | p99 ms | max ms | mean results |',
    '|---|---|---|---|---|',
    ...d.shapes.map((s) => `| ${s.name} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} | ${fmt(s.meanResults, 1)} |`),
  ].join('\n');
}
