/**
 * Fleet tools: one copy of each edge tool with a `node` argument instead of one copy per
 * device (30 devices must not mean 300 tools). `node` names one node, a list, a role
 * (`role:speaker`) or `all`; several nodes run in parallel and the answer has one entry
 * per node, so "stop MPD on all the speakers" is one call.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { canonicalJson } from '@homelab-mcp/core/audit-event';
import { HomelabError, isHomelabError } from '@homelab-mcp/core';
import { stateText, type HubNode } from './nodes.ts';
import { EDGE_TOOLS, edgeToolClass } from '../policy/classes.ts';
import { showControls } from '../policy/gate.ts';
import { DEFAULT_UPGRADE_TIMEOUT_S } from '@homelab-mcp/edge/src/capabilities/packages.ts';
import { callNode, type FilePolicy } from '../nodes/file-policy.ts';
import { LOCAL_NODE_URL } from '../nodes/local-node.ts';
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
 * A name the caller wrote, quoted for an error message. It can be anything: cut to 64
 * characters (an answer and its journal line must not grow with a megabyte of argument) and
 * with control and bidi characters escaped, as a preview shows them.
 *
 * @example quotedName('pi-kitchen') // '"pi-kitchen"'
 * @example quotedName('x'.repeat(100000)) // '"xxx…x…" (100000 characters)'
 */
