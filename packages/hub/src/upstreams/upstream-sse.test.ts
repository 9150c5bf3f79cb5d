// Upstreams to legacy HTTP+SSE servers (SDK v1 SSEServerTransport on 127.0.0.1).
import { resultText } from '@homelab-mcp/testkit';
import { describe, expect, it } from 'vitest';
import { startSseServer, until, type TestServer, trackForCleanup } from './test-servers.ts';
import { createUpstream, type Upstream } from './upstream.ts';

const track = trackForCleanup();

const HEADERS = { 'X-Api-Key': 'sse-api-key-0123456789' };

describe('legacy HTTP+SSE upstream', () => {
  it('connects, calls tools, sends the headers on the stream and on every POST, and cancels', async () => {
    const server = track(await startSseServer());
    const up = track(createUpstream({ kind: 'sse', name: 'old', url: server.url, headers: { Authorization: 'Bearer sse-token-0123456789', ...HEADERS } }));
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'legacy', serverInfo: { name: 'sse-server', version: '0.9.0' } });
    // HTTP+SSE predates 2026-07-28: no probe.
    expect(server.methods[0]).toBe('initialize');
    expect(up.tools().map((t) => t.name).sort()).toEqual(['echo', 'wait']);
    expect(resultText(await up.callTool('echo', { text: 'over sse' }, {}))).toBe('over sse');
    expect(new Set(server.authorization)).toEqual(new Set(['Bearer sse-token-0123456789']));

    const ac = new AbortController();
    const call = up.callTool('wait', {}, { signal: ac.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    expect(((await call) as Error).name).toBe('AbortError');
    await expect.poll(() => server.cancelled).toEqual(['wait']);
  });

  it('reconnects after the server restarts on the same port', async () => {
    let server = await startSseServer();
    track.defer(() => server.stop());
    const up = track(createUpstream({ kind: 'sse', name: 'old', url: server.url }, { backoff: { initialMs: 100, maxMs: 500 }, healthIntervalMs: 0 }));
    await up.start();
    const port = server.port;
    await server.stop();
    // The broken event stream is noticed without any call.
    await until(up, () => up.state().status !== 'up', 20_000, 'the loss');
    server = await startSseServer({ port });
    await until(up, () => up.state().status === 'up', 20_000, 'up again');
    expect(resultText(await up.callTool('echo', { text: 'again' }, {}))).toBe('again');
    expect(server.methods.filter((m) => m === 'initialize')).toHaveLength(1);
  });
});
