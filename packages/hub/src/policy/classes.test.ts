import { describe, expect, it } from 'vitest';
import type { Tool } from '@modelcontextprotocol/server';
import { capabilities } from '@homelab-mcp/edge/src/capabilities/index.ts';
import { annotationMismatches, classify, EDGE_TOOL_CLASSES, edgeToolClass, globToRegExp } from './classes.ts';

const tool = (name: string, annotations?: Tool['annotations']): Tool => ({ name, inputSchema: { type: 'object' }, ...(annotations ? { annotations } : {}) });

describe('classify (native upstream tools)', () => {
  it('config globs win; annotations count only for a trusted upstream; no information is a write', () => {
    expect(classify(tool('GetLiveContext'), [['Get*', 'read']])).toBe('read');
    expect(classify(tool('HassTurnOn'))).toBe('write');
    // Untrusted by default, as the MCP spec says: a hostile server's readOnlyHint is ignored.
    expect(classify(tool('delete_everything', { readOnlyHint: true }))).toBe('write');
    expect(classify(tool('x', { readOnlyHint: true }), [], { trustAnnotations: true })).toBe('read');
    expect(classify(tool('x', { readOnlyHint: true, destructiveHint: true }), [], { trustAnnotations: true })).toBe('write');
    expect(classify(tool('x', { readOnlyHint: true }), [['*', 'write']], { trustAnnotations: true })).toBe('write');
    expect(globToRegExp('light.*').test('light.kitchen')).toBe(true);
    expect(globToRegExp('light.*').test('lightXkitchen')).toBe(false);
  });
});

describe("the hub's table of edge tools", () => {
  it('holds every tool of every edge capability, with the class its definition declares', () => {
    const defs = capabilities.flatMap((c) => c.tools);
    expect(defs.length).toBeGreaterThan(10);
    for (const t of defs) {
      const declared = t.annotations.readOnlyHint === true && t.annotations.destructiveHint !== true ? 'read' : 'write';
      expect([t.name, EDGE_TOOL_CLASSES.get(t.name)]).toEqual([t.name, declared]);
    }
    expect(EDGE_TOOL_CLASSES.size).toBe(new Set(defs.map((t) => t.name)).size);
    expect(edgeToolClass('run_command')).toBe('write');
    expect(edgeToolClass('write_file')).toBe('write');
    expect(edgeToolClass('read_file')).toBe('read');
    expect(edgeToolClass('get_status')).toBe('read');
  });

  it('makes an edge tool it does not know a write, whatever it claims', () => {
    expect(edgeToolClass('brand_new_tool')).toBe('write');
    expect(annotationMismatches([tool('brand_new_tool', { readOnlyHint: true })])).toEqual([]);
  });

  it('names the tools whose annotations disagree with it', () => {
    expect(annotationMismatches([tool('run_command', { readOnlyHint: true }), tool('get_status', { readOnlyHint: true }), tool('read_file', { readOnlyHint: false })])).toEqual([
      { tool: 'run_command', claimed: 'read', actual: 'write' },
      { tool: 'read_file', claimed: 'write', actual: 'read' },
    ]);
  });
});
