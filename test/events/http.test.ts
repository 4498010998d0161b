// POST /v1/events: the same operation as gRPC SubmitBatch over HTTP JSON (and binary protobuf),
// with the same errors mapped to HTTP statuses; raw POST /add stays open for opaque entries but
// cannot mint event leaves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, fromJson, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { toBase64 } from '@candor/core/bytes';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { LEAF_MAGIC, encodeEventLeaf } from '@candor/schema/leaf';
import { EventSchema, ReviewCancelledSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod, SubmitBatchRequestSchema, SubmitBatchResponseSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { changed, encoded, metricValue, sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';

let log: EventLog;
let token: string;

beforeAll(async () => {
  log = await startEventLog([{ id: 'gw-http', types: ['session.*'] }]);
  token = log.creds['gw-http']!.token;
});
afterAll(() => log?.cleanup());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${log.url}/v1/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });

interface JsonAck {
  index?: string;
  duplicate?: boolean;
}

async function expectError(res: Response, status: number, code: string, message: RegExp) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(message);
}

describe('POST /v1/events', () => {
  it('takes events as JSON messages (curl-friendly) and answers with verifiable acknowledgements', async () => {
    const ev = sampleEvent();
    const res = await post({ requestId: '9', eventMessages: [toJson(EventSchema, ev)] });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { requestId: string; producer: string; authMethod: string };
    expect(json).toMatchObject({ requestId: '9', producer: 'gw-http', authMethod: 'AUTH_METHOD_BEARER_TOKEN' });
    const body = fromJson(SubmitBatchResponseSchema, json as JsonValue);
    const cp = openCheckpoint(body.checkpoint, log.keys.verifiers).checkpoint;
    const ack = body.acks[0]!;
    const receivedAt = ack.receivedAt!.seconds * 1_000_000_000n + BigInt(ack.receivedAt!.nanos);
    const leaf = encodeEventLeaf({ receivedAt, authMethod: body.authMethod, producer: 'gw-http', event: toBinary(EventSchema, ev) });
    expect(toBase64(portableHasher.leaf(leaf))).toBe(toBase64(ack.leafHash));
    verifyInclusion(portableHasher, Number(ack.index), cp.size, ack.leafHash, ack.inclusionProof, cp.root);
  });

  it('takes canonical encodings, and answers resubmissions with the first acknowledgement', async () => {
    const events = [encoded(sampleEvent()), encoded(sampleEvent())];
    const body = { events: events.map(toBase64) };
    const first = (await (await post(body)).json()) as { acks: JsonAck[] };
    const size = log.service.size;
    const again = (await (await post(body)).json()) as { acks: JsonAck[] };
    expect(log.service.size).toBe(size);
    expect(again.acks.map((a) => [a.index, a.duplicate])).toEqual(first.acks.map((a) => [a.index, true]));
  });

  it('speaks binary protobuf too', async () => {
    const req = create(SubmitBatchRequestSchema, { events: [encoded(sampleEvent())] });
    const res = await post(toBinary(SubmitBatchRequestSchema, req), { 'Content-Type': 'application/x-protobuf' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect(fromBinary(SubmitBatchResponseSchema, new Uint8Array(await res.arrayBuffer())).acks).toHaveLength(1);
  });

  it('maps the errors to HTTP statuses, naming the field, and writes nothing', async () => {
    const size = log.service.size;
    const ev = sampleEvent();
    await expectError(await post({ events: [toBase64(encoded(ev))] }, { Authorization: '' }), 401, 'unauthenticated', /Bearer/);
    await expectError(await post({ events: [toBase64(encoded(ev))] }, { Authorization: 'Bearer nope' }), 401, 'unauthenticated', /not valid/);
    const review = changed(ev, (e) => {
      e.type = 'review.cancelled';
      e.body = { case: 'reviewCancelled', value: create(ReviewCancelledSchema, { reviewId: 'r1' }) };
    });
    await expectError(await post({ eventMessages: [toJson(EventSchema, review)] }), 403, 'permission_denied', /event_messages\[0\]\.type: producer gw-http may not write "review\.cancelled"/);
    await expectError(await post({ eventMessages: [{ type: 'session.started' }] }), 400, 'invalid_argument', /event_messages\[0\]\.event_id is required/);
    await expectError(await post({ events: ['AAAA'], bogus: 1 }), 400, 'invalid_argument', /not a valid candor\.v1\.SubmitBatchRequest/);
    await expectError(await post('{"events": [', {}), 400, 'invalid_argument', /JSON/i);
    await expectError(await post('x', { 'Content-Type': 'text/plain' }), 415, 'unsupported_media_type', /application\/json/);
    await expectError(await post({ events: [toBase64(new Uint8Array(61_441))] }), 413, 'payload_too_large', /events\[0\] is 61441 bytes/);
    const reused = changed(ev, (e) => (e.actor!.id = 'usr_9'));
    await post({ events: [toBase64(encoded(ev))] });
    const before = log.service.size;
    await expectError(await post({ events: [toBase64(encoded(reused))] }), 409, 'conflict', /already logged/);
    expect(log.service.size).toBe(before);
    expect(before).toBe(size + 1);
    expect(await metricValue(log, 'candor_events_rejected_total', { reason: 'unauthenticated', producer: '-' })).toBe(2);
  });
});

describe('POST /add', () => {
  it('still takes opaque entries, but not ones that would pass for event leaves', async () => {
    const add = (body: Uint8Array) => fetch(`${log.url}/add`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body });
    expect((await add(new TextEncoder().encode('an opaque entry'))).status).toBe(200);
    const forged = encodeEventLeaf({ receivedAt: 1n, authMethod: AuthMethod.BEARER_TOKEN, producer: 'gw-http', event: encoded(sampleEvent()) });
    await expectError(await add(forged), 400, 'invalid_argument', /marks event leaves/);
    await expectError(await add(LEAF_MAGIC), 400, 'invalid_argument', /marks event leaves/);
  });
});
