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
import { buildAdminServer, buildHttpServer } from './http/server.js';
import { drainable } from './http/drain.js';
import { backupAdminRoutes, producerAdminRoutes, type AdminRoutes } from './http/admin.js';
import { writeBackup } from './backup/backup.js';
import { erasureAdminRoutes } from './http/privacy.js';
import { loadLogKeys, type LogKeys } from './keys.js';
import { createMetrics, type LogMetrics } from './log/metrics.js';
import { TreeReader } from './log/reader.js';
import { Sequencer } from './log/sequencer.js';
import { LogService, type NodeRole } from './log/service.js';
import { forwardWrites, type LeaderInfo } from './http/forward.js';
import { openStore } from './storage/open.js';
import type { LogStore } from './storage/store.js';
import { createWitnessingMetrics } from './witnessing/metrics.js';
import { LogWitnessing } from './witnessing/witnessing.js';
import { IdempotencyIndex } from './events/idempotency.js';
import { EventIngest } from './events/ingest.js';
import { startGrpcServer, type GrpcServer } from './grpc/server.js';
import { ProducerRegistry, REGISTRY_FILE } from './producers/registry.js';
import { ProducerLimiter } from './producers/limits.js';
import { OpeningsStore } from './privacy/store.js';
import { PrivacyService } from './privacy/service.js';
import type { Authorize, SystemEventSink } from './query/access.js';
import { CandorError } from '@candor/core/errors';
import { SearchService } from './query/search.js';
import { SHARED_FIELDS, leafTerms } from './query/terms.js';
import { AUDITORS_FILE, AuditorRegistry } from './auditors/registry.js';
import { LogSystemEvents } from './events/system.js';
import { ReadAudit } from './query/audit.js';
import { Exporter } from './query/export.js';
import type { EventFilter } from './query/filter.js';
import { eventSource } from './query/source.js';
import { listenQuietly } from './http/listen.js';

/** How long a shutdown waits, once every submission is answered, for HTTP connections to close. */
const DRAIN_MS = 5000;

export interface RunningLog {
  url: string;
  keys: LogKeys;
  service: LogService;
  sequencer: Sequencer;
  store: LogStore;
  metrics: LogMetrics;
  http: FastifyInstance;
  /** Log-side witnessing, when the config has a witness policy. */
  witnessing?: LogWitnessing;
  /** Event ingestion (gRPC and POST /v1/events) and the producers it authenticates. */
  events: EventIngest;
  producers: ProducerRegistry;
  /** The gRPC server, when config.grpc is set. */
  grpc?: GrpcServer;
  /** The admin listener (docs/security.md), when config.admin is set. */
  admin?: { url: string; http: FastifyInstance };
  /** Openings: deposit, disclosure and erasure (docs/privacy.md). */
  privacy: PrivacyService;
  /** Search and live tail, when config.indexes is on. */
  search?: SearchService;
  /** Auditors (readers) and the events the log writes itself (audit-of-audit). */
  auditors: AuditorRegistry;
  systemEvents: LogSystemEvents;
  /** Stops accepting, commits and answers everything queued, closes the store. */
  close(): Promise<void>;
}

/** What the log is started with besides its configuration. */
export interface StartOptions {
  /** Readers and their permissions (disclosure and erasure need it). */
  authorize?: Authorize;
  /** Builds the sink for the log's own events, given the service it appends through. */
  systemEvents?: (service: LogService) => SystemEventSink;
  /** Wraps the store before the log uses it (fault tests wrap it in storage/faulty.ts). */
  wrapStore?: (store: LogStore) => LogStore;
  /**
   * Several nodes on one shared store (src/cluster/ha.ts): run as a follower (serve the leader's
   * tree, sequence nothing, pass writes to the leader), and this node's role for /readyz.
   */
  follower?: boolean;
  role?: () => NodeRole;
}

