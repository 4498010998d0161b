/**
 * `candor backup`: a consistent copy of a log's data directory (docs/operations.md, "Backup and
 * restore"). The store is copied from one LevelDB snapshot (LevelStore.copyTo), by the serving
 * process when the log runs (it holds LevelDB's lock: POST /v1/admin/backup on the admin listener)
 * or by the CLI when it is stopped. Everything else is plain files, copied after the store:
 *
 *   backup.json        the manifest: origin, the checkpoint the copied store holds, its size
 *   db/                the log store: checkpoint, tiles, entries, leaf-hash and search indexes
 *   openings/          the openings store (docs/privacy.md)
 *   producers.json, auditors.json, witnessing.json, log.key, log.vkey, privacy.key (those present)
 *
 * Not copied: the idempotency index. It is derived from the log (src/events/idempotency.ts) and a
 * copy taken at another moment than the store's could point past it (issue 18: a resubmitted event
 * answered with another event's receipt); without one, the restored log rebuilds it from its
 * entries at its first start. Keys configured outside the data directory (config `keys`,
 * `privacyKeyFile`) are the operator's to keep.
 *
 * Files copied after the store may be newer than it (an opening deposited, a producer added);
 * what matters is that nothing erased comes back, which restore guarantees by replaying the
 * erasures logged after the backup's size (src/backup/erasures.ts).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import type { LevelStore } from '../storage/level.js';

export const MANIFEST = 'backup.json';
export const BACKUP_FORMAT = 'candor-backup/v1';

/** The plain files of a data directory a backup carries, when present. */
export const BACKUP_FILES = ['producers.json', 'auditors.json', 'witnessing.json', 'log.key', 'log.vkey', 'privacy.key'];

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  origin: string;
  /** The tree size of the copied store's checkpoint. */
  size: number;
  /** The copied store's checkpoint note, byte for byte. */
  checkpoint: string;
  /** When the store was copied (ISO 8601). */
  created: string;
  /** What the backup holds besides backup.json. */
  contents: string[];
}

/**
 * Refuses an output directory that is relative (a server's working directory is not the
 * caller's) or holds anything; creates it (mode 0700: it holds the log's signing key).
 */
export function prepareOut(out: string): void {
  if (!isAbsolute(out)) throw new CandorError('invalid_argument', `out must be an absolute path, got ${JSON.stringify(out)}`);
  if (existsSync(out) && readdirSync(out).length > 0) throw new CandorError('conflict', `out ${out} is not empty: back up into a new directory`);
  mkdirSync(out, { recursive: true, mode: 0o700 });
}

/**
 * Writes a backup of the log whose store is `store` and data directory `dataDir` into `out`
 * (absolute, new or empty). Returns the manifest.
 */
export async function writeBackup(o: { store: LevelStore; dataDir: string; out: string }): Promise<BackupManifest> {
  prepareOut(o.out);
  try {
    return await copyInto(o);
  } catch (err) {
    // Half a backup is no backup: leave none behind.
    rmSync(o.out, { recursive: true, force: true });
    throw err;
  }
}

async function copyInto(o: { store: LevelStore; dataDir: string; out: string }): Promise<BackupManifest> {
  // The witnesses' sizes first: what they cosigned then is at most what the store holds next, so
  // a restore does not mistake them for evidence of a larger tree (src/backup/restore.ts).
  const witnessing = join(o.dataDir, 'witnessing.json');
  if (existsSync(witnessing)) copyFileSync(witnessing, join(o.out, 'witnessing.json'));
  const checkpoint = await o.store.copyTo(join(o.out, 'db'));
  if (checkpoint === undefined) throw new CandorError('conflict', 'the log store holds no checkpoint yet: nothing to back up');
  const cp = parseCheckpoint(checkpoint.slice(0, checkpoint.lastIndexOf('\n\n') + 1));
  const contents = ['db'];
  const openings = join(o.dataDir, 'openings');
  if (existsSync(openings)) {
    // Temporary files are writes in progress (src/privacy/store.ts writes, fsyncs, renames).
    cpSync(openings, join(o.out, 'openings'), { recursive: true, filter: (src) => !src.endsWith('.tmp') });
    contents.push('openings');
  }
  for (const f of BACKUP_FILES) {
    if (f !== 'witnessing.json' && existsSync(join(o.dataDir, f))) copyFileSync(join(o.dataDir, f), join(o.out, f));
    if (existsSync(join(o.out, f))) contents.push(f);
  }
  const manifest: BackupManifest = { format: BACKUP_FORMAT, origin: cp.origin, size: cp.size, checkpoint, created: new Date().toISOString(), contents };
  writeFileSync(join(o.out, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}
