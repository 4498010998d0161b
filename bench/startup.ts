/**
 * Start-up times a new user sees (issue 16's first hour), each run BENCH_STARTUP_RUNS times
 * (default 10) after one warm-up, hyperfine-style: `candor --help` and `--version` through
 * node_modules/.bin/candor, `npx candor --help`, `npm start` until it prints "serving on" (sources
 * unchanged, so no rebuild), and the no-change check alone. The ceiling is Node's own start-up
 * (`node -e ''`), measured in the same run: no CLI can answer faster.
 *
 *   npm run bench -- startup
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headline, median, meta, ms, otherLoad, saveResult, verdict, writeSection, type ResultMeta } from './lib.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 10);

interface Case {
  name: string;
  command: string;
  goalMs?: number;
  times: number[];
}

interface StartupResult extends ResultMeta {
  runs: number;
  cases: Case[];
}

/** Runs argv to completion (or, with `until`, until stdout matches it, then SIGTERM); ms taken. */
function time(argv: string[], until?: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: until !== undefined });
    let out = '';
    let elapsed: number | undefined;
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (until && elapsed === undefined && until.test(out)) {
        elapsed = performance.now() - t0;
        // npm start runs node under a shell: stop the whole process group.
        process.kill(-child.pid!, 'SIGTERM');
      }
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      if (until) return elapsed === undefined ? reject(new Error(`${argv.join(' ')} exited ${code} before serving:\n${out}`)) : resolve(elapsed);
      return code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${argv.join(' ')} exited ${code}`));
    });
  });
}

async function measure(c: Omit<Case, 'times'>, run: () => Promise<number>): Promise<Case> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await run());
  console.log(`${c.name}: median ${ms(median(times))} ms (min ${ms(Math.min(...times))}, max ${ms(Math.max(...times))})`);
  return { ...c, times };
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const data = mkdtempSync(join(tmpdir(), 'candor-bench-startup-'));
  const bin = join(ROOT, 'node_modules', '.bin', 'candor');
  try {
    const cases = [
      await measure({ name: 'node -e "" (ceiling)', command: "node -e ''" }, () => time([process.execPath, '-e', ''])),
      await measure({ name: 'candor --help', command: 'node_modules/.bin/candor --help', goalMs: 300 }, () => time([bin, '--help'])),
      await measure({ name: 'candor --version', command: 'node_modules/.bin/candor --version', goalMs: 300 }, () => time([bin, '--version'])),
      await measure({ name: "npx --version (npx's own start-up)", command: 'npx --version' }, () => time(['npx', '--version'])),
      await measure({ name: 'npx candor --help', command: 'npx candor --help', goalMs: 1000 }, () => time(['npx', 'candor', '--help'])),
      await measure({ name: 'npx --no candor --help', command: 'npx --no candor --help', goalMs: 1000 }, () => time(['npx', '--no', 'candor', '--help'])),
      await measure({ name: 'build check, nothing changed', command: 'node src/cli/build.mjs' }, () => time([process.execPath, 'src/cli/build.mjs'])),
      await measure({ name: 'npm start until serving', command: `npm start -- --data DIR --http 127.0.0.1:0`, goalMs: 3000 }, () =>
        time(['npm', 'start', '--', '--data', data, '--http', '127.0.0.1:0'], /serving on/),
      ),
    ];
    const d: StartupResult = { ...meta('startup', 'npm run bench -- startup', before, await otherLoad()), runs: RUNS, cases };
    saveResult('startup', d);
    writeSection('Start-up', startupSection(d));
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

export function startupSection(d: StartupResult): string {
  const ceiling = median(d.cases[0]!.times);
  const rows = d.cases.map((c) => {
    const m = median(c.times);
    return `| ${c.name} | \`${c.command}\` | ${ms(m)} ms | ${ms(Math.min(...c.times))} to ${ms(Math.max(...c.times))} ms | ${(m / ceiling).toFixed(1)}× | ${c.goalMs === undefined ? '' : `< ${ms(c.goalMs)} ms: ${verdict(m < c.goalMs)}`} |`;
  });
  return [
    headline(d, `${d.runs} runs of each after one warm-up, wall time of the whole process`),
    '',
    '| What | Command | Median | Range | × ceiling | Goal |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    "The ceiling is Node's own start-up (`node -e ''`) in the same run. `npm start` rebuilds only when a source is newer than the last build (src/cli/build.mjs); `npx candor` finds the CLI in node_modules/.bin, which the build links.",
    '',
    "`npx candor` is slower than `npx --no candor` when npm's hidden lock file (node_modules/.package-lock.json) is older than node_modules or the checkout's root directory (any file added or removed there since `npm ci`, vitest's node_modules/.vite-temp included): npm then reads every installed package.json before running the bin (`npm exec --loglevel silly` says \"shrinkwrap failed to load node_modules/.package-lock.json out of date\"). `npx --no` skips that.",
  ].join('\n');
}
