/**
 * Salted commitments to sensitive fields (docs/leaf-format.md §Commitments; audit-domain.md §6,
 * option E, the SD-JWT pattern of RFC 9901). A leaf holds only
 *
 *   SHA-256("candor/commitment/v1\n" || uint8 len(salt) || salt || uint16 len(field) || field || value)
 *
 * with a random salt of at least 128 bits; the opening (field, salt, value) stays with the
 * producer. Without the salt a low-entropy value (a balance, an SSN, a status) cannot be found by
 * trying candidates; with it an authorised auditor checks the value; deleting the opening erases
 * the value and leaves every proof valid. The field name is hashed in, so an opening for one
 * field cannot be passed off as another's.
 *
 * Portable: randomness from globalThis.crypto (Node >= 19 and browsers).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, equal, utf8 } from '@candor/core/bytes';
import { invalid } from '@candor/core/errors';

export const COMMITMENT_PREFIX = utf8('candor/commitment/v1\n');
export const MIN_SALT_BYTES = 16;
export const DEFAULT_SALT_BYTES = 32;

export interface Opening {
  /** The field the value belongs to, e.g. "column_change.new_value" or "actor.email". */
  field: string;
  salt: Uint8Array;
  /** The value's bytes: UTF-8 for text. */
  value: Uint8Array;
}

export interface Committed {
  digest: Uint8Array;
  opening: Opening;
}

function valueBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? utf8(v) : v;
}

/** The commitment digest of an opening. */
export function commitmentDigest(o: Opening): Uint8Array {
  if (o.salt.length < MIN_SALT_BYTES || o.salt.length > 255) throw invalid(`salt must be ${MIN_SALT_BYTES} to 255 bytes`);
  const field = utf8(o.field);
  if (field.length === 0 || field.length > 0xffff) throw invalid('field name must be 1 to 65535 bytes');
  const len = new Uint8Array([field.length >> 8, field.length & 0xff]);
  return sha256(concat(COMMITMENT_PREFIX, new Uint8Array([o.salt.length]), o.salt, len, field, o.value));
}

/** Commits to a value with a fresh random salt; keep the opening, send the digest. */
export function commit(field: string, value: string | Uint8Array, salt?: Uint8Array): Committed {
  const s = salt ?? globalThis.crypto.getRandomValues(new Uint8Array(DEFAULT_SALT_BYTES));
  const opening = { field, salt: s, value: valueBytes(value) };
  return { digest: commitmentDigest(opening), opening };
}

/** Whether an opening opens a commitment. */
export function verifyOpening(digest: Uint8Array, o: Opening): boolean {
  return digest.length === 32 && equal(commitmentDigest(o), digest);
}

/**
 * A statement's fingerprint: its shape with literals and comments removed, lower-cased outside
 * quoted identifiers, whitespace collapsed, then hashed (128 bits, hex). Equal for the same query
 * with other values, so "how often did this query run" works without the text; it reveals no
 * literal value. Unkeyed on purpose: a shape is not personal data, and fingerprints must compare
 * across producers.
 */
export function statementFingerprint(sql: string): string {
  const normalized = normalizeStatement(sql);
  const h = sha256(utf8(`candor/fingerprint/v1\n${normalized}`));
  let out = '';
  for (let i = 0; i < 16; i++) out += h[i]!.toString(16).padStart(2, '0');
  return out;
}

/** The normalisation statementFingerprint hashes (exported for tests and documentation). */
export function normalizeStatement(sql: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      while (i < n && sql[i] !== '\n') i++;
      out += ' ';
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      out += ' ';
    } else if (c === "'") {
      // A string literal; '' is an escaped quote inside it.
      i++;
      while (i < n && !(sql[i] === "'" && sql[i + 1] !== "'")) i += sql[i] === "'" ? 2 : 1;
      i++;
      out += '?';
    } else if (c === '$') {
      // A dollar-quoted string ($$...$$ or $tag$...$tag$), or a positional parameter ($1).
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        i = end < 0 ? n : end + m[0].length;
        out += '?';
      } else {
        const p = /^\$[0-9]+/.exec(sql.slice(i, i + 12));
        out += '?';
        i += p ? p[0].length : 1;
      }
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      const j = end < 0 ? n : end + 1;
      out += sql.slice(i, j);
      i = j;
    } else if (/[0-9]/.test(c) && !/[A-Za-z0-9_]/.test(out[out.length - 1] ?? ' ')) {
      while (i < n && /[0-9.eE]/.test(sql[i]!)) i++;
      out += '?';
    } else {
      out += c.toLowerCase();
      i++;
    }
  }
  return out
    .replace(/\s+/g, ' ')
    .replace(/\?(\s*,\s*\?)+/g, '?')
    .replace(/\s*([(),;=<>])\s*/g, '$1')
    .trim()
    .replace(/;$/, '');
}
