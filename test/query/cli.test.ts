// The commands, as real child processes of the built CLI against a real `candor serve`:
// `candor auditor add|list|revoke`, `candor export` to a file, and `candor verify-export` with no
// network (exit 0 verified, 2 not verified with the failing event named).
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { review, ReviewKind } from '@candor/gateway/events';
import { generateSignerKey } from '@candor/core/note';
import { startTestLog } from '../helpers/log.js';
import { CLI, startLog, tempDir, type RunningLog } from '../helpers/server.js';
import { complete, loggedAt } from './events.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function candor(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const dir = tempDir();
let log: RunningLog;
let token = '';

beforeAll(async () => {
  // Events written in-process first; then the log is served by the CLI from the same data dir.
  const setup = await startTestLog({ data: dir });
  const events = ['rev-1', 'rev-2', 'rev-3'].map((R) => complete(review.requested({ actor: { id: 'u-1' }, reviewId: R, kind: ReviewKind.JIT_SESSION, resource: { name: 'db' } })));
  await setup.service.addMany(events.map((e, i) => loggedAt(i, e).leaf));
  await setup.close();
  const added = await candor('auditor', 'add', 'aud-1', '--data', dir, '--tenant', '*', '--permission', 'export', '--permission', 'search');
  expect(added.code).toBe(0);
  token = /^(candor_at_\S+)$/m.exec(added.stdout)![1]!;
  log = await startLog({ dir });
}, 60_000);
afterAll(async () => {
  await log?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('candor auditor, export and verify-export', () => {
  it('lists auditors without their tokens, and refuses bad registrations', async () => {
    const list = await candor('auditor', 'list', '--data', dir);
    expect(list.stdout).toMatch(/^aud-1 {2}tenants \* {2}permissions export, search {2}tokens [0-9a-f]{8}$/m);
    expect(readFileSync(join(dir, 'auditors.json'), 'utf8')).not.toContain(token);
    const bad = await candor('auditor', 'add', 'aud-2', '--data', dir, '--tenant', 'org-1', '--permission', 'read');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/permission "read" is not one of search, export, disclose, erase/);
  });

  it('exports a bundle to a file, which verify-export checks offline', async () => {
    const file = join(dir, 'all.candor-export');
    const x = await candor('export', '--url', log.url, '--token', token, '--format', 'bundle', '--out', file);
    expect(x.code).toBe(0);
    expect(x.stderr).toMatch(/exported entries 0\.\.3 /);
    const ok = await candor('verify-export', file, '--key', log.vkey);
    expect(ok.stdout).toBe('export OK: 3 events (indexes 0..2) proved against test.example/log size 3; manifest signed by the log\n');
    expect(ok.code).toBe(0);

    // One altered character in the second event's leaf: exit 2, and the event is named.
    const lines = readFileSync(file, 'utf8').split('\n');
    const ev = JSON.parse(lines[2]!) as { index: number; leaf: string };
    const i = Math.floor(ev.leaf.length / 2);
    lines[2] = JSON.stringify({ ...ev, leaf: ev.leaf.slice(0, i) + (ev.leaf[i] === 'A' ? 'B' : 'A') + ev.leaf.slice(i + 1) });
    const tampered = join(dir, 'tampered.candor-export');
    writeFileSync(tampered, lines.join('\n'));
    const bad = await candor('verify-export', tampered, '--key', log.vkey);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/NOT VERIFIED: event 1 \(line 3\): the inclusion proof does not verify/);

    const other = await candor('verify-export', file, '--key', generateSignerKey(log.vkey.split('+')[0]!).vkey);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/checkpoint \(line 1\)/);
  });

  it('a revoked auditor can no longer export', async () => {
    expect((await candor('auditor', 'revoke', 'aud-1', '--data', dir)).stdout).toMatch(/all tokens of aud-1 revoked; aud-1 can no longer read/);
    let r: Run | undefined;
    // The log re-reads auditors.json within a second.
    for (let i = 0; i < 20; i++) {
      r = await candor('export', '--url', log.url, '--token', token, '--format', 'csv', '--out', join(dir, 'x.csv'));
      if (r.code !== 0) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(r!.code).toBe(1);
    expect(r!.stderr).toMatch(/401 the bearer token is not a valid auditor token/);
  });
});
