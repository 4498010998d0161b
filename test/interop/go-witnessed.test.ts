/**
 * Interop: checkpoints cosigned by Candor's witness, collected by Candor's log-side witnessing,
 * verified by golang.org/x/mod's sumdb/note (test/interop/go/main.go, with its cosignature/v1
 * verifier) against a real log on 127.0.0.1 with two real witnesses: the published checkpoint,
 * the checkpoint of a witnessed acknowledgement, and the witness's own monitoring checkpoint.
 *
 * Skipped only when Go or Debian's x/mod source is missing. The build is offline.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originHash } from '../../src/witness/store.js';
import { buildInterop, exec, hasGo } from './go.js';
import { getCheckpoint, logKey, post, startWitnessedLog, startWitnesses, strayWitnessKey, waitFor, type RunningWitness, type TestLog } from '../witnessing/helpers.js';

describe.skipIf(!hasGo)('golang.org/x/mod verifies checkpoints cosigned by Candor witnesses', () => {
  const origin = 'gowitnessed.candor.test/log';
  let work = '';
  let bin = '';
  let log: TestLog;
  let witnesses: Array<RunningWitness & { ref: { name: string; vkey: string; url: string } }> = [];
  let vkey = '';
  let ackNote = '';

  beforeAll(async () => {
    ({ work, bin } = await buildInterop('candor-go-witnessed-'));

    const key = logKey(origin);
    vkey = key.vkey;
    witnesses = await startWitnesses(2, origin, vkey);
    log = await startWitnessedLog({ origin, dir: key.dir, witnesses: witnesses.map((w) => w.ref), quorum: 2, publish: 'after', publicEntries: true }); // Go's checker reads entries anonymously
    // Through a full tile and into a partial one, with a witnessed ack in the middle.
    await Promise.all(Array.from({ length: 150 }, (_, i) => post(log.url, `go interop ${i}`)));
    const ack = await post(log.url, 'go interop witnessed', '?witnessed=1');
    if (ack.status !== 200) throw new Error(`witnessed ack: ${ack.status} ${JSON.stringify(ack.body)}`);
    ackNote = ack.body.checkpoint;
    await Promise.all(Array.from({ length: 148 }, (_, i) => post(log.url, `go interop later ${i}`)));
    await post(log.url, 'go interop last', '?witnessed=1');
    await waitFor('/checkpoint at size 300', async () => (await getCheckpoint(log.url)).size === 300);
  }, 60_000);

  afterAll(async () => {
    await log?.cleanup();
    for (const w of witnesses) await w.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const verify = (extra: string[]) => exec(bin, ['-url', log.url, '-vkey', vkey, '-samples', '8', ...extra], { timeoutMs: 20_000 });
  const witnessArgs = () => witnesses.flatMap((w) => ['-witness-vkey', w.vkeys[0]!]);
  const save = (name: string, note: string) => {
    const f = join(work, name);
    writeFileSync(f, note);
    return f;
  };

  it('the published checkpoint, with both cosignatures', async () => {
    const r = await verify(witnessArgs());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^candor-interop OK: .* size=300 .*cosignatures=2/);
  });

  it('the checkpoint of a witnessed acknowledgement, alone and as a prefix of the latest', async () => {
    const file = save('ack-checkpoint', ackNote);
    const r = await verify([...witnessArgs(), '-checkpoint', file]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^candor-interop OK: .*cosignatures=2/);
    const old = await verify([...witnessArgs(), '-old-checkpoint', file]);
    expect(old.code, old.stderr).toBe(0);
    expect(old.stdout).toContain('old-checkpoint=1');
  });

  it("each witness's own monitoring checkpoint", async () => {
    for (const w of witnesses) {
      const got = await w.get(`/${originHash(origin)}/checkpoint`);
      expect(got.status).toBe(200);
      const r = await verify(['-witness-vkey', w.vkeys[0]!, '-checkpoint', save(`witness-${w.ref.name}`, got.body)]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^candor-interop OK: .* size=300 .*cosignatures=1/);
    }
  });

  it('fails for a witness that did not cosign, and for a cosignature altered in transit', async () => {
    const stranger = await verify([...witnessArgs(), '-witness-vkey', strayWitnessKey('stranger.candor.test').vkey]);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/FAIL cosignature: no cosignature\/v1 by witness stranger.candor.test/);
    const note = (await getCheckpoint(log.url)).note;
    const lines = note.split('\n');
    const i = lines.findIndex((l) => l.startsWith('— witness2.candor.test '));
    lines[i] = lines[i]!.replace(/.{8}$/, (s) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1));
    const bad = await verify([...witnessArgs(), '-checkpoint', save('altered', lines.join('\n'))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/FAIL checkpoint \S+altered signature: note.Open .*invalid signature for key witness2.candor.test/);
  });
});
