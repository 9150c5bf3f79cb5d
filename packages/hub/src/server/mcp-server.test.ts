import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { buildCatalog } from '../catalog/catalog.ts';
import type { CatalogTool } from '../catalog/types.ts';
import { createGate, type Gate } from '../policy/gate.ts';
import { callHubTool, elicitFailure, ELICIT_TIMEOUT_MS, withoutReservedMeta, type CallObserver } from './mcp-server.ts';

describe('withoutReservedMeta', () => {
  it("drops the upstream's protocol keys and keeps its own", () => {
    const r = { content: [], _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'upstream' }, 'anthropic/maxResultSizeChars': 500000 } };
    expect(withoutReservedMeta(r)).toEqual({ content: [], _meta: { 'anthropic/maxResultSizeChars': 500000 } });
    expect(withoutReservedMeta({ content: [], _meta: { 'io.modelcontextprotocol/serverInfo': {} } })).toEqual({ content: [] });
    const bare: { content: unknown[]; _meta?: Record<string, unknown> } = { content: [] };
    expect(withoutReservedMeta(bare)).toEqual({ content: [] });
  });
});

describe('callHubTool', () => {
  const admin = { user: 'ann', role: 'admin' as const };
  const tool: CatalogTool = { def: { name: 'reboot', inputSchema: { type: 'object' } }, toolClass: 'write', source: 'hub', call: async () => ({ content: [{ type: 'text', text: 'rebooted' }] }) };
  const catalog = buildCatalog({ nodes: [], upstreams: [], hubTools: [tool], perDeviceTools: false, callTimeoutMs: 1000, maxToolName: 60 });

  it('answers a gate that throws with a tool error, journaled and counted as denied, and does not run the tool', async () => {
    const events: Array<Parameters<CallObserver['call']>[0]> = [];
    const counted: string[] = [];
    const gate = { ...createGate({ modeFor: () => 'session' }), check: async () => Promise.reject(new Error('preview of node "x" failed')) } as Gate;
    const r = await callHubTool(
      { catalog: () => catalog, gate, caller: admin, observer: { call: (e) => void events.push(e) }, metrics: (t, o) => void counted.push(`${t}:${o}`) },
      { name: 'reboot', args: {}, session: 's', signal: new AbortController().signal, human: { modern: false, canAsk: false } },
    );
    expect(r.isError).toBe(true);
    expect((r.content[0] as { text: string }).text).toContain('preview of node "x" failed');
    expect(counted).toEqual(['reboot:denied']);
    expect(events).toMatchObject([{ tool: 'reboot', decision: 'denied', outcome: 'denied', error: 'approval check failed: preview of node "x" failed' }]);
  });
});

describe('elicitFailure', () => {
  it('says why asking the person failed', () => {
    expect(elicitFailure(new ProtocolError(ProtocolErrorCode.MethodNotFound, 'Method not found'))).toContain('"Method not found"');
    expect(elicitFailure(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out'))).toBe(`no answer came within ${ELICIT_TIMEOUT_MS / 1000} s`);
    expect(elicitFailure(new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed'))).toContain('closed');
    expect(elicitFailure(new Error('boom'))).toBe('the elicitation failed: boom');
    const aborted = new AbortController();
    aborted.abort();
    expect(elicitFailure(new Error('aborted'), aborted.signal)).toContain('cancelled');
  });
});
