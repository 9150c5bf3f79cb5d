import { isIP } from 'node:net';
import * as z from 'zod';
import { loadConfigFile, parseConfigText, type ConfigLoadOptions } from './config.ts';
import { parseMac } from './wake-on-lan.ts';

/**
 * `topology.yaml`: what the network is meant to look like (subnets, nodes, services), the
 * static base the hub enriches with what it discovers. Loaded through the same pipeline as
 * every config file (YAML, `${VAR}`, strict zod, errors naming file:line:col and key), plus
 * cross-checks between sections (a service's node is declared, dependencies exist and have no
 * cycle, names are unique).
 *
 * @example
 * const topo = loadTopologyFile('/etc/homelab/topology.yaml');
 * topo.services.find((s) => s.name === 'grafana')?.ports // [{ port: 3000, protocol: 'tcp' }]
 */

const NAME_HINT = 'a name of letters, digits, ".", "-" and "_" (at most 63, starting with a letter or digit)';
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, NAME_HINT);

/** A hostname as RFC 1123 allows it (labels of letters, digits and "-", dots between). */
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** True for an IPv4/IPv6 address or a hostname. */
export function isAddressOrHostname(s: string): boolean {
  return isIP(s) !== 0 || HOSTNAME.test(s);
}

/**
 * True for a CIDR range whose address part is a valid IP and prefix fits its family.
 * @example isCidr('192.168.1.0/24') // true
 */
export function isCidr(s: string): boolean {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128);
}

const address = z.string().refine(isAddressOrHostname, 'expected an IP address or a hostname');
const cidr = z.string().refine(isCidr, 'expected a CIDR range such as 192.168.1.0/24 or fd00::/64');
const vlan = z.int().min(1).max(4094);
/** A MAC address in any usual spelling, kept as `b8:27:eb:12:34:56` (for wake_on_lan). */
const mac = z.string().max(40).transform((s, ctx) => {
  try {
    return parseMac(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^mac: /, '') });
    return z.NEVER;
  }
});
const portNumber = z.int().min(1).max(65535);

export type PortProtocol = 'tcp' | 'udp';
export interface TopologyPort {
  port: number;
  protocol: PortProtocol;
}

const PORT_TEXT = /^(\d{1,5})(?:\/(tcp|udp))?$/;
/** `8080`, `"53/udp"` or `{ port: 53, protocol: udp }`, always read as `{ port, protocol }`. */
const PortSchema = z.union([
  portNumber.transform((port): TopologyPort => ({ port, protocol: 'tcp' })),
  z
    .string()
    .refine((s) => {
      const m = PORT_TEXT.exec(s);
      return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
    }, 'expected a port such as 8080, "8080/tcp" or "53/udp"')
    .transform((s): TopologyPort => {
      const m = PORT_TEXT.exec(s)!;
      return { port: Number(m[1]), protocol: (m[2] as PortProtocol | undefined) ?? 'tcp' };
    }),
  z.strictObject({ port: portNumber, protocol: z.enum(['tcp', 'udp']).default('tcp') }),
]);

export const TopologySubnetSchema = z.strictObject({
  name,
  cidr,
  vlan: vlan.optional(),
  description: z.string().max(2000).optional(),
});

export const TopologyNodeSchema = z.strictObject({
  name,
  addresses: z.array(address).max(64).default([]),
  roles: z.array(z.string().min(1).max(64)).max(64).default([]),
  /** The name of a declared subnet. */
  subnet: name.optional(),
  vlan: vlan.optional(),
  /** The MAC address of its network card, for wake_on_lan. */
  mac: mac.optional(),
  os: z.string().min(1).max(200).optional(),
  hardware: z.string().min(1).max(200).optional(),
  /** The hub node (edge) that serves this device; default: a hub node with the same name. */
  edge: name.optional(),
  /** Its name in the Ansible inventory; default: `name`. */
  ansibleHost: z.string().min(1).max(253).optional(),
  description: z.string().max(2000).optional(),
});

const ServiceFields = {
  name,
  /** The declared node it runs on. */
  node: name,
  ports: z.array(PortSchema).max(64).default([]),
  url: z.url().optional(),
  /** Its systemd unit, e.g. `grafana-server.service`. */
  unit: z.string().min(1).max(256).optional(),
  /** Its container name. */
  container: z.string().min(1).max(256).optional(),
  dependsOn: z.array(name).max(64).optional(),
  /** Accepted as the issue and docker-compose spell it; `dependsOn` is the house style. */
  depends_on: z.array(name).max(64).optional(),
  description: z.string().max(2000).optional(),
};

export const TopologyServiceSchema = z
  .strictObject(ServiceFields)
  .refine((s) => s.dependsOn === undefined || s.depends_on === undefined, {
    message: 'give either dependsOn or depends_on, not both',
    path: ['depends_on'],
  })
  .transform(({ depends_on, dependsOn, ...rest }) => {
    const out = { ...rest, dependsOn: dependsOn ?? depends_on ?? [] };
    if (depends_on !== undefined) spelledSnake.add(out);
    return out;
  });

