/**
 * Every import of the event schema (leaf format, protobuf types) in one place: these modules are
 * moving to src/schema/ (@candor/schema); only this file changes when they do.
 */
import { fromBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { isEventLeaf, parseEventLeaf, leafTime, type EventLeaf } from '@candor/schema/leaf';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { EXPORT_FORMAT, ExportVerifier } from '../../../src/query/signed-export.js';
import { verifyOpening } from '@candor/schema/commitment';

export { isEventLeaf, parseEventLeaf, leafTime, AuthMethod, EXPORT_FORMAT, ExportVerifier, verifyOpening, type EventLeaf, type Event };

/**
 * The event in a leaf as protobuf JSON. Decoded without the ingest checks (canonical form,
 * validation): the log applied those when it took the event, and an auditor wants to see what
 * was logged even when it would not pass them today.
 */
export function eventJson(eventBytes: Uint8Array): Record<string, JsonValue> {
  return toJson(EventSchema, fromBinary(EventSchema, eventBytes)) as Record<string, JsonValue>;
}
