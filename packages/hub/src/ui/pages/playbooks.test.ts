import { describe, expect, it } from 'vitest';
import type { PlaybookDrafts, UiData } from '../contract.ts';
import type { PageContext } from '../page.ts';
import { playbooksPage } from './playbooks.ts';

const NOW = Date.parse('2026-12-07T12:00:00Z');

/** A UiData whose only answer that matters here is `playbooks`. */
function fakeData(playbooks: PlaybookDrafts | undefined, seen: { signal?: AbortSignal } = {}): UiData {
  return {
    version: '0.0.0-test',
    startedAt: new Date(NOW - 3_600_000),
    nodesAndUpstreams: () => [],
    integrations: async () => [],
    topology: { nodes: () => [], services: () => [], lastRefresh: () => ({}) },
    journalStats: () => ({ dir: '/tmp/j', files: 1, bytes: 0, appended: 0, commits: 0, held: 0 }),
    shipper: () => undefined,
    shipperBacklog: async () => undefined,
    sessions: () => [],
    activity: () => [],
    approval: () => undefined,
    modeOf: () => 'session',
    pending: () => [],
    audit: async () => ({ events: [] }),
    follow: () => () => undefined,
    tools: () => [],
    playbooks: async (signal) => {
      seen.signal = signal;
      return playbooks;
    },
  };
}

function ctx(data: UiData, signal = new AbortController().signal): PageContext {
  return { data, viewer: { user: 'ann', role: 'admin', key: 'k' }, query: new URLSearchParams(), signal, now: NOW };
}

const render = async (p: PlaybookDrafts | undefined) => (await playbooksPage.render(ctx(fakeData(p)))).value;

const DIFF = 'diff --git a/update-pis.yml b/update-pis.yml\nnew file mode 100644\n--- /dev/null\n+++ b/update-pis.yml\n@@ -0,0 +1,2 @@\n+- hosts: pis\n+  tasks: []\n';

describe('playbooksPage', () => {
  it('says when no playbook repo is configured', async () => {
    expect(playbooksPage.path).toBe('playbooks');
    expect(await render(undefined)).toContain('No playbook repo configured');
  });

  it('passes the page signal to the data', async () => {
    const seen: { signal?: AbortSignal } = {};
    const signal = new AbortController().signal;
    await playbooksPage.render(ctx(fakeData(undefined, seen), signal));
    expect(seen.signal).toBe(signal);
  });

  it('shows the forge error instead of the list', async () => {
    const out = await render({ repo: 'main at 1a2b3c4d5e6f, PRs on Gitea at http://127.0.0.1:1', drafts: [], error: 'Gitea at http://127.0.0.1:1 is unreachable: <connection refused>' });
    expect(out).toContain('<p class="error" role="alert" id="playbooks-error">The drafts could not be read: Gitea at http://127.0.0.1:1 is unreachable: &lt;connection refused&gt;</p>');
    expect(out).not.toContain('<table');
  });

  it('says when nothing waits', async () => {
    expect(await render({ repo: 'main at 1a2b3c4d5e6f', drafts: [] })).toContain('No draft waits for review.');
  });

  it('shows each draft with its PR link, author, age, checks, syntax result and rendered diff', async () => {
    const out = await render({
      repo: 'main at 1a2b3c4d5e6f, PRs on Gitea at http://git',
      drafts: [
        { name: 'update-pis', branch: 'mcp-draft/update-pis', commit: 'abcdef0123456789abcdef0123456789abcdef01', author: 'homelab-bot', createdAt: '2026-12-07T11:00:00Z', pr: { number: 7, url: 'https://git.example/me/playbooks/pulls/7', title: 'Playbook update-pis: new', checks: 'success (1)', mergeable: true }, diff: DIFF, cut: false, syntax: { ok: true } },
        { name: 'broken', branch: 'mcp-draft/broken', commit: '0123456789abcdef0123456789abcdef01234567', author: 'bob', createdAt: '2026-12-05T12:00:00Z', pr: { number: 8, url: 'https://git.example/me/playbooks/pulls/8', title: 'Broken', checks: 'none', mergeable: null }, diff: DIFF, cut: true, syntax: { ok: false, error: 'not valid YAML: line 3, column 5: <unexpected>', line: 3 } },
      ],
    });
    expect(out).toContain('<table id="drafts"');
    expect(out.match(/<tr class="draft-row"/g)).toHaveLength(2);
    expect(out).toContain('<a href="https://git.example/me/playbooks/pulls/7" rel="noreferrer noopener" target="_blank">#7 Playbook update-pis: new</a>');
    expect(out).toContain('homelab-bot');
    expect(out).toContain('<td>1 h 0 min</td>');
    expect(out).toContain('<td>2 d 0 h</td>');
    expect(out).toContain('success (1)');
    expect(out).toContain('<span class="ok syntax-ok">passed</span>');
    expect(out).toContain('<span class="bad syntax-failed">failed (line 3)</span>');
    expect(out).toContain('<pre class="syntax-error">not valid YAML: line 3, column 5: &lt;unexpected&gt;</pre>');
    expect(out).toContain('<table class="diff" id="diff-update-pis">');
    expect(out).toContain('<table class="diff" id="diff-broken">');
    expect(out).toMatch(/<tr class="add"><td class="ln"><\/td><td class="ln">1<\/td><td class="src">\+- hosts: pis<\/td><\/tr>/);
    expect(out).toContain('The diff is cut here');
  });

  it('lets the drafts table scroll inside the page on a phone, not the whole page', async () => {
    const out = await render({ repo: 'main at 1a2b3c4d5e6f', drafts: [{ name: 'update-pis', branch: 'mcp-draft/update-pis', commit: 'abcdef0123456789abcdef0123456789abcdef01', author: 'homelab-bot', diff: DIFF, cut: false, syntax: { ok: true } }] });
    expect(out).toMatch(/<div class="table-scroll"><table id="drafts"[^]*?<\/table><\/div>/);
  });

  it('shows a syntax check that is still running as such, not as a failure', async () => {
    const out = await render({ repo: 'x', drafts: [{ name: 'slow', branch: 'mcp-draft/slow', commit: 'c0ffee', author: 'a', diff: '', cut: false, syntax: { ok: false, pending: true, error: 'the syntax check is still running; reload the page in a few seconds' } }] });
    expect(out).toContain('<span class="warn syntax-pending">being checked</span>');
    expect(out).toContain('<p class="muted">the syntax check is still running; reload the page in a few seconds</p>');
    expect(out).not.toContain('failed');
    expect(out).not.toContain('syntax-error');
  });

  it('renders only http(s) PR addresses as links, and escapes what the forge says', async () => {
    const out = await render({
      repo: 'x',
      drafts: [{ name: '<b>x</b>', branch: 'mcp-draft/<b>x</b>', commit: 'c0ffee', author: '<img src=x>', pr: { number: 1, url: 'javascript:alert(1)', title: '"><script>alert(1)</script>', checks: 'none' }, diff: '', cut: false, syntax: { ok: true } }],
    });
    expect(out).not.toMatch(/href="javascript:|<script|<img|<b>/);
    expect(out).toContain('#1 &quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt; <span class="muted">(javascript:alert(1))</span>');
    expect(out).toContain('id="draft-_b_x__b_"');
  });
});
