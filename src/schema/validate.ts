/**
 * Validation of a decoded event, once, at the edge: the log runs it on every event it accepts
 * and the gateway SDK runs the same code before sending, so a producer learns about a bad event
 * from the same message either way. Every error is a CandorError('invalid_argument') that names
 * the field by its proto path (e.g. "events[3].actor.id is required").
 *
 * Two passes: a schema-driven walk that applies the rules every field of a kind obeys (no unknown
 * fields, known enum values, commitments of 32 bytes, bounded strings, valid timestamps), then
 * the envelope and per-type rules (required fields).
 */
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';
import { invalid } from '@candor/core/errors';
import { EventSchema, type Event, type Label } from './gen/candor/v1/event_pb.js';
import { ActorType, CaptureMethod, ColumnOperation, Outcome, ReviewKind, ReviewState, SessionVerb, ValueClass, VoteDecision } from './gen/candor/v1/event_pb.js';
import { EVENT_TYPES, protoName, type BodyCase } from './types.js';

/** Identifiers (fields named `id` or `*_id`, and the type): at most this many characters. */
export const MAX_ID_LENGTH = 256;
/** Any other string field. */
export const MAX_STRING_LENGTH = 4096;
export const COMMITMENT_SIZE = 32;

// google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;
// google.protobuf.Duration: about ±10,000 years.
const MAX_DURATION_SECONDS = 315_576_000_000n;

/** A control character (C0, DEL, C1): never valid inside an identifier. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

interface FieldRule {
  local: string;
  name: string;
  /** Set for a member of a oneof: the oneof's local name. */
  oneof?: string;
  kind: 'string' | 'id' | 'commitment' | 'bytes' | 'enum' | 'message' | 'other';
  repeated: boolean;
  enumValues?: ReadonlySet<number>;
  message?: DescMessage;
}

const rulesCache = new Map<string, FieldRule[]>();

function isCommitmentField(name: string): boolean {
  return name === 'commitment' || name === 'digest' || name === 'commitments' || name.endsWith('_commitment') || name.endsWith('_digest');
}

function fieldRule(f: DescField): FieldRule {
  const base = { local: f.localName, name: f.name, oneof: f.oneof?.localName, repeated: f.fieldKind === 'list' };
  const scalar = f.fieldKind === 'scalar' || (f.fieldKind === 'list' && f.listKind === 'scalar') ? f.scalar : undefined;
  if (scalar === ScalarType.STRING) {
    return { ...base, kind: f.name === 'id' || f.name.endsWith('_id') || f.name === 'type' ? 'id' : 'string' };
  }
  if (scalar === ScalarType.BYTES) return { ...base, kind: isCommitmentField(f.name) ? 'commitment' : 'bytes' };
  if (f.fieldKind === 'enum' || (f.fieldKind === 'list' && f.listKind === 'enum')) {
    return { ...base, kind: 'enum', enumValues: new Set(f.enum.values.map((v) => v.number)) };
  }
  if (f.fieldKind === 'message' || (f.fieldKind === 'list' && f.listKind === 'message')) {
    return { ...base, kind: 'message', message: f.message };
  }
  return { ...base, kind: 'other' };
}

function rulesOf(desc: DescMessage): FieldRule[] {
  let rules = rulesCache.get(desc.typeName);
  if (!rules) {
    rules = desc.fields.map(fieldRule);
    rulesCache.set(desc.typeName, rules);
  }
  return rules;
}

type Msg = Record<string, unknown> & { $typeName: string; $unknown?: { no: number }[] };

function fieldPath(path: string, rule: FieldRule, i: number): string {
  return `${path}.${rule.name}${i < 0 ? '' : `[${i}]`}`;
}

/**
 * Checks one value of a field of the message at `path`; `i` is its position in a repeated
 * field. The field's own path is built only for an error: this runs for every field of every
 * event.
 */
