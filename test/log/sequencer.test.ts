import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toBase64, toHex, utf8 } from '@candor/core/bytes';
import { openCheckpoint, parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { portableHasher as H } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '@candor/core/note';
import { nodeHasher } from '../../src/crypto/node.js';
import { PREPARE_AHEAD_MIN, Sequencer, type Ack } from '../../src/log/sequencer.js';
import { LevelStore } from '../../src/storage/level.js';
import type { CommitBatch, LogStore } from '../../src/storage/store.js';
import { naiveLeaf, naiveMTH } from '../helpers/naive.js';
import { tempDir } from '../helpers/server.js';

const ORIGIN = 'test.example/seq';
const key = generateSignerKey(ORIGIN);
const signer = parseSignerKey(key.skey).signer;
const verifier = parseVerifierKey(key.vkey);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(store: LogStore, opts: Partial<Parameters<typeof Sequencer.open>[0]> = {}) {
  return Sequencer.open({ origin: ORIGIN, signers: [signer], verifiers: [verifier], hasher: nodeHasher, store, ...opts });
}

async function openDir(dir?: string) {
  const d = dir ?? tempDir();
  if (!dir) dirs.push(d);
  const store = await LevelStore.open(join(d, 'db'));
  return { dir: d, store };
}

/** The store with some of its methods replaced (to count, hold or fail them). */
function wrap(store: LogStore, over: Partial<LogStore>): LogStore {
  return {
    readCheckpoint: () => store.readCheckpoint(),
    readTiles: (ids) => store.readTiles(ids),
    storedEntries: () => store.storedEntries(),
    readAhead: () => store.readAhead(),
    recordAhead: (e) => store.recordAhead(e),
    readEntries: (s, e) => store.readEntries(s, e),
    lookupLeafHashes: (h) => store.lookupLeafHashes(h),
    commit: (b: CommitBatch) => store.commit(b),
    close: () => store.close(),
    ...over,
  };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(cond()).toBe(true);
}

function checkAck(ack: Ack, entry: Uint8Array): void {
  const cp = openCheckpoint(ack.checkpoint, [verifier], ORIGIN).checkpoint;
  expect(cp.size).toBe(ack.size);
  expect(toHex(ack.leafHash)).toBe(toHex(H.leaf(entry)));
  verifyInclusion(H, ack.index, cp.size, ack.leafHash, ack.inclusionProof, cp.root);
}

describe('sequencer', () => {
  it('starts a new log with a signed empty checkpoint', async () => {
    const { store } = await openDir();
    const seq = await open(store);
    const cp = openCheckpoint(seq.checkpoint, [verifier], ORIGIN).checkpoint;
    expect(cp.size).toBe(0);
    expect(toHex(cp.root)).toBe(toHex(H.empty));
    await seq.close();
    await store.close();
  });

  it('acknowledges each entry with a proof that verifies, and the tree matches a naive MTH', async () => {
    const { store } = await openDir();
    const seq = await open(store, { maxBatch: 64, maxDelayMs: 1 });
    const entries = Array.from({ length: 2000 }, (_, i) => utf8(`entry ${i}`));
    const acks = await Promise.all(entries.map((e) => seq.submit(e)));
    acks.forEach((a, i) => checkAck(a, entries[i]!));
    expect(new Set(acks.map((a) => a.index)).size).toBe(2000);
    // Batches integrate in submission order.
    expect(acks.map((a) => a.index)).toEqual(entries.map((_, i) => i));
    const cp = parseCheckpoint(seq.checkpoint.slice(0, seq.checkpoint.indexOf('\n\n') + 1));
    expect(cp.size).toBe(2000);
    expect(toHex(cp.root)).toBe(toHex(naiveMTH(entries.map(naiveLeaf))));
    await seq.close();
    await store.close();
  });

  it('resumes at exactly the committed size and root, and keeps appending', async () => {
    const { dir, store } = await openDir();
    let seq = await open(store);
    for (let i = 0; i < 300; i++) await seq.submit(utf8(`a${i}`));
    const before = seq.checkpoint;
    await seq.close();
    await store.close();

    const again = await openDir(dir);
    seq = await open(again.store);
    expect(seq.checkpoint).toBe(before);
    expect(seq.size).toBe(300);
    const ack = await seq.submit(utf8('after restart'));
    expect(ack.index).toBe(300);
    checkAck(ack, utf8('after restart'));
    const all = [...Array.from({ length: 300 }, (_, i) => utf8(`a${i}`)), utf8('after restart')];
    expect(toHex(parseCheckpoint(ack.checkpoint.slice(0, ack.checkpoint.indexOf('\n\n') + 1)).root)).toBe(toHex(naiveMTH(all.map(naiveLeaf))));
    await seq.close();
    await again.store.close();
  });

  it('deduplicates: a resubmitted entry keeps its first index and gets a fresh proof', async () => {
    const { store } = await openDir();
    const seq = await open(store);
    const first = await seq.submit(utf8('same'));
    await seq.submit(utf8('other'));
    let checkpoints = 0;
    seq.on('checkpoint', () => checkpoints++);
    const [again, twice] = await Promise.all([seq.submit(utf8('same')), seq.submit(utf8('same'))]);
    expect(checkpoints).toBe(0); // duplicates only: nothing committed, no new checkpoint
    for (const a of [again!, twice!]) {
      expect(a.index).toBe(first.index);
      expect(a.duplicate).toBe(true);
      checkAck(a, utf8('same'));
    }
    const [x, y] = await Promise.all([seq.submit(utf8('new twice')), seq.submit(utf8('new twice'))]);
    expect(x!.index).toBe(y!.index);
    expect([x!.duplicate, y!.duplicate]).toEqual([false, true]);
    expect(seq.size).toBe(3);
    await seq.close();
    await store.close();
  });

  it('does not look up entries submitted as unique, and still deduplicates the others of the same batch', async () => {
    const { store } = await openDir();
    const looked: string[] = [];
    const counting = wrap(store, {
      lookupLeafHashes: (hs) => {
        looked.push(...hs.map(toHex));
        return store.lookupLeafHashes(hs);
      },
    });
    const seq = await open(counting, { maxDelayMs: 5 });
    const raw = await seq.submit(utf8('raw'));
    looked.length = 0;
    // One batch (the delay gathers them): unique entries, a raw resubmission and a new raw entry.
    const [u, again, fresh] = await Promise.all([
      seq.submitMany([utf8('u0'), utf8('u1')], undefined, { unique: true }),
      seq.submit(utf8('raw')),
      seq.submit(utf8('raw 2')),
    ]);
    expect(looked.sort()).toEqual([toHex(H.leaf(utf8('raw'))), toHex(H.leaf(utf8('raw 2')))].sort());
    expect(u!.map((a) => [a.index, a.duplicate])).toEqual([[1, false], [2, false]]);
    expect([again!.index, again!.duplicate]).toEqual([raw.index, true]);
    expect([fresh!.index, fresh!.duplicate]).toEqual([3, false]);
    checkAck(u![0]!, utf8('u0'));
    checkAck(u![1]!, utf8('u1'));
    checkAck(again!, utf8('raw'));
    checkAck(fresh!, utf8('raw 2'));
    // Unique entries are still indexed by leaf hash (proofs by hash), and deduplicate raw ones after them.
    expect(await store.lookupLeafHashes([H.leaf(utf8('u1'))])).toEqual([2]);
    expect((await seq.submit(utf8('u1'))).index).toBe(2);
    expect(seq.size).toBe(4);
    await seq.close();
    await store.close();
  });

  it('deduplicates an entry resubmitted while its first copy commits, even when the commit lands before the lookup answers', async () => {
    const { store } = await openDir();
    let releaseCommit!: () => void;
    let commitHeld: Promise<void> = Promise.resolve();
    let releaseLookup!: () => void;
    let lookupHeld: Promise<void> = Promise.resolve();
    let lookups = 0;
    const racing = wrap(store, {
      // The read happens at once (before the first copy is written); its answer arrives later.
      lookupLeafHashes: async (hs) => {
        lookups++;
        const found = await store.lookupLeafHashes(hs);
        await lookupHeld;
        return found;
      },
      commit: async (b: CommitBatch) => {
        await commitHeld;
        return store.commit(b);
      },
    });
    const seq = await open(racing);
    commitHeld = new Promise<void>((r) => (releaseCommit = r));
    const first = seq.submit(utf8('twin'));
    await until(() => lookups === 1);
    await new Promise((r) => setTimeout(r, 20)); // the first batch is committing (held)
    lookupHeld = new Promise<void>((r) => (releaseLookup = r));
    // Enough entries that the next batch is prepared while the first commits (PREPARE_AHEAD_MIN).
    const others = Array.from({ length: PREPARE_AHEAD_MIN - 1 }, (_, i) => utf8(`other ${i}`));
    const second = seq.submitMany([utf8('twin'), ...others]);
    await until(() => lookups === 2); // its lookup has read the store: no twin there yet
    releaseCommit();
    const a = await first; // the first copy is durable and answered
    commitHeld = Promise.resolve();
    releaseLookup();
    const [b] = await second;
    expect([b!.index, b!.duplicate]).toEqual([a.index, true]);
    checkAck(b!, utf8('twin'));
    expect(seq.size).toBe(PREPARE_AHEAD_MIN);
    await seq.close();
    await store.close();
  });

  it('gathers the few entries that arrive while a batch commits into one batch after it', async () => {
    const { store } = await openDir();
    let release!: () => void;
    let held: Promise<void> = Promise.resolve();
    const commits: number[] = [];
    const holding = wrap(store, {
      commit: async (b: CommitBatch) => {
        commits.push(b.entries.length);
        await held;
        return store.commit(b);
      },
    });
    const seq = await open(holding);
    commits.length = 0;
    held = new Promise<void>((r) => (release = r));
    const first = seq.submit(utf8('first'));
    await until(() => commits.length === 1);
    const later = Array.from({ length: 10 }, (_, i) => seq.submit(utf8(`later ${i}`)));
    await new Promise((r) => setTimeout(r, 20));
    expect(commits).toEqual([1]); // fewer than PREPARE_AHEAD_MIN wait: nothing prepared yet
    release();
    await Promise.all([first, ...later]);
    expect(commits).toEqual([1, 10]);
    expect(seq.size).toBe(11);
    await seq.close();
    await store.close();
  });

  it('prepares the next batch during a commit once a full batch waits, when maxBatch is below PREPARE_AHEAD_MIN', async () => {
    const { store } = await openDir();
    let release!: () => void;
    let held: Promise<void> = Promise.resolve();
    let lookups = 0;
    const holding = wrap(store, {
      lookupLeafHashes: (h) => {
        lookups++;
        return store.lookupLeafHashes(h);
      },
      commit: async (b: CommitBatch) => {
        await held;
        return store.commit(b);
      },
    });
    const seq = await open(holding, { maxBatch: 10 });
    held = new Promise<void>((r) => (release = r));
    lookups = 0;
    const first = seq.submit(utf8('first'));
    await until(() => lookups === 1);
    const later = Array.from({ length: 10 }, (_, i) => seq.submit(utf8(`later ${i}`)));
    await until(() => lookups === 2); // a full batch of 10 waits: prepared while the first commits
    release();
    await Promise.all([first, ...later]);
    expect(seq.size).toBe(11);
    await seq.close();
    await store.close();
  });

  it('rejects new submissions with a retryable error when the queue is full', async () => {
    const { store } = await openDir();
    const seq = await open(store, { maxQueue: 10, maxBatch: 100, maxDelayMs: 50 });
    const accepted = Array.from({ length: 10 }, (_, i) => seq.submit(utf8(`q${i}`)));
    const err = await seq.submit(utf8('one too many')).catch((e) => e);
    expect(err).toBeInstanceOf(CandorError);
    expect(err.code).toBe('resource_exhausted');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    await Promise.all(accepted);
    expect(seq.size).toBe(10);
    await seq.close();
    await store.close();
  });

  it('rejects empty and oversize entries without writing', async () => {
    const { store } = await openDir();
    const seq = await open(store);
    await expect(seq.submit(new Uint8Array(0))).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(seq.submit(new Uint8Array(65536))).rejects.toMatchObject({ code: 'payload_too_large' });
    expect((await seq.submit(new Uint8Array(65535).fill(1))).index).toBe(0);
    await seq.close();
    await store.close();
  });

  it('answers a failed commit with a retryable error, loses nothing acknowledged, and recovers', async () => {
    const { store } = await openDir();
    let failNext = 0;
    const flaky = wrap(store, {
      commit: async (b: CommitBatch) => {
        if (failNext > 0) {
          failNext--;
          throw new Error('disk full (simulated)');
        }
        return store.commit(b);
      },
    });
    const seq = await open(flaky);
    const ok1 = await seq.submit(utf8('before'));
    failNext = 1;
    const err = await seq.submit(utf8('during')).catch((e) => e);
    expect(err.code).toBe('unavailable');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(seq.size).toBe(1);
    const retried = await seq.submit(utf8('during'));
    expect(retried.index).toBe(1);
    checkAck(retried, utf8('during'));
    checkAck(ok1, utf8('before'));
    await seq.close();
    await store.close();
  });

  it('refuses to start when the stored tiles do not reproduce the checkpoint root', async () => {
    const { dir, store } = await openDir();
    const seq = await open(store);
    for (let i = 0; i < 10; i++) await seq.submit(utf8(`c${i}`));
    await seq.close();
    // Corrupt the partial level-0 tile (as an insider editing the store would).
    const tile = (await store.readTiles([{ level: 0, index: 0 }]))[0]!.hashes.slice();
    tile[5]! ^= 0xff;
    const cp = (await store.readCheckpoint())!;
    await store.commit({ previous: await store.readCheckpoint(), start: 10, entries: [], tiles: [{ level: 0, index: 0, hashes: tile }], leafIndex: [], checkpoint: cp });
    await store.close();

    const again = await openDir(dir);
    await expect(open(again.store)).rejects.toThrow(/refusing to start: the stored tiles give root .* but the last signed checkpoint says/);
    await again.store.close();
  });

  it('refuses to start when the stored checkpoint signature was altered', async () => {
    const { dir, store } = await openDir();
    const seq = await open(store);
    await seq.submit(utf8('x'));
    await seq.close();
    const cp = (await store.readCheckpoint())!;
    // Flip one character inside the signature (not the key name, not the padding).
    const at = cp.length - 10;
    const forged = cp.slice(0, at) + (cp[at] === 'A' ? 'B' : 'A') + cp.slice(at + 1);
    await store.commit({ previous: await store.readCheckpoint(), start: 1, entries: [], tiles: [], leafIndex: [], checkpoint: forged });
    await store.close();
    const again = await openDir(dir);
    await expect(open(again.store)).rejects.toThrow(/refusing to start: the stored checkpoint is invalid/);
    await again.store.close();
  });

  it('refuses to resume a checkpoint that no configured key signed', async () => {
    const { dir, store } = await openDir();
    await (await open(store)).close();
    await store.close();
    const again = await openDir(dir);
    const stranger = generateSignerKey(ORIGIN);
    await expect(
      Sequencer.open({ origin: ORIGIN, signers: [parseSignerKey(stranger.skey).signer], verifiers: [parseVerifierKey(stranger.vkey)], hasher: nodeHasher, store: again.store }),
    ).rejects.toThrow(/refusing to start: the stored checkpoint is invalid \(note has no signature from a known key\)/);
    await again.store.close();
  });

  it('refuses to open a store that holds another origin', async () => {
    const { dir, store } = await openDir();
    await (await open(store)).close();
    await store.close();
    const again = await openDir(dir);
    const other = generateSignerKey('other.example/log');
    await expect(
      Sequencer.open({ origin: 'other.example/log', signers: [parseSignerKey(other.skey).signer], verifiers: [verifier], hasher: nodeHasher, store: again.store }),
    ).rejects.toThrow(/holds the log "test.example\/seq"/);
    await again.store.close();
  });

  it('signs with every configured key (rotation)', async () => {
    const { store } = await openDir();
    const k2 = generateSignerKey(ORIGIN);
    const seq = await open(store, { signers: [signer, parseSignerKey(k2.skey).signer] });
    const ack = await seq.submit(utf8('rotated'));
    expect(openCheckpoint(ack.checkpoint, [verifier]).verified).toHaveLength(1);
    expect(openCheckpoint(ack.checkpoint, [parseVerifierKey(k2.vkey)]).verified).toHaveLength(1);
    expect(toBase64(ack.leafHash)).toBe(toBase64(H.leaf(utf8('rotated'))));
    await seq.close();
    await store.close();
  });

  it('drains the queue on close: every pending submission is answered', async () => {
    const { store } = await openDir();
    const seq = await open(store, { maxBatch: 100, maxDelayMs: 1000 });
    const pending = Array.from({ length: 250 }, (_, i) => seq.submit(utf8(`d${i}`)));
    await seq.close();
    const acks = await Promise.all(pending);
    expect(acks.map((a) => a.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    await expect(seq.submit(utf8('late'))).rejects.toMatchObject({ code: 'unavailable' });
    await store.close();
  });
});
