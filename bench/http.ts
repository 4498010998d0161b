/**
 * HTTP under autocannon (64 connections, loopback), each figure beside a bare fastify server
 * measured in the same run:
 *  - POST /add throughput (latency against offered load is bench/latency.ts);
 *  - GET /checkpoint, inclusion and consistency proofs, and tiles on a log of BENCH_LOG_SIZE
 *    entries (default 1,000,000).
 * Client and servers share this 2-core machine, as they would in any loopback test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTileIndex } from '@candor/core/tile';
import { renderCharts } from './charts.js';
import { cachedLog } from './logs.js';
import { fmt, headline, median, meta, ms, otherLoad, saveResult, spread, verdict, uniqueAddRequest, writeSection, type ResultMeta } from './lib.js';
import { pipelinedGets } from './pipelined.js';
import { load, startBare, startCandor, type LoadFigure, type LoadResult } from './servers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const LOG_SIZE = Number(process.env.BENCH_LOG_SIZE ?? 1_000_000);

function med(rs: LoadResult[], k: LoadFigure): number {
  return median(rs.map((r) => r[k]));
}

export interface HttpData extends ResultMeta {
  runs: number;
  durationS: number;
  logSize: number;
  /** durable: the bare handler with a synced group commit (bench/bare.ts --durable). */
  add?: { bare: LoadResult[]; durable?: LoadResult[]; candor: LoadResult[] };
  reads?: { name: string; ours: LoadResult[]; ceiling: LoadResult[] }[];
  /** Server private (anonymous) memory after the read runs, bytes. */
  readPrivateBytes?: number;
}

async function addBench(): Promise<NonNullable<HttpData['add']>> {
  const bare: LoadResult[] = [];
  const durable: LoadResult[] = [];
  const candor: LoadResult[] = [];
  const req = { requests: [uniqueAddRequest()] };
  for (let r = 0; r < RUNS; r++) {
    const b = await startBare();
    bare.push(await load({ url: b.url, duration: DURATION, ...req }));
    await b.stop();
    const ddir = mkdtempSync(join(tmpdir(), 'candor-bench-durable-'));
    const d = await startBare(['--durable', ddir]);
    await load({ url: d.url, duration: 1, ...req }); // warm-up, as for Candor
    durable.push(await load({ url: d.url, duration: DURATION, ...req }));
    await d.stop();
    rmSync(ddir, { recursive: true, force: true });
    const dir = mkdtempSync(join(tmpdir(), 'candor-bench-'));
    const c = await startCandor(dir);
    await load({ url: c.url, duration: 1, ...req }); // warm-up
    const full = await load({ url: c.url, duration: DURATION, ...req });
    candor.push(full);
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
    console.log(`run ${r + 1}: bare ${fmt(bare[r]!.rps)} req/s; bare with a synced group commit ${fmt(durable[r]!.rps)} req/s; candor ${fmt(full.rps)} req/s (p50 ${ms(full.p50)} ms, p99 ${ms(full.p99)} ms); errors ${full.errors + full.non2xx}`);
  }
  return { bare, durable, candor };
}

/** The read requests, each beside the bare server's same-shape answer. */
function readRequests(size: number): { name: string; requests: { path: string }[] }[] {
  const fullTiles = Math.floor(size / 256);
  const rand = (n: number) => Math.floor(Math.random() * n);
  // Pre-built request lists that autocannon cycles through (setupRequest costs client CPU).
  const list = (f: () => string) => Array.from({ length: 8192 }, () => ({ path: f() }));
  return [
    { name: '`GET /checkpoint`', requests: [{ path: '/checkpoint' }] },
    { name: '`GET /proof/inclusion`', requests: list(() => `/proof/inclusion?index=${rand(size)}&size=${size}`) },
    { name: '`GET /proof/consistency`', requests: list(() => `/proof/consistency?from=${1 + rand(size - 1)}&to=${size}`) },
    { name: '`GET /tile/0/<N>`', requests: list(() => `/tile/0/${formatTileIndex(rand(fullTiles))}`) },
  ];
}

