// Validation and canonical decoding: a valid event of every type (built with the SDK's builders,
// so the type table, the builders and the validator must agree), and the precise error for each
// kind of mistake.
import { describe, expect, it } from 'vitest';
import { clone, create, toBinary } from '@bufbuild/protobuf';
import * as B from '@candor/gateway/events';
import { concat } from '@candor/core/bytes';
import { decodeEvent } from '@candor/schema/encoding';
import { EVENT_TYPES, EVENT_TYPE_NAMES, isValidTypePattern, typeMatches } from '@candor/schema/types';
import { validateEvent } from '@candor/schema/validate';
import { ActorType, EventSchema, type Event, type Outcome } from '@candor/schema/gen/candor/v1/event_pb';

const common: B.Common = {
  actor: { id: 'usr_1', display: 'alice@example.com' },
  tenantId: 'org-1',
  eventId: 'ev-1',
  producerEventId: 'pe-1',
  occurredAt: new Date('2026-05-04T14:45:00Z'),
  source: { ip: '203.0.113.7', origin: 'web' },
  resource: { name: 'pg-prod', type: 'database', subtype: 'postgres', tags: { pci: 'true', env: 'prod' } },
  object: { database: 'app', schema: 'public', name: 'accounts', kind: 'table' },
  sessionId: 'ses-1',
};
const r = { ...common, reviewId: 'rev-1' };
const hash = new Uint8Array(32).fill(3);

