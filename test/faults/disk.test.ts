// A real full disk: the data directory is on an 8 MiB tmpfs this test mounts itself (it needs
// root, as CI has; elsewhere it is skipped, saying why). A file fills the filesystem; submissions
// get 503 + Retry-After, /readyz 503 and /healthz 200; the file is removed and the same process
// acknowledges again, /readyz is 200 again, and every acknowledged entry is in the log, before
// and after a restart. Without the store's reopen after a failed write (src/storage/level.ts
// #broken), LevelDB went on appending to its write-ahead log after the bytes it dropped: the 30
// entries acknowledged after the disk was freed were gone after the restart.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { portableHasher as H } from '@candor/core/hash';
import { verifyConsistency, verifyInclusion } from '@candor/core/merkle';
import { parseVerifierKey } from '@candor/core/note';
import { startTestLog } from '../helpers/log.js';

const mnt = mkdtempSync(join(tmpdir(), 'candor-fulldisk-'));
let mounted = false;
let why = '';
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { stdio: 'pipe' });
  mounted = true;
} catch (err) {
  why = `cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  console.warn(`test/faults/disk.test.ts skipped: ${why}`);
}
afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

interface Ack {
  index: number;
  checkpoint: string;
  inclusionProof: string[];
}

const add = (url: string, entry: Uint8Array) => fetch(`${url}/add`, { method: 'POST', body: entry, headers: { 'Content-Type': 'application/octet-stream' } });

/** Writes a file until the filesystem is full; returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}

describe.skipIf(!mounted)(`a full data filesystem${mounted ? '' : ` (skipped: ${why})`}`, () => {
  it('answers 503 while full, acknowledges again once space is freed, without a restart, and loses nothing', { timeout: 60_000 }, async () => {
    const data = join(mnt, 'data');
    mkdirSync(data);
    let log = await startTestLog({ data, origin: 'disk.example/log', publicEntries: true });
    const url = log.url;
    const verifiers = [parseVerifierKey(log.keys.vkeys[0]!)];
    const acked = new Map<number, Uint8Array>();
    const checkpoints: Checkpoint[] = [];
    const accept = async (entry: Uint8Array, res: Response) => {
      const ack = (await res.json()) as Ack;
      const cp = openCheckpoint(ack.checkpoint, verifiers, 'disk.example/log').checkpoint;
      verifyInclusion(H, ack.index, cp.size, H.leaf(entry), ack.inclusionProof.map((p) => fromBase64(p)), cp.root);
      expect(acked.has(ack.index)).toBe(false);
      acked.set(ack.index, entry);
      checkpoints.push(cp);
    };
    const entry = (tag: string, i: number) => utf8(`${tag} ${i} ${'x'.repeat(2000)}`);
    try {
      for (let i = 0; i < 50; i++) {
        const e = entry('before', i);
        const res = await add(url, e);
        expect(res.status).toBe(200);
        await accept(e, res);
      }

      const filler = fill(mnt);
      // Writes fail: each answered 503 + Retry-After, none acknowledged.
      let refused = 0;
      for (let i = 0; i < 200 && refused < 5; i++) {
        const e = entry('full', i);
        const res = await add(url, e);
        if (res.status === 200) {
          await accept(e, res); // LevelDB may still have had room in a block it had allocated
          continue;
        }
        expect(res.status).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
        refused++;
      }
      expect(refused).toBe(5);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const notReady = await fetch(`${url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(((await notReady.json()) as { reason: string }).reason).toMatch(/the last commit failed/);
      // Reads of what is committed are served while the disk is full.
      expect((await fetch(`${url}/entries?start=0&end=10`)).status).toBe(200);

      // Space is freed: the same process acknowledges again.
      rmSync(filler);
      let afterOk = 0;
      for (let i = 0; i < 30; i++) {
        const e = entry('after', i);
        const res = await add(url, e);
        expect(res.status, `submission ${i} after space was freed: ${res.status} ${await res.clone().text()}`).toBe(200);
        await accept(e, res);
        afterOk++;
      }
      expect(afterOk).toBe(30);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);

      const check = async (u: string) => {
        const now = checkpoints.at(-1)!;
        const page = (await (await fetch(`${u}/entries?start=0&end=${now.size}`)).json()) as { entries: { index: number; data: string }[] };
        expect(page.entries.length).toBe(acked.size);
        for (const e of page.entries) expect(e.data).toBe(toBase64(acked.get(e.index)!));
        for (const old of checkpoints.filter((_, i) => i % 10 === 0)) {
          const c = (await (await fetch(`${u}/proof/consistency?from=${old.size}&to=${now.size}`)).json()) as { proof: string[] };
          verifyConsistency(H, old.size, now.size, old.root, now.root, c.proof.map((x) => fromBase64(x)));
        }
      };
      await check(url);
      // And after a restart on the same directory.
      await log.close();
      log = await startTestLog({ data, origin: 'disk.example/log', publicEntries: true });
      await check(log.url);
    } finally {
      await log.close();
    }
  });
});
