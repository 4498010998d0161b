// The producer registry: authentication rules for tokens, certificates and both; scopes; the
// file's checks; and a running registry following changes to the file.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '@candor/core/note';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import {
  ProducerRegistry,
  REGISTRY_FILE,
  bearerCredentials,
  hashToken,
  newToken,
  readRegistryFile,
  updateRegistryFile,
  type ProducerRecord,
} from '../../src/producers/registry.js';
import { tempDir } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const dir = tempDir();
const file = join(dir, REGISTRY_FILE);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rec = (over: Partial<ProducerRecord>): ProducerRecord => ({
  id: 'gw',
  tenants: ['org-1'],
  eventTypes: ['*'],
  tokens: [],
  mtls: [],
  keys: [],
  disabled: false,
  created: '2026-01-01T00:00:00Z',
  ...over,
});

describe('tokens', () => {
  it('are 256-bit random, prefixed, and stored only as their SHA-256', () => {
    const { token, record } = newToken();
    expect(token).toMatch(/^candor_pt_[A-Za-z0-9_-]{43}$/);
    expect(record.sha256).toBe(hashToken(token));
    expect(JSON.stringify(record)).not.toContain(token.slice(10));
  });

  it('are read from an authorization header', () => {
    expect(bearerCredentials('Bearer abc.DEF_1-2')).toEqual({ token: 'abc.DEF_1-2', peerIdentities: [] });
    expect(bearerCredentials('bearer  abc ').token).toBe('abc');
    expect(bearerCredentials('Basic abc').malformed).toMatch(/Bearer/);
    expect(bearerCredentials(undefined)).toEqual({ peerIdentities: [] });
  });
});

describe('a registry', () => {
  const a = newToken();
  const b = newToken();
  const b2 = newToken();
  const c = newToken();
  updateRegistryFile(file, (doc) => {
    doc.producers.push(
      rec({ id: 'gw-token', tokens: [a.record], tenants: ['org-1', 'org-2'], eventTypes: ['session.*', 'query.executed'] }),
      rec({ id: 'gw-mtls', mtls: ['URI:spiffe://example.org/gw', 'CN=gw-mtls'] }),
      rec({ id: 'gw-both', tokens: [b.record, b2.record], mtls: ['CN=gw-both'], tenants: ['*'] }),
      rec({ id: 'gw-off', tokens: [c.record], disabled: true }),
    );
  });
  const reg = ProducerRegistry.open(file, { watchMs: 0 });

  it('authenticates by token, by certificate, and by both', () => {
    expect(reg.authenticate({ token: a.token })).toMatchObject({ producer: { id: 'gw-token' }, method: AuthMethod.BEARER_TOKEN });
    expect(reg.authenticate({ peerIdentities: ['CN=other', 'URI:spiffe://example.org/gw'] })).toMatchObject({ producer: { id: 'gw-mtls' }, method: AuthMethod.MTLS });
    expect(reg.authenticate({ token: b2.token, peerIdentities: ['CN=gw-both'] })).toMatchObject({ producer: { id: 'gw-both' }, method: AuthMethod.MTLS_AND_BEARER_TOKEN });
  });

  it('refuses anything less, with the reason', () => {
    const cases: [Parameters<typeof reg.authenticate>[0], RegExp][] = [
      [{}, /no credentials/],
      [{ token: 'candor_pt_guess' }, /not valid/],
      [{ peerIdentities: ['CN=stranger'] }, /not registered for any producer/],
      [{ token: b.token }, /gw-both must present its client certificate/],
      [{ peerIdentities: ['CN=gw-both'] }, /gw-both must send its bearer token/],
      [{ token: a.token, peerIdentities: ['CN=gw-mtls'] }, /token is gw-token's but the client certificate is gw-mtls's/],
      [{ malformed: 'the authorization header must be "Bearer <token>"' }, /Bearer <token>/],
    ];
    for (const [creds, message] of cases) expect(() => reg.authenticate(creds)).toThrow(message);
    expect(() => reg.authenticate({ token: c.token })).toThrow(/gw-off is disabled/);
  });

  it('checks scopes by tenant and type pattern', () => {
    const p = reg.get('gw-token')!;
    expect(() => ProducerRegistry.authorize(p, 'org-2', 'session.ended', 'events[0]')).not.toThrow();
    expect(() => ProducerRegistry.authorize(p, 'org-3', 'session.ended', 'events[0]')).toThrow(/events\[0\]\.tenant_id: producer gw-token may not write for tenant "org-3"/);
    expect(() => ProducerRegistry.authorize(p, 'org-1', 'query.denied', 'events[4]')).toThrow(/events\[4\]\.type: producer gw-token may not write "query\.denied"/);
    expect(() => ProducerRegistry.authorize(reg.get('gw-both')!, 'anything', 'query.denied', 'e')).not.toThrow();
  });

  it('follows changes to the file, and keeps the old registry if the new file is bad', async () => {
    let reloadErrors = 0;
    const watched = ProducerRegistry.open(file, { watchMs: 20, onReloadError: () => reloadErrors++ });
    try {
      const both = () => watched.authenticate({ token: b.token, peerIdentities: ['CN=gw-both'] });
      expect(both().producer.id).toBe('gw-both');
      updateRegistryFile(file, (doc) => {
        const p = doc.producers.find((x) => x.id === 'gw-both')!;
        p.tokens = p.tokens.filter((t) => t.sha256 !== b.record.sha256);
      });
      await waitFor('the revoked token to be refused', () => {
        try {
          both();
          return false;
        } catch {
          return true;
        }
      });
      expect(both).toThrow(/not valid/);
      const good = readFileSync(file, 'utf8');
      writeFileSync(file, '{ "version": 1, "producers": [ {"id": "x"} ] }');
      // The bad file was read (and refused) at least once; the old registry is still in use.
      await waitFor('the bad file to be refused', () => reloadErrors > 0);
      expect(watched.authenticate({ token: a.token }).producer.id).toBe('gw-token');
      writeFileSync(file, good);
    } finally {
      watched.close();
    }
  });
});

