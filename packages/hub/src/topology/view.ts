/**
 * The merge: the declared topology plus what the edges and Ansible report, into one list of
 * nodes (each fact with its source and time) and services, with drift flagged. Pure, so every
 * rule is unit-tested without processes.
 *
 * Rules:
 * - A declared node is served by its `edge` (default: the hub node of the same name) and
 *   matched to the Ansible host `ansibleHost` (default: its name).
 * - A hub node that serves no declared node, and an Ansible host that matches none, appear as
 *   discovered nodes: nothing is invented, everything shown exists somewhere.
 * - Facts: the declared value wins the plain key (`os`); a discovered value that differs is
 *   kept beside it as `os@edge` / `os@ansible`. Between discovered sources the edge (refreshed
 *   more often, answered by the device itself) wins over Ansible.
 * - Drift, on nodes whose edge answered: a declared TCP port of a service on the node that
 *   nothing listens on; and, on declared nodes only, a TCP port open on a wildcard address or
 *   one of the node's declared addresses that no service declares (the edge's own port
 *   excepted). UDP cannot be checked: the edge reports TCP listeners only.
 * - An open, undeclared port is not drift when it is ignored (`topology.drift` in hub.yaml):
 *   the common system ports of COMMON_SYSTEM_PORTS unless `ignoreCommonPorts: false`, the
 *   global `ignorePorts`, and the node's own `nodes.<name>.ignorePorts`. A declared service
 *   port that nothing listens on is always drift: the user said it should be there.
 */
import type { TopologyFile } from '@homelab-mcp/core/topology';
import type { DiscoveredFacts, ListeningPort } from './facts.ts';
import type { TopologyNodeView, TopologyService } from './topology.ts';

export type FactSource = 'declared' | 'edge' | 'ansible';

/** What one hub node's edge last said. */
export type EdgeObservation =
  /** `error`: the latest ask failed; these facts are from the answer before (its time). */
  | { at: string; ok: true; facts: DiscoveredFacts; listening?: ListeningPort[]; error?: string }
  | { at: string; ok: false; error: string };
/** What Ansible last said about one inventory host. */
export type AnsibleObservation = { at: string; ok: true; facts: DiscoveredFacts } | { at: string; ok: false; error: string };

export interface HubNodeInfo {
  name: string;
  roles: string[];
  /** The TCP port its edge listens on, when known (not flagged as undeclared). */
  edgePort?: number;
}

export interface ViewInput {
  declared: TopologyFile;
  hubNodes: HubNodeInfo[];
  edges: ReadonlyMap<string, EdgeObservation>;
  ansible: ReadonlyMap<string, AnsibleObservation>;
  /** The hub itself as a service, on the node its host serves (`local`), unless declared. */
  hubService?: { name: string; hubNode: string; port?: number };
  /** What is not drift (hub.yaml `topology.drift`); default: the common system ports only. */
  drift?: DriftSettings;
}

/** A TCP port (`631`) or an inclusive range (`"32768-60999"`). */
export type PortSpec = number | string;

/** hub.yaml `topology.drift`: open ports that are not worth a drift line. */
export interface DriftSettings {
  /** Ignore COMMON_SYSTEM_PORTS; default true. */
  ignoreCommonPorts?: boolean;
  /** Ignored on every node. */
  ignorePorts?: PortSpec[];
  /** Ignored on one node of the topology, by its name. */
  nodes?: Record<string, { ignorePorts?: PortSpec[] }>;
}

/**
 * TCP ports a stock Linux host opens without anyone declaring a service for them. Only the
 * TCP side matters: the edge reports TCP listeners only, so UDP-only daemons (DHCP clients on
 * 68 and their random high ports, chrony on 323, Avahi's 5353/udp) never show as drift, and
 * listeners on loopback only (systemd-resolved's 127.0.0.53:53, a local MTA on 127.0.0.1:25)
 * are not drift either unless 127.0.0.1 is the node's declared address.
 */
