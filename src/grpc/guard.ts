/**
 * What a gRPC caller may cost before it is known (issue 18 §3), and how grpc-js's own refusals of
 * malformed calls are answered.
 *
 *  - authInterceptor: a grpc-js server interceptor that checks each call's credentials on its
 *    metadata, before a byte of its message is read (grpc-js keeps the HTTP/2 stream paused until
 *    the handler asks for a message, so a refused call never has more than the stream's
 *    flow-control window buffered). Methods without a check are public (checkpoints, proofs).
 *  - guardTransport: on the HTTP/2 server grpc-js listens with, caps what a call to a public
 *    method may send (a few KiB are enough for any of their requests) and how many such calls may
 *    be open at once across all connections; and answers the framing mistakes grpc-js refuses as
 *    INTERNAL (a bad grpc-timeout, a compressed message that does not decompress) or as
 *    RESOURCE_EXHAUSTED (an over-size message: not worth a retry) as INVALID_ARGUMENT, naming the
 *    mistake, with Candor's error code trailer.
 */
import { constants as h2, type Http2Server, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { Metadata, ServerInterceptingCall, status, type Server, type ServerInterceptor, type StatusObject } from '@grpc/grpc-js';
import { ERROR_CODE_TRAILER } from './errors.js';

/** A credential check for one method: throws CandorError to refuse. */
export type CallCheck = (metadata: Metadata, call: ServerInterceptingCall | Parameters<ServerInterceptor>[1]) => void;

/**
 * Refuses a call on its metadata when the check for its method (by full path,
 * "/candor.v1.LogService/SubmitBatch") throws; `refusal` turns the error into the status sent.
 */
export function authInterceptor(checks: ReadonlyMap<string, CallCheck>, refusal: (err: unknown) => Partial<StatusObject>): ServerInterceptor {
  return (method, call) => {
    const check = checks.get(method.path);
    if (!check) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            try {
              check(metadata, call);
            } catch (err) {
              call.sendStatus({ metadata: null, ...refusal(err) } as StatusObject);
              return;
            }
            pass(metadata);
          },
        }),
    });
  };
}

export interface TransportLimits {
  /** Method paths that are served without credentials. */
  publicMethods: ReadonlySet<string>;
  /** Bytes a call to a public method may send (its request message and framing). */
  publicRequestBytes: number;
  /** Calls to public methods open at once, over all connections. */
  publicStreams: number;
  /** The largest request message, as configured (for the message of an over-size refusal). */
  maxMessageBytes: number;
}

/** What grpc-js answers a framing mistake with, and how we answer it instead. */
const FRAMING: { code: status; match: RegExp; answer: (m: RegExpExecArray, l: TransportLimits) => string; candor: string }[] = [
  {
    code: status.INTERNAL,
    match: /^Invalid grpc-timeout value "(.*)"$/s,
    answer: (m) => `grpc-timeout ${JSON.stringify(m[1])} is not a timeout: gRPC over HTTP/2 takes 1 to 8 digits and a unit (H, M, S, m, u or n), such as 100m`,
    candor: 'invalid_argument',
  },
  {
    code: status.INTERNAL,
    match: /^Failed to decompress message$/,
    answer: () => 'the request message is flagged as compressed but does not decompress with its grpc-encoding',
    candor: 'invalid_argument',
  },
  {
    code: status.INTERNAL,
    match: /^Error deserializing request/,
    answer: () => 'the request message cannot be decoded',
    candor: 'invalid_argument',
  },
  {
    code: status.RESOURCE_EXHAUSTED,
    match: /^Received message (?:that decompresses to a size )?larger than (?:max )?\(?(\d+)/,
    answer: (_m, l) => `the request message is larger than ${l.maxMessageBytes} bytes, the log's limit (config grpcMaxMessageBytes); send fewer events per request`,
    candor: 'payload_too_large',
  },
];

/** The status to send instead of a grpc-js framing refusal, or undefined to send it as it is. */
function reanswer(headers: OutgoingHttpHeaders, limits: TransportLimits): OutgoingHttpHeaders | undefined {
  const code = Number(headers['grpc-status']);
  if (!Number.isInteger(code) || code === status.OK) return undefined;
  let message: string;
  try {
    message = decodeURI(String(headers['grpc-message'] ?? ''));
  } catch {
    return undefined;
  }
  for (const f of FRAMING) {
    const m = f.code === code ? f.match.exec(message) : null;
    if (m) return { ...headers, 'grpc-status': String(status.INVALID_ARGUMENT), 'grpc-message': encodeURI(f.answer(m, limits)), [ERROR_CODE_TRAILER]: f.candor };
  }
  return undefined;
}

/**
 * Applies the limits to every HTTP/2 server the grpc-js server listens with (call after
 * bindAsync). grpc-js does not expose its HTTP/2 servers; a version that renames the field fails
 * here, at start-up, rather than serving without the limits.
 */
export function guardTransport(server: Server, limits: TransportLimits): void {
  const servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) throw new Error('bad assumption: @grpc/grpc-js no longer keeps its HTTP/2 servers in Server.http2Servers');
  let open = 0;
  for (const h of servers.keys()) {
    // Before grpc-js's own listener, so the stream's answers pass through ours.
    h.prependListener('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      const respond = stream.respond.bind(stream);
      stream.respond = (hs, opts) => respond(hs && reanswer(hs, limits) ? reanswer(hs, limits) : hs, opts);
      const sendTrailers = stream.sendTrailers.bind(stream);
      stream.sendTrailers = (hs) => sendTrailers(reanswer(hs, limits) ?? hs);

      if (!limits.publicMethods.has(String(headers[':path']))) return;
      if (open >= limits.publicStreams) {
        // Too many unauthenticated calls at once: refused, and a client may retry (UNAVAILABLE).
        stream.close(h2.NGHTTP2_REFUSED_STREAM);
        return;
      }
      open++;
      stream.once('close', () => open--);
      let received = 0;
      // Counted as grpc-js reads the stream (this listener does not make it flow).
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        // ENHANCE_YOUR_CALM: a gRPC client reports RESOURCE_EXHAUSTED, never INTERNAL.
        if (received > limits.publicRequestBytes) stream.close(h2.NGHTTP2_ENHANCE_YOUR_CALM);
      });
    });
  }
}
