// Damaged entries in a real LevelDB store (what a bit flip in a table file, or a write-ahead log
// record LevelDB drops as damaged, leaves). Start-up reads back the last entry bundle its
// checkpoint covers and refuses, naming the entry, when one is missing, undecodable or does not
// hash to its leaf; a read of a damaged entry elsewhere answers a data_loss error naming the
// entries, and the rest of the log is served.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { utf8 } from '@candor/core/bytes';
import { startTestLog } from '../helpers/log.js';
import { tempDir } from '../helpers/server.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const config = (data: string) => ({ data, origin: 'damaged.example/log', publicEntries: true });

/** A stopped log of 300 entries, each committed alone (so entry i is the run stored at key e<i>). */
async function written(): Promise<string> {
  const dir = tempDir();
  dirs.push(dir);
  const log = await startTestLog(config(dir));
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`${log.url}/add`, { method: 'POST', body: utf8(`entry ${i}`), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(r.status).toBe(200);
  }
  await log.close();
  return dir;
}

const runKey = (index: number) => {
  const k = new Uint8Array(9);
  k[0] = 0x65; // "e"
  new DataView(k.buffer).setBigUint64(1, BigInt(index));
  return k;
};

/** Changes the stored run of entry `index` (undefined: deletes it). */
async function damage(dir: string, index: number, edit: ((run: Uint8Array) => void) | undefined): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const run = await db.get(runKey(index));
  expect(run, `run of entry ${index}`).toBeDefined();
  if (edit) {
    const changed = Uint8Array.from(run!);
    edit(changed);
    await db.put(runKey(index), changed);
  } else await db.del(runKey(index));
  await db.close();
}

describe('damaged entries', () => {
  it('start-up refuses when the last bundle holds an entry that does not hash to its leaf', { timeout: 30_000 }, async () => {
    const dir = await written();
    await damage(dir, 290, (run) => (run[4]! ^= 0x01)); // a bit of the entry's bytes
    await expect(startTestLog(config(dir))).rejects.toThrow(/refusing to start: entry 290 does not hash to its leaf in tile 0\/1; the store is damaged/);
  });

  it('start-up refuses when the last bundle cannot be read, naming the entries', { timeout: 30_000 }, async () => {
    const dir = await written();
    await damage(dir, 295, (run) => (run[0]! ^= 0x80)); // the length prefix: the run no longer decodes
    await expect(startTestLog(config(dir))).rejects.toThrow(/refusing to start: the last entries its checkpoint covers, \[256, 300\), cannot be read: .*entries \[256, 300\)/);
    const dir2 = await written();
    await damage(dir2, 299, undefined); // a dropped record
    await expect(startTestLog(config(dir2))).rejects.toThrow(/refusing to start: .*missing entr/);
  });

  it('a read of a damaged entry answers data_loss naming it; the rest is served', { timeout: 30_000 }, async () => {
    const dir = await written();
    await damage(dir, 100, undefined);
    const log = await startTestLog(config(dir));
    try {
      const res = await fetch(`${log.url}/entries?start=96&end=104`);
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('data_loss');
      expect(body.error.message).toMatch(/the log store is damaged: .*\[96, 104\)/);
      const bad = await fetch(`${log.url}/entries?start=100&end=101`);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/missing entries in \[100, 101\)/);
      expect((await fetch(`${log.url}/entries?start=0&end=100`)).status).toBe(200);
      expect((await fetch(`${log.url}/entries?start=101&end=300`)).status).toBe(200);
      // A run that no longer decodes is data_loss too, not the client's invalid_argument.
      await log.close();
      await damage(dir, 150, (run) => (run[0]! ^= 0x80));
      const again = await startTestLog(config(dir));
      try {
        const r = await fetch(`${again.url}/entries?start=150&end=151`);
        expect(r.status).toBe(500);
        expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'data_loss', message: expect.stringMatching(/entries \[150, 151\) cannot be read \(entry bundle is truncated\)/) });
      } finally {
        await again.close();
      }
    } finally {
      await log.close();
    }
  });
});
