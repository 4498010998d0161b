// Bad input over gRPC: every case gets a precise status naming the field, is counted in the
// metrics, writes nothing, and leaves the server serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, toBinary } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { concat } from '@candor/core/bytes';
import { EventSchema, LabelSchema, ProducerInfoSchema, ReviewCancelledSchema, SessionDeniedSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { SubmitBatchRequestSchema, SubmitBatchResponseSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { waitFor } from '../helpers/wait.js';
import { RawClient, changed, encoded, metricValue, sampleEvent, startEventLog, type CallError, type EventLog } from './helpers.js';

let log: EventLog;
let gw: RawClient;

beforeAll(async () => {
  log = await startEventLog([
    { id: 'gw-a', tenants: ['org-1'], types: ['session.*', 'query.executed'] },
    { id: 'gw-b', tenants: ['*'], types: ['*'] },
  ]);
  gw = new RawClient(log.address, log.creds['gw-a']!.token);
});
afterAll(async () => {
  gw?.close();
  await log?.cleanup();
});

const submit = (client: RawClient, events: Uint8Array[]) => client.fail('SubmitBatch', SubmitBatchRequestSchema, { events });

function expectError(err: CallError, code: status, reason: string, message: RegExp) {
  expect({ code: err.code, reason: err.trailers['candor-error-code'] }).toEqual({ code, reason });
  expect(err.details).toMatch(message);
  // Client mistakes are never INTERNAL, and never carry a stack trace.
  expect(err.details).not.toMatch(/\n\s+at /);
}

describe('bad input', () => {
  it('rejects malformed requests and events with INVALID_ARGUMENT naming the field', async () => {
    const size = log.service.size;
    const good = encoded(sampleEvent());
    const garbage = await gw.callBytes('SubmitBatch', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect('err' in garbage).toBe(true);
    if ('err' in garbage) expectError(garbage.err, status.INVALID_ARGUMENT, 'invalid_argument', /not a valid candor\.v1\.SubmitBatchRequest/);

    const ev = sampleEvent();
    const withoutActorId = changed(ev, (e) => (e.actor!.id = ''));
    const unknownType = changed(ev, (e) => (e.type = 'session.teleported'));
    const wrongBody = changed(ev, (e) => (e.type = 'query.executed'));
    const badCommitment = changed(ev, (e) => (e.actor!.displayCommitment = new Uint8Array(31)));
    const unsortedTags = changed(ev, (e) => (e.resource!.tags = [create(LabelSchema, { key: 'pci', value: '1' }), create(LabelSchema, { key: 'env', value: 'prod' })]));
    const farFuture = changed(ev, (e) => (e.occurredAt!.seconds = 253_402_300_800n));
    // Field 99 is not in candor.v1.Event; field 5 (tenant_id) written again after field 100.
    const unknownField = concat(encoded(ev), Uint8Array.from([0x98, 0x06, 0x01]));
    const outOfOrder = concat(encoded(ev), Uint8Array.from([0x2a, 0x05]), new TextEncoder().encode('org-1'));
    const cases: [Uint8Array[], RegExp][] = [
      [[good, Uint8Array.from([0x0a, 0xff])], /events\[1\] is not a valid candor\.v1\.Event/],
      [[toBinary(EventSchema, withoutActorId)], /events\[0\]\.actor\.id is required/],
      [[toBinary(EventSchema, unknownType)], /events\[0\]\.type "session\.teleported" is not a known event type/],
      [[toBinary(EventSchema, wrongBody)], /events\[0\]\.statement_executed is required for type query\.executed \(got body session_started\)/],
      [[toBinary(EventSchema, badCommitment)], /events\[0\]\.actor\.display_commitment must be a 32-byte/],
      [[toBinary(EventSchema, unsortedTags)], /events\[0\]\.resource\.tags must be sorted/],
      [[toBinary(EventSchema, farFuture)], /events\[0\]\.occurred_at is outside/],
      [[unknownField], /events\[0\] has unknown field 99/],
      [[outOfOrder], /events\[0\] is not canonically encoded/],
      [[], /events is empty/],
      [[new Uint8Array(0)], /events\[0\] is empty/],
    ];
    for (const [events, message] of cases) expectError(await submit(gw, events), status.INVALID_ARGUMENT, 'invalid_argument', message);
    expect(log.service.size).toBe(size);
  });

  it('rejects oversize events and requests as client mistakes, not RESOURCE_EXHAUSTED', async () => {
    const size = log.service.size;
    expectError(await submit(gw, [new Uint8Array(61_441).fill(0x0a)]), status.INVALID_ARGUMENT, 'payload_too_large', /events\[0\] is 61441 bytes; the limit is 61440/);
    const many = Array.from({ length: 4097 }, () => encoded(sampleEvent()));
    expectError(await submit(gw, many), status.INVALID_ARGUMENT, 'invalid_argument', /4097 events; the limit per request is 4096/);
    expect(log.service.size).toBe(size);
  });

  it('rejects missing or bad credentials with UNAUTHENTICATED, counted', async () => {
    const size = log.service.size;
    const before = await metricValue(log, 'candor_events_rejected_total', { reason: 'unauthenticated', producer: '-' });
    const anon = new RawClient(log.address);
    const wrong = new RawClient(log.address, 'candor_pt_not-a-real-token');
    try {
      const ev = [encoded(sampleEvent())];
      expectError(await submit(anon, ev), status.UNAUTHENTICATED, 'unauthenticated', /no credentials/);
      expectError(await submit(wrong, ev), status.UNAUTHENTICATED, 'unauthenticated', /not valid \(unknown or revoked\)/);
      anon.header = 'Basic dXNlcjpwYXNz';
      expectError(await submit(anon, ev), status.UNAUTHENTICATED, 'unauthenticated', /must be "Bearer <token>"/);
    } finally {
      anon.close();
      wrong.close();
    }
    expect(await metricValue(log, 'candor_events_rejected_total', { reason: 'unauthenticated', producer: '-' })).toBe(before + 3);
    expect(log.service.size).toBe(size);
  });

  it('rejects writes outside the producer scopes with PERMISSION_DENIED, counted per producer', async () => {
    const size = log.service.size;
    const before = await metricValue(log, 'candor_events_rejected_total', { reason: 'permission_denied', producer: 'gw-a' });
    const ev = sampleEvent();
    const otherTenant = changed(ev, (e) => (e.tenantId = 'org-2'));
    const otherType = changed(ev, (e) => {
      e.type = 'session.denied';
      e.body = { case: 'sessionDenied', value: create(SessionDeniedSchema, { reason: 'no_grant' }) };
    });
    const review = changed(ev, (e) => {
      e.type = 'review.cancelled';
      e.body = { case: 'reviewCancelled', value: create(ReviewCancelledSchema, { reviewId: 'r1' }) };
    });
    const impostor = changed(ev, (e) => (e.producer = create(ProducerInfoSchema, { id: 'gw-b' })));
    expectError(await submit(gw, [encoded(sampleEvent()), toBinary(EventSchema, otherTenant)]), status.PERMISSION_DENIED, 'permission_denied', /events\[1\]\.tenant_id: producer gw-a may not write for tenant "org-2"/);
    expectError(await submit(gw, [toBinary(EventSchema, review)]), status.PERMISSION_DENIED, 'permission_denied', /events\[0\]\.type: producer gw-a may not write "review\.cancelled"/);
    expectError(await submit(gw, [toBinary(EventSchema, impostor)]), status.PERMISSION_DENIED, 'permission_denied', /producer\.id is "gw-b", but the request is authenticated as gw-a/);
    expect(await metricValue(log, 'candor_events_rejected_total', { reason: 'permission_denied', producer: 'gw-a' })).toBe(before + 2 + 1 + 1);
    expect(log.service.size).toBe(size);
    // session.* covers session.denied.
    const ok = await gw.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: [toBinary(EventSchema, otherType)] });
    expect(ok.acks).toHaveLength(1);
  });

  it('keeps serving after all of it', async () => {
    const res = await gw.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: [encoded(sampleEvent())] });
    expect(res.acks[0]!.duplicate).toBe(false);
  });
});

