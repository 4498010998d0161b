/**
 * The idempotency index: (tenant, authenticated producer, producer_event_id) -> (leaf index,
 * event hash), so that a resubmitted event gets its first acknowledgement back instead of a
 * second leaf (audit-domain.md §4.1 rule 6).
 *
 * It is derived from the log, never the other way round: every event leaf carries its key (the
 * producer in the leaf, tenant and producer_event_id in the event). Entries are written after
 * the log commits, without sync, and a synced watermark records a tree size below which the
 * index is known complete. On open, the index replays the leaves from the watermark to the tree
 * size, so a crash between a commit and its index write loses nothing.
 *
 * The watermark only passes a size once every submission that started below it has been
 * indexed; a submission whose commit failed holds it back until the next start, whose replay
 * then finds its leaves if the failed commit landed after all.
 */
import { createHash } from 'node:crypto';
import { ClassicLevel } from 'classic-level';
import { fromBinary } from '@bufbuild/protobuf';
import { CandorError } from '@candor/core/errors';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import type { LogService } from '../log/service.js';
import { putIndex, readIndex } from '../storage/postings.js';
import { isEventLeaf, parseEventLeaf } from '@candor/schema/leaf';

const WATERMARK_KEY = new Uint8Array([0x77]); // "w"
const KEY_PREFIX = 0x6b; // "k"
const REPLAY_PAGE = 1000;

export interface IndexedEvent {
  index: number;
  eventHash: Uint8Array;
}

/**
 * The idempotency key. IDs are validated to hold no control characters, so NUL separates them
 * unambiguously.
 */
export function idempotencyKey(tenant: string, producer: string, producerEventId: string): string {
  return `${tenant}\u0000${producer}\u0000${producerEventId}`;
}

/** The key's UTF-8 under its prefix, in a Buffer from Node's pool (TextEncoder gives each its own allocation). */
function dbKey(key: string): Uint8Array {
  const k = Buffer.from(`k${key}`, 'utf8');
  k[0] = KEY_PREFIX;
  return k;
}

/** A committed event to index: its key, leaf index and event hash. */
export interface RecordedEvent {
  key: string;
  index: number;
  eventHash: Uint8Array;
}

export class IdempotencyIndex {
  readonly #db: ClassicLevel<Uint8Array, Uint8Array>;
  readonly #service: LogService;
  #watermark: number;
  /** Submissions not yet indexed: token -> tree size when they were submitted. */
  readonly #inflight = new Map<number, number>();
  #nextToken = 0;
  #timer: NodeJS.Timeout | undefined;
  #writes: Promise<void> = Promise.resolve();
  /** Recorded and not yet in a write that has begun: the next write takes them, and settles #next. */
  #queued: RecordedEvent[] = [];
  #next: Promise<void> | undefined;
  #writeCount = 0;
  #closed = false;

  private constructor(db: ClassicLevel<Uint8Array, Uint8Array>, service: LogService, watermark: number) {
    this.#db = db;
    this.#service = service;
    this.#watermark = watermark;
  }

