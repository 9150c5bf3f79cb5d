/**
 * The network as a picture: one box per node (name, state, roles, first address, OS and board,
 * a drift marker) holding its services, and one arrow per dependency, from the service that
 * depends to the service it depends on, so that "what depends on the NAS" is the arrows that
 * end in the NAS's box.
 *
 * Plain SVG made by the `html` tag, served inline: no script, no foreignObject, no style
 * attribute, no reference outside itself (the strict CSP of /ui allows nothing else). Classes
 * for the stylesheet; presentation attributes so that it is readable without one. The layout is
 * a grid in name order, so the same topology always gives the same picture, byte for byte.
 */
import type { TopologyNodeView, TopologyService } from '../topology/topology.ts';
import { html, type Html } from './html.ts';

/** Nodes drawn at most; beyond, the picture says how many were left out. */
export const MAX_SVG_NODES = 48;
/** Services drawn at most. */
export const MAX_SVG_SERVICES = 180;
/** Dependency arrows drawn at most. */
export const MAX_SVG_EDGES = 400;

/** The state of the edge that serves a node, as nodesAndUpstreams() says; undefined: no edge, or not known. */
export type NodeState = 'up' | 'down' | 'connecting' | undefined;

const NODE_W = 260;
const COL_GAP = 120;
const ROW_GAP = 40;
const MARGIN = 20;
/** Above the first row: room for the lane arrows take along it. */
const TOP = 36;
const HEADER = 96;
const SVC_H = 22;
const SVC_GAP = 4;
const PAD = 10;
/** Characters that fit on a line of a box at the default font size. */
const LINE_CHARS = 36;

const collator = new Intl.Collator('en', { numeric: true });
/**
 * Natural order (host-2 before host-10) with a fixed locale, then code units: the same on every
 * run, and total (two different names never compare equal).
 *
 * @example ['host-10', 'host-2'].sort(byName) // ['host-2', 'host-10']
 */
export const byName = (a: string, b: string): number => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);

/** `s` cut to `n` characters with an ellipsis. */
function fit(s: string, n = LINE_CHARS): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** One box of the grid: a node, the services of a node the topology does not have, or the unknown dependencies. */
type Box =
  | { kind: 'node'; node: TopologyNodeView; services: TopologyService[] }
  | { kind: 'ghost'; name: string; services: TopologyService[] }
  | { kind: 'missing'; names: string[] };

interface Placed {
  x: number;
  y: number;
  h: number;
  col: number;
}

function boxHeight(b: Box): number {
  const items = b.kind === 'missing' ? b.names.length : b.services.length;
  const head = b.kind === 'node' ? HEADER : 34;
  return head + items * (SVC_H + SVC_GAP) + PAD;
}

/** Where a dependency arrow starts or ends: a service (or unknown) box's middle, on its left or right. */
interface Anchor {
  col: number;
  /** The top of its row of boxes. */
  rowTop: number;
  left: number;
  right: number;
  y: number;
}

function portsText(s: TopologyService): string {
  if (!s.ports.length) return '';
  const list = s.ports.slice(0, 4).map((p) => `${p.port}${p.protocol === 'udp' ? '/udp' : ''}`);
  return ` :${list.join(',')}${s.ports.length > 4 ? ',…' : ''}`;
}

function stateDot(x: number, y: number, state: NodeState): Html {
  const s = state ?? 'unknown';
  const label = state ? `edge ${state}` : 'no edge state';
  return html`<circle class="state state-${s}" cx="${x}" cy="${y}" r="6" fill="${s === 'up' ? '#2e7d32' : s === 'down' ? '#c62828' : s === 'connecting' ? '#f9a825' : '#9e9e9e'}"><title>${label}</title></circle>`;
}

/**
 * Each node's layer: 0 when its services depend on no other node's, else one more than the
 * deepest node they depend on. A cycle is cut where the walk (in name order) meets it again.
 */
function nodeLevels(nodes: TopologyNodeView[], services: TopologyService[], lookup: (name: string) => TopologyService | undefined): Map<string, number> {
  const on = new Map<string, Set<string>>();
  for (const s of services)
    for (const d of s.dependsOn) {
      const t = lookup(d);
      if (t && t.node !== s.node) on.set(s.node, (on.get(s.node) ?? new Set()).add(t.node));
    }
  const level = new Map<string, number>();
  const walking = new Set<string>();
  const visit = (n: string, depth: number): number => {
    const known = level.get(n);
    if (known !== undefined) return known;
    // Deep chains are cut too: the picture only needs an order, not the exact depth.
    if (walking.has(n) || depth > 64) return 0;
    walking.add(n);
    let l = 0;
    for (const m of [...(on.get(n) ?? [])].sort(byName)) l = Math.max(l, visit(m, depth + 1) + 1);
    walking.delete(n);
    level.set(n, l);
    return l;
  };
  for (const n of [...nodes].sort((a, b) => byName(a.name, b.name))) visit(n.name, 0);
  return level;
}

