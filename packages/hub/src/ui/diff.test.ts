import { describe, expect, it } from 'vitest';
import { MAX_DIFF_ROWS, renderDiff } from './diff.ts';

/** The rows as [class, old, new, text] (text unescaped back for reading). */
function rows(h: string): Array<[string, string, string, string]> {
  return [...h.matchAll(/<tr class="([^"]+)"><td class="ln">([^<]*)<\/td><td class="ln">([^<]*)<\/td><td class="src">(.*?)<\/td><\/tr>/g)].map((m) => [m[1]!, m[2]!, m[3]!, m[4]!]);
}

describe('renderDiff', () => {
  it('escapes hostile content: a <script> line, quotes and a file name are text', () => {
    const out = renderDiff('diff --git a/"><img src=x onerror=alert(1)>.yml b/x.yml\n@@ -1 +1 @@\n-<script>alert("x")</script>\n+</td></tr></table><script>alert(1)</script>\n').value;
    expect(out).not.toMatch(/<script|<img|<\/table><|onerror=alert\(1\)>/);
    expect(out).toContain('+&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('-&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(out.match(/<table/g)).toHaveLength(1);
    expect(out.match(/<\/table>/g)).toHaveLength(1);
  });

  it('shows bidi overrides and other invisible characters as visible marks', () => {
    const out = renderDiff('@@ -1 +1 @@\n+x: "admin\u202e \u2066// only a comment\u2069"\n').value;
    expect(out).not.toMatch(/[\u202e\u2066\u2069]/);
    expect(out).toContain('<span class="ctrl" title="invisible character U+202E">&lt;U+202E&gt;</span>');
    expect(out).toContain('&lt;U+2066&gt;');
  });

  it('numbers old and new lines across hunks and files', () => {
    const diff = [
      'diff --git a/site.yml b/site.yml',
      'index 1111111..2222222 100644',
      '--- a/site.yml',
      '+++ b/site.yml',
      '@@ -1,3 +1,3 @@ first',
      ' - hosts: pis',
      '-  gather_facts: true',
      '+  gather_facts: false',
      '   tasks:',
      '@@ -10,2 +10,3 @@',
      '     - ping:',
      '+    - debug:',
      '',
      'diff --git a/new.yml b/new.yml',
      'new file mode 100644',
      '--- /dev/null',
      '+++ b/new.yml',
      '@@ -0,0 +1,2 @@',
      '+- hosts: all',
      '+  tasks: []',
    ].join('\n');
    const r = rows(renderDiff(diff).value);
    expect(r).toEqual([
      ['file', '', '', 'diff --git a/site.yml b/site.yml'],
      ['file', '', '', 'index 1111111..2222222 100644'],
      ['file', '', '', '--- a/site.yml'],
      ['file', '', '', '+++ b/site.yml'],
      ['hunk', '', '', '@@ -1,3 +1,3 @@ first'],
      ['ctx', '1', '1', ' - hosts: pis'],
      ['del', '2', '', '-  gather_facts: true'],
      ['add', '', '2', '+  gather_facts: false'],
      ['ctx', '3', '3', '   tasks:'],
      ['hunk', '', '', '@@ -10,2 +10,3 @@'],
      ['ctx', '10', '10', '     - ping:'],
      ['add', '', '11', '+    - debug:'],
      ['ctx', '11', '12', ''],
      ['file', '', '', 'diff --git a/new.yml b/new.yml'],
      ['file', '', '', 'new file mode 100644'],
      ['file', '', '', '--- /dev/null'],
      ['file', '', '', '+++ b/new.yml'],
      ['hunk', '', '', '@@ -0,0 +1,2 @@'],
      ['add', '', '1', '+- hosts: all'],
      ['add', '', '2', '+  tasks: []'],
    ]);
  });

  it('shows "\\ No newline at end of file" as a note that takes no line number', () => {
    const r = rows(renderDiff('@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n').value);
    expect(r).toEqual([
      ['hunk', '', '', '@@ -1,2 +1,2 @@'],
      ['ctx', '1', '1', ' a'],
      ['del', '2', '', '-b'],
      ['note', '', '', '\\ No newline at end of file'],
      ['add', '', '2', '+c'],
      ['note', '', '', '\\ No newline at end of file'],
    ]);
  });

  it('shows a binary file as its header lines, without numbers', () => {
    const r = rows(renderDiff('diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..3333333\nBinary files /dev/null and b/logo.png differ\n').value);
    expect(r.map((x) => x[0])).toEqual(['file', 'file', 'file', 'file']);
    expect(r[3]).toEqual(['file', '', '', 'Binary files /dev/null and b/logo.png differ']);
  });

  it('is bounded: rows beyond the limit are counted, long lines cut', () => {
    const diff = `@@ -1,${MAX_DIFF_ROWS + 10} +1,${MAX_DIFF_ROWS + 10} @@\n${Array.from({ length: MAX_DIFF_ROWS + 10 }, (_, i) => ` line ${i}`).join('\n')}\n`;
    const out = renderDiff(diff).value;
    expect(out.match(/<tr /g)).toHaveLength(MAX_DIFF_ROWS + 1);
    expect(out).toContain('… 11 more lines not shown');
    const long = renderDiff(`@@ -1 +1 @@\n+${'x'.repeat(10_000)}\n`).value;
    expect(long.length).toBeLessThan(3000);
    expect(long).toContain('more characters');
  });

  it('says so when there is nothing to show, and takes an id', () => {
    expect(renderDiff('').value).toBe('<p class="muted">No changes.</p>');
    expect(renderDiff('@@ -1 +1 @@\n-a\n+b\n', { id: 'diff-"x' }).value).toMatch(/^<table class="diff" id="diff-&quot;x">/);
  });
});
