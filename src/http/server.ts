/** The HTTP surface: one fastify plugin per group of routes, one error mapping for all. */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { LogMetrics } from '../log/metrics.js';
import type { LogService } from '../log/service.js';
import { CandorError } from '../core/errors.js';
import type { EventIngest } from '../events/ingest.js';
import { REQUEST_ID_HEADER, requestId } from '../observability/request-id.js';
import { errorHandler } from './errors.js';
import { eventRoutes } from './events.js';
import { opsRoutes } from './ops.js';
import { proofRoutes } from './proofs.js';
import { submitRoutes } from './submit.js';
import { tileRoutes } from './tiles.js';

export interface HttpOptions {
  service: LogService;
  metrics: LogMetrics;
  logLevel?: string;
  /** Event ingestion (POST /v1/events); absent, the route is not served. */
  events?: EventIngest;
}

export async function buildHttpServer(opts: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Authorization headers carry producer tokens: never logged, even by a custom serializer.
    logger: { level: opts.logLevel ?? 'info', redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token'], censor: '[redacted]' } },
    requestIdHeader: false,
    genReqId: (req) => requestId(req.headers[REQUEST_ID_HEADER]),
    // A line per request would cost more than serving a tile; errors are logged by errorHandler.
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown query parameters are errors, not silently dropped: a typo like "sise=5" must not
    // quietly return a proof for another tree size.
    ajv: { customOptions: { coerceTypes: true, allErrors: false, removeAdditional: false } },
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
  app.setNotFoundHandler((req, reply) =>
    errorHandler(opts.metrics)(new CandorError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply),
  );
  await app.register(tileRoutes, { service: opts.service });
  await app.register(submitRoutes, { service: opts.service });
  await app.register(proofRoutes, { service: opts.service });
  await app.register(opsRoutes, { service: opts.service, metrics: opts.metrics });
  if (opts.events) await app.register(eventRoutes, { events: opts.events });
  return app;
}
