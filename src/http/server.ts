/** The HTTP surface: one fastify plugin per group of routes, one error mapping for all. */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { LogMetrics } from '../log/metrics.js';
import type { LogService } from '../log/service.js';
import { CandorError } from '../core/errors.js';
import type { EventIngest } from '../events/ingest.js';
import { errorHandler } from './errors.js';
import { eventRoutes } from './events.js';
import { opsRoutes } from './ops.js';
import { proofRoutes } from './proofs.js';
import { submitRoutes } from './submit.js';
import { tileRoutes } from './tiles.js';
import { reviewRoutes, type ReadRoutesOptions } from './reviews.js';
import { exportRoutes } from './export.js';
import type { Exporter } from '../query/export.js';

export interface HttpOptions {
  service: LogService;
  metrics: LogMetrics;
  logLevel?: string;
  /** Event ingestion (POST /v1/events); absent, the route is not served. */
  events?: EventIngest;
  /** Reads by auditors: review timelines and export (docs/export.md); absent, not served. */
  reads?: ReadRoutesOptions & { exporter: Exporter };
}

export async function buildHttpServer(opts: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: opts.logLevel ?? 'info' },
    // A line per request would cost more than serving a tile; errors are logged by errorHandler.
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown query parameters are errors, not silently dropped: a typo like "sise=5" must not
    // quietly return a proof for another tree size.
    ajv: { customOptions: { coerceTypes: true, allErrors: false, removeAdditional: false } },
  });
  app.setErrorHandler(errorHandler(opts.metrics));
  app.setNotFoundHandler((req, reply) =>
    errorHandler(opts.metrics)(new CandorError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply),
  );
  await app.register(tileRoutes, { service: opts.service });
  await app.register(submitRoutes, { service: opts.service });
  await app.register(proofRoutes, { service: opts.service });
  await app.register(opsRoutes, { service: opts.service, metrics: opts.metrics });
  if (opts.events) await app.register(eventRoutes, { events: opts.events });
  if (opts.reads) {
    await app.register(reviewRoutes, opts.reads);
    await app.register(exportRoutes, opts.reads);
  }
  return app;
}
