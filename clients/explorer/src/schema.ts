/**
 * Every import of the event schema (leaf format, protobuf types) in one place: these modules are
 * moving to src/schema/ (@candor/schema); only this file changes when they do.
 */
import { fromBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { isEventLeaf, parseEventLeaf, leafTime, type EventLeaf } from '../../../src/events/leaf.js';
import { EventSchema, type Event } from '../../../src/gen/candor/v1/event_pb.js';
import { AuthMethod } from '../../../src/gen/candor/v1/log_service_pb.js';
import { EXPORT_FORMAT, ExportVerifier } from '../../../src/query/bundle.js';
import { verifyOpening } from '../../../src/events/commitment.js';

export { isEventLeaf, parseEventLeaf, leafTime, AuthMethod, EXPORT_FORMAT, ExportVerifier, verifyOpening, type EventLeaf, type Event };

/**
 * The event in a leaf as protobuf JSON. Decoded without the ingest checks (canonical form,
 * validation): the log applied those when it took the event, and an auditor wants to see what
 * was logged even when it would not pass them today.
 */
export function eventJson(eventBytes: Uint8Array): Record<string, JsonValue> {
  return toJson(EventSchema, fromBinary(EventSchema, eventBytes)) as Record<string, JsonValue>;
}
