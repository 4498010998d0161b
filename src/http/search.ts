/**
 * GET /v1/search and GET /v1/tail: search and live tail over HTTP, adapting src/query/search.ts
 * (the same operations as gRPC QueryService). Filters are query parameters; credentials are
 * "Authorization: Bearer <token>" of a reader with the permission "search".
 *
 *   curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/v1/search?actor=usr_1&limit=10'
 *   curl -N -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/v1/tail?type=query.executed'
 *
 * A tail is a text/event-stream: each event is `id: <index>` and `data: <result as JSON>`; a
 * client that reconnects with Last-Event-ID (EventSource does) resumes after that index. It
 * ends with `event: error` when the consumer falls too far behind.
 */
import { auditHeaders, readOrigin } from './reviews.js';
import { toJson } from '@bufbuild/protobuf';
import type { FastifyPluginAsync } from 'fastify';
import { fromBase64, toBase64 } from '@candor/core/bytes';
import { CandorError, invalid } from '@candor/core/errors';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { bearerCredentials } from '../producers/registry.js';
import { FIELD, type TermField } from '../query/terms.js';
import { nsTime, parseRfc3339 } from '@candor/core/time';
import type { SearchHit, SearchRequest, SearchService } from '../query/search.js';
import { verifiedPeerCertificate as peerCertificate } from './tls.js';
import { decimal } from './params.js';

const TIME_PARAMS = ['occurred_from', 'occurred_to', 'integrated_from', 'integrated_to'] as const;
const SEARCH_PARAMS = new Set<string>([...Object.keys(FIELD), 'leaf_hash', ...TIME_PARAMS, 'order', 'limit', 'cursor', 'proof']);
const TAIL_PARAMS = new Set<string>([...Object.keys(FIELD), 'leaf_hash', ...TIME_PARAMS, 'after']);
/** Comment lines this often keep idle tails open through proxies. */
const KEEPALIVE_MS = 15_000;

const integer = decimal;

/** Query parameters to a search request; unknown or repeated parameters are errors naming them. */
function parseParams(query: Record<string, unknown>, known: Set<string>): { req: SearchRequest; rest: Record<string, string> } {
  const req: SearchRequest = { terms: {} };
  const rest: Record<string, string> = {};
  for (const [name, raw] of Object.entries(query)) {
    if (!known.has(name)) throw invalid(`${name} is not a parameter of this request (known: ${[...known].join(', ')})`);
    if (typeof raw !== 'string') throw invalid(`${name} is given more than once`);
    if (name in FIELD) req.terms[name as TermField] = raw;
    else if (name === 'leaf_hash') req.leafHash = fromBase64(raw, raw.includes(' ') ? 'leaf_hash (URL-encode it: "+" must be %2B)' : 'leaf_hash');
    else if (name === 'occurred_from') req.occurredFrom = parseRfc3339(raw, name);
    else if (name === 'occurred_to') req.occurredTo = parseRfc3339(raw, name);
    else if (name === 'integrated_from') req.integratedFrom = parseRfc3339(raw, name);
    else if (name === 'integrated_to') req.integratedTo = parseRfc3339(raw, name);
    else rest[name] = raw;
  }
  return { req, rest };
}

/** A search result as JSON: the event in the protobuf JSON mapping, bytes in base64. */
export function hitJson(h: SearchHit): Record<string, unknown> {
  return {
    index: h.index,
    integratedAt: nsTime(h.receivedAt),
    producer: h.producer,
    authMethod: AuthMethod[h.authMethod] ?? String(h.authMethod),
    signed: h.signed,
    leaf: toBase64(h.leaf),
    event: toJson(EventSchema, h.event),
    ...(h.proof ? { proof: { size: h.proof.size, leafHash: toBase64(h.proof.leafHash), hashes: h.proof.proof.map(toBase64) } } : {}),
  };
}

export const searchRoutes: FastifyPluginAsync<{ search: SearchService }> = async (app, { search }) => {
  // Open tails end when the server closes (they would otherwise hold it open).
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const end of [...open]) end();
  });

  app.get('/v1/search', async (req, reply) => {
    const { req: q, rest } = parseParams(req.query as Record<string, unknown>, SEARCH_PARAMS);
    if (rest.order !== undefined) {
      if (rest.order !== 'newest' && rest.order !== 'oldest') throw invalid(`order must be "newest" or "oldest", got ${JSON.stringify(rest.order)}`);
      q.order = rest.order;
    }
    if (rest.limit !== undefined) q.limit = integer(rest.limit, 'limit');
    if (rest.cursor !== undefined) q.cursor = rest.cursor;
    if (rest.proof !== undefined) q.proof = rest.proof === 'latest' ? 'latest' : integer(rest.proof, 'proof');
    const page = await search.search(bearerCredentials(req.headers.authorization, peerCertificate(req)), q, readOrigin(req));
    auditHeaders(reply, page.audit);
    return reply.type('application/json; charset=utf-8').send(
      JSON.stringify({
        results: page.results.map(hitJson),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        ...(page.checkpoint ? { checkpoint: page.checkpoint } : {}),
      }),
    );
  });

  app.get('/v1/tail', async (req, reply) => {
    const { req: q, rest } = parseParams(req.query as Record<string, unknown>, TAIL_PARAMS);
    const lastId = req.headers['last-event-id'];
    let after: number | undefined;
    if (typeof lastId === 'string' && lastId !== '') after = integer(lastId, 'Last-Event-ID');
    else if (rest.after !== undefined) after = integer(rest.after, 'after');
    const raw = reply.raw;
    let ended = false;
    const write = (s: string): boolean => raw.write(s);
    const end = () => {
      if (ended) return;
      ended = true;
      open.delete(end);
      clearInterval(keepalive);
      tail?.close();
      raw.end();
    };
    let keepalive: NodeJS.Timeout | undefined;
    let tail: { close(): void } | undefined;
    // Checks credentials and filters before the stream starts, so errors are plain 4xx answers.
    tail = search.tail(bearerCredentials(req.headers.authorization, peerCertificate(req)), q, after, {
      send: (h) => {
        if (ended) return true;
        return write(`id: ${h.index}\ndata: ${JSON.stringify(hitJson(h))}\n\n`);
      },
      drained: () => new Promise<void>((resolve) => {
        if (ended) return resolve();
        raw.once('drain', resolve);
        raw.once('close', resolve);
      }),
      error: (err: CandorError) => {
        if (ended) return;
        write(`event: error\ndata: ${JSON.stringify({ error: { code: err.code, message: err.message } })}\n\n`);
        end();
      },
       }, readOrigin(req));
    reply.hijack();
    raw.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    raw.write(': tail started\n\n');
    keepalive = setInterval(() => write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    raw.on('close', end);
    open.add(end);
  });
};
