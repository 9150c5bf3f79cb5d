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
import { connectClient, startEdgeProcess, startFakeLoki, startHubProcess, startPrometheus } from '@homelab-mcp/testkit';

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

describe('service_health and run_diagnostic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-diag-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says what is broken and why, and names a node that died', { timeout: 120_000 }, async () => {
    const web = await listen((req, res) => {
      res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' }).end('ok');
    });
    const dbPort = await closedPort();
    await using alpha = await startEdgeProcess();
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
        '',
      ].join('\n'),
    );
    try {
      await using hub = await startHubProcess({
        config: {
          auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] },
          local: { enabled: false },
          nodes: [
            { name: 'alpha', url: alpha.url, token: alpha.token },
            { name: 'beta', url: beta.url, token: beta.token },
          ],
          topology: { file: topology },
          integrations: { prometheus: { url: prom.url }, loki: { url: loki.url } },
        },
      });
      await using client = await connectClient(hub.url, TOKEN, 'modern');
      await prom.waitForAlert('WebappErrors');

      const health = (await client.callTool({ name: 'service_health', arguments: {} })) as any;
      const summary: string = health.structuredContent.summary;
      expect(summary).toMatch(/^\d+ of \d+ healthy; Prometheus: 1 alert firing \(WebappErrors\)/);
      expect(summary).toContain(`db unhealthy: 127.0.0.1:${dbPort} does not accept connections`);
      expect(summary).not.toMatch(/alpha|beta unreachable/);
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
      expect(unknown.content[0].text).toContain('nope is not a service of the topology (known: webapp, db)');
    } finally {
      await beta.stop().catch(() => undefined);
      await new Promise((r) => web.server.close(r));
    }
  });
});
