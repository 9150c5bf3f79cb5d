/**
 * The config file is watched: a change applies live without dropping clients, and an
 * invalid file keeps the running configuration.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, resultText, startEdgeProcess, startHubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'reload-admin-token-0123456789';

describe('config reload', () => {
  it('adds a node and a token live, keeps sessions, and survives an invalid file', async () => {
    await using a = await startEdgeProcess();
    await using b = await startEdgeProcess();
    const base = { auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] }, local: { enabled: false }, nodes: [{ name: 'a', url: a.url, token: a.token }] };
    await using hub = await startHubProcess({ config: base });
    const file = join(hub.dir, 'hub.yaml');
    await using legacy = await connectClient(hub.url, ADMIN, 'legacy');
    await legacy.callTool({ name: 'approve_writes', arguments: {} });
    let listChanged = 0;
    legacy.setNotificationHandler('notifications/tools/list_changed', () => void listChanged++);
    const nodeNames = async () => ((await legacy.callTool({ name: 'list_nodes', arguments: {} })) as any).structuredContent.nodes.map((n: any) => n.name);
    expect(await nodeNames()).toEqual(['a']);

    const VIEWER = 'reload-viewer-token-0123456789';
    writeFileSync(file, JSON.stringify({ ...base, dataDir: './data', auth: { tokens: [...base.auth.tokens, { user: 'v', role: 'viewer', token: VIEWER }] }, nodes: [...base.nodes, { name: 'b', url: b.url, token: b.token, roles: ['new'] }], perDeviceTools: true }));
    await expect.poll(nodeNames, { timeout: 10_000 }).toEqual(['a', 'b']); // same session, new node
    // New per-device tools (b__run_command...): the open session is told the list changed.
    await expect.poll(() => listChanged, { timeout: 20_000 }).toBeGreaterThan(0);
    expect((await legacy.listTools()).tools.map((t) => t.name)).toContain('b__run_command');
    const r = (await legacy.callTool({ name: 'run_command', arguments: { node: 'role:new', cmd: 'echo added' } })) as any;
    expect(r.structuredContent.nodes[0].structuredContent.stdout).toBe('added\n');
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    expect((await viewer.listTools()).tools.map((t) => t.name)).toContain('list_nodes');

    writeFileSync(file, readFileSync(file, 'utf8').replace('"nodes"', '"nodez"'));
    await expect.poll(() => hub.output(), { timeout: 10_000 }).toContain('config reload failed, keeping the running configuration');
    expect(hub.output()).toMatch(/unknown key \\?"nodez\\?"/);
    expect(await nodeNames()).toEqual(['a', 'b']);
  });

  it('a call running on a node a reload removes fails saying the hub closed it, not as a device gone by itself', async () => {
    await using a = await startEdgeProcess();
    await using b = await startEdgeProcess();
    const base = { auth: { tokens: [{ user: 'admin', role: 'admin', token: ADMIN }] }, local: { enabled: false }, nodes: [{ name: 'a', url: a.url, token: a.token }, { name: 'b', url: b.url, token: b.token }] };
    await using hub = await startHubProcess({ config: base });
    const scratch = mkdtempSync(join(tmpdir(), 'reload-midcall-'));
    try {
      await using client = await connectClient(hub.url, ADMIN, 'modern');
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const started = join(scratch, 'started');
      const running = client.callTool({ name: 'run_command', arguments: { node: 'b', cmd: `touch ${started}; sleep 300` } });
      await expect.poll(() => existsSync(started), { timeout: 10_000 }).toBe(true);
      writeFileSync(join(hub.dir, 'hub.yaml'), JSON.stringify({ ...base, dataDir: './data', nodes: [base.nodes[0]] }));
      const r = (await running) as any;
      expect(r.isError).toBe(true);
      expect(resultText(r)).toMatch(/^node b is unreachable since \S+ \(closed by the hub: a config reload removed or changed it, or the hub is stopping\)$/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
