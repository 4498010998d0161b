/**
 * CandorError codes to HTTP statuses, in one place. Client mistakes are 4xx with a JSON body
 * {error: {code, message}}; internal failures are 500 with a generic message (details are logged,
 * never sent).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CandorError, type ErrorCode } from '@candor/core/errors';
import type { LogMetrics } from '../log/metrics.js';
import { decimalMismatch } from './params.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  out_of_range: 400,
  verification_failed: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  resource_exhausted: 503,
  // The caller's own limit, not the log's capacity: 429, as RFC 6585 §4 asks.
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
  data_loss: 500,
};

/** fastify's own errors for malformed requests, as our codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_argument',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_argument',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_argument',
  FST_ERR_VALIDATION: 'invalid_argument',
};

export function toCandorError(err: unknown): CandorError {
  if (err instanceof CandorError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    const v = fe.validation[0];
    const strict = v?.keyword === 'pattern' ? decimalMismatch(v.params.pattern, v.instancePath.replace(/^\//, '')) : undefined;
    if (strict) return new CandorError('invalid_argument', strict);
    return new CandorError('invalid_argument', `${fe.validationContext ?? 'request'} ${fe.message.replace(/^(querystring|body|params)\/?/, '')}`.trim());
  }
  const code = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (code) return new CandorError(code, fe.message);
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new CandorError('invalid_argument', fe.message);
  }
  return new CandorError('internal', 'internal error', { cause: err });
}

export function errorHandler(metrics?: LogMetrics) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const e = toCandorError(err);
    const status = HTTP_STATUS[e.code];
    if (status >= 500 && (e.code === 'internal' || e.code === 'data_loss')) req.log.error({ err }, 'internal error');
    metrics?.rejected.inc({ reason: e.code });
    if (e.retryAfterMs !== undefined) reply.header('Retry-After', String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
    return reply.code(status).type('application/json; charset=utf-8').send({ error: { code: e.code, message: e.message } });
  };
}
