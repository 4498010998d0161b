/**
 * The one error type of Candor. Every failure a client can cause carries a stable code; the
 * transports map codes to statuses in one place each (src/http/errors.ts, later gRPC).
 */
export type ErrorCode =
  | 'invalid_argument' // malformed input; the message names the field
  | 'out_of_range' // an index or size beyond the tree
  | 'not_found'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unauthenticated'
  | 'permission_denied'
  | 'conflict'
  | 'resource_exhausted' // retryable: the log's queue is full
  | 'rate_limited' // retryable: this producer's rate limit or daily quota is spent
  | 'unavailable' // retryable: storage failing, shutting down
  | 'verification_failed' // a signature or proof that does not verify
  | 'data_loss' // stored data that is damaged or missing; the message names it
  | 'internal';

export class CandorError extends Error {
  readonly code: ErrorCode;
  /** For retryable errors: how long the client should wait, in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, options?: { retryAfterMs?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CandorError';
    this.code = code;
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export function invalid(message: string): CandorError {
  return new CandorError('invalid_argument', message);
}
