/**
 * The event leaf: what the log hashes into the tree for an event, byte for byte
 * (docs/leaf-format.md). A fixed binary layout in the style of RFC 6962's MerkleTreeLeaf (TLS
 * presentation language, big-endian), so that any language re-derives the leaf hash without a
 * protobuf library:
 *
 *   opaque magic[16] = "candor/event/v1\n"
 *   uint64 received_at        nanoseconds since the Unix epoch, set by the log
 *   uint8  auth_method        how the log authenticated the producer (AuthMethod, 1..4; 4: the log itself)
 *   opaque producer<1..255>   the authenticated producer ID, UTF-8
 *   opaque event<1..2^16-1>   the producer's canonical candor.v1.Event encoding, as received
 *   uint8  signed             0, or 1 followed by:
 *     uint32 key_id           the producer key's signed-note key ID
 *     opaque signature[64]    Ed25519 over the batch statement (signature.ts)
 *     uint32 batch_size       events the signature covers
 *     uint32 batch_index      this event's position among them
 *     uint8  path_length      then path_length 32-byte hashes: the RFC 9162 inclusion proof of
 *                             this event's hash in the batch's Merkle tree
 *
 * The leaf hash is RFC 9162's SHA-256(0x00 || leaf). The magic keeps event leaves apart from
 * opaque entries (the log's POST /add refuses entries that start with it).
 *
 * Portable: no Node built-ins.
 */
import { allocBytes, equal, fromUtf8, utf8 } from '@candor/core/bytes';
import { invalid } from '@candor/core/errors';
import { HASH_SIZE } from '@candor/core/hash';
import { MAX_ENTRY_SIZE } from '@candor/core/tile';
import { AuthMethod } from './gen/candor/v1/log_service_pb.js';

export const LEAF_MAGIC = utf8('candor/event/v1\n');
export const SIGNATURE_SIZE = 64;
/** The most events one producer signature may cover (a path of at most 12 hashes). */
export const MAX_SIGNED_BATCH = 4096;
export const MAX_PRODUCER_ID_BYTES = 255;
const MAX_PATH = 12;
/** The most bytes a leaf adds to its event. */
export const MAX_LEAF_OVERHEAD = 16 + 8 + 1 + 1 + MAX_PRODUCER_ID_BYTES + 2 + 1 + 4 + SIGNATURE_SIZE + 4 + 4 + 1 + MAX_PATH * HASH_SIZE;

export interface LeafSignature {
  keyId: number;
  signature: Uint8Array;
  batchSize: number;
  batchIndex: number;
  /** Inclusion proof of the event hash in the batch tree, leaf sibling first. */
  path: Uint8Array[];
}

export interface EventLeaf {
  /** Nanoseconds since the Unix epoch. */
  receivedAt: bigint;
  authMethod: AuthMethod;
  producer: string;
  /** The canonical event encoding. */
  event: Uint8Array;
  signature?: LeafSignature;
}

/** Whether an entry is an event leaf (starts with the magic); other entries are opaque. */
export function isEventLeaf(entry: Uint8Array): boolean {
  return entry.length >= LEAF_MAGIC.length && equal(entry.subarray(0, LEAF_MAGIC.length), LEAF_MAGIC);
}

// The producer's UTF-8, for the leaves of consecutive events from the same producer.
let lastProducer = '';
let lastProducerBytes: Uint8Array = new Uint8Array(0);

