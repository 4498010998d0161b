/**
 * Assembles a running log from its configuration: keys, store, sequencer, service, HTTP. The CLI
 * (`candor serve`), tests and benchmarks all start the log through here.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { parseHostPort } from './config.js';
import { nodeHasher } from './crypto/node.js';
import { buildHttpServer } from './http/server.js';
import { loadLogKeys, type LogKeys } from './keys.js';
import { createMetrics, type LogMetrics } from './log/metrics.js';
import { TreeReader } from './log/reader.js';
import { Sequencer } from './log/sequencer.js';
import { LogService } from './log/service.js';
import { LevelStore } from './storage/level.js';

export interface RunningLog {
  url: string;
  keys: LogKeys;
  service: LogService;
  sequencer: Sequencer;
  metrics: LogMetrics;
  http: FastifyInstance;
  /** Stops accepting, commits and answers everything queued, closes the store. */
  close(): Promise<void>;
}

export async function startLog(config: Config): Promise<RunningLog> {
  mkdirSync(config.data, { recursive: true });
  const keys = loadLogKeys({ dataDir: config.data, origin: config.origin, keyFiles: config.keys });
  const store = await LevelStore.open(join(config.data, 'db'));
  const metrics = createMetrics();
  const hasher = nodeHasher;
  let sequencer: Sequencer;
  try {
    sequencer = await Sequencer.open({
      origin: keys.origin,
      signers: keys.signers,
      verifiers: keys.verifiers,
      hasher,
      store,
      reader: new TreeReader(store, hasher, { cacheBytes: config.cacheBytes }),
      maxBatch: config.batchMaxEntries,
      maxDelayMs: config.batchMaxDelayMs,
      maxQueue: config.queueMaxEntries,
      maxQueueBytes: config.queueMaxBytes,
      metrics,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const service = new LogService({ sequencer, store, hasher, metrics });
  const http = await buildHttpServer({ service, metrics, logLevel: config.logLevel });
  sequencer.on('commitError', (err) => http.log.error({ err }, 'commit failed; the batch was rejected and the state will be reloaded'));
  const { host, port } = parseHostPort(config.http);
  await http.listen({ host, port });
  const addr = http.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    keys,
    service,
    sequencer,
    metrics,
    http,
    close() {
      closing ??= (async () => {
        // Stop accepting connections, but let requests in flight finish: their entries are
        // committed by sequencer.close() and answered before the process exits.
        const httpClosed = http.close();
        await sequencer.close();
        // Every submission is answered now. Clients that keep a busy keep-alive connection
        // (answered 503 from here on) would hold the server open forever: after a short grace
        // for responses still being written, close whatever connections remain.
        await Promise.race([httpClosed, new Promise((r) => setTimeout(r, 1000).unref())]);
        http.server.closeAllConnections();
        await httpClosed;
        await store.close();
      })();
      return closing;
    },
  };
}
