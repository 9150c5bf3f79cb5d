/**
 * The hub's own OAuth 2.1 authorization server, for clients that cannot send a static header
 * (Claude.ai connectors, Claude mobile, ChatGPT). It guards `/oauth/mcp` only: `/mcp` never
 * advertises OAuth (Claude Code would ignore its static header) and never accepts its tokens.
 *
 * - Discovery: RFC 9728 protected resource metadata at
 *   `/.well-known/oauth-protected-resource/oauth/mcp` (built by the SDK), RFC 8414 authorization
 *   server metadata at `/.well-known/oauth-authorization-server`.
 * - `/oauth/register` (RFC 7591): public clients only (no secrets), redirect URIs https or
 *   loopback http, bounded in total and per source address (an IPv6 /64) and hour.
 * - `/oauth/authorize`: GET shows the consent page (client name and redirect host escaped) that
 *   asks the person for a hub token; POST checks it (throttled with failed logins) against the
 *   pending request it names (an unguessable id bound to the validated request: the CSRF
 *   token). The code is single use, lives 60 s and is bound to the client, redirect URI, PKCE
 *   S256 challenge (plain is refused) and resource.
 * - `/oauth/token`: authorization_code with code_verifier; refresh_token with rotation (a
 *   refresh token presented again revokes its whole family).
 * - `/oauth/revoke` (RFC 7009).
 *
 * An access token stands for the hub token it was issued for: every request resolves that
 * token's key again, so a hub token removed or demoted by a reload removes or demotes its
 * OAuth sessions at the next request. A client may also use a client ID metadata document (its
 * client_id an https URL: client-document.ts) instead of registering.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { Hono, type Context } from 'hono';
import { readBounded } from '@homelab-mcp/core/http';
import * as z from 'zod';
import { buildOAuthProtectedResourceMetadata, type OAuthMetadata } from '@modelcontextprotocol/server';
import type { Authenticated } from '../policy/auth.ts';
import type { RateDecision } from '../policy/rate-limit.ts';
import { clientIdUrlProblem, fetchClientDocument } from './client-document.ts';
import { createOAuthStore, hashToken, newSecret, type Grant, type OAuthStore } from './store.ts';

export const OAUTH_MCP_PATH = '/oauth/mcp';
export const PRM_PATH = `/.well-known/oauth-protected-resource${OAUTH_MCP_PATH}`;
export const OAUTH_SCOPE = 'mcp';
const CODE_TTL_MS = 60_000;
const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 1000;
const MAX_CODES = 1000;
const MAX_FORM_BYTES = 16 * 1024;
const CSRF_COOKIE = 'hlo_oauth_csrf';
const DOCUMENT_FETCHES_PER_HOUR = 60;
const REFUSED_WINDOW_MS = 10 * 60_000;
const REFUSED_PER_SOURCE = 30;
const REFUSED_PER_WINDOW = 300;
/** A client ID metadata document fetched this recently is not fetched again. */
const DOCUMENT_FRESH_MS = 5 * 60_000;

export interface OAuthEvent {
  action: 'register' | 'grant' | 'refresh' | 'revoke' | 'refused';
  user?: string;
  role?: string;
  clientId?: string;
  clientName?: string;
  reason?: string;
  source: string;
}

export interface OAuthOptions {
  dir: string;
  /** The issuer, no trailing slash; undefined: derived from a loopback Host (tests, a hub on this machine only). */
  issuer?: () => string | undefined;
  accessTokenMinutes: () => number;
  refreshTokenDays: () => number;
  /** The hub-token authenticator (an `Authorization` header value). */
  authenticate(authorization: string): Authenticated | undefined;
  resolveCaller(key: string): Authenticated | undefined;
  /** Failed logins per source, shared with /mcp and the UI. */
  authFailures: { take(key: string): RateDecision; blocked(key: string): RateDecision };
  sourceOf(c: Context): string;
  /** Journals an event; grants, refreshes, revocations and registrations are on disk before their answer. */
  audit(e: OAuthEvent): void | Promise<void>;
  maxClients?: number;
  registrationsPerHour?: number;
  maxGrants?: number;
  /** Grants one hub token may hold (default 50); its oldest goes first. */
  maxGrantsPerKey?: number;
  /** Pending consents kept (default 1000); when full, the source holding the most loses its oldest. */
  maxPending?: number;
  /** Client ID metadata documents fetched per source address and hour (default 60). */
  documentFetchesPerHour?: number;
  now?: () => number;
  /** Told after grants were revoked or evicted: the sessions they opened are to be closed now. */
  revoked?(): void;
  /** Fetches a client ID metadata document (tests); default {@link fetchClientDocument}. */
  fetchClientDocument?: typeof fetchClientDocument;
}

