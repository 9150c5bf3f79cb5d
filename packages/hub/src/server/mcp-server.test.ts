import { describe, expect, it } from 'vitest';
import { withoutReservedMeta } from './mcp-server.ts';

describe('withoutReservedMeta', () => {
  it("drops the upstream's protocol keys and keeps its own", () => {
    const r = { content: [], _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'upstream' }, 'anthropic/maxResultSizeChars': 500000 } };
    expect(withoutReservedMeta(r)).toEqual({ content: [], _meta: { 'anthropic/maxResultSizeChars': 500000 } });
    expect(withoutReservedMeta({ content: [], _meta: { 'io.modelcontextprotocol/serverInfo': {} } })).toEqual({ content: [] });
    const bare: { content: unknown[]; _meta?: Record<string, unknown> } = { content: [] };
    expect(withoutReservedMeta(bare)).toEqual({ content: [] });
  });
});
