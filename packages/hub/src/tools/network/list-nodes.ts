/** `list_nodes`: every node and native upstream the hub knows, with its state. */
import type { CatalogTool } from '../../catalog/types.ts';
import { stateText, type HubNode, type SourceState } from '../../catalog/nodes.ts';
import type { Catalog, LeftOut, NativeUpstream } from '../../catalog/catalog.ts';
import type { Topology } from '../../topology/topology.ts';
import { annotationMismatches, mismatchText } from '../../policy/classes.ts';
import { isOutdated, nodeVersion } from './edge-version.ts';

export interface ListNodesOptions {
  /**
   * The sha256 of the edge bundle this hub serves, for `install-edge.sh --sha256`: the
   * installer and bundle may travel over plain HTTP, and this is the value to check them by.
   */
  edgeBundleSha256?: () => string | undefined;
  /** The version of that bundle: edges older than it are marked `outdated` (update_edges). */
  edgeBundleVersion?: () => string | undefined;
  /** What the catalog left out of an upstream (a name of a `prefix: false` upstream that another entry has). */
  leftOut?: (alias: string) => LeftOut[];
}

/**
 * With `topology`, hub nodes show their addresses, and nodes only the topology knows are listed
 * under `topology`. A node whose tool annotations disagree with the hub's table of edge tools
 * is flagged (`annotationsDisagree`): the hub ignores those claims, and the person should know
 * that the edge is not the one it says it is.
 */
export function listNodesTool(nodes: () => HubNode[], upstreams: () => NativeUpstream[], topology?: () => Topology | undefined, opts: ListNodesOptions = {}): CatalogTool {
  return {
    def: {
      name: 'list_nodes',
      title: 'List nodes',
      description:
        'Lists the devices (nodes) the hub reaches through edge agents, with their roles and whether they are reachable, and the native MCP servers behind the hub; ' +
        'devices of the topology without an edge are listed too, with their roles and addresses. ' +
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
      const topo = topology?.()?.nodes() ?? [];
      const hubNames = new Set(nodes().map((n) => n.name));
      const served = opts.edgeBundleVersion?.();
      const ns = nodes()
        .filter((n) => !role || n.roles.includes(role) || topo.some((t) => t.edge === n.name && t.roles.includes(role)))
        .map((n) => {
          const s = n.source.state();
          const t = topo.find((v) => v.name === n.name) ?? topo.find((v) => v.edge === n.name);
          const mismatches = annotationMismatches(n.source.tools());
          // What the edge said when the hub connected (and in each answer since); unknown is
          // never called outdated.
          const version = nodeVersion(n);
          const outdated = isOutdated(version, served);
          return {
            name: n.name,
            roles: n.roles,
            status: s.status,
            since: s.since.toISOString(),
            ...(s.lastError ? { error: s.lastError } : {}),
            tools: n.source.tools().length,
            ...(version ? { version } : {}),
            ...(outdated !== undefined ? { outdated } : {}),
            ...(n.url ? { url: n.url } : {}),
            ...(t ? { addresses: t.addresses, ...(t.name !== n.name ? { serves: t.name } : {}) } : {}),
            ...(mismatches.length ? { annotationsDisagree: mismatches } : {}),
          };
        });
      const servedNames = new Set(ns.map((n) => ('serves' in n ? n.serves : undefined)).filter((x): x is string => !!x));
      const declared = topo
        .filter((t) => !hubNames.has(t.name) && !servedNames.has(t.name) && (!role || t.roles.includes(role)))
        .map((t) => ({ name: t.name, roles: t.roles, addresses: t.addresses, ...(t.edge ? { edge: t.edge } : {}), ...(t.os ? { os: t.os } : {}), ...(t.subnet ? { subnet: t.subnet } : {}) }));
      const us = role
        ? []
        : upstreams().map((u) => {
            const s = u.state();
            const left = opts.leftOut?.(u.alias) ?? [];
            return {
              alias: u.alias,
              status: s.status,
              since: s.since.toISOString(),
              ...(s.lastError ? { error: s.lastError } : {}),
              ...(s.warning ? { warning: s.warning } : {}),
              tools: u.tools().length,
              resources: u.resources().length,
              prompts: u.prompts().length,
              ...(left.length ? { leftOut: left.map((l) => ({ kind: l.kind, name: l.name, why: l.why })) } : {}),
            };
          });
      // An empty filter result names the roles there are: a mistyped role is then one look away.
      const sha256 = opts.edgeBundleSha256?.();
      const roles = role && ns.length === 0 && declared.length === 0 ? [...new Set([...nodes().flatMap((n) => n.roles), ...topo.flatMap((t) => t.roles)])].sort() : undefined;
      // Worded as service_health words it: a node reconnecting after an error is unreachable.
      const line = (x: { status: SourceState['status']; since: string; error?: string }) => stateText({ status: x.status, since: new Date(x.since), ...(x.error ? { lastError: x.error } : {}) }).text;
      const text = [
        roles
          ? `0 nodes with role ${role}; ${roles.length ? `the roles are: ${roles.join(', ')}` : 'no node has a role (roles are set in hub.yaml and topology.yaml)'}`
          : `${ns.length} node${ns.length === 1 ? '' : 's'}${role ? ` with role ${role}` : ''}:`,
        ...ns.map(
          (n) =>
            `- ${n.name} [${n.roles.join(', ') || 'no roles'}]: ${line(n)}, ${n.tools} tools, ${versionText(n.version, n.outdated, served)}${'addresses' in n && n.addresses?.length ? `, ${n.addresses.join(', ')}` : ''}${'serves' in n && n.serves ? ` (serves ${n.serves})` : ''}` +
            (n.annotationsDisagree ? `\n  WARNING: its tool annotations disagree with the hub's table (${mismatchText(n.annotationsDisagree)}); the hub enforces its own classes. A modified or compromised edge?` : ''),
        ),
        ...(declared.length
          ? ['', `${declared.length} more in the topology${role ? ` with role ${role}` : ''}:`, ...declared.map((t) => `- ${t.name} [${t.roles.join(', ') || 'no roles'}]: ${t.addresses.join(', ') || 'no known address'}${t.edge ? `, edge ${t.edge}` : ', no edge'}`)]
          : []),
        ...(us.length ? ['', `${us.length} MCP upstream${us.length === 1 ? '' : 's'}:`, ...us.map((u) => `- ${u.alias}: ${line(u)}, ${u.tools} tools` + (u.warning ? `\n  WARNING: ${u.warning}` : '') + (u.leftOut ? u.leftOut.map((l) => `\n  LEFT OUT: ${l.why}`).join('') : ''))] : []),
        ...(sha256 ? ['', `Edge bundle served by this hub: ${served ? `version ${served}, ` : ''}sha256 ${sha256} (install-edge.sh --sha256 ${sha256} refuses any other)`] : []),
        ...(ns.some((n) => n.outdated) ? [`Outdated edges: ${ns.filter((n) => n.outdated).map((n) => n.name).join(', ')}; update_edges upgrades them to ${served}.`] : []),
      ].join('\n');
      return {
        content: [{ type: 'text', text }],
        structuredContent: { nodes: ns, upstreams: us, ...(topology ? { topology: declared } : {}), ...(roles ? { roles } : {}), ...(sha256 ? { edgeBundle: { sha256, ...(served ? { version: served } : {}) } } : {}) },
      };
    },
  };
}

