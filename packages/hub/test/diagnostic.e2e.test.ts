/**
 * "Is anything broken in my homelab?" and "why is X down?" end to end: the bundled hub with
 * real edges as nodes, a real Prometheus with a rule that fires, the fake Loki with error
 * lines, and a topology that declares the services; then one edge is killed and the
 * diagnosis has to name it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, createFakeDocker, resultText, startEdgeProcess, startFakeLoki, startHubProcess, startPrometheus } from '@homelab-mcp/testkit';

const TOKEN = 'diag-admin-token-0123456789abcdef';

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const { server, port } = await listen(() => undefined);
  await new Promise((r) => server.close(r));
  return port;
}

/** The bundled hub with these edges as nodes and `topology` as its topology file, admin TOKEN. */
function startDiagHub(edges: Record<string, { url: string; token?: string | undefined }>, topology: string, extra: Record<string, unknown> = {}) {
  return startHubProcess({
    config: {
      auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] },
      local: { enabled: false },
      nodes: Object.entries(edges).map(([name, e]) => ({ name, url: e.url, token: e.token })),
      topology: { file: topology },
      ...extra,
    },
  });
}

describe('service_health and run_diagnostic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-diag-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says what is broken and why, and names a node that died', { timeout: 120_000 }, async () => {
    const web = await listen((req, res) => {
      res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' }).end('ok');
    });
    const dbPort = await closedPort();
    // No Docker engine runs here: alpha's docker answers like one whose worker container died.
    using docker = createFakeDocker([
      {
        command: 'inspect',
        args: ['worker-1'],
        stdout: JSON.stringify([{ Id: 'c0ffee0123456789', Name: '/worker-1', RestartCount: 3, State: { Status: 'exited', Running: false, OOMKilled: false, ExitCode: 1, Error: '', StartedAt: '2026-11-21T09:00:00Z', FinishedAt: '2026-11-21T10:42:00Z' }, Config: { Image: 'worker:2', Labels: {} } }]),
      },
      { command: 'logs', args: ['worker-1'], stdout: '2026-11-21T10:41:59.000000000Z worker: connecting to db\n2026-11-21T10:42:00.000000000Z worker: FATAL db unreachable\n' },
    ]);
    await using alpha = await startEdgeProcess({ env: { PATH: docker.pathWith() } });
    const beta = await startEdgeProcess();
    await using loki = await startFakeLoki();
    await using prom = await startPrometheus({
      rules: [{ alert: 'WebappErrors', expr: 'vector(1)', labels: { severity: 'warning', service: 'webapp' }, annotations: { summary: 'webapp returns errors' } }],
    });
    // Error lines in Loki that mention the web app, one that does not.
    const now = BigInt(Date.now()) * 1_000_000n;
    await fetch(`${loki.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        streams: [
          { stream: { job: 'webapp', host: 'alpha' }, values: [[String(now - 2_000_000_000n), 'webapp: ERROR upstream timed out'], [String(now - 1_000_000_000n), 'webapp: request served']] },
          { stream: { job: 'other' }, values: [[String(now), 'other: error somewhere else']] },
        ],
      }),
    });
    const topology = join(dir, 'topology.yaml');
    writeFileSync(
      topology,
      [
        'nodes:',
        '  - { name: alpha, addresses: [127.0.0.1], roles: [web] }',
        '  - { name: beta, addresses: [127.0.0.1], roles: [db] }',
        'services:',
        `  - { name: webapp, node: alpha, ports: [${web.port}], url: "http://127.0.0.1:${web.port}/health", dependsOn: [db] }`,
        `  - { name: db, node: beta, ports: [${dbPort}] }`,
        '  - { name: worker, node: alpha, container: worker-1 }',
        '',
      ].join('\n'),
    );
    try {
      await using hub = await startDiagHub({ alpha, beta }, topology, { integrations: { prometheus: { url: prom.url }, loki: { url: loki.url } } });
      await using client = await connectClient(hub.url, TOKEN, 'modern');
      // Rules are evaluated every second: wait for the first evaluation to fire it.
      await expect.poll(async () => resultText(await client.callTool({ name: 'prom_alerts', arguments: {} })), { timeout: 30_000, interval: 300 }).toContain('FIRING WebappErrors');

      const health = (await client.callTool({ name: 'service_health', arguments: {} })) as any;
      const summary: string = health.structuredContent.summary;
      expect(summary).toMatch(/^\d+ of \d+ healthy; Prometheus: 1 alert firing \(WebappErrors\)/);
      expect(summary).toContain(`db unhealthy: 127.0.0.1:${dbPort} does not accept connections (connection refused)`);
      expect(summary).not.toMatch(/alpha|beta unreachable/);
      expect(summary).toContain('worker unhealthy: container worker-1 is exited, exit code 1');
      const webapp = health.structuredContent.items.find((i: any) => i.name === 'webapp');
      expect(webapp).toMatchObject({ kind: 'service', healthy: true });

      const diag = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'webapp' } })) as any;
      const byCheck = Object.fromEntries(diag.structuredContent.findings.map((f: any) => [f.check, f]));
      expect(byCheck.node.status).toBe('ok');
      expect(byCheck[`port ${web.port}/tcp`].status).toBe('ok');
      expect(byCheck.http).toMatchObject({ status: 'ok' });
      expect(byCheck.logs.status).toBe('warning');
      expect(byCheck.logs.detail).toContain('webapp: ERROR upstream timed out');
      expect(byCheck.logs.detail).not.toContain('request served');
      expect(byCheck.alerts).toMatchObject({ status: 'problem' });
      expect(byCheck.alerts.detail).toContain('WebappErrors (webapp returns errors)');
      expect(byCheck['dependency db'].status).toBe('problem');
      expect(diag.structuredContent.suggestions.join('\n')).toContain('depends on db, which is unhealthy');

      // db's port is closed on the hub side and on the node: "nothing listens".
      const db = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'db' } })) as any;
      expect(db.content[0].text).toContain(`from beta itself, 127.0.0.1:${dbPort} is closed`);
      expect(db.structuredContent.suggestions.join('\n')).toContain(`Nothing listens on port ${dbPort} on beta`);

      // By service name: the topology says where and what (a container), the edge's docker answers.
      const worker = (await client.callTool({ name: 'get_service_status', arguments: { service: 'worker' } })) as any;
      expect(worker.content[0].text).toContain('container worker-1 (worker:2, c0ffee012345) is exited (ended 2026-11-21T10:42:00Z)\nexit code 1\nrestarted 3 times');
      const logs = (await client.callTool({ name: 'get_container_logs', arguments: { container: 'worker-1', lines: 20 } })) as any;
      expect(logs.structuredContent.lines).toEqual(['2026-11-21T10:41:59.000000000Z worker: connecting to db', '2026-11-21T10:42:00.000000000Z worker: FATAL db unreachable']);
      expect(docker.calls().filter((c) => c.command === 'logs').map((c) => c.argv)).toEqual([['logs', '--tail', '20', '--timestamps', 'worker-1']]);
      const noNode = (await client.callTool({ name: 'get_container_logs', arguments: { container: 'elsewhere-1' } })) as any;
      expect(noNode).toMatchObject({ isError: true, content: [{ text: 'the topology does not say where container elsewhere-1 runs: pass `node`' }] });
      const workerDiag = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'worker' } })) as any;
      expect(workerDiag.structuredContent.suggestions.join('\n')).toContain('read its output with get_container_logs(container: "worker-1")');

      const usage = (await client.callTool({ name: 'get_resource_usage', arguments: {} })) as any;
      expect(usage.structuredContent.nodes.map((n: any) => [n.node, n.ok])).toEqual([['alpha', true], ['beta', true]]);
      expect(usage.content[0].text).toMatch(/^2 nodes(, [12] with warnings)?\n(! )?alpha: .*memory [\d.]+% of/);

      // beta dies: both answers name it.
      await beta.stop();
      const after = (await client.callTool({ name: 'service_health', arguments: {} })) as any;
      expect(after.structuredContent.summary).toMatch(/beta unreachable since \d\d:\d\d:\d\dZ/);
      const dbDown = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'db' } })) as any;
      const nodeFinding = dbDown.structuredContent.findings.find((f: any) => f.check === 'node');
      expect(nodeFinding).toMatchObject({ status: 'problem' });
      expect(nodeFinding.detail).toMatch(/^node beta is unreachable since/);
      // The host itself (127.0.0.1) still answers: the edge agent is what is down.
      expect(dbDown.structuredContent.suggestions.join('\n')).toContain('beta answers on the network but its edge agent does not');

      const unknown = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'nope' } })) as any;
      expect(unknown.content[0].text).toContain('nope is not a service of the topology (known: webapp, db, worker)');
      const usageAfter = (await client.callTool({ name: 'get_resource_usage', arguments: { node: 'all' } })) as any;
      expect(usageAfter.content[0].text).toMatch(/^2 nodes, 1 unreachable[\s\S]*\nbeta: node beta is unreachable since/);
    } finally {
      await beta.stop().catch(() => undefined);
      await new Promise((r) => web.server.close(r));
    }
  });
});

describe('a node that cannot be asked about units or containers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-diag-caps-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports the unit and container checks as skipped, not as a service that is down; an unknown node is refused', { timeout: 90_000 }, async () => {
    const api = await listen((_req, res) => res.end('ok'));
    const cache = await listen((_req, res) => res.end('ok'));
    // "bare": no systemctl and no docker on its PATH, so both capabilities probe unavailable.
    // "off": those and the network probes turned off by flag, so it does not offer their tools.
    const emptyPath = mkdtempSync(join(dir, 'path-'));
    const gonePort = await closedPort();
    await using bare = await startEdgeProcess({ env: { PATH: emptyPath } });
    await using off = await startEdgeProcess({ args: ['--disable-systemd', '--disable-docker', '--disable-network'] });
    const topology = join(dir, 'topology.yaml');
    writeFileSync(
      topology,
      [
        'nodes:',
        '  - { name: bare, addresses: [127.0.0.1] }',
        '  - { name: off, addresses: [127.0.0.1] }',
        'services:',
        `  - { name: api, node: bare, ports: [${api.port}], unit: api.service, container: api-1 }`,
        `  - { name: cache, node: off, ports: [${cache.port}], unit: cache.service, container: cache-1 }`,
        `  - { name: gone, node: off, ports: [${gonePort}] }`,
        '  - { name: dns, node: bare, ports: ["53/udp"] }',
        '',
      ].join('\n'),
    );
    try {
      await using hub = await startDiagHub({ bare, off }, topology);
      await using client = await connectClient(hub.url, TOKEN, 'modern');

      const health = (await client.callTool({ name: 'service_health', arguments: {} })) as any;
      expect(health.structuredContent.summary).toBe(`5 of 6 healthy; gone unhealthy: 127.0.0.1:${gonePort} does not accept connections (connection refused)`);
      // Only its node could be seen: the answer says so rather than a plain "healthy".
      expect(resultText(health)).toContain('✓ dns: healthy only as far as its node bare is up; 53/udp is not probed from the hub (UDP has no handshake)');
      for (const name of ['api', 'cache']) {
        const item = health.structuredContent.items.find((i: any) => i.name === name);
        expect(item).toMatchObject({ kind: 'service', healthy: true });
        const byCheck = Object.fromEntries(item.findings.map((f: any) => [f.check, f]));
        expect(byCheck.unit.status).toBe('skipped');
        expect(byCheck.container.status).toBe('skipped');
      }

      const diag = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'api' } })) as any;
      expect(diag.content[0].text).toMatch(/^Diagnosis of api on bare: no problem found/);
      expect(diag.content[0].text).toContain('- unit: unit api.service cannot be checked on bare: get_service_status is not available on this node');
      expect(diag.structuredContent.suggestions.join('\n')).not.toMatch(/is not running/);
      const cacheDiag = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'cache' } })) as any;
      expect(cacheDiag.content[0].text).toContain('- container: container cache-1 cannot be checked on off: get_container_status is not offered by node off');
      expect(cacheDiag.structuredContent.problems).toBe(0);
      // Its port is closed, and the node cannot be asked to look from its side: one problem, not two.
      const goneDiag = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'gone' } })) as any;
      const onNode = goneDiag.structuredContent.findings.find((f: any) => f.check === `port ${gonePort}/tcp on the node`);
      expect(onNode).toMatchObject({ status: 'skipped', detail: 'could not check from off: check_port is not offered by node off (its capability is turned off there)' });
      expect(goneDiag.structuredContent.problems).toBe(1);

      // A unit asked for by name on a node without systemd: nothing about it could be seen.
      const unit = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'sshd', node: 'bare' } })) as any;
      expect(resultText(unit)).toMatch(/^Diagnosis of sshd on bare: no problem found, but its unit, container, ports and URL could not be checked\n/);

      // A mistyped node is refused before anything is probed, naming the known ones.
      const typo = (await client.callTool({ name: 'run_diagnostic', arguments: { service: 'api', node: 'bear' } })) as any;
      expect(typo.isError).toBe(true);
      expect(resultText(typo)).toBe('node: unknown node "bear" (known nodes: bare, off)');
    } finally {
      await Promise.all([new Promise((r) => api.server.close(r)), new Promise((r) => cache.server.close(r))]);
    }
  });
});

describe('service_health with many checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-diag-many-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('checks 14 services with URLs and ports and prints no MaxListenersExceededWarning on stderr', { timeout: 60_000 }, async () => {
    const web = await listen((_req, res) => res.end('ok'));
    await using edge = await startEdgeProcess();
    const topology = join(dir, 'topology.yaml');
    // Each service has a unit, a port and a URL: several listeners per service on the call's signal.
    const services = Array.from({ length: 14 }, (_, i) => `  - { name: svc-${i}, node: alpha, unit: svc-${i}.service, ports: [${web.port}], url: "http://127.0.0.1:${web.port}/${i}" }`);
    writeFileSync(topology, ['nodes:', '  - { name: alpha, addresses: [127.0.0.1] }', 'services:', ...services, ''].join('\n'));
    try {
      await using hub = await startDiagHub({ alpha: edge }, topology);
      await using client = await connectClient(hub.url, TOKEN, 'modern');
      for (let i = 0; i < 2; i++) {
        const health = (await client.callTool({ name: 'service_health', arguments: {} })) as any;
        expect(health.structuredContent.total).toBe(15);
        expect(health.structuredContent.items.filter((x: any) => x.kind === 'service').every((x: any) => x.findings.some((f: any) => f.check === 'http' && f.status === 'ok'))).toBe(true);
      }
      // Node prints process warnings on the next tick: one more round trip lets it land.
      await client.callTool({ name: 'get_topology_summary', arguments: {} });
      expect(hub.output()).not.toContain('MaxListenersExceededWarning');
    } finally {
      await new Promise((r) => web.server.close(r));
    }
  });
});
