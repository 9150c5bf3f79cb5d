/**
 * Where a call came from, in its audit event: the peer's address, or behind `trustedProxies`
 * the client the proxy names (X-Forwarded-For by default; Cf-Connecting-Ip with
 * `clientIpHeader: cf-connecting-ip`, as cloudflared passes Cloudflare's). A header from anyone
 * else is ignored. Both protocol eras, through the bundled hub with the SDK client (the test's
 * own requests come from 127.0.0.1, which each hub trusts or not).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, readJournal, startHubProcess, type Era } from '@homelab-mcp/testkit';

const TOKEN = 'client-source-admin-token-0123456789';

/** A fetch that adds `headers` to every request, as a proxy in front of the hub would. */
const withHeaders =
  (headers: Record<string, string>): typeof fetch =>
  (input, init) => {
    const h = new Headers(init?.headers);
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    return fetch(input, { ...init, headers: h });
  };

async function sourcesOf(config: Record<string, unknown>, headers: Record<string, string>): Promise<Record<Era, Array<string | undefined>>> {
  await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, ...config } });
  const out = { legacy: [], modern: [] } as Record<Era, Array<string | undefined>>;
  for (const era of ['legacy', 'modern'] as const) {
    await using client = await connectClient(hub.url, TOKEN, era, { fetch: withHeaders(headers) });
    await client.callTool({ name: 'list_nodes', arguments: {} });
  }
  await expect.poll(() => readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'tool_call' && e.tool === 'list_nodes').length).toBe(2);
  for (const e of readJournal(join(hub.dir, 'data')).filter((x) => x.kind === 'tool_call' && x.tool === 'list_nodes')) {
    // 2026-07-28 requests have no session: the hub keys them by client name.
    out[e.session?.startsWith('client:') ? 'modern' : 'legacy'].push(e.source as string | undefined);
  }
  return out;
}

describe('the source of a call in its audit event', () => {
  it('X-Forwarded-For from a trusted proxy names the client; the peer otherwise', { timeout: 60_000 }, async () => {
    const headers = { 'x-forwarded-for': '198.51.100.1, 203.0.113.5', 'cf-connecting-ip': '192.0.2.44' };
    expect(await sourcesOf({ trustedProxies: ['127.0.0.1'] }, headers)).toEqual({ legacy: ['203.0.113.5'], modern: ['203.0.113.5'] });
    expect(await sourcesOf({}, headers)).toEqual({ legacy: ['127.0.0.1'], modern: ['127.0.0.1'] });
  });

  it('Cf-Connecting-Ip with clientIpHeader: cf-connecting-ip, only from a trusted proxy', { timeout: 60_000 }, async () => {
    const headers = { 'x-forwarded-for': '203.0.113.5', 'cf-connecting-ip': '192.0.2.44' };
    expect(await sourcesOf({ trustedProxies: ['127.0.0.1'], clientIpHeader: 'cf-connecting-ip' }, headers)).toEqual({ legacy: ['192.0.2.44'], modern: ['192.0.2.44'] });
    expect(await sourcesOf({ clientIpHeader: 'cf-connecting-ip' }, headers)).toEqual({ legacy: ['127.0.0.1'], modern: ['127.0.0.1'] });
  });
});
