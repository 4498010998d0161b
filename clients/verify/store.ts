/**
 * The auditor's own state, in its data directory (a classic-level store, so a second auditor on
 * the same directory is refused by LevelDB's lock, and every write is synced):
 *   origin       the log this directory follows; a directory never changes logs
 *   checkpoint   the last checkpoint verified (log signature, witness policy, consistency with the
 *                one before): the reference every new checkpoint is checked against
 *   audit        how far the full audit got: a resume point and the hashes needed to go on from it
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { CandorError } from '@candor/core/errors';

/**
 * Full-audit progress. Everything below `next` (a multiple of 256) was downloaded and recomputed;
 * `range` is the compact range of [0, next) and `rows[L]` the level-L hashes (L >= 1) computed so
 * far for the level-L tile still being filled, all base64.
 */
export interface AuditProgress {
  next: number;
  range: string[];
  rows: string[][];
  /** The size of the last completed audit and its root. */
  audited?: number;
  auditedRoot?: string;
}

export class AuditorStore {
  readonly #db: ClassicLevel<string, string>;

  private constructor(db: ClassicLevel<string, string>) {
    this.#db = db;
  }

  static async open(dir: string): Promise<AuditorStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const db = new ClassicLevel<string, string>(join(dir, 'state'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (err) {
      const locked = (err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED';
      throw new CandorError('unavailable', locked ? `auditor data dir ${dir} is in use by another process` : `cannot open auditor data dir ${dir}`, { cause: err });
    }
    return new AuditorStore(db);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  async #get(key: string): Promise<string | undefined> {
    return (await this.#db.get(key)) ?? undefined;
  }

  /** Binds the directory to an origin on first use; refuses another origin afterwards. */
  async bindOrigin(origin: string): Promise<void> {
    const bound = await this.#get('origin');
    if (bound === undefined) await this.#db.put('origin', origin, { sync: true });
    else if (bound !== origin) {
      throw new CandorError('invalid_argument', `this data dir follows the log ${JSON.stringify(bound)}, not ${JSON.stringify(origin)}; use another --data`);
    }
  }

  /** The last verified checkpoint note, if any. */
  async checkpoint(): Promise<string | undefined> {
    return this.#get('checkpoint');
  }

  async setCheckpoint(note: string): Promise<void> {
    await this.#db.put('checkpoint', note, { sync: true });
  }

  async audit(): Promise<AuditProgress | undefined> {
    const v = await this.#get('audit');
    return v === undefined ? undefined : (JSON.parse(v) as AuditProgress);
  }

  async setAudit(p: AuditProgress): Promise<void> {
    await this.#db.put('audit', JSON.stringify(p), { sync: true });
  }
}