export const COMMON_SYSTEM_PORTS: ReadonlyArray<{ from: number; to: number; why: string }> = [
  { from: 22, to: 22, why: 'SSH' },
  { from: 53, to: 53, why: 'a DNS resolver or forwarder (dnsmasq, systemd-resolved, unbound)' },
  { from: 111, to: 111, why: 'rpcbind (NFS)' },
  { from: 631, to: 631, why: 'CUPS (printing)' },
  { from: 5353, to: 5353, why: 'mDNS (Avahi)' },
  { from: 5355, to: 5355, why: 'LLMNR (systemd-resolved)' },
  // Linux's default ip_local_port_range: a listener here took a random port (rpc.statd,
  // mountd, desktop and development tools), so it is no service anyone could declare.
  { from: 32768, to: 60999, why: 'the ephemeral range: listeners on random ports (rpc.statd, mountd, desktop tools)' },
];

/** `631` → [631, 631]; `"8000-8100"` → [8000, 8100]. The config schema has checked the form. */
export function portRange(spec: PortSpec): [number, number] {
  if (typeof spec === 'number') return [spec, spec];
  const [a, b] = spec.split('-').map((x) => Number(x.trim()));
  return [a!, b ?? a!];
}

/** Whether an open, undeclared port of `node` is ignored. @example driftIgnored({ ignorePorts: [8080] }, 'nas')(8080) // true */
export function driftIgnored(settings: DriftSettings | undefined, node: string): (port: number) => boolean {
  const ranges: Array<[number, number]> = [
    ...(settings?.ignoreCommonPorts === false ? [] : COMMON_SYSTEM_PORTS.map((p): [number, number] => [p.from, p.to])),
    ...(settings?.ignorePorts ?? []).map(portRange),
    ...(settings?.nodes?.[node]?.ignorePorts ?? []).map(portRange),
  ];
  return (port) => ranges.some(([a, b]) => port >= a && port <= b);
}

/** A node view plus where it came from, for the full topology. */
export interface NodeRecord extends TopologyNodeView {
  origin: 'declared' | 'discovered';
  /** For discovered nodes: edge or ansible. */
  discoveredBy?: 'edge' | 'ansible';
  ansibleHost?: string;
  description?: string;
  lastSeen?: { edge?: string; ansible?: string };
  errors?: { edge?: string; ansible?: string };
}

export interface TopologyViewData {
  nodes: NodeRecord[];
  services: TopologyService[];
  subnets: TopologyFile['subnets'];
}

/** Most drift sentences kept per node; the rest is counted in one more sentence. */
export const MAX_DRIFT_PER_NODE = 25;

const FACT_KEYS = ['hostname', 'os', 'hardware', 'kernel', 'arch', 'memoryBytes', 'cpuCount', 'uptimeSeconds', 'virtualization', 'addresses', 'disks'] as const;
const WILDCARD = new Set(['0.0.0.0', '::', '::ffff:0.0.0.0']);

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const uniq = <T>(xs: T[]) => [...new Set(xs)];
const unmapped = (a: string) => (a.toLowerCase().startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a).toLowerCase();

function mergeFacts(declared: Partial<Record<string, unknown>>, edge: EdgeObservation | undefined, ansible: AnsibleObservation | undefined): TopologyNodeView['facts'] {
  const facts: TopologyNodeView['facts'] = {};
  const sources: Array<{ source: FactSource; at?: string; values: Partial<Record<string, unknown>> }> = [
    { source: 'declared', values: declared },
    ...(edge?.ok ? [{ source: 'edge' as const, at: edge.at, values: edge.facts as Record<string, unknown> }] : []),
    ...(ansible?.ok ? [{ source: 'ansible' as const, at: ansible.at, values: ansible.facts as Record<string, unknown> }] : []),
  ];
  const keys = uniq([...Object.keys(declared), ...FACT_KEYS]);
  for (const key of keys) {
    for (const { source, at, values } of sources) {
      const value = values[key];
      if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
      const fact = { value, source, ...(at ? { at } : {}) };
      const winner = facts[key];
      if (!winner) facts[key] = fact;
      else if (!same(winner.value, value)) facts[`${key}@${source}`] = fact;
    }
  }
  return facts;
}

