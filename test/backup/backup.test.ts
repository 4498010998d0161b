// Backup and restore as the operator runs them (docs/operations.md, "Backup and restore"): real
// `candor serve` processes on real LevelDB stores, the `candor backup` and `candor restore` CLIs.
// A backup of a running log (through its admin listener) falls behind while the log publishes
// more; restore catches it up from a verified copy (the log's read side, a directory of tiles)
// to the published checkpoint's root, and the restored log starts and extends that tree. A copy
// that stops short is refused, naming both sizes, and leaves no data directory behind.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '@candor/core/bytes';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { parseNote } from '@candor/core/note';
import { ENTRIES, TILE_WIDTH, decodeBundle, encodeBundle, tilePath } from '@candor/core/tile';
import { CLI, spawnServing, tempDir, type ServingProcess } from '../helpers/server.js';
import { addLogReader } from '../helpers/auditors.js';

const dirs: string[] = [];
const procs: ServingProcess[] = [];
afterAll(async () => {
  for (const p of procs) await p.kill().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = tempDir('candor-backup-');
  dirs.push(d);
  return d;
}

/** Runs the built CLI; resolves with its exit code and output (bounded). */
function candor(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`candor ${args[0]} did not finish in 30 s:\n${out}${err}`));
    }, 30_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

async function serve(data: string, admin = false): Promise<ServingProcess & { admin?: string }> {
  const p = await spawnServing(['serve', '--data', data, '--http', '127.0.0.1:0', '--origin', 'backup.test/log', ...(admin ? ['--admin', '127.0.0.1:0'] : [])], { what: 'log' });
  procs.push(p);
  const m = /admin\s+(http:\/\/[^\s/]+)/.exec(p.output());
  return Object.assign(p, admin ? { admin: m![1]! } : {});
}

/** Appends entries [from, to) through POST /add, a few at a time. */
async function add(url: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 32) {
    await Promise.all(
      Array.from({ length: Math.min(32, to - i) }, async (_, j) => {
        const res = await fetch(`${url}/add`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: utf8(`entry ${i + j}`), signal: AbortSignal.timeout(10_000) });
        expect(res.status).toBe(200);
      }),
    );
  }
}

async function checkpoint(url: string): Promise<{ note: string; size: number; root: string }> {
  const note = await (await fetch(`${url}/checkpoint`)).text();
  const cp = parseCheckpoint(parseNote(note).text);
  return { note, size: cp.size, root: Buffer.from(cp.root).toString('base64') };
}

