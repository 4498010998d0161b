/**
 * Latency against offered load: submit-to-acknowledgement-with-proof percentiles of POST /add
 * (every answer carries the checkpoint and the inclusion proof, after the synced commit), at
 * fixed fractions of the peak rate measured in the same run, up to and past saturation. The floor
 * beside it is the bare fastify POST handler at the same absolute rates, with the same client.
 *
 * The load is open-loop and evenly paced (bench/paced.ts explains why autocannon's overallRate is
 * not used for this); one autocannon overallRate run at half the peak is kept for comparison.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCharts } from './charts.js';
import { fmt, headline, median, meta, ms, otherLoad, quantile, saveResult, spread, uniqueAddRequest, writeSection, type ResultMeta } from './lib.js';
import { paced, postRequest, type PacedResult } from './paced.js';
import { load, startBare, startCandor } from './servers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION_MS = Number(process.env.BENCH_LATENCY_MS ?? 3000);
/** Offered loads, as multiples of the closed-loop rate; a run stops at the first saturated one. */
const FRACTIONS = (process.env.BENCH_LATENCY_FRACTIONS ?? '0.1,0.25,0.5,0.75,1,1.25,1.5,2,3').split(',').map(Number);
/** Connections the paced client may use: enough that it never limits the offered rate. */
const CONNECTIONS = 256;
/** Connections of the closed-loop peak measurement (as in the HTTP section). */
const PEAK_CONNECTIONS = 64;

export interface LatencyRun {
  offered: number;
  achieved: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  failed: number;
}

export interface LatencyData extends ResultMeta {
  runs: number;
  durationMs: number;
  connections: number;
  /** Per run: Candor's and the bare server's closed-loop rate at 64 connections (req/s), with the paced client. */
  closedPeak: number[];
  barePeak: number[];
  /** Per run: the peak, the highest rate Candor answered in any step (open loop, up to saturation). */
  peak: number[];
  /** Offered load as a multiple of each run's closed-loop rate; runs stop after the first saturated step. */
  steps: { fraction: number; candor: LatencyRun[]; bare: LatencyRun[] }[];
  /** Per run: half of that run's peak, measured last: the goal's condition. */
  half: { candor: LatencyRun[]; bare: LatencyRun[]; server: ServerView[] };
  /** Per run: autocannon at overallRate = half the peak: its own p99 and the p99 of the raw response times. */
  autocannonHalf: { rps: number; reportedP99: number; rawP50: number; rawP99: number }[];
}

/** What the server's own metrics say about a step: its batches and how long each took to integrate. */
export interface ServerView {
  batches: number;
  meanBatch: number;
  /** Integration time per batch (hash, tile, sign, synced commit, proofs): mean, and the bucket bound under which 50% / 99% fall. */
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** The bucket bound under which the slowest batch fell. */
  maxMs: number;
  /** From LevelDB's own LOG during the step: level-0 tables written (memtable flushes), their bytes, compactions. */
  flushes?: number;
  flushedBytes?: number;
  compactions?: number;
  entries?: number;
}

/** LevelDB's LOG lines between two wall-clock times: memtable flushes and compactions. */
function levelLog(file: string, from: number, to: number): { flushes: number; bytes: number; compactions: number } {
  let flushes = 0;
  let bytes = 0;
  let compactions = 0;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { flushes, bytes, compactions };
  }
  for (const line of text.split('\n')) {
    // 2026/11/23-06:48:37.495009 7f77b3fff6c0 Level-0 table #5: 2869448 bytes OK  (local time)
    const m = /^(\d{4})\/(\d\d)\/(\d\d)-(\d\d):(\d\d):(\d\d)\.(\d{3})\d* \S+ (.*)$/.exec(line);
    if (!m) continue;
    const t = new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!).getTime();
    if (t < from || t > to) continue;
    const flush = /^Level-0 table #\d+: (\d+) bytes OK/.exec(m[8]!);
    if (flush) {
      flushes++;
      bytes += Number(flush[1]);
    } else if (m[8]!.startsWith('Compacted ')) compactions++;
  }
  return { flushes, bytes, compactions };
}

type Histogram = { buckets: [number, number][]; sum: number; count: number };

