/**
 * `check_port`, `ping_host`, `probe_http` as hub tools. Without `from` the hub probes from
 * where it runs (core's probes, in-process); with `from` the named node's edge runs the same
 * probe, which answers "can the kitchen Pi reach the NAS?" rather than "can the hub?". They
 * shadow the fleet tools of the same names (hub tools win in the catalog), so a client sees one
 * tool with an optional `from` instead of one with a required `node`.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { HomelabError, isHomelabError } from '@homelab-mcp/core';
import { checkProbeArgs, PROBE_TOOL_DEFS, runProbeTool, type ProbeToolDef } from '@homelab-mcp/core/probe-tools';
import { formatHttpProbe, type HttpProbe } from '@homelab-mcp/core/probes';
import type { HubNode } from '../../catalog/nodes.ts';
import type { CallContext, CatalogTool } from '../../catalog/types.ts';

export interface ProbeToolsOptions {
  nodes: () => HubNode[];
  /** The hub's deadline for a call to a node (a number, or read at call time after a reload). */
  callTimeoutMs: number | (() => number);
  /**
   * Told of each HTTP request the hub itself makes for probe_http, for the audit trail (the URL
   * is already without credentials). Requests an edge makes are the edge's.
   */
  onHttpRequest?: (r: { method: 'GET'; url: string; status?: number; error?: string; durationMs: number }) => void;
}

/** Where the probe ran, in every answer: `hub` or the node's name. */
export const HUB_ORIGIN = 'hub';

const FROM_ARG = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  description: 'Run the probe on this node (its edge agent), e.g. to see whether pi-kitchen reaches the NAS. Omit to probe from the hub itself. See list_nodes.',
} as const;

/** The response headers a viewer sees: what tells how the server answered, none of what it says. */
const VIEWER_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'server', 'location', 'www-authenticate', 'retry-after', 'strict-transport-security']);

/**
 * An HTTP probe's result as a viewer gets it: status, timing, certificate and the headers above,
 * never the body. probe_http reaches what the hub or a node reaches (a router's pages, the
 * Docker API, a cloud's metadata service on 127.0.0.1 or a LAN address), and a viewer may not
 * read those through it (issue #10: server-side request forgery).
 *
 * @example viewerHttpProbe({ url: 'http://127.0.0.1/', status: 200, bodySnippet: 'secret' }) // no bodySnippet
 */
export function viewerHttpProbe(data: Record<string, unknown>): Record<string, unknown> {
  const { bodySnippet: _body, headers, ...rest } = data;
  if (!headers || typeof headers !== 'object') return rest;
  return { ...rest, headers: Object.fromEntries(Object.entries(headers as Record<string, unknown>).filter(([k]) => VIEWER_HEADERS.has(k.toLowerCase()))) };
}

/**
 * A node's probe_http answer without the page's body, text and structured result alike (for the
 * hub's probe_http with `from`, and the per-device copies `<node>__probe_http`).
 */
export function viewerNodeAnswer(r: CallToolResult, node: string): CallToolResult {
  const sc = r.structuredContent && typeof r.structuredContent === 'object' ? (r.structuredContent as Record<string, unknown>) : undefined;
  // A refusal of the arguments or an unreachable node: a message of the edge's or hub's, no page.
  if (r.isError && typeof sc?.url !== 'string') return r;
  if (typeof sc?.url !== 'string') {
    // The text is all there is, and it may quote the page: it is not shown to a viewer.
    return { content: [{ type: 'text', text: `from ${node}: the node answered probe_http without a structured result (an old edge?), so its answer, which may quote the page, is not shown to viewers` }], isError: true };
  }
  const data = viewerHttpProbe(sc);
  const { from: _from, ...probe } = data;
  return { ...(r.isError ? { isError: true } : {}), content: [{ type: 'text', text: `from ${node}: ${formatHttpProbe(probe as unknown as HttpProbe)}` }], structuredContent: data };
}

function errorResult(err: unknown, from: string): CallToolResult {
  const message = isHomelabError(err) ? err.message : err instanceof Error ? err.message : String(err);
  const code = isHomelabError(err) ? err.code : 'TOOL_FAILED';
  return { content: [{ type: 'text', text: message }], structuredContent: { from, error: { code, message } }, isError: true };
}

