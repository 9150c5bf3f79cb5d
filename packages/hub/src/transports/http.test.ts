import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Client, SSEClientTransport, type StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectClient } from '@homelab-mcp/testkit';
import { buildCatalog } from '../catalog/catalog.ts';
import { createMetrics } from '../metrics.ts';
import type { Authenticated } from '../policy/auth.ts';
import { createGate } from '../policy/gate.ts';
import { claimsModernEnvelope, clientAddress, createHttpApp } from './http.ts';

const V = 'io.modelcontextprotocol/protocolVersion';

describe('claimsModernEnvelope', () => {
  it('holds only for bodies the SDK never classifies as 2025-era', async () => {
    const bodies: Array<[unknown, boolean]> = [
      [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', _meta: { [V]: '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }, true],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { [V]: '2099-01-01' } } }, true],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { [V]: 5 } } }, true],
      [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { _meta: { [V]: '2026-07-28' } } }, true],
      [{ id: 1, method: 'tools/list', params: { _meta: { [V]: '2026-07-28' } } }, true],
      [{ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', _meta: { [V]: '2026-07-28' } } }, false],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, false],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, false],
      [{ jsonrpc: '2.0', id: 1, result: {}, method: 'x', params: { _meta: { [V]: '2026-07-28' } } }, false],
      [[{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { [V]: '2026-07-28' } } }], false],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: [V] } }, false],
      [null, false],
      ['text', false],
    ];
    for (const [body, claims] of bodies) {
      expect(claimsModernEnvelope(body), JSON.stringify(body)).toBe(claims);
      if (claims) {
        const req = new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { 'content-type': 'application/json', 'mcp-protocol-version': '2026-07-28' }, body: JSON.stringify(body) });
        expect(await isLegacyRequest(req, body), JSON.stringify(body)).toBe(false);
      }
    }
  });
});

describe('clientAddress', () => {
  it('is the peer unless the peer is a trusted proxy; then the nearest forwarded address that is not one', () => {
    expect(clientAddress('10.0.0.5', '203.0.113.5', ['127.0.0.1'])).toBe('10.0.0.5');
    expect(clientAddress('127.0.0.1', '203.0.113.5', [])).toBe('127.0.0.1');
    expect(clientAddress('::ffff:127.0.0.1', '203.0.113.5', ['127.0.0.1'])).toBe('203.0.113.5');
    expect(clientAddress('127.0.0.1', '1.2.3.4, 203.0.113.5, 127.0.0.1', ['127.0.0.1'])).toBe('203.0.113.5');
    expect(clientAddress('127.0.0.1', 'made-up, 203.0.113.5', ['127.0.0.1'])).toBe('203.0.113.5');
    expect(clientAddress('127.0.0.1', '203.0.113.5, not-an-ip', ['127.0.0.1'])).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', undefined, ['127.0.0.1'])).toBe('127.0.0.1');
    expect(clientAddress(undefined, '203.0.113.5', ['127.0.0.1'])).toBe('unknown');
    // Cloudflare Tunnel: one address, believed only from a trusted proxy.
    expect(clientAddress('127.0.0.1', '203.0.113.9', ['127.0.0.1'], 'cf-connecting-ip')).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', '2001:db8::9', ['127.0.0.1'], 'cf-connecting-ip')).toBe('2001:db8::9');
    expect(clientAddress('10.0.0.5', '203.0.113.9', ['127.0.0.1'], 'cf-connecting-ip')).toBe('10.0.0.5');
    expect(clientAddress('127.0.0.1', '203.0.113.9, 1.2.3.4', ['127.0.0.1'], 'cf-connecting-ip')).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', 'made-up', ['127.0.0.1'], 'cf-connecting-ip')).toBe('127.0.0.1');
  });
});

