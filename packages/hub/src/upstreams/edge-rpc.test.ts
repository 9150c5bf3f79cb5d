// The direct tools/call path to 2026-07-28 edges (edge-rpc.ts) must behave as the SDK client
// did: same results, same errors, progress, cancellation, deadlines and the audit hook.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isHomelabError } from '@homelab-mcp/core';
import { resultText, startEdgeProcess } from '@homelab-mcp/testkit';
import { describe, expect, it } from 'vitest';
import { withoutReservedMeta } from '../server/mcp-server.ts';
import { openConnection, type Connection, type ConnectionHooks } from './connection.ts';
import { createEdgeRpc } from './edge-rpc.ts';
import { startModernServer, trackForCleanup } from './test-servers.ts';
import { createUpstream } from './upstream.ts';

const track = trackForCleanup();

const hooks: ConnectionHooks = { onclose() {}, onerror() {}, onListChanged() {} };
const clientInfo = { name: 'homelab-hub', version: '0.1.0' };

/** A result with its timings zeroed: two runs of one command differ only there. */
const timeless = (x: unknown) => JSON.stringify(x).replace(/"durationMs":[\d.]+/g, '"durationMs":0').replace(/ in [\d.]+ ms/g, ' in 0 ms');

describe('direct tools/call to an edge', () => {
  it('gets what the SDK client got from a real edge: results, tool errors, protocol errors', async () => {
    const edge = track(await startEdgeProcess());
    const conn: Connection = await openConnection({ kind: 'edge', name: 'pi', url: edge.url, token: edge.token! }, { clientInfo, timeoutMs: 10_000, hooks });
    track({ close: () => conn.close() });
    expect(conn.era).toBe('modern');
    expect(conn.edgeRpc).toBeDefined();
    const signal = AbortSignal.timeout(10_000);
    const calls: Array<[string, Record<string, unknown>]> = [
      ['run_command', { cmd: 'echo "hi ✓"; echo err >&2' }],
      ['run_command', { cmd: 'exit 3' }],
      ['read_file', { path: '/nonexistent/file' }],
      ['run_command', { nope: 1 }],
    ];
    for (const [name, args] of calls) {
      const viaSdk = await conn.client.callTool({ name, arguments: args, _meta: { 'io.modelcontextprotocol/logLevel': 'info' } }, { signal, toolDefinition: { name, inputSchema: { type: 'object' } } });
      const direct = await conn.edgeRpc!.callTool(name, args, { signal });
      // The same result; byte for byte once the hub drops the reserved `_meta` keys, as it does
      // before relaying (the SDK also re-orders the keys of the edge's serverInfo).
      expect(direct).toEqual({ ...viaSdk, structuredContent: { ...(viaSdk.structuredContent as object), durationMs: (direct.structuredContent as { durationMs: unknown }).durationMs }, content: direct.content });
      expect(timeless(withoutReservedMeta(direct))).toBe(timeless(withoutReservedMeta(viaSdk)));
    }
    const sdkErr = (await conn.client.callTool({ name: 'no_such_tool', arguments: {} }, { signal }).catch((e: unknown) => e)) as Error & { code: number };
    const directErr = (await conn.edgeRpc!.callTool('no_such_tool', {}, { signal }).catch((e: unknown) => e)) as Error & { code: number };
    expect(directErr.constructor).toBe(sdkErr.constructor);
    expect([directErr.code, directErr.message]).toEqual([sdkErr.code, sdkErr.message]);
  });

  it('keeps a call running longer than the idle-socket timeout, and calls again after its sockets were closed', async () => {
    const edge = track(await startEdgeProcess());
    const rpc = createEdgeRpc({ url: edge.url, headers: { Authorization: `Bearer ${edge.token!}` }, clientInfo, hooks, idleSocketMs: 200 });
    track({ close: async () => rpc.close() });
    const signal = AbortSignal.timeout(10_000);
    expect(resultText(await rpc.callTool('run_command', { cmd: 'sleep 1; echo slept' }, { signal }))).toContain('slept');
    await new Promise((r) => setTimeout(r, 500));
    expect(resultText(await rpc.callTool('run_command', { cmd: 'echo again' }, { signal }))).toContain('again');
  });

  it('passes progress through an SSE answer, cancels by closing the request, and reports each request to the audit hook', async () => {
    const server = track(await startModernServer());
    const http: Array<{ method: string; status?: number; error?: string }> = [];
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: server.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0, onHttpRequest: (r) => http.push(r) }));
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'modern' });
    const before = server.methods.filter((m) => m === 'tools/call').length;

    const progress: Array<{ progress: number; total?: number; message?: string }> = [];
    const r = await up.callTool('slow', { steps: 3, delayMs: 10 }, { onprogress: (p) => progress.push(p) });
    expect(resultText(r)).toBe('done after 3 steps');
    expect(progress).toEqual([1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })));
    expect(server.authorization.at(-1)).toBe('Bearer edge-token-0123456789');

    const ac = new AbortController();
    const call = up.callTool('wait', {}, { signal: ac.signal }).catch((e: unknown) => e);
    await new Promise((res) => setTimeout(res, 200));
    ac.abort();
    const aborted = (await call) as Error;
    expect(aborted.name, aborted.message).toBe('AbortError');
    await expect.poll(() => server.cancelled).toEqual(['wait']);

    const err = (await up.callTool('wait', {}, { timeoutMs: 300 }).catch((e: unknown) => e)) as Error;
    expect(isHomelabError(err, 'UPSTREAM_TIMEOUT')).toBe(true);
    expect(err.message).toBe('node pi did not answer tools/call wait within 300 ms');

    expect(server.methods.filter((m) => m === 'tools/call').length - before).toBe(3);
    const posts = http.filter((h) => h.method === 'POST');
    // Each request once, as fetch reported them: the status at the response head, or why none came.
    expect(posts.slice(-3).map((h) => h.status ?? h.error)).toEqual([200, 'This operation was aborted', 'The operation was aborted due to timeout']);
    expect(up.state().status).toBe('up');
  });

  it('fails a call at once when the server dies in the middle of an SSE answer', async () => {
    const server = await startModernServer();
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: server.url }, { healthIntervalMs: 0, backoff: { initialMs: 5000, maxMs: 5000 } }));
    await up.start();
    let progressed!: () => void;
    const firstProgress = new Promise<void>((r) => (progressed = r));
    const call = up.callTool('slow', { steps: 1200, delayMs: 100 }, { timeoutMs: 300_000, onprogress: () => progressed() }).catch((e: unknown) => e);
    await firstProgress;
    // The answer would run two minutes, past the test's own timeout: only noticing the dead server fails it in time.
    await server.stop();
    const err = (await call) as Error;
    expect(isHomelabError(err, 'UPSTREAM_UNAVAILABLE'), err.message).toBe(true);
  });

  it('fails like the SDK client on HTTP errors, rejected requests and streams cut short', async () => {
    const fake = track(await startFakeEdge());
    const direct = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0 }));
    const viaSdk = track(createUpstream({ kind: 'http', name: 'pi', url: fake.url, headers: { Authorization: 'Bearer edge-token-0123456789' } }, { healthIntervalMs: 0 }));
    await direct.start();
    await viaSdk.start();
    for (const tool of ['boom500', 'rpc400', 'cut', 'unauthorized']) {
      const a = (await direct.callTool(tool, {}, { timeoutMs: 5000 }).catch((e: unknown) => e)) as Error & { code?: unknown };
      const b = (await viaSdk.callTool(tool, {}, { timeoutMs: 5000 }).catch((e: unknown) => e)) as Error & { code?: unknown };
      const shape = (e: Error & { code?: unknown }) => [e.constructor.name, e.code, e.message.replace(/since \S+/, 'since T')];
      expect(shape(a), tool).toEqual(shape(b));
    }
    expect(fake.calls.filter((c) => c.via === 'edge').map((c) => c.headers)).toEqual(
      ['boom500', 'rpc400', 'cut', 'unauthorized'].map((n) => ({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': n, authorization: 'Bearer edge-token-0123456789' })),
    );
    const bad = (await direct.callTool('notjson', {}, {}).catch((e: unknown) => e)) as Error;
    expect(isHomelabError(bad, 'UPSTREAM_ERROR')).toBe(true);
  });

  it('health-checks an edge with one plain tools/list, and takes a changed list through the SDK', async () => {
    const fake = track(await startFakeEdge());
    const http: Array<{ method: string; status?: number }> = [];
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0, onHttpRequest: (r) => http.push(r) }));
    await up.start();
    expect(fake.lists).toEqual(['sdk']);
    const changes: string[] = [];
    up.onChange((w) => changes.push(w));
    // The first check has no list of its own to compare with: the SDK reads it again, validated.
    await up.checkNow();
    expect(fake.lists.slice(1)).toEqual(['edge', 'sdk']);
    // The same list since: one plain request each, nothing applied.
    await up.checkNow();
    await up.checkNow();
    expect(fake.lists.slice(3)).toEqual(['edge', 'edge']);
    expect(changes).toEqual([]);
    // A changed list (this server pushes no list_changed) is fetched through the SDK and applied.
    fake.tools.push('added');
    await up.checkNow();
    expect(fake.lists.slice(5)).toEqual(['edge', 'sdk']);
    expect(up.tools().map((t) => t.name)).toContain('added');
    expect(changes).toEqual(['tools']);
    await up.checkNow();
    expect(fake.lists.slice(7)).toEqual(['edge']);
    // Every request of every check went to the audit hook, the plain ones too.
    expect(http.filter((h) => h.method === 'POST' && h.status === 200).length).toBeGreaterThanOrEqual(fake.lists.length);
    expect(up.state().status).toBe('up');
  });

  it('a health check that cannot reach the edge marks it down, as through the SDK', async () => {
    const fake = await startFakeEdge();
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0, backoff: { initialMs: 60_000, maxMs: 60_000 } }));
    await up.start();
    await fake.close();
    await up.checkNow();
    expect(up.state().status).toBe('down');
    expect(up.state().lastError).toBe('connection refused');
  });

  it('an edge whose tools/list turns into "method not found" lists no tools, as through the SDK', async () => {
    const fake = track(await startFakeEdge());
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0 }));
    await up.start();
    await up.checkNow();
    expect(up.tools()).toHaveLength(5);
    fake.listing.mode = 'unknown';
    await up.checkNow();
    // Before the plain check, the SDK's -32601 emptied the list (fetchLists' orEmpty): the hub
    // must not keep offering tools the edge no longer lists.
    expect(up.tools()).toEqual([]);
    expect(up.state().status).toBe('up');
  });

  it('a health check answered over SSE does not leave the edge holding the hub\'s socket open', async () => {
    const fake = track(await startFakeEdge());
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0 }));
    await up.start();
    await up.checkNow();
    fake.listing.mode = 'sse-open';
    await up.checkNow();
    expect(up.state().status).toBe('up');
    // The answer came; the stream that goes on after it is cut (soon, not at once: a stream
    // that ends right after its answer keeps its socket for the next request).
    if (fake.listing.sseOpen > 0) await new Promise<void>((r) => fake.listing.sseClosed.push(r));
    expect(fake.listing.sseOpen).toBe(0);
  }, 10_000);

  it('a health check reads at most limits.maxResultBytes of a tools/list, and a list past it takes the edge down with that reason', async () => {
    const fake = track(await startFakeEdge());
    const http: Array<{ status?: number; error?: string }> = [];
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0, maxResultBytes: 16 * 1024, backoff: { initialMs: 60_000, maxMs: 60_000 }, onHttpRequest: (r) => http.push(r) }));
    await up.start();
    await up.checkNow();
    expect(up.state().status).toBe('up');
    for (let i = 0; i < 400; i++) fake.tools.push(`padding_tool_${i}_${'x'.repeat(40)}`);
    await up.checkNow();
    expect(up.state().status).not.toBe('up');
    expect(up.state().lastError).toMatch(/larger than limits\.maxResultBytes/);
    expect(up.tools()).toEqual([]);
  });

  it('a tools/call whose connection the edge resets is never sent twice, and fails as unavailable', async () => {
    const fake = track(await startFakeEdge());
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0, backoff: { initialMs: 60_000, maxMs: 60_000 } }));
    await up.start();
    // Warm the pool, so the reset one goes out on a reused keep-alive socket.
    await up.callTool('rpc400', {}).catch(() => undefined);
    const before = fake.calls.length;
    const err = await up.callTool('reset', {}).catch((e: unknown) => e);
    expect(isHomelabError(err, 'UPSTREAM_UNAVAILABLE')).toBe(true);
    expect(fake.calls.length - before).toBe(1);
  });

  it('an edge restarted on the same port: a call in the restart\'s race is never sent twice; once the old socket is seen closed, the call goes through', async () => {
    const first = await startFakeEdge();
    const port = Number(new URL(first.url).port);
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: first.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0, backoff: { initialMs: 60_000, maxMs: 60_000 } }));
    await up.start();
    await up.callTool('rpc400', {}).catch(() => undefined);
    await first.close();
    const second = track(await startFakeEdge(port));
    // At once: the hub may not have read the old socket's FIN yet and write on it. It cannot know
    // whether the edge read the call, so it does not send it again: at most once.
    const raced = await up.callTool('rpc400', {}).catch((e: unknown) => e);
    expect(second.calls.length).toBe(isHomelabError(raced, 'UPSTREAM_UNAVAILABLE') ? 0 : 1);
    // A moment later (a real restart takes longer than this) the old socket is gone.
    await new Promise((r) => setTimeout(r, 300));
    const before = second.calls.length;
    const err = await up.callTool('rpc400', {}).catch((e: unknown) => e);
    expect(isHomelabError(err, 'UPSTREAM_UNAVAILABLE')).toBe(false);
    expect(second.calls.length - before).toBe(1);
  });

  it('a health check in an edge restart\'s race (a reused socket reset) asks once more on a new socket: it is a read', async () => {
    const first = await startFakeEdge();
    const port = Number(new URL(first.url).port);
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: first.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0, backoff: { initialMs: 60_000, maxMs: 60_000 } }));
    await up.start();
    await up.checkNow();
    await up.checkNow();
    const states: string[] = [];
    up.onChange((k) => k === 'state' && states.push(up.state().status));
    await first.close();
    const second = track(await startFakeEdge(port));
    await up.checkNow();
    // Not "connection lost; reconnecting" for a socket the old process closed.
    expect(states).toEqual([]);
    expect(second.lists).toContain('edge');
    expect(up.state().status).toBe('up');
  });

  it('keeps its socket to an edge across a quiet spell longer than undici\'s 4 s', async () => {
    const fake = track(await startFakeEdge());
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0 }));
    await up.start();
    await up.callTool('rpc400', {}).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 5000));
    await up.callTool('rpc400', {}).catch(() => undefined);
    const ports = fake.calls.filter((c) => c.via === 'edge').map((c) => c.port);
    expect(ports).toHaveLength(2);
    expect(ports[1]).toBe(ports[0]);
  }, 30_000);

  it('a health check that gets no answer in time marks the edge down as "timed out", as through the SDK', async () => {
    const fake = track(await startFakeEdge());
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: fake.url, token: 'edge-token-0123456789' }, { healthIntervalMs: 0, connectTimeoutMs: 1500, backoff: { initialMs: 60_000, maxMs: 60_000 } }));
    await up.start();
    fake.hang.lists = true;
    await up.checkNow();
    expect(up.state().status).toBe('down');
    expect(up.state().lastError).toBe('timed out');
  });
});

