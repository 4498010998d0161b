/**
 * How the batch defaults were chosen: POST /add throughput and latency at 64 connections for
 * combinations of batchMaxDelayMs and batchMaxEntries. Under HTTP load a batch is bounded by what
 * arrives during one commit (group commit), so waiting longer only adds latency.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, headline, median, meta, ms, otherLoad, saveResult, spread, uniqueAddRequest, writeSection, type ResultMeta } from './lib.js';
import { load, startCandor, type LoadFigure, type LoadResult } from './servers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 4);
const DELAYS = [0, 1, 2, 5];
const BATCHES = [256, 4096];

export interface DefaultsData extends ResultMeta {
  runs: number;
  durationS: number;
  rows: { maxBatch: number; delay: number; results: LoadResult[] }[];
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const rows: DefaultsData['rows'] = [];
  for (const maxBatch of BATCHES) {
    for (const delay of DELAYS) {
      const results: LoadResult[] = [];
      for (let r = 0; r < RUNS; r++) {
        const dir = mkdtempSync(join(tmpdir(), 'candor-bench-'));
        const c = await startCandor(dir, ['--batch-max-delay-ms', String(delay), '--batch-max-entries', String(maxBatch)]);
        const requests = [uniqueAddRequest('{"actor":"alice@example.com","action":"db.query"}')];
        await load({ url: c.url, duration: 1, requests });
        results.push(await load({ url: c.url, duration: DURATION, requests }));
        await c.stop();
        rmSync(dir, { recursive: true, force: true });
      }
      const rps = median(results.map((x) => x.rps));
      console.log(`maxBatch ${maxBatch}, maxDelayMs ${delay}: ${fmt(rps)} req/s, p50 ${ms(median(results.map((x) => x.p50)))} ms, p99 ${ms(median(results.map((x) => x.p99)))} ms`);
      rows.push({ maxBatch, delay, results });
    }
  }
  const data: DefaultsData = { ...meta('defaults', 'npm run bench -- defaults', before, await otherLoad()), runs: RUNS, durationS: DURATION, rows };
  saveResult('defaults', data);
  writeSection('Batch defaults', defaultsSection(data));
}

export function defaultsSection(d: DefaultsData): string {
  const rows = d.rows.map((r) => {
    const m = (k: LoadFigure) => median(r.results.map((x) => x[k]));
    return `| ${fmt(r.maxBatch)} | ${r.delay} | ${fmt(m('rps'))} (${spread(r.results.map((x) => x.rps))}) | ${ms(m('p50'))} | ${ms(m('p99'))} |`;
  });
  return `${headline(d, `${d.runs} runs of ${d.durationS} s, medians`)}

\`POST /add\` at 64 connections for each combination. The defaults are \`batchMaxDelayMs: 0\` and
\`batchMaxEntries: 4096\`. Under load, batches already fill with what arrives during the previous commit
(group commit), so a delay has little to add; a large cap lets a burst or a \`submitMany\` producer batch go
through in one commit (see the in-process figures). Differences within the runs' spread are noise on this
shared machine.

| batchMaxEntries | batchMaxDelayMs | req/s (runs) | p50 ms | p99 ms |
|---:|---:|---:|---:|---:|
${rows.join('\n')}`;
}
