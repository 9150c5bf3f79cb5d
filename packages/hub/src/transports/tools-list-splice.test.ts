// The 2026-07-28 tools/list is served from the catalog's pre-serialised bytes: its answer must
// be byte for byte what the SDK sends when it serialises the list itself.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createMcpHandler, WebStandardStreamableHTTPServerTransport, type Tool } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { buildCatalog, type Catalog, type NativeUpstream } from '../catalog/catalog.ts';
import type { Caller, CatalogTool } from '../catalog/types.ts';
import { createMetrics } from '../metrics.ts';
import { createGate } from '../policy/gate.ts';
import { createHubServer } from '../server/mcp-server.ts';
import { createHttpApp } from './http.ts';

const MODERN = '2026-07-28';
const info = { name: 'homelab-hub', version: '9.9.9', instructions: 'test hub' };
const users: Record<string, { caller: Caller & { key: string }; token: string; mode: 'session' | 'confirm' }> = {
  admin: { caller: { user: 'admin', role: 'admin', key: 'admin#0' }, token: 'admin-token-0123456789', mode: 'confirm' },
  viewer: { caller: { user: 'viewer', role: 'viewer', key: 'viewer#1' }, token: 'viewer-token-0123456789', mode: 'session' },
};

const upstreamTools: Tool[] = [
  { name: 'get_light', description: 'Reads a light "quoted" \\ back\u2028slash, ünïcode ✓.', inputSchema: { type: 'object', properties: { id: { type: 'string' } } }, annotations: { readOnlyHint: true } },
  { name: 'set_light', title: 'Set', inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, execution: { taskSupport: 'optional' } } as Tool,
  { name: 'zap', inputSchema: { type: 'object' }, outputSchema: { type: 'object', properties: { ok: { type: 'boolean' } } }, _meta: { 'x/y': 1 } },
];

function catalogWithSpy(extraTools: Tool[] = []): { catalog: Catalog; spliced: () => number } {
  const up: NativeUpstream = {
    alias: 'ha',
    state: () => ({ status: 'up', since: new Date(0) }),
    tools: () => [...upstreamTools, ...extraTools],
    resources: () => [],
    resourceTemplates: () => [],
    prompts: () => [],
    callTool: async () => ({ content: [] }),
    readResource: async () => ({ contents: [] }),
    getPrompt: async () => ({ messages: [] }),
  };
  const hubTool: CatalogTool = { def: { name: 'list_nodes', description: 'Lists nodes.', inputSchema: { type: 'object' } }, toolClass: 'read', source: 'hub', call: async () => ({ content: [] }) };
  // get_light is a read by config: an upstream's own readOnlyHint is not trusted.
  const built = buildCatalog({ nodes: [], upstreams: [up], hubTools: [hubTool], perDeviceTools: false, callTimeoutMs: 1000, maxToolName: 60, classOverrides: { ha: [['get_*', 'read']] } });
  let count = 0;
  const catalog: Catalog = {
    ...built,
    modernDefsJson(role, confirmArg) {
      count++;
      return built.modernDefsJson(role, confirmArg);
    },
    legacyDefsJson(role, confirmArg) {
      const j = built.legacyDefsJson(role, confirmArg);
      if (j) count++;
      return j;
    },
  };
  return { catalog, spliced: () => count };
}

