/**
 * A fake NetBox REST API for tests, since NetBox cannot run here: a real HTTP server on
 * 127.0.0.1 answering `/api/` as shared/reference/service-apis.md §8b documents it.
 *
 * - `Authorization: Token <40 hex>` (v1) or `Bearer nbt_<key>.<token>` (v2), both accepted.
 *   Auth errors are 403, not 401: `Authentication credentials were not provided.`, `Invalid v1
 *   token`, `Invalid v2 token`.
 * - A path without its trailing slash is a 302 to the one with it (recorded in `unknown()`: the
 *   client must not cause it).
 * - Lists are `{"count","next","previous","results"}` with `limit` (default 50, at most 1000),
 *   `offset`, `brief`, `q`; `next` is an absolute URL.
 * - `GET /api/dcim/devices/?q=&name=&site=&role=&status=`, `/api/ipam/ip-addresses/?q=&address=
 *   &parent=&dns_name=`, `/api/ipam/prefixes/?q=&prefix=`, `/api/virtualization/virtual-machines/
 *   ?q=&name=`. `site`/`role` take slugs; an unknown one is a 400 `{"site":["Select a valid
 *   choice. X is not one of the available choices."]}`, as NetBox's filter sets answer.
 *
 * The data is realistic: 2 sites, 36 devices in 6 roles, 24 VMs, 6 prefixes and about 90 IP
 * addresses assigned to interfaces. Anything it does not know is a 501 recorded in `unknown()`.
 *
 * @example
 * await using nb = await startFakeNetbox({ tokens: ['0123456789abcdef0123456789abcdef01234567'] });
 */
import { delayed } from './delay.ts';
import { serveLoopback } from './serve.ts';
import { createServer, type Server, type ServerResponse } from 'node:http';

export interface FakeNetboxRequest {
  method: string;
  path: string;
  status: number;
  authorization?: string;
}

export interface FakeNetboxOptions {
  /** Accepted tokens: 40 hex digits (v1, `Token ...`) or `nbt_<key>.<token>` (v2, `Bearer ...`). */
  tokens: string[];
  port?: number;
  /** Every answer this much later. */
  delayMs?: number;
}

type Obj = Record<string, unknown>;