export function quotedName(s: string): string {
  const chars = [...s];
  return chars.length > 64 ? `"${showControls(chars.slice(0, 64).join(''))}…" (${chars.length} characters)` : `"${showControls(s)}"`;
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
      if (matching.length === 0) throw new HomelabError('INVALID_ARGUMENTS', `node: no node has the role ${quotedName(role)} (${known()})`);
      for (const n of matching) picked.set(n.name, n);
    } else {
      const n = byName.get(item);
      if (!n) throw new HomelabError('INVALID_ARGUMENTS', `node: unknown node ${quotedName(item)} (${known()})`);
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

/**
 * How a call ended, for the journal and /metrics: `partial` when some nodes succeeded and some
 * failed (the answer is not `isError`: it holds the successes), `failed` when none did.
 */
export interface CallOutcome {
  outcome: 'succeeded' | 'partial' | 'failed';
  /** What failed, in a line: the summary of a fleet call, or the one node's failure. */
  error?: string;
}

// Kept beside the answer rather than in it: the client sees the MCP result unchanged.
const outcomes = new WeakMap<CallToolResult, CallOutcome>();

/**
 * How a tool's answer ended: as a fleet call decided it (see fanOut), else by `isError`.
 *
 * @example callOutcome(await tool.call(args, ctx)) // { outcome: 'partial', error: '3 nodes: 2 ok, 1 failed (pi: exit 1)' }
 */
export function callOutcome(result: CallToolResult): CallOutcome {
  return outcomes.get(result) ?? { outcome: result.isError ? 'failed' : 'succeeded' };
}

function withOutcome(result: CallToolResult, outcome: CallOutcome): CallToolResult {
  outcomes.set(result, outcome);
  return result;
}

/**
 * Why a run_command that answered did not succeed: it exited non-zero, was killed by its
 * deadline or by a signal. The edge answers these as results (the command ran as asked); to
 * the fleet they are failures, in the summary, `isError`, the journal and /metrics alike.
 */
export function commandFailure(tool: string, structured: unknown): string | undefined {
  if (tool !== 'run_command' || !structured || typeof structured !== 'object') return undefined;
  const r = structured as { exitCode?: unknown; signal?: unknown; timedOut?: unknown };
  if (r.timedOut === true) return 'timed out';
  if (typeof r.signal === 'string' && r.signal) return `killed by ${r.signal}`;
  if (typeof r.exitCode === 'number' && r.exitCode !== 0) return `exit ${r.exitCode}`;
  return undefined;
}

/**
 * A node's failure in words. A node that is not up is `unreachable since 10:42:05Z (why)`, the
 * same words as list_nodes, whatever the call itself threw (a down node fails fast).
 */
async function failureOf(node: HubNode, err: unknown): Promise<{ text: string; unreachable: boolean }> {
  if (!isHomelabError(err, 'UPSTREAM_UNAVAILABLE')) return { text: messageOf(err), unreachable: false };
  // The call found the node gone before the hub's health check did (the first call after an
  // edge stopped): let that check settle now, so the node is named as list_nodes names it.
  if (node.source.state().status === 'up') await node.source.checkNow?.().catch(() => undefined);
  const s = stateText(node.source.state());
  return s.up ? { text: messageOf(err), unreachable: false } : { text: s.text, unreachable: true };
}

/** `pi-a: exit 1; pi-b: unreachable since ...`, or just `exit 1` when every node failed alike. */
function failuresText(failed: NodeOutcome[], total: number): string {
  const errors = new Set(failed.map((f) => f.error));
  if (failed.length === total && errors.size === 1) return failed[0]!.error ?? 'failed';
  return failed.map((f) => `${f.node}: ${f.error}`).join('; ');
}

/**
 * Runs `tool` on each selected node in parallel and merges the answers. A node that fails,
 * is unreachable, or whose command exits non-zero counts as failed; the answer is `isError`
 * only when no node succeeded.
 */
export async function fanOut(tool: string, sel: Selection, args: Record<string, unknown>, ctx: CallContext, timeoutMs: number, policyFor?: PolicyFor): Promise<CallToolResult> {
  if (sel.single) {
    const node = sel.nodes[0]!;
    try {
      const r = await callNode(node, tool, args, { signal: ctx.signal, timeoutMs, onprogress: ctx.onprogress }, policyFor?.(ctx.caller, node));
      const failure = r.isError ? undefined : commandFailure(tool, r.structuredContent);
      // The node's own answer, unchanged but for isError: exit 1 is not a success.
      if (failure) return withOutcome({ ...r, isError: true }, { outcome: 'failed', error: failure });
      return r;
    } catch (err) {
      const f = await failureOf(node, err);
      const message = f.unreachable ? `node ${node.name} is ${f.text}` : f.text;
      return withOutcome(errorResult(node.name, message), { outcome: 'failed', error: message });
    }
  }
  const results = await Promise.all(
    sel.nodes.map(async (node): Promise<NodeOutcome> => {
      try {
        // A node still connecting is asked anyway: its upstream holds the call until the
        // first connect settles. Only a connected node can say it lacks the tool.
        if (node.source.state().status === 'up' && !node.source.tools().some((t) => t.name === tool)) {
          return { node: node.name, ok: false, text: '', error: `${tool} is not offered by node ${node.name}` };
        }
        const r = await callNode(node, tool, args, { signal: ctx.signal, timeoutMs }, policyFor?.(ctx.caller, node));
        const text = textOf(r);
        const failure = r.isError ? text.split('\n')[0] || 'failed' : commandFailure(tool, r.structuredContent);
        return failure !== undefined
          ? { node: node.name, ok: false, text, error: failure, structuredContent: r.structuredContent }
          : { node: node.name, ok: true, text, structuredContent: r.structuredContent };
      } catch (err) {
        return { node: node.name, ok: false, text: '', error: (await failureOf(node, err)).text };
      }
    }),
  );
  const failed = results.filter((o) => !o.ok);
  const summary =
    `${results.length} node${results.length === 1 ? '' : 's'}: ${results.length - failed.length} ok` +
    (failed.length ? `, ${failed.length} failed (${failuresText(failed, results.length)})` : '');
  const sections = results.map((o) => `## ${o.node}${o.ok ? '' : ' (failed)'}\n${o.ok ? o.text : o.text || o.error}`);
  const none = failed.length === results.length;
  return withOutcome(
    {
      content: [{ type: 'text', text: [summary, ...sections].join('\n\n') }],
      structuredContent: { summary, nodes: results.map(({ text: _t, ...rest }) => rest) },
      ...(none ? { isError: true } : {}),
    },
    failed.length === 0 ? { outcome: 'succeeded' } : { outcome: none ? 'failed' : 'partial', error: summary },
  );
}

/** What the edge's compose writes run (see edge capabilities/docker.ts), said as the command. */
const COMPOSE_COMMANDS: Record<string, string> = { compose_up: 'up -d', compose_down: 'down', compose_pull: 'pull' };

function composePreview(tool: string, args: Record<string, unknown>): string | undefined {
  const command = COMPOSE_COMMANDS[tool];
  if (!command || typeof args.stack !== 'string') return undefined;
  const services = Array.isArray(args.services) && args.services.length ? ` ${args.services.map(String).join(' ')}` : '';
  return `run \`docker compose ${command}${services}\` for stack ${args.stack} (its folder in the compose directory)`;
}

/**
 * package_upgrade said as exactly what it would change: each node is asked, read-only, for its
 * `package_updates` with the same `packages` (with apt, the simulation of the very command the
 * upgrade runs), and the preview lists every package with both versions, and the command. A node
 * that cannot answer is named with why, so the person does not approve blind.
 */
/** Package rows one node adds to a package_upgrade preview (the edge itself keeps at most 5000). */
const PREVIEW_MAX_PACKAGES = 5000;

async function packageUpgradePreview(nodes: HubNode[], args: Record<string, unknown>, timeoutMs: number): Promise<{ action: string; binding: string }> {
  const ask = Array.isArray(args.packages) ? { packages: args.packages } : {};
  const parts = await Promise.all(
    nodes.map(async (node) => {
      try {
        const r = await callNode(node, 'package_updates', ask, { signal: AbortSignal.timeout(timeoutMs), timeoutMs }, undefined);
        if (r.isError) return { text: `${node.name}: cannot tell what would be upgraded (${textOf(r).split('\n')[0]})`, plan: { node: node.name, unknown: true } };
        const u = r.structuredContent as { manager?: unknown; command?: unknown; upgrades?: unknown; installs?: unknown; removals?: unknown; truncated?: unknown } | undefined;
        // The node's answer is untrusted: entries are objects or skipped, every field is cut and
        // its control characters shown escaped (no forged preview lines), and the rows capped.
        const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : []);
        const f = (v: unknown) => showControls(String(v ?? '').slice(0, 200)).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
        const rows = [
          ...list(u?.upgrades).map((c) => `${f(c.name)} ${c.from === null || c.from === undefined ? '' : `${f(c.from)} `}→ ${f(c.to)}${c.security === true ? ' [security]' : ''}`),
          ...list(u?.installs).map((c) => `${f(c.name)} (new) → ${f(c.to)}`),
          ...list(u?.removals).map((c) => `${f(c.name)} ${f(c.version)} → removed`),
        ];
        const shown = rows.slice(0, PREVIEW_MAX_PACKAGES);
        if (rows.length > shown.length) shown.push(`… and ${rows.length - shown.length} more`);
        const count = list(u?.upgrades).length;
        // What the list leaves out is said, not implied: a cut list (output past the edge's cap)
        // under-counts, and dnf check-update does not show what an upgrade pulls in or replaces.
        const cutList = u?.truncated === true;
        const caveat = cutList
          ? ' (the node cut its list: the package manager printed more than the edge keeps; the upgrade changes more than listed)'
          : u?.manager === 'dnf'
            ? ' (dnf check-update does not list the new dependencies or obsoleting packages dnf may also install)'
            : '';
        const text = `${node.name}: run \`${f(u?.command ?? 'package_upgrade')}\`, upgrading ${cutList ? 'at least ' : ''}${count} package${count === 1 ? '' : 's'}${caveat}${shown.length ? `:\n  ${shown.join('\n  ')}` : ' (nothing to upgrade now)'}`;
        // What the person approves, bound whole: the node's full answer, not only the cut fields shown.
        return { text, plan: { node: node.name, answer: createHash('sha256').update(canonicalJson(u ?? null)).digest('base64url') } };
      } catch (err) {
        return { text: `${node.name}: cannot tell what would be upgraded (${(await failureOf(node, err)).text})`, plan: { node: node.name, unknown: true } };
      }
    }),
  );
  // The confirmation is bound to this plan (see Preview.binding): the package lists refreshed
  // between the preview and the confirmation (apt-get update from cron) is another upgrade.
  const binding = createHash('sha256').update(canonicalJson(parts.map((p) => p.plan))).digest('base64url');
  return { action: `upgrade packages on ${nodes.map((n) => n.name).join(', ')}\n${parts.map((p) => p.text).join('\n')}`, binding };
}

