/**
 * candor.v1.QueryService (proto/candor/v1/query_service.proto): Search and Tail over gRPC, a thin
 * adapter over src/query/search.ts (the same operations as GET /v1/search and GET /v1/tail).
 * server.ts serves it beside LogService when the log has indexes.
 */
import { create, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { ServerUnaryCall, ServerWritableStream, StatusObject, UntypedServiceImplementation, sendUnaryData } from '@grpc/grpc-js';
import { CandorError } from '@candor/core/errors';
import { timestampFromNs } from '../events/ingest.js';
import {
  SearchOrder,
  SearchRequestSchema,
  SearchResponseSchema,
  SearchResultSchema,
  TailRequestSchema,
  TailResponseSchema,
  type SearchFilter,
  type SearchResult,
} from '@candor/schema/gen/candor/v1/query_service_pb';
import type { Credentials } from '../producers/registry.js';
import type { SearchHit, SearchRequest, SearchService } from '../query/search.js';
import { timestampNs } from '@candor/core/time';
import type { TermField } from '../query/terms.js';
import type { LoggedEvent } from '../query/types.js';

/** What the query handlers borrow from server.ts. */
export interface QueryDeps {
  decode<D extends DescMessage>(schema: D, bytes: Uint8Array): MessageShape<D>;
  credentials(call: ServerUnaryCall<Uint8Array, Uint8Array> | ServerWritableStream<Uint8Array, Uint8Array>): Credentials;
  fail(err: unknown): Partial<StatusObject>;
}

const TERMS: [TermField, keyof SearchFilter][] = [
  ['tenant', 'tenant'],
  ['actor', 'actor'],
  ['resource', 'resource'],
  ['type', 'type'],
  ['review', 'review'],
  ['session', 'session'],
  ['object', 'object'],
  ['event_id', 'eventId'],
  ['producer_event_id', 'producerEventId'],
];

function ns(t: Timestamp | undefined): bigint | undefined {
  return t === undefined ? undefined : timestampNs(t);
}

/** A SearchFilter message as the service's request (empty fields do not filter). */
function filterRequest(f: SearchFilter | undefined): SearchRequest {
  const req: SearchRequest = { terms: {} };
  if (!f) return req;
  for (const [term, field] of TERMS) {
    const v = f[field] as string;
    if (v !== '') req.terms[term] = v;
  }
  if (f.leafHash.length > 0) req.leafHash = f.leafHash;
  const times = { occurredFrom: ns(f.occurredFrom), occurredTo: ns(f.occurredTo), integratedFrom: ns(f.integratedFrom), integratedTo: ns(f.integratedTo) };
  for (const [k, v] of Object.entries(times)) if (v !== undefined) (req as unknown as Record<string, bigint>)[k] = v;
  return req;
}

function result(h: SearchHit | LoggedEvent): SearchResult {
  const proof = (h as SearchHit).proof;
  return create(SearchResultSchema, {
    index: BigInt(h.index),
    integratedAt: timestampFromNs(h.receivedAt),
    producer: h.producer,
    authMethod: h.authMethod,
    signed: h.signed,
    leaf: h.leaf,
    event: h.event,
    ...(proof ? { proof: { treeSize: BigInt(proof.size), leafHash: proof.leafHash, hashes: proof.proof } } : {}),
  });
}

export function queryHandlers(search: SearchService, deps: QueryDeps): UntypedServiceImplementation {
  return {
    Search: (call: ServerUnaryCall<Uint8Array, Uint8Array>, callback: sendUnaryData<Uint8Array>) => {
      Promise.resolve()
        .then(async () => {
          const r = deps.decode(SearchRequestSchema, call.request);
          const req = filterRequest(r.filter);
          req.order = r.order === SearchOrder.OLDEST_FIRST ? 'oldest' : 'newest';
          if (r.limit !== 0) req.limit = r.limit;
          if (r.cursor !== '') req.cursor = r.cursor;
          if (r.proofLatest) req.proof = 'latest';
          else if (r.proofSize !== undefined) {
            if (r.proofSize > BigInt(Number.MAX_SAFE_INTEGER)) throw new CandorError('out_of_range', 'proof_size is too large');
            req.proof = Number(r.proofSize);
          }
          const page = await search.search(deps.credentials(call), req);
          return toBinary(
            SearchResponseSchema,
            create(SearchResponseSchema, { results: page.results.map(result), nextCursor: page.nextCursor ?? '', checkpoint: page.checkpoint ?? '' }),
          );
        })
        .then(
          (res) => callback(null, res),
          (err: unknown) => callback(deps.fail(err)),
        );
    },

    Tail: (call: ServerWritableStream<Uint8Array, Uint8Array>) => {
      try {
        const r = deps.decode(TailRequestSchema, call.request);
        if (r.afterIndex !== undefined && r.afterIndex > BigInt(Number.MAX_SAFE_INTEGER)) throw new CandorError('out_of_range', 'after_index is too large');
        const tail = search.tail(deps.credentials(call), filterRequest(r.filter), r.afterIndex === undefined ? undefined : Number(r.afterIndex), {
          send: (h) => call.write(toBinary(TailResponseSchema, create(TailResponseSchema, { result: result(h) }))),
          drained: () =>
            new Promise<void>((resolve) => {
              call.once('drain', resolve);
              call.once('close', resolve);
            }),
          error: (err) => call.emit('error', deps.fail(err)),
        });
        const stop = () => tail.close();
        call.on('cancelled', stop);
        call.on('close', stop);
        call.on('error', stop);
      } catch (err) {
        call.emit('error', deps.fail(err));
      }
    },
  };
}
