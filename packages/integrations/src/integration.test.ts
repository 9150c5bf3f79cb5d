import { describe, expect, it } from 'vitest';
import { parseDuration, parseTimeArg } from './integration.ts';

describe('parseTimeArg', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');
  it('reads RFC3339, Unix seconds, now and relative times', () => {
    expect(parseTimeArg('2026-11-21T09:00:00Z', now)?.toISOString()).toBe('2026-11-21T09:00:00.000Z');
    expect(parseTimeArg('1763719200', now)?.toISOString()).toBe('2025-11-21T10:00:00.000Z');
    expect(parseTimeArg('now', now)?.getTime()).toBe(now);
    expect(parseTimeArg('1h', now)?.getTime()).toBe(now - 3_600_000);
    expect(parseTimeArg('-15m', now)?.getTime()).toBe(now - 900_000);
  });
  it('refuses what is no time, or one past what a Date holds (it would fail later, in toISOString)', () => {
    for (const bad of ['March', 'yesterday', '2026-13-45', '99999999999999999', '999999999999y']) expect(parseTimeArg(bad, now), bad).toBeUndefined();
    expect(parseDuration('1h30m')).toBe(5_400_000);
  });
});