export function encodeEventLeaf(l: EventLeaf): Uint8Array {
  if (l.producer !== lastProducer) {
    lastProducerBytes = utf8(l.producer);
    lastProducer = l.producer;
  }
  const producer = lastProducerBytes;
  if (producer.length === 0 || producer.length > MAX_PRODUCER_ID_BYTES) throw invalid('producer ID must be 1 to 255 bytes');
  if (l.event.length === 0 || l.event.length > 0xffff) throw invalid('event must be 1 to 65535 bytes');
  if (l.authMethod < 1 || l.authMethod > 4) throw invalid('auth method must be 1 to 4');
  const s = l.signature;
  const sigLen = s ? 1 + 4 + SIGNATURE_SIZE + 4 + 4 + 1 + s.path.length * HASH_SIZE : 1;
  const out = allocBytes(LEAF_MAGIC.length + 8 + 1 + 1 + producer.length + 2 + l.event.length + sigLen);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let o = 0;
  out.set(LEAF_MAGIC, o);
  o += LEAF_MAGIC.length;
  dv.setBigUint64(o, l.receivedAt);
  o += 8;
  out[o++] = l.authMethod;
  out[o++] = producer.length;
  out.set(producer, o);
  o += producer.length;
  dv.setUint16(o, l.event.length);
  o += 2;
  out.set(l.event, o);
  o += l.event.length;
  if (!s) {
    out[o++] = 0;
  } else {
    if (s.signature.length !== SIGNATURE_SIZE) throw invalid('signature must be 64 bytes');
    if (s.path.length > MAX_PATH || s.path.some((h) => h.length !== HASH_SIZE)) throw invalid('batch path must be at most 12 hashes of 32 bytes');
    out[o++] = 1;
    dv.setUint32(o, s.keyId >>> 0);
    o += 4;
    out.set(s.signature, o);
    o += SIGNATURE_SIZE;
    dv.setUint32(o, s.batchSize);
    o += 4;
    dv.setUint32(o, s.batchIndex);
    o += 4;
    out[o++] = s.path.length;
    for (const h of s.path) {
      out.set(h, o);
      o += HASH_SIZE;
    }
  }
  if (out.length > MAX_ENTRY_SIZE) throw invalid(`the event leaf would be ${out.length} bytes; the limit is ${MAX_ENTRY_SIZE}`);
  return out;
}

/** Parses an event leaf; malformed input is a CandorError('invalid_argument'). */
export function parseEventLeaf(b: Uint8Array): EventLeaf {
  const bad = (why: string): never => {
    throw invalid(`malformed event leaf: ${why}`);
  };
  if (!isEventLeaf(b)) bad('no candor/event/v1 magic');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = LEAF_MAGIC.length;
  const need = (n: number) => {
    if (o + n > b.length) bad('truncated');
  };
  need(8 + 1 + 1);
  const receivedAt = dv.getBigUint64(o);
  o += 8;
  const authMethod = b[o++]! as AuthMethod;
  if (authMethod < 1 || authMethod > 4) bad(`unknown auth method ${authMethod}`);
  const plen = b[o++]!;
  if (plen === 0) bad('empty producer');
  need(plen);
  const producer = fromUtf8(b.subarray(o, o + plen), 'producer');
  o += plen;
  need(2);
  const elen = dv.getUint16(o);
  o += 2;
  if (elen === 0) bad('empty event');
  need(elen);
  const event = b.subarray(o, o + elen);
  o += elen;
  need(1);
  const signed = b[o++]!;
  let signature: LeafSignature | undefined;
  if (signed === 1) {
    need(4 + SIGNATURE_SIZE + 4 + 4 + 1);
    const keyId = dv.getUint32(o);
    o += 4;
    const sig = b.subarray(o, o + SIGNATURE_SIZE);
    o += SIGNATURE_SIZE;
    const batchSize = dv.getUint32(o);
    o += 4;
    const batchIndex = dv.getUint32(o);
    o += 4;
    const n = b[o++]!;
    need(n * HASH_SIZE);
    const path: Uint8Array[] = [];
    for (let i = 0; i < n; i++, o += HASH_SIZE) path.push(b.subarray(o, o + HASH_SIZE));
    if (batchIndex >= batchSize) bad('batch index is not below batch size');
    signature = { keyId, signature: sig, batchSize, batchIndex, path };
  } else if (signed !== 0) {
    bad('signed flag must be 0 or 1');
  }
  if (o !== b.length) bad('trailing bytes');
  return signature ? { receivedAt, authMethod, producer, event, signature } : { receivedAt, authMethod, producer, event };
}

/** Nanoseconds since the epoch as a Date (millisecond precision). */
export function leafTime(ns: bigint): Date {
  return new Date(Number(ns / 1_000_000n));
}
