/**
 * The hub listens before its upstreams finish connecting: one that accepts TCP and never
 * answers used to hold the port closed for its whole connect timeout (10.8 s from spawn).
 */
import { createServer, type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { connectClient, startEdgeProcess, startHubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'admin-token-0123456789abcdef';

/** A server that accepts connections and reads requests but never writes a byte. */
async function startBlackHole() {
  const sockets = new Set<Socket>();
  let requests = 0;
  let closed = 0;
  let gotRequest!: () => void;
  const requested = new Promise<void>((r) => (gotRequest = r));
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('data', () => {
      requests++;
      gotRequest();
    });
    s.once('close', () => closed++);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requested,
    /** Requests received, and connections the hub gave up on (it ends them when its attempt ends). */
    seen: () => ({ requests, closed }),
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

interface Readyz {
  status: string;
  upstreams: Array<{ name: string; status: string }>;
}

describe('start with an upstream that never answers', () => {
  it('listens, answers /healthz and tools/list with the edge tools while that upstream is still connecting', async () => {
    await using hole = await startBlackHole();
    await using edge = await startEdgeProcess();
    await using hub = await startHubProcess({
      noWaitForUpstreams: true,
      config: {
        auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }] },
        local: { enabled: false },
        nodes: [{ name: 'pi', url: edge.url, token: '${PI_TOKEN}' }],
        upstreams: { hole: { url: hole.url } },
      },
      env: { PI_TOKEN: edge.token },
    });
    // The start banner still prints (on stdout, after the log line the helper waits for).
    await vi.waitFor(() => expect(hub.output()).toMatch(/homelab-hub \S+ is serving 1 node\(s\) at http:\/\/127\.0\.0\.1:\d+\/mcp/), { timeout: 10_000, interval: 50 });
    expect((await fetch(`${hub.base}/healthz`)).status).toBe(200);

    await hole.requested;
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    // The edge joins the catalog as it comes up (list_changed); the hole is still connecting.
    await vi.waitFor(
      async () => {
        const names = (await client.listTools()).tools.map((t) => t.name);
        expect(names).toContain('get_status');
      },
      { timeout: 20_000, interval: 100 },
    );
    const ready = await fetch(`${hub.base}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = (await ready.json()) as Readyz;
    // Ordering, not time: the hole has the hub's request, sent nothing back, and the hub has not
    // given up on it (its connection is open, no outcome logged) while the hub answers.
    expect(hole.seen().requests).toBeGreaterThan(0);
    expect(hole.seen().closed).toBe(0);
    expect(hub.output()).not.toContain('first connect attempts done');
    expect(ready.status).toBe(503);
    expect(body.status).toBe('degraded');
    expect(body.upstreams.map((u) => `${u.name}:${u.status}`).sort()).toEqual(['hole:connecting', 'pi:up']);
    const r = await client.callTool({ name: 'get_status', arguments: { node: 'pi' } });
    expect(r.isError).toBeFalsy();

    // When its attempt ends, the log says so once, with the outcome of each.
    await vi.waitFor(() => expect(hub.output()).toContain('first connect attempts done'), { timeout: 30_000, interval: 100 });
    const line = hub.output().split('\n').find((l) => l.includes('first connect attempts done'))!;
    expect(JSON.parse(line)).toMatchObject({ up: ['pi'], notUp: ['hole'] });
    const after = (await (await fetch(`${hub.base}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as Readyz;
    expect(after.upstreams.find((u) => u.name === 'hole')?.status).toBe('down');
  }, 60_000);
});
