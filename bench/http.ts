/**
 * HTTP under autocannon (64 connections, loopback), each figure beside a bare fastify server
 * measured in the same run:
 *  - POST /add throughput, and p99 acknowledgement latency at half of that load;
 *  - GET /proof/inclusion and GET /tile/... on a log of BENCH_LOG_SIZE entries (default 1,000,000).
 * Client and servers share this 2-core machine, as they would in any loopback test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '../src/core/note.js';
import { nodeEd25519, nodeHasher } from '../src/crypto/node.js';
import { Sequencer } from '../src/log/sequencer.js';
import { LevelStore } from '../src/storage/level.js';
import { loadLogKeys } from '../src/keys.js';
import { formatTileIndex } from '../src/core/tile.js';
import type autocannon from 'autocannon';
import { fmt, machine, median, writeSection } from './lib.js';
import { load, startBare, startCandor, type LoadResult } from './servers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const LOG_SIZE = Number(process.env.BENCH_LOG_SIZE ?? 1_000_000);

function med(rs: LoadResult[], k: keyof LoadResult): number {
  return median(rs.map((r) => r[k]));
}

/** Fills a log directory with `n` entries through the sequencer (faster than HTTP). */
export async function buildLog(dir: string, n: number): Promise<void> {
  const keys = loadLogKeys({ dataDir: dir, origin: 'bench.example/log' });
  const store = await LevelStore.open(join(dir, 'db'));
  const seq = await Sequencer.open({
    origin: keys.origin,
    signers: keys.signers,
    verifiers: keys.verifiers,
    hasher: nodeHasher,
    store,
    maxBatch: 16384,
    maxQueue: 1 << 20,
  });
  const CHUNK = 65536;
  for (let i = seq.size; i < n; i += CHUNK) {
    const m = Math.min(CHUNK, n - i);
    const buf = randomBytes(m * 48);
    const entries = Array.from({ length: m }, (_, j) => buf.subarray(j * 48, j * 48 + 48));
    const calls = [];
    for (let j = 0; j < m; j += 1024) calls.push(seq.submitMany(entries.slice(j, j + 1024)));
    await Promise.all(calls);
  }
  await seq.close();
  await store.close();
}

async function addBench(): Promise<string> {
  const bare: LoadResult[] = [];
  const candor: LoadResult[] = [];
  const half: LoadResult[] = [];
  // Unique bodies of a fixed length (autocannon's idReplacement miscounts Content-Length).
  const prefix = randomBytes(6).toString('hex');
  let n = 0;
  const req = {
    requests: [
      {
        method: 'POST' as const,
        path: '/add',
        headers: { 'content-type': 'application/octet-stream' },
        setupRequest: (r: autocannon.Request) => {
          r.body = `audit event ${prefix}-${String(n++).padStart(12, '0')} {"actor":"alice@example.com","action":"db.query","resource":"postgres://prod/customers"}`;
          return r;
        },
      },
    ],
  };
  for (let r = 0; r < RUNS; r++) {
    const b = await startBare();
    bare.push(await load({ url: b.url, duration: DURATION, ...req }));
    await b.stop();
    const dir = mkdtempSync(join(tmpdir(), 'candor-bench-'));
    const c = await startCandor(dir);
    await load({ url: c.url, duration: 1, ...req }); // warm-up
    const full = await load({ url: c.url, duration: DURATION, ...req });
    candor.push(full);
    half.push(await load({ url: c.url, duration: DURATION, overallRate: Math.max(1, Math.floor(full.rps / 2)), ...req }));
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
    console.log(`run ${r + 1}: bare ${fmt(bare[r]!.rps)} req/s; candor ${fmt(full.rps)} req/s (p99 ${full.p99} ms); at half load p50 ${half[r]!.p50} ms p99 ${half[r]!.p99} ms; errors ${full.errors + full.non2xx}`);
  }
  const ratio = med(candor, 'rps') / med(bare, 'rps');
  return `### POST /add

Unique 130-byte entries, 64 connections, ${DURATION} s per measurement, ${RUNS} runs, medians.
Every acknowledgement waited for its batch's synced commit and carries its inclusion proof.

| server | req/s | p50 ms | p99 ms |
|---|---:|---:|---:|
| bare fastify POST handler (ceiling) | ${fmt(med(bare, 'rps'))} | ${med(bare, 'p50')} | ${med(bare, 'p99')} |
| Candor \`POST /add\`, full load | ${fmt(med(candor, 'rps'))} | ${med(candor, 'p50')} | ${med(candor, 'p99')} |
| Candor \`POST /add\`, half load (\`overallRate\` = ½ of its own full rate) | ${fmt(med(half, 'rps'))} | ${med(half, 'p50')} | **${med(half, 'p99')}** |

Ratio to the ceiling: **${fmt(ratio * 100, 1)}%** (goal ≥ 60%); p99 at half load ${med(half, 'p99')} ms (goal < 50 ms).`;
}

