// stdio upstreams: a command the hub spawns (a tiny SDK v2 stdio server, run with this Node).
import { fileURLToPath } from 'node:url';
import { isAlive, resultText } from '@homelab-mcp/testkit';
import { describe, expect, it } from 'vitest';
import { until, trackForCleanup } from './test-servers.ts';
import { createUpstream, type Upstream } from './upstream.ts';

const SERVER = fileURLToPath(new URL('./__fixtures__/stdio-server.mjs', import.meta.url));

const track = trackForCleanup();

async function childPid(up: Upstream): Promise<number> {
  return Number(resultText(await up.callTool('pid', {}, {})));
}

describe('stdio upstream', () => {
  it('spawns the command with its env, and kills it on close', async () => {
    const up = createUpstream({ kind: 'stdio', name: 'local-fs', command: process.execPath, args: [SERVER], env: { GREETING: 'hello from env' } });
    track.defer(() => up.close());
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'legacy', serverInfo: { name: 'stdio-server' } });
    expect(up.tools().map((t) => t.name).sort()).toEqual(['echo', 'env', 'pid']);
    expect(resultText(await up.callTool('env', { name: 'GREETING' }, {}))).toBe('hello from env');
    const pid = await childPid(up);
    expect(isAlive(pid)).toBe(true);
    await up.close();
    expect(isAlive(pid)).toBe(false);
    expect(up.state().status).toBe('down');
  });

  it('restarts the child when it exits', async () => {
    const up = track(createUpstream({ kind: 'stdio', name: 'local-fs', command: process.execPath, args: [SERVER] }, { backoff: { initialMs: 100, maxMs: 500 } }));
    await up.start();
    const first = await childPid(up);
    process.kill(first, 'SIGKILL');
    await until(up, () => up.state().status !== 'up', 20_000, 'the exit');
    await until(up, () => up.state().status === 'up', 20_000, 'the restart');
    const second = await childPid(up);
    expect(second).not.toBe(first);
    expect(resultText(await up.callTool('echo', { text: 'still here' }, {}))).toBe('still here');
  });

  it('reports why a command cannot start, from its stderr, with secrets from its env hidden', async () => {
    const up = track(
      createUpstream(
        { kind: 'stdio', name: 'broken', command: process.execPath, args: [SERVER], env: { FAIL_ON_START: 'token tok-abcdef-123 rejected', API_TOKEN: 'tok-abcdef-123' } },
        { backoff: { initialMs: 60_000, maxMs: 60_000 } },
      ),
    );
    await up.start();
    expect(up.state()).toMatchObject({ status: 'down', lastError: 'connection closed (stderr: fatal: token *** rejected)' });
  });

  it('reports a command that does not exist', async () => {
    const up = track(createUpstream({ kind: 'stdio', name: 'missing', command: '/nonexistent/mcp-server' }, { backoff: { initialMs: 60_000, maxMs: 60_000 } }));
    await up.start();
    expect(up.state()).toMatchObject({ status: 'down', lastError: 'command not found' });
  });
});