describe('sessions(): the open 2025-era sessions, for the admin UI', () => {
  afterEach(() => vi.useRealTimers());

  it('lists Streamable HTTP sessions and /sse streams with who they are now, their client and revision, opened and last seen; not 2026-07-28 requests', async () => {
    // Only Date is faked: the sockets and the SDK's timers run for real.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-12-07T10:00:00Z'));
    const tokens: Record<string, Authenticated> = {
      'ann-token-0123456789': { user: 'ann', role: 'admin', key: 'ann#0' },
      'bob-token-0123456789': { user: 'bob', role: 'operator', key: 'bob#0' },
    };
    const byKey = () => Object.fromEntries(Object.values(tokens).map((a) => [a.key, a]));
    const catalog = buildCatalog({ nodes: [], upstreams: [], hubTools: [{ def: { name: 'ping', inputSchema: { type: 'object' } }, toolClass: 'read', source: 'hub', call: async () => ({ content: [{ type: 'text', text: 'pong' }] }) }], perDeviceTools: false, callTimeoutMs: 1000, maxToolName: 60 });
    const http = createHttpApp({
      info: { name: 'homelab-hub', version: '9.9.9', instructions: 'test hub' },
      catalog: () => catalog,
      authenticate: (h) => tokens[h?.replace(/^Bearer /, '') ?? ''],
      resolveCaller: (k) => byKey()[k],
      rateLimit: () => ({ ok: true }),
      hostAllowed: () => false,
      maxBodyBytes: 1_000_000,
      metrics: createMetrics(),
      gate: createGate({ modeFor: () => 'session' }),
      health: () => [],
    });
    const server = serve({ fetch: http.app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // No standalone GET stream: it would come at a time of its own choosing.
      await using streamable = await connectClient(`${base}/mcp`, 'ann-token-0123456789', 'legacy', { getStream: false });
      vi.setSystemTime(Date.parse('2026-12-07T10:01:00Z'));
      const sse = new Client({ name: 'old-client', version: '0.9' });
      await sse.connect(new SSEClientTransport(new URL(`${base}/sse`), { requestInit: { headers: { Authorization: 'Bearer bob-token-0123456789' } } }));
      await using modern = await connectClient(`${base}/mcp`, 'bob-token-0123456789', 'modern');
      await modern.callTool({ name: 'ping', arguments: {} });
      const revision = expect.stringMatching(/^20(24|25)-\d\d-\d\d$/);
      expect(http.sessions()).toEqual([
        { id: expect.any(String), transport: 'streamable-http', user: 'ann', role: 'admin', key: 'ann#0', protocolVersion: revision, client: { name: 'homelab-test', version: '1.0.0' }, openedAt: '2026-12-07T10:00:00.000Z', lastSeenAt: '2026-12-07T10:00:00.000Z' },
        { id: expect.any(String), transport: 'sse', user: 'bob', role: 'operator', key: 'bob#0', protocolVersion: revision, client: { name: 'old-client', version: '0.9' }, openedAt: '2026-12-07T10:01:00.000Z', lastSeenAt: '2026-12-07T10:01:00.000Z' },
      ]);
      // Each request is seen: a POST in the session, a POST /messages on the stream.
      vi.setSystemTime(Date.parse('2026-12-07T10:05:00Z'));
      await streamable.callTool({ name: 'ping', arguments: {} });
      vi.setSystemTime(Date.parse('2026-12-07T10:07:00Z'));
      await sse.callTool({ name: 'ping', arguments: {} });
      expect(http.sessions().map((s) => [s.transport, s.openedAt, s.lastSeenAt])).toEqual([
        ['streamable-http', '2026-12-07T10:00:00.000Z', '2026-12-07T10:05:00.000Z'],
        ['sse', '2026-12-07T10:01:00.000Z', '2026-12-07T10:07:00.000Z'],
      ]);
      // Who a session's token is now: a role changed in the config shows at once; a removed token's session is left out.
      tokens['ann-token-0123456789'] = { user: 'ann', role: 'viewer', key: 'ann#0' };
      delete tokens['bob-token-0123456789'];
      expect(http.sessions().map((s) => [s.user, s.role])).toEqual([['ann', 'viewer']]);
      tokens['bob-token-0123456789'] = { user: 'bob', role: 'operator', key: 'bob#0' };
      await sse.close();
      await expect.poll(() => http.sessions().map((s) => s.transport)).toEqual(['streamable-http']);
      // A session the client ends (DELETE) leaves.
      await (streamable.transport as StreamableHTTPClientTransport).terminateSession();
      expect(http.sessions()).toEqual([]);
    } finally {
      await http.close();
      const closed = new Promise((r) => server.close(r));
      (server as import('node:http').Server).closeAllConnections();
      await closed;
    }
  });
});
