/**
 * Where the server's time goes, for the goals the dashboard misses: `candor serve` run under
 * `node --cpu-prof` while autocannon drives POST /add (64 connections), then random inclusion
 * proofs on the 1M-entry log, then gRPC SubmitBatch from a raw client (bench/grpc.ts), each
 * profile summarized by area (our modules, each package, Node's
 * internals, GC, idle) and by function. Idle is time the main thread waited (for the client, or
 * for the synced commit on libuv's thread pool); the rest is CPU work on the main thread.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import { fmt, headline, meta, otherLoad, saveResult, uniqueAddRequest, writeSection, type ResultMeta } from './lib.js';
import { cachedLog } from './logs.js';
import { freePort, load, startCandor, type Child, type LoadResult } from './servers.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  name: string;
  /** Requests (or events) per second during the profile. */
  load: { rps: number };
  /** Total sampled wall time, ms. */
  totalMs: number;
  /** Share of the wall time by area, largest first. */
  areas: { area: string; share: number }[];
  /** Self time by function, largest first (top 15). */
  functions: { fn: string; where: string; share: number }[];
  /** Time with each of our modules on the stack (inclusive), largest first. */
  ours: { module: string; share: number }[];
}

export interface ProfileData extends ResultMeta {
  durationS: number;
  profiles: ProfileSummary[];
}

function area(url: string, fn: string): string {
  if (fn === '(idle)') return '(idle: waiting for I/O)';
  if (fn === '(garbage collector)') return '(garbage collector)';
  if (fn === '(program)') return '(program: native code outside JS)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return `npm: ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.indexOf('/dist/src/');
  if (src >= 0) return `Candor: src/${url.slice(src + 10).replace(/\.js$/, '.ts')}`;
  if (url.startsWith('node:internal/crypto')) return 'Node.js crypto (SHA-256, Ed25519)';
  if (/^node:(internal\/)?(net|http|_http|stream|streams|tcp|dns|tls|timers|events|async_hooks|process)/.test(url)) return 'Node.js net, http, streams, timers';
  if (url.startsWith('node:')) return 'Node.js internals (other)';
  return '(native builtins)';
}

/** Summarizes a .cpuprofile: self time by area and function, inclusive time of our modules. */
/** Monotonic microseconds, the clock V8 stamps profile samples with (CLOCK_MONOTONIC, shared by processes). */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Summarizes a .cpuprofile: self time by area and function, inclusive time of our modules; only
 * samples inside `window` (monotonic µs) count, so start-up and warm-up are left out.
 */
export function summarize(file: string, name: string, loadResult: { rps: number }, window?: [number, number]): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (window && (t < window[0] || t > window[1])) return;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const areas = new Map<string, number>();
  const fns = new Map<string, { where: string; t: number }>();
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + t);
    const fn = functionName || '(anonymous)';
    const where = url ? `${url.replace(/^.*\/(node_modules|dist)\//, '').replace(/^file:\/\//, '')}:${lineNumber + 1}` : 'native';
    const k = `${fn} ${where}`;
    fns.set(k, { where, t: (fns.get(k)?.t ?? 0) + t });
    // Each of our modules on this stack counts once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const m = area(byId.get(cur)!.callFrame.url, byId.get(cur)!.callFrame.functionName);
      if (m.startsWith('Candor:') && !seen.has(m)) {
        seen.add(m);
        inclusive.set(m, (inclusive.get(m) ?? 0) + t);
      }
    }
  }
  const sorted = <T>(m: Map<string, T>, v: (x: T) => number) => [...m].sort((a, b) => v(b[1]) - v(a[1]));
  return {
    name,
    load: loadResult,
    totalMs: total / 1000,
    areas: sorted(areas, (x) => x).map(([a, t]) => ({ area: a, share: t / total })),
    functions: sorted(fns, (x) => x.t)
      .filter(([k]) => !k.startsWith('(idle)'))
      .slice(0, 15)
      .map(([k, v]) => ({ fn: k.slice(0, k.length - v.where.length - 1), where: v.where, share: v.t / total })),
    ours: sorted(inclusive, (x) => x).map(([m, t]) => ({ module: m.slice(8), share: t / total })),
  };
}

