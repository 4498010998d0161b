// integrated_at (the leaf's received_at) never decreases in log order, whatever the clock does:
// that is what lets an integrated_at range map to an index range.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyIndex } from '../../src/events/idempotency.js';
import { EventIngest } from '../../src/events/ingest.js';
import { tempDir } from '../helpers/server.js';
import { allEvents, ingest, naive, rfc3339, allPages, startSearchLog, variedEvent, type SearchLog } from './helpers.js';

let log: SearchLog;
const idemDir = tempDir();
beforeAll(async () => {
  log = await startSearchLog();
  await ingest(log, Array.from({ length: 30 }, (_, i) => variedEvent(i)), 10);
});
afterAll(async () => {
  await log?.cleanup();
  rmSync(idemDir, { recursive: true, force: true });
});

describe('integrated_at', () => {
  it('never decreases in log order when the clock steps back', async () => {
    const last = (await allEvents(log)).at(-1)!.receivedAt;
    // A second ingestion path over the same log, on a clock that runs backwards from 1 s before the last leaf.
    let clock = last - 1_000_000_000n;
    const index = await IdempotencyIndex.open(idemDir, log.service, { flushMs: 0 });
    const events = new EventIngest({ service: log.service, registry: log.producers, index, now: () => (clock -= 1_000_000n) });
    for (let r = 0; r < 3; r++) await events.submit({ token: log.producer.token }, { events: [], eventMessages: Array.from({ length: 5 }, (_, i) => variedEvent(100 + r * 5 + i)) });
    // Then the clock jumps ahead: times move on from there.
    clock = last + 10_000_000_000n;
    await events.submit({ token: log.producer.token }, { events: [], eventMessages: [variedEvent(200)] });
    await index.close();
    const all = await allEvents(log);
    for (let i = 1; i < all.length; i++) expect(all[i]!.receivedAt >= all[i - 1]!.receivedAt).toBe(true);
    expect(all.slice(-16, -1).every((e) => e.receivedAt === last)).toBe(true);
    expect(all.at(-1)!.receivedAt).toBe(last + 10_000_000_000n - 1_000_000n);
    // And a range search over the equal times finds them all.
    expect((await allPages(log.url, { integrated_from: rfc3339(last), limit: 1000 })).indexes).toEqual(naive(all, { integrated_from: last }));
  });
});