async function scrape(url: string): Promise<Record<string, Histogram>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, Histogram> = {};
  for (const line of text.split('\n')) {
    const m = /^(candor_batch_size|candor_integration_seconds)_(bucket|sum|count)(?:\{le="([^"]+)"\})? ([0-9.e+-]+)$/.exec(line);
    if (!m) continue;
    const h = (out[m[1]!] ??= { buckets: [], sum: 0, count: 0 });
    if (m[2] === 'bucket') h.buckets.push([m[3] === '+Inf' ? Infinity : Number(m[3]), Number(m[4])]);
    else if (m[2] === 'sum') h.sum = Number(m[4]);
    else h.count = Number(m[4]);
  }
  return out;
}

function serverView(a: Record<string, Histogram>, b: Record<string, Histogram>): ServerView {
  const size = b.candor_batch_size!;
  const time = b.candor_integration_seconds!;
  const time0 = a.candor_integration_seconds!;
  const n = time.count - time0.count;
  const bound = (q: number) => {
    for (let i = 0; i < time.buckets.length; i++) {
      if (time.buckets[i]![1] - time0.buckets[i]![1] >= q * n) return time.buckets[i]![0] * 1000;
    }
    return Infinity;
  };
  return {
    batches: n,
    meanBatch: (size.sum - a.candor_batch_size!.sum) / Math.max(1, n),
    meanMs: ((time.sum - time0.sum) / Math.max(1, n)) * 1000,
    p50Ms: bound(0.5),
    p99Ms: bound(0.99),
    maxMs: bound(1),
  };
}

function summarize(r: PacedResult): LatencyRun {
  const l = r.latencies;
  return {
    offered: r.offered ?? 0,
    achieved: r.achieved,
    p50: quantile(l, 0.5),
    p95: quantile(l, 0.95),
    p99: quantile(l, 0.99),
    max: l.length ? l[l.length - 1]! : NaN,
    failed: r.non2xx + r.errors + r.unanswered,
  };
}

/** Unique 130-byte audit events, as in the HTTP section. */
function requests(): (i: number) => Buffer {
  const prefix = randomBytes(6).toString('hex');
  return (i) =>
    postRequest('/add', `audit event ${prefix}-${String(i).padStart(12, '0')} {"actor":"alice@example.com","action":"db.query","resource":"postgres://prod/customers"}`);
}

