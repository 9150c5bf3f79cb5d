/**
 * Health: the hub's version and uptime, each node, upstream and integration with its state and
 * since when, the topology's last refresh, the journal's size and how far Loki is behind.
 * Everyone who can log in sees it (list_nodes tells any role as much). Refreshes itself.
 */
import { mib } from '../../audit/loki-shipper.ts';
import type { HealthItem } from '../contract.ts';
import { ago, html, timeTag } from '../html.ts';
import type { Page } from '../page.ts';

/** How long the integrations may take to answer before the page goes without them. */
const INTEGRATIONS_MS = 4_000;

function row(i: HealthItem, now: number) {
  return html`<tr data-name="${i.name}" data-kind="${i.kind}"><td>${i.name}</td><td>${i.kind}</td><td class="status-${i.status}">${i.status}</td><td>${i.since ? html`${timeTag(i.since)} <span class="muted">(${ago(i.since, now)})</span>` : ''}</td><td class="detail">${i.detail ?? ''}</td></tr>`;
}

export const healthPage: Page = {
  path: 'health',
  title: 'Health',
  refreshSeconds: 10,
  async render({ data, signal, now }) {
    const items: HealthItem[] = data.nodesAndUpstreams().map((u) => ({ name: u.name, kind: u.kind, status: u.status, since: u.since, ...(u.error ? { detail: u.error } : u.warning ? { detail: u.warning } : {}) }));
    let integrationNote = '';
    try {
      items.push(...(await data.integrations(AbortSignal.any([signal, AbortSignal.timeout(INTEGRATIONS_MS)]))));
    } catch (err) {
      integrationNote = `The integrations did not answer in time (${err instanceof Error ? err.message : String(err)}).`;
    }
    const down = items.filter((i) => i.status === 'down' || i.status === 'problem');
    const j = data.journalStats();
    const s = data.shipper();
    const behind = s ? await data.shipperBacklog().catch(() => undefined) : undefined;
    const t = data.topology.lastRefresh();
    return html`<h1>Health</h1>
<div class="cards">
<div class="card"><b>${data.version}</b><span>version</span></div>
<div class="card"><b>${ago(data.startedAt, now)}</b><span>up since ${timeTag(data.startedAt)}</span></div>
<div class="card"><b class="${down.length ? 'bad' : 'ok'}" id="health-summary">${down.length ? `${down.length} of ${items.length} down` : `all ${items.length} up`}</b><span>nodes, upstreams, integrations</span></div>
<div class="card"><b>${mib(j.bytes)}</b><span>audit journal, ${j.files} file(s), ${j.appended} event(s) since start</span></div>
<div class="card" id="loki-card">${
      s
        ? html`<b class="${s.backlogBytes > s.backlogWarnBytes || s.state === 'retrying' ? 'bad' : ''}">${s.backlogBytes === 0 ? 'caught up' : `${behind ? `${behind.capped ? 'over ' : ''}${behind.events} event(s), ` : ''}${mib(s.backlogBytes)} behind`}</b><span>Loki shipper: ${s.state}${(behind?.oldest ?? s.oldestUnshippedAt) ? html`, oldest unshipped ${timeTag(behind?.oldest ?? s.oldestUnshippedAt)}` : ''}${s.lastError ? html`; last error: ${s.lastError}` : ''}; ${s.shipped} shipped</span>`
        : html`<b>off</b><span>no Loki configured (audit.loki): the journal is the whole trail</span>`
    }</div>
<div class="card"><b>${t.edges ? ago(t.edges, now) : 'never'}</b><span>topology refreshed from the edges${t.edges ? html` at ${timeTag(t.edges)}` : ''}${t.ansible ? html`; from Ansible ${timeTag(t.ansible)}` : ''}</span></div>
</div>
${integrationNote ? html`<p class="warn">${integrationNote}</p>` : ''}
<div class="table-wrap"><table id="health-table"><thead><tr><th>Name</th><th>Kind</th><th>State</th><th>Since</th><th>Detail</th></tr></thead>
<tbody>${items.length ? items.map((i) => row(i, now)) : html`<tr><td colspan="5" class="muted">No nodes, upstreams or integrations are configured.</td></tr>`}</tbody></table></div>`;
  },
};
