// Log-side witnessing end to end: real Candor logs and real witnesses on 127.0.0.1, real stores in
// temp dirs. What is checked is what a client sees: /checkpoint, /add acknowledgements, metrics.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64 } from '@candor/core/bytes';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher as H } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { openNote, parseVerifierKey } from '@candor/core/note';
import { originHash } from '../../src/witness/store.js';
import { startTestLog } from '../helpers/log.js';
import {
  deadUrl,
  getCheckpoint,
  logKey,
  metric,
  post,
  startFakeWitness,
  startWitnessedLog,
  startWitnesses,
  strayWitnessKey,
  waitFor,
  type FakeWitness,
  type RunningWitness,
  type TestLog,
} from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});
const later = <T extends { close(): Promise<unknown> }>(x: T): T => {
  cleanups.push(() => x.close());
  return x;
};
const laterLog = (l: TestLog): TestLog => {
  cleanups.push(() => l.cleanup());
  return l;
};

/** Opens a note with the log key and the given witness keys; returns the witness names that cosigned. */
function cosigners(note: string, logVkey: string, witnessVkeys: string[]): string[] {
  const ws = witnessVkeys.map((k) => parseVerifierKey(k));
  const opened = openNote(note, [parseVerifierKey(logVkey), ...ws]);
  expect(opened.verified.some((s) => s.name === parseVerifierKey(logVkey).name)).toBe(true);
  return ws.filter((w) => opened.verified.some((s) => s.name === w.name && s.keyId === w.keyId)).map((w) => w.name);
}

describe('two real witnesses', () => {
  const origin = 'witnessed.candor.test/two';
  const key = logKey(origin);
  let witnesses: Array<RunningWitness & { ref: { name: string; vkey: string; url: string } }>;
  let log: TestLog;

  it('cosign the checkpoints; a witnessed ack carries both cosignatures and a proof against that checkpoint', async () => {
    witnesses = (await startWitnesses(2, origin, key.vkey)).map(later);
    log = laterLog(await startWitnessedLog({ origin, dir: key.dir, witnesses: witnesses.map((w) => w.ref), quorum: 2, publish: 'after' }));
    const vkeys = witnesses.map((w) => w.vkeys[0]!);

    for (let i = 0; i < 5; i++) expect((await post(log.url, `plain ${i}`)).status).toBe(200);
    const res = await post(log.url, 'witnessed entry', '?witnessed=1');
    expect(res.status).toBe(200);
    const ack = res.body as { index: number; leafHash: string; checkpoint: string; inclusionProof: string[]; witnessed: boolean };
    expect(ack.witnessed).toBe(true);
    expect(ack.index).toBe(5);
    expect(cosigners(ack.checkpoint, key.vkey, vkeys)).toEqual(['witness1.candor.test', 'witness2.candor.test']);
    const cp = openCheckpoint(ack.checkpoint, [parseVerifierKey(key.vkey)], origin).checkpoint;
    expect(cp.size).toBeGreaterThan(ack.index);
    verifyInclusion(H, ack.index, cp.size, fromBase64(ack.leafHash), ack.inclusionProof.map((h) => fromBase64(h)), cp.root);

    // /checkpoint (publish: after) serves a checkpoint with both cosignatures, at least as new.
    const served = await getCheckpoint(log.url);
    expect(served.status).toBe(200);
    expect(served.size).toBeGreaterThanOrEqual(cp.size);
    expect(cosigners(served.note, key.vkey, vkeys)).toHaveLength(2);

    // Each witness's own monitoring endpoint agrees (its state was persisted before it answered).
    for (const w of witnesses) {
      const got = await w.get(`/${originHash(origin)}/checkpoint`);
      expect(got.status).toBe(200);
      expect(openCheckpoint(got.body, [parseVerifierKey(key.vkey)]).checkpoint.size).toBeGreaterThanOrEqual(cp.size);
    }
    expect(await metric(log, 'candor_witness_requests_total', { witness: 'w1', status: '200' })).toBeGreaterThan(0);
    expect(await metric(log, 'candor_witness_requests_total', { witness: 'w2', status: '200' })).toBeGreaterThan(0);
    expect(await metric(log, 'candor_witnessed_tree_size')).toBeGreaterThanOrEqual(cp.size);
    const text = await (await fetch(`${log.url}/metrics`)).text();
    expect(text).toMatch(/candor_witness_request_seconds_bucket\{[^}]*witness="w1"[^}]*status="200"/);
  });

  it('concurrent witnessed acks all get a checkpoint that covers them', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => post(log.url, `concurrent ${i}`, '?witnessed=1')));
    const vkeys = witnesses.map((w) => w.vkeys[0]!);
    for (const r of results) {
      expect(r.status).toBe(200);
      const cp = openCheckpoint(r.body.checkpoint, [parseVerifierKey(key.vkey)]).checkpoint;
      expect(cp.size).toBeGreaterThan(r.body.index);
      expect(cosigners(r.body.checkpoint, key.vkey, vkeys)).toHaveLength(2);
      verifyInclusion(H, r.body.index, cp.size, fromBase64(r.body.leafHash), r.body.inclusionProof.map((h: string) => fromBase64(h)), cp.root);
    }
  });

  it('after a restart that lost its witnessing state, the log learns each witness size from 409 and goes on', async () => {
    const before = (await getCheckpoint(log.url)).size!;
    await log.close();
    rmSync(join(key.dir, 'witnessing.json'));
    const again = await startWitnessedLog({ origin, dir: key.dir, witnesses: witnesses.map((w) => w.ref), quorum: 2, publish: 'after' });
    cleanups.push(() => again.close());
    const r = await post(again.url, 'after restart', '?witnessed=1');
    expect(r.status).toBe(200);
    const cp = openCheckpoint(r.body.checkpoint, [parseVerifierKey(key.vkey)]).checkpoint;
    expect(cp.size).toBe(before + 1);
    expect(cosigners(r.body.checkpoint, key.vkey, witnesses.map((w) => w.vkeys[0]!))).toHaveLength(2);
    // Each witness answered "old 0" with 409 and its size; the retry from that size was cosigned.
    expect(await metric(again, 'candor_witness_requests_total', { witness: 'w1', status: '409' })).toBeGreaterThanOrEqual(1);
    expect(await metric(again, 'candor_witness_requests_total', { witness: 'w2', status: '409' })).toBeGreaterThanOrEqual(1);
    expect(again.witnessing!.status().map((s) => s.lastStatus)).toEqual(['200', '200']);
    await again.close();
  });
});

