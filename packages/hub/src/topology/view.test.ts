import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseTopologyText } from '@homelab-mcp/core/topology';
import { collectStatus } from '@homelab-mcp/edge/src/capabilities/status/collect.ts';
import { factsFromAnsible, factsFromStatus } from './facts.ts';
import { buildView, driftIgnored, MAX_DRIFT_PER_NODE, type AnsibleObservation, type DriftSettings, type EdgeObservation, type TopologyViewData } from './view.ts';
import { boundedList, formatSummary, SUMMARY_BUDGET } from './summary.ts';

const PI = fileURLToPath(new URL('../../../edge/src/capabilities/status/__fixtures__/raspberry-pi-4/', import.meta.url));

/** The real edge collector on the Raspberry Pi fixture tree: what a Pi's get_status returns. */
async function piStatus() {
  return collectStatus({
    procRoot: join(PI, 'proc'),
    sysRoot: join(PI, 'sys'),
    etcRoot: join(PI, 'etc'),
    statfs: async () => ({ bsize: 4096, blocks: 7_600_000, bfree: 3_900_000, bavail: 3_590_000 }),
    networkInterfaces: () => ({
      lo: [{ address: '127.0.0.1', family: 'IPv4', cidr: '127.0.0.1/8', internal: true }],
      eth0: [
        { address: '192.168.1.100', family: 'IPv4', cidr: '192.168.1.100/24', internal: false },
        { address: 'fe80::dea6:32ff:fe4f:8b12', family: 'IPv6', cidr: 'fe80::dea6:32ff:fe4f:8b12/64', internal: false },
      ],
    }),
  });
}

const TOPOLOGY = `
subnets:
  - {name: lan, cidr: 192.168.1.0/24, vlan: 10}
nodes:
  - name: pi-kitchen
    addresses: [192.168.1.100]
    roles: [speaker]
    subnet: lan
    os: Raspberry Pi OS
  - name: nas
    addresses: [192.168.1.10]
    roles: [storage]
    edge: nas-edge
    ansibleHost: nas.lan
  - name: switch
    addresses: [192.168.1.2]
services:
  - {name: mpd, node: pi-kitchen, ports: [6600, "6600/udp"]}
  - {name: sshd, node: nas, ports: [22]}
`;

const at = '2026-11-21T10:00:00.000Z';

describe('factsFromStatus on the real collector output', () => {
  it('keeps OS, board, memory, disks, addresses (no loopback or link-local) and listening TCP sockets', async () => {
    const { facts, listening } = factsFromStatus(await piStatus());
    expect(facts).toMatchObject({
      hostname: 'pi4',
      os: 'Debian GNU/Linux 12 (bookworm)',
      hardware: 'Raspberry Pi 4 Model B Rev 1.4',
      arch: 'aarch64',
      cpuCount: 4,
      memoryBytes: 7998044 * 1024,
      addresses: ['192.168.1.100'],
    });
    expect(facts.disks?.[0]).toMatchObject({ mountpoint: '/', percent: 50.8 });
    expect(listening).toEqual([
      { port: 22, protocol: 'tcp', address: '0.0.0.0' },
      { port: 22, protocol: 'tcp', address: '::' },
      { port: 8222, protocol: 'tcp', address: '::' },
    ]);
  });

  it('survives junk without throwing', () => {
    expect(factsFromStatus(null)).toEqual({ facts: {} });
    expect(factsFromStatus({ os: 'x', listening: [{ port: 'a' }, { port: 70000 }, { port: 80 }] })).toEqual({ facts: {}, listening: [{ port: 80, protocol: 'tcp' }] });
  });
});

