/**
 * The edge checks the 2026-07-28 envelope by hand (no SDK on a Pi); the hub checks it with the
 * SDK's classifier. A client must get the same refusal from both: this compares them request
 * for request. The SDK is a root dev dependency here, never part of the edge's bundle.
 */
import { classifyInboundRequest, createMcpHandler as createSdkHandler, McpServer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { createMcpHandler, envelopeProblem } from './mcp.ts';

const VERSION = 'io.modelcontextprotocol/protocolVersion';
const CAPS = 'io.modelcontextprotocol/clientCapabilities';
const INFO = 'io.modelcontextprotocol/clientInfo';

const mcp = createMcpHandler({ serverInfo: { name: 'edge', version: '1' }, tools: [], context: (signal) => ({ signal }) as never });

interface Case {
  what: string;
  headers: Record<string, string>;
  meta?: Record<string, unknown>;
}

const modernHeaders = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' };
const cases: Case[] = [
  { what: 'a 2026 header and no _meta', headers: modernHeaders },
  { what: 'a 2026 header and _meta without the version', headers: modernHeaders, meta: { [CAPS]: {} } },
  { what: 'a 2026 header and an empty _meta', headers: modernHeaders, meta: {} },
  { what: 'a later (unknown) version in the header and no _meta', headers: { ...modernHeaders, 'mcp-protocol-version': '2099-01-01' } },
  { what: 'the version without clientCapabilities', headers: modernHeaders, meta: { [VERSION]: '2026-07-28' } },
  { what: 'clientCapabilities that is not an object', headers: modernHeaders, meta: { [VERSION]: '2026-07-28', [CAPS]: 'all' } },
  { what: 'a version that is not a string', headers: { 'mcp-method': 'tools/list' }, meta: { [VERSION]: 20260728, [CAPS]: {} } },
  { what: 'clientInfo without a version', headers: modernHeaders, meta: { [VERSION]: '2026-07-28', [CAPS]: {}, [INFO]: { name: 'x' } } },
  { what: 'a body and header that name different versions', headers: { ...modernHeaders, 'mcp-protocol-version': '2025-11-25' }, meta: { [VERSION]: '2026-07-28', [CAPS]: {} } },
  { what: 'a method header that names another method', headers: { ...modernHeaders, 'mcp-method': 'tools/call' }, meta: { [VERSION]: '2026-07-28', [CAPS]: {} } },
];

describe('the 2026-07-28 envelope: the edge refuses what the SDK (the hub) refuses, with the same code', () => {
  it.each(cases)('$what', async ({ headers, meta }) => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list', ...(meta ? { params: { _meta: meta } } : {}) };
    const sdk = classifyInboundRequest({
      httpMethod: 'POST',
      body,
      ...(headers['mcp-protocol-version'] ? { protocolVersionHeader: headers['mcp-protocol-version'] } : {}),
      ...(headers['mcp-method'] ? { mcpMethodHeader: headers['mcp-method'] } : {}),
    });
    expect(sdk.kind).toBe('reject');
    const edge = await mcp.handle(body, (h) => headers[h], new AbortController().signal);
    const sdkRejection = sdk as unknown as { httpStatus: number; code: number; data?: unknown };
    expect({ status: edge.status, code: (edge.body as { error: { code: number } }).error.code }).toEqual({ status: sdkRejection.httpStatus, code: sdkRejection.code });
    // Both name what is missing or wrong (the SDK's wording of a problem is zod's, and it may
    // name a field inside the key, such as clientInfo.version).
    const edgeData = (edge.body as { error: { data?: { envelope?: { missing?: string[]; key?: string } } } }).error.data;
    const sdkData = sdkRejection.data as { envelope?: { missing?: string[]; key?: string } } | undefined;
    if (sdkData?.envelope?.missing) expect(edgeData?.envelope?.missing).toEqual(sdkData.envelope.missing);
    if (sdkData?.envelope?.key) expect(sdkData.envelope.key.startsWith(edgeData?.envelope?.key ?? '\u0000')).toBe(true);
  });

  it('accepts a complete envelope, as the SDK does', () => {
    const meta = { [VERSION]: '2026-07-28', [CAPS]: { elicitation: {} }, [INFO]: { name: 'c', version: '1' } };
    expect(envelopeProblem(meta)).toBeUndefined();
    expect(classifyInboundRequest({ httpMethod: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta } } }).kind).toBe('modern');
  });
});