describe('the registry file', () => {
  const bad = (over: Partial<ProducerRecord>, message: RegExp) => {
    const f = join(tempDir(), REGISTRY_FILE);
    expect(() => updateRegistryFile(f, (doc) => void doc.producers.push(rec({ tokens: [newToken().record], ...over })))).toThrow(message);
    // Nothing was written, and the lock was released.
    expect(readRegistryFile(f).producers).toHaveLength(0);
    expect(() => updateRegistryFile(f, () => undefined)).not.toThrow();
  };

  it('is checked on every change', () => {
    bad({ id: 'has space' }, /the ID must be/);
    bad({ tenants: [] }, /no tenants/);
    bad({ eventTypes: ['session.exploded'] }, /not a known type/);
    bad({ keys: ['not a key'] }, /key "not a key"/);
    bad({ keys: [generateSignerKey('someone-else').vkey] }, /must be named after it/);
    bad({ rateLimit: { eventsPerSecond: -1, burst: 5 } }, /rateLimit\.eventsPerSecond must be a number ≥ 0/);
    bad({ rateLimit: { eventsPerSecond: 5, burst: 0 } }, /rateLimit\.burst must be an integer ≥ 1/);
    bad({ dailyQuota: 2.5 }, /dailyQuota must be an integer ≥ 0/);
  });

  it('refuses two producers with one ID or one mTLS identity', () => {
    const f = join(tempDir(), REGISTRY_FILE);
    expect(() => updateRegistryFile(f, (doc) => void doc.producers.push(rec({ id: 'p', tokens: [newToken().record] }), rec({ id: 'p', tokens: [newToken().record] })))).toThrow(/registered twice/);
    expect(() => updateRegistryFile(f, (doc) => void doc.producers.push(rec({ id: 'p', mtls: ['CN=x'] }), rec({ id: 'q', mtls: ['CN=x'] })))).toThrow(/belongs to both p and q/);
  });

  it('is locked while a command changes it', () => {
    const f = join(tempDir(), REGISTRY_FILE);
    updateRegistryFile(f, () => {
      expect(() => updateRegistryFile(f, () => undefined)).toThrow(/another producer command is running/);
    });
  });
});
