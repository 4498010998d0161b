/**
 * The plots of each scenario, drawn from its JSON in bench/results/ (so `npm run bench -- plots`
 * redraws them all without rerunning anything). Each function returns the Markdown that links
 * its plots from RESULTS.md.
 */
import type { DurabilityData } from './durability.js';
import type { GoData } from './gotlog.js';
import type { GrpcData } from './grpc.js';
import type { HttpData } from './http.js';
import { way, type IntegrationData } from './integration.js';
import type { LatencyData, LatencyRun } from './latency.js';
import { median, savePlot } from './lib.js';
import { barChart, lineChart, type Point } from './plot.js';
import type { ScaleData } from './scale.js';
import type { SummaryData } from './summary.js';

/** A median point with the spread of its runs. */
function pt(x: number, ys: number[]): Point {
  return { x, y: median(ys), lo: Math.min(...ys), hi: Math.max(...ys) };
}

function integration(d: IntegrationData): string[] {
  const ways = [...new Set(d.rows.map((r) => way(r)))];
  const series = ways.map((w) => ({
    name: w,
    points: d.rows.filter((r) => way(r) === w).map((r) => pt(r.maxBatch, r.runs)),
  }));
  const xs = d.rows.map((r) => r.maxBatch);
  return [
    savePlot(
      'integration',
      lineChart({
        title: 'In-process integration (hash, tile, sign, synced commit, proof)',
        xLabel: 'max batch (entries)',
        yLabel: 'entries/s',
        xLog: true,
        series: [...series, { name: 'ceiling: ½ × SHA-256/s (fastest way)', dashed: true, points: [Math.min(...xs), Math.max(...xs)].map((x) => ({ x, y: d.ceiling })) }],
        legend: 'top-left',
      }),
      'In-process integration: entries/s against max batch, beside the hashing ceiling',
    ),
  ];
}

function durability(d: DurabilityData): string[] {
  const fsync = median(d.fsyncPerSec);
  return [
    savePlot(
      'durability',
      lineChart({
        title: 'Durability cost: one synced commit per batch',
        xLabel: 'batch size (entries per sync)',
        yLabel: 'entries/s',
        xLog: true,
        yLog: true,
        series: [
          { name: 'LevelDB, sync per batch', points: d.rows.map((r) => pt(r.batch, r.level.map((x) => x.entriesPerSec))) },
          { name: 'same ingest, in-memory store', dashed: true, points: d.rows.map((r) => pt(r.batch, r.memory.map((x) => x.entriesPerSec))) },
          { name: 'batch size × raw fdatasync/s', dashed: true, points: d.rows.map((r) => ({ x: r.batch, y: r.batch * fsync })) },
        ],
        legend: 'bottom-right',
      }),
      'Entries/s against batch size with one sync per batch, beside the in-memory and fdatasync ceilings',
    ),
  ];
}

function gotlog(d: GoData): string[] {
  if (!d.go) return [];
  const go = d.go;
  const r = (xs: number[]) => ({ value: median(xs), lo: Math.min(...xs), hi: Math.max(...xs) });
  return [
    savePlot(
      'gotlog-build',
      barChart({
        title: `Tree building, ${d.n.toLocaleString('en-US')} records: Candor beside Go sumdb/tlog`,
        xLabel: 'records/s',
        bars: [
          { label: 'Candor (TreeState.append)', ...r(d.ours.buildPerSec), beside: { label: 'ceiling: ½ × node:crypto SHA-256/s', value: d.ours.sha256PerSec / 2 } },
          { label: 'Go (StoredHashes + TreeHash)', ...r(go.buildPerSec), beside: { label: 'ceiling: ½ × Go SHA-256/s', value: go.sha256PerSec / 2 } },
        ],
      }),
      'Tree building: Candor and Go sumdb/tlog, each beside its hashing ceiling',
    ),
    savePlot(
      'gotlog-proofs',
      barChart({
        title: `Inclusion proofs at ${d.n.toLocaleString('en-US')} entries: Candor beside Go sumdb/tlog`,
        xLabel: 'proofs/s (one core, in-process)',
        bars: [
          { label: 'Candor (LogService.inclusionProof)', ...r(d.ours.proofsPerSec) },
          { label: 'Go ProveRecord, HashReader', ...r(go.proofsHashReaderPerSec) },
          { label: 'Go ProveRecord, TileHashReader', ...r(go.proofsTileReaderPerSec) },
        ],
      }),
      'Inclusion proofs per second: Candor and Go sumdb/tlog',
    ),
  ];
}

function http(d: HttpData): string[] {
  const bars = [];
  if (d.add) {
    const rps = d.add.candor.map((x) => x.rps);
    bars.push({ label: 'POST /add', value: median(rps), lo: Math.min(...rps), hi: Math.max(...rps), beside: { label: 'bare fastify', value: median(d.add.bare.map((x) => x.rps)) } });
  }
  for (const r of d.reads ?? []) {
    const rps = r.ours.map((x) => x.rps);
    bars.push({ label: r.name.replaceAll('`', ''), value: median(rps), lo: Math.min(...rps), hi: Math.max(...rps), beside: { label: 'bare fastify', value: median(r.ceiling.map((x) => x.rps)) } });
  }
  return [
    savePlot(
      'http',
      barChart({ title: 'HTTP (autocannon at 64 connections; the pipelined tile row 16 × 16): Candor beside a bare fastify handler', xLabel: 'requests/s', bars }),
      'HTTP requests per second, each beside the bare fastify ceiling',
    ),
  ];
}

