/**
 * The explorer's time to its first verified checkpoint on screen, in Debian's Chromium on
 * loopback (goal: under 1 s). A log of 10,000 entries in this process; each run is a fresh browser
 * profile with the log key already pinned, timed from navigation to the green status (checkpoint
 * fetched, signature verified, and on a return visit the consistency proof from the tiles).
 * Ceiling, in the same run: the same browser loading a page of the same server that does nothing
 * (GET /checkpoint as text), so the ratio is what the explorer adds to a navigation.
 *
 *   npm run build && node dist/bench/explorer.js
 */
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startLog } from '../src/app.js';
import { CONFIG_DEFAULTS } from '../src/config.js';

const RUNS = 15;
const ENTRIES = 10_000;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'candor-bench-explorer-'));
  const log = await startLog({ ...CONFIG_DEFAULTS, data: dir, http: '127.0.0.1:0', origin: 'bench.candor.test/log', logLevel: 'warn' });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ARGS, headless: true });
  try {
    const first = ENTRIES / 2;
    const entry = (i: number) => new TextEncoder().encode(`bench entry ${i} `.padEnd(200, '.'));
    for (let i = 0; i < first; i += 1000) await log.service.addMany(Array.from({ length: 1000 }, (_, k) => entry(i + k)));
    const trust = { url: log.url, vkey: log.keys.vkeys[0]!, witnesses: [], quorum: 0 };
    const origin = new URL(log.url).origin;
    const profile = (extra: { name: string; value: string }[] = []) => ({ cookies: [], origins: [{ origin, localStorage: [{ name: 'candor.explorer.trust', value: JSON.stringify(trust) }, ...extra] }] });

    // A profile that saw the tree at half its size: the return visit proves consistency from there.
    const seeing = await browser.newContext({ storageState: profile() });
    const p0 = await seeing.newPage();
    await p0.goto(`${log.url}/`);
    await p0.waitForSelector('#status.ok');
    const seen = (await seeing.storageState()).origins[0]!.localStorage;
    await seeing.close();
    for (let i = first; i < ENTRIES; i += 1000) await log.service.addMany(Array.from({ length: 1000 }, (_, k) => entry(i + k)));

    const time = async (state: ReturnType<typeof profile>, url: string, ready: string): Promise<number> => {
      const ctx = await browser.newContext({ storageState: state });
      const page = await ctx.newPage();
      const t0 = performance.now();
      await page.goto(url);
      await page.waitForSelector(ready, { timeout: 10_000 });
      const ms = performance.now() - t0;
      await ctx.close();
      return ms;
    };
    const ceiling: number[] = [], firstVisit: number[] = [], returnVisit: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      ceiling.push(await time(profile(), `${log.url}/checkpoint`, 'body'));
      firstVisit.push(await time(profile(), `${log.url}/`, '#status.ok'));
      returnVisit.push(await time(profile(seen.filter((e) => e.name !== 'candor.explorer.trust')), `${log.url}/`, '#grew'));
    }
    const c = median(ceiling);
    console.log(`explorer: first verified checkpoint on screen, Chromium on loopback, ${RUNS} fresh profiles each, log of ${ENTRIES} entries`);
    console.log(`  ceiling (navigate to GET /checkpoint, no script)  median ${c.toFixed(0)} ms (${spread(ceiling)})`);
    console.log(`  first visit (signature)                         median ${median(firstVisit).toFixed(0)} ms (${spread(firstVisit)})  ${(median(firstVisit) / c).toFixed(1)}x ceiling`);
    console.log(`  return visit (signature + consistency ${first}->${ENTRIES}) median ${median(returnVisit).toFixed(0)} ms (${spread(returnVisit)})  ${(median(returnVisit) / c).toFixed(1)}x ceiling`);
    console.log(`  goal < 1000 ms: ${Math.max(median(firstVisit), median(returnVisit)) < 1000 ? 'met' : 'missed'}`);
  } finally {
    await browser.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