/** `edge 0.1.0`, `edge 0.0.9 (OUTDATED: the hub serves 0.1.0)`, `edge version unknown`. */
function versionText(version: string | undefined, outdated: boolean | undefined, served: string | undefined): string {
  if (!version) return 'edge version unknown';
  return outdated ? `edge ${version} (OUTDATED: the hub serves ${served})` : `edge ${version}`;
}

/**
 * `network_resources`: everything behind the hub in one answer: each node with its state
 * and tools, and each native upstream with its state and the names of its tools, resources
 * and prompts (as clients see them, namespaced).
 */
export function networkResourcesTool(nodes: () => HubNode[], upstreams: () => NativeUpstream[], catalog: () => Catalog): CatalogTool {
  return {
    def: {
      name: 'network_resources',
      title: 'Network resources',
      description: 'Everything the hub reaches: every node (with its state and tools) and every MCP upstream (with its state, tools, resources and prompts, by the names clients use).',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      annotations: { title: 'Network resources', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    toolClass: 'read',
    source: 'hub',
    async call() {
      const c = catalog();
      const state = (s: { status: string; since: Date; lastError?: string }) => ({ status: s.status, since: s.since.toISOString(), ...(s.lastError ? { error: s.lastError } : {}) });
      const ns = nodes().map((n) => ({ name: n.name, roles: n.roles, ...state(n.source.state()), tools: n.source.tools().map((t) => t.name) }));
      const us = upstreams().map((u) => ({
        alias: u.alias,
        ...state(u.state()),
        tools: c.tools('admin').filter((t) => t.source === u.alias).map((t) => t.def.name),
        resources: c.resources().filter((r) => r.source === u.alias).map((r) => r.def.uri),
        resourceTemplates: c.resourceTemplates().filter((r) => r.source === u.alias).map((r) => r.def.uriTemplate),
        prompts: c.prompts().filter((p) => p.source === u.alias).map((p) => p.def.name),
      }));
      const text = [
        `${ns.length} node(s): ${ns.map((n) => `${n.name} (${n.status}, ${n.tools.length} tools)`).join(', ') || 'none'}`,
        `${us.length} MCP upstream(s):`,
        ...us.map((u) => `- ${u.alias} (${u.status}): ${u.tools.length} tools, ${u.resources.length} resources, ${u.prompts.length} prompts`),
      ].join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { nodes: ns, upstreams: us } };
    },
  };
}
