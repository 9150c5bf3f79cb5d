/**
 * SEP-2243 `Mcp-Param-*` headers through the bundled hub: an upstream tool whose schema marks
 * a parameter with `x-mcp-header` (the reference server's `test_custom_headers`, `Region`) is
 * listed by the hub as the upstream lists it, so a 2026-07-28 client sends that argument in an
 * `Mcp-Param-Region` header too; the hub refuses a request whose header does not carry it
 * (400, -32020), as the upstream itself would, whatever name the tool has at the hub (its
 * prefixed name, its own name with `prefix: false`, or behind an upstream reached on
 * 2025-11-25). A call it accepts reaches the upstream with the header mirrored again.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, resultText, startConformanceServer, startHubProcess, type ConformanceServer, type HubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'param-headers-e2e-token-0123456789';
const MODERN = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' } };

/** Passes every request to `target` unchanged and remembers the headers of each tools/call. */
async function startRecorder(target: URL): Promise<{ server: Server; url: string; calls: IncomingHttpHeaders[] }> {
  const calls: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    if (req.headers['mcp-method'] === 'tools/call') calls.push(req.headers);
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, calls };
}

let fixture: ConformanceServer;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
let hub: HubProcess;

beforeAll(async () => {
  fixture = await startConformanceServer();
  recorder = await startRecorder(new URL(fixture.url));
  hub = await startHubProcess({
    config: {
      auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] },
      local: { enabled: false },
      upstreams: {
        ref: { url: recorder.url, classes: { '*': 'read' } },
        plain: { url: fixture.url, prefix: false, classes: { '*': 'read' } },
        old: { url: fixture.url, protocol: '2025-11-25', classes: { '*': 'read' } },
      },
    },
  });
});

afterAll(async () => {
  await hub?.stop();
  recorder?.server.closeAllConnections();
  await new Promise((resolve) => recorder?.server.close(resolve));
  await fixture?.stop();
});

/** A raw 2026-07-28 tools/call to the hub, with the standard headers right and `extra` added. */
async function rawCall(name: string, args: Record<string, unknown>, extra: Record<string, string>, id: number): Promise<{ status: number; body: { id?: unknown; result?: { content: Array<{ text: string }> }; error?: { code: number; message: string; data?: { mismatch?: { header: string; body: string } } } } }> {
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name, ...extra },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: META } }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

describe.each(['ref__test_custom_headers', 'test_custom_headers', 'old__test_custom_headers'])('an upstream tool with an x-mcp-header parameter, as %s', (name) => {
  it('is listed with the annotation, so a client knows to send the header', async () => {
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const tool = (await client.listTools()).tools.find((t) => t.name === name);
    expect(tool?.inputSchema.properties?.region).toMatchObject({ type: 'string', 'x-mcp-header': 'Region' });
  });

  it.each<{ what: string; headers: Record<string, string>; body: string }>([
    { what: 'the header is missing', headers: {}, body: 'the body carries region="eu-west" but the Mcp-Param-Region header is absent' },
    { what: 'the header names another region', headers: { 'Mcp-Param-Region': 'us-east' }, body: 'the Mcp-Param-Region header decodes to "us-east" but the body carries region="eu-west"' },
    { what: 'its Base64 is not Base64', headers: { 'Mcp-Param-Region': '=?base64?ZXUtd2VzdA?=' }, body: 'the Mcp-Param-Region header carries an invalid Base64 sentinel value' },
  ])('is refused when $what: 400, -32020, the mismatch named, the call not made', async ({ headers, body }) => {
    const before = recorder.calls.length;
    const got = await rawCall(name, { region: 'eu-west' }, headers, 41);
    expect(got).toEqual({
      status: 400,
      body: { jsonrpc: '2.0', id: 41, error: { code: -32020, message: `Bad Request: the request headers and body disagree: ${body}`, data: { mismatch: { header: 'Mcp-Param-Region', body } } } },
    });
    expect(recorder.calls.length).toBe(before);
  });

  it('is called when the header carries the argument (plain or Base64), and by the SDK client, which sends it itself', async () => {
    expect((await rawCall(name, { region: 'eu-west' }, { 'Mcp-Param-Region': 'eu-west' }, 42)).body.result?.content[0]?.text).toBe('region=eu-west');
    expect((await rawCall(name, { region: 'Zürich' }, { 'Mcp-Param-Region': `=?base64?${Buffer.from('Zürich').toString('base64')}?=` }, 43)).body.result?.content[0]?.text).toBe('region=Zürich');
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    expect(resultText(await client.callTool({ name, arguments: { region: 'ap-south' } }))).toBe('region=ap-south');
  });
});

it("mirrors the argument into the upstream's own Mcp-Param header (the upstream checks it too)", async () => {
  const before = recorder.calls.length;
  expect((await rawCall('ref__test_custom_headers', { region: 'Zürich' }, { 'Mcp-Param-Region': `=?base64?${Buffer.from('Zürich').toString('base64')}?=` }, 44)).body.result?.content[0]?.text).toBe('region=Zürich');
  const sent = recorder.calls.slice(before);
  expect(sent).toHaveLength(1);
  expect(sent[0]).toMatchObject({ 'mcp-name': 'test_custom_headers', 'mcp-param-region': `=?base64?${Buffer.from('Zürich').toString('base64')}?=` });
});
