/** The HTTP surface: one fastify plugin per group of routes, one error mapping for all. */
import { STATUS_CODES } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { LogMetrics } from '../log/metrics.js';
import type { LogService } from '../log/service.js';
import { CandorError } from '@candor/core/errors';
import type { EventIngest } from '../events/ingest.js';
import { mountAdminRoutes, type AdminRoutes } from './admin.js';
import { REQUEST_ID_HEADER, requestId } from '../observability/request-id.js';
import { errorHandler } from './errors.js';
import { eventRoutes } from './events.js';
import { explorerRoutes } from './explorer.js';
import { healthRoute, metricsRoute } from './ops.js';
import type { PrivacyService } from '../privacy/service.js';
import { privacyRoutes } from './privacy.js';
import { proofRoutes } from './proofs.js';
import type { SearchService } from '../query/search.js';
import { searchRoutes } from './search.js';
import { submitRoutes } from './submit.js';
import { entryAccess, tileRoutes } from './tiles.js';
import { entryReaders } from '../query/access.js';
import { httpsOptions, watchTls, type HttpTls } from './tls.js';

/**
 * Limits on every request, whatever its route: a body (routes that take one set their own, larger
 * limit), and the request line with its headers (Node answers 431 over it, before any parsing).
 */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
export const MAX_HEADER_BYTES = 16 * 1024;
import { reviewRoutes, type ReadRoutesOptions } from './reviews.js';
import { exportRoutes } from './export.js';
import type { Exporter } from '../query/export.js';

export interface HttpOptions {
  service: LogService;
  metrics: LogMetrics;
  logLevel?: string;
  /** Event ingestion (POST /v1/events); absent, the route is not served. */
  events?: EventIngest;
  /** HTTPS, with mutual TLS for producers when it has a client CA. */
  tls?: HttpTls;
  /** Admin route groups (src/http/admin.ts); which of them are served here depends on `adminListener`. */
  admin?: readonly AdminRoutes[];
  /** A separate admin listener exists: admin routes and /metrics are served there, not here. */
  adminListener?: boolean;
  /** Openings: deposit, disclosure, erasure (docs/privacy.md); absent, the routes are not served. */
  privacy?: PrivacyService;
  /** Search and live tail (GET /v1/search, GET /v1/tail); absent (indexes off), not served. */
  search?: SearchService;
  /** Reads by auditors: review timelines and export (docs/export.md); absent, not served. */
  reads?: ReadRoutesOptions & { exporter: Exporter };
  /**
   * Entries (GET /entries, GET /tile/entries/...) to anyone (config publicEntries); otherwise to
   * auditors with read-log, authorized by `reads.authorize`.
   */
  publicEntries?: boolean;
  /** On a follower (src/http/forward.ts): passes writes to the leader, before any route sees them. */
  forward?: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
}

/**
 * Requests Node refuses before fastify sees them (headers too large, malformed, too slow), in the
 * same {error: {code, message}} shape as every other refusal.
 */
function clientErrorHandler(metrics: LogMetrics) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `the request line and headers are larger than ${MAX_HEADER_BYTES} bytes (is the URL or query string too long?)`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'the request was not received in time']
          : [400, 'malformed HTTP request'];
    metrics.rejected.inc({ reason: 'invalid_argument' });
    const body = JSON.stringify({ error: { code: 'invalid_argument', message } });
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy(err);
  };
}

/** Every route of each server built here, as registered (tests check each route's access). */
const ROUTES = new WeakMap<FastifyInstance, { method: string; url: string }[]>();

/** The routes a server built by baseServer serves: method and URL pattern, HEAD included. */
export function routeTable(app: FastifyInstance): readonly { method: string; url: string }[] {
  return ROUTES.get(app) ?? [];
}

