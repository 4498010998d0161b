/**
 * Corruption detection: flips one bit at a time in the stored hash tiles and entry bundles of a
 * real log store (through the store's own key layout, src/storage/level.ts), runs the offline
 * check (src/storage/fsck.ts) after each flip, and counts the flips it detected and named by the
 * tile's tlog-tiles path. Each flip is undone before the next, so every flip is judged alone.
 * Used by test/storage/fsck.test.ts and by `npm run bench -- faults`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { nodeHasher } from '../src/crypto/node.js';
import { ENTRIES, TILE_WIDTH, tilePath } from '@candor/core/tile';
import { loadLogKeys } from '../src/keys.js';
import { Sequencer } from '../src/log/sequencer.js';
import { fsck } from '../src/storage/fsck.js';
import { LevelStore } from '../src/storage/level.js';

/** Fills a new log in `dir` with `n` random entries, in submissions of varying size (several runs per bundle). */
export async function buildLog(dir: string, n: number, origin = 'fsck.example/log'): Promise<void> {
  const keys = loadLogKeys({ dataDir: dir, origin });
  const store = await LevelStore.open(join(dir, 'db'));
  const seq = await Sequencer.open({ origin: keys.origin, signers: keys.signers, verifiers: keys.verifiers, hasher: nodeHasher, store, maxBatch: 700, maxQueue: 1 << 20 });
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < n; ) {
    const m = Math.min(n - i, 1 + Math.floor(Math.random() * 600));
    calls.push(seq.submitMany(Array.from({ length: m }, () => randomBytes(8 + Math.floor(Math.random() * 64)))));
    i += m;
  }
  await Promise.all(calls);
  await seq.close();
  await store.close();
}

/** Runs fsck on the store in `dir` (which must not be open elsewhere). */
export async function checkStore(dir: string) {
  const { verifiers } = loadLogKeys({ dataDir: dir });
  const store = await LevelStore.open(join(dir, 'db'));
  try {
    return await fsck({ store, hasher: nodeHasher, verifiers });
  } finally {
    await store.close();
  }
}

/** The tlog-tiles path (without a partial-width suffix) a tile or entry-run key belongs to. */
function pathOfKey(k: Uint8Array): string {
  const dv = new DataView(k.buffer, k.byteOffset, k.byteLength);
  if (k[0] === 0x74) return tilePath({ level: k[1]!, index: dv.getUint32(2) * 2 ** 32 + dv.getUint32(6), width: TILE_WIDTH });
  return tilePath({ level: ENTRIES, index: Math.floor((dv.getUint32(1) * 2 ** 32 + dv.getUint32(5)) / TILE_WIDTH), width: TILE_WIDTH });
}

export interface FlipResult {
  flipped: number;
  detected: number;
  /** Flips not detected or not named: "<path> byte <offset> bit <bit>: <what fsck said>". */
  misses: string[];
}

/** Flips `flips` random bits, one at a time, in the tiles and bundles of the store in `dir`. */
export async function flipAndCheck(dir: string, flips: number): Promise<FlipResult> {
  const path = join(dir, 'db');
  const keys: Uint8Array[] = [];
  {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    for await (const k of db.keys()) if (k[0] === 0x74 || k[0] === 0x65) keys.push(new Uint8Array(k));
    await db.close();
  }
  const out: FlipResult = { flipped: 0, detected: 0, misses: [] };
  for (let f = 0; f < flips; f++) {
    const key = keys[Math.floor(Math.random() * keys.length)]!;
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    const original = new Uint8Array((await db.get(key))!);
    const at = Math.floor(Math.random() * original.length);
    const bit = Math.floor(Math.random() * 8);
    const bad = new Uint8Array(original);
    bad[at]! ^= 1 << bit;
    await db.put(key, bad);
    await db.close();

    const report = await checkStore(dir);
    const name = pathOfKey(key);
    // Named: a problem about that tile or bundle (full, or partial with a .p/ suffix), or naming it.
    const named = report.problems.some((p) => p.path === name || p.path.startsWith(`${name}.p/`) || new RegExp(`${name}(\\.p/\\d+)?( |:|,|$)`).test(p.message));
    out.flipped++;
    if (named) out.detected++;
    else out.misses.push(`${name} byte ${at} bit ${bit}: ${report.problems.map((p) => `${p.path}: ${p.message}`).join('; ') || 'no problem found'}`);

    const undo = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await undo.put(key, original);
    await undo.close();
  }
  return out;
}
