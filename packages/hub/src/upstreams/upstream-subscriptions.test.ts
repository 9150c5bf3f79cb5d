// Resource subscriptions held by an upstream: kept across a restart of the server (a new 2025
// session, or a listen stream that ended), against the capable fixture in both eras.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resultText } from '@homelab-mcp/testkit';
import { describe, expect, it } from 'vitest';
import { trackForCleanup, until } from './test-servers.ts';
import { createUpstream } from './upstream.ts';

const track = trackForCleanup();

async function startCapable(era: string, port = 0): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../../test/fixtures/capable-server.mjs', import.meta.url))], { env: { ...process.env, ERA: era, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const p = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (b: Buffer) => resolve(JSON.parse(b.toString()).port));
    child.once('exit', () => reject(new Error('capable server exited')));
  });
  return { child, port: p, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM')))) };
}

describe.each([
  ['both', 'modern'],
  ['legacy', 'legacy'],
])('a %s server', (fixtureEra, era) => {
  it('announces updates of a subscribed resource, again after the server restarts, and stops after unsubscribe', async () => {
    let server = await startCapable(fixtureEra);
    track.defer(() => server.stop());
    const up = track(createUpstream({ kind: 'http', name: 'cap', url: `http://127.0.0.1:${server.port}/mcp` }, { healthIntervalMs: 200, backoff: { initialMs: 50, maxMs: 200 }, stableMs: 0 }));
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era });
    expect(up.features()).toEqual({ completions: true, resourceSubscribe: true });
    const updates: string[] = [];
    up.onResourceUpdated((uri) => void updates.push(uri));
    const open = async () => (JSON.parse(resultText(await up.callTool('seen', {}))) as { open: string[] }).open;
    await up.subscribeResource('memo://live');
    expect(await open()).toEqual(['memo://live']);
    await up.callTool('touch', { uri: 'memo://live' });
    await expect.poll(() => updates, { timeout: 10_000 }).toEqual(['memo://live']);

    // The server restarts and forgets every subscription: the upstream subscribes again.
    const port = server.port;
    await server.stop();
    server = await startCapable(fixtureEra, port);
    await until(up, () => up.state().status === 'up', 20_000, 'up again');
    await expect.poll(async () => open().catch(() => []), { timeout: 20_000 }).toEqual(['memo://live']);
    await up.callTool('touch', { uri: 'memo://live' });
    await expect.poll(() => updates, { timeout: 10_000 }).toEqual(['memo://live', 'memo://live']);

    await up.unsubscribeResource('memo://live');
    await expect.poll(open, { timeout: 10_000 }).toEqual([]);
  });
});
