// Storage failures under a real HTTP log: a write that throws, a full disk (ENOSPC), and a sync
// that fails after the batch landed. Submissions in flight get a retryable 503 with Retry-After,
// reads keep being served, nothing acknowledged is lost, and once storage recovers the same
// server acknowledges again, under a checkpoint consistent with every earlier one.
import { afterEach, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { portableHasher as H } from '@candor/core/hash';
import { verifyConsistency, verifyInclusion } from '@candor/core/merkle';
import { parseVerifierKey } from '@candor/core/note';
import { FaultyStore, type StoreFault } from '../../src/storage/faulty.js';
import { startTestLog } from '../helpers/log.js';

type Log = Awaited<ReturnType<typeof startTestLog>>;
let log: Log | undefined;
afterEach(async () => {
  await log?.cleanup();
  log = undefined;
});

interface Ack {
  index: number;
  checkpoint: string;
  inclusionProof: string[];
  duplicate: boolean;
}

const add = (url: string, entry: Uint8Array) => fetch(`${url}/add`, { method: 'POST', body: entry, headers: { 'Content-Type': 'application/octet-stream' } });

async function start(): Promise<{ log: Log; store: FaultyStore; verify(entry: Uint8Array, ack: Ack): Checkpoint }> {
  let store: FaultyStore | undefined;
  // Entries are read here without credentials: a log configured public (publicEntries).
  const l = await startTestLog({ origin: 'faults.example/log', publicEntries: true }, { wrapStore: (s) => (store = new FaultyStore(s)) });
  const verifiers = [parseVerifierKey(l.keys.vkeys[0]!)];
  return {
    log: l,
    store: store!,
    verify(entry, ack) {
      const cp = openCheckpoint(ack.checkpoint, verifiers, 'faults.example/log').checkpoint;
      verifyInclusion(H, ack.index, cp.size, H.leaf(entry), ack.inclusionProof.map((p) => fromBase64(p)), cp.root);
      return cp;
    },
  };
}

describe.each<StoreFault>(['write', 'enospc', 'sync'])('a %s failure in the store', (fault) => {
  it('answers 503 + Retry-After, keeps serving reads, loses nothing acknowledged, and recovers', { timeout: 30_000 }, async () => {
    const s = await start();
    log = s.log;
    const url = s.log.url;
    const before = Array.from({ length: 40 }, (_, i) => utf8(`${fault} before ${i}`));
    const acked = new Map<number, Uint8Array>();
    const checkpoints: Checkpoint[] = [];
    for (const res of await Promise.all(before.map((e) => add(url, e)))) expect(res.status).toBe(200);
    for (const e of before) {
      const ack = (await (await add(url, e)).json()) as Ack; // a duplicate: same index, fresh proof
      checkpoints.push(s.verify(e, ack));
      acked.set(ack.index, e);
    }
    expect(acked.size).toBe(40);

    s.store.fault = fault;
    const during = Array.from({ length: 20 }, (_, i) => utf8(`${fault} during ${i}`));
    const failed = await Promise.all(during.map((e) => add(url, e)));
    for (const res of failed) {
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('unavailable');
      expect(body.error.message).toMatch(/retry/);
    }
    expect(s.store.failedCommits).toBeGreaterThan(0);
    // Reads are served from what is committed while writes fail.
    const cpRes = await fetch(`${url}/checkpoint`);
    expect(cpRes.status).toBe(200);
    const p = (await (await fetch(`${url}/proof/inclusion?index=3`)).json()) as { proof: string[]; size: number };
    expect(p.proof.length).toBeGreaterThan(0);
    // Alive, but not ready: an orchestrator routes writes elsewhere without restarting it.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { reason: string }).reason).toMatch(/the last commit failed: E(IO|NOSPC)/);

    // Storage recovers: the same server acknowledges the retried entries. After a failed sync the
    // batch had landed: the state was reloaded from the store, and its retries are duplicates.
    s.store.fault = undefined;
    let duplicates = 0;
    for (const e of during) {
      const res = await add(url, e);
      expect(res.status).toBe(200);
      const ack = (await res.json()) as Ack;
      if (ack.duplicate) duplicates++;
      checkpoints.push(s.verify(e, ack));
      expect(acked.has(ack.index)).toBe(false);
      acked.set(ack.index, e);
    }
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    if (fault === 'sync') expect(duplicates).toBeGreaterThan(0);
    else expect(duplicates).toBe(0);
    const now = checkpoints.at(-1)!;
    expect(now.size).toBe(60);

    // Every acknowledged entry is at its index, and the final checkpoint extends every earlier one.
    const page = (await (await fetch(`${url}/entries?start=0&end=${now.size}`)).json()) as { entries: { index: number; data: string }[] };
    for (const e of page.entries) expect(e.data).toBe(toBase64(acked.get(e.index)!));
    expect(page.entries.length).toBe(acked.size);
    for (const old of checkpoints) {
      const c = (await (await fetch(`${url}/proof/consistency?from=${old.size}&to=${now.size}`)).json()) as { proof: string[] };
      verifyConsistency(H, old.size, now.size, old.root, now.root, c.proof.map((x) => fromBase64(x)));
    }
  });
});

describe('a store that cannot be read', () => {
  it('fails reads that need it with an opaque 500, writes with a retryable 503, and serves again when it recovers', { timeout: 30_000 }, async () => {
    const s = await start();
    log = s.log;
    const url = s.log.url;
    for (let i = 0; i < 300; i++) expect((await add(url, utf8(`r${i}`))).status).toBe(200);
    s.store.fault = 'read';
    const res = await fetch(`${url}/entries?start=0&end=10`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect((await add(url, utf8('while unreadable'))).status).toBe(503);
    s.store.fault = undefined;
    expect((await fetch(`${url}/entries?start=0&end=10`)).status).toBe(200);
    expect((await add(url, utf8('after'))).status).toBe(200);
  });
});
