/**
 * `candor witness serve`: the witness's HTTP server, its pollers and its operational surface.
 * The human banner goes to stdout first; pino's JSON lines follow at the chosen level, with each
 * request at debug (at info, a witness polled by a busy cluster logs dozens of lines a second).
 * GET /healthz and GET /metrics (Prometheus) sit beside the tlog-witness routes.
 */
import { pino } from 'pino';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { CandorError } from '@candor/core/errors';
import { listenQuietly } from '../http/listen.js';
import { startPoller, type Poller } from './poller.js';
import { createWitnessServer } from './server.js';
import { WitnessStore, loadWitnessKeys } from './store.js';
import { Witness } from './witness.js';

export interface ServeOptions {
  data: string;
  http: { host: string; port: number };
  poll: string[];
  interval: number;
  pollTimeout: number;
  logLevel: string;
}

export async function serveWitness(o: ServeOptions): Promise<void> {
  const logger = pino({ name: 'witness', level: o.logLevel });
  const keys = await loadWitnessKeys(o.data);
  const store = await WitnessStore.open(o.data);
  const witness = new Witness({ store, signers: keys.map((k) => k.signer), logger });
  const app = await createWitnessServer({ witness, logger });

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'candor_witness_requests_total', help: 'Witness HTTP requests by route and status.', labelNames: ['route', 'status'], registers: [registry] });
  app.addHook('onResponse', async (req, reply) => {
    requests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.get('/healthz', async () => ({ status: 'ok', logs: (await store.listLogs()).length }));
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));

  let port: number;
  try {
    port = await listenQuietly(app, o.http.host, o.http.port);
  } catch (err) {
    await app.close();
    await store.close();
    throw new CandorError('unavailable', `cannot listen on ${o.http.host}:${o.http.port}: ${(err as Error).message}`);
  }
  const host = o.http.host.includes(':') ? `[${o.http.host}]` : o.http.host;
  const url = `http://${host}:${port}`;
  process.stdout.write(
    [
      `witness serving on ${url}`,
      `  data           ${o.data}`,
      `  verifier key   ${keys.map((k) => k.vkey).join('\n                 ')}`,
      `  health         ${url}/healthz   metrics ${url}/metrics`,
      ...(o.poll.length > 0 ? [`  polling        ${o.poll.join(', ')} every ${o.interval} ms`] : []),
      '',
    ].join('\n'),
  );

  const pollers: Poller[] = o.poll.map((pollUrl) => startPoller({ witness, url: pollUrl, intervalMs: o.interval, timeoutMs: o.pollTimeout, logger }));

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'witness shutting down');
    await Promise.all(pollers.map((p) => p.stop()));
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', (s) => void shutdown(s));
  process.once('SIGTERM', (s) => void shutdown(s));
}
