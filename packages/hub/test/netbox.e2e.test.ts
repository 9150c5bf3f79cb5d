/**
 * The NetBox integration through the bundled hub, with an SDK client, against the fake NetBox of
 * the testkit (a v2 token from the environment): the three tools for a viewer, the
 * service_health line, a rejected token (NetBox answers 403) that breaks nothing else, a NetBox
 * down at start that comes up without a restart, and the journal with every request and no token.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startFakeNetbox, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'netbox-admin-token-0123456789abcdef';
const VIEWER = 'netbox-viewer-token-0123456789abcdef';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'kim', role: 'viewer', token: VIEWER }] };
const NB = 'nbt_K3y0123.t0kenSecretPart9876543210abcdef';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('NetBox through the hub', () => {
  it('a viewer searches, lists addresses and devices; service_health has the NetBox line; every request is journaled without the token', { timeout: 120_000 }, async () => {
    await using nb = await startFakeNetbox({ tokens: [NB] });
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { netbox: { url: nb.url, token: '${NETBOX_TOKEN}' } } },
      env: { NETBOX_TOKEN: NB },
    });
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const tools = (await viewer.listTools()).tools;
    for (const name of ['netbox_search', 'netbox_ips', 'netbox_devices']) expect(tools.find((t) => t.name === name)?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    const found = (await viewer.callTool({ name: 'netbox_search', arguments: { query: 'grafana' } })) as Result;
    expect(resultText(found)).toBe('2 matches for "grafana" in NetBox:\nvirtual machines (1):\n  - grafana: status active, cluster pve, primaryIp 192.168.1.101/24\nIP addresses (1):\n  - 192.168.1.101/24: status active, dnsName grafana.lan, assignedTo grafana eth0');
    const ips = (await viewer.callTool({ name: 'netbox_ips', arguments: { prefix_or_address: '10.0.20.0/24', fields: ['dnsName'] } })) as Result;
    expect(resultText(ips).split('\n')[0]).toBe(`${nb.ipAddresses.filter((ip) => String(ip.address).startsWith('10.0.20.')).length} addresses in 10.0.20.0/24 (Garage LAN, site Garage):`);
    expect(ips.structuredContent!.addresses[0]).toEqual({ address: '10.0.20.13/24', dnsName: 'pve4.lan' });
    const devices = (await viewer.callTool({ name: 'netbox_devices', arguments: { site: 'home', role: 'switch' } })) as Result;
    expect(resultText(devices)).toBe('2 devices (site home, role switch):\n- core-sw: status active, role Switch, site Home, deviceType USW-Pro-24, primaryIp 192.168.1.16/24\n- rack-sw: status planned, role Switch, site Home, deviceType CRS326, primaryIp 192.168.1.18/24');

    const health = (await viewer.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'NetBox')).toMatchObject({ kind: 'integration', healthy: true, detail: '36 devices (33 active), 24 VMs, 89 IP addresses' });

    const events = readJournal(join(hub.dir, 'data'));
    const http = events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'netbox');
    expect(http.map((e) => e.detail.url)).toEqual(expect.arrayContaining([`${nb.url}/api/dcim/devices/`, `${nb.url}/api/ipam/ip-addresses/`, `${nb.url}/api/virtualization/virtual-machines/`]));
    const journalText = readdirSync(join(hub.dir, 'data', 'audit')).map((f) => readFileSync(join(hub.dir, 'data', 'audit', f), 'utf8')).join('');
    expect(journalText).not.toContain('t0kenSecretPart');
    expect(hub.output()).not.toContain('t0kenSecretPart');
    expect(nb.unknown()).toEqual([]);
  });

  it('a NetBox down at start comes up without a restart', { timeout: 120_000 }, async () => {
    const port = await freePort();
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { netbox: { url: `http://127.0.0.1:${port}`, token: NB } } } });
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    const down = (await admin.callTool({ name: 'netbox_devices', arguments: {} })) as Result;
    expect(down.isError).toBe(true);
    expect(resultText(down)).toBe(`127.0.0.1:${port}: connection refused`);
    const line = async () => ((await admin.callTool({ name: 'service_health', arguments: {} })) as Result).structuredContent!.items.find((i: { name: string }) => i.name === 'NetBox').detail;
    expect(await line()).toBe(`NetBox at 127.0.0.1:${port} is unreachable: 127.0.0.1:${port}: connection refused`);
    expect(((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).isError).toBeFalsy();

    await using nb = await startFakeNetbox({ tokens: [NB], port });
    expect(resultText((await admin.callTool({ name: 'netbox_devices', arguments: { limit: 1 } })) as Result)).toMatch(/^36 devices:/);
    await expect.poll(line, { timeout: 30_000, interval: 300 }).toBe('36 devices (33 active), 24 VMs, 89 IP addresses');
    expect(nb.unknown()).toEqual([]);
  });

  it('a rejected token (a 403 from NetBox) is named by its config key and breaks nothing else', { timeout: 120_000 }, async () => {
    await using nb = await startFakeNetbox({ tokens: [NB] });
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { netbox: { url: nb.url, token: 'nbt_K3y0123.wrongWrongWrong0123' } } } });
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    const rejected = (await admin.callTool({ name: 'netbox_search', arguments: { query: 'nas' } })) as Result;
    expect(rejected).toMatchObject({ isError: true });
    expect(resultText(rejected)).toBe(`NetBox at ${nb.host} rejected the API token (integrations.netbox.token): Invalid v2 token`);
    const line = ((await admin.callTool({ name: 'service_health', arguments: {} })) as Result).structuredContent!.items.find((i: { name: string }) => i.name === 'NetBox');
    expect(line).toMatchObject({ healthy: false, detail: `NetBox at ${nb.host} rejected the credential (integrations.netbox.token)` });
    expect(((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).isError).toBeFalsy();
    expect(hub.output()).not.toContain('wrongWrongWrong');
  });
});
