// A plain 2026-07-28 tools/call is served without the SDK's per-request server: its answer must
// be byte for byte what the SDK sends, the call must go through the same gate and audit, and
// anything that is not plain must still reach the SDK.
import { connect, type AddressInfo } from 'node:net';
import { createServer, request as httpRequest, type RequestListener, type Server as HttpServer, type ServerOptions } from 'node:http';
import { serve } from '@hono/node-server';
import { createMcpHandler, Server, type CallToolResult } from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildCatalog, type Catalog } from '../catalog/catalog.ts';
import type { Caller, CatalogTool } from '../catalog/types.ts';
import { createMetrics } from '../metrics.ts';
import { createGate, type ApprovalMode } from '../policy/gate.ts';
import { createHubServer, type CallObserver } from '../server/mcp-server.ts';
import { createEnvelopeCheck, plainToolsCall } from './fast-tools-call.ts';
import { createHttpApp } from './http.ts';
import { currentSource } from './request-source.ts';

const MODERN = '2026-07-28';
const info = { name: 'homelab-hub', version: '9.9.9', instructions: 'test hub' };
const admin: Caller & { key: string } = { user: 'ann', role: 'admin', key: 'ann#0' };
const TOKEN = 'fast-path-token-0123456789';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'tester', version: '1.0' } };

/** Results a tool may return, as the hub's own tools, edges and native upstreams do. */
const RESULTS: Record<string, CallToolResult> = {
  text: { content: [{ type: 'text', text: 'hello "quoted" \\ ünïcode ✓\u2028' }] },
  structured: { content: [{ type: 'text', text: '{"a":1}' }], structuredContent: { a: 1, nested: { list: [1, 'two', null, true] } } },
  error: { content: [{ type: 'text', text: 'it broke' }], isError: true },
  upstreamMeta: { content: [{ type: 'text', text: 'x' }], _meta: { 'vendor/trace': 'abc' } },
  noContent: { structuredContent: { only: 'data' } } as unknown as CallToolResult,
  image: { content: [{ type: 'image', data: 'aGVsbG8=', mimeType: 'image/png' }, { type: 'resource_link', uri: 'file:///x', name: 'x' }] },
  annotated: { content: [{ type: 'text', text: 'a', annotations: { audience: ['user'], priority: 0.5 } }], isError: false },
  // Not in the schema's order, extra fields: the SDK's validation reorders and drops them.
  unordered: { isError: false, structuredContent: { z: 1 }, content: [{ text: 'b', type: 'text', junk: 1 } as never], _meta: { k: 'v' } },
  extraTopLevel: { content: [], custom: { x: 1 } } as unknown as CallToolResult,
  embedded: { content: [{ type: 'resource', resource: { uri: 'file:///a', text: 'A', mimeType: 'text/plain' } }, { type: 'audio', data: 'aGk=', mimeType: 'audio/wav' }] },
  // An upstream's input_required relayed to a 2026-07-28 client (the hub's own requestState).
  inputRequired: {
    resultType: 'input_required',
    inputRequests: { 'up/e': { method: 'elicitation/create', params: { message: '[up] pick', requestedSchema: { type: 'object', properties: { c: { type: 'string' } } } } } },
    requestState: 'hub1.state.mac',
  } as unknown as CallToolResult,
  // A result the schema refuses: the SDK answers an error, so must this path.
  invalid: { content: [{ type: 'text' }] } as unknown as CallToolResult,
};

const GATE_SECRET = new Uint8Array(32).fill(7);
const GATE_NOW = Date.parse('2026-12-07T00:00:00Z');

/** The confirm token a preview of `reboot {}` returns, from a gate with the same key and clock. */
async function rebootToken(): Promise<string> {
  const gate = createGate({ modeFor: () => 'confirm', secret: GATE_SECRET, now: () => GATE_NOW });
  const tool: CatalogTool = { def: { name: 'reboot', inputSchema: { type: 'object' } }, toolClass: 'write', source: 'hub', call: async () => ({ content: [] }) };
  const held = await gate.check({ tool, args: {}, caller: admin, session: 's', human: { modern: true, canAsk: false } });
  return (held as { result: { structuredContent: { confirm: string } } }).result.structuredContent.confirm;
}

const VIEWER_TOKEN = 'fast-path-viewer-token-0123456789';
const viewer: Caller & { key: string } = { user: 'vic', role: 'viewer', key: 'vic#1' };

