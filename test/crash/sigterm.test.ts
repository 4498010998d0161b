// Graceful shutdown: SIGTERM stops taking submissions, commits and answers what is in flight,
// then exits 0. Every success the clients saw, over HTTP and gRPC, is in the log after a restart;
// every other answer is a retryable refusal.
import { rmSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher as H } from '@candor/core/hash';
import { verifyInclusion } from '@candor/core/merkle';
import { parseVerifierKey } from '@candor/core/note';
import { SubmitBatchRequestSchema, SubmitBatchResponseSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { RawClient, encoded, registerProducers, sampleEvent } from '../grpc/helpers.js';
import { startLog, tempDir } from '../helpers/server.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SIGTERM', () => {
  it('drains the queue, answers everything in flight and exits 0', async () => {
    const { gw } = registerProducers(dir, [{ id: 'gw' }]);
    const log = await startLog({ dir, origin: 'term.example/log', args: ['--grpc', '127.0.0.1:0'] });
    const address = /gRPC candor\.v1\.LogService on (\S+)/.exec(log.output())![1]!;
    // 32 HTTP writers and 8 gRPC writers (on 2 channels) submit until the server goes away;
    // SIGTERM lands while requests are in flight.
    const entries: Uint8Array[] = [];
    const results: { entry: Uint8Array; status: number; index?: number }[] = [];
    let stopped = false;
    const writer = async (w: number) => {
      for (let i = 0; !stopped; i++) {
        const entry = utf8(`term ${w} ${i}`);
        entries.push(entry);
        try {
          const r = await fetch(`${log.url}/add`, { method: 'POST', body: entry, headers: { 'Content-Type': 'application/octet-stream' } });
          results.push({ entry, status: r.status, index: r.status === 200 ? ((await r.json()) as { index: number }).index : undefined });
        } catch {
          results.push({ entry, status: 0 });
          return;
        }
      }
    };
    const channels = [new RawClient(address, gw!.token), new RawClient(address, gw!.token)];
    const grpcResults: { code: status; index?: number; leafHash?: Uint8Array; details?: string }[] = [];
    const grpcWriter = async (w: number) => {
      while (!stopped) {
        const res = await channels[w % 2]!.callBytes('SubmitBatch', toBinary(SubmitBatchRequestSchema, create(SubmitBatchRequestSchema, { events: [encoded(sampleEvent())] })));
        if ('err' in res) {
          grpcResults.push({ code: res.err.code, details: res.err.details });
          if (res.err.code === status.UNAVAILABLE) return;
        } else {
          const ack = fromBinary(SubmitBatchResponseSchema, res.ok).acks[0]!;
          grpcResults.push({ code: status.OK, index: Number(ack.index), leafHash: ack.leafHash });
        }
      }
    };
    const writers = Promise.all([...Array.from({ length: 32 }, (_, w) => writer(w)), ...Array.from({ length: 8 }, (_, w) => grpcWriter(w))]);
    const okCount = () => results.filter((r) => r.status === 200).length;
    while (okCount() < 50 || grpcResults.filter((r) => r.code === status.OK).length < 20) await new Promise((r) => setTimeout(r, 5));
    const code = await log.stop();
    stopped = true;
    await writers;
    for (const c of channels) c.close();
    expect(code).toBe(0);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(50);
    // Anything not acknowledged was refused, not left hanging: 503 while closing, or no connection.
    for (const r of results) expect([200, 503, 0]).toContain(r.status);
    // The same over gRPC: acknowledged, or UNAVAILABLE (retryable: closing, or no connection).
    for (const r of grpcResults) expect([status.OK, status.UNAVAILABLE], r.details).toContain(r.code);

    const again = await startLog({ dir });
    const cp = openCheckpoint(await (await fetch(`${again.url}/checkpoint`)).text(), [parseVerifierKey(again.vkey)]).checkpoint;
    for (const r of ok) {
      const p = (await (await fetch(`${again.url}/proof/inclusion?index=${r.index}`)).json()) as { leafHash: string; proof: string[] };
      expect(p.leafHash).toBe(toBase64(H.leaf(r.entry)));
      verifyInclusion(H, r.index!, cp.size, H.leaf(r.entry), p.proof.map((x) => fromBase64(x)), cp.root);
    }
    const grpcOk = grpcResults.filter((r) => r.code === status.OK);
    expect(grpcOk.length).toBeGreaterThanOrEqual(20);
    for (const r of grpcOk) {
      const p = (await (await fetch(`${again.url}/proof/inclusion?index=${r.index}`)).json()) as { leafHash: string; proof: string[] };
      expect(p.leafHash).toBe(toBase64(r.leafHash!));
      verifyInclusion(H, r.index!, cp.size, r.leafHash!, p.proof.map((x) => fromBase64(x)), cp.root);
    }
    await again.stop();
  });
});
