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
