/**
 * c2sp.org/tlog-proof: an offline proof that an entry is in a log, verifiable with nothing but the
 * log's verifier keys and a witness policy (standards.md §6.1). The file is
 *
 *   c2sp.org/tlog-proof@v1
 *   extra <base64>                  optional; Candor puts the entry itself here
 *   index <leaf index>
 *   <inclusion proof, base64, one hash per line, leaf sibling first>
 *                                   an empty line
 *   <the checkpoint note, verbatim: log signature and cosignatures>
 *
 * The spec leaves the leaf hash application-specific and the extra data opaque and unauthenticated.
 * Candor's convention: extra is the entry, so the leaf hash is RFC 9162 SHA-256(0x00 || extra), and
 * the inclusion proof is what authenticates it. A verifier may instead bring the entry or its leaf
 * hash itself.
 *
 * Pure and portable: no I/O, Uint8Array only.
 *
 * @example
 *   const text = encodeProofBundle({ extra: entry, index: 7, proof, checkpoint: note });
 *   const ok = verifyProofBundle(parseProofBundle(text), { logVerifiers: [parseVerifierKey(vkey)] });
 */
import { equal, fromBase64, fromUtf8, toBase64 } from './bytes.js';
import { parseCheckpoint, type Checkpoint } from './checkpoint.js';
import { CandorError, invalid } from './errors.js';
import { HASH_SIZE, portableHasher, type Hasher } from './hash.js';
import { verifyInclusion } from './merkle.js';
import { SIG_COSIGNATURE_V1, openNote, parseNote, type NoteVerifier } from './note.js';

export const PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** tlog-proof: proofs SHOULD be stored with this file extension. */
export const PROOF_EXTENSION = '.tlog-proof';
/** A tree of at most 2^64 leaves has inclusion proofs of at most 64 hashes. */
export const MAX_PROOF_HASHES = 64;

export interface ProofBundle {
  /** Opaque, unauthenticated data (tlog-proof "extra"); Candor puts the entry here. */
  extra?: Uint8Array;
  index: number;
  /** RFC 9162 §2.1.3 inclusion proof, leaf sibling first. */
  proof: Uint8Array[];
  /** The signed checkpoint note, verbatim. */
  checkpoint: string;
}

/**
 * Which cosignatures a verifier requires. `verifiers` are the witness keys whose cosignatures
 * count; `satisfied` decides whether those that verified on a checkpoint are enough.
 */
export interface CosignaturePolicy {
  readonly verifiers: readonly NoteVerifier[];
  satisfied(cosigners: readonly NoteVerifier[]): boolean;
  /** For messages, e.g. "2 of 3 witnesses". */
  readonly description: string;
}

function checkCosignatureKeys(verifiers: readonly NoteVerifier[]): void {
  const seen = new Set<string>();
  for (const v of verifiers) {
    if (v.type !== SIG_COSIGNATURE_V1) throw invalid(`witness key ${v.name} is not a cosignature/v1 (type 0x04) verifier key`);
    const id = `${v.name}+${v.keyId}`;
    if (seen.has(id)) throw invalid(`witness key ${v.name} is given twice`);
    seen.add(id);
  }
}

/** k of n: at least `quorum` of the given witness keys must have cosigned (default: all). */
export function quorumPolicy(verifiers: readonly NoteVerifier[], quorum = verifiers.length): CosignaturePolicy {
  checkCosignatureKeys(verifiers);
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > verifiers.length) {
    throw invalid(`quorum must be an integer from 0 to the number of witness keys (${verifiers.length})`);
  }
  return {
    verifiers,
    satisfied: (cosigners) => cosigners.length >= quorum,
    description: `${quorum} of ${verifiers.length} witness${verifiers.length === 1 ? '' : 'es'}`,
  };
}

/** Formats a bundle; the checkpoint must be a well-formed signed checkpoint note. */
export function encodeProofBundle(b: ProofBundle): string {
  if (!Number.isSafeInteger(b.index) || b.index < 0) throw invalid('proof bundle index must be a non-negative integer');
  if (b.proof.length > MAX_PROOF_HASHES) throw invalid(`proof bundle has more than ${MAX_PROOF_HASHES} proof hashes`);
  for (const h of b.proof) if (h.length !== HASH_SIZE) throw invalid('proof bundle hash is not 32 bytes');
  parseCheckpoint(parseNote(b.checkpoint).text);
  const lines = [PROOF_HEADER];
  if (b.extra !== undefined) lines.push(`extra ${toBase64(b.extra)}`);
  lines.push(`index ${b.index}`, ...b.proof.map(toBase64));
  return `${lines.join('\n')}\n\n${b.checkpoint}`;
}

/**
 * Parses a bundle strictly: the header line, an optional extra line, the index (decimal, no
 * leading zeroes), canonical base64 32-byte hashes, an empty line, then a signed checkpoint note.
 * Signatures are not checked here (see verifyProofBundle).
 */
