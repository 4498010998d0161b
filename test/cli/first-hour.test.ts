// What a new user meets first (issue 16): the CLI answers --help and --version without loading
// the server's dependencies; `serve` on a busy port fails before creating anything; commands
// given a mistyped --data fail instead of creating a new, empty data directory.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, tempDir } from '../helpers/server.js';

const candor = async (args: string[], opts: { execArgv?: string[]; cwd?: string } = {}) => {
  try {
    const r = await promisify(execFile)(process.execPath, [...(opts.execArgv ?? []), CLI, ...args], { timeout: 30_000, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

describe('candor --help and --version', () => {
  it('prints the package version', async () => {
    const r = await candor(['--version']);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  // Timing is measured in bench/startup.ts; here, what makes it fast: --help loads no server code.
  it('loads neither fastify, gRPC, protobuf, LevelDB nor YAML for --help', async () => {
    const dir = tempDir();
    const seen = join(dir, 'loaded.txt');
    writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(seen)}, r.url + '\\n'); return r; }\n`);
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${join(dir, 'hooks.mjs')}`).href)});\n`);
    const r = await candor(['--help'], { execArgv: ['--import', join(dir, 'register.mjs')] });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: candor/);
    const loaded = readFileSync(seen, 'utf8');
    expect(loaded).toContain('commander');
    for (const heavy of ['/fastify/', '/@grpc/', '/@bufbuild/', '/classic-level/', '/pino/', '/prom-client/', '/dist/src/app.js', '/cli-progress/']) {
      expect(loaded, heavy).not.toContain(heavy);
    }
  });
});

describe('candor serve on a busy port', () => {
  let busy: Server;
  let port: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve));
    port = (busy.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  for (const flag of ['--http', '--grpc', '--admin']) {
    it(`fails before creating a key or a store (${flag} in use)`, async () => {
      const data = join(tempDir(), 'new-log');
      const args = ['serve', '--data', data, '--http', '127.0.0.1:0', ...(flag === '--http' ? [] : [flag, `127.0.0.1:${port}`])];
      if (flag === '--http') args.splice(args.indexOf('127.0.0.1:0'), 1, `127.0.0.1:${port}`);
      const r = await candor(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port} (${flag.slice(2)}): the address is in use`);
      expect(existsSync(data)).toBe(false);
    });
  }
});

describe('a mistyped --data', () => {
  const root = tempDir();
  const missing = join(root, 'dta');
  const refused: string[][] = [
    ['producer', 'add', 'gw-1', '--tenant', 'org-1', '--type', '*', '--data', missing],
    ['producer', 'list', '--data', missing],
    ['auditor', 'add', 'a-1', '--tenant', 'org-1', '--permission', 'search', '--data', missing],
    ['auditor', 'list', '--data', missing],
    ['witness', 'add-log', '--data', missing, '--origin', 'o', '--vkey', 'o+01234567+AQ=='],
    ['witness', 'list-logs', '--data', missing],
    ['witness', 'vkey', '--data', missing],
    ['index', 'rebuild', '--data', missing],
    ['fsck', '--data', missing],
  ];
  for (const args of refused) {
    it(`candor ${args.slice(0, 2).join(' ')} refuses it and creates nothing`, async () => {
      const r = await candor(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(missing);
      expect(r.stderr).not.toMatch(/Usage:/);
      expect(readdirSync(root)).toEqual([]);
    });
  }

  it('candor init creates the data directory, and then producers can be registered', async () => {
    const data = join(tempDir(), 'data');
    const init = await candor(['init', '--data', data, '--origin', 'first-hour.example/log']);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('created log "first-hour.example/log"');
    expect(readFileSync(join(data, 'log.vkey'), 'utf8')).toMatch(/^first-hour\.example\/log\+/);
    const again = await candor(['init', '--data', data]);
    expect(again.stdout).toContain('already initialised');
    const add = await candor(['producer', 'add', 'gw-1', '--tenant', 'org-1', '--type', '*', '--data', data]);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/producer gw-1 registered/);
  });
});
