/**
 * Prometheus metrics of log-side witnessing, on the log's registry. `status` is the witness's HTTP
 * status ("200", "409", "422", ...) or what happened instead: "timeout", "network" (nothing
 * answered), "bad_cosignature" (200 without a valid cosignature by the configured key), "ahead"
 * (the witness cosigned a larger tree than this log has: a rollback of this log, or a fork).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface WitnessingMetrics {
  requestSeconds: Histogram<'witness' | 'status'>;
  requests: Counter<'witness' | 'status'>;
  cosignedSize: Gauge<'witness'>;
  witnessedSize: Gauge;
  ackWaitSeconds: Histogram<'outcome'>;
}

export function createWitnessingMetrics(registry: Registry): WitnessingMetrics {
  return {
    requestSeconds: new Histogram({
      name: 'candor_witness_request_seconds',
      help: 'Latency of add-checkpoint requests to each witness, by outcome.',
      labelNames: ['witness', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'candor_witness_requests_total',
      help: 'add-checkpoint requests to each witness, by outcome (HTTP status, timeout, network, bad_cosignature, ahead).',
      labelNames: ['witness', 'status'] as const,
      registers: [registry],
    }),
    cosignedSize: new Gauge({
      name: 'candor_witness_cosigned_size',
      help: 'Tree size of the latest checkpoint each witness cosigned for this log.',
      labelNames: ['witness'] as const,
      registers: [registry],
    }),
    witnessedSize: new Gauge({
      name: 'candor_witnessed_tree_size',
      help: 'Tree size of the latest checkpoint that meets the witness policy.',
      registers: [registry],
    }),
    ackWaitSeconds: new Histogram({
      name: 'candor_witnessed_ack_wait_seconds',
      help: 'Time a witnessed acknowledgement waited for the policy after its entry was committed, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
