/**
 * The witness operation of c2sp.org/tlog-witness: add-checkpoint, which cosigns a checkpoint
 * (cosignature/v1, c2sp.org/tlog-cosignature) only if it is consistent with the latest checkpoint
 * this witness cosigned for the same origin, and the monitoring read of that latest checkpoint.
 *
 * Transport-free: HTTP (server.ts) and polling (poller.ts) both call addCheckpoint, so the checks
 * exist once. Statuses and their order are those of the spec's status-code list (see
 * docs/witness.md and ../shared/specs/standards.md §4.2).
 */
import type { Logger } from 'pino';
import { equal, fromBase64, fromUtf8, toBase64, utf8 } from '@candor/core/bytes';
import { parseCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { CandorError, invalid, type ErrorCode } from '@candor/core/errors';
import { HASH_SIZE, type Hasher } from '@candor/core/hash';
import { verifyConsistency } from '@candor/core/merkle';
import { openNote, parseNote, parseVerifierKey, signNote, signatureLine, type Ed25519, type NoteSigner, type NoteVerifier, type OpenedNote } from '@candor/core/note';
import { nodeEd25519, nodeHasher } from '../crypto/node.js';
import type { WitnessStore } from './store.js';

/** A client MUST NOT send more than 63 proof hashes (tlog-witness §add-checkpoint). */
export const MAX_PROOF_HASHES = 63;

export const TEXT = 'text/plain; charset=utf-8';
/** The 409 body's media type (tlog-witness §add-checkpoint). */
export const SIZE_TYPE = 'text/x.tlog.size';

export interface WitnessResponse {
  status: number;
  body: string;
  contentType: string;
}

/** A parsed add-checkpoint request body (tlog-witness §add-checkpoint). */
export interface AddCheckpointRequest {
  oldSize: number;
  proof: Uint8Array[];
  /** The signed checkpoint note, as sent. */
  note: string;
  /** Its text (without signatures), parsed. */
  checkpoint: Checkpoint;
  text: string;
}

/** Statuses for the failures of add-checkpoint; 409 is built separately for its body. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_argument: 400,
  not_found: 404,
  permission_denied: 403,
  verification_failed: 422,
};

export interface WitnessOptions {
  store: WitnessStore;
  /** The witness's cosignature/v1 signers; each adds one line to every cosigned checkpoint. */
  signers: readonly NoteSigner[];
  logger?: Logger;
  /** Defaults to node:crypto: a witness is server code, and Ed25519 verification is its hot path. */
  hasher?: Hasher;
  crypto?: Ed25519;
}

export class Witness {
  readonly store: WitnessStore;
  readonly #signers: readonly NoteSigner[];
  readonly #logger: Logger | undefined;
  readonly #hasher: Hasher;
  readonly #crypto: Ed25519;
  /** Parsed verifier keys per origin, reparsed only when the configured keys change. */
  readonly #verifiers = new Map<string, { vkeys: string; verifiers: NoteVerifier[] }>();

  constructor(opts: WitnessOptions) {
    if (opts.signers.length === 0) throw invalid('a witness needs at least one signer key');
    this.store = opts.store;
    this.#signers = opts.signers;
    this.#logger = opts.logger;
    this.#hasher = opts.hasher ?? nodeHasher;
    this.#crypto = opts.crypto ?? nodeEd25519;
  }

