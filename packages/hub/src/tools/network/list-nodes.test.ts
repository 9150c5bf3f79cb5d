import { describe, expect, it } from 'vitest';
import type { HubNode } from '../../catalog/nodes.ts';
import type { CallContext } from '../../catalog/types.ts';
import { listNodesTool } from './list-nodes.ts';

const ctx: CallContext = { caller: { user: 'alice', role: 'admin' }, session: 's1', signal: new AbortController().signal };
const node = (name: string, roles: string[]): HubNode => ({
  name,
  roles,
  source: { state: () => ({ status: 'up', since: new Date() }), tools: () => [], callTool: async () => ({ content: [] }) },
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
