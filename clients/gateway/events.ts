/**
 * Typed builders for the events a gateway records: each takes the facts in plain values, commits
 * to every sensitive one with a fresh salt (src/schema/commitment.ts), and returns the event and
 * the openings. Openings are the caller's to keep (in the gateway's own encrypted store); they are
 * never sent to the log.
 *
 * Commitment field names (hashed into each commitment): "statement", "statement.params",
 * "reason", "justification", "client_args", "old_value", "new_value", "actor.display", "query",
 * and for `commit` extras the name given.
 */
import { timestampFromDate, durationFromMs } from '@bufbuild/protobuf/wkt';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { commit, statementFingerprint, type Opening } from '@candor/schema/commitment';
import type { EventInit } from '@candor/schema/encoding';
import {
  ActorType,
  CaptureMethod,
  ColumnOperation,
  Outcome,
  ReviewKind,
  ReviewState,
  SessionVerb,
  ValueClass,
  VoteDecision,
  type ActorSchema,
  type CorrelationSchema,
  type DataObjectSchema,
  type ErrorInfoSchema,
  type SourceSchema,
  type StatementRefSchema,
} from '@candor/schema/gen/candor/v1/event_pb';

export { ActorType, CaptureMethod, ColumnOperation, Outcome, ReviewKind, ReviewState, SessionVerb, ValueClass, VoteDecision };

export type ActorInit = MessageInitShape<typeof ActorSchema> & { /** Email or name: committed as "actor.display", never sent. */ display?: string };
export type SourceInit = MessageInitShape<typeof SourceSchema>;
export interface ResourceInit {
  id?: string;
  name?: string;
  type?: string;
  subtype?: string;
  account?: string;
  /** Classification tags (env, pci, phi); sorted by key when encoded. */
  tags?: Record<string, string>;
}
export type DataObjectInit = MessageInitShape<typeof DataObjectSchema>;
export type CorrelationInit = MessageInitShape<typeof CorrelationSchema>;

/** What every builder takes besides its own facts. */
export interface Common {
  actor: ActorInit;
  tenantId?: string;
  /** Default: a new ULID. */
  eventId?: string;
  /** The idempotency key; default the event ID. Derive it from the gateway's own record IDs (e.g. "rev_42:vote:2") so a restarted gateway resubmitting gets the first receipt back. */
  producerEventId?: string;
  occurredAt?: Date;
  outcome?: Outcome;
  source?: SourceInit;
  resource?: ResourceInit;
  object?: DataObjectInit;
  sessionId?: string;
  seq?: bigint | number;
  correlation?: CorrelationInit;
  labels?: Record<string, string>;
  error?: MessageInitShape<typeof ErrorInfoSchema>;
  /** Further sensitive fields, committed under their names (e.g. { "actor.ip_geo": "..." }). */
  commit?: Record<string, string>;
}

export interface Draft {
  init: EventInit;
  openings: Opening[];
}

const sorted = (m: Record<string, string> | undefined) =>
  Object.keys(m ?? {})
    .sort()
    .map((key) => ({ key, value: m![key]! }));

/** Builds the envelope; `body` is the oneof case and value. */
export function draft(type: string, c: Common, body: EventInit['body'], openings: Opening[] = []): Draft {
  const { display, ...actor } = c.actor;
  const init: EventInit = {
    type,
    actor: { type: ActorType.HUMAN, ...actor },
    outcome: c.outcome ?? Outcome.SUCCESS,
    labels: sorted(c.labels),
    body,
  };
  if (display !== undefined) {
    const d = commit('actor.display', display);
    init.actor!.displayCommitment = d.digest;
    openings.push(d.opening);
  }
  if (c.tenantId !== undefined) init.tenantId = c.tenantId;
  if (c.eventId !== undefined) init.eventId = c.eventId;
  if (c.producerEventId !== undefined) init.producerEventId = c.producerEventId;
  if (c.occurredAt !== undefined) init.occurredAt = timestampFromDate(c.occurredAt);
  if (c.source) init.source = c.source;
  if (c.resource) init.resource = { ...c.resource, tags: sorted(c.resource.tags) };
  if (c.object) init.object = c.object;
  if (c.sessionId !== undefined) init.sessionId = c.sessionId;
  if (c.seq !== undefined) init.seq = BigInt(c.seq);
  if (c.correlation) init.correlation = c.correlation;
  if (c.error) init.error = c.error;
  if (c.commit) {
    init.commitments = Object.keys(c.commit)
      .sort()
      .map((field) => {
        const x = commit(field, c.commit![field]!);
        openings.push(x.opening);
        return { field, digest: x.digest };
      });
  }
  return { init, openings };
}

