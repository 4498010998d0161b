// Deposit and disclosure of openings: a gateway deposits the openings the SDK kept, an auditor
// gets them back and checks each against the commitments of the event read from the log, and
// the disclosure is itself an event in the log, appended before the answer. Every refusal names
// its reason and stores or discloses nothing.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { commit, verifyOpening } from '@candor/schema/commitment';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { eventCommitments } from '../../src/privacy/commitments.js';
import { decodeLoggedEvent, type LoggedEvent } from '../../src/query/types.js';
import type { Recorded } from '@candor/gateway/client';
import * as B from '@candor/gateway/events';
import { depositOpenings } from '@candor/gateway/openings';
import { call, startPrivacyLog, type PrivacyLog } from './helpers.js';

const AUDITOR = 'tok-auditor-org1';
const OTHER_AUDITOR = 'tok-auditor-org2';
const SEARCHER = 'tok-search-only';

let log: PrivacyLog;

beforeAll(async () => {
  log = await startPrivacyLog(
    [
      { id: 'gw', tenants: ['org-1', 'org-2'] },
      { id: 'gw-other', tenants: ['org-1'] },
      { id: 'gw-org2', tenants: ['org-2'] },
    ],
    {
      [AUDITOR]: { id: 'aud_1', tenants: ['org-1'], permissions: ['search', 'disclose'] },
      [OTHER_AUDITOR]: { id: 'aud_2', tenants: ['org-2'], permissions: ['disclose'] },
      [SEARCHER]: { id: 'aud_3', tenants: ['*'], permissions: ['search'] },
    },
  );
});
afterAll(() => log?.cleanup());

const alice = { id: 'usr_alice', display: 'alice.liddell@example.com' };
const prod = { name: 'pg-prod', type: 'database' };

async function logged(index: number): Promise<LoggedEvent> {
  const [e] = await log.service.entries({ start: index, end: index + 1 });
  return decodeLoggedEvent(index, e!.data);
}

async function change(tenant = 'org-1', producer = 'gw'): Promise<Recorded> {
  return log.gateway(producer, tenant).column.changed({
    actor: alice,
    resource: prod,
    database: 'app',
    table: 'accounts',
    column: 'iban',
    rowKey: 'rk_1',
    operation: B.ColumnOperation.UPDATE,
    oldValue: `GB33 BUKB 2020 1555 5555 55 ${Math.random()}`,
    newValue: `DE89 3704 0044 0532 0130 00 ${Math.random()}`,
    valueClass: B.ValueClass.PCI,
    captureMethod: B.CaptureMethod.LOGICAL_DECODING,
    dbAccount: 'hoop_rw',
    commit: { 'actor.ip_geo': 'Amsterdam, NL' },
  });
}

const target = (producer = 'gw') => ({ url: log.url, token: log.creds[producer]!.token });
const wire = (o: { field: string; salt: Uint8Array; value: Uint8Array }) => ({ field: o.field, salt: toBase64(o.salt), value: toBase64(o.value) });

