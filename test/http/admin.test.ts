// The admin listener: with `admin` configured, /metrics and the admin routes are served there
// and not on the public listener; without it, only admin routes that authenticate their callers
// are served publicly (the mechanism an erasure route guarded by a reader permission uses).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyPluginAsync } from 'fastify';
import { CandorError } from '@candor/core/errors';
import { createMetrics } from '../../src/log/metrics.js';
import type { LogService } from '../../src/log/service.js';
import type { AdminRoutes } from '../../src/http/admin.js';
import { buildHttpServer } from '../../src/http/server.js';
import { startEventLog, type EventLog } from '../grpc/helpers.js';

let withAdmin: EventLog;
let without: EventLog;

beforeAll(async () => {
  withAdmin = await startEventLog([{ id: 'gw-a', rateLimit: { eventsPerSecond: 5, burst: 10 }, dailyQuota: 1000 }, { id: 'gw-b' }], { admin: '127.0.0.1:0', producerEventsPerSecond: 100 });
  without = await startEventLog([{ id: 'gw-c' }]);
});
afterAll(async () => {
  await withAdmin?.cleanup();
  await without?.cleanup();
});

describe('the admin listener', () => {
  it('serves metrics and the producer registry with limits, on its own port', async () => {
    expect(withAdmin.admin!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(withAdmin.admin!.url).not.toBe(withAdmin.url);
    expect((await fetch(`${withAdmin.admin!.url}/metrics`)).status).toBe(200);
    const r = (await (await fetch(`${withAdmin.admin!.url}/v1/admin/producers`)).json()) as { producers: { id: string; tokens: string[]; limits: object }[] };
    expect(r.producers.map((p) => p.id)).toEqual(['gw-a', 'gw-b']);
    expect(r.producers[0]!.limits).toEqual({ eventsPerSecond: 5, burst: 10, tokens: 10, dailyQuota: 1000, usedToday: 0 });
    expect(r.producers[1]!.limits).toMatchObject({ eventsPerSecond: 100, burst: 100, dailyQuota: 0 });
    // Token IDs only: never a token or its hash.
    expect(JSON.stringify(r)).not.toMatch(/sha256|candor_pt_/);
  });

  it('takes /metrics and the admin routes off the public listener', async () => {
    expect((await fetch(`${withAdmin.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${withAdmin.url}/v1/admin/producers`)).status).toBe(404);
    expect((await fetch(`${withAdmin.url}/healthz`)).status).toBe(200);
  });

  it('serves POST /v1/erasures on the admin listener only when there is one, else on the public one (issue 18 §5)', async () => {
    const erase = (url: string) =>
      fetch(`${url}/v1/erasures`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ request_id: 'e1', tenant_id: 'org-1', legal_basis: 'test' }) });
    expect((await erase(withAdmin.url)).status).toBe(404);
    // Served there, and still checks its caller: no reader token, 401.
    expect((await erase(withAdmin.admin!.url)).status).toBe(401);
    expect((await erase(without.url)).status).toBe(401);
  });

  it('is off by default: public metrics as before, no unauthenticated admin route', async () => {
    expect(without.admin).toBeUndefined();
    expect((await fetch(`${without.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${without.url}/v1/admin/producers`)).status).toBe(404);
  });

  it('mounts groups that authenticate their callers on the public listener when there is no admin listener', async () => {
    const guarded: FastifyPluginAsync = async (app) => {
      app.post('/v1/guarded', async (req) => {
        if (req.headers.authorization !== 'Bearer reader-with-erase') throw new CandorError('permission_denied', 'needs the erase permission');
        return { ok: true };
      });
    };
    const open: FastifyPluginAsync = async (app) => {
      app.get('/v1/open', async () => ({ ok: true }));
    };
    const groups: AdminRoutes[] = [
      { plugin: guarded, authenticates: true },
      { plugin: open, authenticates: false },
    ];
    const service = { size: 0 } as unknown as LogService;
    const pub = await buildHttpServer({ service, metrics: createMetrics({ defaultMetrics: false }), logLevel: 'silent', admin: groups });
    try {
      expect((await pub.inject({ method: 'POST', url: '/v1/guarded' })).statusCode).toBe(403);
      expect((await pub.inject({ method: 'POST', url: '/v1/guarded', headers: { authorization: 'Bearer reader-with-erase' } })).statusCode).toBe(200);
      expect((await pub.inject({ method: 'GET', url: '/v1/open' })).statusCode).toBe(404);
    } finally {
      await pub.close();
    }
    const behind = await buildHttpServer({ service, metrics: createMetrics({ defaultMetrics: false }), logLevel: 'silent', admin: groups, adminListener: true });
    try {
      expect((await behind.inject({ method: 'POST', url: '/v1/guarded', headers: { authorization: 'Bearer reader-with-erase' } })).statusCode).toBe(404);
    } finally {
      await behind.close();
    }
  });
});
