/**
 * The event taxonomy: every event type the log accepts, the body it carries, and which optional
 * parts of the envelope it needs. A type not in this table is rejected (audit-domain.md §4.3;
 * names are `domain.object.verb`, past tense, as Teleport, hoop and CloudTrail name theirs).
 */
import type { Event } from './gen/candor/v1/event_pb.js';

/** The oneof case of Event.body, e.g. 'reviewVoteCast'. */
export type BodyCase = NonNullable<Event['body']['case']>;

/** Envelope parts a type may require beyond the ones every event has. */
export type EnvelopePart = 'resource' | 'source' | 'session_id' | 'object';

export interface EventTypeSpec {
  body: BodyCase;
  needs: readonly EnvelopePart[];
}

const t = (body: BodyCase, ...needs: EnvelopePart[]): EventTypeSpec => ({ body, needs });

export const EVENT_TYPES: Readonly<Record<string, EventTypeSpec>> = {
  // A. Authentication and identity (PCI DSS 10.2.1.4, 10.2.1.5)
  'auth.login.succeeded': t('authLogin', 'source'),
  'auth.login.failed': t('authLogin', 'source'),
  'auth.credential.created': t('credentialChange'),
  'auth.credential.rotated': t('credentialChange'),
  'auth.credential.revoked': t('credentialChange'),
  'identity.user.created': t('userChange'),
  'identity.user.updated': t('userChange'),
  'identity.user.deleted': t('userChange'),
  'identity.group_membership.changed': t('groupMembershipChange'),

  // B. Access sessions (PCI DSS 10.2.1.1, 10.2.1.2)
  'session.started': t('sessionStarted', 'resource', 'source', 'session_id'),
  'session.denied': t('sessionDenied', 'resource', 'source'),
  'session.ended': t('sessionEnded', 'resource', 'session_id'),

  // C. Statements
  'query.executed': t('statementExecuted', 'resource', 'session_id'),
  'query.denied': t('statementDenied', 'resource', 'session_id'),
  'query.failed': t('statementFailed', 'resource', 'session_id'),

  // D. Approval workflow, one event per transition (audit-domain.md §5.2)
  'review.requested': t('reviewRequested', 'resource'),
  'review.vote.cast': t('reviewVoteCast'),
  'review.approved': t('reviewApproved'),
  'review.auto_approved': t('reviewAutoApproved'),
  'review.force_approved': t('reviewForceApproved'),
  'review.rejected': t('reviewRejected'),
  'review.cancelled': t('reviewCancelled'),
  'review.expired': t('reviewExpired'),
  'review.revoked': t('reviewRevoked'),
  'review.execution.started': t('reviewExecution'),
  'review.execution.completed': t('reviewExecution'),
  'review.execution.unknown': t('reviewExecution'),

  // JIT access grants
  'access.grant.activated': t('accessGrant', 'resource'),
  'access.grant.expired': t('accessGrant', 'resource'),
  'access.grant.revoked': t('accessGrant', 'resource'),

  // E. Database privileges, roles and users (PCI DSS 10.2.1.2, 10.2.1.5)
  'db.privilege.granted': t('dbPrivilegeChange', 'resource', 'object'),
  'db.privilege.revoked': t('dbPrivilegeChange', 'resource', 'object'),
  'db.role.granted': t('dbRoleChange', 'resource'),
  'db.role.revoked': t('dbRoleChange', 'resource'),
  'db.user.provisioned': t('dbUserChange', 'resource'),
  'db.user.deactivated': t('dbUserChange', 'resource'),
  'db.user.deleted': t('dbUserChange', 'resource'),

  // F. Sensitive-column change
  'data.column.changed': t('columnChange', 'resource'),

  // G. Audit of the audit log, producer liveness (PCI DSS 10.2.1.3, 10.2.1.6, 10.7.2)
  'audit.log.queried': t('auditLogQueried'),
  'audit.log.exported': t('auditLogExported'),
  'audit.opening.disclosed': t('openingDisclosed'),
  'audit.erasure.performed': t('erasurePerformed'),
  'audit.gap': t('producerGap'),
  'producer.heartbeat': t('heartbeat'),
  'audit.producer.started': t('producerLifecycle'),
  'audit.producer.stopped': t('producerLifecycle'),
  'audit.producer.paused': t('producerLifecycle'),
};

export const EVENT_TYPE_NAMES: readonly string[] = Object.keys(EVENT_TYPES).sort();

/** The proto field name of a body case (reviewVoteCast -> review_vote_cast), for messages. */
export function protoName(localName: string): string {
  let name = protoNames.get(localName);
  if (name === undefined) {
    name = localName.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    // Validation asks for the body cases' names on every event: remember those (few) names.
    if (protoNames.size < 1024) protoNames.set(localName, name);
  }
  return name;
}

const protoNames = new Map<string, string>();

/**
 * Whether a type pattern from a producer's scope matches a type: "*" matches all, "review.*"
 * matches every type under "review.", anything else must be equal.
 */
export function typeMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Checks a scope pattern: "*", a known type, or a prefix that some known type has. */
export function isValidTypePattern(pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return EVENT_TYPE_NAMES.some((n) => typeMatches(pattern, n));
  return pattern in EVENT_TYPES;
}
