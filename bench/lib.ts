/** Shared helpers for benchmarks: timing, medians, machine description, results file. */
import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RESULTS = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function spread(xs: number[]): string {
  return `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`;
}

/** Runs fn `runs` times (after one warm-up unless warm=false) and returns each result. */
export async function repeat<T>(runs: number, fn: () => Promise<T> | T, warm = true): Promise<T[]> {
  if (warm) await fn();
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return out;
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
 * Replaces the section `## <title>` of bench/RESULTS.md with new text (or appends it), so each
 * benchmark owns its section and reruns replace stale figures.
 */
export function writeSection(title: string, body: string): void {
  const header = `## ${title}`;
  let doc = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n\nEach section is written by the benchmark named in it; rerun the command shown to reproduce it.\n';
  const start = doc.indexOf(`${header}\n`);
  const section = `${header}\n\n${body.trim()}\n`;
  if (start < 0) doc = `${doc.trimEnd()}\n\n${section}`;
  else {
    const next = doc.indexOf('\n## ', start + header.length);
    doc = doc.slice(0, start) + section + (next < 0 ? '' : doc.slice(next + 1));
  }
  writeFileSync(RESULTS, doc.endsWith('\n') ? doc : `${doc}\n`);
}