  /** Opens the index in `dir` and replays the log from its watermark to the current tree size. */
  static async open(dir: string, service: LogService, opts: { flushMs?: number } = {}): Promise<IdempotencyIndex> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new CandorError('unavailable', `cannot open the idempotency index at ${dir}: ${cause}`, { cause: err });
    }
    const w = await db.get(WATERMARK_KEY);
    const index = new IdempotencyIndex(db, service, w === undefined ? 0 : readIndex(w));
    try {
      await index.#replay();
    } catch (err) {
      await db.close();
      throw err;
    }
    const ms = opts.flushMs ?? 1000;
    if (ms > 0) {
      index.#timer = setInterval(() => void index.flushWatermark().catch(() => undefined), ms);
      index.#timer.unref();
    }
    return index;
  }

  /** Index writes begun so far. */
  get writes(): number {
    return this.#writeCount;
  }

  /** The tree size below which every event leaf is indexed (as last made durable). */
  get watermark(): number {
    return this.#watermark;
  }

  async #replay(): Promise<void> {
    const size = this.#service.size;
    for (let start = this.#watermark; start < size; start += REPLAY_PAGE) {
      const entries = await this.#service.entries({ start, end: Math.min(size, start + REPLAY_PAGE) });
      const found = new Map<string, { index: number; leaf: Uint8Array; hash?: Uint8Array }>();
      for (const { index, data } of entries) {
        if (!isEventLeaf(data)) continue;
        const leaf = parseEventLeaf(data);
        const ev = fromBinary(EventSchema, leaf.event);
        const key = idempotencyKey(ev.tenantId, leaf.producer, ev.producerEventId);
        if (!found.has(key)) found.set(key, { index, leaf: leaf.event });
      }
      if (found.size === 0) continue;
      const keys = [...found.keys()];
      const existing = await this.#db.getMany(keys.map(dbKey));
      const batch = this.#db.batch();
      keys.forEach((k, i) => {
        if (existing[i] !== undefined) return; // the first leaf for a key wins
        const f = found.get(k)!;
        const v = new Uint8Array(40);
        putIndex(v, 0, f.index);
        v.set(createHash('sha256').update(f.leaf).digest(), 8);
        batch.put(dbKey(k), v);
      });
      await batch.write();
    }
    await this.#writeWatermark(size);
  }

  /** Looks keys up; undefined for a key never logged. */
  async lookup(keys: readonly string[]): Promise<(IndexedEvent | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await this.#db.getMany(keys.map(dbKey));
    return values.map((v) => (v === undefined ? undefined : { index: readIndex(v), eventHash: v.subarray(8, 40) }));
  }

  /** Marks a submission about to be sequenced while the committed tree size is `size`. */
  begin(size: number): number {
    const token = this.#nextToken++;
    this.#inflight.set(token, size);
    return token;
  }

  /** The submission's events are indexed (or it wrote nothing): it no longer holds the watermark. */
  end(token: number): void {
    this.#inflight.delete(token);
  }

  /**
   * Indexes committed events. Writes are chained, so they land in the order they were made, and
   * what is recorded while one runs goes into the next, whole: one write per round trip, however
   * many submissions commit meanwhile. (A write per submission fell behind a busy log: LevelDB
   * slows each write while compaction catches up, and the events waiting for their index write
   * piled up in memory without bound.)
   */
  record(items: readonly RecordedEvent[]): Promise<void> {
    for (const it of items) this.#queued.push(it);
    if (this.#next) return this.#next;
    const write = this.#writes.then(async () => {
      const queued = this.#queued;
      this.#queued = [];
      this.#next = undefined;
      this.#writeCount++;
      const batch = this.#db.batch();
      for (const it of queued) {
        const v = new Uint8Array(40);
        putIndex(v, 0, it.index);
        v.set(it.eventHash, 8);
        batch.put(dbKey(it.key), v);
      }
      await batch.write();
    });
    this.#next = write;
    this.#writes = write.catch(() => undefined);
    return write;
  }

  /** Advances the durable watermark as far as every finished submission allows. */
  async flushWatermark(): Promise<void> {
    if (this.#closed) return;
    let safe = this.#service.size;
    for (const s of this.#inflight.values()) if (s < safe) safe = s;
    if (safe <= this.#watermark) return;
    // Every index write made before now is in LevelDB's log ahead of this synced write.
    await this.#writes;
    await this.#writeWatermark(safe);
  }

  async #writeWatermark(size: number): Promise<void> {
    const v = new Uint8Array(8);
    putIndex(v, 0, size);
    await this.#db.put(WATERMARK_KEY, v, { sync: true });
    this.#watermark = size;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#writes;
    await this.flushWatermark();
    this.#closed = true;
    await this.#db.close();
  }
}