function toolsListRequest(token: string, id: unknown): { init: RequestInit; body: unknown } {
  const body = {
    jsonrpc: '2.0',
    id,
    method: 'tools/list',
    params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' } } },
  };
  return {
    body,
    init: {
      method: 'POST',
      headers: { host: '127.0.0.1', authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' },
      body: JSON.stringify(body),
    },
  };
}

describe('2026-07-28 tools/list from pre-serialised bytes', () => {
  it('answers byte for byte what the SDK sends, per role and approval mode, for any request id', async () => {
    const { catalog, spliced } = catalogWithSpy();
    const gate = createGate({ modeFor: (c) => users[c.user]!.mode });
    const http = createHttpApp({
      info,
      catalog: () => catalog,
      authenticate: (h) => Object.values(users).find((u) => h === `Bearer ${u.token}`)?.caller,
      rateLimit: () => ({ ok: true }),
      hostAllowed: () => false,
      maxBodyBytes: 1_000_000,
      metrics: createMetrics(),
      gate,
      health: () => [],
    });
    // The reference: the SDK's own pipeline with the same server and no splice.
    const reference = createMcpHandler((ctx) => createHubServer({ info, catalog: () => catalog, caller: ctx.authInfo!.extra!.caller as Caller, gate }), { legacy: 'reject' });
    try {
      for (const who of ['admin', 'viewer']) {
        for (const id of [1, 'a"b\\c', 0]) {
          const u = users[who]!;
          const { init, body } = toolsListRequest(u.token, id);
          const before = spliced();
          const res = await http.app.request('http://127.0.0.1/mcp', init);
          expect(spliced()).toBe(before + 1);
          const ref = await reference.fetch(new Request('http://127.0.0.1/mcp', init), { parsedBody: body, authInfo: { token: '', clientId: u.caller.user, scopes: [], extra: { caller: u.caller } } });
          const [got, want] = [await res.text(), await ref.text()];
          expect(res.status).toBe(ref.status);
          expect(res.headers.get('content-type')).toBe(ref.headers.get('content-type'));
          expect(got).toBe(want);
          const parsed = JSON.parse(got) as { id: unknown; result: { tools: Array<Record<string, unknown>> } };
          expect(parsed.id).toEqual(id);
          const names = parsed.result.tools.map((t) => t.name);
          expect(names).toEqual(who === 'viewer' ? ['ha__get_light', 'list_nodes'] : ['ha__get_light', 'ha__set_light', 'ha__zap', 'list_nodes']);
          expect(got).not.toContain('homelab-hub-tools-');
          if (who === 'admin') expect(parsed.result.tools.find((t) => t.name === 'ha__set_light')).not.toHaveProperty('execution');
        }
      }
      // The admin is in confirm mode: write tools take `confirm`.
      const res = await http.app.request('http://127.0.0.1/mcp', toolsListRequest(users.admin!.token, 5).init);
      const zap = ((await res.json()) as { result: { tools: Tool[] } }).result.tools.find((t) => t.name === 'ha__zap')!;
      expect(Object.keys(zap.inputSchema.properties ?? {})).toContain('confirm');
    } finally {
      await http.close();
      await reference.close();
    }
  });

  it('writes the same bytes and headers straight to the socket under @hono/node-server', async () => {
    const { catalog, spliced } = catalogWithSpy();
    const gate = createGate({ modeFor: () => 'confirm' });
    const http = createHttpApp({
      info,
      catalog: () => catalog,
      authenticate: () => users.admin!.caller,
      rateLimit: () => ({ ok: true }),
      hostAllowed: () => false,
      maxBodyBytes: 1_000_000,
      metrics: createMetrics(),
      gate,
      health: () => [],
    });
    const server = serve({ fetch: http.app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    const reference = createMcpHandler((ctx) => createHubServer({ info, catalog: () => catalog, caller: ctx.authInfo!.extra!.caller as Caller, gate }), { legacy: 'reject' });
    try {
      for (const id of [7, 'x']) {
        const { init, body } = toolsListRequest(users.admin!.token, id);
        const res = await fetch(`http://127.0.0.1:${port}/mcp`, init);
        const ref = await reference.fetch(new Request('http://127.0.0.1/mcp', init), { parsedBody: body, authInfo: { token: '', clientId: 'admin', scopes: [], extra: { caller: users.admin!.caller } } });
        const want = await ref.text();
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/json');
        expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(want)));
        expect(await res.text()).toBe(want);
      }
      expect(spliced()).toBe(2);
    } finally {
      await new Promise((r) => server.close(r));
      await http.close();
      await reference.close();
    }
  });

  it.each([
    ['spliced', [] as Tool[], 1],
    // The 2025 encoder rewrites an outputSchema whose root is not an object: the SDK serialises.
    ['serialised by the SDK', [{ name: 'arr', inputSchema: { type: 'object' }, outputSchema: { type: 'array', items: { type: 'string' } } } as unknown as Tool], 0],
  ])('2025-era session: tools/list is %s, byte for byte what the SDK sends', async (_what, extra, expectSpliced) => {
    const { catalog, spliced } = catalogWithSpy(extra);
    const gate = createGate({ modeFor: () => 'confirm' });
    const caller = users.admin!.caller;
    const http = createHttpApp({
      info,
      catalog: () => catalog,
      authenticate: () => caller,
      rateLimit: () => ({ ok: true }),
      hostAllowed: () => false,
      maxBodyBytes: 1_000_000,
      metrics: createMetrics(),
      gate,
      health: () => [],
    });
    // The reference: a 2025 session of the same server on the SDK's transport, no splice.
    const refServer = createHubServer({ info, catalog: () => catalog, caller, gate });
    const refTransport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => 'ref-session' });
    await refServer.connect(refTransport);
    const post = async (send: (init: RequestInit) => Promise<Response>, body: unknown, sid?: string) => {
      const res = await send({
        method: 'POST',
        headers: { host: '127.0.0.1', authorization: 'Bearer x', 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' } : {}) },
        body: JSON.stringify(body),
      });
      return { res, text: await res.text() };
    };
    const viaHub = (init: RequestInit) => Promise.resolve(http.app.request('http://127.0.0.1/mcp', init));
    const viaRef = (init: RequestInit) => refTransport.handleRequest(new Request('http://127.0.0.1/mcp', init));
    try {
      const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
      const sid = (await post(viaHub, init)).res.headers.get('mcp-session-id')!;
      await post(viaRef, init);
      for (const [send, id] of [[viaHub, sid], [viaRef, 'ref-session']] as const) await post(send, { jsonrpc: '2.0', method: 'notifications/initialized' }, id);
      const before = spliced();
      const got = await post(viaHub, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, sid);
      const want = await post(viaRef, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, 'ref-session');
      expect(spliced() - before).toBe(expectSpliced);
      expect(got.res.status).toBe(200);
      expect(got.res.headers.get('content-type')).toBe(want.res.headers.get('content-type'));
      expect(got.text).toBe(want.text);
      expect(got.text).toContain('"name":"ha__set_light"');
      expect(got.text).not.toContain('homelab-hub-tools-');
    } finally {
      await http.close();
      await refTransport.close();
    }
  });

  it('passes a refused request through unchanged', async () => {
    const { catalog, spliced } = catalogWithSpy();
    const http = createHttpApp({
      info,
      catalog: () => catalog,
      authenticate: () => users.admin!.caller,
      rateLimit: () => ({ ok: true }),
      hostAllowed: () => false,
      maxBodyBytes: 1_000_000,
      metrics: createMetrics(),
      gate: createGate({ modeFor: () => 'session' }),
      health: () => [],
    });
    try {
      const { init } = toolsListRequest('x', 3);
      const res = await http.app.request('http://127.0.0.1/mcp', { ...init, headers: { ...(init.headers as Record<string, string>), 'mcp-method': 'tools/call' } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32020);
      expect(spliced()).toBe(0);
    } finally {
      await http.close();
    }
  });
});
