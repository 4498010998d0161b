// The LogStore driver conformance suite, in the spirit of golang.org/x/mod sumdb/storage
// TestStorage: one set of checks every driver passes (LevelDB, the fault-injecting wrapper, the
// cloud driver). Batches are built by the sequencer's own TreeState, so tiles, sizes and
// checkpoints agree the way a real log's do (the cloud driver names objects by them).
import { describe, expect, test } from 'vitest';
import { portableHasher } from '@candor/core/hash';
import { formatCheckpoint } from '@candor/core/checkpoint';
import { TILE_WIDTH } from '@candor/core/tile';
import { TreeState } from '../../src/log/tree.js';
import { FencedError, type CommitBatch, type LogStore } from '../../src/storage/store.js';

/** A driver under test: open() opens the same store again (after close) for a reopen check. */
export interface DriverFactory {
  /** A new, empty store; open(again) reopens the store made by the last create. */
  create(): Promise<{ store: LogStore; reopen(): Promise<LogStore> }>;
}

/** A log writer for tests: builds consecutive batches over real tiles. */
export class BatchMaker {
  readonly #tree = TreeState.empty(portableHasher);
  size = 0;
  checkpoint: string | undefined;
  readonly entries: Uint8Array[] = [];
  readonly #salt: string;

  /** Makers with different salts write different histories. */
  constructor(salt = '') {
    this.#salt = salt;
  }

  entry(i: number): Uint8Array {
    return new TextEncoder().encode(`entry ${i}${this.#salt} ${'x'.repeat(i % 37)}`);
  }

  /** The next batch of n entries (not applied until accept()). */
  next(n: number): CommitBatch {
    const entries = Array.from({ length: n }, (_, j) => this.entry(this.size + j));
    const hashes = entries.map((e) => portableHasher.leaf(e));
    const appended = this.#tree.append(hashes);
    const checkpoint = formatCheckpoint({ origin: 'conformance.example/log', size: appended.newSize, root: this.#tree.root(), extensions: [] });
    const batch: CommitBatch = {
      previous: this.checkpoint,
      start: this.size,
      entries,
      tiles: appended.tiles,
      leafIndex: hashes.map((hash, j) => ({ hash, index: this.size + j })),
      checkpoint,
    };
    this.entries.push(...entries);
    this.size = appended.newSize;
    this.checkpoint = checkpoint;
    return batch;
  }

  async commit(store: LogStore, n: number): Promise<CommitBatch> {
    const b = this.next(n);
    await store.commit(b);
    return b;
  }
}

const leaf = (e: Uint8Array) => portableHasher.leaf(e);
/** Bytes as hex, so a driver may answer with Buffers or plain Uint8Arrays alike. */
const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));
const hexes = (bs: readonly Uint8Array[]) => bs.map(hex);

