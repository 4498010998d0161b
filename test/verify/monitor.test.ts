// The monitor against real Candor logs on 127.0.0.1: rollback (an old checkpoint shown again),
// truncation (the log restored from an old backup), growth after a truncation (inconsistent),
// unwitnessed and badly signed checkpoints, and the state it keeps between runs.
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSignerKey, parseNote, parseSignerKey, parseVerifierKey, signNote } from '@candor/core/note';
import { quorumPolicy } from '@candor/core/tlog-proof';
import { checkOnce, type MonitorOptions } from '../../clients/verify/monitor.js';
import { AuditorStore } from '../../clients/verify/store.js';
import { TileClient } from '../../clients/tiles/client.js';
import { fill, getCheckpoint, logKey, post, scratch, startWitnessedLog, startWitnesses, waitFor, type TestLog } from '../witnessing/helpers.js';
import { candor, startLyingLog } from './helpers.js';
import { startTestLog } from '../helpers/log.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function monitorFor(url: string, vkey: string, extra: Partial<MonitorOptions> = {}): Promise<MonitorOptions & { dir: string }> {
  const dir = scratch(cleanups, 'candor-monitor-');
  const store = await AuditorStore.open(dir);
  cleanups.push(() => store.close());
  return { dir, client: new TileClient(url), store, logVerifiers: [parseVerifierKey(vkey)], evidenceDir: join(dir, 'evidence'), ...extra };
}

describe('rollback', () => {
  it('an older checkpoint served again raises a rollback alarm while the newer tree is still served', async () => {
    const log = await startTestLog({ origin: 'rollback.candor.test/log' });
    cleanups.push(() => log.cleanup());
    const vkey = log.keys.vkeys[0]!;
    for (let i = 0; i < 5; i++) await post(log.url, `entry ${i}`);
    const old = (await getCheckpoint(log.url)).note;
    await fill(log, 'entry', 5, 300);
    const view = await startLyingLog(log.url);
    cleanups.push(() => view.close());
    const m = await monitorFor(view.url, vkey);
    expect(await checkOnce(m)).toMatchObject({ kind: 'first', checkpoint: { size: 300 } });
    expect(await checkOnce(m)).toMatchObject({ kind: 'unchanged' });

    view.checkpoint = old;
    const r = await checkOnce(m);
    expect(r).toMatchObject({ kind: 'alarm', alarm: { kind: 'rollback' } });
    if (r.kind === 'alarm') expect(r.alarm.message).toMatch(/checkpoint of size 5 after signing size 300/);
    expect(readdirSync(join(m.dir, 'evidence'))).toHaveLength(1);

    // A checkpoint the log did not sign is not evidence of anything: it is rejected (exit 2), no alarm.
    const forger = generateSignerKey('rollback.candor.test/log');
    view.checkpoint = signNote(parseNote(old).text, [parseSignerKey(forger.skey).signer]);
    await expect(checkOnce(m)).rejects.toMatchObject({ code: 'verification_failed' });
    const cli = await candor(['monitor', '--once', '--url', view.url, '--log-key', vkey, '--data', scratch(cleanups, 'candor-monitor-cli-')]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/NOT VERIFIED: .*no signature from a known key|NOT VERIFIED: .*no valid signature by the log key/);
  });
});

