// The explorer in Debian's Chromium against a real `candor serve` holding events written through
// the gateway SDK: every view, search with a token, the file drop, scripts injected through
// event fields that must not run, and a tampering proxy that must turn the page red with the
// right reason. Nothing here is mocked: the browser verifies what the log really serves.
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { encodeProofBundle } from '@candor/core/tlog-proof';
import { BUILT, CHROMIUM, HOSTILE, launchChromium, startExplorerLog, startStaticServer, type ExplorerLog } from './fixture.js';
import { strayWitnessKey } from '../witnessing/helpers.js';
import { startTamperingProxy, type Tamper, type TamperingProxy } from './proxy.js';

const T = 60_000;
/**
 * Every Playwright wait (navigation, selector, action) in these tests, so that a page that never
 * shows what a test waits for fails with Playwright's message naming it, well inside T.
 */
const WAIT = 15_000;

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('the explorer in Chromium', () => {
  let env: ExplorerLog;
  let browser: Browser;
  let proxy: TamperingProxy;

  beforeAll(async () => {
    [env, browser] = await Promise.all([startExplorerLog(), launchChromium()]);
    proxy = await startTamperingProxy(env.log.url);
    proxy.oldCheckpoint = env.earlyCheckpoint;
  }, T);
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await env?.stop();
  });

  /**
   * A new browser profile whose waits are bounded by WAIT; if the test fails, its page's console
   * errors, uncaught exceptions and status banner are printed, so a timeout says what the page saw.
   */
  async function profile(options?: Parameters<Browser['newContext']>[0]): Promise<{ page: Page; ctx: BrowserContext }> {
    const ctx = await browser.newContext(options);
    ctx.setDefaultTimeout(WAIT);
    ctx.setDefaultNavigationTimeout(WAIT);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && errors.push(`console: ${m.text()}`)));
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    onTestFailed(async () => {
      const shown = await page
        .locator('#status, main')
        .allInnerTexts()
        .catch((e: Error) => [`(page unreadable: ${e.message})`]);
      console.error(`page ${page.url()} at failure:\n  status and view: ${shown.join('\n  ').slice(0, 2000)}\n  ${errors.join('\n  ') || 'no console errors'}`);
    });
    return { page, ctx };
  }

  /**
   * Waits until the log serves a checkpoint larger than `than` that carries the witness's
   * cosignature. The log publishes each checkpoint at once ("publish: before") and the witness
   * cosigns it a moment later: a page pinned with quorum 1 that reads it in between rightly refuses
   * it, so a test that has just made the log grow waits for the cosignature before opening a page.
   */
  async function cosigned(than = 0, url = env.log.url): Promise<number> {
    const deadline = Date.now() + WAIT;
    let note = '';
    while (Date.now() < deadline) {
      note = await (await fetch(`${url}/checkpoint`, { signal: AbortSignal.timeout(2000) })).text();
      const size = Number(note.split('\n')[1]);
      if (size > than && (note.match(/^\u2014 /gm) ?? []).length >= 2) return size;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no checkpoint past ${than} entries cosigned by the witness within ${WAIT} ms; the last one served:\n${note}`);
  }

  /** A fresh browser profile (empty storage) at `url`, keys pinned, the overview verified. */
  async function pinned(url = env.log.url, witness = env.witnessVkey): Promise<{ page: Page; ctx: BrowserContext }> {
    await cosigned();
    const { page, ctx } = await profile();
    await page.goto(`${url}/`);
    await page.fill('#trust-vkey', env.log.vkey);
    await page.fill('#trust-witnesses', witness);
    await page.fill('#trust-quorum', '1');
    await page.click('#trust-save');
    return { page, ctx };
  }
  const status = (page: Page) => page.locator('#status');
  // Reads for expect.poll, which does not bound its callback: each read gives up after a second
  // (and is retried) instead of waiting WAIT for an element the page may never show.
  const POLL = { timeout: 10_000, interval: 100 };
  const classOf = (page: Page, selector: string) => page.locator(selector).getAttribute('class', { timeout: 1000 });
  const textOf = (page: Page, selector: string) => page.locator(selector).textContent({ timeout: 1000 });

  it('is served at / with a strict Content-Security-Policy', async () => {
    const res = await fetch(`${env.log.url}/`, { signal: AbortSignal.timeout(WAIT) });
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/<style|\sstyle=/);
    const asset = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)![1]!;
    expect((await fetch(`${env.log.url}/${asset}`, { signal: AbortSignal.timeout(WAIT) })).headers.get('content-security-policy')).toBe(csp);
  });

  it('pins the key, verifies the checkpoint, and proves on the next visit that the log only grew', async () => {
    const { page, ctx } = await pinned();
    await expect.poll(() => classOf(page, '#status'), { ...POLL, message: 'the status banner turning ok' }).toBe('ok');
    const size = Number(await page.locator('#size').textContent());
    expect(size).toBeGreaterThanOrEqual(env.recorded.length);
    expect(await page.locator('#origin').textContent()).toBe('explorer.test/log');
    expect(await page.locator('#grew').textContent()).toBe('first visit from this browser');
    // The witness's cosignature, with its cosignature/v1 time (checkpoints carry no time).
    const w = await page.locator('#witnesses tbody tr').first().locator('td').allTextContents();
    expect(w[0]).toBe('witness.explorer.test');
    expect(Number(w[1])).toBe(size);
    expect(Math.abs(Date.parse(w[2]!) - Date.now())).toBeLessThan(60_000);
    // The log grows (an audited search appends an event); the next visit proves consistency.
    await fetch(`${env.log.url}/v1/search?actor=usr_bob`, { headers: { authorization: `Bearer ${env.auditorToken}` }, signal: AbortSignal.timeout(WAIT) });
    await cosigned(size);
    await page.reload();
    await expect.poll(() => textOf(page, '#grew'), { ...POLL, message: 'the overview proving the log only grew (#grew)' }).toMatch(new RegExp(`^proved consistent: the log only grew, from ${size} to \\d+ entries`));
    expect(await status(page).textContent()).toContain('The log only grew since this browser last looked');
    // The token is never stored.
    expect(JSON.stringify(await ctx.storageState())).not.toContain(env.auditorToken);
    await ctx.close();
  }, T);

  it('lists events newest first, each verified, and runs no script from their fields', async () => {
    const { page, ctx } = await pinned();
    await page.waitForSelector('#origin');
    await page.goto(`${env.log.url}/#/events`);
    await page.waitForSelector('#events tbody tr');
    const rows = page.locator('#events tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(env.recorded.length);
    expect(await page.locator('#events tbody tr.failed').count()).toBe(0);
    const text = await page.locator('#events').textContent();
    expect(text).toContain(HOSTILE.actor); // shown as text, literally
    expect(text).toContain(HOSTILE.resource);
    expect(text).toContain('review.approved');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    // Every control has a label, and the view is reachable by keyboard from the navigation.
    // Expressions, not functions: they run in the page, and the tests are type-checked without the DOM library.
    const unlabelled = await page.evaluate("[...document.querySelectorAll('input, textarea, select')].filter((e) => !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML)");
    expect(unlabelled).toEqual([]);
    await page.focus('nav a[href="#/verify"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#drop');
    expect(await page.evaluate('document.activeElement?.id')).toBe('view');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.id')).toBe('drop');
    expect(await page.locator('#events img, #events script, #events svg').count()).toBe(0);
    await ctx.close();
  }, T);

  it('shows an event with every field, its commitments and its proof; a review timeline and a session with a token', async () => {
    const { page, ctx } = await pinned();
    await page.waitForSelector('#origin');
    const requested = env.recorded[0]!.receipt.index;
    await page.goto(`${env.log.url}/#/event/${requested}`);
    await page.waitForSelector('#proof');
    const fields = await page.locator('#fields').textContent();
    expect(fields).toContain('review.requested');
    expect(fields).toContain('pg-prod-eu');
    expect(fields).toMatch(/reviewRequested\.justificationCommitment\s*commitment /);
    expect(await page.locator('#fields tr.commitment').count()).toBeGreaterThan(0);
    expect(await page.locator('#proof').textContent()).toContain(Buffer.from(env.recorded[0]!.receipt.leafHash).toString('base64'));

    await page.fill('#token', env.auditorToken);
    await page.click('#disclose-button');
    await page.waitForSelector('#openings');
    const opened = await page.locator('#openings').textContent();
    expect(opened).toContain('ticket OPS-1✓ opens the commitment in this verified event');
    expect(await page.locator('#openings tr.failed').count()).toBe(0);
    expect(await page.locator('#disclose').textContent()).toMatch(/the log recorded the disclosure at index \d+/);

    await page.goto(`${env.log.url}/#/review/rev-1`);
    await page.waitForSelector('#review-checks');
    expect(await page.locator('#review-state').textContent()).toBe('State: EXECUTED');
    expect(await page.locator('#executed-approved').textContent()).toMatch(/^Executed what was approved: yes — /);
    expect(await page.locator('#events tbody tr').count()).toBe(6);
    expect(await page.locator('#events tbody tr.failed').count()).toBe(0);

    await page.goto(`${env.log.url}/#/session/ses-1`);
    await page.waitForSelector('#events');
    expect(await page.locator('#events tbody tr').count()).toBe(5); // started, query, ended, and the review's execution started and completed
    expect(await page.locator('main').textContent()).toContain('not proof that they are all');
    await ctx.close();
  }, T);

  it('searches with an auditor token and says what a result proves', async () => {
    const { page, ctx } = await pinned();
    await page.waitForSelector('#origin');
    await page.goto(`${env.log.url}/#/events?resource=pg-prod`);
    expect(await page.locator('main [role=alert]').textContent()).toContain('needs an auditor token');
    await page.fill('#token', env.auditorToken);
    await page.goto(`${env.log.url}/#/events`);
    await page.waitForSelector('#f-actor');
    await page.fill('#f-actor', HOSTILE.actor);
    await page.press('#f-actor', 'Enter');
    await page.waitForSelector('text=result(s)');
    expect(await page.locator('#events tbody tr').count()).toBe(1);
    expect(await page.locator('#events').textContent()).toContain('rev-2');
    expect(await page.locator('main').textContent()).toContain('proved to be in the log; the server chose them, so this is not proof that they are every match');
    await ctx.close();
  }, T);

  it('on a log whose entries are not public, verifies a tenant auditor\'s search results from the leaves the search carries', async () => {
    const priv = await startExplorerLog({ publicEntries: false });
    try {
      await cosigned(0, priv.log.url);
      const { page, ctx } = await profile();
      await page.goto(`${priv.log.url}/`);
      await page.fill('#trust-vkey', priv.log.vkey);
      await page.fill('#trust-witnesses', priv.witnessVkey);
      await page.fill('#trust-quorum', '1');
      await page.click('#trust-save');
      await page.waitForSelector('#origin');
      // Browsing reads entry bundles, which this log refuses without read-log: red, naming why.
      await page.goto(`${priv.log.url}/#/events`);
      await expect.poll(() => textOf(page, '#events'), { ...POLL, message: 'the refused entry bundles' }).toContain('read-log');
      expect(await page.locator('#events tr.failed').count()).toBeGreaterThan(0);
      // An auditor of the tenant searches: each hit's leaf is checked against the public hash
      // tiles and its inclusion proof, with no entry bundle read.
      const bundles: string[] = [];
      page.on('request', (r) => void (r.url().includes('/tile/entries/') && bundles.push(r.url())));
      await page.fill('#token', priv.tenantAuditorToken);
      await page.goto(`${priv.log.url}/#/events?type=review.requested`);
      await page.waitForSelector('text=result(s)');
      const rows = page.locator('#events tbody tr');
      expect(await rows.count()).toBeGreaterThan(0);
      expect(await page.locator('#events tr.failed').count()).toBe(0);
      expect(await page.locator('#events').textContent()).toContain('review.requested');
      expect(bundles).toEqual([]);
      await ctx.close();
    } finally {
      await priv.stop();
    }
  }, T);

  it('verifies a dropped proof bundle offline and rejects a tampered one', async () => {
    const { page, ctx } = await pinned();
    await page.waitForSelector('#origin');
    await page.goto(`${env.log.url}/#/verify`);
    // A bundle against the log's current, witnessed checkpoint (a receipt's checkpoint is not
    // cosigned yet, and the pinned quorum needs the witness).
    const r = env.recorded[2]!.receipt;
    const checkpoint = await (await fetch(`${env.log.url}/checkpoint`, { signal: AbortSignal.timeout(WAIT) })).text();
    const size = Number(checkpoint.split('\n')[1]);
    const inc = (await (await fetch(`${env.log.url}/proof/inclusion?index=${r.index}&size=${size}`, { signal: AbortSignal.timeout(WAIT) })).json()) as { proof: string[] };
    const bundle = encodeProofBundle({ extra: r.leaf, index: r.index, proof: inc.proof.map((p) => Buffer.from(p, 'base64')), checkpoint });
    await ctx.setOffline(true); // the verdict needs no network
    await page.setInputFiles('#bundle-file', { name: 'e.tlog-proof', mimeType: 'text/plain', buffer: Buffer.from(bundle) });
    await expect.poll(() => textOf(page, '#verdict'), { ...POLL, message: 'the verdict on the dropped file' }).toContain(`✓ Verified, offline: entry ${r.index}`);
    const proof = inc.proof.map((p) => Buffer.from(p, 'base64'));
    proof[0]![0]! ^= 1;
    const bad = encodeProofBundle({ extra: r.leaf, index: r.index, proof, checkpoint });
    await page.setInputFiles('#bundle-file', { name: 'bad.tlog-proof', mimeType: 'text/plain', buffer: Buffer.from(bad) });
    await expect.poll(() => textOf(page, '#verdict'), { ...POLL, message: 'the verdict on the dropped file' }).toMatch(/^✗ Rejected — proof bundle: inclusion proof does not lead to the root/);
    expect(await page.locator('#verdict').getAttribute('class')).toBe('failed');
    await ctx.close();
  }, T);

  it('verifies a dropped signed export offline and rejects one with an altered event', async () => {
    const res = await fetch(`${env.log.url}/v1/export?format=bundle&type=review.*`, { headers: { authorization: `Bearer ${env.auditorToken}` }, signal: AbortSignal.timeout(WAIT) });
    expect(res.status).toBe(200);
    const text = await res.text();
    // Log key only: an export may be taken against a checkpoint the witness has not cosigned yet.
    const { page, ctx } = await pinned(env.log.url, '');
    await page.waitForSelector('#origin');
    await page.goto(`${env.log.url}/#/verify`);
    await ctx.setOffline(true);
    await page.setInputFiles('#bundle-file', { name: 'reviews.candor-export', mimeType: 'application/x-ndjson', buffer: Buffer.from(text) });
    await expect.poll(() => textOf(page, '#verdict'), { ...POLL, message: 'the verdict on the dropped file' }).toMatch(/^✓ Verified, offline: an export of 6 event\(s\)/);
    // One event's leaf altered by a byte (in its base64): its proof no longer reaches the root.
    const lines = text.split('\n');
    const k = lines.findIndex((l) => l.startsWith('{"index":'));
    const ev = JSON.parse(lines[k]!) as { leaf: string };
    const leaf = Buffer.from(ev.leaf, 'base64');
    leaf[leaf.length - 1]! ^= 1;
    lines[k] = JSON.stringify({ ...ev, leaf: leaf.toString('base64') });
    await page.setInputFiles('#bundle-file', { name: 'bad.candor-export', mimeType: 'application/x-ndjson', buffer: Buffer.from(lines.join('\n')) });
    await expect.poll(() => textOf(page, '#verdict'), { ...POLL, message: 'the verdict on the dropped file' }).toMatch(/^✗ Rejected — export bundle: /);
    await ctx.close();
  }, T);

  it('refuses a checkpoint without the cosignatures the pinned quorum needs', async () => {
    const stray = strayWitnessKey('stray.explorer.test').vkey;
    const { page, ctx } = await pinned(env.log.url, stray);
    await expect.poll(() => classOf(page, '#status'), { ...POLL, message: 'the status banner turning failed' }).toBe('failed');
    expect(await status(page).textContent()).toContain('Verification failed — witness cosignatures: the checkpoint is cosigned by 0 of the trusted witnesses');
    await ctx.close();
  }, T);

  it('works as a static build on another origin, from the log\'s checkpoint, tiles and entry bundles alone', async () => {
    const site = await startStaticServer(BUILT);
    const { page, ctx } = await profile();
    try {
      await page.goto(`${site.url}/`);
      await page.fill('#trust-url', env.log.url);
      await page.fill('#trust-vkey', env.log.vkey);
      await page.click('#trust-save');
      await expect.poll(() => classOf(page, '#status'), { ...POLL, message: 'the status banner turning ok' }).toBe('ok');
      expect(await page.locator('.mode h3').textContent()).toBe('Static build');
      await page.goto(`${site.url}/#/events`);
      await page.waitForSelector('#events tbody tr');
      expect(await page.locator('#events tbody tr td.ok').count()).toBeGreaterThanOrEqual(env.recorded.length);
      expect(await page.locator('#events tbody tr.failed').count()).toBe(0);
    } finally {
      await ctx.close();
      await site.close();
    }
  }, T);

  describe('behind a log that lies', () => {
    const cases: [Tamper, string, string][] = [
      ['entry-byte', '/events', 'leaf hash'],
      ['proof-hash', '/events', 'inclusion proof'],
      ['checkpoint-signature', '/', 'checkpoint signature'],
      ['smaller-tree', '/', 'consistency with the checkpoint this browser saw last'],
    ];
    for (const [mode, view, check] of cases) {
      it(`turns red naming the ${check} check when the proxy serves a ${mode.replace('-', ' ')}`, async () => {
        proxy.mode = 'none';
        const { page, ctx } = await pinned(proxy.url);
        await expect.poll(() => classOf(page, '#status'), { ...POLL, message: 'the status banner turning ok' }).toBe('ok'); // honest first
        const ok = await page.locator('#size').textContent();
        proxy.mode = mode;
        try {
          // Tiles are immutable and cached: a new page in a fresh profile fetches them again,
          // with the last verified checkpoint carried over in storage.
          const state = await ctx.storageState();
          const { page: p2, ctx: fresh } = await profile({ storageState: state });
          await p2.goto(`${proxy.url}/#${view}`);
          await expect.poll(() => classOf(p2, '#status'), { ...POLL, message: 'the status banner turning failed' }).toBe('failed');
          expect(await status(p2).textContent()).toContain(`Verification failed — ${check}:`);
          expect(await p2.locator('main').getAttribute('class')).toBe('failed');
          if (view === '/') expect(await p2.locator('.ok').count()).toBe(0);
          else expect(await p2.locator('#events tbody tr.failed').first().textContent()).toContain(`NOT VERIFIED — ${check}:`);
          await fresh.close();
        } finally {
          proxy.mode = 'none';
          await ctx.close();
        }
        expect(ok).not.toBeNull();
      }, T);
    }
  });
});