/** Runs the conformance checks against a driver. */
export function conformance(name: string, factory: DriverFactory, opts: { timeout?: number } = {}): void {
  const timeout = opts.timeout ?? 30_000;
  describe(`LogStore conformance: ${name}`, () => {
    test('a new store is empty', async () => {
      const { store } = await factory.create();
      try {
        expect(await store.readCheckpoint()).toBeUndefined();
        expect(await store.storedEntries()).toBe(0);
        expect(await store.readTiles([{ level: 0, index: 0 }])).toEqual([undefined]);
        expect(await store.lookupLeafHashes([leaf(new Uint8Array([1]))])).toEqual([undefined]);
        expect(await store.readAhead()).toBeUndefined();
      } finally {
        await store.close();
      }
    }, timeout);

    test('commit and read back: checkpoint, entries across bundle boundaries, storedEntries, leaf index', async () => {
      const { store } = await factory.create();
      const log = new BatchMaker();
      try {
        await log.commit(store, 100);
        await log.commit(store, 300); // crosses the first bundle boundary (256)
        await log.commit(store, 1); // a one-entry batch into a partial bundle
        expect(await store.readCheckpoint()).toBe(log.checkpoint);
        expect(await store.storedEntries()).toBe(401);
        expect(hexes(await store.readEntries(0, 401))).toEqual(hexes(log.entries));
        expect(hexes(await store.readEntries(250, 260))).toEqual(hexes(log.entries.slice(250, 260)));
        expect(hexes(await store.readEntries(400, 401))).toEqual(hexes(log.entries.slice(400, 401)));
        expect(hexes(await store.readEntries(5, 5))).toEqual(hexes([]));
        const probe = [log.entries[399]!, new Uint8Array([9, 9]), log.entries[0]!, log.entries[256]!].map(leaf);
        expect(await store.lookupLeafHashes(probe)).toEqual([399, undefined, 0, 256]);
      } finally {
        await store.close();
      }
    }, timeout);

    test('tiles: a partial tile is replaced by a wider one, then by the full tile with its interior; batched reads come in the order asked', async () => {
      const { store } = await factory.create();
      const log = new BatchMaker();
      try {
        const first = await log.commit(store, 10);
        const t0 = first.tiles.find((t) => t.level === 0)!;
        let [got] = await store.readTiles([{ level: 0, index: 0 }]);
        expect(hex(got!.hashes)).toEqual(hex(t0.hashes));
        expect(got!.interior).toBeUndefined();

        await log.commit(store, 200);
        [got] = await store.readTiles([{ level: 0, index: 0 }]);
        expect(got!.hashes.length).toBe(210 * 32);

        const third = await log.commit(store, TILE_WIDTH * 2 - 210 + 5); // tiles 0 and 1 full, tile 2 partial
        const full0 = third.tiles.find((t) => t.level === 0 && t.index === 0)!;
        const full1 = third.tiles.find((t) => t.level === 0 && t.index === 1)!;
        expect(full0.interior).toBeDefined();
        const read = await store.readTiles([
          { level: 0, index: 2 },
          { level: 0, index: 0 },
          { level: 5, index: 0 },
          { level: 1, index: 0 },
          { level: 0, index: 1 },
          { level: 0, index: 9 },
        ]);
        expect(read.map((t) => t && [t.level, t.index, t.hashes.length / 32])).toEqual([[0, 2, 5], [0, 0, 256], undefined, [1, 0, 2], [0, 1, 256], undefined]);
        expect(hex(read[1]!.hashes)).toEqual(hex(full0.hashes));
        expect(hex(read[1]!.interior)).toEqual(hex(full0.interior));
        expect(hex(read[4]!.interior)).toEqual(hex(full1.interior));
        expect(await store.readTiles([])).toEqual([]);
      } finally {
        await store.close();
      }
    }, timeout);

    test('fencing: a commit with a stale previous throws FencedError and changes nothing', async () => {
      const { store } = await factory.create();
      const log = new BatchMaker();
      try {
        await log.commit(store, 20);
        const stale = new BatchMaker(' stale');
        // Another history of the same length, then a batch extending it: not what the store holds.
        stale.next(20);
        const other = stale.next(5);
        await expect(store.commit(other)).rejects.toBeInstanceOf(FencedError);
        // A first commit on a store that has one.
        const fresh = new BatchMaker(' fresh').next(3);
        await expect(store.commit(fresh)).rejects.toBeInstanceOf(FencedError);
        expect(await store.readCheckpoint()).toBe(log.checkpoint);
        expect(await store.storedEntries()).toBe(20);
        expect(await store.lookupLeafHashes([leaf(other.entries[0]!), leaf(fresh.entries[0]!)])).toEqual([undefined, undefined]);
        const [t] = await store.readTiles([{ level: 0, index: 0 }]);
        expect(t!.hashes.length).toBe(20 * 32);
        // The rightful writer goes on.
        await log.commit(store, 5);
        expect(hexes(await store.readEntries(0, 25))).toEqual(hexes(log.entries));
      } finally {
        await store.close();
      }
    }, timeout);

    test('two concurrent committers with the same previous: exactly one wins', async () => {
      const { store } = await factory.create();
      const base = new BatchMaker();
      try {
        await base.commit(store, 7);
        for (let round = 0; round < 3; round++) {
          // Two writers from the same tree, with different entries: different next checkpoints.
          const a = base.next(3 + round);
          const b: CommitBatch = { ...a, entries: a.entries.map((e) => Uint8Array.of(...e, 0x21)), checkpoint: `${a.checkpoint}other ${round}\n` };
          const results = await Promise.allSettled([store.commit(a), store.commit(b)]);
          const won = results.filter((r) => r.status === 'fulfilled');
          const lost = results.filter((r) => r.status === 'rejected');
          expect(won.length).toBe(1);
          expect(lost.length).toBe(1);
          expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(FencedError);
          const winner = results[0]!.status === 'fulfilled' ? a : b;
          expect(await store.readCheckpoint()).toBe(winner.checkpoint);
          expect(hexes(await store.readEntries(winner.start, winner.start + winner.entries.length))).toEqual(hexes(winner.entries));
          if (winner === b) return; // the maker's tree is a's: stop after a b win
        }
      } finally {
        await store.close();
      }
    }, timeout);

    test('recordAhead keeps the larger size', async () => {
      const { store, reopen } = await factory.create();
      await store.recordAhead({ size: 10, source: 'client', note: 'n10' });
      await store.recordAhead({ size: 5, source: 'witness w' });
      expect(await store.readAhead()).toEqual({ size: 10, source: 'client', note: 'n10' });
      await store.recordAhead({ size: 12, source: 'witness w' });
      expect(await store.readAhead()).toEqual({ size: 12, source: 'witness w' });
      await store.close();
      const again = await reopen();
      try {
        expect(await again.readAhead()).toEqual({ size: 12, source: 'witness w' });
      } finally {
        await again.close();
      }
    }, timeout);

    test('reopen sees everything committed', async () => {
      const { store, reopen } = await factory.create();
      const log = new BatchMaker();
      await log.commit(store, 300);
      const last = await log.commit(store, 30);
      await store.close();
      const again = await reopen();
      try {
        expect(await again.readCheckpoint()).toBe(log.checkpoint);
        expect(await again.storedEntries()).toBe(330);
        expect(hexes(await again.readEntries(0, 330))).toEqual(hexes(log.entries));
        expect(await again.lookupLeafHashes([leaf(log.entries[329]!)])).toEqual([329]);
        const [t] = await again.readTiles([{ level: 0, index: 1 }]);
        expect(hex(t!.hashes)).toEqual(hex(last.tiles.find((x) => x.level === 0 && x.index === 1)!.hashes));
        // And it goes on from there.
        await log.commit(again, 1);
        expect(await again.readCheckpoint()).toBe(log.checkpoint);
      } finally {
        await again.close();
      }
    }, timeout);
  });
}
