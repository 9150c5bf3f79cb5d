import { describe, expect, it } from 'vitest';
import { cutText, keptBytes } from './reply-size.ts';

describe('reply size', () => {
  it('cuts text where its JSON-escaped size passes the cap', () => {
    expect(cutText('a'.repeat(10), 4)).toBe('aaaa');
    expect(cutText('\x01'.repeat(10), 12)).toBe('\x01\x01');
    expect(JSON.stringify(cutText('\x01"\\\n'.repeat(100), 64)).length).toBeLessThanOrEqual(66);
  });

  it('keeps whole UTF-8 characters, and at least one', () => {
    const buf = Buffer.from('ab€€€');
    // Each byte of a multi-byte character counts 2: 'ab€' costs 8.
    expect(buf.subarray(0, keptBytes(buf, 8)).toString()).toBe('ab€');
    expect(buf.subarray(0, keptBytes(buf, 7)).toString()).toBe('ab');
    expect(keptBytes(Buffer.from('\x01\x01'), 1)).toBe(1);
    expect(keptBytes(Buffer.from('€'), 1)).toBe(3);
    expect(keptBytes(Buffer.from('plain'), 100)).toBe(5);
  });
});