function checkValue(rule: FieldRule, value: unknown, path: string, i: number): void {
  switch (rule.kind) {
    case 'id': {
      const s = value as string;
      if (s.length > MAX_ID_LENGTH) throw invalid(`${fieldPath(path, rule, i)} is ${s.length} characters; the limit is ${MAX_ID_LENGTH}`);
      if (CONTROL.test(s)) throw invalid(`${fieldPath(path, rule, i)} contains a control character`);
      return;
    }
    case 'string': {
      const s = value as string;
      if (s.length > MAX_STRING_LENGTH) throw invalid(`${fieldPath(path, rule, i)} is ${s.length} characters; the limit is ${MAX_STRING_LENGTH}`);
      return;
    }
    case 'commitment': {
      const n = (value as Uint8Array).length;
      // Empty means "not recorded" for a singular commitment; a listed one must be real.
      if (n !== COMMITMENT_SIZE && (n !== 0 || rule.repeated)) {
        throw invalid(`${fieldPath(path, rule, i)} must be a ${COMMITMENT_SIZE}-byte SHA-256 digest${rule.repeated ? '' : ' or empty'}, got ${n} bytes`);
      }
      return;
    }
    case 'enum':
      if (!rule.enumValues!.has(value as number)) throw invalid(`${fieldPath(path, rule, i)} has unknown enum value ${String(value)}`);
      return;
    case 'message':
      walk(rule.message!, value as Msg, fieldPath(path, rule, i));
      return;
    default:
      return;
  }
}

/** Applies the per-kind rules to every field of a message, recursively. */
function walk(desc: DescMessage, msg: Msg, path: string): void {
  if (msg.$unknown && msg.$unknown.length > 0) {
    throw invalid(`${path} has unknown field ${msg.$unknown[0]!.no}: the log's schema does not know it (is the producer's candor.v1 newer?)`);
  }
  if (desc.typeName === 'google.protobuf.Timestamp') return checkTimestamp(msg, path);
  if (desc.typeName === 'google.protobuf.Duration') return checkDuration(msg, path);
  const rules = rulesOf(desc);
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!;
    if (rule.kind === 'other') continue;
    let value: unknown;
    if (rule.oneof) {
      const o = msg[rule.oneof] as { case?: string; value?: unknown };
      if (o.case !== rule.local) continue;
      value = o.value;
    } else {
      value = msg[rule.local];
    }
    if (value === undefined) continue;
    if (rule.repeated) {
      const list = value as unknown[];
      for (let i = 0; i < list.length; i++) checkValue(rule, list[i], path, i);
    } else {
      checkValue(rule, value, path, -1);
    }
  }
}

function checkTimestamp(ts: Msg, path: string): void {
  const s = ts.seconds as bigint;
  const n = ts.nanos as number;
  if (s < MIN_SECONDS || s > MAX_SECONDS) throw invalid(`${path} is outside 0001-01-01..9999-12-31`);
  if (n < 0 || n > 999_999_999) throw invalid(`${path}.nanos must be in 0..999999999`);
}

function checkDuration(d: Msg, path: string): void {
  const s = d.seconds as bigint;
  const n = d.nanos as number;
  if (s < -MAX_DURATION_SECONDS || s > MAX_DURATION_SECONDS) throw invalid(`${path} is out of range`);
  if (n < -999_999_999 || n > 999_999_999 || (s > 0n && n < 0) || (s < 0n && n > 0)) throw invalid(`${path}.nanos must be in range and have the sign of seconds`);
}

function checkLabels(labels: readonly Label[], path: string): void {
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i]!.key;
    if (k === '') throw invalid(`${path}[${i}].key is required`);
    // Sorted by UTF-16 code units, unique: one encoding per set of labels.
    if (i > 0 && !(labels[i - 1]!.key < k)) throw invalid(`${path} must be sorted by key with no duplicates (at ${path}[${i}].key ${JSON.stringify(k)})`);
  }
}

