// Logged events for the query tests, built with the gateway SDK's builders and encoded into real
// event leaves, as the log would hold them.
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Draft } from '@candor/gateway/events';
import { encodeEvent } from '@candor/schema/encoding';
import { encodeEventLeaf } from '@candor/schema/leaf';
import { validateEvent } from '@candor/schema/validate';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { decodeLoggedEvent, type LoggedEvent } from '../../src/query/types.js';

let counter = 0;

/** A complete, valid event from a builder's draft (event IDs are unique per call unless given). */
export function complete(d: Draft, over: { eventId?: string; tenantId?: string; at?: Date } = {}): Event {
  const id = over.eventId ?? d.init.eventId ?? `ev-${++counter}`;
  const ev = create(EventSchema, {
    ...d.init,
    eventId: id,
    producerEventId: id,
    tenantId: over.tenantId ?? d.init.tenantId ?? 'org-1',
    occurredAt: timestampFromDate(over.at ?? new Date(Date.UTC(2026, 4, 4, 14, 45, counter % 60))),
  });
  validateEvent(ev);
  return ev;
}

/** The event leaf the log would write for `ev`, decoded back at `index`. */
export function loggedAt(index: number, ev: Event, producer = 'gw-1'): LoggedEvent {
  const leaf = encodeEventLeaf({ receivedAt: 1_777_000_000_000_000_000n + BigInt(index), authMethod: AuthMethod.BEARER_TOKEN, producer, event: encodeEvent(ev) });
  return decodeLoggedEvent(index, leaf);
}

/** Events at indexes 0, 1, 2, ... (or from `start`). */
export function logged(events: readonly Event[], start = 0): LoggedEvent[] {
  return events.map((e, i) => loggedAt(start + i, e));
}