/** What a preview of a reboot of the hub's own host adds to the node's name. */
export const HUB_HOST_NOTE = " (the hub's own host: the hub goes down with it and cannot report back)";

/** This host's boot id: a container shares its host's kernel, and so its boot id. */
function hubBootId(): string | null {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id.length > 0 && id.length <= 64 ? id : null;
  } catch {
    return null;
  }
}

/**
 * Whether a node runs on the hub's own host: the hub's local node, or an edge whose get_status
 * tells the hub's boot id (an edge reached at 127.0.0.1 or by a LAN name alike). Read-only; a
 * node that cannot answer is not claimed to be the hub's host.
 */
export async function onHubHost(node: HubNode, timeoutMs: number): Promise<boolean> {
  if (node.url === LOCAL_NODE_URL) return true;
  const mine = hubBootId();
  if (mine === null || stateText(node.source.state()).up === false) return false;
  const ms = Math.min(timeoutMs, 5000);
  try {
    const r = await callNode(node, 'get_status', {}, { signal: AbortSignal.timeout(ms), timeoutMs: ms }, undefined);
    return (r.structuredContent as { bootId?: unknown } | undefined)?.bootId === mine;
  } catch {
    return false;
  }
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
  const message = typeof err === 'string' ? err : messageOf(err);
  return { content: [{ type: 'text', text: message }], structuredContent: { node, error: message }, isError: true };
}

