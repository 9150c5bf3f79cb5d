import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError } from '@homelab-mcp/core/config';
import type { HubNode } from '../catalog/nodes.ts';
import type { CallContext } from '../catalog/types.ts';
import { HUB_BUNDLE } from '@homelab-mcp/testkit';
import { createLocalNode, type LocalNode } from '../nodes/local-node.ts';
import { topologyResources, topologyTools } from '../tools/topology/topology-tools.ts';
import { createTopology, type HubTopology } from './topology.ts';

const dir = mkdtempSync(join(tmpdir(), 'topology-hub-test-'));
const listen = (host: string) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => resolve(s));
  });
const portOf = (s: Server) => (s.address() as { port: number }).port;
const ctx: CallContext = { caller: { user: 'alice', role: 'admin' }, session: 's1', signal: new AbortController().signal };

let local: LocalNode;
let service: Server; // a declared service that really listens
let stray: Server; // an open port nothing declares, on the node's declared address
let closedPort: number; // a declared port nothing listens on
let topology: HubTopology;
let file: string;

beforeAll(async () => {
  // The local node's process is the hub bundle's `local-node` command (built by vitest's global setup).
  local = await createLocalNode({ name: 'local', roles: ['hub'], command: { execPath: process.execPath, args: [HUB_BUNDLE, 'local-node'] }, env: { PATH: process.env.PATH ?? '' }, log: { info() {}, warn() {}, error() {} } });
  service = await listen('127.0.0.1');
  stray = await listen('127.0.0.3');
  const probe = await listen('127.0.0.1');
  closedPort = portOf(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  file = join(dir, 'topology.yaml');
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs', 'pitfalls.md'), '# Known pitfalls\nThe NAS sleeps at night.\n');
  writeFileSync(
    file,
    [
      'subnets: [{name: lo, cidr: 127.0.0.0/8}]',
      'nodes:',
      '  - {name: server, addresses: [127.0.0.3], roles: [web], subnet: lo, edge: local, os: Debian}',
      '  - {name: printer, addresses: [192.0.2.50], roles: [office]}',
      'services:',
      `  - {name: web, node: server, ports: [${portOf(service)}], url: "http://127.0.0.1:${portOf(service)}/"}`,
      `  - {name: api, node: server, ports: [${closedPort}, "5353/udp"], depends_on: [web]}`,
      '',
    ].join('\n'),
  );
  // The test's listeners have random ports, in the ephemeral range ignored by default.
  topology = createTopology({ file, docs: join(dir, 'docs'), hubNodes: () => [local], hubService: { name: 'homelab-hub', hubNode: 'local' }, edgeNames: ['local'], drift: { ignoreCommonPorts: false } });
});

afterAll(async () => {
  topology?.close();
  await local?.close();
  await Promise.all([service, stray].map((s) => new Promise<void>((r) => (s ? s.close(() => r()) : r()))));
  rmSync(dir, { recursive: true, force: true });
});

describe('createTopology with the real in-process edge', () => {
  it('shows the declared base before any refresh, without drift (nothing known yet)', () => {
    const server = topology.findNode('server')!;
    expect(server).toMatchObject({ edge: 'local', addresses: ['127.0.0.3'], roles: ['web', 'hub'], subnet: 'lo', drift: [] });
    expect(server.listeningPorts).toBeUndefined();
    expect(topology.summary()).toContain('Discovery: edges not yet.');
  });

  it('refreshes from get_status: facts with provenance, both kinds of drift, change listeners told', async () => {
    let changes = 0;
    const off = topology.onChange(() => void changes++);
    const report = await topology.refresh({ ansible: true });
    off();
    expect(changes).toBe(1);
    expect(report).toMatchObject({ edges: { asked: 1, ok: 1, failed: [] }, ansible: { ran: false, why: 'no Ansible inventory configured (topology.ansible)' } });
    const server = topology.findNode('server')!;
    expect(server.facts.os).toEqual({ value: 'Debian', source: 'declared' });
    expect(server.facts.memoryBytes).toMatchObject({ source: 'edge', at: expect.any(String) });
    expect(server.listeningPorts?.some((l) => l.port === portOf(service))).toBe(true);
    expect(server.drift).toContain(`service api declares port ${closedPort}/tcp but nothing listens on it`);
    expect(server.drift).toContain(`port ${portOf(stray)}/tcp is open on 127.0.0.3 but no service on server declares it`);
    expect(server.drift.some((d) => d.includes(`port ${portOf(service)}/`))).toBe(false);
    expect(server.drift.some((d) => d.includes('5353'))).toBe(false); // UDP is not checked
    expect(topology.findService('WEB')?.name).toBe('web');
    expect(topology.findService('api')?.dependsOn).toEqual(['web']);
    // The hub runs on `local`, which serves `server`: it is a service there.
    expect(topology.findService('homelab-hub')).toMatchObject({ node: 'server', ports: [] });
    topology.setHubPort(portOf(service));
    expect(topology.findService('homelab-hub')?.ports).toEqual([{ port: portOf(service), protocol: 'tcp' }]);
  });

  it('finds nodes by name, case-insensitive name and address', () => {
    expect(topology.findNode('127.0.0.3')?.name).toBe('server');
    expect(topology.findNode('PRINTER')?.name).toBe('printer');
    expect(topology.findNode('192.0.2.50')?.name).toBe('printer');
    expect(topology.findNode('10.9.9.9')).toBeUndefined();
  });

  it('finds the hub\'s own host by loopback (127.0.0.1, ::1, localhost): the node its in-process edge serves, no other', () => {
    for (const q of ['127.0.0.1', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) expect(topology.findNode(q)?.name, q).toBe('server');
    expect(topology.findNode('::2')).toBeUndefined();
  });

  it('runs one refresh at a time: requests during a run share the next one', async () => {
    let calls = 0;
    const counting: HubNode = { ...local, source: { ...local.source, callTool: (n, a, o) => (calls++, local.source.callTool(n, a, o)) } };
    const t = createTopology({ hubNodes: () => [counting] });
    try {
      const a = t.refresh({ ansible: false });
      const b = t.refresh({ ansible: false });
      const c = t.refresh({ ansible: true });
      expect(b).not.toBe(a);
      expect(c).toBe(b);
      const [ra, rb] = await Promise.all([a, b, c]);
      expect(calls).toBe(2);
      expect(rb.at >= ra.at).toBe(true);
    } finally {
      t.close();
    }
  });

  it('asks get_status for addresses and listening ports read now, and an edge that takes no arguments without them', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const status = { hostname: 'old', listening: [{ family: 'ipv4', address: '0.0.0.0', port: 22 }] };
    const answer = (args: Record<string, unknown>) =>
      Object.keys(args).length
        ? { content: [{ type: 'text' as const, text: 'Invalid arguments for get_status: include: is not a known argument' }], isError: true }
        : { content: [{ type: 'text' as const, text: 'old' }], structuredContent: status };
    const edge = (name: string, tools: () => ReturnType<HubNode['source']['tools']>): HubNode => ({
      ...local,
      name,
      source: {
        ...local.source,
        tools,
        // Still connecting when not listed: an up node that lists no get_status is not asked.
        state: () => (tools().length ? local.source.state() : { ...local.source.state(), status: 'connecting' }),
        callTool: async (_n, a) => (seen.push({ name, ...a }), answer(a as Record<string, unknown>)),
      },
    });
    const current = local.source.tools();
    expect(current.find((t) => t.name === 'get_status')?.inputSchema).toMatchObject({ properties: { include: expect.anything(), fresh: expect.anything() } });
    const old = current.map((t) => (t.name === 'get_status' ? { ...t, inputSchema: { type: 'object' as const, properties: {}, additionalProperties: false } } : t));
    const t = createTopology({ hubNodes: () => [edge('listed-old', () => old), edge('unlisted', () => [])] });
    try {
      const r = await t.refresh({ ansible: false });
      expect(r.edges).toMatchObject({ asked: 2, ok: 2 });
      // Listed without arguments: asked with none. Not listed yet: asked as a current edge, then again without.
      expect(seen).toEqual([{ name: 'listed-old' }, { name: 'unlisted', include: ['network', 'listening'], fresh: true }, { name: 'unlisted' }]);
    } finally {
      t.close();
    }
    // The real edge: asked with both, and answers the listening ports.
    const asked: unknown[] = [];
    const real: HubNode = { ...local, source: { ...local.source, callTool: (n, a, o) => (asked.push(a), local.source.callTool(n, a, o)) } };
    const t2 = createTopology({ hubNodes: () => [real] });
    try {
      expect((await t2.refresh({ ansible: false })).edges).toMatchObject({ asked: 1, ok: 1 });
      expect(asked).toEqual([{ include: ['network', 'listening'], fresh: true }]);
    } finally {
      t2.close();
    }
  });

  it('keeps its running topology when a reconfigure brings a bad file', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'nodes:\n  - {name: a}\nservices:\n  - {name: s, node: b}\n');
    let err: unknown;
    try {
      topology.reconfigure({ file: bad, edgeNames: ['local'] });
    } catch (e) {
      err = e;
    }
    expect(isConfigError(err)).toBe(true);
    expect((err as Error).message).toBe(`${bad}:4:15: key "services[0].node": expected the name of a declared node, got "b" (known: a)`);
    expect(topology.findNode('server')).toBeDefined();
  });
});

