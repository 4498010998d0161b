// Erasure proves both halves of the promise:
//  (a) every inclusion proof of every entry, and the consistency proof between checkpoints
//      taken before and after, still verify (src/core/merkle.ts), with every leaf unchanged;
//  (b) nothing Candor stores holds the erased values any more: every byte of every file under
//      the data dir (log store, idempotency index, openings store, keys: everything), and every
//      log entry as the store returns it (LevelDB may compress its files), is scanned for the
//      values, the salts, the destroyed data keys (exported before erasing) and their wrapped
//      and sealed forms, raw and base64 and hex. The scan is shown to work on the same needles
//      before the erasure; other subjects and tenants still disclose afterwards.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, toHex } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyConsistency, verifyInclusion } from '@candor/core/merkle';
import { verifyOpening } from '@candor/schema/commitment';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { decodeLoggedEvent } from '../../src/query/types.js';
import type { Recorded } from '@candor/gateway/client';
import * as B from '@candor/gateway/events';
import { depositOpenings } from '@candor/gateway/openings';
import { call, startPrivacyLog, type PrivacyLog } from './helpers.js';

const AUDITOR = 'tok-auditor';
const ADMIN = 'tok-admin';

let log: PrivacyLog;

/** A value long and random enough that finding it anywhere cannot be chance. */
const distinctive = (what: string) => `${what}-${randomBytes(24).toString('hex')}-ERASE-CANARY`;

interface Kept {
  r: Recorded;
  tenant: string;
  subject: string;
}

async function record(tenant: string, subject: string): Promise<Kept> {
  const r = await log.gateway('gw', tenant).column.changed({
    actor: { id: `usr_${subject}`, display: distinctive(`${subject}-display`) },
    resource: { name: 'pg-prod' },
    database: 'app',
    table: 'customers',
    column: 'iban',
    rowKey: `rk_${subject}`,
    operation: B.ColumnOperation.UPDATE,
    oldValue: distinctive(`${subject}-old-iban`),
    newValue: distinctive(`${subject}-new-iban`),
    valueClass: B.ValueClass.PCI,
    captureMethod: B.CaptureMethod.LOGICAL_DECODING,
    dbAccount: 'hoop_rw',
  });
  await depositOpenings({ url: log.url, token: log.creds.gw!.token }, r, subject ? { subject } : {});
  return { r, tenant, subject };
}

/** Every file under the data dir, as bytes. */
function filesUnder(dir: string): { file: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => ({ file: join(e.parentPath, e.name), bytes: readFileSync(join(e.parentPath, e.name)) }));
}

/** The forms a secret could be stored in. */
function forms(secret: Uint8Array): Buffer[] {
  const b = Buffer.from(secret);
  return [b, Buffer.from(toBase64(secret)), Buffer.from(b.toString('base64url')), Buffer.from(toHex(secret))];
}

/** Where any needle is found: files under the data dir, and the log's entries as read back. */
async function scan(needles: Map<string, Uint8Array>): Promise<string[]> {
  const hay = filesUnder(log.dir);
  const entries: Buffer[] = [];
  for (let start = 0; start < log.service.size; start += 1000) {
    for (const e of await log.service.entries({ start })) entries.push(Buffer.from(e.data));
  }
  hay.push({ file: '(log entries, decoded)', bytes: Buffer.concat(entries) });
  const hits: string[] = [];
  for (const [name, secret] of needles) {
    for (const f of forms(secret)) for (const h of hay) if (h.bytes.includes(f)) hits.push(`${name} in ${h.file}`);
  }
  return hits;
}

/** The secrets of a kept event: its values, salts, the scope's data key and its stored forms. */
function secretsOf(k: Kept): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const o of k.r.openings) {
    m.set(`${k.subject} ${o.field} value`, o.value);
    m.set(`${k.subject} ${o.field} salt`, o.salt);
  }
  m.set(`${k.subject} data key`, log.privacy.store.dataKey({ tenant: k.tenant, subject: k.subject })!);
  return m;
}

/** The stored (encrypted) forms: the wrapped key and the sealed openings, as the files hold them. */
function sealedOf(k: Kept): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const { file, bytes } of filesUnder(join(log.dir, 'openings'))) {
    if (!file.endsWith('.json') && !file.endsWith('.dek')) continue;
    const j = JSON.parse(bytes.toString('utf8')) as { tenant: string; subject: string; eventId?: string; sealed?: string; openings?: { sealed: string }[] };
    if (j.tenant !== k.tenant || j.subject !== k.subject) continue;
    if (j.sealed) m.set(`${k.subject} wrapped key`, fromBase64(j.sealed));
    if (j.eventId === k.r.event.eventId) j.openings!.forEach((o, i) => m.set(`${k.subject} sealed opening ${i}`, fromBase64(o.sealed)));
  }
  return m;
}