/** `pi-attic (unreachable now)`, `pi-new (connecting now)`, or just the name of a node that is up. */
function nameAndState(node: HubNode): string {
  const s = stateText(node.source.state());
  return s.up ? node.name : `${node.name} (${s.text.slice(0, s.text.indexOf(' '))} now)`;
}

/** Adds the `node` argument to an edge tool's schema. */
function withNodeArg(schema: Tool['inputSchema']): Tool['inputSchema'] {
  const properties = { node: NODE_ARG, ...(schema.properties ?? {}) };
  const required = ['node', ...((schema.required as string[] | undefined) ?? [])];
  return { ...schema, type: 'object', properties, required };
}

/**
 * One fleet tool per tool name any configured node offers, up or not: a node that has not
 * listed its tools (never reached, or down) counts as offering every tool of the hub's own
 * table, so a node going down never takes a tool or a schema away. A tool the hub knows is
 * described and classed by that table; an unknown one is described by the first node that
 * offers it and is a write, so the order of nodes never changes a class.
 */
export function fleetTools(nodes: HubNode[], timeoutMs: number, policyFor?: PolicyFor): CatalogTool[] {
  const selected = (args: Record<string, unknown>): HubNode[] | string => {
    try {
      return selectNodes(args.node, nodes).nodes;
    } catch (err) {
      return `(invalid node: ${messageOf(err)})`;
    }
  };
  const targetsOf = (args: Record<string, unknown>): string[] => {
    const sel = selected(args);
    return typeof sel === 'string' ? [sel] : sel.map((n) => n.name);
  };
  const first = new Map<string, Tool>();
  for (const node of nodes) {
    const listed = node.source.tools();
    for (const t of listed.length ? listed : EDGE_TOOLS.values()) if (!first.has(t.name)) first.set(t.name, edgeToolDef(t));
  }
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
      const sel = selected(args);
      const where = typeof sel === 'string' ? [sel] : sel.map((n) => n.name);
      // The person approving sees which nodes will not take part, as of now; `where` stays the
      // plain names (a confirm token is bound to them, not to the nodes' states).
      const shown = typeof sel === 'string' ? where : sel.map(nameAndState);
      // Exactly what will run, never redacted: the person approves this text (see policy/gate.ts).
      if (t.name === 'package_upgrade' && typeof sel !== 'string') {
        return packageUpgradePreview(sel, rest, timeoutMs).then(({ action, binding }) => ({ tool: t.name, where, action, arguments: rest, binding }));
      }
      // The per-device copy of the edge's reboot_node (the fleet copy is the hub's own tool).
      if (t.name === 'reboot_node' && typeof sel !== 'string') {
        return Promise.all(sel.map(async (n) => ((await onHubHost(n, timeoutMs)) ? HUB_HOST_NOTE : ''))).then((notes) => ({
          tool: t.name,
          where,
          action: `reboot_node on ${shown.map((s, i) => `${s}${notes[i]}`).join(', ')}`,
          arguments: rest,
        }));
      }
      const what = t.name === 'run_command' && typeof rest.cmd === 'string' ? `run \`${rest.cmd}\`` : (composePreview(t.name, rest) ?? writeFilePreview(t.name, rest) ?? t.name);
      return { tool: t.name, where, action: `${what} on ${shown.join(', ')}`, arguments: rest };
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
      // package_upgrade without one runs up to its own default: the hub giving up first would
      // cancel it on the edge, and a package manager killed mid-run leaves dpkg half-configured.
      const askedS = typeof rest.timeout_s === 'number' ? rest.timeout_s : t.name === 'package_upgrade' ? DEFAULT_UPGRADE_TIMEOUT_S : 0;
      const asked = askedS ? askedS * 1000 + 5000 : 0;
      return fanOut(t.name, sel, rest, ctx, Math.max(timeoutMs, asked), policyFor);
    },
  }));
}