describe('the embedded default (no topology file, the hub host is node local)', () => {
  it('answers find_node for 127.0.0.1, ::1 and localhost with local; without the local node, loopback is no node', async () => {
    const embedded = createTopology({ hubNodes: () => [local], hubService: { name: 'homelab-hub', hubNode: 'local' }, edgeNames: ['local'] });
    const remoteOnly = createTopology({ hubNodes: () => [{ ...local, name: 'pi', url: 'http://127.0.0.1:18222/mcp' }], edgeNames: ['pi'] });
    try {
      await Promise.all([embedded.refresh({ ansible: false }), remoteOnly.refresh({ ansible: false })]);
      const [tool] = topologyTools(() => embedded).filter((t) => t.def.name === 'find_node');
      for (const q of ['127.0.0.1', '::1', 'localhost']) {
        const r = await tool!.call({ name_or_ip: q }, ctx);
        expect(r.isError, q).toBeFalsy();
        expect((r.structuredContent as { node: { name: string } }).node.name).toBe('local');
      }
      // Its edge reports its interface addresses, never loopback: only the hub's own node matches.
      expect(embedded.findNode('local')!.addresses.some((a) => a.startsWith('127.') || a === '::1')).toBe(false);
      expect(remoteOnly.findNode('127.0.0.1')).toBeUndefined();
      expect(remoteOnly.findNode('localhost')).toBeUndefined();
    } finally {
      embedded.close();
      remoteOnly.close();
    }
  });
});

