// Events the log writes itself: producer "candor", AuthMethod.LOG, validated like a producer's,
// durable when append resolves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorType, Outcome } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { LogSystemEvents } from '../../src/events/system.js';
import { decodeLoggedEvent } from '../../src/query/types.js';
import { startTestLog } from '../helpers/log.js';

let log: Awaited<ReturnType<typeof startTestLog>>;
beforeAll(async () => {
  log = await startTestLog();
});
afterAll(() => log?.cleanup());

describe('LogSystemEvents', () => {
  it('appends a complete event as producer "candor" with AuthMethod.LOG, each with its own IDs', async () => {
    const sink = new LogSystemEvents(log.service, { now: () => Date.UTC(2026, 4, 4) });
    const init = { type: 'audit.log.queried', tenantId: 'org-1', actor: { id: 'aud-1', type: ActorType.HUMAN }, outcome: Outcome.SUCCESS, body: { case: 'auditLogQueried' as const, value: { resultCount: 3n } } };
    const a = await sink.append(init);
    const b = await sink.append(init);
    expect(b.index).toBe(a.index + 1);
    const [ea, eb] = (await log.service.entries({ start: a.index })).map((e) => decodeLoggedEvent(e.index, e.data));
    expect(ea).toMatchObject({ producer: 'candor', authMethod: AuthMethod.LOG, receivedAt: BigInt(Date.UTC(2026, 4, 4)) * 1_000_000n });
    expect(ea!.event).toMatchObject({ type: 'audit.log.queried', producer: { id: 'candor', kind: 'log' }, occurredAt: { seconds: BigInt(Date.UTC(2026, 4, 4) / 1000) } });
    expect(ea!.event.eventId).toMatch(/^candor-[0-9a-f]{32}$/);
    expect(ea!.event.producerEventId).toBe(ea!.event.eventId);
    expect(eb!.event.eventId).not.toBe(ea!.event.eventId);
  });

  it('rejects an invalid event, naming the field, and writes nothing', async () => {
    const size = log.service.size;
    const sink = new LogSystemEvents(log.service);
    await expect(sink.append({ type: 'audit.log.queried', actor: { id: 'aud-1', type: ActorType.HUMAN }, outcome: Outcome.SUCCESS, body: { case: 'auditLogQueried', value: {} } })).rejects.toThrow(
      /event.tenant_id is required/,
    );
    expect(log.service.size).toBe(size);
  });
});
