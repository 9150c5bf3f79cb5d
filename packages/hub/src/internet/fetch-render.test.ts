import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cutUtf8, renderBody } from './fetch-render.ts';

const body = (s: string | Buffer, contentType: string | undefined, extra: { readCut?: boolean; maxBytes?: number; declared?: number } = {}) =>
  renderBody({ bytes: Buffer.isBuffer(s) ? s : Buffer.from(s), contentType, readCut: extra.readCut ?? false, maxBytes: extra.maxBytes ?? 1 << 20, ...(extra.declared !== undefined ? { declared: extra.declared } : {}) });

describe('renderBody', () => {
  it('HTML becomes Markdown, without scripts and styles, with the title apart', () => {
    const r = body('<html><head><title>Release  notes</title><style>p{color:red}</style><script>alert("x")</script></head><body><h1>v2.0</h1><p>See <a href="/docs">the docs</a>.</p><ul><li>one</li></ul></body></html>', 'text/html; charset=utf-8');
    expect(r.format).toBe('markdown');
    expect(r.title).toBe('Release notes');
    expect(r.text).toContain('# v2.0');
    expect(r.text).toContain('[the docs](/docs)');
    expect(r.text).toMatch(/\* one/);
    expect(r.text).not.toContain('alert');
    expect(r.text).not.toContain('color:red');
  });

  it('JSON is pretty-printed; JSON cut short is shown as it came, the cut said', () => {
    expect(body('{"a":[1,2]}', 'application/problem+json').text).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    const cut = body('{"a":[1,2', 'application/json', { readCut: true, declared: 2000 });
    expect(cut.format).toBe('text');
    expect(cut.text).toBe('{"a":[1,2\n\n[cut: only the first 9 bytes of 2.0 KiB were read]');
  });

  it('binary is described with its sha256, never dumped', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const r = body(png, 'image/png');
    expect(r.format).toBe('binary');
    expect(r.sha256).toBe(createHash('sha256').update(png).digest('hex'));
    expect(r.text).toBe(`[binary body not shown: image/png, 12 bytes read; sha256 of what was read: ${r.sha256}]`);
    expect(body(png, undefined).format).toBe('binary');
    expect(body('plain words\n', undefined).format).toBe('text');
  });

  it('the text is cut at max_bytes and says so', () => {
    const r = body('x'.repeat(5000), 'text/plain', { maxBytes: 1000 });
    expect(r.truncated).toBe(true);
    expect(r.text).toBe(`${'x'.repeat(1000)}\n\n[cut: the text is 4.9 KiB, shown up to max_bytes (1000 bytes)]`);
  });

  it('cuts UTF-8 at a character boundary', () => {
    expect(cutUtf8('aé', 2)).toEqual({ text: 'a', cut: true });
  });
});
