// The hand-written answer encoding against protobuf-es's toBinary, byte for byte, on random
// responses: every field at zero and not, varints of every length, negative timestamps.
import { describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { toHex } from '../../src/core/bytes.js';
import { encodeSubmitAnswer, type SubmitAnswer } from '../../src/grpc/acks.js';
import { mulberry32 } from '../helpers/random.js';
import { AuthMethod, SubmitBatchResponseSchema, SubmitStreamResponseSchema, type EventAck } from '../../src/gen/candor/v1/log_service_pb.js';

const rand = mulberry32(0x9e3779b9);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => rand(256));

/** 0, small, around every 7-bit boundary, 2^53 and up to 2^64 - 1. */
function u64(): bigint {
  switch (rand(4)) {
    case 0:
      return 0n;
    case 1:
      return BigInt(rand(300));
    case 2:
      return (1n << BigInt(rand(64))) - BigInt(rand(2));
    default:
      return (BigInt(rand(2 ** 31)) * BigInt(rand(2 ** 31)) * BigInt(1 + rand(2 ** 20))) & ((1n << 64n) - 1n);
  }
}

function ack(): EventAck {
  const a: EventAck = {
    $typeName: 'candor.v1.EventAck',
    index: u64(),
    leafHash: bytes(rand(3) === 0 ? 0 : 32),
    treeSize: u64(),
    inclusionProof: Array.from({ length: rand(25) }, () => bytes(rand(10) === 0 ? rand(200) : 32)),
    duplicate: rand(2) === 0,
    leaf: bytes(rand(2) === 0 ? 0 : rand(3) === 0 ? 200 + rand(20_000) : rand(400)),
  };
  if (rand(4) !== 0) {
    const seconds = rand(5) === 0 ? -BigInt(rand(2 ** 31)) : rand(5) === 0 ? 0n : BigInt(rand(2 ** 31)) * BigInt(1 + rand(3));
    const nanos = rand(4) === 0 ? 0 : rand(6) === 0 ? -rand(1e9) : rand(1e9);
    a.receivedAt = { $typeName: 'google.protobuf.Timestamp', seconds, nanos };
  }
  return a;
}

function answer(): SubmitAnswer {
  const strings = ['', 'gw-1', 'prodücer-ß', 'x'.repeat(rand(300))];
  return {
    requestId: u64(),
    checkpoint: rand(5) === 0 ? '' : `log.example/v1\n${rand(1e9)}\n${toHex(bytes(32))}\n\n— log.example/v1 ${toHex(bytes(rand(80)))}\n`,
    producer: strings[rand(strings.length)]!,
    authMethod: [AuthMethod.UNSPECIFIED, AuthMethod.BEARER_TOKEN, AuthMethod.MTLS, 4, 200][rand(5)]!,
    acks: Array.from({ length: rand(6) === 0 ? 0 : rand(3) === 0 ? 256 : 1 + rand(20) }, ack),
  };
}

describe('encodeSubmitAnswer', () => {
  it('writes exactly what toBinary writes, for SubmitBatchResponse and SubmitStreamResponse', () => {
    for (let i = 0; i < 500; i++) {
      const r = answer();
      const mine = encodeSubmitAnswer(r);
      expect(toHex(mine)).toBe(toHex(toBinary(SubmitBatchResponseSchema, create(SubmitBatchResponseSchema, r))));
      expect(toHex(mine)).toBe(toHex(toBinary(SubmitStreamResponseSchema, create(SubmitStreamResponseSchema, r))));
    }
  });

  it('decodes back to the response it encoded', () => {
    for (let i = 0; i < 50; i++) {
      const r = answer();
      const back = fromBinary(SubmitBatchResponseSchema, encodeSubmitAnswer(r));
      expect(back.acks.length).toBe(r.acks.length);
      expect(back.requestId).toBe(r.requestId);
      expect(back.producer).toBe(r.producer);
      back.acks.forEach((a, k) => {
        expect(a.index).toBe(r.acks[k]!.index);
        expect(a.inclusionProof.map(toHex)).toEqual(r.acks[k]!.inclusionProof.map(toHex));
      });
    }
  });
});
