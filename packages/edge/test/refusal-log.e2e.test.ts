/**
 * What the bundled edge logs when it refuses a request: one JSON format with the hub (pino's
 * `"level":"warn"`, ISO `"time"`), the 401s too (whether a token came, never the token), and
 * each 403 with the name it refused and the flag that would allow it.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startEdgeProcess } from '@homelab-mcp/testkit';

const WRONG = 'wrong-token-0123456789abcdef0123';

/** POST /mcp with this Host (and bearer token), answering the status. */
function post(url: string, host: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const req = request(url, { method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const records = (logs: string) =>
  logs
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the edge logs its refusals in the hub\'s format', () => {
  it('logs a 401 without the token and each refused Host with --allowed-host, as pino lines', async () => {
    await using edge = await startEdgeProcess();
    const host = `127.0.0.1:${edge.port}`;
    expect(await post(edge.url, host, WRONG)).toBe(401);
    await expect.poll(() => edge.logs()).toContain('no valid bearer token (401)');
    expect(await post(edge.url, 'evil.example', edge.token)).toBe(403);
    expect(await post(edge.url, `other.example:${edge.port}`, edge.token)).toBe(403);
    await expect.poll(() => edge.logs()).toContain('"host":"other.example');

    const lines = records(edge.logs());
    expect(lines.find((l) => l.refusal === 'unauthorized')).toMatchObject({ level: 'warn', name: 'edge', source: '127.0.0.1', path: '/mcp', bearer: 'wrong' });
    const forbidden = lines.filter((l) => l.refusal === 'forbidden_host');
    expect(forbidden.map((l) => l.host)).toEqual(['evil.example', `other.example:${edge.port}`]);
    expect(String(forbidden[0]!.msg)).toContain('start the edge with --allowed-host evil.example');
    for (const l of lines) {
      expect(typeof l.level, JSON.stringify(l)).toBe('string');
      expect(new Date(l.time as string).toISOString()).toBe(l.time);
      expect(l).toMatchObject({ pid: edge.child.pid, name: 'edge' });
    }
    expect(edge.logs()).not.toContain(WRONG);
    expect(edge.logs()).not.toContain(edge.token);
  });
});
