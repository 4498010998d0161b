// Polling mode against a tlog-tiles test double on 127.0.0.1: the proof is built from tiles and
// goes through the same addCheckpoint checks as a push.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CandorError } from '@candor/core/errors';
import { generateSignerKey } from '@candor/core/note';
import { parseTilePath } from '@candor/core/tile';
import { pollOnce, startPoller } from '../../src/witness/poller.js';
import { TileClient, proofFromTiles } from '../../clients/tiles/client.js';
import { consistencyProofRanges } from '@candor/core/merkle';
import { portableHasher } from '@candor/core/hash';
import { TestLog, startWitness, type RunningWitness } from './helpers.js';
import { startTilesServer, type TilesServer } from './tiles-server.js';

const ORIGIN = 'example.com/polled';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

async function setup(log: TestLog, published = log.size): Promise<{ w: RunningWitness; tiles: TilesServer }> {
  const w = await startWitness({ logs: [{ origin: log.origin, vkeys: [log.vkey] }] });
  const tiles = await startTilesServer(log, published);
  cleanup.push(() => w.close(), () => tiles.close());
  return { w, tiles };
}

const codeOf = (err: unknown) => (err instanceof CandorError ? err.code : String(err));

describe('consistencyProof from tiles', () => {
  it('equals the proof computed from the full tree, across tile levels and partial tiles', async () => {
    const log = new TestLog(ORIGIN).append(70_000);
    const tiles = await startTilesServer(log);
    cleanup.push(() => tiles.close());
    const client = new TileClient(tiles.url);
    for (const [m, n] of [
      [1, 2],
      [255, 256],
      [256, 257],
      [1000, 70_000],
      [65_536, 70_000],
      [69_999, 70_000],
      [12_345, 65_537],
    ] as const) {
      expect(await proofFromTiles(portableHasher, consistencyProofRanges(m, n), n, client), `${m} -> ${n}`).toEqual(log.proof(m, n));
    }
    expect(tiles.requests.some((p) => p.startsWith('tile/2/'))).toBe(true);
  });
});

