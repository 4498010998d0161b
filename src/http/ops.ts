/**
 * Operations endpoints (on the admin listener when there is one): /healthz, liveness (the process
 * answers; restarting it would not help a full disk), /readyz, readiness (503 while this node
 * cannot take writes: its last commit failed, or it stepped down, docs/fencing.md), /metrics.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { LogMetrics } from '../log/metrics.js';
import type { LogService } from '../log/service.js';

export const healthRoute: FastifyPluginAsync<{ service: LogService }> = async (app, { service }) => {
  app.get('/healthz', async () => ({ status: 'ok', size: service.size }));
  app.get('/readyz', async (_req, reply) => {
    const r = service.readiness();
    // With several nodes on one store: role, lease term, the leader's URL and a follower's lag.
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', size: service.size, ...(r.reason ? { reason: r.reason } : {}), ...(r.role ?? {}) });
  });
};

export const metricsRoute: FastifyPluginAsync<{ metrics: LogMetrics }> = async (app, { metrics }) => {
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
};
