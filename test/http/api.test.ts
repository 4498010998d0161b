import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { portableHasher as H } from '@candor/core/hash';
import { verifyConsistency, verifyInclusion } from '@candor/core/merkle';
import { parseVerifierKey } from '@candor/core/note';
import { decodeBundle } from '@candor/core/tile';
import { startTestLog } from '../helpers/log.js';

let log: Awaited<ReturnType<typeof startTestLog>>;
let url: string;
const entries = Array.from({ length: 300 }, (_, i) => utf8(`http entry ${i}`));
let early: Checkpoint;

const get = (path: string) => fetch(`${url}${path}`);
const post = (body: RequestInit['body'], type?: string) =>
  fetch(`${url}/add`, { method: 'POST', body, headers: type ? { 'Content-Type': type } : {} });
const checkpoint = async () => openCheckpoint(await (await get('/checkpoint')).text(), log.keys.verifiers).checkpoint;

beforeAll(async () => {
  // The tlog-tiles API as a public log serves it (entries without credentials: publicEntries).
  log = await startTestLog({ publicEntries: true });
  url = log.url;
  for (const e of entries.slice(0, 100)) await post(e, 'application/octet-stream');
  early = await checkpoint();
  await Promise.all(entries.slice(100).map((e) => post(e, 'application/octet-stream')));
});
afterAll(() => log.cleanup());

async function expectError(res: Response, status: number, code: string, message?: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  if (message) expect(body.error.message).toMatch(message);
}

describe('POST /add', () => {
  it('acknowledges with index, leaf hash, signed checkpoint and an inclusion proof that verifies', async () => {
    const res = await post(utf8('one more'), 'application/octet-stream');
    expect(res.status).toBe(200);
    const ack = (await res.json()) as { index: number; leafHash: string; checkpoint: string; inclusionProof: string[] };
    expect(ack.index).toBe(300);
    expect(ack.leafHash).toBe(toBase64(H.leaf(utf8('one more'))));
    const cp = openCheckpoint(ack.checkpoint, log.keys.verifiers, 'test.example/log').checkpoint;
    verifyInclusion(H, ack.index, cp.size, fromBase64(ack.leafHash), ack.inclusionProof.map((p) => fromBase64(p)), cp.root);
  });

  it('rejects bad submissions with a clear 4xx and writes nothing', async () => {
    const before = (await checkpoint()).size;
    await expectError(await post(utf8('x'), 'application/json'), 415, 'unsupported_media_type', /application\/octet-stream/);
    await expectError(await post(utf8('x'), 'text/plain'), 415, 'unsupported_media_type');
    await expectError(await post(utf8('x')), 415, 'unsupported_media_type');
    await expectError(await post(new Uint8Array(0), 'application/octet-stream'), 400, 'invalid_argument', /empty/);
    await expectError(await post(new Uint8Array(65536), 'application/octet-stream'), 413, 'payload_too_large');
    await expectError(await post('{"bad json', 'application/json'), 415, 'unsupported_media_type');
    expect((await checkpoint()).size).toBe(before);
    const max = await post(new Uint8Array(65535).fill(9), 'application/octet-stream');
    expect(max.status).toBe(200);
  });

  it('answers a duplicate with the original index', async () => {
    const res = await post(entries[7]!, 'application/octet-stream');
    const ack = (await res.json()) as { index: number; duplicate: boolean };
    expect(ack).toMatchObject({ index: 7, duplicate: true });
  });
});