function driftOf(node: NodeRecord, services: TopologyService[], listening: ListeningPort[], checkUndeclared: boolean, edgePort: number | undefined, ignored: (port: number) => boolean): string[] {
  const out: string[] = [];
  const mine = services.filter((s) => s.node === node.name);
  for (const s of mine) {
    for (const p of s.ports) {
      if (p.protocol !== 'tcp') continue;
      if (!listening.some((l) => l.protocol === 'tcp' && l.port === p.port)) out.push(`service ${s.name} declares port ${p.port}/tcp but nothing listens on it`);
    }
  }
  if (checkUndeclared) {
    const declaredPorts = new Set(mine.flatMap((s) => s.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port)));
    const own = new Set(node.addresses.map(unmapped));
    const open = new Map<number, string[]>();
    for (const l of listening) {
      if (l.protocol !== 'tcp' || declaredPorts.has(l.port) || l.port === edgePort || !l.address || ignored(l.port)) continue;
      const a = unmapped(l.address);
      if (!WILDCARD.has(a) && !own.has(a)) continue;
      open.set(l.port, uniq([...(open.get(l.port) ?? []), l.address]));
    }
    for (const [port, addrs] of [...open].sort((a, b) => a[0] - b[0])) {
      out.push(`port ${port}/tcp is open on ${addrs.join(', ')} but no service on ${node.name} declares it`);
    }
  }
  if (out.length > MAX_DRIFT_PER_NODE) {
    const more = out.length - MAX_DRIFT_PER_NODE;
    return [...out.slice(0, MAX_DRIFT_PER_NODE), `... and ${more} more`];
  }
  return out;
}

/**
 * @example
 * const view = buildView({ declared, hubNodes: [{ name: 'nas', roles: [] }], edges, ansible: new Map() });
 * view.nodes.find((n) => n.name === 'nas')?.drift // ['service grafana declares port 3000/tcp but nothing listens on it']
 */
