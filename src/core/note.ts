/**
 * c2sp.org/signed-note: notes, Ed25519 signatures (type 0x01), cosignature/v1 (type 0x04,
 * c2sp.org/tlog-cosignature), and the key string formats of golang.org/x/mod/sumdb/note:
 *   verifier key  <name>+<8 hex key ID>+<base64(type || public key)>
 *   signer key    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>
 * Parsing follows x/mod's note.Open rule for rule, so that what it accepts we accept.
 */
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { concat, fromBase64, putU32be, putU64be, toBase64, u32be, u64be, utf8, fromUtf8 } from './bytes.js';
import { CandorError, invalid } from './errors.js';

ed.hashes.sha512 = sha512;

export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

/** x/mod rejects notes with more than 100 signature lines; the spec asks for at least 16. */
export const MAX_SIGNATURES = 100;

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** Returns the signature bytes that follow the key ID in the signature line. */
  sign(text: Uint8Array): Uint8Array;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  /** Checks the signature bytes (after the key ID) over the note text. */
  verify(text: Uint8Array, sig: Uint8Array): boolean;
}

/** Raw Ed25519 over bytes; the server swaps in node:crypto (src/crypto/), clients use noble. */
export interface Ed25519 {
  sign(msg: Uint8Array, seed: Uint8Array): Uint8Array;
  verify(sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean;
  publicKey(seed: Uint8Array): Uint8Array;
}

export const portableEd25519: Ed25519 = {
  sign: (msg, seed) => ed.sign(msg, seed),
  verify: (sig, msg, pub) => {
    try {
      return ed.verify(sig, msg, pub);
    } catch {
      return false;
    }
  },
  publicKey: (seed) => ed.getPublicKey(seed),
};

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The base64 payload of the line: key ID || signature. */
  base64: string;
  /** The signature bytes after the key ID. */
  sig: Uint8Array;
}

export interface Note {
  /** The signed text, ending in a newline. */
  text: string;
  signatures: NoteSignature[];
}

export interface OpenedNote {
  text: string;
  /** Signatures by known keys, each verified. */
  verified: NoteSignature[];
  /** Signatures by keys the caller does not know, kept as they are. */
  unverified: NoteSignature[];
}

/** Key names must be non-empty and have no Unicode space and no "+". */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s\u0085]/u.test(name) && !name.includes('+');
}

/** Key ID = SHA-256(name || 0x0A || type || public key)[:4], big-endian (signed-note §Key IDs). */
export function keyId(name: string, typeAndKey: Uint8Array): number {
  return u32be(sha256(concat(utf8(name), new Uint8Array([0x0a]), typeAndKey)));
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  const typed = concat(new Uint8Array([type]), publicKey);
  return `${name}+${hex8(keyId(name, typed))}+${toBase64(typed)}`;
}

function splitKey(s: string, parts: number, what: string): string[] {
  // The name cannot contain "+", but base64 can: split off exactly `parts - 1` fields.
  const out: string[] = [];
  let rest = s;
  for (let i = 0; i < parts - 1; i++) {
    const j = rest.indexOf('+');
    if (j < 0) throw invalid(`${what} is malformed: expected ${parts} "+"-separated fields`);
    out.push(rest.slice(0, j));
    rest = rest.slice(j + 1);
  }
  out.push(rest);
  return out;
}

function parseKeyId(s: string, what: string): number {
  if (!/^[0-9a-f]{8}$/.test(s)) throw invalid(`${what} key ID must be 8 lowercase hex digits`);
  return parseInt(s, 16);
}

