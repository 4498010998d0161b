// A real log (store on disk in a temp dir, HTTP and gRPC on 127.0.0.1) with registered
// producers, a small real reader registry (a token map implementing Authorize), and a real
// system event sink that appends event leaves as producer "candor" (AuthMethod.LOG) through
// LogService.addMany, as the log's own sink does.
import { rmSync } from 'node:fs';
import { startLog, type RunningLog } from '../../src/app.js';
import { CONFIG_DEFAULTS, type Config } from '../../src/config.js';
import { CandorError } from '@candor/core/errors';
import { encodeEvent } from '@candor/schema/encoding';
import { encodeEventLeaf } from '@candor/schema/leaf';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import type { LogService } from '../../src/log/service.js';
import { LOG_PRODUCER_ID } from '../../src/producers/registry.js';
import type { Authorize, Permission, Reader, SystemEventSink } from '../../src/query/access.js';
import { GatewayClient } from '@candor/gateway/client';
import { registerProducers, type ProducerSpec, type TestProducer } from '../grpc/helpers.js';
import { tempDir } from '../helpers/server.js';

export interface TestReader {
  id: string;
  tenants: string[];
  permissions: Permission[];
}

/** Authorize over a map of bearer tokens to readers. */
export function tokenAuthorize(readers: Record<string, TestReader>): Authorize {
  return (credentials, permission, tenant) => {
    if (credentials.malformed) throw new CandorError('unauthenticated', credentials.malformed);
    if (credentials.token === undefined) throw new CandorError('unauthenticated', 'no credentials: send "authorization: Bearer <token>"');
    const r = readers[credentials.token];
    if (!r) throw new CandorError('unauthenticated', 'the bearer token is not valid (unknown or revoked)');
    if (!r.permissions.includes(permission)) throw new CandorError('permission_denied', `reader ${r.id} lacks the "${permission}" permission`);
    if (tenant !== undefined && !r.tenants.some((t) => t === '*' || t === tenant)) {
      throw new CandorError('permission_denied', `reader ${r.id} may not see tenant ${JSON.stringify(tenant)}`);
    }
    const reader: Reader = { id: r.id, tenants: r.tenants, permissions: new Set(r.permissions) };
    return reader;
  };
}

/** A sink that appends the log's own events; `failing` makes every append fail (storage down). */
export class TestSink implements SystemEventSink {
  failing = false;
  constructor(readonly service: LogService) {}

  async append(event: Parameters<SystemEventSink['append']>[0]): Promise<{ index: number }> {
    if (this.failing) throw new CandorError('unavailable', 'the system event sink is failing (test)');
    const leaf = encodeEventLeaf({ receivedAt: BigInt(Date.now()) * 1_000_000n, authMethod: AuthMethod.LOG, producer: LOG_PRODUCER_ID, event: encodeEvent(event) });
    const [ack] = await this.service.addMany([leaf]);
    return { index: ack!.index };
  }
}

export type PrivacyLog = RunningLog & {
  dir: string;
  creds: Record<string, TestProducer>;
  sink: TestSink;
  gateway(producer: string, tenant: string): GatewayClient;
  restart(): Promise<PrivacyLog>;
  cleanup(): Promise<void>;
};

export async function startPrivacyLog(specs: readonly ProducerSpec[], readers: Record<string, TestReader>, over: Partial<Config> = {}, dir = tempDir(), creds?: Record<string, TestProducer>): Promise<PrivacyLog> {
  const producers = creds ?? registerProducers(dir, specs);
  let sink: TestSink | undefined;
  const log = await startLog(
    { ...CONFIG_DEFAULTS, data: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', logLevel: 'silent', origin: 'test.example/privacy', ...over },
    { authorize: tokenAuthorize(readers), systemEvents: (service) => (sink = new TestSink(service)) },
  );
  const clients: GatewayClient[] = [];
  const closeAll = async () => {
    for (const c of clients.splice(0)) await c.close();
    await log.close();
  };
  return Object.assign(log, {
    dir,
    creds: producers,
    sink: sink!,
    gateway(producer: string, tenant: string) {
      const c = new GatewayClient({ address: log.grpc!.address, token: producers[producer]!.token, producer, tenant, logKey: log.keys.vkeys, batch: { lingerMs: 1 } });
      clients.push(c);
      return c;
    },
    async restart() {
      await closeAll();
      return startPrivacyLog(specs, readers, over, dir, producers);
    },
    async cleanup() {
      await closeAll();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** A JSON request to the log; returns status and parsed body. */
export async function call(log: { url: string }, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string; message: string } } }> {
  const res = await fetch(`${log.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
}
