// `candor witness serve` as a child process: its operational surface (GET /healthz, GET /metrics),
// --log-level, and a human banner as the first line of its output (no pino JSON before it).
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startLog } from '../helpers/server.js';
import { TestLog, runCli, spawnWitness, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function witnessDir(): Promise<{ dir: string; log: TestLog }> {
  const dir = tempDir();
  dirs.push(dir);
  const log = new TestLog('example.com/ops').append(3);
  expect((await runCli(['init', '--data', dir, '--name', 'witness.example/ops'])).code).toBe(0);
  expect((await runCli(['add-log', '--data', dir, '--origin', log.origin, '--vkey', log.vkey])).code).toBe(0);
  return { dir, log };
}

const get = (url: string) => fetch(url, { signal: AbortSignal.timeout(3000) });
const post = (url: string, body: string) => fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(3000) });
const requestLines = (out: string) => out.split('\n').filter((l) => l.startsWith('{') && (JSON.parse(l) as { msg?: string }).msg === 'request');

describe('witness serve operations', () => {
  it('answers /healthz and /metrics, starts with its banner, and logs requests only at debug', async () => {
    const { dir, log } = await witnessDir();
    const w = await spawnWitness(dir);
    try {
      expect(w.output().split('\n')[0]).toMatch(/^witness serving on http:\/\/127\.0\.0\.1:\d+$/);
      const health = await get(`${w.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', logs: 1 });
      expect((await post(`${w.url}/add-checkpoint`, log.body(0))).status).toBe(200);
      const metrics = await get(`${w.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await metrics.text();
      expect(text).toMatch(/^candor_witness_requests_total\{route="\/add-checkpoint",status="200"\} 1$/m);
      expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    } finally {
      expect(await w.stop()).toBe(0);
    }
    // At the default level (info) no line per request.
    expect(requestLines(w.output())).toEqual([]);

    const debug = await spawnWitness(dir, ['--log-level', 'debug']);
    try {
      expect(debug.output().split('\n')[0]).toMatch(/^witness serving on /);
      expect((await get(`${debug.url}/healthz`)).status).toBe(200);
      for (const deadline = Date.now() + 3000; requestLines(debug.output()).length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    } finally {
      expect(await debug.stop()).toBe(0);
    }
    expect(requestLines(debug.output())).toEqual([expect.stringContaining('"url":"/healthz"')]);
  });

  it('candor serve also starts with its banner', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const log = await startLog({ dir });
    try {
      expect(log.output().split('\n')[0]).toMatch(/^Candor log ".*" serving on http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await log.stop();
    }
  });

  it('refuses an unknown --log-level naming the choices', async () => {
    const { dir } = await witnessDir();
    const r = await runCli(['serve', '--data', dir, '--http', '127.0.0.1:0', '--log-level', 'loud']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--log-level.*loud.*debug/s);
  });
});
