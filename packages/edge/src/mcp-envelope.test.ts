/**
 * The edge checks the 2026-07-28 envelope by hand (no SDK on a Pi); the hub checks it with the
 * SDK's classifier. A client must get the same refusal from both: this compares them request
 * for request. The SDK is a root dev dependency here, never part of the edge's bundle.
 */
import { classifyInboundRequest } from '@modelcontextprotocol/server';
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
