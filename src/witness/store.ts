/**
 * The witness's own state, in its data directory:
 *   witness.key   the witness signer keys, x/mod PRIVATE+KEY lines, mode 0600
 *   db/           a LevelDB (classic-level) holding, per origin, the log's verifier keys and the
 *                 latest checkpoint this witness cosigned
 *
 * c2sp.org/tlog-witness §add-checkpoint requires the new state to be persisted before the
 * cosignature is returned, and the old-size check and the update to be atomic (otherwise two
 * racing requests could both pass the check and roll the state back). `transact` provides both:
 * it serializes per origin within the process, LevelDB's lock file keeps other processes out, and
 * every state write is a synchronous (fsynced) put.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { ClassicLevel } from 'classic-level';
import { fromBase64, toBase64, toHex, utf8 } from '@candor/core/bytes';
import { CandorError, invalid } from '@candor/core/errors';
import { portableHasher } from '@candor/core/hash';
import { nodeEd25519 } from '../crypto/node.js';
import {
  SIG_COSIGNATURE_V1,
  SIG_ED25519,
  generateSignerKey,
  parseSignerKey,
  parseVerifierKey,
  type SignerKey,
} from '@candor/core/note';

export const KEY_FILE = 'witness.key';
const DB_DIR = 'db';

/** A log the witness is configured to witness. */
export interface LogConfig {
  origin: string;
  /** Verifier keys of the log; a checkpoint needs a valid signature by at least one. */
  vkeys: string[];
}

/** The latest checkpoint this witness cosigned for an origin (size 0, empty root if none). */
export interface CosignedState {
  size: number;
  root: Uint8Array;
  /** The checkpoint with the log signatures it verified and the witness cosignatures. */
  note?: string;
}

interface StoredState {
  size: number;
  root: string;
  note?: string;
}

const CONFIG = 'config\u0000';
const STATE = 'state\u0000';
const BY_HASH = 'originhash\u0000';

/** Lowercase hex SHA-256 of the origin: the path component of tlog-witness monitoring URLs. */
export function originHash(origin: string): string {
  return toHex(sha256(utf8(origin)));
}

export class WitnessStore {
  readonly #db: ClassicLevel<string, string>;
  readonly #queues = new Map<string, Promise<void>>();
  readonly #pending: { key: string; value: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  #flushing: Promise<void> | undefined;

  private constructor(db: ClassicLevel<string, string>) {
    this.#db = db;
  }

  /** Opens (creating if needed) the store under `dir`; fails if another process holds it. */
  static async open(dir: string): Promise<WitnessStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const db = new ClassicLevel<string, string>(join(dir, DB_DIR), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (err) {
      const locked = (err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED';
      throw new CandorError(
        'unavailable',
        locked ? `witness store ${dir} is in use by another process` : `cannot open witness store ${dir}`,
        { cause: err },
      );
    }
    return new WitnessStore(db);
  }

  async close(): Promise<void> {
    await Promise.all(this.#queues.values());
    await this.#db.close();
  }

  /**
   * Adds a log, or replaces its verifier keys (a log key rotation); its cosigned state is kept.
   * Each key must parse, and no two may share a name and key ID (note verification would be
   * ambiguous).
   */
  async addLog(config: LogConfig): Promise<void> {
    if (config.origin === '' || /[\u0000-\u001f]/.test(config.origin)) throw invalid('origin must be a non-empty line');
    if (config.vkeys.length === 0) throw invalid('a log needs at least one verifier key');
    const ids = new Set<string>();
    for (const vkey of config.vkeys) {
      const v = parseVerifierKey(vkey);
      if (v.type !== SIG_ED25519) throw invalid(`vkey ${vkey} is not an Ed25519 (type 0x01) log key`);
      const id = `${v.name}+${v.keyId}`;
      if (ids.has(id)) throw invalid(`vkey ${vkey} repeats a key name and ID`);
      ids.add(id);
    }
    const value: LogConfig = { origin: config.origin, vkeys: config.vkeys.map((k) => k.trim()) };
    await this.#db.batch(
      [
        { type: 'put', key: CONFIG + config.origin, value: JSON.stringify(value) },
        { type: 'put', key: BY_HASH + originHash(config.origin), value: config.origin },
      ],
      { sync: true },
    );
  }

  async getLog(origin: string): Promise<LogConfig | undefined> {
    const v = await this.#db.get(CONFIG + origin);
    return v === undefined ? undefined : (JSON.parse(v) as LogConfig);
  }

  /** The origin whose SHA-256 is `hash` (lowercase hex), if it is configured. */
  async originByHash(hash: string): Promise<string | undefined> {
    return this.#db.get(BY_HASH + hash);
  }

  async listLogs(): Promise<Array<LogConfig & { state: CosignedState }>> {
    const out: Array<LogConfig & { state: CosignedState }> = [];
    for await (const [, value] of this.#db.iterator({ gte: CONFIG, lt: 'config\u0001' })) {
      const config = JSON.parse(value) as LogConfig;
      out.push({ ...config, state: await this.getState(config.origin) });
    }
    return out;
  }

  async getState(origin: string): Promise<CosignedState> {
    const v = await this.#db.get(STATE + origin);
    if (v === undefined) return { size: 0, root: portableHasher.empty };
    const s = JSON.parse(v) as StoredState;
    return { size: s.size, root: fromBase64(s.root, 'stored root'), ...(s.note === undefined ? {} : { note: s.note }) };
  }

  /**
   * Writes durably (synced) before resolving. Writes that arrive while a synced write is in
   * flight go together in the next one (group commit), so a witness serving many logs pays one
   * fsync per batch of answers, not one per answer. Each origin has at most one write pending
   * (transactions on an origin run one at a time), so a batch never holds two states for one log.
   */
  #write(key: string, value: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ key, value, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      try {
        await this.#db.batch(
          batch.map((w) => ({ type: 'put' as const, key: w.key, value: w.value })),
          { sync: true },
        );
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.#flushing = undefined;
  }

  /**
   * Runs `fn` on the origin's current state with no other transaction for that origin running,
   * and durably stores the state it returns (if any) before resolving. This is the only way the
   * cosigned state changes.
   */
  async transact<T>(origin: string, fn: (state: CosignedState) => Promise<{ result: T; state?: CosignedState }>): Promise<T> {
    const previous = this.#queues.get(origin) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.#queues.set(origin, mine);
    await previous;
    try {
      const { result, state } = await fn(await this.getState(origin));
      if (state !== undefined) {
        const stored: StoredState = { size: state.size, root: toBase64(state.root), ...(state.note === undefined ? {} : { note: state.note }) };
        await this.#write(STATE + origin, JSON.stringify(stored));
      }
      return result;
    } finally {
      if (this.#queues.get(origin) === mine) this.#queues.delete(origin);
      done();
    }
  }
}

