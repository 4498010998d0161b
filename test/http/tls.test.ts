// HTTPS, with mutual TLS for producers: the same certificate identities as on gRPC
// (test/grpc/mtls.test.ts), through the same registry. Certificates are made for the test with
// openssl: a CA, a server certificate for 127.0.0.1, client certificates from it and from a
// rogue CA.
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toJson } from '@bufbuild/protobuf';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { Pki } from '../helpers/pki.js';
import { sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';

let log: EventLog;
let pki: Pki;

beforeAll(async () => {
  pki = new Pki()
    .ca('ca')
    .ca('rogue-ca')
    .server()
    .issue('gw-mtls', '/CN=gw-mtls', 'subjectAltName=URI:spiffe://example.org/gw-mtls\nextendedKeyUsage=clientAuth')
    .issue('forged', '/CN=gw-mtls', 'subjectAltName=URI:spiffe://example.org/gw-mtls\nextendedKeyUsage=clientAuth', 'rogue-ca');
  log = await startEventLog([{ id: 'gw-mtls', mtls: ['URI:spiffe://example.org/gw-mtls'], token: false }, { id: 'gw-token' }], {
    httpTlsCert: pki.path('server.crt'),
    httpTlsKey: pki.path('server.key'),
    httpTlsClientCa: pki.path('ca.crt'),
  });
}, 30_000);
afterAll(async () => {
  await log?.cleanup();
  pki?.remove();
});

interface Answer {
  status: number;
  body: string;
}

/** An HTTPS request trusting `ca` (the test CA unless given), with a client certificate when `cert` is given. */
function https(path: string, o: { method?: string; body?: string; headers?: Record<string, string>; cert?: string; ca?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${log.url}${path}`,
      {
        method: o.method ?? 'GET',
        ca: pki.pem(`${o.ca ?? 'ca'}.crt`),
        ...(o.cert ? { cert: pki.pem(`${o.cert}.crt`), key: pki.pem(`${o.cert}.key`) } : {}),
        headers: o.headers ?? {},
        servername: 'localhost',
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const submit = (o: { cert?: string; token?: string }) =>
  https('/v1/events', {
    method: 'POST',
    cert: o.cert,
    headers: { 'Content-Type': 'application/json', ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}) },
    body: JSON.stringify({ eventMessages: [toJson(EventSchema, sampleEvent())] }),
  });

describe('HTTPS', () => {
  it('serves the log over TLS', async () => {
    expect(log.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await https('/checkpoint');
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^test\.example\/log\n/);
  });

  it('refuses plain HTTP on the TLS port', async () => {
    await expect(fetch(`${log.url.replace('https:', 'http:')}/checkpoint`)).rejects.toThrow();
  });

  it('is refused by a client that does not trust its certificate', async () => {
    await expect(https('/checkpoint', { ca: 'rogue-ca' })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('authenticates a producer by its client certificate', async () => {
    const r = await submit({ cert: 'gw-mtls' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ producer: 'gw-mtls', authMethod: 'AUTH_METHOD_MTLS' });
  });

  it('still takes bearer tokens, and refuses a certificate from another CA', async () => {
    expect((await submit({ token: log.creds['gw-token']!.token })).status).toBe(200);
    const size = log.service.size;
    // Same names, other CA: the TLS layer does not vouch for it, so it counts for nothing.
    const forged = await submit({ cert: 'forged' });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body).error.message).toMatch(/no credentials/);
    const none = await submit({});
    expect(none.status).toBe(401);
    expect(log.service.size).toBe(size);
  });
});
