// gRPC calls carry a request ID: the caller's x-request-id when it is acceptable, else a fresh one,
// echoed in the response metadata.
import { Metadata } from '@grpc/grpc-js';
import { toBinary, create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCheckpointRequestSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { logServiceDefinition } from '@candor/schema/grpc';
import { RawClient, startEventLog, type EventLog } from './helpers.js';

let log: EventLog;
let client: RawClient;
beforeAll(async () => {
  log = await startEventLog([]);
  client = new RawClient(log.address);
});
afterAll(async () => {
  client?.close();
  await log?.cleanup();
});

/** The x-request-id a GetCheckpoint call is answered with, for the one it sends (if any). */
function echoed(sent?: string): Promise<string | undefined> {
  const def = logServiceDefinition.GetCheckpoint!;
  const md = new Metadata();
  if (sent !== undefined) md.set('x-request-id', sent);
  return new Promise((resolve, reject) => {
    let got: string | undefined;
    const call = client.client.makeUnaryRequest<Uint8Array, Uint8Array>(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      toBinary(GetCheckpointRequestSchema, create(GetCheckpointRequestSchema, {})),
      md,
      { deadline: Date.now() + 10_000 },
      (err) => (err ? reject(err) : resolve(got)),
    );
    call.on('metadata', (m: Metadata) => (got = m.get('x-request-id')[0] as string | undefined));
  });
}

describe('gRPC request IDs', () => {
  it('echoes an acceptable x-request-id and replaces others with a fresh one', async () => {
    expect(await echoed('gw-7:req.42')).toBe('gw-7:req.42');
    expect(await echoed('has spaces and "quotes"')).toMatch(/^[0-9a-f-]{36}$/);
    const a = await echoed();
    const b = await echoed();
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).not.toBe(a);
  });
});
