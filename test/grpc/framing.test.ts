// gRPC framing mistakes are the client's, so never INTERNAL (issue 18 §5): grpc-js refuses a bad
// grpc-timeout and a compressed message that does not decompress as INTERNAL, and an over-size
// message as RESOURCE_EXHAUSTED; the log answers each INVALID_ARGUMENT naming the mistake
// (src/grpc/guard.ts). Sent by a raw HTTP/2 client, as no gRPC library would send them; and a
// call to a public method that sends far more than any of its requests is reset.
import { connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { GetCheckpointRequestSchema, SubmitBatchRequestSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { encoded, rawCall, sampleEvent, startEventLog, type EventLog } from './helpers.js';

let log: EventLog;
beforeAll(async () => {
  log = await startEventLog([{ id: 'gw' }]);
});
afterAll(async () => {
  await log?.cleanup();
});

const CHECKPOINT = '/candor.v1.LogService/GetCheckpoint';
const SUBMIT = '/candor.v1.LogService/SubmitBatch';

describe('gRPC framing mistakes', () => {
  it('a grpc-timeout that is not a timeout: INVALID_ARGUMENT naming it', async () => {
    const s = connect(`http://${log.address}`);
    try {
      const empty = toBinary(GetCheckpointRequestSchema, create(GetCheckpointRequestSchema, {}));
      for (const t of ['abc', '1x', 'S']) {
        const a = await rawCall(s, CHECKPOINT, { 'grpc-timeout': t }, empty.length, empty);
        expect(a, t).toEqual({ status: '3', message: `grpc-timeout "${t}" is not a timeout: gRPC over HTTP/2 takes 1 to 8 digits and a unit (H, M, S, m, u or n), such as 100m`, code: 'invalid_argument' });
      }
      // A valid one is served.
      expect((await rawCall(s, CHECKPOINT, { 'grpc-timeout': '5S' }, empty.length, empty)).status).toBe('0');
    } finally {
      s.destroy();
    }
  });

  it('a message flagged gzip that is not gzip: INVALID_ARGUMENT, on public and authenticated methods', async () => {
    const s = connect(`http://${log.address}`);
    try {
      const junk = Buffer.from('this is not gzip at all');
      for (const [path, headers] of [
        [CHECKPOINT, {}],
        [SUBMIT, { authorization: `Bearer ${log.creds.gw!.token}` }],
      ] as const) {
        const a = await rawCall(s, path, { 'grpc-encoding': 'gzip', ...headers }, junk.length, junk, true);
        expect(a, path).toEqual({ status: '3', message: 'the request message is flagged as compressed but does not decompress with its grpc-encoding', code: 'invalid_argument' });
      }
      // Real gzip is accepted.
      const msg = gzipSync(toBinary(SubmitBatchRequestSchema, create(SubmitBatchRequestSchema, { events: [encoded(sampleEvent())] })));
      expect((await rawCall(s, SUBMIT, { 'grpc-encoding': 'gzip', authorization: `Bearer ${log.creds.gw!.token}` }, msg.length, msg, true)).status).toBe('0');
    } finally {
      s.destroy();
    }
  });

  it('a public method sent far more than any of its requests: the stream is reset (ENHANCE_YOUR_CALM), not read', async () => {
    const s = connect(`http://${log.address}`);
    try {
      const big = new Uint8Array(1024 * 1024);
      await expect(rawCall(s, CHECKPOINT, {}, big.length, big)).rejects.toThrow(/ENHANCE_YOUR_CALM|rst 11/);
      const empty = new Uint8Array();
      expect((await rawCall(s, CHECKPOINT, {}, 0, empty)).status).toBe('0');
    } finally {
      s.destroy();
    }
  });
});
