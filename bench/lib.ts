/** Shared helpers for benchmarks: timing, medians, machine description, results file and data. */
import { createHash, hash, randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import type autocannon from 'autocannon';
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '@candor/core/note';
import { nodeDigest, nodeEd25519, nodeHasher } from '../src/crypto/node.js';
import { Sequencer, type SequencerOptions } from '../src/log/sequencer.js';
import type { LogStore } from '../src/storage/store.js';

export const RESULTS = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));
/** Raw data (JSON) and plots (SVG) of each scenario, so plots regenerate without a rerun. */
export const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function spread(xs: number[], digits = 0): string {
  return `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`;
}

/** The q-th quantile (0..1) of already sorted values, nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Milliseconds with a precision that suits their size. */
export function ms(n: number): string {
  return fmt(n, n < 10 ? 2 : n < 100 ? 1 : 0);
}

export interface MachineInfo {
  cores: number;
  cpu: string;
  memGiB: number;
  node: string;
}

export function machineInfo(): MachineInfo {
  return { cores: cpus().length, cpu: cpus()[0]?.model.trim() ?? 'cpu', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

export function machine(): string {
  const m = machineInfo();
  return `${m.cores} × ${m.cpu}, ${m.memGiB} GiB, Node ${m.node}`;
}

function cpuTimes(): { busy: number; total: number } {
  // First line of /proc/stat: user nice system idle iowait irq softirq steal ... (jiffies).
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

export interface OtherLoad {
  /** Cores kept busy by other processes while this one slept for a second (0..cores). */
  busyCores: number;
  /** The 1-minute load average at that moment. */
  loadavg1: number;
}

/**
 * How busy the shared machine is without us: CPU use over one second in which the benchmark and
 * its servers are idle. Other engineers' test runs share this machine; the figure goes beside
 * every section so that a slow run can be told from a slow product.
 */
export async function otherLoad(): Promise<OtherLoad> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, 1000));
  const b = cpuTimes();
  const frac = (b.busy - a.busy) / Math.max(1, b.total - a.total);
  return { busyCores: frac * cpus().length, loadavg1: loadavg()[0]! };
}

export function loadText(before: OtherLoad, after?: OtherLoad): string {
  const one = (l: OtherLoad) => `${fmt(l.busyCores, 2)} of ${cpus().length} cores busy with other processes (load average ${fmt(l.loadavg1, 2)})`;
  return after ? `Before the run ${one(before)}; after it ${one(after)}.` : `Before the run ${one(before)}.`;
}

/** Runs fn `runs` times (after one warm-up unless warm=false) and returns each result. */
export async function repeat<T>(runs: number, fn: () => Promise<T> | T, warm = true): Promise<T[]> {
  if (warm) await fn();
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return out;
}

/** SHA-256 of 65 bytes (an RFC 9162 node) per second, each way JavaScript can compute it here. */
export interface Sha256Rates {
  /** node:crypto as the server hashes (src/crypto/node.ts): hash() to a binary string, copied into a pooled Buffer. */
  server: number;
  /** node:crypto hash() asked for a Buffer (each result gets its own backing store). */
  nodeBuffer: number;
  /** node:crypto createHash().update().digest(). */
  createHash: number;
  /** @noble/hashes, the portable one clients and browsers use. */
  noble: number;
}

/** Medians of `runs` measurements of each way; the ceiling is the fastest of them (sha256Ceiling). */
export async function sha256Rates(runs: number): Promise<Sha256Rates> {
  const input = randomBytes(65);
  const rate = async (fn: () => unknown) => median(await repeat(runs, () => opsPerSecond(fn)));
  return {
    server: await rate(() => nodeDigest(input)),
    nodeBuffer: await rate(() => hash('sha256', input, 'buffer')),
    createHash: await rate(() => createHash('sha256').update(input).digest()),
    noble: await rate(() => sha256(input)),
  };
}

export function sha256Ceiling(r: Sha256Rates): number {
  return Math.max(r.server, r.nodeBuffer, r.createHash, r.noble);
}

/** The rates for RESULTS.md, fastest first. */
export function sha256Text(r: Sha256Rates): string {
  const ways: [string, number][] = [
    ["node:crypto `hash()` to a binary string copied into a pooled Buffer (the server's way, src/crypto/node.ts)", r.server],
    ["node:crypto `hash()` to a Buffer", r.nodeBuffer],
    ['node:crypto `createHash`', r.createHash],
    ['@noble/hashes', r.noble],
  ];
  return ways
    .sort((a, b) => b[1] - a[1])
    .map(([way, n]) => `${way} ${fmt(n)}/s`)
    .join('; ');
}

/** Operations per second of a synchronous function over about `ms` milliseconds. */
export function opsPerSecond(fn: () => unknown, ms = 400): number {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    now = performance.now();
  }
  return (n / (now - start)) * 1000;
}

/**
 * The order of sections in RESULTS.md: the summary first, then the scenarios from the innermost
 * (hashing) to the outermost (scale). A section not listed goes at the end.
 */
const ORDER = [
  'Goals',
  'Comparison with the anchors',
  'In-process integration',
  'Durability cost',
  "Beside Go's sumdb/tlog",
  'HTTP',
  'Latency',
  'gRPC ingest',
  'gRPC acknowledgement latency',
  'Ingest costs',
  'Scale',
  'Search',
  'Batch defaults',
  'Profiles',
];

