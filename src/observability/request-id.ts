/**
 * Request IDs: every HTTP request and gRPC call gets one, and every log line written while serving
 * it carries it (pino's `reqId`). A caller may bring its own in `X-Request-Id` (a proxy or a
 * gateway tracing its calls end to end); it is kept only if it is a short token of safe
 * characters, so nothing a client sends can forge log structure. The ID is echoed back in
 * `X-Request-Id` (HTTP header, gRPC response metadata).
 */
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';

const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request ID if it is acceptable, else a fresh random one. */
export function requestId(incoming: unknown): string {
  const v = Array.isArray(incoming) ? incoming[0] : incoming;
  return typeof v === 'string' && SAFE.test(v) ? v : randomUUID();
}
