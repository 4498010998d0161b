/**
 * The ceiling for gRPC ingest: a grpc-js server with Candor's LogService definition whose
 * SubmitBatch decodes the request and answers a same-shape response (one ack per event, with a
 * leaf hash and a 20-hash proof, and a checkpoint) without any work. Run as a child process by
 * bench/grpc.ts; prints "serving on grpc://127.0.0.1:<port>".
 */
import { Server, ServerCredentials, type ServerUnaryCall, type UntypedHandleCall, type sendUnaryData } from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { SubmitBatchRequestSchema, SubmitBatchResponseSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { logServiceDefinition } from '@candor/schema/grpc';

const hash = new Uint8Array(32).fill(7);
const proof = Array.from({ length: 20 }, () => hash);
const checkpoint = `bench.example/log\n1000000\n${'C'.repeat(44)}\n\n\u2014 bench.example/log ${'D'.repeat(92)}\n`;
const server = new Server({ 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
const unimplemented = (_call: unknown, cb: sendUnaryData<Uint8Array>) => cb({ code: 12, details: 'not in the no-op server' });
const handlers: Record<string, UntypedHandleCall> = Object.fromEntries(Object.keys(logServiceDefinition).map((k) => [k, unimplemented as UntypedHandleCall]));
const submitBatch = (call: ServerUnaryCall<Uint8Array, Uint8Array>, cb: sendUnaryData<Uint8Array>) => {
  const req = fromBinary(SubmitBatchRequestSchema, call.request);
  const n = req.events.length + req.eventMessages.length;
  const res = create(SubmitBatchResponseSchema, {
    requestId: req.requestId,
    checkpoint,
    producer: 'bench',
    acks: Array.from({ length: n }, (_, i) => ({ index: BigInt(i), leafHash: hash, treeSize: 1_000_000n, inclusionProof: proof })),
  });
  cb(null, toBinary(SubmitBatchResponseSchema, res));
};
handlers.SubmitBatch = submitBatch as UntypedHandleCall;
server.addService(logServiceDefinition, handlers);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`serving on grpc://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
