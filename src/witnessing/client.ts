/**
 * One c2sp.org/tlog-witness add-checkpoint request, as the log makes it: the body, a deadline on
 * the whole exchange (headers and body), and the answer checked before anything is kept. On 200
 * the returned signature lines are verified with the witness's cosignature/v1 key against the
 * checkpoint text; lines by other keys are ignored, as the spec asks.
 */
import { toBase64, utf8 } from '@candor/core/bytes';
import { parseNote, type NoteSignature, type NoteVerifier } from '@candor/core/note';

/** Cosignature lines are ~150 bytes each; anything much larger is not a witness answer. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export type AddCheckpointOutcome =
  /** 200 with a valid cosignature by the witness's key. */
  | { kind: 'cosigned'; status: 200; cosignature: NoteSignature }
  /** 409: the witness's latest cosigned size, from the text/x.tlog.size body. */
  | { kind: 'conflict'; status: 409; size: number }
  /** Any other answer, or a 200 without a valid cosignature (status "bad_cosignature"). */
  | { kind: 'refused'; status: number | 'bad_cosignature'; message: string }
  /** No answer in time, or no answer at all. */
  | { kind: 'failed'; status: 'timeout' | 'network' | 'stopped'; message: string };

export interface AddCheckpointRequest {
  /** Submission prefix; the request goes to <url>/add-checkpoint. */
  url: string;
  oldSize: number;
  proof: readonly Uint8Array[];
  /** The log-signed checkpoint note. */
  note: string;
  /** Its text (the part the signatures cover). */
  text: string;
  verifier: NoteVerifier;
  timeoutMs: number;
  /** Aborts the request when the log stops. */
  signal?: AbortSignal;
}

export function addCheckpointBody(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  return `old ${oldSize}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${note}`;
}

export async function addCheckpoint(req: AddCheckpointRequest): Promise<AddCheckpointOutcome> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
  let status: number;
  let body: string;
  try {
    const res = await fetch(`${req.url}/add-checkpoint`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: addCheckpointBody(req.oldSize, req.proof, req.note),
      signal,
    });
    status = res.status;
    body = await readCapped(res);
  } catch (err) {
    if (req.signal?.aborted) return { kind: 'failed', status: 'stopped', message: 'the log is stopping' };
    if (timeout.aborted) return { kind: 'failed', status: 'timeout', message: `no answer within ${req.timeoutMs} ms` };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'failed', status: 'network', message: cause?.code ?? cause?.message ?? (err as Error).message };
  }
  if (status === 409) {
    // tlog-witness: the body is the latest cosigned size and a newline, as text/x.tlog.size.
    const m = /^(0|[1-9][0-9]{0,15})\n?$/.exec(body);
    const size = m ? Number(m[1]) : NaN;
    if (!Number.isSafeInteger(size)) return { kind: 'refused', status, message: `409 without a valid size body: ${JSON.stringify(body.slice(0, 80))}` };
    return { kind: 'conflict', status, size };
  }
  if (status !== 200) return { kind: 'refused', status, message: body.trim().slice(0, 500) || `HTTP ${status}` };
  const cosignature = verifyCosignature(req.text, body, req.verifier);
  if (typeof cosignature === 'string') return { kind: 'refused', status: 'bad_cosignature', message: cosignature };
  return { kind: 'cosigned', status: 200, cosignature };
}

/**
 * Finds the witness's cosignature among the returned note signature lines and verifies it over
 * the checkpoint text; returns it, or why there is none.
 */
export function verifyCosignature(text: string, lines: string, verifier: NoteVerifier): NoteSignature | string {
  let sigs: NoteSignature[];
  try {
    sigs = parseNote(`${text}\n${lines}`).signatures;
  } catch (err) {
    return `the answer is not note signature lines: ${(err as Error).message}`;
  }
  const textBytes = utf8(text);
  const mine = sigs.filter((s) => s.name === verifier.name && s.keyId === verifier.keyId);
  if (mine.length === 0) return `no cosignature by ${verifier.name} with the configured key`;
  const good = mine.find((s) => verifier.verify(textBytes, s.sig));
  return good ?? `the cosignature by ${verifier.name} does not verify with the configured key`;
}

async function readCapped(res: Response): Promise<string> {
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.length;
    if (total > MAX_RESPONSE_BYTES) {
      await res.body.cancel().catch(() => {});
      throw new Error(`response is larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
