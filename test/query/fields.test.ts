// The envelope fields read from event bytes without decoding equal those of the decoded event,
// for every kind of body that names a review or a session, with and without optional parts.
import { describe, expect, it } from 'vitest';
import { grant, review, session, statement, ReviewKind, ReviewState, SessionVerb, VoteDecision, type Draft } from '@candor/gateway/events';
import { encodeEvent } from '@candor/schema/encoding';
import type { Event } from '@candor/schema/gen/candor/v1/event_pb';
import { eventFields, lazyLoggedEvent } from '../../src/query/fields.js';
import { reviewIdOf } from '../../src/query/filter.js';
import { complete, loggedAt } from './events.js';

const R = 'rev-7';
const actor = { id: 'u-ä-1' };
const resource = { id: 'r-1', name: 'pg, prod', type: 'database' };
const source = { ip: '10.0.0.7', userAgent: 'psql' };
const drafts: Draft[] = [
  review.requested({ actor, reviewId: R, kind: ReviewKind.ONE_TIME_COMMAND, statement: 'SELECT 1', resource, justification: 'why' }),
  review.voteCast({ actor, reviewId: R, group: 'g', decision: VoteDecision.REJECT, reason: 'no' }),
  review.approved({ actor, reviewId: R, voteEventIds: ['a', 'b'], validUntil: new Date(0) }),
  review.expired({ reviewId: R, previousState: ReviewState.APPROVED }),
  review.execution('unknown', { actor, reviewId: R, executionSessionId: 's-9', reason: 'lost', correlation: { reviewId: 'other' } }),
  grant.change('activated', { actor, grantId: 'g-1', reviewId: R, resource, validUntil: new Date(Date.UTC(2030, 0, 1)) }),
  session.started({ actor, sessionId: 's-1', verb: SessionVerb.CONNECT, reviewId: R, resource, source }),
  statement.executed({ actor, sessionId: 's-1', statement: 'UPDATE t SET x = 1', resource, correlation: { reviewId: R, ticket: 'OPS-1' } }),
  statement.executed({ actor, sessionId: 's-2', statement: 'SELECT 2', resource }),
];

function expected(ev: Event) {
  return {
    eventId: ev.eventId,
    producerEventId: ev.producerEventId,
    type: ev.type,
    seconds: Number(ev.occurredAt?.seconds ?? 0n),
    nanos: ev.occurredAt?.nanos ?? 0,
    tenantId: ev.tenantId,
    actorId: ev.actor?.id ?? '',
    actorType: ev.actor?.type ?? 0,
    resourceId: ev.resource?.id ?? '',
    resourceName: ev.resource?.name ?? '',
    resourceType: ev.resource?.type ?? '',
    sourceIp: ev.source?.ip ?? '',
    outcome: ev.outcome,
    sessionId: ev.sessionId,
    reviewId: reviewIdOf(ev),
    executionSessionId: ev.body.case === 'reviewExecution' ? ev.body.value.sessionId : '',
  };
}

describe('eventFields', () => {
  it('reads the same envelope fields as decoding the whole event', () => {
    for (const d of drafts) {
      const ev = complete(d, { at: new Date(Date.UTC(2026, 4, 4, 14, 45, 0, 123)) });
      expect(eventFields(encodeEvent(ev))).toEqual(expected(ev));
    }
  });

  it('a lazy logged event decodes to the same event as the eager one', () => {
    const ev = complete(drafts[0]!);
    const eager = loggedAt(3, ev);
    const lazy = lazyLoggedEvent(3, eager.leaf);
    expect({ ...lazy, event: lazy.event }).toEqual(eager);
  });

  it('throws on truncated bytes', () => {
    const b = encodeEvent(complete(drafts[1]!));
    expect(() => eventFields(b.subarray(0, b.length - 3))).toThrow(/truncated/);
  });
});