describe('a log restored from a backup', () => {
  it('stops sequencing when its witnesses have cosigned more than its store holds (docs/fencing.md)', async () => {
    const origin = 'witnessed.candor.test/restored';
    const key = logKey(origin);
    const witnesses = (await startWitnesses(1, origin, key.vkey)).map(later);
    const refs = witnesses.map((w) => w.ref);
    let log = await startWitnessedLog({ origin, dir: key.dir, witnesses: refs, quorum: 1, publish: 'after' });
    for (let i = 0; i < 3; i++) expect((await post(log.url, `kept ${i}`, '?witnessed=1')).status).toBe(200);
    await log.close();
    const backup = `${key.dir}-backup`;
    cpSync(key.dir, backup, { recursive: true });
    cleanups.push(async () => rmSync(backup, { recursive: true, force: true }));

    log = await startWitnessedLog({ origin, dir: key.dir, witnesses: refs, quorum: 1, publish: 'after' });
    for (let i = 0; i < 3; i++) expect((await post(log.url, `lost ${i}`, '?witnessed=1')).status).toBe(200);
    await log.close();

    rmSync(key.dir, { recursive: true, force: true });
    cpSync(backup, key.dir, { recursive: true });
    log = laterLog(await startWitnessedLog({ origin, dir: key.dir, witnesses: refs, quorum: 1, publish: 'after' }));
    await waitFor('the log to step down', () => log.sequencer.fenced !== undefined, 15_000);
    expect(log.sequencer.fenced!.message).toMatch(/witness w1 showed that this log has published a tree of size 6, but its store holds only size 3/);
    const refused = await post(log.url, 'would fork');
    expect(refused.status).toBe(503);
    expect(log.service.size).toBe(3);
  });
});

