/**
 * The bundled hub as a user runs it: real edge processes and a native MCP server as
 * upstreams, the SDK v2 client in both eras downstream, everything on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { connectClient, HUB_BUNDLE, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type Era, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'admin-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
const NATIVE_TOKEN = 'native-token-0123456789abcdef';

async function startNative(port = 0): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/native-server.mjs', import.meta.url))], {
    env: { ...process.env, NATIVE_TOKEN, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const p = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (b: Buffer) => resolve(JSON.parse(b.toString()).port));
    child.once('exit', () => reject(new Error('native server exited')));
  });
  return { child, port: p, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM')))) };
}

/** A client whose session has approved writes (the default `session` mode of the gate). */
async function approved(url: string, token: string, era: Era) {
  const client = await connectClient(url, token, era);
  await client.callTool({ name: 'approve_writes', arguments: {} });
  return client;
}

let pi: EdgeProcess;
let nas: EdgeProcess;
let native: Awaited<ReturnType<typeof startNative>>;
let hub: HubProcess;

beforeAll(async () => {
  [pi, nas, native] = await Promise.all([startEdgeProcess(), startEdgeProcess(), startNative()]);
  hub = await startHubProcess({
    config: {
      auth: {
        tokens: [
          { user: 'alice', role: 'admin', token: ADMIN },
          { user: 'bob', role: 'viewer', token: VIEWER },
        ],
        rateLimit: { perMinute: 6000, burst: 1000 },
      },
      nodes: [
        { name: 'pi-kitchen', url: pi.url, token: '${PI_TOKEN}', roles: ['speaker'] },
        { name: 'nas', url: nas.url, token: '${NAS_TOKEN}', roles: ['storage'] },
      ],
      // An upstream's annotations are not trusted: config says which of its tools are reads.
      upstreams: { ha: { url: `http://127.0.0.1:${native.port}/mcp`, headers: { Authorization: 'Bearer ${HA_TOKEN}' }, classes: { 'Get*': 'read' } } },
    },
    env: { PI_TOKEN: pi.token, NAS_TOKEN: nas.token, HA_TOKEN: NATIVE_TOKEN },
  });
});

afterAll(async () => {
  await hub?.stop();
  await Promise.all([pi?.stop(), nas?.stop(), native?.stop()]);
});

