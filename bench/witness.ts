/**
 * Witnessing (issue 4): add-checkpoint throughput of one witness across 1,000 logs, beside a bare
 * fastify POST handler measured with the same client in the same run; and the extra latency a
 * witnessed acknowledgement adds, with two witnesses on loopback. Every server is a real child
 * process; traffic stays on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { toBase64, utf8 } from '@candor/core/bytes';
import { formatCheckpoint } from '@candor/core/checkpoint';
import { CompactRange, consistencyProofRanges, proofHashes, type NodeReader } from '@candor/core/merkle';
import { generateSignerKey, parseSignerKey, signNote } from '@candor/core/note';
import { nodeEd25519, nodeHasher as H } from '../src/crypto/node.js';
import { WitnessStore, initWitnessKey } from '../src/witness/store.js';
import { fmt, machine, median, spread, writeSection } from './lib.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const BARE = fileURLToPath(new URL('./bare.js', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LOGS = Number(process.env.BENCH_WITNESS_LOGS ?? 1000);
const STEPS = Number(process.env.BENCH_WITNESS_STEPS ?? 12);
const CONCURRENCY = 64;

interface Child {
  url: string;
  stop(): Promise<void>;
}

async function spawnServing(args: string[]): Promise<Child> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /serving on (http:\/\/[^\s/]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (c) => reject(new Error(`exited with ${c}: ${out}`)));
  });
  return {
    url,
    async stop() {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, path: string, body: string, type: string): Promise<{ status: number; ms: number }> {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'POST', agent, headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** The add-checkpoint bodies of each log for sizes 1..STEPS: one tree shape, a key per log. */
function requests(logs: { origin: string; skey: string }[]): string[][] {
  const nodes = new Map<string, Uint8Array>();
  const range = new CompactRange(H);
  const roots: Uint8Array[] = [H.empty];
  for (let i = 0; i < STEPS; i++) {
    range.append(H.leaf(utf8(`entry ${i}`)), (h, k, hash) => nodes.set(`${h}/${k}`, hash));
    roots.push(range.root());
  }
  const read: NodeReader = (h, k) => nodes.get(`${h}/${k}`)!;
  const proofs = roots.map((_, n) => (n < 2 ? [] : proofHashes(H, consistencyProofRanges(n - 1, n), read)));
  return logs.map(({ origin, skey }) => {
    const signer = parseSignerKey(skey, { crypto: nodeEd25519 }).signer;
    return Array.from({ length: STEPS }, (_, i) => {
      const n = i + 1;
      const note = signNote(formatCheckpoint({ origin, size: n, root: roots[n]!, extensions: [] }), [signer]);
      return `old ${n - 1}\n${proofs[n]!.map((p) => `${toBase64(p)}\n`).join('')}\n${note}`;
    });
  });
}

/** Sends each log's steps in order, CONCURRENCY logs at a time; returns requests/s and latencies. */
async function drive(url: string, path: string, type: string, bodies: string[][]): Promise<{ rps: number; ok: number; other: number; ms: number[] }> {
  let ok = 0;
  let other = 0;
  const ms: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let step = 0; step < STEPS; step++) {
        for (let l = w; l < bodies.length; l += CONCURRENCY) {
          const r = await post(url, path, bodies[l]![step]!, type);
          if (r.status === 200) ok++;
          else other++;
          ms.push(r.ms);
        }
      }
    }),
  );
  return { rps: ms.length / ((performance.now() - t0) / 1000), ok, other, ms };
}

async function throughput(): Promise<string> {
  const logs = Array.from({ length: LOGS }, (_, i) => ({ origin: `bench.example/log${i}`, ...generateSignerKey(`bench.example/log${i}`) }));
  const bodies = requests(logs);
  const witness: number[] = [];
  const bare: number[] = [];
  const p99: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'candor-bench-witness-'));
    await initWitnessKey(dir, 'witness.bench.example');
    const store = await WitnessStore.open(dir);
    for (const l of logs) await store.addLog({ origin: l.origin, vkeys: [l.vkey] });
    await store.close();
    const w = await spawnServing([CLI, 'witness', 'serve', '--data', dir, '--http', '127.0.0.1:0']);
    const res = await drive(w.url, '/add-checkpoint', 'text/plain', bodies);
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
    if (res.other > 0) throw new Error(`${res.other} add-checkpoint requests were not answered 200`);
    const b = await spawnServing([BARE]);
    const ceiling = await drive(b.url, '/add', 'application/octet-stream', bodies);
    await b.stop();
    witness.push(res.rps);
    bare.push(ceiling.rps);
    p99.push(pct(res.ms, 99));
    console.log(`run ${r + 1}: witness ${fmt(res.rps)} add-checkpoint/s (p99 ${fmt(pct(res.ms, 99), 1)} ms), bare fastify ${fmt(ceiling.rps)} req/s`);
  }
  const m = median(witness);
  return `### add-checkpoint across ${fmt(LOGS)} logs

One witness process configured with ${fmt(LOGS)} logs, each with its own key. Every log's checkpoints for sizes
1 to ${STEPS} are submitted in order, each with its consistency proof, ${CONCURRENCY} logs at a time over keep-alive
connections (${fmt(LOGS * STEPS)} requests per run, all answered 200). Each 200 means the log signature was
verified, the proof checked, the new state written with a synced LevelDB write, and the checkpoint cosigned.
Ceiling: the bare fastify POST handler (bench/bare.ts), same bodies, same client, same run.

| | req/s (median of ${RUNS}) | runs | p99 ms |
|---|---:|---:|---:|
| witness \`POST /add-checkpoint\` | **${fmt(m)}** | ${spread(witness)} | ${fmt(median(p99), 1)} |
| bare fastify POST (ceiling) | ${fmt(median(bare))} | ${spread(bare)} | |

Ratio to the ceiling: ${fmt((m / median(bare)) * 100, 1)}%. Goal: at least 2,000 requests/s (${m >= 2000 ? 'met' : 'missed'}).`;
}

