import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Context } from 'hono';
import { createAuthenticator } from '../policy/auth.ts';
import { createRateLimiter } from '../policy/rate-limit.ts';
import { createOAuth, escapeHtml, redirectUriProblem, type OAuthEvent } from './oauth.ts';

const ISSUER = 'http://127.0.0.1:8765';
const ADMIN = 'oauth-unit-admin-token-0123456789';
const VIEWER = 'oauth-unit-viewer-token-0123456789';
const REDIRECT = 'http://127.0.0.1:33333/callback';
const VERIFIER = 'v'.repeat(20) + 'abcdefghijklmnopqrstuvwxyz0123456789';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(o: { issuer?: string; now?: () => number; tokens?: Array<{ user: string; role: 'admin' | 'viewer'; token: string }>; dir?: string; registrationsPerHour?: number; maxClients?: number; maxGrants?: number; maxPending?: number; documentFetchesPerHour?: number; maxGrantsPerKey?: number } = {}) {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'oauth-unit-'));
  if (!o.dir) dirs.push(dir);
  let auth = createAuthenticator(o.tokens ?? [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'vic', role: 'viewer', token: VIEWER }]);
  const events: OAuthEvent[] = [];
  const oauth = createOAuth({
    dir,
    issuer: () => o.issuer ?? ISSUER,
    accessTokenMinutes: () => 60,
    refreshTokenDays: () => 30,
    authenticate: (h) => auth(h),
    resolveCaller: (k) => auth.resolve(k),
    authFailures: createRateLimiter({ perMinute: 5, burst: 5 }),
    // Tests name another source with x-test-source.
    sourceOf: (c) => c.req.header('x-test-source') ?? '192.0.2.7',
    audit: (e) => void events.push(e),
    ...(o.now ? { now: o.now } : {}),
    ...(o.registrationsPerHour ? { registrationsPerHour: o.registrationsPerHour } : {}),
    ...(o.maxClients ? { maxClients: o.maxClients } : {}),
    ...(o.maxGrants ? { maxGrants: o.maxGrants } : {}),
    ...(o.maxPending ? { maxPending: o.maxPending } : {}),
    ...(o.maxGrantsPerKey ? { maxGrantsPerKey: o.maxGrantsPerKey } : {}),
    ...(o.documentFetchesPerHour ? { documentFetchesPerHour: o.documentFetchesPerHour } : {}),
  });
  const req = (path: string, init: RequestInit = {}) => oauth.app.request(`${ISSUER}${path}`, init);
  const form = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    req(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() });
  async function register(meta: Record<string, unknown> = { redirect_uris: [REDIRECT], client_name: 'Test client' }) {
    return req('/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(meta) });
  }
  async function clientId(): Promise<string> {
    const r = await register();
    expect(r.status).toBe(201);
    return ((await r.json()) as { client_id: string }).client_id;
  }
  const authorizeQuery = (client: string, extra: Record<string, string> = {}) =>
    new URLSearchParams({ response_type: 'code', client_id: client, redirect_uri: REDIRECT, code_challenge: CHALLENGE, code_challenge_method: 'S256', state: 'st4te', ...extra }).toString();
  let cookie = '';
  async function consentId(client: string, extra: Record<string, string> = {}): Promise<string> {
    const r = await req(`/oauth/authorize?${authorizeQuery(client, extra)}`);
    expect(r.status).toBe(200);
    const set = r.headers.get('set-cookie')!;
    expect(set).toMatch(/HttpOnly; SameSite=Strict/);
    cookie = set.split(';')[0]!;
    return /name="request" value="([^"]+)"/.exec(await r.text())![1]!;
  }
  const consentPost = (body: Record<string, string>, headers: Record<string, string> = {}) => form('/oauth/authorize', body, { cookie, ...headers });
  async function code(client: string, token = ADMIN): Promise<string> {
    const r = await consentPost({ request: await consentId(client), token });
    expect(r.status).toBe(302);
    const loc = new URL(r.headers.get('location')!);
    expect(`${loc.origin}${loc.pathname}`).toBe(REDIRECT);
    expect(loc.searchParams.get('state')).toBe('st4te');
    expect(loc.searchParams.get('iss')).toBe(ISSUER);
    return loc.searchParams.get('code')!;
  }
  const exchange = (client: string, c: string, extra: Record<string, string> = {}) => form('/oauth/token', { grant_type: 'authorization_code', client_id: client, code: c, redirect_uri: REDIRECT, code_verifier: VERIFIER, ...extra });
  const refresh = (client: string, rt: string) => form('/oauth/token', { grant_type: 'refresh_token', client_id: client, refresh_token: rt });
  const ctx = {} as Context;
  return { dir, oauth, events, req, form, consentPost, register, clientId, consentId, code, exchange, refresh, ctx, authorizeQuery, setTokens: (t: Parameters<typeof createAuthenticator>[0]) => (auth = createAuthenticator(t)) };
}