function setup(mode: ApprovalMode = 'confirm', rateLimit: () => { ok: true } | { ok: false; retryAfterS: number } = () => ({ ok: true }), more: Partial<Parameters<typeof createHttpApp>[0]> = {}) {
  const calls: string[] = [];
  const events: Array<Parameters<CallObserver['call']>[0]> = [];
  const tools: CatalogTool[] = Object.entries(RESULTS).map(([name, result]) => ({
    def: { name, inputSchema: { type: 'object' } },
    toolClass: 'read',
    source: 'hub',
    call: async (args) => {
      calls.push(`${name} ${JSON.stringify(args)}`);
      return structuredClone(result);
    },
  }));
  tools.push({
    def: { name: 'slow', inputSchema: { type: 'object' } },
    toolClass: 'read',
    source: 'hub',
    call: (_args, ctx) =>
      new Promise((resolve) => {
        const t = setTimeout(() => resolve({ content: [{ type: 'text', text: 'finished' }] }), 5000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          calls.push('slow aborted');
          resolve({ content: [{ type: 'text', text: 'aborted' }] });
        });
      }),
  });
  // Where the call came from, as the audit event records it.
  tools.push({ def: { name: 'whoami', inputSchema: { type: 'object' } }, toolClass: 'read', source: 'hub', call: async () => ({ content: [{ type: 'text', text: `source=${currentSource()}` }] }) });
  // A tool with an Mcp-Param-* header (x-mcp-header names are mixed case).
  tools.push({
    def: { name: 'regional', inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } } },
    toolClass: 'read',
    source: 'hub',
    call: async (args) => {
      calls.push(`regional ${JSON.stringify(args)}`);
      return { content: [{ type: 'text', text: 'ok' }] };
    },
  });
  tools.push({
    def: { name: 'reboot', inputSchema: { type: 'object' } },
    toolClass: 'write',
    source: 'hub',
    call: async (args) => {
      calls.push(`reboot ${JSON.stringify(args)}`);
      return { content: [{ type: 'text', text: 'rebooting' }] };
    },
  });
  const built = buildCatalog({ nodes: [], upstreams: [], hubTools: tools, perDeviceTools: false, callTimeoutMs: 1000, maxToolName: 60 });
  const catalog: Catalog = built;
  // One key and one clock for both gates: a confirm preview's token must be the same bytes.
  const gate = createGate({ modeFor: () => mode, secret: GATE_SECRET, now: () => GATE_NOW });
  const observer: CallObserver = { call: (e) => void events.push(e) };
  const http = createHttpApp({
    info,
    catalog: () => catalog,
    authenticate: (h) => (h === `Bearer ${TOKEN}` ? admin : h === `Bearer ${VIEWER_TOKEN}` ? viewer : undefined),
    rateLimit: () => rateLimit(),
    ...more,
    hostAllowed: () => false,
    maxBodyBytes: 1_000_000,
    metrics: createMetrics(),
    gate,
    observer,
    health: () => [],
  });
  // The reference: the SDK's own pipeline with the same server (and its own gate, so the
  // session-mode approvals of one do not leak into the other).
  const refGate = createGate({ modeFor: () => mode, secret: GATE_SECRET, now: () => GATE_NOW });
  const reference = createMcpHandler((ctx) => createHubServer({ info, catalog: () => catalog, caller: ctx.authInfo!.extra!.caller as Caller, gate: refGate }), { legacy: 'reject' });
  return { http, reference, calls, events };
}

