// The `candor` CLI as a user runs it: real processes, a real server on loopback.
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startLog, tempDir, type RunningLog } from '../helpers/server.js';

const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

let log: RunningLog;
beforeAll(async () => {
  log = await startLog({ origin: 'cli.example/log' });
});
afterAll(async () => {
  await log?.stop();
});

describe('candor keygen', () => {
  it('prints a signer key and its verifier key in x/mod format', async () => {
    const r = await run(['keygen', '--origin', 'k.example/log']);
    expect(r.code).toBe(0);
    const [skey, vkey] = r.stdout.trim().split('\n');
    expect(skey).toMatch(/^PRIVATE\+KEY\+k\.example\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/=]{44}$/);
    expect(vkey).toMatch(/^k\.example\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/=]{44}$/);
  });

  it('writes the signer key to a file only its owner can read', async () => {
    const out = join(tempDir(), 'log.key');
    const r = await run(['keygen', '--origin', 'k.example/log', '--out', out]);
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o077).toBe(0);
    expect(r.stdout).not.toContain('PRIVATE');
    expect(readFileSync(out, 'utf8')).toMatch(/^PRIVATE\+KEY\+k\.example\/log\+/);
  });

  it('rejects an invalid key name', async () => {
    const r = await run(['keygen', '--origin', 'has space']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/key name/);
  });
});

describe('candor serve', () => {
  it('created the key on first start, wrote the verifier key and printed the URLs', () => {
    expect(log.output()).toContain('new log: key created');
    expect(log.output()).toContain(`${log.url}/checkpoint`);
    expect(log.output()).toContain(log.vkey);
    expect(readFileSync(join(log.dir, 'log.vkey'), 'utf8').trim()).toBe(log.vkey);
  });

  it('refuses a config file with an unknown key, naming it', async () => {
    const cfg = join(tempDir(), 'candor.yaml');
    writeFileSync(cfg, 'http: 127.0.0.1:0\nbatchMaxEntrys: 5\n');
    const r = await run(['serve', '--config', cfg, '--data', tempDir()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config batchMaxEntrys \(from .*candor\.yaml\) is not a known key/);
  });

  it('refuses a bad listen address and a bad number from the environment', async () => {
    const r1 = await run(['serve', '--data', tempDir(), '--http', 'localhost']);
    expect(r1.stderr).toMatch(/config http must be HOST:PORT/);
    const r2 = await run(['serve', '--data', tempDir(), '--http', '127.0.0.1:0'], { CANDOR_BATCH_MAX_ENTRIES: 'many' });
    expect(r2.stderr).toMatch(/config batchMaxEntries \(from environment\) must be a non-negative integer/);
  });

  it('refuses a data directory that belongs to another origin', async () => {
    const r = await run(['serve', '--data', log.dir, '--http', '127.0.0.1:0', '--origin', 'other.example/log']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the log key is for origin "cli\.example\/log"/);
  });
});

describe('candor add and verify', () => {
  it('adds an entry, verifies the ack, and proves inclusion and consistency later', async () => {
    const vk = join(log.dir, 'log.vkey');
    const a = await run(['add', '--url', log.url, '--log-key-file', vk, 'first entry']);
    expect(a.code).toBe(0);
    expect(a.stderr).toBe('');
    const ack = JSON.parse(a.stdout);
    expect(ack).toMatchObject({ index: 0, verified: true, size: 1 });
    const old = join(tempDir(), 'old.checkpoint');
    writeFileSync(old, ack.checkpoint);

    const file = join(tempDir(), 'entry.bin');
    writeFileSync(file, Buffer.from([0, 1, 2, 255]));
    expect((await run(['add', '--url', log.url, '--log-key', log.vkey, '--file', file])).code).toBe(0);

    const cp = await run(['verify', 'checkpoint', '--url', log.url, '--log-key', log.vkey]);
    expect(cp.stdout).toMatch(/^checkpoint OK: origin cli\.example\/log, size 2, root /);
    expect((await run(['verify', 'inclusion', '--url', log.url, '--log-key', log.vkey, '--index', '1'])).stdout).toMatch(/inclusion OK: index 1 is in tree size 2/);
    expect((await run(['verify', 'inclusion', '--url', log.url, '--log-key', log.vkey, '--file', file])).stdout).toMatch(/inclusion OK: index 1/);
    expect((await run(['verify', 'consistency', '--url', log.url, '--log-key', log.vkey, '--old', old])).stdout).toMatch(/consistency OK: size 1 -> 2/);
    // The old spelling still works, with a note (one name per concept: --log-key, as in monitor).
    const deprecated = await run(['verify', 'checkpoint', '--vkey', log.vkey, '--file', old]);
    expect(deprecated.stdout).toMatch(/size 1/);
    expect(deprecated.stderr).toBe('candor: --vkey and --vkey-file are deprecated; use --log-key and --log-key-file\n');
  });

  it('fails with exit code 2 when the log key does not match', async () => {
    const other = (await run(['keygen', '--origin', 'cli.example/log'])).stdout.trim().split('\n')[1]!;
    const r = await run(['verify', 'checkpoint', '--url', log.url, '--log-key', other]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no signature from a known key/);
  });

  it('reports a missing entry and a missing key clearly', async () => {
    const r1 = await run(['verify', 'inclusion', '--url', log.url, '--log-key', log.vkey, '--hash', Buffer.alloc(32).toString('base64')]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/no entry with leaf hash/);
    const r2 = await run(['add', '--url', log.url, 'x']);
    expect(r2.stderr).toMatch(/give the log verifier key with --log-key or --log-key-file/);
  });
});