/** Services whose file wrote `depends_on`, so an error points at the key the user wrote. */
const spelledSnake = new WeakSet<object>();

export interface TopologyCheckOptions {
  /** Names of the hub's nodes (edges); when given, an explicit `edge:` must name one of them. */
  edgeNames?: readonly string[];
}

/** The schema of `topology.yaml`, with the cross-checks; `edgeNames` enables the `edge:` check. */
export function topologySchema(opts: TopologyCheckOptions = {}) {
  return z
    .strictObject({
      subnets: z.array(TopologySubnetSchema).max(1000).default([]),
      nodes: z.array(TopologyNodeSchema).max(5000).default([]),
      services: z.array(TopologyServiceSchema).max(10000).default([]),
    })
    .superRefine((t, ctx) => {
      const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
      const known = (all: string[]) => {
        const names = [...new Set(all)];
        const shown = names.slice(0, 20).join(', ');
        return names.length === 0 ? '(none declared)' : names.length > 20 ? `${shown}, ...` : shown;
      };
      const unique = (kind: 'subnets' | 'nodes' | 'services', items: Array<{ name: string }>) => {
        const first = new Map<string, number>();
        items.forEach((item, i) => {
          const seen = first.get(item.name);
          if (seen !== undefined) issue([kind, i, 'name'], `duplicate name "${item.name}" (already used by ${kind}[${seen}])`);
          else first.set(item.name, i);
        });
      };
      unique('subnets', t.subnets);
      unique('nodes', t.nodes);
      unique('services', t.services);

      const subnets = t.subnets.map((s) => s.name);
      const nodes = t.nodes.map((n) => n.name);
      const services = t.services.map((s) => s.name);
      t.nodes.forEach((n, i) => {
        if (n.subnet !== undefined && !subnets.includes(n.subnet)) {
          issue(['nodes', i, 'subnet'], `expected the name of a declared subnet, got "${n.subnet}" (known: ${known(subnets)})`);
        }
        if (n.edge !== undefined && opts.edgeNames && !opts.edgeNames.includes(n.edge)) {
          issue(['nodes', i, 'edge'], `expected the name of a hub node (edge), got "${n.edge}" (hub nodes: ${known([...opts.edgeNames])})`);
        }
      });
      t.services.forEach((s, i) => {
        if (!nodes.includes(s.node)) issue(['services', i, 'node'], `expected the name of a declared node, got "${s.node}" (known: ${known(nodes)})`);
        const key = spelledSnake.has(s) ? 'depends_on' : 'dependsOn';
        (s.dependsOn ?? []).forEach((d, j) => {
          if (d === s.name) issue(['services', i, key, j], `a service cannot depend on itself ("${d}")`);
          else if (!services.includes(d)) issue(['services', i, key, j], `expected the name of a declared service, got "${d}" (known: ${known(services)})`);
        });
      });
      const cycle = findCycle(t.services);
      if (cycle) {
        const i = t.services.findIndex((s) => s.name === cycle[0]);
        issue(['services', i, spelledSnake.has(t.services[i]!) ? 'depends_on' : 'dependsOn'], `dependency cycle: ${cycle.join(' -> ')}`);
      }
    });
}

/** The first dependency cycle among services (`[a, b, a]`), self-loops excluded (reported apart). */
function findCycle(services: ReadonlyArray<{ name: string; dependsOn: string[] }>): string[] | undefined {
  const deps = new Map(services.map((s) => [s.name, (s.dependsOn ?? []).filter((d) => d !== s.name)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'visiting');
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      if (!deps.has(d)) continue;
      const found = visit(d);
      if (found) return found;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const s of services) {
    const found = visit(s.name);
    if (found) return found;
  }
  return undefined;
}

/** The validated content of `topology.yaml`. */
export type TopologyFile = z.infer<ReturnType<typeof topologySchema>>;
export type TopologyFileNode = TopologyFile['nodes'][number];
export type TopologyFileService = TopologyFile['services'][number];
export type TopologyFileSubnet = TopologyFile['subnets'][number];

export interface TopologyLoadOptions extends ConfigLoadOptions, TopologyCheckOptions {}

/**
 * Reads and validates `topology.yaml`; throws a `ConfigError` whose message names the file,
 * line:column and key (`topology.yaml:12:5: key "services[1].node": expected ...`).
 *
 * @example loadTopologyFile('/etc/homelab/topology.yaml', { edgeNames: ['local', 'pi'] })
 */
export function loadTopologyFile(path: string, opts: TopologyLoadOptions = {}): TopologyFile {
  return loadConfigFile(path, topologySchema(opts), opts);
}

/**
 * The pure part of {@link loadTopologyFile}: `file` only names the file in errors.
 *
 * @example parseTopologyText('nodes:\n  - name: nas\n', 'topology.yaml', { env: {} })
 */
export function parseTopologyText(text: string, file: string, opts: TopologyLoadOptions = {}): TopologyFile {
  return parseConfigText(text, file, topologySchema(opts), opts);
}