/** Runs `drive` against a `candor serve` under --cpu-prof and summarizes the profile. */
async function profiled(name: string, dataDir: string, extra: string[], drive: (c: Child) => Promise<{ rps: number; window: [number, number] }>): Promise<ProfileSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'candor-prof-'));
  try {
    const c = await startCandor(dataDir, extra, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const r = await drive(c);
    await c.stop();
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no CPU profile was written');
    const s = summarize(join(dir, file), name, r, r.window);
    console.log(`${name}: ${fmt(r.rps)}/s; ${s.areas.slice(0, 6).map((a) => `${a.area} ${fmt(a.share * 100, 1)}%`).join(', ')}`);
    return s;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** autocannon for 1 s to warm up, then DURATION s measured. */
function http(opts: Omit<autocannon.Options, 'url'>): (c: Child) => Promise<LoadResult & { window: [number, number] }> {
  return async (c) => {
    await load({ ...opts, url: c.url, duration: 1 });
    return load({ ...opts, url: c.url, duration: DURATION });
  };
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const profiles: ProfileSummary[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'candor-prof-data-'));
  try {
    const add = http({
      requests: [uniqueAddRequest()],
    });
    profiles.push(await profiled('POST /add, 64 connections', dataDir, [], add));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const size = 1_000_000;
  const { dir } = await cachedLog(size);
  const proofs = http({ requests: Array.from({ length: 8192 }, () => ({ path: `/proof/inclusion?index=${Math.floor(Math.random() * size)}&size=${size}` })) });
  profiles.push(await profiled(`GET /proof/inclusion on ${fmt(size)} entries, 64 connections`, dir, [], proofs));
  const grpcDir = mkdtempSync(join(tmpdir(), 'candor-prof-grpc-'));
  try {
    const g = await import('./grpc.js');
    const producers = g.registerProducers(grpcDir);
    const port = await freePort();
    const batch = 4096;
    const { reqs } = g.encodeRequests(batch, 400_000);
    profiles.push(
      await profiled(`gRPC SubmitBatch, ${fmt(batch)} events per request, raw client`, grpcDir, ['--grpc', `127.0.0.1:${port}`], async () => {
        const t0 = nowUs();
        const r = await g.rawIngest(`127.0.0.1:${port}`, producers.map((p) => p.token), batch, reqs, { durationMs: DURATION * 1000 });
        return { rps: r.eventsPerSec, window: [t0, nowUs()] };
      }),
    );
  } finally {
    rmSync(grpcDir, { recursive: true, force: true });
  }
  const data: ProfileData = { ...meta('profile', 'npm run bench -- profile', before, await otherLoad()), durationS: DURATION, profiles };
  saveResult('profile', data);
  writeSection('Profiles', profileSection(data));
}

function pct(x: number): string {
  return `${fmt(x * 100, 1)}%`;
}

export function profileSection(d: ProfileData): string {
  const parts = d.profiles.map((p) => {
    const areas = p.areas.filter((a) => a.share >= 0.005);
    return `### ${p.name}

${fmt(p.load.rps)} ${p.name.startsWith('gRPC') ? 'events' : 'requests'}/s during the ${d.durationS} s profile (the profiler costs some of it). Share of the server's main-thread wall time:

| area | share |
|---|---:|
${areas.map((a) => `| ${a.area} | ${pct(a.share)} |`).join('\n')}

Our modules, inclusive (time with the module anywhere on the stack): ${p.ours.slice(0, 8).map((m) => `${m.module} ${pct(m.share)}`).join(', ')}.

| function (self time) | where | share |
|---|---|---:|
${p.functions.map((f) => `| \`${f.fn}\` | ${f.where} | ${pct(f.share)} |`).join('\n')}`;
  });
  return `${headline(d, `${d.durationS} s per profile`)}

\`candor serve\` under \`node --cpu-prof\` (sampling every 1 ms) while the benchmark process drives it (autocannon at
64 connections for HTTP, the raw grpc-js client of the gRPC section for gRPC); only the samples of the measured
${d.durationS} s count (start-up and warm-up are left out). The client shares the 2 cores, so idle time on the server's main thread is partly the client's
turn and partly waiting for the synced LevelDB commit on libuv's thread pool (which the main-thread profile does not
see). Summarized by \`bench/profile.ts\` from the raw \`.cpuprofile\`.

${parts.join('\n\n')}`;
}
