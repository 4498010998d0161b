/**
 * Catching a restored store up to what the log has published: the entries past the backup's size
 * are read from a copy of the log in c2sp.org/tlog-tiles layout (a mirror's or the log's read side
 * over HTTP, or a directory such as a synced bucket of the cloud driver), appended to the store's
 * tree, and accepted only if the tree they make has the root of a checkpoint the log signed.
 *
 * Nothing read from the copy is trusted: the leaf hashes are computed from the entries, and the
 * tree they extend is the backup's own (its tiles reproduce the backup's signed root). Equal roots
 * at the copy's size (and at the size of every other known checkpoint passed on the way) prove
 * that the entries are those the log published, in order (RFC 9162 §2.1.1: the root commits to
 * every leaf). Until the last batch the store keeps the backup's checkpoint, so a catch-up cut
 * short leaves a store holding entries past its checkpoint, which start-up refuses
 * (docs/fencing.md); nothing is signed here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { equal, toBase64 } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import type { Hasher } from '@candor/core/hash';
import type { NoteVerifier } from '@candor/core/note';
import { ENTRIES, TILE_WIDTH, decodeBundle, tilePath, type TileRef } from '@candor/core/tile';
import { TileClient } from '../../clients/tiles/client.js';
import { TreeState } from '../log/tree.js';
import { leafTerms } from '../query/terms.js';
import type { EntryTerms, LogStore } from '../storage/store.js';

/** What catch-up reads from a copy of the log: its checkpoint and entry bundles. */
export interface EntrySource {
  /** Where the copy is, for messages. */
  readonly where: string;
  checkpoint(): Promise<string>;
  /** The first `width` entries of bundle `index`. */
  entryBundle(index: number, width: number): Promise<Uint8Array[]>;
}

/** A tlog-tiles tree in a directory: <dir>/checkpoint and <dir>/tile/entries/... (tilePath). */
export class TileDirectory implements EntrySource {
  readonly where: string;

  constructor(readonly dir: string) {
    this.where = dir;
  }

  async checkpoint(): Promise<string> {
    return this.#read('checkpoint').toString('utf8');
  }

  async entryBundle(index: number, width: number): Promise<Uint8Array[]> {
    const ref: TileRef = { level: ENTRIES, index, width };
    let bytes: Buffer;
    try {
      bytes = this.#read(tilePath(ref));
    } catch (err) {
      // tlog-tiles lets a log delete a partial bundle once the full one exists: read its prefix.
      if (width === TILE_WIDTH || !(err instanceof CandorError && err.code === 'not_found')) throw err;
      bytes = this.#read(tilePath({ ...ref, width: TILE_WIDTH }));
    }
    const entries = decodeBundle(bytes);
    if (entries.length < width) throw new CandorError('verification_failed', `${join(this.dir, tilePath(ref))} holds ${entries.length} entries, want ${width}`);
    return entries.slice(0, width);
  }

