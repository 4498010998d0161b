/** Child-process servers for HTTP benchmarks: Candor (`candor serve`) and the bare fastify ceiling. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const BARE = fileURLToPath(new URL('./bare.js', import.meta.url));
const NOOP_GRPC = fileURLToPath(new URL('./noop-grpc.js', import.meta.url));

export interface Child {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /**
   * Resident memory of the child, in bytes (from /proc): all of it, and the private (anonymous)
   * part. The rest is file-backed, mostly LevelDB's memory-mapped table files: page cache that
   * the kernel can drop, which grows with the store, not with the process's own needs.
   */
  rss(): Promise<{ rss: number; anon: number }>;
}

async function start(args: string[]): Promise<Child> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /serving on ((?:http|grpc):\/\/[^\s/]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (c) => reject(new Error(`server exited with ${c}: ${out}`)));
  });
  return {
    url,
    proc,
    async stop() {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    },
    async rss() {
      const { readFile } = await import('node:fs/promises');
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
      return { rss: kb('VmRSS'), anon: kb('RssAnon') };
    },
  };
}

/** `candor serve` on a data dir; `node` flags (such as --cpu-prof) go before the script. */
export function startCandor(data: string, extra: string[] = [], nodeFlags: string[] = []): Promise<Child> {
  return start([...nodeFlags, CLI, 'serve', '--data', data, '--http', '127.0.0.1:0', '--log-level', 'warn', ...extra]);
}

/** The bare fastify ceiling (bench/bare.ts); `--durable DIR` makes its POST /add a synced group commit. */
export function startBare(args: string[] = []): Promise<Child> {
  return start([BARE, ...args]);
}

/** The no-op grpc-js server (bench/noop-grpc.ts); its url is grpc://host:port. */
export function startNoopGrpc(): Promise<Child> {
  return start([NOOP_GRPC]);
}

/** A TCP port free on 127.0.0.1 right now (for listeners that cannot report the one they bound). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  await new Promise((r) => srv.close(r));
  return typeof a === 'object' && a ? a.port : 0;
}

export interface LoadResult {
  rps: number;
  /** Latency percentiles in ms, from every response's own time (autocannon's histogram keeps whole ms). */
  p50: number;
  p99: number;
  max: number;
  /** The p99 autocannon itself reports (whole ms; with a rate, "corrected" as bench/paced.ts explains). */
  autocannonP99: number;
  errors: number;
  non2xx: number;
  /** Monotonic µs of the first and the last response (autocannon spends seconds building request lists first). */
  window: [number, number];
}

/** The numeric figures of a LoadResult. */
export type LoadFigure = Exclude<keyof LoadResult, 'window'>;

/** Runs autocannon and reduces its result to what the reports use. */
export async function load(opts: autocannon.Options): Promise<LoadResult> {
  const lat: number[] = [];
  let first = 0;
  let last = 0;
  // Without a callback autocannon returns an instance that is both an emitter and a promise.
  const inst = autocannon({ connections: 64, duration: 5, ...opts }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
  inst.on('response', (_c: unknown, status: number, _bytes: number, time: number) => {
    if (status >= 200 && status < 300) lat.push(time);
    last = Number(process.hrtime.bigint() / 1000n);
    first ||= last;
  });
  const r = await inst;
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]! : NaN);
  return {
    rps: r.requests.average,
    p50: q(0.5),
    p99: q(0.99),
    max: lat.length ? lat[lat.length - 1]! : NaN,
    autocannonP99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    window: [first, last],
  };
}
