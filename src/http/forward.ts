/**
 * A follower passes writes (POST /add, POST /v1/events) to the leader, as they came (credentials,
 * the client's checkpoint header, the body), and answers with the leader's answer: a gateway behind
 * a load balancer gets its acknowledgement whichever node it reached (issue 17, point 4). With no
 * leader, or a leader that does not answer, 503 with Retry-After names why. A forwarded write is
 * never forwarded again: a node that is not the leader either says so.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CandorError } from '@candor/core/errors';

export const FORWARDED_HEADER = 'candor-forwarded-by';
const WRITES = new Set(['/add', '/v1/events']);
/** Hop-by-hop headers (RFC 9110 §7.6.1) and those fetch sets itself. */
const DROP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'te', 'trailer', 'proxy-connection', 'expect']);
const FORWARD_TIMEOUT_MS = 30_000;

/** The leader's URL and why there is none, as the follower knows them now. */
export interface LeaderInfo {
  leader(): { url: string } | { none: string };
  /** This node's name, sent along so that the leader can tell a forwarded write. */
  self: string;
}

/** An onRequest hook: forwards the writes, lets everything else through. */
export function forwardWrites(info: LeaderInfo) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (req.method !== 'POST' || !WRITES.has(req.url.split('?')[0]!)) return undefined;
    const to = info.leader();
    if ('none' in to) throw new CandorError('unavailable', to.none, { retryAfterMs: 1000 });
    if (req.headers[FORWARDED_HEADER]) {
      throw new CandorError('unavailable', `${String(req.headers[FORWARDED_HEADER])} forwarded this write here, but this node follows too (the leader is ${to.url}); retry`, { retryAfterMs: 1000 });
    }
    const chunks: Buffer[] = [];
    for await (const c of req.raw) chunks.push(c as Buffer);
    const headers: Record<string, string> = { [FORWARDED_HEADER]: info.self };
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !DROP.has(k)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    let res: Response;
    try {
      res = await fetch(new URL(req.url, to.url), { method: 'POST', headers, body: Buffer.concat(chunks), signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
    } catch (err) {
      throw new CandorError('unavailable', `this node follows and could not pass the write to the leader ${to.url}: ${(err as Error).message}; retry`, { retryAfterMs: 1000 });
    }
    const body = Buffer.from(await res.arrayBuffer());
    for (const [k, v] of res.headers) if (!DROP.has(k) && k !== 'content-encoding') void reply.header(k, v);
    return reply.code(res.status).send(body);
  };
}
