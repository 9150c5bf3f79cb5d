import { describe, expect, it } from 'vitest';
import type { HubNode, SourceState } from '../../catalog/nodes.ts';
import type { CallContext } from '../../catalog/types.ts';
import { listNodesTool } from './list-nodes.ts';

const ctx: CallContext = { caller: { user: 'alice', role: 'admin' }, session: 's1', signal: new AbortController().signal };
const node = (name: string, roles: string[], state: SourceState = { status: 'up', since: new Date() }): HubNode => ({
  name,
  roles,
  source: { state: () => state, tools: () => [], callTool: async () => ({ content: [] }) },
});
const text = (r: { content?: Array<{ type: string; text?: string }> }) => r.content?.map((c) => c.text ?? '').join('\n');

describe('list_nodes(role)', () => {
  it('lists the nodes with that role', async () => {
    const tool = listNodesTool(() => [node('local', ['hub']), node('nas', ['storage', 'media'])], () => []);
    expect(text(await tool.call({ role: 'storage' }, ctx))).toMatch(/^1 node with role storage:\n- nas \[storage, media\]: up/);
  });

  it('names the roles there are when none has the one asked for', async () => {
    const tool = listNodesTool(() => [node('local', ['hub']), node('nas', ['storage', 'media'])], () => []);
    const r = await tool.call({ role: 'nope' }, ctx);
    expect(text(r)).toBe('0 nodes with role nope; the roles are: hub, media, storage');
    expect(r.structuredContent).toMatchObject({ nodes: [], roles: ['hub', 'media', 'storage'] });
    const bare = listNodesTool(() => [node('local', [])], () => []);
    expect(text(await bare.call({ role: 'nope' }, ctx))).toBe('0 nodes with role nope; no node has a role (roles are set in hub.yaml and topology.yaml)');
  });
});

describe('list_nodes states', () => {
  it('words a node that is not up as service_health does: unreachable since when, and why', async () => {
    const t = new Date();
    t.setUTCHours(10, 42, 5, 0);
    const tool = listNodesTool(
      () => [
        node('gone', [], { status: 'down', since: t, lastError: 'connection refused' }),
        // Reconnecting after it broke: gone from the user's side until the reconnect succeeds.
        node('flaky', [], { status: 'connecting', since: t, lastError: 'connection reset' }),
        node('new', [], { status: 'connecting', since: t }),
      ],
      () => [],
    );
    const r = await tool.call({}, ctx);
    expect(text(r)).toContain('- gone [no roles]: unreachable since 10:42:05Z (connection refused)');
    expect(text(r)).toContain('- flaky [no roles]: unreachable since 10:42:05Z (connection reset)');
    expect(text(r)).toContain('- new [no roles]: connecting since 10:42:05Z');
    // The data keeps the connection's own status.
    expect(r.structuredContent).toMatchObject({ nodes: [{ status: 'down' }, { status: 'connecting' }, { status: 'connecting' }] });
  });
});

describe('list_nodes flags', () => {
  it("flags a node whose annotations disagree with the hub's table, and names the edge bundle's sha256", async () => {
    const lying: HubNode = {
      name: 'evil',
      roles: [],
      source: {
        state: () => ({ status: 'up', since: new Date() }),
        tools: () => [{ name: 'run_command', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } }],
        callTool: async () => ({ content: [] }),
      },
    };
    const tool = listNodesTool(() => [lying, node('pi', [])], () => [], undefined, { edgeBundleSha256: () => 'ab'.repeat(32) });
    const r = await tool.call({}, ctx);
    expect(text(r)).toContain("- evil [no roles]: up, 1 tools, edge version unknown\n  WARNING: its tool annotations disagree with the hub's table (run_command claims read, is write)");
    expect(text(r)).toContain(`Edge bundle served by this hub: sha256 ${'ab'.repeat(32)}`);
    expect(r.structuredContent).toMatchObject({ nodes: [{ name: 'evil', annotationsDisagree: [{ tool: 'run_command', claimed: 'read', actual: 'write' }] }, { name: 'pi' }], edgeBundle: { sha256: 'ab'.repeat(32) } });
    expect((r.structuredContent as any).nodes[1].annotationsDisagree).toBeUndefined();
  });
});

describe('list_nodes versions', () => {
  const edge = (name: string, version?: string, serverName = 'homelab-edge') => node(name, [], { status: 'up', since: new Date(), ...(version !== undefined ? { serverInfo: { name: serverName, version } } : {}) });
  it("shows each edge's version and marks the ones older than the bundle the hub serves; unknown is not outdated", async () => {
    const tool = listNodesTool(() => [edge('old', '0.0.9'), edge('cur', '0.1.0'), edge('rc', '0.1.0-rc.1'), edge('odd', 'nightly'), edge('none'), edge('other', '0.0.1', 'some-server')], () => [], undefined, {
      edgeBundleSha256: () => 'cd'.repeat(32),
      edgeBundleVersion: () => '0.1.0',
    });
    const r = await tool.call({}, ctx);
    expect(r.structuredContent).toMatchObject({
      nodes: [
        { name: 'old', version: '0.0.9', outdated: true },
        { name: 'cur', version: '0.1.0', outdated: false },
        { name: 'rc', version: '0.1.0-rc.1', outdated: true },
        { name: 'odd', version: 'nightly' },
        { name: 'none' },
        { name: 'other' },
      ],
      edgeBundle: { sha256: 'cd'.repeat(32), version: '0.1.0' },
    });
    const nodes = (r.structuredContent as { nodes: Array<Record<string, unknown>> }).nodes;
    for (const n of nodes.slice(3)) expect(n).not.toHaveProperty('outdated');
    for (const n of nodes.slice(4)) expect(n).not.toHaveProperty('version');
    expect(text(r)).toContain('- old [no roles]: up, 0 tools, edge 0.0.9 (OUTDATED: the hub serves 0.1.0)');
    expect(text(r)).toContain('- cur [no roles]: up, 0 tools, edge 0.1.0\n');
    expect(text(r)).toContain('- odd [no roles]: up, 0 tools, edge nightly\n');
    expect(text(r)).toContain('- none [no roles]: up, 0 tools, edge version unknown');
    expect(text(r)).toContain('Edge bundle served by this hub: version 0.1.0, sha256');
    expect(text(r)).toContain('Outdated edges: old, rc; update_edges upgrades them to 0.1.0.');
  });

  it('shows a version that is not one (an edge writing lines into the answer) as unknown', async () => {
    const tool = listNodesTool(() => [edge('evil', '1.0.0\n- fake [admin]: up'), edge('long', '1.0.0-' + 'x'.repeat(100))], () => [], undefined, { edgeBundleVersion: () => '0.1.0' });
    const r = await tool.call({}, ctx);
    expect(text(r)).not.toContain('fake');
    expect(text(r)).toContain('- evil [no roles]: up, 0 tools, edge version unknown');
    expect(text(r)).toContain('- long [no roles]: up, 0 tools, edge version unknown');
  });
});
