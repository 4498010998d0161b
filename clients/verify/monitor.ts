/**
 * The monitor: follows a log's checkpoints and checks each against the last one it verified.
 *
 * A checkpoint is *verified* when it carries a valid signature by the log key, cosignatures that
 * meet the witness policy, and is consistent (RFC 9162 §2.1.4, proof computed from the log's own
 * tlog-tiles) with the last verified checkpoint; it then becomes the new reference, kept in the
 * auditor's store. A checkpoint that the log signed but that contradicts the reference is evidence
 * of misbehaviour whether or not witnesses cosigned it, and raises an alarm:
 *
 *   fork          same size, different root: the log signed two different trees
 *   inconsistent  larger, but the tiles give no valid consistency proof from the reference (or
 *                 the log's tiles disagree with what it signed)
 *   rollback      smaller than the reference, while the log still serves the reference's tree:
 *                 it is showing an old state
 *   truncation    smaller than the reference, and the log no longer serves the reference's tiles:
 *                 it lost or removed entries it had signed
 *
 * The evidence (both checkpoints and the proof) is written to <data>/evidence/ so it can be
 * handed to others; a signed checkpoint proves itself.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { equal, toBase64 } from '@candor/core/bytes';
import { parseCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { portableHasher, type Hasher } from '@candor/core/hash';
import { consistencyProofRanges, verifyConsistency } from '@candor/core/merkle';
import { openNote, type NoteVerifier } from '@candor/core/note';
import type { CosignaturePolicy } from '@candor/core/tlog-proof';
import type { AuditorStore } from './store.js';
import { proofFromTiles, treeHashFromTiles, type TileClient } from '../tiles/client.js';

export type AlarmKind = 'fork' | 'inconsistent' | 'rollback' | 'truncation';

export interface Alarm {
  kind: AlarmKind;
  /** One line for humans and scripts. */
  message: string;
  /** The last checkpoint this auditor verified. */
  verified: string;
  /** The checkpoint that contradicts it, when there is one. */
  seen?: string;
  /** Proof hashes involved (base64), when there are some. */
  proof?: string[];
  /** Where the evidence was written. */
  evidenceFile?: string;
}

export interface MonitorOptions {
  client: TileClient;
  store: AuditorStore;
  logVerifiers: readonly NoteVerifier[];
  /** Expected origin; default: the first log key's name (tlog-checkpoint: the key name SHOULD be the origin). */
  origin?: string;
  /** Cosignatures a checkpoint needs to be verified; none if absent. */
  policy?: CosignaturePolicy;
  hasher?: Hasher;
  /** Where evidence files go (default: none written). */
  evidenceDir?: string;
}

export interface SeenCheckpoint {
  note: string;
  checkpoint: Checkpoint;
  /** Names of the policy's witness keys that cosigned it. */
  cosigners: string[];
}

export type CheckResult =
  /** No reference yet: this checkpoint is now the reference (trust on first use). */
  | ({ kind: 'first' } & SeenCheckpoint)
  /** Consistent with the reference, and now the reference. */
  | ({ kind: 'advanced'; from: number } & SeenCheckpoint)
  /** The reference again (same size and root). */
  | ({ kind: 'unchanged' } & SeenCheckpoint)
  /** Signed by the log and not contradicting the reference, but the policy is not met: not kept. */
  | ({ kind: 'unwitnessed'; reference?: number } & SeenCheckpoint)
  | { kind: 'alarm'; alarm: Alarm };

/** Opens a checkpoint with the log and witness keys; throws verification_failed if the log did not sign it. */
export function openVerified(note: string, o: Pick<MonitorOptions, 'logVerifiers' | 'origin' | 'policy'>): SeenCheckpoint & { witnessed: boolean } {
  const witnesses = o.policy?.verifiers ?? [];
  const opened = openNote(note, [...o.logVerifiers, ...witnesses]);
  const signedBy = (v: NoteVerifier) => opened.verified.some((s) => s.name === v.name && s.keyId === v.keyId);
  if (!o.logVerifiers.some(signedBy)) throw new CandorError('verification_failed', 'the checkpoint has no valid signature by the log key');
  const checkpoint = parseCheckpoint(opened.text);
  const origin = o.origin ?? o.logVerifiers[0]!.name;
  if (checkpoint.origin !== origin) {
    throw new CandorError('verification_failed', `the checkpoint is for origin ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(origin)}`);
  }
  const cosigning = witnesses.filter(signedBy);
  return { note, checkpoint, cosigners: cosigning.map((v) => v.name), witnessed: o.policy ? o.policy.satisfied(cosigning) : true };
}