export interface FakeNetbox {
  url: string;
  host: string;
  devices: Obj[];
  ipAddresses: Obj[];
  prefixes: Obj[];
  virtualMachines: Obj[];
  requests(): FakeNetboxRequest[];
  unknown(): FakeNetboxRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const SITES = [
  { id: 1, name: 'Home', slug: 'home', description: 'House rack' },
  { id: 2, name: 'Garage', slug: 'garage', description: 'Garage lab' },
];
const ROLES = [
  ['Server', 'server'],
  ['Switch', 'switch'],
  ['Access Point', 'access-point'],
  ['NAS', 'nas'],
  ['Router', 'router'],
  ['SBC', 'sbc'],
].map(([name, slug], i) => ({ id: i + 1, name: name!, slug: slug! }));

/** The fake's data: devices, VMs, prefixes and IP addresses, ids stable. */
export function fakeNetboxData(base: string): Omit<FakeNetbox, 'url' | 'host' | 'requests' | 'unknown' | 'stop' | typeof Symbol.asyncDispose> {
  const ref = (kind: string, o: { id: number; name: string; slug: string; description?: string }) => ({ id: o.id, url: `${base}/api/${kind}/${o.id}/`, display: o.name, name: o.name, slug: o.slug, description: o.description ?? '' });
  const status = (v: string) => ({ value: v, label: v[0]!.toUpperCase() + v.slice(1) });
  const ipAddresses: Obj[] = [];
  const devices: Obj[] = [];
  let ipId = 1;
  const addIp = (address: string, dns: string, assigned: Obj | null, desc = '') => {
    const ip = {
      id: ipId,
      url: `${base}/api/ipam/ip-addresses/${ipId}/`,
      display_url: `${base}/ipam/ip-addresses/${ipId}/`,
      display: address,
      family: { value: 4, label: 'IPv4' },
      address,
      vrf: null,
      tenant: null,
      status: status('active'),
      role: null,
      assigned_object_type: assigned ? 'dcim.interface' : null,
      assigned_object_id: assigned ? (assigned.id as number) : null,
      assigned_object: assigned,
      nat_inside: null,
      nat_outside: [],
      dns_name: dns,
      description: desc,
      owner: null,
      comments: '',
      tags: [],
      custom_fields: {},
      created: '2026-01-10T10:00:00.000000Z',
      last_updated: '2026-11-01T10:00:00.000000Z',
    };
    ipId++;
    ipAddresses.push(ip);
    return ip;
  };
  const plan: Array<[string, string, string, string, string]> = [
    // name, role, site, model, status
    ['pve1', 'server', 'home', 'OptiPlex 7090', 'active'],
    ['pve2', 'server', 'home', 'NUC 12 Pro', 'active'],
    ['pve3', 'server', 'home', 'NUC 12 Pro', 'active'],
    ['pve4', 'server', 'garage', 'ThinkCentre M720q', 'offline'],
    ['nas01', 'nas', 'home', 'DS920+', 'active'],
    ['nas02', 'nas', 'garage', 'TS-464', 'active'],
    ['core-sw', 'switch', 'home', 'USW-Pro-24', 'active'],
    ['garage-sw', 'switch', 'garage', 'USW-Lite-8', 'active'],
    ['rack-sw', 'switch', 'home', 'CRS326', 'planned'],
    ['gw', 'router', 'home', 'OPNsense DEC740', 'active'],
    ['lte-backup', 'router', 'garage', 'RUTX11', 'active'],
  ];
  for (let i = 1; i <= 6; i++) plan.push([`ap-${['living', 'office', 'attic', 'garage', 'garden', 'kitchen'][i - 1]}`, 'access-point', i === 4 ? 'garage' : 'home', 'U6-Lite', 'active']);
  for (let i = 1; i <= 19; i++) plan.push([`pi-${String(i).padStart(2, '0')}`, 'sbc', i % 4 === 0 ? 'garage' : 'home', i % 3 ? 'Raspberry Pi 4' : 'Raspberry Pi 5', i === 19 ? 'inventory' : 'active']);
  plan.forEach(([name, role, site, model, st], i) => {
    const id = i + 1;
    const r = ROLES.find((x) => x.slug === role)!;
    const s = SITES.find((x) => x.slug === site)!;
    const iface = { id: 1000 + id, url: `${base}/api/dcim/interfaces/${1000 + id}/`, display: 'eth0', device: { id, url: `${base}/api/dcim/devices/${id}/`, display: name, name, description: '' }, name: 'eth0', cable: null, _occupied: false };
    const ip = st === 'inventory' ? null : addIp(`${site === 'home' ? '192.168.1' : '10.0.20'}.${10 + i}/24`, `${name}.lan`, iface);
    devices.push({
      id,
      url: `${base}/api/dcim/devices/${id}/`,
      display_url: `${base}/dcim/devices/${id}/`,
      display: name,
      name,
      device_type: { id: 100 + i, url: `${base}/api/dcim/device-types/${100 + i}/`, display: model, manufacturer: { id: 1, name: 'Generic', slug: 'generic' }, model, slug: model.toLowerCase().replace(/[^a-z0-9]+/g, '-'), description: '' },
      role: ref('dcim/device-roles', r),
      tenant: null,
      platform: role === 'sbc' ? { id: 1, url: `${base}/api/dcim/platforms/1/`, display: 'Debian 12', name: 'Debian 12', slug: 'debian-12', description: '' } : null,
      serial: `SN${String(4711 + i)}`,
      asset_tag: null,
      site: ref('dcim/sites', s),
      location: null,
      rack: null,
      position: null,
      face: null,
      parent_device: null,
      status: status(st),
      airflow: null,
      primary_ip: ip ? { id: ip.id, url: ip.url, display: ip.address, family: 4, address: ip.address, description: '' } : null,
      primary_ip4: ip ? { id: ip.id, url: ip.url, display: ip.address, family: 4, address: ip.address, description: '' } : null,
      primary_ip6: null,
      oob_ip: null,
      cluster: null,
      virtual_chassis: null,
      description: role === 'nas' ? 'Backups and media' : '',
      comments: '',
      config_template: null,
      config_context: {},
      local_context_data: null,
      tags: role === 'server' ? [{ id: 1, url: `${base}/api/extras/tags/1/`, display: 'proxmox', name: 'proxmox', slug: 'proxmox', color: 'ff5722' }] : [],
      custom_fields: {},
      created: '2026-01-10T10:00:00.000000Z',
      last_updated: '2026-11-01T10:00:00.000000Z',
      interface_count: role === 'switch' ? 24 : 1,
    });
  });
  const vmNames = ['n8n', 'grafana', 'prometheus', 'loki', 'graylog', 'netbox', 'pihole1', 'pihole2', 'caddy1', 'caddy2', 'homeassistant', 'paperless', 'immich', 'jellyfin', 'nextcloud', 'vaultwarden', 'gitea', 'semaphore', 'mqtt', 'zigbee2mqtt', 'unifi', 'uptime-kuma', 'postgres', 'redis'];
  const virtualMachines = vmNames.map((name, i) => {
    const id = i + 1;
    const iface = { id: 5000 + id, url: `${base}/api/virtualization/interfaces/${5000 + id}/`, display: 'eth0', virtual_machine: { id, url: `${base}/api/virtualization/virtual-machines/${id}/`, display: name, name, description: '' }, name: 'eth0' };
    const ip = addIp(`192.168.1.${100 + i}/24`, `${name}.lan`, iface);
    return {
      id,
      url: `${base}/api/virtualization/virtual-machines/${id}/`,
      display_url: `${base}/virtualization/virtual-machines/${id}/`,
      display: name,
      name,
      status: status(i === 23 ? 'offline' : 'active'),
      site: ref('dcim/sites', SITES[0]!),
      cluster: { id: 1, url: `${base}/api/virtualization/clusters/1/`, display: 'pve', name: 'pve', description: '' },
      device: null,
      role: null,
      tenant: null,
      platform: null,
      primary_ip: { id: ip.id, url: ip.url, display: ip.address, family: 4, address: ip.address, description: '' },
      primary_ip4: { id: ip.id, url: ip.url, display: ip.address, family: 4, address: ip.address, description: '' },
      primary_ip6: null,
      vcpus: 2,
      memory: 2048,
      disk: 16,
      description: '',
      comments: '',
      tags: [],
      custom_fields: {},
      created: '2026-01-10T10:00:00.000000Z',
      last_updated: '2026-11-01T10:00:00.000000Z',
    };
  });
  // Unassigned reservations, as people keep them.
  for (let i = 200; i < 230; i++) addIp(`192.168.1.${i}/24`, '', null, i < 210 ? 'DHCP reservation' : 'reserved');
  const prefixes = [
    ['192.168.1.0/24', 'home', 'LAN'],
    ['10.0.20.0/24', 'garage', 'Garage LAN'],
    ['10.0.30.0/24', 'home', 'IoT'],
    ['10.0.40.0/24', 'home', 'Guests'],
    ['172.16.0.0/16', 'home', 'Docker'],
    ['fd00:1::/64', 'home', 'LAN v6'],
  ].map(([prefix, site, description], i) => ({
    id: i + 1,
    url: `${base}/api/ipam/prefixes/${i + 1}/`,
    display_url: `${base}/ipam/prefixes/${i + 1}/`,
    display: prefix,
    family: prefix!.includes(':') ? { value: 6, label: 'IPv6' } : { value: 4, label: 'IPv4' },
    prefix,
    scope_type: 'dcim.site',
    scope_id: SITES.find((s) => s.slug === site)!.id,
    scope: ref('dcim/sites', SITES.find((s) => s.slug === site)!),
    vrf: null,
    tenant: null,
    vlan: null,
    status: status('active'),
    role: null,
    is_pool: false,
    mark_utilized: false,
    description,
    comments: '',
    tags: [],
    custom_fields: {},
    created: '2026-01-10T10:00:00.000000Z',
    last_updated: '2026-11-01T10:00:00.000000Z',
    children: 0,
    _depth: 0,
  }));
  return { devices, ipAddresses, prefixes, virtualMachines };
}

/** IPv4 `a.b.c.d` as a number, or undefined. */
function v4(a: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  return m ? m.slice(1).reduce((n, x) => n * 256 + Number(x), 0) : undefined;
}
/** Whether IPv4 `addr` (with or without /len) lies in `prefix`. */
function inPrefix(addr: string, prefix: string): boolean {
  const [p, len] = prefix.split('/');
  const a = v4(addr.split('/')[0]!);
  const n = v4(p!);
  if (a === undefined || n === undefined) return false;
  const bits = Number(len ?? 32);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((n & mask) >>> 0);
}

const text = (o: unknown): string => JSON.stringify(o).toLowerCase();

export async function startFakeNetbox(opts: FakeNetboxOptions): Promise<FakeNetbox> {
  const log: FakeNetboxRequest[] = [];
  let base = '';
  let data: ReturnType<typeof fakeNetboxData>;

  const send = (res: ServerResponse, status: number, body: unknown): number => {
    res.writeHead(status, { 'content-type': 'application/json', vary: 'Accept' }).end(JSON.stringify(body));
    return status;
  };
  const brief = (kind: string, o: Obj): Obj => {
    if (kind === 'ipam/ip-addresses') return { id: o.id, url: o.url, display: o.display, family: o.family, address: o.address, description: o.description };
    if (kind === 'ipam/prefixes') return { id: o.id, url: o.url, display: o.display, family: o.family, prefix: o.prefix, description: o.description, _depth: o._depth };
    return { id: o.id, url: o.url, display: o.display, name: o.name, description: o.description };
  };
  const LISTS: Record<string, { items: () => Obj[]; filters: Record<string, (o: Obj, v: string) => boolean>; choices?: Record<string, string[]> }> = {
    'dcim/devices': {
      items: () => data.devices,
      filters: {
        q: (o, v) => String(o.name).toLowerCase().includes(v.toLowerCase()) || String(o.serial).toLowerCase() === v.toLowerCase() || String(o.description).toLowerCase().includes(v.toLowerCase()),
        name: (o, v) => o.name === v,
        site: (o, v) => (o.site as Obj).slug === v,
        role: (o, v) => (o.role as Obj).slug === v,
        status: (o, v) => (o.status as Obj).value === v,
      },
      choices: { site: SITES.map((s) => s.slug), role: ROLES.map((r) => r.slug), status: ['offline', 'active', 'planned', 'staged', 'failed', 'inventory', 'decommissioning'] },
    },
    'virtualization/virtual-machines': {
      items: () => data.virtualMachines,
      filters: { q: (o, v) => String(o.name).toLowerCase().includes(v.toLowerCase()) || String(o.description).toLowerCase().includes(v.toLowerCase()), name: (o, v) => o.name === v },
    },
    'ipam/ip-addresses': {
      items: () => data.ipAddresses,
      filters: {
        q: (o, v) => String(o.address).startsWith(v) || String(o.dns_name).toLowerCase().includes(v.toLowerCase()) || String(o.description).toLowerCase().includes(v.toLowerCase()),
        address: (o, v) => String(o.address).split('/')[0] === v.split('/')[0],
        parent: (o, v) => inPrefix(String(o.address), v),
        dns_name: (o, v) => o.dns_name === v,
      },
    },
    'ipam/prefixes': {
      items: () => data.prefixes,
      filters: { q: (o, v) => String(o.prefix).startsWith(v) || text(o.description).includes(v.toLowerCase()), prefix: (o, v) => o.prefix === v },
    },
  };

  function route(method: string, url: URL, res: ServerResponse): number | undefined {
    if (method !== 'GET') return undefined;
    const m = /^\/api\/([a-z-]+\/[a-z-]+)\/$/.exec(url.pathname);
    const list = m ? LISTS[m[1]!] : undefined;
    if (!list) return undefined;
    let items = list.items();
    for (const [k, v] of url.searchParams) {
      if (k === 'limit' || k === 'offset' || k === 'brief') continue;
      const f = list.filters[k];
      if (!f) return undefined;
      if (list.choices?.[k] && !list.choices[k].includes(v)) return send(res, 400, { [k]: [`Select a valid choice. ${v} is not one of the available choices.`] });
      if (k === 'parent' && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(v)) return send(res, 400, { parent: ['Enter a valid prefix.'] });
      items = items.filter((o) => f(o, v));
    }
    const limit = Math.min(1000, url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) || 50 : 50);
    const offset = Number(url.searchParams.get('offset') ?? 0) || 0;
    const page = items.slice(offset, offset + limit);
    const link = (o: number) => {
      const u = new URL(`${base}${url.pathname}${url.search}`);
      u.searchParams.set('limit', String(limit));
      u.searchParams.set('offset', String(o));
      return u.toString();
    };
    const isBrief = url.searchParams.get('brief') === 'true' || url.searchParams.get('brief') === '1';
    return send(res, 200, { count: items.length, next: offset + limit < items.length ? link(offset + limit) : null, previous: offset > 0 ? link(Math.max(0, offset - limit)) : null, results: page.map((o) => (isBrief ? brief(m![1]!, o) : o)) });
  }

