import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError, type ConfigError } from './config.ts';
import { isAddressOrHostname, isCidr, loadTopologyFile, parseTopologyText, type TopologyLoadOptions } from './topology.ts';

const GOOD = `
subnets:
  - name: lan
    cidr: 192.168.1.0/24
    vlan: 10
  - {name: iot, cidr: "fd00:10::/64"}
nodes:
  - name: nas
    addresses: [192.168.1.10, nas.lan]
    roles: [storage]
    subnet: lan
    os: Debian 12
    hardware: N100 mini PC
    edge: nas-edge
  - name: pi-kitchen
    addresses: ["fd00:10::5"]
    roles: [speaker]
    ansibleHost: kitchen
services:
  - name: postgres
    node: nas
    ports: [5432]
    unit: postgresql.service
  - name: grafana
    node: nas
    ports: [3000, "3001/tcp", "53/udp", {port: 9000, protocol: udp}, {port: 9001}]
    url: http://nas.lan:3000
    dependsOn: [postgres]
  - name: mpd
    node: pi-kitchen
    ports: ["6600"]
    container: mpd
    depends_on: [grafana]
`;

function errorOf(text: string, opts: TopologyLoadOptions = {}): ConfigError {
  try {
    parseTopologyText(text, 'topology.yaml', { env: {}, ...opts });
  } catch (err) {
    if (isConfigError(err)) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseTopologyText', () => {
  it('reads subnets, nodes and services, ports in every spelling, depends_on as dependsOn', () => {
    const t = parseTopologyText(GOOD, 'topology.yaml', { env: {} });
    expect(t.subnets).toEqual([
      { name: 'lan', cidr: '192.168.1.0/24', vlan: 10 },
      { name: 'iot', cidr: 'fd00:10::/64' },
    ]);
    expect(t.nodes[1]).toEqual({ name: 'pi-kitchen', addresses: ['fd00:10::5'], roles: ['speaker'], ansibleHost: 'kitchen' });
    expect(t.services.find((s) => s.name === 'grafana')!.ports).toEqual([
      { port: 3000, protocol: 'tcp' },
      { port: 3001, protocol: 'tcp' },
      { port: 53, protocol: 'udp' },
      { port: 9000, protocol: 'udp' },
      { port: 9001, protocol: 'tcp' },
    ]);
    expect(t.services.find((s) => s.name === 'mpd')).toEqual({ name: 'mpd', node: 'pi-kitchen', ports: [{ port: 6600, protocol: 'tcp' }], container: 'mpd', dependsOn: ['grafana'] });
    expect(t.services.find((s) => s.name === 'postgres')!.dependsOn).toEqual([]);
  });

  it('accepts an empty-ish file with defaults, and ${VAR} in values', () => {
    expect(parseTopologyText('nodes: []\n', 't.yaml', { env: {} })).toEqual({ subnets: [], nodes: [], services: [] });
    const t = parseTopologyText('nodes:\n  - name: nas\n    addresses: ["${NAS_IP}"]\n', 't.yaml', { env: { NAS_IP: '10.0.0.2' } });
    expect(t.nodes[0]!.addresses).toEqual(['10.0.0.2']);
  });

  it('reads a MAC in any usual spelling, and names the key of a bad one', () => {
    const t = parseTopologyText('nodes:\n  - { name: nas, mac: "00-11-32-AB-CD-EF" }\n', 't.yaml', { env: {} });
    expect(t.nodes[0]!.mac).toBe('00:11:32:ab:cd:ef');
    expect(errorOf('nodes:\n  - name: nas\n    mac: "00:11:32:ab:cd"\n').message).toMatch(/^topology\.yaml:3:5: key "nodes\[0\]\.mac": expected a MAC address such as b8:27:eb:12:34:56, got "00:11:32:ab:cd"/);
  });

  it('names file, line:column and key for a service on an undeclared node', () => {
    const err = errorOf('nodes:\n  - name: nas\nservices:\n  - name: a\n    node: nas\n  - name: b\n    node: nsa\n');
    expect(err.message).toBe('topology.yaml:7:5: key "services[1].node": expected the name of a declared node, got "nsa" (known: nas)');
  });

  it('rejects unknown dependencies, self-dependencies and cycles, at the key the user wrote', () => {
    const text = [
      'nodes: [{name: n}]',
      'services:',
      '  - {name: a, node: n, dependsOn: [b]}',
      '  - {name: b, node: n, depends_on: [c]}',
      '  - {name: c, node: n, dependsOn: [a, ghost, c]}',
      '',
    ].join('\n');
    expect(errorOf(text).problems).toEqual([
      'topology.yaml:5:39: key "services[2].dependsOn[1]": expected the name of a declared service, got "ghost" (known: a, b, c)',
      'topology.yaml:5:46: key "services[2].dependsOn[2]": a service cannot depend on itself ("c")',
      'topology.yaml:3:24: key "services[0].dependsOn": dependency cycle: a -> b -> c -> a',
    ]);
    expect(errorOf('nodes: [{name: n}]\nservices:\n  - {name: a, node: n, depends_on: [b]}\n  - {name: b, node: n, depends_on: [a]}\n').problems).toEqual([
      'topology.yaml:3:24: key "services[0].depends_on": dependency cycle: a -> b -> a',
    ]);
  });

  it('rejects both spellings of dependsOn at once', () => {
    expect(errorOf('nodes: [{name: n}]\nservices:\n  - {name: a, node: n, dependsOn: [], depends_on: []}\n').message).toBe(
      'topology.yaml:3:39: key "services[0].depends_on": give either dependsOn or depends_on, not both',
    );
  });

  it('rejects duplicate names, undeclared subnets, bad addresses, CIDRs, ports and VLANs', () => {
    const text = [
      'subnets:',
      '  - {name: lan, cidr: 192.168.1.0/33}',
      '  - {name: lan, cidr: 10.0.0.0/8, vlan: 5000}',
      'nodes:',
      '  - name: nas',
      '    addresses: [192.168.1.10, "not a host!"]',
      '    subnet: dmz',
      '  - name: nas',
      'services:',
      '  - {name: s, node: nas, ports: [0, "70000/tcp", "53/sctp", {port: 1, protocol: icmp}]}',
      '',
    ].join('\n');
    expect(errorOf(text).problems).toEqual([
      'topology.yaml:2:17: key "subnets[0].cidr": expected a CIDR range such as 192.168.1.0/24 or fd00::/64',
      'topology.yaml:3:35: key "subnets[1].vlan": expected a number <= 4094',
      'topology.yaml:6:31: key "nodes[0].addresses[1]": expected an IP address or a hostname',
      'topology.yaml:10:34: key "services[0].ports[0]": expected a number >= 1',
      'topology.yaml:10:37: key "services[0].ports[1]": expected a port such as 8080, "8080/tcp" or "53/udp"',
      'topology.yaml:10:50: key "services[0].ports[2]": expected a port such as 8080, "8080/tcp" or "53/udp"',
      'topology.yaml:10:71: key "services[0].ports[3].protocol": expected one of "tcp", "udp"',
    ]);
    // Once the shapes are valid, the cross-checks speak.
    expect(errorOf('subnets:\n  - {name: lan, cidr: 10.0.0.0/8}\n  - {name: lan, cidr: 10.1.0.0/16}\nnodes:\n  - {name: nas, subnet: dmz}\n').problems).toEqual([
      'topology.yaml:3:6: key "subnets[1].name": duplicate name "lan" (already used by subnets[0])',
      'topology.yaml:5:17: key "nodes[0].subnet": expected the name of a declared subnet, got "dmz" (known: lan)',
    ]);
  });

  it('suggests the right key for a typo and lists the keys a service takes', () => {
    expect(errorOf('nodes: [{name: n}]\nservices:\n  - name: a\n    node: n\n    dependOn: []\n').message).toBe(
      'topology.yaml:5:5: key "services[0].dependOn": unknown key "dependOn", did you mean "dependsOn"? (expected one of: name, node, ports, url, unit, container, dependsOn, depends_on, description)',
    );
  });

  it('checks an explicit edge against the hub nodes when they are given', () => {
    expect(errorOf('nodes:\n  - {name: nas, edge: nas-edge}\n', { edgeNames: ['local', 'pi'] }).message).toBe(
      'topology.yaml:2:17: key "nodes[0].edge": expected the name of a hub node (edge), got "nas-edge" (hub nodes: local, pi)',
    );
    expect(parseTopologyText('nodes:\n  - {name: nas, edge: pi}\n', 't.yaml', { env: {}, edgeNames: ['pi'] }).nodes[0]!.edge).toBe('pi');
  });
});