/** Parses a verifier key; supports Ed25519 (0x01) and cosignature/v1 (0x04) keys. */
export function parseVerifierKey(vkey: string, crypto: Ed25519 = portableEd25519): NoteVerifier {
  const [name, id, b64] = splitKey(vkey.trim(), 3, 'verifier key');
  if (!isValidKeyName(name!)) throw invalid('verifier key has an invalid key name');
  const kid = parseKeyId(id!, 'verifier key');
  const typed = fromBase64(b64!, 'verifier key');
  if (typed.length === 0) throw invalid('verifier key is empty');
  if (keyId(name!, typed) !== kid) throw invalid('verifier key ID does not match the key');
  const type = typed[0]!;
  const pub = typed.subarray(1);
  if (type !== SIG_ED25519 && type !== SIG_COSIGNATURE_V1) throw invalid(`verifier key has unsupported type 0x${type.toString(16)}`);
  if (pub.length !== 32) throw invalid('verifier key is not a 32-byte Ed25519 key');
  if (type === SIG_ED25519) {
    return { name: name!, keyId: kid, type, verify: (text, sig) => sig.length === 64 && crypto.verify(sig, text, pub) };
  }
  return {
    name: name!,
    keyId: kid,
    type,
    verify(text, sig) {
      if (sig.length !== 8 + 64) return false;
      return crypto.verify(sig.subarray(8), cosignatureMessage(u64be(sig), text), pub);
    },
  };
}

/** The message a cosignature/v1 signs: "cosignature/v1\ntime <t>\n" || checkpoint text. */
export function cosignatureMessage(timestamp: bigint | number, text: Uint8Array): Uint8Array {
  return concat(utf8(`cosignature/v1\ntime ${BigInt(timestamp).toString()}\n`), text);
}

/** The timestamp of a cosignature/v1 signature (the bytes after the key ID). */
export function cosignatureTime(sig: Uint8Array): bigint {
  if (sig.length !== 72) throw invalid('cosignature/v1 signature is not 72 bytes');
  return u64be(sig);
}

export interface SignerKey {
  signer: NoteSigner;
  /** The matching verifier key string. */
  vkey: string;
  publicKey: Uint8Array;
}

/**
 * Parses an x/mod signer key (PRIVATE+KEY+...). With `type` = SIG_COSIGNATURE_V1 the same seed
 * yields a cosignature/v1 signer (a witness key); its verifier key has type 0x04.
 */
export function parseSignerKey(
  skey: string,
  opts: { crypto?: Ed25519; type?: number; now?: () => number } = {},
): SignerKey {
  const crypto = opts.crypto ?? portableEd25519;
  const fields = splitKey(skey.trim(), 5, 'signer key');
  if (fields[0] !== 'PRIVATE' || fields[1] !== 'KEY') throw invalid('signer key must start with PRIVATE+KEY+');
  const name = fields[2]!;
  if (!isValidKeyName(name)) throw invalid('signer key has an invalid key name');
  const kid = parseKeyId(fields[3]!, 'signer key');
  const typed = fromBase64(fields[4]!, 'signer key');
  if (typed.length !== 33 || typed[0] !== SIG_ED25519) throw invalid('signer key is not an Ed25519 seed');
  const seed = typed.slice(1);
  const pub = crypto.publicKey(seed);
  if (keyId(name, concat(new Uint8Array([SIG_ED25519]), pub)) !== kid) throw invalid('signer key ID does not match the key');
  if ((opts.type ?? SIG_ED25519) === SIG_ED25519) {
    return {
      signer: { name, keyId: kid, sign: (text) => crypto.sign(text, seed) },
      vkey: formatVerifierKey(name, SIG_ED25519, pub),
      publicKey: pub,
    };
  }
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const cosignId = keyId(name, concat(new Uint8Array([SIG_COSIGNATURE_V1]), pub));
  return {
    signer: {
      name,
      keyId: cosignId,
      sign(text) {
        const t = now();
        return concat(putU64be(t), crypto.sign(cosignatureMessage(t, text), seed));
      },
    },
    vkey: formatVerifierKey(name, SIG_COSIGNATURE_V1, pub),
    publicKey: pub,
  };
}

/** A new Ed25519 signer key and its verifier key, in x/mod format. */
export function generateSignerKey(name: string, seed: Uint8Array = ed.utils.randomSecretKey()): { skey: string; vkey: string } {
  if (!isValidKeyName(name)) throw invalid('key name must be non-empty with no spaces and no "+"');
  const pub = ed.getPublicKey(seed);
  const typedPub = concat(new Uint8Array([SIG_ED25519]), pub);
  const kid = keyId(name, typedPub);
  return {
    skey: `PRIVATE+KEY+${name}+${hex8(kid)}+${toBase64(concat(new Uint8Array([SIG_ED25519]), seed))}`,
    vkey: formatVerifierKey(name, SIG_ED25519, pub),
  };
}