describe('an edge that stops answering', () => {
  it('keeps its last facts with their time, drops its ports (no drift from stale data), and says why', async () => {
    let down = false;
    const flaky: HubNode = {
      ...local,
      name: 'flaky',
      source: { ...local.source, callTool: (name, args, o) => (down ? Promise.reject(new Error('node flaky is unreachable')) : local.source.callTool(name, args, o)) },
    };
    const f = join(dir, 'flaky.yaml');
    writeFileSync(f, `nodes: [{name: flaky, addresses: [127.0.0.3]}]\nservices: [{name: api, node: flaky, ports: [${closedPort}]}]\n`);
    const t = createTopology({ file: f, hubNodes: () => [flaky] });
    try {
      await t.refresh({ ansible: false });
      const before = t.findNode('flaky')!;
      expect(before.drift).toContain(`service api declares port ${closedPort}/tcp but nothing listens on it`);
      down = true;
      const report = await t.refresh({ ansible: false });
      expect(report.edges).toEqual({ asked: 1, ok: 0, failed: [{ node: 'flaky', error: 'node flaky is unreachable' }] });
      const after = t.full().nodes.find((n) => n.name === 'flaky')!;
      expect(after.facts.memoryBytes).toEqual(before.facts.memoryBytes);
      expect(after.listeningPorts).toBeUndefined();
      expect(after.drift).toEqual([]);
      expect(after.errors).toEqual({ edge: 'node flaky is unreachable' });
    } finally {
      t.close();
    }
  });
});

describe('an edited topology.yaml', () => {
  it('is read again on refresh; an invalid edit keeps the previous version and is reported', async () => {
    const f = join(dir, 'edited.yaml');
    writeFileSync(f, 'nodes: [{name: a}]\n');
    const t = createTopology({ file: f, hubNodes: () => [] });
    try {
      expect(t.nodes().map((n) => n.name)).toEqual(['a']);
      writeFileSync(f, 'nodes: [{name: a}, {name: b, addresses: [10.0.0.2]}]\n');
      expect((await t.refresh({ ansible: false })).fileError).toBeUndefined();
      expect(t.findNode('10.0.0.2')?.name).toBe('b');
      writeFileSync(f, 'nodes: [{name: a}, {name: a}]\n');
      const report = await t.refresh({ ansible: false });
      expect(report.fileError).toBe(`${f}:1:21: key "nodes[1].name": duplicate name "a" (already used by nodes[0])`);
      expect(t.nodes().map((n) => n.name)).toEqual(['a', 'b']);
    } finally {
      t.close();
    }
  });
});