describe('buildView', () => {
  it('merges declared, edge and ansible facts with provenance and flags drift both ways', async () => {
    const declared = parseTopologyText(TOPOLOGY, 'topology.yaml', { env: {} });
    const pi = factsFromStatus(await piStatus());
    const edges = new Map<string, EdgeObservation>([
      ['pi-kitchen', { at, ok: true, facts: pi.facts, listening: pi.listening! }],
      ['nas-edge', { at, ok: false, error: 'connection refused' }],
      ['garage', { at, ok: true, facts: { os: 'Alpine' }, listening: [{ port: 9100, protocol: 'tcp', address: '0.0.0.0' }] }],
    ]);
    const ansible = new Map<string, AnsibleObservation>([
      ['nas.lan', { at, ok: true, facts: factsFromAnsible({ ansible_facts: { ansible_distribution: 'Debian', ansible_distribution_version: '12.11', ansible_memtotal_mb: 16000, ansible_all_ipv4_addresses: ['192.168.1.10', '10.8.0.1'], ansible_system_vendor: 'NA' } }) }],
      ['printer', { at, ok: false, error: 'unreachable: timed out' }],
    ]);
    const view = buildView({
      declared,
      hubNodes: [
        { name: 'pi-kitchen', roles: ['audio'], edgePort: 8222 },
        { name: 'nas-edge', roles: [] },
        { name: 'garage', roles: ['sensors'] },
      ],
      edges,
      ansible,
      hubService: { name: 'homelab-hub', hubNode: 'garage', port: 8765 },
    });

    const byName = Object.fromEntries(view.nodes.map((n) => [n.name, n]));
    expect(view.nodes.map((n) => `${n.name}:${n.origin}`)).toEqual(['pi-kitchen:declared', 'nas:declared', 'switch:declared', 'garage:discovered', 'printer:discovered']);

    const pk = byName['pi-kitchen']!;
    expect(pk).toMatchObject({ edge: 'pi-kitchen', roles: ['speaker', 'audio'], subnet: 'lan', vlan: 10, os: 'Raspberry Pi OS', hardware: 'Raspberry Pi 4 Model B Rev 1.4' });
    expect(pk.facts.os).toEqual({ value: 'Raspberry Pi OS', source: 'declared' });
    expect(pk.facts['os@edge']).toEqual({ value: 'Debian GNU/Linux 12 (bookworm)', source: 'edge', at });
    expect(pk.facts.hardware).toEqual({ value: 'Raspberry Pi 4 Model B Rev 1.4', source: 'edge', at });
    // Declared 6600/tcp has no listener; 6600/udp cannot be checked; 22 is open on the
    // wildcards and declared by nothing, but SSH is a common system port; 8222 is the edge itself.
    expect(pk.drift).toEqual(['service mpd declares port 6600/tcp but nothing listens on it']);
    const strict = buildView({ declared, hubNodes: [{ name: 'pi-kitchen', roles: ['audio'], edgePort: 8222 }], edges, ansible, drift: { ignoreCommonPorts: false } });
    expect(strict.nodes.find((n) => n.name === 'pi-kitchen')!.drift).toEqual([
      'service mpd declares port 6600/tcp but nothing listens on it',
      'port 22/tcp is open on 0.0.0.0, :: but no service on pi-kitchen declares it',
    ]);

    const nas = byName.nas!;
    expect(nas).toMatchObject({ edge: 'nas-edge', addresses: ['192.168.1.10', '10.8.0.1'], os: 'Debian 12.11', errors: { edge: 'connection refused' }, lastSeen: { ansible: at } });
    expect(nas.facts.os).toEqual({ value: 'Debian 12.11', source: 'ansible', at });
    expect(nas.facts.memoryBytes).toEqual({ value: 16000 * 1024 * 1024, source: 'ansible', at });
    expect(nas.listeningPorts).toBeUndefined();
    expect(nas.drift).toEqual([]); // its edge did not answer: nothing to compare

    expect(byName.switch).toMatchObject({ addresses: ['192.168.1.2'], drift: [] });
    expect(byName.switch!.edge).toBeUndefined();

    // A hub node serving no declared node is a discovered node; only declared ports count there.
    expect(byName.garage).toMatchObject({ discoveredBy: 'edge', roles: ['sensors'], os: 'Alpine', edge: 'garage' });
    expect(byName.garage!.drift).toEqual(['service homelab-hub declares port 8765/tcp but nothing listens on it']);
    expect(byName.printer).toMatchObject({ discoveredBy: 'ansible', errors: { ansible: 'unreachable: timed out' } });

    expect(view.services.map((s) => `${s.name}@${s.node}`)).toEqual(['mpd@pi-kitchen', 'sshd@nas', 'homelab-hub@garage']);
  });

  it('a declared service named like the hub replaces the automatic one; drift lists are capped', () => {
    const declared = parseTopologyText('nodes: [{name: box}]\nservices:\n  - {name: homelab-hub, node: box, ports: [443]}\n', 't.yaml', { env: {} });
    const listening = Array.from({ length: 60 }, (_, i) => ({ port: 10_000 + i, protocol: 'tcp' as const, address: '0.0.0.0' }));
    const view = buildView({ declared, hubNodes: [{ name: 'box', roles: [] }], edges: new Map([['box', { at, ok: true, facts: {}, listening }]]), ansible: new Map(), hubService: { name: 'homelab-hub', hubNode: 'box', port: 8765 } });
    expect(view.services).toEqual([{ name: 'homelab-hub', node: 'box', ports: [{ port: 443, protocol: 'tcp' }], dependsOn: [] }]);
    const drift = view.nodes[0]!.drift;
    expect(drift).toHaveLength(MAX_DRIFT_PER_NODE + 1);
    expect(drift[0]).toBe('service homelab-hub declares port 443/tcp but nothing listens on it');
    expect(drift[MAX_DRIFT_PER_NODE]).toBe('... and 36 more');
  });

  it('counts a port bound to one of the node\'s declared addresses as open there, and ignores other loopback listeners', () => {
    const declared = parseTopologyText('nodes: [{name: box, addresses: [127.0.0.2]}]\n', 't.yaml', { env: {} });
    const listening = [
      { port: 5000, protocol: 'tcp' as const, address: '127.0.0.2' },
      { port: 5001, protocol: 'tcp' as const, address: '127.0.0.1' },
      { port: 5002, protocol: 'tcp' as const, address: '::ffff:127.0.0.2' },
    ];
    const view = buildView({ declared, hubNodes: [{ name: 'box', roles: [] }], edges: new Map([['box', { at, ok: true, facts: {}, listening }]]), ansible: new Map() });
    expect(view.nodes[0]!.drift).toEqual([
      'port 5000/tcp is open on 127.0.0.2 but no service on box declares it',
      'port 5002/tcp is open on ::ffff:127.0.0.2 but no service on box declares it',
    ]);
  });
});

