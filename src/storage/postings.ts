/**
 * The on-disk layout of the search indexes (docs/search.md "Layout"), under the prefix `x` of the
 * LevelDB store:
 *
 *   x <field:1> <value UTF-8> 0x00 <first:8>   a posting block: the entries from `first` on that
 *                                             have the term (field, value). The value holds the
 *                                             other indexes as varint deltas (empty: just `first`).
 *   x 0x21 <ns:8> <first:8>                   a time run: entries from `first` on were integrated
 *                                             at `ns` (until the next run), empty value
 *
 * A block holds one term's postings within one group of consecutive entries (a commit batch, or a
 * rebuild window), at most MAX_BLOCK of them, so a term shared by many events costs one key per
 * batch instead of one per event; a unique term (event_id) is a block of one, an empty value.
 * Blocks of a term never overlap and sort by their first index, so the block holding an index is
 * the one with the largest first index at or below it. Integers are big-endian.
 *
 * integrated_at never decreases in log order, so one run per change of receive time maps a time
 * to an index. Entries with no terms (opaque) have no posting and no time.
 */
import type { EntryTerms } from './store.js';

export const INDEX_PREFIX = 0x78; // "x"
/** The field byte of integrated_at time runs (src/query/terms.ts TIME). */
export const INTEGRATED_AT = 0x21;
/** The most postings in one block: keeps what a seek decodes bounded. */
export const MAX_BLOCK = 1024;

type Bytes = Uint8Array;

/** One index record: a key and its value. */
export interface IndexRecord {
  key: Bytes;
  value: Bytes;
}

const EMPTY = new Uint8Array(0);

export function putIndex(buf: Uint8Array, off: number, n: number): void {
  // 8-byte big-endian without BigInt: high 32 bits, then low 32 bits. Byte by byte rather than
  // through a DataView, which would be an allocation per call (once per key of a commit); a
  // Uint8Array store keeps the low 8 bits of each shifted value.
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  buf[off] = hi >>> 24;
  buf[off + 1] = hi >>> 16;
  buf[off + 2] = hi >>> 8;
  buf[off + 3] = hi;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = lo >>> 16;
  buf[off + 6] = lo >>> 8;
  buf[off + 7] = lo;
}

export function readIndex(buf: Uint8Array, off = 0): number {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return dv.getUint32(off) * 0x1_0000_0000 + dv.getUint32(off + 4);
}

/*
 * Keys are Buffers from Node's pool, not new Uint8Arrays: a small Uint8Array lives on V8's heap,
 * and reaching its bytes as an ArrayBuffer (Buffer.from(k.buffer), or the LevelDB binding reading
 * a key) moves it off the heap first, an allocation and a copy per key. A commit builds a key per
 * term, so this decides a good part of what indexing costs ingestion (about a fifth, measured with
 * bench/search.ts's ingest).
 */

/** x <field> <value> 0x00: the prefix of a term's blocks. */
export function termPrefix(field: number, value: string): Bytes {
  const n = Buffer.byteLength(value);
  const k = Buffer.allocUnsafe(n + 3);
  k[0] = INDEX_PREFIX;
  k[1] = field;
  k.write(value, 2);
  k[n + 2] = 0;
  return k;
}

/** The key of the block of `prefix` (a term prefix) that starts at `first`. */
export function blockKey(prefix: Bytes, first: number): Bytes {
  const k = Buffer.allocUnsafe(prefix.length + 8);
  k.set(prefix);
  putIndex(k, prefix.length, first);
  return k;
}

/** The first index of a block, from its key. */
export function blockFirst(key: Bytes): number {
  return readIndex(key, key.length - 8);
}

/** x 0x21 <ns>: where the time runs at or after `ns` begin. */
export function timeKey(ns: bigint, first = 0): Bytes {
  const k = new Uint8Array(18);
  k[0] = INDEX_PREFIX;
  k[1] = INTEGRATED_AT;
  new DataView(k.buffer).setBigUint64(2, ns < 0n ? 0n : ns);
  putIndex(k, 10, first);
  return k;
}