/**
 * The `<svg id="network-graph">`: `<g class="node" data-node>` per node with its
 * `<g class="service" data-service>` inside, and `<path class="dep" data-from data-to>` per
 * dependency (from the dependent service to the one it depends on). A dependency on a service
 * the topology does not have ends in a dashed `<g class="missing" data-missing>` box.
 *
 * @example renderNetworkSvg(topology.nodes(), topology.services(), (n) => stateOf(n))
 */
export function renderNetworkSvg(nodes: TopologyNodeView[], services: TopologyService[], state: (node: string) => NodeState = () => undefined): Html {
  const sortedServices = [...services].sort((a, b) => byName(a.node, b.node) || byName(a.name, b.name));
  // Dependencies: exact name first, then case-insensitive (as find_service looks them up).
  const exact = new Map<string, TopologyService>();
  const folded = new Map<string, TopologyService>();
  for (const s of sortedServices) {
    if (!exact.has(s.name)) exact.set(s.name, s);
    if (!folded.has(s.name.toLowerCase())) folded.set(s.name.toLowerCase(), s);
  }
  const lookup = (name: string) => exact.get(name) ?? folded.get(name.toLowerCase());

  // Nodes in layers: what others depend on first (the NAS, the database, DNS), then what
  // depends on them, so that the arrows run up the picture towards the foundations.
  const level = nodeLevels(nodes, sortedServices, lookup);
  const sortedNodes = [...nodes].sort((a, b) => level.get(a.name)! - level.get(b.name)! || byName(a.name, b.name));
  const shownNodes = sortedNodes.slice(0, MAX_SVG_NODES);
  const nodeNames = new Set(sortedNodes.map((n) => n.name));
  const shownNodeNames = new Set(shownNodes.map((n) => n.name));

  // Services go to their node's box; those of a node the topology lacks to a dashed box of that name.
  const perNode = new Map<string, TopologyService[]>();
  const ghosts = new Map<string, TopologyService[]>();
  let shownServices = 0;
  let servicesLeftOut = 0;
  for (const s of sortedServices) {
    const known = nodeNames.has(s.node);
    if ((known && !shownNodeNames.has(s.node)) || shownServices >= MAX_SVG_SERVICES) {
      servicesLeftOut++;
      continue;
    }
    const into = known ? perNode : ghosts;
    const list = into.get(s.node) ?? [];
    list.push(s);
    into.set(s.node, list);
    shownServices++;
  }

  const missing = new Set<string>();
  for (const s of sortedServices) for (const d of s.dependsOn) if (!lookup(d)) missing.add(d);

  const boxes: Box[] = [
    ...shownNodes.map((node): Box => ({ kind: 'node', node, services: perNode.get(node.name) ?? [] })),
    ...[...ghosts.keys()].sort(byName).map((name): Box => ({ kind: 'ghost', name, services: ghosts.get(name)! })),
  ];
  const missingNames = [...missing].sort(byName);
  if (missingNames.length) boxes.push({ kind: 'missing', names: missingNames.slice(0, MAX_SVG_SERVICES) });

  // The grid: about as many columns as rows, at most 4 (wider would be scaled down past reading on a laptop).
  const cols = Math.max(1, Math.min(4, Math.ceil(Math.sqrt(boxes.length))));
  const placed: Placed[] = [];
  let y = TOP;
  for (let r = 0; r * cols < boxes.length; r++) {
    const row = boxes.slice(r * cols, r * cols + cols);
    const h = Math.max(...row.map(boxHeight));
    row.forEach((b, i) => placed.push({ x: MARGIN + i * (NODE_W + COL_GAP), y, h: boxHeight(b), col: i }));
    y += h + ROW_GAP;
  }

  // Where each drawn service (and unknown name) sits, for the arrows.
  const anchors = new Map<TopologyService | string, Anchor>();
  const groups: Html[] = [];
  boxes.forEach((b, i) => {
    const p = placed[i]!;
    const list = b.kind === 'missing' ? b.names : b.services;
    const top = p.y + (b.kind === 'node' ? HEADER : 34);
    const items: Html[] = list.map((item, j) => {
      const sy = top + j * (SVC_H + SVC_GAP);
      const sx = p.x + PAD;
      const w = NODE_W - 2 * PAD;
      if (typeof item === 'string') {
        anchors.set(`missing:${item}`, { col: p.col, rowTop: p.y, left: sx, right: sx + w, y: sy + SVC_H / 2 });
        return html`<g class="missing" data-missing="${item}"><title>${item}: named in depends on, but no service of the topology has this name</title><rect x="${sx}" y="${sy}" width="${w}" height="${SVC_H}" rx="3" fill="#fff" stroke="#c62828" stroke-dasharray="4 3"/><text x="${sx + 6}" y="${sy + 15}">? ${fit(item, LINE_CHARS - 2)}</text></g>`;
      }
      anchors.set(item, { col: p.col, rowTop: p.y, left: sx, right: sx + w, y: sy + SVC_H / 2 });
      const label = `${item.name}${portsText(item)}`;
      return html`<g class="service" data-service="${item.name}"><title>${item.name} on ${item.node}${item.ports.length ? `, ports ${item.ports.map((x) => `${x.port}/${x.protocol}`).join(', ')}` : ''}${item.description ? `: ${item.description}` : ''}</title><rect x="${sx}" y="${sy}" width="${w}" height="${SVC_H}" rx="3" fill="#e3f2fd" stroke="#1565c0"/><text x="${sx + 6}" y="${sy + 15}">${fit(label, LINE_CHARS - 2)}</text></g>`;
    });
    if (b.kind === 'node') {
      const n = b.node;
      const st = state(n.name);
      const addr = n.addresses[0] ? `${n.addresses[0]}${n.addresses.length > 1 ? ` (+${n.addresses.length - 1})` : ''}` : 'no address';
      const osBoard = [n.os, n.hardware].filter(Boolean).join(' · ') || 'OS and board not known';
      const drift = n.drift.length
        ? html`<g class="drift-marker"><title>${n.drift.join('\n')}</title><text class="drift" x="${p.x + PAD}" y="${p.y + 86}" fill="#c62828">⚠ ${n.drift.length} drift</text></g>`
        : '';
      groups.push(
        html`<g class="node${n.drift.length ? ' drifted' : ''}${st ? ` state-${st}` : ''}" data-node="${n.name}"><rect class="node-box" x="${p.x}" y="${p.y}" width="${NODE_W}" height="${p.h}" rx="6" fill="#fafafa" stroke="#424242"/>${stateDot(p.x + NODE_W - 16, p.y + 16, st)}<text class="node-name" x="${p.x + PAD}" y="${p.y + 20}" font-weight="bold">${fit(n.name, LINE_CHARS - 4)}</text><text class="roles" x="${p.x + PAD}" y="${p.y + 38}">${fit(n.roles.length ? n.roles.join(', ') : 'no roles')}</text><text class="address" x="${p.x + PAD}" y="${p.y + 54}">${fit(addr)}</text><text class="os" x="${p.x + PAD}" y="${p.y + 70}">${fit(osBoard)}</text>${drift}${items}</g>`,
      );
    } else if (b.kind === 'ghost') {
      groups.push(
        html`<g class="ghost-node" data-missing-node="${b.name}"><title>${b.name}: services name this node, but the topology has no such node</title><rect x="${p.x}" y="${p.y}" width="${NODE_W}" height="${p.h}" rx="6" fill="#fff" stroke="#c62828" stroke-dasharray="6 4"/><text x="${p.x + PAD}" y="${p.y + 20}" font-weight="bold">? ${fit(b.name, LINE_CHARS - 4)} (no such node)</text>${items}</g>`,
      );
    } else {
      groups.push(
        html`<g class="missing-box"><rect x="${p.x}" y="${p.y}" width="${NODE_W}" height="${p.h}" rx="6" fill="#fff" stroke="#c62828" stroke-dasharray="6 4"/><text x="${p.x + PAD}" y="${p.y + 20}" font-weight="bold">unknown: not in the topology</text>${items}</g>`,
      );
    }
  });

  // The arrows, in a stable order; each from the dependent's box to the dependency's.
  const edges: Array<{ from: TopologyService; to: string; target: Anchor | undefined; missing: boolean }> = [];
  for (const s of [...sortedServices].sort((a, b) => byName(a.name, b.name) || byName(a.node, b.node))) {
    for (const d of [...new Set(s.dependsOn)].sort(byName)) {
      const t = lookup(d);
      edges.push({ from: s, to: t ? t.name : d, target: t ? anchors.get(t) : anchors.get(`missing:${d}`), missing: !t });
    }
  }
  const paths: Html[] = [];
  let edgesLeftOut = 0;
  for (const e of edges) {
    const a = anchors.get(e.from);
    if (!a || !e.target || paths.length >= MAX_SVG_EDGES) {
      edgesLeftOut++;
      continue;
    }
    const b = e.target;
    // The middle of the gap right of column `c`.
    const gap = (c: number) => MARGIN + c * (NODE_W + COL_GAP) + NODE_W + COL_GAP / 2;
    let d: string;
    if (a.col === b.col) {
      // Same column: out of the right side and back in, bulging into the gap.
      const bulge = Math.round(Math.min(COL_GAP - 20, 30 + Math.abs(b.y - a.y) / 8));
      d = `M${a.right} ${a.y} C${a.right + bulge} ${a.y} ${b.right + bulge} ${b.y} ${b.right + 6} ${b.y}`;
    } else if (Math.abs(a.col - b.col) === 1) {
      // Next column: a curve through the gap between them.
      const [x1, x2] = a.col < b.col ? [a.right, b.left - 6] : [a.left, b.right + 6];
      const mid = Math.round((x1 + x2) / 2);
      d = `M${x1} ${a.y} C${mid} ${a.y} ${mid} ${b.y} ${x2} ${b.y}`;
    } else {
      // Farther: along the gaps (down the column gap, across the lane above the target's row,
      // down the gap beside the target), never through a box in between. A small offset per
      // arrow keeps lanes shared by several arrows apart.
      const off = ((paths.length % 7) - 3) * 3;
      const [x1, gx1, gx2, x2] = a.col < b.col ? [a.right, gap(a.col) + off, gap(b.col - 1) + off, b.left - 6] : [a.left, gap(a.col - 1) + off, gap(b.col) + off, b.right + 6];
      const lane = b.rowTop - (b.rowTop === TOP ? TOP / 2 : ROW_GAP / 2) + off;
      d = `M${x1} ${a.y} L${gx1} ${a.y} L${gx1} ${lane} L${gx2} ${lane} L${gx2} ${b.y} L${x2} ${b.y}`;
    }
    paths.push(
      html`<path class="dep${e.missing ? ' dep-missing' : ''}" data-from="${e.from.name}" data-to="${e.to}" d="${d}" fill="none" stroke="${e.missing ? '#c62828' : '#6a1b9a'}" stroke-width="1.5"${e.missing ? html` stroke-dasharray="4 3"` : ''} marker-end="url(#network-arrow)"><title>${e.from.name} depends on ${e.to}${e.missing ? ' (not in the topology)' : ''}</title></path>`,
    );
  }

  const leftOut: string[] = [];
  if (sortedNodes.length > shownNodes.length) leftOut.push(`${sortedNodes.length - shownNodes.length} node(s)`);
  if (servicesLeftOut) leftOut.push(`${servicesLeftOut} service(s)`);
  if (missingNames.length > MAX_SVG_SERVICES) leftOut.push(`${missingNames.length - MAX_SVG_SERVICES} unknown dependency name(s)`);
  if (edgesLeftOut) leftOut.push(`${edgesLeftOut} dependency arrow(s)`);
  const width = MARGIN * 2 + Math.max(1, Math.min(cols, boxes.length)) * (NODE_W + COL_GAP) - COL_GAP + COL_GAP / 2;
  const note = leftOut.length ? html`<text class="left-out" x="${MARGIN}" y="${y + 4}" fill="#c62828">Not drawn (too many for one picture; the tables below have everything): ${leftOut.join(', ')}.</text>` : '';
  const height = y + (leftOut.length ? 24 : 0);
  const summary = `${shownNodes.length} node(s), ${shownServices} service(s), ${paths.length} dependency arrow(s)`;

  return html`<svg id="network-graph" xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="network-graph-title" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" fill="#212121"><title id="network-graph-title">Network: ${summary}; arrows point from a service to what it depends on</title><defs><marker id="network-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#6a1b9a"/></marker></defs>${groups}<g class="deps">${paths}</g>${note}</svg>`;
}