export function parseProofBundle(input: string | Uint8Array): ProofBundle {
  const text = typeof input === 'string' ? input : fromUtf8(input, 'proof bundle');
  const bad = (why: string): never => {
    throw invalid(`malformed proof bundle: ${why}`);
  };
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) bad('contains a control character (CR line endings are not allowed)');
  // Proof lines are never empty, so the first blank line ends them; the checkpoint note has its own.
  const split = text.indexOf('\n\n');
  if (split < 0) bad('no empty line before the checkpoint');
  const lines = text.slice(0, split).split('\n');
  if (lines[0] !== PROOF_HEADER) bad(`first line must be ${PROOF_HEADER}`);
  let i = 1;
  let extra: Uint8Array | undefined;
  if (lines[i]?.startsWith('extra ')) {
    extra = fromBase64(lines[i]!.slice('extra '.length), 'proof bundle extra');
    i++;
  }
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines[i] ?? '');
  if (m === null) bad('expected "index <decimal>" after the header (and the optional extra line)');
  const index = Number(m![1]);
  if (!Number.isSafeInteger(index)) bad('index is too large');
  const proofLines = lines.slice(i + 1);
  if (proofLines.length > MAX_PROOF_HASHES) bad(`more than ${MAX_PROOF_HASHES} proof hashes`);
  const proof = proofLines.map((l, j) => {
    const h = fromBase64(l, `proof bundle hash ${j + 1}`);
    if (h.length !== HASH_SIZE) bad(`proof hash ${j + 1} is not 32 bytes`);
    return h;
  });
  const checkpoint = text.slice(split + 2);
  parseCheckpoint(parseNote(checkpoint).text);
  return { ...(extra === undefined ? {} : { extra }), index, proof, checkpoint };
}

export interface ProofVerifyOptions {
  /** The log's verifier keys; at least one must have signed the checkpoint. */
  logVerifiers: readonly NoteVerifier[];
  /** The expected origin; by default the name of the first log key (tlog-checkpoint: key name SHOULD be the origin). */
  origin?: string;
  /** Cosignatures required; none by default. */
  policy?: CosignaturePolicy;
  /** The entry, if the caller has it; otherwise the bundle's extra data is taken as the entry. */
  entry?: Uint8Array;
  /** The leaf hash, if the caller computed it (takes precedence over entry and extra). */
  leafHash?: Uint8Array;
  hasher?: Hasher;
}

export interface VerifiedProof {
  checkpoint: Checkpoint;
  index: number;
  leafHash: Uint8Array;
  /** The entry whose inclusion was proved, when it came from the bundle or the caller. */
  entry?: Uint8Array;
  /** The witness keys whose cosignatures verified. */
  cosigners: NoteVerifier[];
}

/**
 * Verifies a checkpoint note as tlog-proof does: a valid signature by a log key, the expected
 * origin (by default the first log key's name), and cosignatures that meet the policy. Shared by
 * every offline verifier (proof bundles, export bundles). Throws CandorError('verification_failed').
 */
export function openWitnessedCheckpoint(
  note: string,
  opts: { logVerifiers: readonly NoteVerifier[]; origin?: string; policy?: CosignaturePolicy },
): { checkpoint: Checkpoint; cosigners: NoteVerifier[] } {
  const fail = (why: string): never => {
    throw new CandorError('verification_failed', why);
  };
  const witnesses = opts.policy?.verifiers ?? [];
  // One note.Open over log and witness keys: a signature by any known key that fails rejects the
  // checkpoint, as x/mod does (signed-note §Verifying).
  const opened = openNote(note, [...opts.logVerifiers, ...witnesses]);
  const signedBy = (v: NoteVerifier) => opened.verified.some((s) => s.name === v.name && s.keyId === v.keyId);
  if (!opts.logVerifiers.some(signedBy)) fail('the checkpoint has no valid signature by the log key');
  const checkpoint = parseCheckpoint(opened.text);
  const origin = opts.origin ?? opts.logVerifiers[0]!.name;
  if (checkpoint.origin !== origin) fail(`the checkpoint is for origin ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(origin)}`);
  const cosigners = witnesses.filter(signedBy);
  if (opts.policy && !opts.policy.satisfied(cosigners)) {
    fail(
      `the checkpoint is cosigned by ${cosigners.length} of the trusted witnesses (${cosigners.map((c) => c.name).join(', ') || 'none'}); the policy needs ${opts.policy.description}`,
    );
  }
  return { checkpoint, cosigners };
}

/**
 * Verifies a bundle offline, in the order of tlog-proof: leaf hash, origin and log signature,
 * cosignatures against the policy, then the RFC 9162 §2.1.3.2 inclusion proof against the
 * checkpoint root. Throws CandorError('verification_failed') with the reason.
 */
export function verifyProofBundle(b: ProofBundle, opts: ProofVerifyOptions): VerifiedProof {
  const hasher = opts.hasher ?? portableHasher;
  const fail = (why: string): never => {
    throw new CandorError('verification_failed', why);
  };
  if (opts.logVerifiers.length === 0) throw invalid('give at least one log verifier key');
  const entry = opts.entry ?? b.extra;
  let leafHash: Uint8Array;
  if (opts.leafHash !== undefined) leafHash = opts.leafHash;
  else if (entry !== undefined) leafHash = hasher.leaf(entry);
  else throw invalid('the proof bundle carries no entry (no extra line): give the entry or its leaf hash');
  if (opts.leafHash !== undefined && entry !== undefined && !equal(hasher.leaf(entry), opts.leafHash)) {
    fail('the entry does not have the given leaf hash');
  }

  const { checkpoint, cosigners } = openWitnessedCheckpoint(b.checkpoint, opts);
  verifyInclusion(hasher, b.index, checkpoint.size, leafHash, b.proof, checkpoint.root);
  return { checkpoint, index: b.index, leafHash, ...(entry === undefined ? {} : { entry }), cosigners };
}
