// The read side over gRPC: checkpoints (one-shot and watched), inclusion and consistency proofs,
// and bounded entry streams, all checked against the log's signed checkpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { status, type ServiceError } from '@grpc/grpc-js';
import { equal } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyConsistency, verifyInclusion } from '@candor/core/merkle';
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
  WatchCheckpointsRequestSchema,
  WatchCheckpointsResponseSchema,
  type WatchCheckpointsResponse,
} from '@candor/schema/gen/candor/v1/log_service_pb';
import { logServiceDefinition } from '@candor/schema/grpc';
import { waitFor } from '../helpers/wait.js';
import { RawClient, encoded, sampleEvent, startEventLog, type EventLog } from './helpers.js';

let log: EventLog;
let gw: RawClient;
let reader: RawClient;
const N = 10_050;

beforeAll(async () => {
  // Entries are read here without credentials: a log configured public (publicEntries).
  log = await startEventLog([{ id: 'gw' }], { publicEntries: true });
  gw = new RawClient(log.address, log.creds.gw!.token);
  reader = new RawClient(log.address); // reads need no credentials
  for (let done = 0; done < N; ) {
    const n = Math.min(4096, N - done);
    await gw.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: Array.from({ length: n }, () => encoded(sampleEvent())) });
    done += n;
  }
}, 30_000);
afterAll(async () => {
  gw?.close();
  reader?.close();
  await log?.cleanup();
});

const checkpoint = async (): Promise<Checkpoint> => {
  const r = await reader.call('GetCheckpoint', GetCheckpointRequestSchema, GetCheckpointResponseSchema, {});
  const cp = openCheckpoint(r.checkpoint, log.keys.verifiers, 'test.example/log').checkpoint;
  expect(Number(r.treeSize)).toBe(cp.size);
  return cp;
};

/** All messages of a server stream, and how it ended. */
function collect<T>(method: string, req: Uint8Array, decode: (b: Uint8Array) => T, until?: (items: T[]) => boolean) {
  const def = logServiceDefinition[method]!;
  const call = reader.client.makeServerStreamRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, req, reader.metadata(), {});
  const items: T[] = [];
  const done = new Promise<{ items: T[]; error?: ServiceError }>((resolve) => {
    call.on('data', (b: Uint8Array) => {
      items.push(decode(b));
      if (until?.(items)) call.cancel();
    });
    call.on('error', (error: ServiceError) => resolve({ items, ...(error.code === status.CANCELLED ? {} : { error }) }));
    call.on('end', () => resolve({ items }));
  });
  return { call, items, done };
}

