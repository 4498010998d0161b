/**
 * CandorError codes to gRPC status codes, in one place (the HTTP table is src/http/errors.ts).
 * Client mistakes never map to INTERNAL. Every error carries the trailer `candor-error-code`
 * (Candor's stable code, finer than the status), and retryable ones carry
 * `grpc-retry-pushback-ms`, the delay the gRPC retry design (gRFC A6) lets a server ask for.
 * Internal failures are logged and answered with a generic message, never the cause.
 */
import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import { CandorError, type ErrorCode } from '../core/errors.js';

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
  unavailable: status.UNAVAILABLE,
  internal: status.INTERNAL,
};

export const ERROR_CODE_TRAILER = 'candor-error-code';
export const RETRY_PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';

/** The status a handler answers with; `log` sees internal failures (with their cause). */
export function toGrpcStatus(err: unknown, log?: (err: unknown) => void): Partial<StatusObject> & { code: status; details: string; metadata: Metadata } {
  const e = err instanceof CandorError ? err : new CandorError('internal', 'internal error', { cause: err });
  const code = GRPC_STATUS[e.code];
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, e.code);
  if (e.retryAfterMs !== undefined) metadata.set(RETRY_PUSHBACK_TRAILER, String(Math.max(0, Math.round(e.retryAfterMs))));
  if (e.code === 'internal') {
    log?.(err);
    return { code, details: 'internal error', metadata };
  }
  return { code, details: e.message, metadata };
}
