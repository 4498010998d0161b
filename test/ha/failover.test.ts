// High availability on the real bucket and PostgreSQL (issue 17 §4, §6): three `candor serve`
// processes (the built CLI), HTTP writers posting events to any node (followers forward to the
// leader; a write that fails is retried with the same idempotency key elsewhere), the leader
// SIGKILLed three times and once paused (SIGSTOP) until another node leads, then resumed. The
// checker (bench/ha.ts checkHistory) reads the bucket alone: every acknowledged event at its
// acknowledged index in the entries that give the final root, every checkpoint handed out the
// root of a prefix of them, no idempotency key in two leaves. The negative control runs the same
// scenario with fencing switched off (the test-only CANDOR_TEST_DISABLE_FENCING: the checkpoint
// compare-and-swap without its compare, and a leader that goes on after losing its lease): the
// resumed leader then signs a second history, and the same checker must catch it.
import { afterEach, describe, expect, it } from 'vitest';
import { checkHistory, failover, stopAll, type FailoverRun } from '../../bench/ha.js';
import { postgresMissing, s3Missing } from '../helpers/services.js';

const skip = s3Missing() ?? postgresMissing();
const KILLS = 3;
let run: FailoverRun | undefined;
afterEach(async () => {
  if (run) await stopAll(run);
  run = undefined;
});

describe.skipIf(skip)(`three nodes on one bucket + PostgreSQL${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it(`the leader SIGKILLed ${KILLS} times and paused past its lease once, under load: nothing acknowledged lost or moved, one history, no idempotency key twice`, { timeout: 90_000 }, async () => {
    run = await failover({ kills: KILLS, stops: 1, leaseMs: 1000, settleMs: 1200 });
    expect(run.kills).toBe(KILLS);
    expect(run.stops).toBe(1);
    expect(run.acked.length).toBeGreaterThan(50);
    const check = await checkHistory(run);
    expect(check.problems).toEqual([]);
    expect(check.size).toBeGreaterThanOrEqual(run.acked.length);
    console.log(`ha: ${run.kills} kills, ${run.stops} pause, ${run.acked.length} acknowledged events checked at tree size ${check.size}, ${new Set(run.checkpoints).size} checkpoints consistent, ${run.retries} retries; takeover ms ${run.takeoverMs.map((t) => t.toFixed(0)).join(', ')}`);
  });

  it('negative control: with fencing switched off, the resumed leader signs a second history and the same checker catches it', { timeout: 60_000 }, async () => {
    run = await failover({ kills: 0, stops: 1, leaseMs: 1000, settleMs: 1200, env: { CANDOR_TEST_DISABLE_FENCING: '1' } });
    const check = await checkHistory(run);
    console.log(`ha negative control: ${check.problems.length} problems, first: ${check.problems[0]}`);
    expect(check.problems).not.toEqual([]);
  });
});
