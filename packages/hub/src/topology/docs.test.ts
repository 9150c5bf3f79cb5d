import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { docUri, firstHeading, MAX_DOC_BYTES, readDoc, scanDocs } from './docs.ts';

const base = mkdtempSync(join(tmpdir(), 'docs-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const docs = join(base, 'docs');
const outside = join(base, 'secret.md');
mkdirSync(join(docs, 'services', 'deep'), { recursive: true });
writeFileSync(join(docs, 'pitfalls.md'), '<!-- note -->\n# Known pitfalls\n\nThe NAS sleeps at night.\n');
writeFileSync(join(docs, 'ip inventory.md'), 'no heading here\n');
writeFileSync(join(docs, 'services', 'grafana.md'), '## Grafana ##\nport 3000\n');
writeFileSync(join(docs, 'services', 'deep', 'notes.markdown'), '# Deep\n');
writeFileSync(join(docs, 'services', 'readme.txt'), '# not markdown\n');
writeFileSync(join(docs, 'huge.md'), '# Huge\n' + 'x'.repeat(MAX_DOC_BYTES));
writeFileSync(join(docs, '.hidden.md'), '# Hidden\n');
writeFileSync(outside, '# Secret\ntoken=abc\n');
symlinkSync(outside, join(docs, 'escape.md'));
symlinkSync(join(docs, 'pitfalls.md'), join(docs, 'services', 'alias.md'));

describe('scanDocs', () => {
  it('lists Markdown recursively with titles from the first heading, refusing links outside and oversized files', () => {
    const scan = scanDocs(docs);
    expect(scan.docs.map((d) => [d.uri, d.title])).toEqual([
      ['docs://ip%20inventory.md', 'ip inventory'],
      ['docs://pitfalls.md', 'Known pitfalls'],
      ['docs://services/alias.md', 'Known pitfalls'],
      ['docs://services/deep/notes.markdown', 'Deep'],
      ['docs://services/grafana.md', 'Grafana'],
    ]);
    expect(scan.skipped).toEqual(['escape.md: a link outside the docs folder', `huge.md: larger than ${MAX_DOC_BYTES / 1024} KiB`]);
    expect(scanDocs(join(base, 'nope'))).toEqual({ docs: [], skipped: [`${join(base, 'nope')}: no such folder`] });
  });

  it('reads a listed document, and refuses one whose link was turned outside since', () => {
    const scan = scanDocs(docs);
    const pitfalls = scan.docs.find((d) => d.path === 'pitfalls.md')!;
    expect(readDoc(docs, pitfalls)).toContain('The NAS sleeps at night.');
    const alias = scan.docs.find((d) => d.path === 'services/alias.md')!;
    unlinkSync(join(docs, 'services', 'alias.md'));
    symlinkSync(outside, join(docs, 'services', 'alias.md'));
    expect(() => readDoc(docs, alias)).toThrow('docs://services/alias.md now points outside the docs folder');
  });

  it('helpers', () => {
    expect(docUri('a b/c#d.md')).toBe('docs://a%20b/c%23d.md');
    expect(firstHeading('text\n   ### Title here ###\n')).toBe('Title here');
    expect(firstHeading('#hashtag\n')).toBeUndefined();
  });
});