describe.each<Era>(['modern', 'legacy'])('SDK v2 client, %s era', (era) => {
  it('sees fleet tools with a node argument, list_nodes and the namespaced native tools', async () => {
    await using client = await approved(hub.url, ADMIN, era);
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual([...names].sort());
    for (const n of ['run_command', 'get_status', 'read_file', 'list_nodes', 'ha__HassTurnOn', 'ha__GetLiveContext']) expect(names).toContain(n);
    const run = tools.find((t) => t.name === 'run_command')!;
    expect(run.inputSchema.required).toContain('node');
    for (const t of tools) expect(t.name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it('runs a command on several nodes in parallel, one entry per node', async () => {
    await using client = await approved(hub.url, ADMIN, era);
    const r = (await client.callTool({ name: 'run_command', arguments: { node: 'all', cmd: 'echo hi-from-$((40+2))' } })) as any;
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent.summary).toBe('3 nodes: 3 ok');
    expect(r.structuredContent.nodes.map((n: any) => n.node).sort()).toEqual(['local', 'nas', 'pi-kitchen']);
    for (const n of r.structuredContent.nodes) expect(n.structuredContent.stdout).toBe('hi-from-42\n');
    const byRole = (await client.callTool({ name: 'get_status', arguments: { node: 'role:speaker' } })) as any;
    expect(byRole.structuredContent.nodes.map((n: any) => n.node)).toEqual(['pi-kitchen']);
    const one = (await client.callTool({ name: 'run_command', arguments: { node: 'nas', cmd: 'echo single' } })) as any;
    expect(one.structuredContent.stdout).toBe('single\n'); // a single node's result is passed through
  });

  it('calls a native upstream tool, reads its resource and gets its prompt', async () => {
    await using client = await approved(hub.url, ADMIN, era);
    const r = await client.callTool({ name: 'ha__HassTurnOn', arguments: { name: 'kitchen' } });
    expect(resultText(r)).toBe('turned on kitchen');
    const ctx = (await client.callTool({ name: 'ha__GetLiveContext', arguments: {} })) as any;
    expect(ctx.structuredContent).toEqual({ kitchen: 'on' });
    // The upstream's own serverInfo must not pose as the hub's.
    expect(JSON.stringify(ctx._meta ?? {})).not.toContain('native-test');
    // The hub's own topology:// resources are listed too; this test is about the upstream's.
    const resources = (await client.listResources()).resources.filter((r) => !r.uri.startsWith('topology://'));
    expect(resources.length).toBe(1);
    const read = await client.readResource({ uri: resources[0]!.uri });
    expect((read.contents[0] as any).text).toBe('remember the milk');
    const net = (await client.callTool({ name: 'network_resources', arguments: {} })) as any;
    const ha = net.structuredContent.upstreams.find((u: any) => u.alias === 'ha');
    expect(ha).toMatchObject({ status: 'up', prompts: ['ha__assist'] });
    expect(ha.tools).toContain('ha__HassTurnOn');
    expect(ha.resources).toEqual([resources[0]!.uri]);
    expect(net.structuredContent.nodes.map((n: any) => n.name).sort()).toEqual(['local', 'nas', 'pi-kitchen']);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['ha__assist']);
    const p = await client.getPrompt({ name: 'ha__assist' });
    expect((p.messages[0]!.content as any).text).toBe('You control a home.');
  });
});

describe.each<Era>(['modern', 'legacy'])('pass-through, %s era', (era) => {
  it('relays upstream progress to the client', async () => {
    await using client = await approved(hub.url, ADMIN, era);
    const seen: Array<{ progress: number; total?: number }> = [];
    const r = await client.callTool({ name: 'ha__slow_count', arguments: { steps: 4 } }, { onprogress: (p) => void seen.push(p) });
    expect(resultText(r)).toBe('counted to 4');
    expect(seen.map((p) => p.progress)).toEqual([1, 2, 3, 4]);
    expect(seen[0]!.total).toBe(4);
  });

  it('cancels the upstream call when the client cancels', async () => {
    await using client = await approved(hub.url, ADMIN, era);
    const before = Number(resultText(await client.callTool({ name: 'ha__cancelled_count', arguments: {} })));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await expect(client.callTool({ name: 'ha__slow_count', arguments: { steps: 100 } }, { signal: ac.signal })).rejects.toThrow();
    await expect.poll(async () => Number(resultText(await client.callTool({ name: 'ha__cancelled_count', arguments: {} }))), { timeout: 20_000 }).toBe(before + 1);
  });
});

describe('logging pass-through', () => {
  it("relays an upstream's log messages to a 2025 session at the level it asked for", async () => {
    await using client = await approved(hub.url, ADMIN, 'legacy');
    const seen: Array<{ level: string; logger?: string; data: unknown }> = [];
    client.setNotificationHandler('notifications/message', (n) => void seen.push(n.params));
    await client.setLoggingLevel('info');
    expect(resultText(await client.callTool({ name: 'ha__log_hello', arguments: {} }))).toBe('logged');
    await expect.poll(() => seen.length, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(seen[0]).toEqual({ level: 'warning', logger: 'ha/ha-core', data: { msg: 'hello from upstream' } });
    await client.setLoggingLevel('error');
    const before = seen.length;
    await client.callTool({ name: 'ha__log_hello', arguments: {} });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.length).toBe(before); // a warning is below the asked-for level
  });
});

describe('policy', () => {
  it('a viewer neither sees nor calls write tools', async () => {
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('get_status');
    expect(names).toContain('ha__GetLiveContext');
    expect(names).not.toContain('run_command');
    expect(names).not.toContain('ha__HassTurnOn'); // no annotations: a write
    expect(names).not.toContain('ha__slow_count'); // readOnlyHint alone is untrusted: a write
    await expect(client.callTool({ name: 'run_command', arguments: { node: 'local', cmd: 'true' } })).rejects.toThrow(/not found/);
  });

  it('answers a bare 401 for a missing or wrong token', async () => {
    for (const auth of [undefined, 'Bearer nope-nope-nope-nope', `Basic ${ADMIN}`]) {
      const r = await fetch(hub.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(auth ? { authorization: auth } : {}) }, body: '{}' });
      expect(r.status).toBe(401);
      expect(await r.text()).toBe('');
    }
  });

  it('limits each token to its rate: 429 with Retry-After', async () => {
    await using limited = await startHubProcess({ config: { auth: { tokens: [{ user: 'a', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 60, burst: 3 } }, local: { enabled: false } } });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await fetch(limited.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${ADMIN}` }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
      await r.body?.cancel();
    }
    expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // The refusal names the request it refuses (its JSON-RPC id); a notification's keeps null.
    const post = (body: string) => fetch(limited.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${ADMIN}` }, body });
    const named = await post('{"jsonrpc":"2.0","id":"call-42","method":"tools/list"}');
    expect(named.status).toBe(429);
    expect(named.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await named.json()).toEqual({ jsonrpc: '2.0', id: 'call-42', error: { code: -32000, message: 'Too many requests' } });
    expect(await (await post('{"jsonrpc":"2.0","id":7,"method":"ping"}')).json()).toMatchObject({ id: 7 });
    expect(await (await post('{"jsonrpc":"2.0","method":"notifications/initialized"}')).json()).toMatchObject({ id: null });
    expect(await (await post('not json')).json()).toMatchObject({ id: null });
  });

  it('bounds the 2025 sessions one token can hold open: the oldest is closed', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'loop', version: '1' } } };
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${ADMIN}` };
    const ids: string[] = [];
    for (let i = 0; i < 65; i++) {
      const r = await fetch(hub.url, { method: 'POST', headers, body: JSON.stringify(init) });
      ids.push(r.headers.get('mcp-session-id')!);
      await r.body?.cancel();
    }
    const ping = (id: string) => fetch(hub.url, { method: 'POST', headers: { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' }, body: '{"jsonrpc":"2.0","id":2,"method":"ping"}' });
    expect((await ping(ids[0]!)).status).toBe(404);
    expect((await ping(ids[64]!)).status).toBe(200);
  });

  it('rejects a body over the limit with 413', async () => {
    const r = await fetch(hub.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: 'x'.repeat(5 * 1024 * 1024) });
    expect(r.status).toBe(413);
  });

  it('rejects a forged Host (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(hub.url, { method: 'POST', headers: { host: 'evil.example', authorization: `Bearer ${ADMIN}` } }, (res) => (res.resume(), resolve(res.statusCode!)));
      req.on('error', reject);
      req.end('{}');
    });
    expect(status).toBe(403);
  });
});

describe('health endpoints', () => {
  it('serves /healthz, /readyz and /metrics', async () => {
    expect((await fetch(`${hub.base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${hub.base}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = (await ready.json()) as any;
    expect(body.upstreams.map((u: any) => `${u.name}:${u.status}`).sort()).toEqual(['ha:up', 'local:up', 'nas:up', 'pi-kitchen:up']);
    const metrics = await (await fetch(`${hub.base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    expect(metrics).toMatch(/homelab_hub_tool_calls_total\{tool="run_command",outcome="ok"\} \d+/);
    expect(metrics).toContain('homelab_hub_upstream_up{name="pi-kitchen",kind="node"} 1');
  });
});

describe('a dead upstream', () => {
  it('fails only its own part, keeps tools/list working, and comes back by itself', async () => {
    // Stopped mid-test on purpose; `await using` still stops it if an assertion fails first.
    await using edge = await startEdgeProcess();
    const port = edge.port;
    const token = edge.token!;
    await using h = await startHubProcess({
      config: { auth: { tokens: [{ user: 'a', role: 'admin', token: ADMIN }] }, local: { enabled: true }, nodes: [{ name: 'flaky', url: edge.url, token }] },
    });
    await using client = await approved(h.url, ADMIN, 'modern');
    expect(((await client.callTool({ name: 'run_command', arguments: { node: 'all', cmd: 'true' } })) as any).structuredContent.summary).toBe('2 nodes: 2 ok');
    await edge.stop();
    const r = (await client.callTool({ name: 'run_command', arguments: { node: 'all', cmd: 'echo alive' } })) as any;
    expect(r.structuredContent.summary).toMatch(/^2 nodes: 1 ok, 1 failed \(flaky: /);
    expect(resultText(r)).toMatch(/flaky.*unreachable/s);
    expect((await client.listTools()).tools.length).toBeGreaterThan(5);
    await using _back = await startEdgeProcess({ listen: `127.0.0.1:${port}`, token });
    await expect
      .poll(async () => ((await client.callTool({ name: 'run_command', arguments: { node: 'all', cmd: 'true' } })) as any).structuredContent.summary, { timeout: 40_000, interval: 500 })
      .toBe('2 nodes: 2 ok');
  });
});

describe('embedded default', () => {
  it('runs with no config: local node, token in data/token (0600), the claude mcp add line', async () => {
    await using h = await startHubProcess();
    const tokenFile = join(h.dir, 'data', 'token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    await expect.poll(() => h.output()).toContain('claude mcp add --transport http homelab http://127.0.0.1:');
    // Both Claude Code scopes, with the token file the hub wrote.
    const header = `--header "Authorization: Bearer $(cat ${tokenFile})"`;
    expect(h.output()).toContain(`Connect Claude Code, in this folder only (local scope):\n  claude mcp add --transport http homelab ${h.url} ${header}\n`);
    expect(h.output()).toContain(`or in every project (user scope):\n  claude mcp add -s user --transport http homelab ${h.url} ${header}\n`);
    const token = (await import('node:fs')).readFileSync(tokenFile, 'utf8').trim();
    await using client = await connectClient(h.url, token, 'modern');
    const r = (await client.callTool({ name: 'get_status', arguments: { node: 'local' } })) as any;
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent.hostname).toBeTruthy();

    // The Claude Desktop snippet is valid JSON that starts a working stdio hub, as Desktop would
    // (from another folder), while this one keeps serving: its data folder is its own.
    const snippet = /Connect Claude Desktop \(claude_desktop_config\.json[^\n]*\n  (\{[\s\S]*?\n  \})\n/.exec(h.output())?.[1];
    expect(snippet).toBeDefined();
    const { command, args } = JSON.parse(snippet!).mcpServers.homelab;
    expect(args).toEqual(['--max-semi-space-size=4', HUB_BUNDLE, 'stdio', '--data', `${join(h.dir, 'data')}-stdio`]);
    const desktop = new Client({ name: 'claude-desktop', version: '1' });
    await desktop.connect(new StdioClientTransport({ command, args, cwd: tmpdir(), stderr: 'pipe' }));
    try {
      const s = (await desktop.callTool({ name: 'get_status', arguments: { node: 'local' } })) as any;
      expect(s.isError).toBeFalsy();
      expect(s.structuredContent.hostname).toBe(r.structuredContent.hostname);
    } finally {
      await desktop.close();
    }
    // Its journal went to its own folder.
    expect(statSync(`${join(h.dir, 'data')}-stdio`).isDirectory()).toBe(true);
    rmSync(`${join(h.dir, 'data')}-stdio`, { recursive: true, force: true });
  });
});

describe('the Claude Desktop entry with a hub.yaml', () => {
  it('starts a working stdio hub as Desktop would (an environment of its own): the bearer tokens\' variables are not needed, and the banner names the ones that are', async () => {
    await using a = await startEdgeProcess();
    await using b = await startEdgeProcess();
    const dir = mkdtempSync(join(tmpdir(), 'hub-desktop-'));
    try {
      writeFileSync(join(dir, 'a.token'), `${a.token}\n`, { mode: 0o600 });
      const config = {
        auth: { tokens: [{ user: 'alice', role: 'admin', token: '${DESKTOP_TEST_ADMIN}' }] },
        local: { enabled: false },
        nodes: [
          { name: 'a', url: a.url, tokenFile: 'a.token' },
          { name: 'b', url: b.url, token: '${DESKTOP_TEST_EDGE_B}' },
        ],
      };
      await using h = await startHubProcess({ config, cwd: dir, env: { DESKTOP_TEST_ADMIN: ADMIN, DESKTOP_TEST_EDGE_B: b.token! } });
      await expect.poll(() => h.output()).toContain('Connect Claude Desktop');
      const snippet = /Connect Claude Desktop \(claude_desktop_config\.json[^\n]*\n  (\{[\s\S]*?\n  \})\n/.exec(h.output())?.[1];
      const { command, args } = JSON.parse(snippet!).mcpServers.homelab;
      expect(h.output()).toContain(`hub.yaml takes DESKTOP_TEST_EDGE_B from the environment, which Claude Desktop does not pass on: add "env": { "DESKTOP_TEST_EDGE_B": "..." } to this entry`);
      expect(h.output()).not.toContain(b.token!);

      // What the person pastes: the entry, with "env" as the banner said. Not the admin token's variable.
      const desktop = new Client({ name: 'claude-desktop', version: '1' });
      await desktop.connect(new StdioClientTransport({ command, args, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DESKTOP_TEST_EDGE_B: b.token! }, cwd: tmpdir(), stderr: 'pipe' }));
      try {
        const r = (await desktop.callTool({ name: 'get_env', arguments: { node: 'all' } })) as any;
        expect(resultText(r).split('\n')[0]).toBe('2 nodes: 2 ok');
      } finally {
        await desktop.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
