/**
 * What the topology keeps of a discovery source: a few facts in one shape, whichever source
 * they came from (an edge's `get_status`, Ansible's `setup`). Both inputs are untrusted JSON:
 * every field is type-checked, strings and lists are capped, and anything unexpected is
 * dropped rather than failing the whole node.
 */

/** The facts the topology shows; every field optional (a source may not know it). */
export interface DiscoveredFacts {
  hostname?: string;
  os?: string;
  hardware?: string;
  kernel?: string;
  arch?: string;
  memoryBytes?: number;
  cpuCount?: number;
  uptimeSeconds?: number;
  virtualization?: string;
  /** Non-loopback, non-link-local addresses of the device's interfaces. */
  addresses?: string[];
  disks?: Array<{ mountpoint: string; totalBytes: number; percent: number }>;
}

/** A listening socket as the topology shows it. */
export interface ListeningPort {
  port: number;
  protocol: 'tcp' | 'udp';
  address?: string;
}

/** Most listening sockets kept per node: a busy host has hundreds, the drift check needs the set. */
export const MAX_LISTENING = 500;
const MAX_ADDRESSES = 64;
const MAX_DISKS = 32;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown, max = 200): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Loopback, link-local and unspecified addresses say nothing about where a device is. */
export function isLocalOnlyAddress(a: string): boolean {
  const s = a.toLowerCase();
  return s.startsWith('127.') || s === '::1' || s.startsWith('fe80:') || s.startsWith('169.254.') || s === '0.0.0.0' || s === '::';
}

function dropEmpty<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))) as T;
}

/**
 * The facts in an edge's `get_status` structuredContent (see edge `status/collect.ts`,
 * `StatusReport`), and its listening TCP sockets.
 *
 * @example factsFromStatus(result.structuredContent).facts.os // 'Debian GNU/Linux 12 (bookworm)'
 */
export function factsFromStatus(sc: unknown): { facts: DiscoveredFacts; listening?: ListeningPort[] } {
  const r = obj(sc) ?? {};
  const os = obj(r.os);
  const kernel = obj(r.kernel);
  const board = obj(r.board);
  const memory = obj(r.memory);
  const cpu = obj(r.cpu);
  const uptime = obj(r.uptime);
  const addresses = new Set<string>();
  for (const iface of arr(r.network)) {
    for (const a of arr(obj(iface)?.addresses)) {
      const address = str(obj(a)?.address, 64);
      if (address && !isLocalOnlyAddress(address) && addresses.size < MAX_ADDRESSES) addresses.add(address);
    }
  }
  const disks = arr(r.disks)
    .map(obj)
    .flatMap((d) => {
      const mountpoint = str(d?.mountpoint, 256);
      const totalBytes = num(d?.totalBytes);
      const percent = num(d?.percent);
      return mountpoint && totalBytes !== undefined && percent !== undefined ? [{ mountpoint, totalBytes, percent }] : [];
    })
    .slice(0, MAX_DISKS);
  const facts = dropEmpty<DiscoveredFacts>({
    hostname: str(r.hostname, 253),
    os: str(os?.prettyName) ?? ([str(os?.id), str(os?.versionId)].filter(Boolean).join(' ') || undefined),
    hardware: str(board?.model),
    kernel: str(kernel?.release),
    arch: str(kernel?.machine, 32),
    memoryBytes: num(memory?.totalBytes),
    cpuCount: num(cpu?.count),
    uptimeSeconds: num(uptime?.seconds),
    addresses: [...addresses],
    disks,
  });
  let listening: ListeningPort[] | undefined;
  if (Array.isArray(r.listening)) {
    listening = [];
    for (const l of r.listening) {
      const port = num(obj(l)?.port);
      const address = str(obj(l)?.address, 64);
      if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) continue;
      listening.push({ port, protocol: 'tcp', ...(address ? { address } : {}) });
      if (listening.length >= MAX_LISTENING) break;
    }
  }
  return { facts, ...(listening ? { listening } : {}) };
}

/** "NA", "None", "To be filled by O.E.M.": DMI placeholders that are no answer. */
function dmi(v: unknown): string | undefined {
  const s = str(v);
  return s && !/^(na|n\/a|none|unknown|default string|to be filled by o\.e\.m\.|system product name|not specified)$/i.test(s) ? s : undefined;
}

/**
 * The facts in one host's `ansible -m setup` result (`{ ansible_facts: { ansible_... } }`).
 *
 * @example factsFromAnsible({ ansible_facts: { ansible_distribution: 'Debian', ansible_distribution_version: '12.11' } }).os // 'Debian 12.11'
 */
export function factsFromAnsible(result: unknown): DiscoveredFacts {
  const f = obj(obj(result)?.ansible_facts) ?? {};
  const distro = [str(f.ansible_distribution), str(f.ansible_distribution_version)].filter(Boolean).join(' ');
  const vendor = dmi(f.ansible_system_vendor);
  const product = dmi(f.ansible_product_name) ?? dmi(f.ansible_board_name);
  const addresses = [...arr(f.ansible_all_ipv4_addresses), ...arr(f.ansible_all_ipv6_addresses)]
    .flatMap((a) => {
      const s = str(a, 64);
      return s && !isLocalOnlyAddress(s) ? [s] : [];
    })
    .slice(0, MAX_ADDRESSES);
  const mb = num(f.ansible_memtotal_mb);
  const virt = [str(f.ansible_virtualization_type, 32), str(f.ansible_virtualization_role, 32)].filter((s) => s && s !== 'NA');
  const disks = arr(f.ansible_mounts)
    .map(obj)
    .flatMap((m) => {
      const mountpoint = str(m?.mount, 256);
      const total = num(m?.size_total);
      const avail = num(m?.size_available);
      return mountpoint && total && avail !== undefined ? [{ mountpoint, totalBytes: total, percent: Math.round(((total - avail) / total) * 1000) / 10 }] : [];
    })
    .slice(0, MAX_DISKS);
  return dropEmpty<DiscoveredFacts>({
    hostname: str(f.ansible_fqdn, 253) && str(f.ansible_fqdn) !== 'localhost' ? str(f.ansible_fqdn, 253) : str(f.ansible_hostname, 253),
    os: distro || undefined,
    hardware: product ? (vendor && !product.startsWith(vendor) ? `${vendor} ${product}` : product) : undefined,
    kernel: str(f.ansible_kernel),
    arch: str(f.ansible_architecture, 32),
    memoryBytes: mb !== undefined ? mb * 1024 * 1024 : undefined,
    cpuCount: num(f.ansible_processor_vcpus) ?? num(f.ansible_processor_nproc),
    uptimeSeconds: num(f.ansible_uptime_seconds),
    virtualization: virt.length ? virt.join('/') : undefined,
    addresses,
    disks,
  });
}