/** A mirror of the log as it is now, in tlog-tiles layout: its checkpoint and every entry bundle. */
async function mirror(url: string, token: string, dir: string): Promise<number> {
  const cp = await checkpoint(url);
  writeFileSync(join(dir, 'checkpoint'), cp.note);
  for (let b = 0; b * TILE_WIDTH < cp.size; b++) {
    const width = Math.min(TILE_WIDTH, cp.size - b * TILE_WIDTH);
    const path = tilePath({ level: ENTRIES, index: b, width });
    const res = await fetch(`${url}/${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), new Uint8Array(await res.arrayBuffer()));
  }
  return cp.size;
}

describe('candor backup and candor restore', () => {
  let data: string;
  let backup: string;
  let log: ServingProcess & { admin?: string };
  let token: string;
  /** The published checkpoint the log reached after the backup. */
  let published: { note: string; size: number; root: string };
  let noteFile: string;
  /** A mirror made part-way: it stops short of the published size. */
  let shortMirror: string;
  let shortSize: number;

  beforeAll(async () => {
    data = scratch();
    backup = join(scratch(), 'backup');
    token = addLogReader(data);
    log = await serve(data, true);
    await add(log.url, 0, 300);
  });

  it('backs up a running log through its admin listener, at the size its store held', async () => {
    const r = await candor(['backup', '--admin', log.admin!, '--out', backup]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/backup of "backup.test\/log" at tree size 300 written to/);
    const manifest = JSON.parse(readFileSync(join(backup, 'backup.json'), 'utf8')) as { size: number; checkpoint: string; contents: string[] };
    expect(manifest.size).toBe(300);
    expect(manifest.contents).toEqual(expect.arrayContaining(['db', 'auditors.json', 'log.key', 'log.vkey']));
    expect(existsSync(join(backup, 'idempotency'))).toBe(false);
    // The stopped-log path refuses a running log's locked store, and says how to do it instead.
    const locked = await candor(['backup', '--data', data, '--out', join(scratch(), 'b2')]);
    expect(locked.code).toBe(1);
    expect(locked.err).toMatch(/is in use: the log is running. Back it up through its admin listener/);
    // The log went on publishing; a mirror made part-way, then a checkpoint seen by the world.
    await add(log.url, 300, 450);
    shortMirror = scratch();
    shortSize = await mirror(log.url, token, shortMirror);
    expect(shortSize).toBe(450);
    await add(log.url, 450, 700);
    published = await checkpoint(log.url);
    expect(published.size).toBe(700);
    noteFile = join(scratch(), 'published.checkpoint');
    writeFileSync(noteFile, published.note);
  });

  it('refuses to restore behind a published checkpoint without a copy, or from a copy that stops short, and leaves nothing', async () => {
    const target = join(scratch(), 'restored');
    let r = await candor(['restore', '--from', backup, '--data', target, '--checkpoint', noteFile]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the backup holds size 300, but the checkpoint in .* shows that this log has published size 700: .* Catch up with --catch-up/);
    expect(existsSync(target)).toBe(false);

    r = await candor(['restore', '--from', backup, '--data', target, '--checkpoint', noteFile, '--catch-up', shortMirror]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the catch-up copy .* reaches size 450, but the checkpoint in .* shows that this log has published size 700/);
    expect(existsSync(target)).toBe(false);

    // A witness's size alone (no checkpoint) is refused the same way.
    r = await candor(['restore', '--from', backup, '--data', target, '--size', '701', '--catch-up', log.url, '--token', token]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/reaches size 700, but --size shows that this log has published size 701/);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses a copy whose entries do not make the root its checkpoint signs', async () => {
    const forged = scratch();
    cpSync(shortMirror, forged, { recursive: true });
    // One entry past the backup changed: its bundle still decodes, its checkpoint still verifies.
    const path = join(forged, tilePath({ level: ENTRIES, index: 1, width: 450 - TILE_WIDTH }));
    const entries = decodeBundle(readFileSync(path));
    entries[100] = utf8('not what the log published');
    writeFileSync(path, encodeBundle(entries));
    const target = join(scratch(), 'restored');
    const r = await candor(['restore', '--from', backup, '--data', target, '--catch-up', forged]);
    expect(r.code).toBe(2); // verification_failed, as for every CLI command
    expect(r.err).toMatch(/the entries of the catch-up copy .* give root .* for size 450, but its checkpoint, signed by this log, says/);
    expect(existsSync(target)).toBe(false);
  });

  it('catches up from a directory of tiles to its signed root', async () => {
    const target = join(scratch(), 'restored');
    const r = await candor(['restore', '--from', backup, '--data', target, '--catch-up', shortMirror]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/tree size +450 \(150 entries caught up/);
    const fsck = await candor(['fsck', '--data', target]);
    expect(fsck.out).toMatch(/fsck OK: size 450/);
  });

  it('restores from the log read side, to the published root, and the restored log starts and extends that tree', async () => {
    const target = join(scratch(), 'restored');
    const r = await candor(['restore', '--from', backup, '--data', target, '--checkpoint', noteFile, '--catch-up', log.url, '--token', token]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/tree size +700 \(400 entries caught up/);
    const entries = async (url: string) => (await fetch(`${url}/entries?start=640&end=660`, { headers: { authorization: `Bearer ${token}` } })).text();
    const original = await entries(log.url);
    await log.stop();

    const restored = await serve(target);
    const cp = await checkpoint(restored.url);
    expect(cp).toEqual(published);
    await add(restored.url, 700, 705);
    const after = await checkpoint(restored.url);
    expect(after.size).toBe(705);
    // The new tree extends the published one: a consistency proof checked by the CLI.
    const v = await candor(['verify', 'consistency', '--url', restored.url, '--log-key-file', join(target, 'log.vkey'), '--old', noteFile]);
    expect(v.out).toMatch(/consistency OK: size 700 -> 705/);
    // The caught-up entries read back as the log published them.
    expect(original).toContain('"index":640');
    expect(await entries(restored.url)).toBe(original);
    await restored.stop();

    // A stopped log is backed up from its data directory, and restores without a copy to catch up from.
    const again = join(scratch(), 'backup');
    const b = await candor(['backup', '--data', target, '--out', again]);
    expect(b.out).toMatch(/at tree size 705 written/);
    const back = join(scratch(), 'restored');
    const r2 = await candor(['restore', '--from', again, '--data', back]);
    expect(r2.out).toMatch(/tree size +705\n/);
    expect((await candor(['fsck', '--data', back])).out).toMatch(/fsck OK: size 705/);
  });
});
