// The hub checks an upstream tool's Mcp-Param-* headers (SEP-2243) itself: the SDK checks only
// an McpServer's own tools, and does not export its checker. A client must get from the hub
// exactly what a real SDK server serving the same tool answers, request for request.
import { createMcpHandler, fromJsonSchema, McpServer, Server } from '@modelcontextprotocol/server';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { buildCatalog } from '../catalog/catalog.ts';
import type { Caller, CatalogTool } from '../catalog/types.ts';
import { createMetrics } from '../metrics.ts';
import { createGate } from '../policy/gate.ts';
import { createHttpApp } from './http.ts';
import { paramHeaders } from './param-headers.ts';

const MODERN = '2026-07-28';
const TOKEN = 'param-headers-token-0123456789';
const VIEWER_TOKEN = 'param-headers-viewer-0123456789';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'tester', version: '1.0' } };

/** Tools as upstreams list them: a prefixed name and an unprefixed one, the header names from their schemas. */
const SCHEMAS: Record<string, Record<string, unknown>> = {
  ref__test_custom_headers: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } }, required: ['region'] },
  route: {
    type: 'object',
    properties: {
      shard: { type: 'integer', 'x-mcp-header': 'Shard' },
      dry: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
      ratio: { type: 'number', 'x-mcp-header': 'Ratio' },
      target: { type: 'object', properties: { zone: { type: 'string', 'x-mcp-header': 'Zone' } } },
    },
  },
  // Annotated where the spec forbids it: the tool is invalid and the SDK checks nothing.
  misplaced: { type: 'object', properties: { list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } }, region: { type: 'string', 'x-mcp-header': 'Region' } } },
  write_region: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } },
};

const ran: string[] = [];
const tools: CatalogTool[] = Object.entries(SCHEMAS).map(([name, schema]) => ({
  def: { name, inputSchema: schema as CatalogTool['def']['inputSchema'] },
  toolClass: name.startsWith('write_') ? 'write' : 'read',
  source: 'up',
  call: async (args) => {
    ran.push(name);
    return { content: [{ type: 'text', text: `${name} ${JSON.stringify(args)}` }] };
  },
}));
const catalog = buildCatalog({ nodes: [], upstreams: [], hubTools: tools, perDeviceTools: false, callTimeoutMs: 1000, maxToolName: 60 });
const callers: Record<string, Caller & { key: string }> = { [`Bearer ${TOKEN}`]: { user: 'ann', role: 'admin', key: 'ann#0' }, [`Bearer ${VIEWER_TOKEN}`]: { user: 'vic', role: 'viewer', key: 'vic#0' } };
const warnings: string[] = [];
const hub = createHttpApp({
  info: { name: 'homelab-hub', version: '9.9.9', instructions: 'test hub' },
  catalog: () => catalog,
  authenticate: (h) => (h ? callers[h] : undefined),
  rateLimit: () => ({ ok: true }),
  hostAllowed: () => false,
  maxBodyBytes: 1_000_000,
  metrics: createMetrics(),
  gate: createGate({ modeFor: () => 'session', secret: new Uint8Array(32).fill(1) }),
  health: () => [],
  log: { warn: (obj) => void warnings.push(String(obj.err)) },
});

/** The same tools as a real SDK server's own. */
const sdk = createMcpHandler(
  () => {
    const server = new McpServer({ name: 'sdk', version: '1' });
    for (const [name, schema] of Object.entries(SCHEMAS)) {
      server.registerTool(name, { description: name, inputSchema: fromJsonSchema(schema as never) }, async (args) => ({ content: [{ type: 'text', text: `${name} ${JSON.stringify(args)}` }] }));
    }
    return server;
  },
  { legacy: 'reject', onerror: () => undefined },
);
afterAll(async () => {
  await hub.close();
  await sdk.close();
});

function call(name: string, args: Record<string, unknown> | undefined, headers: Record<string, string>, id: string | number = 7, meta: Record<string, unknown> = META) {
  const body = { jsonrpc: '2.0', id, method: 'tools/call', params: { name, ...(args ? { arguments: args } : {}), _meta: meta } };
  return {
    method: 'POST',
    headers: { host: '127.0.0.1', 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name, ...headers },
    body: JSON.stringify(body),
  };
}

/** The hub's answer, to the caller of `token`. */
const toHub = (init: ReturnType<typeof call>, token = TOKEN) => hub.app.request('http://127.0.0.1/mcp', { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } });

/** Both answers to the same request: status and body text. */
async function both(init: ReturnType<typeof call>) {
  const h = await toHub(init);
  const s = await sdk.fetch(new Request('http://127.0.0.1/mcp', init));
  return { hub: { status: h.status, type: h.headers.get('content-type'), text: await h.text() }, sdk: { status: s.status, type: s.headers.get('content-type'), text: await s.text() } };
}

