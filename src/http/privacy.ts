/**
 * The openings API (docs/privacy.md), a thin adapter over src/privacy/service.ts:
 *
 *   POST /v1/openings            a producer deposits an event's openings (its bearer token)
 *   GET  /v1/openings/:event_id  a reader with "disclose" gets them (?field=a,b  ?tenant=T);
 *                                the disclosure is logged first
 *   POST /v1/erasures            a reader with "erase" destroys a subject's or tenant's openings;
 *                                an admin route (erasureAdminRoutes): on the admin listener when
 *                                there is one, else here
 *
 * Bytes are base64 in JSON, as in the protobuf JSON mapping.
 */
import type { TLSSocket } from 'node:tls';
import type { AdminRoutes } from './admin.js';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { toBase64 } from '@candor/core/bytes';
import { bearerCredentials } from '../producers/registry.js';
import type { RecordMeta } from '../privacy/store.js';
import type { DepositRequest, ErasureRequest, PrivacyService } from '../privacy/service.js';
import { MAX_OPENINGS, MAX_PAYLOAD_BYTES } from '../privacy/service.js';

const BODY_LIMIT = Math.ceil((MAX_PAYLOAD_BYTES * 4) / 3) + 8 * 1024 * 1024;

function credentials(req: FastifyRequest) {
  const socket = req.raw.socket as Partial<TLSSocket>;
  const cert = socket.authorized && socket.getPeerCertificate ? socket.getPeerCertificate() : undefined;
  return bearerCredentials(req.headers.authorization, cert);
}

const idSchema = { type: 'string', minLength: 1, maxLength: 256 };

const depositSchema = {
  type: 'object',
  required: ['tenant_id', 'event_id', 'leaf_index'],
  additionalProperties: false,
  properties: {
    tenant_id: idSchema,
    subject_id: { type: 'string', maxLength: 256 },
    event_id: idSchema,
    leaf_index: { type: 'integer', minimum: 0 },
    openings: {
      type: 'array',
      maxItems: MAX_OPENINGS,
      items: {
        type: 'object',
        required: ['field', 'salt', 'value'],
        additionalProperties: false,
        properties: { field: { type: 'string', minLength: 1, maxLength: 4096 }, salt: { type: 'string' }, value: { type: 'string' } },
      },
    },
    payload: { type: 'string' },
  },
};

const erasureSchema = {
  type: 'object',
  required: ['request_id', 'tenant_id', 'legal_basis'],
  additionalProperties: false,
  properties: { request_id: idSchema, tenant_id: idSchema, subject_id: { type: 'string', maxLength: 256 }, legal_basis: idSchema },
};

function recordJson(m: RecordMeta) {
  return {
    tenant_id: m.tenant,
    ...(m.subject ? { subject_id: m.subject } : {}),
    event_id: m.eventId,
    leaf_index: m.leafIndex,
    fields: m.fields,
    payload: m.payloadDigest !== undefined,
  };
}

export const privacyRoutes: FastifyPluginAsync<{ privacy: PrivacyService }> = async (app, { privacy }) => {
  app.post<{ Body: DepositRequest }>('/v1/openings', { bodyLimit: BODY_LIMIT, schema: { body: depositSchema } }, async (req) => {
    return recordJson(await privacy.deposit(credentials(req), req.body));
  });

  app.get<{ Params: { event_id: string }; Querystring: { field?: string; tenant?: string } }>(
    '/v1/openings/:event_id',
    {
      schema: {
        params: { type: 'object', properties: { event_id: idSchema } },
        querystring: { type: 'object', additionalProperties: false, properties: { field: { type: 'string', minLength: 1 }, tenant: idSchema } },
      },
    },
    async (req) => {
      const fields = req.query.field?.split(',').filter(Boolean);
      const d = await privacy.disclose(credentials(req), req.params.event_id, {
        ...(fields ? { fields } : {}),
        ...(req.query.tenant !== undefined ? { tenant: req.query.tenant } : {}),
      });
      return {
        ...recordJson(d.meta),
        disclosure_index: d.disclosureIndex,
        openings: d.openings.map((o) => ({ field: o.field, digest: toBase64(o.digest), salt: toBase64(o.salt), value: toBase64(o.value) })),
        ...(d.payload ? { payload: { digest: toBase64(d.payload.digest), data: toBase64(d.payload.bytes) } } : {}),
      };
    },
  );
};

/** POST /v1/erasures as an admin route group: it checks its caller (permission erase) itself. */
export function erasureAdminRoutes(privacy: PrivacyService): AdminRoutes {
  const plugin: FastifyPluginAsync = async (app) => {
    app.post<{ Body: ErasureRequest }>('/v1/erasures', { schema: { body: erasureSchema } }, async (req) => {
      const { erasure: e, repeated } = await privacy.erase(credentials(req), req.body);
      return {
        request_id: e.requestId,
        tenant_id: e.tenant,
        legal_basis: e.legalBasis,
        repeated,
        keys_destroyed: e.keys,
        records_deleted: e.records,
        commitments: e.commitments.length,
        events: e.eventIds.length,
        erasure_event_indexes: e.logged,
      };
    });
  };
  return { plugin, authenticates: true };
}
