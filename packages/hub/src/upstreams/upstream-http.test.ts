// Upstreams to Streamable HTTP MCP servers (SDK v2 servers on 127.0.0.1): a 2025-era server
// with sessions (the common deployed kind) and a both-era stateless one.
import { isHomelabError } from '@homelab-mcp/core';
import { resultText } from '@homelab-mcp/testkit';
import { describe, expect, it } from 'vitest';
import { recordingLog, startModernServer, startSessionServer, until, type SessionServer, type TestServer, trackForCleanup } from './test-servers.ts';
import { createUpstream, type Upstream, type UpstreamChange } from './upstream.ts';

const track = trackForCleanup();

const HEADERS = { Authorization: 'Bearer ha-long-lived-token-0123456789' };

describe('2025-era server with sessions', () => {
  it('falls back to initialize, and sends the configured headers on every request', async () => {
    const server = track(await startSessionServer());
    const up = track(createUpstream({ kind: 'http', name: 'ha', url: server.url, headers: HEADERS }));
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'legacy', serverInfo: { name: 'session-server', version: '1.0.0' } });
    // The 2026 probe was tried first, answered 400 (no session), and the SDK fell back.
    expect(server.methods.slice(0, 2)).toEqual(['server/discover', 'initialize']);
    expect(up.tools().map((t) => t.name).sort()).toEqual(['echo', 'slow', 'wait']);
    expect(resultText(await up.callTool('echo', { text: 'hi' }, {}))).toBe('hi');
    expect(server.authorization.length).toBeGreaterThan(3);
    expect(new Set(server.authorization)).toEqual(new Set([HEADERS.Authorization]));

    // Closing ends the session on the server rather than leaving it to expire.
    expect(server.sessions()).toBe(1);
    await up.close();
    expect(server.methods.at(-1)).toBe('HTTP DELETE');
    expect(server.sessions()).toBe(0);
  });

  it('re-initializes a session the server lost (restart on the same port) and retries the call once, without probing again', async () => {
    let server: SessionServer = await startSessionServer();
    track.defer(() => server.stop());
    const up = track(createUpstream({ kind: 'http', name: 'ha', url: server.url, headers: HEADERS }, { healthIntervalMs: 0 }));
    await up.start();
    expect(resultText(await up.callTool('echo', { text: 'one' }, {}))).toBe('one');

    const port = server.port;
    await server.stop();
    // Real restarts take longer than this; without a pause, the call can race the client's
    // pool noticing that the old server closed its keep-alive socket ("other side closed"),
    // which is a different failure (not retried: the request may have been delivered).
    await new Promise((r) => setTimeout(r, 100));
    server = await startSessionServer({ port });
    const states: string[] = [];
    up.onChange((w) => w === 'state' && states.push(up.state().status));

    expect(resultText(await up.callTool('echo', { text: 'two' }, {}))).toBe('two');
    // The new server saw: the call with the old session id (404), a fresh initialize with the
    // remembered verdict (no server/discover), then the retried call.
    expect(server.methods.filter((m) => m !== 'notifications/initialized')).toEqual(['tools/call', 'initialize', 'tools/list', 'tools/call']);
    expect(states).toEqual(['connecting', 'up']);
    expect(up.tools().map((t) => t.name)).toContain('echo');
  });

  it('re-initializes once for many calls that hit the lost session together', async () => {
    let server: SessionServer = await startSessionServer();
    track.defer(() => server.stop());
    const up = track(createUpstream({ kind: 'http', name: 'ha', url: server.url }, { healthIntervalMs: 0 }));
    await up.start();
    const port = server.port;
    await server.stop();
    await new Promise((r) => setTimeout(r, 100));
    server = await startSessionServer({ port });
    const texts = await Promise.all(Array.from({ length: 5 }, (_, i) => up.callTool('echo', { text: `c${i}` }, {}).then(resultText)));
    expect(texts).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(server.methods.filter((m) => m === 'initialize')).toHaveLength(1);
  });

  it('lets calls made during the first connect wait for it', async () => {
    const server = track(await startSessionServer());
    const up = track(createUpstream({ kind: 'http', name: 'ha', url: server.url }));
    void up.start();
    expect(up.state().status).toBe('connecting');
    expect(resultText(await up.callTool('echo', { text: 'early' }, {}))).toBe('early');
  });

  it('refreshes the tool list on list_changed from the session GET stream', async () => {
    const server = track(await startSessionServer());
    const up = track(createUpstream({ kind: 'http', name: 'ha', url: server.url }, { healthIntervalMs: 0 }));
    await up.start();
    const events: UpstreamChange[] = [];
    up.onChange((w) => events.push(w));
    // Give the client time to open its GET stream after notifications/initialized.
    await new Promise((r) => setTimeout(r, 200));
    server.addTool('late_tool');
    await until(up, () => up.tools().some((t) => t.name === 'late_tool'), 20_000, 'late_tool');
    expect(events).toEqual(['tools']);
    expect(resultText(await up.callTool('late_tool', {}, {}))).toBe('late_tool');
  });

  it('passes progress through and cancels upstream on abort (notifications/cancelled)', async () => {
    const server = track(await startSessionServer());
    const up = track(createUpstream({ kind: 'http', name: 'ha', url: server.url }));
    await up.start();
    const progress: Array<{ progress: number; total?: number; message?: string }> = [];
    const r = await up.callTool('slow', { steps: 3, delayMs: 20 }, { onprogress: (p) => progress.push(p) });
    expect(resultText(r)).toBe('done after 3 steps');
    expect(progress).toEqual([
      { progress: 1, total: 3, message: 'step 1' },
      { progress: 2, total: 3, message: 'step 2' },
      { progress: 3, total: 3, message: 'step 3' },
    ]);

    const ac = new AbortController();
    const call = up.callTool('wait', {}, { signal: ac.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    const err = (await call) as Error;
    expect(err.name).toBe('AbortError');
    await expect.poll(() => server.cancelled).toEqual(['wait']);
    expect(server.methods).toContain('notifications/cancelled');
    expect(up.state().status).toBe('up');
  });

  it('cuts a list that is too long, and says so', async () => {
    const server = track(await startSessionServer());
    const log = recordingLog();
    const up = track(createUpstream({ kind: 'http', name: 'ha', url: server.url }, { maxListItems: 2, log }));
    await up.start();
    expect(up.tools()).toHaveLength(2);
    expect(log.lines.some((l) => l.startsWith('upstream list too long: cut') && l.includes('"count":3'))).toBe(true);
  });
});

