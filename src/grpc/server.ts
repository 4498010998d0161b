/**
 * The gRPC surface of a log (proto/candor/v1/log_service.proto) on @grpc/grpc-js: a thin adapter
 * over the same service layer as HTTP. Submissions go to EventIngest, reads to LogService; the
 * adapter decodes requests, extracts credentials (bearer token, client certificate), encodes
 * answers and maps errors (errors.ts). No operation is implemented here.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import {
  Metadata,
  Server,
  ServerCredentials,
  experimental,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError, invalid } from '@candor/core/errors';
import type { EventIngest, SubmitEventsInput, SubmitEventsResult } from '../events/ingest.js';
import {
  GetCheckpointRequestSchema,
  GetCheckpointResponseSchema,
  GetConsistencyProofRequestSchema,
  GetConsistencyProofResponseSchema,
  GetEntriesRequestSchema,
  GetEntriesResponseSchema,
  GetInclusionProofRequestSchema,
  GetInclusionProofResponseSchema,
  SubmitBatchRequestSchema,
  SubmitBatchResponseSchema,
  SubmitRequestSchema,
  SubmitResponseSchema,
  SubmitStreamRequestSchema,
  SubmitStreamResponseSchema,
  WatchCheckpointsRequestSchema,
  WatchCheckpointsResponseSchema,
} from '@candor/schema/gen/candor/v1/log_service_pb';
import type { LogMetrics } from '../log/metrics.js';
import type { LogService } from '../log/service.js';
import { bearerCredentials, type Credentials } from '../producers/registry.js';
import type { SearchService } from '../query/search.js';
import { entryReaders, type Authorize } from '../query/access.js';
import { logServiceDefinition, queryServiceDefinition } from '@candor/schema/grpc';
import { toGrpcStatus } from './errors.js';
import { authInterceptor, guardTransport, type CallCheck } from './guard.js';
import { REQUEST_ID_HEADER, requestId } from '../observability/request-id.js';
import { queryHandlers } from './query.js';

/** GetEntries answers at most this many entries per call; the client asks again for more. */
export const MAX_ENTRIES_PER_CALL = 10_000;
/** Requests a SubmitStream may have in flight before the server stops reading it. */
export const STREAM_WINDOW = 16;
/**
 * The largest request message by default: the SDKs' default batch (256 events) of events of the
 * largest size (MAX_EVENT_SIZE, 60 KiB), with their framing, is 15 MiB; 16 MiB leaves a margin.
 * A full batch of 4096 events fits when they average under 4 KiB. Config grpcMaxMessageBytes.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Responses (GetEntries pages of up to 10,000 entries of up to 64 KiB) may be larger. */
const MAX_SEND_MESSAGE_BYTES = 64 * 1024 * 1024;
/** What a call to a public method (checkpoints, proofs) may send: its requests are a few bytes. */
const PUBLIC_REQUEST_BYTES = 16 * 1024;
/** Calls to public methods open at once, over all connections: at most 16 MiB of requests held. */
const PUBLIC_STREAMS = 1024;

export interface GrpcTls {
  certFile: string;
  keyFile: string;
  /** CA for client certificates; when set, clients may authenticate with mutual TLS. */
  clientCaFile?: string;
}

