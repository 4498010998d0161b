// The one-pass binary-to-JSON writer gives exactly JSON.stringify(toJson(...)) for canonical
// events of every body type, including Durations, negative optional integers, 64-bit integers,
// repeated strings and messages, labels, commitments and Unicode.
import { describe, expect, it } from 'vitest';
import { toJson } from '@bufbuild/protobuf';
import { column, db, grant, producer, review, session, statement, CaptureMethod, ColumnOperation, ReviewKind, ReviewState, SessionVerb, ValueClass, VoteDecision, type Draft } from '@candor/gateway/events';
import { encodeEvent } from '@candor/schema/encoding';
import { EVENT_TYPES } from '@candor/schema/types';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { jsonWriter } from '../../src/query/json.js';
import { complete } from './events.js';

const R = 'rév-1 "quoted"\\';
const actor = { id: 'u-1', groups: ['dba', 'sre'], roles: ['admin'], display: 'Zoë <z@example.com>' };
const resource = { id: 'r', name: 'pg', type: 'database', tags: { pci: 'true', env: 'prod' } };
const common = { actor, resource, labels: { b: '2', a: '1' }, commit: { 'actor.ip_geo': 'Paris' }, seq: 2n ** 60n, correlation: { reviewId: R, requestIds: ['x', 'y'] } };
const drafts: Draft[] = [
  review.requested({ ...common, reviewId: R, kind: ReviewKind.ONE_TIME_COMMAND, statement: 'SELECT 1', requestedDurationMs: 1500, envVarKeys: ['A', 'B'], policy: { minApprovals: 2, requiredGroups: ['dba'] } }),
  review.voteCast({ ...common, reviewId: R, group: 'g', decision: VoteDecision.APPROVE, selfVote: true }),
  review.approved({ ...common, reviewId: R, voteEventIds: ['a', 'b'], validUntil: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 5)) }),
  review.autoApproved({ ...common, reviewId: R, ruleName: 'r', skippedGroups: ['x'] }),
  review.forceApproved({ ...common, reviewId: R, forceGroup: 'oncall', reason: 'down' }),
  review.rejected({ ...common, reviewId: R, previousState: ReviewState.APPROVED }),
  review.cancelled({ ...common, reviewId: R }),
  review.expired({ ...common, reviewId: R, previousState: ReviewState.PENDING, deadline: new Date(0) }),
  review.revoked({ ...common, reviewId: R, reason: 'r' }),
  review.execution('completed', { ...common, reviewId: R, exitCode: -1, rows: 2 ** 40 }),
  review.execution('completed', { ...common, reviewId: R, exitCode: 0 }),
  grant.change('activated', { ...common, grantId: 'g', roles: ['ro'], validUntil: new Date(Date.UTC(2031, 1, 2)) }),
  session.started({ ...common, sessionId: 's', verb: SessionVerb.EXEC, source: { ip: '::1', userAgent: 'ua' } }),
  session.ended({ ...common, sessionId: 's', durationMs: 61_250, exitCode: -128, statementCount: 3, eventCount: 4, streamDigest: new Uint8Array(32).fill(7) }),
  statement.executed({ ...common, sessionId: 's', statement: 'UPDATE t', tables: ['t', 'u'], rows: 5, durationMs: 0.5 }),
  statement.denied({ ...common, sessionId: 's', statement: 'DROP t', rule: 'no-drop', matchedCount: 3 }),
  db.privilege('granted', { ...common, object: { name: 'orders', columns: ['a'] }, grantee: 'app', privileges: ['SELECT', 'INSERT'], withGrantOption: true }),
  column.changed({ ...common, database: 'd', table: 't', column: 'iban', rowKey: 'k', operation: ColumnOperation.UPDATE, oldValue: 'x', newValue: 'y', valueClass: ValueClass.PCI, captureMethod: CaptureMethod.DB_TRIGGER, dbAccount: 'app' }),
  producer.gap({ reason: 'crash', firstSeq: 1, lastSeq: 9, lostCount: 9, from: new Date(1) }),
  producer.heartbeat({ intervalMs: 30_000, eventsSinceLast: 12 }),
];

describe('jsonWriter', () => {
  it('writes what JSON.stringify(toJson(...)) writes, for events of many types', () => {
    const write = jsonWriter(EventSchema);
    const seen = new Set<string>();
    for (const d of drafts) {
      const ev = complete(d, { at: new Date(Date.UTC(2026, 4, 4, 14, 45, 1, 250)) });
      const bytes = encodeEvent(ev);
      expect(write(bytes, 0, bytes.length)).toBe(JSON.stringify(toJson(EventSchema, ev)));
      seen.add(ev.type);
    }
    expect(seen.size).toBeGreaterThan(15);
    expect(Object.keys(EVENT_TYPES).length).toBeGreaterThan(seen.size);
  });

  it('writes a sub-range of a buffer (an event inside its leaf)', () => {
    const bytes = encodeEvent(complete(drafts[0]!));
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 4);
    expect(jsonWriter(EventSchema)(padded, 4, 4 + bytes.length)).toBe(jsonWriter(EventSchema)(bytes, 0, bytes.length));
  });
});
