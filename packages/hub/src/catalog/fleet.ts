/**
 * Fleet tools: one copy of each edge tool with a `node` argument instead of one copy per
 * device (30 devices must not mean 300 tools). `node` names one node, a list, a role
 * (`role:speaker`) or `all`; several nodes run in parallel and the answer has one entry
 * per node, so "stop MPD on all the speakers" is one call.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { HomelabError, isHomelabError } from '@homelab-mcp/core';
import type { HubNode } from './nodes.ts';
import { EDGE_TOOLS, edgeToolClass } from '../policy/classes.ts';
import { callNode, type FilePolicy } from '../nodes/file-policy.ts';
import type { Caller, CallContext, CatalogTool, ToolClass } from './types.ts';

type JsonObject = { [k: string]: JsonValue };
type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export const NODE_ARG: JsonObject = {
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 1000 },
  ],
  description: 'Where to run: a node name, a list of names, "role:NAME" for every node with that role, or "all". Several nodes run in parallel. See list_nodes.',
};

export interface Selection {
  nodes: HubNode[];
  /** One node named directly: its result is passed through unchanged. */
  single: boolean;
}

/**
 * Resolves a `node` argument against the known nodes.
 * Throws `INVALID_ARGUMENTS` naming what is known when nothing matches.
 */
export function selectNodes(selector: unknown, nodes: HubNode[]): Selection {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const known = () => `known nodes: ${nodes.map((n) => n.name).join(', ') || '(none)'}; roles: ${[...new Set(nodes.flatMap((n) => n.roles))].join(', ') || '(none)'}`;
  const items = typeof selector === 'string' ? [selector] : Array.isArray(selector) ? selector : undefined;
  if (!items || items.length === 0 || !items.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new HomelabError('INVALID_ARGUMENTS', `node: expected a node name, a list of names, "role:NAME" or "all" (${known()})`);
  }
  const picked = new Map<string, HubNode>();
  for (const item of items as string[]) {
    if (item === 'all') for (const n of nodes) picked.set(n.name, n);
    else if (item.startsWith('role:')) {
      const role = item.slice(5);
      const matching = nodes.filter((n) => n.roles.includes(role));
      if (matching.length === 0) throw new HomelabError('INVALID_ARGUMENTS', `node: no node has the role "${role}" (${known()})`);
      for (const n of matching) picked.set(n.name, n);
    } else {
      const n = byName.get(item);
      if (!n) throw new HomelabError('INVALID_ARGUMENTS', `node: unknown node "${item}" (${known()})`);
      picked.set(n.name, n);
    }
  }
  const single = typeof selector === 'string' && selector !== 'all' && !selector.startsWith('role:');
  return { nodes: [...picked.values()], single };
}

function textOf(r: CallToolResult): string {
  return (r.content ?? []).map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
}

/**
 * The class of an edge tool: the hub's own table decides, never the node's annotations (a
 * compromised edge would otherwise relabel a write as a read); a tool the hub does not know
 * is a write.
 */
export function classOf(tool: Tool): ToolClass {
  return edgeToolClass(tool.name);
}

/**
 * How an edge tool is shown: a tool the hub knows is described by the hub's own definition,
 * so no node can reword or reshape it; an unknown one (a newer edge) as the node lists it,
 * always a write.
 */
export function edgeToolDef(tool: Tool): Tool {
  return EDGE_TOOLS.get(tool.name) ?? tool;
}

interface NodeOutcome {
  node: string;
  ok: boolean;
  text: string;
  structuredContent?: unknown;
  error?: string;
}

/**
 * The file policy of a caller on a node, read from the current config at each call (a reload
 * applies to open sessions); undefined sends none.
 */
export type PolicyFor = (caller: Caller, node: HubNode) => FilePolicy | undefined;

/** Runs `tool` on each selected node in parallel and merges the answers. */
export async function fanOut(tool: string, sel: Selection, args: Record<string, unknown>, ctx: CallContext, timeoutMs: number, policyFor?: PolicyFor): Promise<CallToolResult> {
  if (sel.single) {
    const node = sel.nodes[0]!;
    try {
      return await callNode(node, tool, args, { signal: ctx.signal, timeoutMs, onprogress: ctx.onprogress }, policyFor?.(ctx.caller, node));
    } catch (err) {
      return errorResult(node.name, err);
    }
  }
  const outcomes = await Promise.all(
    sel.nodes.map(async (node): Promise<NodeOutcome> => {
      try {
        // A node still connecting is asked anyway: its upstream holds the call until the
        // first connect settles. Only a connected node can say it lacks the tool.
        if (node.source.state().status === 'up' && !node.source.tools().some((t) => t.name === tool)) {
          return { node: node.name, ok: false, text: '', error: `${tool} is not offered by node ${node.name}` };
        }
        const r = await callNode(node, tool, args, { signal: ctx.signal, timeoutMs }, policyFor?.(ctx.caller, node));
        const text = textOf(r);
        return r.isError
          ? { node: node.name, ok: false, text, error: text.split('\n')[0] ?? 'failed', structuredContent: r.structuredContent }
          : { node: node.name, ok: true, text, structuredContent: r.structuredContent };
      } catch (err) {
        return { node: node.name, ok: false, text: '', error: messageOf(err) };
      }
    }),
  );
  const failed = outcomes.filter((o) => !o.ok);
  const summary =
    `${outcomes.length} node${outcomes.length === 1 ? '' : 's'}: ${outcomes.length - failed.length} ok` +
    (failed.length ? `, ${failed.length} failed (${failed.map((f) => `${f.node}: ${f.error}`).join('; ')})` : '');
  const sections = outcomes.map((o) => `## ${o.node}${o.ok ? '' : ' (failed)'}\n${o.ok ? o.text : o.text || o.error}`);
  return {
    content: [{ type: 'text', text: [summary, ...sections].join('\n\n') }],
    structuredContent: { summary, nodes: outcomes.map(({ text: _t, ...rest }) => rest) },
    ...(failed.length === outcomes.length ? { isError: true } : {}),
  };
}

