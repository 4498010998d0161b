/**
 * The full audit: download every entry bundle and hash tile of a verified checkpoint's tree
 * (c2sp.org/tlog-tiles), recompute every hash from the entries up to the root, and compare:
 *
 *   - each level-0 tile must hold exactly the leaf hashes of its bundle's entries (RFC 9162
 *     §2.1.1: SHA-256(0x00 || entry));
 *   - each level-L tile (L >= 1) must hold exactly the height-8L node hashes computed from below;
 *   - the root computed from all leaves must be the checkpoint's root.
 *
 * Leaves are folded into a compact range, whose visitor reports every node as it is completed, so
 * no tree is held in memory. Progress is saved in the auditor's store at bundle boundaries (the
 * compact range and the upper-level hashes not yet compared), and a later run resumes there,
 * against the same or a newer verified checkpoint (the monitor has proved the newer one extends
 * the older, so what was audited stays audited).
 *
 * A tile or bundle the log does not serve inside a tree it signed raises a truncation alarm; any
 * mismatch raises an inconsistency alarm.
 */
import { equal, fromBase64, toBase64 } from '@candor/core/bytes';
import type { Checkpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { HASH_SIZE, portableHasher, type Hasher } from '@candor/core/hash';
import { CompactRange } from '@candor/core/merkle';
import { TILE_HEIGHT, TILE_WIDTH, rowWidth, tilePath, ENTRIES } from '@candor/core/tile';
import type { Alarm } from './monitor.js';
import { writeEvidence } from './monitor.js';
import type { AuditorStore, AuditProgress } from './store.js';
import type { TileClient } from '../tiles/client.js';

export interface AuditOptions {
  client: TileClient;
  store: AuditorStore;
  /** The verified checkpoint to audit up to, and its note (for evidence). */
  checkpoint: Checkpoint;
  note: string;
  hasher?: Hasher;
  /** Bundles fetched ahead (each with its level-0 tile). */
  concurrency?: number;
  /** Called after each bundle with the leaves audited so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Stops at the next bundle boundary, saving progress. */
  signal?: AbortSignal;
  /** Start from the first entry, ignoring saved progress. */
  restart?: boolean;
  evidenceDir?: string;
  /** How often progress is saved while auditing, in ms (always at the end). */
  saveEveryMs?: number;
}

export type AuditResult =
  | { kind: 'complete'; size: number; from: number; bundles: number; tiles: number }
  | { kind: 'interrupted'; from: number; at: number }
  | { kind: 'alarm'; alarm: Alarm };

export async function fullAudit(o: AuditOptions): Promise<AuditResult> {
  const hasher = o.hasher ?? portableHasher;
  const { size, root } = o.checkpoint;
  const concurrency = Math.max(1, o.concurrency ?? 8);
  let saved = o.restart ? undefined : await o.store.audit();
  if (saved !== undefined && saved.next > size) saved = undefined; // audited a larger tree before: cannot reuse
  const from = saved?.next ?? 0;
  const range = new CompactRange(hasher, from, (saved?.range ?? []).map((h) => fromBase64(h, 'saved compact range')));
  // rows[L]: the level-L hashes computed so far for the level-L tile being filled (L >= 1).
  const rows: Uint8Array[][] = (saved?.rows ?? []).map((r) => (r ?? []).map((h) => fromBase64(h, 'saved tile row')));
  let checkpointed: AuditProgress = saved ?? { next: 0, range: [], rows: [] };
  let lastSave = Date.now();
  let tilesFetched = 0;
  let bundlesFetched = 0;

  const alarm = async (kind: Alarm['kind'], message: string): Promise<AuditResult> => {
    await o.store.setAudit(checkpointed);
    const a: Alarm = { kind, message, verified: o.note };
    if (o.evidenceDir) a.evidenceFile = await writeEvidence(o.evidenceDir, a);
    return { kind: 'alarm', alarm: a };
  };
  const snapshot = (next: number): AuditProgress => ({
    next,
    range: range.hashes.map(toBase64),
    rows: Array.from({ length: rows.length }, (_, level) => (rows[level] ?? []).map(toBase64)),
    ...(saved?.audited === undefined ? {} : { audited: saved.audited, auditedRoot: saved.auditedRoot! }),
  });

  const bundles = Math.ceil(size / TILE_WIDTH);
  const fetchBundle = (b: number) => {
    const width = Math.min(TILE_WIDTH, size - b * TILE_WIDTH);
    const p = Promise.all([o.client.entryBundle(b, width), o.client.hashTile(0, b, width)]);
    p.catch(() => {}); // awaited in order below; this only avoids an unhandled rejection meanwhile
    return p;
  };
  const ahead = new Map<number, ReturnType<typeof fetchBundle>>();

  for (let b = from / TILE_WIDTH; b < bundles; b++) {
    if (o.signal?.aborted) {
      await o.store.setAudit(checkpointed);
      return { kind: 'interrupted', from, at: checkpointed.next };
    }
    for (let k = b; k < Math.min(bundles, b + concurrency); k++) if (!ahead.has(k)) ahead.set(k, fetchBundle(k));
    const width = Math.min(TILE_WIDTH, size - b * TILE_WIDTH);
    let entries: Uint8Array[];
    let tile0: Uint8Array;
    try {
      [entries, tile0] = await ahead.get(b)!;
    } catch (err) {
      if (err instanceof CandorError && err.code === 'not_found') {
        return alarm('truncation', `truncation: the log signed size ${size} but does not serve ${err.message.replace(/^GET /, '')}`);
      }
      if (err instanceof CandorError && (err.code === 'verification_failed' || err.code === 'invalid_argument')) {
        return alarm('inconsistent', `inconsistent: bundle ${b} of the tree of size ${size}: ${err.message}`);
      }
      throw err;
    } finally {
      ahead.delete(b);
    }
    bundlesFetched++;
    tilesFetched++;

    // Level 0: the leaf hashes of the entries, exactly.
    const leaves = entries.map((e) => hasher.leaf(e));
    for (let i = 0; i < width; i++) {
      if (!equal(tile0.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), leaves[i]!)) {
        return alarm(
          'inconsistent',
          `inconsistent: ${tilePath({ level: 0, index: b, width })} holds ${toBase64(tile0.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))} at offset ${i}, but entry ${b * TILE_WIDTH + i} of ${tilePath({ level: ENTRIES, index: b, width })} hashes to ${toBase64(leaves[i]!)}`,
        );
      }
    }
    // Upper levels: collect the height-8L nodes completed by these leaves; full rows are compared now.
    const full: Array<{ level: number; index: number; hashes: Uint8Array[] }> = [];
    for (const leaf of leaves) {
      range.append(leaf, (height, index, hash) => {
        if (height === 0 || height % TILE_HEIGHT !== 0) return;
        const level = height / TILE_HEIGHT;
        const row = (rows[level] ??= []);
        row.push(hash);
        if (row.length === TILE_WIDTH) {
          full.push({ level, index: Math.floor(index / TILE_WIDTH), hashes: row.splice(0) });
        }
      });
    }
    for (const t of full) {
      const mismatch = await compareTile(o.client, t.level, t.index, t.hashes);
      tilesFetched++;
      if (mismatch) return alarm(mismatch.kind, mismatch.message);
    }
    if (width === TILE_WIDTH) {
      checkpointed = snapshot((b + 1) * TILE_WIDTH);
      if (Date.now() - lastSave >= (o.saveEveryMs ?? 1000)) {
        await o.store.setAudit(checkpointed);
        lastSave = Date.now();
      }
    }
    o.onProgress?.(b * TILE_WIDTH + width, size);
  }

  // The partial tiles of the upper levels, at this tree size.
  for (let level = 1; rowWidth(size, level) > 0; level++) {
    const w = rowWidth(size, level) % TILE_WIDTH;
    if (w === 0) continue;
    const row = rows[level] ?? [];
    if (row.length !== w) throw new Error(`bad math: ${row.length} level-${level} hashes computed, ${w} expected`);
    const mismatch = await compareTile(o.client, level, Math.floor(rowWidth(size, level) / TILE_WIDTH), row);
    tilesFetched++;
    if (mismatch) return alarm(mismatch.kind, mismatch.message);
  }
  const computed = range.root();
  if (!equal(computed, root)) {
    return alarm('inconsistent', `inconsistent: the entries of the tree of size ${size} hash to root ${toBase64(computed)}, but the checkpoint signs ${toBase64(root)}`);
  }
  await o.store.setAudit({ ...checkpointed, audited: size, auditedRoot: toBase64(root) });
  return { kind: 'complete', size, from, bundles: bundlesFetched, tiles: tilesFetched };
}

/** Compares the log's level-L tile with the hashes computed from below; returns the alarm if they differ. */
async function compareTile(client: TileClient, level: number, index: number, hashes: readonly Uint8Array[]): Promise<{ kind: Alarm['kind']; message: string } | undefined> {
  const ref = { level, index, width: hashes.length };
  let tile: Uint8Array;
  try {
    tile = await client.hashTile(level, index, hashes.length);
  } catch (err) {
    if (err instanceof CandorError && err.code === 'not_found') return { kind: 'truncation', message: `truncation: the log does not serve ${tilePath(ref)} of a tree it signed` };
    if (err instanceof CandorError && err.code === 'verification_failed') return { kind: 'inconsistent', message: `inconsistent: ${err.message}` };
    throw err;
  }
  for (let i = 0; i < hashes.length; i++) {
    if (!equal(tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), hashes[i]!)) {
      return {
        kind: 'inconsistent',
        message: `inconsistent: ${tilePath(ref)} holds ${toBase64(tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))} at offset ${i}, but the tiles below give ${toBase64(hashes[i]!)}`,
      };
    }
  }
  return undefined;
}