export interface GrpcServerOptions {
  service: LogService;
  events: EventIngest;
  /** Emits 'checkpoint' after each commit (the sequencer), for WatchCheckpoints. */
  checkpoints: { on(e: 'checkpoint', fn: () => void): unknown; off(e: 'checkpoint', fn: () => void): unknown };
  address: string;
  tls?: GrpcTls;
  metrics?: LogMetrics;
  logger?: { error(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
  /** Search and live tail: served as candor.v1.QueryService (src/grpc/query.ts) when given. */
  search?: SearchService;
  /** The largest request message (config grpcMaxMessageBytes); default DEFAULT_MAX_MESSAGE_BYTES. */
  maxMessageBytes?: number;
  /** Readers (auditors): GetEntries needs one with read-log unless `publicEntries`, QueryService one with search. */
  authorize?: Authorize;
  /** GetEntries to anyone (config publicEntries). */
  publicEntries?: boolean;
}

export interface GrpcServer {
  /** host:port actually bound. */
  address: string;
  port: number;
  /** Ends open watches, stops taking calls and waits (up to `graceMs`) for calls in flight. */
  close(graceMs?: number): Promise<void>;
}

function decode<D extends DescMessage>(schema: D, bytes: Uint8Array): MessageShape<D> {
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    throw invalid(`request is not a valid ${schema.typeName}: ${(err as Error).message}`);
  }
}

function encode<D extends DescMessage>(schema: D, init: Parameters<typeof create<D>>[1]): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/** A uint64 from a request as a safe integer. */
function int(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CandorError('out_of_range', `${field} is too large`);
  return Number(v);
}

/** The checkpoint the client last accepted (docs/fencing.md), from its metadata. */
function clientCheckpoint(metadata: Metadata): Uint8Array | undefined {
  const v = metadata.get(CLIENT_CHECKPOINT_HEADER)[0];
  return v === undefined ? undefined : typeof v === 'string' ? new TextEncoder().encode(v) : v;
}

/** gRPC metadata carrying the client's last accepted checkpoint note (binary: the -bin suffix). */
export const CLIENT_CHECKPOINT_HEADER = 'candor-checkpoint-bin';

function credentials(call: Pick<ServerUnaryCall<Uint8Array, Uint8Array>, 'metadata' | 'getAuthContext'>): Credentials {
  const auth = call.metadata.get('authorization');
  const header = auth.length === 0 ? undefined : auth.length === 1 && typeof auth[0] === 'string' ? auth[0] : '';
  return bearerCredentials(header, call.getAuthContext()?.sslPeerCertificate);
}

function noteSize(note: string): number {
  return parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1)).size;
}

function batchInput(req: Pick<SubmitEventsInput, 'events' | 'eventMessages'> & { requestId: bigint; signature?: { keyId: number; signature: Uint8Array } }): SubmitEventsInput {
  return { requestId: req.requestId, events: req.events, eventMessages: req.eventMessages, signature: req.signature };
}

function responseInit(r: SubmitEventsResult) {
  return { requestId: r.requestId, checkpoint: r.checkpoint, producer: r.producer, authMethod: r.authMethod, acks: r.acks };
}

