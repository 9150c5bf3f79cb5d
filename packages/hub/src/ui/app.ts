/**
 * The admin web UI at `/ui`: read-only pages on the hub's own port, for a person to see what the
 * AI did, what waits for them and what is down. Nothing here changes anything: every action
 * stays in the MCP chat.
 *
 * - Access: a login page takes a hub token once (POST, never a URL) and sets a signed, HttpOnly,
 *   SameSite=Strict cookie for 8 hours (Secure when a trusted proxy says the request came over
 *   TLS); see ui-sessions.ts. Failed logins count against the same per-address budget as failed
 *   bearer tokens. Every request looks the token up again: a removed token is logged out.
 * - Every answer carries a strict Content-Security-Policy (no inline script or style, nothing
 *   from another origin, no framing) and `no-store`; every asset comes from this bundle.
 * - Pages are server-rendered (ui/pages/*); app.js only refreshes pages that say so and appends
 *   live audit rows from an SSE stream.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { readBounded } from '@homelab-mcp/core/http';
import type { Authenticated } from '../policy/auth.ts';
import type { UiData, UiViewer } from './contract.ts';
import { html, raw, type Html } from './html.ts';
import type { Page, PageContext } from './page.ts';
import { createUiSessions, UI_COOKIE, UI_SESSION_MS, type UiSessionStore } from './ui-sessions.ts';
import appCss from './assets/app.css?raw';
import graphCss from './assets/graph.css?raw';
import auditCss from './assets/audit.css?raw';
import appJs from './assets/app.js?raw';

/** What the HTTP app lends the UI: authentication and the request's origin, as /mcp sees them. */
export interface UiHttp {
  authenticate(authorization: string | undefined): Authenticated | undefined;
  resolveCaller(key: string): Authenticated | undefined;
  /** The address the request is attributed to (trusted proxies followed). */
  sourceOf(c: Context): string;
  /** Whether a trusted proxy says the request came over TLS (`X-Forwarded-Proto: https`). */
  viaTls(c: Context): boolean;
  /** The failed-authentication budget per source address, shared with bearer tokens. */
  authFailures: { blocked(source: string): { ok: true } | { ok: false; retryAfterS: number }; take(source: string): unknown };
  /** Logs a refusal (as /mcp's are). */
  refused(c: Context, kind: 'unauthorized' | 'auth_throttled'): void;
  /**
   * Takes one request from the token's bucket, the same one its MCP requests use (pages and
   * streams count; assets and the login do not). Absent: no limit.
   */
  rateLimit?(key: string): { ok: true } | { ok: false; retryAfterS: number };
}

export interface UiOptions {
  data: UiData;
  http: UiHttp;
  pages: Page[];
  /** Extra routes under /ui that need a logged-in viewer (the audit stream). */
  streams?: Record<string, (ctx: PageContext) => Response | Promise<Response>>;
  sessions?: UiSessionStore;
  /** Server-side deadline of one page; default 10 s. */
  pageTimeoutMs?: number;
  /** Read per request (config reloads): false answers 404 everywhere under /ui. */
  enabled?: () => boolean;
}

export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': UI_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: under it Chromium sends `Origin: null` with the login and logout forms, and
  // the Host/Origin check refuses them. same-origin sends no Referer to any other site.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'cache-control': 'no-store',
};

/** Live streams (the audit page's) one login session may hold open at once. */
export const MAX_STREAMS_PER_SESSION = 8;
/** How often an open stream checks that its login session still stands, as it did. */
export const STREAM_RECHECK_MS = 5_000;

/** The one stylesheet: the layout's, then the pages' own. */
const stylesheet = [appCss, graphCss, auditCss].join('\n');

/** The largest login form accepted (a token is well under 1 KiB). */
const MAX_FORM_BYTES = 8 * 1024;

function layout(title: string, body: Html, o: { viewer?: UiViewer; csrf?: string; pages?: Page[]; current?: string; version: string }): string {
  const nav = o.viewer
    ? html`<nav aria-label="pages">${o.pages!.map((p) => html`<a href="/ui/${p.path}"${p.path === o.current ? raw(' aria-current="page"') : ''}>${p.title}</a>`)}</nav>
<form class="logout" method="post" action="/ui/logout"><input type="hidden" name="csrf" value="${o.csrf}"><span class="who">${o.viewer.user} (${o.viewer.role})</span> <button type="submit">Log out</button></form>`
    : '';
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="same-origin"><title>${title} · homelab hub</title><link rel="stylesheet" href="/ui/assets/app.css"><link rel="icon" href="data:,"><script src="/ui/assets/app.js" defer></script></head>
<body><header><a class="brand" href="/ui/health">homelab hub</a> <span class="muted">${o.version}</span>${nav}</header>
${body}
${o.viewer ? html`<footer class="muted">All times are UTC. This page only shows: approve and act in the chat.</footer>` : ''}
</body></html>`}`;
}