/** What an OAuth access token stands for. */
export interface OAuthCaller extends Authenticated {
  clientId: string;
  clientName: string;
  /** The grant (consent) the token belongs to: it outlives refreshes. */
  familyId: string;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
export const isLoopbackHost = (hostname: string) => LOOPBACK_HOSTS.has(hostname.toLowerCase()) || (isIP(hostname) === 4 && hostname.startsWith('127.'));

/** Whether a socket's peer address is loopback (IPv4, IPv6, or IPv4-mapped). */
const isLoopbackPeer = (address: string | undefined) => {
  const a = (address ?? '').toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
};

/**
 * The budget an address draws from: itself, and for IPv6 its /64 (one host commonly holds a
 * whole /64, so counting each address would let it multiply every per-source budget).
 */
export function budgetKey(source: string): string {
  const a = source.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (isIP(a) !== 6) return a;
  const [head = '', tail] = a.split('%')[0]!.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * A client name as the consent page may show it: control, bidirectional-override and invisible
 * characters become spaces (a name must not reorder or hide what the page says around it).
 */
export const cleanName = (name: string | undefined) =>
  (name ?? '')
    .replace(/[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

/** A redirect URI a client may register: https, or http on a loopback address; no fragment, no credentials. */
export function redirectUriProblem(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not an absolute URL';
  }
  if (u.hash || raw.includes('#')) return 'must not have a fragment';
  if (u.username || u.password) return 'must not carry credentials';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return undefined;
  return 'must be https, or http on a loopback address (127.0.0.1, [::1], localhost)';
}

const uri = z.string().min(1).max(512);
const registrationSchema = z.object({
  redirect_uris: z.array(uri).min(1).max(5),
  client_name: z.string().max(100).optional(),
  token_endpoint_auth_method: z.literal('none').optional(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token'])).max(2).optional(),
  response_types: z.array(z.literal('code')).max(1).optional(),
  scope: z.string().max(200).optional(),
  client_uri: uri.optional(),
  logo_uri: uri.optional(),
  software_id: z.string().max(200).optional(),
  software_version: z.string().max(100).optional(),
});

const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const s256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

interface Pending {
  clientId: string;
  redirectUri: string;
  challenge: string;
  resource: string;
  scope: string;
  state?: string;
  expiresAt: number;
  /** SHA-256 of the CSRF cookie set with the consent page: the POST must come from that browser. */
  csrfHash: string;
  /** The address that asked: a flood evicts its own pending requests first. */
  source: string;
}

interface Code extends Omit<Pending, 'csrfHash' | 'source'> {
  user: string;
  key: string;
  used: boolean;
  familyId?: string;
}

export function createOAuth(opts: OAuthOptions) {
  const now = opts.now ?? Date.now;
  const store: OAuthStore = createOAuthStore({ dir: opts.dir, maxClients: opts.maxClients ?? 200, maxGrants: opts.maxGrants ?? 1000, ...(opts.maxGrantsPerKey ? { maxGrantsPerKey: opts.maxGrantsPerKey } : {}) });
  /** Revokes a grant and has the sessions it opened closed (a GET stream would otherwise stay). */
  const revokeGrant = (g: Grant) => {
    store.revoke(g);
    opts.revoked?.();
  };
  const pending = new Map<string, Pending>();
  const codes = new Map<string, Code>();
  // Per source address: a global count would let one address lock every new client out.
  const registrations = new Map<string, number[]>();
  const perHour = opts.registrationsPerHour ?? 20;
  const maxPending = opts.maxPending ?? MAX_PENDING;
  const documentsPerHour = opts.documentFetchesPerHour ?? DOCUMENT_FETCHES_PER_HOUR;
  /** Takes one from `source`'s budget in `m` (per `windowMs`); false when it is spent. */
  const windowed = (m: Map<string, number[]>, source: string, max: number, t: number, windowMs: number): boolean => {
    for (const [k, list] of m) {
      while (list.length && list[0]! <= t - windowMs) list.shift();
      if (!list.length) m.delete(k);
    }
    const list = m.get(source) ?? [];
    if (list.length >= max) return false;
    if (m.size >= 10_000 && !m.has(source)) m.delete(m.keys().next().value!);
    m.set(source, [...list, t]);
    return true;
  };
  const hourly = (m: Map<string, number[]>, source: string, max: number, t: number) => windowed(m, source, max, t, 3_600_000);

  const issuerOf = (c: Context): string | undefined => {
    const configured = opts.issuer?.();
    if (configured) return configured;
    const host = c.req.header('host') ?? '';
    let u: URL;
    try {
      u = new URL(`http://${host}`);
    } catch {
      return undefined;
    }
    // The Host header is the client's to choose: a loopback one counts only from a loopback peer
    // (`--listen 0.0.0.0` overrides the config check that requires oauth.issuer off loopback).
    const peer = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
    if (!isLoopbackPeer(peer)) return undefined;
    return isLoopbackHost(u.hostname) && `http://${u.host}` === `http://${host.toLowerCase()}` ? `http://${u.host}` : undefined;
  };
  const resourceOf = (issuer: string) => `${issuer}${OAUTH_MCP_PATH}`;

  const bounded = <V>(m: Map<string, V>, max: number) => {
    while (m.size >= max) m.delete(m.keys().next().value!);
  };
  const expire = () => {
    const t = now();
    for (const [k, p] of pending) if (p.expiresAt <= t) pending.delete(k);
    for (const [k, p] of codes) if (p.expiresAt + CODE_TTL_MS <= t) codes.delete(k);
  };

  // Refusals answer unauthenticated requests: journaled within a budget per source and
  // overall, so a flood cannot rotate the journal (and what it holds of real calls) away.
  const refusedLately = new Map<string, number[]>();
  const refusedAll: number[] = [];
  const refused = (c: Context, reason: string, extra: Partial<OAuthEvent> = {}) => {
    const source = opts.sourceOf(c);
    const t = now();
    while (refusedAll.length && refusedAll[0]! <= t - REFUSED_WINDOW_MS) refusedAll.shift();
    if (refusedAll.length >= REFUSED_PER_WINDOW) return;
    if (!windowed(refusedLately, budgetKey(source), REFUSED_PER_SOURCE, t, REFUSED_WINDOW_MS)) return;
    refusedAll.push(t);
    void opts.audit({ action: 'refused', reason, source, ...extra });
  };
  const oauthError = (c: Context, status: 400 | 401 | 403 | 404 | 429, error: string, description: string) =>
    c.json({ error, error_description: description }, status, { 'cache-control': 'no-store' });

  function asMetadata(issuer: string): OAuthMetadata {
    return {
      issuer,
      authorization_endpoint: `${issuer}/oauth/authorize`,
      token_endpoint: `${issuer}/oauth/token`,
      registration_endpoint: `${issuer}/oauth/register`,
      revocation_endpoint: `${issuer}/oauth/revoke`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      scopes_supported: [OAUTH_SCOPE],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: true,
    } as OAuthMetadata;
  }

  /**
   * The body as text, read no further than {@link MAX_FORM_BYTES} (a chunked body has no
   * Content-Length to refuse it by); undefined when larger or unreadable.
   */
  async function bodyText(c: Context): Promise<string | undefined> {
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > MAX_FORM_BYTES) return undefined;
    const body = c.req.raw.body;
    if (!body) return '';
    const buf = await readBounded(body, MAX_FORM_BYTES).catch(() => undefined);
    return buf && new TextDecoder().decode(buf);
  }

  /** A form or JSON body, bounded; undefined when too large or unreadable. */
  async function readForm(c: Context): Promise<Record<string, string> | undefined> {
    const text = await bodyText(c);
    if (text === undefined) return undefined;
    const type = (c.req.header('content-type') ?? '').toLowerCase();
    const out: Record<string, string> = {};
    if (type.startsWith('application/json')) {
      try {
        const o = JSON.parse(text) as unknown;
        if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined;
        for (const [k, v] of Object.entries(o)) if (typeof v === 'string') out[k] = v;
      } catch {
        return undefined;
      }
      return out;
    }
    const params = new URLSearchParams(text);
    for (const k of new Set(params.keys())) {
      // A parameter sent twice is ambiguous (RFC 6749 3.1): refused.
      if (params.getAll(k).length > 1) return undefined;
      out[k] = params.get(k)!;
    }
    return out;
  }

  function page(c: Context, status: 200 | 400 | 401 | 429, title: string, body: string, formTarget?: string): Response {
    const html = `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}input{width:100%;padding:.5rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1rem}.err{color:#b00}</style></head><body>${body}</body></html>`;
    return c.html(html, status, {
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      // Browsers check form-action along the redirect that answers the form: the client's origin too.
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${formTarget ? ` ${formTarget}` : ''}; frame-ancestors 'none'; base-uri 'none'`,
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
    });
  }

  function consent(c: Context, id: string, p: Pending, status: 200 | 401 = 200, error?: string): Response {
    const client = store.client(p.clientId);
    const name = client?.clientName || 'An unnamed client';
    const host = new URL(p.redirectUri).host;
    return page(
      c,
      status,
      'Connect to homelab-mcp',
      `<h1>Connect to homelab-mcp</h1>
<p><strong>${escapeHtml(name)}</strong> asks to use this hub's tools on your behalf. After you approve, you are sent back to <strong>${escapeHtml(host)}</strong>.</p>
<p>Paste a hub token (from <code>auth.tokens</code> in hub.yaml). The client gets its own tokens with that token's user and role, never the token itself.</p>
${error ? `<p class="err">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/oauth/authorize">
<input type="hidden" name="request" value="${escapeHtml(id)}">
<label>Hub token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Allow</button>
</form>`,
      new URL(p.redirectUri).origin,
    );
  }

  /** Redirects to the client's registered URI with `params` (and `iss`). */
  function back(c: Context, redirectUri: string, issuer: string, params: Record<string, string | undefined>): Response {
    const u = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    u.searchParams.set('iss', issuer);
    return c.body(null, 302, { location: u.toString(), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  }

  function issue(g: Omit<Grant, 'accessHash' | 'accessExpiresAt' | 'refreshHash' | 'refreshExpiresAt' | 'usedRefresh' | 'createdAt' | 'familyId'> & { familyId?: string }) {
    const access = newSecret('hlo_at_');
    const refresh = newSecret('hlo_rt_');
    const t = now();
    return {
      access,
      refresh,
      hashes: { accessHash: hashToken(access), accessExpiresAt: t + opts.accessTokenMinutes() * 60_000, refreshHash: hashToken(refresh), refreshExpiresAt: t + opts.refreshTokenDays() * 86_400_000 },
    };
  }
  const tokenAnswer = (c: Context, access: string, refresh: string, scope: string) =>
    c.json({ access_token: access, token_type: 'Bearer', expires_in: opts.accessTokenMinutes() * 60, refresh_token: refresh, scope }, 200, { 'cache-control': 'no-store', pragma: 'no-cache' });

  const app = new Hono();

  app.get(PRM_PATH, (c) => {
    const issuer = issuerOf(c);
    if (!issuer) return c.json({ error: 'OAuth needs oauth.issuer (or allowedHosts) for a non-loopback Host' }, 404);
    const prm = buildOAuthProtectedResourceMetadata({
      oauthMetadata: asMetadata(issuer),
      resourceServerUrl: new URL(resourceOf(issuer)),
      scopesSupported: [OAUTH_SCOPE],
      resourceName: 'homelab-mcp',
      dangerouslyAllowInsecureIssuerUrl: issuer.startsWith('http:'),
    });
    return c.json(prm, 200, { 'cache-control': 'no-store' });
  });

  app.get('/.well-known/oauth-authorization-server', (c) => {
    const issuer = issuerOf(c);
    if (!issuer) return c.json({ error: 'OAuth needs oauth.issuer (or allowedHosts) for a non-loopback Host' }, 404);
    return c.json(asMetadata(issuer), 200, { 'cache-control': 'no-store' });
  });

  app.post('/oauth/register', async (c) => {
    const source = opts.sourceOf(c);
    const t = now();
    if ((registrations.get(budgetKey(source))?.filter((x) => x > t - 3_600_000).length ?? 0) >= perHour) {
      refused(c, 'registration rate');
      return oauthError(c, 429, 'temporarily_unavailable', `at most ${perHour} client registrations per hour`);
    }
    const text = await bodyText(c);
    let body: unknown;
    try {
      body = text !== undefined && text.length <= MAX_FORM_BYTES ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const parsed = registrationSchema.safeParse(body);
    if (!parsed.success) {
      refused(c, 'registration schema');
      const issue0 = parsed.error.issues[0];
      return oauthError(c, 400, 'invalid_client_metadata', issue0 ? `${issue0.path.join('.') || 'body'}: ${issue0.message}` : 'expected a JSON object');
    }
    const m = parsed.data;
    for (const r of m.redirect_uris) {
      const problem = redirectUriProblem(r);
      if (problem) {
        refused(c, 'redirect_uri');
        return oauthError(c, 400, 'invalid_redirect_uri', `redirect_uris: ${r.slice(0, 200)} ${problem}`);
      }
    }
    if (m.scope !== undefined && m.scope.split(' ').some((s) => s !== OAUTH_SCOPE)) return oauthError(c, 400, 'invalid_client_metadata', `scope: only "${OAUTH_SCOPE}" is offered`);
    const client = { clientId: `hlc_${randomBytes(16).toString('base64url')}`, clientName: cleanName(m.client_name), redirectUris: m.redirect_uris, createdAt: t };
    if (!store.addClient(client, t)) {
      refused(c, 'client count');
      return oauthError(c, 400, 'invalid_client_metadata', 'the hub holds as many OAuth clients as it keeps; revoke some grants first');
    }
    hourly(registrations, budgetKey(source), perHour, t);
    await opts.audit({ action: 'register', clientId: client.clientId, clientName: client.clientName, source });
    return c.json(
      {
        client_id: client.clientId,
        client_id_issued_at: Math.floor(t / 1000),
        client_name: client.clientName || undefined,
        redirect_uris: client.redirectUris,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: OAUTH_SCOPE,
      },
      201,
      { 'cache-control': 'no-store' },
    );
  });

  const documentFetches = new Map<string, number[]>();
  /**
   * A URL-form client_id: its client ID metadata document fetched now (bounded, SSRF-guarded)
   * and kept as the client; a page saying why not otherwise. Undefined for a registered id.
   */
  async function documentClient(c: Context, clientId: string, issuer: string): Promise<Response | undefined> {
    const loopbackOk = isLoopbackHost(new URL(issuer).hostname);
    const form = clientIdUrlProblem(clientId, loopbackOk);
    if (!form) return undefined;
    const fail = (why: string) => {
      refused(c, `client document: ${why}`.slice(0, 200), { clientId: clientId.slice(0, 200) });
      return page(c, 400, 'Client document refused', `<p>The client's metadata document (client_id ${escapeHtml(clientId.slice(0, 200))}) ${escapeHtml(why)}.</p>`);
    };
    if (form.problem || !form.url) return fail(form.problem ?? 'is not usable');
    const t = now();
    // Fetched lately: not again (every consent page would otherwise make the hub fetch).
    const known = store.client(clientId);
    if (known && known.createdAt > t - DOCUMENT_FRESH_MS) return undefined;
    if (!hourly(documentFetches, budgetKey(opts.sourceOf(c)), documentsPerHour, t)) return fail(`was not fetched: at most ${documentsPerHour} client documents are fetched per hour for one address`);
    let doc;
    try {
      doc = await (opts.fetchClientDocument ?? fetchClientDocument)(form.url, loopbackOk);
    } catch (err) {
      return fail(`could not be used: ${(err instanceof Error ? err.message : String(err)).slice(0, 300)}`);
    }
    for (const r of doc.redirect_uris) {
      const problem = redirectUriProblem(r);
      if (problem) return fail(`lists the redirect URI ${r.slice(0, 200)}, which ${problem}`);
    }
    const client = { clientId, clientName: cleanName(doc.client_name), redirectUris: doc.redirect_uris, createdAt: t };
    if (!store.addClient(client, t)) return fail('could not be kept: the hub holds as many OAuth clients as it keeps');
    return undefined;
  }

  app.get('/oauth/authorize', async (c) => {
    const issuer = issuerOf(c);
    if (!issuer) return page(c, 400, 'OAuth unavailable', '<p>OAuth needs oauth.issuer for this host name.</p>');
    const q = new URL(c.req.url).searchParams;
    for (const k of new Set(q.keys())) if (q.getAll(k).length > 1) return page(c, 400, 'Bad request', `<p>The parameter ${escapeHtml(k.slice(0, 50))} is given twice.</p>`);
    const clientId = q.get('client_id') ?? '';
    const viaDocument = await documentClient(c, clientId, issuer);
    if (viaDocument) return viaDocument;
    const client = store.client(clientId);
    // Never redirect before the client and its redirect URI are known: an open redirect otherwise.
    if (!client) {
      refused(c, 'unknown client');
      return page(c, 400, 'Unknown client', '<p>This client is not registered with the hub (client_id unknown). Connect again from the app.</p>');
    }
    const asked = q.get('redirect_uri');
    const redirectUri = asked ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
    if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
      refused(c, 'redirect_uri', { clientId });
      return page(c, 400, 'Bad redirect', '<p>The redirect_uri is not one this client registered.</p>');
    }
    const state = q.get('state') ?? undefined;
    const fail = (error: string, description: string) => {
      refused(c, error, { clientId });
      return back(c, redirectUri, issuer, { error, error_description: description, state });
    };
    if (state !== undefined && state.length > 512) return fail('invalid_request', 'state is longer than 512 characters');
    if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be code');
    if (q.get('code_challenge_method') !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256 (plain is refused)');
    const challenge = q.get('code_challenge') ?? '';
    if (!CHALLENGE.test(challenge)) return fail('invalid_request', 'code_challenge must be a base64url SHA-256 (43 characters)');
    const resource = q.get('resource') ?? resourceOf(issuer);
    if (resource.replace(/\/$/, '') !== resourceOf(issuer)) return fail('invalid_target', `resource must be ${resourceOf(issuer)}`);
    const scope = q.get('scope') ?? OAUTH_SCOPE;
    if (scope.split(' ').some((s) => s !== OAUTH_SCOPE)) return fail('invalid_scope', `only the scope "${OAUTH_SCOPE}" is offered`);
    expire();
    const source = budgetKey(opts.sourceOf(c));
    while (pending.size >= maxPending) {
      // The source holding the most pending requests loses its oldest: a flood evicts itself.
      const counts = new Map<string, number>();
      for (const x of pending.values()) counts.set(x.source, (counts.get(x.source) ?? 0) + 1);
      const top = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
      for (const [k, x] of pending) {
        if (x.source === top) {
          pending.delete(k);
          break;
        }
      }
    }
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const p: Pending = { clientId, redirectUri, challenge, resource: resourceOf(issuer), scope: OAUTH_SCOPE, ...(state !== undefined ? { state } : {}), expiresAt: now() + PENDING_TTL_MS, csrfHash: hashToken(csrf), source };
    pending.set(id, p);
    const res = consent(c, id, p);
    const secure = issuer.startsWith('https:');
    res.headers.append('set-cookie', `${secure ? '__Host-' : ''}${CSRF_COOKIE}=${csrf}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${PENDING_TTL_MS / 1000}${secure ? '; Secure' : ''}`);
    return res;
  });

  app.post('/oauth/authorize', async (c) => {
    const issuer = issuerOf(c);
    if (!issuer) return page(c, 400, 'OAuth unavailable', '<p>OAuth needs oauth.issuer for this host name.</p>');
    const source = opts.sourceOf(c);
    const throttled = opts.authFailures.blocked(source);
    if (!throttled.ok) {
      refused(c, 'throttled');
      return page(c, 429, 'Too many attempts', `<p>Too many failed attempts from your address; try again in ${throttled.retryAfterS} s.</p>`);
    }
    // A cross-site form post (CSRF) carries the other site's Origin; the global Host/Origin check
    // refuses names that are not the hub's; here it must be the issuer itself.
    const origin = c.req.header('origin');
    if (origin !== undefined && origin !== 'null' && origin.toLowerCase() !== new URL(issuer).origin) {
      refused(c, 'origin');
      return page(c, 400, 'Bad request', '<p>This form was posted from another site.</p>');
    }
    const form = await readForm(c);
    expire();
    const id = form?.request ?? '';
    const p = pending.get(id);
    if (!form || !p) {
      refused(c, 'unknown authorization request');
      opts.authFailures.take(source);
      return page(c, 400, 'Expired', '<p>This authorization request is unknown or expired. Start again from the app.</p>');
    }
    // The CSRF cookie of the browser that loaded this consent page (double submit: the form
    // names the request, the cookie proves the same browser posts it).
    const cookies = (c.req.header('cookie') ?? '').split(';').map((x) => x.trim());
    // With TLS only the __Host- cookie counts: a sibling host can toss a plain one.
    const cookieName = issuer.startsWith('https:') ? `__Host-${CSRF_COOKIE}` : CSRF_COOKIE;
    const csrf = cookies.find((x) => x.startsWith(`${cookieName}=`))?.slice(cookieName.length + 1) ?? '';
    if (hashToken(csrf) !== p.csrfHash) {
      refused(c, 'csrf', { clientId: p.clientId });
      return page(c, 400, 'Bad request', '<p>This form was not posted from the consent page this browser loaded (its cookie is missing). Start again from the app.</p>');
    }
    const token = form.token ?? '';
    const caller = token.length > 0 && token.length <= 1024 && !/\s/.test(token) ? opts.authenticate(`Bearer ${token}`) : undefined;
    if (!caller) {
      opts.authFailures.take(source);
      refused(c, 'bad hub token', { clientId: p.clientId });
      return consent(c, id, p, 401, 'That is not a hub token.');
    }
    pending.delete(id);
    bounded(codes, MAX_CODES);
    const code = randomBytes(32).toString('base64url');
    const { csrfHash: _csrf, source: _source, ...bound } = p;
    codes.set(hashToken(code), { ...bound, user: caller.user, key: caller.key, used: false, expiresAt: now() + CODE_TTL_MS });
    return back(c, p.redirectUri, issuer, { code, state: p.state });
  });

  app.post('/oauth/token', async (c) => {
    const issuer = issuerOf(c);
    if (!issuer) return oauthError(c, 404, 'invalid_request', 'OAuth needs oauth.issuer for this host name');
    const form = await readForm(c);
    if (!form) return oauthError(c, 400, 'invalid_request', 'expected an application/x-www-form-urlencoded body of at most 16 KiB, each parameter once');
    if (form.client_secret !== undefined || c.req.header('authorization')) return oauthError(c, 401, 'invalid_client', 'the hub registers public clients only (token_endpoint_auth_method none)');
    const clientId = form.client_id ?? '';
    const client = store.client(clientId);
    if (!client) {
      refused(c, 'unknown client');
      return oauthError(c, 401, 'invalid_client', 'unknown client_id');
    }
    if (form.resource !== undefined && form.resource.replace(/\/$/, '') !== resourceOf(issuer)) return oauthError(c, 400, 'invalid_target', `resource must be ${resourceOf(issuer)}`);
    const bad = (reason: string, extra: Partial<OAuthEvent> = {}) => {
      refused(c, reason, { clientId, clientName: client.clientName, ...extra });
      return oauthError(c, 400, 'invalid_grant', reason);
    };
    if (form.grant_type === 'authorization_code') {
      expire();
      const hash = hashToken(form.code ?? '');
      const code = codes.get(hash);
      if (!code) return bad('unknown or expired code');
      if (code.used) {
        // A code presented twice: whoever holds it may be an attacker; the tokens it gave go.
        const g = code.familyId ? store.grants().find((x) => x.familyId === code.familyId) : undefined;
        if (g) revokeGrant(g);
        codes.delete(hash);
        return bad('code already used; the tokens issued for it are revoked', { user: code.user });
      }
      code.used = true;
      if (code.expiresAt <= now()) return bad('code expired');
      if (code.clientId !== clientId) return bad('code issued to another client');
      if (form.redirect_uri !== code.redirectUri) return bad('redirect_uri differs from the authorization request');
      const verifier = form.code_verifier ?? '';
      if (!VERIFIER.test(verifier) || s256(verifier) !== code.challenge) return bad('code_verifier does not match the code_challenge (PKCE S256)');
      if (code.resource !== resourceOf(issuer)) return bad('code issued for another resource');
      const caller = opts.resolveCaller(code.key);
      if (!caller) return bad('the hub token behind this code is no longer configured');
      const familyId = randomBytes(12).toString('base64url');
      const t = issue({ user: caller.user, key: code.key, clientId, scope: code.scope, resource: code.resource });
      const evicted = store.addGrant({ familyId, user: caller.user, key: code.key, clientId, scope: code.scope, resource: code.resource, ...t.hashes, usedRefresh: [], createdAt: now() }, now());
      code.familyId = familyId;
      if (evicted.length) opts.revoked?.();
      await opts.audit({ action: 'grant', user: caller.user, role: caller.role, clientId, clientName: client.clientName, source: opts.sourceOf(c) });
      return tokenAnswer(c, t.access, t.refresh, code.scope);
    }
    if (form.grant_type === 'refresh_token') {
      const hash = hashToken(form.refresh_token ?? '');
      const g = store.grantByRefresh(hash);
      if (!g) {
        const reused = store.grantByUsedRefresh(hash);
        if (reused) {
          revokeGrant(reused);
          return bad('refresh token already used; its grant is revoked', { user: reused.user });
        }
        return bad('unknown refresh token');
      }
      if (g.clientId !== clientId) return bad('refresh token issued to another client');
      if (g.refreshExpiresAt <= now()) {
        revokeGrant(g);
        return bad('refresh token expired');
      }
      if (form.scope !== undefined && form.scope !== g.scope) return oauthError(c, 400, 'invalid_scope', `only the scope "${OAUTH_SCOPE}" is offered`);
      const caller = opts.resolveCaller(g.key);
      if (!caller) {
        revokeGrant(g);
        return bad('the hub token behind this grant is no longer configured', { user: g.user });
      }
      const t = issue(g);
      store.rotate(g, t.hashes);
      await opts.audit({ action: 'refresh', user: caller.user, role: caller.role, clientId, clientName: client.clientName, source: opts.sourceOf(c) });
      return tokenAnswer(c, t.access, t.refresh, g.scope);
    }
    return oauthError(c, 400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
  });

  app.post('/oauth/revoke', async (c) => {
    const form = await readForm(c);
    if (!form || !form.token) return oauthError(c, 400, 'invalid_request', 'token is required');
    const hash = hashToken(form.token);
    const g = store.grantByAccess(hash) ?? store.grantByRefresh(hash);
    // RFC 7009: 200 whatever the token was; only the client it was issued to may revoke it.
    if (g && (form.client_id === undefined || form.client_id === g.clientId)) {
      revokeGrant(g);
      await opts.audit({ action: 'revoke', user: g.user, clientId: g.clientId, clientName: store.client(g.clientId)?.clientName ?? '', source: opts.sourceOf(c) });
    }
    return c.body(null, 200, { 'cache-control': 'no-store' });
  });

  return {
    app,
    issuerOf,
    /** The `WWW-Authenticate` value of a 401 on /oauth/mcp. */
    challenge(c: Context, presented: boolean): string {
      const issuer = issuerOf(c);
      const meta = issuer ? ` resource_metadata="${issuer}${PRM_PATH}"` : '';
      return `Bearer${meta}${presented ? `${meta ? ',' : ''} error="invalid_token"` : ''}`;
    },
    /**
     * The caller an access token stands for now (its hub token's user and role as configured
     * at this moment), or undefined: unknown, expired, revoked, for another resource, or its hub
     * token is gone.
     */
    verify(c: Context, token: string): OAuthCaller | undefined {
      const issuer = issuerOf(c);
      const g = store.grantByAccess(hashToken(token));
      if (!issuer || !g || g.accessExpiresAt <= now() || g.resource !== resourceOf(issuer)) return undefined;
      const caller = opts.resolveCaller(g.key);
      if (!caller) return undefined;
      return { ...caller, clientId: g.clientId, clientName: store.client(g.clientId)?.clientName ?? '', familyId: g.familyId };
    },
    /** Whether a grant still stands: not revoked, its refresh token not expired. */
    grantAlive(familyId: string): boolean {
      const g = store.grant(familyId);
      return !!g && g.refreshExpiresAt > now();
    },
    store,
  };
}

export type OAuth = ReturnType<typeof createOAuth>;
