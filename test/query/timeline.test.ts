// Review timelines: the derived state and each auditor check, passing and failing, on events built
// with the gateway SDK and encoded into real leaves.
import { describe, expect, it } from 'vitest';
import { review, ReviewKind, ReviewState, VoteDecision } from '@candor/gateway/events';
import { commit } from '@candor/schema/commitment';
import type { Event } from '@candor/schema/gen/candor/v1/event_pb';
import { reviewTimeline, type CheckName, type ReviewTimeline } from '../../src/query/timeline.js';
import { complete, logged } from './events.js';

const R = 'rev-42';
const STATEMENT = 'DELETE FROM orders WHERE id = 7';
const alice = { id: 'u-alice' }; // the requester
const bob = { id: 'u-bob' };
const carol = { id: 'u-carol' };
const resource = { name: 'pg-prod', type: 'database' };

function requested(kind = ReviewKind.ONE_TIME_COMMAND, statement: string | undefined = STATEMENT): { event: Event; commitment: Uint8Array } {
  const event = complete(review.requested({ actor: alice, reviewId: R, kind, resource, ...(statement === undefined ? {} : { statement }) }));
  const c = event.body.case === 'reviewRequested' ? event.body.value.statement?.commitment : undefined;
  return { event, commitment: c ?? new Uint8Array() };
}
const vote = (actor: { id: string }, id: string, decision = VoteDecision.APPROVE, selfVote = false) =>
  complete(review.voteCast({ actor, reviewId: R, group: 'dba', decision, selfVote }), { eventId: id });
const approved = (actor: { id: string }, voteEventIds: string[], selfApproved = false) => complete(review.approved({ actor, reviewId: R, voteEventIds, selfApproved }));
const execution = (type: 'started' | 'completed' | 'unknown', statementCommitment: Uint8Array) =>
  complete(review.execution(type, { actor: alice, reviewId: R, executionSessionId: 's-1', statementCommitment, ...(type === 'unknown' ? { reason: 'gateway restarted' } : {}) }));

