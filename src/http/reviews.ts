/**
 * GET /v1/reviews/:id/timeline: a review's events in log order, its derived state and the auditor
 * checks (src/query/timeline.ts). Needs an auditor token with the "search" permission; the read
 * is itself logged (audit.log.queried) before it is answered, unless auditReads is off.
 *
 *   curl -H "Authorization: Bearer $AUDITOR_TOKEN" 'http://127.0.0.1:8080/v1/reviews/rev-42/timeline?tenant=org-1'
 */
import { verifiedPeerCertificate } from './tls.js';
import { toJson } from '@bufbuild/protobuf';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { toBase64 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import { readableTenants } from '../auditors/registry.js';
import { EventSchema, ReviewKind } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { bearerCredentials } from '../producers/registry.js';
import type { Authorize, Reader } from '../query/access.js';
import type { AuditRecord, ReadAudit, ReadContext } from '../query/audit.js';
import { fieldsOf } from '../query/fields.js';
import type { EventFilter } from '../query/filter.js';
import type { EventSource } from '../query/scan.js';
import { reviewTimeline } from '../query/timeline.js';
import type { LoggedEvent } from '../query/types.js';

export interface ReadRoutesOptions {
  authorize: Authorize;
  audit: ReadAudit;
  /** The events matching a filter (src/query/scan.ts until the search index replaces it). */
  events: (filter: EventFilter) => EventSource;
}

/** The reader a request's bearer token authorizes for `permission`, and where the request came from. */
export function readContext(req: FastifyRequest, authorize: Authorize, permission: 'search' | 'export'): ReadContext {
  const reader: Reader = authorize(bearerCredentials(req.headers.authorization, verifiedPeerCertificate(req)), permission);
  return { reader, ...readOrigin(req) };
}

/** Where a read came from (PCI DSS 10.2.2 "origination"), for its audit event. */
export function readOrigin(req: FastifyRequest): { ip: string; userAgent?: string } {
  const ua = req.headers['user-agent'];
  return { ip: req.ip, ...(ua ? { userAgent: ua } : {}) };
}

/** Tells the reader where its read was logged, and the salt of the commitment to its query. */
export function auditHeaders(reply: FastifyReply, a: AuditRecord | undefined): void {
  if (!a) return;
  reply.header('Candor-Audit-Index', String(a.index));
  reply.header('Candor-Audit-Query-Salt', toBase64(a.salt));
}

function eventJson(e: LoggedEvent) {
  return {
    index: e.index,
    receivedAt: e.receivedAt.toString(),
    producer: e.producer,
    authMethod: `AUTH_METHOD_${AuthMethod[e.authMethod]}`,
    signed: e.signed,
    event: toJson(EventSchema, e.event),
  };
}

export const reviewRoutes: FastifyPluginAsync<ReadRoutesOptions> = async (app, { authorize, audit, events }) => {
  app.get(
    '/v1/reviews/:id/timeline',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f]+$' } }, required: ['id'] },
        querystring: { type: 'object', properties: { tenant: { type: 'string', minLength: 1 } }, additionalProperties: false },
      },
    },
    async (req, reply) => {
      const ctx = readContext(req, authorize, 'search');
      const { id } = req.params as { id: string };
      const { tenant } = req.query as { tenant?: string };
      const tenants = readableTenants(ctx.reader, tenant === undefined ? undefined : [tenant]);
      const found: LoggedEvent[] = [];
      for await (const e of events({ review: id, ...(tenants ? { tenant: tenants } : {}) })) found.push(e);
      const record = await audit.queried(ctx, 'review.timeline', { review: id, tenant: tenants ?? '*' }, tenants, found.length);
      auditHeaders(reply, record);
      if (found.length === 0) throw new CandorError('not_found', `no events of review ${JSON.stringify(id)}${tenants ? ` in tenant ${tenants.join(', ')}` : ''}`);
      // Review IDs are the gateways' own, unique within a tenant at most: never merge two tenants' reviews.
      const seen = [...new Set(found.map((e) => fieldsOf(e).tenantId))];
      if (seen.length > 1) throw new CandorError('invalid_argument', `review ${JSON.stringify(id)} has events in tenants ${seen.join(', ')}: give tenant= to choose one`);
      const t = reviewTimeline(id, found);
      return {
        reviewId: t.reviewId,
        state: t.state,
        ...(t.kind !== undefined ? { kind: `REVIEW_KIND_${ReviewKind[t.kind]}` } : {}),
        ...(t.requester !== undefined ? { requester: t.requester } : {}),
        ok: t.checks.every((c) => c.ok),
        checks: t.checks,
        events: t.events.map((x) => ({ before: x.before, after: x.after, invalid: x.invalid, ...eventJson(x.event) })),
      };
    },
  );
};
