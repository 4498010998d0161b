// Reads by auditors over HTTP: GET /v1/reviews/:id/timeline and GET /v1/export on a real server,
// authorized by the auditor registry, and each read appended to the log as exactly one
// audit-of-audit event (none with auditReads: false).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { review, ReviewKind, VoteDecision } from '@candor/gateway/events';
import { fromBase64 } from '@candor/core/bytes';
import { loadConfig } from '../../src/config.js';
import { AUDITORS_FILE, newAuditorToken, updateAuditorsFile } from '../../src/auditors/registry.js';
import { verifyOpening } from '@candor/schema/commitment';
import type { Event } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import type { Permission } from '../../src/query/access.js';
import { decodeLoggedEvent, type LoggedEvent } from '../../src/query/types.js';
import { startTestLog } from '../helpers/log.js';
import { tempDir } from '../helpers/server.js';
import { complete, loggedAt } from '../query/events.js';

type Log = Awaited<ReturnType<typeof startTestLog>>;

/** Registers auditors in a data dir; returns their tokens by ID. */
function registerAuditors(dir: string, specs: { id: string; tenants: string[]; permissions: Permission[] }[]): Record<string, string> {
  const tokens: Record<string, string> = {};
  updateAuditorsFile(join(dir, AUDITORS_FILE), (doc) => {
    for (const s of specs) {
      const t = newAuditorToken();
      tokens[s.id] = t.token;
      doc.auditors.push({ ...s, tokens: [t.record], disabled: false, created: new Date().toISOString() });
    }
  });
  return tokens;
}

/** A review lifecycle in org-1, and an event of a review with the same ID in org-2. */
function reviewEvents(): Event[] {
  const R = 'rev-1';
  const resource = { name: 'pg-prod' };
  const req = complete(review.requested({ actor: { id: 'u-alice' }, reviewId: R, kind: ReviewKind.ONE_TIME_COMMAND, statement: 'SELECT 1', resource }));
  return [
    req,
    complete(review.voteCast({ actor: { id: 'u-bob' }, reviewId: R, group: 'dba', decision: VoteDecision.APPROVE }), { eventId: 'v-1' }),
    complete(review.approved({ actor: { id: 'u-carol' }, reviewId: R, voteEventIds: ['v-1'] })),
    complete(review.requested({ actor: { id: 'u-eve' }, reviewId: R, kind: ReviewKind.JIT_SESSION, resource }), { tenantId: 'org-2' }),
  ];
}

async function startReadLog(over: { auditReads?: boolean } = {}): Promise<{ log: Log; tokens: Record<string, string> }> {
  const dir = tempDir();
  const tokens = registerAuditors(dir, [
    { id: 'aud-1', tenants: ['org-1'], permissions: ['search', 'export'] },
    { id: 'aud-export-only', tenants: ['*'], permissions: ['export'] },
    { id: 'aud-all', tenants: ['*'], permissions: ['search'] },
  ]);
  const log = await startTestLog({ data: dir, ...over });
  await log.service.addMany(reviewEvents().map((e, i) => loggedAt(i, e).leaf));
  return { log, tokens };
}

async function lastEvent(log: Log): Promise<LoggedEvent> {
  const size = log.service.size;
  const [e] = await log.service.entries({ start: size - 1 });
  return decodeLoggedEvent(size - 1, e!.data);
}

/** Waits (bounded) until the log has grown to `size`. */
async function grownTo(log: Log, size: number): Promise<void> {
  for (let i = 0; i < 100 && log.service.size < size; i++) await new Promise((r) => setTimeout(r, 50));
}