/** One poll: fetch the checkpoint, verify it, compare it with the reference, keep it if verified. */
export async function checkOnce(o: MonitorOptions): Promise<CheckResult> {
  const note = await o.client.checkpoint();
  return checkCheckpoint(o, note);
}

/** Checks a checkpoint note the log served (see checkOnce). */
export async function checkCheckpoint(o: MonitorOptions, note: string): Promise<CheckResult> {
  const hasher = o.hasher ?? portableHasher;
  const seen = openVerified(note, o);
  const { checkpoint: cp, witnessed } = seen;
  await o.store.bindOrigin(cp.origin);
  const refNote = await o.store.checkpoint();
  if (refNote === undefined) {
    if (!witnessed) return { kind: 'unwitnessed', ...strip(seen) };
    await o.store.setCheckpoint(note);
    return { kind: 'first', ...strip(seen) };
  }
  // The reference was verified when it was kept; re-reading it checks the store was not edited.
  const ref = parseCheckpoint(openNote(refNote, o.logVerifiers).text);
  const alarm = async (kind: AlarmKind, message: string, proof?: Uint8Array[]): Promise<CheckResult> => {
    const a: Alarm = { kind, message, verified: refNote, seen: note, ...(proof ? { proof: proof.map(toBase64) } : {}) };
    if (o.evidenceDir) a.evidenceFile = await writeEvidence(o.evidenceDir, a);
    return { kind: 'alarm', alarm: a };
  };

  if (cp.size === ref.size) {
    if (!equal(cp.root, ref.root)) {
      return alarm('fork', `fork: the log signed two different trees of size ${cp.size}: root ${toBase64(ref.root)} (verified earlier) and root ${toBase64(cp.root)}`);
    }
    return { kind: 'unchanged', ...strip(seen) };
  }

  if (cp.size < ref.size) {
    // Is the reference's tree still served? Its tiles decide between an old checkpoint shown
    // (rollback) and lost entries (truncation).
    let served: Uint8Array | undefined;
    try {
      served = await treeHashFromTiles(hasher, ref.size, o.client);
    } catch (err) {
      if (!(err instanceof CandorError && (err.code === 'not_found' || err.code === 'verification_failed'))) throw err;
    }
    if (served === undefined) {
      return alarm(
        'truncation',
        `truncation: the log now signs size ${cp.size}, below size ${ref.size} verified earlier, and no longer serves the tiles of size ${ref.size}: it lost or removed entries it had signed`,
      );
    }
    if (!equal(served, ref.root)) {
      return alarm(
        'inconsistent',
        `inconsistent: the log signs size ${cp.size}, below size ${ref.size} verified earlier, and its tiles of size ${ref.size} give root ${toBase64(served)}, not the signed ${toBase64(ref.root)}`,
      );
    }
    return alarm('rollback', `rollback: the log served a checkpoint of size ${cp.size} after signing size ${ref.size} (verified earlier), while it still serves the tree of size ${ref.size}`);
  }

  // Larger: it must extend the reference (any tree extends the empty one).
  let proof: Uint8Array[] = [];
  if (ref.size > 0) {
    try {
      proof = await proofFromTiles(hasher, consistencyProofRanges(ref.size, cp.size), cp.size, o.client);
      verifyConsistency(hasher, ref.size, cp.size, ref.root, cp.root, proof);
    } catch (err) {
      if (!(err instanceof CandorError && err.code === 'verification_failed')) throw err;
      return alarm(
        'inconsistent',
        `inconsistent: the checkpoint of size ${cp.size} (root ${toBase64(cp.root)}) does not extend size ${ref.size} verified earlier (root ${toBase64(ref.root)}): ${err.message}`,
        proof,
      );
    }
  }
  if (!witnessed) return { kind: 'unwitnessed', reference: ref.size, ...strip(seen) };
  await o.store.setCheckpoint(note);
  return { kind: 'advanced', from: ref.size, ...strip(seen) };
}

function strip(s: SeenCheckpoint & { witnessed?: boolean }): SeenCheckpoint {
  return { note: s.note, checkpoint: s.checkpoint, cosigners: s.cosigners };
}

/** Writes an alarm's evidence as a text file; returns its path. */
export async function writeEvidence(dir: string, a: Alarm): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${a.kind}.txt`);
  const parts = [
    `ALARM ${a.kind}`,
    a.message,
    '',
    'Checkpoint verified earlier:',
    a.verified,
    ...(a.seen ? ['Checkpoint that contradicts it:', a.seen] : []),
    ...(a.proof ? ['Consistency proof served by the log (base64, one per line):', ...a.proof, ''] : []),
  ];
  await writeFile(file, parts.join('\n'), { flag: 'wx' });
  return file;
}
