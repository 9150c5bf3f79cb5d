/**
 * Sessions: who is connected. Open 2025-era sessions (Streamable HTTP and /sse) with their client
 * and protocol revision; 2026-07-28 clients have no session, so they show as user + client name
 * with the calls they made (seen in the last 24 hours). Admins see everyone, others themselves.
 */
import type { LiveSession, SessionActivity, UiData, UiViewer } from '../contract.ts';
import { ago, html, timeTag } from '../html.ts';
import { mayView, type Page } from '../page.ts';
import { showControls } from '../../policy/gate.ts';

/** A 2026 client not seen for this long is no longer listed. */
const CLIENT_WINDOW_MS = 24 * 60 * 60_000;

interface Row {
  user: string;
  role: string;
  key?: string;
  session: string;
  client?: { name: string; version?: string };
  era: string;
  transport: string;
  calls: number;
  lastCallAt?: string;
  lastTool?: string;
  openedAt?: string;
}

function approvalCell(data: UiData, r: Row, now: number) {
  const mode = data.modeOf({ user: r.user, role: r.role as UiViewer['role'] });
  if (r.role === 'viewer') return html`<span class="muted">viewer (no writes)</span>`;
  if (mode !== 'session') return html`${mode} mode <span class="muted">(each write asked)</span>`;
  const a = r.key ? data.approval({ user: r.user, role: r.role as UiViewer['role'], key: r.key }, r.session) : undefined;
  return a ? html`<span class="warn">writes approved</span> <span class="muted">until ${timeTag(a.expiresAt)} unless used (${ago(a.approvedAt, now)} ago)</span>` : html`<span class="muted">not approved</span>`;
}

export function sessionRows(live: LiveSession[], activity: SessionActivity[], viewer: UiViewer, now: number): Row[] {
  const byId = new Map(activity.map((a) => [`${a.user}\u0000${a.session}`, a]));
  const rows: Row[] = live
    .filter((s) => mayView(viewer, s.user))
    .map((s) => {
      const a = byId.get(`${s.user}\u0000${s.id}`);
      return {
        user: s.user,
        role: s.role,
        key: s.key,
        session: s.id,
        ...(s.client ?? a?.client ? { client: (s.client ?? a?.client)! } : {}),
        era: s.protocolVersion ?? (s.transport === 'sse' ? '2024-11-05' : '2025'),
        transport: s.transport === 'sse' ? '/sse' : '/mcp session',
        calls: a?.calls ?? 0,
        ...(a ? { lastCallAt: a.lastCallAt, lastTool: a.lastTool } : {}),
        openedAt: s.openedAt,
      };
    });
  for (const a of activity) {
    if (!a.session.startsWith('client:') || !mayView(viewer, a.user) || now - Date.parse(a.lastCallAt) > CLIENT_WINDOW_MS) continue;
    rows.push({ user: a.user, role: a.role ?? '', ...(a.key ? { key: a.key } : {}), session: a.session, ...(a.client ? { client: a.client } : {}), era: '2026-07-28', transport: '/mcp (stateless)', calls: a.calls, lastCallAt: a.lastCallAt, lastTool: a.lastTool });
  }
  return rows.sort((x, y) => (y.lastCallAt ?? y.openedAt ?? '').localeCompare(x.lastCallAt ?? x.openedAt ?? ''));
}

export const sessionsPage: Page = {
  path: 'sessions',
  title: 'Sessions',
  refreshSeconds: 10,
  render({ data, viewer, now }) {
    const rows = sessionRows(data.sessions(), data.activity(), viewer, now);
    return html`<h1>Sessions</h1>
<p>${rows.length} ${viewer.role === 'admin' ? '' : `of ${viewer.user}'s `}session(s): open 2025-era sessions, and 2026-07-28 clients (no sessions: shown by user and client name) that called in the last 24 hours.</p>
<div class="table-wrap"><table id="sessions-table"><thead><tr><th>User</th><th>Client</th><th>Protocol</th><th class="hide-narrow">Session</th><th>Writes</th><th>Calls</th><th>Last call</th></tr></thead>
<tbody>${
      rows.length
        ? rows.map(
            (r) => html`<tr data-user="${r.user}" data-session="${r.session}"><td>${r.user} <span class="muted">${r.role}</span></td><td>${r.client ? html`${showControls(r.client.name)}${r.client.version ? html` <span class="muted">${showControls(r.client.version)}</span>` : ''}` : html`<span class="muted">unknown</span>`}</td><td>${r.era} <span class="muted">${r.transport}</span></td><td class="mono hide-narrow">${r.session.startsWith('client:') ? '—' : showControls(r.session.slice(0, 12))}</td><td>${approvalCell(data, r, now)}</td><td>${r.calls}</td><td>${r.lastCallAt ? html`${showControls(r.lastTool ?? '')} <span class="muted">${ago(r.lastCallAt, now)} ago</span>` : html`<span class="muted">none yet</span>`}</td></tr>`,
          )
        : html`<tr><td colspan="7" class="muted">No sessions.</td></tr>`
    }</tbody></table></div>`;
  },
};
