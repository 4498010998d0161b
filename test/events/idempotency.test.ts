// Idempotency across restarts: the index survives a restart, and when it is lost (or behind, as
// after a crash between a commit and its index write) it is rebuilt from the log itself, so a
// resubmission never adds a second leaf.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SubmitBatchRequestSchema, SubmitBatchResponseSchema, type SubmitBatchResponse } from '@candor/schema/gen/candor/v1/log_service_pb';
import { RawClient, encoded, sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';
import { startTestLog } from '../helpers/log.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir();
const open: EventLog[] = [];
afterAll(async () => {
  for (const l of open) await l.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function start(first: boolean): Promise<{ log: EventLog; client: RawClient }> {
  const log = first ? await startEventLog([{ id: 'gw' }], { data: dir }) : (Object.assign(await startTestLog({ data: dir, grpc: '127.0.0.1:0' }), { creds: {}, address: '' }) as EventLog);
  if (!first) log.address = log.grpc!.address;
  open.push(log);
  return { log, client: new RawClient(log.address, token) };
}

let token = '';
const sent = Array.from({ length: 300 }, () => encoded(sampleEvent()));
let first: SubmitBatchResponse;

const submit = (c: RawClient, events: Uint8Array[]) => c.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events });

describe('idempotency across restarts', () => {
  it('logs the events once', async () => {
    const { log, client } = await start(true);
    token = log.creds.gw!.token;
    client.token = token;
    // Opaque entries in between: the rebuild skips them.
    await fetch(`${log.url}/add`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: 'opaque' });
    first = await submit(client, sent);
    expect(first.acks.every((a) => !a.duplicate)).toBe(true);
    client.close();
    await log.close();
  });

  it('answers a resubmission after a restart with the first acknowledgements', async () => {
    const { log, client } = await start(false);
    const size = log.service.size;
    const again = await submit(client, sent);
    expect(again.acks.map((a) => a.index)).toEqual(first.acks.map((a) => a.index));
    expect(again.acks.every((a) => a.duplicate)).toBe(true);
    expect(log.service.size).toBe(size);
    client.close();
    await log.close();
  });

  it('rebuilds a lost index from the log', async () => {
    rmSync(join(dir, 'idempotency'), { recursive: true, force: true });
    const { log, client } = await start(false);
    const size = log.service.size;
    // Half old, half new, in one request.
    const fresh = Array.from({ length: 150 }, () => encoded(sampleEvent()));
    const mixed = await submit(client, [...sent.slice(150), ...fresh]);
    expect(mixed.acks.slice(0, 150).map((a) => a.index)).toEqual(first.acks.slice(150).map((a) => a.index));
    expect(mixed.acks.map((a) => a.duplicate)).toEqual([...Array(150).fill(true), ...Array(150).fill(false)]);
    expect(log.service.size).toBe(size + 150);
    client.close();
    await log.close();
  });
});
