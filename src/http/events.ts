/**
 * POST /v1/events: event submission over HTTP, the same operation as gRPC SubmitBatch through the
 * same service layer (src/events/ingest.ts). The body is a candor.v1.SubmitBatchRequest in the
 * protobuf JSON mapping (application/json) or binary (application/x-protobuf); the answer is a
 * SubmitBatchResponse in the same form. Credentials: "Authorization: Bearer <token>", and a
 * client certificate when the server runs TLS.
 *
 *   curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
 *     -d '{"eventMessages":[{"eventId":"e1","producerEventId":"e1","type":"producer.heartbeat",
 *          "occurredAt":"2026-05-04T14:45:00Z","tenantId":"org-1",
 *          "actor":{"id":"gw-1","type":"ACTOR_TYPE_SYSTEM"},"outcome":"OUTCOME_SUCCESS","heartbeat":{}}]}' \
 *     http://127.0.0.1:8080/v1/events
 */
import { fromBinary, fromJson, toBinary, toJson, create, type JsonValue } from '@bufbuild/protobuf';
import type { FastifyPluginAsync } from 'fastify';
import { CandorError, invalid } from '@candor/core/errors';
import type { EventIngest } from '../events/ingest.js';
import type { LogService } from '../log/service.js';
import { SubmitBatchRequestSchema, SubmitBatchResponseSchema, type SubmitBatchRequest } from '@candor/schema/gen/candor/v1/log_service_pb';
import { bearerCredentials } from '../producers/registry.js';
import { verifiedPeerCertificate as peerCertificate } from './tls.js';

/**
 * A full request, base64 in JSON: gRPC's largest request message (64 MiB) grows by 4/3 in
 * base64, plus the JSON around it. Over it, 413 before the body is buffered.
 */
export const EVENTS_BODY_LIMIT = 96 * 1024 * 1024;
const BODY_LIMIT = EVENTS_BODY_LIMIT;
const PROTOBUF = 'application/x-protobuf';

export const eventRoutes: FastifyPluginAsync<{ events: EventIngest; service: LogService }> = async (app, { events, service }) => {
  app.addContentTypeParser(PROTOBUF, { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.post(
    '/v1/events',
    {
      bodyLimit: BODY_LIMIT,
      // Authenticate before the body is read: an unknown caller costs no parsing.
      onRequest: async (req) => {
        events.preflight(bearerCredentials(req.headers.authorization, peerCertificate(req)));
        // The checkpoint the client last accepted (base64): docs/fencing.md.
        const seen = req.headers['candor-checkpoint'];
        await service.observeClientCheckpoint(typeof seen === 'string' ? seen : undefined);
      },
    },
    async (req, reply) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      let request: SubmitBatchRequest;
      try {
        if (type === PROTOBUF) request = fromBinary(SubmitBatchRequestSchema, req.body as Buffer);
        else if (type === 'application/json') request = fromJson(SubmitBatchRequestSchema, (req.body ?? null) as JsonValue);
        else throw new CandorError('unsupported_media_type', `POST /v1/events takes application/json or ${PROTOBUF}`);
      } catch (err) {
        if (err instanceof CandorError) throw err;
        throw invalid(`body is not a valid candor.v1.SubmitBatchRequest: ${(err as Error).message}`);
      }
      const r = await events.submit(bearerCredentials(req.headers.authorization, peerCertificate(req)), {
        requestId: request.requestId,
        events: request.events,
        eventMessages: request.eventMessages,
        signature: request.signature,
      });
      const res = create(SubmitBatchResponseSchema, {
        requestId: r.requestId,
        checkpoint: r.checkpoint,
        producer: r.producer,
        authMethod: r.authMethod,
        acks: r.acks,
      });
      if (type === PROTOBUF) return reply.type(PROTOBUF).send(Buffer.from(toBinary(SubmitBatchResponseSchema, res)));
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(toJson(SubmitBatchResponseSchema, res, { alwaysEmitImplicit: true })));
    },
  );
};