describe('reads', () => {
  it('serves the signed checkpoint', async () => {
    expect((await checkpoint()).size).toBe(N);
  });

  it('proves inclusion by index and by leaf hash, at the latest and at an older size', async () => {
    const cp = await checkpoint();
    const latest = await reader.call('GetInclusionProof', GetInclusionProofRequestSchema, GetInclusionProofResponseSchema, { leaf: { case: 'index', value: 4321n } });
    // Asked for the latest tree, the answer names its checkpoint.
    const named = openCheckpoint(latest.checkpoint, log.keys.verifiers).checkpoint;
    verifyInclusion(portableHasher, 4321, named.size, latest.leafHash, latest.proof, named.root);
    const byHash = await reader.call('GetInclusionProof', GetInclusionProofRequestSchema, GetInclusionProofResponseSchema, {
      leaf: { case: 'leafHash', value: latest.leafHash },
      treeSize: BigInt(cp.size),
    });
    expect(Number(byHash.index)).toBe(4321);
    verifyInclusion(portableHasher, 4321, cp.size, byHash.leafHash, byHash.proof, cp.root);
    const err = await reader.fail('GetInclusionProof', GetInclusionProofRequestSchema, { leaf: { case: 'index', value: BigInt(N + 5) } });
    expect(err.code).toBe(status.OUT_OF_RANGE);
    const missing = await reader.fail('GetInclusionProof', GetInclusionProofRequestSchema, { leaf: { case: 'leafHash', value: new Uint8Array(32) } });
    expect(missing.code).toBe(status.NOT_FOUND);
    const neither = await reader.fail('GetInclusionProof', GetInclusionProofRequestSchema, {});
    expect(neither.code).toBe(status.INVALID_ARGUMENT);
  });

  it('proves consistency between tree sizes', async () => {
    const older = await checkpoint();
    await gw.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: [encoded(sampleEvent())] });
    const r = await reader.call('GetConsistencyProof', GetConsistencyProofRequestSchema, GetConsistencyProofResponseSchema, { fromSize: BigInt(older.size) });
    const newer = openCheckpoint(r.checkpoint, log.keys.verifiers).checkpoint;
    expect(newer.size).toBe(older.size + 1);
    verifyConsistency(portableHasher, older.size, newer.size, older.root, newer.root, r.proof);
    const err = await reader.fail('GetConsistencyProof', GetConsistencyProofRequestSchema, { fromSize: 0n });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
  });

  it('streams entries in pages, at most 10,000 per call', async () => {
    const req = toBinary(GetEntriesRequestSchema, create(GetEntriesRequestSchema, { start: 20n }));
    const { done } = collect('GetEntries', req, (b) => fromBinary(GetEntriesResponseSchema, b));
    const { items, error } = await done;
    expect(error).toBeUndefined();
    const entries = items.flatMap((p) => p.entries);
    expect(entries).toHaveLength(10_000);
    expect(entries.map((e) => Number(e.index))).toEqual(Array.from({ length: 10_000 }, (_, i) => 20 + i));
    expect(items.length).toBeGreaterThan(1);
    // The entries are the leaves the proofs are about.
    const p = await reader.call('GetInclusionProof', GetInclusionProofRequestSchema, GetInclusionProofResponseSchema, { leaf: { case: 'index', value: 77n } });
    expect(equal(portableHasher.leaf(entries[57]!.data), p.leafHash)).toBe(true);

    const bounded = collect('GetEntries', toBinary(GetEntriesRequestSchema, create(GetEntriesRequestSchema, { start: 5n, end: 9n })), (b) => fromBinary(GetEntriesResponseSchema, b));
    expect((await bounded.done).items.flatMap((x) => x.entries.map((e) => Number(e.index)))).toEqual([5, 6, 7, 8]);
    const beyond = collect('GetEntries', toBinary(GetEntriesRequestSchema, create(GetEntriesRequestSchema, { start: BigInt(N + 100) })), (b) => b);
    expect((await beyond.done).error?.code).toBe(status.OUT_OF_RANGE);
    const backwards = collect('GetEntries', toBinary(GetEntriesRequestSchema, create(GetEntriesRequestSchema, { start: 9n, end: 9n })), (b) => b);
    expect((await backwards.done).error?.code).toBe(status.INVALID_ARGUMENT);
  });

  it('watches checkpoints: the current one at once, then each new one', async () => {
    const start = await checkpoint();
    const decode = (b: Uint8Array) => fromBinary(WatchCheckpointsResponseSchema, b);
    const watch = collect<WatchCheckpointsResponse>('WatchCheckpoints', toBinary(WatchCheckpointsRequestSchema, create(WatchCheckpointsRequestSchema, {})), decode, (items) => items.length >= 2);
    // after_size skips checkpoints the watcher already has.
    const later = collect<WatchCheckpointsResponse>(
      'WatchCheckpoints',
      toBinary(WatchCheckpointsRequestSchema, create(WatchCheckpointsRequestSchema, { afterSize: BigInt(start.size) })),
      decode,
      (items) => items.length >= 1,
    );
    // Both watches must be open before the submission: the first would otherwise start at the new
    // checkpoint and wait forever for a second. A watch is open once its request ID came back.
    let laterOpen = false;
    later.call.once('metadata', () => (laterOpen = true));
    await waitFor('the current checkpoint on the first watch', () => watch.items.length > 0);
    await waitFor('the second watch to open', () => laterOpen);
    // A round trip on the same connection: anything the server sent on the watches before it is here.
    await checkpoint();
    expect(watch.items).toHaveLength(1);
    expect(Number(watch.items[0]!.treeSize)).toBe(start.size);
    expect(later.items).toHaveLength(0);
    await gw.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: [encoded(sampleEvent()), encoded(sampleEvent())] });
    const [a, b] = await Promise.all([watch.done, later.done]);
    expect(Number(a.items[1]!.treeSize)).toBe(start.size + 2);
    expect(Number(b.items[0]!.treeSize)).toBe(start.size + 2);
    for (const r of [...a.items, ...b.items]) expect(openCheckpoint(r.checkpoint, log.keys.verifiers).checkpoint.size).toBe(Number(r.treeSize));
  });
});

describe('shutdown', () => {
  it('ends open watches and stops cleanly', async () => {
    const own = await startEventLog([{ id: 'gw' }], { publicEntries: true });
    const c = new RawClient(own.address);
    try {
      const def = logServiceDefinition.WatchCheckpoints!;
      const call = c.client.makeServerStreamRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, new Uint8Array(), c.metadata(), {});
      // The watch is open once the server's response headers (its request ID) came back. The log
      // is empty: there is no checkpoint to send yet.
      let opened = false;
      call.once('metadata', () => (opened = true));
      const ended = new Promise<string>((resolve) => {
        call.on('data', () => undefined);
        call.on('end', () => resolve('end'));
        call.on('error', (e: ServiceError) => resolve(`error ${e.code}`));
      });
      await waitFor('the watch to open', () => opened);
      const t = Date.now();
      const closed = own.cleanup();
      expect(await ended).toBe('end');
      // Ended by the server, not cut by the end of the 2 s grace for calls in flight.
      expect(Date.now() - t).toBeLessThan(1900);
      await closed;
    } finally {
      c.close();
    }
  });
});
