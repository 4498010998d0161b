/**
 * Proofs and entries as JSON: /proof/inclusion, /proof/consistency, /entries. Hashes in standard
 * base64. Proofs are public; entries are read as entry bundles are (tiles.ts EntryAccess).
 */
import type { FastifyPluginAsync } from 'fastify';
import { fromBase64, toBase64 } from '@candor/core/bytes';
import type { LogService } from '../log/service.js';
import type { EntryAccess } from './tiles.js';
import { DECIMAL, decimal } from './params.js';

const int = { type: 'integer', minimum: 0 } as const;
/** Query parameters: strict decimals (params.ts). */
const num = DECIMAL;
const hashList = { type: 'array', items: { type: 'string' } } as const;

export const proofRoutes: FastifyPluginAsync<{ service: LogService; entries: EntryAccess }> = async (app, { service, entries: access }) => {
  app.get(
    '/proof/inclusion',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { index: num, hash: { type: 'string', maxLength: 64 }, size: num },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { index: int, size: int, leafHash: { type: 'string' }, proof: hashList } },
        },
      },
    },
    async (req) => {
      const q = req.query as { index?: string; hash?: string; size?: string };
      const p = await service.inclusionProof({
        index: decimal(q.index, 'index'),
        size: decimal(q.size, 'size'),
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
        querystring: { type: 'object', properties: { from: num, to: num }, required: ['from'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { from: int, to: int, proof: hashList } } },
      },
    },
    async (req) => {
      const q = req.query as { from: string; to?: string };
      const p = await service.consistencyProof({ from: decimal(q.from, 'from'), to: decimal(q.to, 'to') });
      return { from: p.from, to: p.to, proof: p.proof.map(toBase64) };
    },
  );

  app.get(
    '/entries',
    {
      schema: {
        querystring: { type: 'object', properties: { start: num, end: num }, required: ['start'], additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: { entries: { type: 'array', items: { type: 'object', properties: { index: int, data: { type: 'string' } } } }, next: { type: 'string' } },
          },
        },
      },
    },
    async (req, reply) => {
      access.check(req);
      if (!access.public) reply.header('Cache-Control', 'private');
      const q = req.query as { start: string; end?: string };
      const [start, end] = [decimal(q.start, 'start'), decimal(q.end, 'end')];
      const entries = await service.entries({ start, end });
      // A page is cut at MAX_ENTRIES_PAGE: say where the rest starts (RFC 8288 Link and a field),
      // rather than let a client take a short page for the end of the range.
      const after = start + entries.length;
      const rest = entries.length > 0 && after < Math.min(end ?? Infinity, service.size);
      const next = rest ? `/entries?start=${after}${end === undefined ? '' : `&end=${end}`}` : undefined;
      if (next !== undefined) reply.header('Link', `<${next}>; rel="next"`);
      return { entries: entries.map((e) => ({ index: e.index, data: toBase64(e.data) })), ...(next === undefined ? {} : { next }) };
    },
  );
};
