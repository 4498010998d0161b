/** Child-process servers for HTTP benchmarks: Candor (`candor serve`) and the bare fastify ceiling. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const BARE = fileURLToPath(new URL('./bare.js', import.meta.url));

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
      const m = /serving on (http:\/\/[^\s/]+)/.exec(out);
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

export function startCandor(data: string, extra: string[] = []): Promise<Child> {
  return start([CLI, 'serve', '--data', data, '--http', '127.0.0.1:0', '--log-level', 'warn', ...extra]);
}

export function startBare(): Promise<Child> {
  return start([BARE]);
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

/** Runs autocannon and reduces its result to what the reports use. */
export async function load(opts: autocannon.Options): Promise<LoadResult> {
  const r = await autocannon({ connections: 64, duration: 5, ...opts });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}