export async function startGrpcServer(o: GrpcServerOptions): Promise<GrpcServer> {
  const { service, events, metrics } = o;
  const maxMessageBytes = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  /** Each call's request ID (from x-request-id metadata, or fresh), for its log lines. */
  const ids = new WeakMap<object, string>();
  const fail = (err: unknown, call?: object) => {
    const s = toGrpcStatus(err, (e) => o.logger?.error({ err: e, reqId: call && ids.get(call) }, 'grpc: internal error'));
    metrics?.rejected.inc({ reason: err instanceof CandorError ? err.code : 'internal' });
    return s;
  };
  // Writes are refused on their metadata, before their message is read (guard.ts).
  const producer: CallCheck = (metadata, call) => events.preflight(credentials({ metadata, getAuthContext: () => call.getAuthContext() }));
  const checks = new Map<string, CallCheck>([
    [logServiceDefinition.Submit!.path, producer],
    [logServiceDefinition.SubmitBatch!.path, producer],
    [logServiceDefinition.SubmitStream!.path, producer],
  ]);
  const readEntries = entryReaders({ publicEntries: o.publicEntries ?? false, ...(o.authorize ? { authorize: o.authorize } : {}) });
  if (!o.publicEntries) checks.set(logServiceDefinition.GetEntries!.path, (metadata, call) => readEntries(credentials({ metadata, getAuthContext: () => call.getAuthContext() })));
  const authorize = o.authorize;
  if (o.search && authorize) {
    // Which tenants a search may see is checked by the search itself; here, only who asks.
    const searcher: CallCheck = (metadata, call) => void authorize(credentials({ metadata, getAuthContext: () => call.getAuthContext() }), 'search');
    for (const m of Object.values(queryServiceDefinition)) checks.set(m.path, searcher);
  }
  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': MAX_SEND_MESSAGE_BYTES,
    // Idle producers keep their connections; dead ones are found by keepalive pings.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    interceptors: [authInterceptor(checks, (err) => fail(err))],
  });
  const watches = new Set<() => void>();
  let closing = false;

  /** A unary handler: decode, run, encode, map errors. Writes authenticate before decoding. */
  const unary =
    <D extends DescMessage>(schema: D, run: (req: MessageShape<D>, call: ServerUnaryCall<Uint8Array, Uint8Array>) => Promise<Uint8Array>, write = false) =>
    (call: ServerUnaryCall<Uint8Array, Uint8Array>, callback: sendUnaryData<Uint8Array>): void => {
      Promise.resolve()
        .then(async () => {
          if (write) {
            events.preflight(credentials(call));
            await service.observeClientCheckpoint(clientCheckpoint(call.metadata));
          }
          return run(decode(schema, call.request), call);
        })
        .then(
          (res) => callback(null, res),
          (err: unknown) => callback(fail(err, call)),
        );
    };

  const handlers: UntypedServiceImplementation = {
    Submit: unary(SubmitRequestSchema, async (req, call) => {
      const input: SubmitEventsInput = {
        events: req.event.length > 0 ? [req.event] : [],
        eventMessages: req.eventMessage ? [req.eventMessage] : [],
        signature: req.signature,
      };
      const r = await events.submit(credentials(call), input);
      return encode(SubmitResponseSchema, { ack: r.acks[0], checkpoint: r.checkpoint, producer: r.producer, authMethod: r.authMethod });
    }, true),

    SubmitBatch: unary(SubmitBatchRequestSchema, async (req, call) => {
      const r = await events.submit(credentials(call), batchInput(req));
      return encode(SubmitBatchResponseSchema, responseInit(r));
    }, true),

    SubmitStream: (call: ServerDuplexStream<Uint8Array, Uint8Array>) => {
      const creds = credentials(call);
      try {
        events.preflight(creds);
      } catch (err) {
        call.emit('error', fail(err, call));
        return;
      }
      // The client's checkpoint is checked before the first request is sequenced (the gate below).
      let gate: Promise<void> = service.observeClientCheckpoint(clientCheckpoint(call.metadata));
      let stopped = false;
      let window = 0;
      let output: Promise<void> = Promise.resolve();
      /** The previous request's hand-off to the sequencer; the next one starts after it. */
      const stop = (err: unknown) => {
        if (stopped) return;
        stopped = true;
        call.emit('error', fail(err, call));
      };
      call.on('data', (bytes: Uint8Array) => {
        if (stopped) return;
        let result: Promise<SubmitEventsResult>;
        try {
          const req = decode(SubmitStreamRequestSchema, bytes);
          const prev = gate;
          let sequenced!: () => void;
          let rejected!: (e: unknown) => void;
          gate = new Promise<void>((res, rej) => {
            sequenced = res;
            rejected = rej;
          });
          gate.catch(() => undefined);
          result = prev.then(() => {
            const s = events.start(creds, batchInput(req));
            s.sequenced.then(sequenced, rejected);
            return s.result;
          });
          result.catch(() => undefined);
        } catch (err) {
          result = Promise.reject(err);
          result.catch(() => undefined);
          gate = Promise.reject(err);
          gate.catch(() => undefined);
        }
        if (++window >= STREAM_WINDOW) call.pause();
        output = output.then(async () => {
          try {
            if (stopped) return;
            const r = await result;
            if (!stopped && !call.write(encode(SubmitStreamResponseSchema, responseInit(r)))) await once(call, 'drain');
          } catch (err) {
            stop(err);
          } finally {
            if (--window < STREAM_WINDOW && !stopped) call.resume();
          }
        });
      });
      call.on('end', () => {
        void output.then(() => {
          if (!stopped) {
            stopped = true;
            call.end();
          }
        });
      });
      call.on('cancelled', () => {
        stopped = true;
      });
    },

    GetCheckpoint: unary(GetCheckpointRequestSchema, async () => {
      const note = service.checkpoint();
      return encode(GetCheckpointResponseSchema, { checkpoint: note, treeSize: BigInt(noteSize(note)) });
    }),

    WatchCheckpoints: (call: ServerWritableStream<Uint8Array, Uint8Array>) => {
      let after: number;
      try {
        after = int(decode(WatchCheckpointsRequestSchema, call.request).afterSize, 'after_size');
      } catch (err) {
        call.emit('error', fail(err, call));
        return;
      }
      let last = '';
      let blocked = false;
      const send = () => {
        if (blocked || call.cancelled) return;
        let note: string;
        try {
          note = service.checkpoint();
        } catch {
          return; // none publishable yet (witness policy not met); the next one will be
        }
        if (note === last) return;
        const size = noteSize(note);
        if (size <= after) return;
        last = note;
        if (!call.write(encode(WatchCheckpointsResponseSchema, { checkpoint: note, treeSize: BigInt(size) }))) {
          // A slow reader: skip to the newest checkpoint once it has drained.
          blocked = true;
          call.once('drain', () => {
            blocked = false;
            send();
          });
        }
      };
      // Commits announce new checkpoints; the timer catches ones published later (cosigned).
      const timer = setInterval(send, 1000);
      const cleanup = () => {
        clearInterval(timer);
        o.checkpoints.off('checkpoint', send);
        watches.delete(end);
      };
      const end = () => {
        cleanup();
        call.end();
      };
      o.checkpoints.on('checkpoint', send);
      watches.add(end);
      call.on('cancelled', cleanup);
      call.on('close', cleanup);
      call.on('error', cleanup);
      send();
    },

    GetInclusionProof: unary(GetInclusionProofRequestSchema, async (req) => {
      const latest = req.treeSize === undefined;
      const checkpoint = latest ? service.latestCheckpoint() : '';
      const size = latest ? noteSize(checkpoint) : int(req.treeSize!, 'tree_size');
      const leaf = req.leaf;
      const p = await service.inclusionProof({
        size,
        ...(leaf.case === 'index' ? { index: int(leaf.value, 'index') } : {}),
        ...(leaf.case === 'leafHash' ? { hash: leaf.value } : {}),
      });
      return encode(GetInclusionProofResponseSchema, { index: BigInt(p.index), treeSize: BigInt(p.size), leafHash: p.leafHash, proof: p.proof, checkpoint });
    }),

    GetConsistencyProof: unary(GetConsistencyProofRequestSchema, async (req) => {
      const latest = req.toSize === undefined;
      const checkpoint = latest ? service.latestCheckpoint() : '';
      const to = latest ? noteSize(checkpoint) : int(req.toSize!, 'to_size');
      const p = await service.consistencyProof({ from: int(req.fromSize, 'from_size'), to });
      return encode(GetConsistencyProofResponseSchema, { fromSize: BigInt(p.from), toSize: BigInt(p.to), proof: p.proof, checkpoint });
    }),

    GetEntries: (call: ServerWritableStream<Uint8Array, Uint8Array>) => {
      void (async () => {
        const req = decode(GetEntriesRequestSchema, call.request);
        const start = int(req.start, 'start');
        const size = service.size;
        if (req.end !== undefined && req.end <= req.start) throw invalid('end must be larger than start');
        if (start >= size) throw new CandorError('out_of_range', `start ${start} is not below tree size ${size}`);
        const end = Math.min(req.end === undefined ? size : int(req.end, 'end'), size, start + MAX_ENTRIES_PER_CALL);
        for (let at = start; at < end && !call.cancelled; ) {
          const page = await service.entries({ start: at, end });
          if (page.length === 0) break;
          if (!call.write(encode(GetEntriesResponseSchema, { entries: page.map((e) => ({ index: BigInt(e.index), data: e.data })) }))) {
            await once(call, 'drain');
          }
          at = page[page.length - 1]!.index + 1;
        }
        call.end();
      })().catch((err: unknown) => call.emit('error', fail(err, call)));
    },
  };

  // Every call gets a request ID, echoed in the response metadata and carried by its log lines.
  for (const [method, handler] of Object.entries(handlers)) {
    handlers[method] = ((call: { metadata: Metadata; sendMetadata(m: Metadata): void }, callback?: unknown) => {
      const id = requestId(call.metadata.get(REQUEST_ID_HEADER)[0]);
      ids.set(call, id);
      const md = new Metadata();
      md.set(REQUEST_ID_HEADER, id);
      call.sendMetadata(md);
      o.logger?.debug?.({ reqId: id, method }, 'grpc call');
      (handler as (c: unknown, cb?: unknown) => void)(call, callback);
    }) as typeof handler;
  }
  server.addService(logServiceDefinition, handlers);
  if (o.search) server.addService(queryServiceDefinition, queryHandlers(o.search, { decode, credentials, fail }));
  const tls = o.tls ? await tlsCredentials(o.tls) : undefined;
  const creds = tls ? tls.credentials : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.address, creds, (err, p) => (err ? reject(new CandorError('unavailable', `cannot listen for gRPC on ${o.address}: ${err.message}`)) : resolve(p))),
  );
  const host = o.address.slice(0, o.address.lastIndexOf(':'));
  const methods = [logServiceDefinition, ...(o.search ? [queryServiceDefinition] : [])].flatMap((d) => Object.values(d).map((m) => m.path));
  guardTransport(server, {
    publicMethods: new Set(methods.filter((m) => !checks.has(m))),
    publicRequestBytes: PUBLIC_REQUEST_BYTES,
    publicStreams: PUBLIC_STREAMS,
    maxMessageBytes,
  });

  return {
    address: `${host}:${port}`,
    port,
    async close(graceMs = 5000) {
      if (closing) return;
      closing = true;
      for (const end of [...watches]) end();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      tls?.stop();
    },
  };
}

