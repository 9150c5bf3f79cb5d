/**
 * Every tool is `read` or `write`, and a tool with no trustworthy information is a write:
 * unknown means dangerous.
 *
 * - The hub's own tools declare their class in code.
 * - Edge tools take theirs from the hub's own table, built from the edge package's tool
 *   definitions (the same code the hub serves as the edge bundle), never from what an edge
 *   says at run time: one compromised edge must not relabel `run_command` as a read for the
 *   whole fleet. An edge tool the hub does not know is a write.
 * - A native upstream's annotations are untrusted hints (as the MCP spec says): its tools are
 *   writes unless `classes` says otherwise per tool-name glob, or the upstream is configured
 *   with `trustAnnotations: true`.
 */
import type { Tool } from '@modelcontextprotocol/server';
import { capabilities } from '@homelab-mcp/edge/src/capabilities/index.ts';
import type { ToolClass } from '../catalog/types.ts';

/** `*` matches any run of characters, `?` one; everything else literally. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** The class annotations claim: `readOnlyHint: true` without `destructiveHint: true` is a read. */
export function claimedClass(annotations: Tool['annotations']): ToolClass {
  return annotations?.readOnlyHint === true && annotations.destructiveHint !== true ? 'read' : 'write';
}

/**
 * The class of a native upstream's tool: the first matching `classes` glob (in config order)
 * wins; else, only for an upstream configured with `trustAnnotations: true`, its annotations;
 * else write.
 *
 * @example classify(tool, [['Get*', 'read']])          // 'read' for GetState, 'write' for the rest
 * @example classify(tool, [], { trustAnnotations: true }) // what the upstream's readOnlyHint says
 */
export function classify(tool: Tool, overrides: Array<[string, ToolClass]> = [], opts: { trustAnnotations?: boolean } = {}): ToolClass {
  for (const [glob, cls] of overrides) if (globToRegExp(glob).test(tool.name)) return cls;
  return opts.trustAnnotations === true ? claimedClass(tool.annotations) : 'write';
}

/**
 * Every tool of the edge package, as an edge lists it (the shape of the edge's `tools/list`),
 * by name. Built at import from the capabilities' own definitions, so it cannot drift from
 * the edges the hub serves.
 */
export const EDGE_TOOLS: ReadonlyMap<string, Tool> = new Map(
  capabilities.flatMap((c) =>
    c.tools.map((t): [string, Tool] => [
      t.name,
      { name: t.name, ...(t.title ? { title: t.title } : {}), description: t.description, inputSchema: t.inputSchema as Tool['inputSchema'], annotations: { ...t.annotations } },
    ]),
  ),
);

/** The hub's table of edge tool classes: known edge tool name -> class. */
export const EDGE_TOOL_CLASSES: ReadonlyMap<string, ToolClass> = new Map([...EDGE_TOOLS].map(([name, t]) => [name, claimedClass(t.annotations)]));

/** The class of an edge tool: the hub's table decides; a tool it does not know is a write. */
export function edgeToolClass(name: string): ToolClass {
  return EDGE_TOOL_CLASSES.get(name) ?? 'write';
}

/** A tool whose annotations, as a node lists it, claim another class than the hub's table. */
export interface AnnotationMismatch {
  tool: string;
  /** What the node's annotations say. */
  claimed: ToolClass;
  /** What the hub's table says, and what the hub enforces. */
  actual: ToolClass;
}

/**
 * The tools a node lists whose annotations disagree with the hub's table. Tools the hub does
 * not know are left out: they are writes whatever they claim, and a newer edge may have some.
 * A claim of `write` for a known read is flagged too: an honest edge of this version never
 * makes it, so the node runs something else than the edge it says it is.
 */
export function annotationMismatches(tools: Tool[]): AnnotationMismatch[] {
  const out: AnnotationMismatch[] = [];
  for (const t of tools) {
    const actual = EDGE_TOOL_CLASSES.get(t.name);
    if (!actual) continue;
    const claimed = claimedClass(t.annotations);
    if (claimed !== actual) out.push({ tool: t.name, claimed, actual });
  }
  return out;
}

/**
 * Makes the class visible to clients: annotations that match it and a note in the description.
 * A read that declares `readOnlyHint: false` and `destructiveHint: false` keeps them: the hub's
 * approve_writes and revoke_writes change state without needing approval themselves, and a
 * client that runs read-only tools without asking must not let the model approve its own
 * writes. (The gate goes by the class, not by these hints.)
 */
export function markClass(def: Tool, cls: ToolClass): Tool {
  // Short: it is repeated in every description of a list that can hold thousands of tools.
  const note = cls === 'read' ? '[read]' : '[write: needs approval]';
  const changesState = cls === 'read' && def.annotations?.readOnlyHint === false && def.annotations.destructiveHint === false;
  return {
    ...def,
    description: `${note} ${def.description ?? ''}`.trim(),
    annotations: { ...def.annotations, readOnlyHint: cls === 'read' && !changesState, destructiveHint: cls === 'write' },
  };
}

/** `run_command claims read, is write; ...`: for list_nodes and the log. */
export function mismatchText(mismatches: AnnotationMismatch[]): string {
  return mismatches.map((m) => `${m.tool} claims ${m.claimed}, is ${m.actual}`).join('; ');
}
