// Screenshots of the explorer's main views for docs/images (not a test): a real witnessed log
// with events from the gateway SDK, Debian's Chromium, and the tampering proxy for the red view.
//
//   npm run build && npx tsx test/explorer/screenshots.ts
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchChromium, startExplorerLog } from './fixture.js';
import { startTamperingProxy } from './proxy.js';

const OUT = fileURLToPath(new URL('../../docs/images/', import.meta.url));
mkdirSync(OUT, { recursive: true });

const env = await startExplorerLog();
const browser = await launchChromium();
const proxy = await startTamperingProxy(env.log.url);
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const shot = async (name: string) => page.screenshot({ path: `${OUT}explorer-${name}.png`, fullPage: true });
  await page.goto(`${env.log.url}/`);
  await page.fill('#trust-vkey', env.log.vkey);
  await page.fill('#trust-witnesses', env.witnessVkey);
  await page.fill('#trust-quorum', '1');
  await shot('pin');
  await page.click('#trust-save');
  await page.waitForSelector('#witnesses');
  // Two audited searches, each logged as an event: the log grows between visits.
  for (const actor of ['usr_alice', 'usr_bob']) {
    await fetch(`${env.log.url}/v1/search?actor=${actor}`, { headers: { authorization: `Bearer ${env.auditorToken}` } });
    await new Promise((r) => setTimeout(r, 1500));
    await page.reload();
    await page.waitForSelector('#grew');
  }
  await shot('overview');
  await page.goto(`${env.log.url}/#/events`);
  await page.waitForSelector('#events tbody tr');
  await shot('events');
  await page.goto(`${env.log.url}/#/event/${env.recorded[0]!.receipt.index}`);
  await page.waitForSelector('#proof');
  await shot('event');
  await page.fill('#token', env.auditorToken);
  await page.goto(`${env.log.url}/#/review/rev-1`);
  await page.waitForSelector('#review-checks');
  await shot('review');

  const liar = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p2 = await liar.newPage();
  await p2.goto(`${proxy.url}/`);
  await p2.fill('#trust-vkey', env.log.vkey);
  await p2.click('#trust-save');
  await p2.waitForSelector('#status.ok');
  proxy.mode = 'entry-byte';
  await p2.goto(`${proxy.url}/#/events`);
  await p2.waitForSelector('#status.failed');
  await p2.screenshot({ path: `${OUT}explorer-tampered.png`, fullPage: true });
  console.log(`screenshots in ${OUT}`);
} finally {
  await browser.close();
  await proxy.close();
  await env.stop();
}
