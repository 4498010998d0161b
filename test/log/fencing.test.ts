// Fencing (docs/fencing.md): a commit names the checkpoint it extends; a node that learns another
// writer moved the tree, or that the log published past its store, stops sequencing. Each test
// here was checked to fail with its mechanism removed (the store's `previous` check, the
// sequencer's step-down, the start-up checks).
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '@candor/core/bytes';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '@candor/core/note';
import { nodeHasher } from '../../src/crypto/node.js';
import { Sequencer } from '../../src/log/sequencer.js';
import { LevelStore } from '../../src/storage/level.js';
import { FencedError, type LogStore } from '../../src/storage/store.js';
import { tempDir } from '../helpers/server.js';

const ORIGIN = 'test.example/fence';
const key = generateSignerKey(ORIGIN);
const signer = parseSignerKey(key.skey).signer;
const verifier = parseVerifierKey(key.vkey);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(store: LogStore): Promise<Sequencer> {
  return Sequencer.open({ origin: ORIGIN, signers: [signer], verifiers: [verifier], hasher: nodeHasher, store });
}

async function fresh(): Promise<{ dir: string; store: LevelStore }> {
  const dir = tempDir();
  dirs.push(dir);
  return { dir, store: await LevelStore.open(join(dir, 'db')) };
}

const sizeOf = (note: string) => parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1)).size;

describe('fencing', () => {
  it('a store refuses a commit that does not extend its checkpoint, and writes nothing', async () => {
    const { store } = await fresh();
    const a = await open(store);
    await a.submit(utf8('one'));
    const before = await store.readCheckpoint();
    await expect(store.commit({ previous: undefined, start: 1, entries: [utf8('x')], tiles: [], leafIndex: [], checkpoint: 'forged' })).rejects.toBeInstanceOf(FencedError);
    expect(await store.readCheckpoint()).toBe(before);
    expect(await store.storedEntries()).toBe(1);
    await a.close();
    await store.close();
  });

  it('of two sequencers on one store, the second to commit steps down and never signs on top of the other', async () => {
    const { store } = await fresh();
    const a = await open(store);
    await a.submit(utf8('base'));
    const b = await open(store);
    const fenced = new Promise((r) => b.once('fenced', r));
    const ackA = await a.submit(utf8('from a'));
    // b prepared its batch on size 1 too: its commit must be refused, not rebuilt on a's tree.
    await expect(b.submit(utf8('from b'))).rejects.toThrow(/does not sequence: the store holds the checkpoint of size 2, not the checkpoint of size 1/);
    await fenced;
    expect(b.fenced).toBeDefined();
    await expect(b.submit(utf8('later'))).rejects.toThrow(/does not sequence/);
    expect(await store.readCheckpoint()).toBe(ackA.checkpoint);
    // a goes on undisturbed.
    const next = await a.submit(utf8('a again'));
    expect(next.index).toBe(2);
    await a.close();
    await b.close();
    await store.close();
  });

  it('start-up refuses a store whose checkpoint was rewound to an earlier one of its own', async () => {
    const { dir, store } = await fresh();
    const seq = await open(store);
    const early = (await seq.submit(utf8('e0'))).checkpoint;
    for (let i = 1; i < 300; i++) await seq.submit(utf8(`e${i}`));
    await seq.close();
    // The insider's edit: put back an earlier, validly signed checkpoint.
    await store.commit({ previous: await store.readCheckpoint(), start: 300, entries: [], tiles: [], leafIndex: [], checkpoint: early });
    await store.close();
    const again = await LevelStore.open(join(dir, 'db'));
    await expect(open(again)).rejects.toThrow(/refusing to start: the store holds 300 entries but its checkpoint's tree size is 1/);
    await again.close();
  });

  it('a client showing a larger checkpoint of this log makes a restored log refuse to sequence, also after a restart', async () => {
    const { dir, store } = await fresh();
    const seq = await open(store);
    for (let i = 0; i < 5; i++) await seq.submit(utf8(`before ${i}`));
    await seq.close();
    await store.close();
    const backup = `${dir}-backup`;
    dirs.push(backup);
    cpSync(dir, backup, { recursive: true });

    // The log goes on after the backup; a client keeps the last checkpoint it was given.
    const live = await LevelStore.open(join(dir, 'db'));
    const seq2 = await open(live);
    let held = '';
    for (let i = 0; i < 5; i++) held = (await seq2.submit(utf8(`after ${i}`))).checkpoint;
    expect(sizeOf(held)).toBe(10);
    await seq2.close();
    await live.close();

    // Yesterday's backup is restored: consistent with itself, behind what was published.
    rmSync(dir, { recursive: true, force: true });
    cpSync(backup, dir, { recursive: true });
    const restored = await LevelStore.open(join(dir, 'db'));
    const seq3 = await open(restored);
    expect(seq3.size).toBe(5);
    await seq3.observeCheckpoint(held, 'a gateway');
    expect(seq3.fenced?.message).toMatch(/a gateway showed that this log has published a tree of size 10, but its store holds only size 5/);
    await expect(seq3.submit(utf8('would fork'))).rejects.toThrow(/does not sequence/);
    await seq3.close();
    expect(sizeOf((await restored.readCheckpoint())!)).toBe(5);
    await restored.close();

    // The evidence is kept: a restart refuses too, without the client.
    const reopened = await LevelStore.open(join(dir, 'db'));
    await expect(open(reopened)).rejects.toThrow(/refusing to start: a gateway showed that this log has published a tree of size 10/);
    await reopened.close();
  });

  it('refuses a client checkpoint this log did not sign, as the client mistake it is, and keeps sequencing', async () => {
    const { store } = await fresh();
    const seq = await open(store);
    await seq.submit(utf8('x'));
    const other = generateSignerKey(ORIGIN);
    const { signNote } = await import('@candor/core/note');
    const forged = signNote(`${ORIGIN}\n99\n${Buffer.alloc(32).toString('base64')}\n`, [parseSignerKey(other.skey).signer]);
    await expect(seq.observeCheckpoint(forged)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(seq.observeCheckpoint('not a note')).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(seq.fenced).toBeUndefined();
    expect((await seq.submit(utf8('y'))).index).toBe(1);
    await seq.close();
    await store.close();
  });

  it('a witness that cosigned a larger size makes the log step down', async () => {
    const { store } = await fresh();
    const seq = await open(store);
    await seq.submit(utf8('x'));
    await seq.observeSize(7, 'witness w1');
    expect(seq.fenced?.message).toMatch(/witness w1 showed that this log has published a tree of size 7, but its store holds only size 1/);
    expect((await store.readAhead())?.size).toBe(7);
    await seq.close();
    await store.close();
  });
});