describe('loadTopologyFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'topology-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a file and names it in errors', () => {
    const file = join(dir, 'topology.yaml');
    writeFileSync(file, GOOD);
    expect(loadTopologyFile(file, { env: {} }).nodes.map((n) => n.name)).toEqual(['nas', 'pi-kitchen']);
    writeFileSync(file, 'nodes:\n  - name: nas\n    roles: storage\n');
    expect(() => loadTopologyFile(file, { env: {} })).toThrow(`${file}:3:5: key "nodes[0].roles": expected list, got string`);
    expect(() => loadTopologyFile(join(dir, 'missing.yaml'))).toThrow('missing.yaml: cannot read: no such file');
  });
});

describe('address checks', () => {
  it('tells IPs and hostnames from junk', () => {
    for (const ok of ['10.0.0.1', '::1', 'fe80::1', 'nas', 'nas.lan', 'pi-4.home.arpa.']) expect(isAddressOrHostname(ok)).toBe(true);
    for (const bad of ['', 'a b', '-nas', 'nas_', 'http://nas', '10.0.0.1/24']) expect(isAddressOrHostname(bad)).toBe(false);
    for (const ok of ['10.0.0.0/8', '0.0.0.0/0', 'fd00::/64', '::/0']) expect(isCidr(ok)).toBe(true);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fd00::/129', 'lan/24', '10.0.0.0/-1']) expect(isCidr(bad)).toBe(false);
  });
});
