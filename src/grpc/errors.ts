/**
 * CandorError codes to gRPC status codes, in one place (the HTTP table is src/http/errors.ts).
 * Client mistakes never map to INTERNAL. Every error carries the trailer `candor-error-code`
 * (Candor's stable code, finer than the status), and retryable ones carry
 * `grpc-retry-pushback-ms`, the delay the gRPC retry design (gRFC A6) lets a server ask for.
 * Internal failures are logged and answered with a generic message, never the cause.
 */
import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { CandorError, type ErrorCode } from '@candor/core/errors';

export const GRPC_STATUS: Record<ErrorCode, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  // An oversize event or request is the client's mistake, not a resource running out:
  // RESOURCE_EXHAUSTED would tell a client to retry it.
  payload_too_large: status.INVALID_ARGUMENT,
  unsupported_media_type: status.INVALID_ARGUMENT,
  verification_failed: status.INVALID_ARGUMENT,
  out_of_range: status.OUT_OF_RANGE,
  not_found: status.NOT_FOUND,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  conflict: status.ALREADY_EXISTS,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  rate_limited: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  internal: status.INTERNAL,
  data_loss: status.DATA_LOSS,
};

export const ERROR_CODE_TRAILER = 'candor-error-code';
export const RETRY_PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';
/** Whole seconds to wait, as HTTP's Retry-After says it, for clients that read no other hint. */
export const RETRY_AFTER_TRAILER = 'retry-after';
/** The rich error model's trailer: a google.rpc.Status, here with a google.rpc.RetryInfo. */
export const STATUS_DETAILS_TRAILER = 'grpc-status-details-bin';

/**
 * google.rpc.Status{code, message, details: [Any(google.rpc.RetryInfo{retry_delay})]} in binary
 * (googleapis google/rpc/status.proto, error_details.proto), written field by field: these two
 * messages are all Candor uses of googleapis, so it does not generate them.
 */
export function retryInfoStatus(code: status, message: string, retryAfterMs: number): Uint8Array {
  const ms = Math.max(0, Math.round(retryAfterMs));
  const duration = new BinaryWriter().tag(1, WireType.Varint).int64(Math.floor(ms / 1000)).tag(2, WireType.Varint).int32((ms % 1000) * 1_000_000).finish();
  const retryInfo = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(duration).finish();
  const any = new BinaryWriter().tag(1, WireType.LengthDelimited).string('type.googleapis.com/google.rpc.RetryInfo').tag(2, WireType.LengthDelimited).bytes(retryInfo).finish();
  return new BinaryWriter().tag(1, WireType.Varint).int32(code).tag(2, WireType.LengthDelimited).string(message).tag(3, WireType.LengthDelimited).bytes(any).finish();
}

/** The status a handler answers with; `log` sees internal failures (with their cause). */
export function toGrpcStatus(err: unknown, log?: (err: unknown) => void): Partial<StatusObject> & { code: status; details: string; metadata: Metadata } {
  const e = err instanceof CandorError ? err : new CandorError('internal', 'internal error', { cause: err });
  const code = GRPC_STATUS[e.code];
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, e.code);
  if (e.retryAfterMs !== undefined) metadata.set(RETRY_PUSHBACK_TRAILER, String(Math.max(0, Math.round(e.retryAfterMs))));
  if (e.code === 'rate_limited' && e.retryAfterMs !== undefined) {
    metadata.set(RETRY_AFTER_TRAILER, String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
    metadata.set(STATUS_DETAILS_TRAILER, Buffer.from(retryInfoStatus(code, e.message, e.retryAfterMs)));
  }
  if (e.code === 'internal') {
    log?.(err);
    return { code, details: 'internal error', metadata };
  }
  return { code, details: e.message, metadata };
}
