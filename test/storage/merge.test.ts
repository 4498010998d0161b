// Merging posting blocks (src/storage/merge.ts): a log committed in small batches spreads each term
// over many blocks; once a window of MERGE_WINDOW entries is committed, its blocks are rewritten as
// few full ones, in the background, with every posting kept. Checked on a real store on disk:
// what merging reads from commits it saw and from leaves (a restart, an older log), that the
// postings read back are exactly those written, that a cursor opened before a merge reads the
// same list across it, that closing mid-merge writes nothing, and that a rebuild is merged too.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LevelStore } from '../../src/storage/level.js';
import { MERGE_WINDOW, type MergeOptions } from '../../src/storage/merge.js';
import { MAX_BLOCK, blockFirst, decodeBlock } from '../../src/storage/postings.js';
import type { EntryTerms } from '../../src/storage/store.js';
import { tempDir } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const TENANT = 3;
const ACTOR = 4;
const EVENT_ID = 1;
/** Entry i's terms: a tenant of 3 (one of them only every 50th entry), an actor of 200, and a unique id; every 13th entry is opaque. */
function termsAt(i: number): EntryTerms | undefined {
  if (i % 13 === 12) return undefined;
  const tenant = i % 50 === 0 ? 'rare' : i % 2 ? 'odd' : 'even';
  return {
    values: [
      { field: EVENT_ID, value: `ev-${i}` },
      { field: TENANT, value: tenant },
      { field: ACTOR, value: `u${(i * 7919) % 200}` },
    ],
    integratedAt: BigInt(1000 + Math.floor(i / 1000)),
  };
}
/** The leaf of entry i names its index: the merger's termsOf recomputes its terms from it. */
const leafAt = (i: number) => new TextEncoder().encode(`entry ${i}`);
const termsOf = (leaf: Uint8Array) => termsAt(Number(new TextDecoder().decode(leaf).slice(6)));
const mergeOpts = (errors: unknown[] = []): MergeOptions => ({ shared: [TENANT, ACTOR], termsOf, onError: (e) => errors.push(e) });

/** Commits entries [from, to) in batches of `batch`, as the sequencer would (no tiles: the index is what is tested). */
async function commit(store: LevelStore, from: number, to: number, batch: number): Promise<void> {
  for (let s = from; s < to; s += batch) {
    const e = Math.min(to, s + batch);
    const idx = Array.from({ length: e - s }, (_, k) => s + k);
    await store.commit({ previous: await store.readCheckpoint(), start: s, entries: idx.map(leafAt), tiles: [], leafIndex: [], checkpoint: `size ${e}\n`, terms: idx.map(termsAt) });
  }
}

/** Every block key of a term, as (first index, postings). */
async function blocks(store: LevelStore, field: number, value: string): Promise<[number, number[]][]> {
  const out: [number, number[]][] = [];
  const prefix = Buffer.concat([Buffer.from([0x78, field]), Buffer.from(value), Buffer.from([0])]);
  for await (const { key, value: v } of store.indexRecords()) {
    if (key.length === prefix.length + 8 && Buffer.from(key.subarray(0, prefix.length)).equals(prefix)) out.push([blockFirst(key), decodeBlock(blockFirst(key), v)]);
  }
  return out;
}

/** The expected postings of a term over [0, size). */
function expected(size: number, field: number, value: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < size; i++) if (termsAt(i)?.values.some((t) => t.field === field && t.value === value)) out.push(i);
  return out;
}

/** Reads a term's whole list through a cursor, forward or reverse. */
async function readAll(store: LevelStore, field: number, value: string, size: number, reverse: boolean): Promise<number[]> {
  const c = store.postings(field, value, 0, size, reverse);
  const out: number[] = [];
  for (let t = reverse ? size - 1 : 0; ; ) {
    const p = await c.seek(t);
    if (p === undefined) break;
    out.push(p);
    t = reverse ? p - 1 : p + 1;
    if (t < 0) break;
  }
  await c.close();
  return out;
}

/** Checks every term of [0, size): exact postings, blocks in order and not overlapping, at most MAX_BLOCK each. */
async function checkTerms(store: LevelStore, size: number): Promise<void> {
  const terms: [number, string][] = [
    [TENANT, 'odd'],
    [TENANT, 'even'],
    [TENANT, 'rare'],
    [ACTOR, 'u0'],
    [ACTOR, 'u137'],
    [EVENT_ID, 'ev-70000'],
  ];
  for (const [field, value] of terms) {
    const want = expected(size, field, value);
    const bs = await blocks(store, field, value);
    const flat = bs.flatMap(([, ps]) => ps);
    expect(flat, `${value}: blocks in order, never overlapping`).toEqual(want);
    expect(bs.every(([first, ps]) => ps[0] === first && ps.length <= MAX_BLOCK)).toBe(true);
    expect(await readAll(store, field, value, size, false)).toEqual(want);
    expect((await readAll(store, field, value, size, true)).reverse()).toEqual(want);
  }
}

const SIZE = MERGE_WINDOW + 5000;

