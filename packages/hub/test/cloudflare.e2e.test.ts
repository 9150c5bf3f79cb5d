/**
 * cloudflare_dns and cloudflare_tunnels through the bundled hub, with an SDK client, against the
 * fake Cloudflare API of the testkit (the token from the environment): records listed, a create
 * held by the gate with the record in its preview and made after approval, an update whose
 * preview shows the record before and after, a delete, a viewer who lists but cannot write, a
 * token Cloudflare rejects, the tunnels' health, and the journal with every request and no token.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, serveLoopback, startFakeCloudflare, startHubProcess, type FakeCloudflare, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'cf-admin-token-0123456789abcdef';
const VIEWER = 'cf-viewer-token-0123456789abcdef';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'kim', role: 'viewer', token: VIEWER }] };
const CF_TOKEN = 'cf-api-token-Zq8vW3nL0pR5sT7uY9xA';
const ACCOUNT = '9a7806061c88ada191ed06f989cc3dac';
const COM = '023e105f4ecef8ad9ca31a8372d0c353';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

/** A hub whose internet.cloudflare is `cloudflare` (null: none). */
function startHub(cf: FakeCloudflare, cloudflare: Record<string, unknown> | null = { token: '${CF_TOKEN}', accountId: ACCOUNT }): Promise<HubProcess> {
  return startHubProcess({
    config: { auth, local: { enabled: false }, internet: { endpoints: { cloudflare: cf.url }, ...(cloudflare ? { cloudflare } : {}) } },
    env: { CF_TOKEN },
  });
}

/** Every request the fake saw is one http_request event of the journal, with its method and URL (no query), and no event holds the token. */
function expectJournaled(hub: HubProcess, cf: FakeCloudflare, token = CF_TOKEN): void {
  const events = readJournal(join(hub.dir, 'data'));
  const http = events.filter((e) => e.kind === 'http_request' && String(e.detail.url).startsWith(cf.url));
  const seen = cf.requests().map((r) => `${r.method} http://${cf.host}${r.path.replace(/\?.*$/, '')}`).sort();
  expect(http.map((e) => `${e.detail.method} ${e.detail.url}`).sort()).toEqual(seen);
  expect(seen.length).toBeGreaterThan(0);
  expect(JSON.stringify(events)).not.toContain(token);
  expect(hub.output()).not.toContain(token);
}