/**
 * Server TLS from files, re-read when they change (certificate rotation). With a client CA,
 * client certificates are requested and verified, but not required: reads are public, and
 * producers registered with an mTLS identity are refused without one (src/producers).
 * Resolves once the files are loaded, so the first handshake never finds the server without
 * a certificate.
 */
async function tlsCredentials(t: GrpcTls): Promise<{ credentials: ServerCredentials; stop(): void }> {
  for (const f of [t.certFile, t.keyFile, t.clientCaFile]) {
    if (f !== undefined) {
      try {
        readFileSync(f);
      } catch (err) {
        throw new CandorError('invalid_argument', `cannot read TLS file ${f}: ${(err as Error).message}`);
      }
    }
  }
  const identity = new experimental.FileWatcherCertificateProvider({ certificateFile: t.certFile, privateKeyFile: t.keyFile, refreshIntervalMs: 60_000 });
  const ca = t.clientCaFile ? new experimental.FileWatcherCertificateProvider({ caCertificateFile: t.clientCaFile, refreshIntervalMs: 60_000 }) : null;
  // Our listeners keep the watchers running for the server's lifetime (the server's own come and
  // go with its connections); their first update is the initial load.
  let identityLoaded!: (ok: boolean) => void;
  let caLoaded!: (ok: boolean) => void;
  const onIdentity = (u: unknown) => identityLoaded(!!u);
  const onCa = (u: unknown) => caLoaded(!!u);
  const identityReady = new Promise<boolean>((r) => (identityLoaded = r));
  const caReady = ca ? new Promise<boolean>((r) => (caLoaded = r)) : Promise.resolve(true);
  identity.addIdentityCertificateListener(onIdentity);
  ca?.addCaCertificateListener(onCa);
  const stop = () => {
    identity.removeIdentityCertificateListener(onIdentity);
    ca?.removeCaCertificateListener(onCa);
  };
  if (!(await identityReady) || !(await caReady)) {
    stop();
    throw new CandorError('invalid_argument', 'cannot load the gRPC TLS certificate, key or client CA (are they PEM?)');
  }
  return { credentials: experimental.createCertificateProviderServerCredentials(identity, ca, false), stop };
}