async function disclose(k: Kept) {
  return call(log, 'GET', `/v1/openings/${k.r.event.eventId}?tenant=${k.tenant}`, AUDITOR);
}

async function expectDisclosesAndVerifies(k: Kept) {
  const d = await disclose(k);
  expect(d.status).toBe(200);
  const openings = d.body.openings as { field: string; digest: string; salt: string; value: string }[];
  expect(openings).toHaveLength(k.r.openings.length);
  for (const o of openings) expect(verifyOpening(fromBase64(o.digest), { field: o.field, salt: fromBase64(o.salt), value: fromBase64(o.value) })).toBe(true);
}

function checkpoint(): { cp: Checkpoint; note: string } {
  const note = log.service.checkpoint();
  return { cp: openCheckpoint(note, log.keys.verifiers).checkpoint, note };
}

/** Every entry below cp.size is in cp by an inclusion proof; returns the leaf hashes. */
async function proveAll(cp: Checkpoint): Promise<string[]> {
  const hashes: string[] = [];
  for (let start = 0; start < cp.size; start += 1000) {
    for (const e of await log.service.entries({ start, end: cp.size })) {
      const leafHash = portableHasher.leaf(e.data);
      const p = await log.service.inclusionProof({ index: e.index, size: cp.size });
      expect(toBase64(p.leafHash)).toBe(toBase64(leafHash));
      verifyInclusion(portableHasher, e.index, cp.size, leafHash, p.proof, cp.root);
      hashes.push(toBase64(leafHash));
    }
  }
  return hashes;
}

let erased: Kept;
let sameTenant: Kept;
let tenantKey: Kept;
let otherTenant: Kept;

beforeAll(async () => {
  log = await startPrivacyLog([{ id: 'gw', tenants: ['org-1', 'org-2'] }], {
    [AUDITOR]: { id: 'aud_1', tenants: ['*'], permissions: ['disclose'] },
    [ADMIN]: { id: 'admin_1', tenants: ['*'], permissions: ['erase'] },
  });
  erased = await record('org-1', 'cust_erase');
  sameTenant = await record('org-1', 'cust_keep');
  tenantKey = await record('org-1', '');
  otherTenant = await record('org-2', 'cust_erase');
});
afterAll(() => log?.cleanup());