describe('pollOnce', () => {
  it('cosigns a growing log, fetching only the tiles of the published size', async () => {
    const log = new TestLog(ORIGIN).append(1000);
    const { w, tiles } = await setup(log);
    expect(await pollOnce({ witness: w.witness, url: tiles.url })).toMatchObject({ kind: 'submitted', oldSize: 0, response: { status: 200 } });
    // old 0 needs no proof, so no tile was read.
    expect(tiles.requests).toEqual(['checkpoint']);

    log.append(69_000);
    tiles.published = 70_000;
    const out = await pollOnce({ witness: w.witness, url: `${tiles.url}/` });
    expect(out).toMatchObject({ kind: 'submitted', oldSize: 1000, size: 70_000, response: { status: 200 } });
    const state = await w.store.getState(ORIGIN);
    expect(state.size).toBe(70_000);
    expect(state.root).toEqual(log.root());
    for (const p of tiles.requests.slice(2)) {
      const t = parseTilePath(p);
      expect(t.index * 256 + t.width).toBeLessThanOrEqual(Math.floor(70_000 / 256 ** t.level));
    }

    tiles.requests.length = 0;
    expect(await pollOnce({ witness: w.witness, url: tiles.url })).toEqual({ kind: 'unchanged', origin: ORIGIN, size: 70_000 });
    expect(tiles.requests).toEqual(['checkpoint']);
  });

  it('a corrupted tile gives a proof the witness refuses (422); the state stays', async () => {
    const log = new TestLog(ORIGIN).append(300);
    const { w, tiles } = await setup(log);
    await pollOnce({ witness: w.witness, url: tiles.url });
    log.append(500);
    tiles.published = 800;
    tiles.corrupt = 'tile/0/001';
    const out = await pollOnce({ witness: w.witness, url: tiles.url });
    expect(out).toMatchObject({ kind: 'submitted', response: { status: 422 } });
    expect((await w.store.getState(ORIGIN)).size).toBe(300);
    tiles.corrupt = undefined;
    expect(await pollOnce({ witness: w.witness, url: tiles.url })).toMatchObject({ response: { status: 200 } });
  });

  it('falls back to the full tile when a partial tile has been deleted', async () => {
    const log = new TestLog(ORIGIN).append(300);
    const { w, tiles } = await setup(log);
    await pollOnce({ witness: w.witness, url: tiles.url });
    log.append(300); // 600 = 2 full level-0 tiles + tile/0/002.p/88
    tiles.published = 600;
    log.append(424); // the log moved on: tile/0/002 is now full
    tiles.prunePartials = true;
    expect(await pollOnce({ witness: w.witness, url: tiles.url })).toMatchObject({ response: { status: 200 } });
    expect(tiles.requests).toContain('tile/0/002.p/88');
    expect(tiles.requests).toContain('tile/0/002');
    expect((await w.store.getState(ORIGIN)).root).toEqual(log.root(600));
  });

  it('retries after a 409 when a push moved the state while it fetched tiles', async () => {
    const log = new TestLog(ORIGIN).append(300);
    const { w, tiles } = await setup(log);
    await pollOnce({ witness: w.witness, url: tiles.url });
    log.append(300);
    tiles.published = 600;
    let pushed = false;
    tiles.onTile = async () => {
      if (pushed) return;
      pushed = true;
      expect((await w.witness.addCheckpoint(log.body(300, 450))).status).toBe(200);
    };
    const out = await pollOnce({ witness: w.witness, url: tiles.url });
    expect(out).toMatchObject({ kind: 'submitted', oldSize: 450, size: 600, response: { status: 200 } });
  });

  it('lets the witness refuse a checkpoint older than the cosigned one (400)', async () => {
    const log = new TestLog(ORIGIN).append(50);
    const { w, tiles } = await setup(log);
    await pollOnce({ witness: w.witness, url: tiles.url });
    tiles.published = 40;
    expect(await pollOnce({ witness: w.witness, url: tiles.url })).toMatchObject({ response: { status: 400 } });
    expect((await w.store.getState(ORIGIN)).size).toBe(50);
  });

  it('rejects a checkpoint not signed by the log before reading any tile', async () => {
    const log = new TestLog(ORIGIN).append(10);
    const { w, tiles } = await setup(log);
    await pollOnce({ witness: w.witness, url: tiles.url });
    log.append(10);
    tiles.published = 20;
    tiles.checkpoint = new TestLog(ORIGIN, generateSignerKey(ORIGIN)).append(20).checkpoint();
    tiles.requests.length = 0;
    const err = await pollOnce({ witness: w.witness, url: tiles.url }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('verification_failed');
    expect(tiles.requests).toEqual(['checkpoint']);
    expect((await w.store.getState(ORIGIN)).size).toBe(10);
  });

  it('rejects a log whose origin is not configured', async () => {
    const log = new TestLog(ORIGIN).append(10);
    const { w } = await setup(log);
    const other = await startTilesServer(new TestLog('example.com/unknown').append(3));
    cleanup.push(() => other.close());
    expect(codeOf(await pollOnce({ witness: w.witness, url: other.url }).catch((e: unknown) => e))).toBe('not_found');
  });

  it('bounds each fetch with a timeout', async () => {
    const log = new TestLog(ORIGIN).append(10);
    const { w, tiles } = await setup(log);
    tiles.delayMs = 3000;
    const t0 = Date.now();
    const err = await pollOnce({ witness: w.witness, url: tiles.url, timeoutMs: 200 }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('unavailable');
    expect((err as Error).message).toMatch(/no answer within 200 ms/);
    // Did not wait for the 3 s answer (room for a loaded machine).
    expect(Date.now() - t0).toBeLessThan(2500);
  });
});

describe('startPoller', () => {
  it('polls on an interval until stopped, logging outcomes', async () => {
    const log = new TestLog(ORIGIN).append(5);
    const { w, tiles } = await setup(log);
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const poller = startPoller({ witness: w.witness, url: tiles.url, intervalMs: 20, logger });
    try {
      const waitFor = async (size: number) => {
        const deadline = Date.now() + 10_000;
        while ((await w.store.getState(ORIGIN)).size !== size) {
          if (Date.now() > deadline) throw new Error(`witness did not reach size ${size}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      await waitFor(5);
      log.append(600);
      tiles.published = 605;
      await waitFor(605);
    } finally {
      await poller.stop();
    }
    const after = tiles.requests.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(tiles.requests.length).toBe(after);
    expect(lines.filter((l) => l.msg === 'cosigned polled checkpoint').map((l) => l.size)).toEqual([5, 605]);
  });
});
