// Issue 16's package acceptance, as a gateway team would meet it: `npm pack` the three packages,
// install the tarballs into an empty project (offline, from npm's cache), record an event in three
// lines against a real log, and find no server dependency in that project's node_modules.
// @candor/core also type-checks against the DOM library with no @types/node, as a browser uses it.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startLog, tempDir, type RunningLog } from '../helpers/server.js';
import { lockForTarballs } from './lock.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES = { '@candor/core': 'src/core', '@candor/schema': 'src/schema', '@candor/gateway': 'clients/gateway' };
const SERVER_ONLY = ['fastify', 'classic-level', 'pg', '@aws-sdk', 'pino', 'prom-client', 'commander', 'yaml', 'candor'];
const exec = promisify(execFile);
const npm = (args: string[], cwd: string) => exec('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, timeout: 120_000 });

const project = tempDir('candor-sdk-user-');
const browser = tempDir('candor-browser-');
let packed: Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
let log: RunningLog;
let token: string;

/** An empty project at dir with these packed packages installed (npm ci --offline). */
async function install(dir: string, tarballs: string, names: string[]): Promise<void> {
  const byName = Object.fromEntries(
    packed
      .filter((p) => names.includes(p.name))
      .map((p) => {
        const manifest = JSON.parse(readFileSync(join(ROOT, PACKAGES[p.name as keyof typeof PACKAGES], 'package.json'), 'utf8')) as { version: string; dependencies?: Record<string, string> };
        return [p.name, { file: join(tarballs, p.filename), bytes: new Uint8Array(readFileSync(join(tarballs, p.filename))), manifest }];
      }),
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module', dependencies: Object.fromEntries(Object.entries(byName).map(([n, t]) => [n, `file:${t.file}`])) }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lockForTarballs(join(ROOT, 'package-lock.json'), 'sdk-user', byName)));
  await npm(['ci', '--offline', '--ignore-scripts'], dir);
}

beforeAll(async () => {
  const tarballs = join(project, 'tarballs');
  mkdirSync(tarballs);
  const { stdout } = await npm(['pack', ...Object.keys(PACKAGES).flatMap((p) => ['-w', p]), '--pack-destination', tarballs, '--json'], ROOT);
  packed = JSON.parse(stdout) as typeof packed;
  // A gateway's project: the SDK (and through it the schema and the core).
  await install(project, tarballs, ['@candor/gateway', '@candor/schema', '@candor/core']);
  // A browser app's project: the verification core alone.
  await install(browser, tarballs, ['@candor/core']);
  // The producer is registered before the log starts (a running log re-reads producers.json only
  // within a second).
  const data = join(tempDir(), 'data');
  await exec(process.execPath, [CLI, 'init', '--data', data]);
  const add = await exec(process.execPath, [CLI, 'producer', 'add', 'gw-1', '--tenant', 'org-1', '--type', 'session.*', '--data', data]);
  token = /^(candor_pt_\S+)$/m.exec(add.stdout)![1]!;
  log = await startLog({ dir: data, args: ['--grpc', '127.0.0.1:0'] });
}, 180_000);

afterAll(async () => {
  await log?.stop();
});

describe('the packages, installed from their tarballs', () => {
  it('ship only their built code, README and manifest', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(Object.keys(PACKAGES).sort());
    for (const p of packed) {
      for (const f of p.files) expect(f.path, `${p.name}: ${f.path}`).toMatch(/^(dist\/.+\.(js|d\.ts)|README\.md|package\.json)$/);
    }
  });

  it('and the server package ships what runs: no tests, benchmarks or TypeScript sources', async () => {
    const { stdout } = await npm(['pack', '--dry-run', '--json'], ROOT);
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/src/cli/main.js');
    expect(files).toContain('dist/src/app.js');
    expect(files.filter((f) => !/^(dist\/(src|clients)\/.+\.js|proto\/.+\.proto|docs\/.+\.md|README\.md|package\.json)$/.test(f))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|bench)\//.test(f))).toEqual([]);
  });

  it('bring no server dependency', () => {
    const installed = readdirSync(join(project, 'node_modules')).flatMap((d) => (d.startsWith('@') ? readdirSync(join(project, 'node_modules', d)).map((s) => `${d}/${s}`) : [d]));
    expect(installed).toContain('@candor/gateway');
    expect(installed).toContain('@grpc/grpc-js');
    for (const name of SERVER_ONLY) expect(installed.filter((i) => i === name || i.startsWith(`${name}/`)), name).toEqual([]);
  });

  it('record an event in three lines, with a verified receipt, against a real log', async () => {
    const grpc = /gRPC candor\.v1\.LogService on (\S+)/.exec(log.output())![1]!;
    // The three lines of clients/gateway/README.md, with this log's address, token and key.
    writeFileSync(
      join(project, 'gateway.mjs'),
      [
        "import { GatewayClient, SessionVerb } from '@candor/gateway';",
        `const gw = new GatewayClient({ address: ${JSON.stringify(grpc)}, token: ${JSON.stringify(token)}, producer: 'gw-1', tenant: 'org-1', logKey: ${JSON.stringify(log.vkey)} });`,
        "const { receipt, openings } = await gw.session.started({ sessionId: 's-1', verb: SessionVerb.CONNECT, actor: { id: 'usr_42', display: 'alice@example.com' }, resource: { name: 'pg-prod' }, source: { ip: '203.0.113.7' } });",
        'console.log(JSON.stringify({ index: receipt.index.toString(), openings: openings.length })); await gw.close();',
      ].join('\n'),
    );
    const r = await exec(process.execPath, ['gateway.mjs'], { cwd: project, timeout: 30_000 });
    const out = JSON.parse(r.stdout) as { index: string; openings: number };
    expect(Number(out.index)).toBeGreaterThanOrEqual(0);
    expect(out.openings).toBeGreaterThan(0);
  });

  it('@candor/core type-checks against the DOM library without @types/node', async () => {
    writeFileSync(
      join(browser, 'browser.ts'),
      [
        "import { parseVerifierKey } from '@candor/core/note';",
        "import { portableHasher } from '@candor/core/hash';",
        "import * as core from '@candor/core';",
        "const v = parseVerifierKey('example.com/log+01234567+AZb2jNTlPZBdjhC1JkHLVTfsyKgR8xrbvVKf33CjvW6z');",
        "const root: Uint8Array = portableHasher.leaf(new TextEncoder().encode('x'));",
        'document.title = `${v.name} ${root.length} ${Object.keys(core).length}`;',
      ].join('\n'),
    );
    writeFileSync(
      join(browser, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: [], strict: true, noEmit: true, skipLibCheck: false }, files: ['browser.ts'] }),
    );
    expect(existsSync(join(browser, 'node_modules', '@candor', 'core'))).toBe(true);
    expect(existsSync(join(browser, 'node_modules', '@types', 'node'))).toBe(false);
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await exec(process.execPath, [tsc, '-p', join(browser, 'tsconfig.json')], { cwd: browser, timeout: 60_000 }).catch((e: { stdout: string }) => e);
    expect(r.stdout).toBe('');
  });
});
