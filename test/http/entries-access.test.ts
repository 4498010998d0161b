// Reading entries is a permission (issue 18 §4): no route of the log, HTTP (public and admin
// listener) or gRPC, gives an unauthenticated client or an auditor of one tenant an event of
// another tenant. The routes are enumerated from the servers' route tables and the gRPC service
// definitions, so a route added later is probed too. Checkpoints and hash tiles stay public, an
// auditor with read-log reads the whole log, and a log configured public serves entries to anyone.
import { Client, Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubmitBatchRequestSchema, SubmitBatchResponseSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { logServiceDefinition, queryServiceDefinition } from '@candor/schema/grpc';
import { routeTable } from '../../src/http/server.js';
import { RawClient, encoded, sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';
import { addAuditors } from '../helpers/auditors.js';
import { startTestLog } from '../helpers/log.js';
import { tempDir } from '../helpers/server.js';

/** In every event of tenant org-b, and nowhere else: a response holding it leaked one. */
const SECRET = 'usr-secret-of-org-b-4f1c9';
const MARKER_A = 'usr-of-org-a-77e2';

/** Whether bytes hold SECRET, as it is or in base64 (entries in JSON are base64). */
function leaks(body: Buffer): boolean {
  if (body.includes(SECRET)) return true;
  for (const m of body.toString('latin1').matchAll(/[A-Za-z0-9+/]{16,}={0,2}/g)) {
    for (let skip = 0; skip < 4; skip++) if (Buffer.from(m[0].slice(skip), 'base64').includes(SECRET)) return true;
  }
  return false;
}

/** A request's status and as much of its body as arrives within a second (tails never end). */
async function probe(url: string, init: RequestInit): Promise<{ status: number; body: Buffer }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 1000);
  const chunks: Buffer[] = [];
  let status = 0;
  try {
    const res = await fetch(url, { ...init, signal: ac.signal });
    status = res.status;
    for await (const c of res.body ?? []) chunks.push(Buffer.from(c));
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  return { status, body: Buffer.concat(chunks) };
}

let log: EventLog;
let tokens: Record<string, string>;
let eventB: string;

beforeAll(async () => {
  const dir = tempDir();
  tokens = addAuditors(dir, [
    { id: 'aud-a', tenants: ['org-a'], permissions: ['search', 'export', 'disclose', 'erase'] },
    { id: 'aud-all', tenants: ['*'], permissions: ['read-log'] },
  ]);
  log = await startEventLog(
    [
      { id: 'gw-a', tenants: ['org-a'] },
      { id: 'gw-b', tenants: ['org-b'] },
    ],
    { data: dir, admin: '127.0.0.1:0' },
  );
  const submit = async (producer: string, events: ReturnType<typeof sampleEvent>[]) => {
    const c = new RawClient(log.address, log.creds[producer]!.token);
    await c.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: events.map(encoded) });
    c.close();
  };
  const b = Array.from({ length: 5 }, (_, i) =>
    sampleEvent({ tenantId: 'org-b', actor: { id: SECRET, type: 1 }, resource: { name: `${SECRET}-db`, type: 'database' }, correlation: { reviewId: `rev-b-${i}` } }),
  );
  eventB = b[0]!.eventId;
  await submit('gw-b', b);
  await submit('gw-a', Array.from({ length: 3 }, () => sampleEvent({ tenantId: 'org-a', actor: { id: MARKER_A, type: 1 } })));
}, 30_000);

afterAll(async () => {
  await log?.cleanup();
});