describe('erasure of a data subject', () => {
  it('destroys the openings and keys, logs it, and leaves every proof valid and nothing recoverable', async () => {
    // Before: disclosure works (and is logged), and the scan finds the stored forms: it works.
    await expectDisclosesAndVerifies(erased);
    const secrets = secretsOf(erased);
    const sealed = sealedOf(erased);
    expect(sealed.size).toBe(1 + erased.r.openings.length);
    const before = await scan(sealed);
    expect(before.length).toBeGreaterThanOrEqual(sealed.size);
    // The values, salts and the raw key are never stored in any form, even before erasure.
    expect(await scan(secrets)).toEqual([]);
    const old = checkpoint();
    const oldHashes = await proveAll(old.cp);

    const res = await call(log, 'POST', '/v1/erasures', ADMIN, { request_id: 'er-1', tenant_id: 'org-1', subject_id: 'cust_erase', legal_basis: 'gdpr_art17' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ request_id: 'er-1', tenant_id: 'org-1', repeated: false, keys_destroyed: 1, records_deleted: 1, commitments: erased.r.openings.length, events: 1 });

    // The erasure event, written by the log itself, lists the commitments and the event.
    const [idx] = res.body.erasure_event_indexes as number[];
    const [entry] = await log.service.entries({ start: idx!, end: idx! + 1 });
    const ev = decodeLoggedEvent(idx!, entry!.data);
    expect([ev.producer, ev.authMethod, ev.event.type, ev.event.tenantId, ev.event.actor!.id]).toEqual(['candor', AuthMethod.LOG, 'audit.erasure.performed', 'org-1', 'admin_1']);
    const body = ev.event.body.value as { requestId: string; commitments: Uint8Array[]; legalBasis: string; eventIds: string[] };
    expect([body.requestId, body.legalBasis, body.eventIds]).toEqual(['er-1', 'gdpr_art17', [erased.r.event.eventId]]);
    expect(body.commitments.map(toBase64).sort()).toEqual(erased.r.openings.map((o) => toBase64(commitmentOf(erased, o.field))).sort());

    // (a) Proofs: every entry of the old and the new tree proves, old leaves are unchanged, and
    // the new checkpoint is consistent with the old one.
    const now = checkpoint();
    expect(now.cp.size).toBeGreaterThan(old.cp.size);
    expect(await proveAll(old.cp)).toEqual(oldHashes);
    const newHashes = await proveAll(now.cp);
    expect(newHashes.slice(0, oldHashes.length)).toEqual(oldHashes);
    const c = await log.service.consistencyProof({ from: old.cp.size, to: now.cp.size });
    verifyConsistency(portableHasher, old.cp.size, now.cp.size, old.cp.root, now.cp.root, c.proof);
    // The erased event's own leaf still proves, and its commitments are still in it.
    const [kept] = await log.service.entries({ start: erased.r.receipt.index, end: erased.r.receipt.index + 1 });
    expect(toBase64(kept!.data)).toBe(toBase64(erased.r.receipt.leaf));

    // (b) Nothing recoverable: the values, salts and key in any form, and the wrapped key and
    // sealed openings that held them, are nowhere under the data dir nor in the log.
    expect(await scan(new Map([...secrets, ...sealed]))).toEqual([]);
    expect(log.privacy.store.dataKey({ tenant: 'org-1', subject: 'cust_erase' })).toBeUndefined();
    const d = await disclose(erased);
    expect([d.status, d.body.error!.code]).toEqual([404, 'not_found']);

    // The others are untouched: the same subject ID in another tenant, another subject of the
    // tenant, and the tenant's own key.
    for (const k of [sameTenant, tenantKey, otherTenant]) await expectDisclosesAndVerifies(k);
  });

  it('is idempotent on request_id, refuses to reuse it for another erasure, and refuses re-deposits', async () => {
    const size = log.service.size;
    const again = await call(log, 'POST', '/v1/erasures', ADMIN, { request_id: 'er-1', tenant_id: 'org-1', subject_id: 'cust_erase', legal_basis: 'gdpr_art17' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ repeated: true, commitments: erased.r.openings.length });
    expect(log.service.size).toBe(size);
    const reused = await call(log, 'POST', '/v1/erasures', ADMIN, { request_id: 'er-1', tenant_id: 'org-1', subject_id: 'cust_keep', legal_basis: 'gdpr_art17' });
    expect([reused.status, reused.body.error!.message]).toEqual([409, 'request_id er-1 was used for another erasure']);
    await expect(depositOpenings({ url: log.url, token: log.creds.gw!.token }, erased.r, { subject: 'cust_erase' })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/were erased \(request er-1\)/),
    });
    await expectDisclosesAndVerifies(sameTenant);
  });

  it('refuses erasure without the permission or credentials, changing nothing', async () => {
    const size = log.service.size;
    const none = await call(log, 'POST', '/v1/erasures', undefined, { request_id: 'er-x', tenant_id: 'org-1', subject_id: 'cust_keep', legal_basis: 'gdpr_art17' });
    expect(none.status).toBe(401);
    const auditor = await call(log, 'POST', '/v1/erasures', AUDITOR, { request_id: 'er-x', tenant_id: 'org-1', subject_id: 'cust_keep', legal_basis: 'gdpr_art17' });
    expect([auditor.status, auditor.body.error!.message]).toEqual([403, 'reader aud_1 lacks the "erase" permission']);
    const noBasis = await call(log, 'POST', '/v1/erasures', ADMIN, { request_id: 'er-x', tenant_id: 'org-1', subject_id: 'cust_keep' });
    expect(noBasis.status).toBe(400);
    expect(noBasis.body.error!.message).toMatch(/legal_basis/);
    expect(log.service.size).toBe(size);
    await expectDisclosesAndVerifies(sameTenant);
  });
});

describe('erasure of a tenant', () => {
  it("destroys every key and opening of the tenant and no other's, also across a restart", async () => {
    const secrets = secretsOf(otherTenant);
    const sealed = sealedOf(otherTenant);
    expect((await scan(sealed)).length).toBeGreaterThanOrEqual(sealed.size);
    const res = await call(log, 'POST', '/v1/erasures', ADMIN, { request_id: 'er-org2', tenant_id: 'org-2', legal_basis: 'contract_ended' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ keys_destroyed: 1, records_deleted: 1, events: 1 });
    expect(await scan(new Map([...secrets, ...sealed]))).toEqual([]);
    expect((await disclose(otherTenant)).status).toBe(404);

    log = await log.restart();
    expect(existsSync(join(log.dir, 'privacy.key'))).toBe(true);
    expect((await disclose(otherTenant)).status).toBe(404);
    expect((await disclose(erased)).status).toBe(404);
    await expectDisclosesAndVerifies(sameTenant);
    await expectDisclosesAndVerifies(tenantKey);
    const cp = checkpoint().cp;
    await proveAll(cp);
  });
});

function commitmentOf(k: Kept, field: string): Uint8Array {
  const v = k.r.event.body.value as { oldValueCommitment: Uint8Array; newValueCommitment: Uint8Array };
  if (field === 'old_value') return v.oldValueCommitment;
  if (field === 'new_value') return v.newValueCommitment;
  if (field === 'actor.display') return k.r.event.actor!.displayCommitment;
  throw new Error(`no commitment for ${field}`);
}