describe('dead and slow witnesses', () => {
  it('never block submissions; a policy the live witness can meet is met; the slow one gets the newest checkpoint, not a backlog', async () => {
    const origin = 'witnessed.candor.test/dead-slow';
    const key = logKey(origin);
    const [live] = (await startWitnesses(1, origin, key.vkey)).map(later);
    const slow = later(await startFakeWitness('slow'));
    const dead = await deadUrl();
    const log = laterLog(
      await startWitnessedLog({
        origin,
        dir: key.dir,
        witnesses: [
          live!.ref,
          { name: 'dead', vkey: strayWitnessKey('dead.candor.test').vkey, url: dead },
          { name: 'slow', vkey: strayWitnessKey('slow.candor.test').vkey, url: slow.url },
        ],
        quorum: 1,
        timeoutMs: 2000,
      }),
    );
    let slowest = 0;
    for (let i = 0; i < 60; i++) {
      const t = performance.now();
      expect((await post(log.url, `entry ${i}`)).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - t);
    }
    // 60 synced commits; none waited for a witness (the slow one holds each request for 2 s; a
    // loaded machine may take a good part of a second for a commit).
    expect(slowest).toBeLessThan(1500);
    const w = await post(log.url, 'witnessed', '?witnessed=1');
    expect(w.status).toBe(200);
    expect(cosigners(w.body.checkpoint, key.vkey, [live!.vkeys[0]!])).toHaveLength(1);

    await waitFor('the dead witness to be counted', async () => (await metric(log, 'candor_witness_requests_total', { witness: 'dead', status: 'network' })) > 0);
    await waitFor('the slow witness to time out', async () => (await metric(log, 'candor_witness_requests_total', { witness: 'slow', status: 'timeout' })) > 0, 10_000);
    // One request in flight at a time, each bounded by 2 s, then backoff: far fewer requests than
    // the 61 checkpoints committed.
    expect(slow.requests).toBeLessThan(10);
    const status = log.witnessing!.status();
    expect(status.find((s) => s.name === 'dead')).toMatchObject({ lastStatus: 'network' });
    expect(status.find((s) => s.name === 'slow')!.failures).toBeGreaterThan(0);
    // Closing does not wait for the slow witness (up to 2 s for the request in flight).
    const t = performance.now();
    await log.close();
    expect(performance.now() - t).toBeLessThan(1500);
  });

  it('a witnessed ack that the policy cannot meet fails in time with a retryable 503; the entry is not logged twice', async () => {
    const origin = 'witnessed.candor.test/unmet';
    const key = logKey(origin);
    const [live] = (await startWitnesses(1, origin, key.vkey)).map(later);
    const log = laterLog(
      await startWitnessedLog({
        origin,
        dir: key.dir,
        witnesses: [live!.ref, { name: 'dead', vkey: strayWitnessKey('dead.candor.test').vkey, url: await deadUrl() }],
        quorum: 'all',
        ackTimeoutMs: 300,
      }),
    );
    const t = performance.now();
    const r = await post(log.url, 'needs two', '?witnessed=1');
    // After the configured 300 ms, not the default 5 s nor never (room for a loaded machine).
    expect(performance.now() - t).toBeLessThan(4000);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('unavailable');
    expect(r.body.error.message).toMatch(/witness policy \(2 of 2 witnesses\).*retry/);
    expect(r.headers.get('retry-after')).toBe('1');
    const again = await post(log.url, 'needs two', '?witnessed=1');
    expect(again.status).toBe(503);
    const plain = await post(log.url, 'needs two');
    expect(plain.body).toMatchObject({ index: 0, duplicate: true });
    // The histogram's _count: both waits timed out.
    expect(await metric(log, 'candor_witnessed_ack_wait_seconds', { outcome: 'timeout' })).toBe(2);
  });

  it('a witness that answers 200 with a cosignature by another key is not counted', async () => {
    const origin = 'witnessed.candor.test/liar';
    const key = logKey(origin);
    const liar: FakeWitness = later(await startFakeWitness('liar', 'liar.candor.test'));
    const configured = strayWitnessKey('liar.candor.test');
    const log = laterLog(
      await startWitnessedLog({ origin, dir: key.dir, witnesses: [{ name: 'liar', vkey: configured.vkey, url: liar.url }], ackTimeoutMs: 300 }),
    );
    expect((await post(log.url, 'x', '?witnessed=1')).status).toBe(503);
    // The liar's answer may come after the 300 ms the ack waited, on a loaded machine.
    await waitFor('the liar to be counted', async () => (await metric(log, 'candor_witness_requests_total', { witness: 'liar', status: 'bad_cosignature' })) > 0);
    const served = await getCheckpoint(log.url);
    expect(served.note.split('\n').filter((l) => l.startsWith('— liar'))).toEqual([]);
  });
});

