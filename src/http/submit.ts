/**
 * POST /add: the raw entry in, its acknowledgement (index, checkpoint, inclusion proof) out, once
 * durable. POST /add?witnessed=1 answers only once a checkpoint covering the entry meets the
 * witness policy, with that checkpoint (cosignatures included) and a proof against it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { toBase64 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import { MAX_ENTRY_SIZE } from '@candor/core/tile';
import type { LogService } from '../log/service.js';

const ackSchema = {
  type: 'object',
  properties: {
    index: { type: 'integer' },
    leafHash: { type: 'string' },
    checkpoint: { type: 'string' },
    inclusionProof: { type: 'array', items: { type: 'string' } },
    duplicate: { type: 'boolean' },
    witnessed: { type: 'boolean' },
  },
} as const;

export const submitRoutes: FastifyPluginAsync<{ service: LogService }> = async (app, { service }) => {
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_ENTRY_SIZE }, (_req, body, done) =>
    done(null, body),
  );

  app.post(
    '/add',
    {
      bodyLimit: MAX_ENTRY_SIZE,
      schema: {
        querystring: { type: 'object', properties: { witnessed: { type: 'string', enum: ['1', '0', 'true', 'false'] } }, additionalProperties: false },
        response: { 200: ackSchema },
      },
      // Check the media type before fastify parses a body it would then throw away.
      onRequest: async (req) => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/octet-stream') {
          throw new CandorError('unsupported_media_type', 'POST /add takes the raw entry bytes with Content-Type: application/octet-stream');
        }
      },
    },
    async (req) => {
      const body = req.body as Buffer | undefined;
      if (!body || body.length === 0) throw new CandorError('invalid_argument', 'entry is empty: send 1 to 65535 bytes');
      const entry = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      const q = (req.query as { witnessed?: string }).witnessed;
      const witnessed = q === '1' || q === 'true';
      const ack = witnessed ? await service.addWitnessed(entry) : await service.add(entry);
      return {
        index: ack.index,
        leafHash: toBase64(ack.leafHash),
        checkpoint: ack.checkpoint,
        inclusionProof: ack.inclusionProof.map(toBase64),
        duplicate: ack.duplicate,
        ...(witnessed ? { witnessed: true } : {}),
      };
    },
  );
};