const b64 = (s: string) => `=?base64?${Buffer.from(s).toString('base64')}?=`;

describe('Mcp-Param-* headers that do not carry their argument: the hub refuses exactly as the SDK does for its own tools', () => {
  afterEach(() => vi.restoreAllMocks());

  const refused: Array<{ what: string; name: string; args: Record<string, unknown>; headers: Record<string, string>; meta?: Record<string, unknown> }> = [
    { what: 'the header is absent', name: 'ref__test_custom_headers', args: { region: 'eu-west' }, headers: {} },
    { what: 'the header names another value', name: 'ref__test_custom_headers', args: { region: 'eu-west' }, headers: { 'mcp-param-region': 'us-east' } },
    { what: 'Base64 with bad padding', name: 'ref__test_custom_headers', args: { region: 'Hello' }, headers: { 'Mcp-Param-Region': '=?base64?SGVsbG8?=' } },
    { what: 'Base64 with characters outside its alphabet', name: 'ref__test_custom_headers', args: { region: 'Hello' }, headers: { 'Mcp-Param-Region': '=?base64?SGVs!!!bG8=?=' } },
    { what: 'Base64 that is not UTF-8', name: 'ref__test_custom_headers', args: { region: 'x' }, headers: { 'Mcp-Param-Region': '=?base64?/w==?=' } },
    { what: 'Base64 of another value', name: 'ref__test_custom_headers', args: { region: 'Hello' }, headers: { 'Mcp-Param-Region': b64('Bye') } },
    { what: 'an integer that differs', name: 'route', args: { shard: 42 }, headers: { 'Mcp-Param-Shard': '43' } },
    { what: 'an integer header that is not a number', name: 'route', args: { shard: 42 }, headers: { 'Mcp-Param-Shard': 'forty-two' } },
    { what: 'a boolean that differs', name: 'route', args: { dry: true }, headers: { 'Mcp-Param-Dry-Run': 'false' } },
    { what: 'a boolean in another case', name: 'route', args: { dry: true }, headers: { 'Mcp-Param-Dry-Run': 'TRUE' } },
    { what: 'a number-typed parameter (invalid, still checked)', name: 'route', args: { ratio: 0.5 }, headers: { 'Mcp-Param-Ratio': '0.25' } },
    { what: 'a nested parameter without its header', name: 'route', args: { target: { zone: 'a' } }, headers: {} },
    { what: 'the second of two parameters', name: 'route', args: { shard: 1, dry: false }, headers: { 'Mcp-Param-Shard': '1' } },
    { what: 'a string id', name: 'ref__test_custom_headers', args: { region: 'eu' }, headers: { 'Mcp-Param-Region': 'us' } },
    // Not a plain call: the hub's SDK path, not its fast path.
    { what: 'a call with a progress token', name: 'ref__test_custom_headers', args: { region: 'eu' }, headers: { 'Mcp-Param-Region': 'us' }, meta: { ...META, progressToken: 'p1' } },
  ];
  it.each(refused)('$what', async ({ name, args, headers, what, meta }) => {
    const connects = vi.spyOn(Server.prototype, 'connect');
    const before = ran.length;
    const got = await both(call(name, args, headers, what === 'a string id' ? 'req-"1"' : 7, meta));
    expect(got.sdk.status).toBe(400);
    expect(JSON.parse(got.sdk.text).error.code).toBe(-32020);
    expect(got.hub).toEqual(got.sdk);
    // Refused before the call: nothing ran, on either side (the SDK built no server for the hub).
    expect(ran.length).toBe(before);
    expect(connects).not.toHaveBeenCalled();
  });

  it('logs the refusal as the SDK reports its own, without the argument', async () => {
    warnings.length = 0;
    await toHub(call('ref__test_custom_headers', { region: 'eu-secret' }, { 'Mcp-Param-Region': 'us' }));
    expect(warnings).toEqual(['Rejected inbound request (param-header-mismatch): the Mcp-Param-Region header does not carry its argument']);
  });

  it.each<{ what: string; name: string; args: Record<string, unknown> | undefined; headers: Record<string, string> }>([
    { what: 'a header that carries the argument', name: 'ref__test_custom_headers', args: { region: 'eu-west' }, headers: { 'Mcp-Param-Region': 'eu-west' } },
    { what: 'a header name in lower case', name: 'ref__test_custom_headers', args: { region: 'eu-west' }, headers: { 'mcp-param-region': 'eu-west' } },
    { what: 'the argument in Base64', name: 'ref__test_custom_headers', args: { region: 'Grüße, 東京' }, headers: { 'Mcp-Param-Region': b64('Grüße, 東京') } },
    { what: 'a value that only looks like Base64 (no suffix): literal', name: 'ref__test_custom_headers', args: { region: '=?base64?SGVsbG8=' }, headers: { 'Mcp-Param-Region': '=?base64?SGVsbG8=' } },
    { what: 'an integer written as 42.0', name: 'route', args: { shard: 42 }, headers: { 'Mcp-Param-Shard': '42.0' } },
    { what: 'every parameter with its header', name: 'route', args: { shard: -3, dry: false, ratio: 1.5, target: { zone: 'b' } }, headers: { 'Mcp-Param-Shard': '-3', 'Mcp-Param-Dry-Run': 'false', 'Mcp-Param-Ratio': '1.5', 'Mcp-Param-Zone': 'b' } },
    { what: 'a nested argument absent, without its header', name: 'route', args: { target: {} }, headers: {} },
    { what: 'a header for an absent argument (ignored)', name: 'route', args: {}, headers: { 'Mcp-Param-Shard': '9' } },
    { what: 'no arguments at all', name: 'route', args: undefined, headers: {} },
    { what: 'an invalid annotation: the tool is not checked', name: 'misplaced', args: { region: 'eu' }, headers: { 'Mcp-Param-Region': 'us' } },
  ])('serves $what, as the SDK does', async ({ name, args, headers }) => {
    const before = ran.length;
    const got = await both(call(name, args, headers));
    expect(got.sdk.status).toBe(200);
    expect(JSON.parse(got.sdk.text).error).toBeUndefined();
    expect(got.hub.status).toBe(200);
    expect(JSON.parse(got.hub.text).result.content).toEqual(JSON.parse(got.sdk.text).result.content);
    expect(ran.slice(before)).toEqual([name]);
  });

  it('answers an earlier check of the SDK first: a disagreeing Mcp-Name, a missing client capability envelope', async () => {
    const bad = { 'mcp-name': 'other' };
    const got = await both(call('ref__test_custom_headers', { region: 'eu' }, bad));
    expect(JSON.parse(got.sdk.text).error.data.mismatch.header).toBe('other');
    expect(got.hub).toEqual(got.sdk);
    const init = call('ref__test_custom_headers', { region: 'eu' }, {});
    const noCaps = { ...init, body: init.body.replace(',"io.modelcontextprotocol/clientCapabilities":{}', '') };
    const again = await both(noCaps);
    expect(again.sdk.status).toBe(400);
    expect(again.hub).toEqual(again.sdk);
  });

  it('leaves a tool the caller does not see to the handler, which does not know it', async () => {
    const res = await toHub(call('write_region', { region: 'eu' }, {}), VIEWER_TOKEN);
    const body = (await res.json()) as { error?: { code: number; message: string }; result?: { isError?: boolean } };
    // Not a -32020 that would tell a viewer the tool exists and what it mirrors.
    expect(body.error?.code).not.toBe(-32020);
    expect(JSON.stringify(body)).toMatch(/write_region/);
    expect(res.status).not.toBe(400);
  });

  it('a well-formed call of a tool with headers still takes the fast path (no SDK server)', async () => {
    const connects = vi.spyOn(Server.prototype, 'connect');
    const res = await toHub(call('ref__test_custom_headers', { region: 'eu' }, { 'Mcp-Param-Region': 'eu' }));
    expect(res.status).toBe(200);
    expect(connects).not.toHaveBeenCalled();
  });
});

describe('paramHeaders', () => {
  it('finds declarations along properties only, and none in an invalid schema', () => {
    expect(paramHeaders(SCHEMAS.route)).toEqual([
      { path: ['shard'], headerName: 'Shard', type: 'integer' },
      { path: ['dry'], headerName: 'Dry-Run', type: 'boolean' },
      { path: ['ratio'], headerName: 'Ratio', type: 'number' },
      { path: ['target', 'zone'], headerName: 'Zone', type: 'string' },
    ]);
    expect(paramHeaders(SCHEMAS.misplaced)).toEqual([]);
    expect(paramHeaders({ type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'X' }, b: { type: 'string', 'x-mcp-header': 'x' } } })).toEqual([]);
    expect(paramHeaders({ type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'has space' } } })).toEqual([]);
    expect(paramHeaders({ type: 'object', properties: { a: { type: 'object', 'x-mcp-header': 'A' } } })).toEqual([]);
    expect(paramHeaders({ type: 'object', properties: { a: { type: 'string' } } })).toEqual([]);
  });
});
