/** Operations endpoints: /healthz for probes, /metrics for Prometheus (on the admin listener when there is one). */
import type { FastifyPluginAsync } from 'fastify';
import type { LogMetrics } from '../log/metrics.js';
import type { LogService } from '../log/service.js';

export const healthRoute: FastifyPluginAsync<{ service: LogService }> = async (app, { service }) => {
  app.get('/healthz', async () => ({ status: 'ok', size: service.size }));
};

export const metricsRoute: FastifyPluginAsync<{ metrics: LogMetrics }> = async (app, { metrics }) => {
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
};
