// Retries: safe because the log answers a resubmitted event with its first receipt; paced by the
// server's grpc-retry-pushback-ms; never for permanent errors; across a log restart.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandorError } from '@candor/core/errors';
import { create } from '@bufbuild/protobuf';
import { SubmitBatchRequestSchema, type SubmitBatchRequest } from '@candor/schema/gen/candor/v1/log_service_pb';
import { GatewayClient, GrpcTransport, type GatewayOptions } from '@candor/gateway';
import { encoded, sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';
import { startTestLog } from '../helpers/log.js';

let log: EventLog;
const clients: GatewayClient[] = [];

beforeAll(async () => {
  log = await startEventLog([{ id: 'gw' }, { id: 'gw-limited', rateLimit: { eventsPerSecond: 20, burst: 4 } }]);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await log?.cleanup();
});

/** A transport that runs `before` ahead of each real call (to fail it) and `after` once it returned. */
function flaky(hooks: { before?: (attempt: number) => void; after?: (attempt: number) => void }, address = log.address) {
  const real = new GrpcTransport({ address, token: log.creds.gw!.token, deadlineMs: 2000 });
  let attempt = 0;
  return {
    attempts: () => attempt,
    submitBatch: async (r: SubmitBatchRequest) => {
      const n = ++attempt;
      hooks.before?.(n);
      const res = await real.submitBatch(r);
      hooks.after?.(n);
      return res;
    },
    close: () => real.close(),
  };
}

function gateway(over: Partial<GatewayOptions>): GatewayClient {
  const c = new GatewayClient({ address: log.address, token: log.creds.gw!.token, producer: 'gw', tenant: 'org-1', logKey: log.keys.vkeys, retry: { initialMs: 10, maxMs: 50, giveUpAfterMs: 5000 }, ...over });
  clients.push(c);
  return c;
}

const unavailable = () => new CandorError('unavailable', 'connection reset');

describe('retries', () => {
  it('resubmits after a lost answer and gets the first receipts back, with no second leaf', async () => {
    const t = flaky({ after: (n) => {
      if (n === 1) throw unavailable(); // the log committed, the answer was lost
    } });
    const gw = gateway({ transport: t });
    const size = log.service.size;
    const [a, b] = await Promise.all([gw.producerEvents.heartbeat(), gw.producerEvents.heartbeat()]);
    expect(t.attempts()).toBe(2);
    expect(log.service.size).toBe(size + 2);
    expect([a.receipt.duplicate, b.receipt.duplicate]).toEqual([true, true]);
    expect([a.receipt.index, b.receipt.index]).toEqual([size, size + 1]);
  });

  it('waits at least the pushback the server asked for', async () => {
    const t = flaky({ before: (n) => {
      if (n === 1) throw new CandorError('resource_exhausted', 'the submission queue is full; retry later', { retryAfterMs: 300 });
    } });
    const gw = gateway({ transport: t });
    const started = Date.now();
    await gw.producerEvents.heartbeat();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(t.attempts()).toBe(2);
  });

  it('a producer over its rate limit gets rate_limited with the wait, and the SDK waits and delivers everything', async () => {
    const direct = new GrpcTransport({ address: log.address, token: log.creds['gw-limited']!.token, deadlineMs: 2000 });
    const over = gateway({ token: log.creds['gw-limited']!.token, producer: 'gw-limited', transport: { submitBatch: (r) => direct.submitBatch(r), close: () => {} }, batch: { maxEvents: 4, lingerMs: 0 } });
    const size = log.service.size;
    const started = Date.now();
    const recorded = await Promise.all(Array.from({ length: 16 }, () => over.producerEvents.heartbeat()));
    // 16 events at 20/s after a burst of 4: the last ones waited for tokens.
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(new Set(recorded.map((r) => r.receipt.index)).size).toBe(16);
    expect(log.service.size).toBe(size + 16);
    // What the SDK retried: the log's own answer, named.
    const refused = await Promise.all(Array.from({ length: 3 }, () => direct.submitBatch(create(SubmitBatchRequestSchema, { events: Array.from({ length: 4 }, () => encoded(sampleEvent())) })))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(CandorError);
    expect((refused as CandorError).code).toBe('rate_limited');
    expect((refused as CandorError).retryAfterMs).toBeGreaterThan(0);
    direct.close();
  });

  it('does not retry permanent errors', async () => {
    for (const err of [new CandorError('invalid_argument', 'events[0].x is required'), new CandorError('resource_exhausted', 'message larger than max'), new CandorError('unauthenticated', 'no')]) {
      const t = flaky({ before: () => {
        throw err;
      } });
      await expect(gateway({ transport: t }).producerEvents.heartbeat()).rejects.toBe(err);
      expect(t.attempts()).toBe(1);
    }
  });

  it('gives up after its budget', async () => {
    const t = flaky({ before: () => {
      throw unavailable();
    } });
    const gw = gateway({ transport: t, retry: { initialMs: 10, maxMs: 40, giveUpAfterMs: 300 } });
    const started = Date.now();
    await expect(gw.producerEvents.heartbeat()).rejects.toMatchObject({ code: 'unavailable' });
    // Gave up on the 300 ms budget, not the default of 120 s (room for a loaded machine).
    expect(Date.now() - started).toBeLessThan(5000);
    expect(t.attempts()).toBeGreaterThan(2);
  });

  it('rides out a log restart', async () => {
    // A log on a fixed port, stopped and started again on its data dir while events wait.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const address = `127.0.0.1:${port}`;
    const first = await startEventLog([{ id: 'gw' }], { grpc: address });
    const gw = new GatewayClient({ address, token: first.creds.gw!.token, producer: 'gw', tenant: 'org-1', logKey: first.keys.vkeys, retry: { initialMs: 50, maxMs: 400, giveUpAfterMs: 15_000 } });
    clients.push(gw);
    try {
      await gw.producerEvents.heartbeat();
      await first.close();
      const waiting = Promise.all(Array.from({ length: 20 }, () => gw.producerEvents.heartbeat()));
      await new Promise((r) => setTimeout(r, 400));
      const second = await startTestLog({ data: first.dir, grpc: address });
      try {
        const receipts = await waiting;
        expect(receipts.map((r) => r.receipt.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(second.service.size).toBe(21);
      } finally {
        await second.cleanup();
      }
    } finally {
      await gw.close().catch(() => undefined);
    }
  }, 25_000);
});