describe('tlog-tiles read API', () => {
  it('serves the checkpoint as text/plain', async () => {
    const res = await get('/checkpoint');
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const cp = openCheckpoint(await res.text(), [parseVerifierKey(log.keys.vkeys[0]!)]).checkpoint;
    expect(cp.origin).toBe('test.example/log');
    expect(cp.size).toBeGreaterThanOrEqual(300);
  });

  it('serves full and partial hash tiles that hash to the entries', async () => {
    const full = await get('/tile/0/000');
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('application/octet-stream');
    expect(full.headers.get('cache-control')).toMatch(/immutable/);
    const bytes = new Uint8Array(await full.arrayBuffer());
    expect(bytes.length).toBe(8192);
    expect(toBase64(bytes.subarray(32 * 5, 32 * 6))).toBe(toBase64(H.leaf(entries[5]!)));
    const partial = new Uint8Array(await (await get('/tile/0/001.p/44')).arrayBuffer());
    expect(partial.length).toBe(44 * 32);
    expect(toBase64(partial.subarray(0, 32))).toBe(toBase64(H.leaf(entries[256]!)));
    expect((await get('/tile/1/000.p/1')).status).toBe(200);
  });

  it('serves entry bundles', async () => {
    const bundle = decodeBundle(new Uint8Array(await (await get('/tile/entries/000')).arrayBuffer()));
    expect(bundle).toHaveLength(256);
    expect(new TextDecoder().decode(bundle[255])).toBe('http entry 255');
    const partial = decodeBundle(new Uint8Array(await (await get('/tile/entries/001.p/10')).arrayBuffer()));
    expect(partial.map((e) => new TextDecoder().decode(e))).toEqual(entries.slice(256, 266).map((e) => new TextDecoder().decode(e)));
  });

  it('answers tiles beyond the tree with 404 and malformed paths with 400', async () => {
    await expectError(await get('/tile/0/002'), 404, 'not_found');
    await expectError(await get('/tile/0/001'), 404, 'not_found');
    await expectError(await get('/tile/0/001.p/250'), 404, 'not_found');
    await expectError(await get('/tile/2/000.p/1'), 404, 'not_found');
    await expectError(await get('/tile/entries/005'), 404, 'not_found');
    for (const bad of ['/tile/0/1', '/tile/0/x000/001', '/tile/64/000', '/tile/0/000.p/256', '/tile/0/000.p/0', '/tile/data/000', '/tile/0/abc']) {
      await expectError(await get(bad), 400, 'invalid_argument', /malformed tile path/);
    }
  });
});

