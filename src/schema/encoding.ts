/**
 * Events as bytes. A producer encodes an event once, canonically, signs those bytes, and the log
 * stores exactly those bytes in the leaf: nothing is re-serialised between the signature and the
 * hash, so a verifier never depends on two encoders agreeing (the DSSE rule: sign bytes, not
 * objects).
 *
 * Canonical means one encoding per event (docs/leaf-format.md §Canonical event encoding): fields
 * in field-number order, implicit-presence fields omitted when zero, packed repeated scalars,
 * minimal varints, no unknown fields, labels sorted by key. protobuf-es's toBinary writes exactly
 * this for the candor.v1 schema (it has no maps and no floats): the log accepts bytes iff
 * re-encoding the decoded event gives them back, which canonical.ts checks on the wire bytes.
 *
 * Portable: no Node built-ins; the gateway SDK uses this module too.
 */
import { toBinary, type MessageInitShape, create } from '@bufbuild/protobuf';
import { sha256 } from '@noble/hashes/sha2.js';
import { CandorError, invalid } from '@candor/core/errors';
import { EventSchema, type Event } from './gen/candor/v1/event_pb.js';
import { decodeCanonical } from './canonical.js';
import { validateEvent } from './validate.js';

/**
 * The largest event, in bytes. A leaf is at most 65,535 bytes (c2sp.org/tlog-tiles entry
 * bundles); the log's additions take at most MAX_LEAF_OVERHEAD of them.
 */
export const MAX_EVENT_SIZE = 61_440;

/** SHA-256, injectable so the server can use node:crypto and clients @noble/hashes. */
export type Digest = (data: Uint8Array) => Uint8Array;
export const portableDigest: Digest = (d) => sha256(d);

export type EventInit = MessageInitShape<typeof EventSchema>;

/** The canonical encoding of an event (as built with create(EventSchema, ...)). */
export function encodeEvent(ev: Event | EventInit): Uint8Array {
  return toBinary(EventSchema, create(EventSchema, ev as EventInit));
}

/** The event hash: SHA-256 of the canonical encoding. Producers sign batches of these. */
export function eventHash(encoded: Uint8Array, digest: Digest = portableDigest): Uint8Array {
  return digest(encoded);
}

/**
 * Decodes an event, checks that its bytes are canonical and that it is valid (validateEvent).
 * `path` names the event in errors ("event", "events[3]").
 */
export function decodeEvent(bytes: Uint8Array, path = 'event'): Event {
  if (bytes.length === 0) throw invalid(`${path} is empty`);
  if (bytes.length > MAX_EVENT_SIZE) {
    throw new CandorError('payload_too_large', `${path} is ${bytes.length} bytes; the limit is ${MAX_EVENT_SIZE}`);
  }
  // Checked canonical as it is decoded, in one pass over the bytes, so validation only ever sees
  // the one encoding the leaf will hold.
  const ev = decodeCanonical(EventSchema, bytes, path);
  validateEvent(ev, path);
  return ev;
}
