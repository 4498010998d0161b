/**
 * What the query side (search, review timelines, export, live tail) hands around: an event as
 * the log holds it, with where it is. Shared by src/query/* and the transports; portable (no
 * Node built-ins), so the offline export verifier and clients can import it.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { parseEventLeaf } from '@candor/schema/leaf';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import type { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';

/** An event leaf read back from the log, decoded. */
export interface LoggedEvent {
  /** The leaf's index in the log. */
  index: number;
  /** The leaf bytes (src/schema/leaf.ts): what the tree commits to. */
  leaf: Uint8Array;
  /** When the log received the event, nanoseconds since the epoch (from the leaf). */
  receivedAt: bigint;
  /** The producer the log authenticated (from the leaf). */
  producer: string;
  authMethod: AuthMethod;
  /** The producer's canonical event bytes, as signed and hashed. */
  eventBytes: Uint8Array;
  /** The same event, decoded. */
  event: Event;
  /** Whether the producer signed it (the leaf carries the signature). */
  signed: boolean;
}

/** An inclusion proof of a LoggedEvent against a checkpoint of `size` leaves. */
export interface EventProof {
  size: number;
  leafHash: Uint8Array;
  proof: Uint8Array[];
}

/**
 * Decodes the event leaf at `index` (no validation beyond parsing: the log validated it on the
 * way in). Throws CandorError('invalid_argument') for an opaque entry or a malformed leaf.
 */
export function decodeLoggedEvent(index: number, leaf: Uint8Array): LoggedEvent {
  const l = parseEventLeaf(leaf);
  return {
    index,
    leaf,
    receivedAt: l.receivedAt,
    producer: l.producer,
    authMethod: l.authMethod,
    eventBytes: l.event,
    event: fromBinary(EventSchema, l.event),
    signed: l.signature !== undefined,
  };
}