/** Checks a decoded event; `path` prefixes field names in errors ("event", "events[3]"). */
export function validateEvent(ev: Event, path = 'event'): void {
  walk(EventSchema, ev as unknown as Msg, path);

  const req = (ok: unknown, field: string, what = 'is required'): void => {
    if (!ok) throw invalid(`${path}.${field} ${what}`);
  };
  req(ev.eventId, 'event_id');
  req(ev.producerEventId, 'producer_event_id');
  req(ev.type, 'type');
  const spec = EVENT_TYPES[ev.type];
  if (!spec) throw invalid(`${path}.type ${JSON.stringify(ev.type)} is not a known event type (see src/schema/types.ts)`);
  req(ev.occurredAt, 'occurred_at');
  req(ev.tenantId, 'tenant_id');
  req(ev.actor, 'actor');
  req(ev.actor!.id, 'actor.id');
  req(ev.actor!.type !== ActorType.UNSPECIFIED, 'actor.type');
  req(ev.outcome !== Outcome.UNSPECIFIED, 'outcome');
  if (ev.resource) checkLabels(ev.resource.tags, `${path}.resource.tags`);
  checkLabels(ev.labels, `${path}.labels`);
  for (let i = 0; i < ev.commitments.length; i++) req(ev.commitments[i]!.field, `commitments[${i}].field`);
  if (ev.corrects) req(ev.corrects.eventId, 'corrects.event_id');
  for (const part of spec.needs) {
    if (part === 'resource') req(ev.resource && (ev.resource.name || ev.resource.id), 'resource', `is required for ${ev.type} (name or id)`);
    else if (part === 'source') req(ev.source, 'source', `is required for ${ev.type}`);
    else if (part === 'session_id') req(ev.sessionId, 'session_id', `is required for ${ev.type}`);
    else if (part === 'object') req(ev.object && ev.object.name, 'object.name', `is required for ${ev.type}`);
  }

  const body = ev.body;
  if (body.case !== spec.body) {
    const got = body.case === undefined ? 'no body' : `body ${protoName(body.case)}`;
    throw invalid(`${path}.${protoName(spec.body)} is required for type ${ev.type} (got ${got})`);
  }
  const check = BODY_RULES[spec.body] as (b: unknown, need: Need, type: string) => void;
  const bp = protoName(spec.body);
  check(body.value, (ok, field, what) => req(ok, `${bp}.${field}`, what), ev.type);
}

type Need = (ok: unknown, field: string, what?: string) => void;
type BodyOf<C extends BodyCase> = Extract<Event['body'], { case: C }>['value'];
type BodyRules = { [C in BodyCase]: (b: BodyOf<C>, need: Need, type: string) => void };

const none = (): void => undefined;