export async function startLog(config: Config, opts: StartOptions = {}): Promise<RunningLog> {
  mkdirSync(config.data, { recursive: true });
  const keys = loadLogKeys({ dataDir: config.data, origin: config.origin, keyFiles: config.keys });
  // Before anything holds a resource: a missing configured master key stops the start here.
  const openings = OpeningsStore.open({
    dir: join(config.data, 'openings'),
    masterKeyFile: config.privacyKeyFile ?? join(config.data, 'privacy.key'),
    createKey: config.privacyKeyFile === undefined,
  });
  // What is open so far, closed in reverse order if the start fails part-way.
  const opened: (() => unknown)[] = [];
  try {
    let logger: { error(obj: object, msg: string): void } | undefined;
    const merge = { shared: SHARED_FIELDS, termsOf: leafTerms, onError: (err: unknown) => logger?.error({ err }, 'merging posting blocks failed; retried after the next commit') };
    const { store: base, level } = await openStore(config.storage, config.data, config.indexes ? { merge } : {});
    const store = opts.wrapStore ? opts.wrapStore(base) : base;
    opened.push(() => store.close());
    const metrics = createMetrics();
    const hasher = nodeHasher;
    const sequencer = await Sequencer.open({
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
      follower: opts.follower === true,
    });
    opened.push(() => sequencer.close());
    // Windows finished before this start and not merged yet (an older log, or a crash mid-merge).
    void level?.merger?.run(sequencer.size).catch(() => {});
    const witnessing = config.witnessing
      ? new LogWitnessing({
          config: config.witnessing,
          origin: keys.origin,
          logVerifiers: keys.verifiers,
          stateFile: join(config.data, 'witnessing.json'),
          metrics: createWitnessingMetrics(metrics.registry),
        })
      : undefined;
    const service = new LogService({ sequencer, store, hasher, metrics, indexes: config.indexes, ...(witnessing ? { witnessing } : {}), ...(opts.role ? { role: opts.role } : {}) });
    const producers = ProducerRegistry.open(join(config.data, REGISTRY_FILE), {
      onReloadError: (err) => logger?.error({ err }, 'producers.json is invalid; the previous producer registry stays in force'),
    });
    opened.push(() => producers.close());
    const index = await IdempotencyIndex.open(join(config.data, 'idempotency'), service);
    opened.push(() => index.close());
    // A follower's tree grows without its events passing through this index: hold its watermark
    // at the size it replayed to, so that leading later replays the leaves committed meanwhile.
    if (opts.follower) index.begin(service.size);
    const limiter = new ProducerLimiter({
      eventsPerSecond: config.producerEventsPerSecond ?? 0,
      burst: config.producerBurst ?? 0,
      dailyQuota: config.producerDailyQuota ?? 0,
    });
    const events = new EventIngest({ service, registry: producers, index, metrics, limiter, indexes: config.indexes });
    // Readers (auditors) and the events the log writes itself: searches, timeline reads and exports
    // are each logged as an audit-of-audit event unless auditReads is off; disclosures and erasures always.
    const auditors = AuditorRegistry.open(join(config.data, AUDITORS_FILE), {
      onReloadError: (err) => logger?.error({ err }, 'auditors.json is invalid; the previous auditor registry stays in force'),
    });
    opened.push(() => auditors.close());
    const authorize = opts.authorize ?? auditors.authorize;
    const systemEvents = new LogSystemEvents(service);
    const sink = opts.systemEvents ? opts.systemEvents(service) : systemEvents;
    const audit = new ReadAudit(config.auditReads ? sink : undefined);
    const search = config.indexes && level ? new SearchService({ service, store, index: level, commits: sequencer, authorize, audit }) : undefined;
    const privacy = new PrivacyService({ store: openings, service, registry: producers, authorize, systemEvents: sink });
    const reads = {
      authorize,
      audit,
      events: (filter: EventFilter) => eventSource(service, search, filter),
      exporter: new Exporter({ service, signers: keys.signers, source: (filter, size) => eventSource(service, search, filter, size) }),
    };
    const adminRoutes: AdminRoutes[] = [producerAdminRoutes(producers, limiter), erasureAdminRoutes(privacy)];
    if (level) adminRoutes.push(backupAdminRoutes((out) => writeBackup({ store: level, dataDir: config.data, out })));
    const httpTls = config.httpTlsCert && config.httpTlsKey ? { certFile: config.httpTlsCert, keyFile: config.httpTlsKey, ...(config.httpTlsClientCa ? { clientCaFile: config.httpTlsClientCa } : {}) } : undefined;
    const forward = opts.follower && opts.role ? forwardWrites(leaderOf(opts.role)) : undefined;
    const http = await buildHttpServer({ ...(forward ? { forward } : {}), service, metrics, logLevel: config.logLevel, events, privacy, reads, ...(search ? { search } : {}), publicEntries: config.publicEntries, admin: adminRoutes, adminListener: config.admin !== undefined, ...(httpTls ? { tls: httpTls } : {}) });
    opened.push(() => http.close());
    const httpDrain = drainable(http.server);
    logger = http.log;
    sequencer.on('commitError', (err) => http.log.error({ err }, 'commit failed; the batch was rejected and the state will be reloaded'));
    // A witness that cosigned past our size proves the store was rolled back: stop signing.
    // Only the leader gets witnesses' cosignatures; a follower serves what the leader published.
    if (!opts.follower) await witnessing?.start({ source: sequencer, prover: service, logger: http.log, onAhead: (size, name) => void sequencer.observeSize(size, `witness ${name}`) });
    sequencer.on('fenced', (err: Error) => http.log.error({ err }, 'this node stopped sequencing'));
    if (witnessing) opened.push(() => witnessing.stop());
    const { host, port } = parseHostPort(config.http);
    const bound = await listenQuietly(http, host, port);
    const url = `${httpTls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    let grpc: GrpcServer | undefined;
    if (config.grpc) {
      const tls = config.grpcTlsCert && config.grpcTlsKey ? { certFile: config.grpcTlsCert, keyFile: config.grpcTlsKey, ...(config.grpcTlsClientCa ? { clientCaFile: config.grpcTlsClientCa } : {}) } : undefined;
      grpc = await startGrpcServer({ service, events, checkpoints: sequencer, address: config.grpc, maxMessageBytes: config.grpcMaxMessageBytes, authorize, publicEntries: config.publicEntries, metrics, logger: http.log, ...(tls ? { tls } : {}), ...(search ? { search } : {}) });
      const started = grpc;
      opened.push(() => started.close(0));
    }
    let admin: RunningLog['admin'];
    let adminDrain: ReturnType<typeof drainable> | undefined;
    if (config.admin) {
      const a = parseHostPort(config.admin);
      const adminHttp = await buildAdminServer({ service, metrics, logLevel: config.logLevel, admin: adminRoutes });
      opened.push(() => adminHttp.close());
      adminDrain = drainable(adminHttp.server);
      const adminPort = await listenQuietly(adminHttp, a.host, a.port);
      admin = { url: `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${adminPort}`, http: adminHttp };
    }
    let closing: Promise<void> | undefined;
    return {
      url,
      keys,
      service,
      sequencer,
      store: base,
      metrics,
      http,
      ...(witnessing ? { witnessing } : {}),
      events,
      producers,
      ...(grpc ? { grpc } : {}),
      ...(admin ? { admin } : {}),
      privacy,
      ...(search ? { search } : {}),
      auditors,
      systemEvents,
      close() {
        closing ??= (async () => {
          // Stop accepting connections, but let requests in flight finish: their entries are
          // committed by sequencer.close() and answered before the process exits. New requests on
          // open connections are answered 503 + Connection: close (src/http/drain.ts).
          httpDrain.begin();
          adminDrain?.begin();
          // gRPC stops taking calls and ends checkpoint watches; calls in flight finish.
          const grpcClosed = grpc?.close(2000);
          await sequencer.close();
          // Witnessed acknowledgements still waiting are answered 503 (retryable) rather than held.
          await witnessing?.stop();
          // Every submission is answered now: close the connections once idle, all after DRAIN_MS.
          await Promise.all([httpDrain.finish(DRAIN_MS), adminDrain?.finish(DRAIN_MS)]);
          await http.close();
          await grpcClosed;
          await admin?.http.close();
          producers.close();
          auditors.close();
          await index.close();
          await store.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const close of opened.reverse()) await Promise.resolve(close()).catch(() => undefined);
    throw err;
  }
}

/** Where a follower sends writes: the leader its role names, or why there is none. */
function leaderOf(role: () => NodeRole): LeaderInfo {
  return {
    self: `a follower (pid ${process.pid})`,
    leader() {
      const r = role();
      return r.leader ? { url: r.leader } : { none: `this node follows and no node leads right now (lease term ${r.term}); a takeover is under way, retry` };
    },
  };
}
