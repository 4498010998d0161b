// `candor proof export` against a real witnessed log, then `candor verify-proof` with everything
// stopped: the bundle verifies offline, and tampering with it or trusting other keys does not.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProofBundle } from '@candor/core/tlog-proof';
import { fill, getCheckpoint, logKey, post, scratch, startWitnessedLog, startWitnesses, strayWitnessKey, waitFor } from '../witnessing/helpers.js';
import { addLogReader } from '../helpers/auditors.js';
import { candor } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe('offline proof bundles through the CLI', () => {
  it('export, then verify with no network; tampering and other keys fail with exit 2', async () => {
    const origin = 'bundles.candor.test/log';
    const key = logKey(origin);
    const witnesses = await startWitnesses(2, origin, key.vkey);
    for (const w of witnesses) cleanups.push(() => w.close());
    // Entries are not public: the exports present a reader's token (read-log).
    const token = addLogReader(key.dir);
    const log = await startWitnessedLog({ origin, dir: key.dir, witnesses: witnesses.map((w) => w.ref), quorum: 2, publish: 'after' });
    cleanups.push(() => log.cleanup());
    await fill(log, 'audit event', 0, 150);
    const early = await post(log.url, 'audit event 150', '?witnessed=1');
    expect(early.status).toBe(200);
    await fill(log, 'audit event', 151, 299);
    expect((await post(log.url, 'audit event 299', '?witnessed=1')).status).toBe(200);
    await waitFor('/checkpoint at size 300', async () => (await getCheckpoint(log.url)).size === 300);

    const [w1, w2] = witnesses.map((w) => w.vkeys[0]!) as [string, string];
    const trust = ['--log-key', key.vkey, '--witness-key', w1, '--witness-key', w2];
    const dir = scratch(cleanups, 'candor-proof-');
    const file = join(dir, 'entry-257.tlog-proof');
    const ackFile = join(dir, 'ack-checkpoint');
    writeFileSync(ackFile, early.body.checkpoint);
    const [exported, bare, beyond, wrongKey, againstAck] = await Promise.all([
      candor(['proof', 'export', '--url', log.url, '--index', '257', '--token', token, ...trust]),
      candor(['proof', 'export', '--url', log.url, '--index', '12', '--no-entry', '--token', token]),
      candor(['proof', 'export', '--url', log.url, '--index', '300', '--token', token]),
      // With --log-key, export verifies before it writes: another key of the same name fails.
      candor(['proof', 'export', '--url', log.url, '--index', '1', '--token', token, '--log-key', logKey(origin, scratch(cleanups)).vkey]),
      // Against the checkpoint of an earlier witnessed acknowledgement (tree size 151).
      candor(['proof', 'export', '--url', log.url, '--index', '100', '--checkpoint', ackFile, '--token', token, ...trust]),
    ]);
    const tokenless = await candor(['proof', 'export', '--url', log.url, '--index', '1']);
    expect(tokenless.code).toBe(1);
    expect(tokenless.stderr).toMatch(/HTTP 401 .*read-log.*give a reader token: --token or CANDOR_AUDITOR_TOKEN/);
    expect(againstAck.code, againstAck.stderr).toBe(0);
    const ackFileBundle = join(dir, 'entry-100.tlog-proof');
    writeFileSync(ackFileBundle, againstAck.stdout);
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    writeFileSync(file, exported.stdout);
    const bundle = parseProofBundle(exported.stdout);
    expect(bundle.index).toBe(257);
    expect(new TextDecoder().decode(bundle.extra)).toBe('audit event 257');
    expect(bare.code).toBe(0);
    expect(parseProofBundle(bare.stdout).extra).toBeUndefined();
    const bareFile = join(dir, 'bare.tlog-proof');
    writeFileSync(bareFile, bare.stdout);
    expect(beyond.code).toBe(1);
    expect(beyond.stderr).toMatch(/index 300 is not below the log's tree size 300/);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stdout).toBe('');

    // Everything stops: verification needs nothing but the file and the keys.
    await log.close();
    for (const w of witnesses) await w.close();

    // A policy file with a group, as the log's own config writes it.
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `witnessing:\n  publish: after\n  witnesses:\n    - { name: one, vkey: "${w1}" }\n    - { name: two, vkey: "${w2}" }\n  groups:\n    - { name: both, threshold: all, members: [one, two] }\n  quorum: both\n`,
    );
    const tampered = join(dir, 'tampered.tlog-proof');
    writeFileSync(tampered, readFileSync(file, 'utf8').replace(/^extra .*$/m, `extra ${Buffer.from('audit event 256').toString('base64')}`));
    const malformedFile = join(dir, 'malformed.tlog-proof');
    writeFileSync(malformedFile, 'c2sp.org/tlog-proof@v1\nindex 01\n\n');
    const entryFile = join(dir, 'entry');
    writeFileSync(entryFile, 'audit event 12');
    const stranger = strayWitnessKey('stranger.candor.test').vkey;

    // Independent runs, all offline, side by side.
    const [ok, ackOk, entry, byPolicy, t, q, needEntry, withEntry, malformed, usage] = await Promise.all([
      candor(['verify-proof', file, ...trust, '--quorum', '2']),
      candor(['verify-proof', ackFileBundle, ...trust]),
      candor(['verify-proof', file, '--log-key', key.vkey, '--print-entry']),
      candor(['verify-proof', file, '--log-key', key.vkey, '--policy', policyFile]),
      // Tampered: another entry in the extra line.
      candor(['verify-proof', tampered, ...trust]),
      // A witness we trust did not cosign: a quorum of 3 cannot be met.
      candor(['verify-proof', file, ...trust, '--witness-key', stranger, '--quorum', '3']),
      // No entry in the bundle: the verifier must bring it.
      candor(['verify-proof', bareFile, '--log-key', key.vkey]),
      candor(['verify-proof', bareFile, '--log-key', key.vkey, '--entry', entryFile]),
      candor(['verify-proof', malformedFile, '--log-key', key.vkey]),
      candor(['verify-proof', file, '--log-key', key.vkey, '--quorum', '1']),
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^proof OK: entry 257 \(leaf hash \S+, 15 bytes\) is in bundles.candor.test\/log at tree size 300 \(root \S+\); cosigned by witness1.candor.test, witness2.candor.test \(policy: 2 of 2 witnesses\)\n$/,
    );
    expect(ackOk.stdout).toMatch(/^proof OK: entry 100 .* at tree size 151 .*cosigned by witness1.candor.test, witness2.candor.test/);
    expect(entry.stdout).toBe('audit event 257');
    expect(byPolicy.stdout).toMatch(/policy: group both: 2 of \[one, two\]/);
    expect(byPolicy.code).toBe(0);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/NOT VERIFIED: inclusion proof does not lead to the root/);
    expect(q.code).toBe(2);
    expect(q.stderr).toMatch(/cosigned by 2 of the trusted witnesses .*the policy needs 3 of 3 witnesses/);
    expect(needEntry.code).toBe(1);
    expect(needEntry.stderr).toMatch(/carries no entry/);
    expect(withEntry.code).toBe(0);
    // Malformed input and usage mistakes are a clear exit 1.
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/malformed proof bundle/);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/--quorum needs --witness-key/);
  });
});
