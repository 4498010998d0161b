/**
 * In-process integration: entries appended, committed (one synced LevelDB batch each) and
 * acknowledged with a proof, per second, beside the raw SHA-256 ceiling measured in the same run.
 * An RFC 9162 log needs about two hashes per entry (a leaf hash and, amortized, one node hash),
 * so the ceiling for integration is half the hash rate.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore } from '../src/storage/level.js';
import { renderCharts } from './charts.js';
import { benchSequencer, fmt, headline, median, meta, otherLoad, repeat, saveResult, sha256Ceiling, sha256Rates, sha256Text, spread, verdict, writeSection, type ResultMeta, type Sha256Rates } from './lib.js';
import { phaseTable, phases, type Phase } from './phases.js';

const N = Number(process.env.BENCH_ENTRIES ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BATCHES = (process.env.BENCH_BATCHES ?? '256,1024,4096,16384').split(',').map(Number);

export interface IntegrationData extends ResultMeta {
  entries: number;
  runs: number;
  sha256: Sha256Rates;
  /** Entries/s allowed by two SHA-256 per entry, the fastest way measured. */
  ceiling: number;
  /** unique: submitted as SubmitOptions.unique (no leaf-hash lookup), as event ingestion does. */
  rows: { maxBatch: number; perCall: number; unique?: boolean; runs: number[] }[];
  phases: Phase[];
}

/** How entries are submitted: one per call, or 256 per call, looked up by leaf hash or not. */
const WAYS = [
  { perCall: 1, unique: false },
  { perCall: 256, unique: false },
  { perCall: 256, unique: true },
];

async function integrate(maxBatch: number, perCall: number, unique: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'candor-bench-'));
  const store = await LevelStore.open(join(dir, 'db'));
  const seq = await benchSequencer(store, {
    maxBatch,
    maxDelayMs: 0,
    maxQueue: N,
    maxQueueBytes: N * 128,
  });
  const pool = randomBytes(64 * N);
  const entries = Array.from({ length: N }, (_, i) => pool.subarray(64 * i, 64 * (i + 1)));
  const start = performance.now();
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < N; i += perCall) {
    calls.push(perCall === 1 ? seq.submit(entries[i]!) : seq.submitMany(entries.slice(i, i + perCall), undefined, { unique }));
  }
  await Promise.all(calls);
  const secs = (performance.now() - start) / 1000;
  if (seq.size !== N) throw new Error('bad run');
  await seq.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return N / secs;
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const sha256 = await sha256Rates(RUNS);
  const ceiling = sha256Ceiling(sha256) / 2;
  console.log(`SHA-256 on 65 bytes: ${sha256Text(sha256)}`);
  console.log(`ceiling for integration (2 hashes per entry): ${fmt(ceiling)} entries/s`);
  const rows: IntegrationData['rows'] = [];
  for (const { perCall, unique } of WAYS) {
    for (const b of BATCHES) {
      const runs = await repeat(RUNS, () => integrate(b, perCall, unique));
      const m = median(runs);
      console.log(`maxBatch ${b}, ${way({ perCall, unique })}: ${fmt(m)} entries/s (runs ${spread(runs)}), ${fmt((m / ceiling) * 100, 1)}% of the hashing ceiling`);
      rows.push({ maxBatch: b, perCall, unique, runs });
    }
  }
  const ps = await phases();
  console.log(phaseTable(ps));
  const after = await otherLoad();
  const data: IntegrationData = {
    ...meta('integration', 'npm run bench -- integration', before, after),
    entries: N,
    runs: RUNS,
    sha256,
    ceiling,
    rows,
    phases: ps,
  };
  saveResult('integration', data);
  writeSection('In-process integration', integrationSection(data));
}

export function way(r: { perCall: number; unique?: boolean }): string {
  if (r.perCall === 1) return 'submit (1 per call)';
  return `submitMany (${r.perCall} per call)${r.unique ? ', unique' : ''}`;
}

/** The fastest row: its median and how it was submitted. */
export function bestIntegration(d: IntegrationData): { rate: number; row: IntegrationData['rows'][number] } {
  let best = d.rows[0]!;
  for (const r of d.rows) if (median(r.runs) > median(best.runs)) best = r;
  return { rate: median(best.runs), row: best };
}

/** The issue's goal: 300,000 entries/s, "about 2 hashes per entry, i.e. within 2x of the hashing ceiling". */
export const GOAL = 300_000;

function goalText(d: IntegrationData): string {
  const { rate, row } = bestIntegration(d);
  return `Goal: at least ${fmt(GOAL)} entries/s, which the issue equates with "within 2× of the hashing ceiling" at
about two hashes per entry. Best: **${fmt(rate)} entries/s** (max batch ${fmt(row.maxBatch)}, ${way(row)}):
${verdict(rate >= GOAL)}. The two readings part on this machine: node:crypto's \`hash()\` spends most of its time
giving each digest its own Buffer (the "to a Buffer" rate above); asked for a binary string copied into Node's
shared Buffer pool instead, it hashes ${fmt(d.sha256.server / d.sha256.nodeBuffer, 1)}× as fast, and that is both how the server
hashes and the ceiling, so the best rate is ${fmt(rate / d.ceiling, 2)} of the ceiling, not the 0.5 "within 2×" would need.`;
}

export function integrationSection(d: IntegrationData): string {
  const rows = d.rows.map((r) => {
    const m = median(r.runs);
    return `| ${fmt(r.maxBatch)} | ${way(r)} | ${fmt(m)} | ${spread(r.runs)} | ${fmt(m / d.ceiling, 2)} |`;
  });
  return `${headline(d, `BENCH_ENTRIES=${d.entries}, ${d.runs} runs, medians`)}

Entries of 64 random bytes submitted at once to a Sequencer on a LevelStore in a temp dir; each batch is
hashed, tiled, signed, committed with one synced write, and every entry acknowledged with its inclusion
proof. The clock runs from the first submission to the last acknowledgement. Entries are first looked up
by leaf hash, so that one already logged keeps its index (what \`POST /add\` does); rows marked *unique* are
submitted with \`SubmitOptions.unique\`, without that lookup, as event ingestion submits its leaves (each
holds its receive time and has passed the idempotency check already).

Ceiling, same run: SHA-256 of 65 bytes: ${sha256Text(d.sha256)}. At two hashes per entry, the fastest
gives an integration ceiling of **${fmt(d.ceiling)} entries/s**.

| max batch | how submitted | entries/s (median) | runs | ratio to ceiling |
|---:|---|---:|---:|---:|
${rows.join('\n')}

${goalText(d)}

${renderCharts('integration', d).join('\n')}

Where the time goes (\`bench/phases.ts\`: the same steps on a real store, one at a time, batches of 4,096).
The dedup lookups and the LevelDB write and fsync run on libuv's thread pool and overlap with preparing the
next batch, so the main thread's total is one bound on throughput. Two hashes per entry cost about ${fmt(2e6 / d.sha256.server, 1)} µs of it (hashed the server's way); the
rest is per-entry JavaScript and the LevelDB binding's per-key work (dedup lookup, index puts), and the allocations
behind them. On 2 cores the thread pool's work (the LevelDB rows below), LevelDB's compactions and the garbage
collector compete with the main thread for CPU, so the measured rate stays below that bound.

${phaseTable(d.phases)}`;
}
