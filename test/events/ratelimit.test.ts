// Per-producer rate limits and quotas over both transports: HTTP 429 with Retry-After, gRPC
// RESOURCE_EXHAUSTED with retry-after, grpc-retry-pushback-ms and a google.rpc.RetryInfo; the
// refusal is counted, writes nothing, and comes before the body is decoded. The rates are low
// enough that no token comes back during the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { toJson } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { SubmitBatchRequestSchema, SubmitBatchResponseSchema, SubmitRequestSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { RawClient, encoded, metricValue, sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';

let log: EventLog;
const clients: RawClient[] = [];

beforeAll(async () => {
  log = await startEventLog(
    [
      { id: 'gw-http', rateLimit: { eventsPerSecond: 0.001, burst: 3 } },
      { id: 'gw-grpc', rateLimit: { eventsPerSecond: 0.001, burst: 3 } },
      { id: 'gw-quota', dailyQuota: 2, rateLimit: { eventsPerSecond: 0, burst: 1 } },
      { id: 'gw-default' },
      { id: 'gw-free', rateLimit: { eventsPerSecond: 0, burst: 1 } },
    ],
    { producerEventsPerSecond: 1, producerBurst: 2 },
  );
});
afterAll(async () => {
  for (const c of clients) c.close();
  await log?.cleanup();
});

const post = (producer: string, body: unknown) =>
  fetch(`${log.url}/v1/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${log.creds[producer]!.token}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const events = (n: number) => ({ eventMessages: Array.from({ length: n }, () => toJson(EventSchema, sampleEvent())) });

function grpc(producer: string): RawClient {
  const c = new RawClient(log.address, log.creds[producer]!.token);
  clients.push(c);
  return c;
}

/** Reads google.rpc.Status{code=1, message=2, details=3: Any{type_url=1, value=2: RetryInfo{retry_delay=1: Duration}}}. */
function retryInfo(bin: Buffer): { code: number; typeUrl: string; seconds: number } {
  const st = new BinaryReader(bin);
  let code = 0;
  let typeUrl = '';
  let seconds = -1;
  while (st.pos < st.len) {
    const [field] = st.tag();
    if (field === 1) code = st.int32();
    else if (field === 2) st.string();
    else {
      const any = new BinaryReader(st.bytes());
      while (any.pos < any.len) {
        const [f] = any.tag();
        if (f === 1) typeUrl = any.string();
        else {
          const info = new BinaryReader(any.bytes());
          info.tag();
          const d = new BinaryReader(info.bytes());
          d.tag();
          seconds = Number(d.int64());
        }
      }
    }
  }
  return { code, typeUrl, seconds };
}

describe('per-producer rate limits', () => {
  it('answers HTTP 429 with Retry-After past the burst, counts it, and writes nothing', async () => {
    expect((await post('gw-http', events(2))).status).toBe(200);
    expect((await post('gw-http', events(1))).status).toBe(200);
    const size = log.service.size;
    const res = await post('gw-http', events(1));
    expect(res.status).toBe(429);
    // 1 token at 0.001/s: 1000 s.
    expect(res.headers.get('retry-after')).toBe('1000');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: 'rate_limited' });
    expect(body.error.message).toMatch(/gw-http is over its rate limit of 0.001 events\/s \(burst 3\)/);
    // Refused before the body is decoded: a malformed body gets the same answer.
    expect((await post('gw-http', '{not json')).status).toBe(429);
    expect(log.service.size).toBe(size);
    expect(await metricValue(log, 'candor_events_rejected_total', { reason: 'rate_limited', producer: 'gw-http' })).toBe(2);
    // Another producer is not affected.
    expect((await post('gw-free', events(50))).status).toBe(200);
  });

  it('answers gRPC RESOURCE_EXHAUSTED with retry-after, pushback and RetryInfo', async () => {
    const c = grpc('gw-grpc');
    await c.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: [encoded(sampleEvent()), encoded(sampleEvent()), encoded(sampleEvent())] });
    const size = log.service.size;
    for (const [method, schema, req] of [
      ['SubmitBatch', SubmitBatchRequestSchema, { events: [encoded(sampleEvent())] }],
      ['Submit', SubmitRequestSchema, { event: encoded(sampleEvent()) }],
    ] as const) {
      const err = await c.fail(method, schema as typeof SubmitBatchRequestSchema, req as never);
      expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(err.details).toMatch(/gw-grpc is over its rate limit/);
      expect(err.trailers['candor-error-code']).toBe('rate_limited');
      expect(err.trailers['retry-after']).toBe('1000');
      expect(Number(err.trailers['grpc-retry-pushback-ms'])).toBeCloseTo(1_000_000, -3);
    }
    const raw = await c.callBytes('SubmitBatch', new Uint8Array([0xff]));
    expect('err' in raw && raw.err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(log.service.size).toBe(size);
  });

  it('puts google.rpc.RetryInfo in grpc-status-details-bin', async () => {
    const c = grpc('gw-grpc');
    const def = (await import('@candor/schema/grpc')).logServiceDefinition.SubmitBatch!;
    const md = await new Promise<Buffer>((resolve) =>
      c.client.makeUnaryRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, encoded(sampleEvent()), c.metadata(), (err) =>
        resolve((err as unknown as { metadata: { get(k: string): unknown[] } }).metadata.get('grpc-status-details-bin')[0] as Buffer),
      ),
    );
    const info = retryInfo(md);
    expect(info).toMatchObject({ code: status.RESOURCE_EXHAUSTED, typeUrl: 'type.googleapis.com/google.rpc.RetryInfo' });
    // Just under 1000 s: the bucket refilled a little since it was emptied.
    expect(info.seconds).toBeGreaterThan(990);
    expect(info.seconds).toBeLessThanOrEqual(1000);
  });

  it('applies the configured default to producers without limits of their own', async () => {
    expect((await post('gw-default', events(2))).status).toBe(200);
    const res = await post('gw-default', events(2));
    expect(res.status).toBe(429);
    expect((await res.json()) as object).toMatchObject({ error: { message: expect.stringMatching(/rate limit of 1 events\/s \(burst 2\)/) } });
  });

  it('keeps a daily quota, refunding requests that were refused for another reason', async () => {
    const bad = toJson(EventSchema, sampleEvent({ tenantId: 'org-9' }));
    expect((await post('gw-quota', { eventMessages: [bad] })).status).toBe(403);
    expect((await post('gw-quota', events(2))).status).toBe(200);
    const res = await post('gw-quota', events(1));
    expect(res.status).toBe(429);
    const wait = Number(res.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(86_400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/gw-quota has used 2 of its daily quota of 2 events; the quota resets at 00:00 UTC/);
  });

  it('keeps the full queue distinct: 503, not 429', async () => {
    const { HTTP_STATUS } = await import('../../src/http/errors.js');
    expect(HTTP_STATUS.resource_exhausted).toBe(503);
    expect(HTTP_STATUS.rate_limited).toBe(429);
  });
});
