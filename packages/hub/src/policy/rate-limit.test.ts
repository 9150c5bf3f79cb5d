import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.ts';

describe('createRateLimiter', () => {
  it('charges a batch per message: the bucket goes into debt and the caller waits it out', () => {
    let t = 0;
    const rate = createRateLimiter({ perMinute: 60, burst: 10 }, () => t);
    expect(rate.take('k', 100)).toEqual({ ok: true });
    // 10 - 100 = -90: 91 s until one request's worth is back (one per second).
    expect(rate.take('k')).toEqual({ ok: false, retryAfterS: 91 });
    t = 90_000;
    expect(rate.take('k').ok).toBe(false);
    t = 91_000;
    expect(rate.take('k').ok).toBe(true);
  });

  it('tells whether a key is blocked without taking anything', () => {
    const rate = createRateLimiter({ perMinute: 1, burst: 2 }, () => 0);
    expect(rate.blocked('a').ok).toBe(true);
    rate.take('a');
    rate.take('a');
    expect(rate.blocked('a').ok).toBe(false);
    expect(rate.blocked('b').ok).toBe(true);
  });
});
