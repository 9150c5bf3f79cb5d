/**
 * Attacks on the hub's transports (issue #10, items 7, 9, 13, 14 and 15's depth limit), each
 * through a real hub process: a hostile upstream (a small real HTTP server here) sending a huge
 * SSE event or a huge result, clients sending bodies without end, deep JSON, batches and bad
 * tokens, and a user demoted while their 2025 session stays open.
 */
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, SSEClientTransport } from '@modelcontextprotocol/client';
import { connectClient, readJournal, resultText, startEdgeProcess, startHubProcess, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'transport-admin-token-0123456789';
const VIEWER = 'transport-viewer-token-0123456789';
const OPS = 'transport-ops-token-0123456789';
const BATCHER = 'transport-batch-token-0123456789';
const MAX_RESULT = 1024 * 1024;
const MAX_BODY = 256 * 1024;

interface Hostile {
  url: string;
  /** Resolved when `huge_sse` has streamed half the cap; the test then releases the rest. */
  halfway: Promise<void>;
  release(): void;
  /** How `huge_sse`'s response ended: `dropped` when the hub closed it before the end. */
  sseEnd: Promise<'dropped' | 'finished'>;
  stop(): Promise<void>;
}

/**
 * A stateless 2025 upstream that turns hostile on demand: `huge_json` answers 3 MiB of JSON,
 * `huge_sse` one SSE event of 32 MiB sent (more than loopback socket buffers hold) in 64 KiB chunks (pausing halfway until released),
 * `emit_log` sends a log message (its `marker` argument) before its answer. It also lists one
 * resource, which every role may read.
 */
async function startHostile(): Promise<Hostile> {
  let halfway!: () => void;
  const half = new Promise<void>((r) => (halfway = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let ended!: (how: 'dropped' | 'finished') => void;
  const sseEnd = new Promise<'dropped' | 'finished'>((r) => (ended = r));
  const json = (res: ServerResponse, body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const tool = (name: string) => ({ name, inputSchema: { type: 'object' } });
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const msg = JSON.parse(raw) as { id?: number; method: string; params?: { name?: string; arguments?: { marker?: string } } };
      const id = msg.id;
      switch (msg.method) {
        case 'initialize':
          return json(res, { jsonrpc: '2.0', id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {}, logging: {}, resources: {} }, serverInfo: { name: 'hostile', version: '1.0.0' } } });
        case 'tools/list':
          return json(res, { jsonrpc: '2.0', id, result: { tools: [tool('huge_json'), tool('huge_sse'), tool('emit_log')] } });
        case 'resources/list':
          return json(res, { jsonrpc: '2.0', id, result: { resources: [{ uri: 'hostile://notes', name: 'notes', mimeType: 'text/plain' }] } });
        case 'ping':
          return json(res, { jsonrpc: '2.0', id, result: {} });
        case 'tools/call': {
          const name = msg.params?.name;
          if (name === 'huge_json') return json(res, { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'j'.repeat(3 * MAX_RESULT) }] } });
          if (name === 'emit_log') {
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'warning', data: msg.params?.arguments?.marker } })}\n\n`);
            return void res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'logged' }] } })}\n\n`);
          }
          if (name === 'huge_sse') {
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            res.on('close', () => ended(res.writableFinished ? 'finished' : 'dropped'));
            res.write(`event: message\ndata: {"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"`);
            const chunk = 's'.repeat(64 * 1024);
            let sent = 0;
            const closed = once(res, 'close');
            const pump = async () => {
              while (sent < 32 * MAX_RESULT && !res.destroyed) {
                if (sent === MAX_RESULT / 2) {
                  halfway();
                  await released;
                }
                sent += chunk.length;
                if (!res.write(chunk)) await Promise.race([once(res, 'drain'), closed]);
              }
              if (!res.destroyed) res.end(`"}]}}\n\n`);
            };
            return void pump();
          }
          return json(res, { jsonrpc: '2.0', id, error: { code: -32602, message: `unknown tool ${name}` } });
        }
        default:
          if (id === undefined) return void res.writeHead(202).end();
          return json(res, { jsonrpc: '2.0', id, error: { code: -32601, message: `Method not found: ${msg.method}` } });
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    halfway: half,
    release,
    sseEnd,
    stop: async () => {
      release();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One JSON-RPC POST as a raw client sends it; the answer's messages (JSON or SSE). */
async function post(hub: HubProcess, token: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const messages = /^text\/event-stream/.test(res.headers.get('content-type') ?? '')
    ? text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)))
    : text
      ? [JSON.parse(text)]
      : [];
  return { status: res.status, sessionId: res.headers.get('mcp-session-id'), messages: messages.flat() as Array<Record<string, any>> };
}

