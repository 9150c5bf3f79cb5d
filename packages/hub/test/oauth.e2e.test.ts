/**
 * OAuth 2.1 on /oauth/mcp, end to end with the bundled hub and the SDK client's own OAuth flow
 * (discovery from the 401, AS metadata, dynamic client registration, PKCE S256), the browser
 * step played by the test as a person would: open the consent page, paste a hub token, follow
 * the redirect to the client's loopback redirect_uri.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport, UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/client';
import { startHubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'oauth-e2e-admin-token-0123456789';
const VIEWER = 'oauth-e2e-viewer-token-0123456789';
const REDIRECT = 'http://127.0.0.1:47111/callback';

type Provider = OAuthClientProvider & { authUrl?: URL; stored?: { access_token: string; refresh_token?: string } & Record<string, unknown> };

function memoryProvider(): Provider {
  let info: unknown;
  let verifier = '';
  const p: Provider = {
    get redirectUrl() {
      return REDIRECT;
    },
    get clientMetadata() {
      return { client_name: 'e2e <b>client</b>', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
    },
    state: () => 'e2e-state',
    clientInformation: () => info as never,
    saveClientInformation: (i) => void (info = i),
    tokens: () => p.stored as never,
    saveTokens: (t) => void (p.stored = t as never),
    redirectToAuthorization: (url) => void (p.authUrl = url),
    saveCodeVerifier: (v) => void (verifier = v),
    codeVerifier: () => verifier,
  };
  return p;
}

/** The person's step: the consent page, the hub token, the redirect back. */
async function consent(authUrl: URL, token: string): Promise<URLSearchParams> {
  const page = await fetch(authUrl);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('e2e &#60;b&#62;client&#60;/b&#62;');
  expect(html).toContain('127.0.0.1:47111');
  const request = /name="request" value="([^"]+)"/.exec(html)![1]!;
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  const posted = await fetch(new URL('/oauth/authorize', authUrl), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ request, token }).toString() });
  expect(posted.status).toBe(302);
  const back = new URL(posted.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
  expect(back.searchParams.get('state')).toBe('e2e-state');
  return back.searchParams;
}

