/**
 * Scale: logs of BENCH_SCALE_SIZES entries (default 1M and 10M; add 100000000 for the 100M run,
 * which takes a long while to build and about 13 GB of disk). Each log is built once through the
 * Sequencer (bench/logs.ts, entries/s recorded while building) and kept for reruns. Then, per
 * size: disk bytes per entry (by kind of key), and for each run a fresh `candor serve` process:
 * start time (process start to serving, including the check that the stored tiles reproduce the
 * checkpoint's root), random inclusion proofs at 64 connections (throughput, beside the bare
 * fastify server in the same run) and at 1 connection (latency), and the server's memory.
 * The cost of a proof must grow with log n, not with n.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { renderCharts } from './charts.js';
import { fmt, headline, loadResult, median, meta, ms, otherLoad, quantile, saveResult, spread, verdict, writeSection, type ResultMeta } from './lib.js';
import { buildRate, cachedLog, type BuildInfo } from './logs.js';
import { getRequest, paced } from './paced.js';
import { load, startBare, startCandor, type LoadResult } from './servers.js';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '1000000,10000000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);

export interface DiskUse {
  /** All files of the store, bytes. */
  total: number;
  /** LevelDB's estimate of the on-disk bytes of each kind of key. */
  tiles: number;
  entries: number;
  leafIndex: number;
}

export interface ScaleRow {
  size: number;
  /** When this row was measured (rows of sizes not rerun are kept from earlier runs). */
  measured: string;
  /** Set on rows carried over from an earlier run. */
  kept?: boolean;
  build: BuildInfo;
  disk: DiskUse;
  startMs: number[];
  many: LoadResult[];
  ceiling: LoadResult[];
  one: { p50: number; p99: number; rps: number }[];
  rss: number[];
  anon: number[];
}