/** A fastify server with Candor's limits, validation and error mapping, and no routes yet. */
export function baseServer(opts: { metrics: LogMetrics; logLevel?: string; tls?: HttpTls }): FastifyInstance {
  const app = Fastify({
    clientErrorHandler: clientErrorHandler(opts.metrics),
    // Authorization headers carry producer tokens: never logged, even by a custom serializer.
    logger: { level: opts.logLevel ?? 'info', redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token'], censor: '[redacted]' } },
    requestIdHeader: false,
    genReqId: (req) => requestId(req.headers[REQUEST_ID_HEADER]),
    // A line per request would cost more than serving a tile; errors are logged by errorHandler.
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown query parameters are errors, not silently dropped: a typo like "sise=5" must not
    // quietly return a proof for another tree size.
    ajv: { customOptions: { coerceTypes: true, allErrors: false, removeAdditional: false } },
    bodyLimit: DEFAULT_BODY_LIMIT,
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    ...(opts.tls ? { https: { ...httpsOptions(opts.tls), maxHeaderSize: MAX_HEADER_BYTES } } : {}),
  }) as unknown as FastifyInstance;
  const routes: { method: string; url: string }[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });
  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    done();
  });
  // At debug and trace, a line per request (with its reqId); at info and above, no per-request cost.
  if (opts.logLevel === 'debug' || opts.logLevel === 'trace') {
    app.addHook('onResponse', (req, reply, done) => {
      req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
      done();
    });
  }
  app.setErrorHandler(errorHandler(opts.metrics));
  // fastify reads no body for GET and HEAD; one announced over the limit is refused, not drained.
  app.addHook('onRequest', async (req) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && Number(req.headers['content-length'] ?? 0) > DEFAULT_BODY_LIMIT) {
      throw new CandorError('payload_too_large', `${req.method} takes no body; this one is ${req.headers['content-length']} bytes`);
    }
  });
  app.setNotFoundHandler((req, reply) =>
    errorHandler(opts.metrics)(new CandorError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply),
  );
  if (opts.tls) {
    const tls = opts.tls;
    let stop = (): void => undefined;
    app.addHook('onReady', async () => {
      stop = watchTls(app.server as unknown as HttpsServer, tls, (err) => app.log.error({ err }, 'cannot reload the HTTP TLS certificate; the previous one stays in use'));
    });
    app.addHook('onClose', async () => stop());
  }
  return app;
}

export async function buildHttpServer(opts: HttpOptions): Promise<FastifyInstance> {
  const app = baseServer(opts);
  if (opts.forward) app.addHook('onRequest', opts.forward);
  const publicEntries = opts.publicEntries ?? false;
  const entries = entryAccess(publicEntries, entryReaders({ publicEntries, ...(opts.reads ? { authorize: opts.reads.authorize } : {}) }));
  await app.register(tileRoutes, { service: opts.service, entries });
  await app.register(explorerRoutes);
  await app.register(submitRoutes, { service: opts.service });
  await app.register(proofRoutes, { service: opts.service, entries });
  await app.register(healthRoute, { service: opts.service });
  // Metrics name producers and count their refusals: with an admin listener, only there.
  if (!opts.adminListener) await app.register(metricsRoute, { metrics: opts.metrics });
  if (opts.events) await app.register(eventRoutes, { events: opts.events, service: opts.service });
  if (opts.privacy) await app.register(privacyRoutes, { privacy: opts.privacy });
  if (opts.search) await app.register(searchRoutes, { search: opts.search });
  if (opts.reads) {
    await app.register(reviewRoutes, opts.reads);
    await app.register(exportRoutes, opts.reads);
  }
  await mountAdminRoutes(app, opts.admin ?? [], 'public', opts.adminListener ?? false);
  return app;
}

/** The admin listener's server: /healthz, /metrics and every admin route group. */
export async function buildAdminServer(opts: { service: LogService; metrics: LogMetrics; logLevel?: string; admin: readonly AdminRoutes[] }): Promise<FastifyInstance> {
  const app = baseServer(opts);
  await app.register(healthRoute, { service: opts.service });
  await app.register(metricsRoute, { metrics: opts.metrics });
  await mountAdminRoutes(app, opts.admin, 'admin', true);
  return app;
}
