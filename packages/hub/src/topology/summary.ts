/**
 * The compact topology text every session gets in its MCP `instructions`. It has a hard size
 * budget: a model reads it on every connection, so a big network is summarised (lists cut
 * with "+N more"), never dumped; the tools and resources it names give the details.
 */
import type { DocEntry } from './docs.ts';
import type { TopologyViewData } from './view.ts';

/** Largest summary, in characters. */
export const SUMMARY_BUDGET = 2000;
/** Drift sentences shown in the summary; the rest is a count. */
export const DRIFT_SHOWN = 3;

/** Joins items into at most `max` characters, ending with "+N more" when some do not fit. */
export function boundedList(items: string[], max: number, sep = ', '): string {
  let out = '';
  for (let i = 0; i < items.length; i++) {
    const next = (out ? sep : '') + items[i]!;
    const rest = items.length - i - 1;
    const moreText = rest > 0 ? `${sep}+${rest} more` : '';
    if (out.length + next.length + moreText.length > max) return `${out}${out ? sep : ''}+${items.length - i} more`;
    out += next;
  }
  return out;
}

export interface SummaryInput {
  view: TopologyViewData;
  docs: DocEntry[];
  lastRefresh?: { edges?: string; ansible?: string };
  ansibleConfigured: boolean;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * @example
 * formatSummary({ view, docs, ansibleConfigured: false })
 * // 'Topology: 3 nodes (2 declared, 1 discovered), 2 subnets, 4 services; drift: 1.\n...'
 */
export function formatSummary(input: SummaryInput): string {
  const { view, docs } = input;
  const declared = view.nodes.filter((n) => n.origin === 'declared').length;
  const drift = view.nodes.reduce((a, n) => a + n.drift.length, 0);
  const lines: string[] = [
    `Topology: ${plural(view.nodes.length, 'node')} (${declared} declared, ${view.nodes.length - declared} discovered), ${plural(view.subnets.length, 'subnet')}, ${plural(view.services.length, 'service')}; drift: ${drift}.`,
  ];
  if (view.subnets.length) {
    lines.push(`Subnets: ${boundedList(view.subnets.map((s) => `${s.name} ${s.cidr}${s.vlan !== undefined ? ` vlan ${s.vlan}` : ''}`), 180)}`);
  }
  const nodes = view.nodes.map((n) => `${n.name}${n.addresses[0] ? ` ${n.addresses[0]}` : ''}${n.roles.length ? ` [${n.roles.join(',')}]` : ''}${n.origin === 'discovered' ? ' (discovered)' : ''}`);
  lines.push(`Nodes: ${boundedList(nodes, 380)}`);
  const roles = new Map<string, string[]>();
  for (const n of view.nodes) for (const r of n.roles) roles.set(r, [...(roles.get(r) ?? []), n.name]);
  if (roles.size) lines.push(`Roles: ${boundedList([...roles].map(([r, ns]) => `${r} (${ns.length > 3 ? `${ns.length} nodes` : ns.join(', ')})`), 220)}`);
  if (view.services.length) {
    const svc = view.services.map((s) => `${s.name}@${s.node}${s.ports.length ? `:${s.ports.map((p) => (p.protocol === 'tcp' ? `${p.port}` : `${p.port}/${p.protocol}`)).join('/')}` : ''}`);
    lines.push(`Services: ${boundedList(svc, 420)}`);
  }
  if (docs.length) lines.push(`Docs (resources): ${boundedList(docs.map((d) => `${d.uri} "${d.title}"`), 220)}`);
  if (drift) {
    // A count and the first few, not the list: the full drift is in find_node and
    // get_topology_full. A declared service that nothing serves comes first: it is what is
    // likely broken; an undeclared open port is likely only undocumented.
    const all = view.nodes.flatMap((n) => n.drift.filter((d) => !d.startsWith('... and ')).map((d) => `${n.name}: ${d}`));
    const missing = all.filter((d) => / declares port .* but nothing listens/.test(d));
    const top = [...missing, ...all.filter((d) => !missing.includes(d))].slice(0, DRIFT_SHOWN);
    const rest = drift - top.length;
    lines.push(`Drift: ${boundedList(top, 300, '; ')}${rest > 0 ? `; +${rest} more (find_node, get_topology_full; ignore ports with topology.drift in hub.yaml)` : ''}`);
  }
  const when = input.lastRefresh;
  lines.push(
    `Discovery: edges ${when?.edges ?? 'not yet'}${input.ansibleConfigured ? `, ansible ${when?.ansible ?? 'not yet'}` : ''}. ` +
      'Details: find_node, find_service, get_topology_full, resources topology://summary and topology://full.',
  );
  const text = lines.join('\n');
  return text.length <= SUMMARY_BUDGET ? text : `${text.slice(0, SUMMARY_BUDGET - 2)} …`;
}
