/**
 * What the observability tools (service_health, run_diagnostic, get_resource_usage,
 * get_service_status, get_container_logs) read: the hub's nodes and upstreams, the topology,
 * the Prometheus and Loki clients when configured, and the network probes. Passed in as
 * getters, so a configuration reload is seen by the next call without rebuilding the tools.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { NativeUpstream } from '../../catalog/catalog.ts';
import { messageOf } from '../../catalog/fleet.ts';
import { stateText, type HubNode } from '../../catalog/nodes.ts';
import type { Topology, TopologyNodeView, TopologyService } from '../../topology/topology.ts';
import type { LokiClient } from '@homelab-mcp/integrations/loki';
import type { PrometheusClient } from '@homelab-mcp/integrations/prometheus';
import type { checkPort, pingHost, probeHttp } from '@homelab-mcp/core/probes';

export interface Probes {
  checkPort: typeof checkPort;
  pingHost: typeof pingHost;
  probeHttp: typeof probeHttp;
}

export interface ObservabilityDeps {
  nodes(): HubNode[];
  upstreams(): NativeUpstream[];
  topology(): Topology | undefined;
  prometheus(): PrometheusClient | undefined;
  loki(): LokiClient | undefined;
  /** The audit stream's `job` label (default mcp-audit), kept out of the hub's own log queries. */
  auditJob?(): string | undefined;
  /** The audit trail's shipping to Loki (`audit.loki`), when configured. */
  auditShipping?(): AuditShipping | undefined;
  /** The homelab-service integrations set up now (Caddy, ...; Prometheus and Loki have their own lines): one health line each. */
  services?(): ServiceHealthSource[];
  probes: Probes;
  /** Deadline for one call to an edge. */
  callTimeoutMs(): number;
  now?: () => Date;
}

export type { Topology, TopologyNodeView, TopologyService };

/** An integration as service_health asks it: `Caddy` -> `proxy1 ready; proxy2 ready`. */
export interface ServiceHealthSource {
  title: string;
  health(signal: AbortSignal): Promise<{ ok: boolean; detail: string; problems?: string[] }>;
  /** run_diagnostic's question: what does this integration know of the service? */
  diagnose?(service: { name: string; node: string; url?: string }, signal: AbortSignal): Promise<Array<{ check: string; status: 'ok' | 'problem' | 'warning' | 'skipped'; detail: string; suggestion?: string }>>;
}

/** What service_health reads of the audit shipper (a part of `LokiShipperStats`). */
export interface AuditShipping {
  state: string;
  backlogBytes: number;
  backlogWarnBytes: number;
  oldestUnshippedAt?: string;
  lastError?: string;
}

/** A tool's answer reduced to what the checks read: ok or not, its text, its data. */
export interface NodeAnswer {
  ok: boolean;
  text: string;
  data?: Record<string, unknown>;
  /**
   * True when the node cannot answer this kind of question at all: the tool's capability is
   * off on that edge, or was probed unavailable (no systemd, no docker). Not a failure of the
   * thing asked about: a check must not report it as one.
   */
  unsupported?: boolean;
}

/** Calls one edge tool on one node and never throws: a dead node is an answer too. */
export async function askNode(node: HubNode, tool: string, args: Record<string, unknown>, signal: AbortSignal, timeoutMs: number): Promise<NodeAnswer> {
  // Only a connected node can say it lacks the tool (a capability disabled on that edge).
  if (node.source.state().status === 'up' && !node.source.tools().some((t) => t.name === tool)) {
    return { ok: false, text: `${tool} is not offered by node ${node.name} (its capability is turned off there)`, unsupported: true };
  }
  try {
    const r: CallToolResult = await node.source.callTool(tool, args, { signal, timeoutMs });
    const text = (r.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n').trim();
    const data = r.structuredContent as Record<string, unknown> | undefined;
    const code = (data?.error as { code?: unknown } | undefined)?.code;
    return { ok: !r.isError, text, ...(data ? { data } : {}), ...(r.isError && code === 'CAPABILITY_UNAVAILABLE' ? { unsupported: true } : {}) };
  } catch (err) {
    return { ok: false, text: messageOf(err) };
  }
}

/** The node's state in words (see {@link stateText}). */
export function nodeState(node: HubNode, now?: Date): { up: boolean; text: string; since: Date } {
  return stateText(node.source.state(), now);
}

/**
 * `deps` with every node's connection state (and tool list) read once, now: the checks of one
 * answer all see the same state. Without it, a node dying during a service_health call showed
 * as "connecting" in a service's line and "unreachable" in its own line of the same answer.
 * Calls still go to the live node.
 */
export function snapshotNodes(deps: ObservabilityDeps): ObservabilityDeps {
  const nodes = deps.nodes().map((n): HubNode => {
    const live = n.source;
    const state = live.state();
    const tools = live.tools();
    return { ...n, source: { state: () => state, tools: () => tools, callTool: (name, args, opts) => live.callTool(name, args, opts) } };
  });
  return { ...deps, nodes: () => nodes };
}

/** The hub node that serves a topology node (its edge), if the hub has one by that name. */
export function edgeOf(deps: ObservabilityDeps, node: TopologyNodeView | undefined, fallbackName?: string): HubNode | undefined {
  const name = node?.edge ?? fallbackName;
  return name === undefined ? undefined : deps.nodes().find((n) => n.name === name);
}

/**
 * A signal of its own for one of many checks run in parallel under one call's signal: aborted
 * with it, but each probe's abort listener is counted on the child alone. Without it, a
 * service_health of 12 services put 12+ listeners on the call's signal at once and Node printed
 * MaxListenersExceededWarning for every call (AbortSignal.any adds no listener to its source).
 *
 * @example await Promise.all(services.map((s) => checkService(deps, s, taskSignal(signal))))
 */
export function taskSignal(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal]);
}

/** How long a check of reachability may hold up an answer; a slower source shows its last state. */
const RECHECK_BUDGET_MS = 5000;

/**
 * Asks the given nodes and upstreams to check their connection now, so an answer does not
 * report "up" for an edge that died since the last health check (up to 15 s ago).
 */
export async function recheck(sources: Array<{ checkNow?(): Promise<void> }>, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const budget = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, RECHECK_BUDGET_MS);
    onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([Promise.all(sources.map((s) => s.checkNow?.().catch(() => undefined))), budget]);
  } finally {
    clearTimeout(timer);
    // The call's signal lives on after this: a listener left on it would add up call after call.
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
