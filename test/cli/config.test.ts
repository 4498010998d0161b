// `candor config check|docs`, the schema's checks (unknown keys, secrets as files only), and that a
// running log never writes a secret to its output. Request IDs are echoed.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configTable } from '../../src/cli/config.js';
import { FIELDS, loadConfig } from '../../src/config.js';
import { generateSignerKey } from '@candor/core/note';
import { CLI, startLog, tempDir } from '../helpers/server.js';

const run = promisify(execFile);
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('config schema', () => {
  it('suggests the key a typo meant', () => {
    expect(() => loadConfig({ env: {}, flags: { batchMaxEntires: 3 } as never })).toThrow(/config batchMaxEntires \(from flags\) is not a known key \(did you mean batchMaxEntries\?\)/);
    expect(() => loadConfig({ env: {}, flags: { loglevel: 'info' } as never })).toThrow(/did you mean logLevel\?/);
    expect(() => loadConfig({ env: {}, flags: { zzz: 1 } as never })).toThrow(/zzz \(from flags\) is not a known key \(known:/);
  });

  it('takes secrets only as file paths, and never repeats one in an error', () => {
    const { skey } = generateSignerKey('x.example/log');
    for (const attempt of [() => loadConfig({ env: { CANDOR_KEYS: skey } }), () => loadConfig({ env: {}, flags: { grpcTlsCert: 'c.pem', grpcTlsKey: '-----BEGIN PRIVATE KEY-----\nMC4C' } })]) {
      expect(attempt).toThrow(/must be the path of a file holding the secret, not the secret itself/);
      try {
        attempt();
      } catch (err) {
        expect((err as Error).message).not.toContain(skey.split('+').slice(4).join('+')); // the base64 may hold '+'
        expect((err as Error).message).not.toContain('MC4C');
      }
    }
  });

  it('checks the log level', () => {
    expect(() => loadConfig({ env: { CANDOR_LOG_LEVEL: 'verbose' } })).toThrow(/config logLevel \(from environment\) must be one of fatal, error/);
  });

  it('documents every key in docs/configuration.md, generated from the schema', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8');
    expect(doc).toContain(configTable());
    for (const [key, f] of Object.entries(FIELDS)) expect(f.doc, key).toBeTruthy();
  });

  it('has a `candor serve` flag for every key that names one', async () => {
    const help = (await cli(['serve', '--help'])).stdout;
    for (const f of Object.values(FIELDS)) if (f.flag) expect(help).toContain(`${f.flag} `);
  });
});

describe('candor config check', () => {
  it('prints the effective configuration, with where each value came from, and secrets as paths', async () => {
    const dir = tempDir();
    const keyFile = join(dir, 'log.key');
    const { skey } = generateSignerKey('check.example/log');
    writeFileSync(keyFile, `${skey}\n`, { mode: 0o600 });
    const file = join(dir, 'candor.yaml');
    writeFileSync(file, `data: ${dir}\nkeys: [${keyFile}]\nbatchMaxDelayMs: 5\n`);
    const r = await cli(['config', 'check', '--config', file], { CANDOR_HTTP: '127.0.0.1:9999' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`batchMaxDelayMs: 5    # ${file}`);
    expect(r.stdout).toContain('http: 127.0.0.1:9999    # environment');
    expect(r.stdout).toContain('queueMaxEntries: 65536    # default');
    expect(r.stdout).toMatch(new RegExp(`keys:    # .*secret: a file path\\n  - ${keyFile}`));
    expect(r.stdout).toMatch(/config OK\n$/);
    expect(r.stdout + r.stderr).not.toContain(skey.split('+').slice(4).join('+')); // the base64 may hold '+'
  });

  it('exits 1 naming the bad key', async () => {
    const dir = tempDir();
    const file = join(dir, 'candor.yaml');
    writeFileSync(file, 'batchMaxEntries: 0\n');
    let r = await cli(['config', 'check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config batchMaxEntries .* must be at least 1/);
    writeFileSync(file, `keys: [${join(dir, 'missing.key')}]\n`);
    r = await cli(['config', 'check', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config keys: cannot read .*missing\.key \(ENOENT\)/);
    r = await cli(['config', 'check'], { CANDOR_WITNESSING: '{"witnesses": []}' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config witnessing\.witnesses must be a non-empty list \(from environment\)/);
  });
});

describe('a running log', () => {
  it('never writes its key or a bearer token to its output, and echoes request IDs', { timeout: 60_000 }, async () => {
    const log = await startLog({ args: ['--log-level', 'trace'] });
    const seed = readFileSync(join(log.dir, 'log.key'), 'utf8').trim().split('+').slice(4).join('+'); // PRIVATE+KEY+name+hash+base64; the base64 may hold '+'
    const token = 'candor_pt_thisIsNotARealTokenButMustNotBeLogged0000000000';
    try {
      const ok = await fetch(`${log.url}/add`, { method: 'POST', body: 'entry', headers: { 'content-type': 'application/octet-stream', 'x-request-id': 'gw-42.req:7' } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-request-id')).toBe('gw-42.req:7');
      const ev = await fetch(`${log.url}/v1/events`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': 'bad id\twith spaces' } });
      expect(ev.status).toBe(401);
      expect(ev.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      expect(await log.stop()).toBe(0);
    }
    // Read once the process has exited: its log lines reach us through a pipe, after the answers.
    expect(log.output()).toContain('"reqId":"gw-42.req:7"');
    expect(log.output()).not.toContain(seed);
    expect(log.output()).not.toContain(token);
  });
});