/** A real SDK server (the hub's kind) with one tool, answering in-process over Fetch. */
const sdkServer = createSdkHandler(() => {
  const server = new McpServer({ name: 'sdk', version: '1' });
  server.registerTool('get_status', { description: 'x' }, async () => ({ content: [] }));
  return server;
});

/** What the SDK server answers: its HTTP status and JSON-RPC error, or undefined when it serves the request. */
async function sdkRefusal(body: Record<string, unknown>, headers: Record<string, string>): Promise<{ status: number; body: { id: unknown; error: { code: number; message: string; data?: unknown } } } | undefined> {
  const r = await sdkServer.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) }));
  if (r.status < 400) return undefined;
  return { status: r.status, body: (await r.json()) as never };
}

describe('headers that disagree with the body: the edge answers -32020 exactly as the SDK does, data.mismatch included', () => {
  const envelope = { [VERSION]: '2026-07-28', [CAPS]: {} };
  const call = (name: unknown) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: {}, _meta: envelope } });
  const list = { jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: envelope } };
  const notification = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: envelope } };
  const both = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' };
  const cases: Array<{ what: string; body: Record<string, unknown>; headers: Record<string, string> }> = [
    { what: 'a version header that names another version', body: list, headers: { 'mcp-protocol-version': '2025-11-25', 'mcp-method': 'tools/list' } },
    { what: 'a method header that names another method', body: list, headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' } },
    { what: 'no version header', body: list, headers: { 'mcp-method': 'tools/list' } },
    { what: 'no method header', body: list, headers: { 'mcp-protocol-version': '2026-07-28' } },
    { what: 'a tool call without Mcp-Name', body: call('get_status'), headers: both },
    { what: 'a tool call whose Mcp-Name names another tool', body: call('get_status'), headers: { ...both, 'mcp-name': 'run_command' } },
    { what: 'an Mcp-Name whose Base64 sentinel is not Base64', body: call('get_status'), headers: { ...both, 'mcp-name': '=?base64?not base64!?=' } },
    { what: 'an Mcp-Name in Base64 that decodes to another tool', body: call('get_status'), headers: { ...both, 'mcp-name': `=?base64?${Buffer.from('run_command').toString('base64')}?=` } },
    { what: 'a notification whose method header names another method', body: notification, headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' } },
    { what: 'a notification whose version header names another version', body: notification, headers: { 'mcp-protocol-version': '2025-11-25' } },
  ];
  it.each(cases)('$what', async ({ body, headers }) => {
    const sdk = await sdkRefusal(body, headers);
    expect(sdk?.body.error.code).toBe(-32020);
    expect((sdk!.body.error.data as { mismatch: { header: string; body: string } }).mismatch.header).toBeTypeOf('string');
    const edge = await mcp.handle(body, (h) => headers[h], new AbortController().signal);
    expect(edge).toEqual({ status: sdk!.status, body: { jsonrpc: '2.0', id: sdk!.body.id, error: sdk!.body.error } });
  });

  it.each<{ what: string; body: Record<string, unknown>; headers: Record<string, string> }>([
    { what: 'a tool call whose Mcp-Name is its name in Base64', body: call('get_status'), headers: { ...both, 'mcp-name': `=?base64?${Buffer.from('get_status').toString('base64')}?=` } },
    { what: 'a notification without the standard headers', body: notification, headers: {} },
  ])('serves $what, as the SDK does', async ({ body, headers }) => {
    expect(await sdkRefusal(body, headers)).toBeUndefined();
    const edge = await mcp.handle(body, (h) => headers[h], new AbortController().signal);
    expect((edge.body as { error?: { code: number } } | undefined)?.error?.code).not.toBe(-32020);
  });
});
