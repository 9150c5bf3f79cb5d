import { describe, expect, it, vi } from 'vitest';
import type { Context } from 'hono';
import { createUiApp, MAX_STREAMS_PER_SESSION, STREAM_RECHECK_MS, UI_CSP, type UiHttp } from './app.ts';
import type { PageContext } from './page.ts';
import type { UiData } from './contract.ts';
import { createUiSessions, MAX_UI_SESSIONS, MAX_UI_SESSIONS_PER_TOKEN, UI_SESSION_MS } from './ui-sessions.ts';
import { healthPage } from './pages/health.ts';
import { sessionsPage } from './pages/sessions.ts';
import { pendingPage } from './pages/pending.ts';
import { toolsPage } from './pages/tools.ts';
import type { Authenticated } from '../policy/auth.ts';

const ADMIN = 'admin-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';

function data(over: Partial<UiData> = {}): UiData {
  return {
    version: '9.9.9',
    startedAt: new Date('2026-12-07T10:00:00Z'),
    nodesAndUpstreams: () => [{ name: 'pi<1>', kind: 'node', status: 'up', since: '2026-12-07T10:00:01Z' }, { name: 'ha', kind: 'upstream', status: 'down', since: '2026-12-07T10:00:02Z', error: 'connection refused' }],
    integrations: async () => [{ name: 'Proxmox', kind: 'integration', status: 'ok', since: '2026-12-07T10:00:03Z', detail: 'ready' }],
    topology: { nodes: () => [], services: () => [], lastRefresh: () => ({ edges: '2026-12-07T10:01:00Z' }) },
    journalStats: () => ({ dir: '/x', files: 1, bytes: 2048, appended: 3, commits: 3, held: 0 }),
    shipper: () => undefined,
    shipperBacklog: async () => undefined,
    sessions: () => [
      { id: 'sess-ann-1', transport: 'streamable-http', user: 'ann', role: 'admin', key: 'k-ann', protocolVersion: '2025-11-25', client: { name: 'mcp-remote', version: '0.1' }, openedAt: '2026-12-07T10:02:00Z', lastSeenAt: '2026-12-07T10:03:00Z' },
      { id: 'sess-vic-1', transport: 'sse', user: 'vic', role: 'viewer', key: 'k-vic', openedAt: '2026-12-07T10:02:00Z', lastSeenAt: '2026-12-07T10:03:00Z' },
    ],
    activity: () => [{ user: 'ann', role: 'admin', key: 'k-ann', session: 'client:claude-code', client: { name: 'claude-code', version: '2.1' }, calls: 4, lastCallAt: new Date().toISOString(), lastTool: 'run_command' }],
    approval: () => undefined,
    modeOf: () => 'session',
    pending: () => [
      { id: 'p1', user: 'ann', role: 'admin', session: 's', tool: 'run_command', mode: 'session', kind: 'preview', at: '2026-12-07T10:04:00Z', preview: { action: 'run `rm -rf /tmp/x` on pi', where: ['pi'], arguments: { command: 'rm -rf /tmp/x' } }, text: 'Approval required' },
      { id: 'p2', user: 'opal', role: 'operator', session: 's2', tool: 'write_file', mode: 'human', kind: 'question', at: '2026-12-07T10:05:00Z', preview: { action: 'write <b>x</b>', where: ['pi'], arguments: {} }, text: 'write?' },
    ],
    audit: async () => ({ events: [] }),
    follow: () => () => undefined,
    tools: (role) => (role === 'viewer' ? [{ name: 'get_status', source: 'fleet', toolClass: 'read', description: 'Status <of> a node' }] : [{ name: 'get_status', source: 'fleet', toolClass: 'read', description: 'Status' }, { name: 'run_command', source: 'fleet', toolClass: 'write', description: 'Runs' }]),
    playbooks: async () => undefined,
    ...over,
  };
}

