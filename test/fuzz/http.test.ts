// HTTP fuzzing against a real running log: random and edited-valid bodies, query strings and tile
// paths on POST /add, POST /v1/events, the proof routes and the tile routes. No request may get a
// 5xx, and the tree grows only when a request is answered 200.
import { create, toJson } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textNear } from '../../bench/fuzz.js';
import { SubmitBatchRequestSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';

const RUNS = 300;
let log: EventLog;
let token: string;
beforeAll(async () => {
  // Entries are read here without credentials: a log configured public (publicEntries).
  log = await startEventLog([{ id: 'gw-fuzz', types: ['session.*'] }], { publicEntries: true });
  token = log.creds['gw-fuzz']!.token;
  for (let i = 0; i < 300; i++) await fetch(`${log.url}/add`, { method: 'POST', body: `seed ${i}`, headers: { 'Content-Type': 'application/octet-stream' } });
});
afterAll(() => log?.cleanup());

/** Sends a request; asserts no 5xx, and that the tree grew only if it was answered 200. */
async function probe(path: string, init: RequestInit = {}): Promise<number> {
  const before = log.sequencer.size;
  const res = await fetch(`${log.url}${path}`, init);
  await res.arrayBuffer();
  if (res.status >= 500) throw new Error(`${init.method ?? 'GET'} ${path} answered ${res.status}`);
  if (res.status !== 200) expect(log.sequencer.size).toBe(before);
  return res.status;
}

const query = textNear('index=5&size=300', 'from=10&to=300', 'start=0&end=20', 'index=1&size=1').map(encodeURI);

describe('HTTP fuzzing', () => {
  it(`proof and entries routes: ${RUNS} query strings each, no 5xx`, { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/proof/inclusion', '/proof/consistency', '/entries'), query, async (route, q) => {
        await probe(`${route}?${q}`);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it(`tile paths: ${RUNS} paths, no 5xx`, { timeout: 60_000 }, async () => {
    const path = textNear('tile/0/001', 'tile/1/000.p/1', 'tile/entries/000.p/44', 'checkpoint').map((p) => `/${encodeURI(p).replace(/\?/g, '%3F').replace(/#/g, '%23')}`);
    await fc.assert(fc.asyncProperty(path, (p) => probe(p).then(() => undefined)), { numRuns: RUNS });
  });

  it(`POST /add: ${RUNS} bad media types, queries and empty bodies, no 5xx, nothing added`, { timeout: 60_000 }, async () => {
    const type = fc.oneof(fc.constantFrom('application/json', 'text/plain', '', 'application/octet', 'multipart/form-data'), fc.string({ maxLength: 40 }));
    await fc.assert(
      fc.asyncProperty(type, fc.uint8Array({ maxLength: 200 }), textNear('witnessed=1'), async (t, body, q) => {
        // Only invalid requests: a wrong media type, or the right one with an empty body.
        const ok = t.split(';')[0]!.trim().toLowerCase() === 'application/octet-stream';
        const headers: Record<string, string> = {};
        if (/^[\x20-\x7e]*$/.test(t)) headers['Content-Type'] = t;
        const status = await probe(`/add?${encodeURI(q)}`, { method: 'POST', headers, body: ok ? new Uint8Array() : body });
        expect(status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: RUNS },
    );
  });

  it(`POST /v1/events: ${RUNS} JSON bodies (random and edited valid requests), no 5xx`, { timeout: 60_000 }, async () => {
    const valid = JSON.stringify(toJson(SubmitBatchRequestSchema, create(SubmitBatchRequestSchema, { requestId: 1n, eventMessages: [sampleEvent()] })));
    const body = fc.oneof(fc.json({ maxDepth: 4 }), textNear(valid));
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('application/json', 'application/x-protobuf', 'text/plain'), async (b, type) => {
        const status = await probe('/v1/events', { method: 'POST', headers: { 'Content-Type': type, Authorization: `Bearer ${token}` }, body: b });
        if (status === 200) accepted++;
      }),
      { numRuns: RUNS },
    );
    // Some edits keep a request valid (a changed event ID): those are logged, and only those.
    expect(accepted).toBeLessThan(RUNS);
  });
});
