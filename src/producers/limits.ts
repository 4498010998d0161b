/**
 * Per-producer rate limits and daily quotas. Each producer has a token bucket (events per second,
 * and a burst it may send at once) and optionally a quota of events per UTC day. The limits come
 * from the producer's record in producers.json (`rateLimit`, `dailyQuota`), else from the log's
 * defaults (config `producerEventsPerSecond`, `producerBurst`, `producerDailyQuota`); 0 turns a
 * limit off.
 *
 * A refusal is `rate_limited` (HTTP 429 with Retry-After, gRPC RESOURCE_EXHAUSTED with a retry
 * delay), distinct from the log's own full queue (`resource_exhausted`, 503): the first tells one
 * producer to slow down, the second says the log is busy for everyone. A refused request takes
 * nothing from the bucket or the quota.
 *
 * State is in memory: a restart refills every bucket and forgets the quota used today.
 */
import { CandorError } from '@candor/core/errors';
import type { ProducerRecord } from './registry.js';

export interface RateLimit {
  eventsPerSecond: number;
  burst: number;
}

export interface LimitDefaults {
  /** 0: no rate limit. */
  eventsPerSecond: number;
  /** 0: one second's worth of events. */
  burst: number;
  /** 0: no quota. */
  dailyQuota: number;
}

export const NO_LIMITS: LimitDefaults = { eventsPerSecond: 0, burst: 0, dailyQuota: 0 };

const DAY_MS = 86_400_000;

interface Bucket {
  tokens: number;
  at: number;
  day: number;
  usedToday: number;
}

/** The limits in force for a producer: its own, else the defaults. */
export function limitsOf(rec: Pick<ProducerRecord, 'rateLimit' | 'dailyQuota'>, d: LimitDefaults): { rate: number; burst: number; quota: number } {
  const rate = rec.rateLimit?.eventsPerSecond ?? d.eventsPerSecond;
  const burst = rec.rateLimit?.burst ?? (d.burst || Math.ceil(rate));
  return { rate, burst: Math.max(1, burst), quota: rec.dailyQuota ?? d.dailyQuota };
}

export class ProducerLimiter {
  readonly #defaults: LimitDefaults;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(defaults: LimitDefaults = NO_LIMITS, now: () => number = Date.now) {
    this.#defaults = defaults;
    this.#now = now;
  }

  /** The bucket of `id`, refilled up to now. */
  #bucket(id: string, rate: number, burst: number): Bucket {
    const now = this.#now();
    const day = Math.floor(now / DAY_MS);
    let b = this.#buckets.get(id);
    if (!b) {
      b = { tokens: burst, at: now, day, usedToday: 0 };
      this.#buckets.set(id, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.day !== day) {
      b.day = day;
      b.usedToday = 0;
    }
    return b;
  }

  /**
   * Takes `n` events from the producer's bucket and quota, or throws `rate_limited` having taken
   * nothing. A request larger than the burst is let through once the bucket is full, and leaves
   * it in debt: the producer's average rate still holds, and a batch is never refused forever.
   * `n = 0` only checks that the producer may send anything now (before a body is read).
   */
  take(rec: Pick<ProducerRecord, 'id' | 'rateLimit' | 'dailyQuota'>, n: number): void {
    const { rate, burst, quota } = limitsOf(rec, this.#defaults);
    if (rate <= 0 && quota <= 0) return;
    const b = this.#bucket(rec.id, rate, burst);
    if (quota > 0 && b.usedToday + Math.max(n, 1) > quota) {
      const untilMidnight = (b.day + 1) * DAY_MS - this.#now();
      throw new CandorError(
        'rate_limited',
        `producer ${rec.id} has used ${b.usedToday} of its daily quota of ${quota} events${n > 1 ? ` and this request has ${n}` : ''}; the quota resets at 00:00 UTC`,
        { retryAfterMs: untilMidnight },
      );
    }
    if (rate > 0) {
      const need = Math.min(Math.max(n, 1), burst);
      if (b.tokens < need) {
        throw new CandorError('rate_limited', `producer ${rec.id} is over its rate limit of ${rate} events/s (burst ${burst}); retry later`, {
          retryAfterMs: ((need - b.tokens) / rate) * 1000,
        });
      }
      b.tokens -= n;
    }
    b.usedToday += n;
  }

  /** Gives back the quota of events that were refused after `take` (nothing was written). */
  refund(id: string, n: number): void {
    const b = this.#buckets.get(id);
    if (b) b.usedToday = Math.max(0, b.usedToday - n);
  }

  /** What is left now, for operators (GET /v1/admin/producers). */
  state(rec: Pick<ProducerRecord, 'id' | 'rateLimit' | 'dailyQuota'>): { eventsPerSecond: number; burst: number; tokens: number | null; dailyQuota: number; usedToday: number } {
    const { rate, burst, quota } = limitsOf(rec, this.#defaults);
    const b = rate > 0 || quota > 0 ? this.#bucket(rec.id, rate, burst) : undefined;
    return { eventsPerSecond: rate, burst: rate > 0 ? burst : 0, tokens: rate > 0 && b ? Math.floor(b.tokens) : null, dailyQuota: quota, usedToday: b?.usedToday ?? 0 };
  }
}