async function readBench(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'candor-bench-'));
  const t0 = performance.now();
  await buildLog(dir, LOG_SIZE);
  console.log(`built a log of ${fmt(LOG_SIZE)} entries in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  const fullTiles = Math.floor(LOG_SIZE / 256);
  // Pre-built request lists that autocannon cycles through (setupRequest costs client CPU).
  const proofReq = Array.from({ length: 8192 }, () => ({ path: `/proof/inclusion?index=${Math.floor(Math.random() * LOG_SIZE)}&size=${LOG_SIZE}` }));
  const tileReq = Array.from({ length: 8192 }, () => ({ path: `/tile/0/${formatTileIndex(Math.floor(Math.random() * fullTiles))}` }));
  const rows: Record<string, LoadResult[]> = { bareProof: [], proof: [], bareTile: [], tile: [] };
  let rss = 0;
  for (let r = 0; r < RUNS; r++) {
    const b = await startBare();
    rows.bareProof!.push(await load({ url: b.url, duration: DURATION, requests: proofReq }));
    rows.bareTile!.push(await load({ url: b.url, duration: DURATION, requests: tileReq }));
    await b.stop();
    const c = await startCandor(dir);
    await load({ url: c.url, duration: 2, requests: proofReq }); // warm the tile cache
    rows.proof!.push(await load({ url: c.url, duration: DURATION, requests: proofReq }));
    rows.tile!.push(await load({ url: c.url, duration: DURATION, requests: tileReq }));
    rss = Math.max(rss, (await c.rss()).anon);
    await c.stop();
    console.log(`run ${r + 1}: proofs ${fmt(rows.proof![r]!.rps)}/s (bare ${fmt(rows.bareProof![r]!.rps)}), tiles ${fmt(rows.tile![r]!.rps)}/s (bare ${fmt(rows.bareTile![r]!.rps)})`);
  }
  rmSync(dir, { recursive: true, force: true });
  const line = (name: string, ours: LoadResult[], ceiling: LoadResult[], goal: string) =>
    `| ${name} | ${fmt(med(ours, 'rps'))} | ${med(ours, 'p99')} | ${fmt(med(ceiling, 'rps'))} | ${fmt((med(ours, 'rps') / med(ceiling, 'rps')) * 100, 1)}% | ${goal} |`;
  return `### Reads on a log of ${fmt(LOG_SIZE)} entries

Random indexes (proofs at the full size) and random full level-0 tiles, 64 connections, ${DURATION} s, ${RUNS} runs,
medians; the ceiling is the bare fastify server returning a same-shape answer without work (for tiles, one of
1,024 distinct random 8 KiB bodies: autocannon itself is several times slower on varying binary bodies than on
one repeated body, so a constant-body ceiling would be unfair).
Server private (anonymous) memory after the runs: ${fmt(rss / 2 ** 20)} MiB.

| request | req/s | p99 ms | ceiling req/s | ratio | goal |
|---|---:|---:|---:|---:|---|
${line('`GET /proof/inclusion`', rows.proof!, rows.bareProof!, '≥ 15,000/s')}
${line('`GET /tile/0/<N>`', rows.tile!, rows.bareTile!, '≥ 25,000/s')}`;
}

export async function main(): Promise<void> {
  const which = process.env.BENCH_HTTP ?? 'add,read';
  const parts: string[] = [];
  if (which.includes('add')) parts.push(await addBench());
  if (which.includes('read')) parts.push(await readBench());
  writeSection('HTTP', `Command: \`npm run bench -- http\`. Machine: ${machine()}.\n\n${parts.join('\n\n')}`);
}
