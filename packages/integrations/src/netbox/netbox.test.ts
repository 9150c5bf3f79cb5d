import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { startFakeNetbox, type FakeNetbox } from '@homelab-mcp/testkit';
import type { IntegrationTool } from '../integration.ts';
import { isNetwork, NetboxConfigSchema, netboxIntegration, type NetboxInstance } from './index.ts';

const V1 = '0123456789abcdef0123456789abcdef01234567';
const V2 = 'nbt_Ab12Cd34.s3cretPartOfTheV2Token0123456789';
let nb: FakeNetbox;
let inst: NetboxInstance;
const reports: HttpRequestReport[] = [];
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
const http = createHttpClient({ onRequest: (r) => reports.push(r) });
const setup = (over: Record<string, unknown> = {}) => netboxIntegration.setup(NetboxConfigSchema.parse({ url: nb.url, token: V1, ...over }), { http, log });

beforeAll(async () => {
  nb = await startFakeNetbox({ tokens: [V1, V2] });
  inst = setup();
});
afterAll(async () => {
  await inst?.close?.();
  await nb?.stop();
});
// Unknown requests and 302s (a path without its trailing slash) both fail the test.
afterEach(() => expect(nb.unknown()).toEqual([]));

const tool = (i: NetboxInstance, name: string): IntegrationTool => i.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}, i = inst) => tool(i, name).call(args, { signal: new AbortController().signal });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;

