/**
 * Byte helpers shared by every portable module. Uint8Array in and out (Node's Buffer is used
 * inside only where it exists), so the same code runs in Node and in browsers. Base64 is standard
 * RFC 4648 §4 with padding, decoded strictly: a string that does not re-encode to itself is
 * rejected (c2sp.org/tlog-checkpoint asks for canonical base64).
 */
import { base64, hex } from '@scure/base';
import { invalid } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const SLAB_BYTES = 64 * 1024;
const SLAB_MAX = 4096;
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * A zeroed Uint8Array of n bytes. One over 64 bytes made with \`new Uint8Array\` gets its own
 * backing store outside V8's heap, several times the cost of the bytes themselves; so small
 * ones are views of a shared 64 KiB slab instead (like Node's Buffer pool), each handed out
 * once. A view keeps its whole slab alive: use it for buffers that live about as long as the
 * others made with it (a request's leaves), not for long-lived caches.
 */
export function allocBytes(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabUsed + n > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7;
  return out;
}

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decodes UTF-8; invalid sequences are a CandorError('invalid_argument'). */
export function fromUtf8(b: Uint8Array, what = 'text'): string {
  try {
    return decoder.decode(b);
  } catch {
    throw invalid(`${what} is not valid UTF-8`);
  }
}

// Node's native base64 where there is one: 2.4x @scure/base on 32-byte hashes, and a proof
// response encodes 21 of them. Browsers have no Buffer and use @scure/base.
// The structural type keeps this module free of Node's types.
interface NodeBufferLike {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: 'base64'): string };
}
const NodeBuffer = (globalThis as { Buffer?: NodeBufferLike }).Buffer;

export function toBase64(b: Uint8Array): string {
  return NodeBuffer ? NodeBuffer.from(b.buffer, b.byteOffset, b.length).toString('base64') : base64.encode(b);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Base64 decoding; `what` names the field in the error. Strict by default: the string must be
 * canonical. With `{ loose: true }` the unused low bits of the last character may be set, as Go's
 * base64.StdEncoding allows; golang.org/x/mod's note.Open decodes signature lines that way, so a
 * signature altered there must parse and then fail to verify (c2sp.org/tlog-witness: 403), not be
 * called malformed.
 */
export function fromBase64(s: string, what = 'base64 value', opts: { loose?: boolean } = {}): Uint8Array {
  let input = s;
  if (opts.loose && s.length % 4 === 0 && s.endsWith('=')) {
    const pad = s.endsWith('==') ? 2 : 1;
    const at = s.length - pad - 1;
    const v = B64.indexOf(s[at]!);
    // One "=" leaves 2 unused bits in the last character, two leave 4.
    if (v >= 0) input = s.slice(0, at) + B64[v & (pad === 1 ? 0b111100 : 0b110000)]! + s.slice(at + 1);
  }
  let out: Uint8Array;
  try {
    out = base64.decode(input);
  } catch {
    throw invalid(`${what} is not valid base64`);
  }
  if (base64.encode(out) !== input) throw invalid(`${what} is not canonical base64`);
  return out;
}

export function toHex(b: Uint8Array): string {
  return hex.encode(b);
}

export function fromHex(s: string, what = 'hex value'): Uint8Array {
  try {
    return hex.decode(s);
  } catch {
    throw invalid(`${what} is not valid hex`);
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function u32be(b: Uint8Array, off = 0): number {
  return ((b[off]! << 24) >>> 0) + (b[off + 1]! << 16) + (b[off + 2]! << 8) + b[off + 3]!;
}

export function putU32be(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Big-endian uint64 as bytes; `n` must be a safe non-negative integer or a bigint < 2^64. */
export function putU64be(n: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

export function u64be(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);
}