describe('both-era stateless server', () => {
  it('speaks 2026-07-28, passes progress through and cancels upstream on abort', async () => {
    const server = track(await startModernServer());
    const up = track(createUpstream({ kind: 'http', name: 'hub2', url: server.url, headers: HEADERS }));
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'modern' });
    expect(server.methods).not.toContain('initialize');
    expect(new Set(server.authorization)).toEqual(new Set([HEADERS.Authorization]));

    const progress: number[] = [];
    const r = await up.callTool('slow', { steps: 2, delayMs: 20 }, { onprogress: (p) => progress.push(p.progress) });
    expect(resultText(r)).toBe('done after 2 steps');
    expect(progress).toEqual([1, 2]);

    // 2026-07-28 cancels by closing the request's stream: the handler's signal aborts.
    const ac = new AbortController();
    const call = up.callTool('wait', {}, { signal: ac.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    expect(((await call) as Error).name).toBe('AbortError');
    await expect.poll(() => server.cancelled).toEqual(['wait']);
  });

  it('keeps its connections alive: many calls, few sockets', async () => {
    const server = track(await startModernServer());
    const up = track(createUpstream({ kind: 'http', name: 'hub2', url: server.url }, { healthIntervalMs: 0 }));
    await up.start();
    const before = server.clientPorts.size;
    for (let i = 0; i < 20; i++) expect(resultText(await up.callTool('echo', { text: String(i) }, {}))).toBe(String(i));
    // Sequential calls reuse one pooled socket (the listen stream holds another open).
    expect(server.clientPorts.size - before).toBeLessThanOrEqual(1);
  });

  it('refreshes the tool list on list_changed from a subscriptions/listen stream', async () => {
    const server = track(await startModernServer());
    const up = track(createUpstream({ kind: 'http', name: 'hub2', url: server.url }, { healthIntervalMs: 0 }));
    await up.start();
    expect(server.methods).toContain('subscriptions/listen');
    server.addTool('late_tool');
    await until(up, () => up.tools().some((t) => t.name === 'late_tool'), 20_000, 'late_tool');
  });

  it('fails a call at once when the server dies in the middle of its answer', async () => {
    const server = await startModernServer();
    const up = track(createUpstream({ kind: 'http', name: 'hub2', url: server.url }, { healthIntervalMs: 0, backoff: { initialMs: 5000, maxMs: 5000 } }));
    await up.start();
    let progressed!: () => void;
    const firstProgress = new Promise<void>((r) => (progressed = r));
    // 1200 steps of 100 ms: the answer is an SSE stream that is still open when the server stops.
    const call = up.callTool('slow', { steps: 1200, delayMs: 100 }, { timeoutMs: 300_000, onprogress: () => progressed() }).catch((e: unknown) => e);
    await firstProgress;
    // The answer would run two minutes, past the test's own timeout: only noticing the dead server fails it in time.
    await server.stop();
    const err = (await call) as Error;
    expect(isHomelabError(err, 'UPSTREAM_UNAVAILABLE')).toBe(true);
    await until(up, () => up.state().status === 'down', 20_000, 'down');
  });
});

describe('an era pinned in config (upstreams.<alias>.protocol)', () => {
  it('2025-11-25 connects with initialize and never probes; 2026-07-28 speaks it, or fails loudly against a 2025-only server', async () => {
    const old = track(await startSessionServer());
    const legacy = track(createUpstream({ kind: 'http', name: 'ha', url: old.url, protocol: '2025-11-25' }, { healthIntervalMs: 0 }));
    await legacy.start();
    expect(legacy.state()).toMatchObject({ status: 'up', era: 'legacy' });
    expect(old.methods[0]).toBe('initialize');
    expect(old.methods).not.toContain('server/discover');

    const both = track(await startModernServer());
    const pinnedOld = track(createUpstream({ kind: 'http', name: 'hub2', url: both.url, protocol: '2025-11-25' }, { healthIntervalMs: 0 }));
    await pinnedOld.start();
    expect(pinnedOld.state()).toMatchObject({ status: 'up', era: 'legacy' });
    const pinnedNew = track(createUpstream({ kind: 'http', name: 'hub3', url: both.url, protocol: '2026-07-28' }, { healthIntervalMs: 0 }));
    await pinnedNew.start();
    expect(pinnedNew.state()).toMatchObject({ status: 'up', era: 'modern' });

    const refused = track(createUpstream({ kind: 'http', name: 'ha2', url: old.url, protocol: '2026-07-28' }, { healthIntervalMs: 0 }));
    await refused.start();
    expect(refused.state().status).toBe('down');
    expect(refused.state().lastError).toMatch(/did not offer pinned protocol version 2026-07-28/);
  });
});