describe('OAuth authorization server', () => {
  it('serves metadata: S256 only, public clients, the resource is the issuer + /oauth/mcp', async () => {
    const s = setup();
    const as = (await (await s.req('/.well-known/oauth-authorization-server')).json()) as Record<string, unknown>;
    expect(as).toMatchObject({ issuer: ISSUER, code_challenge_methods_supported: ['S256'], token_endpoint_auth_methods_supported: ['none'], registration_endpoint: `${ISSUER}/oauth/register` });
    const prm = (await (await s.req('/.well-known/oauth-protected-resource/oauth/mcp')).json()) as Record<string, unknown>;
    expect(prm).toMatchObject({ resource: `${ISSUER}/oauth/mcp`, authorization_servers: [ISSUER] });
  });

  it('issues tokens for a consent, verifies them as the hub token they stand for, and stores only hashes (0600)', async () => {
    const s = setup();
    const client = await s.clientId();
    const r = await s.exchange(client, await s.code(client));
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const t = (await r.json()) as { access_token: string; refresh_token: string; token_type: string };
    expect(t.token_type).toBe('Bearer');
    expect(s.oauth.verify(s.ctx, t.access_token)).toMatchObject({ user: 'ann', role: 'admin', clientId: client, clientName: 'Test client' });
    const file = join(s.dir, 'state.json');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(t.access_token);
    expect(text).not.toContain(t.refresh_token);
    expect(text).not.toContain(ADMIN);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(s.events.map((e) => e.action)).toEqual(['register', 'grant']);
    // Survives a restart (a new instance on the same directory).
    const again = setup({ dir: s.dir });
    expect(again.oauth.verify(again.ctx, t.access_token)?.user).toBe('ann');
  });

  it('a viewer hub token yields a viewer; a demoted or removed hub token demotes or kills its tokens at once', async () => {
    const s = setup();
    const client = await s.clientId();
    const t = (await (await s.exchange(client, await s.code(client, VIEWER))).json()) as { access_token: string; refresh_token: string };
    expect(s.oauth.verify(s.ctx, t.access_token)?.role).toBe('viewer');
    s.setTokens([{ user: 'vic', role: 'admin', token: VIEWER }]);
    expect(s.oauth.verify(s.ctx, t.access_token)?.role).toBe('admin');
    s.setTokens([{ user: 'ann', role: 'admin', token: ADMIN }]);
    expect(s.oauth.verify(s.ctx, t.access_token)).toBeUndefined();
    expect((await s.refresh(client, t.refresh_token)).status).toBe(400);
  });

  it('refuses a wrong PKCE verifier, a reused code (revoking what it gave), another redirect_uri, another client', async () => {
    const s = setup();
    const client = await s.clientId();
    const other = await s.clientId();
    const c1 = await s.code(client);
    expect(await (await s.exchange(client, c1, { code_verifier: 'x'.repeat(43) })).json()).toMatchObject({ error: 'invalid_grant' });
    // The code is spent by the failed attempt.
    expect((await s.exchange(client, c1)).status).toBe(400);
    const c2 = await s.code(client);
    expect((await s.exchange(client, c2, { redirect_uri: 'http://127.0.0.1:33333/other' })).status).toBe(400);
    const c3 = await s.code(client);
    expect((await s.exchange(other, c3)).status).toBe(400);
    const c4 = await s.code(client);
    const ok = (await (await s.exchange(client, c4)).json()) as { access_token: string };
    expect(s.oauth.verify(s.ctx, ok.access_token)).toBeDefined();
    const reused = await s.exchange(client, c4);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/already used/) });
    expect(s.oauth.verify(s.ctx, ok.access_token)).toBeUndefined();
    expect(s.events.filter((e) => e.action === 'refused').length).toBeGreaterThanOrEqual(5);
  });

  it('refuses an expired code (60 s)', async () => {
    let t = 1_000_000;
    const s = setup({ now: () => t });
    const client = await s.clientId();
    const c = await s.code(client);
    t += 61_000;
    expect(await (await s.exchange(client, c)).json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses plain PKCE, a missing challenge, an unknown scope or resource (redirecting with the error), and an unknown client or redirect without redirecting', async () => {
    const s = setup();
    const client = await s.clientId();
    for (const extra of [{ code_challenge_method: 'plain' }, { code_challenge: 'short' }, { scope: 'admin' }, { resource: 'https://evil.example/oauth/mcp' }] as Array<Record<string, string>>) {
      const r = await s.req(`/oauth/authorize?${s.authorizeQuery(client, extra)}`);
      expect(r.status).toBe(302);
      const loc = new URL(r.headers.get('location')!);
      expect(`${loc.origin}${loc.pathname}`).toBe(REDIRECT);
      expect(loc.searchParams.get('error')).toBeTruthy();
      expect(loc.searchParams.get('code')).toBeNull();
    }
    // Open redirect attempts: an unregistered redirect_uri, an unknown client: a page, no Location.
    for (const q of [s.authorizeQuery(client, { redirect_uri: 'https://evil.example/cb' }), s.authorizeQuery(client, { redirect_uri: `${REDIRECT}/../../evil` }), s.authorizeQuery('hlc_nope')]) {
      const r = await s.req(`/oauth/authorize?${q}`);
      expect(r.status).toBe(400);
      expect(r.headers.get('location')).toBeNull();
    }
  });

  it('registration: only https or loopback http redirect URIs, public clients, bounded per hour and in total', async () => {
    const s = setup({ registrationsPerHour: 6, maxClients: 3 });
    for (const bad of [
      { redirect_uris: ['http://evil.example/cb'] },
      { redirect_uris: ['javascript:alert(1)'] },
      { redirect_uris: ['https://x.example/cb#frag'] },
      { redirect_uris: ['https://user:pw@x.example/cb'] },
      { redirect_uris: [] },
      { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' },
      { redirect_uris: [REDIRECT], client_name: 'x'.repeat(101) },
    ]) {
      const r = await s.register(bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    expect(redirectUriProblem('https://claude.ai/api/mcp/auth_callback')).toBeUndefined();
    expect(redirectUriProblem('http://localhost:9999/cb')).toBeUndefined();
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await s.clientId());
    // Full at 3: the oldest client without a grant went.
    expect(s.oauth.store.clientCount()).toBe(3);
    expect(s.oauth.store.client(ids[0]!)).toBeUndefined();
    for (let i = 0; i < 2; i++) await s.clientId();
    expect((await s.register()).status).toBe(429);
  });

  it('shows the client name and redirect host escaped (no XSS), with framing forbidden', async () => {
    const s = setup();
    const r = await s.register({ redirect_uris: [REDIRECT], client_name: '<script>alert(1)</script>"><img src=x>' });
    const client = ((await r.json()) as { client_id: string }).client_id;
    const page = await s.req(`/oauth/authorize?${s.authorizeQuery(client)}`);
    const html = await page.text();
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x>');
    expect(html).toContain(escapeHtml('<script>alert(1)</script>'));
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // The redirect after the form goes to the client: allowed by form-action, nothing else is.
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' http://127.0.0.1:33333;");
  });

  it('CSRF: a POST without the pending request id, or from another origin, gets nothing; a wrong hub token is throttled like failed logins', async () => {
    const s = setup();
    const client = await s.clientId();
    const none = await s.form('/oauth/authorize', { token: ADMIN, client_id: client, redirect_uri: REDIRECT, code_challenge: CHALLENGE, code_challenge_method: 'S256', response_type: 'code' });
    expect(none.status).toBe(400);
    expect(none.headers.get('location')).toBeNull();
    const id = await s.consentId(client);
    const cross = await s.consentPost({ request: id, token: ADMIN }, { origin: 'https://evil.example' });
    expect(cross.status).toBe(400);
    expect(cross.headers.get('location')).toBeNull();
    // The request id without the browser's cookie (posted from elsewhere), or with another browser's.
    for (const cookie of ['', 'hlo_oauth_csrf=forged']) {
      const r = await s.form('/oauth/authorize', { request: id, token: ADMIN }, { cookie });
      expect(r.status).toBe(400);
      expect(r.headers.get('location')).toBeNull();
    }
    const wrong = await s.consentPost({ request: id, token: 'not-a-hub-token' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('not-a-hub-token');
    for (let i = 0; i < 5; i++) await s.consentPost({ request: id, token: 'still-wrong' });
    // Throttled now, even with the right token.
    expect((await s.consentPost({ request: id, token: ADMIN })).status).toBe(429);
  });

  it('rotates refresh tokens; a reused refresh token revokes the whole family', async () => {
    const s = setup();
    const client = await s.clientId();
    const t1 = (await (await s.exchange(client, await s.code(client))).json()) as { access_token: string; refresh_token: string };
    const r2 = await s.refresh(client, t1.refresh_token);
    expect(r2.status).toBe(200);
    const t2 = (await r2.json()) as { access_token: string; refresh_token: string };
    expect(t2.refresh_token).not.toBe(t1.refresh_token);
    expect(s.oauth.verify(s.ctx, t1.access_token)).toBeUndefined();
    expect(s.oauth.verify(s.ctx, t2.access_token)?.user).toBe('ann');
    const reuse = await s.refresh(client, t1.refresh_token);
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/already used/) });
    expect(s.oauth.verify(s.ctx, t2.access_token)).toBeUndefined();
    expect((await s.refresh(client, t2.refresh_token)).status).toBe(400);
  });

  it('an access token expires; revocation (RFC 7009) takes effect at once and answers 200 for anything', async () => {
    let now = 5_000_000;
    const s = setup({ now: () => now });
    const client = await s.clientId();
    const t = (await (await s.exchange(client, await s.code(client))).json()) as { access_token: string; refresh_token: string };
    now += 61 * 60_000;
    expect(s.oauth.verify(s.ctx, t.access_token)).toBeUndefined();
    const t2 = (await (await s.refresh(client, t.refresh_token)).json()) as { access_token: string; refresh_token: string };
    expect(s.oauth.verify(s.ctx, t2.access_token)).toBeDefined();
    expect((await s.form('/oauth/revoke', { token: 'garbage' })).status).toBe(200);
    // Another client cannot revoke it.
    const other = await s.clientId();
    await s.form('/oauth/revoke', { token: t2.refresh_token, client_id: other });
    expect(s.oauth.verify(s.ctx, t2.access_token)).toBeDefined();
    const family = s.oauth.verify(s.ctx, t2.access_token)!.familyId;
    expect(s.oauth.grantAlive(family)).toBe(true);
    expect((await s.form('/oauth/revoke', { token: t2.access_token, client_id: client })).status).toBe(200);
    // A session opened with it ends too (http.ts asks grantAlive on every use).
    expect(s.oauth.grantAlive(family)).toBe(false);
    expect(s.oauth.verify(s.ctx, t2.access_token)).toBeUndefined();
    expect((await s.refresh(client, t2.refresh_token)).status).toBe(400);
    expect(s.events.some((e) => e.action === 'revoke' && e.user === 'ann')).toBe(true);
    expect(JSON.stringify(s.events)).not.toContain(t2.access_token);
  });

  it('keeps at most maxGrants grants: the oldest goes first', async () => {
    let t = 1_000;
    const s = setup({ now: () => t, maxGrants: 2 });
    const client = await s.clientId();
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      t += 1_000;
      tokens.push(((await (await s.exchange(client, await s.code(client))).json()) as { access_token: string }).access_token);
    }
    expect(tokens.map((x) => s.oauth.verify(s.ctx, x) !== undefined)).toEqual([false, true, true]);
  });

  it('refuses confidential-client auth and duplicated parameters at the token endpoint', async () => {
    const s = setup();
    const client = await s.clientId();
    expect((await s.form('/oauth/token', { grant_type: 'authorization_code', client_id: client, client_secret: 'x' })).status).toBe(401);
    const dup = await s.req('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=authorization_code&client_id=${client}&client_id=${client}` });
    expect(dup.status).toBe(400);
    expect((await s.form('/oauth/token', { grant_type: 'password', client_id: client })).status).toBe(400);
  });

  describe('client ID metadata documents', () => {
    /** A loopback server answering each path with what `routes` says; records what was asked. */
    async function docServer(routes: (base: string) => Record<string, { status?: number; body: string; headers?: Record<string, string> }>) {
      const asked: string[] = [];
      let base = '';
      const server = createServer((req, res) => {
        asked.push(req.url ?? '');
        const r = routes(base)[req.url ?? ''];
        if (!r) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers }).end(r.body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return { base, asked, [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    }
    const doc = (id: string, extra: Record<string, unknown> = {}) => JSON.stringify({ client_id: id, client_name: 'Doc client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', ...extra });

    it('takes a document whose client_id is its URL and lists the redirect_uri; the code exchange works with the URL as client_id', async () => {
      await using srv = await docServer((b) => ({ '/client.json': { body: doc(`${b}/client.json`) } }));
      const s = setup();
      const id = `${srv.base}/client.json`;
      const page = await s.req(`/oauth/authorize?${s.authorizeQuery(id)}`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Doc client');
      const t = (await (await s.exchange(id, await s.code(id))).json()) as { access_token: string };
      expect(s.oauth.verify(s.ctx, t.access_token)).toMatchObject({ user: 'ann', clientId: id, clientName: 'Doc client' });
    });

    it('refuses a document naming another client_id, not listing the redirect_uri, redirecting, too large, not JSON, or with a bad redirect URI; never redirecting the browser', async () => {
      await using srv = await docServer((b) => ({
        '/other.json': { body: doc(`${b}/elsewhere.json`) },
        '/unlisted.json': { body: doc(`${b}/unlisted.json`, { redirect_uris: ['http://127.0.0.1:1/else'] }) },
        '/moved.json': { status: 302, body: '', headers: { location: `${b}/client.json` } },
        '/client.json': { body: doc(`${b}/moved.json`) },
        '/huge.json': { body: doc(`${b}/huge.json`, { pad: 'x'.repeat(20_000) }) },
        '/html.json': { body: '<html>' },
        '/evil.json': { body: doc(`${b}/evil.json`, { redirect_uris: ['http://evil.example/cb'] }) },
      }));
      const s = setup();
      for (const path of ['/other.json', '/unlisted.json', '/moved.json', '/huge.json', '/html.json', '/evil.json']) {
        const r = await s.req(`/oauth/authorize?${s.authorizeQuery(`${srv.base}${path}`)}`);
        expect(r.status, path).toBe(400);
        expect(r.headers.get('location'), path).toBeNull();
      }
      // The redirect was not followed.
      expect(srv.asked).not.toContain('/client.json');
    });

    it('SSRF: with a public (https) issuer a loopback, private or http client_id is refused without a request', async () => {
      await using srv = await docServer((b) => ({ '/client.json': { body: doc(`${b}/client.json`) } }));
      const s = setup({ issuer: 'https://hub.example.com' });
      const port = new URL(srv.base).port;
      for (const id of [`${srv.base}/client.json`, `https://127.0.0.1:${port}/client.json`, 'https://10.0.0.1/client.json', 'https://169.254.169.254/latest', 'https://[::1]/c.json', 'https://example.com/', 'https://u:p@example.com/c.json']) {
        const r = await s.oauth.app.request(`https://hub.example.com/oauth/authorize?${s.authorizeQuery(id)}`);
        expect(r.status, id).toBe(400);
        expect(r.headers.get('location'), id).toBeNull();
      }
      expect(srv.asked).toEqual([]);
    });
  });
  describe('attacks (atk4)', () => {
    const from = (source: string) => ({ 'x-test-source': source });
    it('DCR: one address using up the registrations per hour does not lock out other addresses', async () => {
      const s = setup({ registrationsPerHour: 3 });
      const reg = (source: string) => s.req('/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json', ...from(source) }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) });
      for (let i = 0; i < 3; i++) expect((await reg('198.51.100.66')).status).toBe(201);
      expect((await reg('198.51.100.66')).status).toBe(429);
      expect((await reg('192.0.2.7')).status).toBe(201);
    });

    it('per-source budgets count an IPv6 /64 as one source (an attacker holds a whole /64)', async () => {
      const s = setup({ registrationsPerHour: 2 });
      const reg = (source: string) => s.req('/oauth/register', { method: 'POST', headers: { 'content-type': 'application/json', ...from(source) }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) });
      expect((await reg('2001:db8:1:2::1')).status).toBe(201);
      expect((await reg('2001:db8:1:2:ffff::9')).status).toBe(201);
      expect((await reg('2001:0db8:0001:0002:abcd::7')).status).toBe(429);
      expect((await reg('2001:db8:1:3::1')).status).toBe(201);
      expect((await reg('::ffff:192.0.2.9')).status).toBe(201);
    });

    it("a hub token holder making many grants evicts only its own oldest, never another user's", async () => {
      let t = 1_000;
      const s = setup({ now: () => t, maxGrants: 3 });
      const client = await s.clientId();
      t += 1_000;
      const ann = ((await (await s.exchange(client, await s.code(client, ADMIN))).json()) as { access_token: string }).access_token;
      const vic: string[] = [];
      for (let i = 0; i < 4; i++) {
        t += 1_000;
        vic.push(((await (await s.exchange(client, await s.code(client, VIEWER))).json()) as { access_token: string }).access_token);
      }
      expect(s.oauth.verify(s.ctx, ann)).toMatchObject({ user: 'ann' });
      expect(vic.map((x) => s.oauth.verify(s.ctx, x) !== undefined)).toEqual([false, false, true, true]);
    });

    it("an address flooding the consent page with authorization requests evicts only its own, not a person's pending consent", async () => {
      const s = setup({ maxPending: 5 });
      const client = await s.clientId();
      const mine = await s.consentId(client);
      for (let i = 0; i < 10; i++) expect((await s.req(`/oauth/authorize?${s.authorizeQuery(client)}`, { headers: from('198.51.100.66') })).status).toBe(200);
      expect((await s.consentPost({ request: mine, token: ADMIN })).status).toBe(302);
    });

    it('client ID metadata documents: fetched at most once per few minutes, and one address using up the fetches does not lock out others', async () => {
      const asked: string[] = [];
      let base = '';
      const server = createServer((req, res) => {
        asked.push(req.url ?? '');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ client_id: `${base}${req.url}`, client_name: 'Doc', redirect_uris: [REDIRECT] }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const s = setup({ documentFetchesPerHour: 2 });
        const get = (path: string, source: string) => s.req(`/oauth/authorize?${s.authorizeQuery(`${base}${path}`)}`, { headers: from(source) });
        expect((await get('/a.json', '198.51.100.66')).status).toBe(200);
        expect((await get('/b.json', '198.51.100.66')).status).toBe(200);
        expect((await get('/c.json', '198.51.100.66')).status).toBe(400);
        expect((await get('/good.json', '192.0.2.7')).status).toBe(200);
        expect((await get('/good.json', '192.0.2.7')).status).toBe(200);
        expect(asked.filter((x) => x === '/good.json')).toHaveLength(1);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('an unauthenticated flood of refused requests cannot rotate the journal away: refusals are journaled within a budget per source and overall', async () => {
      const s = setup();
      for (let i = 0; i < 200; i++) await s.form('/oauth/token', { grant_type: 'authorization_code', client_id: 'hlc_nope', code: 'x' }, from('198.51.100.66'));
      const flood = s.events.filter((e) => e.action === 'refused' && e.source === '198.51.100.66').length;
      expect(flood).toBeGreaterThan(0);
      expect(flood).toBeLessThanOrEqual(30);
      await s.form('/oauth/token', { grant_type: 'authorization_code', client_id: 'hlc_nope', code: 'x' });
      expect(s.events.filter((e) => e.action === 'refused' && e.source === '192.0.2.7')).toHaveLength(1);
    });

    it('a chunked body without Content-Length is read no further than the form limit (no unbounded buffering before auth)', async () => {
      const s = setup();
      for (const path of ['/oauth/token', '/oauth/register', '/oauth/revoke', '/oauth/authorize']) {
        let pulled = 0;
        const endless = new ReadableStream<Uint8Array>({
          pull(ctl) {
            pulled += 65_536;
            if (pulled > 64 * 1024 * 1024) ctl.close();
            else ctl.enqueue(new Uint8Array(65_536).fill(0x61));
          },
        });
        const r = await s.req(path, { method: 'POST', headers: { 'content-type': path === '/oauth/register' ? 'application/json' : 'application/x-www-form-urlencoded' }, body: endless, duplex: 'half' } as RequestInit);
        expect(r.status, path).toBeGreaterThanOrEqual(400);
        expect(pulled, path).toBeLessThan(1024 * 1024);
      }
    });

    it('the state directory is made private (0700) even when it existed with wider permissions', async () => {
      const base = mkdtempSync(join(tmpdir(), 'oauth-unit-'));
      dirs.push(base);
      const dir = join(base, 'oauth');
      mkdirSync(dir, { mode: 0o755 });
      const s = setup({ dir });
      await s.clientId();
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, 'state.json')).mode & 0o777).toBe(0o600);
    });

    it('a client name cannot reorder what the consent page shows (bidirectional and invisible controls removed)', async () => {
      const s = setup();
      const r = await s.register({ redirect_uris: [REDIRECT], client_name: 'Claude\u202e\u2066moc.live\u200b\u2069' });
      const id = ((await r.json()) as { client_id: string }).client_id;
      expect(s.oauth.store.client(id)!.clientName).toBe('Claude moc.live');
    });

    it('without oauth.issuer, a loopback Host names the issuer only for a loopback peer (a LAN client saying Host: 127.0.0.1 gets no loopback issuer, so no loopback client documents)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'oauth-unit-'));
      dirs.push(dir);
      const auth = createAuthenticator([{ user: 'ann', role: 'admin', token: ADMIN }]);
      const oauth = createOAuth({ dir, issuer: () => undefined, accessTokenMinutes: () => 60, refreshTokenDays: () => 30, authenticate: (h) => auth(h), resolveCaller: (k) => auth.resolve(k), authFailures: createRateLimiter({ perMinute: 5, burst: 5 }), sourceOf: () => '192.0.2.50', audit: () => undefined });
      const peer = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });
      const meta = (remoteAddress: string) => oauth.app.request('http://127.0.0.1:8765/.well-known/oauth-authorization-server', { headers: { host: '127.0.0.1:8765' } }, peer(remoteAddress));
      expect((await meta('192.0.2.50')).status).toBe(404);
      expect((await meta('::ffff:192.0.2.50')).status).toBe(404);
      expect((await meta('127.0.0.1')).status).toBe(200);
      expect((await meta('::ffff:127.0.0.1')).status).toBe(200);
      expect((await meta('::1')).status).toBe(200);
    });

    it('one hub token cannot pin every client slot with grants (registration locked for everyone): its grants are capped, its oldest going', async () => {
      let t = 1_000;
      const s = setup({ now: () => t, maxClients: 2, maxGrantsPerKey: 1 });
      for (let i = 0; i < 2; i++) {
        t += 1_000;
        const client = await s.clientId();
        expect((await s.exchange(client, await s.code(client, VIEWER))).status).toBe(200);
      }
      t += 1_000;
      expect((await s.register()).status).toBe(201);
    });

    it('with an https issuer only the __Host- CSRF cookie counts (a cookie tossed by a sibling host is not it)', async () => {
      const s = setup({ issuer: 'https://hub.example.com' });
      const client = await s.clientId();
      const r = await s.req(`/oauth/authorize?${s.authorizeQuery(client)}`);
      const set = r.headers.get('set-cookie')!;
      expect(set).toMatch(/^__Host-hlo_oauth_csrf=.*; Secure/);
      const id2 = /name="request" value="([^"]+)"/.exec(await r.text())![1]!;
      const value = set.split(';')[0]!.split('=')[1]!;
      expect((await s.form('/oauth/authorize', { request: id2, token: ADMIN }, { cookie: `hlo_oauth_csrf=${value}` })).status).toBe(400);
      expect((await s.form('/oauth/authorize', { request: id2, token: ADMIN }, { cookie: `__Host-hlo_oauth_csrf=${value}` })).status).toBe(302);
    });
  });
});
