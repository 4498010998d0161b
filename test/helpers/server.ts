// Starts a real Candor log server as a child process (the built CLI), on loopback, on a real
// store on disk, so tests can talk to it over HTTP and kill it with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// From test/helpers (vitest) or dist/test/helpers (a compiled bench, bench/ha.ts).
export const CLI = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../src/cli/main.js' : '../../dist/src/cli/main.js', import.meta.url));

export interface RunningLog {
  url: string;
  dir: string;
  vkey: string;
  proc: ChildProcess;
  /** Everything the process printed so far. */
  output: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

export function tempDir(prefix = 'candor-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface ServingProcess {
  url: string;
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Spawns `node <CLI> ...args` and resolves once it prints "serving on http://HOST:PORT" (the CLI's
 * serve commands do, with the real port when given port 0).
 */
export async function spawnServing(args: string[], opts: { env?: NodeJS.ProcessEnv; what?: string } = {}): Promise<ServingProcess> {
  const what = opts.what ?? 'server';
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${what} did not start in 20 s:\n${out}`));
    }, 20_000);
    const check = () => {
      const m = /serving on (https?:\/\/[^\s/]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before serving:\n${out}`));
    });
  });
  return {
    url,
    proc,
    output: () => out,
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts `candor serve` on 127.0.0.1 with an OS-chosen port; resolves once it is serving. */
export async function startLog(opts: { dir?: string; origin?: string; args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<RunningLog> {
  const dir = opts.dir ?? tempDir();
  const args = ['serve', '--data', dir, '--http', '127.0.0.1:0', ...(opts.origin ? ['--origin', opts.origin] : []), ...(opts.args ?? [])];
  const p = await spawnServing(args, { env: opts.env, what: 'log' });
  const vkey = readFileSync(join(dir, 'log.vkey'), 'utf8').trim();
  return { ...p, dir, vkey };
}
