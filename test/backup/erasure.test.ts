// Restoring a backup taken before an erasure must not bring the erased openings back: restore
// replays the audit.erasure.performed events logged after the backup's size (src/backup/erasures.ts).
// A real log (store on disk, gRPC gateway, admin listener) is backed up by `candor backup`, a
// subject is erased, and `candor restore` catches the backup up from the log's read side. The
// backup still holds the subject's key (the test would pass vacuously otherwise); the restored
// log does not, refuses to disclose the erased event, and still discloses the others.
// Checked by hand to fail without the replay (restore.ts not calling replayErasures): the
// restored store then holds the erased subject's data key again and discloses its openings.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recorded } from '@candor/gateway/client';
import * as B from '@candor/gateway/events';
import { depositOpenings } from '@candor/gateway/openings';
import { OpeningsStore } from '../../src/privacy/store.js';
import { call, startPrivacyLog, type PrivacyLog } from '../privacy/helpers.js';
import { CLI, tempDir } from '../helpers/server.js';

const AUDITOR = 'tok-auditor';
const ADMIN = 'tok-admin';
const READERS = {
  [AUDITOR]: { id: 'aud_1', tenants: ['*'], permissions: ['disclose' as const, 'read-log' as const] },
  [ADMIN]: { id: 'admin_1', tenants: ['*'], permissions: ['erase' as const] },
};
const SPECS = [{ id: 'gw', tenants: ['org-1'] }];

const dirs: string[] = [];
let log: PrivacyLog;
let restored: PrivacyLog | undefined;
afterAll(async () => {
  await restored?.cleanup();
  await log?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function candor(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`candor ${args[0]} did not finish in 30 s:\n${out}${err}`));
    }, 30_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

async function record(subject: string): Promise<Recorded> {
  const r = await log.gateway('gw', 'org-1').column.changed({
    actor: { id: `usr_${subject}` },
    resource: { name: 'pg-prod' },
    database: 'app',
    table: 'customers',
    column: 'iban',
    rowKey: `rk_${subject}`,
    operation: B.ColumnOperation.UPDATE,
    oldValue: `${subject}-old-iban`,
    newValue: `${subject}-new-iban`,
    valueClass: B.ValueClass.PCI,
    captureMethod: B.CaptureMethod.LOGICAL_DECODING,
    dbAccount: 'hoop_rw',
  });
  await depositOpenings({ url: log.url, token: log.creds.gw!.token }, r, { subject });
  return r;
}

describe('restoring a backup taken before an erasure', () => {
  let backup: string;
  let erased: Recorded;
  let kept: Recorded;

  beforeAll(async () => {
    log = await startPrivacyLog(SPECS, READERS, { admin: '127.0.0.1:0' });
    erased = await record('cust_erase');
    kept = await record('cust_keep');
    backup = join(tempDir('candor-backup-'), 'backup');
    dirs.push(join(backup, '..'));
    const b = await candor(['backup', '--admin', log.admin!.url, '--out', backup]);
    expect(b.err).toBe('');
    // After the backup: the subject is erased (logged by the log), and more is logged.
    const res = await call(log.admin!, 'POST', '/v1/erasures', ADMIN, { request_id: 'er-1', tenant_id: 'org-1', subject_id: 'cust_erase', legal_basis: 'gdpr_art17' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ keys_destroyed: 1, records_deleted: 1 });
    await record('cust_later');
  });

  it('does not bring the erased openings back: the logged erasure is replayed', async () => {
    const scope = { tenant: 'org-1', subject: 'cust_erase' };
    // The backup holds the subject's key and record: without the replay they would come back.
    const inBackup = OpeningsStore.open({ dir: join(backup, 'openings'), masterKeyFile: join(backup, 'privacy.key'), createKey: false });
    expect(inBackup.dataKey(scope)).toBeDefined();
    expect(inBackup.byEvent(erased.event.eventId)).toHaveLength(1);

    const data = tempDir('candor-restored-');
    dirs.push(data);
    const r = await candor(['restore', '--from', backup, '--data', data, '--catch-up', log.url, '--token', AUDITOR]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/erasures +1 logged since the backup; 1 keys and 1 records erased again/);
    const size = log.service.size;
    await log.close();

    const openings = OpeningsStore.open({ dir: join(data, 'openings'), masterKeyFile: join(data, 'privacy.key'), createKey: false });
    expect(openings.dataKey(scope)).toBeUndefined();
    expect(openings.byEvent(erased.event.eventId)).toEqual([]);
    expect(openings.erasure('er-1')).toMatchObject({ tenant: 'org-1', legalBasis: 'gdpr_art17', eventIds: [erased.event.eventId], parts: 1 });

    // The restored log: the erased event's openings are gone, the others disclose.
    restored = await startPrivacyLog(SPECS, READERS, {}, data, log.creds);
    expect(restored.service.size).toBe(size);
    const gone = await call(restored, 'GET', `/v1/openings/${erased.event.eventId}?tenant=org-1`, AUDITOR);
    expect(gone.status).toBe(404);
    const still = await call(restored, 'GET', `/v1/openings/${kept.event.eventId}?tenant=org-1`, AUDITOR);
    expect(still.status).toBe(200);
    // Retrying the erasure request on the restored log logs nothing twice.
    const again = await call(restored, 'POST', '/v1/erasures', ADMIN, { request_id: 'er-1', tenant_id: 'org-1', subject_id: 'cust_erase', legal_basis: 'gdpr_art17' });
    expect(again.body).toMatchObject({ repeated: true });
    expect(restored.service.size).toBe(size + 1); // the disclosure above is logged; the retry is not
  });
});
