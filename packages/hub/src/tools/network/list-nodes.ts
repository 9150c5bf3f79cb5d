/** `list_nodes`: every node and native upstream the hub knows, with its state. */
import type { CatalogTool } from '../../catalog/types.ts';
import type { HubNode } from '../../catalog/nodes.ts';
import type { NativeUpstream } from '../../catalog/catalog.ts';

export function listNodesTool(nodes: () => HubNode[], upstreams: () => NativeUpstream[]): CatalogTool {
  return {
    def: {
      name: 'list_nodes',
      title: 'List nodes',
      description:
        'Lists the devices (nodes) the hub reaches through edge agents, with their roles and whether they are reachable, and the native MCP servers behind the hub. ' +
        'Use a node name, "role:NAME" or "all" as the `node` argument of the fleet tools.',
      inputSchema: {
        type: 'object',
        properties: { role: { type: 'string', description: 'Only nodes with this role.' } },
        additionalProperties: false,
      },
      annotations: { title: 'List nodes', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    toolClass: 'read',
    source: 'hub',
    async call(args) {
      const role = typeof args.role === 'string' ? args.role : undefined;
      const ns = nodes()
        .filter((n) => !role || n.roles.includes(role))
        .map((n) => {
          const s = n.source.state();
          return { name: n.name, roles: n.roles, status: s.status, since: s.since.toISOString(), ...(s.lastError ? { error: s.lastError } : {}), tools: n.source.tools().length, ...(n.url ? { url: n.url } : {}) };
        });
      const us = role
        ? []
        : upstreams().map((u) => {
            const s = u.state();
            return { alias: u.alias, status: s.status, since: s.since.toISOString(), ...(s.lastError ? { error: s.lastError } : {}), tools: u.tools().length, resources: u.resources().length, prompts: u.prompts().length };
          });
      const line = (x: { status: string; since: string; error?: string }) => (x.status === 'up' ? 'up' : `${x.status} since ${x.since}${x.error ? ` (${x.error})` : ''}`);
      const text = [
        `${ns.length} node${ns.length === 1 ? '' : 's'}${role ? ` with role ${role}` : ''}:`,
        ...ns.map((n) => `- ${n.name} [${n.roles.join(', ') || 'no roles'}]: ${line(n)}, ${n.tools} tools`),
        ...(us.length ? ['', `${us.length} MCP upstream${us.length === 1 ? '' : 's'}:`, ...us.map((u) => `- ${u.alias}: ${line(u)}, ${u.tools} tools`)] : []),
      ].join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { nodes: ns, upstreams: us } };
    },
  };
}
