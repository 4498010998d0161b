import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '@candor/core/bytes';

const hexes = (xs: (Uint8Array | undefined)[]) => xs.map((x) => (x ? toHex(x) : x));
import { ClassicLevel } from 'classic-level';
import { bundleCount, encodeBundle } from '@candor/core/tile';
import { LevelStore } from '../../src/storage/level.js';
import { ENTRY_RUN } from '../../src/storage/store.js';
import { tempDir } from '../helpers/server.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open() {
  const d = tempDir();
  dirs.push(d);
  return LevelStore.open(join(d, 'db'));
}

describe('LevelStore', () => {
  it('reads back any range of entries written in runs of random sizes across bundle boundaries', async () => {
    const store = await open();
    const all: Uint8Array[] = [];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    while (all.length < 2000) {
      const n = 1 + rand(rand(10) === 0 ? 700 : 40);
      const entries = Array.from({ length: n }, (_, i) => utf8(`e${all.length + i}:${'x'.repeat(rand(50))}`));
      await store.commit({ previous: await store.readCheckpoint(), start: all.length, entries, tiles: [], leafIndex: [], checkpoint: `c${all.length}` });
      all.push(...entries);
    }
    for (let i = 0; i < 200; i++) {
      const s = rand(all.length);
      const e = s + 1 + rand(Math.min(600, all.length - s));
      expect(hexes(await store.readEntries(s, e))).toEqual(hexes(all.slice(s, e)));
    }
    expect(hexes(await store.readEntries(0, all.length))).toEqual(hexes(all));
    await expect(store.readEntries(all.length, all.length + 1)).rejects.toThrow(/missing/);
    await store.close();
  });

  it('writes runs of at most ENTRY_RUN entries that never cross a multiple of it', async () => {
    const d = tempDir();
    dirs.push(d);
    const store = await LevelStore.open(join(d, 'db'));
    const entries = Array.from({ length: 300 }, (_, i) => utf8(`e${i}`));
    await store.commit({ previous: await store.readCheckpoint(), start: 0, entries: entries.slice(0, 10), tiles: [], leafIndex: [], checkpoint: 'a' });
    await store.commit({ previous: await store.readCheckpoint(), start: 10, entries: entries.slice(10), tiles: [], leafIndex: [], checkpoint: 'b' });
    await store.close();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(d, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    const runs: [number, number][] = [];
    for await (const [k, v] of db.iterator({ gte: Uint8Array.of(0x65), lt: Uint8Array.of(0x66) })) runs.push([Number(Buffer.from(k).readBigUInt64BE(1)), bundleCount(v)]);
    await db.close();
    // [0, 10) and [10, 16) from the commits, then whole runs of 16 to the last, [288, 300).
    expect(runs).toEqual([[0, 10], [10, 6], ...Array.from({ length: 17 }, (_, k): [number, number] => [16 + 16 * k, 16]), [288, 12]]);
    expect(ENTRY_RUN).toBe(16);
  });

  it('reads the bundle-wide runs of a log written before runs were capped', async () => {
    const d = tempDir();
    dirs.push(d);
    const all = Array.from({ length: 700 }, (_, i) => utf8(`old${i}:${'y'.repeat(i % 37)}`));
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(d, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    // The old layout: one run per commit and 256-entry bundle (here commits of 100 entries).
    for (let i = 0; i < all.length; ) {
      const n = Math.min(100, all.length - i, 256 - (i % 256));
      const k = Buffer.alloc(9);
      k[0] = 0x65;
      k.writeBigUInt64BE(BigInt(i), 1);
      await db.put(k, encodeBundle(all.slice(i, i + n)));
      i += n;
    }
    await db.close();
    const store = await LevelStore.open(join(d, 'db'));
    for (const [s, e] of [[0, 1], [63, 65], [64, 65], [130, 131], [200, 300], [255, 257], [256, 700], [513, 514], [699, 700], [0, 700]] as const) {
      expect(hexes(await store.readEntries(s, e))).toEqual(hexes(all.slice(s, e)));
    }
    await store.close();
  });

  it('keeps the newest version of a tile, the checkpoint and the leaf index', async () => {
    const store = await open();
    const h = (b: number) => new Uint8Array(32).fill(b);
    await store.commit({ previous: await store.readCheckpoint(), start: 0, entries: [utf8('a')], tiles: [{ level: 0, index: 0, hashes: h(1) }], leafIndex: [{ hash: h(9), index: 0 }], checkpoint: 'one' });
    const two = new Uint8Array(64);
    two.set(h(1));
    two.set(h(2), 32);
    await store.commit({ previous: await store.readCheckpoint(), start: 1, entries: [utf8('b')], tiles: [{ level: 0, index: 0, hashes: two }], leafIndex: [{ hash: h(8), index: 1 }], checkpoint: 'two' });
    expect(hexes([(await store.readTiles([{ level: 0, index: 0 }]))[0]!.hashes])).toEqual(hexes([two]));
    expect((await store.readTiles([{ level: 0, index: 1 }]))[0]).toBeUndefined();
    expect(await store.readCheckpoint()).toBe('two');
    expect(await store.lookupLeafHashes([h(8), h(7), h(9)])).toEqual([1, undefined, 0]);
    expect(await store.lookupLeafHashes([])).toEqual([]);
    await store.close();
  });

  it('stores a full tile with its interior and returns them apart', async () => {
    const store = await open();
    const hashes = new Uint8Array(8192).fill(5);
    const interior = new Uint8Array(960).fill(6);
    await store.commit({ previous: await store.readCheckpoint(), start: 0, entries: [], tiles: [{ level: 1, index: 2, hashes, interior }], leafIndex: [], checkpoint: 'x' });
    const t = (await store.readTiles([{ level: 1, index: 2 }]))[0]!;
    expect(hexes([t.hashes, t.interior])).toEqual(hexes([hashes, interior]));
    await store.close();
  });

  it('stores indexes beyond 2^32 exactly', async () => {
    const store = await open();
    const big = 2 ** 40 + 5;
    await store.commit({ previous: await store.readCheckpoint(), start: big, entries: [utf8('far')], tiles: [{ level: 0, index: 2 ** 33, hashes: new Uint8Array(32) }], leafIndex: [{ hash: new Uint8Array(32).fill(3), index: big }], checkpoint: 'x' });
    expect(await store.lookupLeafHashes([new Uint8Array(32).fill(3)])).toEqual([big]);
    expect(hexes(await store.readEntries(big, big + 1))).toEqual(hexes([utf8('far')]));
    expect(hexes([(await store.readTiles([{ level: 0, index: 2 ** 33 }]))[0]!.hashes])).toEqual(hexes([new Uint8Array(32)]));
    await store.close();
  });

  it('refuses a store another process holds, with a clear message', async () => {
    const d = tempDir();
    dirs.push(d);
    const a = await LevelStore.open(join(d, 'db'));
    await expect(LevelStore.open(join(d, 'db'))).rejects.toThrow(/cannot open the log store at .*db/);
    await a.close();
  });
});
