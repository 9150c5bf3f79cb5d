import { describe, expect, it } from 'vitest';
import { bearerToken, randomHex, safeEqual } from './secrets.ts';

describe('secrets', () => {
  it('compares tokens', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abd', 'abc')).toBe(false);
    expect(safeEqual('abcd', 'abc')).toBe(false);
    expect(safeEqual('', '')).toBe(false); // an empty expected token never matches
  });
  it('parses bearer headers', () => {
    expect(bearerToken('Bearer x.y-z')).toBe('x.y-z');
    expect(bearerToken('bearer  tok ')).toBe('tok');
    expect(bearerToken('Basic tok')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
  it('makes random hex', () => {
    expect(randomHex(6)).toMatch(/^[0-9a-f]{12}$/);
    expect(randomHex(6)).not.toBe(randomHex(6));
  });
});