/**
 * A minimal 2026-07-28 server that misbehaves on request: `boom500` (HTTP 500 with a text
 * body), `rpc400` (a JSON-RPC error with HTTP 400), `cut` (an SSE answer that ends after a
 * progress event, without a result), `unauthorized` (401), `notjson` (200 with a broken body).
 */
async function startFakeEdge(listenPort = 0) {
  const calls: Array<{ via: string; port: number; headers: Record<string, unknown> }> = [];
  /** The tools it lists (changeable), and who asked for the list: `sdk` or `edge` (edge-rpc.ts). */
  const tools = ['boom500', 'rpc400', 'cut', 'unauthorized', 'notjson'];
  const lists: string[] = [];
  /** Set: tools/list from edge-rpc.ts is never answered (a hung edge). */
  const hang = { lists: false };
  /**
   * How tools/list is answered: `unknown`: -32601 on both paths (an edge that dropped the
   * method); `sse-open`: from edge-rpc.ts, an SSE answer whose stream then stays open (a
   * hostile edge holding the hub's socket); `sockets` counts those streams still open.
   */
  const listing = { mode: 'normal' as 'normal' | 'unknown' | 'sse-open', sseOpen: 0, sseClosed: [] as Array<() => void> };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const msg = JSON.parse(Buffer.concat(chunks).toString()) as { id?: number | string; method: string; params?: { name?: string; _meta?: Record<string, unknown> } };
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const ok = (result: Record<string, unknown>) => json(200, { jsonrpc: '2.0', id: msg.id, result: { ...result, resultType: 'complete', _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'fake', version: '1' } } } });
      if (msg.id === undefined) return void res.writeHead(202).end();
      if (msg.method === 'server/discover') return ok({ supportedVersions: ['2026-07-28'], capabilities: { tools: {} } });
      if (msg.method === 'tools/list') {
        lists.push(req.headers['user-agent'] === 'node' ? 'sdk' : 'edge');
        if (hang.lists && req.headers['user-agent'] !== 'node') return;
        if (listing.mode === 'unknown') return json(200, { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } });
        if (listing.mode === 'sse-open' && req.headers['user-agent'] !== 'node') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const result = { tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })), ttlMs: 0, cacheScope: 'private', resultType: 'complete' };
          res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result })}\n\n`);
          listing.sseOpen++;
          const drip = setInterval(() => res.write(': still here\n\n'), 50);
          res.on('close', () => {
            clearInterval(drip);
            listing.sseOpen--;
            for (const f of listing.sseClosed.splice(0)) f();
          });
          return;
        }
        return ok({ tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })), ttlMs: 0, cacheScope: 'private' });
      }
      if (msg.method !== 'tools/call') return json(404, { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } });
      // The SDK client names itself in the envelope like the direct path; tell them apart by
      // the header the SDK adds (accept-language) and undici's user agent.
      calls.push({
        via: req.headers['user-agent'] === 'node' ? 'sdk' : 'edge',
        port: req.socket.remotePort ?? 0,
        headers: { 'mcp-protocol-version': req.headers['mcp-protocol-version'], 'mcp-method': req.headers['mcp-method'], 'mcp-name': req.headers['mcp-name'], authorization: req.headers.authorization },
      });
      switch (msg.params?.name) {
        case 'boom500':
          return void res.writeHead(500, { 'content-type': 'text/plain' }).end('boom: the server fell over');
        case 'rpc400':
          return json(400, { jsonrpc: '2.0', id: msg.id, error: { code: -32602, message: 'Invalid params: bad things', data: { why: 'x' } } });
        case 'unauthorized':
          return void res.writeHead(401).end();
        case 'reset':
          // Received, then the connection dies without an answer (the edge crashed mid-call).
          return void req.socket.resetAndDestroy();
        case 'notjson':
          return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc": "2.0", "id": ');
        case 'cut': {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const token = msg.params._meta?.progressToken;
          res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token ?? 0, progress: 1 } })}\n\n`);
          setTimeout(() => res.end(), 20);
          return;
        }
      }
    });
  });
  // As the edge (packages/edge/src/server.ts): idle sockets are kept 65 s.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(listenPort, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    tools,
    lists,
    hang,
    listing,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
