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
import { createWitnessingMetrics } from './witnessing/metrics.js';
import { LogWitnessing } from './witnessing/witnessing.js';
import { IdempotencyIndex } from './events/idempotency.js';
import { EventIngest } from './events/ingest.js';
import { startGrpcServer, type GrpcServer } from './grpc/server.js';
import { ProducerRegistry, REGISTRY_FILE } from './producers/registry.js';
import { AUDITORS_FILE, AuditorRegistry } from './auditors/registry.js';
import { LogSystemEvents } from './events/system.js';
import { ReadAudit } from './query/audit.js';
import { Exporter } from './query/export.js';
import type { EventFilter } from './query/filter.js';
import { scanEvents } from './query/scan.js';

export interface RunningLog {
  url: string;
  keys: LogKeys;
  service: LogService;
  sequencer: Sequencer;
  metrics: LogMetrics;
  http: FastifyInstance;
  /** Log-side witnessing, when the config has a witness policy. */
  witnessing?: LogWitnessing;
  /** Event ingestion (gRPC and POST /v1/events) and the producers it authenticates. */
  events: EventIngest;
  producers: ProducerRegistry;
  /** The gRPC server, when config.grpc is set. */
  grpc?: GrpcServer;
  /** Auditors (readers) and the events the log writes itself (audit-of-audit). */
  auditors: AuditorRegistry;
  systemEvents: LogSystemEvents;
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
  const witnessing = config.witnessing
    ? new LogWitnessing({
        config: config.witnessing,
        origin: keys.origin,
        logVerifiers: keys.verifiers,
        stateFile: join(config.data, 'witnessing.json'),
        metrics: createWitnessingMetrics(metrics.registry),
      })
    : undefined;
  const service = new LogService({ sequencer, store, hasher, metrics, ...(witnessing ? { witnessing } : {}) });
  let logger: { error(obj: object, msg: string): void } | undefined;
  const producers = ProducerRegistry.open(join(config.data, REGISTRY_FILE), {
    onReloadError: (err) => logger?.error({ err }, 'producers.json is invalid; the previous producer registry stays in force'),
  });
  const index = await IdempotencyIndex.open(join(config.data, 'idempotency'), service).catch(async (err: unknown) => {
    producers.close();
    await sequencer.close();
    await store.close();
    throw err;
  });
  const events = new EventIngest({ service, registry: producers, index, metrics });
  // Reads by auditors (timelines, export), each logged as an audit-of-audit event unless auditReads is off.
  const auditors = AuditorRegistry.open(join(config.data, AUDITORS_FILE), {
    onReloadError: (err) => logger?.error({ err }, 'auditors.json is invalid; the previous auditor registry stays in force'),
  });
  const systemEvents = new LogSystemEvents(service);
  const reads = {
    authorize: auditors.authorize,
    audit: new ReadAudit(config.auditReads ? systemEvents : undefined),
    events: (filter: EventFilter) => scanEvents(service, filter),
    exporter: new Exporter({ service, signers: keys.signers }),
  };
  const http = await buildHttpServer({ service, metrics, logLevel: config.logLevel, events, reads });
  logger = http.log;
  sequencer.on('commitError', (err) => http.log.error({ err }, 'commit failed; the batch was rejected and the state will be reloaded'));
  await witnessing?.start({ source: sequencer, prover: service, logger: http.log });
  const { host, port } = parseHostPort(config.http);
  await http.listen({ host, port }).catch(async (err: unknown) => {
    await witnessing?.stop();
    producers.close();
    auditors.close();
    await index.close();
    await sequencer.close();
    await store.close();
    throw err;
  });
  const addr = http.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  let grpc: GrpcServer | undefined;
  if (config.grpc) {
    const tls = config.grpcTlsCert && config.grpcTlsKey ? { certFile: config.grpcTlsCert, keyFile: config.grpcTlsKey, ...(config.grpcTlsClientCa ? { clientCaFile: config.grpcTlsClientCa } : {}) } : undefined;
    grpc = await startGrpcServer({ service, events, checkpoints: sequencer, address: config.grpc, metrics, logger: http.log, ...(tls ? { tls } : {}) }).catch(async (err: unknown) => {
      await http.close();
      await sequencer.close();
      await witnessing?.stop();
      producers.close();
      auditors.close();
      await index.close();
      await store.close();
      throw err;
    });
  }
  let closing: Promise<void> | undefined;
  return {
    url,
    keys,
    service,
    sequencer,
    metrics,
    http,
    ...(witnessing ? { witnessing } : {}),
    events,
    producers,
    ...(grpc ? { grpc } : {}),
    auditors,
    systemEvents,
    close() {
      closing ??= (async () => {
        // Stop accepting connections, but let requests in flight finish: their entries are
        // committed by sequencer.close() and answered before the process exits.
        const httpClosed = http.close();
        // gRPC stops taking calls and ends checkpoint watches; calls in flight finish.
        const grpcClosed = grpc?.close(2000);
        await sequencer.close();
        // Witnessed acknowledgements still waiting are answered 503 (retryable) rather than held.
        await witnessing?.stop();
        // Every submission is answered now. Clients that keep a busy keep-alive connection
        // (answered 503 from here on) would hold the server open forever: after a short grace
        // for responses still being written, close whatever connections remain.
        await Promise.race([httpClosed, new Promise((r) => setTimeout(r, 1000).unref())]);
        http.server.closeAllConnections();
        await httpClosed;
        await grpcClosed;
        producers.close();
        auditors.close();
        await index.close();
        await store.close();
      })();
      return closing;
    },
  };
}
