/**
 * A unified diff (`git diff`) as an HTML table for a person reviewing a draft: old and new line
 * numbers, one row per line classed by kind, every text escaped. Invisible characters that can
 * make code read differently from what runs (bidi overrides, "Trojan Source") are shown as
 * visible `<U+202E>` marks, never passed through.
 */
import { html, type Html } from './html.ts';

/** Rows shown at most; the rest is counted in a last row. */
export const MAX_DIFF_ROWS = 5000;
/** Characters shown of one line. */
export const MAX_DIFF_LINE_CHARS = 2000;

// Bidi controls, zero-width characters, and C0/C1 controls except tab.
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** Text with invisible characters as visible marks. */
function visible(text: string): Html {
  const parts: Html[] = [];
  let at = 0;
  for (const m of text.matchAll(INVISIBLE)) {
    const code = `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    parts.push(html`${text.slice(at, m.index)}<span class="ctrl" title="invisible character ${code}">&lt;${code}&gt;</span>`);
    at = m.index + m[0].length;
  }
  parts.push(html`${text.slice(at)}`);
  return html`${parts}`;
}

function cell(text: string): Html {
  const shown = text.length > MAX_DIFF_LINE_CHARS ? html`${visible(text.slice(0, MAX_DIFF_LINE_CHARS))}<span class="muted"> … ${text.length - MAX_DIFF_LINE_CHARS} more characters</span>` : visible(text);
  return html`<td class="src">${shown}</td>`;
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

/**
 * `<table class="diff">`: rows `file` (the headers of each file, `Binary files … differ`
 * among them), `hunk` (`@@ … @@`), `ctx`, `del` and `add` with `<td class="ln">` old and new
 * line numbers, and `note` for `\ No newline at end of file`. At most {@link MAX_DIFF_ROWS} rows.
 *
 * @example renderDiff('@@ -1 +1 @@\n-a\n+b\n', { id: 'diff-site' })
 */
export function renderDiff(diff: string, opts: { id?: string } = {}): Html {
  const lines = diff.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (!lines.length) return html`<p class="muted">No changes.</p>`;
  const rows: Html[] = [];
  let oldLn = 0;
  let newLn = 0;
  let inHunk = false;
  for (const line of lines.slice(0, MAX_DIFF_ROWS)) {
    const h = HUNK.exec(line);
    if (h) {
      oldLn = Number(h[1]);
      newLn = Number(h[2]);
      inHunk = true;
      rows.push(html`<tr class="hunk"><td class="ln"></td><td class="ln"></td>${cell(line)}</tr>`);
    } else if (inHunk && line.startsWith('+')) {
      rows.push(html`<tr class="add"><td class="ln"></td><td class="ln">${newLn++}</td>${cell(line)}</tr>`);
    } else if (inHunk && line.startsWith('-')) {
      rows.push(html`<tr class="del"><td class="ln">${oldLn++}</td><td class="ln"></td>${cell(line)}</tr>`);
    } else if (inHunk && (line.startsWith(' ') || line === '')) {
      // An empty line inside a hunk is a blank context line whose leading space was lost.
      rows.push(html`<tr class="ctx"><td class="ln">${oldLn++}</td><td class="ln">${newLn++}</td>${cell(line)}</tr>`);
    } else if (inHunk && line.startsWith('\\')) {
      rows.push(html`<tr class="note"><td class="ln"></td><td class="ln"></td>${cell(line)}</tr>`);
    } else {
      inHunk = false;
      rows.push(html`<tr class="file"><td class="ln"></td><td class="ln"></td>${cell(line)}</tr>`);
    }
  }
  if (lines.length > MAX_DIFF_ROWS) rows.push(html`<tr class="note more"><td class="ln"></td><td class="ln"></td><td class="src">… ${lines.length - MAX_DIFF_ROWS} more lines not shown</td></tr>`);
  return html`<table class="diff"${opts.id ? html` id="${opts.id}"` : ''}><tbody>${rows}</tbody></table>`;
}