describe('publication before or after the policy is met', () => {
  it('"before" serves each new checkpoint at once; "after" only checkpoints that meet the policy', async () => {
    const origin = 'witnessed.candor.test/publish';
    const key = logKey(origin);
    const [live] = (await startWitnesses(1, origin, key.vkey)).map(later);
    const dead = { name: 'dead', vkey: strayWitnessKey('dead.candor.test').vkey, url: await deadUrl() };

    // "before", with a policy nobody can meet: the checkpoint is still published at once.
    let log = await startWitnessedLog({ origin, dir: key.dir, witnesses: [dead], publish: 'before' });
    for (let i = 0; i < 3; i++) await post(log.url, `before ${i}`);
    expect((await getCheckpoint(log.url)).size).toBe(3);
    await log.close();

    // "after", same unmeetable policy: nothing has met it, so there is nothing to publish yet,
    // while submissions go on.
    log = await startWitnessedLog({ origin, dir: key.dir, witnesses: [dead], publish: 'after' });
    const none = await getCheckpoint(log.url);
    expect(none.status).toBe(503);
    expect(JSON.parse(none.note).error.message).toMatch(/witness policy/);
    expect((await post(log.url, 'after 0')).status).toBe(200);
    expect((await getCheckpoint(log.url)).status).toBe(503);
    await log.close();

    // "after", with the live witness: /checkpoint lags until the witness cosigns, and always
    // carries the cosignature; the witnessed checkpoint survives a restart.
    log = await startWitnessedLog({ origin, dir: key.dir, witnesses: [live!.ref], publish: 'after' });
    const first = await waitFor('a witnessed checkpoint', async () => {
      const c = await getCheckpoint(log.url);
      return c.status === 200 && c;
    });
    expect(first.size).toBe(4);
    expect(cosigners(first.note, key.vkey, live!.vkeys)).toHaveLength(1);
    await Promise.all(Array.from({ length: 20 }, (_, i) => post(log.url, `more ${i}`)));
    for (let i = 0; i < 10; i++) {
      const c = await getCheckpoint(log.url);
      expect(cosigners(c.note, key.vkey, live!.vkeys)).toHaveLength(1);
    }
    await waitFor('the witnessed checkpoint to catch up', async () => (await getCheckpoint(log.url)).size === 24);
    await log.close();
    // The witness is gone now; the last witnessed checkpoint is still served after a restart.
    log = laterLog(await startWitnessedLog({ origin, dir: key.dir, witnesses: [{ ...live!.ref, url: dead.url }], publish: 'after' }));
    const kept = await getCheckpoint(log.url);
    expect(kept.status).toBe(200);
    expect(kept.size).toBe(24);
    expect(cosigners(kept.note, key.vkey, live!.vkeys)).toHaveLength(1);
  });
});

describe('bad requests', () => {
  it('witnessed=1 on a log without a policy is a 400 that names it; a bad value is a 400', async () => {
    const log = laterLog(await startTestLog());
    const r = await post(log.url, 'x', '?witnessed=1');
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/witnessed: this log has no witness policy/);
    expect((await post(log.url, 'x', '?witnessed=maybe')).status).toBe(400);
    expect((await post(log.url, 'x', '?witnesed=1')).status).toBe(400);
    expect((await post(log.url, 'x', '?witnessed=0')).status).toBe(200);
  });
});
