/**
 * Review timelines: a review's events in log order, the state the review state machine derives
 * from them (audit-domain.md §5.2; the state is computed, never stored), and the checks an auditor
 * runs on a review, each with the events that make it fail.
 *
 * Pure: a function of the events. The caller selects the review's events (src/query/filter.ts
 * reviewIdOf) and passes them in log order.
 */
import { equal, toBase64 } from '@candor/core/bytes';
import { ReviewKind, VoteDecision, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import type { LoggedEvent } from './types.js';

export type ReviewState = 'NONE' | 'PENDING' | 'APPROVED' | 'EXECUTING' | 'EXECUTED' | 'UNKNOWN' | 'REJECTED' | 'CANCELLED' | 'EXPIRED' | 'REVOKED';

export const TERMINAL_STATES: ReadonlySet<ReviewState> = new Set(['EXECUTED', 'UNKNOWN', 'REJECTED', 'CANCELLED', 'EXPIRED', 'REVOKED']);

/**
 * The transitions of §5.2: event type -> (state it may leave -> state it enters). An event type
 * absent here (a session or a statement correlated with the review) is not a transition.
 */
const TRANSITIONS: Readonly<Record<string, Partial<Record<ReviewState, ReviewState>>>> = {
  'review.requested': { NONE: 'PENDING' },
  'review.vote.cast': { PENDING: 'PENDING' },
  'review.approved': { PENDING: 'APPROVED' },
  'review.auto_approved': { PENDING: 'APPROVED' },
  'review.force_approved': { PENDING: 'APPROVED' },
  // hoop lets a reviewer reject after approving.
  'review.rejected': { PENDING: 'REJECTED', APPROVED: 'REJECTED' },
  'review.cancelled': { PENDING: 'CANCELLED' },
  'review.expired': { PENDING: 'EXPIRED', APPROVED: 'EXPIRED' },
  'review.revoked': { APPROVED: 'REVOKED' },
  'review.execution.started': { APPROVED: 'EXECUTING' },
  'review.execution.completed': { EXECUTING: 'EXECUTED' },
  'review.execution.unknown': { EXECUTING: 'UNKNOWN' },
  // JIT sessions: the grant is the execution.
  'access.grant.activated': { APPROVED: 'EXECUTING' },
  'access.grant.expired': { EXECUTING: 'EXECUTED' },
  'access.grant.revoked': { EXECUTING: 'REVOKED' },
};

export function isTransition(type: string): boolean {
  return type in TRANSITIONS;
}

export interface TimelineEntry {
  event: LoggedEvent;
  /** The state before and after this event; equal for an event that is not a transition or is not allowed. */
  before: ReviewState;
  after: ReviewState;
  /** A transition type that the state machine does not allow from `before`. */
  invalid: boolean;
}

export type CheckName =
  | 'votes_precede_approval'
  | 'approver_is_not_requester'
  | 'break_glass_has_reason'
  | 'executed_statement_matches_approved'
  | 'one_time_approval_executed_once'
  | 'no_transition_after_terminal_state'
  | 'transitions_follow_state_machine';

export interface TimelineCheck {
  name: CheckName;
  ok: boolean;
  /** What was checked, or what failed. */
  detail: string;
  /** Leaf indexes of the events that make the check fail (empty when it passes). */
  eventIndexes: number[];
}

export interface ReviewTimeline {
  reviewId: string;
  /** The derived state; NONE when the log holds no review.requested for it and nothing else moved it. */
  state: ReviewState;
  /** From review.requested, when logged. */
  kind?: ReviewKind;
  /** The requester's actor ID, from review.requested. */
  requester?: string;
  events: TimelineEntry[];
  checks: TimelineCheck[];
}

const eventIdOf = (e: LoggedEvent) => e.event.eventId;

function check(name: CheckName, failures: { index: number; why: string }[], passed: string): TimelineCheck {
  if (failures.length === 0) return { name, ok: true, detail: passed, eventIndexes: [] };
  return { name, ok: false, detail: failures.map((f) => `#${f.index}: ${f.why}`).join('; '), eventIndexes: [...new Set(failures.map((f) => f.index))] };
}

type Body<C> = Extract<Event['body'], { case: C }> extends { value: infer V } ? V : never;

function body<C extends NonNullable<Event['body']['case']>>(ev: Event, c: C): Body<C> | undefined {
  return ev.body.case === c ? (ev.body.value as Body<C>) : undefined;
}

/**
 * The timeline of review `reviewId` from its events in log order (events of other reviews are
 * ignored by the caller's filter, not here: every event given is taken as the review's).
 */
export function reviewTimeline(reviewId: string, events: readonly LoggedEvent[]): ReviewTimeline {
  const ordered = [...events].sort((a, b) => a.index - b.index);
  const requested = ordered.find((e) => e.event.type === 'review.requested');
  const req = requested && body(requested.event, 'reviewRequested');
  const requester = requested?.event.actor?.id;

  // The state machine, and the two checks that follow it.
  let state: ReviewState = 'NONE';
  const entries: TimelineEntry[] = [];
  const afterTerminal: { index: number; why: string }[] = [];
  const invalidMoves: { index: number; why: string }[] = [];
  for (const e of ordered) {
    const type = e.event.type;
    const moves = TRANSITIONS[type];
    const before = state;
    let invalid = false;
    if (moves) {
      const next: ReviewState | undefined = moves[state];
      if (TERMINAL_STATES.has(state)) {
        invalid = true;
        afterTerminal.push({ index: e.index, why: `${type} after the review reached ${state}` });
      } else if (next === undefined) {
        invalid = true;
        invalidMoves.push({ index: e.index, why: `${type} is not a transition from ${state}` });
      } else {
        state = next;
      }
    }
    entries.push({ event: e, before, after: state, invalid });
  }

  // Every review.approved names its votes, and each is an earlier approving vote of this review.
  const votes = new Map(ordered.filter((e) => e.event.type === 'review.vote.cast').map((e) => [eventIdOf(e), e]));
  const voteFailures: { index: number; why: string }[] = [];
  let approvals = 0;
  for (const e of ordered) {
    const a = body(e.event, 'reviewApproved');
    if (!a) continue;
    approvals++;
    if (a.voteEventIds.length === 0) voteFailures.push({ index: e.index, why: 'review.approved names no votes (an approval without review is review.auto_approved or review.force_approved)' });
    for (const id of a.voteEventIds) {
      const v = votes.get(id);
      const vote = v && body(v.event, 'reviewVoteCast');
      if (!v || !vote) voteFailures.push({ index: e.index, why: `names vote ${JSON.stringify(id)}, which is not a review.vote.cast of this review in the log` });
      else if (v.index > e.index) voteFailures.push({ index: e.index, why: `names vote ${JSON.stringify(id)}, logged after the approval (#${v.index})` });
      else if (vote.decision !== VoteDecision.APPROVE) voteFailures.push({ index: e.index, why: `names vote ${JSON.stringify(id)} (#${v.index}), which does not approve` });
    }
  }

  // Nobody approves their own request unless the event says so.
  const selfFailures: { index: number; why: string }[] = [];
  const flagged: number[] = [];
  let decisions = 0;
  for (const e of ordered) {
    const a = body(e.event, 'reviewApproved');
    const v = body(e.event, 'reviewVoteCast');
    if (!a && !(v && v.decision === VoteDecision.APPROVE)) continue;
    decisions++;
    const self = a ? a.selfApproved : v!.selfVote;
    if (requester === undefined) {
      selfFailures.push({ index: e.index, why: `${e.event.type} with no review.requested in the log: the requester is unknown` });
    } else if (e.event.actor?.id === requester) {
      if (self) flagged.push(e.index);
      else selfFailures.push({ index: e.index, why: `${e.event.type} by the requester ${JSON.stringify(requester)} without ${a ? 'self_approved' : 'self_vote'}` });
    }
  }

  // Break-glass needs a reason.
  const reasonFailures: { index: number; why: string }[] = [];
  let forced = 0;
  for (const e of ordered) {
    const f = body(e.event, 'reviewForceApproved');
    if (!f) continue;
    forced++;
    if (f.reasonCommitment.length !== 32) reasonFailures.push({ index: e.index, why: f.reasonCommitment.length === 0 ? 'review.force_approved carries no reason' : `reason_commitment is ${f.reasonCommitment.length} bytes, not 32` });
  }

  // What was executed is what was requested (and approved): equal statement commitments.
  const approvedStatement = req?.statement?.commitment ?? new Uint8Array();
  const statementFailures: { index: number; why: string }[] = [];
  let executions = 0;
  for (const e of ordered) {
    const x = body(e.event, 'reviewExecution');
    if (!x) continue;
    executions++;
    if (!requested) statementFailures.push({ index: e.index, why: `${e.event.type} with no review.requested in the log: nothing to compare its statement with` });
    else if (!equal(x.statementCommitment, approvedStatement)) {
      const show = (b: Uint8Array) => (b.length === 0 ? 'none' : toBase64(b));
      statementFailures.push({ index: e.index, why: `${e.event.type} has statement commitment ${show(x.statementCommitment)}, review.requested (#${requested.index}) has ${show(approvedStatement)}` });
    }
  }

  // A one-time approval is consumed by its first execution.
  const oneTime = req?.kind === ReviewKind.ONE_TIME_COMMAND;
  const starts = ordered.filter((e) => e.event.type === 'review.execution.started');
  const onceFailures = oneTime ? starts.slice(1).map((e) => ({ index: e.index, why: `execution #${starts.indexOf(e) + 1} of a one-time approval (first: #${starts[0]!.index})` })) : [];

  const checks: TimelineCheck[] = [
    check('votes_precede_approval', voteFailures, approvals === 0 ? 'no review.approved' : `${approvals} review.approved, each preceded by the approving votes it names`),
    check(
      'approver_is_not_requester',
      selfFailures,
      decisions === 0 ? 'no approval or approving vote' : flagged.length > 0 ? `self-approval flagged by the events: ${flagged.map((i) => `#${i}`).join(', ')}` : `no approval or approving vote by the requester`,
    ),
    check('break_glass_has_reason', reasonFailures, forced === 0 ? 'no break-glass approval' : `${forced} break-glass approval(s), each with a reason`),
    check('executed_statement_matches_approved', statementFailures, executions === 0 ? 'no execution' : `${executions} execution event(s) with the requested statement's commitment`),
    check('one_time_approval_executed_once', onceFailures, oneTime ? `${starts.length} execution(s) of a one-time approval` : req ? 'not a one-time review' : 'no review.requested: the kind is unknown'),
    check('no_transition_after_terminal_state', afterTerminal, TERMINAL_STATES.has(state) ? `nothing after ${state}` : `not in a terminal state (${state})`),
    check('transitions_follow_state_machine', invalidMoves, 'every transition is allowed from the state before it'),
  ];
  return {
    reviewId,
    state,
    ...(req ? { kind: req.kind } : {}),
    ...(requester !== undefined ? { requester } : {}),
    events: entries,
    checks,
  };
}
