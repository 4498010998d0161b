// Graceful shutdown: SIGTERM stops taking submissions, commits and answers what is in flight,
// then exits 0. Every 200 the clients saw is in the log after a restart.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../src/core/bytes.js';
import { openCheckpoint } from '../../src/core/checkpoint.js';
import { portableHasher as H } from '../../src/core/hash.js';
import { verifyInclusion } from '../../src/core/merkle.js';
import { parseVerifierKey } from '../../src/core/note.js';
import { startLog, tempDir } from '../helpers/server.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SIGTERM', () => {
  it('drains the queue, answers everything in flight and exits 0', async () => {
    const log = await startLog({ dir, origin: 'term.example/log' });
    // 32 writers submit until the server goes away; SIGTERM lands while requests are in flight.
    const entries: Uint8Array[] = [];
    const results: { entry: Uint8Array; status: number; index?: number }[] = [];
    let stopped = false;
    const writer = async (w: number) => {
      for (let i = 0; !stopped; i++) {
        const entry = utf8(`term ${w} ${i}`);
        entries.push(entry);
        try {
          const r = await fetch(`${log.url}/add`, { method: 'POST', body: entry, headers: { 'Content-Type': 'application/octet-stream' } });
          results.push({ entry, status: r.status, index: r.status === 200 ? ((await r.json()) as { index: number }).index : undefined });
        } catch {
          results.push({ entry, status: 0 });
          return;
        }
      }
    };
    const writers = Promise.all(Array.from({ length: 32 }, (_, w) => writer(w)));
    while (results.filter((r) => r.status === 200).length < 50) await new Promise((r) => setTimeout(r, 5));
    const code = await log.stop();
    stopped = true;
    await writers;
    expect(code).toBe(0);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(50);
    // Anything not acknowledged was refused, not left hanging: 503 while closing, or no connection.
    for (const r of results) expect([200, 503, 0]).toContain(r.status);

    const again = await startLog({ dir });
    const cp = openCheckpoint(await (await fetch(`${again.url}/checkpoint`)).text(), [parseVerifierKey(again.vkey)]).checkpoint;
    for (const r of ok) {
      const p = (await (await fetch(`${again.url}/proof/inclusion?index=${r.index}`)).json()) as { leafHash: string; proof: string[] };
      expect(p.leafHash).toBe(toBase64(H.leaf(r.entry)));
      verifyInclusion(H, r.index!, cp.size, H.leaf(r.entry), p.proof.map((x) => fromBase64(x)), cp.root);
    }
    await again.stop();
  });
});
