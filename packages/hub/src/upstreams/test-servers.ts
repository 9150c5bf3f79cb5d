/**
 * Real MCP servers on 127.0.0.1 for the upstream tests (imported by tests only): a 2025-era
 * server with sessions (SDK v2 `McpServer` over the sessionful
 * `WebStandardStreamableHTTPServerTransport`), a both-era stateless server (SDK v2
 * `createMcpHandler`), and a legacy HTTP+SSE server (SDK v1 `SSEServerTransport`, the only
 * SDK that still serves that transport). Each records what it saw (JSON-RPC methods,
 * `Authorization` headers, cancellations) so a test can assert on the wire, and each is
 * stopped by its own handle.
 *
 * @example
 * await using server = await startSessionServer();
 * server.addTool('late');           // registered on every live session: list_changed goes out
 */
import { randomUUID } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { McpServer as V1McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { createMcpHandler, isInitializeRequest, McpServer, WebStandardStreamableHTTPServerTransport, type ServerContext } from '@modelcontextprotocol/server';
import { afterEach } from 'vitest';
import { z } from 'zod';
import type { Upstream, UpstreamLogger } from './upstream.ts';

export interface TestServer extends AsyncDisposable {
  url: string;
  port: number;
  /** Every JSON-RPC method POSTed, in order. */
  methods: string[];
  /** The `Authorization` header of every HTTP request ('' when absent). */
  authorization: string[];
  /** Names of tool calls whose handler saw its signal abort (the client cancelled). */
  cancelled: string[];
  /** The client port of every TCP connection that carried a request (keep-alive shows as few). */
  clientPorts: Set<number>;
  stop(): Promise<void>;
}

export interface SessionServer extends TestServer {
  /** Registers a tool on every live session (the SDK then sends list_changed) and on later ones. */
  addTool(name: string): void;
  sessions(): number;
}

interface Recorder {
  cancelled: string[];
  extraTools: string[];
}

/** The tools every test server serves: `echo`, `slow` (reports progress), `wait` (until cancelled). */
function registerTools(server: McpServer, rec: Recorder): void {
  server.registerTool('echo', { description: 'Echoes text', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool(
    'slow',
    { description: 'Reports progress `steps` times, then answers', inputSchema: z.object({ steps: z.number(), delayMs: z.number() }) },
    async ({ steps, delayMs }, ctx: ServerContext) => {
      const token = ctx.mcpReq._meta?.progressToken;
      // Stops when the request is cancelled or its connection ends: a test that stops the server
      // mid-answer leaves no loop behind.
      for (let i = 1; i <= steps && !ctx.mcpReq.signal.aborted; i++) {
        await new Promise((r) => setTimeout(r, delayMs));
        if (token !== undefined) {
          await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps, message: `step ${i}` } });
        }
      }
      return { content: [{ type: 'text', text: `done after ${steps} steps` }] };
    },
  );
  server.registerTool('wait', { description: 'Waits until cancelled (or 30 s)', inputSchema: z.object({}) }, async (_args, ctx: ServerContext) => {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 30_000);
      ctx.mcpReq.signal.addEventListener('abort', () => {
        clearTimeout(t);
        rec.cancelled.push('wait');
        resolve();
      });
    });
    return { content: [{ type: 'text', text: 'waited' }] };
  });
  for (const name of rec.extraTools) addExtra(server, name);
}

function addExtra(server: McpServer, name: string): void {
  server.registerTool(name, { description: `added at runtime: ${name}`, inputSchema: z.object({}) }, async () => ({
    content: [{ type: 'text', text: name }],
  }));
}

function jsonError(status: number, code: number, message: string): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }), { status, headers: { 'content-type': 'application/json' } });
}

async function listen(server: HttpServer, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function closeHttp(server: HttpServer): Promise<void> {
  // Open SSE streams keep sockets busy forever; a restart on the same port needs them gone.
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function recordMethods(body: unknown, methods: string[]): void {
  for (const m of Array.isArray(body) ? body : [body]) {
    if (m && typeof m === 'object' && typeof (m as { method?: unknown }).method === 'string') methods.push((m as { method: string }).method);
  }
}

/**
 * A 2025-era Streamable HTTP server with sessions, like most MCP servers deployed today: an
 * unknown `Mcp-Session-Id` gets 404 (as after a restart), anything but `initialize` without
 * a session gets 400, which is also how it answers the 2026 `server/discover` probe.
 * `port` restarts it on the port of a previous instance.
 */
export async function startSessionServer(opts: { port?: number } = {}): Promise<SessionServer> {
  const rec: Recorder = { cancelled: [], extraTools: [] };
  const methods: string[] = [];
  const authorization: string[] = [];
  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; server: McpServer }>();

  const listener = getRequestListener(async (req: Request) => {
    authorization.push(req.headers.get('authorization') ?? '');
    const body: unknown = req.method === 'POST' ? await req.json().catch(() => undefined) : undefined;
    recordMethods(body, methods);
    if (req.method === 'DELETE') methods.push('HTTP DELETE');
    const sid = req.headers.get('mcp-session-id');
    if (sid) {
      const s = sessions.get(sid);
      if (!s) return jsonError(404, -32001, 'Session not found');
      return s.transport.handleRequest(req, { parsedBody: body });
    }
    if (req.method === 'POST' && isInitializeRequest(body)) {
      const server = new McpServer({ name: 'session-server', version: '1.0.0' });
      registerTools(server, rec);
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server });
        },
        onsessionclosed: (id) => {
          sessions.delete(id);
        },
      });
      await server.connect(transport);
      return transport.handleRequest(req, { parsedBody: body });
    }
    return jsonError(400, -32000, 'Bad Request: No valid session ID provided');
  });
  const clientPorts = new Set<number>();
  const http = createServer((req, res) => {
    clientPorts.add(req.socket.remotePort ?? 0);
    void listener(req, res);
  });
  const port = await listen(http, opts.port ?? 0);
  const stop = async () => {
    for (const s of sessions.values()) await s.server.close().catch(() => {});
    sessions.clear();
    await closeHttp(http);
  };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    methods,
    authorization,
    cancelled: rec.cancelled,
    clientPorts,
    addTool(name) {
      rec.extraTools.push(name);
      for (const s of sessions.values()) addExtra(s.server, name);
    },
    sessions: () => sessions.size,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