/** A step is saturated when Candor falls behind the offered rate, fails requests or queues for seconds. */
function saturated(r: LatencyRun): boolean {
  return r.achieved < 0.9 * r.offered || r.failed > 0 || r.p99 > 1000;
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const steps: LatencyData['steps'] = FRACTIONS.map((fraction) => ({ fraction, candor: [], bare: [] }));
  const half: LatencyData['half'] = { candor: [], bare: [], server: [] };
  const closedPeak: number[] = [];
  const barePeak: number[] = [];
  const peak: number[] = [];
  const autocannonHalf: LatencyData['autocannonHalf'] = [];
  for (let r = 0; r < RUNS; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'candor-latency-'));
    const bare = await startBare();
    const candor = await startCandor(dir);
    try {
      const step = async (rate: number) => {
        const c = summarize(await paced({ url: candor.url, request: requests(), durationMs: DURATION_MS, connections: CONNECTIONS, rate }));
        const b = summarize(await paced({ url: bare.url, request: requests(), durationMs: DURATION_MS, connections: CONNECTIONS, rate }));
        console.log(
          `  ${fmt(rate)} req/s offered: Candor ${fmt(c.achieved)} req/s p50 ${ms(c.p50)} p95 ${ms(c.p95)} p99 ${ms(c.p99)} max ${ms(c.max)} ms${c.failed ? ` (${c.failed} failed)` : ''}; bare p99 ${ms(b.p99)} ms`,
        );
        return { c, b };
      };
      await paced({ url: candor.url, request: requests(), durationMs: 1000, connections: PEAK_CONNECTIONS }); // warm-up
      const p = await paced({ url: candor.url, request: requests(), durationMs: DURATION_MS, connections: PEAK_CONNECTIONS });
      closedPeak.push(p.achieved);
      const bp = await paced({ url: bare.url, request: requests(), durationMs: DURATION_MS, connections: PEAK_CONNECTIONS });
      barePeak.push(bp.achieved);
      console.log(`run ${r + 1}: closed loop at ${PEAK_CONNECTIONS} connections: Candor ${fmt(p.achieved)} req/s, bare ${fmt(bp.achieved)} req/s`);
      let best = p.achieved;
      for (const s of steps) {
        const { c, b } = await step(Math.max(1, Math.round(s.fraction * p.achieved)));
        s.candor.push(c);
        s.bare.push(b);
        best = Math.max(best, c.achieved);
        if (saturated(c)) break;
      }
      peak.push(best);
      console.log(`  peak ${fmt(best)} req/s; half of it:`);
      const m0 = await scrape(candor.url);
      const from = Date.now();
      const h = await step(Math.max(1, Math.round(best / 2)));
      const lv = levelLog(join(dir, 'db', 'LOG'), from, from + DURATION_MS);
      const view: ServerView = { ...serverView(m0, await scrape(candor.url)), flushes: lv.flushes, flushedBytes: lv.bytes, compactions: lv.compactions, entries: h.c.achieved * (DURATION_MS / 1000) };
      half.candor.push(h.c);
      half.bare.push(h.b);
      half.server.push(view);
      console.log(
        `  server: ${fmt(view.batches)} batches, mean ${fmt(view.meanBatch, 1)} entries, integration mean ${ms(view.meanMs)} ms, p50 ≤ ${ms(view.p50Ms)} ms, p99 ≤ ${ms(view.p99Ms)} ms; LevelDB: ${lv.flushes} level-0 flushes (${fmt(lv.bytes / Math.max(1, view.entries!))} B per entry), ${lv.compactions} compactions`,
      );
      // For comparison: autocannon's own rate limiting at half the peak.
      const ac = await load({
        url: candor.url,
        duration: Math.max(1, Math.round(DURATION_MS / 1000)),
        overallRate: Math.round(best / 2),
        requests: [uniqueAddRequest()],
      });
      autocannonHalf.push({ rps: ac.rps, reportedP99: ac.autocannonP99, rawP50: ac.p50, rawP99: ac.p99 });
      console.log(`  autocannon overallRate ${fmt(best / 2)}: reports p99 ${ac.autocannonP99} ms; its raw response times give p50 ${ms(ac.p50)} p99 ${ms(ac.p99)} ms`);
    } finally {
      await candor.stop();
      await bare.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const after = await otherLoad();
  const data: LatencyData = {
    ...meta('latency', 'npm run bench -- latency', before, after),
    runs: RUNS,
    durationMs: DURATION_MS,
    connections: CONNECTIONS,
    closedPeak,
    barePeak,
    peak,
    steps: steps.filter((s) => s.candor.length > 0),
    half,
    autocannonHalf,
  };
  saveResult('latency', data);
  writeSection('Latency', latencySection(data));
}

/** The p99 at half of the peak, the goal's figure, with its runs. */
export function halfLoadP99(d: LatencyData): { p99: number; p50: number; rate: number; runs: number[] } | undefined {
  const c = d.half?.candor ?? [];
  if (c.length === 0) return undefined;
  return { p99: median(c.map((x) => x.p99)), p50: median(c.map((x) => x.p50)), rate: median(c.map((x) => x.offered)), runs: c.map((x) => x.p99) };
}

/** The ½-of-peak step comes after the overload; the 0.5× step, at a similar rate, before it. */
function beforeAfter(d: LatencyData): string {
  const h = halfLoadP99(d);
  const s = d.steps.find((x) => x.fraction === 0.5);
  if (!h || !s) return '';
  const p99 = median(s.candor.map((x) => x.p99));
  return ` The ½-of-peak step runs last, after the saturated steps; at a similar rate before them (the 0.5× row, ${fmt(median(s.candor.map((x) => x.offered)))} req/s) the p99 was ${ms(p99)} ms: a log that has just absorbed an overload is still catching up on LevelDB's flushes and compactions.`;
}

