/**
 * Every tool is `read` or `write`. The hub's own tools and our edges declare theirs; a native
 * upstream's `readOnlyHint` is only a hint (Home Assistant's tools carry no annotations at
 * all), so config can override it per upstream and per tool-name glob, and a tool with no
 * information is a write: unknown means dangerous.
 */
import type { Tool } from '@modelcontextprotocol/server';
import type { ToolClass } from '../catalog/types.ts';

/** `*` matches any run of characters, `?` one; everything else literally. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * The class of an upstream tool: the first matching override glob (in config order) wins;
 * else `readOnlyHint: true` without `destructiveHint: true` means read; else write.
 */
export function classify(tool: Tool, overrides: Array<[string, ToolClass]> = []): ToolClass {
  for (const [glob, cls] of overrides) if (globToRegExp(glob).test(tool.name)) return cls;
  const a = tool.annotations;
  return a?.readOnlyHint === true && a.destructiveHint !== true ? 'read' : 'write';
}

/** Makes the class visible to clients: annotations that match it and a note in the description. */
export function markClass(def: Tool, cls: ToolClass): Tool {
  // Short: it is repeated in every description of a list that can hold thousands of tools.
  const note = cls === 'read' ? '[read]' : '[write: needs approval]';
  return {
    ...def,
    description: `${note} ${def.description ?? ''}`.trim(),
    annotations: { ...def.annotations, readOnlyHint: cls === 'read', destructiveHint: cls === 'write' },
  };
}
