import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { buildCatalog, type Catalog } from '../catalog/catalog.ts';
import { fanOut, selectNodes } from '../catalog/fleet.ts';
import type { CatalogTool } from '../catalog/types.ts';
import { createGate, type Gate, type HumanChannel } from '../policy/gate.ts';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { boundedProtocolError } from '../upstreams/errors.ts';
import { callHubTool, createHubServer, elicitFailure, ELICIT_TIMEOUT_MS, withoutReservedMeta, type CallObserver } from './mcp-server.ts';
import { createResourceSubscriptions } from './resource-subscriptions.ts';

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

describe('callHubTool outcomes', () => {
  const run = async (call: (signal: AbortController) => Promise<CallToolResult>) => {
    const ac = new AbortController();
    const tool: CatalogTool = { def: { name: 't', inputSchema: { type: 'object' } }, toolClass: 'read', source: 'hub', call: () => call(ac) };
    const catalog = { tool: () => tool } as unknown as Catalog;
    const gate = { check: async ({ args }: { args: Record<string, unknown> }) => ({ kind: 'allow', args }) } as unknown as Gate;
    const seen: Array<{ metric: string; outcome: string; error?: string }> = [];
    let metric = '';
    await callHubTool(
      { catalog: () => catalog, gate, caller: { user: 'a', role: 'admin' }, metrics: (_t, m) => void (metric = m), observer: { call: (e) => void seen.push({ metric, outcome: e.outcome, ...(e.error ? { error: e.error } : {}) }) } },
      { name: 't', args: {}, session: 's', signal: ac.signal, human: {} as HumanChannel },
    );
    return seen[0];
  };

  it('a call cancelled by the client is `cancelled`, whether its tool threw or answered', async () => {
    expect(await run(async (ac) => (ac.abort(), Promise.reject(new Error('aborted'))))).toEqual({ metric: 'cancelled', outcome: 'cancelled', error: 'aborted' });
    expect(await run(async (ac) => (ac.abort(), { content: [], isError: true }))).toMatchObject({ metric: 'cancelled', outcome: 'cancelled' });
  });

  it('takes a fleet call’s own outcome: partial is neither ok nor an error', async () => {
    const nodes = ['a', 'b'].map((name, i) => ({ name, roles: [], source: { state: () => ({ status: 'up' as const, since: new Date() }), tools: () => [{ name: 'x', inputSchema: { type: 'object' as const } }], callTool: async () => ({ content: [], ...(i ? { isError: true } : {}) }) } }));
    const ctx = { caller: { user: 'a', role: 'admin' as const }, session: 's', signal: new AbortController().signal };
    const answer = await fanOut('x', selectNodes('all', nodes), {}, ctx, 1000);
    expect(await run(async () => answer)).toEqual({ metric: 'partial', outcome: 'partial', error: '2 nodes: 1 ok, 1 failed (b: failed)' });
    expect(await run(async () => ({ content: [], isError: true }))).toEqual({ metric: 'error', outcome: 'failed' });
    expect(await run(async () => ({ content: [] }))).toEqual({ metric: 'ok', outcome: 'succeeded' });
  });
});

