// Nothing acknowledged is ever lost: a real server process is killed with SIGKILL while
// submissions stream in, restarted on the same data directory, and every entry it acknowledged
// must be at its acknowledged index, provable under the new checkpoint, which must extend every
// checkpoint handed out before.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../src/core/bytes.js';
import { openCheckpoint, type Checkpoint } from '../../src/core/checkpoint.js';
import { portableHasher as H } from '../../src/core/hash.js';
import { CompactRange, verifyConsistency, verifyInclusion } from '../../src/core/merkle.js';
import { parseVerifierKey } from '../../src/core/note.js';
import { LevelStore } from '../../src/storage/level.js';
import { startLog, tempDir, type RunningLog } from '../helpers/server.js';

const ROUNDS = 5;
const WRITERS = 16;
const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Acked {
  index: number;
  entry: Uint8Array;
  size: number;
}

async function stream(log: RunningLog, round: number, acked: Acked[], checkpoints: Map<number, Checkpoint>, stop: { now: boolean }) {
  const verifiers = [parseVerifierKey(log.vkey)];
  const writer = async (w: number) => {
    for (let i = 0; !stop.now; i++) {
      const entry = utf8(`round ${round} writer ${w} entry ${i} ${Math.random()}`);
      let ack: { index: number; checkpoint: string; inclusionProof: string[] };
      try {
        const res = await fetch(`${log.url}/add`, { method: 'POST', body: entry, headers: { 'Content-Type': 'application/octet-stream' } });
        if (res.status !== 200) continue;
        ack = (await res.json()) as typeof ack;
      } catch {
        return; // the server died mid-request: this one was never acknowledged
      }
      const cp = openCheckpoint(ack.checkpoint, verifiers).checkpoint;
      verifyInclusion(H, ack.index, cp.size, H.leaf(entry), ack.inclusionProof.map((p) => fromBase64(p)), cp.root);
      acked.push({ index: ack.index, entry, size: cp.size });
      checkpoints.set(cp.size, cp);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
}

describe('SIGKILL while submissions are in flight', () => {
  it(`loses no acknowledged entry across ${ROUNDS} kills`, { timeout: 120_000 }, async () => {
    const acked: Acked[] = [];
    const checkpoints = new Map<number, Checkpoint>();
    let log = await startLog({ dir, origin: 'crash.example/log' });
    for (let round = 0; round < ROUNDS; round++) {
      const stop = { now: false };
      const traffic = stream(log, round, acked, checkpoints, stop);
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 350));
      await log.kill();
      stop.now = true;
      await traffic;

      log = await startLog({ dir });
      const verifiers = [parseVerifierKey(log.vkey)];
      const now = openCheckpoint(await (await fetch(`${log.url}/checkpoint`)).text(), verifiers, 'crash.example/log').checkpoint;

      // Every acknowledged entry is in the tree, at its index, with its bytes.
      const byIndex = new Map(acked.map((a) => [a.index, a]));
      expect(byIndex.size).toBe(acked.length);
      expect(Math.max(-1, ...byIndex.keys())).toBeLessThan(now.size);
      const range = new CompactRange(H);
      for (let start = 0; start < now.size; start += 1000) {
        const page = (await (await fetch(`${log.url}/entries?start=${start}&end=${start + 1000}`)).json()) as { entries: { index: number; data: string }[] };
        for (const e of page.entries) {
          const data = fromBase64(e.data);
          range.append(H.leaf(data));
          const a = byIndex.get(e.index);
          if (a) expect(toBase64(data)).toBe(toBase64(a.entry));
        }
      }
      expect(range.size).toBe(now.size);
      expect(toBase64(range.root())).toBe(toBase64(now.root));

      // Served proofs verify under the new checkpoint, for a sample of acknowledged entries.
      const sample = acked.filter((_, i) => i % Math.max(1, Math.floor(acked.length / 40)) === 0);
      for (const a of sample) {
        const p = (await (await fetch(`${log.url}/proof/inclusion?index=${a.index}&size=${now.size}`)).json()) as { proof: string[] };
        verifyInclusion(H, a.index, now.size, H.leaf(a.entry), p.proof.map((x) => fromBase64(x)), now.root);
      }
      // The new checkpoint extends every checkpoint the log handed out before the kill.
      for (const old of checkpoints.values()) {
        if (old.size === 0) continue;
        const p = (await (await fetch(`${log.url}/proof/consistency?from=${old.size}&to=${now.size}`)).json()) as { proof: string[] };
        verifyConsistency(H, old.size, now.size, old.root, now.root, p.proof.map((x) => fromBase64(x)));
      }
    }
    await log.stop();
    expect(acked.length).toBeGreaterThan(ROUNDS * 10);
    console.log(`sigkill: ${ROUNDS} kills, ${acked.length} acknowledged entries checked, ${checkpoints.size} checkpoints proven consistent`);
  });

  it('refuses to start after a crash when the stored tiles do not give the checkpoint root, naming both', { timeout: 60_000 }, async () => {
    // The data dir of the test above: a log killed several times. Kill it once more, mid-traffic.
    let log = await startLog({ dir });
    const stop = { now: false };
    const traffic = stream(log, ROUNDS, [], new Map(), stop);
    await new Promise((r) => setTimeout(r, 200));
    await log.kill();
    stop.now = true;
    await traffic;

    // Start-up after the kill checks the last checkpoint against the tiles and serves.
    const t0 = performance.now();
    log = await startLog({ dir });
    const startMs = performance.now() - t0;
    const cp = openCheckpoint(await (await fetch(`${log.url}/checkpoint`)).text(), [parseVerifierKey(log.vkey)]).checkpoint;
    await log.kill();
    console.log(`sigkill: restart after a kill at tree size ${cp.size} served in ${startMs.toFixed(0)} ms (process start included)`);

    // An insider edits one hash of the rightmost level-0 tile.
    const store = await LevelStore.open(join(dir, 'db'));
    const n = Math.floor((cp.size - 1) / 256);
    const tile = (await store.readTile(0, n))!;
    const hashes = tile.hashes.slice();
    hashes[hashes.length - 1] ^= 0x01;
    await store.commit({ start: cp.size, entries: [], tiles: [{ level: 0, index: n, hashes }], leafIndex: [], checkpoint: (await store.readCheckpoint())! });
    await store.close();

    const refused = await startLog({ dir }).then(
      () => new Error('the log started on a corrupt store'),
      (err: Error) => err,
    );
    expect(refused.message).toMatch(new RegExp(`exited with 1 before serving`));
    expect(refused.message).toMatch(
      new RegExp(`refusing to start: the stored tiles give root \\S+ for size ${cp.size}, but the last signed checkpoint says ${toBase64(cp.root).replace(/[+/]/g, '\\$&')}`),
    );
  });
});
