/**
 * `candor restore`: brings a backup (src/backup/backup.ts) back into a new data directory, so that
 * the log it starts signs nothing but extensions of the tree it has published (docs/fencing.md):
 *
 *  1. copy the backup into the (new or empty) data directory;
 *  2. find the largest size the log is known to have published: checkpoints given by the operator
 *     (a witness's, a monitor's, a client's), sizes (a witness's 409), the evidence the store
 *     recorded (recordAhead), the witnesses' sizes and witnessed checkpoint in witnessing.json;
 *  3. catch up from a copy of the entries published since (src/backup/catch-up.ts), checked
 *     against the log's signed roots; refuse, naming the sizes, when no copy reaches that size;
 *  4. replay the erasures logged after the backup's size (src/backup/erasures.ts);
 *  5. run the log's own start-up checks (Sequencer.open: signature, origin, tiles against the
 *     root, nothing past the checkpoint, no evidence of a larger tree).
 *
 * A restore that fails removes what it wrote: the data directory is either restored or absent.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { equal } from '@candor/core/bytes';
import { openCheckpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { parseVerifierKey } from '@candor/core/note';
import { nodeEd25519, nodeHasher } from '../crypto/node.js';
import { loadLogKeys } from '../keys.js';
import { Sequencer } from '../log/sequencer.js';
import { OpeningsStore } from '../privacy/store.js';
import { LevelStore } from '../storage/level.js';
import { BACKUP_FORMAT, MANIFEST, type BackupManifest } from './backup.js';
import { catchUp, openEntrySource, type KnownCheckpoint } from './catch-up.js';
import { replayErasures, type ReplayResult } from './erasures.js';

export interface RestoreOptions {
  /** The backup directory. */
  from: string;
  /** The data directory to restore into: absent or empty. */
  data: string;
  /** A copy of the log to catch up from: an http(s) tlog-tiles URL or a directory of tiles. */
  catchUp?: string;
  /** A reader's token for the copy's entry bundles (an auditor with read-log). */
  token?: string;
  /** Checkpoint notes known published (files given with --checkpoint), with where each came from. */
  checkpoints?: readonly { note: string; source: string }[];
  /** A size known published without its checkpoint (a witness's 409 names one). */
  minSize?: number;
  /** Signer key files kept outside the data directory (config `keys`); default <data>/log.key. */
  keyFiles?: readonly string[];
  /** The privacy master key file, when kept outside the data directory (config `privacyKeyFile`). */
  privacyKeyFile?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface RestoreResult {
  origin: string;
  backupSize: number;
  /** The restored store's size and checkpoint. */
  size: number;
  checkpoint: string;
  /** Entries appended from the catch-up copy. */
  appended: number;
  /** The largest size known published, and who showed it. */
  required: { size: number; source: string };
  erasures: ReplayResult;
}

function readManifest(from: string): BackupManifest {
  let m: BackupManifest;
  try {
    m = JSON.parse(readFileSync(join(from, MANIFEST), 'utf8')) as BackupManifest;
  } catch (err) {
    throw new CandorError('invalid_argument', `${from} is not a Candor backup (no readable ${MANIFEST}: ${(err as Error).message})`);
  }
  if (m.format !== BACKUP_FORMAT) throw new CandorError('invalid_argument', `${join(from, MANIFEST)} is format ${JSON.stringify(m.format)}, not ${BACKUP_FORMAT}`);
  if (!existsSync(join(from, 'db'))) throw new CandorError('invalid_argument', `the backup ${from} has no db/`);
  return m;
}

/** witnessing.json (src/witnessing/witnessing.ts): the sizes witnesses cosigned, the last witnessed checkpoint. */
function witnessEvidence(data: string): { sizes: { size: number; source: string }[]; published?: string } {
  const file = join(data, 'witnessing.json');
  if (!existsSync(file)) return { sizes: [] };
  const s = JSON.parse(readFileSync(file, 'utf8')) as { witnesses?: Record<string, number>; published?: string };
  return {
    sizes: Object.entries(s.witnesses ?? {}).filter(([, n]) => Number.isSafeInteger(n)).map(([name, size]) => ({ size, source: `witness ${name} (witnessing.json)` })),
    ...(typeof s.published === 'string' ? { published: s.published } : {}),
  };
}