// --- witness signer keys -------------------------------------------------------------------------

/**
 * The witness's cosignature/v1 signers from `<dir>/witness.key`, one PRIVATE+KEY line each. Several
 * keys cosign side by side, so a key can be rotated without a gap. The file must not be readable
 * by group or others.
 */
export async function loadWitnessKeys(dir: string, now?: () => number): Promise<SignerKey[]> {
  const path = join(dir, KEY_FILE);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new CandorError('not_found', `no witness key in ${dir}: run "witness init" first`);
  }
  if ((info.mode & 0o077) !== 0) throw new CandorError('permission_denied', `${path} must not be accessible by group or others (chmod 600)`);
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw invalid(`${path} holds no key`);
  // The key text is never put in an error message: only its line number.
  return lines.map((line, i) => {
    try {
      return parseSignerKey(line, { type: SIG_COSIGNATURE_V1, crypto: nodeEd25519, ...(now === undefined ? {} : { now }) });
    } catch {
      throw invalid(`${path} line ${i + 1} is not a valid signer key`);
    }
  });
}

/** Creates the first witness key; fails if the data dir already has one. Returns its vkey. */
export async function initWitnessKey(dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { skey } = generateSignerKey(name);
  await writeKeyFile(dir, [skey], true);
  return parseSignerKey(skey, { type: SIG_COSIGNATURE_V1 }).vkey;
}

/** Adds a witness key next to the existing ones (first step of a rotation). Returns its vkey. */
export async function addWitnessKey(dir: string, name: string): Promise<string> {
  const existing = await readKeyLines(dir);
  const { skey } = generateSignerKey(name);
  await writeKeyFile(dir, [...existing, skey], false);
  return parseSignerKey(skey, { type: SIG_COSIGNATURE_V1 }).vkey;
}

/** Removes the witness key with this cosignature/v1 vkey (last step of a rotation). */
export async function removeWitnessKey(dir: string, vkey: string): Promise<void> {
  const existing = await readKeyLines(dir);
  const kept = existing.filter((line) => parseSignerKey(line, { type: SIG_COSIGNATURE_V1 }).vkey !== vkey.trim());
  if (kept.length === existing.length) throw new CandorError('not_found', `no witness key has vkey ${vkey}`);
  if (kept.length === 0) throw invalid('cannot remove the last witness key');
  await writeKeyFile(dir, kept, false);
}

async function readKeyLines(dir: string): Promise<string[]> {
  await loadWitnessKeys(dir);
  return (await readFile(join(dir, KEY_FILE), 'utf8')).split('\n').filter((l) => l.trim() !== '');
}

/** Writes the key file with mode 0600 via a fsynced temporary file and a rename, so a crash leaves the old or the new file. */
async function writeKeyFile(dir: string, skeys: string[], exclusive: boolean): Promise<void> {
  const path = join(dir, KEY_FILE);
  if (exclusive) {
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new CandorError('conflict', `${path} already exists`);
  }
  const tmp = join(dir, `.${KEY_FILE}.${randomBytes(6).toString('hex')}`);
  const f = await open(tmp, 'wx', 0o600);
  try {
    await f.chmod(0o600);
    await f.writeFile(skeys.map((k) => `${k}\n`).join(''));
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
  await chmod(path, 0o600);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
