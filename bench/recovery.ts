/**
 * Time to recover after a crash at 10M entries: copies the cached 10M-entry log (bench/logs.ts;
 * the cache itself is never written), starts `candor serve` on the copy, puts it under write load
 * (16 concurrent POST /add), SIGKILLs it, and times restart to ready: from spawning the process to
 * its "serving on" line, which comes after the store is opened (LevelDB replays its log), the
 * tree state is loaded and checked against the signed checkpoint, and HTTP listens. Each run
 * then checks that the tree holds every entry acknowledged before the kill.
 * BENCH_RECOVERY_SIZE (default 10000000) and BENCH_RECOVERY_RUNS (default 5).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedLog, logsDir } from './logs.js';
import { fmt, headline, median, meta, ms, otherLoad, saveResult, spread, writeSection, type ResultMeta } from './lib.js';
import { startCandor, type Child } from './servers.js';

interface RecoveryResult extends ResultMeta {
  size: number;
  runs: { readyMs: number; acked: number; sizeAfter: number }[];
}

async function kill(c: Child): Promise<void> {
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGKILL');
  await exited;
}

/** 16 writers until stopped; returns the highest acknowledged index + 1 and the count. */
async function load(url: string, stop: { now: boolean }): Promise<{ acked: number; top: number }> {
  let acked = 0;
  let top = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; !stop.now; i++) {
        try {
          const res = await fetch(`${url}/add`, { method: 'POST', body: `recovery ${w} ${i} ${Math.random()}`, headers: { 'Content-Type': 'application/octet-stream' } });
          if (res.status !== 200) continue;
          const { index } = (await res.json()) as { index: number };
          acked++;
          top = Math.max(top, index + 1);
        } catch {
          return;
        }
      }
    }),
  );
  return { acked, top };
}

export function recoverySection(d: RecoveryResult): string {
  const ready = d.runs.map((r) => r.readyMs);
  return [
    headline(d, `${d.runs.length} kills of a loaded server on a copy of the ${fmt(d.size)}-entry log`),
    '',
    `**Restart to ready after a SIGKILL at ${fmt(d.size)} entries: ${ms(median(ready))} ms median** (${spread(ready)} ms over ${d.runs.length} runs), from spawning \`candor serve\` to its "serving on" line: Node start-up, opening the store (LevelDB replays its write-ahead log), loading the right edge of the tree and checking it against the signed checkpoint, opening the idempotency index, listening. Every run held every entry acknowledged before its kill (${fmt(d.runs.reduce((a, r) => a + r.acked, 0))} in all).`,
    '',
    '| run | restart to ready (ms) | acknowledged before the kill | tree size after |',
    '|---:|---:|---:|---:|',
    ...d.runs.map((r, i) => `| ${i + 1} | ${ms(r.readyMs)} | ${fmt(r.acked)} | ${fmt(r.sizeAfter)} |`),
  ].join('\n');
}

export async function main(): Promise<void> {
  const size = Number(process.env.BENCH_RECOVERY_SIZE ?? 10_000_000);
  const runs = Number(process.env.BENCH_RECOVERY_RUNS ?? 5);
  // Use a cached log as it is (it is only copied): never rebuild one here over a code change.
  const cached = existsSync(join(logsDir(), String(size), 'build.json')) ? join(logsDir(), String(size)) : (await cachedLog(size)).dir;
  const dir = mkdtempSync(join(tmpdir(), 'candor-recovery-'));
  try {
    console.log(`  copying the ${fmt(size)}-entry log to ${dir}`);
    execFileSync('cp', ['-r', '--reflink=auto', join(cached, 'db'), join(cached, 'log.key'), join(cached, 'log.vkey'), dir]);
    const before = await otherLoad();
    const out: RecoveryResult['runs'] = [];
    let log = await startCandor(dir);
    for (let r = 0; r < runs; r++) {
      const stop = { now: false };
      const traffic = load(log.url, stop);
      await new Promise((res) => setTimeout(res, 1500 + Math.random() * 1000));
      await kill(log);
      stop.now = true;
      const { acked, top } = await traffic;
      const t0 = performance.now();
      log = await startCandor(dir);
      const readyMs = performance.now() - t0;
      const cp = await (await fetch(`${log.url}/checkpoint`)).text();
      const sizeAfter = Number(cp.split('\n')[1]);
      if (sizeAfter < top) throw new Error(`an acknowledged entry was lost: index ${top - 1} acknowledged, tree size ${sizeAfter} after restart`);
      out.push({ readyMs, acked, sizeAfter });
      console.log(`  run ${r + 1}: ready ${ms(readyMs)} ms after restart; ${acked} acknowledged before the kill, tree size ${fmt(sizeAfter)}`);
    }
    await log.stop();
    const d: RecoveryResult = { ...meta('recovery', 'npm run bench -- recovery', before, await otherLoad()), size, runs: out };
    saveResult('recovery', d);
    writeSection('Crash recovery', recoverySection(d));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
