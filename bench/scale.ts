/**
 * Scale: proof serving at 1M versus 10M entries (BENCH_SCALE_SIZES). For each size, a log is
 * built once (kept under $TMPDIR/candor-bench-logs/<size> for reruns), served by a real
 * `candor serve` process, and measured with autocannon: random inclusion proofs at 64
 * connections (throughput, p99) and at 1 connection (latency), and the server's resident memory.
 * The cost of a proof must grow with log n, not with n.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, machine, median, writeSection } from './lib.js';
import { buildLog } from './http.js';
import { load, startCandor, type LoadResult } from './servers.js';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '1000000,10000000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);

export async function main(): Promise<void> {
  const rows: string[] = [];
  const base = join(tmpdir(), 'candor-bench-logs');
  for (const size of SIZES) {
    const dir = join(base, String(size));
    if (!existsSync(join(dir, 'db'))) {
      mkdirSync(dir, { recursive: true });
      const t0 = performance.now();
      await buildLog(dir, size);
      console.log(`built ${fmt(size)} entries in ${fmt((performance.now() - t0) / 1000, 1)} s`);
    }
    const proofs = Array.from({ length: 8192 }, () => ({ path: `/proof/inclusion?index=${Math.floor(Math.random() * size)}&size=${size}` }));
    const many: LoadResult[] = [];
    const one: LoadResult[] = [];
    const rss: number[] = [];
    const anon: number[] = [];
    const startMs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      const c = await startCandor(dir);
      startMs.push(performance.now() - t0);
      await load({ url: c.url, duration: 2, requests: proofs });
      many.push(await load({ url: c.url, duration: DURATION, requests: proofs }));
      one.push(await load({ url: c.url, duration: DURATION, connections: 1, requests: proofs }));
      const mem = await c.rss();
      rss.push(mem.rss);
      anon.push(mem.anon);
      await c.stop();
      console.log(`${fmt(size)}: ${fmt(many[r]!.rps)} proofs/s (p99 ${many[r]!.p99} ms); 1 connection p50 ${one[r]!.p50} ms p99 ${one[r]!.p99} ms; RSS ${fmt(rss[r]! / 2 ** 20)} MiB (private ${fmt(anon[r]! / 2 ** 20)} MiB); start ${fmt(startMs[r]!)} ms`);
    }
    rows.push(
      `| ${fmt(size)} | ${fmt(median(many.map((x) => x.rps)))} | ${median(many.map((x) => x.p99))} | ${median(one.map((x) => x.p50))} | ${median(one.map((x) => x.p99))} | ${fmt(median(anon) / 2 ** 20)} | ${fmt(median(rss) / 2 ** 20)} | ${fmt(median(startMs))} |`,
    );
  }
  writeSection(
    'Scale: proofs at 1M and 10M entries',
    `Command: \`npm run bench -- scale\` (BENCH_SCALE_SIZES=${SIZES.join(',')}, ${RUNS} runs, medians). Machine: ${machine()}.

Random inclusion proofs against a \`candor serve\` process (default 64 MiB tile cache), 2 s warm-up, then ${DURATION} s at
64 connections and ${DURATION} s at 1 connection. Memory is the server's after the runs: private (anonymous) memory,
and the whole resident set, which also counts LevelDB's memory-mapped table files (page cache that grows with the
store). Start is process start to serving, including the check that the stored tiles reproduce the checkpoint root.

| entries | proofs/s (64 conn.) | p99 ms | 1 conn. p50 ms | 1 conn. p99 ms | private MiB | RSS MiB | start ms |
|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}`,
  );
}
