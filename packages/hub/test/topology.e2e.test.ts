/**
 * The topology as a user meets it: the bundled hub with two real edges, a topology.yaml
 * declaring nodes and services (one service port really listening, one not), real
 * `ansible -m setup` against this host, a docs folder; seen through the SDK client in both eras.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, HUB_BUNDLE, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type Era, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'admin-token-0123456789abcdef';

const listen = (host: string) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => resolve(s));
  });
const portOf = (s: Server) => (s.address() as { port: number }).port;
const closeServer = (s: Server | undefined) => new Promise<void>((r) => (s ? s.close(() => r()) : r()));

let dir: string;
let home: string;
let edgeA: EdgeProcess;
let edgeB: EdgeProcess;
let web: Server; // service "web": really listening
let stray: Server; // open on the node's address, declared by nothing
let closedPort: number; // service "api": declared, nothing listens
let hub: HubProcess;

function topologyYaml(extra = ''): string {
  return [
    'subnets:',
    '  - {name: loopback, cidr: 127.0.0.0/8, vlan: 7}',
    'nodes:',
    '  - {name: nas, addresses: [127.0.0.2], roles: [storage], subnet: loopback, edge: edge-a, os: Debian, hardware: N100 mini PC}',
    '  - {name: edge-b, addresses: [127.0.0.4], roles: [speaker]}',
    '  - {name: localhost, roles: [control], description: the Ansible control host}',
    extra,
    'services:',
    `  - {name: web, node: nas, ports: [${portOf(web)}], url: "http://127.0.0.1:${portOf(web)}/"}`,
    `  - {name: api, node: nas, ports: [${closedPort}], depends_on: [web]}`,
    '  - {name: mpd, node: edge-b, ports: ["6600/udp"], container: mpd}',
    '',
  ].join('\n');
}

function hubConfig(): Record<string, unknown> {
  return {
    auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 6000, burst: 1000 } },
    nodes: [
      { name: 'edge-a', url: edgeA.url, token: '${EDGE_A_TOKEN}', roles: ['nas-edge'] },
      { name: 'edge-b', url: edgeB.url, token: '${EDGE_B_TOKEN}' },
    ],
    // Relative paths: resolved against the config file's folder.
    // The test's listeners have random ports, which the default ignores as ephemeral.
    topology: { file: 'topology.yaml', docs: 'docs', ansible: { inventory: 'inventory.ini' }, refreshMinutes: 60, drift: { ignoreCommonPorts: false } },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'topology-e2e-'));
  home = join(dir, 'home');
  mkdirSync(home);
  [edgeA, edgeB, web, stray] = await Promise.all([startEdgeProcess(), startEdgeProcess(), listen('127.0.0.1'), listen('127.0.0.2')]);
  const probe = await listen('127.0.0.1');
  closedPort = portOf(probe);
  await closeServer(probe);
  writeFileSync(join(dir, 'topology.yaml'), topologyYaml());
  mkdirSync(join(dir, 'docs', 'services'), { recursive: true });
  writeFileSync(join(dir, 'docs', 'pitfalls.md'), '# Known pitfalls\n\nThe NAS disks spin down at night; the first request takes 10 s.\n');
  writeFileSync(join(dir, 'docs', 'services', 'web.md'), '# Web notes\nRestart with systemctl restart web.\n');
  writeFileSync(join(dir, 'inventory.ini'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  hub = await startHubProcess({
    cwd: dir,
    config: hubConfig(),
    // HOME points at an empty folder: Ansible must not write ~/.ansible there.
    env: { EDGE_A_TOKEN: edgeA.token, EDGE_B_TOKEN: edgeB.token, HOME: home },
    timeoutMs: 30_000,
  });
}, 90_000);

afterAll(async () => {
  await hub?.stop();
  await Promise.all([edgeA?.stop(), edgeB?.stop(), closeServer(web), closeServer(stray)]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function refreshed(era: Era) {
  const client = await connectClient(hub.url, ADMIN, era);
  await client.callTool({ name: 'approve_writes', arguments: {} });
  const r = (await client.callTool({ name: 'refresh_topology', arguments: {} })) as any;
  return { client, r };
}

describe('topology through the hub', () => {
  it('refresh_topology is a write: held with a preview naming the ansible run, then runs once approved', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const held = (await client.callTool({ name: 'refresh_topology', arguments: {} })) as any;
    expect(held.structuredContent.status).toBe('approval_required');
    expect(held.structuredContent.preview.action).toBe(`ask 3 edges for get_status and run \`ansible all -i ${join(dir, 'inventory.ini')} -m setup\` (gathers facts on every matching host)`);
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const before = new Date().toISOString();
    const r = (await client.callTool({ name: 'refresh_topology', arguments: {} })) as any;
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent.edges).toEqual({ asked: 3, ok: 3, failed: [] });
    expect(r.structuredContent.ansible).toMatchObject({ ran: true, ok: 1, failed: [] });
    expect(resultText(r)).toContain('ansible: facts from 1 host(s)');
    // Ansible's facts on the declared node it matches, with provenance and time.
    const node = (await client.callTool({ name: 'find_node', arguments: { name_or_ip: 'localhost' } })) as any;
    const os = node.structuredContent.node.facts.os;
    expect(os).toMatchObject({ source: 'ansible', value: expect.stringMatching(/^Debian \d+/) });
    expect(os.at >= before).toBe(true);
    expect(node.structuredContent.node.facts.memoryBytes.source).toBe('ansible');
    expect(existsSync(join(home, '.ansible'))).toBe(false);
  }, 120_000);

  it('flags drift: a declared port nothing listens on, an undeclared port open on the node\'s address', async () => {
    const { client, r } = await refreshed('legacy');
    await using _c = client;
    expect(r.structuredContent.driftCount).toBeGreaterThanOrEqual(2);
    const byIp = (await client.callTool({ name: 'find_node', arguments: { name_or_ip: '127.0.0.2' } })) as any;
    const nas = byIp.structuredContent.node;
    expect(nas).toMatchObject({ name: 'nas', edge: 'edge-a', roles: ['storage', 'nas-edge'], subnet: 'loopback', vlan: 7 });
    expect(nas.facts.hardware).toEqual({ value: 'N100 mini PC', source: 'declared' });
    expect(nas.facts.kernel.source).toBe('edge');
    expect(nas.drift).toContain(`service api declares port ${closedPort}/tcp but nothing listens on it`);
    expect(nas.drift).toContain(`port ${portOf(stray)}/tcp is open on 127.0.0.2 but no service on nas declares it`);
    expect(nas.drift.join('\n')).not.toContain(`port ${portOf(web)}/`);
    expect(resultText(byIp)).toContain(`service api declares port ${closedPort}/tcp but nothing listens on it`);

    const byName = (await client.callTool({ name: 'find_node', arguments: { name_or_ip: 'EDGE-B' } })) as any;
    expect(byName.structuredContent.node).toMatchObject({ name: 'edge-b', edge: 'edge-b', addresses: expect.arrayContaining(['127.0.0.4']) });
    const none = (await client.callTool({ name: 'find_node', arguments: { name_or_ip: '10.99.0.1' } })) as any;
    expect(none.isError).toBe(true);
    expect(resultText(none)).toContain('name_or_ip: no node is named or addressed "10.99.0.1"');

    const api = (await client.callTool({ name: 'find_service', arguments: { name: 'api' } })) as any;
    expect(api.structuredContent).toMatchObject({ service: { name: 'api', node: 'nas', dependsOn: ['web'] }, drift: [`service api declares port ${closedPort}/tcp but nothing listens on it`] });
    const webSvc = (await client.callTool({ name: 'find_service', arguments: { name: 'web' } })) as any;
    expect(webSvc.structuredContent).toMatchObject({ dependents: ['api'], drift: [] });
    // The hub itself is a service on the node its host serves, on the port it listens on.
    const self = (await client.callTool({ name: 'find_service', arguments: { name: 'homelab-hub' } })) as any;
    expect(self.structuredContent.service).toMatchObject({ node: 'local', ports: [{ port: hub.port, protocol: 'tcp' }] });
    expect(self.structuredContent.drift).toEqual([]);
  }, 120_000);

  it.each<Era>(['modern', 'legacy'])('a new %s session gets the current summary in its instructions', async (era) => {
    const { client: c1, r } = await refreshed(era);
    await c1.close();
    expect(r.isError).toBeFalsy();
    await using a = await connectClient(hub.url, ADMIN, era);
    const summary = (await a.callTool({ name: 'get_topology_summary', arguments: {} })) as any;
    const first = summary.structuredContent.lastRefresh.edges as string;
    const text = a.getInstructions() ?? '';
    expect(text).toContain('list_nodes shows the devices');
    expect(text).toContain('Topology: 4 nodes (3 declared, 1 discovered), 1 subnet, 4 services; drift: ');
    expect(text).toContain(`Services: web@nas:${portOf(web)}, api@nas:${closedPort}, mpd@edge-b:6600/udp, homelab-hub@local:${hub.port}`);
    expect(text).toContain('Docs (resources): docs://pitfalls.md "Known pitfalls", docs://services/web.md "Web notes"');
    expect(text).toContain(`Discovery: edges ${first}`);
    expect(text.length).toBeLessThan(3000);
    // Another refresh: the next session sees the new time, not the old.
    const { client: c2 } = await refreshed(era);
    await c2.close();
    await using b = await connectClient(hub.url, ADMIN, era);
    const second = ((await b.callTool({ name: 'get_topology_summary', arguments: {} })) as any).structuredContent.lastRefresh.edges as string;
    expect(second > first).toBe(true);
    expect(b.getInstructions()).toContain(`Discovery: edges ${second}`);
    expect(b.getInstructions()).not.toContain(`Discovery: edges ${first}`);
  }, 180_000);

  it('serves topology://summary, topology://full and the docs as resources', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const { resources } = await client.listResources();
    const uris = resources.map((r) => r.uri);
    expect(uris).toEqual(expect.arrayContaining(['topology://summary', 'topology://full', 'docs://pitfalls.md', 'docs://services/web.md']));
    expect(resources.find((r) => r.uri === 'docs://pitfalls.md')).toMatchObject({ title: 'Known pitfalls', mimeType: 'text/markdown' });
    const doc = await client.readResource({ uri: 'docs://pitfalls.md' });
    expect((doc.contents[0] as any).text).toContain('The NAS disks spin down at night');
    const summary = await client.readResource({ uri: 'topology://summary' });
    expect((summary.contents[0] as any).text).toMatch(/^Topology: 4 nodes/);
    const full = JSON.parse(((await client.readResource({ uri: 'topology://full' })).contents[0] as any).text as string);
    expect(full.nodes.map((n: any) => `${n.name}:${n.origin}`)).toEqual(['nas:declared', 'edge-b:declared', 'localhost:declared', 'local:discovered']);
    expect(full.source).toMatchObject({ file: join(dir, 'topology.yaml'), ansible: { inventory: join(dir, 'inventory.ini'), pattern: 'all' } });
    const tool = (await client.callTool({ name: 'get_topology_full', arguments: {} })) as any;
    expect(tool.structuredContent.counts).toMatchObject({ nodes: 4, declaredNodes: 3, services: 4, subnets: 1 });
  });

  it('list_nodes keeps its hub nodes and adds addresses and the topology-only nodes, by role too', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'legacy');
    const all = (await client.callTool({ name: 'list_nodes', arguments: {} })) as any;
    expect(all.structuredContent.nodes.map((n: any) => n.name)).toEqual(['local', 'edge-a', 'edge-b']);
    expect(all.structuredContent.nodes.find((n: any) => n.name === 'edge-a')).toMatchObject({ serves: 'nas', addresses: expect.arrayContaining(['127.0.0.2']) });
    expect(all.structuredContent.topology.map((n: any) => n.name)).toEqual(['localhost']);
    expect(resultText(all)).toContain('1 more in the topology:\n- localhost [control]');
    const storage = (await client.callTool({ name: 'list_nodes', arguments: { role: 'storage' } })) as any;
    expect(storage.structuredContent.nodes.map((n: any) => n.name)).toEqual(['edge-a']);
    const control = (await client.callTool({ name: 'list_nodes', arguments: { role: 'control' } })) as any;
    expect(control.structuredContent.nodes).toEqual([]);
    expect(control.structuredContent.topology.map((n: any) => n.name)).toEqual(['localhost']);
  });

  it('re-applies the topology on config reload: a new session sees the new node', async () => {
    writeFileSync(join(dir, 'topology.yaml'), topologyYaml('  - {name: printer, addresses: [192.0.2.50], roles: [office]}'));
    const cfg = join(dir, 'hub.yaml');
    writeFileSync(cfg, readFileSync(cfg, 'utf8') + '\n# reload\n');
    await expect
      .poll(async () => {
        await using c = await connectClient(hub.url, ADMIN, 'modern');
        return c.getInstructions() ?? '';
      }, { timeout: 20_000, interval: 500 })
      .toContain('Topology: 5 nodes (4 declared, 1 discovered)');
    await using c = await connectClient(hub.url, ADMIN, 'modern');
    const printer = (await c.callTool({ name: 'find_node', arguments: { name_or_ip: '192.0.2.50' } })) as any;
    expect(printer.structuredContent.node).toMatchObject({ name: 'printer', roles: ['office'] });
  }, 60_000);

  it('reads topology.yaml again when it is edited, without a refresh or a config reload', async () => {
    // A refresh first, so the edit cannot ride on a refresh that was already running.
    const { client: c } = await refreshed('modern');
    await using _c = c;
    writeFileSync(join(dir, 'topology.yaml'), topologyYaml('  - {name: scanner, addresses: [192.0.2.51], roles: [office]}'));
    await expect
      .poll(async () => ((await c.callTool({ name: 'find_node', arguments: { name_or_ip: 'scanner' } })) as any).structuredContent?.node?.roles, { timeout: 20_000, interval: 300 })
      .toEqual(['office']);
  }, 60_000);
});

describe('a bad topology file', () => {
  it('fails check-config and start, naming the file, line and key', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'topology-bad-'));
    try {
      writeFileSync(join(bad, 'topology.yaml'), 'nodes:\n  - {name: nas}\nservices:\n  - {name: web, node: nsa, ports: [80]}\n');
      writeFileSync(join(bad, 'hub.yaml'), 'topology:\n  file: topology.yaml\n');
      const expected = `${join(bad, 'topology.yaml')}:4:17: key "services[0].node": expected the name of a declared node, got "nsa" (known: nas)`;
      const run = async (args: string[]) => {
        try {
          await promisify(execFile)(process.execPath, [HUB_BUNDLE, ...args], { cwd: bad, timeout: 20_000 });
          return { code: 0, err: '' };
        } catch (e) {
          return { code: (e as { code: number }).code, err: (e as { stderr: string }).stderr };
        }
      };
      expect(await run(['check-config', join(bad, 'hub.yaml')])).toEqual({ code: 1, err: `${expected}\n` });
      const start = await run(['serve', '--config', join(bad, 'hub.yaml'), '--listen', '127.0.0.1:0']);
      expect(start.code).toBe(2);
      expect(start.err).toBe(`homelab-hub: ${expected}\n`);
      writeFileSync(join(bad, 'hub.yaml'), 'topology:\n  ansible: {inventory: hosts.ini}\n');
      expect(await run(['check-config', join(bad, 'hub.yaml')])).toEqual({ code: 1, err: `${join(bad, 'hub.yaml')}: key "topology.ansible.inventory": ${join(bad, 'hosts.ini')} does not exist\n` });
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('embedded default', () => {
  it('the topology is the local node and the hub itself as a service on its port', async () => {
    await using h = await startHubProcess();
    const token = readFileSync(join(h.dir, 'data', 'token'), 'utf8').trim();
    await using client = await connectClient(h.url, token, 'modern');
    // Discovery runs in the background from the start; the hub's own port is seen listening.
    await expect
      .poll(async () => ((await client.callTool({ name: 'get_topology_summary', arguments: {} })) as any).structuredContent.summary as string, { timeout: 20_000 })
      .toContain('Topology: 1 node (0 declared, 1 discovered), 0 subnets, 1 service; drift: 0.');
    const summary = ((await client.callTool({ name: 'get_topology_summary', arguments: {} })) as any).structuredContent.summary as string;
    expect(summary).toMatch(/Discovery: edges 20\d\d-/);
    expect(client.getInstructions()).toContain('Topology: 1 node (0 declared, 1 discovered)');
    expect(summary).toContain(`Services: homelab-hub@local:${h.port}`);
    expect(summary).toContain('Roles: hub (local)');
    // Out of the box nothing is broken: the hub's service is checked where it listens (loopback),
    // not on an interface address of the host.
    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as any;
    expect(health.structuredContent.summary).toBe('2 of 2 healthy');
    const hubCheck = health.structuredContent.items.find((i: any) => i.name === 'homelab-hub');
    expect(hubCheck.findings).toContainEqual(expect.objectContaining({ check: `port ${h.port}/tcp`, status: 'ok' }));
    // The hub's own host by loopback, as a user on it would ask.
    for (const q of ['127.0.0.1', '::1', 'localhost']) {
      const found = (await client.callTool({ name: 'find_node', arguments: { name_or_ip: q } })) as any;
      expect(found.isError, q).toBeFalsy();
      expect(found.structuredContent.node.name).toBe('local');
    }
  }, 60_000);

  it('logs one JSON-lines stream: the in-process edge\'s lines in the hub\'s format', async () => {
    // No docker on the PATH: the local edge says its docker capability is not active (a warning).
    const emptyPath = mkdtempSync(join(tmpdir(), 'homelab-empty-path-'));
    try {
      await using h = await startHubProcess({ env: { PATH: emptyPath } });
      await expect.poll(() => h.output(), { timeout: 10_000 }).toContain('"capability":"docker"');
      const records = h.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.find((r) => r.capability === 'docker')).toMatchObject({ level: 'warn', name: 'hub', node: 'local', msg: 'capability not active' });
      for (const r of records) {
        expect(typeof r.level, JSON.stringify(r)).toBe('string');
        expect(r.time, JSON.stringify(r)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
    } finally {
      rmSync(emptyPath, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('refresh_topology without Ansible', () => {
  it('is a read (no approval asked, [read] in tools/list) until a reload configures an inventory, then a write', async () => {
    const own = mkdtempSync(join(tmpdir(), 'topology-e2e-noansible-'));
    try {
      writeFileSync(join(own, 'topology.yaml'), 'nodes:\n  - {name: edge-a, addresses: [127.0.0.1]}\n');
      writeFileSync(join(own, 'inventory.ini'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
      const base = { auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 6000, burst: 1000 } }, local: { enabled: false }, nodes: [{ name: 'edge-a', url: edgeA.url, token: edgeA.token }], topology: { file: 'topology.yaml' } };
      await using noAnsible = await startHubProcess({ cwd: own, config: base });
      await using client = await connectClient(noAnsible.url, ADMIN, 'modern');
      // A 2025-era session holds a stream: it is told when the list changes.
      await using session = await connectClient(noAnsible.url, ADMIN, 'legacy');
      let listChanged = 0;
      session.setNotificationHandler('notifications/tools/list_changed', () => void listChanged++);
      const def = async () => (await session.listTools()).tools.find((t) => t.name === 'refresh_topology')!;
      expect((await def()).annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
      expect((await def()).description).toMatch(/^\[read\] /);
      // No approve_writes first: it runs at once.
      const r = (await client.callTool({ name: 'refresh_topology', arguments: {} })) as any;
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent.edges).toEqual({ asked: 1, ok: 1, failed: [] });
      expect(r.structuredContent.ansible).toEqual({ ran: false, why: 'no Ansible inventory configured (topology.ansible)' });

      // A reload adds an inventory: now it connects to every inventory host, a write again,
      // and the open session is told (only the class changed, not the names).
      writeFileSync(join(own, 'hub.yaml'), JSON.stringify({ ...base, dataDir: './data', topology: { file: 'topology.yaml', ansible: { inventory: 'inventory.ini' } } }));
      await expect.poll(() => listChanged, { timeout: 10_000 }).toBeGreaterThan(0);
      expect((await def()).annotations).toMatchObject({ readOnlyHint: false });
      expect((await def()).description).toMatch(/^\[write: needs approval\] /);
      const held = (await session.callTool({ name: 'refresh_topology', arguments: {} })) as any;
      expect(held.structuredContent.status).toBe('approval_required');
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('drift ignore lists', () => {
  it('hides the common system ports (here: the ephemeral range) by default; ignorePorts per node hides one; instructions show a count and the top few', async () => {
    const own = mkdtempSync(join(tmpdir(), 'topology-e2e-drift-'));
    const [one, two, three, four] = await Promise.all([listen('127.0.0.5'), listen('127.0.0.5'), listen('127.0.0.5'), listen('127.0.0.5')]);
    try {
      // Linux hands out port-0 binds from ip_local_port_range: 32768-60999 unless tuned.
      expect([one, two, three, four].every((s) => portOf(s) >= 32768 && portOf(s) <= 60999)).toBe(true);
      writeFileSync(join(own, 'topology.yaml'), 'nodes:\n  - {name: box, addresses: [127.0.0.5], edge: edge-a}\n');
      const base = { auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 6000, burst: 1000 } }, local: { enabled: false }, nodes: [{ name: 'edge-a', url: edgeA.url, token: edgeA.token }] };
      const write = (drift: Record<string, unknown>) => writeFileSync(join(own, 'hub.yaml'), JSON.stringify({ ...base, dataDir: './data', topology: { file: 'topology.yaml', drift } }));
      await using h = await startHubProcess({ cwd: own, config: { ...base, topology: { file: 'topology.yaml' } } });
      const boxDrift = async () => {
        await using c = await connectClient(h.url, ADMIN, 'modern');
        await c.callTool({ name: 'refresh_topology', arguments: {} });
        // Only this test's listeners: the machine may have other wildcard listeners of its own.
        return (((await c.callTool({ name: 'find_node', arguments: { name_or_ip: 'box' } })) as any).structuredContent.node.drift as string[]).filter((d) => d.includes(' on 127.0.0.5 '));
      };
      const line = (s: Server) => `port ${portOf(s)}/tcp is open on 127.0.0.5 but no service on box declares it`;
      expect(await boxDrift()).toEqual([]);

      write({ ignoreCommonPorts: false });
      await expect.poll(boxDrift, { timeout: 10_000 }).toEqual(expect.arrayContaining([one, two, three, four].map(line)));
      // A new session's instructions: the count, three of them, and where the rest is.
      await using fresh = await connectClient(h.url, ADMIN, 'legacy');
      const text = fresh.getInstructions() ?? '';
      const count = Number(/; drift: (\d+)\.\n/.exec(text)?.[1]);
      expect(count).toBeGreaterThanOrEqual(4);
      expect(text).toContain(`\nDrift: `);
      expect(text).toMatch(new RegExp(`\\nDrift: (box: port \\d+/tcp is open on [^;]+ but no service on box declares it; ){3}\\+${count - 3} more \\(find_node, get_topology_full; ignore ports with topology\\.drift in hub\\.yaml\\)\\n`));

      write({ ignoreCommonPorts: false, nodes: { box: { ignorePorts: [portOf(one), `${portOf(two)}-${portOf(two)}`] } } });
      await expect.poll(boxDrift, { timeout: 10_000 }).toEqual([three, four].map(line).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    } finally {
      await Promise.all([one, two, three, four].map(closeServer));
      rmSync(own, { recursive: true, force: true });
    }
  }, 60_000);
});