function loginPage(version: string, error?: string): string {
  return layout(
    'Log in',
    html`<main id="page-login"><h1>Log in</h1>
<p>Paste a hub token (from <code>auth.tokens</code> in hub.yaml). It is sent once; the browser then keeps an 8-hour session cookie, never the token.</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form id="login" method="post" action="/ui/login" autocomplete="off"><label>Token <input type="password" name="token" required autofocus maxlength="4096" spellcheck="false"></label> <button type="submit">Log in</button></form></main>`,
    { version },
  );
}

/** Reads an `application/x-www-form-urlencoded` body of at most MAX_FORM_BYTES; undefined when larger. */
async function readForm(c: Context): Promise<URLSearchParams | undefined> {
  if (Number(c.req.header('content-length') ?? 0) > MAX_FORM_BYTES) return undefined;
  const body = c.req.raw.body;
  if (!body) return new URLSearchParams();
  const bytes = await readBounded(body, MAX_FORM_BYTES);
  return bytes && new URLSearchParams(bytes.toString('utf8'));
}

/** The Hono app to mount at /ui. */
export function createUiApp(o: UiOptions): Hono {
  const app = new Hono();
  const sessions = o.sessions ?? createUiSessions();
  const version = o.data.version;
  const byPath = new Map(o.pages.map((p) => [p.path, p]));

  app.use('*', async (c, next) => {
    // A token in a URL ends up in history, logs and Referer headers: refuse it outright.
    if (o.enabled && !o.enabled()) {
      c.res = new Response('The web UI is turned off on this hub (ui.enabled: false in hub.yaml).', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    } else if (/[?&](token|access_token|auth)=/i.test(new URL(c.req.url).search)) {
      c.res = new Response('Refused: never put a token in a URL. Log in at /ui/login.', { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    } else {
      await next();
    }
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  });

  app.get('/assets/app.css', (c) => c.body(stylesheet, 200, { 'content-type': 'text/css; charset=utf-8' }));
  app.get('/assets/app.js', (c) => c.body(appJs, 200, { 'content-type': 'text/javascript; charset=utf-8' }));

  /** The logged-in viewer, as the token is configured now; undefined when not logged in. */
  const viewerOf = (c: Context): { viewer: UiViewer; id: string } | undefined => {
    const s = sessions.verify(getCookie(c, UI_COOKIE));
    if (!s) return undefined;
    const now = o.http.resolveCaller(s.key);
    if (!now) {
      sessions.destroy(s.id);
      return undefined;
    }
    return { viewer: { user: now.user, role: now.role, key: now.key }, id: s.id };
  };
  const cookieOpts = (c: Context) => ({ path: '/ui', httpOnly: true, sameSite: 'Strict' as const, secure: o.http.viaTls(c) });

  app.get('/login', (c) => (viewerOf(c) ? c.redirect('/ui/health', 303) : c.html(loginPage(version))));

  app.post('/login', async (c) => {
    const source = o.http.sourceOf(c);
    const throttledAnswer = (retryAfterS: number) => {
      o.http.refused(c, 'auth_throttled');
      return c.html(loginPage(version, `Too many failed logins from this address; try again in ${retryAfterS} s.`), 429, { 'retry-after': String(retryAfterS) });
    };
    const early = o.http.authFailures.blocked(source);
    if (!early.ok) return throttledAnswer(early.retryAfterS);
    const form = await readForm(c);
    if (!form) return c.html(loginPage(version, 'That form is too large.'), 413);
    // Asked again once the body is in: many logins sent at once, their bodies held back, all
    // pass the first check before any failure is counted, and would try any number of tokens.
    const throttled = o.http.authFailures.blocked(source);
    if (!throttled.ok) return throttledAnswer(throttled.retryAfterS);
    const token = (form.get('token') ?? '').trim();
    const caller = token ? o.http.authenticate(`Bearer ${token}`) : undefined;
    if (!caller) {
      o.http.authFailures.take(source);
      o.http.refused(c, 'unauthorized');
      return c.html(loginPage(version, 'That token is not valid on this hub.'), 401);
    }
    // A session cookie the browser had (another user's, say) ends here.
    const before = sessions.verify(getCookie(c, UI_COOKIE));
    if (before) sessions.destroy(before.id);
    setCookie(c, UI_COOKIE, sessions.create(caller.key), { ...cookieOpts(c), maxAge: UI_SESSION_MS / 1000 });
    return c.redirect('/ui/health', 303);
  });

  app.post('/logout', async (c) => {
    const s = viewerOf(c);
    const form = await readForm(c);
    if (s) {
      if (!sessions.checkCsrf(s.id, form?.get('csrf') ?? undefined)) return c.text('Refused: this logout did not come from the hub\'s own page.', 403);
      sessions.destroy(s.id);
    }
    deleteCookie(c, UI_COOKIE, cookieOpts(c));
    return c.redirect('/ui/login', 303);
  });

  app.get('/', (c) => c.redirect(viewerOf(c) ? '/ui/health' : '/ui/login', 303));

  const context = (c: Context, viewer: UiViewer): PageContext => {
    const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(o.pageTimeoutMs ?? 10_000)]);
    return { data: o.data, viewer, query: new URL(c.req.url).searchParams, signal, now: Date.now() };
  };

  // Open streams per login session: each holds a connection and a journal reader's attention.
  const openStreams = new Map<string, number>();
  for (const [path, stream] of Object.entries(o.streams ?? {})) {
    app.get(`/${path}`, async (c) => {
      const s = viewerOf(c);
      if (!s) return c.body(null, 401);
      // HEAD reaches GET routes: it would open a stream nobody reads, and keep its place for ever.
      if (c.req.method === 'HEAD') return c.body(null, 200, { 'content-type': 'text/event-stream; charset=utf-8' });
      const limited = o.http.rateLimit?.(s.viewer.key);
      if (limited && !limited.ok) return c.text(`Too many requests for this token; try again in ${limited.retryAfterS} s.`, 429, { 'retry-after': String(limited.retryAfterS) });
      const open = openStreams.get(s.id) ?? 0;
      if (open >= MAX_STREAMS_PER_SESSION) return c.text(`Refused: ${open} live streams are open in this login session already (close a tab).`, 429);
      // A stream lives longer than a page: only the browser going away (or the session ending) ends it.
      const ends = new AbortController();
      const signal = AbortSignal.any([c.req.raw.signal, ends.signal]);
      openStreams.set(s.id, open + 1);
      const done = () => {
        const n = (openStreams.get(s.id) ?? 1) - 1;
        if (n > 0) openStreams.set(s.id, n);
        else openStreams.delete(s.id);
      };
      signal.addEventListener('abort', done, { once: true });
      // The session is checked again every few seconds: a logout, a removed token or a new role
      // ends its streams (the browser reconnects, and gets what the token may see now).
      const recheck = setInterval(() => {
        const now = sessions.verify(getCookie(c, UI_COOKIE)) && o.http.resolveCaller(s.viewer.key);
        if (!now || now.role !== s.viewer.role || now.user !== s.viewer.user) ends.abort(new Error('the login session ended or changed'));
      }, STREAM_RECHECK_MS);
      recheck.unref();
      signal.addEventListener('abort', () => clearInterval(recheck), { once: true });
      try {
        const res = await stream({ ...context(c, s.viewer), signal });
        // A stream that ends by itself (its `reload` event) must give its place back too: only
        // the browser going away aborts the request's signal, and a stream that ended never goes.
        const ended = () => ends.abort(new Error('the stream ended'));
        if (!res.body) {
          ended();
          return res;
        }
        return new Response(res.body.pipeThrough(new TransformStream({ flush: ended })), res);
      } catch (err) {
        ends.abort(err);
        throw err;
      }
    });
  }

  app.get('/:page', async (c) => {
    const page = byPath.get(c.req.param('page'));
    const s = viewerOf(c);
    if (!s) return c.redirect('/ui/login', 303);
    const limited = o.http.rateLimit?.(s.viewer.key);
    if (limited && !limited.ok) return c.html(layout('Too many requests', html`<main id="page-limited"><h1>Too many requests</h1><p class="error" role="alert">This token made too many requests (pages and MCP calls share one budget); try again in ${limited.retryAfterS} s.</p></main>`, { viewer: s.viewer, csrf: sessions.csrf(s.id), pages: o.pages, version }), 429, { 'retry-after': String(limited.retryAfterS) });
    if (!page) return c.html(layout('Not found', html`<main id="page-missing"><h1>Not found</h1><p>There is no page ${c.req.param('page')}.</p></main>`, { viewer: s.viewer, csrf: sessions.csrf(s.id), pages: o.pages, version }), 404);
    const ctx = context(c, s.viewer);
    let body: Html;
    try {
      body = await page.render(ctx);
    } catch (err) {
      body = html`<p class="error" role="alert">This page could not be made: ${err instanceof Error ? err.message : String(err)}</p>`;
    }
    const main = html`<main id="page-${page.path}"${refreshOf(page)}>${body}</main>`;
    // app.js asks for the page's <main> alone when it refreshes it.
    if (ctx.query.get('fragment') === '1') return c.html(main.value);
    return c.html(layout(page.title, main, { viewer: s.viewer, csrf: sessions.csrf(s.id), pages: o.pages, current: page.path, version }));
  });

  return app;
}

/** Pages that refresh themselves say how often (seconds) on their <main>. */
function refreshOf(page: Page): Html {
  return page.refreshSeconds ? html` data-refresh="${page.refreshSeconds}"` : html``;
}