describe('reads by auditors, audited', () => {
  let log: Log;
  let tokens: Record<string, string>;
  beforeAll(async () => {
    ({ log, tokens } = await startReadLog());
  });
  afterAll(() => log?.cleanup());
  const get = (path: string, token?: string) => fetch(`${log.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('refuses readers without a token, without the permission, or outside their tenants, and logs nothing', async () => {
    const size = log.service.size;
    const cases: [Response, number, string, RegExp][] = [
      [await get('/v1/reviews/rev-1/timeline'), 401, 'unauthenticated', /no credentials/],
      [await get('/v1/reviews/rev-1/timeline', 'candor_at_nope'), 401, 'unauthenticated', /not a valid auditor token/],
      [await get('/v1/reviews/rev-1/timeline', tokens['aud-export-only']), 403, 'permission_denied', /does not have the search permission/],
      [await get('/v1/reviews/rev-1/timeline?tenant=org-2', tokens['aud-1']), 403, 'permission_denied', /may not read tenant "org-2"/],
      [await get('/v1/export?format=xml', tokens['aud-1']), 400, 'invalid_argument', /format must be one of ndjson, csv, bundle/],
      [await get('/v1/export?tenants=org-1', tokens['aud-1']), 400, 'invalid_argument', /query.tenants is not a known filter/],
      [await get('/v1/export?from=yesterday', tokens['aud-1']), 400, 'invalid_argument', /query.from must be an RFC 3339 time/],
    ];
    for (const [res, status, code, message] of cases) {
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message).toMatch(message);
    }
    expect(log.service.size).toBe(size);
  });

  it("serves a review's timeline from the reader's tenants, and logs the read as one audit.log.queried", async () => {
    const size = log.service.size;
    const res = await get('/v1/reviews/rev-1/timeline', tokens['aud-1']);
    expect(res.status).toBe(200);
    const t = (await res.json()) as { state: string; kind: string; requester: string; ok: boolean; checks: { name: string; ok: boolean }[]; events: { index: number; after: string }[] };
    expect(t).toMatchObject({ state: 'APPROVED', kind: 'REVIEW_KIND_ONE_TIME_COMMAND', requester: 'u-alice', ok: true });
    expect(t.events.map((e) => [e.index, e.after])).toEqual([
      [0, 'PENDING'],
      [1, 'PENDING'],
      [2, 'APPROVED'],
    ]);
    expect(log.service.size).toBe(size + 1);
    const audit = await lastEvent(log);
    expect(audit).toMatchObject({ producer: 'candor', authMethod: AuthMethod.LOG });
    expect(audit.event).toMatchObject({ type: 'audit.log.queried', tenantId: 'org-1', actor: { id: 'aud-1' } });
    expect(res.headers.get('candor-audit-index')).toBe(String(size));
    // The reader got the salt of the commitment to its query, and can open it.
    const digest = audit.event.body.case === 'auditLogQueried' ? audit.event.body.value.queryCommitment : new Uint8Array();
    const salt = fromBase64(res.headers.get('candor-audit-query-salt')!);
    expect(verifyOpening(digest, { field: 'query', salt, value: new TextEncoder().encode(JSON.stringify({ what: 'review.timeline', review: 'rev-1', tenant: ['org-1'] })) })).toBe(true);
  });

  it('never merges the reviews of two tenants that share a review ID: the reader must choose the tenant', async () => {
    const res = await get('/v1/reviews/rev-1/timeline', tokens['aud-all']);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('review "rev-1" has events in tenants org-1, org-2: give tenant= to choose one');
    const two = await get('/v1/reviews/rev-1/timeline?tenant=org-2', tokens['aud-all']);
    expect((await two.json()) as { state: string; requester: string }).toMatchObject({ state: 'PENDING', requester: 'u-eve' });
  });

  it('answers 404 for a review with no events (the read is still logged)', async () => {
    const size = log.service.size;
    const res = await get('/v1/reviews/rev-none/timeline', tokens['aud-1']);
    expect(res.status).toBe(404);
    expect(log.service.size).toBe(size + 1);
  });

  it('streams an export and logs it once as audit.log.exported with the SHA-256 of what was sent', async () => {
    const size = log.service.size;
    const res = await get('/v1/export?format=ndjson&type=review.*', tokens['aud-1']);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect([res.headers.get('candor-export-start'), res.headers.get('candor-export-end')]).toEqual(['0', String(size)]);
    const body = new Uint8Array(await res.arrayBuffer());
    const lines = new TextDecoder().decode(body).trimEnd().split('\n');
    // Only org-1, the reader's tenant: the org-2 request is left out.
    expect(lines.map((l) => (JSON.parse(l) as { index: number }).index)).toEqual([0, 1, 2]);
    await grownTo(log, size + 1);
    expect(log.service.size).toBe(size + 1);
    const audit = await lastEvent(log);
    expect(audit.event.type).toBe('audit.log.exported');
    if (audit.event.body.case !== 'auditLogExported') throw new Error('not an export event');
    expect(audit.event.body.value).toMatchObject({ format: 'ndjson', eventCount: 3n });
    expect(Buffer.from(audit.event.body.value.bundleDigest).toString('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });
});

describe('auditReads: false', () => {
  let log: Log;
  let tokens: Record<string, string>;
  beforeAll(async () => {
    ({ log, tokens } = await startReadLog({ auditReads: false }));
  });
  afterAll(() => log?.cleanup());

  it('serves timelines and exports and appends nothing', async () => {
    const size = log.service.size;
    const headers = { authorization: `Bearer ${tokens['aud-1']}` };
    const t = await fetch(`${log.url}/v1/reviews/rev-1/timeline`, { headers });
    expect(t.status).toBe(200);
    expect(t.headers.get('candor-audit-index')).toBeNull();
    const x = await fetch(`${log.url}/v1/export?format=csv`, { headers });
    expect((await x.text()).split('\r\n')).toHaveLength(1 + 3 + 1);
    // Give an export's audit event the time it would take, then check that none came.
    await new Promise((r) => setTimeout(r, 200));
    expect(log.service.size).toBe(size);
  });
});

describe('config auditReads', () => {
  it('is on by default, set by file, environment or flag, and anything but a boolean word is refused naming the key', () => {
    expect(loadConfig({ env: {} }).auditReads).toBe(true);
    expect(loadConfig({ env: { CANDOR_AUDIT_READS: 'false' } }).auditReads).toBe(false);
    expect(loadConfig({ env: {}, flags: { auditReads: false } }).auditReads).toBe(false);
    expect(() => loadConfig({ env: { CANDOR_AUDIT_READS: 'maybe' } })).toThrow(/config auditReads \(from environment\) must be true or false/);
  });
});