/** A raw 2025 session of `version`: initialize and initialized, as a client does. */
async function openSession(hub: HubProcess, token: string, version: string): Promise<string> {
  const init = await post(hub, token, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  expect(init.status).toBe(200);
  expect(init.messages[0]?.result?.protocolVersion).toBe(version);
  const sid = init.sessionId!;
  const done = await post(hub, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid, 'mcp-protocol-version': version });
  expect(done.status).toBe(202);
  return sid;
}

const metricsText = async (hub: HubProcess, token: string) => (await fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();

describe('transport attacks: a hostile upstream and hostile clients', () => {
  let hostile: Hostile;
  let hub: HubProcess;

  beforeAll(async () => {
    hostile = await startHostile();
    hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }, { user: 'vera', role: 'viewer', token: VIEWER }] },
        local: { enabled: false },
        // One server under two aliases: its tools are writes as `hostile`, reads as `friendly`.
        upstreams: { hostile: { url: hostile.url, classes: { '*': 'write' } }, friendly: { url: hostile.url, classes: { '*': 'read' } } },
        limits: { maxResultBytes: MAX_RESULT, maxBodyBytes: MAX_BODY },
      },
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await hostile?.stop();
  });

  it('caps a huge JSON result from an upstream with an error naming the upstream and the limit', async () => {
    await using admin = await connectClient(hub.url, ADMIN, 'modern');
    const r = (await admin.callTool({ name: 'friendly__huge_json', arguments: {} })) as { isError?: boolean };
    expect(r.isError).toBe(true);
    expect(resultText(r)).toContain(`upstream friendly answered with more than limits.maxResultBytes (${MAX_RESULT} bytes)`);
  });

  it('cuts a huge SSE event mid-stream: /healthz answers while it streams, the call fails, the rest is never read', async () => {
    await using admin = await connectClient(hub.url, ADMIN, 'modern');
    const call = admin.callTool({ name: 'friendly__huge_sse', arguments: {} });
    await hostile.halfway;
    // Half the event is in the hub: it still serves other requests meanwhile.
    expect((await fetch(`${hub.base}/healthz`)).status).toBe(200);
    hostile.release();
    const r = (await call) as { isError?: boolean };
    expect(r.isError).toBe(true);
    expect(resultText(r)).toContain('limits.maxResultBytes');
    // The hub closed the stream instead of reading the 32 MiB to its end.
    expect(await hostile.sseEnd).toBe('dropped');
    // The upstream is still usable afterwards.
    const ok = await admin.callTool({ name: 'friendly__emit_log', arguments: { marker: 'after' } });
    expect(resultText(ok)).toBe('logged');
  });

  it('answers 413 to an endless POST /messages while the body is still arriving', async () => {
    const sse = await fetch(`${hub.base}/sse`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const reader = sse.body!.getReader();
    let head = '';
    while (!head.includes('\n\n')) head += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\S+)/.exec(head)![1]!;
    // Chunked, no Content-Length: only reading with a limit can stop it.
    const req = request(`${hub.base}${endpoint}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } });
    const answered = once(req, 'response') as Promise<[IncomingMessage]>;
    req.on('error', () => undefined);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    let response: IncomingMessage | undefined;
    void answered.then(([r]) => (response = r));
    // Keeps sending (never ends the body) until the hub answers; a hub that buffers to the end never does.
    while (!response && sent < 64 * MAX_BODY) {
      await new Promise<void>((r) => req.write(chunk, () => r()));
      sent += chunk.length;
    }
    const [res] = await answered;
    expect(res.statusCode).toBe(413);
    expect(sent).toBeLessThan(64 * MAX_BODY);
    req.destroy();
    await reader.cancel();
  });

  it('refuses JSON nested deeper than limits.maxJsonDepth with a JSON-RPC error', async () => {
    // 200 KB, under the body limit: the depth alone is refused.
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const r = await post(hub, ADMIN, deep);
    expect(r.status).toBe(400);
    expect(r.messages[0]?.error?.message).toContain('limits.maxJsonDepth (64)');
  });

  it('journals and counts calls to hidden or unknown tools, the name cut short', async () => {
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    await expect(viewer.callTool({ name: 'hostile__huge_json', arguments: {} })).rejects.toThrow(/not found/);
    const long = `probe_${'x'.repeat(5000)}`;
    await expect(viewer.callTool({ name: long, arguments: {} })).rejects.toThrow(/not found/);
    const denied = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'tool_call' && e.decision === 'denied' && e.user === 'vera');
    expect(denied.map((e) => String(e.tool).slice(0, 20))).toEqual(['hostile__huge_json', 'probe_xxxxxxxxxxxxxx']);
    expect(String(denied[1]!.tool).length).toBeLessThanOrEqual(129);
    expect(await metricsText(hub, ADMIN)).toMatch(/homelab_hub_refusals_total\{kind="unknown_tool"\} 2/);
    await expect.poll(() => hub.output()).toContain('refused: call to an unknown or hidden tool');
  });

  it("sends an upstream's log messages only to sessions whose role sees that upstream's tools", async () => {
    await using admin = await connectClient(hub.url, ADMIN, 'legacy');
    await using viewer = await connectClient(hub.url, VIEWER, 'legacy');
    const seenBy = { admin: [] as unknown[], viewer: [] as unknown[] };
    admin.setNotificationHandler('notifications/message', (n) => void seenBy.admin.push(n.params.data));
    viewer.setNotificationHandler('notifications/message', (n) => void seenBy.viewer.push(n.params.data));
    // Both sessions' GET streams are open once a list_changed-free request round trip is done.
    await viewer.listTools();
    await admin.callTool({ name: 'approve_writes', arguments: {} });
    // `hostile` offers the viewer nothing (all writes); `friendly` offers reads.
    expect(resultText(await admin.callTool({ name: 'hostile__emit_log', arguments: { marker: 'write-only-source' } }))).toBe('logged');
    await admin.callTool({ name: 'friendly__emit_log', arguments: { marker: 'readable-source' } });
    // Per session, relayed logs arrive in order: once the second is there, the first was not sent.
    await expect.poll(() => seenBy.viewer, { timeout: 10_000 }).toContain('readable-source');
    await expect.poll(() => seenBy.admin, { timeout: 10_000 }).toContain('readable-source');
    expect(seenBy.admin).toContain('write-only-source');
    expect(seenBy.viewer).not.toContain('write-only-source');
  });

  it("keeps an upstream's log messages from viewers who read only its resources (2025 GET stream and legacy /sse)", async () => {
    await using admin = await connectClient(hub.url, ADMIN, 'legacy');
    await using viewer = await connectClient(hub.url, VIEWER, 'legacy');
    const old = new Client({ name: 'old-viewer', version: '1' });
    await old.connect(new SSEClientTransport(new URL(`${hub.base}/sse`), { requestInit: { headers: { Authorization: `Bearer ${VIEWER}` } } }));
    try {
      const seen = { viewer: [] as unknown[], old: [] as unknown[] };
      viewer.setNotificationHandler('notifications/message', (n) => void seen.viewer.push(n.params.data));
      old.setNotificationHandler('notifications/message', (n) => void seen.old.push(n.params.data));
      // The viewer sees `hostile` through its resources, never through its tools (all writes).
      const resources = (await viewer.listResources()).resources;
      expect(resources.length).toBeGreaterThan(0);
      expect((await old.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith('hostile__'))).toEqual([]);
      await admin.callTool({ name: 'approve_writes', arguments: {} });
      // What an admin's write call made the upstream log, e.g. a secret it was sent.
      expect(resultText(await admin.callTool({ name: 'hostile__emit_log', arguments: { marker: 'admin-secret-s3cr3t' } }))).toBe('logged');
      await admin.callTool({ name: 'friendly__emit_log', arguments: { marker: 'readable-after' } });
      await expect.poll(() => seen.viewer, { timeout: 10_000 }).toContain('readable-after');
      await expect.poll(() => seen.old, { timeout: 10_000 }).toContain('readable-after');
      expect(seen.viewer).not.toContain('admin-secret-s3cr3t');
      expect(seen.old).not.toContain('admin-secret-s3cr3t');
    } finally {
      await old.close();
    }
  });
});

/**
 * A compromised edge: a proxy in front of a real edge that passes everything through (the
 * handshake, lists, health checks) except `tools/call`, which it answers with one SSE event of
 * 31 MB, sent in 64 KiB chunks and paused a quarter of the way until released.
 */
async function startHostileEdgeProxy(target: string) {
  let quarter!: () => void;
  const reached = new Promise<void>((r) => (quarter = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let ended!: (how: 'dropped' | 'finished') => void;
  const end = new Promise<'dropped' | 'finished'>((r) => (ended = r));
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    if (req.headers['mcp-method'] === 'tools/call') {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const closed = once(res, 'close');
      void closed.then(() => ended(res.writableFinished ? 'finished' : 'dropped'));
      res.write('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","content":[{"type":"text","text":"');
      const chunk = 'e'.repeat(64 * 1024);
      void (async () => {
        for (let sent = 0; sent < 31_000_000 && !res.destroyed; sent += chunk.length) {
          if (sent === 4 * chunk.length) {
            quarter();
            await released;
          }
          if (!res.write(chunk)) await Promise.race([once(res, 'drain'), closed]);
        }
        if (!res.destroyed) res.end('"}]}}\n\n');
      })();
      return;
    }
    const fwd = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    reached,
    release,
    end,
    stop: async () => {
      release();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('transport attacks: a compromised edge', () => {
  it('drops a 31 MB SSE event from an edge at limits.maxResultBytes, naming the node, while /healthz answers', async () => {
    await using edge = await startEdgeProcess();
    const proxy = await startHostileEdgeProxy(edge.url);
    try {
      await using hub = await startHubProcess({
        config: { auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] }, local: { enabled: false }, nodes: [{ name: 'evil', url: proxy.url, token: edge.token }], limits: { maxResultBytes: MAX_RESULT } },
      });
      await using admin = await connectClient(hub.url, ADMIN, 'modern');
      const call = admin.callTool({ name: 'get_status', arguments: { node: 'evil' } });
      await proxy.reached;
      expect((await fetch(`${hub.base}/healthz`)).status).toBe(200);
      proxy.release();
      const text = JSON.stringify(await call);
      expect(text).toContain('evil');
      expect(text).toContain(`limits.maxResultBytes (${MAX_RESULT} bytes)`);
      expect(await proxy.end).toBe('dropped');
    } finally {
      await proxy.stop();
    }
  });
});

describe('transport attacks: batches, the rate limit and failed logins', () => {
  let hub: HubProcess;
  beforeAll(async () => {
    hub = await startHubProcess({
      config: {
        // Each token has its own bucket: 12 requests, then one a minute.
        auth: { tokens: [{ user: 'batcher', role: 'admin', token: BATCHER }, { user: 'admin', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 1, burst: 12 } },
        local: { enabled: false },
        limits: { authFailuresPerMinute: 3 },
      },
    });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('refuses a batch in a session of a revision without batches (2025-06-18)', async () => {
    const sid = await openSession(hub, ADMIN, '2025-06-18');
    const refused = await post(hub, ADMIN, [{ jsonrpc: '2.0', id: 2, method: 'ping' }, { jsonrpc: '2.0', id: 3, method: 'ping' }], { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });
    expect(refused.status).toBe(400);
    expect(refused.messages[0]?.error?.message).toContain('accepted only in a session of protocol revision 2025-03-26 (this session uses 2025-06-18)');
    // Without a session (a batch cannot initialize one) as well.
    const bare = await post(hub, ADMIN, [{ jsonrpc: '2.0', id: 4, method: 'ping' }]);
    expect(bare.status).toBe(400);
  });

  it('counts each message of a 2025-03-26 batch against the rate limit', async () => {
    // 12 - 2 (initialize, initialized) = 10 left; a batch of 10 takes all of them.
    const sid = await openSession(hub, BATCHER, '2025-03-26');
    const pings = Array.from({ length: 10 }, (_, i) => ({ jsonrpc: '2.0', id: 10 + i, method: 'ping' }));
    const batch = await post(hub, BATCHER, pings, { 'mcp-session-id': sid });
    expect(batch.status).toBe(200);
    expect(batch.messages.map((m) => m.id).sort()).toEqual(pings.map((p) => p.id));
    // Counted as one request the bucket would hold 9 more; counted per message it is empty.
    const next = await post(hub, BATCHER, { jsonrpc: '2.0', id: 99, method: 'ping' }, { 'mcp-session-id': sid });
    expect(next.status).toBe(429);

    const metrics = await metricsText(hub, ADMIN);
    expect(metrics).toMatch(/homelab_hub_refusals_total\{kind="rate_limited"\} 1/);
    expect(metrics).toMatch(/homelab_hub_refusals_total\{kind="bad_request"\} 2/);
    await expect.poll(() => hub.output()).toContain('refused: rate limit (429)');
  });

  it('logs and counts 403 (foreign Host) and 413 (declared too large) refusals', async () => {
    const status = (headers: Record<string, string | number>, body = '') =>
      new Promise<number>((resolve, reject) => {
        const req = request(hub.url, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...headers } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    expect(await status({ host: 'evil.example' })).toBe(403);
    // Declared larger than the 4 MiB default: refused before a byte of it is read.
    const big = await status({ 'content-length': 5 * 1024 * 1024 }).catch(() => 413);
    expect(big).toBe(413);
    const metrics = await metricsText(hub, ADMIN);
    expect(metrics).toMatch(/homelab_hub_refusals_total\{kind="forbidden_host"\} 1/);
    expect(metrics).toMatch(/homelab_hub_refusals_total\{kind="too_large"\} 1/);
    await expect.poll(() => hub.output()).toContain('refused: Host or Origin not allowed (403)');
    await expect.poll(() => hub.output()).toContain('refused: request body too large (413)');
  });

  it('throttles failed authentications per address, saying nothing about which tokens exist', async () => {
    // 3 failures a minute from one address, then 429 for anything from it, a good token included.
    for (let i = 0; i < 3; i++) expect((await fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer wrong-${i}` } })).status).toBe(401);
    expect((await fetch(`${hub.base}/metrics`, { headers: { authorization: 'Bearer wrong-again' } })).status).toBe(429);
    const good = await fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(good.status).toBe(429);
    expect(Number(good.headers.get('retry-after'))).toBeGreaterThan(0);
    // A tools/call with a good token too (it answered 500: the 429 echoing the request's id
    // read the throttle's empty body as JSON).
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const call = await fetch(`${hub.base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'list_nodes' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_nodes', _meta: meta } }),
    });
    expect(call.status).toBe(429);
    expect(Number(call.headers.get('retry-after'))).toBeGreaterThan(0);
    await expect.poll(() => hub.output()).toContain('refused: too many failed authentications from this address (429)');
    await expect.poll(() => hub.output()).toContain('refused: no valid bearer token (401)');
  });
});

describe('transport attacks: failed logins behind a reverse proxy', () => {
  it('throttles the client the trusted proxy names, not everyone behind it; an untrusted peer cannot pick its address', async () => {
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] }, local: { enabled: false }, limits: { authFailuresPerMinute: 2 }, trustedProxies: ['127.0.0.1', '::1'] },
    });
    const get = (token: string, forwardedFor: string) => fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': forwardedFor } }).then((r) => r.status);
    // The attacker (as the proxy reports it, appended after whatever the attacker claimed).
    for (let i = 0; i < 2; i++) expect(await get(`wrong-${i}`, `198.51.100.${i}, 203.0.113.66`)).toBe(401);
    expect(await get('wrong-again', '203.0.113.66')).toBe(429);
    // Making up addresses further left does not get the attacker out.
    expect(await get('wrong-again', '192.0.2.1, 203.0.113.66')).toBe(429);
    // The owner behind the same proxy still gets in.
    expect(await get(ADMIN, '203.0.113.7')).toBe(200);
  });

  it('ignores X-Forwarded-For unless the peer is a trusted proxy', async () => {
    await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] }, local: { enabled: false }, limits: { authFailuresPerMinute: 2 } } });
    const get = (token: string, forwardedFor: string) => fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': forwardedFor } }).then((r) => r.status);
    for (let i = 0; i < 2; i++) expect(await get(`wrong-${i}`, `203.0.113.${i}`)).toBe(401);
    // A fresh made-up address per try would dodge the throttle if the header were believed.
    expect(await get('wrong-again', '203.0.113.99')).toBe(429);
  });
});

describe('transport attacks: role changes reach open sessions', () => {
  it('applies a demotion to an open 2025 session at its next call, and a removed token stops it', async () => {
    const hostile = await startHostile();
    try {
      const tokens = [{ user: 'admin', role: 'admin', token: ADMIN }, { user: 'ops', role: 'admin', token: OPS }];
      const config = { dataDir: './data', auth: { tokens }, local: { enabled: false }, upstreams: { hostile: { url: hostile.url, classes: { '*': 'write' } } } };
      await using hub = await startHubProcess({ config });
      const file = join(hub.dir, 'hub.yaml');
      await using ops = await connectClient(hub.url, OPS, 'legacy');
      await ops.callTool({ name: 'approve_writes', arguments: {} });
      expect(resultText(await ops.callTool({ name: 'hostile__emit_log', arguments: { marker: 'before' } }))).toBe('logged');

      // Demoted in hub.yaml while the session stays open: its writes go at once.
      writeFileSync(file, JSON.stringify({ ...config, auth: { tokens: [tokens[0], { ...tokens[1], role: 'viewer' }] } }));
      await expect
        .poll(async () => ops.callTool({ name: 'hostile__emit_log', arguments: { marker: 'after' } }).then(resultText, (e: Error) => e.message), { timeout: 10_000 })
        .toMatch(/Tool hostile__emit_log not found/);
      expect((await ops.listTools()).tools.map((t) => t.name)).not.toContain('hostile__emit_log');

      // Removed: the same session is refused.
      writeFileSync(file, JSON.stringify({ ...config, auth: { tokens: [tokens[0]] } }));
      await expect.poll(async () => ops.listTools().then(() => 'served', (e: Error) => e.message), { timeout: 10_000 }).not.toBe('served');
    } finally {
      await hostile.stop();
    }
  });

  it('applies a change of approval mode, then a demotion, to open 2025, 2026-07-28 and legacy /sse clients at their next call', { timeout: 60_000 }, async () => {
    const markers = mkdtempSync(join(tmpdir(), 'role-change-'));
    await using edge = await startEdgeProcess();
    const tokens = [{ user: 'admin', role: 'admin', token: ADMIN }, { user: 'ops', role: 'operator', token: OPS }];
    const config = { dataDir: './data', auth: { tokens }, local: { enabled: false }, approval: { mode: 'session' }, nodes: [{ name: 'pi', url: edge.url, token: edge.token }] };
    await using hub = await startHubProcess({ config });
    const file = join(hub.dir, 'hub.yaml');
    await using c2025 = await connectClient(hub.url, OPS, 'legacy');
    await using c2026 = await connectClient(hub.url, OPS, 'modern');
    const sse = new Client({ name: 'old-client', version: '1' });
    await sse.connect(new SSEClientTransport(new URL(`${hub.base}/sse`), { requestInit: { headers: { Authorization: `Bearer ${OPS}` } } }));
    const clients = { c2025, c2026, sse };
    let n = 0;
    /** Whether `touch` ran for this client, and what it answered. */
    const write = async (c: Client) => {
      const marker = join(markers, `m${++n}`);
      const text = await c.callTool({ name: 'run_command', arguments: { node: 'pi', cmd: `touch ${marker}` } }).then(resultText, (e: Error) => e.message);
      return { ran: existsSync(marker), text };
    };
    try {
      for (const c of Object.values(clients)) await c.callTool({ name: 'approve_writes', arguments: {} });
      for (const c of Object.values(clients)) expect((await write(c)).ran).toBe(true);

      // ops now needs a person's approval for each write: the session approvals no longer count.
      writeFileSync(file, JSON.stringify({ ...config, approval: { mode: 'session', users: { ops: 'human' } } }));
      await expect.poll(async () => (await write(c2026)).text, { timeout: 10_000 }).toMatch(/mode "human"/);
      for (const [name, c] of Object.entries(clients)) {
        const r = await write(c);
        expect([name, r.ran]).toEqual([name, false]);
        expect(r.text).toMatch(/mode "human"/);
      }

      // Demoted to viewer: no write tool at all, in any era.
      writeFileSync(file, JSON.stringify({ ...config, auth: { tokens: [tokens[0], { ...tokens[1], role: 'viewer' }] } }));
      await expect.poll(async () => (await write(c2026)).text, { timeout: 10_000 }).toMatch(/not found/);
      for (const [name, c] of Object.entries(clients)) {
        const r = await write(c);
        expect([name, r.ran]).toEqual([name, false]);
        expect(r.text).toMatch(/Tool run_command not found/);
      }
    } finally {
      await sse.close();
      rmSync(markers, { recursive: true, force: true });
    }
  });
});
