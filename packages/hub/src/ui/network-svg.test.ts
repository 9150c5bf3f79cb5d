import { describe, expect, it } from 'vitest';
import type { TopologyNodeView, TopologyService } from '../topology/topology.ts';
import { MAX_SVG_EDGES, MAX_SVG_NODES, MAX_SVG_SERVICES, renderNetworkSvg } from './network-svg.ts';

const node = (name: string, x: Partial<TopologyNodeView> = {}): TopologyNodeView => ({ name, addresses: [], roles: [], facts: {}, drift: [], ...x });
const svc = (name: string, on: string, dependsOn: string[] = [], x: Partial<TopologyService> = {}): TopologyService => ({ name, node: on, ports: [], dependsOn, ...x });

const NODES = [
  node('nas', { roles: ['storage', 'nas'], addresses: ['192.168.1.10', '10.0.0.10'], os: 'Debian 12', hardware: 'N100 box', edge: 'nas', drift: ['service smb declares port 445/tcp but nothing listens on it'] }),
  node('pi1', { roles: ['speaker'], addresses: ['192.168.1.21'], os: 'Raspberry Pi OS', hardware: 'Raspberry Pi 4', edge: 'pi1' }),
  node('server', { roles: ['docker'], addresses: ['192.168.1.5'] }),
];
const SERVICES = [
  svc('nfs', 'nas', [], { ports: [{ port: 2049, protocol: 'tcp' }] }),
  svc('smb', 'nas', [], { ports: [{ port: 445, protocol: 'tcp' }] }),
  svc('jellyfin', 'server', ['nfs'], { ports: [{ port: 8096, protocol: 'tcp' }] }),
  svc('immich', 'server', ['nfs', 'postgres']),
  svc('mpd', 'pi1', ['smb']),
  svc('postgres', 'server', []),
  svc('backup', 'server', ['nfs', 'object-store']),
];

/** The attributes of every element matching `tag` with `cls`, as objects. */
function elements(svg: string, tag: string, cls: string): Array<Record<string, string>> {
  return [...svg.matchAll(new RegExp(`<${tag} class="${cls}[^"]*"([^>]*)>`, 'g'))].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
}

