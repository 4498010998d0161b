/**
 * The grpc-js service definition of candor.v1.LogService, derived from the generated descriptor
 * (src/gen), so the method paths and streaming kinds cannot drift from the proto. Messages cross
 * grpc-js as bytes: handlers decode them with protobuf-es themselves, which lets a malformed
 * request be answered INVALID_ARGUMENT (grpc-js would answer its own deserialiser's failure with
 * INTERNAL). The gateway SDK uses the same definition on the client side.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import type { DescService } from '@bufbuild/protobuf';
import { LogService } from '@candor/schema/gen/candor/v1/log_service_pb';
import { QueryService } from '@candor/schema/gen/candor/v1/query_service_pb';

export type BytesMethod = MethodDefinition<Uint8Array, Uint8Array>;

const toBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const asBytes = (b: Buffer): Uint8Array => b;

export const LOG_SERVICE_NAME = LogService.typeName;

/** The grpc-js definition of a generated service, messages as bytes. */
function bytesDefinition(service: DescService): ServiceDefinition & Record<string, BytesMethod> {
  return Object.fromEntries(
    service.methods.map((m) => [
      m.name,
      {
        path: `/${service.typeName}/${m.name}`,
        requestStream: m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming',
        responseStream: m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming',
        requestSerialize: toBuffer,
        requestDeserialize: asBytes,
        responseSerialize: toBuffer,
        responseDeserialize: asBytes,
        originalName: m.localName,
      } satisfies BytesMethod,
    ]),
  );
}

export const logServiceDefinition = bytesDefinition(LogService);
/** candor.v1.QueryService: search and live tail (src/grpc/query.ts). */
export const queryServiceDefinition = bytesDefinition(QueryService);