/** Commits to an optional value (with a fresh salt unless one is given); adds the opening. */
function maybe(field: string, value: string | undefined, openings: Opening[], salt?: Uint8Array): Uint8Array {
  if (value === undefined) return new Uint8Array();
  const x = commit(field, value, salt);
  openings.push(x.opening);
  return x.digest;
}

/** A statement as a commitment, a fingerprint and a size; the text never leaves the gateway. */
export function statementRef(statement: string, openings: Opening[], params?: string): MessageInitShape<typeof StatementRefSchema> {
  const s = commit('statement', statement);
  openings.push(s.opening);
  return {
    commitment: s.digest,
    fingerprint: statementFingerprint(statement),
    size: new TextEncoder().encode(statement).length,
    paramsCommitment: maybe('statement.params', params, openings),
  };
}

const ms = (d: Date | undefined) => (d ? timestampFromDate(d) : undefined);

// ---- Sessions and statements ----

export const session = {
  started: (c: Common & { sessionId: string; verb: SessionVerb; protocol?: string; reviewId?: string; grantId?: string }) =>
    draft('session.started', c, { case: 'sessionStarted', value: { verb: c.verb, protocol: c.protocol ?? '', reviewId: c.reviewId ?? '', grantId: c.grantId ?? '' } }),
  denied: (c: Common & { reason: string; rule?: string }) =>
    draft('session.denied', { outcome: Outcome.DENIED, ...c }, { case: 'sessionDenied', value: { reason: c.reason, rule: c.rule ?? '' } }),
  /** Usually through GatewayClient.session.ended, which fills the counts and the digest. */
  ended: (
    c: Common & { sessionId: string; durationMs?: number; exitCode?: number; statementCount?: number; deniedCount?: number; eventCount?: number; streamDigest?: Uint8Array; truncated?: boolean },
  ) =>
    draft('session.ended', c, {
      case: 'sessionEnded',
      value: {
        ...(c.durationMs !== undefined ? { duration: durationFromMs(c.durationMs) } : {}),
        ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
        statementCount: BigInt(c.statementCount ?? 0),
        deniedCount: BigInt(c.deniedCount ?? 0),
        eventCount: BigInt(c.eventCount ?? 0),
        streamDigest: c.streamDigest ?? new Uint8Array(),
        truncated: c.truncated ?? false,
      },
    }),
};

export const statement = {
  executed: (c: Common & { sessionId: string; statement: string; params?: string; operation?: string; tables?: string[]; rows?: number; durationMs?: number }) => {
    const openings: Opening[] = [];
    return draft(
      'query.executed',
      c,
      {
        case: 'statementExecuted',
        value: {
          operation: c.operation ?? '',
          tables: c.tables ?? [],
          statement: statementRef(c.statement, openings, c.params),
          rows: BigInt(c.rows ?? 0),
          ...(c.durationMs !== undefined ? { duration: durationFromMs(c.durationMs) } : {}),
        },
      },
      openings,
    );
  },
  denied: (c: Common & { sessionId: string; statement: string; rule: string; message?: string; operation?: string; matchedCount?: number }) => {
    const openings: Opening[] = [];
    return draft(
      'query.denied',
      { outcome: Outcome.DENIED, ...c },
      { case: 'statementDenied', value: { operation: c.operation ?? '', statement: statementRef(c.statement, openings), rule: c.rule, message: c.message ?? '', matchedCount: c.matchedCount ?? 0 } },
      openings,
    );
  },
  failed: (c: Common & { sessionId: string; statement: string; sqlstate?: string; errorClass?: string; operation?: string }) => {
    const openings: Opening[] = [];
    return draft(
      'query.failed',
      { outcome: Outcome.FAILURE, ...c },
      { case: 'statementFailed', value: { operation: c.operation ?? '', statement: statementRef(c.statement, openings), sqlstate: c.sqlstate ?? '', errorClass: c.errorClass ?? '' } },
      openings,
    );
  },
};

// ---- The review workflow: one event per transition ----

type R = Common & { reviewId: string };

