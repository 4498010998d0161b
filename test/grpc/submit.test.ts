// Submit and SubmitBatch on a real server: acknowledgements that verify independently, one
// checkpoint per response, idempotent resubmission, conflicts, and producer signatures.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, toBinary } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { equal } from '@candor/core/bytes';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { parseSignerKey, parseVerifierKey } from '@candor/core/note';
import { parseEventLeaf } from '@candor/schema/leaf';
import { signEventBatch, verifyLeafSignature } from '@candor/schema/signature';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import {
  AuthMethod,
  GetEntriesRequestSchema,
  GetEntriesResponseSchema,
  SubmitBatchRequestSchema,
  SubmitBatchResponseSchema,
  SubmitRequestSchema,
  SubmitResponseSchema,
  type SubmitBatchResponse,
} from '@candor/schema/gen/candor/v1/log_service_pb';
import { RawClient, encoded, metricValue, sampleEvent, startEventLog, type EventLog } from './helpers.js';

let log: EventLog;
let plain: RawClient;
let signed: RawClient;
let other: RawClient;

beforeAll(async () => {
  // Entries are read here without credentials: a log configured public (publicEntries).
  log = await startEventLog([{ id: 'gw-plain' }, { id: 'gw-signed', signed: true }, { id: 'gw-other' }], { publicEntries: true });
  plain = new RawClient(log.address, log.creds['gw-plain']!.token);
  signed = new RawClient(log.address, log.creds['gw-signed']!.token);
  other = new RawClient(log.address, log.creds['gw-other']!.token);
});
afterAll(async () => {
  for (const c of [plain, signed, other]) c?.close();
  await log?.cleanup();
});

const leafHashOf = (leaf: Uint8Array) => new Uint8Array(createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest());

async function entry(index: number): Promise<Uint8Array> {
  const res = await plain.call('GetEntries', GetEntriesRequestSchema, GetEntriesResponseSchema, { start: BigInt(index), end: BigInt(index + 1) });
  return res.entries[0]!.data;
}

/** Checks a response the way a third party would: checkpoint signature, leaf bytes, proof. */
async function checkResponse(res: SubmitBatchResponse, sent: Uint8Array[], producer: string) {
  const cp = openCheckpoint(res.checkpoint, log.keys.verifiers, 'test.example/log').checkpoint;
  expect(res.acks).toHaveLength(sent.length);
  expect(res.producer).toBe(producer);
  for (let i = 0; i < sent.length; i++) {
    const ack = res.acks[i]!;
    expect(Number(ack.treeSize)).toBe(cp.size);
    const leaf = await entry(Number(ack.index));
    const parsed = parseEventLeaf(leaf);
    expect(equal(parsed.event, sent[i]!)).toBe(true);
    expect(parsed.producer).toBe(producer);
    expect(parsed.receivedAt).toBe(ack.receivedAt!.seconds * 1_000_000_000n + BigInt(ack.receivedAt!.nanos));
    expect(equal(leafHashOf(leaf), ack.leafHash)).toBe(true);
    verifyInclusion(portableHasher, Number(ack.index), cp.size, ack.leafHash, ack.inclusionProof, cp.root);
  }
  return cp;
}

const batch = (client: RawClient, events: Uint8Array[], extra: Record<string, unknown> = {}) =>
  client.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { requestId: 7n, events, ...extra });

describe('SubmitBatch', () => {
  it('acknowledges every event with a proof against one signed checkpoint', async () => {
    const sent = Array.from({ length: 5 }, () => encoded(sampleEvent()));
    const before = log.service.size;
    const res = await batch(plain, sent);
    expect(res.requestId).toBe(7n);
    expect(res.authMethod).toBe(AuthMethod.BEARER_TOKEN);
    expect(res.acks.map((a) => Number(a.index))).toEqual([0, 1, 2, 3, 4].map((i) => before + i));
    expect(res.acks.every((a) => !a.duplicate && a.leaf.length === 0)).toBe(true);
    await checkResponse(res, sent, 'gw-plain');
  });

  it('answers a resubmission with the first acknowledgement and writes nothing', async () => {
    const sent = Array.from({ length: 4 }, () => encoded(sampleEvent()));
    const first = await batch(plain, sent);
    const size = log.service.size;
    const dupsBefore = await metricValue(log, 'candor_events_duplicate_total', { producer: 'gw-plain' });
    const again = await batch(plain, sent);
    expect(log.service.size).toBe(size);
    expect(again.acks.map((a) => a.index)).toEqual(first.acks.map((a) => a.index));
    expect(again.acks.every((a) => a.duplicate)).toBe(true);
    // The first leaf comes back, so the client can check it holds its event.
    for (let i = 0; i < sent.length; i++) {
      expect(equal(again.acks[i]!.leaf, await entry(Number(first.acks[i]!.index)))).toBe(true);
      expect(again.acks[i]!.receivedAt).toEqual(first.acks[i]!.receivedAt);
    }
    await checkResponse(again, sent, 'gw-plain');
    expect(await metricValue(log, 'candor_events_duplicate_total', { producer: 'gw-plain' })).toBe(dupsBefore + 4);
  });

  it('logs an event once when it appears twice in one request', async () => {
    const a = encoded(sampleEvent());
    const b = encoded(sampleEvent());
    const size = log.service.size;
    const res = await batch(plain, [a, b, a]);
    expect(log.service.size).toBe(size + 2);
    expect(res.acks[2]!.index).toBe(res.acks[0]!.index);
    expect(res.acks.map((x) => x.duplicate)).toEqual([false, false, true]);
    await checkResponse(res, [a, b, a], 'gw-plain');
  });

  it('answers concurrent resubmissions of an event in flight with one leaf', async () => {
    const sent = Array.from({ length: 20 }, () => encoded(sampleEvent()));
    const size = log.service.size;
    const all = await Promise.all(Array.from({ length: 8 }, () => batch(plain, sent)));
    expect(log.service.size).toBe(size + 20);
    for (const r of all) expect(r.acks.map((a) => a.index)).toEqual(all[0]!.acks.map((a) => a.index));
    expect(all.flatMap((r) => r.acks).filter((a) => !a.duplicate)).toHaveLength(20);
  });

  it('refuses a reused producer_event_id with other content: ALREADY_EXISTS, nothing written', async () => {
    const ev = sampleEvent();
    await batch(plain, [encoded(ev)]);
    const changed = create(EventSchema, { ...ev, actor: { ...ev.actor!, id: 'usr_2' } });
    const size = log.service.size;
    const fresh = encoded(sampleEvent());
    const err = await plain.fail('SubmitBatch', SubmitBatchRequestSchema, { events: [fresh, encoded(changed)] });
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(err.trailers['candor-error-code']).toBe('conflict');
    expect(err.details).toMatch(/events\[1\]/);
    expect(log.service.size).toBe(size);
    // Idempotency keys are per producer: another producer may use the same ID.
    const res = await batch(other, [encoded(changed)]);
    expect(res.acks[0]!.duplicate).toBe(false);
    expect(log.service.size).toBe(size + 1);
  });

  it('encodes event_messages canonically itself', async () => {
    const ev = sampleEvent();
    const res = await plain.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { eventMessages: [ev] });
    await checkResponse(res, [toBinary(EventSchema, ev)], 'gw-plain');
  });
});