describe('proofs and entries', () => {
  it('proves inclusion by index and by leaf hash at a chosen size', async () => {
    for (const q of [`index=42&size=${early.size}`, `hash=${encodeURIComponent(toBase64(H.leaf(entries[42]!)))}&size=${early.size}`]) {
      const res = await get(`/proof/inclusion?${q}`);
      expect(res.status).toBe(200);
      const p = (await res.json()) as { index: number; size: number; leafHash: string; proof: string[] };
      expect(p.index).toBe(42);
      verifyInclusion(H, 42, early.size, fromBase64(p.leafHash), p.proof.map((x) => fromBase64(x)), early.root);
    }
  });

  it('proves consistency between a kept checkpoint and the latest', async () => {
    const now = await checkpoint();
    const p = (await (await get(`/proof/consistency?from=${early.size}&to=${now.size}`)).json()) as { proof: string[] };
    verifyConsistency(H, early.size, now.size, early.root, now.root, p.proof.map((x) => fromBase64(x)));
  });

  it('rejects out-of-range and malformed proof requests with 4xx naming the problem', async () => {
    const size = (await checkpoint()).size;
    await expectError(await get(`/proof/inclusion?index=${size}`), 400, 'out_of_range', /not below tree size/);
    await expectError(await get(`/proof/inclusion?index=1&size=${size + 1}`), 400, 'out_of_range', /beyond the tree size/);
    await expectError(await get('/proof/inclusion?index=abc'), 400, 'invalid_argument', /index/);
    await expectError(await get('/proof/inclusion?index=-1'), 400, 'invalid_argument');
    await expectError(await get('/proof/inclusion?index=99999999999999999999'), 400, 'invalid_argument');
    await expectError(await get('/proof/inclusion'), 400, 'invalid_argument', /index or hash/);
    await expectError(await get('/proof/inclusion?hash=!!!'), 400, 'invalid_argument', /base64/);
    await expectError(await get(`/proof/inclusion?hash=${encodeURIComponent(toBase64(new Uint8Array(32)))}`), 404, 'not_found');
    await expectError(await get('/proof/inclusion?index=1&bogus=2'), 400, 'invalid_argument');
    await expectError(await get('/proof/consistency?from=0&to=5'), 400, 'invalid_argument', /from/);
    await expectError(await get('/proof/consistency?from=6&to=5'), 400, 'out_of_range');
    await expectError(await get(`/proof/consistency?from=1&to=${size + 1}`), 400, 'out_of_range');
    await expectError(await get('/proof/consistency'), 400, 'invalid_argument');
  });

  it('pages entries and bounds the page', async () => {
    const r = (await (await get('/entries?start=10&end=13')).json()) as { entries: { index: number; data: string }[] };
    expect(r.entries.map((e) => [e.index, new TextDecoder().decode(fromBase64(e.data))])).toEqual([
      [10, 'http entry 10'],
      [11, 'http entry 11'],
      [12, 'http entry 12'],
    ]);
    const all = (await (await get('/entries?start=0&end=100000')).json()) as { entries: unknown[] };
    expect(all.entries.length).toBeLessThanOrEqual(1000);
    await expectError(await get('/entries?start=100000'), 400, 'out_of_range');
    await expectError(await get('/entries?start=5&end=5'), 400, 'invalid_argument');
    await expectError(await get('/entries'), 400, 'invalid_argument');
  });

  it('names the next page of a cut /entries answer, in a field and a Link header', async () => {
    const big = await startTestLog({ publicEntries: true });
    try {
      for (let i = 0; i < 1005; i += 201) {
        await Promise.all(Array.from({ length: Math.min(201, 1005 - i) }, (_, j) => fetch(`${big.url}/add`, { method: 'POST', body: `e${i + j}`, headers: { 'Content-Type': 'application/octet-stream' } })));
      }
      const page = async (path: string) => {
        const res = await fetch(`${big.url}${path}`);
        return { link: res.headers.get('link'), body: (await res.json()) as { entries: { index: number }[]; next?: string } };
      };
      const first = await page('/entries?start=2');
      expect(first.body.entries.map((e) => e.index)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 2));
      expect(first.body.next).toBe('/entries?start=1002');
      expect(first.link).toBe('</entries?start=1002>; rel="next"');
      const second = await page(first.body.next!);
      expect(second.body.entries.map((e) => e.index)).toEqual([1002, 1003, 1004]);
      expect([second.body.next, second.link]).toEqual([undefined, null]);
      const bounded = await page('/entries?start=0&end=1003');
      expect([bounded.body.entries.length, bounded.body.next]).toEqual([1000, '/entries?start=1000&end=1003']);
      expect((await page(bounded.body.next!)).body.entries.map((e) => e.index)).toEqual([1000, 1001, 1002]);
      expect((await page('/entries?start=0&end=1000')).body.next).toBeUndefined();
    } finally {
      await big.cleanup();
    }
  });
});

describe('operations', () => {
  it('reports health and Prometheus metrics', async () => {
    expect(await (await get('/healthz')).json()).toMatchObject({ status: 'ok' });
    const m = await (await get('/metrics')).text();
    for (const name of ['candor_queue_depth', 'candor_batch_size_bucket', 'candor_integration_seconds_bucket', 'candor_tree_size', 'candor_rejected_requests_total']) {
      expect(m).toContain(name);
    }
    expect(m).toMatch(/candor_rejected_requests_total\{reason="unsupported_media_type"\} [1-9]/);
  });

  it('answers unknown routes with a JSON 404', async () => {
    await expectError(await get('/nope'), 404, 'not_found');
    await expectError(await fetch(`${url}/checkpoint`, { method: 'POST' }), 404, 'not_found');
  });
});
