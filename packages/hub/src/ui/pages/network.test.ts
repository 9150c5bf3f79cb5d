import { describe, expect, it } from 'vitest';
import type { TopologyNodeView, TopologyService } from '../../topology/topology.ts';
import type { UpstreamHealth } from '../../transports/http.ts';
import type { UiData } from '../contract.ts';
import type { PageContext } from '../page.ts';
import { networkPage } from './network.ts';

const NOW = Date.parse('2026-12-07T12:00:00Z');

/** A UiData whose topology and node health are these. */
function fakeData(nodes: TopologyNodeView[], services: TopologyService[], health: UpstreamHealth[] = []): UiData {
  return {
    version: '0.0.0-test',
    startedAt: new Date(NOW - 3_600_000),
    nodesAndUpstreams: () => health,
    integrations: async () => [],
    topology: { nodes: () => nodes, services: () => services, lastRefresh: () => ({ edges: '2026-12-07T11:59:00Z' }) },
    journalStats: () => ({ dir: '/tmp/j', files: 1, bytes: 0, appended: 0, commits: 0, held: 0 }),
    shipper: () => undefined,
    shipperBacklog: async () => undefined,
    sessions: () => [],
    activity: () => [],
    approval: () => undefined,
    modeOf: () => 'session',
    pending: () => [],
    audit: async () => ({ events: [] }),
    follow: () => () => undefined,
    tools: () => [],
    playbooks: async () => undefined,
  };
}

const render = async (data: UiData) => (await networkPage.render({ data, viewer: { user: 'vic', role: 'viewer', key: 'k' }, query: new URLSearchParams(), signal: new AbortController().signal, now: NOW } satisfies PageContext)).value;

const node = (name: string, x: Partial<TopologyNodeView> = {}): TopologyNodeView => ({ name, addresses: [], roles: [], facts: {}, drift: [], ...x });
const svc = (name: string, on: string, dependsOn: string[] = [], x: Partial<TopologyService> = {}): TopologyService => ({ name, node: on, ports: [], dependsOn, ...x });

/** The cells of the row of `table` whose data attribute is `key`, tags stripped. */
function row(out: string, cls: string, attr: string, key: string): string[] {
  const m = new RegExp(`<tr class="${cls}[^"]*" ${attr}="${key}">(.*?)</tr>`).exec(out);
  if (!m) throw new Error(`no ${cls} ${key}`);
  return [...m[1]!.matchAll(/<td>(.*?)<\/td>/g)].map((c) => c[1]!.replace(/<[^>]+>/g, ''));
}

describe('networkPage', () => {
  it('shows the picture, then nodes and services with state, drift and dependencies both ways', async () => {
    const out = await render(
      fakeData(
        [
          node('nas', { roles: ['storage'], addresses: ['192.168.1.10', 'fd00::10'], os: 'Debian 12', hardware: 'N100', edge: 'nas-edge', drift: ['service smb declares port 445/tcp but nothing listens on it'] }),
          node('pi1', { roles: ['speaker'], addresses: ['192.168.1.21'], edge: 'pi1', origin: 'discovered' }),
          node('server', {}),
        ],
        [svc('nfs', 'nas', [], { ports: [{ port: 2049, protocol: 'tcp' }] }), svc('smb', 'nas', [], { ports: [{ port: 445, protocol: 'tcp' }, { port: 137, protocol: 'udp' }] }), svc('jellyfin', 'server', ['nfs']), svc('mpd', 'pi1', ['SMB', 'nfs', 'object-store'])],
        [
          { name: 'nas-edge', kind: 'node', status: 'up', since: '2026-12-07T10:00:00Z' },
          { name: 'pi1', kind: 'node', status: 'down', since: '2026-12-07T11:00:00Z', error: 'connection refused' },
          { name: 'server', kind: 'upstream', status: 'up', since: '2026-12-07T10:00:00Z' },
        ],
      ),
    );
    expect(networkPage.path).toBe('network');
    expect(out).toContain('<svg id="network-graph"');
    expect(out.indexOf('<svg')).toBeLessThan(out.indexOf('<table id="nodes"'));
    expect(out).toContain('<table id="services"');
    // The picture: the NAS's services have arrows in.
    expect(out).toContain('data-from="jellyfin" data-to="nfs"');
    expect(out).toContain('data-from="mpd" data-to="smb"');
    expect(out).toContain('data-from="mpd" data-to="object-store"');
    expect(out).toContain('class="state state-up"');

    expect(row(out, 'node-row', 'data-node', 'nas')).toEqual(['nas', 'storage', '192.168.1.10, fd00::10', 'Debian 12, N100', 'up (nas-edge, since 2026-12-07 10:00:00)', 'service smb declares port 445/tcp but nothing listens on it']);
    expect(row(out, 'node-row', 'data-node', 'pi1')).toEqual(['pi1 (discovered)', 'speaker', '192.168.1.21', 'not known', 'down (pi1, since 2026-12-07 11:00:00)connection refused', 'none']);
    // An upstream of the same name is not the node's edge.
    expect(row(out, 'node-row', 'data-node', 'server')).toEqual(['server', '-', '-', 'not known', 'no edge', 'none']);
    expect(out).toMatch(/<tr class="node-row drifted" data-node="nas">/);

    expect(row(out, 'service-row', 'data-service', 'nfs')).toEqual(['nfs', 'nas', '2049/tcp', '-', 'jellyfin, mpd']);
    expect(row(out, 'service-row', 'data-service', 'smb')).toEqual(['smb', 'nas', '445/tcp, 137/udp', '-', 'mpd']);
    expect(row(out, 'service-row', 'data-service', 'mpd')).toEqual(['mpd', 'pi1', '-', 'nfs, object-store (unknown), SMB', '-']);
  });

  it('lets its wide tables scroll inside the page on a phone, not the whole page', async () => {
    // Six columns of a real topology are wider than a 360 px screen: each table scrolls alone.
    const out = await render(fakeData([node('homeserver', { roles: ['hub'], addresses: ['192.168.1.5'], os: 'Debian 12' })], [svc('grafana', 'homeserver')]));
    expect(out).toMatch(/<div class="table-scroll"><table id="nodes"[^]*?<\/table><\/div>/);
    expect(out).toMatch(/<div class="table-scroll"><table id="services"[^]*?<\/table><\/div>/);
  });

  it('says when the topology is empty', async () => {
    const out = await render(fakeData([], []));
    expect(out).toContain('id="network-empty"');
    expect(out).not.toContain('<svg');
  });

  it('escapes hostile names everywhere', async () => {
    const evil = '<script>alert(1)</script>';
    const out = await render(fakeData([node(evil, { roles: [evil], addresses: [evil], os: evil, drift: [evil], edge: evil })], [svc(evil, evil, [evil, `${evil}x`], { description: evil })], [{ name: evil, kind: 'node', status: 'down', since: 'x', error: evil }]));
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});