describe('a full queue', () => {
  it('answers RESOURCE_EXHAUSTED with grpc-retry-pushback-ms, and the retry succeeds', async () => {
    // A batch waits 1 s to close, and the queue holds 4 entries: the second request, sent once the
    // first is queued, overflows it.
    const small = await startEventLog([{ id: 'gw' }], { queueMaxEntries: 4, batchMaxDelayMs: 1000 });
    const c = new RawClient(small.address, small.creds.gw!.token);
    try {
      const first = c.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: Array.from({ length: 4 }, () => encoded(sampleEvent())) });
      await waitFor('the first request to fill the queue', () => small.sequencer.queueDepth === 4);
      const later = [encoded(sampleEvent())];
      const err = await submit(c, later);
      expectError(err, status.RESOURCE_EXHAUSTED, 'resource_exhausted', /queue is full/);
      expect(Number(err.trailers['grpc-retry-pushback-ms'])).toBeGreaterThan(0);
      expect((await first).acks).toHaveLength(4);
      expect(small.service.size).toBe(4);
      const retried = await c.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: later });
      expect(retried.acks[0]!.duplicate).toBe(false);
      expect(await metricValue(small, 'candor_events_rejected_total', { reason: 'resource_exhausted', producer: 'gw' })).toBe(1);
    } finally {
      c.close();
      await small.cleanup();
    }
  });
});