/** The server's metrics during the half-peak step: where an acknowledgement's time goes. */
export function serverText(d: LatencyData): string {
  const v = d.half.server ?? [];
  if (v.length === 0) return '';
  const m = (k: 'batches' | 'meanBatch' | 'meanMs' | 'p50Ms' | 'p99Ms') => median(v.map((x) => x[k]));
  const slowest = v.every((x) => x.maxMs !== undefined) ? `, the slowest ≤ ${v.map((x) => ms(x.maxMs)).join(' / ')} ms in the ${v.length} runs` : '';
  const lv = v.filter((x) => x.flushes !== undefined && x.entries);
  const level = lv.length
    ? ` LevelDB's own \`LOG\` for the same seconds shows ${fmt(median(lv.map((x) => x.flushes!)))} memtable flushes to level 0 (${fmt(median(lv.map((x) => x.flushedBytes! / x.entries!)))} bytes flushed per 130-byte entry logged: each small batch rewrites the partial tiles it touches in full) and ${fmt(median(lv.map((x) => x.compactions!)))} compactions, all competing for the same 2 cores.`
    : '';
  return `During that step the server's own metrics (\`candor_batch_size\`, \`candor_integration_seconds\`, scraped before and after) show ${fmt(m('batches') / (d.durationMs / 1000))} batches/s of ${fmt(m('meanBatch'), 1)} entries on average, each taking ${ms(m('meanMs'))} ms on average from the start of its preparation to its synced commit and proofs (half of them ≤ ${ms(m('p50Ms'))} ms, 99% ≤ ${ms(m('p99Ms'))} ms${slowest}; histogram bucket bounds). The rest of an acknowledgement's latency is waiting for the batch before it to commit, HTTP, and the client's share of the 2 cores.${level}`;
}

export function latencySection(d: LatencyData): string {
  const row = (label: string, c: LatencyRun[], bare: LatencyRun[]) => {
    const m = (k: keyof LatencyRun) => median(c.map((x) => x[k]));
    const b = (k: keyof LatencyRun) => median(bare.map((x) => x[k]));
    const failed = c.reduce((a, x) => a + x.failed, 0);
    return `| ${label} | ${fmt(m('offered'))} | ${fmt(m('achieved'))} | ${c.length} | ${ms(m('p50'))} | ${ms(m('p95'))} | **${ms(m('p99'))}** (${spread(c.map((x) => x.p99), 1)}) | ${ms(m('max'))} | ${ms(b('p50'))} / ${ms(b('p99'))} | ${failed} |`;
  };
  const rows = d.steps.map((s) => row(`${fmt(s.fraction, 2)}×`, s.candor, s.bare));
  const half = halfLoadP99(d);
  const ac = d.autocannonHalf;
  return `${headline(d, `${d.runs} runs, ${fmt(d.durationMs / 1000, 1)} s per step, medians`)}

\`POST /add\` of unique 130-byte entries on a fresh \`candor serve\` (default batching). Latency runs from the
moment a request is due to the end of its answer, which comes after the batch's synced commit and carries the
checkpoint and the inclusion proof. The load is open-loop and evenly paced (\`bench/paced.ts\`) over up to
${d.connections} keep-alive connections, at multiples of the closed-loop rate at 64 connections measured first in the same run
(Candor ${fmt(median(d.closedPeak))} req/s, runs ${spread(d.closedPeak)}; the bare fastify handler ${fmt(median(d.barePeak))} req/s). A run stops after
the first saturated step (it answers < 90% of the offered rate, fails requests, or p99 > 1 s). The peak is the
highest rate Candor answered in any step (median ${fmt(median(d.peak))} req/s, runs ${spread(d.peak)}); the last row is half of it,
measured last. The floor column is the bare handler at the same offered rate, with the same client.

| offered (× closed-loop rate) | offered req/s | achieved req/s | runs | p50 ms | p95 ms | p99 ms (runs) | max ms | floor p50 / p99 ms | failed |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}
${row('**½ of peak**', d.half.candor, d.half.bare)}

${renderCharts('latency', d).join('\n')}

Goal: p99 under 50 ms at half of peak load: **${half ? `${ms(half.p99)} ms at ${fmt(half.rate)} req/s, ${half.p99 < 50 ? 'met' : 'missed'}` : 'not measured'}**.${beforeAfter(d)}

${serverText(d)}

For comparison, autocannon with \`overallRate\` at half the peak (${fmt(median(ac.map((x) => x.rps)))} req/s, run right after the ½-of-peak step) reports a p99
of ${fmt(median(ac.map((x) => x.reportedP99)))} ms; the raw response times it measured give p50 ${ms(median(ac.map((x) => x.rawP50)))} ms and p99 ${ms(median(ac.map((x) => x.rawP99)))} ms. It is not used for
the steps because its rate limit is a per-connection budget per second (each connection sends its quota back to
back from the start of each second, then idles), and because it times a request from when it is written, so the
time a request would have waited behind a slow batch is not counted; with a rate set it also "corrects" its
histogram for coordinated omission with an expected interval of \`Math.ceil(1 / rate)\` = 1 ms (autocannon 8,
\`lib/run.js\`).`;
}