/** Tile GETs through the pipelined client (bench/pipelined.ts), whose ceiling is not the client. */
export const PIPELINED_TILES = '`GET /tile/0/<N>`, pipelined client';

function pipelinedTiles(url: string, size: number): Promise<LoadResult> {
  const fullTiles = Math.floor(size / 256);
  return pipelinedGets({ url, durationMs: DURATION * 1000, path: () => `/tile/0/${formatTileIndex(Math.floor(Math.random() * fullTiles))}` });
}

async function readBench(): Promise<{ reads: NonNullable<HttpData['reads']>; privateBytes: number }> {
  const { dir } = await cachedLog(LOG_SIZE);
  const kinds = readRequests(LOG_SIZE);
  const reads = [...kinds.map((k) => k.name), PIPELINED_TILES].map((name) => ({ name, ours: [] as LoadResult[], ceiling: [] as LoadResult[] }));
  const piped = reads[kinds.length]!;
  let privateBytes = 0;
  for (let r = 0; r < RUNS; r++) {
    const b = await startBare();
    for (const [i, k] of kinds.entries()) reads[i]!.ceiling.push(await load({ url: b.url, duration: DURATION, requests: k.requests }));
    piped.ceiling.push(await pipelinedTiles(b.url, LOG_SIZE));
    await b.stop();
    const c = await startCandor(dir);
    await load({ url: c.url, duration: 2, requests: kinds[1]!.requests }); // warm the tile cache
    for (const [i, k] of kinds.entries()) reads[i]!.ours.push(await load({ url: c.url, duration: DURATION, requests: k.requests }));
    piped.ours.push(await pipelinedTiles(c.url, LOG_SIZE));
    privateBytes = Math.max(privateBytes, (await c.rss()).anon);
    await c.stop();
    console.log(`run ${r + 1}: ${reads.map((x) => `${x.name} ${fmt(x.ours[r]!.rps)}/s (bare ${fmt(x.ceiling[r]!.rps)})`).join('; ')}`);
  }
  return { reads, privateBytes };
}

export async function main(): Promise<void> {
  const which = process.env.BENCH_HTTP ?? 'add,read';
  const before = await otherLoad();
  const data: HttpData = { ...meta('http', 'npm run bench -- http', before), runs: RUNS, durationS: DURATION, logSize: LOG_SIZE };
  if (which.includes('add')) data.add = await addBench();
  if (which.includes('read')) {
    const r = await readBench();
    data.reads = r.reads;
    data.readPrivateBytes = r.privateBytes;
  }
  data.load.after = await otherLoad();
  saveResult('http', data);
  writeSection('HTTP', httpSection(data));
}

/** The durable ceiling's rate as a fraction of the bare handler's, and Candor's as a fraction of it. */
export function durableRatios(add: NonNullable<HttpData['add']>): { ofBare: number; candorOfDurable: number } | undefined {
  if (!add.durable || add.durable.length === 0) return undefined;
  const durable = med(add.durable, 'rps');
  return { ofBare: durable / med(add.bare, 'rps'), candorOfDurable: med(add.candor, 'rps') / durable };
}

function durableRow(add: NonNullable<HttpData['add']>): string {
  const x = add.durable;
  if (!x || x.length === 0) return '';
  return `| the same handler answering after a synced group commit (\`bench/bare.ts --durable\`: each group of bodies one synced LevelDB write, no hashing, no proof) | ${fmt(med(x, 'rps'))} (${spread(x.map((y) => y.rps))}) | ${ms(med(x, 'p50'))} | ${ms(med(x, 'p99'))} |\n`;
}

