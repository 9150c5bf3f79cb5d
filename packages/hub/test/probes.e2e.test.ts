/**
 * check_port, ping_host and probe_http through the bundled hub: probed by the hub itself, and
 * `from` a real edge process, against servers of this test on 127.0.0.1.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'admin-token-probes-0123456789abcdef';
const VIEWER = 'viewer-token-probes-0123456789abcdef';

let pi: EdgeProcess;
let gone: EdgeProcess;
let old: EdgeProcess;
let hub: HubProcess;
let tcp: Server;
let web: HttpServer;
let openPort: number;
let closedPort: number;
let webBase: string;
const webHits: string[] = [];

async function listen(s: Server | HttpServer): Promise<number> {
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  tcp = createServer((s) => s.resume().end());
  openPort = await listen(tcp);
  const spare = createServer();
  closedPort = await listen(spare);
  await new Promise<void>((res) => spare.close(() => res()));
  web = createHttpServer((req, res) => {
    webHits.push(req.url!);
    if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('healthy');
    res.writeHead(500, { 'content-type': 'text/plain' }).end('broken');
  });
  webBase = `http://127.0.0.1:${await listen(web)}`;
  // `old` stands for an edge without the network capability.
  [pi, gone, old] = await Promise.all([startEdgeProcess(), startEdgeProcess(), startEdgeProcess({ args: ['--disable-network'] })]);
  hub = await startHubProcess({
    config: {
      auth: {
        tokens: [
          { user: 'alice', role: 'admin', token: ADMIN },
          { user: 'bob', role: 'viewer', token: VIEWER },
        ],
        rateLimit: { perMinute: 6000, burst: 1000 },
      },
      local: { enabled: false },
      nodes: [
        { name: 'pi-kitchen', url: pi.url, token: pi.token },
        { name: 'pi-gone', url: gone.url, token: gone.token },
        { name: 'pi-old', url: old.url, token: old.token },
      ],
    },
  });
});

afterAll(async () => {
  await hub?.stop();
  await Promise.all([pi?.stop(), gone?.stop(), old?.stop()]);
  web?.closeAllConnections();
  await Promise.all([new Promise((r) => tcp?.close(r)), new Promise((r) => web?.close(r))]);
});

type Result = { content: Array<{ type: string; text: string }>; structuredContent: any; isError?: boolean };
async function call(name: string, args: Record<string, unknown>, token = ADMIN): Promise<Result> {
  await using client = await connectClient(hub.url, token, 'modern');
  return (await client.callTool({ name, arguments: args })) as Result;
}

describe('the probe tools in the hub catalog', () => {
  it('are hub tools with an optional `from`, shadowing the fleet tools, visible to viewers', async () => {
    await using client = await connectClient(hub.url, VIEWER, 'legacy');
    const { tools } = await client.listTools();
    for (const name of ['check_port', 'ping_host', 'probe_http']) {
      const matching = tools.filter((t) => t.name === name);
      expect(matching, name).toHaveLength(1);
      const t = matching[0]!;
      expect(Object.keys(t.inputSchema.properties ?? {})).toContain('from');
      expect(Object.keys(t.inputSchema.properties ?? {})).not.toContain('node');
      expect(t.inputSchema.required ?? []).not.toContain('from');
      expect(t.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: true });
    }
  });
});

describe('from the hub', () => {
  it('check_port: open and refused', async () => {
    const open = await call('check_port', { host: '127.0.0.1', port: openPort });
    expect(open.isError).toBeFalsy();
    expect(open.structuredContent).toMatchObject({ from: 'hub', host: '127.0.0.1', port: openPort, open: true });
    expect(resultText(open)).toMatch(new RegExp(`^127\\.0\\.0\\.1:${openPort} is open`));
    const closed = await call('check_port', { host: '127.0.0.1', port: closedPort, timeout_s: 2 }, VIEWER);
    expect(closed.structuredContent).toMatchObject({ from: 'hub', open: false, reason: 'refused' });
  });

  it('ping_host: ICMP with the real ping', async () => {
    const r = await call('ping_host', { host: '127.0.0.1', count: 2 });
    expect(r.structuredContent).toMatchObject({ from: 'hub', method: 'icmp', reachable: true, sent: 2, received: 2 });
    expect(resultText(r)).toMatch(/^127\.0\.0\.1 answers ICMP ping: 2\/2 replies/);
  });

  it('probe_http: status against expected_status', async () => {
    const ok = await call('probe_http', { url: `${webBase}/health` });
    expect(ok.structuredContent).toMatchObject({ from: 'hub', ok: true, status: 200, bodySnippet: 'healthy' });
    const bad = await call('probe_http', { url: `${webBase}/broken`, expected_status: 200 });
    expect(bad.isError).toBeFalsy();
    expect(bad.structuredContent).toMatchObject({ from: 'hub', ok: false, status: 500, expected: '200', bodySnippet: 'broken' });
  });

  it('probe_http: the hub\'s request is in the audit trail, without the URL\'s credentials', async () => {
    const url = `http://probe-user:probe-pass@127.0.0.1:${new URL(webBase).port}/health`;
    const r = await call('probe_http', { url });
    expect(r.structuredContent).toMatchObject({ ok: true, url: `${webBase}/health` });
    expect(JSON.stringify(r)).not.toContain('probe-pass');
    await expect
      .poll(async () => (await call('get_audit_log', { kind: 'http_request', limit: 20 })).structuredContent.events.map((e: any) => e.detail))
      .toContainEqual({ upstream: 'probe_http', method: 'GET', url: `${webBase}/health`, status: 200 });
    const calls = await call('get_audit_log', { tool: 'probe_http', limit: 50 });
    expect(JSON.stringify(calls.structuredContent)).not.toContain('probe-pass');
  });

  it('refuses bad arguments naming them, before probing anything', async () => {
    const hits = webHits.length;
    const r = await call('probe_http', { url: 'ftp://127.0.0.1/' });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe('url must use http or https, not ftp');
    const p = await call('check_port', { host: '127.0.0.1', port: 0, from: 'pi-kitchen' });
    expect(p.isError).toBe(true);
    expect(resultText(p)).toBe('port must be an integer from 1 to 65535, got 0');
    const n = await call('ping_host', { host: '127.0.0.1', node: 'pi-kitchen' });
    expect(resultText(n)).toBe('node: is not a known argument of ping_host (known: host, count, timeout_s, from)');
    expect(webHits.length).toBe(hits);
  });
});

describe('from a node', () => {
  it('check_port runs on the edge', async () => {
    const r = await call('check_port', { host: '127.0.0.1', port: openPort, from: 'pi-kitchen' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ from: 'pi-kitchen', host: '127.0.0.1', port: openPort, open: true });
    expect(resultText(r)).toMatch(new RegExp(`^from pi-kitchen: 127\\.0\\.0\\.1:${openPort} is open`));
    await expect.poll(() => pi.logs()).toMatch(/"tool call".*"tool":"check_port"|"tool":"check_port".*"tool call"/);
  });

  it('ping_host runs on the edge', async () => {
    const r = await call('ping_host', { host: '127.0.0.1', count: 1, from: 'pi-kitchen' });
    expect(r.structuredContent).toMatchObject({ from: 'pi-kitchen', method: 'icmp', reachable: true, sent: 1, received: 1 });
    expect(resultText(r)).toMatch(/^from pi-kitchen: 127\.0\.0\.1 answers ICMP ping: 1\/1 replies/);
  });

  it('probe_http runs on the edge (the server sees the request)', async () => {
    const hits = webHits.length;
    const r = await call('probe_http', { url: `${webBase}/health`, expected_status: 200, from: 'pi-kitchen' });
    expect(r.structuredContent).toMatchObject({ from: 'pi-kitchen', ok: true, status: 200, bodySnippet: 'healthy' });
    // A viewer may probe from a node too, and learns the status, not the page (security/local.e2e).
    const viewer = await call('probe_http', { url: `${webBase}/health`, expected_status: 200, from: 'pi-kitchen' }, VIEWER);
    expect(viewer.structuredContent).toMatchObject({ from: 'pi-kitchen', ok: true, status: 200 });
    expect(viewer.structuredContent).not.toHaveProperty('bodySnippet');
    expect(webHits.slice(hits)).toEqual(['/health', '/health']);
  });

  it('an unknown node is an error that lists the known ones', async () => {
    const r = await call('check_port', { host: '127.0.0.1', port: openPort, from: 'pi-garage' });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe('from: unknown node "pi-garage" (known nodes: pi-kitchen, pi-gone, pi-old)');
  });

  it('a node without the network capability says so', async () => {
    const r = await call('check_port', { host: '127.0.0.1', port: openPort, from: 'pi-old' });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe('node pi-old does not offer check_port: its edge is older than the network probes, or runs with --disable-network');
  });

  it('a node that is down is reported unreachable since when', async () => {
    await gone.stop();
    const r = await call('ping_host', { host: '127.0.0.1', count: 1, from: 'pi-gone' });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toMatchObject({ from: 'pi-gone', error: { code: 'UPSTREAM_UNAVAILABLE' } });
    expect(resultText(r)).toMatch(/^node pi-gone is unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z: /);
  });
});