describe('topology tools and resources', () => {
  const tools = () => Object.fromEntries(topologyTools(() => topology).map((t) => [t.def.name, t]));

  it('have annotations matching their class', () => {
    const t = tools();
    for (const name of ['get_topology_summary', 'get_topology_full', 'find_node', 'find_service']) {
      expect(t[name]!.toolClass).toBe('read');
      expect(t[name]!.def.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
    // No Ansible inventory: it only asks the edges, a read.
    expect(t.refresh_topology!.toolClass).toBe('read');
    expect(t.refresh_topology!.def.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: true });
  });

  it('refresh_topology is a write exactly while an Ansible inventory is configured, and says so in its annotations', () => {
    const t = createTopology({ ansible: { inventory: '/nonexistent/inventory.ini', pattern: 'all', timeoutSeconds: 5 }, hubNodes: () => [], edgeNames: [] });
    try {
      const [refresh] = topologyTools(() => t).filter((x) => x.def.name === 'refresh_topology');
      expect(refresh!.toolClass).toBe('write');
      expect(refresh!.def.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, openWorldHint: true });
      expect(refresh!.preview!({ ansible: false })).toEqual({ tool: 'refresh_topology', where: ['hub'], action: 'ask 0 edges for get_status', arguments: { ansible: false } });
      // A reload that drops the inventory makes it a read again.
      t.reconfigure({ edgeNames: [] });
      expect(refresh!.toolClass).toBe('read');
      expect(refresh!.def.annotations).toMatchObject({ readOnlyHint: true });
    } finally {
      t.close();
    }
  });

  it('find_node and find_service answer with text and structuredContent, and name the argument when wrong', async () => {
    const t = tools();
    const node = (await t.find_node!.call({ name_or_ip: '127.0.0.3' }, ctx)) as any;
    expect(node.structuredContent.node.name).toBe('server');
    expect(node.content[0].text).toMatch(/^server: 127\.0\.0\.3(, [^ ]+)* \[web, hub\], edge local\n/);
    expect(node.content[0].text).toMatch(/os@edge=.* \(edge 20\d\d-/);
    expect(node.content[0].text).toContain(`service api declares port ${closedPort}/tcp but nothing listens on it`);
    const missing = (await t.find_node!.call({ name_or_ip: 'nope' }, ctx)) as any;
    expect(missing.isError).toBe(true);
    expect(missing.content[0].text).toBe('name_or_ip: no node is named or addressed "nope" (known nodes: server, printer)');
    expect(((await t.find_node!.call({}, ctx)) as any).content[0].text).toBe('name_or_ip: expected a non-empty string');
    const svc = (await t.find_service!.call({ name: 'web' }, ctx)) as any;
    expect(svc.structuredContent).toMatchObject({ service: { name: 'web', node: 'server' }, dependents: ['api'], drift: [] });
    expect(svc.content[0].text).toContain('depends on: nothing; needed by: api');
    const api = (await t.find_service!.call({ name: 'api' }, ctx)) as any;
    expect(api.structuredContent.drift).toEqual([`service api declares port ${closedPort}/tcp but nothing listens on it`]);
  });

  it('summary, full and the resources agree', async () => {
    const t = tools();
    const summary = (await t.get_topology_summary!.call({}, ctx)) as any;
    expect(summary.content[0].text).toBe(topology.summary());
    expect(summary.content[0].text).toContain('Docs (resources): docs://pitfalls.md "Known pitfalls"');
    const full = (await t.get_topology_full!.call({}, ctx)) as any;
    expect(full.structuredContent.counts).toMatchObject({ nodes: 2, declaredNodes: 2, services: 3, subnets: 1 });
    const res = topologyResources(topology);
    expect(res.map((r) => r.def.uri)).toEqual(['topology://summary', 'topology://full', 'docs://pitfalls.md']);
    const doc = await res[2]!.read(ctx);
    expect(doc.contents[0]).toMatchObject({ uri: 'docs://pitfalls.md', mimeType: 'text/markdown', text: '# Known pitfalls\nThe NAS sleeps at night.\n' });
    const fullRes = JSON.parse(((await res[1]!.read(ctx)).contents[0] as { text: string }).text);
    expect(fullRes.nodes.map((n: { name: string }) => n.name)).toEqual(['server', 'printer']);
  });
});