function checkOf(t: ReviewTimeline, name: CheckName) {
  const c = t.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check ${name}`);
  return c;
}

/** A one-time review that went by the book: requested, voted, approved, executed. */
function happy() {
  const req = requested();
  return { req, events: [req.event, vote(bob, 'v-1'), approved(carol, ['v-1']), execution('started', req.commitment), execution('completed', req.commitment)] };
}

describe('review timeline', () => {
  it('derives the state of a review that went by the book, and every check passes', () => {
    const { events } = happy();
    const t = reviewTimeline(R, logged(events));
    expect(t.state).toBe('EXECUTED');
    expect(t.kind).toBe(ReviewKind.ONE_TIME_COMMAND);
    expect(t.requester).toBe(alice.id);
    expect(t.events.map((e) => [e.event.index, e.before, e.after])).toEqual([
      [0, 'NONE', 'PENDING'],
      [1, 'PENDING', 'PENDING'],
      [2, 'PENDING', 'APPROVED'],
      [3, 'APPROVED', 'EXECUTING'],
      [4, 'EXECUTING', 'EXECUTED'],
    ]);
    expect(t.checks.filter((c) => !c.ok)).toEqual([]);
    expect(t.checks.map((c) => c.name)).toHaveLength(7);
  });

  it('sorts events into log order and follows the JIT path through access grants', () => {
    const req = requested(ReviewKind.JIT_SESSION, undefined);
    const until = new Date(Date.UTC(2026, 4, 5));
    const grant = (type: 'activated' | 'expired') =>
      complete({
        init: { ...(review.autoApproved({ actor: carol, reviewId: R, ruleName: 'x' }).init as object), type: `access.grant.${type}`, resource, body: { case: 'accessGrant', value: { grantId: 'g-1', reviewId: R, validUntil: { seconds: BigInt(until.getTime() / 1000), nanos: 0 } } } },
        openings: [],
      });
    const events = logged([req.event, complete(review.autoApproved({ actor: carol, reviewId: R, ruleName: 'on-call' })), grant('activated'), grant('expired')]);
    const t = reviewTimeline(R, [events[2]!, events[0]!, events[3]!, events[1]!]);
    expect(t.events.map((e) => e.event.index)).toEqual([0, 1, 2, 3]);
    expect(t.state).toBe('EXECUTED');
    expect(checkOf(t, 'one_time_approval_executed_once')).toMatchObject({ ok: true, detail: 'not a one-time review' });
  });

  describe('votes_precede_approval', () => {
    it('passes when every vote the approval names is an earlier approving vote', () => {
      expect(checkOf(reviewTimeline(R, logged(happy().events)), 'votes_precede_approval')).toMatchObject({ ok: true, eventIndexes: [] });
    });
    it('fails on a vote logged after the approval, a vote not in the log, a rejecting vote, and no votes at all', () => {
      const cases: [Event[], RegExp][] = [
        [[requested().event, approved(carol, ['v-1']), vote(bob, 'v-1')], /logged after the approval \(#2\)/],
        [[requested().event, vote(bob, 'v-1'), approved(carol, ['v-9'])], /"v-9", which is not a review.vote.cast/],
        [[requested().event, vote(bob, 'v-1', VoteDecision.REJECT), approved(carol, ['v-1'])], /which does not approve/],
        [[requested().event, approved(carol, [])], /names no votes/],
      ];
      for (const [events, why] of cases) {
        const c = checkOf(reviewTimeline(R, logged(events)), 'votes_precede_approval');
        const approval = events.findIndex((e) => e.type === 'review.approved');
        expect(c.ok).toBe(false);
        expect(c.eventIndexes).toEqual([approval]);
        expect(c.detail).toMatch(why);
      }
    });
  });

  describe('approver_is_not_requester', () => {
    it('passes when others approve, and when the requester self-approves with the flag (the detail names it)', () => {
      expect(checkOf(reviewTimeline(R, logged(happy().events)), 'approver_is_not_requester').ok).toBe(true);
      const flagged = reviewTimeline(R, logged([requested().event, vote(alice, 'v-1', VoteDecision.APPROVE, true), approved(alice, ['v-1'], true)]));
      expect(checkOf(flagged, 'approver_is_not_requester')).toMatchObject({ ok: true, detail: 'self-approval flagged by the events: #1, #2' });
    });
    it('fails when the requester approves or votes for their own request without saying so', () => {
      const t = reviewTimeline(R, logged([requested().event, vote(alice, 'v-1'), approved(alice, ['v-1'])]));
      const c = checkOf(t, 'approver_is_not_requester');
      expect(c.ok).toBe(false);
      expect(c.eventIndexes).toEqual([1, 2]);
      expect(c.detail).toMatch(/review.vote.cast by the requester "u-alice" without self_vote/);
      expect(c.detail).toMatch(/review.approved by the requester "u-alice" without self_approved/);
    });
    it('fails when there is no review.requested to know the requester from', () => {
      const c = checkOf(reviewTimeline(R, logged([vote(bob, 'v-1'), approved(carol, ['v-1'])])), 'approver_is_not_requester');
      expect(c).toMatchObject({ ok: false, eventIndexes: [0, 1] });
      expect(c.detail).toMatch(/requester is unknown/);
    });
  });

  describe('break_glass_has_reason', () => {
    const forced = () => complete(review.forceApproved({ actor: carol, reviewId: R, forceGroup: 'sre-oncall', reason: 'prod down' }));
    it('passes when the break-glass approval carries a reason', () => {
      expect(checkOf(reviewTimeline(R, logged([requested().event, forced()])), 'break_glass_has_reason')).toMatchObject({ ok: true, detail: '1 break-glass approval(s), each with a reason' });
    });
    it('fails when it carries none (an event that got past a gateway without validation)', () => {
      const f = forced();
      if (f.body.case !== 'reviewForceApproved') throw new Error('unreachable');
      f.body.value.reasonCommitment = new Uint8Array();
      const c = checkOf(reviewTimeline(R, logged([requested().event, f])), 'break_glass_has_reason');
      expect(c).toMatchObject({ ok: false, eventIndexes: [1] });
      expect(c.detail).toMatch(/carries no reason/);
    });
  });

  describe('executed_statement_matches_approved', () => {
    it('passes when every execution carries the requested statement commitment', () => {
      expect(checkOf(reviewTimeline(R, logged(happy().events)), 'executed_statement_matches_approved')).toMatchObject({ ok: true, detail: "2 execution event(s) with the requested statement's commitment" });
    });
    it('fails when an execution carries another statement, or none', () => {
      const req = requested();
      const other = commit('statement', 'DELETE FROM orders').digest;
      const t = reviewTimeline(R, logged([req.event, vote(bob, 'v-1'), approved(carol, ['v-1']), execution('started', other), execution('completed', new Uint8Array())]));
      const c = checkOf(t, 'executed_statement_matches_approved');
      expect(c).toMatchObject({ ok: false, eventIndexes: [3, 4] });
      expect(c.detail).toMatch(/review.execution.completed has statement commitment none/);
    });
  });

  describe('one_time_approval_executed_once', () => {
    it('passes for one execution', () => {
      expect(checkOf(reviewTimeline(R, logged(happy().events)), 'one_time_approval_executed_once')).toMatchObject({ ok: true, detail: '1 execution(s) of a one-time approval' });
    });
    it('fails on a second execution of a one-time approval, naming it', () => {
      const req = requested();
      const t = reviewTimeline(R, logged([req.event, vote(bob, 'v-1'), approved(carol, ['v-1']), execution('started', req.commitment), execution('started', req.commitment)]));
      const c = checkOf(t, 'one_time_approval_executed_once');
      expect(c).toMatchObject({ ok: false, eventIndexes: [4] });
      expect(c.detail).toMatch(/execution #2 of a one-time approval \(first: #3\)/);
    });
  });

  describe('no_transition_after_terminal_state', () => {
    it('passes when nothing follows the terminal state', () => {
      const t = reviewTimeline(R, logged([requested().event, complete(review.rejected({ actor: bob, reviewId: R, reason: 'no' }))]));
      expect(t.state).toBe('REJECTED');
      expect(checkOf(t, 'no_transition_after_terminal_state')).toMatchObject({ ok: true, detail: 'nothing after REJECTED' });
    });
    it('fails on a decision after the review was rejected, and the state stays terminal', () => {
      const t = reviewTimeline(R, logged([requested().event, vote(bob, 'v-1'), complete(review.rejected({ actor: bob, reviewId: R })), approved(carol, ['v-1'])]));
      expect(t.state).toBe('REJECTED');
      expect(t.events[3]).toMatchObject({ before: 'REJECTED', after: 'REJECTED', invalid: true });
      const c = checkOf(t, 'no_transition_after_terminal_state');
      expect(c).toMatchObject({ ok: false, eventIndexes: [3], detail: '#3: review.approved after the review reached REJECTED' });
    });
  });

  describe('transitions_follow_state_machine', () => {
    it('fails on an execution of a review that was never approved', () => {
      const req = requested();
      const t = reviewTimeline(R, logged([req.event, execution('started', req.commitment), complete(review.expired({ reviewId: R, previousState: ReviewState.PENDING }))]));
      expect(t.state).toBe('EXPIRED');
      const c = checkOf(t, 'transitions_follow_state_machine');
      expect(c).toMatchObject({ ok: false, eventIndexes: [1], detail: '#1: review.execution.started is not a transition from PENDING' });
    });
  });
});
