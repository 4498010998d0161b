// gRPC QueryService: the same search and tail as HTTP, through the same service layer.
import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { SearchOrder, SearchRequestSchema, SearchResponseSchema, TailRequestSchema, TailResponseSchema } from '@candor/schema/gen/candor/v1/query_service_pb';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { queryServiceDefinition } from '@candor/schema/grpc';
import type { LoggedEvent } from '../../src/query/types.js';
import { allEvents, ingest, naive, startSearchLog, variedEvent, type SearchLog } from './helpers.js';

let log: SearchLog;
let client: Client;
let events: LoggedEvent[];

beforeAll(async () => {
  log = await startSearchLog();
  await ingest(log, Array.from({ length: 200 }, (_, i) => variedEvent(i)));
  events = await allEvents(log);
  client = new Client(log.grpc!.address, credentials.createInsecure());
}, 30_000);
afterAll(async () => {
  client?.close();
  await log?.cleanup();
});

const md = (token: string) => {
  const m = new Metadata();
  if (token) m.set('authorization', `Bearer ${token}`);
  return m;
};

function search(req: MessageInitShape<typeof SearchRequestSchema>, token = 'tok-all') {
  const def = queryServiceDefinition.Search!;
  return new Promise<{ ok?: ReturnType<typeof fromBinary<typeof SearchResponseSchema>>; code?: status; details?: string }>((resolve) =>
    client.makeUnaryRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, toBinary(SearchRequestSchema, create(SearchRequestSchema, req)), md(token), { deadline: Date.now() + 20_000 }, (err, res) =>
      resolve(err ? { code: err.code, details: err.details } : { ok: fromBinary(SearchResponseSchema, res!) }),
    ),
  );
}

async function allPages(req: MessageInitShape<typeof SearchRequestSchema>, token = 'tok-all'): Promise<number[]> {
  const out: number[] = [];
  let cursor = '';
  for (let pages = 0; pages < 1000; pages++) {
    const r = await search({ ...req, cursor }, token);
    if (!r.ok) throw new Error(r.details);
    out.push(...r.ok.results.map((h) => Number(h.index)));
    cursor = r.ok.nextCursor;
    if (!cursor) break;
  }
  return out;
}

describe('QueryService over gRPC', () => {
  it('searches with the same filters, orders and cursors as HTTP', async () => {
    expect(await allPages({ filter: { tenant: 'org-1', actor: 'usr_b' }, limit: 3 })).toEqual(naive(events, { tenant: 'org-1', actor: 'usr_b' }));
    expect(await allPages({ filter: { object: 'app.public.users' }, order: SearchOrder.OLDEST_FIRST, limit: 4 })).toEqual(naive(events, { object: 'app.public.users' }, 'oldest'));
    const t = events[150]!.receivedAt;
    expect(await allPages({ filter: { integratedFrom: { seconds: t / 1_000_000_000n, nanos: Number(t % 1_000_000_000n) }, type: 'session.started' } })).toEqual(
      naive(events, { integrated_from: t, type: 'session.started' }),
    );
    expect(await allPages({ filter: {} }, 'tok-org2')).toEqual(naive(events, { tenant: 'org-2' }));
  });

  it('returns the event, its leaf and a proof that verifies', async () => {
    const r = await search({ filter: { session: 'ses-7' }, proofLatest: true });
    const cp = openCheckpoint(r.ok!.checkpoint, log.keys.verifiers).checkpoint;
    expect(r.ok!.results.length).toBeGreaterThan(0);
    for (const h of r.ok!.results) {
      expect(h.event!.sessionId).toBe('ses-7');
      const leafHash = portableHasher.leaf(h.leaf);
      expect(Buffer.from(h.proof!.leafHash).equals(Buffer.from(leafHash))).toBe(true);
      verifyInclusion(portableHasher, Number(h.index), cp.size, leafHash, h.proof!.hashes, cp.root);
    }
  });

  it('maps errors to status codes, naming the field', async () => {
    expect((await search({}, '')).code).toBe(status.UNAUTHENTICATED);
    expect((await search({}, 'tok-export')).code).toBe(status.PERMISSION_DENIED);
    expect((await search({ filter: { tenant: 'org-1' } }, 'tok-org2')).code).toBe(status.PERMISSION_DENIED);
    const bad = await search({ limit: 5000 });
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/limit must be 1 to 1000/);
    const cur = await search({ cursor: '%%%' });
    expect(cur.code).toBe(status.INVALID_ARGUMENT);
    expect(cur.details).toMatch(/cursor/);
    const from = await search({ filter: { occurredFrom: { seconds: 10n }, occurredTo: { seconds: 5n } } });
    expect(from.details).toMatch(/occurred_to is before occurred_from/);
  });

  it('tails new matching events from a given index', async () => {
    const def = queryServiceDefinition.Tail!;
    const after = log.service.size - 1;
    const call = client.makeServerStreamRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, toBinary(TailRequestSchema, create(TailRequestSchema, { filter: { resource: 'redis' }, afterIndex: BigInt(after) })), md('tok-all'), { deadline: Date.now() + 20_000 });
    const fresh = Array.from({ length: 40 }, (_, i) => variedEvent(i + 500));
    const expected = fresh.filter((e) => e.resource?.id === 'redis').length;
    const got: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (b: Uint8Array) => {
        got.push(Number(fromBinary(TailResponseSchema, b).result!.index));
        if (got.length === expected) resolve();
      });
      call.on('error', (e: { code: number }) => (e.code === status.CANCELLED ? resolve() : reject(e)));
    });
    await ingest(log, fresh, 8);
    await done;
    call.cancel();
    const now = await allEvents(log);
    expect(got).toEqual(naive(now.filter((e) => e.index > after), { resource: 'redis' }, 'oldest'));
  });
});

