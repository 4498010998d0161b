// Nothing acknowledged is ever lost: a real server process is killed with SIGKILL at a random
// moment while 16 writers stream submissions, restarted on the same data directory, and every
// entry it acknowledged must be at its acknowledged index, provable under the new checkpoint,
// which must extend every checkpoint handed out before (bench/soak.ts killRounds; the long
// version is `npm run bench -- soak`).
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { killRounds } from '../../bench/soak.js';
import { startLog, tempDir } from '../helpers/server.js';

const ROUNDS = 5;
const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SIGKILL while submissions are in flight', () => {
  it(`loses no acknowledged entry across ${ROUNDS} kills`, { timeout: 120_000 }, async () => {
    const stats = await killRounds((d, args) => startLog({ dir: d, args }), dir, ROUNDS);
    expect(stats.kills).toBe(ROUNDS);
    expect(stats.acknowledged).toBeGreaterThan(ROUNDS * 10);
    expect(stats.size).toBeGreaterThanOrEqual(stats.acknowledged);
    console.log(`sigkill: ${stats.kills} kills, ${stats.acknowledged} acknowledged entries checked, ${stats.checkpoints} checkpoints proven consistent`);
  });
});