  const server: Server = createServer(delayed((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const authorization = req.headers.authorization;
      const entry: FakeNetboxRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0, ...(authorization ? { authorization } : {}) };
      log.push(entry);
      if (!url.pathname.startsWith('/api/')) {
        entry.status = 501;
        res.writeHead(501).end();
        return;
      }
      if (!url.pathname.endsWith('/')) {
        // Django's APPEND_SLASH; the client must not rely on it.
        entry.status = 302;
        res.writeHead(302, { location: `${url.pathname}/${url.search}` }).end();
        return;
      }
      const v1 = /^Token ([0-9a-f]{40})$/i.exec(authorization ?? '');
      const v2 = /^Bearer (nbt_[A-Za-z0-9]+\.[A-Za-z0-9]+)$/.exec(authorization ?? '');
      if (!authorization) {
        entry.status = send(res, 403, { detail: 'Authentication credentials were not provided.' });
        return;
      }
      if (!(v1 && opts.tokens.includes(v1[1]!)) && !(v2 && opts.tokens.includes(v2[1]!))) {
        entry.status = send(res, 403, { detail: v2 || authorization.startsWith('Bearer ') ? 'Invalid v2 token' : 'Invalid v1 token' });
        return;
      }
      const status = route(req.method ?? '', url, res);
      if (status === undefined) {
        entry.status = 501;
        res.writeHead(501).end();
      } else entry.status = status;
    });
  }, opts.delayMs));
  const { port, stop } = await serveLoopback(server, opts.port);
  base = `http://127.0.0.1:${port}`;
  data = fakeNetboxData(base);
  return {
    url: base,
    host: `127.0.0.1:${port}`,
    ...data,
    requests: () => log,
    unknown: () => log.filter((r) => r.status === 501 || r.status === 302),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