/** What the edge's compose writes run (see edge capabilities/docker.ts), said as the command. */
const COMPOSE_COMMANDS: Record<string, string> = { compose_up: 'up -d', compose_down: 'down', compose_pull: 'pull' };

function composePreview(tool: string, args: Record<string, unknown>): string | undefined {
  const command = COMPOSE_COMMANDS[tool];
  if (!command || typeof args.stack !== 'string') return undefined;
  const services = Array.isArray(args.services) && args.services.length ? ` ${args.services.map(String).join(' ')}` : '';
  return `run \`docker compose ${command}${services}\` for stack ${args.stack} (its folder in the compose directory)`;
}

/** The most of a base64 file's decoded text a preview shows (its arguments hold all of it). */
const PREVIEW_TEXT_CHARS = 65_536;

/**
 * write_file said as what it writes: a person cannot read base64, so content sent that way is
 * shown decoded when it is UTF-8 text ("binary" otherwise), with the size, path and mode.
 */
function writeFilePreview(tool: string, args: Record<string, unknown>): string | undefined {
  if (tool !== 'write_file' || typeof args.path !== 'string' || typeof args.content !== 'string') return undefined;
  const b64 = args.encoding === 'base64';
  const bytes = Buffer.from(args.content, b64 ? 'base64' : 'utf8');
  const mode = typeof args.mode === 'string' || typeof args.mode === 'number' ? ` with mode ${String(args.mode)}` : '';
  let shown = '';
  if (b64) {
    const text = bytes.toString('utf8');
    if (text.includes('\u0000') || !Buffer.from(text, 'utf8').equals(bytes)) shown = ' (binary content)';
    else shown = text.length > PREVIEW_TEXT_CHARS ? `; its text (first ${PREVIEW_TEXT_CHARS} characters):\n${text.slice(0, PREVIEW_TEXT_CHARS)}` : `; its text:\n${text}`;
  }
  return `write ${bytes.length} bytes to ${args.path}${mode}${shown}`;
}

export function messageOf(err: unknown): string {
  return isHomelabError(err) ? err.message : err instanceof Error ? err.message : String(err);
}

function errorResult(node: string, err: unknown): CallToolResult {
  const message = messageOf(err);
  return { content: [{ type: 'text', text: message }], structuredContent: { node, error: message }, isError: true };
}

/** Adds the `node` argument to an edge tool's schema. */
function withNodeArg(schema: Tool['inputSchema']): Tool['inputSchema'] {
  const properties = { node: NODE_ARG, ...(schema.properties ?? {}) };
  const required = ['node', ...((schema.required as string[] | undefined) ?? [])];
  return { ...schema, type: 'object', properties, required };
}

/**
 * One fleet tool per tool name any node offers. A tool the hub knows is described and
 * classed by the hub's own table; an unknown one is described by the first node that offers
 * it and is a write, so the order of nodes never changes a class.
 */
export function fleetTools(nodes: HubNode[], timeoutMs: number, policyFor?: PolicyFor): CatalogTool[] {
  const targetsOf = (args: Record<string, unknown>): string[] => {
    try {
      return selectNodes(args.node, nodes).nodes.map((n) => n.name);
    } catch (err) {
      return [`(invalid node: ${messageOf(err)})`];
    }
  };
  const first = new Map<string, Tool>();
  for (const node of nodes) for (const t of node.source.tools()) if (!first.has(t.name)) first.set(t.name, edgeToolDef(t));
  return [...first.values()].map((t) => ({
    def: {
      ...t,
      description: `${t.description ?? t.name} Runs on the node(s) named by \`node\`.`,
      inputSchema: withNodeArg(t.inputSchema),
    },
    toolClass: classOf(t),
    source: 'fleet',
    targets: targetsOf,
    preview(args) {
      const { node: _node, ...rest } = args;
      const where = targetsOf(args);
      // Exactly what will run, never redacted: the person approves this text (see policy/gate.ts).
      const what = t.name === 'run_command' && typeof rest.cmd === 'string' ? `run \`${rest.cmd}\`` : (composePreview(t.name, rest) ?? writeFilePreview(t.name, rest) ?? t.name);
      return { tool: t.name, where, action: `${what} on ${where.join(', ')}`, arguments: rest };
    },
    async call(args, ctx) {
      const { node, ...rest } = args;
      let sel: Selection;
      try {
        sel = selectNodes(node, nodes);
      } catch (err) {
        return errorResult(String(node), err);
      }
      // A command asked to run longer than the hub's default deadline gets its own time.
      const asked = typeof rest.timeout_s === 'number' ? rest.timeout_s * 1000 + 5000 : 0;
      return fanOut(t.name, sel, rest, ctx, Math.max(timeoutMs, asked), policyFor);
    },
  }));
}
