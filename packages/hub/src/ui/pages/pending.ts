/**
 * Pending: writes the gate holds, with the preview as the model saw it (session and confirm
 * modes), and questions a person has not answered yet (human mode). Admins see everyone's,
 * others their own. Approving happens in the chat, never here. Refreshes itself.
 */
import type { PendingWrite } from '../contract.ts';
import { ago, html, timeTag } from '../html.ts';
import { mayView, type Page } from '../page.ts';

const waitsFor = (p: PendingWrite) =>
  p.kind === 'question' ? 'a person to answer the question in their client' : p.mode === 'session' ? 'approve_writes in the chat, then the call again' : 'the same call again with its confirm token';

export const pendingPage: Page = {
  path: 'pending',
  title: 'Pending',
  refreshSeconds: 5,
  render({ data, viewer, now }) {
    const items = data.pending().filter((p) => mayView(viewer, p.user));
    return html`<h1>Pending</h1>
<p>${items.length ? `${items.length} write(s) waiting.` : 'Nothing waits for approval.'} Approve or decline in the chat: this page only shows.</p>
<ul class="pending" id="pending-list">${items.map(
      (p) => html`<li class="pending-item" data-tool="${p.tool}" data-user="${p.user}" data-id="${p.id}">
<div><b class="mono">${p.tool}</b> by ${p.user} <span class="muted">(${p.role})</span> · ${p.mode} mode · ${p.kind === 'question' ? html`<span class="warn">asking a person</span>` : 'preview shown to the model'} · ${timeTag(p.at)} <span class="muted">${ago(p.at, now)} ago${p.expiresAt ? html`, expires ${timeTag(p.expiresAt)}` : ''}</span></div>
<div>On: ${p.preview.where.join(', ') || html`<span class="muted">—</span>`}</div>
<pre class="action">${p.preview.action}</pre>
${p.preview.note ? html`<p class="warn">${p.preview.note}</p>` : ''}
<details><summary>Arguments (secrets redacted) and what the ${p.kind === 'question' ? 'person is asked' : 'model got'}</summary><pre>${JSON.stringify(p.preview.arguments, null, 2)}</pre><pre>${p.text}</pre></details>
<div class="muted">Waits for ${waitsFor(p)}.</div></li>`,
    )}</ul>`;
  },
};