describe('formatSummary', () => {
  it('names counts, subnets, roles, services, docs and drift', async () => {
    const declared = parseTopologyText(TOPOLOGY, 'topology.yaml', { env: {} });
    const pi = factsFromStatus(await piStatus());
    const view = buildView({ declared, hubNodes: [{ name: 'pi-kitchen', roles: [], edgePort: 8222 }], edges: new Map([['pi-kitchen', { at, ok: true, ...pi } as EdgeObservation]]), ansible: new Map() });
    const text = formatSummary({ view, docs: [{ uri: 'docs://pitfalls.md', path: 'pitfalls.md', title: 'Known pitfalls', size: 10 }], lastRefresh: { edges: at }, ansibleConfigured: true });
    expect(text.split('\n')).toEqual([
      'Topology: 3 nodes (3 declared, 0 discovered), 1 subnet, 2 services; drift: 1.',
      'Subnets: lan 192.168.1.0/24 vlan 10',
      'Nodes: pi-kitchen 192.168.1.100 [speaker], nas 192.168.1.10 [storage], switch 192.168.1.2',
      'Roles: speaker (pi-kitchen), storage (nas)',
      'Services: mpd@pi-kitchen:6600/6600/udp, sshd@nas:22',
      'Docs (resources): docs://pitfalls.md "Known pitfalls"',
      'Drift: pi-kitchen: service mpd declares port 6600/tcp but nothing listens on it',
      `Discovery: edges ${at}, ansible not yet. Details: find_node, find_service, get_topology_full, resources topology://summary and topology://full.`,
    ]);
  });

  it('stays within its budget for a large network', () => {
    const nodes = Array.from({ length: 400 }, (_, i) => `  - {name: node-${i}, addresses: [10.0.${i >> 8}.${i & 255}], roles: [role-${i % 50}]}`);
    const services = Array.from({ length: 800 }, (_, i) => `  - {name: service-${i}, node: node-${i % 400}, ports: [${1000 + i}]}`);
    const subnets = Array.from({ length: 30 }, (_, i) => `  - {name: net-${i}, cidr: 10.${i}.0.0/16}`);
    const declared = parseTopologyText(`subnets:\n${subnets.join('\n')}\nnodes:\n${nodes.join('\n')}\nservices:\n${services.join('\n')}\n`, 't.yaml', { env: {} });
    const view = buildView({ declared, hubNodes: [], edges: new Map(), ansible: new Map() });
    const docs = Array.from({ length: 100 }, (_, i) => ({ uri: `docs://n${i}.md`, path: `n${i}.md`, title: `Note ${i}`, size: 1 }));
    const text = formatSummary({ view, docs, ansibleConfigured: false });
    expect(text.length).toBeLessThanOrEqual(SUMMARY_BUDGET);
    expect(text).toContain('Topology: 400 nodes (400 declared, 0 discovered), 30 subnets, 800 services; drift: 0.');
    expect(text).toMatch(/Services: service-0@node-0:1000, .* \+\d+ more\n/);
    expect(text).toMatch(/Docs \(resources\): .* \+\d+ more\n/);
    expect(text).toContain('Discovery: edges not yet. Details:');
  });

  it('boundedList cuts with a count of what is left', () => {
    expect(boundedList(['a', 'b', 'c'], 100)).toBe('a, b, c');
    expect(boundedList(['aaaa', 'bbbb', 'cccc', 'dddd'], 19)).toBe('aaaa, bbbb, +2 more');
    expect(boundedList(['aaaa', 'bbbb', 'cccc', 'dddd'], 18)).toBe('aaaa, +3 more');
  });
});

