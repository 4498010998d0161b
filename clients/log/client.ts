/**
 * A small, portable client for a Candor log's HTTP API (fetch only, no Node built-ins), which
 * verifies what it gets: checkpoints against the log's verifier keys, proofs against checkpoints.
 * The CLI's `add` and `verify` use it; so can a browser.
 */
import { fromBase64, toBase64 } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { CandorError, type ErrorCode } from '@candor/core/errors';
import { portableHasher, type Hasher } from '@candor/core/hash';
import { verifyConsistency, verifyInclusion } from '@candor/core/merkle';
import { parseVerifierKey, type NoteVerifier } from '@candor/core/note';

export interface VerifiedCheckpoint {
  note: string;
  checkpoint: Checkpoint;
}

export interface AddResult {
  index: number;
  leafHash: Uint8Array;
  checkpoint: VerifiedCheckpoint;
  inclusionProof: Uint8Array[];
  duplicate: boolean;
}

export class LogClient {
  readonly url: string;
  readonly verifiers: NoteVerifier[];
  readonly hasher: Hasher;
  readonly #timeoutMs: number;

  constructor(url: string, vkeys: readonly string[], opts: { hasher?: Hasher; timeoutMs?: number } = {}) {
    this.url = url.replace(/\/+$/, '');
    this.verifiers = vkeys.map((v) => parseVerifierKey(v));
    this.hasher = opts.hasher ?? portableHasher;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CandorError('unavailable', `cannot reach the log at ${this.url}: ${why}`, { cause: err });
    }
    if (!res.ok) {
      let code: ErrorCode = 'internal';
      let message = `${res.status} ${res.statusText}`;
      try {
        const body = (await res.json()) as { error?: { code?: ErrorCode; message?: string } };
        if (body.error?.code) code = body.error.code;
        if (body.error?.message) message = body.error.message;
      } catch {
        // not a JSON error body; keep the status line
      }
      throw new CandorError(code, `${path}: ${message}`);
    }
    return res;
  }

  /** Fetches the latest checkpoint and verifies its signature with the log's keys. */
  async checkpoint(): Promise<VerifiedCheckpoint> {
    const note = await (await this.#fetch('/checkpoint')).text();
    return this.verifyCheckpoint(note);
  }

  verifyCheckpoint(note: string): VerifiedCheckpoint {
    return { note, checkpoint: openCheckpoint(note, this.verifiers).checkpoint };
  }

  /** Submits an entry and verifies the acknowledgement: signed checkpoint, inclusion of our leaf. */
  async add(entry: Uint8Array): Promise<AddResult> {
    const res = await this.#fetch('/add', {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: entry,
    });
    const ack = (await res.json()) as { index: number; leafHash: string; checkpoint: string; inclusionProof: string[]; duplicate: boolean };
    const checkpoint = this.verifyCheckpoint(ack.checkpoint);
    const leafHash = this.hasher.leaf(entry);
    if (toBase64(leafHash) !== ack.leafHash) throw new CandorError('verification_failed', 'the log acknowledged a different leaf hash');
    const proof = ack.inclusionProof.map((h) => fromBase64(h, 'inclusionProof'));
    verifyInclusion(this.hasher, ack.index, checkpoint.checkpoint.size, leafHash, proof, checkpoint.checkpoint.root);
    return { index: ack.index, leafHash, checkpoint, inclusionProof: proof, duplicate: ack.duplicate };
  }

  /** Proves that a leaf is in the tree of a verified checkpoint (by index or leaf hash). */
  async proveInclusion(cp: Checkpoint, q: { index?: number; leafHash?: Uint8Array }): Promise<{ index: number; leafHash: Uint8Array; proof: Uint8Array[] }> {
    const params = new URLSearchParams({ size: String(cp.size) });
    if (q.leafHash) params.set('hash', toBase64(q.leafHash));
    else params.set('index', String(q.index));
    const body = (await (await this.#fetch(`/proof/inclusion?${params}`)).json()) as { index: number; leafHash: string; proof: string[] };
    const leafHash = fromBase64(body.leafHash, 'leafHash');
    if (q.leafHash && toBase64(q.leafHash) !== body.leafHash) throw new CandorError('verification_failed', 'the log proved a different leaf');
    if (q.index !== undefined && body.index !== q.index) throw new CandorError('verification_failed', 'the log proved a different index');
    const proof = body.proof.map((h) => fromBase64(h, 'proof'));
    verifyInclusion(this.hasher, body.index, cp.size, leafHash, proof, cp.root);
    return { index: body.index, leafHash, proof };
  }

  /** Proves that the tree of `newer` extends the tree of `older` (both verified checkpoints). */
  async proveConsistency(older: Checkpoint, newer: Checkpoint): Promise<Uint8Array[]> {
    if (older.size === 0) return [];
    const body = (await (await this.#fetch(`/proof/consistency?from=${older.size}&to=${newer.size}`)).json()) as { proof: string[] };
    const proof = body.proof.map((h) => fromBase64(h, 'proof'));
    verifyConsistency(this.hasher, older.size, newer.size, older.root, newer.root, proof);
    return proof;
  }
}
