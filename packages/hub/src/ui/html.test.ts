import { describe, expect, it } from 'vitest';
import { html } from './html.ts';

describe('the html tag', () => {
  it('marks invisible and bidi characters in text and attributes; keeps line breaks', () => {
    const evil = 'a\u202eb\u200bc\u2066d';
    expect(html`<td title="${evil}">${evil}</td>`.value).toBe('<td title="a\\u{202e}b\\u{200b}c\\u{2066}d">a\\u{202e}b\\u{200b}c\\u{2066}d</td>');
    expect(html`<pre>${'one\r\ntwo\tthree\n'}</pre>`.value).toBe('<pre>one\r\ntwo\tthree\n</pre>');
    expect(html`${'<b>'}`.value).toBe('&lt;b&gt;');
  });
});
