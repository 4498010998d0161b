/**
 * The Go client (clients/go) beside the TypeScript gateway SDK, at batch 256, against the same
 * `candor serve --grpc` in the same run, with the no-op grpc-js server (bench/noop-grpc.ts) as the
 * ceiling: raw pre-encoded SubmitBatch requests that it answers without work. Both clients record
 * session.started closed loop from the same producers, verifying every receipt; the CPU each
 * spends per event is its own process's (the SDK runs in this process, the Go client in its own).
 * The Go program is clients/go/examples/bench, built offline as clients/go/test.sh builds it.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRequests, rawIngest, registerProducers, sdkIngest, type IngestRun } from './grpc.js';
import { fmt, median, meta, otherLoad, saveResult, writeSection, type ResultMeta } from './lib.js';
import { freePort, startCandor, startNoopGrpc } from './servers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION_MS = Number(process.env.BENCH_GRPC_MS ?? 3000);
const BATCH = 256;
const INFLIGHT = 2;
const GO_MODULE = fileURLToPath(new URL('../../clients/go/', import.meta.url));

interface Run extends IngestRun {
  cpuUsPerEvent: number;
}
export interface GoClientData extends ResultMeta {
  skipped?: string;
  runs?: number;
  durationMs?: number;
  noop?: IngestRun[];
  sdk?: Run[];
  go?: Run[];
}

/** Builds the bench program in GOPATH mode against Debian's Go sources (see clients/go/test.sh). */
function buildGo(work: string): string | { skipped: string } {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return { skipped: 'go is not installed (clients/go/test.sh installs it)' };
  mkdirSync(join(work, 'src', 'candor.dev'), { recursive: true });
  symlinkSync(GO_MODULE, join(work, 'src', 'candor.dev', 'go'));
  const bin = join(work, 'go-bench');
  const env = { ...process.env, GOPATH: `${work}:/usr/share/gocode`, GO111MODULE: 'off', GOFLAGS: '-mod=mod', GOPROXY: 'off', GOCACHE: join(work, 'gocache') };
  const r = spawnSync('go', ['build', '-o', bin, './examples/bench'], { cwd: join(work, 'src', 'candor.dev', 'go'), env, encoding: 'utf8' });
  return r.status === 0 ? bin : { skipped: `go build failed: ${r.stderr}` };
}

function goIngest(bin: string, address: string, producers: { id: string; token: string }[], vkey: string): Promise<Run> {
  const args = ['-addr', address, '-producers', producers.map((p) => `${p.id}=${p.token}`).join(','), '-logkey', vkey.split('\n')[0]!, '-batch', String(BATCH), '-inflight', String(INFLIGHT), '-duration', `${DURATION_MS}ms`];
  return new Promise((resolve, reject) =>
    execFile(bin, args, { timeout: DURATION_MS + 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Run))),
  );
}

async function sdkWithCpu(address: string, producers: { id: string; token: string }[], vkey: string): Promise<Run> {
  const c0 = process.cpuUsage();
  const r = await sdkIngest(address, producers, vkey, BATCH, DURATION_MS, INFLIGHT);
  const c = process.cpuUsage(c0);
  return { ...r, cpuUsPerEvent: (c.user + c.system) / Math.max(1, (r.eventsPerSec * DURATION_MS) / 1000) };
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const work = mkdtempSync(join(tmpdir(), 'candor-go-client-'));
  const data: GoClientData = { ...meta('go-client', 'npm run bench -- go-client', before), runs: RUNS, durationMs: DURATION_MS, noop: [], sdk: [], go: [] };
  try {
    const bin = buildGo(work);
    if (typeof bin !== 'string') {
      data.skipped = bin.skipped;
    } else {
      for (let r = 0; r < RUNS; r++) {
        const dir = mkdtempSync(join(tmpdir(), 'candor-go-client-log-'));
        const noop = await startNoopGrpc();
        let candor: Awaited<ReturnType<typeof startCandor>> | undefined;
        try {
          const producers = registerProducers(dir);
          const port = await freePort();
          candor = await startCandor(dir, ['--grpc', `127.0.0.1:${port}`]);
          const vkey = readFileSync(join(dir, 'log.vkey'), 'utf8').trim();
          const address = `127.0.0.1:${port}`;
          const reqs = encodeRequests(BATCH, Math.max(20_000, BATCH * 400)).reqs;
          const n = await rawIngest(noop.url.replace('grpc://', ''), producers.map(() => undefined), BATCH, reqs, { durationMs: DURATION_MS, cycle: true, serverPid: noop.proc.pid });
          const s = await sdkWithCpu(address, producers, vkey);
          const g = await goIngest(bin, address, producers, vkey);
          data.noop!.push(n);
          data.sdk!.push(s);
          data.go!.push(g);
          console.log(
            `run ${r + 1}: no-op ${fmt(n.eventsPerSec)} events/s; SDK ${fmt(s.eventsPerSec)} events/s, ${fmt(s.cpuUsPerEvent, 1)} µs CPU/event; Go ${fmt(g.eventsPerSec)} events/s, ${fmt(g.cpuUsPerEvent, 1)} µs CPU/event${g.failed ? `, ${g.failed} failed` : ''}`,
          );
        } finally {
          await candor?.stop();
          await noop.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  Object.assign(data, meta('go-client', 'npm run bench -- go-client', before, await otherLoad()));
  saveResult('go-client', data);
  writeSection('Go client', goClientSection(data));
}

export function goClientSection(d: GoClientData): string {
  if (d.skipped || !d.go?.length) return `Skipped: ${d.skipped ?? 'no runs'}.`;
  const m = (xs: { eventsPerSec: number }[]) => median(xs.map((x) => x.eventsPerSec));
  const cpu = (xs: Run[]) => median(xs.map((x) => x.cpuUsPerEvent));
  const noop = m(d.noop!);
  const row = (name: string, xs: Run[]) => `| ${name} | ${fmt(m(xs))} | ${fmt((m(xs) / noop) * 100, 1)} % | ${fmt(median(xs.map((x) => x.p99)), 1)} | ${fmt(cpu(xs), 1)} |`;
  return `
\`${d.command}\` (${d.runs} runs of ${d.durationMs! / 1000} s, medians). Batches of ${BATCH}, ${INFLIGHT} requests in flight per producer, closed
loop, every receipt verified by the client, against one \`candor serve --grpc\` on loopback; the ceiling is the no-op grpc-js server
(bench/noop-grpc.ts) answering raw pre-encoded requests, measured in the same run.

| client | events/s | of the no-op ceiling (${fmt(noop)} events/s) | p99 per event, ms | CPU per event, µs |
| --- | ---: | ---: | ---: | ---: |
${row('TypeScript SDK (clients/gateway)', d.sdk!)}
${row('Go client (clients/go)', d.go!)}

Each run measures the SDK first, then the Go client, on the same log (4 producers, as bench/grpc.ts). The Go client also fetches and checks a consistency proof from its last accepted checkpoint to each new one (one
\`GetConsistencyProof\` per new checkpoint), which the TypeScript SDK does not; its CPU figure includes that. Both clients check each event with the log's validation rules before sending it.
`;
}

