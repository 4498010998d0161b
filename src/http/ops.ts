/** Operations endpoints: /healthz for probes, /metrics for Prometheus. */
import type { FastifyPluginAsync } from 'fastify';
import type { LogMetrics } from '../log/metrics.js';
import type { LogService } from '../log/service.js';

export const opsRoutes: FastifyPluginAsync<{ service: LogService; metrics: LogMetrics }> = async (app, { service, metrics }) => {
  app.get('/healthz', async () => ({ status: 'ok', size: service.size }));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
};