async function witnessedLatency(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'candor-bench-witnessed-'));
  const origin = 'bench.example/witnessed';
  const logKey = generateSignerKey(origin);
  const keyFile = join(dir, 'log.key');
  writeFileSync(keyFile, `${logKey.skey}\n`, { mode: 0o600 });
  const witnesses: Child[] = [];
  const refs: { name: string; vkey: string; url: string }[] = [];
  for (const name of ['w1', 'w2']) {
    const wdir = join(dir, name);
    const vkey = await initWitnessKey(wdir, `${name}.bench.example`);
    const store = await WitnessStore.open(wdir);
    await store.addLog({ origin, vkeys: [logKey.vkey] });
    await store.close();
    const w = await spawnServing([CLI, 'witness', 'serve', '--data', wdir, '--http', '127.0.0.1:0']);
    witnesses.push(w);
    refs.push({ name, vkey, url: w.url });
  }
  const config = join(dir, 'candor.yaml');
  writeFileSync(config, stringify({ witnessing: { witnesses: refs, quorum: 'all', publish: 'before' } }));
  const log = await spawnServing([CLI, 'serve', '--config', config, '--data', join(dir, 'log'), '--key', keyFile, '--http', '127.0.0.1:0', '--log-level', 'warn']);
  const rows: string[] = [];
  const N = Number(process.env.BENCH_WITNESSED_REQUESTS ?? 2000);
  let n = 0;
  for (const inflight of [1, 16]) {
    const lat: Record<string, number[]> = { plain: [], witnessed: [] };
    for (const mode of ['plain', 'witnessed', 'plain', 'witnessed'] as const) {
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          for (let i = 0; i < N / 2 / inflight; i++) {
            const r = await post(log.url, mode === 'witnessed' ? '/add?witnessed=1' : '/add', `witnessed bench ${n++} ${Math.random()}`, 'application/octet-stream');
            if (r.status !== 200) throw new Error(`POST /add answered ${r.status}`);
            lat[mode]!.push(r.ms);
          }
        }),
      );
    }
    const extra = pct(lat.witnessed!, 99) - pct(lat.plain!, 99);
    console.log(`${inflight} in flight: plain p50 ${fmt(pct(lat.plain!, 50), 1)} p99 ${fmt(pct(lat.plain!, 99), 1)} ms; witnessed p50 ${fmt(pct(lat.witnessed!, 50), 1)} p99 ${fmt(pct(lat.witnessed!, 99), 1)} ms`);
    rows.push(
      `| ${inflight} | ${fmt(pct(lat.plain!, 50), 1)} | ${fmt(pct(lat.plain!, 99), 1)} | ${fmt(pct(lat.witnessed!, 50), 1)} | ${fmt(pct(lat.witnessed!, 99), 1)} | **${fmt(extra, 1)}** |`,
    );
  }
  await log.stop();
  for (const w of witnesses) await w.stop();
  rmSync(dir, { recursive: true, force: true });
  return `### Witnessed acknowledgements

A log process with two witness processes on loopback and the policy "both cosign" (\`quorum: all\`).
\`POST /add\` against \`POST /add?witnessed=1\`, ${fmt(N)} requests each, interleaved in two halves,
at 1 and 16 requests in flight. A witnessed ack waits until a checkpoint covering the entry carries both
cosignatures; it is answered with that checkpoint and a proof against it.

| in flight | plain p50 ms | plain p99 ms | witnessed p50 ms | witnessed p99 ms | extra p99 ms (goal < 50) |
|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}`;
}

export async function main(): Promise<void> {
  const parts = [await throughput(), await witnessedLatency()];
  agent.destroy();
  writeSection('Witnessing', `Command: \`npm run bench -- witness\` (${RUNS} runs). Machine: ${machine()}.\n\n${parts.join('\n\n')}`);
}