function durableText(add: NonNullable<HttpData['add']>): string {
  const r = durableRatios(add);
  if (!r) return '';
  return `

The second row is the least any log must do before it acknowledges: it keeps nothing but the bodies, yet waiting for the
synced write alone brings it to **${fmt(r.ofBare * 100, 1)}%** of the bare handler on this machine (client and server share
2 cores, and a synced write's latency grows with the CPU contention). Candor, which also hashes, builds the tiles, signs a
checkpoint, deduplicates and answers with a proof, reaches **${fmt(r.candorOfDurable * 100, 1)}%** of that durable handler.`;
}

/** Candor's POST /add rate as a fraction of the bare handler's, the goal's figure. */
export function addRatio(d: HttpData): number | undefined {
  return d.add && med(d.add.candor, 'rps') / med(d.add.bare, 'rps');
}

export function httpSection(d: HttpData): string {
  const parts: string[] = [headline(d, `${d.runs} runs of ${d.durationS} s, medians`)];
  if (d.add) {
    const ratio = addRatio(d)!;
    const c = d.add.candor;
    const b = d.add.bare;
    parts.push(`### POST /add

Unique 130-byte entries, 64 connections (closed loop: each sends its next request when the answer arrives), ${d.durationS} s
per measurement. Every acknowledgement waited for its batch's synced commit and carries its inclusion proof.
Latencies are from every response's own time. For latency against offered load, see [Latency](#latency).

| server | req/s (runs) | p50 ms | p99 ms |
|---|---:|---:|---:|
| bare fastify POST handler (ceiling) | ${fmt(med(b, 'rps'))} (${spread(b.map((x) => x.rps))}) | ${ms(med(b, 'p50'))} | ${ms(med(b, 'p99'))} |
${durableRow(d.add)}| Candor \`POST /add\` | ${fmt(med(c, 'rps'))} (${spread(c.map((x) => x.rps))}) | ${ms(med(c, 'p50'))} | ${ms(med(c, 'p99'))} |

Ratio to the ceiling: **${fmt(ratio * 100, 1)}%** of the medians; run by run (each Candor run beside the ceiling measured just
before it) ${spread(c.map((x, i) => (x.rps / b[i]!.rps) * 100), 1)}% (goal ≥ 60%: ${verdict(ratio >= 0.6)}).${durableText(d.add)}`);
  }
  if (d.reads) {
    const line = (x: NonNullable<HttpData['reads']>[number]) => {
      const o = med(x.ours, 'rps');
      const c = med(x.ceiling, 'rps');
      return `| ${x.name} | ${fmt(o)} (${spread(x.ours.map((y) => y.rps))}) | ${ms(med(x.ours, 'p50'))} | ${ms(med(x.ours, 'p99'))} | ${fmt(c)} | ${fmt((o / c) * 100, 1)}% |`;
    };
    parts.push(`### Reads on a log of ${fmt(d.logSize)} entries

Random indexes (proofs at the full size), random consistency proofs to the full size, random full level-0 tiles,
64 connections, ${d.durationS} s each. The ceiling is the bare fastify server returning a same-shape answer without work
(for tiles, one of 1,024 distinct random 8 KiB bodies: autocannon itself is several times slower on varying binary
bodies than on one repeated body, so a constant-body ceiling would be unfair). With those bodies autocannon itself is
the limit (bare fastify and Candor answer about as fast), so tiles are also fetched with a minimal pipelined HTTP/1.1
client (\`bench/pipelined.ts\`: 16 connections, 16 requests written ahead on each, responses framed by Content-Length
and their bodies skipped; latency includes the wait behind the requests ahead on the connection). Server private (anonymous) memory
after the runs: ${fmt((d.readPrivateBytes ?? 0) / 2 ** 20)} MiB.

| request | req/s (runs) | p50 ms | p99 ms | ceiling req/s | ratio |
|---|---:|---:|---:|---:|---:|
${d.reads.map(line).join('\n')}`);
  }
  parts.push(renderCharts('http', d).join('\n'));
  return parts.join('\n\n');
}
