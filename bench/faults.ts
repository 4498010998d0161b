/**
 * `npm run bench -- faults`: the corruption-detection and fuzzing figures of docs/faults.md at
 * larger counts than CI runs. BENCH_FLIPS (default 300) single-bit flips in a 70,000-entry store,
 * each checked by candor fsck (bench/corrupt.ts); BENCH_FUZZ_RUNS (default 20,000) inputs per
 * parser (bench/fuzz.ts).
 */
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLog, flipAndCheck } from './corrupt.js';
import { PARSERS, fuzzParser } from './fuzz.js';
import { fmt, headline, meta, otherLoad, saveResult, writeSection, type ResultMeta } from './lib.js';

interface FaultsResult extends ResultMeta {
  storeSize: number;
  flipped: number;
  detected: number;
  misses: string[];
  fuzz: { parser: string; runs: number; seconds: number }[];
}

export function faultsSection(d: FaultsResult): string {
  return [
    headline(d, `${fmt(d.flipped)} bit flips, ${fmt(d.fuzz[0]?.runs ?? 0)} fuzz inputs per parser`),
    '',
    `**Corruption: detected ${fmt(d.detected)} of ${fmt(d.flipped)} flipped bytes**, each named by its tile path. One bit at a time was flipped in a random stored hash tile (hashes or interior) or entry bundle of a ${fmt(d.storeSize)}-entry store (three tile levels), \`candor fsck\` was run, and the flip undone.${d.misses.length ? ` Missed: ${d.misses.slice(0, 5).join('; ')}` : ''}`,
    '',
    '**Fuzzing**: inputs per parser, random or a valid sample with 1–4 random edits; the property is that the parser returns or throws a CandorError and nothing else. CI runs 2,000 per parser (test/fuzz/parsers.test.ts) and 300–900 HTTP requests per route group against a running log (test/fuzz/http.test.ts: no 5xx, nothing written unless answered 200).',
    '',
    '| parser | inputs | seconds | failures |',
    '|---|---:|---:|---:|',
    ...d.fuzz.map((f) => `| ${f.parser} | ${fmt(f.runs)} | ${fmt(f.seconds, 1)} | 0 |`),
  ].join('\n');
}

export async function main(): Promise<void> {
  const flips = Number(process.env.BENCH_FLIPS ?? 300);
  const runs = Number(process.env.BENCH_FUZZ_RUNS ?? 20_000);
  const storeSize = 70_000;
  const before = await otherLoad();
  const dir = mkdtempSync(join(tmpdir(), 'candor-corrupt-'));
  let flip;
  try {
    await buildLog(dir, storeSize);
    flip = await flipAndCheck(dir, flips);
    console.log(`  corruption: detected ${flip.detected} of ${flip.flipped} flipped bytes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fuzz: FaultsResult['fuzz'] = [];
  for (const p of PARSERS) {
    const t0 = performance.now();
    fuzzParser(p, runs);
    fuzz.push({ parser: p.name, runs, seconds: (performance.now() - t0) / 1000 });
    console.log(`  fuzz: ${p.name}: ${runs} inputs`);
  }
  const d: FaultsResult = { ...meta('faults', 'npm run bench -- faults', before, await otherLoad()), storeSize, flipped: flip.flipped, detected: flip.detected, misses: flip.misses, fuzz };
  saveResult('faults', d);
  writeSection('Corruption and fuzzing', faultsSection(d));
}
