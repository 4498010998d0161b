/**
 * Logs of a given size for the read and scale benchmarks, built once through the Sequencer
 * (in-process: faster than HTTP) and kept under $TMPDIR/candor-bench-logs/<size>. Beside each
 * store, build.json records how the build went (entries/s over time) and a fingerprint of the code
 * that lays out the store; a log built by other code is rebuilt, so a format change is never
 * measured on stale data. BENCH_REUSE_LOGS=1 keeps a log whatever built it. A build that was
 * interrupted (build.partial.json from the same code, or any with BENCH_RESUME_LOGS=1) resumes
 * where its last commit left it; its samples then start at the entries it resumed from.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeHasher } from '../src/crypto/node.js';
import { loadLogKeys } from '../src/keys.js';
import { Sequencer } from '../src/log/sequencer.js';
import { LevelStore } from '../src/storage/level.js';
import { fmt, otherLoad, type OtherLoad } from './lib.js';

/** Bytes per entry of the logs built here. */
export const ENTRY_BYTES = 48;

export interface BuildInfo {
  size: number;
  entryBytes: number;
  fingerprint: string;
  date: string;
  seconds: number;
  /** [entries committed, seconds since the start], about every 65,536 entries; the first is where this build (re)started. */
  samples: [number, number][];
  load: OtherLoad;
}

/** The modules that decide what a store holds; a change in any of them means a rebuild. */
function fingerprint(): string {
  const h = createHash('sha256');
  for (const m of ['../src/storage/level.js', '../src/log/tree.js', '../src/core/tile.js', '../src/core/merkle.js']) {
    h.update(readFileSync(fileURLToPath(new URL(m, import.meta.url))));
  }
  return h.digest('hex').slice(0, 16);
}

/** Entries per second of a build (of the part built in its last run, for a resumed build). */
export function buildRate(build: BuildInfo): number {
  const from = build.samples[0]?.[0] ?? 0;
  return (build.size - from) / build.seconds;
}

export function logsDir(): string {
  return join(tmpdir(), 'candor-bench-logs');
}

/** A log of `size` entries, built now if there is none from the current code. */
export async function cachedLog(size: number): Promise<{ dir: string; build: BuildInfo }> {
  const dir = join(logsDir(), String(size));
  const info = join(dir, 'build.json');
  const fp = fingerprint();
  if (existsSync(info)) {
    const build = JSON.parse(readFileSync(info, 'utf8')) as BuildInfo;
    if (build.fingerprint === fp || process.env.BENCH_REUSE_LOGS === '1') return { dir, build };
    console.log(`the log of ${fmt(size)} entries was built by other code (${build.fingerprint}, now ${fp}): rebuilding`);
  }
  const partial = join(dir, 'build.partial.json');
  const resume =
    existsSync(join(dir, 'db')) &&
    (process.env.BENCH_RESUME_LOGS === '1' || (existsSync(partial) && (JSON.parse(readFileSync(partial, 'utf8')) as { fingerprint: string }).fingerprint === fp));
  if (resume) {
    console.log(`resuming the interrupted build of the log of ${fmt(size)} entries`);
  } else {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(partial, `${JSON.stringify({ fingerprint: fp })}\n`);
  const load = await otherLoad();
  const samples = await buildLog(dir, size);
  const build: BuildInfo = { size, entryBytes: ENTRY_BYTES, fingerprint: fp, date: new Date().toISOString(), seconds: samples.at(-1)![1], samples, load };
  writeFileSync(info, `${JSON.stringify(build)}\n`);
  rmSync(partial);
  return { dir, build };
}

/**
 * Fills a new log directory with `n` entries of random bytes, through the Sequencer, 1,024 per
 * submitMany, batches of up to 16,384; returns [entries, seconds] after every 65,536.
 */
export async function buildLog(dir: string, n: number): Promise<[number, number][]> {
  const keys = loadLogKeys({ dataDir: dir, origin: 'bench.example/log' });
  const store = await LevelStore.open(join(dir, 'db'));
  const seq = await Sequencer.open({
    origin: keys.origin,
    signers: keys.signers,
    verifiers: keys.verifiers,
    hasher: nodeHasher,
    store,
    maxBatch: 16384,
    maxQueue: 1 << 20,
  });
  const CHUNK = 65536;
  const samples: [number, number][] = [[seq.size, 0]];
  const t0 = performance.now();
  let lastPrint = t0;
  for (let i = seq.size; i < n; i += CHUNK) {
    const m = Math.min(CHUNK, n - i);
    const buf = randomBytes(m * ENTRY_BYTES);
    const entries = Array.from({ length: m }, (_, j) => buf.subarray(j * ENTRY_BYTES, (j + 1) * ENTRY_BYTES));
    const calls = [];
    for (let j = 0; j < m; j += 1024) calls.push(seq.submitMany(entries.slice(j, j + 1024)));
    await Promise.all(calls);
    const now = performance.now();
    samples.push([i + m, (now - t0) / 1000]);
    if (now - lastPrint > 10_000) {
      lastPrint = now;
      const [a, ta] = samples[Math.max(0, samples.length - 16)]!;
      console.log(`  building: ${fmt(i + m)} of ${fmt(n)} entries, ${fmt((i + m - a) / ((now - t0) / 1000 - ta))} entries/s lately`);
    }
  }
  await seq.close();
  await store.close();
  return samples;
}
