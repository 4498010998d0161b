/**
 * Offline proof bundles (c2sp.org/tlog-proof) for entries of a tlog-tiles log: export reads the
 * checkpoint, the hash tiles and the entry's bundle, builds the RFC 9162 inclusion proof, checks
 * it, and formats the bundle with the entry as its extra data (src/core/tlog-proof.ts). Verifying
 * a bundle needs no network and is done by the core alone.
 */
import { parseCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { portableHasher, type Hasher } from '@candor/core/hash';
import { inclusionProofRanges, verifyInclusion } from '@candor/core/merkle';
import { parseNote, type NoteVerifier } from '@candor/core/note';
import { encodeProofBundle, verifyProofBundle, type CosignaturePolicy, type ProofBundle } from '@candor/core/tlog-proof';
import { TILE_WIDTH } from '@candor/core/tile';
import { proofFromTiles, type TileClient } from '../tiles/client.js';

export interface ExportOptions {
  client: TileClient;
  index: number;
  /** Prove against this checkpoint note (e.g. from a witnessed acknowledgement) instead of the log's current one. */
  checkpoint?: string;
  /** Put the entry in the bundle's extra line (default true). */
  includeEntry?: boolean;
  /** When given, the bundle is verified with these before it is returned. */
  logVerifiers?: readonly NoteVerifier[];
  policy?: CosignaturePolicy;
  origin?: string;
  hasher?: Hasher;
}

export async function exportProof(o: ExportOptions): Promise<{ text: string; bundle: ProofBundle; checkpoint: Checkpoint; entry: Uint8Array }> {
  const hasher = o.hasher ?? portableHasher;
  if (!Number.isSafeInteger(o.index) || o.index < 0) throw new CandorError('invalid_argument', '--index must be a non-negative integer');
  const note = o.checkpoint ?? (await o.client.checkpoint());
  const checkpoint = parseCheckpoint(parseNote(note).text);
  const { size, root } = checkpoint;
  if (o.index >= size) throw new CandorError('out_of_range', `index ${o.index} is not below the log's tree size ${size}`);
  const b = Math.floor(o.index / TILE_WIDTH);
  const [proof, entries] = await Promise.all([
    proofFromTiles(hasher, inclusionProofRanges(o.index, size), size, o.client),
    o.client.entryBundle(b, Math.min(TILE_WIDTH, size - b * TILE_WIDTH)),
  ]);
  const entry = entries[o.index % TILE_WIDTH]!;
  // The log's own data must prove the entry before anything is written.
  verifyInclusion(hasher, o.index, size, hasher.leaf(entry), proof, root);
  const bundle: ProofBundle = { ...(o.includeEntry === false ? {} : { extra: entry }), index: o.index, proof, checkpoint: note };
  if (o.logVerifiers) {
    verifyProofBundle(bundle, {
      logVerifiers: o.logVerifiers,
      entry,
      hasher,
      ...(o.policy ? { policy: o.policy } : {}),
      ...(o.origin ? { origin: o.origin } : {}),
    });
  }
  return { text: encodeProofBundle(bundle), bundle, checkpoint, entry };
}
