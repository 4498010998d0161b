// The offline store check: a clean store passes; one bit flipped anywhere in a stored hash tile
// (hashes or interior) or entry bundle is detected and the tile or bundle is named by its
// tlog-tiles path, by the library and by `candor fsck`, which exits non-zero.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLog, checkStore, flipAndCheck } from '../../bench/corrupt.js';
import { CLI, tempDir } from '../helpers/server.js';

// 66,000 entries: three tile levels, full and partial tiles at each of levels 0 and 1.
const SIZE = 66_000;
const FLIPS = 12;
const dir = tempDir();
beforeAll(() => buildLog(dir, SIZE), 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fsckCli = () => spawnSync(process.execPath, [CLI, 'fsck', '--data', dir], { encoding: 'utf8', timeout: 60_000 });

describe('candor fsck', () => {
  it('passes a store the log wrote', async () => {
    const report = await checkStore(dir);
    expect(report.problems).toEqual([]);
    expect(report.size).toBe(SIZE);
    expect(report.bundles).toBe(Math.ceil(SIZE / 256));
    const r = fsckCli();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`fsck OK: size ${SIZE}`);
  });

  it(`detects and names each of ${FLIPS} single-bit flips in tiles and bundles`, { timeout: 120_000 }, async () => {
    const r = await flipAndCheck(dir, FLIPS);
    console.log(`fsck: detected ${r.detected} of ${r.flipped} flipped bytes`);
    expect(r.misses).toEqual([]);
    expect(r.detected).toBe(FLIPS);
    // Every flip was undone: the store is clean again.
    expect((await checkStore(dir)).problems).toEqual([]);
  });

  it('exits non-zero and prints the tile path of a corrupted level-1 tile', async () => {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    const key = Uint8Array.of(0x74, 1, 0, 0, 0, 0, 0, 0, 0, 0); // t, level 1, index 0: a full tile
    const original = new Uint8Array((await db.get(key))!);
    const bad = new Uint8Array(original);
    bad[100]! ^= 0x10;
    await db.put(key, bad);
    await db.close();
    try {
      const r = fsckCli();
      expect(r.status).toBe(3);
      expect(r.stdout).toMatch(/^BAD tile\/1\/000: /m);
      expect(r.stderr).toMatch(/problem\(s\) in the store/);
    } finally {
      const undo = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
      await undo.put(key, original);
      await undo.close();
    }
  });
});
