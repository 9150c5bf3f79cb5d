import { describe, expect, it } from 'vitest';
import { jsonBytes } from './json-bytes.ts';

describe('jsonBytes', () => {
  it('writes the same bytes as JSON.stringify, long strings included', () => {
    const long = 'x'.repeat(40_000) + '\x01"\\\n€😀'.repeat(9_000) + '\ud800 lone';
    const values: unknown[] = [
      { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: long }], structuredContent: { stdout: long, n: 3, ok: true, none: null, skip: undefined } } },
      [1, undefined, 'a', { t: new Date(0) }, -0, Number.NaN],
      'short',
      '😀'.repeat(20_000),
      { nested: { deeper: [[long.slice(0, 17_000)]] } },
    ];
    for (const v of values) expect(jsonBytes(v).equals(Buffer.from(JSON.stringify(v)))).toBe(true);
  });

  it('writes the same bytes whether a value is small (one JSON.stringify) or large (in pieces)', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ key: `k${i}`, text: 'é"\x02'.repeat(5) }));
    const inherited = Object.assign(Object.create({ hidden: 1 }), { own: 2 });
    const numbers = Array.from({ length: 10_000 }, (_, i) => i * 1.5);
    for (const v of [many, many.slice(0, 100), numbers, inherited, { a: undefined, b: () => 1, c: [undefined] }, undefined, null, 0]) {
      expect(jsonBytes(v).equals(Buffer.from(JSON.stringify(v) ?? ''))).toBe(true);
    }
  });

  it('never splits a surrogate pair at a slice boundary', () => {
    // The pair straddles the 16 Ki-character slice boundary.
    const s = 'a'.repeat(16 * 1024 - 1) + '😀' + 'b';
    const bytes = jsonBytes(s);
    expect(bytes.equals(Buffer.from(JSON.stringify(s)))).toBe(true);
    expect(bytes.toString()).not.toContain('\\ud83d');
  });
});
