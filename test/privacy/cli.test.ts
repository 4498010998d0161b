// `candor erase` as an operator runs it: the built CLI in a child process, against a running log,
// with an admin reader's token; a token without the permission is refused with the log's reason.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { depositOpenings } from '@candor/gateway/openings';
import { CLI } from '../helpers/server.js';
import { call, startPrivacyLog, type PrivacyLog } from './helpers.js';

const run = promisify(execFile);
let log: PrivacyLog;

beforeAll(async () => {
  log = await startPrivacyLog([{ id: 'gw' }], {
    'tok-admin': { id: 'admin_1', tenants: ['*'], permissions: ['erase', 'disclose'] },
    'tok-auditor': { id: 'aud_1', tenants: ['*'], permissions: ['disclose'] },
  });
});
afterAll(() => log?.cleanup());

const eraseWith = (variable: string, token: string, ...args: string[]) =>
  run(process.execPath, [CLI, 'erase', '--url', log.url, '--tenant', 'org-1', '--subject', 'cust_1', '--reason', 'gdpr_art17', ...args], { env: { ...process.env, [variable]: token }, timeout: 20_000 });
const erase = (token: string, ...args: string[]) => eraseWith('CANDOR_AUDITOR_TOKEN', token, ...args);

describe('candor erase', () => {
  it("erases a subject through the API, and refuses a token without the permission", async () => {
    const r = await log.gateway('gw', 'org-1').grant.revoked({ actor: { id: 'usr_1' }, resource: { name: 'pg-prod' }, grantId: 'g1', reason: 'left the company, ticket 4711' });
    await depositOpenings({ url: log.url, token: log.creds.gw!.token }, r, { subject: 'cust_1' });
    const denied = await erase('tok-auditor').then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(denied?.code).toBe(1);
    expect(denied?.stderr).toBe('candor: reader aud_1 lacks the "erase" permission\n');
    expect((await call(log, 'GET', `/v1/openings/${r.event.eventId}`, 'tok-admin')).status).toBe(200);

    const { stdout } = await erase('tok-admin', '--request-id', 'req-cli-1');
    expect(stdout).toMatch(/^erased subject cust_1 of tenant org-1\n/);
    expect(stdout).toMatch(/keys +1 destroyed/);
    expect(stdout).toMatch(/openings +1 in 1 event records deleted/);
    expect((await call(log, 'GET', `/v1/openings/${r.event.eventId}`, 'tok-admin')).status).toBe(404);
    // The old variable still works, with a note (one name per concept: CANDOR_AUDITOR_TOKEN).
    const again = await eraseWith('CANDOR_TOKEN', 'tok-admin', '--request-id', 'req-cli-1');
    expect(again.stdout).toMatch(/already done/);
    expect(again.stderr).toBe('candor: CANDOR_TOKEN is deprecated for auditor tokens; set CANDOR_AUDITOR_TOKEN\n');
  });
});
