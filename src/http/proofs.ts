/**
 * Proofs and entries as JSON: /proof/inclusion, /proof/consistency, /entries. Hashes in standard
 * base64. Proofs are public; entries are read as entry bundles are (tiles.ts EntryAccess).
 */
import type { FastifyPluginAsync } from 'fastify';
import { fromBase64, toBase64 } from '@candor/core/bytes';
import type { LogService } from '../log/service.js';
import type { EntryAccess } from './tiles.js';

const int = { type: 'integer', minimum: 0 } as const;
const hashList = { type: 'array', items: { type: 'string' } } as const;

export const proofRoutes: FastifyPluginAsync<{ service: LogService; entries: EntryAccess }> = async (app, { service, entries: access }) => {
  app.get(
    '/proof/inclusion',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { index: int, hash: { type: 'string', maxLength: 64 }, size: int },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { index: int, size: int, leafHash: { type: 'string' }, proof: hashList } },
        },
      },
    },
    async (req) => {
      const q = req.query as { index?: number; hash?: string; size?: number };
      const p = await service.inclusionProof({
        index: q.index,
        size: q.size,
        // An unencoded "+" in a query string arrives as a space: say so instead of just "invalid".
        hash: q.hash === undefined ? undefined : fromBase64(q.hash, q.hash.includes(' ') ? 'hash (URL-encode it: "+" must be %2B)' : 'hash'),
      });
      return { index: p.index, size: p.size, leafHash: toBase64(p.leafHash), proof: p.proof.map(toBase64) };
    },
  );

  app.get(
    '/proof/consistency',
    {
      schema: {
        querystring: { type: 'object', properties: { from: int, to: int }, required: ['from'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { from: int, to: int, proof: hashList } } },
      },
    },
    async (req) => {
      const q = req.query as { from: number; to?: number };
      const p = await service.consistencyProof(q);
      return { from: p.from, to: p.to, proof: p.proof.map(toBase64) };
    },
  );

  app.get(
    '/entries',
    {
      schema: {
        querystring: { type: 'object', properties: { start: int, end: int }, required: ['start'], additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: { entries: { type: 'array', items: { type: 'object', properties: { index: int, data: { type: 'string' } } } } },
          },
        },
      },
    },
    async (req, reply) => {
      access.check(req);
      if (!access.public) reply.header('Cache-Control', 'private');
      const entries = await service.entries(req.query as { start: number; end?: number });
      return { entries: entries.map((e) => ({ index: e.index, data: toBase64(e.data) })) };
    },
  );
};