describe('drift ignore lists', () => {
  const declared = parseTopologyText('nodes:\n  - {name: a, addresses: [10.0.0.1]}\n  - {name: b, addresses: [10.0.0.2]}\nservices:\n  - {name: web, node: a, ports: [80, 22]}\n', 'topology.yaml', { env: {} });
  const ports = [22, 53, 111, 631, 5353, 5355, 8080, 9000, 9050, 32768, 45000, 60999, 61000];
  const listening = ports.map((port) => ({ port, protocol: 'tcp' as const, address: '0.0.0.0' }));
  const edges = new Map<string, EdgeObservation>([
    ['a', { at, ok: true, facts: {}, listening }],
    ['b', { at, ok: true, facts: {}, listening }],
  ]);
  const open = (drift: string[]) => drift.map((d) => /^port (\d+)\/tcp is open/.exec(d)?.[1]).filter(Boolean).map(Number);
  const view = (drift?: DriftSettings) => Object.fromEntries(buildView({ declared, hubNodes: [{ name: 'a', roles: [] }, { name: 'b', roles: [] }], edges, ansible: new Map(), ...(drift ? { drift } : {}) }).nodes.map((n) => [n.name, n.drift]));

  it('ignores the common system ports by default, a declared service port never', () => {
    const v = view();
    expect(open(v.a!)).toEqual([8080, 9000, 9050, 61000]);
    expect(v.a).toContain('service web declares port 80/tcp but nothing listens on it');
    expect(open(v.b!)).toEqual([8080, 9000, 9050, 61000]);
    expect(open(view({ ignoreCommonPorts: false }).b!)).toEqual(ports);
  });

  it('adds global ports and ranges, and a node\'s own', () => {
    const v = view({ ignorePorts: [8080], nodes: { b: { ignorePorts: ['9000-9100', 61000] } } });
    expect(open(v.a!)).toEqual([9000, 9050, 61000]);
    expect(open(v.b!)).toEqual([]);
    expect(driftIgnored({ ignoreCommonPorts: false, ignorePorts: ['100-200'] }, 'x')(150)).toBe(true);
    expect(driftIgnored({ ignoreCommonPorts: false }, 'x')(22)).toBe(false);
    expect(driftIgnored(undefined, 'x')(22)).toBe(true);
  });
});

describe('formatSummary drift', () => {
  it('shows a count and the first three, services that nothing serves first', () => {
    const nodes = Array.from({ length: 4 }, (_, i) => ({
      name: `n${i}`,
      origin: 'declared' as const,
      addresses: [],
      roles: [],
      facts: {},
      drift: [`port ${8000 + i}/tcp is open on 0.0.0.0 but no service on n${i} declares it`, ...(i === 3 ? [`service s${i} declares port 9${i}/tcp but nothing listens on it`] : [])],
    }));
    const text = formatSummary({ view: { nodes, services: [], subnets: [] } as unknown as TopologyViewData, docs: [], ansibleConfigured: false });
    expect(text).toContain('drift: 5.');
    expect(text).toContain(
      'Drift: n3: service s3 declares port 93/tcp but nothing listens on it; n0: port 8000/tcp is open on 0.0.0.0 but no service on n0 declares it; n1: port 8001/tcp is open on 0.0.0.0 but no service on n1 declares it; +2 more (find_node, get_topology_full; ignore ports with topology.drift in hub.yaml)',
    );
  });
});
