/**
 * Graceful shutdown of an HTTP listener, so that no request that was sent is left without an
 * answer. Node's server.close() (which fastify's close() calls) also closes the idle keep-alive
 * connections at once: a client that has just sent its next request on one sees its connection
 * closed under it ("other side closed"), with no answer and no way to know whether it was
 * acted on; under SIGTERM with 48 busy clients, 20 to 33 requests ended so
 * (test/crash/drain.test.ts). Here, the drain:
 *   1. stops accepting connections, but keeps open ones;
 *   2. lets requests in flight finish, their answers marked Connection: close;
 *   3. answers any new request 503 + Retry-After + Connection: close, so that each busy client
 *      learns in an answer that the connection is ending (RFC 9110 §15.6.4, RFC 9112 §9.6);
 *   4. once no request has been in flight for QUIET_MS, closes the connections left idle;
 *   5. closes whatever remains at the deadline.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';

/** How long no request must be in flight before idle connections are closed. */
// Long enough for a busy client to send its next request on a kept-alive connection and learn, in
// a 503, that it is closing; closing it earlier races that request (seen under load at 100 ms).
const QUIET_MS = 1000;
const POLL_MS = 25;

const BODY = JSON.stringify({ error: { code: 'unavailable', message: 'the log is shutting down; retry (on another node, or once it is back)' } });

export interface Drain {
  /** Starts the drain (steps 1-3); idempotent. */
  begin(): void;
  /** Steps 4-5: resolves when every connection is closed, at the latest after `deadlineMs` from now. */
  finish(deadlineMs: number): Promise<void>;
}

/** Takes over the server's request listener (fastify's) to count requests and answer during a drain. */
export function drainable(server: Server): Drain {
  const [handler, ...others] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (!handler || others.length > 0) throw new Error('drainable: expected one request listener');
  server.removeAllListeners('request');
  const active = new Set<ServerResponse>();
  let draining = false;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (draining) {
      res.writeHead(503, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(BODY), 'Retry-After': '1', Connection: 'close' });
      res.end(BODY);
      return;
    }
    active.add(res);
    res.once('close', () => active.delete(res));
    handler.call(server, req, res);
  });
  const connections = () => new Promise<number>((r) => server.getConnections((err, n) => r(err ? 0 : n)));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
  return {
    begin() {
      if (draining) return;
      draining = true;
      // net.Server's close stops listening; http.Server's would also close idle connections now.
      if (server.listening) NetServer.prototype.close.call(server);
      for (const res of active) if (!res.headersSent) res.setHeader('Connection', 'close');
    },
    async finish(deadlineMs) {
      const deadline = Date.now() + deadlineMs;
      let quietSince = active.size === 0 ? Date.now() : Infinity;
      while (Date.now() < deadline && Date.now() - quietSince < QUIET_MS) {
        await sleep(POLL_MS);
        if (active.size > 0) quietSince = Infinity;
        else if (quietSince === Infinity) quietSince = Date.now();
      }
      server.closeIdleConnections();
      while (Date.now() < deadline && (await connections()) > 0) await sleep(POLL_MS);
      server.closeAllConnections();
    },
  };
}
