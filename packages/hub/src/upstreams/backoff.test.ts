import { describe, expect, it } from 'vitest';
import { createBackoff } from './backoff.ts';

describe('createBackoff', () => {
  it('doubles from the initial delay up to the maximum', () => {
    const b = createBackoff({ initialMs: 500, maxMs: 30_000, random: () => 0 });
    expect(Array.from({ length: 9 }, () => b.next())).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(b.attempts).toBe(9);
    b.reset();
    expect(b.next()).toBe(500);
  });

  it('jitters each delay downwards only, by at most the jitter fraction', () => {
    const b = createBackoff({ initialMs: 1000, maxMs: 1000, jitter: 0.3, random: () => 0.999999 });
    expect(b.next()).toBe(700);
    const r = createBackoff({ initialMs: 1000, maxMs: 4000 });
    for (let i = 0; i < 50; i++) {
      const d = r.next();
      const base = Math.min(4000, 1000 * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(base * 0.7 - 1);
      expect(d).toBeLessThanOrEqual(base);
    }
  });

  it('stays finite after many attempts', () => {
    const b = createBackoff({ initialMs: 500, maxMs: 30_000, random: () => 0 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).toBe(30_000);
  });
});