describe('Submit', () => {
  it('acknowledges one event with its checkpoint and proof', async () => {
    const bytes = encoded(sampleEvent());
    const res = await plain.call('Submit', SubmitRequestSchema, SubmitResponseSchema, { event: bytes });
    const cp = openCheckpoint(res.checkpoint, log.keys.verifiers).checkpoint;
    const leaf = await entry(Number(res.ack!.index));
    expect(equal(parseEventLeaf(leaf).event, bytes)).toBe(true);
    verifyInclusion(portableHasher, Number(res.ack!.index), cp.size, leafHashOf(leaf), res.ack!.inclusionProof, cp.root);
    expect(res.producer).toBe('gw-plain');
  });
});

describe('producer signatures', () => {
  const sign = (events: Uint8Array[]) => {
    const { signer } = parseSignerKey(log.creds['gw-signed']!.skey!);
    return signEventBatch(signer, events, portableHasher);
  };

  it('verifies one signature per request and stores a per-leaf proof of it', async () => {
    const sent = Array.from({ length: 7 }, () => encoded(sampleEvent()));
    const res = await batch(signed, sent, { signature: sign(sent) });
    await checkResponse(res, sent, 'gw-signed');
    const verifier = parseVerifierKey(log.creds['gw-signed']!.vkey!);
    for (const [i, a] of res.acks.entries()) {
      const leaf = parseEventLeaf(await entry(Number(a.index)));
      expect(leaf.signature).toMatchObject({ batchSize: 7, batchIndex: i });
      verifyLeafSignature(leaf, verifier, portableHasher);
      // Each leaf stands alone: a changed event byte breaks its signature check.
      const tampered = { ...leaf, event: Uint8Array.from(leaf.event, (b, j) => (j === 3 ? b ^ 1 : b)) };
      expect(() => verifyLeafSignature(tampered, verifier, portableHasher)).toThrow(/does not verify/);
    }
  });

  it('rejects bad, missing, unknown and unexpected signatures, writing nothing', async () => {
    const sent = Array.from({ length: 3 }, () => encoded(sampleEvent()));
    const good = sign(sent);
    const size = log.service.size;
    const flipped = { ...good, signature: Uint8Array.from(good.signature, (b, i) => (i === 0 ? b ^ 0x80 : b)) };
    const cases: [RawClient, Record<string, unknown>, status, string, RegExp][] = [
      [signed, { signature: flipped }, status.INVALID_ARGUMENT, 'verification_failed', /does not verify/],
      [signed, {}, status.INVALID_ARGUMENT, 'invalid_argument', /signature is required/],
      [signed, { signature: { ...good, keyId: (good.keyId ^ 1) >>> 0 } }, status.INVALID_ARGUMENT, 'verification_failed', /not a registered key/],
      // Signed over other events (the first one left out).
      [signed, { signature: sign(sent.slice(1)) }, status.INVALID_ARGUMENT, 'verification_failed', /does not verify/],
      [plain, { signature: good }, status.INVALID_ARGUMENT, 'invalid_argument', /no registered key/],
    ];
    for (const [client, extra, code, reason, message] of cases) {
      const err = await client.fail('SubmitBatch', SubmitBatchRequestSchema, { events: sent, ...extra });
      expect(err.code).toBe(code);
      expect(err.trailers['candor-error-code']).toBe(reason);
      expect(err.details).toMatch(message);
    }
    expect(log.service.size).toBe(size);
    // And the same events with the right signature go in.
    expect((await batch(signed, sent, { signature: good })).acks).toHaveLength(3);
  });
});