function callRequest(name: string, args: Record<string, unknown> | undefined, id: unknown, opts: { meta?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
  const body = { jsonrpc: '2.0', id, method: 'tools/call', params: { name, ...(args ? { arguments: args } : {}), _meta: opts.meta ?? META } };
  const init: RequestInit = {
    method: 'POST',
    headers: { host: '127.0.0.1', authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name, ...opts.headers },
    body: JSON.stringify(body),
  };
  return { body, init };
}

/** Counts SDK server instances connected to a transport: one per request the SDK serves. */
function countSdkServers(): () => number {
  const spy = vi.spyOn(Server.prototype, 'connect');
  return () => spy.mock.calls.length;
}

describe('plain 2026-07-28 tools/call without the SDK server', () => {
  afterEach(() => vi.restoreAllMocks());

  it('answers byte for byte what the SDK sends, for every kind of result, id and gate outcome', async () => {
    const { http, reference, calls } = setup('confirm');
    try {
      const cases: Array<[string, Record<string, unknown> | undefined, unknown]> = [
        // inputRequired needs a client that declared elicitation: below.
        ...Object.keys(RESULTS)
          .filter((n) => n !== 'inputRequired')
          .map((n): [string, undefined, number] => [n, undefined, 1]),
        ['text', { a: 'b', n: [1, 2] }, 'id-"quoted"'],
        ['structured', {}, 0],
        // confirm mode: a write without confirm is held with its preview and a token; `true`
        // is refused; with the preview's token, it runs.
        ['reboot', {}, 5],
        ['reboot', { confirm: true }, 6],
        ['reboot', { confirm: await rebootToken() }, 7],
      ];
      for (const [name, args, id] of cases) {
        const { init, body } = callRequest(name, args, id);
        const before = calls.length;
        const res = await http.app.request('http://127.0.0.1/mcp', init);
        const got = await res.text();
        const ran = calls.slice(before);
        const ref = await reference.fetch(new Request('http://127.0.0.1/mcp', init), { parsedBody: body, authInfo: { token: '', clientId: admin.user, scopes: [], extra: { caller: admin } } });
        const want = await ref.text();
        expect(res.status, name).toBe(ref.status);
        expect(res.headers.get('content-type'), name).toBe(ref.headers.get('content-type'));
        expect(got, `${name} ${JSON.stringify(args)}`).toBe(want);
        // Both paths ran the tool the same number of times (a held write not at all).
        expect(calls.slice(before + ran.length), name).toEqual(ran);
      }
      expect(calls.filter((c) => c.startsWith('reboot'))).toEqual(['reboot {}', 'reboot {}']);
      // An upstream's input_required relayed to a client that can answer it.
      const meta = { ...META, 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } } };
      const { init, body } = callRequest('inputRequired', undefined, 8, { meta });
      const res = await http.app.request('http://127.0.0.1/mcp', init);
      const ref = await reference.fetch(new Request('http://127.0.0.1/mcp', init), { parsedBody: body, authInfo: { token: '', clientId: admin.user, scopes: [], extra: { caller: admin } } });
      // The hub's requestState is random per answer (single-use): the rest is the same bytes.
      const stateless = async (r: Response) => (await r.text()).replace(/"requestState":"[^"]*"/, '"requestState":"…"');
      expect([res.status, await stateless(res)]).toEqual([ref.status, await stateless(ref)]);
      expect(JSON.parse(await (await http.app.request('http://127.0.0.1/mcp', callRequest('inputRequired', undefined, 9, { meta }).init)).text()).result.resultType).toBe('input_required');
    } finally {
      await http.close();
      await reference.close();
    }
  });

  it('is the path a plain call takes: the audit event and the answer come from the same call, under node-server too', async () => {
    const { http, reference, events, calls } = setup('session');
    const server = serve({ fetch: http.app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const { init, body } = callRequest('structured', { x: 1 }, 42);
      const sdkServers = countSdkServers();
      const res = await fetch(`http://127.0.0.1:${port}/mcp`, init);
      // No SDK server was built for it: the fast path answered.
      expect(sdkServers()).toBe(0);
      const ref = await reference.fetch(new Request('http://127.0.0.1/mcp', init), { parsedBody: body, authInfo: { token: '', clientId: admin.user, scopes: [], extra: { caller: admin } } });
      const want = await ref.text();
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(want)));
      expect(await res.text()).toBe(want);
      // The fast path's observer saw it (the reference has none): the call went through callHubTool.
      expect(events).toMatchObject([{ tool: 'structured', session: 'client:tester', client: { name: 'tester', version: '1.0' }, decision: 'allowed', outcome: 'succeeded', args: { x: 1 } }]);
      // session mode: the write is pending until approve_writes, on this path too.
      const held = await fetch(`http://127.0.0.1:${port}/mcp`, callRequest('reboot', {}, 43).init);
      expect(((await held.json()) as { result: { structuredContent: { status: string } } }).result.structuredContent.status).toBe('approval_required');
      expect(events.at(-1)).toMatchObject({ tool: 'reboot', decision: 'pending' });
      // A client that goes away cancels its call, as on the SDK's path.
      const gone = new AbortController();
      const pending = fetch(`http://127.0.0.1:${port}/mcp`, { ...callRequest('slow', {}, 44).init, signal: gone.signal }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 200));
      gone.abort();
      await pending;
      await expect.poll(() => calls.includes('slow aborted'), { timeout: 20_000 }).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
      await http.close();
      await reference.close();
    }
  });

  it('leaves everything that is not plain to the SDK, which answers as before', async () => {
    const { http, reference, events } = setup('confirm');
    try {
      const variants: Array<[string, ReturnType<typeof callRequest>]> = [
        ['unknown tool', callRequest('nope', {}, 1)],
        ['Mcp-Name disagrees', callRequest('text', {}, 2, { headers: { 'mcp-name': 'other' } })],
        ['no MCP-Protocol-Version header', callRequest('text', {}, 3, { headers: { 'mcp-protocol-version': '' } })],
        ['envelope without capabilities', callRequest('text', {}, 4, { meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } })],
        ['bad clientInfo', callRequest('text', {}, 5, { meta: { ...META, 'io.modelcontextprotocol/clientInfo': { name: 7 } } })],
        ['progress token', callRequest('text', {}, 6, { meta: { ...META, progressToken: 'p1' } })],
        // The SDK answers 415 (a browser's cross-site "simple" POST is text/plain).
        ['Content-Type text/plain', callRequest('text', {}, 7, { headers: { 'content-type': 'text/plain' } })],
        ['Content-Type empty', callRequest('text', {}, 8, { headers: { 'content-type': '' } })],
        ['Content-Type application/jsonx', callRequest('text', {}, 9, { headers: { 'content-type': 'application/jsonx' } })],
      ];
      for (const [what, { init, body }] of variants) {
        const before = events.length;
        const sdkServers = countSdkServers();
        const res = await http.app.request('http://127.0.0.1/mcp', init);
        // The SDK served it (a ladder rejection before any server is built counts as served too).
        if (res.status === 200) expect(sdkServers(), what).toBe(1);
        vi.restoreAllMocks();
        const ref = await reference.fetch(new Request('http://127.0.0.1/mcp', init), { parsedBody: body, authInfo: { token: '', clientId: admin.user, scopes: [], extra: { caller: admin } } });
        expect(res.status, what).toBe(ref.status);
        expect(await res.text(), what).toBe(await ref.text());
        // A call the SDK served still went through the hub's handler (and its audit) when it ran.
        if (res.status === 200 && what === 'progress token') expect(events.length).toBe(before + 1);
      }
    } finally {
      await http.close();
      await reference.close();
    }
  });

  it('answers from the Node request before Hono (nodeListener) exactly as the app does, and hands everything else on', async () => {
    let rateCalls = 0;
    let limited = false;
    const { http, events } = setup('confirm', () => {
      rateCalls++;
      return limited ? { ok: false, retryAfterS: 7 } : { ok: true };
    });
    // Requests that reached Hono on the raw server.
    let honoRequests = 0;
    const listen = async (fast: boolean) => {
      const fetchApp: typeof http.app.fetch = (r, env) => {
        if (fast) honoRequests++;
        return http.app.fetch(r, env);
      };
      const server = serve({ fetch: fetchApp, hostname: '127.0.0.1', port: 0, ...(fast ? { createServer: ((o: ServerOptions, l: RequestListener) => createServer(o, http.nodeListener(l))) as typeof createServer } : {}) }) as HttpServer;
      await new Promise((r) => server.once('listening', r));
      return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp` };
    };
    const app = await listen(false);
    const raw = await listen(true);
    // node:http, not fetch: fetch sends its own Host.
    const send = (url: string, init: RequestInit) =>
      new Promise<{ status: number | undefined; type: string | undefined; retry: string | undefined; text: string }>((resolve, reject) => {
        const req = httpRequest(url, { method: 'POST', headers: init.headers as Record<string, string> }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], retry: res.headers['retry-after'], text: Buffer.concat(chunks).toString('utf8') }));
        });
        // The hub answers a too-large body before reading it all.
        req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
        req.end(init.body as string);
      });
    try {
      const withBody = (body: string, headers: Record<string, string> = {}) => {
        const { init } = callRequest('text', {}, 1, { headers });
        return { ...init, body };
      };
      const deep = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'text', arguments: JSON.parse('{"a":'.repeat(80) + '1' + '}'.repeat(80)), _meta: META } });
      // The first five are answered without Hono; the rest go to it.
      const plain = 5;
      const cases: Array<[string, RequestInit]> = [
        ['plain text', callRequest('text', { a: 'b' }, 1).init],
        ['plain structured, string id', callRequest('structured', undefined, 'x"y').init],
        ['plain error result', callRequest('error', {}, 2).init],
        ['invalid result', callRequest('invalid', {}, 3).init],
        ['held write', callRequest('reboot', {}, 4).init],
        ['unknown tool', callRequest('nope', {}, 5).init],
        ['Mcp-Name disagrees', callRequest('text', {}, 6, { headers: { 'mcp-name': 'other' } }).init],
        ['progress token', callRequest('text', {}, 7, { meta: { ...META, progressToken: 'p1' } }).init],
        ['bad token', callRequest('text', {}, 8, { headers: { authorization: 'Bearer wrong' } }).init],
        ['Host not allowed', callRequest('text', {}, 9, { headers: { host: 'evil.example' } }).init],
        ['an Origin', callRequest('text', {}, 10, { headers: { origin: 'http://127.0.0.1' } }).init],
        ['not JSON', withBody('{"jsonrpc":')],
        ['too deep', withBody(deep)],
        ['too large', withBody(JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'text', arguments: { pad: 'x'.repeat(1_100_000) }, _meta: META } }))],
        ['a batch', withBody(JSON.stringify([callRequest('text', {}, 12).body, callRequest('text', {}, 13).body]))],
        ['a session id', callRequest('text', {}, 14, { headers: { 'mcp-session-id': 'nope' } }).init],
      ];
      for (const [i, [what, init]] of cases.entries()) {
        const before = { events: events.length, rate: rateCalls };
        const hono = honoRequests;
        const want = await send(app.url, init);
        const mid = { events: events.length, rate: rateCalls };
        const got = await send(raw.url, init);
        expect(got, what).toEqual(want);
        // The same audit events and the same rate-limit charges on both paths: nothing twice.
        expect(events.length - mid.events, what).toBe(mid.events - before.events);
        expect(rateCalls - mid.rate, what).toBe(mid.rate - before.rate);
        expect(honoRequests - hono, what).toBe(i < plain ? 0 : 1);
      }
      // The plain call skipped the SDK on the raw path too.
      const sdkServers = countSdkServers();
      expect((await send(raw.url, callRequest('text', {}, 20).init)).status).toBe(200);
      expect(sdkServers()).toBe(0);
      vi.restoreAllMocks();
      // Rate-limited: the 429 names the request, once charged.
      limited = true;
      const before = rateCalls;
      const want = await send(app.url, callRequest('text', {}, 21).init);
      const got = await send(raw.url, callRequest('text', {}, 21).init);
      expect([got.status, got.retry]).toEqual([429, '7']);
      expect(got).toEqual(want);
      expect(rateCalls - before).toBe(2);
    } finally {
      await new Promise((r) => app.server.close(r));
      await new Promise((r) => raw.server.close(r));
      await http.close();
    }
  });

  it('takes only well-formed plain calls', () => {
    const accepted = createEnvelopeCheck();
    const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n] ?? null });
    const good = { 'content-type': 'application/json', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'get_status' };
    const msg = (patch: Record<string, unknown> = {}, params: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_status', arguments: { node: 'pi' }, _meta: META, ...params }, ...patch });
    expect(plainToolsCall(msg(), headers(good), accepted)).toEqual({ id: 1, name: 'get_status', args: { node: 'pi' }, client: { name: 'tester', version: '1.0' }, canElicit: false, capabilities: {} });
    expect(plainToolsCall(msg({}, { _meta: { ...META, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } }), headers(good), accepted)?.canElicit).toBe(true);
    expect(plainToolsCall(msg(), headers({ ...good, 'mcp-name': ' get_status\t' }), accepted)).toBeDefined();
    const refused: Array<[string, unknown, Record<string, string>]> = [
      ['another method', msg({ method: 'tools/list' }), good],
      ['not JSON by its Content-Type', msg(), { ...good, 'content-type': 'text/plain' }],
      ['no Content-Type', msg(), { ...good, 'content-type': '' }],
      ['no jsonrpc', msg({ jsonrpc: undefined }), good],
      ['fractional id', msg({ id: 1.5 }), good],
      ['null id', msg({ id: null }), good],
      ['extra top-level key', msg({ extra: 1 }), good],
      ['arguments an array', msg({}, { arguments: [1] }), good],
      ['empty name', msg({}, { name: '' }), { ...good, 'mcp-name': '' }],
      ['input_required retry', msg({}, { inputResponses: {} }), good],
      ['request state', msg({}, { requestState: 'x' }), good],
      ['a progress token', msg({}, { _meta: { ...META, progressToken: 1 } }), good],
      ['trace context', msg({}, { _meta: { ...META, traceparent: '00-x' } }), good],
      ['an older revision', msg({}, { _meta: { ...META, 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } }), { ...good, 'mcp-protocol-version': '2025-11-25' }],
      ['no envelope', msg({}, { _meta: undefined }), good],
      ['capabilities missing', msg({}, { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } }), good],
      ['capabilities not an object', msg({}, { _meta: { ...META, 'io.modelcontextprotocol/clientCapabilities': 'all' } }), good],
      ['Mcp-Method disagrees', msg(), { ...good, 'mcp-method': 'tools/list' }],
      ['Mcp-Name base64 sentinel', msg(), { ...good, 'mcp-name': '=?base64?Z2V0X3N0YXR1cw==?=' }],
      ['no Mcp-Name', msg(), { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call' }],
      ['header version differs', msg(), { ...good, 'mcp-protocol-version': '2025-11-25' }],
    ];
    for (const [what, body, h] of refused) expect(plainToolsCall(body, headers(h), accepted), what).toBeUndefined();
  });
});

/** The app served twice, with and without the raw path, and a raw HTTP/1.1 client for both. */
async function rawAndApp(http: ReturnType<typeof createHttpApp>) {
  let honoRequests = 0;
  const listen = async (fast: boolean) => {
    const fetchApp: typeof http.app.fetch = (r, env) => {
      if (fast) honoRequests++;
      return http.app.fetch(r, env);
    };
    const server = serve({ fetch: fetchApp, hostname: '127.0.0.1', port: 0, ...(fast ? { createServer: ((o: ServerOptions, l: RequestListener) => createServer(o, http.nodeListener(l))) as typeof createServer } : {}) }) as HttpServer;
    await new Promise((r) => server.once('listening', r));
    return { server, port: (server.address() as AddressInfo).port };
  };
  const app = await listen(false);
  const raw = await listen(true);
  /** The answer's status line, headers but Date, and body, as bytes from the socket. */
  const send = (port: number, head: string, body: string, framing?: string) =>
    new Promise<string>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      // The hub answers a too-large body before reading it all (and may reset the rest).
      sock.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
      sock.on('close', () => resolve(Buffer.concat(chunks).toString('utf8').replace(/^Date: .*\r\n/gim, '')));
      // `framing`: the whole request bytes after the head (pipelining, chunked bodies).
      sock.write(framing !== undefined ? `${head}${framing}` : `${head}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  return {
    app,
    raw,
    hono: () => honoRequests,
    send,
    async close() {
      app.server.closeAllConnections();
      raw.server.closeAllConnections();
      await new Promise((r) => app.server.close(r));
      await new Promise((r) => raw.server.close(r));
      await http.close();
    },
  };
}

/** A plain call as an HTTP/1.1 request head (no length, no connection) and body. */
function rawCall(name: string, args: Record<string, unknown>, extra: Record<string, string> = {}, host = '127.0.0.1') {
  const { init } = callRequest(name, args, 1, { headers: extra });
  const headers = { ...(init.headers as Record<string, string>), host };
  return { head: `POST /mcp HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}`, body: init.body as string };
}

describe('the raw path (nodeListener) under odd requests', () => {
  afterEach(() => vi.restoreAllMocks());

  it('leaves a Host that node-server refuses to node-server (400): no call, no rate-limit charge', async () => {
    let rateCalls = 0;
    const { http, calls } = setup('confirm', () => {
      rateCalls++;
      return { ok: true };
    });
    const s = await rawAndApp(http);
    try {
      // hostOnly() of each is an allowed name; node-server refuses the Host itself.
      for (const host of ['127.0.0.1:99999', '127.0.0.1:1/x', 'localhost:abc', '127.0.0.1:80@evil']) {
        const { head, body } = rawCall('text', { a: 1 }, {}, host);
        const before = { calls: calls.length, rate: rateCalls, hono: s.hono() };
        const want = await s.send(s.app.port, head, body);
        const got = await s.send(s.raw.port, head, body);
        expect(got, host).toBe(want);
        expect(got.startsWith('HTTP/1.1 400'), host).toBe(true);
        expect(calls.length - before.calls, host).toBe(0);
        expect(rateCalls - before.rate, host).toBe(0);
        // node-server answers it before the app.
        expect(s.hono() - before.hono, host).toBe(0);
      }
      // The Hosts node-server takes still take the raw path, with the app's answer.
      for (const host of [`127.0.0.1:${s.raw.port}`, '127.0.0.1:65000', '127.0.0.1:80', '[::1]:8080', '[::1]', 'LOCALHOST:8080', 'localhost']) {
        const before = s.hono();
        const { head, body } = rawCall('text', { a: 1 }, {}, host);
        const want = await s.send(s.app.port, head, body);
        const got = await s.send(s.raw.port, head, body);
        expect(got, host).toBe(want);
        expect(got, host).toMatch(/^HTTP\/1.1 200/);
        expect(s.hono() - before, host).toBe(0);
      }
    } finally {
      await s.close();
    }
  });

  it('reads Mcp-Param-* headers in any case: a call whose header carries its argument is served raw, a mismatch is the app\'s refusal', async () => {
    const { http, calls } = setup();
    const s = await rawAndApp(http);
    try {
      const ok = rawCall('regional', { region: 'eu' }, { 'mcp-param-region': 'eu' });
      const want = await s.send(s.app.port, ok.head, ok.body);
      const before = s.hono();
      const got = await s.send(s.raw.port, ok.head, ok.body);
      expect(got).toBe(want);
      expect(got).toMatch(/^HTTP\/1.1 200/);
      expect(s.hono() - before).toBe(0);
      expect(calls.filter((c) => c.startsWith('regional')).length).toBe(2);
      const bad = rawCall('regional', { region: 'eu' }, { 'mcp-param-region': 'us' });
      const refusedApp = await s.send(s.app.port, bad.head, bad.body);
      const refusedRaw = await s.send(s.raw.port, bad.head, bad.body);
      expect(refusedRaw).toBe(refusedApp);
      expect(refusedRaw).toMatch(/^HTTP\/1.1 400/);
      expect(calls.filter((c) => c.startsWith('regional')).length).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('answers as the app does (500) when a check throws, instead of throwing out of the request listener', async () => {
    const { http } = setup('confirm', () => {
      throw new Error('rate limiter broke');
    });
    const s = await rawAndApp(http);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => void uncaught.push(e);
    process.prependListener('uncaughtException', onUncaught);
    try {
      const { head, body } = rawCall('text', {});
      const want = await s.send(s.app.port, head, body);
      const got = await Promise.race([s.send(s.raw.port, head, body), new Promise<string>((r) => setTimeout(() => r('no answer'), 2000))]);
      expect(got).toBe(want);
      expect(got).toMatch(/^HTTP\/1.1 500/);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await s.close();
    }
  });
});

describe('the raw path (nodeListener) against the app, byte for byte', () => {
  it('answers odd requests as the app does: methods, paths, request targets, repeated headers, framing, pipelining, tokens, client addresses', async () => {
    let rateCalls = 0;
    const { http, calls, events } = setup(
      'confirm',
      () => {
        rateCalls++;
        return { ok: true };
      },
      { trustedProxies: () => ['10.9.9.9'] },
    );
    const s = await rawAndApp(http);
    const call = (name: string, extra: Record<string, string> = {}, target = '/mcp', method = 'POST') => {
      const r = rawCall(name, {}, extra);
      return { head: r.head.replace('POST /mcp ', `${method} ${target} `), body: r.body };
    };
    const plain = call('whoami');
    const chunked = (body: string) => `\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const cases: Array<[string, { head: string; body: string }, string?]> = [
      ['HEAD', call('whoami', {}, '/mcp', 'HEAD')],
      ['OPTIONS', call('whoami', {}, '/mcp', 'OPTIONS')],
      ['GET', call('whoami', {}, '/mcp', 'GET')],
      ['PUT', call('whoami', {}, '/mcp', 'PUT')],
      ['/mcp/', call('whoami', {}, '/mcp/')],
      ['/MCP', call('whoami', {}, '/MCP')],
      ['/mcp?x', call('whoami', {}, '/mcp?x')],
      ['//mcp', call('whoami', {}, '//mcp')],
      ['/%6dcp', call('whoami', {}, '/%6dcp')],
      ['/%2fmcp', call('whoami', {}, '/%2fmcp')],
      ['/./mcp', call('whoami', {}, '/./mcp')],
      ['absolute-form', call('whoami', {}, 'http://127.0.0.1/mcp')],
      ['absolute-form, other host', call('whoami', {}, 'http://evil.example/mcp')],
      ['two Authorization headers, the first good', { head: `${plain.head}\r\nauthorization: Bearer wrong`, body: plain.body }],
      ['two Authorization headers, the first bad', { head: plain.head.replace(`authorization: Bearer ${TOKEN}`, `authorization: Bearer wrong\r\nauthorization: Bearer ${TOKEN}`), body: plain.body }],
      ['two Host headers', { head: `${plain.head}\r\nhost: evil.example`, body: plain.body }],
      ['two Mcp-Method headers', { head: `${plain.head}\r\nmcp-method: tools/list`, body: plain.body }],
      ['Host with case', call('whoami'), undefined],
      ['an empty Origin', call('whoami', { origin: '' })],
      ['X-Forwarded-For from an untrusted peer', call('whoami', { 'x-forwarded-for': '203.0.113.9' })],
      ['cf-connecting-ip from an untrusted peer', call('whoami', { 'cf-connecting-ip': '203.0.113.9' })],
      ['a viewer calling a write', call('reboot', { authorization: `Bearer ${VIEWER_TOKEN}` })],
      ['a viewer calling a read', call('whoami', { authorization: `Bearer ${VIEWER_TOKEN}` })],
      ['no token', call('whoami', { authorization: '' })],
      ['Basic auth', call('whoami', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` })],
      ['protocol version header disagrees', call('whoami', { 'mcp-protocol-version': '2025-06-18' })],
      ['chunked body, no length', { head: plain.head, body: '' }, chunked(plain.body)],
      ['Expect: 100-continue', { head: `${plain.head}\r\nexpect: 100-continue`, body: plain.body }],
      ['pipelined: a call, then one with no token', { head: plain.head, body: '' }, `\r\ncontent-length: ${Buffer.byteLength(plain.body)}\r\n\r\n${plain.body}${call('whoami', { authorization: 'Bearer wrong' }).head}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(plain.body)}\r\n\r\n${plain.body}`],
      ['pipelined: a handed-on call (unknown tool), then one with no token', { head: call('nope').head, body: '' }, `\r\ncontent-length: ${Buffer.byteLength(call('nope').body)}\r\n\r\n${call('nope').body}${call('whoami', { authorization: '' }).head}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(plain.body)}\r\n\r\n${plain.body}`],
      ['chunked, too large, no length', { head: plain.head, body: '' }, chunked(JSON.stringify({ ...JSON.parse(plain.body), params: { ...JSON.parse(plain.body).params, arguments: { pad: 'x'.repeat(1_100_000) } } }))],
      ['chunked, too deep, no length', { head: plain.head, body: '' }, chunked(JSON.stringify({ ...JSON.parse(plain.body), params: { ...JSON.parse(plain.body).params, arguments: JSON.parse('{"a":'.repeat(80) + '1' + '}'.repeat(80)) } }))],
      ['Content-Type text/plain', call('whoami', { 'content-type': 'text/plain' })],
      ['Content-Type with parameters', call('whoami', { 'content-type': 'Application/JSON; charset=utf-8' })],
      ['a valid JSON batch', { head: plain.head, body: JSON.stringify([JSON.parse(plain.body), JSON.parse(plain.body)]) }],
      ['a JSON string', { head: plain.head, body: '"tools/call"' }],
      ['null', { head: plain.head, body: 'null' }],
    ];
    try {
      for (const [what, req, framing] of cases) {
        const before = { calls: calls.length, events: events.length, rate: rateCalls };
        const want = await s.send(s.app.port, req.head, req.body, framing);
        const mid = { calls: calls.length, events: events.length, rate: rateCalls };
        const got = await s.send(s.raw.port, req.head, req.body, framing);
        expect(got, what).toBe(want);
        expect(got, what).toMatch(/^HTTP\/1.1 \d{3} /);
        expect(calls.length - mid.calls, what).toBe(mid.calls - before.calls);
        expect(events.length - mid.events, what).toBe(mid.events - before.events);
        expect(rateCalls - mid.rate, what).toBe(mid.rate - before.rate);
      }
    } finally {
      await s.close();
    }
  });
});

describe('the raw path (nodeListener): client addresses and the login throttle', () => {
  it('takes the source a trusted proxy names (X-Forwarded-For, cf-connecting-ip) as the app does, and refuses a throttled source a good token', async () => {
    for (const header of ['x-forwarded-for', 'cf-connecting-ip'] as const) {
      const { http, calls } = setup('confirm', undefined, { trustedProxies: () => ['127.0.0.1'], clientIpHeader: () => header, authFailuresPerMinute: 2 });
      const s = await rawAndApp(http);
      try {
        const from = (addr: string, token = TOKEN) => rawCall('whoami', {}, { [header]: addr, authorization: `Bearer ${token}` });
        // The source the audit event gets.
        for (const addr of ['203.0.113.9', '::ffff:198.51.100.7']) {
          const r = from(addr);
          const want = await s.send(s.app.port, r.head, r.body);
          const got = await s.send(s.raw.port, r.head, r.body);
          expect(got, `${header} ${addr}`).toBe(want);
          expect(got, `${header} ${addr}`).toContain(`source=${addr.replace('::ffff:', '')}`);
        }
        // Bad tokens from one source, through either server, until it is throttled.
        for (let i = 0; i < 3; i++) {
          const bad = from('203.0.113.66', 'wrong');
          await s.send(i % 2 ? s.raw.port : s.app.port, bad.head, bad.body);
        }
        const before = calls.length;
        const good = from('203.0.113.66');
        const want = await s.send(s.app.port, good.head, good.body);
        const got = await s.send(s.raw.port, good.head, good.body);
        expect(got, header).toBe(want);
        expect(got, header).toMatch(/^HTTP\/1.1 429/);
        expect(calls.length, header).toBe(before);
        // Another source is not throttled.
        const other = from('203.0.113.67');
        expect(await s.send(s.raw.port, other.head, other.body), header).toMatch(/^HTTP\/1.1 200/);
      } finally {
        await s.close();
      }
    }
  });
});

describe('createEnvelopeCheck: its memory is bounded in bytes, not only in entries', () => {
  it('remembers a usual envelope, and never a large one (256 client-chosen megabyte envelopes would stay in memory)', () => {
    let asked = 0;
    const accepted = createEnvelopeCheck((req) => {
      asked++;
      return { kind: (req.body as { params: { _meta: Record<string, unknown> } }).params._meta['io.modelcontextprotocol/protocolVersion'] === MODERN ? 'modern' : 'legacy' };
    });
    expect(accepted(META)).toBe(true);
    expect(accepted({ ...META })).toBe(true);
    expect(asked).toBe(1);
    const big = { ...META, 'io.modelcontextprotocol/clientCapabilities': { experimental: { pad: 'x'.repeat(100_000) } } };
    expect(accepted(big)).toBe(true);
    expect(accepted(big)).toBe(true);
    expect(asked).toBe(3);
  });
});

describe('the raw path (nodeListener): a body that never completes', () => {
  it('a client that stops mid-body and goes away: no call, one rate-limit charge, nothing thrown, the next request served', async () => {
    let rateCalls = 0;
    const { http, calls } = setup('confirm', () => {
      rateCalls++;
      return { ok: true };
    });
    const s = await rawAndApp(http);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => void uncaught.push(e);
    process.prependListener('uncaughtException', onUncaught);
    process.prependListener('unhandledRejection', onUncaught);
    try {
      for (const port of [s.app.port, s.raw.port]) {
        const { head, body } = rawCall('text', {});
        const sock = connect(port, '127.0.0.1');
        await new Promise((r) => sock.once('connect', r));
        const before = { rate: rateCalls, calls: calls.length };
        sock.write(`${head}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`);
        // The request was admitted (charged) and its body is being read.
        await vi.waitFor(() => expect(rateCalls - before.rate).toBe(1));
        sock.destroy();
        await new Promise((r) => setTimeout(r, 50));
        expect(rateCalls - before.rate).toBe(1);
        expect(calls.length).toBe(before.calls);
        const next = rawCall('text', {});
        expect(await s.send(port, next.head, next.body)).toMatch(/^HTTP\/1.1 200/);
      }
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
      await s.close();
    }
  });
});