export function buildView(input: ViewInput): TopologyViewData {
  const { declared } = input;
  const hubByName = new Map(input.hubNodes.map((h) => [h.name, h]));
  const nodes: NodeRecord[] = [];
  const servedEdges = new Set<string>();
  const matchedAnsible = new Set<string>();
  const edgePorts = new Map<string, number | undefined>();

  for (const d of declared.nodes) {
    const edgeName = d.edge ?? (hubByName.has(d.name) ? d.name : undefined);
    const hub = edgeName ? hubByName.get(edgeName) : undefined;
    if (edgeName) servedEdges.add(edgeName);
    const ansibleHost = d.ansibleHost ?? d.name;
    const edge = edgeName ? input.edges.get(edgeName) : undefined;
    const ans = input.ansible.get(ansibleHost);
    if (ans) matchedAnsible.add(ansibleHost);
    const declaredFacts: Record<string, unknown> = {};
    if (d.os) declaredFacts.os = d.os;
    if (d.hardware) declaredFacts.hardware = d.hardware;
    if (d.addresses.length) declaredFacts.addresses = d.addresses;
    if (d.subnet) declaredFacts.subnet = d.subnet;
    if (d.vlan !== undefined) declaredFacts.vlan = d.vlan;
    if (d.mac) declaredFacts.mac = d.mac;
    const facts = mergeFacts(declaredFacts, edge, ans);
    const discovered = [...(edge?.ok ? (edge.facts.addresses ?? []) : []), ...(ans?.ok ? (ans.facts.addresses ?? []) : [])];
    const subnet = d.subnet ? declared.subnets.find((s) => s.name === d.subnet) : undefined;
    const vlan = d.vlan ?? subnet?.vlan;
    const rec: NodeRecord = {
      name: d.name,
      addresses: uniq([...d.addresses, ...discovered]),
      roles: uniq([...d.roles, ...(hub?.roles ?? [])]),
      ...(d.subnet ? { subnet: d.subnet } : {}),
      ...(vlan !== undefined ? { vlan } : {}),
      ...(d.mac ? { mac: d.mac } : {}),
      ...optional('os', (facts.os?.value as string | undefined) ?? undefined),
      ...optional('hardware', (facts.hardware?.value as string | undefined) ?? undefined),
      ...(edgeName ? { edge: edgeName } : {}),
      facts,
      ...(edge?.ok && edge.listening ? { listeningPorts: edge.listening } : {}),
      drift: [],
      origin: 'declared',
      ansibleHost,
      ...(d.description ? { description: d.description } : {}),
      ...seen(edge, ans),
    };
    edgePorts.set(d.name, hub?.edgePort);
    nodes.push(rec);
  }

  const taken = new Set(nodes.map((n) => n.name));
  for (const h of input.hubNodes) {
    if (servedEdges.has(h.name) || taken.has(h.name)) continue;
    const edge = input.edges.get(h.name);
    const ans = input.ansible.get(h.name);
    if (ans) matchedAnsible.add(h.name);
    const facts = mergeFacts({}, edge, ans);
    nodes.push({
      name: h.name,
      addresses: uniq([...(edge?.ok ? (edge.facts.addresses ?? []) : []), ...(ans?.ok ? (ans.facts.addresses ?? []) : [])]),
      roles: h.roles,
      ...optional('os', facts.os?.value as string | undefined),
      ...optional('hardware', facts.hardware?.value as string | undefined),
      edge: h.name,
      facts,
      ...(edge?.ok && edge.listening ? { listeningPorts: edge.listening } : {}),
      drift: [],
      origin: 'discovered',
      discoveredBy: 'edge',
      ansibleHost: h.name,
      ...seen(edge, ans),
    });
    edgePorts.set(h.name, h.edgePort);
    taken.add(h.name);
  }
  for (const [host, ans] of input.ansible) {
    if (matchedAnsible.has(host) || taken.has(host)) continue;
    const facts = mergeFacts({}, undefined, ans);
    nodes.push({
      name: host,
      addresses: ans.ok ? (ans.facts.addresses ?? []) : [],
      roles: [],
      ...optional('os', facts.os?.value as string | undefined),
      ...optional('hardware', facts.hardware?.value as string | undefined),
      facts,
      drift: [],
      origin: 'discovered',
      discoveredBy: 'ansible',
      ansibleHost: host,
      ...seen(undefined, ans),
    });
    taken.add(host);
  }

  const services: TopologyService[] = declared.services.map((s) => ({
    name: s.name,
    node: s.node,
    ports: s.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
    ...(s.url ? { url: s.url } : {}),
    ...(s.unit ? { unit: s.unit } : {}),
    ...(s.container ? { container: s.container } : {}),
    dependsOn: [...s.dependsOn],
    ...(s.description ? { description: s.description } : {}),
  }));
  const hs = input.hubService;
  if (hs && !services.some((s) => s.name === hs.name)) {
    const host = nodes.find((n) => n.edge === hs.hubNode);
    if (host) services.push({ name: hs.name, node: host.name, ports: hs.port ? [{ port: hs.port, protocol: 'tcp' }] : [], dependsOn: [], description: 'this MCP hub' });
  }

  for (const n of nodes) {
    if (!n.listeningPorts) continue;
    n.drift = driftOf(n, services, n.listeningPorts, n.origin === 'declared', edgePorts.get(n.name), driftIgnored(input.drift, n.name));
  }
  return { nodes, services, subnets: declared.subnets };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}

function seen(edge: EdgeObservation | undefined, ans: AnsibleObservation | undefined): Pick<NodeRecord, 'lastSeen' | 'errors'> {
  const lastSeen = { ...(edge?.ok ? { edge: edge.at } : {}), ...(ans?.ok ? { ansible: ans.at } : {}) };
  const errors = { ...(edge?.error ? { edge: edge.error } : {}), ...(ans && !ans.ok ? { ansible: ans.error } : {}) };
  return { ...(Object.keys(lastSeen).length ? { lastSeen } : {}), ...(Object.keys(errors).length ? { errors } : {}) };
}