/** Required fields of each body (the "Required." comments in proto/candor/v1/event.proto). */
const BODY_RULES: BodyRules = {
  authLogin: (b, need, type) => {
    need(b.method, 'method');
    if (type === 'auth.login.failed') need(b.failureReason, 'failure_reason', 'is required for auth.login.failed');
  },
  credentialChange: (b, need) => need(b.credentialId, 'credential_id'),
  userChange: (b, need) => need(b.userId, 'user_id'),
  groupMembershipChange: (b, need) => {
    need(b.userId, 'user_id');
    need(b.groupsAdded.length + b.groupsRemoved.length > 0, 'groups_added', 'or groups_removed must name a group');
  },
  sessionStarted: (b, need) => need(b.verb !== SessionVerb.UNSPECIFIED, 'verb'),
  sessionDenied: (b, need) => need(b.reason, 'reason'),
  sessionEnded: (b, need) => {
    if (b.eventCount > 0n) need(b.streamDigest.length > 0, 'stream_digest', 'is required when event_count is set');
  },
  statementExecuted: (b, need) => {
    need(b.statement, 'statement');
    need(b.statement!.commitment.length > 0, 'statement.commitment');
  },
  statementDenied: (b, need) => {
    need(b.statement, 'statement');
    need(b.statement!.commitment.length > 0, 'statement.commitment');
    need(b.rule, 'rule');
  },
  statementFailed: (b, need) => {
    need(b.statement, 'statement');
    need(b.statement!.commitment.length > 0, 'statement.commitment');
  },
  reviewRequested: (b, need) => {
    need(b.reviewId, 'review_id');
    need(b.kind !== ReviewKind.UNSPECIFIED, 'kind');
    if (b.kind === ReviewKind.ONE_TIME_COMMAND) {
      need(b.statement && b.statement.commitment.length > 0, 'statement.commitment', 'is required for a one-time command');
    }
  },
  reviewVoteCast: (b, need) => {
    need(b.reviewId, 'review_id');
    need(b.decision !== VoteDecision.UNSPECIFIED, 'decision');
  },
  reviewApproved: (b, need) => need(b.reviewId, 'review_id'),
  reviewAutoApproved: (b, need) => {
    need(b.reviewId, 'review_id');
    need(b.ruleName, 'rule_name');
  },
  reviewForceApproved: (b, need) => {
    need(b.reviewId, 'review_id');
    need(b.forceGroup, 'force_group');
    need(b.reasonCommitment.length > 0, 'reason_commitment', 'is required: break-glass needs a reason');
  },
  reviewRejected: (b, need) => need(b.reviewId, 'review_id'),
  reviewCancelled: (b, need) => need(b.reviewId, 'review_id'),
  reviewExpired: (b, need) => {
    need(b.reviewId, 'review_id');
    need(b.previousState === ReviewState.PENDING || b.previousState === ReviewState.APPROVED, 'previous_state', 'must be PENDING or APPROVED');
  },
  reviewRevoked: (b, need) => need(b.reviewId, 'review_id'),
  reviewExecution: (b, need, type) => {
    need(b.reviewId, 'review_id');
    if (type === 'review.execution.unknown') need(b.reason, 'reason', 'is required for review.execution.unknown');
  },
  accessGrant: (b, need, type) => {
    need(b.grantId, 'grant_id');
    if (type === 'access.grant.activated') need(b.validUntil, 'valid_until', 'is required for access.grant.activated');
  },
  dbPrivilegeChange: (b, need) => {
    need(b.grantee, 'grantee');
    need(b.privileges.length > 0, 'privileges', 'must name at least one privilege');
  },
  dbRoleChange: (b, need) => {
    need(b.role, 'role');
    need(b.member, 'member');
  },
  dbUserChange: (b, need) => need(b.username, 'username'),
  columnChange: (b, need) => {
    need(b.database, 'database');
    need(b.table, 'table');
    need(b.column, 'column');
    need(b.rowKey, 'row_key');
    need(b.operation !== ColumnOperation.UNSPECIFIED, 'operation');
    need(b.valueClass !== ValueClass.UNSPECIFIED, 'value_class');
    need(b.captureMethod !== CaptureMethod.UNSPECIFIED, 'capture_method');
    need(b.dbAccount, 'db_account');
    if (b.operation === ColumnOperation.UPDATE) {
      need(b.oldValueCommitment.length > 0, 'old_value_commitment', 'is required for UPDATE');
      need(b.newValueCommitment.length > 0, 'new_value_commitment', 'is required for UPDATE');
    } else if (b.operation === ColumnOperation.INSERT) {
      need(b.newValueCommitment.length > 0, 'new_value_commitment', 'is required for INSERT');
    } else if (b.operation === ColumnOperation.DELETE) {
      need(b.oldValueCommitment.length > 0, 'old_value_commitment', 'is required for DELETE');
    }
  },
  auditLogQueried: none,
  auditLogExported: (b, need) => need(b.format, 'format'),
  openingDisclosed: (b, need) => {
    need(b.disclosedEventId, 'disclosed_event_id');
    need(b.fields.length > 0, 'fields', 'must name at least one field');
    need(b.recipient, 'recipient');
  },
  erasurePerformed: (b, need) => {
    need(b.requestId, 'request_id');
    need(b.legalBasis, 'legal_basis');
  },
  producerGap: (b, need) => {
    need(b.reason, 'reason');
    need(b.lastSeq >= b.firstSeq, 'last_seq', 'must not be below first_seq');
  },
  heartbeat: none,
  producerLifecycle: none,
};