/** A valid event of every type. */
const SAMPLES: Record<string, B.Draft> = {
  'auth.login.succeeded': B.draft('auth.login.succeeded', common, { case: 'authLogin', value: { method: 'sso', mfa: true } }),
  'auth.login.failed': B.draft('auth.login.failed', { ...common, outcome: B.Outcome.FAILURE }, { case: 'authLogin', value: { method: 'password', failureReason: 'bad_credentials' } }),
  ...Object.fromEntries(['created', 'rotated', 'revoked'].map((v) => [`auth.credential.${v}`, B.draft(`auth.credential.${v}`, common, { case: 'credentialChange', value: { kind: 'api_key', credentialId: 'key-1' } })])),
  ...Object.fromEntries(['created', 'updated', 'deleted'].map((v) => [`identity.user.${v}`, B.draft(`identity.user.${v}`, common, { case: 'userChange', value: { userId: 'usr_2' } })])),
  'identity.group_membership.changed': B.draft('identity.group_membership.changed', common, { case: 'groupMembershipChange', value: { userId: 'usr_2', groupsAdded: ['dba'] } }),
  'session.started': B.session.started({ ...common, sessionId: 'ses-1', verb: B.SessionVerb.EXEC }),
  'session.denied': B.session.denied({ ...common, reason: 'no_grant' }),
  'session.ended': B.session.ended({ ...common, sessionId: 'ses-1', eventCount: 3, streamDigest: hash, statementCount: 2, exitCode: 0 }),
  'query.executed': B.statement.executed({ ...common, sessionId: 'ses-1', statement: 'select 1' }),
  'query.denied': B.statement.denied({ ...common, sessionId: 'ses-1', statement: 'drop table x', rule: 'no-ddl' }),
  'query.failed': B.statement.failed({ ...common, sessionId: 'ses-1', statement: 'select x', sqlstate: '42703' }),
  'review.requested': B.review.requested({ ...r, kind: B.ReviewKind.ONE_TIME_COMMAND, statement: 'update t set x = 1', justification: 'OPS-1' }),
  'review.vote.cast': B.review.voteCast({ ...r, group: 'dba', decision: B.VoteDecision.APPROVE }),
  'review.approved': B.review.approved({ ...r, voteEventIds: ['ev-9'] }),
  'review.auto_approved': B.review.autoApproved({ ...r, ruleName: 'skip-for-readonly' }),
  'review.force_approved': B.review.forceApproved({ ...r, forceGroup: 'breakglass', reason: 'incident 7' }),
  'review.rejected': B.review.rejected({ ...r, reason: 'too broad' }),
  'review.cancelled': B.review.cancelled(r),
  'review.expired': B.review.expired({ ...r, previousState: B.ReviewState.PENDING }),
  'review.revoked': B.review.revoked(r),
  'review.execution.started': B.review.execution('started', { ...r, statementCommitment: hash }),
  'review.execution.completed': B.review.execution('completed', { ...r, statementCommitment: hash, exitCode: 0 }),
  'review.execution.unknown': B.review.execution('unknown', { ...r, reason: 'agent lost' }),
  'access.grant.activated': B.grant.change('activated', { ...common, grantId: 'g-1', validUntil: new Date('2026-05-04T15:45:00Z') }),
  'access.grant.expired': B.grant.change('expired', { ...common, grantId: 'g-1' }),
  'access.grant.revoked': B.grant.change('revoked', { ...common, grantId: 'g-1' }),
  'db.privilege.granted': B.db.privilege('granted', { ...common, object: common.object!, grantee: 'app_ro', privileges: ['SELECT'] }),
  'db.privilege.revoked': B.db.privilege('revoked', { ...common, object: common.object!, grantee: 'app_ro', privileges: ['SELECT'] }),
  'db.role.granted': B.db.role('granted', { ...common, role: 'ro', member: 'alice' }),
  'db.role.revoked': B.db.role('revoked', { ...common, role: 'ro', member: 'alice' }),
  ...Object.fromEntries(['provisioned', 'deactivated', 'deleted'].map((v) => [`db.user.${v}`, B.draft(`db.user.${v}`, common, { case: 'dbUserChange', value: { username: 'hoop_ro' } })])),
  'data.column.changed': B.column.changed({
    ...common,
    database: 'app',
    table: 'accounts',
    column: 'iban',
    rowKey: 'rk_1',
    operation: B.ColumnOperation.UPDATE,
    oldValue: 'DE00',
    newValue: 'DE01',
    valueClass: B.ValueClass.PCI,
    captureMethod: B.CaptureMethod.DB_TRIGGER,
    dbAccount: 'hoop_rw',
  }),
  'audit.log.queried': B.draft('audit.log.queried', common, { case: 'auditLogQueried', value: { resultCount: 3n } }),
  'audit.log.exported': B.draft('audit.log.exported', common, { case: 'auditLogExported', value: { format: 'jsonl', bundleDigest: hash } }),
  'audit.opening.disclosed': B.draft('audit.opening.disclosed', common, { case: 'openingDisclosed', value: { disclosedEventId: 'ev-1', fields: ['new_value'], recipient: 'aud-1' } }),
  'audit.erasure.performed': B.draft('audit.erasure.performed', common, { case: 'erasurePerformed', value: { requestId: 'er-1', legalBasis: 'gdpr_art17', commitments: [hash] } }),
  'audit.gap': B.producer.gap({ tenantId: 'org-1', reason: 'buffer_overflow', firstSeq: 10, lastSeq: 20, lostCount: 11 }),
  'producer.heartbeat': B.producer.heartbeat({ tenantId: 'org-1', eventsSinceLast: 5 }),
  ...Object.fromEntries(['started', 'stopped', 'paused'].map((v) => [`audit.producer.${v}`, B.draft(`audit.producer.${v}`, { ...common, actor: { id: 'gw', type: ActorType.SYSTEM } }, { case: 'producerLifecycle', value: {} })])),
};

const event = (d: B.Draft): Event => create(EventSchema, { eventId: 'e', producerEventId: 'p', tenantId: 'org-1', occurredAt: { seconds: 1n }, ...(d.init as object) });

describe('the event taxonomy', () => {
  it('has a valid sample for every type, which decodes canonically', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(EVENT_TYPE_NAMES);
    for (const [type, d] of Object.entries(SAMPLES)) {
      const ev = event(d);
      expect(ev.type).toBe(type);
      expect(() => validateEvent(ev), type).not.toThrow();
      expect(decodeEvent(toBinary(EventSchema, ev))).toEqual(ev);
    }
  });

  it('keeps sensitive values out of the event and hands the openings back', () => {
    const d = SAMPLES['data.column.changed']!;
    const bytes = Buffer.from(toBinary(EventSchema, event(d)));
    for (const secret of ['DE00', 'DE01', 'alice@example.com']) expect(bytes.includes(Buffer.from(secret))).toBe(false);
    expect(d.openings.map((o) => o.field).sort()).toEqual(['actor.display', 'new_value', 'old_value']);
  });

  it('matches scope patterns', () => {
    expect(typeMatches('review.*', 'review.execution.started')).toBe(true);
    expect(typeMatches('review.*', 'reviews.x')).toBe(false);
    expect(typeMatches('query.executed', 'query.denied')).toBe(false);
    expect(isValidTypePattern('session.*')).toBe(true);
    expect(isValidTypePattern('sessions.*')).toBe(false);
    expect(isValidTypePattern('session.exploded')).toBe(false);
    expect(Object.values(EVENT_TYPES).every((s) => s.body)).toBe(true);
  });
});