export interface ModernServer extends TestServer {
  /** Registers a tool for later requests and publishes list_changed to open listen streams. */
  addTool(name: string): void;
}

/**
 * A both-era stateless server (`createMcpHandler`): 2026-07-28 requests are answered per
 * request, 2025 ones by the stateless fallback. Answers are JSON unless the handler reports
 * progress, which upgrades the answer to an SSE stream.
 */
export async function startModernServer(): Promise<ModernServer> {
  const rec: Recorder = { cancelled: [], extraTools: [] };
  const methods: string[] = [];
  const authorization: string[] = [];
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: 'modern-server', version: '2.0.0' });
    registerTools(server, rec);
    return server;
  });
  const listener = getRequestListener(async (req: Request) => {
    authorization.push(req.headers.get('authorization') ?? '');
    const body: unknown = req.method === 'POST' ? await req.json().catch(() => undefined) : undefined;
    recordMethods(body, methods);
    return handler.fetch(req, { parsedBody: body });
  });
  const clientPorts = new Set<number>();
  const http = createServer((req, res) => {
    clientPorts.add(req.socket.remotePort ?? 0);
    void listener(req, res);
  });
  const port = await listen(http, 0);
  const stop = async () => {
    await handler.close();
    await closeHttp(http);
  };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    methods,
    authorization,
    cancelled: rec.cancelled,
    clientPorts,
    addTool(name) {
      rec.extraTools.push(name);
      handler.notify.toolsChanged();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A legacy HTTP+SSE server (protocol 2024-11-05 transport): GET /sse, POST /messages. */
export async function startSseServer(opts: { port?: number } = {}): Promise<TestServer> {
  const methods: string[] = [];
  const authorization: string[] = [];
  const cancelled: string[] = [];
  const transports = new Map<string, SSEServerTransport>();
  const servers: V1McpServer[] = [];

  const clientPorts = new Set<number>();
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    clientPorts.add(req.socket.remotePort ?? 0);
    authorization.push(req.headers.authorization ?? '');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new SSEServerTransport('/messages', res);
      transports.set(transport.sessionId, transport);
      res.on('close', () => transports.delete(transport.sessionId));
      const server = new V1McpServer({ name: 'sse-server', version: '0.9.0' });
      server.registerTool('echo', { description: 'Echoes text', inputSchema: { text: z.string() } }, async ({ text }) => ({
        content: [{ type: 'text', text }],
      }));
      server.registerTool('wait', { description: 'Waits until cancelled', inputSchema: {} }, async (_args, extra) => {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 30_000);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(t);
            cancelled.push('wait');
            resolve();
          });
        });
        return { content: [{ type: 'text', text: 'waited' }] };
      });
      servers.push(server);
      void server.connect(transport);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/messages') {
      const transport = transports.get(url.searchParams.get('sessionId') ?? '');
      if (!transport) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('No transport found for sessionId');
        return;
      }
      // Read the body here to record the method, then hand it over already parsed.
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        recordMethods(body, methods);
        void transport.handlePostMessage(req, res, body);
      });
      return;
    }
    res.writeHead(404).end();
  });
  const port = await listen(http, opts.port ?? 0);
  const stop = async () => {
    for (const s of servers) await s.close().catch(() => {});
    await closeHttp(http);
  };
  return {
    url: `http://127.0.0.1:${port}/sse`,
    port,
    methods,
    authorization,
    cancelled,
    clientPorts,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

// ---- helpers ------------------------------------------------------------------------------

/** Resolves when `predicate` holds, checked after each change event (and now). */
export function until(up: Upstream, predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; state: ${JSON.stringify(up.state())}`));
    }, timeoutMs);
    const off = up.onChange(() => {
      if (!predicate()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export function recordingLog(): UpstreamLogger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (obj: Record<string, unknown>, msg: string) => lines.push(`${msg} ${JSON.stringify(obj)}`);
  return { lines, debug: rec, info: rec, warn: rec };
}

type Stoppable = { stop(): Promise<void> } | { close(): Promise<void> };

/**
 * Registers an afterEach that stops, newest first, everything passed to the returned
 * `track` during a test (servers by `stop()`, upstreams by `close()`, or by `stop` given);
 * `track.defer(fn)` adds any other cleanup step.
 */
export function trackForCleanup() {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const track = <T extends Stoppable>(x: T, stop: (x: T) => Promise<void> = (y) => ('stop' in y ? y.stop() : y.close())): T => {
    cleanup.push(() => stop(x));
    return x;
  };
  return Object.assign(track, { defer: (f: () => Promise<void>) => void cleanup.push(f) });
}