async function connect(url: URL, provider: Provider, era: 'legacy' | 'modern'): Promise<Client & AsyncDisposable> {
  const client = new Client({ name: 'oauth-e2e', version: '1.0.0' }, { versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' } });
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

/** The SDK's whole flow: 401 → discovery → registration → consent → token exchange → connected. */
async function authorize(url: URL, provider: Provider, token: string, era: 'legacy' | 'modern'): Promise<Client & AsyncDisposable> {
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  const client = new Client({ name: 'oauth-e2e', version: '1.0.0' }, { versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' } });
  await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.authUrl).toBeDefined();
  expect(provider.authUrl!.searchParams.get('code_challenge_method')).toBe('S256');
  await first.finishAuth(await consent(provider.authUrl!, token));
  return connect(url, provider, era);
}

const config = {
  local: { enabled: false },
  auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'vic', role: 'viewer', token: VIEWER }] },
  oauth: { enabled: true },
};

describe('OAuth on /oauth/mcp with the SDK client', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: registers, consents with the admin's hub token, calls tools, refreshes, and a revoked token stops at the next request`, async () => {
      await using hub = await startHubProcess({ config });
      const url = new URL('/oauth/mcp', hub.base);
      // The 401 names the protected resource metadata; /mcp keeps its bare 401.
      const bare = await fetch(url, { method: 'POST' });
      expect(bare.status).toBe(401);
      expect(bare.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${hub.base.replace(/\/$/, '')}/.well-known/oauth-protected-resource/oauth/mcp"`);
      const plain = await fetch(new URL('/mcp', hub.base), { method: 'POST' });
      expect(plain.status).toBe(401);
      expect(plain.headers.get('www-authenticate')).toBeNull();

      const provider = memoryProvider();
      await using client = await authorize(url, provider, ADMIN, era);
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('approve_writes');
      expect(((await client.callTool({ name: 'list_nodes', arguments: {} })) as { isError?: boolean }).isError).toBeFalsy();

      // The OAuth token is no hub token: /mcp refuses it, and the hub token is no OAuth token.
      const access = provider.stored!.access_token;
      expect((await fetch(new URL('/mcp', hub.base), { method: 'POST', headers: { authorization: `Bearer ${access}` } })).status).toBe(401);
      expect((await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);

      // A stale access token: the SDK refreshes with its refresh token (rotated) and goes on.
      const firstRefresh = provider.stored!.refresh_token!;
      provider.stored = { ...provider.stored!, access_token: 'hlo_at_stale' };
      await using again = await connect(url, provider, era);
      expect((await again.listTools()).tools.length).toBeGreaterThan(0);
      expect(provider.stored!.refresh_token).not.toBe(firstRefresh);

      // Revocation (RFC 7009) takes effect at the next request.
      const revoke = await fetch(new URL('/oauth/revoke', hub.base), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: provider.stored!.access_token }).toString() });
      expect(revoke.status).toBe(200);
      const after = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${provider.stored!.access_token}`, 'content-type': 'application/json' }, body: '{}' });
      expect(after.status).toBe(401);
      expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      // The SDK client's own next call: its refresh token went with the grant, so it must ask the person again.
      await expect(again.callTool({ name: 'list_nodes', arguments: {} })).rejects.toThrow();

      // The journal: grant, refresh, revoke as oauth events, tool calls with the client's name; no tokens.
      // (OAuth events are written after the answer: poll.)
      const auditDir = join(hub.dir, 'data', 'audit');
      const readJournal = () => readdirSync(auditDir).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(auditDir, f), 'utf8')).join('');
      const actions = () => readJournal().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.kind === 'oauth').map((e) => e.detail.action);
      await expect.poll(actions, { timeout: 10_000 }).toEqual(expect.arrayContaining(['register', 'grant', 'refresh', 'revoke']));
      const journal = readJournal();
      const call = journal.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.kind === 'tool_call' && e.tool === 'list_nodes');
      expect(call).toMatchObject({ user: 'ann', role: 'admin', detail: { oauthClient: 'e2e <b>client</b>' } });
      expect(journal).not.toContain(access);
      expect(journal).not.toContain(firstRefresh);
      expect(journal).not.toContain(ADMIN);
    });
  }

  it("a viewer's hub token yields a viewer session (no write tools); removing the hub token (reload) ends it at the next request", async () => {
    await using hub = await startHubProcess({ config });
    const url = new URL('/oauth/mcp', hub.base);
    const provider = memoryProvider();
    await using client = await authorize(url, provider, VIEWER, 'modern');
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toContain('list_nodes');
    await using admin = await authorize(url, memoryProvider(), ADMIN, 'modern');
    const adminTools = (await admin.listTools()).tools;
    const writes = adminTools.filter((t) => !tools.includes(t.name));
    expect(writes.length).toBeGreaterThan(0);
    expect(tools.every((n) => adminTools.some((t) => t.name === n))).toBe(true);
    // What only the admin sees are writes, and the viewer cannot call them.
    for (const t of writes) expect(t.annotations?.readOnlyHint, t.name).not.toBe(true);
    const refused = (await client.callTool({ name: writes[0]!.name, arguments: {} }).catch((e: unknown) => ({ isError: true, error: String(e) }))) as { isError?: boolean };
    expect(refused.isError).toBe(true);
    const file = join(hub.dir, 'hub.yaml');
    writeFileSync(file, JSON.stringify({ ...config, auth: { tokens: [config.auth.tokens[0]] } }));
    const status = async () => (await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${provider.stored!.access_token}`, 'content-type': 'application/json' }, body: '{}' })).status;
    await expect.poll(status, { timeout: 10_000 }).toBe(401);
    // And its refresh token no longer works.
    const refreshed = await fetch(new URL('/oauth/token', hub.base), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: provider.stored!.refresh_token!, client_id: (provider.clientInformation() as { client_id: string }).client_id }).toString() });
    expect(refreshed.status).toBe(400);
  });

  it('a revoked grant ends what it opened at once: a 2026 listen stream and a 2025 session GET stream close, not at the idle sweep', async () => {
    await using hub = await startHubProcess({ config });
    const url = new URL('/oauth/mcp', hub.base);
    const revoke = (token: string) => fetch(new URL('/oauth/revoke', hub.base), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });

    // 2026-07-28: a listen stream (tool list changes would go on reaching a revoked client).
    const modernProvider = memoryProvider();
    await using modern = await authorize(url, modernProvider, ADMIN, 'modern');
    const sub = await modern.listen({ toolsListChanged: true });
    expect((await revoke(modernProvider.stored!.access_token)).status).toBe(200);
    expect(await sub.closed).toBe('remote');

    // 2025-06-18: a session with its standalone GET stream.
    const legacyProvider = memoryProvider();
    await using legacy = await authorize(url, legacyProvider, ADMIN, 'legacy');
    await legacy.close();
    const access = legacyProvider.stored!.access_token;
    const headers = { authorization: `Bearer ${access}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) });
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id')!;
    await init.body?.cancel();
    const session = { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    expect((await fetch(url, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).status).toBe(202);
    const stream = await fetch(url, { method: 'GET', headers: { ...session, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    expect((await revoke(access)).status).toBe(200);
    for (;;) if ((await reader.read()).done) break;
  });

  it('is off by default: no metadata, no /oauth/mcp', async () => {
    await using hub = await startHubProcess({ config: { ...config, oauth: undefined } });
    expect((await fetch(new URL('/.well-known/oauth-authorization-server', hub.base))).status).toBe(404);
    expect((await fetch(new URL('/.well-known/oauth-protected-resource/oauth/mcp', hub.base))).status).toBe(404);
    expect((await fetch(new URL('/oauth/mcp', hub.base), { method: 'POST' })).status).toBe(404);
    expect((await fetch(new URL('/oauth/register', hub.base), { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
