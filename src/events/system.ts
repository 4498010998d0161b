/**
 * Events the log writes itself (SystemEventSink, src/query/access.ts): audit-of-audit records of
 * searches, exports, timeline reads and disclosures. They are ordinary event leaves with producer
 * "candor" and AuthMethod.LOG, so they are proved, witnessed and exported like any other event,
 * and no producer can forge one (the ID is reserved and LOG is never a producer's method).
 */
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { EventSchema, ProducerInfoSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import type { LogService } from '../log/service.js';
import { LOG_PRODUCER_ID } from '../producers/registry.js';
import type { SystemEventSink } from '../query/access.js';
import { encodeEvent, type EventInit } from '@candor/schema/encoding';
import { encodeEventLeaf } from '@candor/schema/leaf';
import { validateEvent } from '@candor/schema/validate';

/** A unique event ID: "candor-" and 128 random bits, hex (the log keeps no counter to restart from). */
function newEventId(): string {
  return `candor-${randomBytes(16).toString('hex')}`;
}

export class LogSystemEvents implements SystemEventSink {
  readonly #service: LogService;
  readonly #now: () => number;

  constructor(service: LogService, opts: { now?: () => number } = {}) {
    this.#service = service;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Completes the event (ID, idempotency key, time, producer), validates it like a producer's,
   * and appends its leaf; resolves with its index once durable.
   */
  async append(init: EventInit): Promise<{ index: number }> {
    const now = this.#now();
    const id = init.eventId || newEventId();
    const ev = create(EventSchema, init);
    ev.eventId = id;
    ev.producerEventId ||= id;
    ev.occurredAt ??= timestampFromMs(now);
    ev.producer ??= create(ProducerInfoSchema, { kind: 'log' });
    ev.producer.id = LOG_PRODUCER_ID;
    validateEvent(ev);
    const leaf = encodeEventLeaf({ receivedAt: BigInt(now) * 1_000_000n, authMethod: AuthMethod.LOG, producer: LOG_PRODUCER_ID, event: encodeEvent(ev) });
    const [ack] = await this.#service.addMany([leaf]);
    return { index: ack!.index };
  }
}