describe('deposit and disclosure', () => {
  it('round-trips: every disclosed opening verifies against the logged event, and the disclosure is logged first', async () => {
    const r = await change();
    expect(r.openings.map((o) => o.field).sort()).toEqual(['actor.display', 'actor.ip_geo', 'new_value', 'old_value']);
    const dep = await depositOpenings(target(), r, { subject: 'cust_42' });
    expect(dep).toMatchObject({ tenant_id: 'org-1', subject_id: 'cust_42', event_id: r.event.eventId, leaf_index: r.receipt.index, payload: false });
    expect(dep.fields.sort()).toEqual(['actor.display', 'actor.ip_geo', 'new_value', 'old_value']);

    const size = log.service.size;
    const d = await call(log, 'GET', `/v1/openings/${r.event.eventId}`, AUDITOR);
    expect(d.status).toBe(200);
    const openings = d.body.openings as { field: string; digest: string; salt: string; value: string }[];
    expect(openings).toHaveLength(4);

    // The auditor's check, from the log alone: the leaf at the index, its inclusion proof
    // against a signed checkpoint, and each opening against the event's commitments.
    const ev = await logged(d.body.leaf_index as number);
    const cp = openCheckpoint(log.service.checkpoint(), log.keys.verifiers).checkpoint;
    const p = await log.service.inclusionProof({ index: ev.index, size: cp.size });
    verifyInclusion(portableHasher, ev.index, cp.size, portableHasher.leaf(ev.leaf), p.proof, cp.root);
    const commitments = eventCommitments(ev.event);
    for (const o of openings) {
      const opening = { field: o.field, salt: fromBase64(o.salt), value: fromBase64(o.value) };
      expect(commitments.has(o.digest)).toBe(true);
      expect(verifyOpening(fromBase64(o.digest), opening)).toBe(true);
      const mine = r.openings.find((x) => x.field === o.field)!;
      expect(toBase64(opening.value)).toBe(toBase64(mine.value));
    }

    // The disclosure event: appended (one leaf), by the log itself, naming event, fields and reader.
    expect(log.service.size).toBe(size + 1);
    const audit = await logged(d.body.disclosure_index as number);
    expect(audit.producer).toBe('candor');
    expect(audit.authMethod).toBe(AuthMethod.LOG);
    expect(audit.event.type).toBe('audit.opening.disclosed');
    expect(audit.event.tenantId).toBe('org-1');
    expect(audit.event.body.case).toBe('openingDisclosed');
    const body = audit.event.body.value as { disclosedEventId: string; fields: string[]; recipient: string };
    expect(body.disclosedEventId).toBe(r.event.eventId);
    expect(body.fields.sort()).toEqual(['actor.display', 'actor.ip_geo', 'new_value', 'old_value']);
    expect(body.recipient).toBe('aud_1');
  });

  it('discloses only the fields asked for, and says which fields exist when one does not', async () => {
    const r = await change();
    await depositOpenings(target(), r);
    const d = await call(log, 'GET', `/v1/openings/${r.event.eventId}?field=new_value`, AUDITOR);
    expect(d.status).toBe(200);
    expect((d.body.openings as { field: string }[]).map((o) => o.field)).toEqual(['new_value']);
    const audit = await logged(d.body.disclosure_index as number);
    expect((audit.event.body.value as { fields: string[] }).fields).toEqual(['new_value']);
    const size = log.service.size;
    const bad = await call(log, 'GET', `/v1/openings/${r.event.eventId}?field=statement`, AUDITOR);
    expect(bad.status).toBe(404);
    expect(bad.body.error!.message).toMatch(/field "statement".*stored: .*new_value/);
    expect(log.service.size).toBe(size);
  });

  it('keeps and discloses an off-log payload whose digest the event references', async () => {
    const payload = utf8(`-- full statement text kept off the log ${'x'.repeat(500)}`);
    const digest = new Uint8Array(createHash('sha256').update(payload).digest());
    const gw = log.gateway('gw', 'org-1');
    const draft = B.statement.executed({ actor: alice, resource: prod, sessionId: 'ses-p', statement: 'select * from accounts where id = 7' });
    const r = await gw.record({ ...(draft.init as object), payload: { uri: 'candor:openings', digest, encryption: '' } }, draft.openings);
    const wrong = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, { tenant_id: 'org-1', event_id: r.event.eventId, leaf_index: r.receipt.index, payload: toBase64(utf8('another payload')) });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error!.message).toMatch(/payload: its SHA-256 is not the digest/);
    await depositOpenings(target(), r, { payload });
    const d = await call(log, 'GET', `/v1/openings/${r.event.eventId}?field=payload,statement`, AUDITOR);
    expect(d.status).toBe(200);
    expect((d.body.payload as { data: string }).data).toBe(toBase64(payload));
    expect((d.body.openings as { field: string }[]).map((o) => o.field)).toEqual(['statement']);
  });

  it('adds fields on a second deposit, and refuses to move an event to another subject', async () => {
    const r = await change();
    const [first, ...rest] = r.openings;
    await depositOpenings(target(), { tenantId: 'org-1', eventId: r.event.eventId, leafIndex: r.receipt.index, openings: [first!] }, { subject: 'cust_7' });
    const again = await depositOpenings(target(), r, { subject: 'cust_7' });
    expect(again.fields).toHaveLength(1 + rest.length);
    await expect(depositOpenings(target(), r, { subject: 'cust_8' })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/same subject_id/) });
  });
});