/** The (time, first index) of a time run key. */
export function parseTimeKey(key: Bytes): { ns: bigint; first: number } {
  return { ns: new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(2), first: readIndex(key, 10) };
}

/** Room for the deltas of a full block (an index below 2^53 takes at most 8 varint bytes). */
const DELTAS = new Uint8Array((MAX_BLOCK - 1) * 8);

/** A block's value: the indexes after the first as varint deltas (each at least 1). */
function encodeDeltas(list: readonly number[], from: number, to: number): Bytes {
  if (to - from === 1) return EMPTY;
  // Encoded into one scratch buffer and copied out at its size: a value holds no spare bytes.
  const out = DELTAS;
  let p = 0;
  for (let i = from + 1; i < to; i++) {
    let d = list[i]! - list[i - 1]!;
    while (d >= 0x80) {
      out[p++] = (d & 0x7f) | 0x80;
      d = (d - (d & 0x7f)) / 128;
    }
    out[p++] = d;
  }
  return out.slice(0, p);
}

/** Scratch for decodeBlockOnto. */
const DECODED = new Float64Array(MAX_BLOCK);

/** Appends a block's indexes, ascending, to `out` (the merger gathers a term's blocks this way). */
export function decodeBlockOnto(first: number, value: Bytes, out: number[]): void {
  const n = decodeBlockInto(first, value, 0, Number.MAX_SAFE_INTEGER, DECODED);
  for (let i = 0; i < n; i++) out.push(DECODED[i]!);
}

/** The indexes of a block, ascending. */
export function decodeBlock(first: number, value: Bytes): number[] {
  const out: number[] = [];
  decodeBlockOnto(first, value, out);
  return out;
}

/**
 * decodeBlock into `out` (room for MAX_BLOCK), returning how many: a cursor decodes block after
 * block into the same array, allocating nothing.
 */
export function decodeBlockInto(first: number, value: Bytes, lo: number, hi: number, out: Float64Array): number {
  let n = 0;
  let at = first;
  if (at >= lo && at < hi) out[n++] = at;
  for (let p = 0; p < value.length && at < hi; ) {
    let d = 0;
    let scale = 1;
    let b: number;
    do {
      b = value[p++]!;
      d += (b & 0x7f) * scale;
      scale *= 128;
    } while (b & 0x80);
    at += d;
    if (at >= lo && at < hi) out[n++] = at;
  }
  if (n > out.length) throw new Error(`a posting block holds ${n} postings, more than ${out.length}`);
  return n;
}

/**
 * The index records of the consecutive entries from `start` (their terms, undefined for an
 * opaque entry): one block per term (split at MAX_BLOCK) and one time run per change of
 * receive time. Terms are grouped per field in maps keyed by the value, so no key string is
 * built per event.
 */
export function indexRecords(start: number, terms: readonly (EntryTerms | undefined)[]): IndexRecord[] {
  const byField: Map<string, number[]>[] = [];
  const out: IndexRecord[] = [];
  let lastNs = -1n;
  for (let i = 0; i < terms.length; i++) {
    const t = terms[i];
    if (!t) continue;
    const index = start + i;
    for (const { field, value } of t.values) {
      const m = (byField[field] ??= new Map());
      const list = m.get(value);
      if (list === undefined) m.set(value, [index]);
      else if (list[list.length - 1] !== index) list.push(index);
    }
    if (t.integratedAt !== lastNs) {
      out.push({ key: timeKey(t.integratedAt, index), value: EMPTY });
      lastNs = t.integratedAt;
    }
  }
  byField.forEach((m, field) => {
    for (const [value, list] of m) blockRecords(termPrefix(field, value), list, out);
  });
  return out;
}

/** Appends to `out` the blocks of a term's postings (ascending): as few as MAX_BLOCK allows. */
export function blockRecords(prefix: Bytes, list: readonly number[], out: IndexRecord[]): void {
  for (let from = 0; from < list.length; from += MAX_BLOCK) {
    const to = Math.min(list.length, from + MAX_BLOCK);
    out.push({ key: blockKey(prefix, list[from]!), value: encodeDeltas(list, from, to) });
  }
}
