// The witness store on a real disk: key file permissions and rotation, the LevelDB lock, log
// configuration, and per-origin serialization of state updates.
import { chmod, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CandorError } from '@candor/core/errors';
import { portableHasher } from '@candor/core/hash';
import { generateSignerKey, parseSignerKey, parseVerifierKey, SIG_COSIGNATURE_V1 } from '@candor/core/note';
import {
  KEY_FILE,
  WitnessStore,
  addWitnessKey,
  initWitnessKey,
  loadWitnessKeys,
  originHash,
  removeWitnessKey,
} from '../../src/witness/store.js';
import { tempDir } from './helpers.js';

const dirs: string[] = [];
const fresh = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err instanceof CandorError ? err.code : `not a CandorError: ${String(err)}`;
  }
  return 'resolved';
};

describe('witness keys', () => {
  it('init writes one cosignature/v1 key with mode 0600 and refuses to overwrite it', async () => {
    const dir = fresh();
    const vkey = await initWitnessKey(dir, 'witness.example.com/w1');
    expect((await stat(join(dir, KEY_FILE))).mode & 0o777).toBe(0o600);
    const keys = await loadWitnessKeys(dir);
    expect(keys.map((k) => k.vkey)).toEqual([vkey]);
    expect(keys[0]!.signer.keyId).toBe(parseInt(vkey.split('+')[1]!, 16));
    expect(parseVerifierKey(vkey)).toMatchObject({ name: 'witness.example.com/w1', type: SIG_COSIGNATURE_V1 });
    expect(await codeOf(initWitnessKey(dir, 'witness.example.com/w1'))).toBe('conflict');
    expect((await loadWitnessKeys(dir)).map((k) => k.vkey)).toEqual([vkey]);
  });

  it('refuses a key file readable by others, without printing the key', async () => {
    const dir = fresh();
    await initWitnessKey(dir, 'w.example');
    // PRIVATE+KEY+<name>+<id>+<base64>: the base64 may itself contain "+".
    const seed = (await readFile(join(dir, KEY_FILE), 'utf8')).trim().split('+').slice(4).join('+');
    expect(seed).toMatch(/^[A-Za-z0-9+/]{44}$/);
    await chmod(join(dir, KEY_FILE), 0o644);
    const err = await loadWitnessKeys(dir).catch((e: unknown) => e as CandorError);
    expect(err).toBeInstanceOf(CandorError);
    expect((err as CandorError).code).toBe('permission_denied');
    expect((err as Error).message).not.toContain(seed);
  });

  it('rotates: add a key, both cosign, remove the old one; the last key stays', async () => {
    const dir = fresh();
    const old = await initWitnessKey(dir, 'w.example');
    const next = await addWitnessKey(dir, 'w.example');
    expect((await loadWitnessKeys(dir)).map((k) => k.vkey)).toEqual([old, next]);
    expect((await stat(join(dir, KEY_FILE))).mode & 0o777).toBe(0o600);
    await removeWitnessKey(dir, old);
    expect((await loadWitnessKeys(dir)).map((k) => k.vkey)).toEqual([next]);
    expect(await codeOf(removeWitnessKey(dir, old))).toBe('not_found');
    expect(await codeOf(removeWitnessKey(dir, next))).toBe('invalid_argument');
  });

  it('reports a missing key file', async () => {
    expect(await codeOf(loadWitnessKeys(fresh()))).toBe('not_found');
  });
});

describe('WitnessStore', () => {
  it('is held by one process at a time (the LevelDB lock)', async () => {
    const dir = fresh();
    const a = await WitnessStore.open(dir);
    try {
      expect(await codeOf(WitnessStore.open(dir))).toBe('unavailable');
    } finally {
      await a.close();
    }
    const b = await WitnessStore.open(dir);
    await b.close();
  });

  it('configures logs: validates vkeys, replaces them without touching the state', async () => {
    const dir = fresh();
    const store = await WitnessStore.open(dir);
    try {
      const k1 = generateSignerKey('example.com/log');
      const k2 = generateSignerKey('example.com/log');
      const cosigner = parseSignerKey(k1.skey, { type: SIG_COSIGNATURE_V1 }).vkey;
      expect(await codeOf(store.addLog({ origin: 'example.com/log', vkeys: [] }))).toBe('invalid_argument');
      expect(await codeOf(store.addLog({ origin: 'example.com/log', vkeys: ['nope'] }))).toBe('invalid_argument');
      expect(await codeOf(store.addLog({ origin: 'example.com/log', vkeys: [cosigner] }))).toBe('invalid_argument');
      expect(await codeOf(store.addLog({ origin: 'example.com/log', vkeys: [k1.vkey, k1.vkey] }))).toBe('invalid_argument');
      expect(await codeOf(store.addLog({ origin: 'a\nb', vkeys: [k1.vkey] }))).toBe('invalid_argument');

      await store.addLog({ origin: 'example.com/log', vkeys: [k1.vkey] });
      expect(await store.getState('example.com/log')).toEqual({ size: 0, root: portableHasher.empty });
      await store.transact('example.com/log', async () => ({ result: null, state: { size: 3, root: new Uint8Array(32).fill(3), note: 'n' } }));
      await store.addLog({ origin: 'example.com/log', vkeys: [k1.vkey, k2.vkey] });
      expect(await store.getLog('example.com/log')).toEqual({ origin: 'example.com/log', vkeys: [k1.vkey, k2.vkey] });
      expect((await store.getState('example.com/log')).size).toBe(3);
      expect(await store.originByHash(originHash('example.com/log'))).toBe('example.com/log');
      expect(await store.originByHash(originHash('example.com/other'))).toBeUndefined();
      expect((await store.listLogs()).map((l) => [l.origin, l.state.size])).toEqual([['example.com/log', 3]]);
    } finally {
      await store.close();
    }
  });

  it('serializes transactions per origin: each sees the state the previous one wrote', async () => {
    const dir = fresh();
    const store = await WitnessStore.open(dir);
    try {
      const bump = (origin: string) =>
        store.transact(origin, async (s) => {
          // Yield in the middle, so interleaving would lose updates.
          await new Promise((r) => setTimeout(r, 1));
          return { result: s.size, state: { size: s.size + 1, root: s.root } };
        });
      const seen = await Promise.all([...Array.from({ length: 20 }, () => bump('a')), ...Array.from({ length: 5 }, () => bump('b'))]);
      expect(seen.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(seen.slice(20)).toEqual([0, 1, 2, 3, 4]);
      expect((await store.getState('a')).size).toBe(20);
      // A failing transaction writes nothing and does not block the next one.
      await expect(store.transact('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(await bump('a')).toBe(20);
    } finally {
      await store.close();
    }
  });
});