describe('entries are a permission', () => {
  it('no HTTP route gives an unauthenticated client or a single-tenant auditor an event of another tenant', async () => {
    const size = log.service.size;
    const servers = [
      { base: log.url, routes: routeTable(log.http) },
      { base: log.admin!.url, routes: routeTable(log.admin!.http) },
    ];
    // The table is the servers' own: a sanity check that it is complete enough to mean something.
    const all = servers.flatMap((s) => s.routes.map((r) => `${r.method} ${r.url}`));
    for (const r of ['GET /entries', 'GET /tile/*', 'GET /v1/search', 'GET /v1/export', 'GET /v1/openings/:event_id', 'POST /v1/erasures']) expect(all).toContain(r);

    const queries = ['', '?start=0', `?start=0&end=${size}`, '?tenant=org-b', `?actor=${SECRET}`, `?tenant=org-b&actor=${SECRET}`, '?format=ndjson&tenant=org-b', '?format=bundle', '?format=csv', '?after=0', '?tenant=org-b&after=0', '?index=0'];
    const callers: [string, Record<string, string>][] = [
      ['no credentials', {}],
      ['auditor of org-a', { authorization: `Bearer ${tokens['aud-a']}` }],
      ['a producer of org-a', { authorization: `Bearer ${log.creds['gw-a']!.token}` }],
    ];
    let probes = 0;
    for (const { base, routes } of servers) {
      for (const { method, url } of routes) {
        if (method === 'HEAD' || method === 'OPTIONS') continue;
        const paths = url === '/tile/*' ? ['/tile/entries/000', `/tile/entries/000.p/${size}`, `/tile/0/000.p/${size}`] : [url.replace(':event_id', eventB).replace(':id', 'rev-b-0')];
        for (const path of paths) {
          for (const q of method === 'GET' ? queries : ['']) {
            for (const [who, headers] of callers) {
              const init: RequestInit =
                method === 'GET'
                  ? { headers }
                  : { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ request_id: 'r1', tenant_id: 'org-b', legal_basis: 'test', event_id: eventB, leaf_index: 0 }) };
              const r = await probe(`${base}${path}${q}`, init);
              probes++;
              expect(leaks(r.body), `${method} ${path}${q} as ${who} answered ${r.status} with an event of org-b`).toBe(false);
            }
          }
        }
      }
    }
    expect(probes).toBeGreaterThan(100);

    // The detector sees entries when they are served: to a reader of the whole log.
    const whole = await probe(`${log.url}/entries?start=0`, { headers: { authorization: `Bearer ${tokens['aud-all']}` } });
    expect(whole.status).toBe(200);
    expect(leaks(whole.body)).toBe(true);
    const bundle = await probe(`${log.url}/tile/entries/000.p/${size}`, { headers: { authorization: `Bearer ${tokens['aud-all']}` } });
    expect(bundle.status).toBe(200);
    expect(leaks(bundle.body)).toBe(true);
  }, 120_000);

  it('refuses entries with a message naming the permission, and keeps checkpoints and hash tiles public', async () => {
    const size = log.service.size;
    const none = await fetch(`${log.url}/entries?start=0`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { message: string } }).error.message).toMatch(/read-log/);
    const a = await fetch(`${log.url}/tile/entries/000.p/${size}`, { headers: { authorization: `Bearer ${tokens['aud-a']}` } });
    expect(a.status).toBe(403);
    expect(((await a.json()) as { error: { message: string } }).error.message).toMatch(/auditor aud-a does not have the read-log permission/);
    expect((await fetch(`${log.url}/checkpoint`)).status).toBe(200);
    const tile = await fetch(`${log.url}/tile/0/000.p/${size}`);
    expect(tile.status).toBe(200);
    expect(tile.headers.get('cache-control')).toMatch(/^public/);
    expect((await fetch(`${log.url}/proof/inclusion?index=0`)).status).toBe(200);
    // An authenticated entry bundle is for the reader's cache only.
    const own = await fetch(`${log.url}/tile/entries/000.p/${size}`, { headers: { authorization: `Bearer ${tokens['aud-all']}` } });
    expect(own.headers.get('cache-control')).toMatch(/^private/);
  });

  it('no gRPC method gives an unauthenticated client or a single-tenant auditor an event of another tenant', async () => {
    const client = new Client(log.address, credentials.createInsecure());
    const requests: Record<string, Uint8Array> = {
      GetEntries: Uint8Array.of(0x08, 0x00), // start: 0
      Search: new Uint8Array(),
      Tail: new Uint8Array(),
    };
    const call = (path: string, def: { requestStream: boolean; responseStream: boolean }, req: Uint8Array, md: Metadata) =>
      new Promise<{ code: number; body: Buffer }>((resolve) => {
        const chunks: Buffer[] = [];
        const id = (b: Buffer) => b;
        const deadline = { deadline: Date.now() + 1500 };
        const done = (err: ServiceError | null) => resolve({ code: err ? err.code : 0, body: Buffer.concat(chunks) });
        if (!def.requestStream && !def.responseStream) {
          client.makeUnaryRequest(path, id, id, Buffer.from(req), md, deadline, (err, res) => {
            if (res) chunks.push(res);
            done(err);
          });
        } else if (!def.requestStream) {
          const s = client.makeServerStreamRequest(path, id, id, Buffer.from(req), md, deadline);
          s.on('data', (b: Buffer) => chunks.push(b));
          s.on('error', (e: ServiceError) => done(e));
          s.on('end', () => done(null));
        } else {
          const s = client.makeBidiStreamRequest(path, id, id, md, deadline);
          s.on('data', (b: Buffer) => chunks.push(b));
          s.on('error', (e: ServiceError) => done(e));
          s.on('end', () => done(null));
          s.end();
        }
      });
    const md = (token?: string) => {
      const m = new Metadata();
      if (token) m.set('authorization', `Bearer ${token}`);
      return m;
    };
    try {
      const methods = [...Object.entries(logServiceDefinition), ...Object.entries(queryServiceDefinition)];
      expect(methods.map(([n]) => n)).toContain('GetEntries');
      for (const [name, def] of methods) {
        for (const [who, token] of [
          ['no credentials', undefined],
          ['auditor of org-a', tokens['aud-a']],
        ] as const) {
          const r = await call(def.path, def, requests[name] ?? new Uint8Array(), md(token));
          expect(leaks(r.body), `${name} as ${who} answered ${r.code} with an event of org-b`).toBe(false);
        }
      }
      const refused = await call(logServiceDefinition.GetEntries!.path, logServiceDefinition.GetEntries!, requests.GetEntries!, md());
      expect(refused.code).toBe(16); // UNAUTHENTICATED
      const whole = await call(logServiceDefinition.GetEntries!.path, logServiceDefinition.GetEntries!, requests.GetEntries!, md(tokens['aud-all']));
      expect(whole.code).toBe(0);
      expect(leaks(whole.body)).toBe(true);
    } finally {
      client.close();
    }
  }, 60_000);

  it('a read-log auditor must be allowed every tenant', () => {
    expect(() => addAuditors(log.dir, [{ id: 'aud-bad', tenants: ['org-a'], permissions: ['read-log'] }])).toThrow(/read-log reads every tenant's entries: it needs --tenant "\*"/);
  });
});

describe('a log configured public (publicEntries)', () => {
  it('serves entries to anyone', async () => {
    const pub = await startTestLog({ publicEntries: true });
    try {
      await pub.service.add(new TextEncoder().encode('a public entry'));
      const r = await fetch(`${pub.url}/entries?start=0`);
      expect(r.status).toBe(200);
      const bundle = await fetch(`${pub.url}/tile/entries/000.p/1`);
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get('cache-control')).toMatch(/^public/);
    } finally {
      await pub.cleanup();
    }
  });
});
