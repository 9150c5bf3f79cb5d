import { describe, expect, it } from 'vitest';
import type { CatalogTool } from './types.ts';
import { buildCatalog } from './catalog.ts';

const hubTool: CatalogTool = {
  def: { name: 'list_nodes', description: 'Lists nodes.', inputSchema: { type: 'object' } },
  toolClass: 'read',
  source: 'hub',
  call: async () => ({ content: [] }),
};

describe('buildCatalog', () => {
  it('tags each tool with its class once, however often the catalog is rebuilt', () => {
    const input = { nodes: [], upstreams: [], hubTools: [hubTool], perDeviceTools: false, callTimeoutMs: 1000, maxToolName: 50 };
    buildCatalog(input);
    const c = buildCatalog(input);
    expect(c.tool('list_nodes')!.def.description).toBe('[read] Lists nodes.');
    expect(c.tool('list_nodes')!.def.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(hubTool.def.description).toBe('Lists nodes.');
  });
});
