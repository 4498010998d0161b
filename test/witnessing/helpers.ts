// Shared by the witnessing and auditor tests: real Candor logs (in-process, real store in a temp
// dir, real HTTP on 127.0.0.1) wired to real witnesses (the witness's own code, same as
// `candor witness serve`), plus witnesses that are dead (nothing listening), slow (never answer)
// or lying (answer 200 with a cosignature by another key).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { utf8 } from '@candor/core/bytes';
import { SIG_COSIGNATURE_V1, generateSignerKey, parseSignerKey, signatureLine } from '@candor/core/note';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { parseNote } from '@candor/core/note';
import { parseWitnessingConfig } from '../../src/witnessing/config.js';
import { startTestLog } from '../helpers/log.js';
import { tempDir } from '../helpers/server.js';
import { startWitness, type RunningWitness } from '../witness/helpers.js';

export { startWitness, type RunningWitness };
export { waitFor } from '../helpers/wait.js';

export type TestLog = Awaited<ReturnType<typeof startTestLog>>;

/** A log key written where `candor serve` looks for it, so witnesses can be told its vkey first. */
export function logKey(origin: string, dir = tempDir()): { dir: string; vkey: string; skey: string } {
  mkdirSync(dir, { recursive: true });
  const k = generateSignerKey(origin, randomBytes(32));
  writeFileSync(join(dir, 'log.key'), `${k.skey}\n`, { mode: 0o600 });
  return { dir, ...k };
}

export interface WitnessRef {
  name: string;
  vkey: string;
  url: string;
}

/** Starts a Candor log whose witnessing section is built from `witnessing` (parsed like the config file). */
export async function startWitnessedLog(opts: {
  origin: string;
  dir: string;
  witnesses: WitnessRef[];
  quorum?: number | string;
  groups?: unknown[];
  publish?: 'before' | 'after';
  timeoutMs?: number;
  ackTimeoutMs?: number;
  retryMs?: number;
  /** Entries to anyone (config publicEntries), for readers that present no token. */
  publicEntries?: boolean;
}): Promise<TestLog> {
  const witnessing = parseWitnessingConfig({
    witnesses: opts.witnesses,
    ...(opts.groups ? { groups: opts.groups } : {}),
    ...(opts.quorum === undefined ? {} : { quorum: opts.quorum }),
    publish: opts.publish ?? 'before',
    timeoutMs: opts.timeoutMs ?? 2000,
    ackTimeoutMs: opts.ackTimeoutMs ?? 5000,
    retryMs: opts.retryMs ?? 100,
    maxRetryMs: 1000,
  });
  return startTestLog({ data: opts.dir, origin: opts.origin, witnessing, ...(opts.publicEntries ? { publicEntries: true } : {}) });
}

/** Real witnesses for `origin`, named w1..wn. */
export async function startWitnesses(n: number, origin: string, logVkey: string): Promise<Array<RunningWitness & { ref: WitnessRef }>> {
  const out = [];
  for (let i = 1; i <= n; i++) {
    const w = await startWitness({ name: `witness${i}.candor.test`, logs: [{ origin, vkeys: [logVkey] }] });
    out.push({ ...w, ref: { name: `w${i}`, vkey: w.vkeys[0]!, url: w.url } });
  }
  return out;
}

/** A cosignature/v1 key nobody serves. */
export function strayWitnessKey(name: string): { vkey: string; skey: string } {
  const { skey } = generateSignerKey(name, randomBytes(32));
  return { vkey: parseSignerKey(skey, { type: SIG_COSIGNATURE_V1 }).vkey, skey };
}

/** A URL where nothing listens (a port that was just free). */
export async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

export interface FakeWitness {
  url: string;
  /** add-checkpoint requests received. */
  requests: number;
  close(): Promise<void>;
}

/**
 * A witness that reads each request and then never answers (mode "slow"), or answers 200 with a
 * well-formed cosignature by a key other than the configured one (mode "liar").
 */
export async function startFakeWitness(mode: 'slow' | 'liar', name = 'fake.candor.test'): Promise<FakeWitness> {
  const other = parseSignerKey(generateSignerKey(name, randomBytes(32)).skey, { type: SIG_COSIGNATURE_V1 });
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      state.requests++;
      if (mode === 'slow') return; // never answers
      const note = body.slice(body.indexOf('\n\n') + 2);
      const text = parseNote(note).text;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(signatureLine(name, other.signer.keyId, other.signer.sign(utf8(text))));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A temp dir removed by the given cleanup list (run it in afterAll). */
export function scratch(cleanups: Array<() => Promise<unknown>>, prefix?: string): string {
  const dir = tempDir(prefix);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The value of a counter or gauge sample with these labels (0 if absent). */
export async function metric(log: TestLog, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = log.metrics.registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  let sum = 0;
  for (const v of values) {
    if ((v as { metricName?: string }).metricName?.endsWith('_bucket') || (v as { metricName?: string }).metricName?.endsWith('_sum')) continue;
    if (Object.entries(labels).every(([k, x]) => String((v.labels as Record<string, unknown>)[k]) === x)) sum += v.value;
  }
  return sum;
}

export async function post(url: string, entry: string | Uint8Array, query = ''): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${url}/add${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: typeof entry === 'string' ? utf8(entry) : entry,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

/** Appends `${prefix} ${i}` for i in [from, to) through the sequencer: real synced commits, in order, fast. */
export async function fill(log: TestLog, prefix: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 1024) {
    await log.sequencer.submitMany(Array.from({ length: Math.min(1024, to - i) }, (_, j) => utf8(`${prefix} ${i + j}`)));
  }
}

export async function getCheckpoint(url: string): Promise<{ status: number; note: string; size: number | undefined }> {
  const res = await fetch(`${url}/checkpoint`, { signal: AbortSignal.timeout(5000) });
  const note = await res.text();
  return { status: res.status, note, size: res.status === 200 ? parseCheckpoint(parseNote(note).text).size : undefined };
}