describe('merging posting blocks', () => {
  it('merges a window once it is committed, from the blocks the commits wrote; every posting kept', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    const errors: unknown[] = [];
    const store = await LevelStore.open(join(dir, 'db'), { merge: mergeOpts(errors) });
    try {
      await commit(store, 0, MERGE_WINDOW - 100, 97);
      await store.merger!.run();
      expect(await store.mergedBelow()).toBe(0); // nothing finished yet
      const oddBefore = (await blocks(store, TENANT, 'odd')).length;
      expect(oddBefore).toBeGreaterThan(600); // a block per commit
      await commit(store, MERGE_WINDOW - 100, SIZE, 97);
      await store.merger!.run();
      expect(await store.mergedBelow()).toBe(MERGE_WINDOW);
      expect(store.merger!.merged).toBe(1);
      // The window's blocks: the fewest MAX_BLOCK allows (plus the commit straddling its end);
      // after it, a block per commit as before.
      const odd = await blocks(store, TENANT, 'odd');
      const inWindow = odd.filter(([first]) => first < MERGE_WINDOW);
      const n = inWindow.flatMap(([, ps]) => ps).length;
      expect(inWindow.length).toBe(Math.ceil(n / MAX_BLOCK));
      expect(odd.length - inWindow.length).toBe(Math.ceil((SIZE - MERGE_WINDOW - 100) / 97));
      await checkTerms(store, SIZE);
      expect(errors).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('after a restart, merges the windows the process did not see from their leaves', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    // Written without merging (as by a version before it), in small commits.
    let store = await LevelStore.open(join(dir, 'db'));
    await commit(store, 0, SIZE, 61);
    await store.close();
    store = await LevelStore.open(join(dir, 'db'), { merge: mergeOpts() });
    try {
      const before = (await blocks(store, ACTOR, 'u0')).length;
      // A cursor opened before the merge reads one snapshot: the same list across the merge.
      const early = store.postings(TENANT, 'odd', 0, SIZE, false);
      const firstHalf: number[] = [];
      for (let t = 0, p; firstHalf.length < 1000 && (p = await early.seek(t)) !== undefined; t = p + 1) firstHalf.push(p);
      await store.merger!.run(SIZE);
      expect(await store.mergedBelow()).toBe(MERGE_WINDOW);
      expect((await blocks(store, ACTOR, 'u0')).length).toBeLessThan(before / 10);
      const rest: number[] = [];
      for (let t = firstHalf[firstHalf.length - 1]! + 1, p; (p = await early.seek(t)) !== undefined; t = p + 1) rest.push(p);
      await early.close();
      expect([...firstHalf, ...rest]).toEqual(expected(SIZE, TENANT, 'odd'));
      await checkTerms(store, SIZE);
      // The next commits then finish the second window: merged from the commits' counts and the
      // leaves of those before the restart.
      await commit(store, SIZE, 2 * MERGE_WINDOW + 10, 500);
      await store.merger!.run();
      expect(await store.mergedBelow()).toBe(2 * MERGE_WINDOW);
      await checkTerms(store, 2 * MERGE_WINDOW + 10);
    } finally {
      await store.close();
    }
  });

  it('a failed merge is reported, writes nothing, and the next commit tries it again', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    let store = await LevelStore.open(join(dir, 'db'));
    await commit(store, 0, SIZE, 251);
    await store.close();
    const errors: unknown[] = [];
    let failures = 1;
    const opts = mergeOpts(errors);
    store = await LevelStore.open(join(dir, 'db'), {
      merge: {
        ...opts,
        termsOf: (leaf) => {
          if (failures > 0) {
            failures--;
            throw new Error('the disk hiccupped');
          }
          return opts.termsOf(leaf);
        },
      },
    });
    try {
      // The first commit starts merging the finished window, which fails.
      await commit(store, SIZE, SIZE + 5, 5);
      await waitFor('the failure to be reported', () => errors.length > 0 || undefined);
      expect(errors.map((e) => (e as Error).message)).toEqual(['the disk hiccupped']);
      expect(await store.mergedBelow()).toBe(0);
      // A later commit finishes no window, yet the failed merge is tried again.
      await commit(store, SIZE + 5, SIZE + 10, 5);
      await waitFor('the merge to be retried', async () => (await store.mergedBelow()) === MERGE_WINDOW || undefined, 30_000);
      await checkTerms(store, SIZE + 10);
    } finally {
      await store.close();
    }
  });

  it('closing while a merge runs writes nothing; the next start merges the window', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    let store = await LevelStore.open(join(dir, 'db'));
    await commit(store, 0, SIZE, 251);
    await store.close();
    store = await LevelStore.open(join(dir, 'db'), { merge: mergeOpts() });
    const running = store.merger!.run(SIZE);
    await store.close(); // stops the merge in progress before its write
    await running.catch(() => {});
    store = await LevelStore.open(join(dir, 'db'), { merge: mergeOpts() });
    try {
      expect(await store.mergedBelow()).toBe(0);
      expect((await blocks(store, TENANT, 'even')).length).toBeGreaterThan(200);
      await store.merger!.run(SIZE);
      expect(await store.mergedBelow()).toBe(MERGE_WINDOW);
      await checkTerms(store, SIZE);
    } finally {
      await store.close();
    }
  });
});
