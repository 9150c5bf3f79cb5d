/**
 * The Playbooks page: the drafts waiting in the Ansible review queue, each with its pull request,
 * the syntax check of its commit and its diff against main, so a person can review before they
 * merge. Merging stays on the forge (or promote_playbook in the chat): nothing here acts.
 */
import type { PlaybookDraftView } from '../contract.ts';
import { renderDiff } from '../diff.ts';
import { ago, html, timeTag, type Html } from '../html.ts';
import type { Page } from '../page.ts';

/** Id-safe and distinct forms of the drafts' names (`a/b` and `a_b` would otherwise meet). */
function slugs(drafts: PlaybookDraftView[]): string[] {
  const seen = new Set<string>();
  return drafts.map((d, i) => {
    let s = d.name.replace(/[^A-Za-z0-9_.-]/g, '_');
    if (seen.has(s)) s = `${s}-${i}`;
    seen.add(s);
    return s;
  });
}

/** The PR as a link, when its address is http(s); as text otherwise (a `javascript:` URL from a forge stays text). */
function prLink(pr: NonNullable<PlaybookDraftView['pr']>): Html {
  const label = html`#${pr.number} ${pr.title}`;
  return /^https?:\/\//i.test(pr.url) ? html`<a href="${pr.url}" rel="noreferrer noopener" target="_blank">${label}</a>` : html`${label} <span class="muted">(${pr.url})</span>`;
}

function syntaxCell(s: PlaybookDraftView['syntax']): Html {
  if (s.ok) return html`<span class="ok syntax-ok">passed</span>`;
  if (s.pending) return html`<span class="warn syntax-pending">being checked</span>`;
  return html`<span class="bad syntax-failed">failed${s.line ? ` (line ${s.line})` : ''}</span>`;
}

function mergeable(m: boolean | null | undefined): string {
  return m === true ? 'yes' : m === false ? 'no (a conflict, or branch protection)' : 'not known yet';
}

function draftSection(d: PlaybookDraftView, id: string, now: number): Html {
  return html`<section class="draft" id="draft-${id}" data-draft="${d.name}">
<h2>${d.name}</h2>
<dl class="facts">
<dt>Pull request</dt><dd>${d.pr ? prLink(d.pr) : html`<span class="muted">none (no forge configured: the branch is the draft)</span>`}</dd>
<dt>Branch</dt><dd><code>${d.branch}</code> at <code title="${d.commit}">${d.commit.slice(0, 12)}</code></dd>
<dt>Author</dt><dd>${d.author}</dd>
<dt>Age</dt><dd>${d.createdAt ? html`${ago(d.createdAt, now)} (${timeTag(d.createdAt)})` : html`<span class="muted">?</span>`}</dd>
${d.pr ? html`<dt>Checks</dt><dd>${d.pr.checks}</dd><dt>Mergeable</dt><dd>${mergeable(d.pr.mergeable)}</dd>` : ''}
<dt>Syntax check</dt><dd>${syntaxCell(d.syntax)} <span class="muted">(ansible-playbook --syntax-check at ${d.commit.slice(0, 12)})</span></dd>
</dl>
${!d.syntax.ok ? (d.syntax.pending ? html`<p class="muted">${d.syntax.error}</p>` : html`<pre class="syntax-error">${d.syntax.error}</pre>`) : ''}
<h3>Diff against main</h3>
${d.cut ? html`<p class="note">The diff is cut here (it is larger than the page shows); ${d.pr ? 'the pull request' : 'git'} shows all of it.</p>` : ''}
${renderDiff(d.diff, { id: `diff-${id}` })}
</section>`;
}

/**
 * @example pages: [..., playbooksPage] // /ui/playbooks
 */
export const playbooksPage: Page = {
  path: 'playbooks',
  title: 'Playbooks',
  async render(ctx) {
    const p = await ctx.data.playbooks(ctx.signal);
    if (!p) return html`<h1>Playbooks</h1><p class="muted" id="playbooks-none">No playbook repo configured (<code>ansible:</code> in hub.yaml), so there is no review queue.</p>`;
    const head = html`<h1>Playbooks</h1><p class="muted" id="playbooks-repo">Drafts waiting for review: ${p.repo}</p>`;
    if (p.error) return html`${head}<p class="error" role="alert" id="playbooks-error">The drafts could not be read: ${p.error}</p>`;
    if (!p.drafts.length) return html`${head}<p class="muted" id="playbooks-empty">No draft waits for review.</p>`;
    const ids = slugs(p.drafts);
    const rows = p.drafts.map(
      (d, i) => html`<tr class="draft-row" data-draft="${d.name}"><td><a href="#draft-${ids[i]}">${d.name}</a></td><td>${d.pr ? prLink(d.pr) : html`<span class="muted">no PR</span>`}</td><td>${d.author}</td><td>${d.createdAt ? ago(d.createdAt, ctx.now) : '?'}</td><td>${d.pr?.checks ?? html`<span class="muted">-</span>`}</td><td>${syntaxCell(d.syntax)}</td></tr>`,
    );
    return html`${head}
<div class="table-scroll"><table id="drafts" class="list"><thead><tr><th>Draft</th><th>Pull request</th><th>Author</th><th>Age</th><th>Checks</th><th>Syntax</th></tr></thead><tbody>${rows}</tbody></table></div>
${p.drafts.map((d, i) => draftSection(d, ids[i]!, ctx.now))}`;
  },
};
