// The token bucket and daily quota of src/producers/limits.ts, on a clock the test moves.
import { describe, expect, it } from 'vitest';
import { CandorError } from '@candor/core/errors';
import { ProducerLimiter } from '../../src/producers/limits.js';

const T0 = Date.UTC(2026, 4, 4, 12, 0, 0);

function limiter(defaults = { eventsPerSecond: 0, burst: 0, dailyQuota: 0 }) {
  const clock = { now: T0 };
  return { clock, l: new ProducerLimiter(defaults, () => clock.now) };
}

function refusal(fn: () => void): CandorError {
  try {
    fn();
  } catch (err) {
    return err as CandorError;
  }
  throw new Error('expected a refusal');
}

describe('ProducerLimiter', () => {
  it('lets a burst through, then refuses with the time until enough tokens', () => {
    const { clock, l } = limiter();
    const gw = { id: 'gw', rateLimit: { eventsPerSecond: 10, burst: 20 } };
    l.take(gw, 15);
    l.take(gw, 5);
    const e = refusal(() => l.take(gw, 4));
    expect(e.code).toBe('rate_limited');
    expect(e.message).toMatch(/gw is over its rate limit of 10 events\/s \(burst 20\)/);
    expect(e.retryAfterMs).toBe(400);
    clock.now += 400;
    l.take(gw, 4);
    expect(l.state(gw)).toMatchObject({ eventsPerSecond: 10, burst: 20, tokens: 0 });
  });

  it('takes nothing from a refused request', () => {
    const { clock, l } = limiter();
    const gw = { id: 'gw', rateLimit: { eventsPerSecond: 1, burst: 5 } };
    l.take(gw, 3);
    expect(() => l.take(gw, 3)).toThrow(/over its rate limit/);
    l.take(gw, 2);
    clock.now += 1000;
    l.take(gw, 1);
  });

  it('lets a request larger than the burst through once the bucket is full, leaving it in debt', () => {
    const { clock, l } = limiter();
    const gw = { id: 'gw', rateLimit: { eventsPerSecond: 100, burst: 10 } };
    l.take(gw, 50);
    // 40 events of debt plus one for the next: 410 ms at 100/s.
    expect(refusal(() => l.take(gw, 1)).retryAfterMs).toBeCloseTo(410);
    clock.now += 500;
    l.take(gw, 9);
  });

  it('checks with n = 0 that at least one event may be sent, without taking any', () => {
    const { l } = limiter();
    const gw = { id: 'gw', rateLimit: { eventsPerSecond: 1, burst: 2 } };
    l.take(gw, 0);
    l.take(gw, 2);
    expect(refusal(() => l.take(gw, 0)).code).toBe('rate_limited');
  });

  it('applies the defaults to producers without limits of their own, and none when both are 0', () => {
    const { l } = limiter({ eventsPerSecond: 2, burst: 0, dailyQuota: 0 });
    expect(l.state({ id: 'a' })).toMatchObject({ eventsPerSecond: 2, burst: 2 });
    l.take({ id: 'a' }, 2);
    expect(() => l.take({ id: 'a' }, 1)).toThrow(/rate limit of 2 events\/s/);
    // Its own limit wins over the default, 0 included.
    for (let i = 0; i < 100; i++) l.take({ id: 'b', rateLimit: { eventsPerSecond: 0, burst: 1 } }, 1000);
    const free = new ProducerLimiter();
    for (let i = 0; i < 100; i++) free.take({ id: 'c' }, 4096);
  });

  it('counts a daily quota per UTC day, refuses with the time until midnight, and refunds refused requests', () => {
    const { clock, l } = limiter();
    const gw = { id: 'gw', dailyQuota: 10 };
    l.take(gw, 6);
    const e = refusal(() => l.take(gw, 5));
    expect(e.code).toBe('rate_limited');
    expect(e.message).toMatch(/gw has used 6 of its daily quota of 10 events and this request has 5; the quota resets at 00:00 UTC/);
    expect(e.retryAfterMs).toBe(12 * 3600 * 1000);
    l.refund('gw', 6);
    l.take(gw, 10);
    expect(() => l.take(gw, 0)).toThrow(/daily quota/);
    clock.now = Date.UTC(2026, 4, 5, 0, 0, 0);
    l.take(gw, 10);
    expect(l.state(gw)).toMatchObject({ dailyQuota: 10, usedToday: 10, tokens: null });
  });
});
