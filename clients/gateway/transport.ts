/**
 * The SDK's gRPC transport: candor.v1.LogService calls over @grpc/grpc-js with protobuf-es
 * messages, and gRPC statuses turned back into CandorErrors (the code from the server's
 * `candor-error-code` trailer, the retry delay from `grpc-retry-pushback-ms`).
 */
import { readFileSync } from 'node:fs';
import { Client, Metadata, credentials as grpcCredentials, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { CandorError, type ErrorCode } from '@candor/core/errors';
import {
  GetCheckpointRequestSchema,
  GetCheckpointResponseSchema,
  GetConsistencyProofRequestSchema,
  GetConsistencyProofResponseSchema,
  GetInclusionProofRequestSchema,
  GetInclusionProofResponseSchema,
  SubmitBatchRequestSchema,
  SubmitBatchResponseSchema,
  type SubmitBatchRequest,
  type SubmitBatchResponse,
} from '@candor/schema/gen/candor/v1/log_service_pb';
import { logServiceDefinition } from '@candor/schema/grpc';

export interface TransportOptions {
  /**
   * host:port of the log's gRPC listener, or of several nodes of one log (docs/deployment.md, high
   * availability): calls go to one at a time, and a call answered UNAVAILABLE (a follower, a node
   * stopping, a connection refused) moves the next call to the next address. The client's retries
   * (same idempotency keys) then reach a live node.
   */
  address: string | readonly string[];
  /** The producer's bearer token. */
  token?: string;
  /** TLS: the CA that signed the log's certificate, and for mutual TLS the client certificate and key (PEM, contents or file paths). */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; serverName?: string };
  /** Per-call deadline. */
  deadlineMs?: number;
}

const CODE_BY_STATUS: Partial<Record<status, ErrorCode>> = {
  [status.INVALID_ARGUMENT]: 'invalid_argument',
  [status.OUT_OF_RANGE]: 'out_of_range',
  [status.NOT_FOUND]: 'not_found',
  [status.UNAUTHENTICATED]: 'unauthenticated',
  [status.PERMISSION_DENIED]: 'permission_denied',
  [status.ALREADY_EXISTS]: 'conflict',
  [status.RESOURCE_EXHAUSTED]: 'resource_exhausted',
  [status.UNAVAILABLE]: 'unavailable',
  [status.DEADLINE_EXCEEDED]: 'unavailable',
  [status.DATA_LOSS]: 'data_loss',
};

const KNOWN_CODES = new Set<string>([
  'invalid_argument',
  'out_of_range',
  'not_found',
  'payload_too_large',
  'unsupported_media_type',
  'unauthenticated',
  'permission_denied',
  'conflict',
  'resource_exhausted',
  'rate_limited',
  'unavailable',
  'verification_failed',
  'data_loss',
  'internal',
]);

/** A gRPC error as a CandorError: code, message and the delay the server asked for. */
export function fromServiceError(err: ServiceError): CandorError {
  const trailer = err.metadata?.get('candor-error-code')[0];
  const code: ErrorCode = typeof trailer === 'string' && KNOWN_CODES.has(trailer) ? (trailer as ErrorCode) : (CODE_BY_STATUS[err.code as status] ?? 'internal');
  const pushback = err.metadata?.get('grpc-retry-pushback-ms')[0];
  const ms = typeof pushback === 'string' && /^[0-9]+$/.test(pushback) ? Number(pushback) : undefined;
  return new CandorError(code, err.details || err.message, { ...(ms !== undefined ? { retryAfterMs: ms } : {}), cause: err });
}

function pem(v: string | Buffer | undefined): Buffer | null {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return v;
  return v.includes('-----BEGIN') ? Buffer.from(v) : readFileSync(v);
}

export class GrpcTransport {
  readonly #clients: Client[];
  #current = 0;
  readonly #token: string | undefined;
  readonly #deadlineMs: number;

  constructor(o: TransportOptions) {
    let creds: ChannelCredentials = grpcCredentials.createInsecure();
    const options: Record<string, string | number> = { 'grpc.max_send_message_length': 64 * 1024 * 1024, 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
    if (o.tls) {
      creds = grpcCredentials.createSsl(pem(o.tls.ca), pem(o.tls.key), pem(o.tls.cert));
      if (o.tls.serverName) options['grpc.ssl_target_name_override'] = o.tls.serverName;
    }
    const addresses = typeof o.address === 'string' ? [o.address] : [...o.address];
    if (addresses.length === 0) throw new CandorError('invalid_argument', 'address: give at least one host:port');
    this.#clients = addresses.map((a) => new Client(a, creds, options));
    this.#token = o.token;
    this.#deadlineMs = o.deadlineMs ?? 30_000;
  }

  #metadata(checkpoint?: string): Metadata {
    const md = new Metadata();
    if (this.#token !== undefined) md.set('authorization', `Bearer ${this.#token}`);
    // The last checkpoint the client accepted: a log behind it refuses to sequence (docs/fencing.md).
    if (checkpoint !== undefined) md.set('candor-checkpoint-bin', Buffer.from(checkpoint, 'utf8'));
    return md;
  }

  #unary<Q extends DescMessage, R extends DescMessage>(method: string, q: Q, r: R, req: MessageInitShape<Q> | MessageShape<Q>, deadlineMs?: number, checkpoint?: string): Promise<MessageShape<R>> {
    const def = logServiceDefinition[method]!;
    const bytes = toBinary(q, create(q, req as MessageInitShape<Q>));
    const at = this.#current;
    const client = this.#clients[at]!;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest<Uint8Array, Uint8Array>(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        bytes,
        this.#metadata(checkpoint),
        { deadline: Date.now() + (deadlineMs ?? this.#deadlineMs) },
        (err, res) => {
          if (err) {
            const e = fromServiceError(err);
            // Another node next time (once per failure, however many calls failed at once).
            if (e.code === 'unavailable' && this.#current === at) this.#current = (at + 1) % this.#clients.length;
            return reject(e);
          }
          try {
            resolve(fromBinary(r, res!));
          } catch (e) {
            reject(new CandorError('verification_failed', `the log answered a malformed ${r.typeName}: ${(e as Error).message}`));
          }
        },
      );
    });
  }

  submitBatch(req: SubmitBatchRequest | MessageInitShape<typeof SubmitBatchRequestSchema>, opts: { checkpoint?: string } = {}): Promise<SubmitBatchResponse> {
    return this.#unary('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, req, undefined, opts.checkpoint);
  }

  getCheckpoint() {
    return this.#unary('GetCheckpoint', GetCheckpointRequestSchema, GetCheckpointResponseSchema, {});
  }

  getInclusionProof(req: MessageInitShape<typeof GetInclusionProofRequestSchema>) {
    return this.#unary('GetInclusionProof', GetInclusionProofRequestSchema, GetInclusionProofResponseSchema, req);
  }

  getConsistencyProof(req: MessageInitShape<typeof GetConsistencyProofRequestSchema>) {
    return this.#unary('GetConsistencyProof', GetConsistencyProofRequestSchema, GetConsistencyProofResponseSchema, req);
  }

  close(): void {
    for (const c of this.#clients) c.close();
  }
}
