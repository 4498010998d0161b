// Unauthenticated gRPC calls must cost the server nothing in proportion to what they send
// (issue 18 §3): they are refused on their metadata, before a byte of their message is read, and
// no call may send a message larger than the configured cap. Measured on a real `candor serve
// --grpc` child process: its resident memory under 8 concurrent unauthenticated 60 MiB
// SubmitBatch calls, sent by a raw HTTP/2 client so the attacker's side costs one shared buffer.
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, toBinary } from '@bufbuild/protobuf';
import { SubmitBatchRequestSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/grpc/server.js';
import { encoded, rawCall, registerProducers, sampleEvent, type TestProducer } from './helpers.js';
import { startLog, tempDir, type RunningLog } from '../helpers/server.js';

const MiB = 1024 * 1024;
/** The attack of issue 18: 8 concurrent unauthenticated SubmitBatch calls of 60 MiB. */
const CALLS = 8;
const MESSAGE = 60 * MiB;

/** A field of /proc/<pid>/status (VmRSS, VmHWM), in bytes. */
function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('unauthenticated gRPC calls', () => {
  const dir = tempDir();
  let log: RunningLog;
  let address: string;
  let gw: TestProducer;

  beforeAll(async () => {
    gw = registerProducers(dir, [{ id: 'gw' }]).gw!;
    log = await startLog({ dir, origin: 'memory.example/log', args: ['--grpc', '127.0.0.1:0'] });
    address = /gRPC candor\.v1\.LogService on (\S+)/.exec(log.output())![1]!;
  }, 30_000);

  afterAll(async () => {
    await log?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cost no memory in proportion to their size', async () => {
    const pid = log.proc.pid!;
    const body = new Uint8Array(MESSAGE).fill(0x12);
    // The attack of the issue (8 calls of 60 MiB, over the size cap), then 16 calls of messages
    // just under the cap, which only the refusal on metadata keeps from being read.
    const waves = [
      { calls: CALLS, length: MESSAGE },
      { calls: 16, length: DEFAULT_MAX_MESSAGE_BYTES - 1024 },
    ];
    const before = procStatus(pid, 'VmRSS');
    for (const w of waves) {
      const sessions = Array.from({ length: w.calls }, () => connect(`http://${address}`));
      try {
        const answers = await Promise.all(
          sessions.map((s, i) =>
            rawCall(s, '/candor.v1.LogService/SubmitBatch', i % 2 ? { authorization: 'Bearer candor_pt_not-a-token' } : {}, w.length, body.subarray(0, w.length)),
          ),
        );
        const growth = procStatus(pid, 'VmHWM') - before;
        // Before the fix, the first wave grew the server by about 780 MiB (each message read
        // whole); with the size cap alone, the second by about 400 MiB. Refused on metadata:
        // about 1 MiB.
        expect(growth, `the server grew by ${(growth / MiB).toFixed(0)} MiB`).toBeLessThan(48 * MiB);
        for (const a of answers) {
          expect(a.status).toBe('16'); // UNAUTHENTICATED
          expect(a.message).toMatch(/credentials|token/);
        }
      } finally {
        for (const s of sessions) s.destroy();
      }
    }
  }, 60_000);

  it('refuses a message over the size cap, even from an authenticated producer, naming the limit', async () => {
    const session = connect(`http://${address}`);
    try {
      const body = new Uint8Array(20 * MiB);
      const a = await rawCall(session, '/candor.v1.LogService/SubmitBatch', { authorization: `Bearer ${gw.token}` }, body.length, body);
      expect(a.status).toBe('3'); // INVALID_ARGUMENT: a client mistake, not worth a retry
      expect(a.message).toMatch(/larger than 16777216 bytes.*grpcMaxMessageBytes/);
    } finally {
      session.destroy();
    }
  }, 30_000);

  it('still serves an authenticated producer', async () => {
    const session = connect(`http://${address}`);
    try {
      const msg = toBinary(SubmitBatchRequestSchema, create(SubmitBatchRequestSchema, { events: [encoded(sampleEvent())] }));
      const a = await rawCall(session, '/candor.v1.LogService/SubmitBatch', { authorization: `Bearer ${gw.token}` }, msg.length, msg);
      expect(a.status).toBe('0');
    } finally {
      session.destroy();
    }
  }, 30_000);
});
