/**
 * The Network page: the topology as a picture (nodes, their services, dependency arrows), then
 * the same as tables: every node with its roles, addresses, OS and board, the state of the edge
 * that serves it and its drift; every service with its ports, what it depends on and what
 * depends on it. The tables hold everything the picture may leave out.
 */
import type { TopologyService } from '../../topology/topology.ts';
import { html, timeTag, type Html } from '../html.ts';
import { byName, renderNetworkSvg, type NodeState } from '../network-svg.ts';
import type { Page } from '../page.ts';

function list(items: string[], empty = '-'): Html {
  return items.length ? html`${items.join(', ')}` : html`<span class="muted">${empty}</span>`;
}

function stateCell(edge: string | undefined, s: NodeState, since: string | undefined, error: string | undefined): Html {
  if (!edge) return html`<span class="muted">no edge</span>`;
  if (!s) return html`<span class="muted">${edge}: not known</span>`;
  return html`<span class="state state-${s}">${s}</span> <span class="muted">(${edge}${since ? html`, since ${timeTag(since)}` : ''})</span>${error ? html`<br><span class="muted">${error}</span>` : ''}`;
}

/**
 * @example pages: [..., networkPage] // /ui/network
 */
export const networkPage: Page = {
  path: 'network',
  title: 'Network',
  render(ctx) {
    const nodes = [...ctx.data.topology.nodes()].sort((a, b) => byName(a.name, b.name));
    const services = [...ctx.data.topology.services()].sort((a, b) => byName(a.name, b.name) || byName(a.node, b.node));
    const health = new Map(ctx.data.nodesAndUpstreams().filter((h) => h.kind === 'node').map((h) => [h.name, h]));
    const edgeOf = new Map(nodes.map((n) => [n.name, n.edge]));
    const stateOf = (node: string): NodeState => {
      const e = edgeOf.get(node);
      return e ? health.get(e)?.status : undefined;
    };
    const last = ctx.data.topology.lastRefresh();
    const head = html`<h1>Network</h1><p class="muted" id="network-summary">${nodes.length} node(s), ${services.length} service(s). Topology refreshed from the edges ${timeTag(last.edges)}${last.ansible ? html`, from Ansible ${timeTag(last.ansible)}` : ''}.</p>`;
    if (!nodes.length && !services.length) return html`${head}<p class="muted" id="network-empty">The topology has no node yet (topology.yaml, or an edge that answered).</p>`;

    // Who depends on whom, both ways (a name matched exactly, else case-insensitively).
    const names = new Map<string, string>();
    for (const s of services) if (!names.has(s.name)) names.set(s.name, s.name);
    for (const s of services) if (!names.has(s.name.toLowerCase())) names.set(s.name.toLowerCase(), s.name);
    const resolve = (d: string) => names.get(d) ?? names.get(d.toLowerCase());
    const dependents = new Map<string, string[]>();
    for (const s of services)
      for (const d of new Set(s.dependsOn)) {
        const t = resolve(d);
        if (t) dependents.set(t, [...(dependents.get(t) ?? []), s.name]);
      }
    const nodeNames = new Set(nodes.map((n) => n.name));

    const nodeRows = nodes.map((n) => {
      const h = n.edge ? health.get(n.edge) : undefined;
      const osBoard = [n.os, n.hardware].filter((x): x is string => !!x);
      return html`<tr class="node-row${n.drift.length ? ' drifted' : ''}" data-node="${n.name}"><td>${n.name}${n.origin === 'discovered' ? html` <span class="muted">(discovered)</span>` : ''}</td><td>${list(n.roles)}</td><td>${list(n.addresses)}</td><td>${list(osBoard, 'not known')}</td><td>${stateCell(n.edge, stateOf(n.name), h?.since, h?.error)}</td><td>${n.drift.length ? html`<ul class="drift">${n.drift.map((d) => html`<li>${d}</li>`)}</ul>` : html`<span class="muted">none</span>`}</td></tr>`;
    });
    const serviceRow = (s: TopologyService) => {
      const deps = [...new Set(s.dependsOn)].sort(byName).map((d) => (resolve(d) ? html`<span class="dep-name">${d}</span>` : html`<span class="missing" title="no service of the topology has this name">${d} (unknown)</span>`));
      const by = [...new Set(dependents.get(s.name) ?? [])].sort(byName);
      return html`<tr class="service-row" data-service="${s.name}"><td>${s.name}${s.description ? html`<br><span class="muted">${s.description}</span>` : ''}</td><td>${s.node}${nodeNames.has(s.node) ? '' : html` <span class="missing">(no such node)</span>`}</td><td>${list(s.ports.map((p) => `${p.port}/${p.protocol}`))}</td><td>${deps.length ? deps.map((d, i) => html`${i ? ', ' : ''}${d}`) : html`<span class="muted">-</span>`}</td><td>${list(by)}</td></tr>`;
    };

    return html`${head}
<figure class="network-picture">${renderNetworkSvg(nodes, services, stateOf)}<figcaption class="muted">Arrows point from a service to what it depends on; a dashed box is a name the topology does not have.</figcaption></figure>
<h2>Nodes</h2>
<div class="table-scroll"><table id="nodes" class="list"><thead><tr><th>Node</th><th>Roles</th><th>Addresses</th><th>OS / board</th><th>Edge</th><th>Drift</th></tr></thead><tbody>${nodeRows}</tbody></table></div>
<h2>Services</h2>
<div class="table-scroll"><table id="services" class="list"><thead><tr><th>Service</th><th>Node</th><th>Ports</th><th>Depends on</th><th>Depended on by</th></tr></thead><tbody>${services.map(serviceRow)}</tbody></table></div>`;
  },
};