  #verifiersFor(origin: string, vkeys: readonly string[]): NoteVerifier[] {
    const joined = vkeys.join('\n');
    let v = this.#verifiers.get(origin);
    if (v?.vkeys !== joined) {
      v = { vkeys: joined, verifiers: vkeys.map((k) => parseVerifierKey(k, this.#crypto)) };
      this.#verifiers.set(origin, v);
    }
    return v.verifiers;
  }

  /**
   * Handles a POST add-checkpoint body. Client mistakes become 4xx responses; only storage
   * failures throw.
   */
  async addCheckpoint(body: string | Uint8Array): Promise<WitnessResponse> {
    try {
      return await this.#add(body);
    } catch (err) {
      const status = err instanceof CandorError ? STATUS[err.code] : undefined;
      if (status === undefined) throw err;
      return { status, body: `${(err as Error).message}\n`, contentType: TEXT };
    }
  }

  async #add(body: string | Uint8Array): Promise<WitnessResponse> {
    const req = parseAddCheckpoint(body);
    const { origin, size, root } = req.checkpoint;

    const config = await this.store.getLog(origin);
    if (config === undefined) throw new CandorError('not_found', `unknown origin ${JSON.stringify(origin)}`);

    // signed-note §Verifying: a failing signature by a trusted name and ID rejects the note, just
    // as the absence of any trusted signature does; tlog-witness answers both with 403.
    let opened: OpenedNote;
    try {
      opened = openNote(req.note, this.#verifiersFor(origin, config.vkeys));
    } catch (err) {
      throw new CandorError('permission_denied', err instanceof Error ? err.message : 'checkpoint signature does not verify');
    }

    if (req.oldSize > size) throw invalid(`old size ${req.oldSize} is larger than the checkpoint size ${size}`);

    return this.store.transact(origin, async (state) => {
      if (req.oldSize !== state.size) {
        return { result: { status: 409, body: `${state.size}\n`, contentType: SIZE_TYPE } };
      }
      try {
        this.#checkConsistency(req, state.root);
      } catch (err) {
        // The checkpoint is signed by the log yet does not extend what this witness cosigned:
        // possibly a split view, worth keeping as evidence (tlog-witness MAY log these).
        this.#logger?.warn(
          {
            origin,
            oldSize: req.oldSize,
            oldRoot: toBase64(state.root),
            size,
            root: toBase64(root),
            proof: req.proof.map(toBase64),
            checkpoint: req.note,
            reason: (err as Error).message,
          },
          'signed checkpoint is inconsistent with the cosigned state: possible split view',
        );
        throw err;
      }
      const textBytes = utf8(req.text);
      const cosignatures = this.#signers.map((s) => signatureLine(s.name, s.keyId, s.sign(textBytes))).join('');
      // The monitoring endpoint serves the checkpoint with the log signatures that verified and
      // the cosignatures (tlog-witness §Monitoring); unknown signatures are not vouched for.
      const note = signNote(req.text, [], opened.verified) + cosignatures;
      return {
        result: { status: 200, body: cosignatures, contentType: TEXT },
        state: { size, root, note },
      };
    });
  }

  /** Checks 5 to 8 of the status-code list, against the cosigned root at the old size. */
  #checkConsistency(req: AddCheckpointRequest, oldRoot: Uint8Array): void {
    const { size, root } = req.checkpoint;
    const fail = (why: string): never => {
      throw new CandorError('verification_failed', why);
    };
    if (size === 0 && !equal(root, this.#hasher.empty)) fail('checkpoint of size 0 does not have the empty-tree root');
    // RFC 9162 defines no proof from the empty tree; tlog-witness takes old 0 as trivially
    // consistent, provided no proof is sent.
    if (req.oldSize === 0) {
      if (req.proof.length !== 0) fail('consistency proof from size 0 must be empty');
      return;
    }
    if (req.oldSize === size && !equal(root, oldRoot)) fail(`root differs from the cosigned root at size ${size}`);
    try {
      verifyConsistency(this.#hasher, req.oldSize, size, oldRoot, root, req.proof);
    } catch (err) {
      fail(`consistency proof from ${req.oldSize} to ${size} does not verify: ${(err as Error).message}`);
    }
  }

  /** The latest cosigned checkpoint of the origin whose lowercase hex SHA-256 is `hash`. */
  async latestCheckpoint(hash: string): Promise<WitnessResponse> {
    const origin = await this.store.originByHash(hash);
    const state = origin === undefined ? undefined : await this.store.getState(origin);
    if (state?.note === undefined) return { status: 404, body: 'no checkpoint cosigned for this origin\n', contentType: TEXT };
    return { status: 200, body: state.note, contentType: TEXT };
  }
}

/**
 * Parses an add-checkpoint body:
 *   old <size>\n  <0..63 base64 proof hashes, one per line>  \n  <signed checkpoint note>
 * Throws CandorError('invalid_argument') on any syntax error.
 */
export function parseAddCheckpoint(body: string | Uint8Array): AddCheckpointRequest {
  const s = typeof body === 'string' ? body : fromUtf8(body, 'request body');
  const end = s.indexOf('\n\n');
  if (end < 0) throw invalid('request body has no blank line before the checkpoint');
  const [oldLine, ...proofLines] = s.slice(0, end).split('\n') as [string, ...string[]];
  const m = /^old (0|[1-9][0-9]*)$/.exec(oldLine);
  if (m === null) throw invalid('first line must be "old <size>"');
  const oldSize = Number(m[1]);
  if (!Number.isSafeInteger(oldSize)) throw invalid('old size is too large');
  if (proofLines.length > MAX_PROOF_HASHES) throw invalid(`more than ${MAX_PROOF_HASHES} consistency proof hashes`);
  const proof = proofLines.map((line, i) => {
    const h = fromBase64(line, `consistency proof hash ${i + 1}`);
    if (h.length !== HASH_SIZE) throw invalid(`consistency proof hash ${i + 1} is not ${HASH_SIZE} bytes`);
    return h;
  });
  const note = s.slice(end + 2);
  const text = parseNote(note).text;
  return { oldSize, proof, note, checkpoint: parseCheckpoint(text), text };
}
