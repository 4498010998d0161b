// Producers authenticated by mutual TLS, alone or together with a bearer token, on a gRPC server
// with TLS. Certificates are made for the test with openssl: a CA, a server certificate for
// 127.0.0.1, client certificates (registered, unregistered, and one from an untrusted CA).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status } from '@grpc/grpc-js';
import { parseEventLeaf } from '@candor/schema/leaf';
import {
  AuthMethod,
  GetCheckpointRequestSchema,
  GetCheckpointResponseSchema,
  GetEntriesRequestSchema,
  GetEntriesResponseSchema,
  SubmitBatchRequestSchema,
  SubmitBatchResponseSchema,
} from '@candor/schema/gen/candor/v1/log_service_pb';
import { Pki } from '../helpers/pki.js';
import { RawClient, encoded, sampleEvent, startEventLog, type EventLog } from './helpers.js';

let log: EventLog;
let pki: Pki;
const clients: RawClient[] = [];

const pem = (f: string) => pki.pem(f);

/** A client over TLS, with a client certificate when `cert` is given. */
function client(cert?: string, token?: string): RawClient {
  const creds = cert ? credentials.createSsl(pem('ca.crt'), pem(`${cert}.key`), pem(`${cert}.crt`)) : credentials.createSsl(pem('ca.crt'));
  const c = new RawClient(log.address, token, creds);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  pki = new Pki()
    .ca('ca')
    .ca('rogue-ca')
    .server()
    .issue('gw-mtls', '/CN=gw-mtls', 'subjectAltName=URI:spiffe://example.org/gw-mtls\nextendedKeyUsage=clientAuth')
    .issue('gw-both', '/CN=gw-both', 'extendedKeyUsage=clientAuth')
    .issue('stranger', '/CN=stranger', 'extendedKeyUsage=clientAuth')
    .issue('forged', '/CN=gw-mtls', 'subjectAltName=URI:spiffe://example.org/gw-mtls\nextendedKeyUsage=clientAuth', 'rogue-ca');
  log = await startEventLog(
    [
      { id: 'gw-mtls', mtls: ['URI:spiffe://example.org/gw-mtls'], token: false },
      { id: 'gw-both', mtls: ['CN=gw-both'] },
      { id: 'gw-token' },
    ],
    // Entries are read without reader credentials: a log configured public (publicEntries).
    { grpcTlsCert: pki.path('server.crt'), grpcTlsKey: pki.path('server.key'), grpcTlsClientCa: pki.path('ca.crt'), publicEntries: true },
  );
}, 30_000);
afterAll(async () => {
  for (const c of clients) c.close();
  await log?.cleanup();
  pki?.remove();
});

const submit = (c: RawClient) => c.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events: [encoded(sampleEvent())] });
const refuse = async (c: RawClient, message: RegExp) => {
  const err = await c.fail('SubmitBatch', SubmitBatchRequestSchema, { events: [encoded(sampleEvent())] });
  expect(err.code).toBe(status.UNAUTHENTICATED);
  expect(err.details).toMatch(message);
};

describe('mutual TLS', () => {
  it('authenticates a producer by its certificate and records how in the leaf', async () => {
    const r = await submit(client('gw-mtls'));
    expect(r.producer).toBe('gw-mtls');
    expect(r.authMethod).toBe(AuthMethod.MTLS);
    const e = await client().call('GetEntries', GetEntriesRequestSchema, GetEntriesResponseSchema, { start: r.acks[0]!.index, end: r.acks[0]!.index + 1n });
    expect(parseEventLeaf(e.entries[0]!.data)).toMatchObject({ producer: 'gw-mtls', authMethod: AuthMethod.MTLS });
  });

  it('needs both credentials from a producer registered with both', async () => {
    const tok = log.creds['gw-both']!.token;
    const r = await submit(client('gw-both', tok));
    expect(r.authMethod).toBe(AuthMethod.MTLS_AND_BEARER_TOKEN);
    await refuse(client('gw-both'), /gw-both must send its bearer token/);
    await refuse(client(undefined, tok), /gw-both must present its client certificate/);
  });

  it('refuses unknown, untrusted and mismatched certificates', async () => {
    const size = log.service.size;
    await refuse(client(), /no credentials/);
    await refuse(client('stranger'), /not registered for any producer/);
    // Same names, other CA: the TLS layer does not vouch for it, so it counts for nothing.
    await refuse(client('forged'), /no credentials/);
    await refuse(client('gw-mtls', log.creds['gw-token']!.token), /token is gw-token's but the client certificate is gw-mtls's/);
    expect(log.service.size).toBe(size);
  });

  it('serves reads to clients without a certificate', async () => {
    const r = await client().call('GetCheckpoint', GetCheckpointRequestSchema, GetCheckpointResponseSchema, {});
    expect(r.checkpoint).toMatch(/^test\.example\/log\n/);
  });
});