describe('refusals', () => {
  let r: Recorded;
  beforeAll(async () => {
    r = await change();
  });
  const body = (over: Record<string, unknown> = {}) => ({ tenant_id: 'org-1', event_id: r.event.eventId, leaf_index: r.receipt.index, openings: r.openings.map(wire), ...over });
  const expectNothingStored = async () => {
    const d = await call(log, 'GET', `/v1/openings/${r.event.eventId}`, AUDITOR);
    expect(d.status).toBe(404);
  };

  it('refuses deposits that are unauthenticated, from another producer, or for a tenant it may not write', async () => {
    const none = await call(log, 'POST', '/v1/openings', undefined, body());
    expect([none.status, none.body.error!.code]).toEqual([401, 'unauthenticated']);
    const unknown = await call(log, 'POST', '/v1/openings', 'candor_pt_nope', body());
    expect(unknown.status).toBe(401);
    const other = await call(log, 'POST', '/v1/openings', log.creds['gw-other']!.token, body());
    expect([other.status, other.body.error!.code]).toEqual([403, 'permission_denied']);
    expect(other.body.error!.message).toMatch(/logged by producer gw; producer gw-other may deposit openings only for its own events/);
    const o2 = await change('org-2', 'gw-org2');
    const tenant = await call(log, 'POST', '/v1/openings', log.creds['gw-org2']!.token, body({ tenant_id: 'org-1', event_id: o2.event.eventId, leaf_index: o2.receipt.index }));
    expect(tenant.status).toBe(400);
    expect(tenant.body.error!.message).toMatch(/tenant_id: event .* belongs to tenant "org-2", not "org-1"/);
    await expectNothingStored();
  });

  it('refuses an opening that does not open a commitment of the event, naming it', async () => {
    const bad = r.openings.map(wire);
    bad[1] = { ...bad[1]!, value: toBase64(utf8('a different value')) };
    const res = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ openings: bad }));
    expect(res.status).toBe(400);
    expect(res.body.error!.message).toBe(`openings[1] (field ${JSON.stringify(r.openings[1]!.field)}) opens no commitment of event ${r.event.eventId}: the salt, the value or the field name is wrong`);
    // The right salt and value under another field name is refused too: the name is hashed in.
    const renamed = r.openings.map(wire);
    renamed[0] = { ...renamed[0]!, field: 'reason' };
    expect((await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ openings: renamed }))).body.error!.message).toMatch(/^openings\[0\] \(field "reason"\) opens no commitment/);
    // A valid opening of another event's commitment.
    const foreign = commit('new_value', 'whatever');
    expect((await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ openings: [wire(foreign.opening)] }))).status).toBe(400);
    const shortSalt = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ openings: [{ ...wire(r.openings[0]!), salt: toBase64(new Uint8Array(8)) }] }));
    expect(shortSalt.body.error!.message).toMatch(/openings\[0\]\.salt must be 16 to 255 bytes, got 8/);
    const notB64 = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ openings: [{ ...wire(r.openings[0]!), value: '%%%' }] }));
    expect(notB64.body.error!.message).toMatch(/openings\[0\]\.value is not valid base64/);
    await expectNothingStored();
  });

  it('refuses an index that is not the event, or not logged yet, and malformed bodies', async () => {
    const wrongIndex = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ leaf_index: r.receipt.index - 1 }));
    expect(wrongIndex.status).toBe(400);
    expect(wrongIndex.body.error!.message).toMatch(/event_id: the event at leaf_index/);
    const beyond = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ leaf_index: 1_000_000 }));
    expect([beyond.status, beyond.body.error!.code]).toEqual([404, 'not_found']);
    const missing = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, { tenant_id: 'org-1', openings: [] });
    expect(missing.status).toBe(400);
    expect(missing.body.error!.message).toMatch(/event_id|leaf_index/);
    const extra = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ surprise: 1 }));
    expect(extra.status).toBe(400);
    const empty = await call(log, 'POST', '/v1/openings', log.creds.gw!.token, body({ openings: [] }));
    expect(empty.body.error!.message).toBe('give openings or a payload');
    await expectNothingStored();
  });

  it('refuses disclosure without credentials, without the permission, or for another tenant, and logs nothing', async () => {
    await depositOpenings(target(), r);
    const size = log.service.size;
    const none = await call(log, 'GET', `/v1/openings/${r.event.eventId}`);
    expect([none.status, none.body.error!.code]).toEqual([401, 'unauthenticated']);
    const producerToken = await call(log, 'GET', `/v1/openings/${r.event.eventId}`, log.creds.gw!.token);
    expect(producerToken.status).toBe(401);
    const searcher = await call(log, 'GET', `/v1/openings/${r.event.eventId}`, SEARCHER);
    expect([searcher.status, searcher.body.error!.message]).toEqual([403, 'reader aud_3 lacks the "disclose" permission']);
    // Another tenant's event is answered exactly as an unknown ID: neither its tenant nor its existence leaks.
    const otherTenant = await call(log, 'GET', `/v1/openings/${r.event.eventId}`, OTHER_AUDITOR);
    const unknownToOther = await call(log, 'GET', '/v1/openings/no-such-event', OTHER_AUDITOR);
    expect([otherTenant.status, otherTenant.body.error!.code]).toEqual([404, 'not_found']);
    expect(otherTenant.body.error!.message).toBe(unknownToOther.body.error!.message.replace('no-such-event', r.event.eventId));
    expect(otherTenant.body.error!.message).not.toMatch(/org-1/);
    const unknown = await call(log, 'GET', '/v1/openings/no-such-event', AUDITOR);
    expect(unknown.status).toBe(404);
    expect(JSON.stringify([none, producerToken, searcher, otherTenant].map((x) => x.body))).not.toContain('"openings"');
    expect(log.service.size).toBe(size);
  });

  it('discloses nothing when the disclosure cannot be logged', async () => {
    const size = log.service.size;
    log.sink.failing = true;
    try {
      const d = await call(log, 'GET', `/v1/openings/${r.event.eventId}`, AUDITOR);
      expect([d.status, d.body.error!.code]).toEqual([503, 'unavailable']);
      expect(d.body.openings).toBeUndefined();
      const s = r.openings[0]!;
      expect(JSON.stringify(d.body)).not.toContain(toBase64(s.salt));
    } finally {
      log.sink.failing = false;
    }
    expect(log.service.size).toBe(size);
    expect((await call(log, 'GET', `/v1/openings/${r.event.eventId}`, AUDITOR)).status).toBe(200);
  });
});

