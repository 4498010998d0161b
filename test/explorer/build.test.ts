// The explorer's build is reproducible (two builds of the same sources give the same bytes, so
// the hash the README publishes can be checked by anyone) and within its budget: at most 150 KB
// of gzipped JavaScript and CSS on first load.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/server.js';

const VITE = join(process.cwd(), 'node_modules/.bin/vite');
const BUDGET = 150 * 1024;

function build(): string {
  const out = tempDir('candor-explorer-build-');
  execFileSync(VITE, ['build', '--config', 'clients/explorer/vite.config.ts', '--outDir', out, '--emptyOutDir'], { stdio: 'pipe', timeout: 60_000 });
  return out;
}

function files(dir: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) m.set(join(e.parentPath, e.name).slice(dir.length), readFileSync(join(e.parentPath, e.name)));
  }
  return m;
}

describe('the explorer build', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('gives the same bytes twice, and first load is within 150 KB gzipped', () => {
    dirs.push(build(), build());
    const [a, b] = dirs.map(files) as [Map<string, Buffer>, Map<string, Buffer>];
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!), name).toBe(true);

    const html = a.get('/index.html')!.toString();
    const firstLoad = [...html.matchAll(/(?:src|href)="\.\/([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(firstLoad.length).toBeGreaterThanOrEqual(2);
    const gz = firstLoad.reduce((n, f) => n + gzipSync(a.get(`/${f}`)!, { level: 9 }).length, 0);
    expect(gz).toBeLessThanOrEqual(BUDGET);
  }, 120_000);
});

describe('the explorer build hash the README publishes', () => {
  it('is the hash of dist/explorer as npm run build leaves it', () => {
    const published = /^explorer build hash: `([0-9a-f]{64})`$/m.exec(readFileSync('README.md', 'utf8'))?.[1];
    const actual = execFileSync('npm', ['run', '-s', 'explorer:hash'], { encoding: 'utf8', timeout: 30_000 }).trim();
    // A change to the explorer (or to what it bundles) changes the hash: update the README with
    // `npm run build && npm run -s explorer:hash`.
    expect(published, 'README.md has no "explorer build hash" line').toBeDefined();
    expect(actual).toBe(published);
  });
});
