/**
 * Prometheus metrics of the log, on a registry per server (so tests can run several servers in
 * one process). One name per concept, as in the specs: queue, batch, integration, tree size.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface LogMetrics {
  registry: Registry;
  queueDepth: Gauge;
  batchSize: Histogram;
  integrationSeconds: Histogram;
  /** The atomic, synced write of a batch (the durability cost), and the checkpoint signing. */
  commitSeconds: Histogram;
  signSeconds: Histogram;
  treeSize: Gauge;
  /** High availability (src/cluster/ha.ts): 1 on the leader, 0 on a follower; its lease term; a follower's lag. */
  haLeader: Gauge;
  haTerm: Gauge;
  haLagEntries: Gauge;
  haLagSeconds: Gauge;
  rejected: Counter<'reason'>;
  proofsServed: Counter<'kind'>;
  /** Events logged, duplicates answered and events rejected, per authenticated producer. */
  eventsIngested: Counter<'producer'>;
  eventsDuplicate: Counter<'producer'>;
  eventsRejected: Counter<'reason' | 'producer'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): LogMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'candor_process_' });
  return {
    registry,
    queueDepth: new Gauge({ name: 'candor_queue_depth', help: 'Submissions waiting for a batch.', registers: [registry] }),
    batchSize: new Histogram({
      name: 'candor_batch_size',
      help: 'Entries per integrated batch.',
      buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384],
      registers: [registry],
    }),
    integrationSeconds: new Histogram({
      name: 'candor_integration_seconds',
      help: 'Time to integrate a batch: hash, build tiles, sign, commit with sync, prove.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: 'candor_commit_seconds',
      help: 'Time to write and sync one batch to the store (one atomic write; fsync included).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    signSeconds: new Histogram({
      name: 'candor_sign_seconds',
      help: 'Time to sign one checkpoint with every log key.',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01],
      registers: [registry],
    }),
    treeSize: new Gauge({ name: 'candor_tree_size', help: 'Entries in the latest checkpoint.', registers: [registry] }),
    haLeader: new Gauge({ name: 'candor_ha_leader', help: 'High availability: 1 when this node holds the leader lease and sequences, 0 when it follows.', registers: [registry] }),
    haTerm: new Gauge({ name: 'candor_ha_lease_term', help: 'High availability: the lease term this node leads in, or of the leader it follows.', registers: [registry] }),
    haLagEntries: new Gauge({ name: 'candor_ha_lag_entries', help: 'High availability: entries the store had committed beyond what this follower served, at its last refresh.', registers: [registry] }),
    haLagSeconds: new Gauge({ name: 'candor_ha_lag_seconds', help: 'High availability: seconds since this follower last caught up with the store.', registers: [registry] }),
    rejected: new Counter({
      name: 'candor_rejected_requests_total',
      help: 'Requests rejected, by reason (the error code).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    proofsServed: new Counter({
      name: 'candor_proofs_served_total',
      help: 'Proofs served, by kind.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    eventsIngested: new Counter({
      name: 'candor_events_ingested_total',
      help: 'Audit events logged (new leaves), by authenticated producer.',
      labelNames: ['producer'] as const,
      registers: [registry],
    }),
    eventsDuplicate: new Counter({
      name: 'candor_events_duplicate_total',
      help: 'Audit events resubmitted and answered with their first acknowledgement, by producer.',
      labelNames: ['producer'] as const,
      registers: [registry],
    }),
    eventsRejected: new Counter({
      name: 'candor_events_rejected_total',
      help: 'Audit events rejected (nothing written), by reason (the error code) and producer ("-" when unauthenticated).',
      labelNames: ['reason', 'producer'] as const,
      registers: [registry],
    }),
  };
}