export interface ScaleData extends ResultMeta {
  runs: number;
  durationS: number;
  rows: ScaleRow[];
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

async function diskUse(db: string): Promise<DiskUse> {
  const level = new ClassicLevel<Uint8Array, Uint8Array>(db, { keyEncoding: 'view', valueEncoding: 'view' });
  await level.open();
  try {
    // No compaction first: it would rewrite the whole store and change what the runs measure.
    // The estimate leaves out what still sits in the write-ahead log (at most a few MB).
    const kind = (c: number) => level.approximateSize(Uint8Array.of(c), Uint8Array.of(c + 1));
    return { total: 0, tiles: await kind(0x74), entries: await kind(0x65), leafIndex: await kind(0x68) };
  } finally {
    await level.close();
  }
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const rows: ScaleRow[] = [];
  for (const size of SIZES) {
    const { dir, build } = await cachedLog(size);
    const disk = await diskUse(join(dir, 'db'));
    disk.total = dirBytes(join(dir, 'db'));
    console.log(
      `${fmt(size)}: built at ${fmt(buildRate(build))} entries/s; disk ${fmt(disk.total / size, 1)} B/entry (tiles ${fmt(disk.tiles / size, 1)}, entries ${fmt(disk.entries / size, 1)}, leaf index ${fmt(disk.leafIndex / size, 1)})`,
    );
    const proofs = Array.from({ length: 8192 }, () => ({ path: `/proof/inclusion?index=${Math.floor(Math.random() * size)}&size=${size}` }));
    const row: ScaleRow = { size, measured: new Date().toISOString(), build, disk, startMs: [], many: [], ceiling: [], one: [], rss: [], anon: [] };
    for (let r = 0; r < RUNS; r++) {
      const bare = await startBare();
      row.ceiling.push(await load({ url: bare.url, duration: DURATION, requests: proofs }));
      await bare.stop();
      const t0 = performance.now();
      const c = await startCandor(dir);
      row.startMs.push(performance.now() - t0);
      await load({ url: c.url, duration: 2, requests: proofs });
      row.many.push(await load({ url: c.url, duration: DURATION, requests: proofs }));
      const one = await paced({ url: c.url, connections: 1, durationMs: DURATION * 1000, request: (i) => getRequest(proofs[i % proofs.length]!.path) });
      row.one.push({ p50: quantile(one.latencies, 0.5), p99: quantile(one.latencies, 0.99), rps: one.achieved });
      const mem = await c.rss();
      row.rss.push(mem.rss);
      row.anon.push(mem.anon);
      await c.stop();
      console.log(
        `${fmt(size)}: ${fmt(row.many[r]!.rps)} proofs/s (p99 ${ms(row.many[r]!.p99)} ms; bare ${fmt(row.ceiling[r]!.rps)}/s); 1 connection p50 ${ms(row.one[r]!.p50)} ms p99 ${ms(row.one[r]!.p99)} ms; RSS ${fmt(mem.rss / 2 ** 20)} MiB (private ${fmt(mem.anon / 2 ** 20)} MiB); start ${fmt(row.startMs[r]!)} ms`,
      );
    }
    rows.push(row);
  }
  const after = await otherLoad();
  // Keep the rows of sizes not measured now from the last run (the 100M run is opt-in and long).
  const earlier = (loadResult<ScaleData>('scale')?.rows ?? []).filter((r) => !SIZES.includes(r.size)).map((r) => ({ ...r, kept: true }));
  rows.push(...earlier);
  rows.sort((a, b) => a.size - b.size);
  const data: ScaleData = { ...meta('scale', `BENCH_SCALE_SIZES=${SIZES.join(',')} npm run bench -- scale`, before, after), runs: RUNS, durationS: DURATION, rows };
  saveResult('scale', data);
  writeSection('Scale', scaleSection(data));
}

/** The tlog-tiles floor of hash storage per entry: 32 bytes × (1 + 1/256 + 1/256² + …). */
export const TILE_FLOOR = 32 / (1 - 1 / 256);

export function scaleSection(d: ScaleData): string {
  const m = (xs: number[]) => median(xs);
  const base = d.rows.find((r) => r.size === 1_000_000) ?? d.rows[0]!;
  const baseRps = m(base.many.map((x) => x.rps));
  // Rows may be measured under different load on a shared machine: the ceiling measured beside
  // each row normalises for that, so the cost against the ceiling is the comparable one.
  const ratioOf = (r: ScaleRow) => m(r.many.map((x) => x.rps)) / m(r.ceiling.map((x) => x.rps));
  const baseRatio = ratioOf(base);
  const perf = d.rows.map((r) => {
    const rps = m(r.many.map((x) => x.rps));
    const ceil = m(r.ceiling.map((x) => x.rps));
    return `| ${fmt(r.size)} | ${fmt(rps)} (${spread(r.many.map((x) => x.rps))}) | ${ms(m(r.many.map((x) => x.p99)))} | ${fmt(ceil)} | ${fmt(rps / ceil, 2)} | ${fmt(baseRps / rps, 2)} | ${fmt(baseRatio / ratioOf(r), 2)} | ${ms(m(r.one.map((x) => x.p50)))} / ${ms(m(r.one.map((x) => x.p99)))} |`;
  });
  const res = d.rows.map(
    (r) =>
      `| ${fmt(r.size)} | ${fmt(m(r.anon) / 2 ** 20)} | ${fmt(m(r.rss) / 2 ** 20)} | ${fmt(m(r.startMs))} (${spread(r.startMs)}) | ${fmt(r.disk.total / r.size, 1)} | ${fmt(r.disk.tiles / r.size, 2)} | ${fmt(r.disk.entries / r.size, 1)} | ${fmt(r.disk.leafIndex / r.size, 1)} | ${fmt(buildRate(r.build))} | ${fmt(r.build.seconds / 60, 1)} min |`,
  );
  const goals: string[] = [];
  const big = d.rows.find((r) => r.size >= 100_000_000);
  if (big) {
    const rps = m(big.many.map((x) => x.rps));
    const cost = baseRatio / ratioOf(big);
    goals.push(
      `- inclusion proofs at ${fmt(big.size)} entries: ${fmt(rps)}/s (goal ≥ 15,000/s: ${verdict(rps >= 15000)}); cost ${fmt(cost, 2)}× that at 1M against the ceiling measured beside each (goal < 2×: ${verdict(cost < 2)}; in raw rates ${fmt(baseRps / rps, 2)}×)`,
    );
    goals.push(`- private memory ${fmt(m(big.anon) / 2 ** 20)} MiB, RSS ${fmt(m(big.rss) / 2 ** 20)} MiB (goal < 512 MB: ${verdict(m(big.rss) < 512e6)} on RSS, ${verdict(m(big.anon) < 512e6)} on private memory)`);
    goals.push(`- restart ${fmt(m(big.startMs))} ms (goal < 2 s: ${verdict(m(big.startMs) < 2000)})`);
    goals.push(`- hash tiles ${fmt(big.disk.tiles / big.size, 2)} B/entry beside the tlog-tiles floor of ${fmt(TILE_FLOOR, 2)} B/entry (ratio ${fmt(big.disk.tiles / big.size / TILE_FLOOR, 2)})`);
  } else {
    const top = d.rows.at(-1)!;
    const rps = m(top.many.map((x) => x.rps));
    goals.push(
      `- The 100M goals were not measured in this run (it is opt-in: \`BENCH_SCALE_SIZES=1000000,10000000,100000000 npm run bench -- scale\`). At ${fmt(top.size)}: ${fmt(rps)} proofs/s (${fmt(baseRps / rps, 2)}× the cost at 1M), private memory ${fmt(m(top.anon) / 2 ** 20)} MiB, RSS ${fmt(m(top.rss) / 2 ** 20)} MiB, restart ${fmt(m(top.startMs))} ms, hash tiles ${fmt(top.disk.tiles / top.size, 2)} B/entry.`,
    );
  }
  const when = d.rows.some((r) => r.kept)
      ? `\n\nRows come from different runs (sizes not in BENCH_SCALE_SIZES are kept from the last run that measured them): ${d.rows.map((r) => `${fmt(r.size)} measured ${r.measured.slice(0, 16).replace('T', ' ')} UTC`).join(', ')}.`
      : '';
  return `${headline(d, `${d.runs} runs of ${d.durationS} s per measurement, medians`)}${when}

Random inclusion proofs against a \`candor serve\` process (default 64 MiB tile cache) on a log of random 48-byte
entries: 2 s warm-up, then ${d.durationS} s at 64 connections (autocannon) and ${d.durationS} s at 1 connection (the paced client, closed
loop, for sub-millisecond latencies). The ceiling is the bare fastify server's same-shape answer in the same run.
"Cost vs 1M" is the 1M rate divided by this size's rate; "against ceiling" divides the ratios instead, which
cancels the machine's load when rows were measured at different times.

| entries | proofs/s, 64 conn. (runs) | p99 ms | ceiling req/s | ratio | cost vs 1M | cost vs 1M against ceiling | 1 conn. p50 / p99 ms |
|---:|---:|---:|---:|---:|---:|---:|---:|
${perf.join('\n')}

Memory is the server's after the runs: private (anonymous) memory, and the whole resident set, which also
counts LevelDB's memory-mapped table files (page cache that grows with the store). Start is process start to
serving. Disk is every file of the store; the split by kind of key is LevelDB's own estimate of its table
files (hash tiles with their 960-byte interiors; entry bundles with their 2-byte length prefixes; the
leaf-hash → index map for deduplication). Building goes through the Sequencer in-process (1,024 entries per
\`submitMany\`, batches up to 16,384, one synced commit each), so it is the ingest ceiling of the store, not of HTTP.

| entries | private MiB | RSS MiB | start ms (runs) | disk B/entry | hash tiles B/entry | entries B/entry | leaf index B/entry | built at entries/s | build time |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${res.join('\n')}

${goals.join('\n')}

${renderCharts('scale', d).join('\n')}`;
}