describe('Cloudflare through the hub', () => {
  it('lists records; a create is held with the record in its preview and made after approval; an update previews before and after; a delete; all journaled without the token', { timeout: 120_000 }, async () => {
    await using cf = await startFakeCloudflare({ token: CF_TOKEN });
    await using hub = await startHub(cf);
    await using admin = await connectClient(hub.url, ADMIN, 'legacy');
    const call = async (args: Record<string, unknown>) => (await admin.callTool({ name: 'cloudflare_dns', arguments: args })) as Result;

    const list = await call({ action: 'list', zone: 'example.com' });
    expect(list.isError).toBeFalsy();
    expect(resultText(list)).toMatch(new RegExp(`^7 record\\(s\\) in Cloudflare zone example\\.com \\(${COM}\\):\n`));
    expect(resultText(list)).toContain('- A vpn.example.com → 198.51.100.7 (ttl 300 s, DNS only, comment "WireGuard") id 372e67954025e0ba6aaa6d586b9e0b61\n');
    expect(resultText(list)).toContain('- MX example.com → 10 mail.example.com (ttl auto) id 372e67954025e0ba6aaa6d586b9e0b62');
    expect(list.structuredContent).toMatchObject({ zone: { id: COM, name: 'example.com' }, total: 7, truncated: false });
    // Filtered, and a zone by its id.
    expect(resultText(await call({ action: 'list', zone: 'example.com', record: { type: 'A', name: 'rr' } }))).toMatch(/^2 record\(s\) in Cloudflare zone example\.com \(\w+\) matching type "A", name "rr\.example\.com":\n- A rr\.example\.com → 198\.51\.100\.21/);
    expect(resultText(await call({ action: 'list', zone: 'd56084adb405e0b7e32c52321bf07be6' }))).toMatch(/^1 record\(s\) in Cloudflare zone example\.org .*\n- AAAA example\.org → 2001:db8::4 \(ttl auto, DNS only\)/);
    const noZone = await call({ action: 'list', zone: 'example.net' });
    expect(noZone.isError).toBe(true);
    expect(resultText(noZone)).toBe(`zone: no zone "example.net" among the 2 zone(s) this token sees: example.com (${COM}), example.org (d56084adb405e0b7e32c52321bf07be6)`);

    // A create is held: the preview shows the record it would make, and nothing is made.
    const create = { action: 'create', zone: 'example.com', record: { type: 'A', name: 'nas', content: '192.0.2.10', comment: 'Synology' } };
    const held = await call(create);
    expect(held.structuredContent).toMatchObject({
      status: 'approval_required',
      preview: { tool: 'cloudflare_dns', where: ['cloudflare/example.com'], action: 'create in Cloudflare zone example.com: before: nothing; after: A nas.example.com → 192.0.2.10 (ttl auto, DNS only, comment "Synology"); no record is named nas.example.com now' },
    });
    expect(cf.records.some((r) => r.name === 'nas.example.com')).toBe(false);
    expect(cf.requests().some((r) => r.method !== 'GET')).toBe(false);
    await admin.callTool({ name: 'approve_writes', arguments: {} });
    const created = await call(create);
    expect(resultText(created)).toMatch(/^Created in zone example\.com: A nas\.example\.com → 192\.0\.2\.10 \(ttl auto, DNS only, comment "Synology"\), id [0-9a-f]{32}\.$/);
    expect(cf.records.find((r) => r.name === 'nas.example.com')).toMatchObject({ type: 'A', content: '192.0.2.10', ttl: 1, proxied: false, comment: 'Synology', zone_id: COM });

    // An update found by name and type: its preview has the record before and after.
    await admin.callTool({ name: 'revoke_writes', arguments: {} });
    const update = { action: 'update', zone: 'example.com', record: { type: 'A', name: 'vpn.example.com', content: '198.51.100.8', ttl: 600 } };
    const heldUpdate = await call(update);
    expect(heldUpdate.structuredContent!.preview.action).toBe(
      'update in Cloudflare zone example.com record 372e67954025e0ba6aaa6d586b9e0b61 (content, ttl): before: A vpn.example.com → 198.51.100.7 (ttl 300 s, DNS only, comment "WireGuard"); after: A vpn.example.com → 198.51.100.8 (ttl 600 s, DNS only, comment "WireGuard")',
    );
    expect(cf.records.find((r) => r.name === 'vpn.example.com')).toMatchObject({ content: '198.51.100.7', ttl: 300 });
    await admin.callTool({ name: 'approve_writes', arguments: {} });
    expect(resultText(await call(update))).toBe('Updated in zone example.com (content, ttl): before A vpn.example.com → 198.51.100.7 (ttl 300 s, DNS only, comment "WireGuard"); now A vpn.example.com → 198.51.100.8 (ttl 600 s, DNS only, comment "WireGuard").');
    expect(cf.records.find((r) => r.name === 'vpn.example.com')).toMatchObject({ content: '198.51.100.8', ttl: 600, comment: 'WireGuard' });

    // Two A records named rr: which one is ambiguous, and the answer lists both.
    const ambiguous = await call({ action: 'update', zone: 'example.com', record: { type: 'A', name: 'rr', content: '198.51.100.23' } });
    expect(ambiguous.isError).toBe(true);
    expect(resultText(ambiguous)).toBe(
      'record: 2 A records named rr.example.com in zone example.com; give record.id of the one to update: 372e67954025e0ba6aaa6d586b9e0b64 (A rr.example.com → 198.51.100.21 (ttl auto, DNS only)); 372e67954025e0ba6aaa6d586b9e0b65 (A rr.example.com → 198.51.100.22 (ttl auto, DNS only))',
    );
    // A delete narrowed by content.
    expect(resultText(await call({ action: 'delete', zone: 'example.com', record: { type: 'A', name: 'rr', content: '198.51.100.22' } }))).toBe('Deleted from zone example.com: A rr.example.com → 198.51.100.22 (ttl auto, DNS only) (id 372e67954025e0ba6aaa6d586b9e0b65).');
    expect(cf.records.filter((r) => r.name === 'rr.example.com').map((r) => r.content)).toEqual(['198.51.100.21']);

    // By id: only what is given changes.
    expect(resultText(await call({ action: 'update', zone: 'example.com', record: { id: '372e67954025e0ba6aaa6d586b9e0b60', proxied: false } }))).toBe(
      'Updated in zone example.com (proxied): before CNAME www.example.com → example.com (ttl auto, proxied); now CNAME www.example.com → example.com (ttl auto, DNS only).',
    );
    // Proxying a record with its own TTL makes the TTL auto.
    expect(resultText(await call({ action: 'update', zone: 'example.com', record: { type: 'A', name: 'vpn', proxied: true } }))).toBe(
      'Updated in zone example.com (ttl, proxied): before A vpn.example.com → 198.51.100.8 (ttl 600 s, DNS only, comment "WireGuard"); now A vpn.example.com → 198.51.100.8 (ttl auto, proxied, comment "WireGuard").',
    );
    expect(resultText(await call({ action: 'update', zone: COM, record: { id: '00000000000000000000000000000000', ttl: 600 } }))).toBe('record.id: no record 00000000000000000000000000000000 in zone example.com');

    // Checked before Cloudflare is asked to write; and what Cloudflare refuses is said with its code.
    const posts = () => cf.requests().filter((r) => r.method === 'POST').length;
    const before = posts();
    expect(resultText(await call({ action: 'create', zone: 'example.com', record: { type: 'MX', name: '@', content: 'mx2.example.com' } }))).toBe('record.priority: an MX record needs a priority from 0 to 65535');
    expect(resultText(await call({ action: 'create', zone: 'example.com', record: { type: 'TXT', name: '_dmarc', content: 'v=DMARC1; p=none', proxied: true } }))).toBe('record.proxied: only A, AAAA and CNAME records can be proxied, not TXT');
    expect(resultText(await call({ action: 'create', zone: 'example.com', record: { type: 'AAAA', name: 'nas', content: '192.0.2.10' } }))).toBe('record.content: an AAAA record needs an IPv6 address, got "192.0.2.10"');
    expect(resultText(await call({ action: 'create', zone: 'example.com', record: { type: 'A', name: 'nas', content: '192.0.2.11', ttl: 30 } }))).toBe('record.ttl: expected 1 (auto) or 60 to 86400 seconds, got 30');
    expect(resultText(await call({ action: 'purge', zone: 'example.com' }))).toBe('cloudflare_dns: action: expected one of list, create, update, delete, got "purge"');
    expect(posts()).toBe(before);
    const dup = await call({ action: 'create', zone: 'example.com', record: { type: 'A', name: 'nas', content: '192.0.2.10', comment: 'Synology' } });
    expect(dup.isError).toBe(true);
    expect(resultText(dup)).toBe('Cloudflare refused to create A nas.example.com: An identical record already exists. (code 81058)');

    expectJournaled(hub, cf);
    expect(cf.unknown()).toEqual([]);
  });

  it('a long list is read page by page and bounded: 500 records shown, the rest counted', { timeout: 120_000 }, async () => {
    const zone = { id: '0b1f0b1f0b1f0b1f0b1f0b1f0b1f0b1f', name: 'big.example' };
    const at = '2026-01-01T00:00:00Z';
    const records = Array.from({ length: 520 }, (_, i) => ({ id: i.toString(16).padStart(32, '0'), zone_id: zone.id, type: 'A', name: `h${i}.big.example`, content: `10.0.${i >> 8}.${i & 255}`, ttl: 1, proxied: false, proxiable: true, comment: null, created_on: at, modified_on: at }));
    await using cf = await startFakeCloudflare({ token: CF_TOKEN, zones: [zone], records });
    await using hub = await startHub(cf);
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const r = (await viewer.callTool({ name: 'cloudflare_dns', arguments: { action: 'list', zone: 'big.example' } })) as Result;
    const lines = resultText(r).split('\n');
    expect(lines[0]).toBe(`520 record(s) in Cloudflare zone big.example (${zone.id}):`);
    expect(lines.slice(1, -1)).toHaveLength(500);
    expect(lines[500]).toBe(`- A h499.big.example → 10.0.1.243 (ttl auto, DNS only) id ${(499).toString(16).padStart(32, '0')}`);
    expect(lines.at(-1)).toBe('… 20 more not shown (filter with record.type or record.name)');
    expect(r.structuredContent).toMatchObject({ total: 520, truncated: true });
    expect(r.structuredContent!.records).toHaveLength(500);
    const pages = cf.requests().filter((x) => x.path.startsWith(`/client/v4/zones/${zone.id}/dns_records`)).map((x) => new URL(x.path, 'http://x').searchParams.get('page'));
    expect(pages).toEqual(['1', '2', '3', '4', '5']);
    expect(cf.unknown()).toEqual([]);
  });

  it('in confirm mode a delete runs with the token its preview gave, once', { timeout: 120_000 }, async () => {
    await using cf = await startFakeCloudflare({ token: CF_TOKEN });
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, approval: { mode: 'confirm' }, internet: { endpoints: { cloudflare: cf.url }, cloudflare: { token: '${CF_TOKEN}' } } },
      env: { CF_TOKEN },
    });
    await using admin = await connectClient(hub.url, ADMIN, 'modern');
    const del = { action: 'delete', zone: 'example.com', record: { type: 'TXT', name: '@' } };
    const held = (await admin.callTool({ name: 'cloudflare_dns', arguments: del })) as Result;
    expect(held.structuredContent).toMatchObject({ status: 'confirmation_required', preview: { action: 'delete from Cloudflare zone example.com record 372e67954025e0ba6aaa6d586b9e0b63: before: TXT example.com → "v=spf1 mx -all" (ttl auto); after: nothing' } });
    expect(cf.records.some((r) => r.type === 'TXT')).toBe(true);
    const done = (await admin.callTool({ name: 'cloudflare_dns', arguments: { ...del, confirm: held.structuredContent!.confirm } })) as Result;
    expect(resultText(done)).toBe('Deleted from zone example.com: TXT example.com → "v=spf1 mx -all" (ttl auto) (id 372e67954025e0ba6aaa6d586b9e0b63).');
    expect(cf.records.some((r) => r.type === 'TXT')).toBe(false);
    expect(cf.requests().filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect(cf.unknown()).toEqual([]);
  });

  it('a viewer lists records but cannot create one', { timeout: 120_000 }, async () => {
    await using cf = await startFakeCloudflare({ token: CF_TOKEN });
    await using hub = await startHub(cf);
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const tool = (await viewer.listTools()).tools.find((t) => t.name === 'cloudflare_dns');
    expect(tool?.annotations).toMatchObject({ readOnlyHint: false });
    const list = (await viewer.callTool({ name: 'cloudflare_dns', arguments: { action: 'list', zone: 'example.com', record: { type: 'TXT' } } })) as Result;
    expect(resultText(list)).toMatch(/^1 record\(s\) in Cloudflare zone example\.com .*:\n- TXT example\.com → "v=spf1 mx -all" \(ttl auto\) id \w+$/);
    const denied = (await viewer.callTool({ name: 'cloudflare_dns', arguments: { action: 'create', zone: 'example.com', record: { type: 'A', name: 'x', content: '192.0.2.1' } } })) as Result;
    expect(denied.isError).toBe(true);
    expect(resultText(denied)).toBe('Denied: kim is a viewer and cannot run write tools.');
    expect(cf.records.some((r) => r.name === 'x.example.com')).toBe(false);
    expect(cf.requests().map((r) => r.method)).not.toContain('POST');
    expect(cf.unknown()).toEqual([]);
  });

  it('a token Cloudflare rejects is named by its config key, never shown', { timeout: 120_000 }, async () => {
    await using cf = await startFakeCloudflare({ token: 'the-right-token-0123456789', rejectAs: 'invalid-token' });
    await using hub = await startHub(cf);
    await using admin = await connectClient(hub.url, ADMIN, 'modern');
    const dns = (await admin.callTool({ name: 'cloudflare_dns', arguments: { action: 'list', zone: 'example.com' } })) as Result;
    expect(dns.isError).toBe(true);
    expect(resultText(dns)).toBe('Cloudflare refused the API token (internet.cloudflare.token) when asked to find zone example.com: Invalid access token (code 9109). The token must be active and have Zone:Read and Zone:DNS:Read (or Edit) on the zone.');
    const tunnels = (await admin.callTool({ name: 'cloudflare_tunnels', arguments: {} })) as Result;
    expect(resultText(tunnels)).toBe('Cloudflare refused the API token (internet.cloudflare.token) when asked to list the tunnels: Invalid access token (code 9109). The token must be active and have Account:Cloudflare Tunnel:Read.');
    expectJournaled(hub, cf);
    expect(cf.unknown()).toEqual([]);
  });

  it('an upstream error that echoes the token shows none of it, not even the part before a cut', { timeout: 120_000 }, async () => {
    // A proxy in front of the API (or a hostile one) quoting the Authorization header it got, after 190 characters.
    const echo = await serveLoopback(createServer((req, res) => void res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ success: false, errors: [{ code: 10000, message: `${'x'.repeat(190)}${req.headers.authorization?.replace(/^Bearer /, '')}` }], result: null }))));
    await using _echo = { [Symbol.asyncDispose]: () => echo.stop() };
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, internet: { endpoints: { cloudflare: `http://127.0.0.1:${echo.port}/client/v4` }, cloudflare: { token: '${CF_TOKEN}', accountId: ACCOUNT } } }, env: { CF_TOKEN } });
    await using admin = await connectClient(hub.url, ADMIN, 'modern');
    const dns = (await admin.callTool({ name: 'cloudflare_dns', arguments: { action: 'list', zone: 'example.com' } })) as Result;
    expect(dns.isError).toBe(true);
    expect(resultText(dns)).toMatch(/^Cloudflare refused the API token \(internet\.cloudflare\.token\) when asked to find zone example\.com: x{190}/);
    expect(resultText(dns)).not.toContain(CF_TOKEN.slice(0, 8));
    expect(JSON.stringify(readJournal(join(hub.dir, 'data'))) + hub.output()).not.toContain(CF_TOKEN.slice(0, 8));
  });

  it('tunnels: a healthy one with its connections and a down one, so "is my remote access up?" has an answer', { timeout: 120_000 }, async () => {
    await using cf = await startFakeCloudflare({ token: CF_TOKEN });
    const down = cf.tunnels.find((t) => t.name === 'office')!;
    const home = cf.tunnels.find((t) => t.name === 'home')!;
    await using hub = await startHub(cf);
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const r = (await viewer.callTool({ name: 'cloudflare_tunnels', arguments: {} })) as Result;
    expect(r.isError).toBeFalsy();
    const [c1, c2] = home.connectors[0]!.conns;
    expect(resultText(r)).toBe(
      [
        `1 of 2 Cloudflare tunnel(s) up in account ${ACCOUNT}, internet.cloudflare.accountId; not up: office (down).`,
        `- home (${home.id}): healthy, 2 connection(s): fra06 from 203.0.113.7 since ${c1!.opened_at}, ams01 from 203.0.113.7 since ${c2!.opened_at}; cloudflared 2024.11.1 linux_arm64`,
        `- office (${down.id}): DOWN since ${down.conns_inactive_at} (no connection to Cloudflare), no live connection`,
      ].join('\n'),
    );
    expect(r.structuredContent).toMatchObject({ up: 1, total: 2, tunnels: [{ name: 'home', status: 'healthy', connections: [{ colo: 'fra06', originIp: '203.0.113.7' }, { colo: 'ams01' }] }, { name: 'office', status: 'down', connections: [] }] });
    expectJournaled(hub, cf);
    expect(cf.unknown()).toEqual([]);
  });

  it('without accountId the only account the token sees is used and named; without internet.cloudflare the tools say what to set', { timeout: 120_000 }, async () => {
    await using cf = await startFakeCloudflare({ token: CF_TOKEN });
    {
      await using hub = await startHub(cf, { token: '${CF_TOKEN}' });
      await using admin = await connectClient(hub.url, ADMIN, 'modern');
      const r = (await admin.callTool({ name: 'cloudflare_tunnels', arguments: {} })) as Result;
      expect(resultText(r)).toMatch(new RegExp(`^1 of 2 Cloudflare tunnel\\(s\\) up in account Homelab \\(${ACCOUNT}\\), the only account this token sees \\(set internet\\.cloudflare\\.accountId to pin it\\); not up: office \\(down\\)\\.\n`));
      expect(r.structuredContent!.account).toEqual({ id: ACCOUNT, name: 'Homelab', chosenBy: 'the only account this token sees (set internet.cloudflare.accountId to pin it)' });
    }
    await using hub = await startHub(cf, null);
    await using admin = await connectClient(hub.url, ADMIN, 'modern');
    const before = cf.requests().length;
    for (const [name, args] of [['cloudflare_dns', { action: 'list', zone: 'example.com' }], ['cloudflare_tunnels', {}]] as const) {
      const r = (await admin.callTool({ name, arguments: args })) as Result;
      expect(r.isError).toBe(true);
      expect(resultText(r)).toBe('Cloudflare is not configured: set internet.cloudflare.token in hub.yaml (an API token with Zone:Read and Zone:DNS:Edit, and Account:Cloudflare Tunnel:Read for cloudflare_tunnels).');
    }
    expect(cf.requests().length).toBe(before);
    expect(cf.unknown()).toEqual([]);
  });
});
