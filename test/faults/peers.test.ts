// Misbehaving peers do not stall the log: witnesses that never answer, answer after seconds, or
// close the connection; an HTTP client that never reads its responses; clients that disconnect
// in the middle of an HTTP body or a gRPC stream. Meanwhile other clients are served, over HTTP
// and gRPC, and everything they were told is in the log.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { create, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logServiceDefinition } from '@candor/schema/grpc';
import { SubmitStreamRequestSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { parseWitnessingConfig } from '../../src/witnessing/config.js';
import { RawClient, encoded, sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';
import { strayWitnessKey, waitFor } from '../witnessing/helpers.js';

let log: EventLog;
const servers: (Server | HttpServer)[] = [];
const sockets: Socket[] = [];

async function listen<S extends Server | HttpServer>(s: S): Promise<string> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address() as { port: number };
  return `http://127.0.0.1:${a.port}`;
}

beforeAll(async () => {
  // A witness that accepts and never answers; one that closes every connection as soon as the
  // request arrives; one that answers 200 with nothing useful after 3 s.
  const hangs = await listen(createServer((s) => sockets.push(s)));
  const closes = await listen(createServer((s) => s.once('data', () => s.destroy())));
  const late = await listen(createHttpServer((_req, res) => setTimeout(() => res.end('— late 0000\n'), 3000).unref()));
  const witness = (name: string, url: string) => ({ name, url, vkey: strayWitnessKey(`${name}.candor.test`).vkey });
  const witnessing = parseWitnessingConfig({
    witnesses: [witness('hangs', hangs), witness('closes', closes), witness('late', late)],
    quorum: 1,
    publish: 'before',
    timeoutMs: 1000,
    ackTimeoutMs: 2000,
    retryMs: 50,
    maxRetryMs: 200,
  });
  // Entries are read here without credentials: a log configured public (publicEntries).
  log = await startEventLog([{ id: 'gw' }], { witnessing, publicEntries: true });
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await log?.cleanup();
  for (const s of servers) {
    (s as HttpServer).closeAllConnections?.();
    s.close();
  }
});

const add = (entry: string) => fetch(`${log.url}/add`, { method: 'POST', body: entry, headers: { 'Content-Type': 'application/octet-stream' } });

describe('misbehaving peers', () => {
  it('other clients are served while witnesses hang, close or dawdle and clients stall or vanish', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 300; i++) expect((await add(`seed ${i}`)).status).toBe(200);

    // A slow client: pipelines large reads and never reads a byte of the answers.
    const slow = connect(Number(new URL(log.url).port), '127.0.0.1');
    sockets.push(slow);
    await new Promise((r) => slow.once('connect', r));
    slow.pause();
    for (let i = 0; i < 200; i++) slow.write(`GET /entries?start=0&end=300 HTTP/1.1\r\nHost: x\r\n\r\n`);

    // Clients that vanish mid HTTP body: a promised 1,000-byte entry, 10 bytes sent, then gone.
    for (let i = 0; i < 20; i++) {
      const s = connect(Number(new URL(log.url).port), '127.0.0.1');
      s.on('error', () => {});
      s.write(`POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n0123456789`);
      setTimeout(() => s.destroy(), 50);
    }

    // Clients that vanish mid gRPC stream: requests written, then the call cancelled.
    const def = logServiceDefinition.SubmitStream!;
    const request = (id: number) => toBinary(SubmitStreamRequestSchema, create(SubmitStreamRequestSchema, { requestId: BigInt(id), events: [encoded(sampleEvent())] }));
    const quitters = Array.from({ length: 5 }, () => new RawClient(log.address, log.creds.gw!.token));
    for (const q of quitters) {
      const call = q.client.makeBidiStreamRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, q.metadata());
      call.on('error', () => {});
      for (let i = 1; i <= 20; i++) call.write(request(i));
      setTimeout(() => call.cancel(), 20);
    }

    // Everyone else: HTTP submissions, reads, and a full gRPC stream, all answered.
    const before = log.sequencer.size;
    const acks = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const res = await add(`other ${i}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { index: number }).index;
    }));
    expect(new Set(acks).size).toBe(100);
    expect(Math.min(...acks)).toBeGreaterThanOrEqual(before);
    const cp = await fetch(`${log.url}/checkpoint`);
    expect(cp.status).toBe(200);
    const entries = (await (await fetch(`${log.url}/entries?start=${acks[0]}&end=${acks[0]! + 1}`)).json()) as { entries: { data: string }[] };
    expect(Buffer.from(entries.entries[0]!.data, 'base64').toString()).toBe('other 0');

    const gw = new RawClient(log.address, log.creds.gw!.token);
    const call = gw.client.makeBidiStreamRequest<Uint8Array, Uint8Array>(def.path, def.requestSerialize, def.responseDeserialize, gw.metadata(), { deadline: Date.now() + 20_000 });
    let answered = 0;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', () => answered++);
      call.on('error', reject);
      call.on('end', () => resolve());
    });
    for (let i = 1; i <= 30; i++) call.write(request(i));
    call.end();
    await done;
    expect(answered).toBe(30);

    // The witnesses were tried and failed; none of it held up a commit. On a fast machine all of
    // the above can finish inside the witness timeout, so wait (bounded) for the first timeout.
    const failures = [/candor_witness_requests_total\{[^}]*witness="hangs"[^}]*status="timeout"/, /candor_witness_requests_total\{[^}]*witness="closes"/];
    const metrics = await waitFor('the witnesses\' failures in /metrics', async () => {
      const text = await (await fetch(`${log.url}/metrics`)).text();
      return failures.every((re) => re.test(text)) && text;
    }, 10_000);
    for (const re of failures) expect(metrics).toMatch(re);
    for (const q of quitters) q.close();
    gw.close();
  });
});
