// Upstreams to real edge agents (the bundled edge, started on 127.0.0.1): era, token, fast
// failure while down, a kill mid-call and the comeback on the same port.
import { isHomelabError } from '@homelab-mcp/core';
import { resultText, startEdgeProcess, type EdgeProcess } from '@homelab-mcp/testkit';
import { createServer as createNetServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closedPort, recordingLog, until, trackForCleanup } from './test-servers.ts';
import { createUpstream, type Upstream, type UpstreamChange } from './upstream.ts';

const tracked = trackForCleanup();
const track = <T extends EdgeProcess | Upstream>(x: T): T => tracked(x, (y) => ('stop' in y ? stopNow(y) : y.close()));

/**
 * Stops an edge without its graceful wait: on SIGTERM the edge waits for idle keep-alive
 * sockets (which the upstream's connection pool holds) to time out, about 5 s.
 */
async function stopNow(edge: EdgeProcess): Promise<void> {
  if (edge.child.exitCode === null && edge.child.signalCode === null) {
    const exited = new Promise((r) => edge.child.once('exit', r));
    edge.child.kill('SIGKILL');
    await exited;
  }
  await edge.stop();
}

describe('edge upstream', () => {
  it('speaks 2026-07-28 to an edge, with its bearer token, and lists its tools', async () => {
    const edge = track(await startEdgeProcess());
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: edge.url, token: edge.token! }));
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'modern' });
    expect(up.tools().map((t) => t.name)).toContain('run_command');
    const r = await up.callTool('run_command', { cmd: 'echo hello' }, {});
    expect(resultText(r)).toContain('hello');
  });

  it('reports a wrong token as unauthorized, without the token', async () => {
    const edge = track(await startEdgeProcess());
    const log = recordingLog();
    const wrong = 'wrong-token-value-1234';
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: edge.url, token: wrong }, { log }));
    await up.start();
    expect(up.state().status).toBe('down');
    expect(up.state().lastError).toMatch(/401/);
    const err = await up.callTool('get_status', {}, {}).catch((e: unknown) => e);
    expect(isHomelabError(err, 'UPSTREAM_UNAVAILABLE')).toBe(true);
    for (const text of [String((err as Error).message), up.state().lastError!, ...log.lines]) expect(text).not.toContain(wrong);
  });

  it('fails a call to a down upstream at once, naming the node, the time and the reason', async () => {
    const port = await closedPort();
    const token = 'secret-token-abcdef';
    // A long connect timeout: the call must not wait for it.
    const up = track(createUpstream({ kind: 'edge', name: 'garage', url: `http://127.0.0.1:${port}/mcp`, token }, { connectTimeoutMs: 30_000 }));
    await up.start();
    expect(up.state().status).toBe('down');
    expect(up.tools()).toEqual([]);
    const err = (await up.callTool('get_status', {}, {}).catch((e: unknown) => e)) as Error;
    expect(isHomelabError(err, 'UPSTREAM_UNAVAILABLE')).toBe(true);
    expect(err.message).toMatch(/^node garage is unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z: connection refused$/);
    expect(err.message).not.toContain(token);
    expect(err.message).not.toContain(String(port));
  });

  it('fails an in-flight call when the edge dies, and comes back by itself when it restarts on the same port', async () => {
    let edge: EdgeProcess = await startEdgeProcess();
    tracked.defer(() => stopNow(edge));
    const token = edge.token!;
    const port = edge.port;
    // No health ticks: the dead edge must be noticed through the failed call.
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: edge.url, token }, { backoff: { initialMs: 100, maxMs: 1000 }, healthIntervalMs: 0 }));
    await up.start();
    expect(up.state().status).toBe('up');
    const events: UpstreamChange[] = [];
    up.onChange((w) => events.push(w));

    // The command would run past the test's own timeout: only noticing the dead edge fails the call in time.
    const call = up.callTool('run_command', { cmd: 'sleep 40' }, { timeoutMs: 300_000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    await stopNow(edge);
    const err = (await call) as Error;
    expect(isHomelabError(err, 'UPSTREAM_UNAVAILABLE')).toBe(true);
    expect(err.message).toMatch(/^node pi is unreachable since .*: connection (closed by the upstream|reset)/);

    await until(up, () => up.state().status === 'down', 20_000, 'down');
    expect(up.tools()).toEqual([]);
    expect(events).toContain('tools');
    const down = await up.callTool('get_status', {}, {}).catch((e: unknown) => e);
    expect(isHomelabError(down, 'UPSTREAM_UNAVAILABLE')).toBe(true);

    edge = await startEdgeProcess({ listen: `127.0.0.1:${port}`, token });
    // maxMs is 1 s: the next retry comes within a second of the edge listening again.
    await until(up, () => up.state().status === 'up', 20_000, 'up again');
    expect(up.state().era).toBe('modern');
    expect(up.tools().map((t) => t.name)).toContain('run_command');
    expect(resultText(await up.callTool('run_command', { cmd: 'echo back' }, {}))).toContain('back');
  });

  it('keeps "unreachable since" at the moment it went away, through a reconnect that fails and later retries', async () => {
    const edge = await startEdgeProcess();
    tracked.defer(() => stopNow(edge));
    const port = edge.port;
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: edge.url, token: edge.token! }, { healthIntervalMs: 100, stableMs: 200, connectTimeoutMs: 600, backoff: { initialMs: 100, maxMs: 200 } }));
    await up.start();
    const seen: Array<{ status: string; since: number; at: number }> = [];
    up.onChange((w) => w === 'state' && seen.push({ status: up.state().status, since: up.state().since.getTime(), at: Date.now() }));
    // Stable (up longer than stableMs): a loss gets one immediate reconnect, status connecting.
    await new Promise((r) => setTimeout(r, 400));
    const beforeStop = Date.now();
    await stopNow(edge);
    // What answers on the port now accepts connections and says nothing: the reconnect takes
    // its whole deadline (600 ms) before it gives up.
    const sockets = new Set<Socket>();
    const silent = createNetServer((s) => {
      sockets.add(s.on('error', () => undefined));
    });
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
    tracked.defer(async () => {
      const closed = new Promise((r) => silent.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    });
    await until(up, () => up.state().status === 'down', 20_000, 'down');
    await new Promise((r) => setTimeout(r, 1500)); // more failed retries
    expect(seen.map((s) => s.status).slice(0, 2)).toEqual(['connecting', 'down']);
    // One "since" from the loss on: when it stopped answering, not when a retry gave up.
    expect(new Set(seen.map((s) => s.since)).size).toBe(1);
    expect(up.state().since.getTime()).toBe(seen[0]!.since);
    // By ordering, not by a bound a loaded machine breaks: "since" lies between the stop and
    // the moment the loss was reported (connecting), so before the retry gave up (down).
    expect(seen[0]!.since).toBeGreaterThanOrEqual(beforeStop);
    expect(seen[0]!.since).toBeLessThanOrEqual(seen[0]!.at);
    expect(seen[0]!.since).toBeLessThan(seen[1]!.at);
    const err = (await up.callTool('get_status', {}, {}).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`since ${new Date(seen[0]!.since).toISOString()}`);
  });

  it('notices a dead edge through the health check when nobody calls it', async () => {
    const edge = track(await startEdgeProcess());
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: edge.url, token: edge.token! }, { healthIntervalMs: 200, backoff: { initialMs: 5000, maxMs: 5000 } }));
    await up.start();
    const states: string[] = [];
    up.onChange((w) => w === 'state' && states.push(up.state().status));
    await stopNow(edge);
    await until(up, () => up.state().status === 'down', 20_000, 'down');
    expect(states).toEqual(['down']);
    expect(up.state().lastError).toBe('connection refused');
  });

  it('gives every call a deadline', async () => {
    const edge = track(await startEdgeProcess());
    const up = track(createUpstream({ kind: 'edge', name: 'pi', url: edge.url, token: edge.token! }));
    await up.start();
    // sleep 40 runs past the test's own timeout: only the call's deadline can end it in time.
    const err = (await up.callTool('run_command', { cmd: 'sleep 40' }, { timeoutMs: 300 }).catch((e: unknown) => e)) as Error;
    expect(isHomelabError(err, 'UPSTREAM_TIMEOUT')).toBe(true);
    expect(err.message).toBe('node pi did not answer tools/call run_command within 300 ms');
    // The connection is fine afterwards.
    expect(up.state().status).toBe('up');
    expect(resultText(await up.callTool('run_command', { cmd: 'echo ok' }, {}))).toContain('ok');
  });
});