describe('truncation', () => {
  it('a log restored from an old backup: the witness answers 409 (the log sees it is behind), the monitor raises truncation, then inconsistent once it grows', async () => {
    const origin = 'truncation.candor.test/log';
    const key = logKey(origin);
    const [witness] = await startWitnesses(1, origin, key.vkey);
    cleanups.push(() => witness!.close());
    const start = () => startWitnessedLog({ origin, dir: key.dir, witnesses: [witness!.ref], quorum: 1, publish: 'after', ackTimeoutMs: 500 });
    let log: TestLog = await start();
    for (let i = 0; i < 4; i++) await post(log.url, `kept ${i}`);
    expect((await post(log.url, 'kept 4', '?witnessed=1')).status).toBe(200);
    await log.close();
    const backup = scratch(cleanups, 'candor-backup-');
    cpSync(key.dir, backup, { recursive: true });

    log = await start();
    await fill(log, 'lost', 5, 299);
    expect((await post(log.url, 'lost 299', '?witnessed=1')).status).toBe(200);
    const m = await monitorFor(log.url, key.vkey, { policy: quorumPolicy([parseVerifierKey(witness!.vkeys[0]!)]) });
    expect(await checkOnce(m)).toMatchObject({ kind: 'first', checkpoint: { size: 300 } });
    await log.close();

    // The operator restores the backup (size 5) and starts the log again, witnessing state included.
    rmSync(key.dir, { recursive: true, force: true });
    cpSync(backup, key.dir, { recursive: true });
    log = await start();
    cleanups.push(() => log.cleanup());
    const restored = log;
    // The witness has cosigned size 300: the log learns it from the 409 and reports it is behind.
    await waitFor('the witness to report it is ahead', () => restored.witnessing!.status()[0]!.lastStatus === 'ahead');
    expect(log.witnessing!.status()[0]).toMatchObject({ cosignedSize: 300 });
    // publish: after still serves the size-5 checkpoint it had witnessed before the backup.
    expect((await getCheckpoint(log.url)).size).toBe(5);

    const m2 = { ...m, client: new TileClient(log.url) };
    const r = await checkOnce(m2);
    expect(r).toMatchObject({ kind: 'alarm', alarm: { kind: 'truncation' } });
    if (r.kind === 'alarm') expect(r.alarm.message).toMatch(/size 5, below size 300 .* no longer serves the tiles of size 300/);

    // The restored log stepped down (docs/fencing.md) and will not start on that store again.
    expect(restored.sequencer.fenced?.message).toMatch(/witness w1 .* size 300/);
    expect((await post(log.url, 'refused')).status).toBe(503);
    await log.close();
    await expect(start()).rejects.toThrow(/refusing to start: witness w1 showed that this log has published a tree of size 300/);

    // An operator who ignores that, restores the backup again and runs it without the witness,
    // grows past the old size with other entries: not an extension of what was verified.
    rmSync(key.dir, { recursive: true, force: true });
    cpSync(backup, key.dir, { recursive: true });
    log = await startTestLog({ data: key.dir, origin });
    cleanups.push(() => log.cleanup());
    await fill(log, 'different', 5, 310);
    const r2 = await checkOnce({ ...m, client: new TileClient(log.url) });
    expect(r2).toMatchObject({ kind: 'alarm', alarm: { kind: 'inconsistent' } });
  });
});

describe('state', () => {
  it('is kept between runs, bound to one origin, and only verified checkpoints become the reference', async () => {
    const origin = 'state.candor.test/log';
    const key = logKey(origin);
    const [witness] = await startWitnesses(1, origin, key.vkey);
    cleanups.push(() => witness!.close());
    const log = await startWitnessedLog({ origin, dir: key.dir, witnesses: [witness!.ref], publish: 'before' });
    cleanups.push(() => log.cleanup());
    for (let i = 0; i < 3; i++) await post(log.url, `entry ${i}`);
    await waitFor('a cosigned checkpoint', async () => (await getCheckpoint(log.url)).note.includes('witness1.candor.test'));
    const dir = scratch(cleanups, 'candor-monitor-cli-');
    const args = (extra: string[] = []) => ['monitor', '--once', '--url', log.url, '--log-key', key.vkey, '--witness-key', witness!.vkeys[0]!, '--data', dir, ...extra];
    const first = await candor(args());
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^OK size 3 .*first checkpoint/);

    // The witness is stopped: new checkpoints are signed but not cosigned. They are checked for
    // consistency, reported as WAIT (exit 2), and not kept.
    await witness!.close();
    await post(log.url, 'entry 3');
    const wait = await candor(args());
    expect(wait.code).toBe(2);
    expect(wait.stdout).toMatch(/^WAIT size 4 .*consistent with size 3, but does not meet the witness policy/);
    // Without a policy the same checkpoint is verified, consistent with the kept size 3.
    const noPolicy = await candor(['monitor', '--once', '--url', log.url, '--log-key', key.vkey, '--data', dir]);
    expect(noPolicy.stdout).toMatch(/^OK size 4 .*consistent with size 3/);
    expect(noPolicy.code).toBe(0);

    // A data dir follows one log.
    const other = await startTestLog({ origin: 'other.candor.test/log' });
    cleanups.push(() => other.cleanup());
    const wrong = await candor(['monitor', '--once', '--url', other.url, '--log-key', other.keys.vkeys[0]!, '--data', dir]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/follows the log "state.candor.test\/log", not "other.candor.test\/log"/);
    // Usage mistakes are one line and exit 1.
    const usage = await candor(['monitor', '--once', '--url', log.url, '--log-key', 'nonsense', '--data', dir]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/--log-key 1: verifier key/);
  });
});