/** The node named by `from`, or an error that lists the nodes there are. */
export function resolveFrom(from: unknown, nodes: HubNode[]): HubNode {
  const known = nodes.map((n) => n.name).join(', ') || '(none)';
  if (typeof from !== 'string' || from.length === 0 || from.length > 128) {
    throw new HomelabError('INVALID_ARGUMENTS', `from must be a node name (known nodes: ${known}), or omitted to probe from the hub`);
  }
  const node = nodes.find((n) => n.name === from);
  if (!node) throw new HomelabError('INVALID_ARGUMENTS', `from: unknown node "${from}" (known nodes: ${known})`);
  return node;
}

async function viaNode(def: ProbeToolDef, node: HubNode, args: Record<string, unknown>, ctx: CallContext, timeoutMs: number): Promise<CallToolResult> {
  const src = node.source;
  // Only a connected node can say it lacks the tool; a down one answers "unreachable since ...".
  if (src.state().status === 'up' && !src.tools().some((t) => t.name === def.name)) {
    throw new HomelabError(
      'TOOL_NOT_OFFERED',
      `node ${node.name} does not offer ${def.name}: its edge is older than the network probes, or runs with --disable-network`,
    );
  }
  const r = await src.callTool(def.name, args, { signal: ctx.signal, timeoutMs });
  const sc = r.structuredContent && typeof r.structuredContent === 'object' ? (r.structuredContent as Record<string, unknown>) : {};
  const content = (r.content ?? []).map((c, i) => (i === 0 && c.type === 'text' ? { ...c, text: `from ${node.name}: ${c.text}` } : c));
  return { ...r, content, structuredContent: { from: node.name, ...sc } };
}

function probeTool(def: ProbeToolDef, o: ProbeToolsOptions): CatalogTool {
  const callTimeoutMs = typeof o.callTimeoutMs === 'function' ? o.callTimeoutMs : () => o.callTimeoutMs as number;
  const tool: Tool = {
    name: def.name,
    title: def.title,
    description: `${def.description} Runs on the hub, or on the node named by \`from\`.`,
    inputSchema: { ...def.inputSchema, properties: { ...def.inputSchema.properties, from: FROM_ARG } },
    annotations: def.annotations,
  };
  return {
    def: tool,
    toolClass: 'read',
    source: 'hub',
    targets: (args) => [typeof args.from === 'string' ? args.from : HUB_ORIGIN],
    async call(args, ctx) {
      const { from, ...rest } = args;
      const origin = typeof from === 'string' ? from : HUB_ORIGIN;
      // A viewer learns whether and how a URL answers, not what the page says (see viewerHttpProbe).
      const viewer = ctx.caller.role === 'viewer';
      try {
        // Checked here too, so a bad argument is refused before any node is asked.
        const { timeoutMs } = checkProbeArgs(def.name, rest, ['from']);
        if (from === undefined) {
          const started = performance.now();
          const r = await runProbeTool(def.name, rest, { signal: ctx.signal });
          if (def.name === 'probe_http') {
            const d = r.data as { url: string; status?: number; error?: string };
            o.onHttpRequest?.({ method: 'GET', url: d.url, ...(d.status !== undefined ? { status: d.status } : {}), ...(d.error ? { error: d.error } : {}), durationMs: performance.now() - started });
          }
          if (def.name === 'probe_http' && viewer) {
            const data = viewerHttpProbe(r.data);
            return { content: [{ type: 'text', text: formatHttpProbe(data as unknown as HttpProbe) }], structuredContent: { from: HUB_ORIGIN, ...data } };
          }
          return { content: [{ type: 'text', text: r.text }], structuredContent: { from: HUB_ORIGIN, ...r.data } };
        }
        const node = resolveFrom(from, o.nodes());
        // The probe's own deadline plus room for the round trip, never less than the hub's.
        const answer = await viaNode(def, node, rest, ctx, Math.max(callTimeoutMs(), timeoutMs + 5_000));
        return def.name === 'probe_http' && viewer ? viewerNodeAnswer(answer, node.name) : answer;
      } catch (err) {
        return errorResult(err, origin);
      }
    },
  };
}

/**
 * The three probe tools.
 * @example hubTools.push(...probeTools({ nodes: () => nodes, callTimeoutMs: () => config.limits.callTimeoutMs }))
 */
export function probeTools(o: ProbeToolsOptions): CatalogTool[] {
  return PROBE_TOOL_DEFS.map((def) => probeTool(def, o));
}
