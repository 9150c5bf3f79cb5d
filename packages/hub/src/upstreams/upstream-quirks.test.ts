// Upstreams that misbehave in ways real servers do: a 2025 server that answers the 2026 probe
// with "method not found", a response stream that ends without an answer, and a server
// replaced by one of the other era behind the same URL.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { isHomelabError } from '@homelab-mcp/core';
import { resultText } from '@homelab-mcp/testkit';
import { describe, expect, it } from 'vitest';
import { startModernServer, startSessionServer, until, type TestServer, trackForCleanup } from './test-servers.ts';
import { createUpstream, type Upstream } from './upstream.ts';

const track = trackForCleanup();

/**
 * A hand-written stateless 2025 server: `-32601` for `server/discover` (what a 2025 server
 * says to any method it does not know), and a `tools/call` answered with an SSE stream that
 * reports progress and then ends without the response, as a server whose handler crashed.
 */
async function startCuttingServer(): Promise<TestServer> {
  const methods: string[] = [];
  const json = (res: ServerResponse, body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const msg = JSON.parse(raw) as { id?: number; method: string; params?: { _meta?: { progressToken?: number } } };
      methods.push(msg.method);
      const id = msg.id;
      switch (msg.method) {
        case 'initialize':
          return json(res, { jsonrpc: '2.0', id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'cutter', version: '1.0.0' } } });
        case 'tools/list':
          return json(res, { jsonrpc: '2.0', id, result: { tools: [{ name: 'cut', inputSchema: { type: 'object' } }] } });
        case 'ping':
          return json(res, { jsonrpc: '2.0', id, result: {} });
        case 'tools/call': {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const token = msg.params?._meta?.progressToken;
          if (token !== undefined) {
            res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1 } })}\n\n`);
          }
          return void setTimeout(() => res.end(), 50);
        }
        default:
          if (id === undefined) return void res.writeHead(202).end();
          return json(res, { jsonrpc: '2.0', id, error: { code: -32601, message: `Method not found: ${msg.method}` } });
      }
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const port = (http.address() as AddressInfo).port;
  const stop = async () => {
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
  };
  return { url: `http://127.0.0.1:${port}/mcp`, port, methods, authorization: [], cancelled: [], clientPorts: new Set(), stop, [Symbol.asyncDispose]: stop };
}

describe('upstream quirks', () => {
  it('gives up a connect that gets no answer, within the connect timeout', async () => {
    // Accepts connections and never answers, like a host whose service hangs.
    const sockets = new Set<Socket>();
    const silent = createNetServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    track.defer(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as AddressInfo).port;
    const up = track(createUpstream({ kind: 'http', name: 'hung', url: `http://127.0.0.1:${port}/mcp` }, { connectTimeoutMs: 300, backoff: { initialMs: 60_000, maxMs: 60_000 } }));
    // The server never answers: only the connect timeout can end start() (a hang fails the test's own timeout).
    await up.start();
    expect(up.state()).toMatchObject({ status: 'down' });
    expect(up.state().lastError).toMatch(/timed out/);
  });

  it('falls back to initialize when the probe gets "method not found"', async () => {
    const server = track(await startCuttingServer());
    const up = track(createUpstream({ kind: 'http', name: 'cutter', url: server.url }));
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'legacy' });
    expect(server.methods.slice(0, 2)).toEqual(['server/discover', 'initialize']);
  });

  it('fails a call at once when its response stream ends without an answer, and stays up', async () => {
    const server = track(await startCuttingServer());
    const up = track(createUpstream({ kind: 'http', name: 'cutter', url: server.url }, { healthIntervalMs: 0 }));
    await up.start();
    const progress: number[] = [];
    // A call deadline past the test's own timeout: only noticing the ended stream can fail it in time.
    const err = (await up.callTool('cut', {}, { timeoutMs: 120_000, onprogress: (p) => progress.push(p.progress) }).catch((e: unknown) => e)) as Error;
    expect(progress).toEqual([1]);
    expect(isHomelabError(err, 'UPSTREAM_UNAVAILABLE')).toBe(true);
    expect(err.message).toContain('the upstream closed the response stream without answering');
    // The failure made the upstream check itself; the server answers, so it stays up.
    await expect.poll(() => server.methods.includes('ping')).toBe(true);
    expect(up.state().status).toBe('up');
  });

  it('drops a remembered 2026 verdict that stopped working and probes again', async () => {
    const modern = await startModernServer();
    let legacy: TestServer | undefined;
    track.defer(async () => {
      await modern.stop().catch(() => {});
      await legacy?.stop();
    });
    const up = track(createUpstream({ kind: 'http', name: 'swap', url: modern.url }, { healthIntervalMs: 100, backoff: { initialMs: 50, maxMs: 200 } }));
    await up.start();
    expect(up.state().era).toBe('modern');
    await modern.stop();
    await until(up, () => up.state().status === 'down', 20_000, 'down');
    // Same URL, now a 2025 server with sessions (a downgrade, or a different server).
    legacy = await startSessionServer({ port: modern.port });
    await until(up, () => up.state().status === 'up', 20_000, 'up again');
    expect(up.state().era).toBe('legacy');
    expect(legacy.methods).toContain('server/discover');
    expect(resultText(await up.callTool('echo', { text: 'legacy now' }, {}))).toBe('legacy now');
  });
});
