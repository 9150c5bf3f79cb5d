import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth } from './json-depth.ts';

describe('exceedsJsonDepth', () => {
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(exceedsJsonDepth('{"a":[{"b":[1]}]}', 4)).toBe(false);
    expect(exceedsJsonDepth('{"a":[{"b":[1]}]}', 3)).toBe(true);
    expect(exceedsJsonDepth(JSON.stringify({ s: '[[[[[[[[[[{{{{{{' }), 1)).toBe(false);
    expect(exceedsJsonDepth(JSON.stringify({ s: 'a\\"[[[[[' }), 1)).toBe(false);
  });

  it('stops at the limit on a body nested a million deep', () => {
    expect(exceedsJsonDepth('['.repeat(1_000_000) + ']'.repeat(1_000_000), 64)).toBe(true);
  });
});