const SIG_PREFIX = '\u2014 ';

function malformed(why: string): never {
  throw invalid(`malformed note: ${why}`);
}

/** Splits a signed note into text and signature lines, checking its syntax as x/mod does. */
export function parseNote(msg: string | Uint8Array): Note {
  let s: string;
  if (typeof msg === 'string') s = msg;
  else {
    try {
      s = fromUtf8(msg);
    } catch {
      malformed('not valid UTF-8');
    }
  }
  // No ASCII control characters but newline (this also rules out CR) and no lone surrogates.
  if (/[\u0000-\u0009\u000b-\u001f]/.test(s)) malformed('contains a control character');
  if (/\p{Surrogate}/u.test(s)) malformed('not valid UTF-8');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) malformed('no blank line before the signatures');
  const text = s.slice(0, split + 1);
  const sigBlock = s.slice(split + 2);
  if (sigBlock.length === 0 || !sigBlock.endsWith('\n')) malformed('signature block must end in a newline');
  const lines = sigBlock.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) malformed(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line): NoteSignature => {
    if (!line.startsWith(SIG_PREFIX)) malformed('signature line does not start with an em dash');
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(' ');
    const name = sp < 0 ? rest : rest.slice(0, sp);
    const b64 = sp < 0 ? '' : rest.slice(sp + 1);
    if (!isValidKeyName(name) || b64 === '') malformed('signature line has a bad key name');
    let raw: Uint8Array;
    try {
      raw = fromBase64(b64, 'signature', { loose: true });
    } catch {
      malformed('signature is not valid base64');
    }
    if (raw.length < 5) malformed('signature is too short');
    return { name, keyId: u32be(raw), base64: b64, sig: raw.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Parses a note and checks its signatures against known verifiers (x/mod note.Open): a signature
 * by a known key that fails rejects the whole note; at least one known signature must verify.
 */
export function openNote(msg: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const note = parseNote(msg);
  const text = utf8(note.text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  const seenUnknown = new Set<string>();
  for (const sig of note.signatures) {
    const matches = verifiers.filter((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (matches.length > 1) throw invalid(`ambiguous key ${sig.name}+${hex8(sig.keyId)}`);
    if (matches.length === 0) {
      const line = `${sig.name} ${sig.base64}`;
      if (!seenUnknown.has(line)) unverified.push(sig);
      seenUnknown.add(line);
      continue;
    }
    const id = `${sig.name}+${sig.keyId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!matches[0]!.verify(text, sig.sig)) {
      throw new CandorError('verification_failed', `invalid signature for key ${sig.name}+${hex8(sig.keyId)}`);
    }
    verified.push(sig);
  }
  if (verified.length === 0) throw new CandorError('verification_failed', 'note has no signature from a known key');
  return { text: note.text, verified, unverified };
}

export function signatureLine(name: string, keyId: number, sig: Uint8Array): string {
  return `${SIG_PREFIX}${name} ${toBase64(concat(putU32be(keyId), sig))}\n`;
}

/** A parsed signature as its note line, byte for byte as it was received. */
export function formatSignature(sig: NoteSignature): string {
  return `${SIG_PREFIX}${sig.name} ${sig.base64}\n`;
}

/**
 * Signs text (ending in a newline) with each signer. As in x/mod note.Sign, `existing` signature
 * lines come first, except those by a key that signs anew.
 */
export function signNote(text: string, signers: readonly NoteSigner[], existing: readonly NoteSignature[] = []): string {
  if (!text.endsWith('\n')) throw invalid('note text must end in a newline');
  const bytes = utf8(text);
  const mine = new Set(signers.map((s) => `${s.name}+${s.keyId}`));
  let out = `${text}\n`;
  for (const sig of existing) if (!mine.has(`${sig.name}+${sig.keyId}`)) out += formatSignature(sig);
  for (const s of signers) {
    if (!isValidKeyName(s.name)) throw invalid('signer has an invalid key name');
    out += signatureLine(s.name, s.keyId, s.sign(bytes));
  }
  return out;
}
