/**
 * Topology tools and resources: the summary and the full merged view, lookups of a node
 * (by name or address) and a service, and `refresh_topology`: a write when an Ansible inventory
 * is configured, because it then runs Ansible on every inventory host (the gate asks first), and
 * a read otherwise (it only asks the edges for their status). Resources: `topology://summary`,
 * `topology://full` and every Markdown document of the docs folder as `docs://...`.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { HomelabError } from '@homelab-mcp/core';
import type { CatalogResource, CatalogTool } from '../../catalog/types.ts';
import type { HubTopology, TopologyNodeView } from '../../topology/topology.ts';
import { shownService } from '../../topology/shown-url.ts';

const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;
const noArgs = { type: 'object' as const, properties: {}, additionalProperties: false };
const MAX_QUERY = 256;
/** Largest get_topology_full answer. */
const MAX_FULL_CHARS = 1024 * 1024;

function ok(text: string, data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: data };
}
function fail(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** A required string argument, bounded; an error result naming it otherwise. */
function stringArg(args: Record<string, unknown>, name: string): string | CallToolResult {
  const v = args[name];
  if (typeof v !== 'string' || v.trim() === '') return fail(`${name}: expected a non-empty string`);
  if (v.length > MAX_QUERY) return fail(`${name}: expected at most ${MAX_QUERY} characters`);
  return v.trim();
}

const portText = (p: { port: number; protocol: string }) => `${p.port}/${p.protocol}`;

function nodeText(n: TopologyNodeView): string {
  const facts = Object.entries(n.facts)
    .filter(([k]) => !['addresses', 'disks'].includes(k.split('@')[0]!))
    .map(([k, f]) => `${k}=${typeof f.value === 'string' || typeof f.value === 'number' ? f.value : JSON.stringify(f.value)} (${f.source}${f.at ? ` ${f.at}` : ''})`);
  return [
    `${n.name}: ${n.addresses.join(', ') || 'no known address'}${n.roles.length ? ` [${n.roles.join(', ')}]` : ''}${n.edge ? `, edge ${n.edge}` : ''}`,
    ...(n.subnet || n.vlan !== undefined ? [`subnet ${n.subnet ?? '-'}${n.vlan !== undefined ? `, vlan ${n.vlan}` : ''}`] : []),
    ...(facts.length ? [`facts: ${facts.join('; ')}`] : []),
    ...(n.listeningPorts ? [`listening (tcp): ${n.listeningPorts.length > 40 ? `${n.listeningPorts.length} sockets` : n.listeningPorts.map((l) => `${l.address ?? '*'}:${l.port}`).join(', ') || 'none'}`] : []),
    n.drift.length ? `drift:\n${n.drift.map((d) => `- ${d}`).join('\n')}` : 'no drift',
  ].join('\n');
}

/** The full topology as JSON within MAX_FULL_CHARS: without listening sockets when too big, else nothing. */
function boundedFull(t: HubTopology): { text: string; data: Record<string, unknown> } | undefined {
  // Service URLs may carry credentials for the hub's probes: clients get them masked.
  const raw = t.full();
  const full = { ...raw, services: raw.services.map(shownService) };
  const text = JSON.stringify(full, null, 1);
  if (text.length <= MAX_FULL_CHARS) return { text, data: full as unknown as Record<string, unknown> };
  // A big network: listening sockets are the bulk; find_node shows them per node.
  const slim = {
    ...full,
    nodes: full.nodes.map(({ listeningPorts, ...n }) => ({ ...n, ...(listeningPorts ? { listeningPortCount: listeningPorts.length } : {}) })),
    omitted: 'listening ports (use find_node for one node)',
  };
  const slimText = JSON.stringify(slim);
  return slimText.length <= MAX_FULL_CHARS ? { text: slimText, data: slim } : undefined;
}

export function topologyTools(topology: () => HubTopology): CatalogTool[] {
  return [
    {
      def: {
        name: 'get_topology_summary',
        title: 'Topology summary',
        description: 'The compact topology: node count, subnets, roles, the service index, documentation resources and the drift count (the same text sessions get in their instructions).',
        inputSchema: noArgs,
        annotations: { title: 'Topology summary', ...READ },
      },
      toolClass: 'read',
      source: 'hub',
      async call() {
        const t = topology();
        // Service URLs may carry credentials for the hub's probes: clients get them masked.
  const raw = t.full();
  const full = { ...raw, services: raw.services.map(shownService) };
        return ok(t.summary(), { summary: t.summary(), counts: full.counts, lastRefresh: full.lastRefresh, docs: full.docs.map((d) => ({ uri: d.uri, title: d.title })) });
      },
    },
    {
      def: {
        name: 'get_topology_full',
        title: 'Full topology',
        description:
          'The whole merged topology as JSON: subnets, every node (declared or discovered) with its facts and where each came from (declared, edge or ansible, and when), listening ports, drift, and every service with ports and dependencies.',
        inputSchema: noArgs,
        annotations: { title: 'Full topology', ...READ },
      },
      toolClass: 'read',
      source: 'hub',
      async call() {
        const full = boundedFull(topology());
        return full ? ok(full.text, full.data) : fail(`the full topology is larger than ${MAX_FULL_CHARS / 1024} KiB; use get_topology_summary, find_node and find_service`);
      },
    },
    {
      def: {
        name: 'find_node',
        title: 'Find a node',
        description: 'Finds a node of the topology by name (exact, then case-insensitive), by IP address or by host name (127.0.0.1, ::1 and localhost: the hub\'s own host), and shows its addresses, roles, edge, facts with provenance, listening ports and drift.',
        inputSchema: {
          type: 'object',
          properties: { name_or_ip: { type: 'string', minLength: 1, maxLength: MAX_QUERY, description: 'A node name, an IP address or a host name.' } },
          required: ['name_or_ip'],
          additionalProperties: false,
        },
        annotations: { title: 'Find a node', ...READ },
      },
      toolClass: 'read',
      source: 'hub',
      async call(args) {
        const q = stringArg(args, 'name_or_ip');
        if (typeof q !== 'string') return q;
        const t = topology();
        const node = t.findNode(q);
        if (!node) {
          const names = t.nodes().map((n) => n.name);
          return fail(`name_or_ip: no node is named or addressed "${q}" (known nodes: ${names.slice(0, 30).join(', ') || 'none'}${names.length > 30 ? ', ...' : ''})`);
        }
        const services = t.services().filter((s) => s.node === node.name).map(shownService);
        const text = `${nodeText(node)}\nservices: ${services.map((s) => `${s.name}${s.ports.length ? ` (${s.ports.map(portText).join(', ')})` : ''}`).join(', ') || 'none declared'}`;
        return ok(text, { node, services });
      },
    },
    {
      def: {
        name: 'find_service',
        title: 'Find a service',
        description: 'Finds a service of the topology by name (exact, then case-insensitive): its node and addresses, ports, URL, systemd unit or container, what it depends on, what depends on it, and drift on its ports.',
        inputSchema: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1, maxLength: MAX_QUERY, description: 'The service name, e.g. grafana.' } },
          required: ['name'],
          additionalProperties: false,
        },
        annotations: { title: 'Find a service', ...READ },
      },
      toolClass: 'read',
      source: 'hub',
      async call(args) {
        const q = stringArg(args, 'name');
        if (typeof q !== 'string') return q;
        const t = topology();
        const found = t.findService(q);
        if (!found) {
          const names = t.services().map((s) => s.name);
          return fail(`name: no service "${q}" in the topology (known services: ${names.slice(0, 30).join(', ') || 'none'}${names.length > 30 ? ', ...' : ''})`);
        }
        const service = shownService(found);
        const node = t.findNode(service.node);
        const dependents = t.services().filter((s) => s.dependsOn.includes(service.name)).map((s) => s.name);
        const drift = (node?.drift ?? []).filter((d) => d.startsWith(`service ${service.name} `));
        const text = [
          `${service.name} on ${service.node}${node?.addresses.length ? ` (${node.addresses.join(', ')})` : ''}`,
          `ports: ${service.ports.map(portText).join(', ') || 'none declared'}`,
          ...(service.url ? [`url: ${service.url}`] : []),
          ...(service.unit ? [`systemd unit: ${service.unit}`] : []),
          ...(service.container ? [`container: ${service.container}`] : []),
          `depends on: ${service.dependsOn.join(', ') || 'nothing'}; needed by: ${dependents.join(', ') || 'nothing'}`,
          ...(service.description ? [service.description] : []),
          drift.length ? `drift:\n${drift.map((d) => `- ${d}`).join('\n')}` : node?.listeningPorts ? 'no drift on its ports' : 'ports not checked (no edge answer for its node)',
        ].join('\n');
        return ok(text, { service: service as unknown as Record<string, unknown>, node: node ? { name: node.name, addresses: node.addresses, edge: node.edge } : null, dependents, drift });
      },
    },
    {
      // Its class follows the config of this moment (the catalog copies it on every rebuild,
      // a reload included): with an Ansible inventory it connects to every inventory host, a
      // write the gate asks about first; without one it only asks the edges for get_status.
      get def() {
        const ansible = topology().ansibleConfigured();
        return {
          name: 'refresh_topology',
          title: 'Refresh the topology',
          description: ansible
            ? 'Refreshes the discovered part of the topology now: every edge\'s get_status and `ansible -m setup` on the hosts of the configured inventory (connects to every inventory host). Returns what answered, what failed and the drift count.'
            : 'Refreshes the discovered part of the topology now: every edge\'s get_status (no Ansible inventory is configured, so nothing else is contacted and nothing changes). Returns what answered, what failed and the drift count.',
          inputSchema: {
            type: 'object' as const,
            properties: { ansible: { type: 'boolean', description: 'Also gather Ansible facts (default true when an inventory is configured).' } },
            additionalProperties: false,
          },
          annotations: { title: 'Refresh the topology', readOnlyHint: !ansible, destructiveHint: false, idempotentHint: true, openWorldHint: true },
        };
      },
      get toolClass() {
        return topology().ansibleConfigured() ? ('write' as const) : ('read' as const);
      },
      source: 'hub',
      preview(args) {
        const withAnsible = args.ansible !== false;
        return { tool: 'refresh_topology', where: ['hub'], action: topology().describeRefresh(withAnsible), arguments: args };
      },
      async call(args, ctx) {
        if (args.ansible !== undefined && typeof args.ansible !== 'boolean') return fail('ansible: expected true or false');
        const t = topology();
        const report = await t.refresh({ ansible: args.ansible !== false, signal: ctx.signal });
        const a = report.ansible;
        const text = [
          `edges: ${report.edges.ok} of ${report.edges.asked} answered${report.edges.failed.length ? ` (failed: ${report.edges.failed.map((f) => `${f.node}: ${f.error}`).join('; ')})` : ''}`,
          !a.ran ? `ansible: not run (${a.why})` : 'error' in a ? `ansible: failed: ${a.error}` : `ansible: facts from ${a.ok} host(s) in ${a.durationMs} ms${a.failed.length ? `; failed: ${a.failed.map((f) => `${f.host}: ${f.error}`).join('; ')}` : ''}${a.ok + a.failed.length === 0 && a.warnings.length ? ` (${a.warnings.join('; ')})` : ''}`,
          `drift: ${report.driftCount}`,
          ...(report.fileError ? [`topology file: changed but invalid, the previous version stays in use:\n${report.fileError}`] : []),
          '',
          t.summary(),
        ].join('\n');
        return { content: [{ type: 'text', text }], structuredContent: report as unknown as Record<string, unknown>, ...(a.ran && 'error' in a && report.edges.ok === 0 ? { isError: true } : {}) };
      },
    },
  ];
}