describe('netbox reads (fake NetBox REST API)', () => {
  it('netbox_search finds devices, VMs, addresses and prefixes, default fields, with a v1 token sent as "Token" and never reported', async () => {
    const r = await call('netbox_search', { query: 'pve' });
    expect(r.isError).toBeFalsy();
    expect(text(r).split('\n').slice(0, 3)).toEqual(['8 matches for "pve" in NetBox:', 'devices (4):', '  - pve1: status active, role Server, site Home, deviceType OptiPlex 7090, primaryIp 192.168.1.10/24']);
    expect(text(r)).toContain('IP addresses (4):\n  - 192.168.1.10/24: status active, dnsName pve1.lan, assignedTo pve1 eth0');
    expect(r.structuredContent).toMatchObject({ total: 8, devices: { count: 4 }, virtualMachines: { count: 0, items: [] }, ipAddresses: { count: 4 }, prefixes: { count: 0 } });
    const few = await call('netbox_search', { query: 'pi-', limit: 2, fields: ['serial', 'platform'] });
    expect(text(few).split('\n').slice(1, 4)).toEqual(['devices (19, first 2):', '  - pi-01: serial SN4728, platform Debian 12', '  - pi-02: serial SN4729, platform Debian 12']);
    expect(nb.requests().every((q) => q.authorization === `Token ${V1}`)).toBe(true);
    expect(JSON.stringify(reports)).not.toContain(V1);
    expect(text(await call('netbox_search', { query: 'x' }))).toMatch(/^netbox_search: argument "query": /);
    expect(text(await call('netbox_search', { query: 'pve', fields: ['password'] }))).toMatch(/^netbox_search: argument "fields\.0": Invalid option: expected one of "id"\|"name"/);
  });

  it('a v2 token is sent as "Bearer nbt_..." and works the same', async () => {
    const v2 = setup({ token: V2 });
    try {
      const before = nb.requests().length;
      expect(text(await call('netbox_devices', { role: 'nas' }, v2))).toBe('2 devices (role nas):\n- nas01: status active, role NAS, site Home, deviceType DS920+, primaryIp 192.168.1.14/24\n- nas02: status active, role NAS, site Garage, deviceType TS-464, primaryIp 10.0.20.15/24');
      expect(nb.requests().slice(before).map((q) => q.authorization)).toContain(`Bearer ${V2}`);
    } finally {
      await v2.close?.();
    }
  });

  it('netbox_ips: a prefix lists its addresses with what they are assigned to; one address; a bound that says what was cut', async () => {
    const lan = await call('netbox_ips', { prefix_or_address: '192.168.1.0/24', limit: 3 });
    const inLan = nb.ipAddresses.filter((ip) => String(ip.address).startsWith('192.168.1.'));
    expect(text(lan).split('\n')).toEqual([
      `${inLan.length} addresses in 192.168.1.0/24 (LAN, site Home):`,
      '- 192.168.1.10/24: status active, dnsName pve1.lan, assignedTo pve1 eth0',
      '- 192.168.1.11/24: status active, dnsName pve2.lan, assignedTo pve2 eth0',
      '- 192.168.1.12/24: status active, dnsName pve3.lan, assignedTo pve3 eth0',
      `(${inLan.length - 3} more not shown: raise limit up to 500, or ask for a smaller prefix)`,
    ]);
    expect(lan.structuredContent).toMatchObject({ kind: 'prefix', prefix: { prefix: '192.168.1.0/24', site: 'Home', description: 'LAN' }, count: inLan.length });
    expect(text(await call('netbox_ips', { prefix_or_address: '192.168.1.100', fields: ['assignedTo', 'description'] }))).toBe('192.168.1.100 in NetBox:\n- 192.168.1.100/24: assignedTo n8n eth0');
    // An address with its mask is an address, not a prefix.
    expect(text(await call('netbox_ips', { prefix_or_address: '192.168.1.205/24' }))).toBe('192.168.1.205/24 in NetBox:\n- 192.168.1.205/24: status active, description DHCP reservation');
    expect(text(await call('netbox_ips', { prefix_or_address: '192.168.9.9' }))).toBe('NetBox has no record of 192.168.9.9');
    expect(text(await call('netbox_ips', { prefix_or_address: '10.0.99.0/24' }))).toBe('0 addresses in 10.0.99.0/24 (NetBox has no prefix record for it)');
    expect(text(await call('netbox_ips', { prefix_or_address: 'nas01' }))).toBe('netbox_ips: argument "prefix_or_address": an IP address (192.168.1.20) or a prefix (192.168.1.0/24)');
  });

  it('netbox_devices filters by site, role and status slugs, projects fields, and names a refused filter by its argument', async () => {
    const r = await call('netbox_devices', { site: 'Garage', role: 'server', fields: ['status', 'serial'] });
    expect(text(r)).toBe('1 device (site garage, role server):\n- pve4: status offline, serial SN4714');
    expect(r.structuredContent).toEqual({ count: 1, devices: [{ name: 'pve4', status: 'offline', serial: 'SN4714' }] });
    const all = await call('netbox_devices', { limit: 5 });
    expect(text(all).split('\n')[0]).toBe('36 devices:');
    expect(text(all).split('\n').at(-1)).toBe('(31 more not shown: filter by site, role or status, or raise limit up to 500)');
    expect(text(await call('netbox_devices', { site: 'attic' }))).toBe('netbox_devices: argument "site": NetBox says Select a valid choice. attic is not one of the available choices.');
    expect(text(await call('netbox_devices', { status: 'inventory' }))).toBe('1 device (status inventory):\n- pi-19: status inventory, role SBC, site Home, deviceType Raspberry Pi 4');
  });

  it('health counts what NetBox documents; diagnose says how NetBox records the service\'s node', async () => {
    const signal = new AbortController().signal;
    expect(await inst.health!(signal)).toEqual({ ok: true, detail: '36 devices (33 active), 24 VMs, 89 IP addresses' });
    expect(await inst.diagnose!({ name: 'backup', node: 'pve4' }, signal)).toEqual([
      { check: 'netbox', status: 'warning', detail: 'NetBox documents pve4 as a device at site Garage, status offline, primary IP 10.0.20.13/24, not active: being retired or replaced, or NetBox is out of date' },
    ]);
    expect(await inst.diagnose!({ name: 'n8n', node: 'n8n' }, signal)).toEqual([{ check: 'netbox', status: 'ok', detail: 'NetBox documents n8n as a VM at site Home, status active, primary IP 192.168.1.100/24' }]);
    expect(await inst.diagnose!({ name: 'x', node: 'unknown-host' }, signal)).toEqual([]);
  });

  it('a rejected token (403, not 401) is named by its config key in tools and health; a missing slash is never sent', async () => {
    const bad = setup({ token: 'ffffffffffffffffffffffffffffffffffffffff' });
    try {
      expect(await call('netbox_devices', {}, bad)).toMatchObject({ isError: true, content: [{ text: `NetBox at ${nb.host} rejected the API token (integrations.netbox.token): Invalid v1 token` }] });
      expect((await bad.health!(new AbortController().signal)).detail).toBe(`NetBox at ${nb.host} rejected the credential (integrations.netbox.token)`);
      expect(logs.join('\n')).not.toContain('ffffffffffffffffffff');
    } finally {
      await bad.close?.();
    }
    const slashless = setup({ url: `${nb.url}/api` });
    try {
      expect(text(await call('netbox_devices', { role: 'router' }, slashless))).toMatch(/^2 devices \(role router\):/);
    } finally {
      await slashless.close?.();
    }
  });

  it('isNetwork tells a prefix from an address with a mask; config names the key and what was expected', () => {
    expect([isNetwork('192.168.1.0/24'), isNetwork('192.168.1.20/24'), isNetwork('192.168.1.20'), isNetwork('10.0.0.0/8'), isNetwork('10.0.0.1/32')]).toEqual([true, false, false, true, false]);
    const r = NetboxConfigSchema.safeParse({ url: 'netbox.lan', token: 'Token abc' });
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['url: an http(s) URL, e.g. https://netbox.lan', 'token: the API token: nbt_<key>.<token> (v2) or 40 hex digits (v1), no spaces and no "Token "/"Bearer " in front']);
  });
});
