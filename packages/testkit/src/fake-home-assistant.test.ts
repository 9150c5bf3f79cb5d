// The fake Home Assistant's MCP side answers as HA's mcp_server integration does (service-apis.md
// §4a): these tests pin that with plain fetch calls and the SDK client over both of its transports.
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { startFakeHomeAssistant } from './fake-home-assistant.ts';

const rpc = (ha: { url: string; token: string }, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${ha.url}/api/mcp`, { method: 'POST', headers: { authorization: `Bearer ${ha.token}`, 'content-type': 'application/json', accept: 'application/json', ...headers }, body: JSON.stringify(body) });

describe('fake Home Assistant (MCP side)', () => {
  it('answers /api/mcp statelessly with plain JSON and HA refusals', async () => {
    await using ha = await startFakeHomeAssistant();
    const init = await rpc(ha, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    expect(init.status).toBe(200);
    expect(init.headers.get('content-type')).toContain('application/json');
    expect(init.headers.get('mcp-session-id')).toBeNull();
    expect(((await init.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name).toBe('home-assistant');
    // No initialize needed for the next request (stateless), and no annotations on any tool.
    const list = (await (await rpc(ha, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-protocol-version': '2025-06-18' })).json()) as { result: { tools: Array<{ name: string; annotations?: unknown }> } };
    expect(list.result.tools.map((t) => t.name).sort()).toEqual(['GetDateTime', 'GetLiveContext', 'HassFanSetSpeed', 'HassLightSet', 'HassTurnOff', 'HassTurnOn', 'good_night']);
    expect(list.result.tools.every((t) => t.annotations === undefined)).toBe(true);
    expect(await (await rpc(ha, { jsonrpc: '2.0', id: 3, method: 'server/discover' })).json()).toEqual({ jsonrpc: '2.0', id: 3, error: { code: -32601, message: 'Method not found' } });
    expect((await rpc(ha, { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    const get = await fetch(`${ha.url}/api/mcp`, { headers: { authorization: `Bearer ${ha.token}` } });
    expect([get.status, await get.text()]).toEqual([405, '405: Method Not Allowed']);
    const noAuth = await rpc({ url: ha.url, token: 'wrong' }, { jsonrpc: '2.0', id: 4, method: 'ping' });
    expect([noAuth.status, await noAuth.text()]).toEqual([401, '401: Unauthorized']);
    const badAccept = await rpc(ha, { jsonrpc: '2.0', id: 5, method: 'ping' }, { accept: 'text/event-stream' });
    expect([badAccept.status, await badAccept.text()]).toEqual([400, 'Client must accept application/json']);
    const badType = await rpc(ha, { jsonrpc: '2.0', id: 6, method: 'ping' }, { 'content-type': 'text/plain' });
    expect([badType.status, await badType.text()]).toEqual([400, 'Content-Type must be application/json']);
    const other = await fetch(`${ha.url}/api/nope`, { headers: { authorization: `Bearer ${ha.token}` } });
    expect(other.status).toBe(404);
    expect(ha.unknown()).toEqual([{ method: 'GET', path: '/api/nope', status: 404 }]);
  });

  it('turns the attic fan on through the SDK client over Streamable HTTP, in HA text shapes', async () => {
    await using ha = await startFakeHomeAssistant();
    const client = new Client({ name: 't', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${ha.url}/api/mcp`), { requestInit: { headers: { Authorization: `Bearer ${ha.token}` } } }));
    const r = (await client.callTool({ name: 'HassTurnOn', arguments: { name: 'Attic Fan' } })) as { content: Array<{ text: string }>; isError?: boolean };
    expect(r.isError).toBeFalsy();
    expect(JSON.parse(r.content[0]!.text)).toMatchObject({ response_type: 'action_done', data: { success: [{ name: 'Attic Fan', type: 'entity', id: 'fan.attic' }], failed: [] } });
    expect(ha.state.entities.find((e) => e.entityId === 'fan.attic')?.state).toBe('on');
    const ctx = (await client.callTool({ name: 'GetLiveContext', arguments: { area: 'Attic' } })) as { content: Array<{ text: string }> };
    const live = JSON.parse(ctx.content[0]!.text) as { success: boolean; result: string };
    expect(live.success).toBe(true);
    expect(live.result).toContain("- names: Attic Fan\n  domain: fan\n  state: 'on'\n  areas: Attic\n  attributes:\n    percentage: '0'\n");
    expect(live.result).toContain("state: '31.5'");
    const miss = (await client.callTool({ name: 'HassTurnOn', arguments: { name: 'Cellar Fan' } })) as { content: Array<{ text: string }>; isError?: boolean };
    expect(miss.isError).toBe(true);
    expect(miss.content[0]!.text).toBe('Error calling tool: No entity named Cellar Fan');
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['Assist']);
    await client.close();
    expect(ha.unknown()).toEqual([]);
  });

  it('serves the legacy SSE endpoint, and 404 "404: Not Found" on /api/mcp when legacySseOnly', async () => {
    await using ha = await startFakeHomeAssistant({ legacySseOnly: true });
    const res = await rpc(ha, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect([res.status, await res.text()]).toEqual([404, '404: Not Found']);
    const client = new Client({ name: 't', version: '1' });
    await client.connect(new SSEClientTransport(new URL(`${ha.url}/mcp_server/sse`), { requestInit: { headers: { Authorization: `Bearer ${ha.token}` } } }));
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('HassTurnOn');
    await client.callTool({ name: 'HassTurnOff', arguments: { area: 'Kitchen', domain: ['light'] } });
    expect(ha.requests().some((r) => r.path.startsWith('/mcp_server/messages/') && r.status === 200)).toBe(true);
    await client.close();
  });

  it('lists only the read tools when nothing is exposed or control is off, and says when MCP is not configured', async () => {
    await using none = await startFakeHomeAssistant({ exposed: [] });
    const list = (await (await rpc(none, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).json()) as { result: { tools: Array<{ name: string }> } };
    expect(list.result.tools.map((t) => t.name)).toEqual(['GetLiveContext', 'GetDateTime']);
    const ctx = (await (await rpc(none, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'GetLiveContext', arguments: {} } })).json()) as { result: { content: Array<{ text: string }> } };
    expect(JSON.parse(ctx.result.content[0]!.text)).toMatchObject({ success: false });
    await using ro = await startFakeHomeAssistant({ control: false });
    const list2 = (await (await rpc(ro, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).json()) as { result: { tools: Array<{ name: string }> } };
    expect(list2.result.tools.map((t) => t.name)).toEqual(['GetLiveContext', 'GetDateTime']);
    await using off = await startFakeHomeAssistant({ mcpNotConfigured: true });
    const res = await rpc(off, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect([res.status, await res.text()]).toEqual([404, 'Model Context Protocol server is not configured']);
  });
});
