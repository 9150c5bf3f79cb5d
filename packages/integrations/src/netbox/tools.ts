/**
 * The NetBox tools: search across devices, VMs, IP addresses and prefixes, the addresses of a
 * prefix or one address, and devices by site and role. Each takes `fields`, a projection of the
 * object (camelCase names) so answers stay small; results are bounded and say when they were cut.
 */
import * as z from 'zod';
import { defineTool, errorResult, textResult, type IntegrationTool, type ToolResult } from '../integration.ts';
import { NetboxError, type NetboxClient } from './client.ts';

type NbObject = Record<string, any>;
type Extract = (o: NbObject) => unknown;

const name = (v: unknown): string | undefined => (v && typeof v === 'object' ? ((v as NbObject).name ?? (v as NbObject).display) : undefined);
const label = (v: unknown): string | undefined => (v && typeof v === 'object' ? ((v as NbObject).value ?? (v as NbObject).label) : undefined);
const addr = (v: unknown): string | undefined => (v && typeof v === 'object' ? (v as NbObject).address : undefined);
const tags = (o: NbObject): string[] | undefined => (Array.isArray(o.tags) && o.tags.length ? o.tags.map((t: NbObject) => String(t.name ?? t.slug)) : undefined);
const assigned = (o: NbObject): string | undefined => {
  const a = o.assigned_object as NbObject | null | undefined;
  if (!a) return undefined;
  const owner = a.device?.name ?? a.virtual_machine?.name;
  return owner ? `${owner} ${a.name ?? ''}`.trim() : (a.display ?? a.name);
};

/** What `fields` can name per object type, and how each is read from NetBox's JSON. */
export const NETBOX_FIELDS = {
  device: {
    id: (o) => o.id,
    name: (o) => o.name,
    status: (o) => label(o.status),
    role: (o) => name(o.role),
    site: (o) => name(o.site),
    location: (o) => name(o.location),
    rack: (o) => name(o.rack),
    deviceType: (o) => o.device_type?.model ?? name(o.device_type),
    manufacturer: (o) => name(o.device_type?.manufacturer),
    platform: (o) => name(o.platform),
    serial: (o) => o.serial || undefined,
    assetTag: (o) => o.asset_tag || undefined,
    primaryIp: (o) => addr(o.primary_ip) ?? addr(o.primary_ip4),
    primaryIp6: (o) => addr(o.primary_ip6),
    cluster: (o) => name(o.cluster),
    tenant: (o) => name(o.tenant),
    description: (o) => o.description || undefined,
    tags,
    url: (o) => o.display_url,
  },
  vm: {
    id: (o) => o.id,
    name: (o) => o.name,
    status: (o) => label(o.status),
    role: (o) => name(o.role),
    site: (o) => name(o.site),
    cluster: (o) => name(o.cluster),
    platform: (o) => name(o.platform),
    primaryIp: (o) => addr(o.primary_ip) ?? addr(o.primary_ip4),
    primaryIp6: (o) => addr(o.primary_ip6),
    vcpus: (o) => o.vcpus ?? undefined,
    memory: (o) => o.memory ?? undefined,
    disk: (o) => o.disk ?? undefined,
    tenant: (o) => name(o.tenant),
    description: (o) => o.description || undefined,
    tags,
    url: (o) => o.display_url,
  },
  ip: {
    id: (o) => o.id,
    address: (o) => o.address,
    status: (o) => label(o.status),
    dnsName: (o) => o.dns_name || undefined,
    assignedTo: assigned,
    role: (o) => label(o.role),
    vrf: (o) => name(o.vrf),
    tenant: (o) => name(o.tenant),
    description: (o) => o.description || undefined,
    tags,
    url: (o) => o.display_url,
  },
  prefix: {
    id: (o) => o.id,
    prefix: (o) => o.prefix,
    status: (o) => label(o.status),
    site: (o) => name(o.scope) ?? name(o.site),
    vlan: (o) => name(o.vlan),
    vrf: (o) => name(o.vrf),
    role: (o) => name(o.role),
    tenant: (o) => name(o.tenant),
    description: (o) => o.description || undefined,
    tags,
    url: (o) => o.display_url,
  },
} satisfies Record<string, Record<string, Extract>>;
type Kind = keyof typeof NETBOX_FIELDS;

/** The fields an answer has when `fields` is not given. */
export const DEFAULT_FIELDS: Record<Kind, string[]> = {
  device: ['name', 'status', 'role', 'site', 'deviceType', 'primaryIp'],
  vm: ['name', 'status', 'cluster', 'primaryIp'],
  ip: ['address', 'status', 'dnsName', 'assignedTo', 'description'],
  prefix: ['prefix', 'status', 'site', 'description'],
};
const KEY: Record<Kind, string> = { device: 'name', vm: 'name', ip: 'address', prefix: 'prefix' };