  #read(path: string): Buffer {
    try {
      return readFileSync(join(this.dir, path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CandorError('not_found', `${join(this.dir, path)} does not exist`);
      throw err;
    }
  }
}

/** An http(s) URL is read with TileClient (a reader's token for entry bundles), anything else as a directory. */
export function openEntrySource(where: string, opts: { token?: string; timeoutMs?: number } = {}): EntrySource {
  if (/^https?:\/\//.test(where)) {
    const client = new TileClient(where, opts);
    return { where: client.url, checkpoint: () => client.checkpoint(), entryBundle: (i, w) => client.entryBundle(i, w) };
  }
  return new TileDirectory(where);
}

/** A checkpoint of this log known to be published, and who showed it (for messages). */
export interface KnownCheckpoint {
  checkpoint: Checkpoint;
  source: string;
}

export interface CatchUpOptions {
  store: LogStore;
  hasher: Hasher;
  verifiers: readonly NoteVerifier[];
  origin: string;
  /** The store's checkpoint note (the backup's), and its parsed form. */
  from: { note: string; checkpoint: Checkpoint };
  source: EntrySource;
  /** The largest size the log is known to have published: the copy must reach it. */
  required: { size: number; source: string };
  /** Other checkpoints known published: their roots are checked on the way. */
  known?: readonly KnownCheckpoint[];
  /** Compute search index terms for the entries (the store keeps indexes). */
  indexes: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Entries per commit. */
const CHUNK = 4096;
/** Bundles read ahead. */
const AHEAD = 8;

/**
 * Reads the copy's checkpoint, and when it is ahead of the store, appends the entries up to it.
 * Returns the store's checkpoint afterwards. Refuses (and writes nothing) when the copy does not
 * reach the required size or its checkpoint is not the log's; refuses before the last commit
 * (leaving the store unstartable) when the entries do not make the signed roots.
 */
export async function catchUp(o: CatchUpOptions): Promise<{ note: string; checkpoint: Checkpoint; appended: number }> {
  let note: string;
  let target: Checkpoint;
  try {
    note = await o.source.checkpoint();
    target = openCheckpoint(note, o.verifiers, o.origin).checkpoint;
  } catch (err) {
    throw new CandorError('verification_failed', `the catch-up copy ${o.source.where} has no checkpoint of this log: ${(err as Error).message}`, { cause: err });
  }
  const start = o.from.checkpoint.size;
  if (target.size < o.required.size) {
    throw new CandorError(
      'out_of_range',
      `the catch-up copy ${o.source.where} reaches size ${target.size}, but ${o.required.source} shows that this log has published size ${o.required.size}: restoring from it would let the log sign a second history for the sizes in between. Give a copy that reaches size ${o.required.size} (another mirror, the log's bucket, an auditor's mirror)`,
    );
  }
  if (target.size <= start) {
    if (target.size === start && !equal(target.root, o.from.checkpoint.root)) {
      throw new CandorError('verification_failed', `the catch-up copy ${o.source.where} signs root ${toBase64(target.root)} for size ${start}, the backup ${toBase64(o.from.checkpoint.root)}: the log has signed two histories; an operator must investigate`);
    }
    return { note: o.from.note, checkpoint: o.from.checkpoint, appended: 0 };
  }
  const checks = [...(o.known ?? [])].filter((k) => k.checkpoint.size > start && k.checkpoint.size <= target.size).sort((a, b) => a.checkpoint.size - b.checkpoint.size);

  const tree = await TreeState.load(o.hasher, o.store, start);
  if (!equal(tree.root(), o.from.checkpoint.root)) throw new CandorError('internal', `the store's tiles do not give its checkpoint's root at size ${start}`);

  const bundles = new Map<number, Promise<Uint8Array[]>>();
  const bundle = (b: number) => {
    const width = Math.min(TILE_WIDTH, target.size - b * TILE_WIDTH);
    const p = o.source.entryBundle(b, width);
    p.catch(() => {}); // awaited in order below
    return p;
  };
  const last = Math.ceil(target.size / TILE_WIDTH) - 1;
  let size = start;
  const pending: Uint8Array[] = [];
  for (let b = Math.floor(start / TILE_WIDTH); b <= last; b++) {
    for (let k = b; k <= Math.min(last, b + AHEAD); k++) if (!bundles.has(k)) bundles.set(k, bundle(k));
    let entries: Uint8Array[];
    try {
      entries = await bundles.get(b)!;
    } catch (err) {
      const what = err instanceof CandorError && err.code === 'not_found' ? 'does not hold' : 'could not give';
      throw new CandorError('unavailable', `the catch-up copy ${o.source.where} ${what} entry bundle ${b} of the tree of size ${target.size} it signed: ${(err as Error).message}`, { cause: err });
    } finally {
      bundles.delete(b);
    }
    pending.push(...entries.slice(Math.max(0, size + pending.length - b * TILE_WIDTH)));
    // Commit at every known size (its root is checked), every CHUNK entries and at the end.
    while (pending.length > 0) {
      const next = checks[0]?.checkpoint.size;
      const until = Math.min(size + CHUNK, next ?? Infinity, target.size);
      const n = until - size;
      if (pending.length < n && b < last) break;
      const take = pending.splice(0, n);
      await commitRun(o, tree, size, take, until === target.size ? { note, checkpoint: target } : undefined);
      size = until;
      if (next === size) {
        const k = checks.shift()!;
        if (!equal(tree.root(), k.checkpoint.root)) {
          throw new CandorError('verification_failed', `the entries of the catch-up copy ${o.source.where} give root ${toBase64(tree.root())} for size ${size}, but ${k.source} signs ${toBase64(k.checkpoint.root)}: the copy is not what the log published`);
        }
      }
      o.onProgress?.(size - start, target.size - start);
    }
  }
  if (size !== target.size) throw new Error(`bad math: caught up to ${size}, not ${target.size}`);
  return { note, checkpoint: target, appended: size - start };
}

/**
 * Appends entries to the tree and commits them. The store keeps the backup's checkpoint until the
 * final run, whose root must be the target checkpoint's before that checkpoint is written.
 */
async function commitRun(o: CatchUpOptions, tree: TreeState, start: number, entries: Uint8Array[], final: { note: string; checkpoint: Checkpoint } | undefined): Promise<void> {
  const leafHashes = entries.map((e) => o.hasher.leaf(e));
  const appended = tree.append(leafHashes);
  if (final && !equal(tree.root(), final.checkpoint.root)) {
    throw new CandorError(
      'verification_failed',
      `the entries of the catch-up copy ${o.source.where} give root ${toBase64(tree.root())} for size ${final.checkpoint.size}, but its checkpoint, signed by this log, says ${toBase64(final.checkpoint.root)}: the copy is damaged or not this log's`,
    );
  }
  const terms: (EntryTerms | undefined)[] | undefined = o.indexes ? entries.map(leafTerms) : undefined;
  await o.store.commit({
    previous: o.from.note,
    start,
    entries,
    tiles: appended.tiles,
    leafIndex: leafHashes.map((hash, j) => ({ hash, index: start + j })),
    checkpoint: final ? final.note : o.from.note,
    ...(terms ? { terms } : {}),
  });
}
