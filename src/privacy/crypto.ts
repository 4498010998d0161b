/**
 * The envelope encryption of the openings store (docs/privacy.md): AES-256-GCM (NIST SP 800-38D)
 * from node:crypto, with a fresh 96-bit random nonce per sealing, and associated data that binds
 * each ciphertext to where it belongs, so that a ciphertext moved to another record, field,
 * subject or tenant fails to open instead of disclosing the wrong value.
 *
 * Two layers: data-encryption keys (DEKs, one per tenant or per tenant and data subject) seal the
 * openings; a master key read from a secret file wraps the DEKs. Erasure destroys DEKs (and the
 * sealed records), never the master key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { concat, fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const MASTER_KEY_HEADER = 'candor-privacy-master-key-v1';

export interface Sealed {
  nonce: Uint8Array;
  /** Ciphertext followed by the 16-byte GCM tag. */
  sealed: Uint8Array;
}

/** Associated data: a domain prefix, then each part with a 2-byte length (unambiguous). */
export function associatedData(domain: string, ...parts: (string | Uint8Array)[]): Uint8Array {
  const out: Uint8Array[] = [utf8(`candor/${domain}/v1\n`)];
  for (const p of parts) {
    const b = typeof p === 'string' ? utf8(p) : p;
    out.push(new Uint8Array([b.length >> 8, b.length & 0xff]), b);
  }
  return concat(...out);
}

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  const body = concat(c.update(plaintext), c.final(), c.getAuthTag());
  return { nonce: new Uint8Array(nonce), sealed: body };
}

/**
 * Opens a sealed value; `what` names it in the error. A wrong key, a changed byte or associated
 * data that differs (a ciphertext swapped between records) all fail the same way.
 */
export function open(key: Uint8Array, s: Sealed, aad: Uint8Array, what: string): Uint8Array {
  if (s.nonce.length !== NONCE_BYTES || s.sealed.length < TAG_BYTES) throw tampered(what);
  const d = createDecipheriv('aes-256-gcm', key, s.nonce);
  d.setAAD(aad);
  d.setAuthTag(s.sealed.subarray(s.sealed.length - TAG_BYTES));
  try {
    return new Uint8Array(concat(d.update(s.sealed.subarray(0, s.sealed.length - TAG_BYTES)), d.final()));
  } catch {
    throw tampered(what);
  }
}

function tampered(what: string): CandorError {
  return new CandorError('verification_failed', `${what} does not authenticate: it was altered, or moved from another record`);
}

export function newKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}

export function sealedToJson(s: Sealed): { nonce: string; sealed: string } {
  return { nonce: toBase64(s.nonce), sealed: toBase64(s.sealed) };
}

export function sealedFromJson(j: { nonce?: unknown; sealed?: unknown }, what: string): Sealed {
  if (typeof j.nonce !== 'string' || typeof j.sealed !== 'string') throw new CandorError('internal', `${what} is malformed`);
  return { nonce: fromBase64(j.nonce, `${what} nonce`), sealed: fromBase64(j.sealed, `${what} ciphertext`) };
}

/**
 * Reads the master key, or creates it (mode 0600) when `create` and the file is absent. The file
 * is one line: a header and the key in base64. Its content is never logged or echoed.
 */
export function loadMasterKey(file: string, create: boolean): { key: Uint8Array; created: boolean } {
  if (!existsSync(file)) {
    if (!create) throw new CandorError('unavailable', `the privacy master key ${file} does not exist: restore it (without it no stored opening can be read)`);
    mkdirSync(dirname(file), { recursive: true });
    const key = newKey();
    writeFileSync(file, `${MASTER_KEY_HEADER} ${toBase64(key)}\n`, { mode: 0o600, flag: 'wx' });
    return { key, created: true };
  }
  const mode = statSync(file).mode & 0o077;
  // Tighten a key file others can read rather than refuse to start, as ssh refuses: the log
  // would otherwise stay down over a permission bit. (A group-readable file is the operator's
  // choice when the key is shared through a secrets mount; only "others" is cleared.)
  if (mode & 0o007) chmodSync(file, statSync(file).mode & ~0o007);
  const m = new RegExp(`^${MASTER_KEY_HEADER} ([A-Za-z0-9+/=]+)\\s*$`).exec(readFileSync(file, 'utf8'));
  const key = m ? fromBase64(m[1]!, 'privacy master key') : undefined;
  if (!key || key.length !== KEY_BYTES) throw new CandorError('invalid_argument', `${file} is not a Candor privacy master key ("${MASTER_KEY_HEADER} <32 bytes, base64>")`);
  return { key, created: false };
}
