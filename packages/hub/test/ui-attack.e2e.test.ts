/**
 * The admin UI attacked through the bundled hub, over plain HTTP: logins sent at once with their
 * bodies held back (the failed-login budget must still hold), what a client sends (its
 * arguments) shown with its invisible and bidi characters marked, never reordering the page, and
 * live streams that end (a reload, the browser leaving) giving their place back; and, in real
 * Chromium at a phone's width, the longest names the hub accepts (topology, a hostile upstream's
 * tool) never making a whole page scroll sideways.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectClient, launchBrowser, startHubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'ui-attack-admin-0123456789abcdef';

const form = (token: string) => ({ method: 'POST', body: new URLSearchParams({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' as const });

/** A login POST whose headers go now and whose body goes when `send` is called; resolves to the status. */
function heldLogin(port: number, token: string): { headersSent: Promise<void>; send: () => void; status: Promise<number> } {
  const body = new URLSearchParams({ token }).toString();
  let sent!: () => void;
  const headersSent = new Promise<void>((r) => (sent = r));
  let req!: http.ClientRequest;
  const status = new Promise<number>((resolve, reject) => {
    req = http.request({ host: '127.0.0.1', port, path: '/ui/login', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.flushHeaders();
    req.once('socket', (s) => (s.connecting ? s.once('connect', () => sent()) : sent()));
  });
  return { headersSent, send: () => req.end(body), status };
}

describe('the admin UI under attack', () => {
  it('logins sent at once with held-back bodies try no more tokens than the failed-login budget', { timeout: 60_000 }, async () => {
    await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }] }, local: { enabled: false }, limits: { authFailuresPerMinute: 3 } } });
    const logins = Array.from({ length: 12 }, (_, i) => heldLogin(hub.port, `wrong-token-${i}`));
    await Promise.all(logins.map((l) => l.headersSent));
    // A request sent after them, answered: the hub has had every login's headers before any body.
    // (With the budget checked only before the body, all 12 were tried: 12 × 401.)
    expect((await fetch(`${hub.base}/healthz`)).status).toBe(200);
    for (const l of logins) l.send();
    const statuses = await Promise.all(logins.map((l) => l.status));
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
    // And the good token is refused too now (the budget is spent).
    expect((await fetch(`${hub.base}/ui/login`, form(ADMIN))).status).toBe(429);
  });

  it('shows a bidi override in a call’s arguments as a mark, not as reordered text', { timeout: 60_000 }, async () => {
    await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }] }, local: { enabled: false } } });
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    // Read right to left after U+202E, "txt.exe" shows as "exe.txt".
    await client.callTool({ name: 'list_nodes', arguments: { note: 'invoice\u202etxt.exe' } });
    const cookie = (await fetch(`${hub.base}/ui/login`, form(ADMIN))).headers.get('set-cookie')!.split(';')[0]!;
    let page = '';
    await expect
      .poll(async () => (page = await (await fetch(`${hub.base}/ui/audit`, { headers: { cookie } })).text()), { timeout: 10_000 })
      .toContain('list_nodes');
    expect(page).not.toContain('\u202e');
    expect(page).toContain('invoice\\u{202e}txt.exe');
  });

  it('audit streams that ended, by a reload or by the browser leaving, give their place back', { timeout: 60_000 }, async () => {
    await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }] }, local: { enabled: false } } });
    const cookie = (await fetch(`${hub.base}/ui/login`, form(ADMIN))).headers.get('set-cookie')!.split(';')[0]!;
    // A page whose stream says `reload` (here: a malformed after=) reloads and opens another one:
    // far more than the 8 a login session may hold open at once, one after the other.
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${hub.base}/ui/audit/stream?after=nonsense`, { headers: { cookie } });
      expect(r.status, `stream ${i + 1}`).toBe(200);
      expect(await r.text()).toMatch(/^event: reload\ndata: after: expected a position/);
    }
    // A HEAD (a proxy's or a monitor's) opens no stream at all.
    for (let i = 0; i < 10; i++) expect((await fetch(`${hub.base}/ui/audit/stream?after=0.0`, { method: 'HEAD', headers: { cookie } })).status).toBe(200);
    // Streams left by the browser (tabs closed) too.
    for (let i = 0; i < 20; i++) {
      const leave = new AbortController();
      const r = await fetch(`${hub.base}/ui/audit/stream?after=0.0`, { headers: { cookie }, signal: leave.signal });
      expect(r.status, `stream ${i + 1}`).toBe(200);
      const live = r.body!.getReader();
      expect(new TextDecoder().decode((await live.read()).value)).toContain(': live');
      leave.abort();
      await live.closed.catch(() => undefined);
      // The hub sees the connection close a moment later: the next open may wait for it.
      if (i >= 7) await expect.poll(async () => (await fetch(`${hub.base}/ui/audit/stream?after=nonsense`, { headers: { cookie } }).then(async (x) => (await x.text(), x.status))), { timeout: 10_000 }).toBe(200);
    }
  });

  it('at a phone width no page scrolls sideways, with the longest names the hub accepts', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ui-attack-phone-'));
    try {
      // 63 characters: the longest node name topology.yaml takes.
      const long = `nas-${'storage'.repeat(8)}-01`.slice(0, 63);
      writeFileSync(
        join(dir, 'topology.yaml'),
        [
          'nodes:',
          `  - { name: ${long}, addresses: [192.168.1.10, 192.168.1.11, fd00::10], roles: [storage, backup, media], os: Debian GNU/Linux 12 (bookworm), hardware: Supermicro X11SCH-F }`,
          '  - { name: pi, addresses: [192.168.1.20], roles: [speaker] }',
          'services:',
          `  - { name: samba-${'share'.repeat(8)}, node: ${long}, ports: [445, 139, "137/udp"], dependsOn: [mpd] }`,
          '  - { name: mpd, node: pi, ports: [6600] }',
        ].join('\n'),
      );
      await using hub = await startHubProcess({
        cwd: dir,
        config: {
          auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }] },
          local: { enabled: false },
          topology: { file: 'topology.yaml' },
          mcpServers: { hostile: { command: process.execPath, args: [fileURLToPath(new URL('./fixtures/hostile-server.mjs', import.meta.url))] } },
        },
      });
      // A held write of the long-named tool, for Pending; a call with long arguments, for Audit.
      await using client = await connectClient(hub.url, ADMIN, 'legacy');
      const tool = (await client.listTools()).tools.find((t) => t.name.startsWith('hostile__'))!.name;
      await client.callTool({ name: tool, arguments: { target: 'y'.repeat(200) } });
      await using browser = await launchBrowser();
      await using tab = await browser.newPage({ viewport: { width: 360, height: 740 } });
      await tab.page.goto(`${hub.base}/ui/login`);
      await tab.page.fill('form#login input[name="token"]', ADMIN);
      await Promise.all([tab.page.waitForURL('**/ui/health'), tab.page.click('form#login [type="submit"]')]);
      const wide: Record<string, number> = {};
      for (const path of ['health', 'sessions', 'pending', 'audit', 'playbooks', 'network', 'tools']) {
        await tab.page.goto(`${hub.base}/ui/${path}`);
        // Runs in the page (the test's tsconfig has no DOM types).
        const { scroll, width } = await tab.page.evaluate(() => {
          const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
          return { scroll: root.scrollWidth, width: root.clientWidth };
        });
        if (scroll > width) wide[path] = scroll;
        // The long names are there to be wrapped.
        if (path === 'pending') expect(await tab.page.locator('li.pending-item').count()).toBe(1);
        if (path === 'network') expect(await tab.page.locator(`tr.node-row[data-node="${long}"]`).count()).toBe(1);
      }
      expect(wide).toEqual({});
      expect(tab.consoleErrors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the Audit page says its live stream stopped for good once the hub refuses it (logged out elsewhere), not "reconnecting…" for ever', { timeout: 60_000 }, async () => {
    await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }] }, local: { enabled: false } } });
    await using browser = await launchBrowser();
    await using tab = await browser.newPage();
    await tab.page.goto(`${hub.base}/ui/login`);
    await tab.page.fill('form#login input[name="token"]', ADMIN);
    await Promise.all([tab.page.waitForURL('**/ui/health'), tab.page.click('form#login [type="submit"]')]);
    await tab.page.goto(`${hub.base}/ui/audit`);
    await expect.poll(() => tab.page.locator('#stream-status').textContent(), { timeout: 10_000 }).toBe('live');
    // The same login session logged out from another tab: its stream ends at the next check,
    // and the browser's reconnect gets 401.
    const cookie = (await tab.context.cookies()).find((c) => c.name === 'hub_ui')!;
    const csrf = await tab.page.locator('form.logout input[name="csrf"]').getAttribute('value');
    const out = await fetch(`${hub.base}/ui/logout`, { method: 'POST', headers: { cookie: `hub_ui=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: csrf! }), redirect: 'manual' });
    expect(out.status).toBe(303);
    await expect.poll(() => tab.page.locator('#stream-status').textContent(), { timeout: 30_000 }).toBe('stopped: reload the page (you may have to log in again)');
  });
});