describe('the sealed records', () => {
  it('detect a ciphertext swapped between two records (the associated data binds each to its place)', async () => {
    const a = await change();
    const b = await change();
    await depositOpenings(target(), a, { subject: 'cust_swap' });
    await depositOpenings(target(), b, { subject: 'cust_swap' });
    // Both records are sealed under the same subject key: only the associated data tells them apart.
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.json')) files.push(join(d, e.name));
      }
    };
    walk(join(log.dir, 'openings', 'records'));
    type Rec = { eventId: string; openings: { field: string; nonce: string; sealed: string }[] };
    const read = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Rec;
    const fa = files.find((f) => read(f).eventId === a.event.eventId)!;
    const fb = files.find((f) => read(f).eventId === b.event.eventId)!;
    const ra = read(fa);
    const rb = read(fb);
    const ia = ra.openings.findIndex((o) => o.field === 'new_value');
    const ib = rb.openings.findIndex((o) => o.field === 'new_value');
    const { nonce, sealed } = rb.openings[ib]!;
    ra.openings[ia] = { ...ra.openings[ia]!, nonce, sealed };
    writeFileSync(fa, JSON.stringify(ra));

    const meta = log.privacy.store.byEvent(a.event.eventId)[0]!;
    expect(() => log.privacy.store.read(meta, ['new_value'])).toThrow(/the opening of "new_value" of event .* does not authenticate: it was altered, or moved from another record/);
    const size = log.service.size;
    const d = await call(log, 'GET', `/v1/openings/${a.event.eventId}?field=new_value`, AUDITOR);
    // The store's fault, not the reader's: 500, saying what is wrong and nothing of the values.
    expect([d.status, d.body.error!.code]).toEqual([500, 'internal']);
    expect(d.body.error!.message).toMatch(/does not authenticate/);
    expect(log.service.size).toBe(size);
    // The untouched fields and the other record still open.
    expect((await call(log, 'GET', `/v1/openings/${a.event.eventId}?field=old_value`, AUDITOR)).status).toBe(200);
    expect((await call(log, 'GET', `/v1/openings/${b.event.eventId}`, AUDITOR)).status).toBe(200);
  });

  it('keeps the master key in a 0600 file, and the record files hold no value in the clear', async () => {
    const r = await change();
    await depositOpenings(target(), r);
    const { statSync } = await import('node:fs');
    expect(statSync(join(log.dir, 'privacy.key')).mode & 0o777).toBe(0o600);
    const meta = log.privacy.store.byEvent(r.event.eventId)[0]!;
    expect(meta.subject).toBe('');
    const all = readdirSync(join(log.dir, 'openings'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => readFileSync(join(e.parentPath, e.name), 'latin1'))
      .join('\n');
    for (const o of r.openings) {
      expect(all).not.toContain(Buffer.from(o.value).toString('latin1'));
      expect(all).not.toContain(toBase64(o.value));
      expect(all).not.toContain(toBase64(o.salt));
    }
  });
});