/** `topology://summary`, `topology://full` and the `docs://` documents. */
export function topologyResources(topology: HubTopology): CatalogResource[] {
  const resources: CatalogResource[] = [
    {
      def: { uri: 'topology://summary', name: 'topology-summary', title: 'Topology summary', description: 'The compact topology sessions get in their instructions.', mimeType: 'text/plain' },
      source: 'hub',
      read: async () => ({ contents: [{ uri: 'topology://summary', mimeType: 'text/plain', text: topology.summary() }] }),
    },
    {
      def: { uri: 'topology://full', name: 'topology-full', title: 'Full topology', description: 'The whole merged topology as JSON, with provenance and drift.', mimeType: 'application/json' },
      source: 'hub',
      read: async () => {
        const full = boundedFull(topology);
        if (!full) throw new HomelabError('TOO_LARGE', `topology://full is larger than ${MAX_FULL_CHARS / 1024} KiB; use find_node and find_service`);
        return { contents: [{ uri: 'topology://full', mimeType: 'application/json', text: full.text }] };
      },
    },
  ];
  for (const d of topology.docs()) {
    resources.push({
      def: { uri: d.uri, name: d.path, title: d.title, description: `Documentation: ${d.title}`, mimeType: 'text/markdown', size: d.size },
      source: 'hub',
      read: async () => ({ contents: [{ uri: d.uri, mimeType: 'text/markdown', text: topology.readDoc(d.uri) }] }),
    });
  }
  return resources;
}

