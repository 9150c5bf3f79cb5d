/**
 * The network capability of the bundled edge as a client sees it: check_port, ping_host and
 * probe_http against servers of this test on 127.0.0.1, through a real edge process.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, deployedEdgeNodeFlags, resultText, startEdgeProcess, TEST_CLIENTS_MODULES, type EdgeProcess, type Era } from '@homelab-mcp/testkit';

const dir = mkdtempSync(join(tmpdir(), 'edge-network-e2e-'));
let edge: EdgeProcess;
let noPing: EdgeProcess;
let tcp: Server;
let web: HttpServer;
let openPort: number;
const accepted = new Set<Socket>();
let closedPort: number;
let webBase: string;

async function listen(s: Server | HttpServer): Promise<number> {
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  // Read what the client sends (an https probe sends a ClientHello), or its FIN is never seen.
  tcp = createServer((s) => {
    accepted.add(s.on('close', () => accepted.delete(s)));
    s.resume().end();
  });
  openPort = await listen(tcp);
  const spare = createServer();
  closedPort = await listen(spare);
  await new Promise<void>((res) => spare.close(() => res()));
  web = createHttpServer((req, res) => {
    if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (req.url === '/old') return void res.writeHead(301, { location: '/new' }).end();
    res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
  });
  webBase = `http://127.0.0.1:${await listen(web)}`;
  // The second edge's PATH has no ping, as on a minimal container image.
  [edge, noPing] = await Promise.all([startEdgeProcess(), startEdgeProcess({ env: { PATH: dir } })]);
});

afterAll(async () => {
  await Promise.all([edge?.stop(), noPing?.stop()]);
  for (const s of accepted) s.destroy();
  web?.closeAllConnections();
  await Promise.all([new Promise((r) => tcp?.close(r)), new Promise((r) => web?.close(r))]);
  rmSync(dir, { recursive: true, force: true });
});

type Result = { content: Array<{ type: string; text: string }>; structuredContent: any; isError?: boolean };
async function call(e: EdgeProcess, name: string, args: Record<string, unknown>, era: Era = 'modern'): Promise<Result> {
  await using client = await connectClient(e.url, e.token, era);
  return (await client.callTool({ name, arguments: args })) as Result;
}

describe.each<Era>(['modern', 'legacy'])('%s era', (era) => {
  it('lists check_port, ping_host and probe_http as read-only, open-world tools', async () => {
    await using client = await connectClient(edge.url, edge.token, era);
    const { tools } = await client.listTools();
    for (const name of ['check_port', 'ping_host', 'probe_http']) {
      const t = tools.find((x) => x.name === name);
      expect(t, name).toBeDefined();
      expect(t!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: true });
    }
    expect(tools.find((t) => t.name === 'check_port')!.inputSchema.required).toEqual(['host', 'port']);
  });

  it('checks a port from the device', async () => {
    const r = await call(edge, 'check_port', { host: '127.0.0.1', port: openPort }, era);
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ host: '127.0.0.1', port: openPort, open: true });
    expect(resultText(r)).toMatch(new RegExp(`^127\\.0\\.0\\.1:${openPort} is open \\(connected in`));
  });
});

describe('check_port', () => {
  it('says a closed port is refused, as data rather than a failure', async () => {
    const r = await call(edge, 'check_port', { host: '127.0.0.1', port: closedPort, timeout_s: 2 });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ open: false, reason: 'refused' });
    expect(resultText(r)).toContain(`127.0.0.1:${closedPort} is not open: connection refused`);
  });
});

describe('ping_host', () => {
  it('pings with ICMP where ping is installed', async () => {
    const r = await call(edge, 'ping_host', { host: '127.0.0.1', count: 2 });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ method: 'icmp', reachable: true, sent: 2, received: 2 });
    expect(resultText(r)).toMatch(/^127\.0\.0\.1 answers ICMP ping: 2\/2 replies/);
  });

  it('falls back to TCP connects on a device without ping', async () => {
    // Ports 22, 80 and 443 of 127.0.0.1: accepted or refused, either way the host answered.
    const r = await call(noPing, 'ping_host', { host: '127.0.0.1', count: 1 });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ method: 'tcp', reachable: true, sent: 1, received: 1, fallbackReason: 'ping is not installed', tcpPorts: [22, 80, 443] });
    expect(resultText(r)).toContain('127.0.0.1 is up (TCP connects instead of ICMP: ping is not installed)');
  });
});

describe('probe_http', () => {
  it('probes a healthy URL', async () => {
    const r = await call(edge, 'probe_http', { url: `${webBase}/health` });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ url: `${webBase}/health`, ok: true, status: 200, bodySnippet: '{"status":"ok"}' });
  });

  it('reports a redirect without following it, and judges against expected_status', async () => {
    const r = await call(edge, 'probe_http', { url: `${webBase}/old` });
    expect(r.structuredContent).toMatchObject({ ok: true, status: 301, location: '/new' });
    const m = await call(edge, 'probe_http', { url: `${webBase}/down`, expected_status: 200 });
    expect(m.structuredContent).toMatchObject({ ok: false, status: 503, expected: '200', bodySnippet: 'maintenance' });
    expect(resultText(m)).toMatch(/NOT OK, HTTP 503 Service Unavailable .*\(expected 200\)/);
  });
});

describe('bounded arguments', () => {
  it('refuses out-of-range arguments with a message naming them', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['check_port', { host: '127.0.0.1', port: 70000 }, /port: must be <= 65535/],
      ['check_port', { host: '127.0.0.1' }, /port: is required/],
      ['check_port', { host: '-oProxyCommand=x', port: 22 }, /host must be a host name or IP address/],
      ['ping_host', { host: '127.0.0.1', count: 21 }, /count: must be <= 20/],
      ['ping_host', { host: '127.0.0.1', timeout_s: 3600 }, /timeout_s: must be <= 60/],
      ['probe_http', { url: 'file:///etc/shadow' }, /url must use http or https, not file/],
      ['probe_http', { url: `${webBase}/`, expected_status: 42 }, /expected_status: must be >= 100/],
    ];
    for (const [name, args, msg] of cases) {
      const r = await call(edge, name, args);
      expect(r.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(resultText(r)).toMatch(msg);
    }
  });
});

// Raspberry Pi OS bookworm packages Node 18: the probes must run there (no AbortSignal.any, ...).
const node18 = join(TEST_CLIENTS_MODULES, 'node18', 'bin', 'node');
describe('on Node 18', () => {
  it.skipIf(!existsSync(node18))('checks a port, pings and probes a URL', async () => {
    await using old = await startEdgeProcess({ node: node18, nodeFlags: deployedEdgeNodeFlags() });
    expect((await call(old, 'check_port', { host: '127.0.0.1', port: openPort })).structuredContent).toMatchObject({ open: true });
    expect((await call(old, 'check_port', { host: '127.0.0.1', port: closedPort })).structuredContent).toMatchObject({ open: false, reason: 'refused' });
    expect((await call(old, 'ping_host', { host: '127.0.0.1', count: 1 })).structuredContent).toMatchObject({ method: 'icmp', reachable: true });
    expect((await call(old, 'probe_http', { url: `${webBase}/health` })).structuredContent).toMatchObject({ ok: true, status: 200 });
    expect((await call(old, 'probe_http', { url: `https://127.0.0.1:${openPort}/`, timeout_s: 2 })).structuredContent).toMatchObject({ ok: false });
    expect(old.logs()).not.toMatch(/"level":"error"/);
  });
});