describe('callHubTool with an observer that journals a call as it starts (begin)', () => {
  const setup = (call: CatalogTool['call'], durable: Promise<void>) => {
    const tool: CatalogTool = { def: { name: 't', inputSchema: { type: 'object' } }, toolClass: 'write', source: 'pi', call };
    const catalog = { tool: () => tool } as unknown as Catalog;
    const gate = { check: async ({ args }: { args: Record<string, unknown> }) => ({ kind: 'allow', args, toolClass: 'write' }) } as unknown as Gate;
    const log: string[] = [];
    const observer: CallObserver = {
      call: (e) => void log.push(`call:${e.outcome}`),
      begin: (s) => {
        log.push(`begin:${s.tool}:${s.decision}:${JSON.stringify(s.args)}`);
        return {
          finish: async (e) => {
            log.push(`finish:${e.outcome}`);
            await durable;
          },
        };
      },
    };
    const answer = callHubTool({ catalog: () => catalog, gate, caller: { user: 'a', role: 'admin' }, observer }, { name: 't', args: { x: 1 }, session: 's', signal: new AbortController().signal, human: {} as HumanChannel });
    return { answer, log };
  };

  it('begins before the tool runs, finishes once, and answers only after the start is durable', async () => {
    let ran = false;
    let synced!: () => void;
    const { answer, log } = setup(
      async () => {
        ran = true;
        return { content: [{ type: 'text', text: 'ok' }] };
      },
      new Promise<void>((r) => (synced = r)),
    );
    let answered = false;
    void answer.then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toBe(true);
    expect(log).toEqual(['begin:t:allowed:{"x":1}', 'finish:succeeded']);
    expect(answered).toBe(false); // the start is not on disk yet
    synced();
    expect(await answer).toMatchObject({ content: [{ type: 'text', text: 'ok' }] });
  });

  it('withholds the answer when the start could not be written', async () => {
    const failed = Promise.reject(new Error('the audit journal could not write the event'));
    failed.catch(() => {});
    const { answer, log } = setup(async () => ({ content: [{ type: 'text', text: 'ok' }] }), failed);
    await expect(answer).rejects.toThrow('could not write');
    // The success path's finish threw into the catch, which finishes again (as failed); the
    // hub's observer writes the outcome of the first finish only (hub.ts: `finished`).
    expect(log.filter((l) => l.startsWith('finish'))).toEqual(['finish:succeeded', 'finish:failed']);
  });
});

describe('upstream features', () => {
  const admin = { user: 'ann', role: 'admin' as const };
  const gate = createGate({ modeFor: () => 'session' });

  it('advertises completions and resource subscriptions only while an upstream offers them, read when the client asks', async () => {
    let features = { completions: false, resourceSubscribe: false };
    const base = buildCatalog({ nodes: [], upstreams: [], hubTools: [], perDeviceTools: false, callTimeoutMs: 1000, maxToolName: 60 });
    const catalog: Catalog = { ...base, upstreamFeatures: () => features };
    const server = createHubServer({ info: { name: 'hub', version: '1', instructions: '' }, catalog: () => catalog, caller: admin, gate, subscriptions: createResourceSubscriptions({ catalog: () => catalog }) });
    // Built while no upstream offered anything; an upstream comes up before the client initializes.
    features = { completions: true, resourceSubscribe: true };
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    const client = new Client({ name: 't', version: '1' }, { versionNegotiation: { mode: 'legacy' } });
    await client.connect(b);
    expect(client.getServerCapabilities()).toMatchObject({ completions: {}, resources: { listChanged: true, subscribe: true } });
    features = { completions: false, resourceSubscribe: false };
    expect(server.getCapabilities().completions).toBeUndefined();
    expect(server.getCapabilities().resources).toEqual({ listChanged: true });
    const err = await client.complete({ ref: { type: 'ref/prompt', name: 'x' }, argument: { name: 'a', value: '' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ProtocolErrorCode.MethodNotFound });
    await client.close();
  });

  it("relays an upstream's JSON-RPC error from a tool as an error, journaled as failed", async () => {
    const events: Array<Parameters<CallObserver['call']>[0]> = [];
    const failing: CatalogTool = { def: { name: 'ha__x', inputSchema: { type: 'object' } }, toolClass: 'read', source: 'ha', call: async () => Promise.reject(boundedProtocolError(new ProtocolError(-32050, 'no', { why: 1 }))) };
    const own: CatalogTool = { def: { name: 'mine', inputSchema: { type: 'object' } }, toolClass: 'read', source: 'hub', call: async () => Promise.reject(new ProtocolError(-32602, 'bad')) };
    const catalog = buildCatalog({ nodes: [], upstreams: [], hubTools: [failing, own], perDeviceTools: false, callTimeoutMs: 1000, maxToolName: 60 });
    const call = (name: string) => callHubTool({ catalog: () => catalog, gate, caller: admin, observer: { call: (e) => void events.push(e) } }, { name, args: {}, session: 's', signal: new AbortController().signal, human: { modern: false, canAsk: false } });
    await expect(call('ha__x')).rejects.toMatchObject({ code: -32050, message: 'no', data: { why: 1 } });
    expect(events).toMatchObject([{ tool: 'ha__x', outcome: 'failed', error: 'no' }]);
    // A failure that is not an upstream's JSON-RPC error stays a result the model reads.
    expect(await call('mine')).toMatchObject({ isError: true, content: [{ type: 'text', text: 'bad' }] });
  });
});

