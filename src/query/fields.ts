/**
 * The envelope fields that filters and CSV rows need, read straight from an event's canonical
 * protobuf bytes (the wire format: tag varints, then varints or length-delimited values) without
 * decoding the whole event. Decoding with the generated schema costs more than reading and
 * proving the entry together, so a read that filters or writes CSV decodes only the events that
 * need it (see lazyLoggedEvent). The field numbers are those of proto/candor/v1/event.proto; the
 * test compares every field with the decoded event.
 *
 * Portable: no Node built-ins.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { parseEventLeaf } from '@candor/schema/leaf';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import type { LoggedEvent } from './types.js';

export interface EventFields {
  eventId: string;
  producerEventId: string;
  type: string;
  /** occurred_at, seconds and nanos (0 when absent). */
  seconds: number;
  nanos: number;
  tenantId: string;
  actorId: string;
  /** ActorType value. */
  actorType: number;
  resourceId: string;
  resourceName: string;
  resourceType: string;
  sourceIp: string;
  /** Outcome value. */
  outcome: number;
  sessionId: string;
  /** As filter.ts reviewIdOf: the body's review_id, else correlation.review_id. */
  reviewId: string;
  /** review.execution's session_id (the session that executes a review). */
  executionSessionId: string;
}

const decoder = new TextDecoder();

/** A cursor over protobuf wire bytes. */
class Wire {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    start = 0,
    readonly end = b.length,
  ) {
    this.pos = start;
  }
  varint(): number {
    // Up to 64 bits; values used here (tags, lengths, enums, seconds) fit in 2^53.
    let x = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const c = this.b[this.pos++]!;
      x += (c & 0x7f) * mul;
      if (c < 0x80) return x;
      mul *= 128;
    }
  }
  /** Skips the value of a field of this wire type. */
  skip(wt: number): void {
    if (wt === 0) this.varint();
    else if (wt === 1) this.pos += 8;
    else if (wt === 2) {
      // Not `pos += varint()`: that reads pos before varint() moves it past the length.
      const n = this.varint();
      this.pos += n;
    }
    else if (wt === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wt}`);
  }
  string(): string {
    const n = this.varint();
    const s = decoder.decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  /** The bounds of a length-delimited value, moving past it. */
  sub(): [number, number] {
    const n = this.varint();
    const start = this.pos;
    this.pos += n;
    return [start, start + n];
  }
}

/** Reads string field `field` (and, if `varintField`, a varint) of the sub-message at [start, end). */
function subFields(b: Uint8Array, [start, end]: [number, number], pick: (field: number, w: Wire, wt: number) => boolean): void {
  const w = new Wire(b, start, end);
  while (w.pos < end) {
    const tag = w.varint();
    const wt = tag % 8;
    if (!pick(Math.floor(tag / 8), w, wt)) w.skip(wt);
  }
}

/** The envelope fields of a canonical event encoding; throws on malformed bytes. */
export function eventFields(b: Uint8Array): EventFields {
  const f: EventFields = {
    eventId: '',
    producerEventId: '',
    type: '',
    seconds: 0,
    nanos: 0,
    tenantId: '',
    actorId: '',
    actorType: 0,
    resourceId: '',
    resourceName: '',
    resourceType: '',
    sourceIp: '',
    outcome: 0,
    sessionId: '',
    reviewId: '',
    executionSessionId: '',
  };
  let bodyReview = '';
  let correlationReview = '';
  const w = new Wire(b);
  while (w.pos < b.length) {
    const tag = w.varint();
    const field = Math.floor(tag / 8);
    const wt = tag % 8;
    switch (field) {
      case 1:
        f.eventId = w.string();
        break;
      case 2:
        f.producerEventId = w.string();
        break;
      case 3:
        f.type = w.string();
        break;
      case 4:
        subFields(b, w.sub(), (n, s) => (n === 1 ? ((f.seconds = s.varint()), true) : n === 2 ? ((f.nanos = s.varint()), true) : false));
        break;
      case 5:
        f.tenantId = w.string();
        break;
      case 7:
        subFields(b, w.sub(), (n, s) => (n === 1 ? ((f.actorId = s.string()), true) : n === 2 ? ((f.actorType = s.varint()), true) : false));
        break;
      case 8:
        subFields(b, w.sub(), (n, s) => (n === 1 ? ((f.sourceIp = s.string()), true) : false));
        break;
      case 9:
        subFields(b, w.sub(), (n, s) => {
          if (n === 1) f.resourceId = s.string();
          else if (n === 2) f.resourceName = s.string();
          else if (n === 3) f.resourceType = s.string();
          else return false;
          return true;
        });
        break;
      case 12:
        f.outcome = w.varint();
        break;
      case 14:
        f.sessionId = w.string();
        break;
      case 16:
        subFields(b, w.sub(), (n, s) => (n === 1 ? ((correlationReview = s.string()), true) : false));
        break;
      default: {
        // The bodies that name a review: session.started (3), review.* (1), access grants (2).
        const reviewField = field === 110 ? 3 : field >= 130 && field <= 139 ? 1 : field === 140 ? 2 : 0;
        if (wt === 2 && reviewField !== 0) {
          subFields(b, w.sub(), (n, s) => {
            if (n === reviewField) bodyReview = s.string();
            else if (field === 139 && n === 2) f.executionSessionId = s.string();
            else return false;
            return true;
          });
        } else {
          w.skip(wt);
        }
      }
    }
  }
  if (w.pos !== b.length) throw new Error('truncated event');
  f.reviewId = bodyReview || correlationReview;
  return f;
}

/**
 * A LoggedEvent whose `event` is decoded on first use (filters and the CSV and bundle writers never
 * need it), and which keeps its envelope fields once read. A class, so that the lazy accessors live
 * on the prototype and each event is a small fixed-shape object.
 */
class LazyLoggedEvent implements LoggedEvent {
  readonly receivedAt: bigint;
  readonly producer: string;
  readonly authMethod: LoggedEvent['authMethod'];
  readonly eventBytes: Uint8Array;
  readonly signed: boolean;
  #event: Event | undefined;
  #fields: EventFields | undefined;

  constructor(
    readonly index: number,
    readonly leaf: Uint8Array,
  ) {
    const l = parseEventLeaf(leaf);
    this.receivedAt = l.receivedAt;
    this.producer = l.producer;
    this.authMethod = l.authMethod;
    this.eventBytes = l.event;
    this.signed = l.signature !== undefined;
  }

  get event(): Event {
    return (this.#event ??= fromBinary(EventSchema, this.eventBytes));
  }

  get fields(): EventFields {
    return (this.#fields ??= eventFields(this.eventBytes));
  }
}

const fieldsCache = new WeakMap<LoggedEvent, EventFields>();

/** The envelope fields of a logged event, read once. */
export function fieldsOf(e: LoggedEvent): EventFields {
  if (e instanceof LazyLoggedEvent) return e.fields;
  let f = fieldsCache.get(e);
  if (!f) fieldsCache.set(e, (f = eventFields(e.eventBytes)));
  return f;
}

/** A LoggedEvent decoded lazily (see LazyLoggedEvent); throws CandorError('invalid_argument') for a malformed leaf, like decodeLoggedEvent. */
export function lazyLoggedEvent(index: number, leaf: Uint8Array): LoggedEvent {
  return new LazyLoggedEvent(index, leaf);
}