function setup(o: { data?: UiData; tls?: boolean; tokens?: Map<string, Authenticated>; budget?: number; pageBudget?: number; enabled?: () => boolean; streams?: Record<string, (ctx: PageContext) => Response> } = {}) {
  const tokens = o.tokens ?? new Map<string, Authenticated>([[ADMIN, { user: 'ann', role: 'admin', key: 'k-ann' }], [VIEWER, { user: 'vic', role: 'viewer', key: 'k-vic' }]]);
  let failures = 0;
  const refusals: string[] = [];
  const taken = new Map<string, number>();
  const http: UiHttp = {
    authenticate: (h) => tokens.get((h ?? '').replace(/^Bearer /, '')),
    resolveCaller: (k) => [...tokens.values()].find((t) => t.key === k),
    sourceOf: () => '203.0.113.9',
    viaTls: () => o.tls ?? false,
    authFailures: { blocked: () => (failures >= (o.budget ?? 30) ? { ok: false, retryAfterS: 42 } : { ok: true }), take: () => failures++ },
    refused: (_c: Context, kind) => void refusals.push(kind),
    ...(o.pageBudget !== undefined ? { rateLimit: (key: string) => ((taken.set(key, (taken.get(key) ?? 0) + 1), taken.get(key)! > o.pageBudget!) ? { ok: false as const, retryAfterS: 7 } : { ok: true as const }) } : {}),
  };
  const app = createUiApp({ data: o.data ?? data(), http, pages: [healthPage, sessionsPage, pendingPage, toolsPage], ...(o.enabled ? { enabled: o.enabled } : {}), ...(o.streams ? { streams: o.streams } : {}) });
  const req = (path: string, init: RequestInit & { cookie?: string } = {}) => app.request(`http://127.0.0.1${path}`, { ...init, headers: { ...(init.cookie ? { cookie: init.cookie } : {}), ...(init.headers as Record<string, string>) } });
  const login = async (token: string) => {
    const res = await req('/login', { method: 'POST', body: new URLSearchParams({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const set = res.headers.get('set-cookie') ?? '';
    return { res, set, cookie: set.split(';')[0]! };
  };
  return { app, req, login, refusals, failures: () => failures, tokens };
}

describe('the admin UI', () => {
  it('sends a visitor without a cookie to the login page, and a token in a URL is refused', async () => {
    const { req } = setup();
    for (const p of ['/', '/health', '/audit', '/nope']) {
      const r = await req(p);
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe('/ui/login');
      expect(r.headers.get('content-security-policy')).toBe(UI_CSP);
    }
    const r = await req(`/login?token=${ADMIN}`);
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('never put a token in a URL');
  });

  it('logs in once with a token: HttpOnly, SameSite=Strict, 8 hours, path /ui; Secure only when a trusted proxy said TLS', async () => {
    const { login, req } = setup();
    const { res, set, cookie } = await login(ADMIN);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/health');
    expect(set).toMatch(/^hub_ui=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; Max-Age=28800; Path=\/ui; HttpOnly; SameSite=Strict$/);
    expect(set).not.toContain(ADMIN);
    const page = await req('/health', { cookie });
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('<main id="page-health" data-refresh="10">');
    expect(text).toContain('pi&lt;1&gt;');
    expect(text).toContain('ann (admin)');
    expect((await setup({ tls: true }).login(ADMIN)).set).toMatch(/; Secure; SameSite=Strict$/);
    expect(UI_SESSION_MS).toBe(8 * 3600_000);
  });

  it('a wrong token: 401, no cookie, counted against the address; a throttled address gets 429 even with a good token', async () => {
    const s = setup({ budget: 2 });
    const bad = await s.login('nope');
    expect(bad.res.status).toBe(401);
    expect(bad.set).toBe('');
    expect(await bad.res.text()).toContain('That token is not valid on this hub.');
    await s.login('nope2');
    expect(s.failures()).toBe(2);
    const good = await s.login(ADMIN);
    expect(good.res.status).toBe(429);
    expect(good.set).toBe('');
    expect(s.refusals).toEqual(['unauthorized', 'unauthorized', 'auth_throttled']);
  });

  it('logins sent at once with their bodies held back cannot try more tokens than the budget', async () => {
    const s = setup({ budget: 3 });
    // Every request passes the first check before any body arrives; each then fails.
    const bodies: Array<() => void> = [];
    const slow = (token: string) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          bodies.push(() => {
            c.enqueue(new TextEncoder().encode(new URLSearchParams({ token }).toString()));
            c.close();
          });
        },
      });
    const answers = Array.from({ length: 12 }, (_, i) =>
      s.req('/login', { method: 'POST', body: slow(`wrong-${i}`), headers: { 'content-type': 'application/x-www-form-urlencoded' }, duplex: 'half' } as RequestInit),
    );
    await vi.waitFor(() => expect(bodies).toHaveLength(12));
    for (const send of bodies) send();
    const statuses = (await Promise.all(answers)).map((r) => r.status);
    expect(statuses.filter((x) => x === 401)).toHaveLength(3);
    expect(statuses.filter((x) => x === 429)).toHaveLength(9);
    expect(s.failures()).toBe(3);
  });

  it('a forged, tampered or logged-out cookie is no session; logout needs the page’s CSRF value', async () => {
    const { login, req } = setup();
    const { cookie } = await login(ADMIN);
    const [name, value] = cookie.split('=');
    const [id] = value!.split('.');
    expect((await req('/health', { cookie: `${name}=${id}.AAAA` })).status).toBe(303);
    expect((await req('/health', { cookie: `${name}=${value}x` })).status).toBe(303);
    // A cross-site form cannot know the CSRF value: the logout is refused and the session lives.
    const forged = await req('/logout', { method: 'POST', cookie, body: new URLSearchParams({ csrf: 'x' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(forged.status).toBe(403);
    const page = await (await req('/health', { cookie })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const out = await req('/logout', { method: 'POST', cookie, body: new URLSearchParams({ csrf }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^hub_ui=; Max-Age=0; Path=\/ui/);
    // The copied cookie is dead after logout.
    expect((await req('/health', { cookie })).status).toBe(303);
  });

  it('a token removed from the config logs its sessions out at the next page; a demotion applies at once', async () => {
    const s = setup();
    const { cookie } = await s.login(ADMIN);
    s.tokens.set(ADMIN, { user: 'ann', role: 'viewer', key: 'k-ann' });
    expect(await (await s.req('/tools?fragment=1', { cookie })).text()).not.toContain('run_command');
    s.tokens.delete(ADMIN);
    expect((await s.req('/tools', { cookie })).status).toBe(303);
  });

  it('an admin sees every session and pending write; a viewer only their own', async () => {
    const s = setup();
    const admin = (await s.login(ADMIN)).cookie;
    const viewer = (await s.login(VIEWER)).cookie;
    const a = await (await s.req('/sessions?fragment=1', { cookie: admin })).text();
    expect(a).toContain('data-session="sess-ann-1"');
    expect(a).toContain('data-session="sess-vic-1"');
    expect(a).toContain('2026-07-28');
    expect(a).toContain('claude-code');
    const v = await (await s.req('/sessions?fragment=1', { cookie: viewer })).text();
    expect(v).toContain('data-session="sess-vic-1"');
    expect(v).not.toContain('sess-ann-1');
    expect(v).not.toContain('claude-code');
    const pa = await (await s.req('/pending?fragment=1', { cookie: admin })).text();
    expect(pa.match(/class="pending-item"/g)).toHaveLength(2);
    expect(pa).toContain('write &lt;b&gt;x&lt;/b&gt;');
    const pv = await (await s.req('/pending?fragment=1', { cookie: viewer })).text();
    expect(pv).not.toContain('pending-item"');
    expect(pv).toContain('Nothing waits for approval.');
  });

  it('serves its one stylesheet and script itself, with the CSP; a page that fails says so inside the layout', async () => {
    const { req, login } = setup({ data: data({ tools: () => { throw new Error('catalog <gone>'); } }) });
    const css = await req('/assets/app.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await css.text()).toContain('table.diff');
    const js = await req('/assets/app.js');
    expect(await js.text()).toContain("new EventSource(src)");
    const { cookie } = await login(ADMIN);
    const r = await req('/tools', { cookie });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('This page could not be made: catalog &lt;gone&gt;');
  });

  it('breaks a long unbroken name inside a pending write and a draft heading rather than widen the page on a phone', async () => {
    // A 64-character tool name in bold monospace is wider than a 360 px screen (seen in Chromium).
    const css = await (await setup().req('/assets/app.css')).text();
    expect(css).toMatch(/li\.pending-item \{[^}]*overflow-wrap: anywhere/);
    expect(css).toMatch(/section\.draft h2 \{[^}]*overflow-wrap: anywhere/);
  });

  it('Health says how far Loki is behind, in events and since when', async () => {
    const shipper = { state: 'retrying' as const, shipped: 7, pushes: 9, retries: 2, rejectedBatches: 0, rejectedEvents: 0, skippedLines: 0, lastError: 'connection refused', cursor: { file: 1, offset: 0 }, backlogBytes: 4096, backlogWarnBytes: 1 << 26 };
    const s = setup({ data: data({ shipper: () => shipper, shipperBacklog: async () => ({ events: 12, capped: false, oldest: '2026-12-07T10:00:05.000Z' }) }) });
    const text = await (await s.req('/health?fragment=1', { cookie: (await s.login(ADMIN)).cookie })).text();
    expect(text).toContain('12 event(s), 4 KiB behind');
    expect(text).toContain('Loki shipper: retrying, oldest unshipped <time datetime="2026-12-07T10:00:05.000Z">');
    expect(text).toContain('last error: connection refused');
    expect(text).toContain('Proxmox');
  });

  it('ui.enabled: false answers 404 everywhere under /ui, the login included, and takes effect without a restart', async () => {
    let on = true;
    const s = setup({ enabled: () => on });
    const { cookie } = await s.login(ADMIN);
    on = false;
    for (const p of ['/', '/login', '/health', '/assets/app.js']) expect((await s.req(p, { cookie })).status).toBe(404);
    expect((await s.login(ADMIN)).res.status).toBe(404);
    on = true;
    expect((await s.req('/health', { cookie })).status).toBe(200);
  });

  it('live streams: logged-in only, at most a few per login session, ended when the session ends or the role changes', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const seen: PageContext[] = [];
      const s = setup({ streams: { 'audit/stream': (ctx) => (seen.push(ctx), new Response(new ReadableStream({ start: (ctl) => ctx.signal.addEventListener('abort', () => ctl.close()) }), { headers: { 'content-type': 'text/event-stream' } })) } });
      expect((await s.req('/audit/stream')).status).toBe(401);
      const { cookie } = await s.login(ADMIN);
      for (let i = 0; i < MAX_STREAMS_PER_SESSION; i++) expect((await s.req('/audit/stream', { cookie })).status).toBe(200);
      const over = await s.req('/audit/stream', { cookie });
      expect(over.status).toBe(429);
      expect(seen).toHaveLength(MAX_STREAMS_PER_SESSION);
      expect(seen[0]!.viewer).toEqual({ user: 'ann', role: 'admin', key: 'k-ann' });
      // A demotion ends the streams at the next check; they may reconnect, as what the role sees now.
      s.tokens.set(ADMIN, { user: 'ann', role: 'viewer', key: 'k-ann' });
      await vi.advanceTimersByTimeAsync(STREAM_RECHECK_MS);
      expect(seen.every((c) => c.signal.aborted)).toBe(true);
      expect((await s.req('/audit/stream', { cookie })).status).toBe(200);
      expect(seen.at(-1)!.viewer.role).toBe('viewer');
      // Logging out ends the rest.
      const page = await (await s.req('/health', { cookie })).text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
      await s.req('/logout', { method: 'POST', cookie, body: new URLSearchParams({ csrf }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(seen.at(-1)!.signal.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(STREAM_RECHECK_MS);
      expect(seen.at(-1)!.signal.aborted).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a live stream that ends by itself (a reload event) gives its place back', async () => {
    let opened = 0;
    const s = setup({ streams: { 'audit/stream': () => (opened++, new Response('event: reload\ndata: too many new events\n\n', { headers: { 'content-type': 'text/event-stream' } })) } });
    const { cookie } = await s.login(ADMIN);
    // A page that reloads on each `reload` opens a stream each time: more than the limit, in turn.
    for (let i = 0; i < MAX_STREAMS_PER_SESSION * 2; i++) {
      const r = await s.req('/audit/stream', { cookie });
      expect(r.status, `stream ${i + 1}`).toBe(200);
      expect(await r.text()).toContain('event: reload');
    }
    expect(opened).toBe(MAX_STREAMS_PER_SESSION * 2);
  });

  it('Tools tells a viewer they run no writes, not that their writes go through the gate', async () => {
    const s = setup();
    const viewer = await (await s.req('/tools', { cookie: (await s.login(VIEWER)).cookie })).text();
    expect(viewer).toContain('A viewer runs no write tools: an operator or admin token does.');
    expect(viewer).not.toContain('Writes go through the approval gate.');
    const admin = await (await s.req('/tools', { cookie: (await s.login(ADMIN)).cookie })).text();
    expect(admin).toContain('Writes go through the approval gate.');
  });

  it('a HEAD of a live stream opens none (it would keep a place nobody reads)', async () => {
    let opened = 0;
    const s = setup({ streams: { 'audit/stream': (ctx) => (opened++, new Response(new ReadableStream({ start: (ctl) => ctx.signal.addEventListener('abort', () => ctl.close()) }), { headers: { 'content-type': 'text/event-stream' } })) } });
    const { cookie } = await s.login(ADMIN);
    for (let i = 0; i < MAX_STREAMS_PER_SESSION + 1; i++) expect((await s.req('/audit/stream', { method: 'HEAD', cookie })).status).toBe(200);
    expect(opened).toBe(0);
    expect((await s.req('/audit/stream', { cookie })).status).toBe(200);
    expect(opened).toBe(1);
  });

  it('pages and streams take from the token’s request budget (shared with its MCP calls); the login and assets do not', async () => {
    const s = setup({ pageBudget: 2, streams: { 'audit/stream': () => new Response('') } });
    const { cookie } = await s.login(ADMIN);
    expect((await s.req('/health', { cookie })).status).toBe(200);
    expect((await s.req('/tools', { cookie })).status).toBe(200);
    const over = await s.req('/tools', { cookie });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('7');
    expect(await over.text()).toContain('try again in 7 s');
    expect((await s.req('/audit/stream', { cookie })).status).toBe(429);
    expect((await s.req('/assets/app.css', { cookie })).status).toBe(200);
    expect((await s.login(VIEWER)).res.status).toBe(303);
  });

  it('the session table is bounded and sessions expire after 8 hours', () => {
    let t = 0;
    const store = createUiSessions({ now: () => t });
    const admin = store.create('admin');
    // One token's logins push out only that token's oldest sessions, never another's.
    const first = store.create('k');
    for (let i = 0; i < 5 * MAX_UI_SESSIONS_PER_TOKEN; i++) store.create('k');
    expect(store.size()).toBe(MAX_UI_SESSIONS_PER_TOKEN + 1);
    expect(store.verify(first)).toBeUndefined();
    expect(store.verify(admin)?.key).toBe('admin');
    for (let i = 0; i < MAX_UI_SESSIONS; i++) store.create(`k${i}`);
    expect(store.size()).toBe(MAX_UI_SESSIONS);
    expect(store.verify(admin)).toBeUndefined();
    const c = store.create('k2');
    t += UI_SESSION_MS - 1;
    expect(store.verify(c)?.key).toBe('k2');
    t += 1;
    expect(store.verify(c)).toBeUndefined();
  });
});
