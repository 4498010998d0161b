// Nothing acknowledged is ever lost: a real server process is killed with SIGKILL at a random
// moment while 16 writers stream submissions, restarted on the same data directory, and every
// entry it acknowledged must be at its acknowledged index, provable under the new checkpoint,
// which must extend every checkpoint handed out before (bench/soak.ts killRounds; the long
// version is `npm run bench -- soak`).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killRounds } from '../../bench/soak.js';
import { toBase64 } from '@candor/core/bytes';
import { openCheckpoint } from '@candor/core/checkpoint';
import { rangeNodes } from '@candor/core/merkle';
import { parseVerifierKey } from '@candor/core/note';
import { nodeLocation } from '@candor/core/tile';
import { LevelStore } from '../../src/storage/level.js';
import { startLog, tempDir } from '../helpers/server.js';

const ROUNDS = 5;
const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SIGKILL while submissions are in flight', () => {
  it(`loses no acknowledged entry across ${ROUNDS} kills`, { timeout: 120_000 }, async () => {
    // killRounds (bench/soak.ts) reads every entry back without credentials: a public log.
    const stats = await killRounds((d, args) => startLog({ dir: d, args: ['--public-entries', ...args] }), dir, ROUNDS);
    expect(stats.kills).toBe(ROUNDS);
    expect(stats.acknowledged).toBeGreaterThan(ROUNDS * 10);
    expect(stats.size).toBeGreaterThanOrEqual(stats.acknowledged);
    console.log(`sigkill: ${stats.kills} kills, ${stats.acknowledged} acknowledged entries checked, ${stats.checkpoints} checkpoints proven consistent`);
  });

  it('refuses to start after a crash when the stored tiles do not give the checkpoint root, naming both', { timeout: 60_000 }, async () => {
    // The data dir of the test above: a log killed several times. Kill it once more, mid-traffic.
    await killRounds((d, args) => startLog({ dir: d, args: ['--public-entries', ...args] }), dir, 1);

    // Start-up after the kill checks the last checkpoint against the tiles and serves.
    const t0 = performance.now();
    const log = await startLog({ dir });
    const startMs = performance.now() - t0;
    const cp = openCheckpoint(await (await fetch(`${log.url}/checkpoint`)).text(), [parseVerifierKey(log.vkey)]).checkpoint;
    await log.kill();
    console.log(`sigkill: restart after a kill at tree size ${cp.size} served in ${startMs.toFixed(0)} ms (process start included)`);

    // An insider edits the newest hash of the tile that holds the tree's rightmost subtree root:
    // the rightmost level-0 tile, or, when the size is a multiple of 256 (that tile is full, and
    // its root is in the level-1 tile), the tile above it. Start-up reads these, not every tile
    // (candor fsck does).
    const store = await LevelStore.open(join(dir, 'db'));
    const last = rangeNodes(0, cp.size).at(-1)!;
    const { level, tile: n, offset } = nodeLocation(last.height, last.index);
    const tile = (await store.readTiles([{ level: level, index: n }]))[0]!;
    const hashes = tile.hashes.slice();
    hashes[(offset + 1) * 32 - 1]! ^= 0x01;
    await store.commit({ previous: await store.readCheckpoint(), start: cp.size, entries: [], tiles: [{ level, index: n, hashes }], leafIndex: [], checkpoint: (await store.readCheckpoint())! });
    await store.close();

    const refused = await startLog({ dir }).then(
      async (l) => {
        await l.kill();
        return new Error('the log started on a corrupt store');
      },
      (err: Error) => err,
    );
    expect(refused.message).toMatch(new RegExp(`exited with 1 before serving`));
    expect(refused.message).toMatch(
      new RegExp(`refusing to start: the stored tiles give root \\S+ for size ${cp.size}, but the last signed checkpoint says ${toBase64(cp.root).replace(/[+/]/g, '\\$&')}`),
    );
  });
});