describe('renderNetworkSvg', () => {
  it('draws one node group per node with its services inside, and dependency arrows with data-from/data-to', () => {
    const svg = renderNetworkSvg(NODES, SERVICES, (n) => (n === 'nas' ? 'up' : n === 'pi1' ? 'down' : undefined)).value;
    expect(svg).toMatch(/^<svg id="network-graph" xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(elements(svg, 'g', 'node').map((g) => g['data-node'])).toEqual(['nas', 'pi1', 'server']);
    // The NAS's group holds its services.
    const nas = svg.slice(svg.indexOf('data-node="nas"'), svg.indexOf('data-node="pi1"'));
    expect(elements(nas, 'g', 'service').map((g) => g['data-service'])).toEqual(['nfs', 'smb']);
    expect(nas).toContain('storage, nas');
    expect(nas).toContain('192.168.1.10 (+1)');
    expect(nas).toContain('Debian 12 · N100 box');
    expect(nas).toContain('⚠ 1 drift');
    expect(nas).toContain('class="state state-up"');
    expect(svg).toContain('class="state state-down"');
    // What depends on the NAS: the arrows into nfs and smb.
    const deps = elements(svg, 'path', 'dep').map((p) => `${p['data-from']}->${p['data-to']}`);
    expect(deps).toEqual(['backup->nfs', 'backup->object-store', 'immich->nfs', 'immich->postgres', 'jellyfin->nfs', 'mpd->smb']);
    for (const p of elements(svg, 'path', 'dep')) expect(p['marker-end']).toBe('url(#network-arrow)');
    expect(deps.filter((d) => /->(nfs|smb)$/.test(d))).toHaveLength(4);
  });

  it('draws a dependency on an unknown service to a dashed "unknown" box rather than dropping it', () => {
    const svg = renderNetworkSvg(NODES, SERVICES).value;
    expect(svg).toContain('<g class="missing" data-missing="object-store">');
    expect(svg).toMatch(/<path class="dep dep-missing" data-from="backup" data-to="object-store"[^>]*stroke-dasharray/);
    expect(svg).toContain('unknown: not in the topology');
  });

  it('puts a service of a node the topology lacks into a dashed box of that name', () => {
    const svg = renderNetworkSvg(NODES, [...SERVICES, svc('grafana', 'ghost', ['postgres'])]).value;
    expect(svg).toMatch(/<g class="ghost-node" data-missing-node="ghost">.*<g class="service" data-service="grafana">/);
    expect(svg).toContain('data-from="grafana" data-to="postgres"');
  });

  it('escapes hostile names and has no script, foreignObject, style or outside reference', () => {
    const evil = '"><script>alert(1)</script><foreignObject>';
    const svg = renderNetworkSvg(
      [node(evil, { roles: ['<img src=x onerror=alert(1)>'], addresses: ['"onload="alert(1)'], os: '<style>*{}</style>', drift: ['</title><script>x</script>'] })],
      [svc(`${evil}svc`, evil, [`${evil}dep`, 'javascript:alert(1)'])],
    ).value;
    // Every tag is ours: escaped text never opens one.
    const tags = [...svg.matchAll(/<([a-zA-Z]+)((?:\s+[\w:-]+="[^"]*")*)\s*\/?>/g)];
    expect(new Set(tags.map((t) => t[1]))).toEqual(new Set(['svg', 'title', 'defs', 'marker', 'path', 'g', 'rect', 'circle', 'text']));
    const attrs = tags.flatMap((t) => [...t[2]!.matchAll(/([\w:-]+)="/g)].map((a) => a[1]!));
    expect(attrs.filter((a) => /^on|^style$|href/i.test(a))).toEqual([]);
    expect(svg).not.toMatch(/<script|<foreignObject|<style|<img/i);
    expect(svg).toContain('data-node="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;foreignObject&gt;"');
    expect(svg).toContain('data-to="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;foreignObject&gt;dep"');
    // Only its own marker is referenced.
    expect([...svg.matchAll(/url\(([^)]*)\)/g)].map((m) => m[1])).toEqual(['#network-arrow', '#network-arrow']);
  });

  it('puts what others depend on first, so arrows run towards the foundations; a cycle does not hang it', () => {
    const svg = renderNetworkSvg([node('app'), node('db'), node('nas'), node('web')], [svc('site', 'web', ['api']), svc('api', 'app', ['pg', 'nfs']), svc('pg', 'db', ['nfs']), svc('nfs', 'nas')]).value;
    expect(elements(svg, 'g', 'node').map((g) => g['data-node'])).toEqual(['nas', 'db', 'app', 'web']);
    const cyc = renderNetworkSvg([node('a'), node('b'), node('c')], [svc('x', 'a', ['y']), svc('y', 'b', ['x']), svc('z', 'c', ['x'])]).value;
    expect(elements(cyc, 'path', 'dep').map((p) => `${p['data-from']}->${p['data-to']}`)).toEqual(['x->y', 'y->x', 'z->x']);
  });

  it('is deterministic: the same topology in any order gives the same picture', () => {
    const a = renderNetworkSvg(NODES, SERVICES).value;
    const b = renderNetworkSvg([...NODES].reverse(), [...SERVICES].reverse().map((s) => ({ ...s, dependsOn: [...s.dependsOn].reverse() }))).value;
    expect(b).toBe(a);
  });

  it('draws arrows from the dependent to the dependency, between columns and within one', () => {
    // Two boxes: a in column 0 (x 20..280), b in column 1 (x 400..660); services 10 px inside.
    const svg = renderNetworkSvg([node('a'), node('b')], [svc('y', 'a'), svc('z', 'a', ['y']), svc('x', 'b', ['y'])]).value;
    const d = (from: string) => elements(svg, 'path', 'dep').find((p) => p['data-from'] === from)!.d;
    // x (column 1) to y (column 0): out of x's left side, into y's right side (the arrow head 6 px off).
    expect(d('x')).toBe('M410 143 C343 143 343 143 276 143');
    // z to y, in one box: out of the right side and back in, bulging into the gap.
    expect(d('z')).toBe('M270 169 C303 169 303 143 276 143');
  });

  it('routes an arrow that crosses columns along the gaps, never through a box in between', () => {
    // Twelve nodes, four columns: a0..a7 (depended on) in the first two rows, b0..b3 in the third;
    // b3 (column 3) depends on a0 (column 0).
    const nodes = [...Array.from({ length: 8 }, (_, i) => node(`a${i}`)), ...Array.from({ length: 4 }, (_, i) => node(`b${i}`))];
    const svg = renderNetworkSvg(nodes, [svc('base', 'a0'), ...[0, 1, 2].map((i) => svc(`near${i}`, `b${i}`, ['base'])), svc('far', 'b3', ['base'])]).value;
    expect(elements(svg, 'g', 'node').map((g) => g['data-node'])).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'b0', 'b1', 'b2', 'b3']);
    const path = elements(svg, 'path', 'dep').find((p) => p['data-from'] === 'far')!.d!;
    const m = /^M(\d+) (\d+) L(\d+) \2 L\3 (-?\d+) L(\d+) \4 L\5 (\d+) L(\d+) \6$/.exec(path);
    expect(m, path).not.toBeNull();
    const [, x1, , gx1, lane, gx2, , x2] = m!.map(Number);
    const boxes = [0, 1, 2, 3].map((c) => [20 + c * 380, 280 + c * 380]);
    for (const x of [gx1!, gx2!]) expect(boxes.some(([l, r]) => x >= l! && x <= r!), `x ${x} inside a box`).toBe(false);
    expect(x1).toBe(1170); // b3's service, left side
    expect(x2).toBe(276); // base's right side
    expect(lane).toBeLessThan(36); // above the first row
  });

  it('is bounded beyond its limits and says how much was left out', () => {
    const many = Array.from({ length: MAX_SVG_NODES + 12 }, (_, i) => node(`n${String(i).padStart(3, '0')}`));
    const svcs = Array.from({ length: MAX_SVG_SERVICES + 40 }, (_, i) => svc(`s${String(i).padStart(3, '0')}`, `n${String(i % 40).padStart(3, '0')}`, i > 0 ? Array.from({ length: 5 }, (_, k) => `s${String((i + k + 1) % 200).padStart(3, '0')}`) : []));
    const svg = renderNetworkSvg(many, svcs).value;
    expect(elements(svg, 'g', 'node')).toHaveLength(MAX_SVG_NODES);
    const drawn = elements(svg, 'g', 'service').length;
    expect(drawn).toBeLessThanOrEqual(MAX_SVG_SERVICES);
    expect(elements(svg, 'path', 'dep').length).toBeLessThanOrEqual(MAX_SVG_EDGES);
    expect(svg).toContain(`Not drawn (too many for one picture; the tables below have everything): 12 node(s), ${svcs.length - drawn} service(s), `);
    // Services beyond the limit are left out even when their nodes are drawn.
    const one = renderNetworkSvg([node('big')], Array.from({ length: MAX_SVG_SERVICES + 5 }, (_, i) => svc(`s${i}`, 'big'))).value;
    expect(elements(one, 'g', 'service')).toHaveLength(MAX_SVG_SERVICES);
    expect(one).toContain('Not drawn (too many for one picture; the tables below have everything): 5 service(s).');
    expect(svg.length).toBeLessThan(400_000);
  });

  it('reads well at 40 nodes and 150 services: nothing left out', () => {
    const nodes = Array.from({ length: 40 }, (_, i) => node(`node-${i}`, { roles: ['r'], addresses: [`10.0.0.${i}`] }));
    const svcs = Array.from({ length: 150 }, (_, i) => svc(`svc-${i}`, `node-${i % 40}`, i >= 10 ? [`svc-${i % 10}`] : []));
    const svg = renderNetworkSvg(nodes, svcs).value;
    expect(elements(svg, 'g', 'node')).toHaveLength(40);
    expect(elements(svg, 'g', 'service')).toHaveLength(150);
    expect(elements(svg, 'path', 'dep')).toHaveLength(140);
    expect(svg).not.toContain('Not drawn');
  });
});
