// SIGTERM under HTTP load, request by request: a `candor serve` child process takes 48 keep-alive
// clients (submissions and reads) on 127.0.0.1 and is sent SIGTERM. Every request that was sent
// gets an answer: 200, or 503 with Retry-After and Connection: close while it drains. None sees
// its connection reset or closed under it. A connection refused (the listener closed: the
// request was never sent) is the one other outcome, and the client then stops as it would
// after a 503 (Retry-After outlasts the process).
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { utf8 } from '@candor/core/bytes';
import { startLog, tempDir } from '../helpers/server.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Outcome = { kind: 'answer'; status: number; retryAfter: string | null; connection: string | null } | { kind: 'refused' } | { kind: 'broken'; error: string };

async function send(url: string, init?: RequestInit): Promise<Outcome> {
  try {
    const r = await fetch(url, init);
    await r.arrayBuffer();
    return { kind: 'answer', status: r.status, retryAfter: r.headers.get('retry-after'), connection: r.headers.get('connection') };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === 'ECONNREFUSED') return { kind: 'refused' };
    return { kind: 'broken', error: `${cause?.code ?? ''} ${cause?.message ?? String(err)}` };
  }
}

describe('SIGTERM under HTTP load', () => {
  it('answers every request sent: 200, or 503 + Retry-After + Connection: close; none is reset', { timeout: 60_000 }, async () => {
    const log = await startLog({ dir, origin: 'drain.example/log' });
    const outcomes: Outcome[] = [];
    let answered200 = 0;
    const client = async (w: number) => {
      for (let i = 0; ; i++) {
        const o =
          w % 3 === 2
            ? await send(`${log.url}/checkpoint`)
            : await send(`${log.url}/add`, { method: 'POST', body: utf8(`drain ${w} ${i}`), headers: { 'Content-Type': 'application/octet-stream' } });
        outcomes.push(o);
        if (o.kind === 'answer' && o.status === 200) answered200++;
        else return;
      }
    };
    const clients = Promise.all(Array.from({ length: 48 }, (_, w) => client(w)));
    while (answered200 < 300) await new Promise((r) => setTimeout(r, 5));
    const code = await log.stop();
    await clients;
    expect(code).toBe(0);
    const broken = outcomes.filter((o) => o.kind === 'broken');
    expect(broken, JSON.stringify(broken.slice(0, 5))).toEqual([]);
    for (const o of outcomes) {
      if (o.kind !== 'answer' || o.status === 200) continue;
      expect(o.status).toBe(503);
      expect(Number(o.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(o.connection).toBe('close');
    }
    expect(answered200).toBeGreaterThanOrEqual(300);
    // Each client ended on a 503 or a refused connection, and some did on a 503 (the drain answered).
    expect(outcomes.filter((o) => o.kind === 'answer' && o.status === 503).length).toBeGreaterThan(0);
  });
});
