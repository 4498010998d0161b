// Sequencing in event ingestion (src/events/ingest.ts): requests that queue behind an index read
// are looked up together, with one read, and handed to the sequencer in arrival order; a key new
// to the index is still new for the first of them only.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { IdempotencyIndex } from '../../src/events/idempotency.js';
import { EventIngest, type SubmitEventsResult } from '../../src/events/ingest.js';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { encoded, sampleEvent, startEventLog, type EventLog } from '../grpc/helpers.js';
import { tempDir } from '../helpers/server.js';

let log: EventLog;
let index: IdempotencyIndex;
let ingest: EventIngest;
const idemDir = tempDir();
/** Keys per index read, and a gate each read waits on. */
const reads: number[] = [];
let gate: Promise<void> = Promise.resolve();

beforeAll(async () => {
  log = await startEventLog([{ id: 'gw' }]);
  // A second ingestion path over the same log, with its own index, whose reads the test can hold.
  index = await IdempotencyIndex.open(idemDir, log.service, { flushMs: 0 });
  const lookup = index.lookup.bind(index);
  index.lookup = async (keys) => {
    reads.push(keys.length);
    await gate;
    return lookup(keys);
  };
  ingest = new EventIngest({ service: log.service, registry: log.producers, index });
});
afterAll(async () => {
  await index?.close();
  await log?.cleanup();
  rmSync(idemDir, { recursive: true, force: true });
});

const submit = (events: Uint8Array[]): Promise<SubmitEventsResult> => ingest.submit({ token: log.creds.gw!.token }, { events, eventMessages: [] });

describe('event ingestion', () => {
  it('looks up the requests that queued behind an index read together; the first of them logs a new event, the next are its duplicates or conflicts', async () => {
    let release!: () => void;
    gate = new Promise((r) => (release = r));
    reads.length = 0;
    const ev = sampleEvent();
    const changed = encoded(create(EventSchema, { ...ev, actor: { ...ev.actor!, id: 'usr_2' } }));
    const size = log.service.size;
    const first = submit([encoded(sampleEvent())]);
    const a = submit([encoded(ev), encoded(sampleEvent())]);
    const b = submit([encoded(ev)]);
    const c = submit([changed]);
    release();
    const [, ra, rb] = await Promise.all([first, a, b]);
    await expect(c).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/^events\[0\]/) });
    // One read for the first request, one for the three that waited behind it.
    expect(reads).toEqual([1, 4]);
    expect(log.service.size).toBe(size + 3);
    expect(rb.acks[0]!.index).toBe(ra.acks[0]!.index);
    expect([ra.acks[0]!.duplicate, rb.acks[0]!.duplicate]).toEqual([false, true]);
    // Handed to the sequencer in arrival order: a's events before b's answer, both after first's.
    expect(Number(ra.acks[1]!.index)).toBe(size + 2);
  });

  it('a failed index read fails the requests that waited for it, and the next ones go on', async () => {
    let fail!: (e: Error) => void;
    gate = new Promise((_, rej) => (fail = rej));
    gate.catch(() => undefined);
    const size = log.service.size;
    const held = [submit([encoded(sampleEvent())]), submit([encoded(sampleEvent())])];
    fail(new Error('disk on fire'));
    for (const r of held) await expect(r).rejects.toThrow(/disk on fire/);
    gate = Promise.resolve();
    const res = await submit([encoded(sampleEvent())]);
    expect(res.acks[0]!.duplicate).toBe(false);
    expect(log.service.size).toBe(size + 1);
  });

  it('refuses new requests with a retryable error while too many accepted events wait for their index write, and takes them again once it catches up', async () => {
    const dir = tempDir();
    const idx = await IdempotencyIndex.open(dir, log.service, { flushMs: 0 });
    const record = idx.record.bind(idx);
    let release!: () => void;
    const stalled = new Promise<void>((r) => (release = r));
    idx.record = async (items) => {
      await stalled;
      return record(items);
    };
    const bounded = new EventIngest({ service: log.service, registry: log.producers, index: idx, maxPending: 5 });
    const send = (n: number) => bounded.submit({ token: log.creds.gw!.token }, { events: Array.from({ length: n }, () => encoded(sampleEvent())), eventMessages: [] });
    try {
      const first = await send(3); // committed and answered; its index write is held
      expect(first.acks.map((a) => a.duplicate)).toEqual([false, false, false]);
      const second = await send(2); // 3 + 2: at the bound, still taken
      expect(second.acks).toHaveLength(2);
      const size = log.service.size;
      const refused = bounded.submit({ token: log.creds.gw!.token }, { events: [encoded(sampleEvent())], eventMessages: [] });
      await expect(refused).rejects.toMatchObject({
        code: 'resource_exhausted',
        retryAfterMs: 1000,
        message: '5 accepted events are still waiting for their idempotency index write (the limit is 5); retry later',
      });
      expect(log.service.size).toBe(size);
      release();
      // The held writes finish; then the same producer is taken again.
      await expect.poll(async () => (await send(1).then(() => 'taken', (e: Error) => e.message)), { timeout: 5000 }).toBe('taken');
      expect(log.service.size).toBe(size + 1);
    } finally {
      release();
      await idx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('indexes the events of submissions that commit while an index write runs in one write, and finds each', async () => {
    const dir = tempDir();
    const idx = await IdempotencyIndex.open(dir, log.service, { flushMs: 0 });
    try {
      const item = (n: number) => ({ key: `t\u0000p\u0000e${n}`, index: 1000 + n, eventHash: new Uint8Array(32).fill(n) });
      const before = idx.writes;
      const first = idx.record([item(0)]);
      await new Promise((r) => setImmediate(r)); // its write has begun
      // Recorded one by one while it runs (or after): the next write takes all 49.
      const rest = Array.from({ length: 49 }, (_, n) => idx.record([item(n + 1)]));
      await Promise.all([first, ...rest]);
      expect(idx.writes - before).toBe(2);
      const found = await idx.lookup(Array.from({ length: 50 }, (_, n) => item(n).key));
      expect(found.map((f) => f?.index)).toEqual(Array.from({ length: 50 }, (_, n) => 1000 + n));
      expect(found.map((f) => f?.eventHash[0])).toEqual(Array.from({ length: 50 }, (_, n) => n));
    } finally {
      await idx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