describe('validation errors name the field', () => {
  const cases: [string, (e: Event) => void, RegExp][] = [
    ['session.started', (e) => (e.eventId = ''), /^event\.event_id is required$/],
    ['session.started', (e) => (e.producerEventId = ''), /event\.producer_event_id is required/],
    ['session.started', (e) => (e.occurredAt = undefined), /event\.occurred_at is required/],
    ['session.started', (e) => (e.actor!.type = ActorType.UNSPECIFIED), /event\.actor\.type is required/],
    ['session.started', (e) => (e.outcome = 0), /event\.outcome is required/],
    ['session.started', (e) => (e.outcome = 42 as Outcome), /event\.outcome has unknown enum value 42/],
    ['session.started', (e) => (e.sessionId = ''), /event\.session_id is required for session\.started/],
    ['session.started', (e) => (e.source = undefined), /event\.source is required for session\.started/],
    ['session.started', (e) => (e.tenantId = 'a\u0000b'), /event\.tenant_id contains a control character/],
    ['session.started', (e) => (e.eventId = 'x'.repeat(257)), /event\.event_id is 257 characters; the limit is 256/],
    ['session.started', (e) => (e.body = { case: undefined }), /event\.session_started is required for type session\.started \(got no body\)/],
    ['query.executed', (e) => ((e.body.value as { statement?: unknown }).statement = undefined), /event\.statement_executed\.statement is required/],
    ['review.force_approved', (e) => ((e.body.value as { reasonCommitment: Uint8Array }).reasonCommitment = new Uint8Array()), /reason_commitment is required: break-glass needs a reason/],
    ['review.expired', (e) => ((e.body.value as { previousState: number }).previousState = 3), /previous_state must be PENDING or APPROVED/],
    ['data.column.changed', (e) => ((e.body.value as { oldValueCommitment: Uint8Array }).oldValueCommitment = new Uint8Array()), /column_change\.old_value_commitment is required for UPDATE/],
    ['data.column.changed', (e) => ((e.body.value as { dbAccount: string }).dbAccount = ''), /column_change\.db_account is required/],
    ['data.column.changed', (e) => ((e.body.value as { newValueCommitment: Uint8Array }).newValueCommitment = new Uint8Array(16)), /column_change\.new_value_commitment must be a 32-byte/],
    ['audit.erasure.performed', (e) => ((e.body.value as { commitments: Uint8Array[] }).commitments = [new Uint8Array()]), /erasure_performed\.commitments\[0\] must be a 32-byte SHA-256 digest, got 0 bytes/],
    ['audit.gap', (e) => ((e.body.value as { firstSeq: bigint }).firstSeq = 99n), /producer_gap\.last_seq must not be below first_seq/],
    ['review.requested', (e) => ((e.body.value as { statement?: unknown }).statement = undefined), /statement\.commitment is required for a one-time command/],
  ];
  for (const [type, change, message] of cases) {
    it(`${type}: ${message.source}`, () => {
      const ev = clone(EventSchema, event(SAMPLES[type]!));
      change(ev);
      expect(() => validateEvent(ev)).toThrow(message);
    });
  }

  it('decodeEvent refuses unknown fields and non-canonical bytes', () => {
    const bytes = toBinary(EventSchema, event(SAMPLES['session.started']!));
    expect(() => decodeEvent(concat(bytes, Uint8Array.of(0xa0, 0x1f, 0x01)), 'events[2]')).toThrow(/events\[2\] has unknown field 500/);
    // tenant_id = "" written explicitly: a zero implicit field is omitted in the canonical form.
    expect(() => decodeEvent(concat(Uint8Array.of(0x2a, 0x00), bytes))).toThrow(/not canonically encoded/);
    expect(() => decodeEvent(Uint8Array.of(0x0a, 0x02, 0xc3, 0x28))).toThrow(/not a valid candor\.v1\.Event/);
  });
});