export async function restore(o: RestoreOptions): Promise<RestoreResult> {
  const manifest = readManifest(o.from);
  if (existsSync(o.data) && readdirSync(o.data).length > 0) {
    throw new CandorError('conflict', `${o.data} is not empty: restore into a new data directory (move the old one aside; keep it until the restored log runs)`);
  }
  const created = !existsSync(o.data);
  mkdirSync(o.data, { recursive: true, mode: 0o700 });
  let store: LevelStore | undefined;
  try {
    cpSync(o.from, o.data, { recursive: true, filter: (src) => src !== join(o.from, MANIFEST) });
    const keyFiles = o.keyFiles && o.keyFiles.length > 0 ? [...o.keyFiles] : undefined;
    if (!keyFiles && !existsSync(join(o.data, 'log.key'))) {
      throw new CandorError('invalid_argument', `the backup holds no log.key: give the log's signer key files with --key (config "keys")`);
    }
    const keys = loadLogKeys({ dataDir: o.data, origin: manifest.origin, ...(keyFiles ? { keyFiles } : {}) });
    // The verifier keys the log has had, not only today's: a backup's checkpoint may be signed by a rotated-out key.
    const backupVkeys = existsSync(join(o.from, 'log.vkey')) ? readFileSync(join(o.from, 'log.vkey'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : [];
    const verifiers = [...new Set([...keys.vkeys, ...backupVkeys])].map((v) => parseVerifierKey(v, nodeEd25519));

    store = await LevelStore.open(join(o.data, 'db'));
    const note = await store.readCheckpoint();
    if (note === undefined) throw new CandorError('invalid_argument', `the backup's store holds no checkpoint`);
    const from = { note, checkpoint: openCheckpoint(note, verifiers, keys.origin).checkpoint };

    // What the log is known to have published.
    const known: KnownCheckpoint[] = [];
    for (const c of o.checkpoints ?? []) {
      try {
        known.push({ checkpoint: openCheckpoint(c.note, verifiers, keys.origin).checkpoint, source: c.source });
      } catch (err) {
        throw new CandorError('invalid_argument', `${c.source} is not a checkpoint of the log "${keys.origin}": ${(err as Error).message}`);
      }
    }
    const witnessed = witnessEvidence(o.data);
    if (witnessed.published) {
      try {
        known.push({ checkpoint: openCheckpoint(witnessed.published, verifiers, keys.origin).checkpoint, source: 'the witnessed checkpoint in witnessing.json' });
      } catch {
        // Of another origin or key: not evidence about this log.
      }
    }
    const ahead = await store.readAhead();
    const sizes = [
      { size: from.checkpoint.size, source: 'the backup' },
      ...known.map((k) => ({ size: k.checkpoint.size, source: k.source })),
      ...witnessed.sizes,
      ...(ahead ? [{ size: ahead.size, source: `${ahead.source} (recorded in the store)` }] : []),
      ...(o.minSize !== undefined ? [{ size: o.minSize, source: '--size' }] : []),
    ];
    const required = sizes.reduce((a, b) => (b.size > a.size ? b : a));
    for (const k of known) {
      if (k.checkpoint.size === from.checkpoint.size && !equal(k.checkpoint.root, from.checkpoint.root)) {
        throw new CandorError('verification_failed', `${k.source} signs another root than the backup for size ${from.checkpoint.size}: the log has signed two histories; an operator must investigate`);
      }
    }

    let result = { note, checkpoint: from.checkpoint, appended: 0 };
    if (o.catchUp !== undefined) {
      const source = openEntrySource(o.catchUp, o.token !== undefined ? { token: o.token } : {});
      result = await catchUp({
        store,
        hasher: nodeHasher,
        verifiers,
        origin: keys.origin,
        from,
        source,
        required,
        known,
        indexes: store.perTenantFrom() !== Infinity,
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      });
    } else if (required.size > from.checkpoint.size) {
      throw new CandorError(
        'out_of_range',
        `the backup holds size ${from.checkpoint.size}, but ${required.source} shows that this log has published size ${required.size}: a log started on it would sign a second history for the sizes in between. Catch up with --catch-up <url-or-dir>: a copy of the log that reaches size ${required.size} (a mirror, the log's bucket, a still-running read side)`,
      );
    }

    // Erasures logged after the backup: their openings came back with it.
    let erasures: ReplayResult = { requests: 0, scopes: 0, keys: 0, records: 0 };
    if (result.appended > 0 && existsSync(join(o.data, 'openings'))) {
      const keyFile = o.privacyKeyFile ?? join(o.data, 'privacy.key');
      const openings = OpeningsStore.open({ dir: join(o.data, 'openings'), masterKeyFile: keyFile, createKey: false });
      erasures = await replayErasures(store, openings, from.checkpoint.size, result.checkpoint.size);
    }

    // The log's own start-up checks, on what was restored.
    const seq = await Sequencer.open({ origin: keys.origin, signers: keys.signers, verifiers, hasher: nodeHasher, store });
    await seq.close();
    await store.close();
    store = undefined;
    return { origin: keys.origin, backupSize: from.checkpoint.size, size: result.checkpoint.size, checkpoint: result.note, appended: result.appended, required, erasures };
  } catch (err) {
    await store?.close().catch(() => undefined);
    // Remove what this restore wrote: the directory it created, or what it put in an empty one.
    if (created) rmSync(o.data, { recursive: true, force: true });
    else for (const f of readdirSync(o.data)) rmSync(join(o.data, f), { recursive: true, force: true });
    throw err;
  }
}