export const review = {
  requested: (
    c: R & { kind: ReviewKind; statement?: string; justification?: string; clientArgs?: string; envVarKeys?: string[]; requestedDurationMs?: number; policy?: { ruleName?: string; requiredGroups?: string[]; minApprovals?: number; allGroupsMustApprove?: boolean; forceApprovalGroups?: string[] } },
  ) => {
    const openings: Opening[] = [];
    return draft(
      'review.requested',
      c,
      {
        case: 'reviewRequested',
        value: {
          reviewId: c.reviewId,
          kind: c.kind,
          ...(c.statement !== undefined ? { statement: statementRef(c.statement, openings) } : {}),
          ...(c.requestedDurationMs !== undefined ? { requestedDuration: durationFromMs(c.requestedDurationMs) } : {}),
          envVarKeys: c.envVarKeys ?? [],
          clientArgsCommitment: maybe('client_args', c.clientArgs, openings),
          justificationCommitment: maybe('justification', c.justification, openings),
          ...(c.policy ? { policy: c.policy } : {}),
        },
      },
      openings,
    );
  },
  voteCast: (c: R & { group: string; decision: VoteDecision; reason?: string; channel?: string; selfVote?: boolean }) => {
    const openings: Opening[] = [];
    return draft(
      'review.vote.cast',
      c,
      { case: 'reviewVoteCast', value: { reviewId: c.reviewId, group: c.group, decision: c.decision, reasonCommitment: maybe('reason', c.reason, openings), channel: c.channel ?? '', selfVote: c.selfVote ?? false } },
      openings,
    );
  },
  approved: (c: R & { voteEventIds?: string[]; validUntil?: Date; selfApproved?: boolean }) =>
    draft('review.approved', c, { case: 'reviewApproved', value: { reviewId: c.reviewId, voteEventIds: c.voteEventIds ?? [], validUntil: ms(c.validUntil), selfApproved: c.selfApproved ?? false } }),
  autoApproved: (c: R & { ruleName: string; skippedGroups?: string[]; validUntil?: Date }) =>
    draft('review.auto_approved', c, { case: 'reviewAutoApproved', value: { reviewId: c.reviewId, ruleName: c.ruleName, skippedGroups: c.skippedGroups ?? [], validUntil: ms(c.validUntil) } }),
  forceApproved: (c: R & { forceGroup: string; reason: string; skippedGroups?: string[]; validUntil?: Date }) => {
    const openings: Opening[] = [];
    return draft(
      'review.force_approved',
      c,
      { case: 'reviewForceApproved', value: { reviewId: c.reviewId, forceGroup: c.forceGroup, reasonCommitment: maybe('reason', c.reason, openings), skippedGroups: c.skippedGroups ?? [], validUntil: ms(c.validUntil) } },
      openings,
    );
  },
  rejected: (c: R & { reason?: string; previousState?: ReviewState }) => {
    const openings: Opening[] = [];
    return draft(
      'review.rejected',
      c,
      { case: 'reviewRejected', value: { reviewId: c.reviewId, reasonCommitment: maybe('reason', c.reason, openings), previousState: c.previousState ?? ReviewState.PENDING } },
      openings,
    );
  },
  cancelled: (c: R & { reason?: string }) => {
    const openings: Opening[] = [];
    return draft('review.cancelled', c, { case: 'reviewCancelled', value: { reviewId: c.reviewId, reasonCommitment: maybe('reason', c.reason, openings) } }, openings);
  },
  /** A timer event: the actor defaults to the system. */
  expired: (c: Omit<R, 'actor'> & { actor?: ActorInit; previousState: ReviewState; deadline?: Date }) =>
    draft('review.expired', { ...c, actor: c.actor ?? { id: 'system', type: ActorType.SYSTEM } }, { case: 'reviewExpired', value: { reviewId: c.reviewId, previousState: c.previousState, deadline: ms(c.deadline) } }),
  revoked: (c: R & { reason?: string }) => {
    const openings: Opening[] = [];
    return draft('review.revoked', c, { case: 'reviewRevoked', value: { reviewId: c.reviewId, reasonCommitment: maybe('reason', c.reason, openings) } }, openings);
  },
  execution: (type: 'started' | 'completed' | 'unknown', c: R & { executionSessionId?: string; statementCommitment?: Uint8Array; exitCode?: number; rows?: number; reason?: string }) =>
    draft(`review.execution.${type}`, type === 'unknown' ? { outcome: Outcome.UNKNOWN, ...c } : c, {
      case: 'reviewExecution',
      value: {
        reviewId: c.reviewId,
        sessionId: c.executionSessionId ?? c.sessionId ?? '',
        statementCommitment: c.statementCommitment ?? new Uint8Array(),
        ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
        rows: BigInt(c.rows ?? 0),
        reason: c.reason ?? '',
      },
    }),
};