/** `o` reduced to `fields` (empty values left out); its key field always first. */
export function project(kind: Kind, o: NbObject, fields: readonly string[] | undefined): Record<string, unknown> {
  const table = NETBOX_FIELDS[kind] as Record<string, Extract>;
  const wanted = [KEY[kind], ...(fields ?? DEFAULT_FIELDS[kind]).filter((f) => f !== KEY[kind] && f in table)];
  const out: Record<string, unknown> = {};
  for (const f of wanted) {
    const v = table[f]!(o);
    if (v !== undefined && v !== null && v !== '') out[f] = v;
  }
  return out;
}

/** `- pve1: status active, role Server, site Home` from a projection. */
function line(kind: Kind, p: Record<string, unknown>): string {
  const rest = Object.entries(p)
    .filter(([k]) => k !== KEY[kind])
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`);
  return `- ${String(p[KEY[kind]] ?? '?')}${rest.length ? `: ${rest.join(', ')}` : ''}`;
}

const fieldsArg = (kinds: Kind[]) => {
  const allowed = [...new Set(kinds.flatMap((k) => Object.keys(NETBOX_FIELDS[k])))] as [string, ...string[]];
  return z
    .array(z.enum(allowed))
    .min(1)
    .max(allowed.length)
    .describe(`Only these fields of each object (default ${kinds.map((k) => DEFAULT_FIELDS[k].join(', ')).join('; ')})`)
    .optional();
};

/** An IPv4 or IPv6 address, with or without a /length. */
const IP_RE = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?:\/(?:3[0-2]|[12]?\d))?|[0-9a-fA-F:]*:[0-9a-fA-F:.]*(?:\/(?:12[0-8]|1[01]\d|[1-9]?\d))?)$/;

/** Whether `cidr` is a network (no host bits set): `192.168.1.0/24` yes, `192.168.1.20/24` no. */
export function isNetwork(cidr: string): boolean {
  const [ip, len] = cidr.split('/');
  if (len === undefined) return false;
  if (ip!.includes(':')) return true;
  const n = ip!.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  const bits = Number(len);
  return bits === 32 ? false : n % 2 ** (32 - bits) === 0;
}

/**
 * A 400 on a filter as the tool's argument (`argument "site": NetBox says Select a valid
 * choice. ...`); `args` maps NetBox's filter names to the tool's argument names. Anything else
 * is thrown on.
 */
function filterError(tool: string, err: unknown, args: Record<string, string>): ToolResult {
  if (err instanceof NetboxError && err.fields) {
    const known = Object.entries(err.fields).filter(([k]) => k in args);
    if (known.length) return errorResult(`${tool}: ${known.map(([k, v]) => `argument "${args[k]}": NetBox says ${v.join(' ')}`).join('; ')}`);
  }
  throw err;
}

export function netboxTools(nb: NetboxClient): IntegrationTool[] {
  const search = defineTool({
    name: 'netbox_search',
    title: 'NetBox search',
    description: 'Searches NetBox devices, virtual machines, IP addresses and prefixes for a name, address, DNS name, serial or description.',
    args: z.strictObject({
      query: z.string().trim().min(2).max(100).describe('What to look for: a name, an address, a DNS name, a serial'),
      limit: z.number().int().min(1).max(50).describe('At most this many of each type (default 10)').optional(),
      fields: fieldsArg(['device', 'vm', 'ip', 'prefix']),
    }),
    toolClass: 'read',
    async run({ query, limit = 10, fields }, { signal }) {
      const kinds: Array<[Kind, string, string]> = [
        ['device', 'dcim/devices', 'devices'],
        ['vm', 'virtualization/virtual-machines', 'virtualMachines'],
        ['ip', 'ipam/ip-addresses', 'ipAddresses'],
        ['prefix', 'ipam/prefixes', 'prefixes'],
      ];
      const pages = await Promise.all(kinds.map(([, path]) => nb.list<NbObject>(path, { q: query }, limit, signal)));
      const lines: string[] = [];
      const structured: Record<string, unknown> = { query };
      let total = 0;
      kinds.forEach(([kind, , key], i) => {
        const page = pages[i]!;
        total += page.count;
        const shown = page.results.slice(0, limit).map((o) => project(kind, o, fields));
        structured[key] = { count: page.count, items: shown };
        if (!page.count) return;
        lines.push(`${key === 'virtualMachines' ? 'virtual machines' : key === 'ipAddresses' ? 'IP addresses' : key} (${page.count}${page.count > shown.length ? `, first ${shown.length}` : ''}):`);
        lines.push(...shown.map((p) => `  ${line(kind, p)}`));
      });
      structured.total = total;
      if (!total) return textResult(`nothing in NetBox matches ${JSON.stringify(query)}`, structured);
      return textResult(`${total} match${total === 1 ? '' : 'es'} for ${JSON.stringify(query)} in NetBox:\n${lines.join('\n')}`, structured);
    },
  });

  const ips = defineTool({
    name: 'netbox_ips',
    title: 'NetBox IP addresses',
    description: 'The IP addresses NetBox has in a prefix (192.168.1.0/24), with DNS name and what each is assigned to, or one address (192.168.1.20).',
    args: z.strictObject({
      prefix_or_address: z.string().trim().regex(IP_RE, 'an IP address (192.168.1.20) or a prefix (192.168.1.0/24)').describe('A prefix such as 192.168.1.0/24, or one address'),
      limit: z.number().int().min(1).max(500).describe('At most this many addresses (default 100)').optional(),
      fields: fieldsArg(['ip']),
    }),
    toolClass: 'read',
    async run({ prefix_or_address: target, limit = 100, fields }, { signal }) {
      const network = isNetwork(target);
      let page;
      let prefix: NbObject | undefined;
      try {
        [page, prefix] = await Promise.all([
          nb.list<NbObject>('ipam/ip-addresses', network ? { parent: target } : { address: target.split('/')[0] }, limit, signal),
          network ? nb.list<NbObject>('ipam/prefixes', { prefix: target }, 1, signal).then((p) => p.results[0]) : Promise.resolve(undefined),
        ]);
      } catch (err) {
        return filterError('netbox_ips', err, { parent: 'prefix_or_address', address: 'prefix_or_address' });
      }
      const shown = page.results.slice(0, limit).map((o) => project('ip', o, fields));
      const about = prefix ? ` (${[prefix.description, name(prefix.scope) ?? name(prefix.site)].filter(Boolean).join(', site ')})` : '';
      const head = network
        ? `${page.count} address${page.count === 1 ? '' : 'es'} in ${target}${about}${prefix ? '' : ' (NetBox has no prefix record for it)'}`
        : page.count
          ? `${target} in NetBox:`
          : `NetBox has no record of ${target}`;
      const lines = shown.map((p) => line('ip', p));
      if (page.count > shown.length) lines.push(`(${page.count - shown.length} more not shown: raise limit up to 500, or ask for a smaller prefix)`);
      return textResult(`${head}${network && lines.length ? ':' : ''}${lines.length ? `\n${lines.join('\n')}` : ''}`, {
        query: target,
        kind: network ? 'prefix' : 'address',
        ...(prefix ? { prefix: project('prefix', prefix, undefined) } : {}),
        count: page.count,
        addresses: shown,
      });
    },
  });

  const devices = defineTool({
    name: 'netbox_devices',
    title: 'NetBox devices',
    description: 'Devices in NetBox with status, role, site, type and primary IP; filter by site, role or status (slugs).',
    args: z.strictObject({
      site: z.string().trim().min(1).max(100).describe('A site slug, e.g. home').optional(),
      role: z.string().trim().min(1).max(100).describe('A device role slug, e.g. server').optional(),
      status: z.string().trim().regex(/^[a-z-]+$/, 'a status value such as active, offline, planned').max(30).describe('A status such as active or offline').optional(),
      limit: z.number().int().min(1).max(500).describe('At most this many devices (default 50)').optional(),
      fields: fieldsArg(['device']),
    }),
    toolClass: 'read',
    async run({ site, role, status, limit = 50, fields }, { signal }) {
      // NetBox filters by slug: "Home Lab" is "home-lab".
      const slug = (v: string | undefined) => v?.toLowerCase().replace(/[^a-z0-9_-]+/g, '-');
      let page;
      try {
        page = await nb.list<NbObject>('dcim/devices', { site: slug(site), role: slug(role), status }, limit, signal);
      } catch (err) {
        return filterError('netbox_devices', err, { site: 'site', role: 'role', status: 'status' });
      }
      const shown = page.results.slice(0, limit).map((o) => project('device', o, fields));
      const where = [site && `site ${slug(site)}`, role && `role ${slug(role)}`, status && `status ${status}`].filter(Boolean).join(', ');
      const lines = shown.map((p) => line('device', p));
      if (page.count > shown.length) lines.push(`(${page.count - shown.length} more not shown: filter by site, role or status, or raise limit up to 500)`);
      return textResult(`${page.count} device${page.count === 1 ? '' : 's'}${where ? ` (${where})` : ''}${lines.length ? `:\n${lines.join('\n')}` : ''}`, { count: page.count, devices: shown });
    },
  });

  return [search, ips, devices];
}