function latency(d: LatencyData): string[] {
  const x = (s: LatencyData['steps'][number]) => median(s.candor.map((r) => r.offered));
  const line = (name: string, k: keyof LatencyRun, who: 'candor' | 'bare' = 'candor', dashed = false) => ({
    name,
    dashed,
    points: d.steps.map((s) => pt(x(s), s[who].map((r) => r[k]))),
  });
  return [
    savePlot(
      'latency',
      lineChart({
        title: 'POST /add: submit to acknowledgement with proof, against offered load',
        xLabel: 'offered load (requests/s, open loop)',
        yLabel: 'latency (ms)',
        yLog: true,
        series: [
          line('Candor p50', 'p50'),
          line('Candor p95', 'p95'),
          line('Candor p99', 'p99'),
          line('Candor max', 'max'),
          line('bare fastify p99 (floor)', 'p99', 'bare', true),
          {
            name: 'Candor p99 at ½ of peak (the goal)',
            points: d.half.candor.length ? [pt(median(d.half.candor.map((r) => r.offered)), d.half.candor.map((r) => r.p99))] : [],
          },
        ],
        marks: [{ y: 50, label: 'goal: p99 < 50 ms at half of peak' }],
      }),
      'Latency percentiles against offered load, beside the bare fastify floor',
    ),
  ];
}

function scale(d: ScaleData): string[] {
  const out = [
    savePlot(
      'scale-proofs',
      lineChart({
        title: 'Inclusion proofs over HTTP against log size (64 connections)',
        xLabel: 'log size (entries)',
        yLabel: 'proofs/s',
        xLog: true,
        series: [
          { name: 'Candor GET /proof/inclusion', points: d.rows.map((r) => pt(r.size, r.many.map((x) => x.rps))) },
          { name: 'bare fastify, same-shape answer', dashed: true, points: d.rows.map((r) => pt(r.size, r.ceiling.map((x) => x.rps))) },
        ],
        marks: [{ y: 15000, label: 'goal at 100M: ≥ 15,000/s' }],
        legend: 'bottom-right',
      }),
      'Proofs per second against log size, beside the bare fastify ceiling',
    ),
    savePlot(
      'scale-latency',
      lineChart({
        title: 'Inclusion proof latency against log size (1 connection)',
        xLabel: 'log size (entries)',
        yLabel: 'latency (ms)',
        xLog: true,
        series: [
          { name: 'p50', points: d.rows.map((r) => pt(r.size, r.one.map((x) => x.p50))) },
          { name: 'p99', points: d.rows.map((r) => pt(r.size, r.one.map((x) => x.p99))) },
        ],
      }),
      'Proof latency at one connection against log size',
    ),
  ];
  // Build rate over about 1M-entry windows (or 40 windows, for small logs).
  const series = d.rows.map((r) => {
    const s = r.build.samples;
    const step = Math.max(1, Math.floor(s.length / Math.max(40, r.size / 1_000_000)));
    const points: Point[] = [];
    for (let i = step; i < s.length; i += step) {
      const [a, ta] = s[i - step]!;
      const [b, tb] = s[i]!;
      points.push({ x: b, y: (b - a) / (tb - ta) });
    }
    return { name: `log of ${r.size.toLocaleString('en-US')}`, points };
  });
  out.push(
    savePlot(
      'scale-build',
      lineChart({
        title: 'Building a log: entries/s over time (Sequencer in-process, synced batches)',
        xLabel: 'entries in the log',
        yLabel: 'entries/s',
        series,
        legend: 'bottom-right',
      }),
      'Entries per second while building each log',
    ),
  );
  return out;
}

function grpc(d: GrpcData): string[] {
  if (!d.rows) return [];
  const line = (name: string, k: 'noop' | 'raw' | 'sdk', dashed = false) => ({ name, dashed, points: d.rows!.map((r) => pt(r.batch, r[k].map((x) => x.eventsPerSec))) });
  return [
    savePlot(
      'grpc',
      lineChart({
        title: 'gRPC SubmitBatch: durable events/s against batch size',
        xLabel: 'events per request',
        yLabel: 'events/s',
        xLog: true,
        yLog: true,
        series: [line('Candor, gateway SDK', 'sdk'), line('Candor, raw grpc-js client', 'raw'), line('no-op grpc-js server (ceiling)', 'noop', true)],
        marks: [{ y: 150_000, label: 'goal: 150,000 events/s' }],
        legend: 'bottom-right',
      }),
      'gRPC ingest events per second against batch size, beside the no-op grpc-js server',
    ),
  ];
}

function summary(d: SummaryData): string[] {
  const bars = d.goals
    .filter((g) => g.score !== undefined)
    .map((g) => ({ label: g.short, value: g.score! }));
  if (bars.length === 0) return [];
  return [
    savePlot(
      'goals',
      barChart({ title: 'Goals: measured ÷ goal (≥ 1 means met)', xLabel: 'fraction of the goal reached', bars, marks: [{ x: 1, label: 'goal' }] }),
      'Each goal as the fraction of it reached; 1 or more means met',
    ),
  ];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const CHARTS: Record<string, (d: any) => string[]> = { integration, durability, gotlog, http, latency, grpc, scale, summary };

/** Draws the plots of a scenario from its data and returns the Markdown that links them. */
export function renderCharts(name: string, data: unknown): string[] {
  return CHARTS[name]?.(data) ?? [];
}
