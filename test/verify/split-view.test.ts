// Split view: two real Candor logs with the same origin and the same key but different entries,
// as a malicious operator would run to show different histories to different people. A real
// witness cosigns the first and refuses the second; a monitor that saw the first raises the alarm
// when shown the second, through the library and through `candor monitor` (exit code 3).
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '@candor/core/checkpoint';
import { parseVerifierKey } from '@candor/core/note';
import { quorumPolicy } from '@candor/core/tlog-proof';
import { checkOnce, type MonitorOptions } from '../../clients/verify/monitor.js';
import { AuditorStore } from '../../clients/verify/store.js';
import { TileClient } from '../../clients/tiles/client.js';
import { tempDir } from '../helpers/server.js';
import { getCheckpoint, logKey, metric, scratch, post, startWitnessedLog, startWitnesses, waitFor, type TestLog } from '../witnessing/helpers.js';
import { candor, startLyingLog } from './helpers.js';
import { startTestLog } from '../helpers/log.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe('a split view', () => {
  it('is refused by the witness and raises the alarm in the monitor', async () => {
    const origin = 'split.candor.test/log';
    const a = logKey(origin);
    const dirB = tempDir();
    mkdirSync(dirB, { recursive: true });
    copyFileSync(join(a.dir, 'log.key'), join(dirB, 'log.key'));
    const [witness] = await startWitnesses(1, origin, a.vkey);
    cleanups.push(() => witness!.close());
    const start = (dir: string) => startWitnessedLog({ origin, dir, witnesses: [witness!.ref], publish: 'before', ackTimeoutMs: 1000 });
    const logA: TestLog = await start(a.dir);
    cleanups.push(() => logA.cleanup());

    // History A, witnessed.
    for (let i = 0; i < 9; i++) await post(logA.url, `history A ${i}`);
    const ackA = await post(logA.url, 'history A 9', '?witnessed=1');
    expect(ackA.status).toBe(200);

    // History B: same origin, same key, same size, other entries, built by an operator who keeps
    // the witness out of it. (A log that talks to the witness while it grows learns from the 409
    // that the witness has seen size 10 and steps down before it signs a second history:
    // docs/fencing.md and test/witnessing.)
    const twin = await startTestLog({ data: dirB, origin });
    for (let i = 0; i < 10; i++) await post(twin.url, `history B ${i}`);
    await twin.close();
    // Shown to the witness, B's size-10 tree is refused: the witness cosigned another root for it.
    const logB: TestLog = await start(dirB);
    cleanups.push(() => logB.cleanup());
    await waitFor('the witness to refuse B', async () => (await metric(logB, 'candor_witness_requests_total', { status: '422' })) > 0);
    expect(logB.witnessing!.status()[0]).toMatchObject({ lastStatus: '422', cosignedSize: 10 });
    const cpA = openCheckpoint((await getCheckpoint(logA.url)).note, [parseVerifierKey(a.vkey)]).checkpoint;
    const cpB = openCheckpoint((await getCheckpoint(logB.url)).note, [parseVerifierKey(a.vkey)]).checkpoint;
    expect(cpA.size).toBe(10);
    expect(cpB.size).toBe(10);
    expect(cpA.root).not.toEqual(cpB.root);
    // B's checkpoint is signed by the log key, but carries no cosignature.
    expect((await getCheckpoint(logB.url)).note).not.toContain(`— ${witness!.ref.name}`);
    expect((await getCheckpoint(logB.url)).note).not.toContain('witness1.candor.test');

    // One URL, two histories: the test double serves A, then B.
    const view = await startLyingLog(logA.url);
    cleanups.push(() => view.close());
    const data = scratch(cleanups, 'candor-monitor-');
    const store = await AuditorStore.open(data);
    cleanups.push(() => store.close());
    const m: MonitorOptions = {
      client: new TileClient(view.url),
      store,
      logVerifiers: [parseVerifierKey(a.vkey)],
      policy: quorumPolicy([parseVerifierKey(witness!.vkeys[0]!)], 1),
      evidenceDir: join(data, 'evidence'),
    };
    const first = await checkOnce(m);
    expect(first).toMatchObject({ kind: 'first', checkpoint: { size: 10 }, cosigners: ['witness1.candor.test'] });

    view.upstream = logB.url;
    const forked = await checkOnce(m);
    expect(forked.kind).toBe('alarm');
    if (forked.kind !== 'alarm') return;
    expect(forked.alarm.kind).toBe('fork');
    expect(forked.alarm.message).toMatch(/fork: the log signed two different trees of size 10/);
    // The evidence holds both signed checkpoints, so anyone with the log key can check it.
    const evidence = readFileSync(forked.alarm.evidenceFile!, 'utf8');
    expect(evidence).toContain(forked.alarm.verified);
    expect(evidence).toContain(forked.alarm.seen!);
    expect(openCheckpoint(forked.alarm.seen!, [parseVerifierKey(a.vkey)]).checkpoint.root).toEqual(cpB.root);
    // The reference is unchanged: the alarm repeats as long as the log shows B.
    expect(await store.checkpoint()).toBe(first.kind === 'first' ? first.note : '');

    // B grows: it still does not extend A.
    for (let i = 10; i < 14; i++) await post(logB.url, `history B ${i}`);
    const inconsistent = await checkOnce(m);
    expect(inconsistent).toMatchObject({ kind: 'alarm', alarm: { kind: 'inconsistent' } });
    await store.close();

    // The CLI, as a cron job would run it: exit 0 on A, exit 3 and an ALARM line on B.
    const cliData = scratch(cleanups, 'candor-monitor-cli-');
    const args = ['monitor', '--once', '--url', view.url, '--log-key', a.vkey, '--witness-key', witness!.vkeys[0]!, '--data', cliData];
    view.upstream = logA.url;
    const ok = await candor(args);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^OK size 10 .*first checkpoint.*cosigned by witness1.candor.test/);
    expect(ok.code).toBe(0);
    view.upstream = logB.url;
    const bad = await candor(args);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^ALARM inconsistent: inconsistent: the checkpoint of size 14 .* does not extend size 10/);
    const file = /evidence \(both signed checkpoints\): (\S+)/.exec(bad.stderr)![1]!;
    expect(existsSync(file)).toBe(true);
  });
});