// ---- Grants, privileges, column changes, producer liveness ----

export const grant = {
  change: (type: 'activated' | 'expired' | 'revoked', c: Common & { grantId: string; reviewId?: string; roles?: string[]; validFrom?: Date; validUntil?: Date; reason?: string }) => {
    const openings: Opening[] = [];
    return draft(
      `access.grant.${type}`,
      c,
      {
        case: 'accessGrant',
        value: { grantId: c.grantId, reviewId: c.reviewId ?? '', roles: c.roles ?? [], validFrom: ms(c.validFrom), validUntil: ms(c.validUntil), reasonCommitment: maybe('reason', c.reason, openings) },
      },
      openings,
    );
  },
};

export const db = {
  privilege: (type: 'granted' | 'revoked', c: Common & { object: DataObjectInit; grantee: string; privileges: string[]; grantor?: string; withGrantOption?: boolean; mechanism?: string; expiresAt?: Date }) =>
    draft(`db.privilege.${type}`, c, {
      case: 'dbPrivilegeChange',
      value: { grantee: c.grantee, grantor: c.grantor ?? '', privileges: c.privileges, withGrantOption: c.withGrantOption ?? false, mechanism: c.mechanism ?? '', expiresAt: ms(c.expiresAt) },
    }),
  role: (type: 'granted' | 'revoked', c: Common & { role: string; member: string; grantor?: string; mechanism?: string }) =>
    draft(`db.role.${type}`, c, { case: 'dbRoleChange', value: { role: c.role, member: c.member, grantor: c.grantor ?? '', mechanism: c.mechanism ?? '' } }),
};

export const column = {
  changed: (
    c: Common & {
      database: string;
      schema?: string;
      table: string;
      column: string;
      rowKey: string;
      operation: ColumnOperation;
      oldValue?: string;
      newValue?: string;
      valueClass: ValueClass;
      captureMethod: CaptureMethod;
      dbAccount: string;
      changedAt?: Date;
      txid?: string;
      oldValueAuthoritative?: boolean;
      /**
       * Salts for old_value and new_value instead of fresh random ones: a producer that must
       * re-encode an event byte for byte after a crash (src/capture/ derives them from a secret
       * and the event's idempotency key) passes them; anyone else leaves them out.
       */
      salts?: { oldValue?: Uint8Array; newValue?: Uint8Array };
    },
  ) => {
    const openings: Opening[] = [];
    return draft(
      'data.column.changed',
      c,
      {
        case: 'columnChange',
        value: {
          database: c.database,
          schema: c.schema ?? '',
          table: c.table,
          column: c.column,
          rowKey: c.rowKey,
          operation: c.operation,
          oldValueCommitment: maybe('old_value', c.oldValue, openings, c.salts?.oldValue),
          newValueCommitment: maybe('new_value', c.newValue, openings, c.salts?.newValue),
          valueClass: c.valueClass,
          captureMethod: c.captureMethod,
          dbAccount: c.dbAccount,
          changedAt: ms(c.changedAt),
          txid: c.txid ?? '',
          oldValueAuthoritative: c.oldValueAuthoritative ?? false,
        },
      },
      openings,
    );
  },
};

export const producer = {
  gap: (c: Partial<Common> & { reason: string; firstSeq?: number; lastSeq?: number; lostCount?: number; from?: Date; to?: Date }) =>
    draft('audit.gap', { actor: { id: 'system', type: ActorType.SYSTEM }, outcome: Outcome.FAILURE, ...c } as Common, {
      case: 'producerGap',
      value: { reason: c.reason, firstSeq: BigInt(c.firstSeq ?? 0), lastSeq: BigInt(c.lastSeq ?? c.firstSeq ?? 0), lostCount: BigInt(c.lostCount ?? 0), from: ms(c.from), to: ms(c.to) },
    }),
  heartbeat: (c: Partial<Common> & { eventsSinceLast?: number; lastEventId?: string; intervalMs?: number }) =>
    draft('producer.heartbeat', { actor: { id: 'system', type: ActorType.SYSTEM }, ...c } as Common, {
      case: 'heartbeat',
      value: { eventsSinceLast: BigInt(c.eventsSinceLast ?? 0), lastEventId: c.lastEventId ?? '', ...(c.intervalMs !== undefined ? { interval: durationFromMs(c.intervalMs) } : {}) },
    }),
};
