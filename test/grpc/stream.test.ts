// SubmitStream: pipelined batches answered in order; a bad request midway ends the stream with a
// precise status after the requests before it are answered, writes nothing of its own or after
// it, and leaves other streams alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { encodeEventLeaf } from '@candor/schema/leaf';
import { SubmitStreamRequestSchema, SubmitStreamResponseSchema, type SubmitStreamResponse } from '@candor/schema/gen/candor/v1/log_service_pb';
import { logServiceDefinition } from '@candor/schema/grpc';
import { RawClient, changed, encoded, sampleEvent, startEventLog, type EventLog } from './helpers.js';

let log: EventLog;
let gw: RawClient;

beforeAll(async () => {
  log = await startEventLog([{ id: 'gw' }]);
  gw = new RawClient(log.address, log.creds.gw!.token);
});
afterAll(async () => {
  gw?.close();
  await log?.cleanup();
});

interface Outcome {
  responses: SubmitStreamResponse[];
  error?: ServiceError;
}

function openStream(client: RawClient): { call: ClientDuplexStream<Uint8Array, Uint8Array>; done: Promise<Outcome> } {
  const def = logServiceDefinition.SubmitStream!;
  const call = client.client.makeBidiStreamRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, client.metadata(), { deadline: Date.now() + 20_000 });
  const responses: SubmitStreamResponse[] = [];
  const done = new Promise<Outcome>((resolve) => {
    call.on('data', (b: Uint8Array) => responses.push(fromBinary(SubmitStreamResponseSchema, b)));
    call.on('error', (error: ServiceError) => resolve({ responses, error }));
    call.on('end', () => setImmediate(() => resolve({ responses })));
  });
  return { call, done };
}

const request = (id: number, events: Uint8Array[]) => toBinary(SubmitStreamRequestSchema, create(SubmitStreamRequestSchema, { requestId: BigInt(id), events }));

describe('SubmitStream', () => {
  it('answers pipelined requests in order, each with verifiable acknowledgements', async () => {
    const { call, done } = openStream(gw);
    const sent: Uint8Array[][] = [];
    for (let i = 1; i <= 60; i++) {
      const events = Array.from({ length: 1 + (i % 4) }, () => encoded(sampleEvent()));
      sent.push(events);
      call.write(request(i, events));
    }
    call.end();
    const { responses, error } = await done;
    expect(error).toBeUndefined();
    expect(responses.map((r) => Number(r.requestId))).toEqual(sent.map((_, i) => i + 1));
    // Requests are logged in stream order.
    const indexes = responses.flatMap((r) => r.acks.map((a) => Number(a.index)));
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(indexes).size).toBe(indexes.length);
    for (const [k, r] of responses.entries()) {
      const cp = openCheckpoint(r.checkpoint, log.keys.verifiers).checkpoint;
      r.acks.forEach((a, i) => {
        const leaf = encodeEventLeaf({ receivedAt: a.receivedAt!.seconds * 1_000_000_000n + BigInt(a.receivedAt!.nanos), authMethod: r.authMethod, producer: 'gw', event: sent[k]![i]! });
        verifyInclusion(portableHasher, Number(a.index), cp.size, portableHasher.leaf(leaf), a.inclusionProof, cp.root);
      });
    }
  });

  for (const [what, bad, message] of [
    ['garbage bytes', Uint8Array.from([0xff, 0xff, 0xff]), /request is not a valid candor\.v1\.SubmitStreamRequest/],
    ['an invalid event', request(3, [encoded(changed(sampleEvent(), (e) => (e.tenantId = '')))]), /events\[0\]\.tenant_id is required/],
  ] as const) {
    it(`ends with INVALID_ARGUMENT on ${what} midway, after answering what came before; nothing after is written`, async () => {
      const size = log.service.size;
      // A second stream, open across the failure, must not notice it.
      const bystander = openStream(gw);
      bystander.call.write(request(100, [encoded(sampleEvent())]));

      const { call, done } = openStream(gw);
      call.write(request(1, [encoded(sampleEvent()), encoded(sampleEvent())]));
      call.write(request(2, [encoded(sampleEvent())]));
      call.write(bad);
      call.write(request(4, [encoded(sampleEvent())]));
      call.write(request(5, [encoded(sampleEvent())]));
      const { responses, error } = await done;
      expect(responses.map((r) => Number(r.requestId))).toEqual([1, 2]);
      expect(error?.code).toBe(status.INVALID_ARGUMENT);
      expect(error?.details).toMatch(message);
      expect(error?.metadata.get('candor-error-code')).toEqual(['invalid_argument']);
      call.end();

      bystander.call.write(request(101, [encoded(sampleEvent())]));
      bystander.call.end();
      const b = await bystander.done;
      expect(b.error).toBeUndefined();
      expect(b.responses.map((r) => Number(r.requestId))).toEqual([100, 101]);
      // 3 events before the bad request and 2 on the other stream: nothing from requests 3 to 5.
      expect(log.service.size).toBe(size + 3 + 2);
    });
  }

  it('refuses an unauthenticated stream at its first request', async () => {
    const anon = new RawClient(log.address);
    try {
      const { call, done } = openStream(anon);
      call.write(request(1, [encoded(sampleEvent())]));
      const { responses, error } = await done;
      expect(responses).toHaveLength(0);
      expect(error?.code).toBe(status.UNAUTHENTICATED);
    } finally {
      anon.close();
    }
  });
});
