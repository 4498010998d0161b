// Size limits on every route: each HTTP route with a body over its limit, the request line and
// headers over theirs, and a gRPC message over the largest request. Every refusal is a 4xx (or
// RESOURCE_EXHAUSTED) naming the problem, never a 500, and writes nothing.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { MAX_ENTRY_SIZE } from '@candor/core/tile';
import { DEFAULT_MAX_MESSAGE_BYTES as MAX_MESSAGE_BYTES } from '../../src/grpc/server.js';
import { EVENTS_BODY_LIMIT } from '../../src/http/events.js';
import { DEFAULT_BODY_LIMIT, MAX_HEADER_BYTES } from '../../src/http/server.js';
import { RawClient, startEventLog, type EventLog } from '../grpc/helpers.js';

let log: EventLog;
let token: string;

beforeAll(async () => {
  log = await startEventLog([{ id: 'gw' }], { admin: '127.0.0.1:0', publicEntries: true });
  token = log.creds.gw!.token;
});
afterAll(() => log?.cleanup());

interface Answer {
  status: number;
  body: string;
}

/**
 * A raw HTTP request. With `announce`, the Content-Length says that many bytes but only `body`
 * is sent: a server that checks the announced length answers without waiting for the rest.
 */
function raw(base: string, path: string, o: { method?: string; headers?: Record<string, string | number>; body?: Buffer; announce?: number; chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...o.headers, ...(o.chunked ? {} : { 'content-length': o.announce ?? o.body?.length ?? 0 }) };
    const req = request(`${base}${path}`, { method: o.method ?? 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    // The server may answer and close before taking the whole body.
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    if (o.body) req.write(o.body);
    req.end();
  });
}

function expectRefused(a: Answer, status: number, message: RegExp) {
  expect(a.status).toBe(status);
  const e = (JSON.parse(a.body) as { error: { code: string; message: string } }).error;
  expect(e.message).toMatch(message);
}

const oversize = Buffer.alloc(DEFAULT_BODY_LIMIT + 1, 0x20);

describe('size limits', () => {
  it('refuses a body on every GET route once it is over the default limit (413)', async () => {
    const routes: [string, string][] = [
      [log.url, '/checkpoint'],
      [log.url, '/tile/0/000.p/1'],
      [log.url, '/tile/entries/000.p/1'],
      [log.url, '/proof/inclusion?index=0'],
      [log.url, '/proof/consistency?from=0'],
      [log.url, '/entries?start=0'],
      [log.url, '/healthz'],
      [log.admin!.url, '/metrics'],
      [log.admin!.url, '/healthz'],
      [log.admin!.url, '/v1/admin/producers'],
    ];
    for (const [base, path] of routes) {
      expectRefused(await raw(base, path, { headers: { 'content-type': 'application/json' }, body: oversize }), 413, /GET takes no body; this one is 65537 bytes/);
    }
  });

  it('limits POST /add to the largest entry, announced or streamed (413)', async () => {
    const size = log.service.size;
    const type = { 'content-type': 'application/octet-stream' };
    expectRefused(await raw(log.url, '/add', { method: 'POST', headers: type, body: Buffer.alloc(MAX_ENTRY_SIZE + 1) }), 413, /too large/);
    expectRefused(await raw(log.url, '/add', { method: 'POST', headers: type, body: Buffer.alloc(MAX_ENTRY_SIZE + 1), chunked: true }), 413, /too large/);
    expect(log.service.size).toBe(size);
  });

  it('limits POST /v1/events to the largest request, before reading it (413)', async () => {
    for (const type of ['application/json', 'application/x-protobuf']) {
      const a = await raw(log.url, '/v1/events', {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Bearer ${token}` },
        body: Buffer.from('{'),
        announce: EVENTS_BODY_LIMIT + 1,
      });
      expectRefused(a, 413, /too large/);
    }
  });

  it('refuses a request line or headers over the limit (431)', async () => {
    expectRefused(await raw(log.url, `/proof/inclusion?hash=${'A'.repeat(MAX_HEADER_BYTES)}`), 431, /larger than 16384 bytes \(is the URL or query string too long\?\)/);
    expectRefused(await raw(log.url, '/checkpoint', { headers: { 'x-padding': 'a'.repeat(MAX_HEADER_BYTES) } }), 431, /request line and headers are larger/);
    expectRefused(await raw(log.admin!.url, `/metrics?${'a'.repeat(MAX_HEADER_BYTES)}`), 431, /larger than 16384 bytes/);
    // The server is still serving.
    expect((await raw(log.url, '/checkpoint')).status).toBe(200);
  });

  it('refuses a gRPC message over the largest request (INVALID_ARGUMENT, payload_too_large)', async () => {
    const size = log.service.size;
    const c = new RawClient(log.address, token, undefined, { 'grpc.max_send_message_length': MAX_MESSAGE_BYTES * 2 });
    try {
      const big = await c.callBytes('SubmitBatch', new Uint8Array(MAX_MESSAGE_BYTES + 1));
      expect('err' in big && big.err.code).toBe(status.INVALID_ARGUMENT);
      expect('err' in big && big.err.details).toMatch(/larger than 16777216 bytes.*grpcMaxMessageBytes/);
      expect('err' in big && big.err.trailers['candor-error-code']).toBe('payload_too_large');
    } finally {
      c.close();
    }
    expect(log.service.size).toBe(size);
  });
});
