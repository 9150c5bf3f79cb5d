import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limiter.ts';

/** A clock that only moves when the limiter sleeps. */
function fakeClock() {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    advance: (ms: number) => (t += ms),
    slept,
  };
}

describe('createRateLimiter', () => {
  it('lets `limit` requests through per window, then waits for the oldest slot when it frees soon enough', async () => {
    const c = fakeClock();
    const l = createRateLimiter({ windowMs: 30_000, maxWaitMs: 10_000, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 5; i++) {
      expect(await l.acquire(5)).toEqual({ ok: true });
      c.advance(1000);
    }
    expect(c.slept).toEqual([]);
    c.advance(20_000); // 25 s after the first request: it frees in 5 s
    expect(await l.acquire(5)).toEqual({ ok: true });
    expect(c.slept).toEqual([5000]);
  });

  it('refuses with when to retry when no slot frees within maxWaitMs', async () => {
    const c = fakeClock();
    const l = createRateLimiter({ windowMs: 30_000, maxWaitMs: 10_000, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 5; i++) await l.acquire(5);
    c.advance(1000);
    expect(await l.acquire(5)).toEqual({ ok: false, retryInMs: 29_000 });
    expect(c.slept).toEqual([]);
    // A refused request takes no slot: with a key (50) the next goes at once.
    expect(await l.acquire(50)).toEqual({ ok: true });
  });

  it('forgets requests older than the window', async () => {
    const c = fakeClock();
    const l = createRateLimiter({ windowMs: 30_000, maxWaitMs: 0, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 5; i++) await l.acquire(5);
    c.advance(30_000);
    for (let i = 0; i < 5; i++) expect(await l.acquire(5)).toEqual({ ok: true });
    expect(await l.acquire(5)).toMatchObject({ ok: false });
  });
});
