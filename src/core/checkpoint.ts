/**
 * c2sp.org/tlog-checkpoint: the note text "<origin>\n<size>\n<base64 root>\n[extension lines]",
 * parsed strictly (no leading zeroes, canonical base64, 32-byte root, no empty lines).
 */
import { fromBase64, toBase64 } from './bytes.js';
import { invalid } from './errors.js';
import { HASH_SIZE } from './hash.js';
import { openNote, type NoteVerifier, type OpenedNote } from './note.js';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  extensions: string[];
}

export function formatCheckpoint(c: Checkpoint): string {
  return [c.origin, String(c.size), toBase64(c.root), ...c.extensions].map((l) => `${l}\n`).join('');
}

/** Parses a checkpoint body (the note text, without signatures). */
export function parseCheckpoint(text: string): Checkpoint {
  const bad = (why: string): never => {
    throw invalid(`malformed checkpoint: ${why}`);
  };
  if (!text.endsWith('\n')) bad('no final newline');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) bad('contains a control character');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) bad('fewer than 3 lines');
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === '') bad('empty origin');
  if (!/^(0|[1-9][0-9]*)$/.test(size)) bad('size is not a decimal number without leading zeroes');
  const n = Number(size);
  if (!Number.isSafeInteger(n)) bad('size is too large');
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(root, 'root hash');
  } catch {
    return bad('root hash is not canonical base64');
  }
  if (rootHash.length !== HASH_SIZE) bad('root hash is not 32 bytes');
  if (extensions.some((e) => e === '')) bad('empty extension line');
  return { origin, size: n, root: rootHash, extensions };
}

export interface OpenedCheckpoint extends OpenedNote {
  checkpoint: Checkpoint;
}

/**
 * Verifies a signed checkpoint note with the log's verifier keys and parses it; the origin must
 * equal `origin` when given (a checkpoint's key name need not be its origin).
 */
export function openCheckpoint(note: string | Uint8Array, verifiers: readonly NoteVerifier[], origin?: string): OpenedCheckpoint {
  const opened = openNote(note, verifiers);
  const checkpoint = parseCheckpoint(opened.text);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw invalid(`checkpoint origin ${JSON.stringify(checkpoint.origin)} is not ${JSON.stringify(origin)}`);
  }
  return { ...opened, checkpoint };
}
