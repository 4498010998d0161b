// The README's quick start and gateway walkthrough, run as written against a real server. The
// only edits: the server is started by the test (instead of `npm start`) on free ports, which
// replace 8080 (also through CANDOR_URL, the CLI's default) and 8081; `npx candor` and `npx tsx` run the repository's node_modules/.bin.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLog, tempDir, type RunningLog } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first ```sh block after `marker` in the README. */
function block(marker: string): string {
  const at = README.indexOf(marker);
  expect(at, marker).toBeGreaterThanOrEqual(0);
  const m = /```sh\n([\s\S]*?)```/.exec(README.slice(at));
  return m![1]!;
}

const cwd = tempDir('candor-readme-');
let log: RunningLog;
let grpc: string;

beforeAll(async () => {
  log = await startLog({ dir: join(cwd, 'data'), args: ['--grpc', '127.0.0.1:0'] });
  grpc = /gRPC candor\.v1\.LogService on (\S+)/.exec(log.output())![1]!;
});
afterAll(async () => {
  await log?.stop();
});

async function run(script: string): Promise<string> {
  const edited = script
    .split('\n')
    .filter((l) => !l.startsWith('npm start'))
    .join('\n')
    .replaceAll('http://127.0.0.1:8080', log.url)
    .replaceAll('127.0.0.1:8081', grpc)
    .replaceAll('npx candor', 'candor')
    .replaceAll('npx tsx clients/', `tsx ${ROOT}clients/`);
  // The CLI's default URL is http://127.0.0.1:8080; CANDOR_URL moves it to this log's port.
  const env = { ...process.env, CANDOR_URL: log.url, PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}` };
  const r = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', edited], { cwd, env, timeout: 90_000 });
  return r.stdout;
}

describe('README.md', () => {
  it('quick start: submit, verify inclusion, keep a checkpoint, prove consistency', { timeout: 120_000 }, async () => {
    const out = await run(block('Try it from another terminal'));
    expect(out).toMatch(/"verified": true/);
    expect(out).toMatch(/inclusion OK: index 0/);
    expect(out).toMatch(/consistency OK: size \d+ -> \d+/);
  });

  it('gateway walkthrough: register a producer, play a review lifecycle against this log', { timeout: 120_000 }, async () => {
    const out = await run(block('Each producer (a gateway) is registered with the CLI'));
    expect(out).toMatch(/review\.requested\s+index/);
    expect(out).toContain('verified');
    const tree = Number(/"size":\s*(\d+)/.exec(await (await fetch(`${log.url}/proof/inclusion?index=0`)).text())?.[1] ?? 0);
    expect(tree).toBeGreaterThan(3);
  });
});
