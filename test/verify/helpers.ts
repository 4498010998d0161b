// A test double for a log that lies: a GET proxy on 127.0.0.1 in front of one real Candor log or
// another (same origin and key: a split view), which can also serve an old checkpoint or alter,
// hide or count tiles.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLI } from '../helpers/server.js';

export interface LyingLog {
  url: string;
  /** Where GETs go. */
  upstream: string;
  /** When set, served as /checkpoint instead of the upstream's. */
  checkpoint: string | undefined;
  /** Rewrites a response body by path (without the leading slash); null answers 404. */
  tamper: ((path: string, body: Uint8Array) => Uint8Array | null) | undefined;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function startLyingLog(upstream: string): Promise<LyingLog> {
  const state: Omit<LyingLog, 'url' | 'close'> = { upstream, checkpoint: undefined, tamper: undefined, requests: [] };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').replace(/^\//, '');
    state.requests.push(path);
    void (async () => {
      try {
        if (path === 'checkpoint' && state.checkpoint !== undefined) {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(state.checkpoint);
          return;
        }
        const auth = req.headers.authorization;
        const up = await fetch(`${state.upstream}/${path}`, { signal: AbortSignal.timeout(5000), ...(auth ? { headers: { authorization: auth } } : {}) });
        let body: Uint8Array | null = new Uint8Array(await up.arrayBuffer());
        if (up.status === 200 && state.tamper) body = state.tamper(path, body);
        if (body === null) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(502).end();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const out = state as LyingLog;
  out.url = `http://127.0.0.1:${port}`;
  out.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return out;
}

/** Runs the built CLI (`node dist/src/cli/main.js ...`) to completion. */
export async function candor(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