const PREAMBLE = `# Benchmark results

Each section is written by the benchmark named in it; rerun the command shown to reproduce it.
\`npm run bench\` runs them all (loopback only, bounded in time); \`npm run bench -- <name>\` runs one.
Raw data is in [results/](results/) as JSON beside the plots (SVG), which
\`npm run bench -- plots\` redraws from the JSON without rerunning anything.

Figures are medians of several runs with their spread (min–max), each beside a ceiling measured in
the same run, and the ratio to it. The machine has 2 cores, shared with other engineers' test runs,
and the load generator shares them with the server: compare ratios, not absolute times, across runs.
`;

/**
 * Replaces the section `## <title>` of bench/RESULTS.md with new text (or inserts it in ORDER),
 * so each benchmark owns its section and reruns replace stale figures.
 */
export function writeSection(title: string, body: string): void {
  const header = `## ${title}`;
  let doc = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : PREAMBLE;
  const section = `${header}\n\n${body.trim()}\n`;
  const start = doc.indexOf(`${header}\n`);
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + header.length);
    doc = doc.slice(0, start) + section + (next < 0 ? '' : `\n${doc.slice(next + 1)}`);
  } else {
    const rank = (t: string) => (ORDER.includes(t) ? ORDER.indexOf(t) : ORDER.length);
    // Insert before the first existing section that sorts after this one.
    let at = -1;
    for (const m of doc.matchAll(/^## (.+)$/gm)) {
      if (rank(m[1]!) > rank(title)) {
        at = m.index!;
        break;
      }
    }
    doc = at < 0 ? `${doc.trimEnd()}\n\n${section}` : `${doc.slice(0, at)}${section}\n${doc.slice(at)}`;
  }
  writeFileSync(RESULTS, doc.endsWith('\n') ? doc : `${doc}\n`);
}

/** Common fields of every scenario's JSON. */
export interface ResultMeta {
  scenario: string;
  command: string;
  date: string;
  machine: MachineInfo;
  load: { before: OtherLoad; after?: OtherLoad };
}

export function meta(scenario: string, command: string, before: OtherLoad, after?: OtherLoad): ResultMeta {
  // The BENCH_* settings of this run go in front of the command, so that it reruns the same way.
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_') && !command.includes(`${k}=`))
    .map(([k, v]) => `${k}=${v}`);
  if (env.length) command = `${env.join(' ')} ${command}`;
  return { scenario, command, date: new Date().toISOString(), machine: machineInfo(), load: { before, ...(after ? { after } : {}) } };
}

/** Writes bench/results/<name>.json. */
export function saveResult(name: string, data: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(data, null, 1)}\n`);
}

export function loadResult<T>(name: string): T | undefined {
  const f = join(RESULTS_DIR, `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : undefined;
}

export function resultNames(): string[] {
  return existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : [];
}

/** Writes bench/results/<name>.svg and returns the Markdown that shows it from RESULTS.md. */
export function savePlot(name: string, svg: string, alt: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${name}.svg`), svg);
  return `![${alt}](results/${name}.svg)`;
}

/** "met" or "**missed**", for goal columns. */
export function verdict(met: boolean): string {
  return met ? 'met' : '**missed**';
}

/** The first line of a section: how to rerun it, on what machine, beside how much other load. */
export function headline(d: ResultMeta, details: string): string {
  const m = d.machine;
  return `Command: \`${d.command}\` (${details}). Machine: ${m.cores} × ${m.cpu}, ${m.memGiB} GiB, Node ${m.node}; measured ${d.date.slice(0, 16).replace('T', ' ')} UTC. ${loadText(d.load.before, d.load.after)}`;
}

/** A Sequencer for a throwaway benchmark log on `store`, signed by a fresh key, node:crypto hot paths. */
export async function benchSequencer(store: LogStore, opts: Partial<SequencerOptions> = {}): Promise<Sequencer> {
  const key = generateSignerKey('bench.example/log');
  return Sequencer.open({
    origin: 'bench.example/log',
    signers: [parseSignerKey(key.skey, { crypto: nodeEd25519 }).signer],
    verifiers: [parseVerifierKey(key.vkey, nodeEd25519)],
    hasher: nodeHasher,
    store,
    ...opts,
  });
}


/** The JSON tail of the audit-event-like bodies the HTTP benchmarks POST to /add. */
export const ADD_BODY_JSON = '{"actor":"alice@example.com","action":"db.query","resource":"postgres://prod/customers"}';

/**
 * An autocannon request that POSTs a new entry to /add each time: unique bodies of a fixed length
 * (autocannon's idReplacement miscounts Content-Length), so none is deduplicated.
 */
export function uniqueAddRequest(json = ADD_BODY_JSON): autocannon.Request {
  const prefix = randomBytes(6).toString('hex');
  let n = 0;
  return {
    method: 'POST',
    path: '/add',
    headers: { 'content-type': 'application/octet-stream' },
    setupRequest: (q) => {
      q.body = `audit event ${prefix}-${String(n++).padStart(12, '0')} ${json}`;
      return q;
    },
  };
}
