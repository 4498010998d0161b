/**
 * How the batch defaults were chosen: POST /add throughput and latency at 64 connections for
 * combinations of batchMaxDelayMs and batchMaxEntries. Under HTTP load a batch is bounded by what
 * arrives during one commit (group commit), so waiting longer only adds latency.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import { fmt, machine, median, writeSection } from './lib.js';
import { load, startCandor, type LoadResult } from './servers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 4);
const DELAYS = [0, 1, 2, 5];
const BATCHES = [256, 4096];

export async function main(): Promise<void> {
  const rows: string[] = [];
  for (const maxBatch of BATCHES) {
    for (const delay of DELAYS) {
      const results: LoadResult[] = [];
      for (let r = 0; r < RUNS; r++) {
        const dir = mkdtempSync(join(tmpdir(), 'candor-bench-'));
        const c = await startCandor(dir, ['--batch-max-delay-ms', String(delay), '--batch-max-entries', String(maxBatch)]);
        const prefix = randomBytes(6).toString('hex');
        let n = 0;
        const requests = [
          {
            method: 'POST' as const,
            path: '/add',
            headers: { 'content-type': 'application/octet-stream' },
            setupRequest: (q: autocannon.Request) => {
              q.body = `audit event ${prefix}-${String(n++).padStart(12, '0')} {"actor":"alice@example.com","action":"db.query"}`;
              return q;
            },
          },
        ];
        await load({ url: c.url, duration: 1, requests });
        results.push(await load({ url: c.url, duration: DURATION, requests }));
        await c.stop();
        rmSync(dir, { recursive: true, force: true });
      }
      const rps = median(results.map((x) => x.rps));
      console.log(`maxBatch ${maxBatch}, maxDelayMs ${delay}: ${fmt(rps)} req/s, p50 ${median(results.map((x) => x.p50))} ms, p99 ${median(results.map((x) => x.p99))} ms`);
      rows.push(`| ${fmt(maxBatch)} | ${delay} | ${fmt(rps)} | ${median(results.map((x) => x.p50))} | ${median(results.map((x) => x.p99))} |`);
    }
  }
  writeSection(
    'Batch defaults',
    `Command: \`npm run bench -- defaults\` (${RUNS} runs of ${DURATION} s, medians). Machine: ${machine()}.

\`POST /add\` at 64 connections for each combination. The defaults are \`batchMaxDelayMs: 0\` and
\`batchMaxEntries: 4096\`. Waiting adds latency without adding throughput: under load, batches already
fill with what arrives during the previous commit. A large cap lets a burst or a \`submitMany\`
producer batch go through in one commit (see the in-process figures).

| batchMaxEntries | batchMaxDelayMs | req/s | p50 ms | p99 ms |
|---:|---:|---:|---:|---:|
${rows.join('\n')}`,
  );
}
