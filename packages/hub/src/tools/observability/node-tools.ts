/**
 * Hub versions of three edge tools that a person asks about by service, not by node:
 * `get_resource_usage(node?)` (all nodes when none is named, one line each),
 * `get_service_status(service, node?)` and `get_container_logs(container, node?, lines?)`,
 * which find the node (and the unit or container) in the topology when it is not given.
 * They shadow the fleet tools of the same names; the per-device copies stay as they are.
 */
import { HomelabError } from '@homelab-mcp/core';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { CatalogTool } from '../../catalog/types.ts';
import type { HubNode } from '../../catalog/nodes.ts';
import { fanOut, messageOf, NODE_ARG, quotedName, selectNodes } from '../../catalog/fleet.ts';
import { askNode, edgeOf, taskSignal, type ObservabilityDeps, type TopologyService } from './deps.ts';

const read = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

function text(t: string, data: Record<string, unknown>, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: t }], structuredContent: data, ...(isError ? { isError: true } : {}) };
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(bytes >= 10 * 1024 ** 3 ? 0 : 1)} GiB`;

export interface NodeUsage {
  node: string;
  ok: boolean;
  error?: string;
  cpuPercent?: number | null;
  load?: [number, number, number];
  cpus?: number;
  memoryPercent?: number;
  memoryTotalBytes?: number;
  swapPercent?: number;
  disks?: Array<{ mountpoint: string; percent: number; totalBytes: number }>;
  maxTemperatureC?: number;
  uptimeSeconds?: number;
  warnings: string[];
}

/** The numbers a person looks at first, from one edge's get_status, with warnings. */
export function usageOf(node: string, status: Record<string, unknown>): NodeUsage {
  const s = status as {
    cpu?: { count?: number; usagePercent?: number | null } | null;
    load?: { load1: number; load5: number; load15: number } | null;
    memory?: { percent: number; totalBytes: number } | null;
    swap?: { percent: number; totalBytes: number } | null;
    disks?: Array<{ mountpoint: string; percent: number; totalBytes: number; readOnly?: boolean }> | null;
    temperatures?: Array<{ celsius: number }> | null;
    uptime?: { seconds: number } | null;
  };
  const warnings: string[] = [];
  const u: NodeUsage = { node, ok: true, warnings };
  if (s.cpu) {
    u.cpuPercent = s.cpu.usagePercent ?? null;
    if (s.cpu.count) u.cpus = s.cpu.count;
  }
  if (s.load) {
    u.load = [s.load.load1, s.load.load5, s.load.load15];
    if (u.cpus && s.load.load5 > u.cpus * 1.5) warnings.push(`load ${s.load.load5} on ${u.cpus} CPUs`);
  }
  if (s.memory) {
    u.memoryPercent = s.memory.percent;
    u.memoryTotalBytes = s.memory.totalBytes;
    if (s.memory.percent >= 90) warnings.push(`memory ${s.memory.percent}% used`);
  }
  if (s.swap && s.swap.totalBytes > 0) {
    u.swapPercent = s.swap.percent;
    if (s.swap.percent >= 50) warnings.push(`swap ${s.swap.percent}% used`);
  }
  if (s.disks) {
    u.disks = s.disks.filter((d) => d.totalBytes > 0).map((d) => ({ mountpoint: d.mountpoint, percent: d.percent, totalBytes: d.totalBytes })).sort((a, b) => b.percent - a.percent);
    for (const d of u.disks) if (d.percent >= 90) warnings.push(`disk ${d.mountpoint} ${d.percent}% full`);
  }
  if (s.temperatures?.length) {
    u.maxTemperatureC = Math.max(...s.temperatures.map((t) => t.celsius));
    if (u.maxTemperatureC >= 80) warnings.push(`temperature ${u.maxTemperatureC}°C`);
  }
  if (s.uptime) u.uptimeSeconds = s.uptime.seconds;
  return u;
}

export function usageLine(u: NodeUsage): string {
  if (!u.ok) return `${u.node}: ${u.error ?? 'failed'}`;
  const parts = [
    u.cpuPercent != null ? `CPU ${u.cpuPercent}%` : undefined,
    u.load ? `load ${u.load.join(' ')}${u.cpus ? ` (${u.cpus} CPUs)` : ''}` : undefined,
    u.memoryPercent !== undefined ? `memory ${u.memoryPercent}% of ${gib(u.memoryTotalBytes ?? 0)}` : undefined,
    u.swapPercent !== undefined ? `swap ${u.swapPercent}%` : undefined,
    u.disks?.length ? `disks ${u.disks.slice(0, 3).map((d) => `${d.mountpoint} ${d.percent}%`).join(', ')}${u.disks.length > 3 ? ` (+${u.disks.length - 3})` : ''}` : undefined,
    u.maxTemperatureC !== undefined ? `${u.maxTemperatureC}°C` : undefined,
    u.uptimeSeconds !== undefined ? `up ${Math.floor(u.uptimeSeconds / 86400)}d ${Math.floor((u.uptimeSeconds % 86400) / 3600)}h` : undefined,
  ].filter(Boolean);
  return `${u.warnings.length ? '! ' : ''}${u.node}: ${parts.join(', ')}${u.warnings.length ? ` — ${u.warnings.join('; ')}` : ''}`;
}

export function resourceUsageTool(deps: ObservabilityDeps): CatalogTool {
  return {
    def: {
      name: 'get_resource_usage',
      title: 'Resource usage',
      description: 'CPU, load, memory, swap, fullest disks, temperature and uptime of one node, several, a role ("role:NAME") or all of them (the default), one line per node, with warnings for what is close to full or hot.',
      inputSchema: { type: 'object', properties: { node: { ...NODE_ARG, description: 'A node name, a list, "role:NAME" or "all" (the default).' } }, additionalProperties: false },
      annotations: { title: 'Resource usage', ...read },
    },
    toolClass: 'read',
    source: 'hub',
    targets: (args) => {
      try {
        return selectNodes(args.node ?? 'all', deps.nodes()).nodes.map((n) => n.name);
      } catch {
        return ['(invalid node)'];
      }
    },
    async call(args, ctx) {
      const sel = selectNodes(args.node ?? 'all', deps.nodes());
      const usages = await Promise.all(
        sel.nodes.map(async (n): Promise<NodeUsage> => {
          const a = await askNode(n, 'get_status', {}, taskSignal(ctx.signal), deps.callTimeoutMs());
          return a.ok && a.data ? usageOf(n.name, a.data) : { node: n.name, ok: false, error: a.text.split('\n')[0] || 'no status', warnings: [] };
        }),
      );
      const failed = usages.filter((u) => !u.ok).length;
      const warned = usages.filter((u) => u.warnings.length).length;
      const head = `${usages.length} node${usages.length === 1 ? '' : 's'}${failed ? `, ${failed} unreachable` : ''}${warned ? `, ${warned} with warnings` : ''}`;
      return text([head, ...usages.map(usageLine)].join('\n'), { nodes: usages }, failed === usages.length);
    },
  };
}

/** The topology service with this name, or the one whose container is this name. */
function serviceFor(deps: ObservabilityDeps, name: string, by: 'service' | 'container'): TopologyService | undefined {
  const topo = deps.topology();
  if (!topo) return undefined;
  if (by === 'service') return topo.findService(name);
  return topo.services().find((s) => s.container === name) ?? (() => {
    const s = topo.findService(name);
    return s?.container ? s : undefined;
  })();
}

function hubNodeFor(deps: ObservabilityDeps, svc: TopologyService): HubNode {
  const edge = edgeOf(deps, deps.topology()?.findNode(svc.node), svc.node);
  if (!edge) throw new HomelabError('INVALID_ARGUMENTS', `service ${svc.name} runs on ${svc.node}, which has no edge agent behind the hub (list_nodes shows the nodes)`);
  return edge;
}

export function serviceStatusTool(deps: ObservabilityDeps): CatalogTool {
  return {
    def: {
      name: 'get_service_status',
      title: 'Service status',
      description:
        'State of a service: a service of the topology (its node and systemd unit or container are looked up), or a systemd unit on the node(s) named by `node` ' +
        '(a name, a list, "role:NAME" or "all"). Shows active/sub state, enabled, main PID, since when, restarts, memory and the last result.',
      inputSchema: {
        type: 'object',
        properties: {
          service: { type: 'string', minLength: 1, maxLength: 256, description: 'A service of the topology (find_service), or a systemd unit name such as nginx.' },
          node: { ...NODE_ARG, description: 'Where to look; optional for services of the topology.' },
        },
        required: ['service'],
        additionalProperties: false,
      },
      annotations: { title: 'Service status', ...read },
    },
    toolClass: 'read',
    source: 'hub',
    async call(args, ctx) {
      const service = args.service;
      if (typeof service !== 'string' || service.length === 0 || service.length > 256) throw new HomelabError('INVALID_ARGUMENTS', 'service: expected a service or unit name (1-256 characters)');
      const svc = args.node === undefined ? serviceFor(deps, service, 'service') : undefined;
      if (args.node !== undefined) {
        const declared = deps.topology()?.findService(service);
        return fanOut('get_service_status', selectNodes(args.node, deps.nodes()), { unit: declared?.unit ?? service }, ctx, deps.callTimeoutMs());
      }
      if (!svc) {
        const known = deps.topology()?.services().map((s) => s.name) ?? [];
        throw new HomelabError('INVALID_ARGUMENTS', `${service} is not a service of the topology${known.length ? ` (known: ${known.slice(0, 30).join(', ')})` : ''}: pass \`node\` to ask a node for the systemd unit of that name`);
      }
      const edge = hubNodeFor(deps, svc);
      if (svc.unit) return edge.source.callTool('get_service_status', { unit: svc.unit }, { signal: ctx.signal, timeoutMs: deps.callTimeoutMs() });
      if (svc.container) return edge.source.callTool('get_container_status', { container: svc.container }, { signal: ctx.signal, timeoutMs: deps.callTimeoutMs() });
      throw new HomelabError('INVALID_ARGUMENTS', `service ${svc.name} on ${svc.node} declares neither a unit nor a container in the topology: service_health or run_diagnostic check its ports and URL`);
    },
  };
}

export function containerLogsTool(deps: ObservabilityDeps): CatalogTool {
  return {
    def: {
      name: 'get_container_logs',
      title: 'Container logs',
      description: 'The last lines a Docker container wrote (stdout and stderr, with timestamps). The node is looked up in the topology when not given.',
      inputSchema: {
        type: 'object',
        properties: {
          container: { type: 'string', minLength: 1, maxLength: 256, description: 'Container name or ID, or a topology service that runs in a container.' },
          node: { type: 'string', minLength: 1, maxLength: 64, description: 'The node it runs on; optional when the topology knows.' },
          lines: { type: 'integer', minimum: 1, maximum: 5000, description: 'How many of the last lines (default 100).' },
          since: { type: 'string', maxLength: 64, description: 'Only lines since this time: RFC3339 or relative like 15m, 2h.' },
        },
        required: ['container'],
        additionalProperties: false,
      },
      annotations: { title: 'Container logs', ...read },
    },
    toolClass: 'read',
    source: 'hub',
    targets: (args) => (typeof args.node === 'string' ? [args.node] : ['(from the topology)']),
    async call(args, ctx) {
      const container = args.container;
      if (typeof container !== 'string' || container.length === 0 || container.length > 256) throw new HomelabError('INVALID_ARGUMENTS', 'container: expected a container name or ID (1-256 characters)');
      const { node, container: _c, ...rest } = args;
      let edge: HubNode;
      let name = container;
      if (node !== undefined) {
        if (typeof node !== 'string') throw new HomelabError('INVALID_ARGUMENTS', 'node: expected one node name');
        const found = deps.nodes().find((n) => n.name === node);
        if (!found) throw new HomelabError('INVALID_ARGUMENTS', `node: unknown node ${quotedName(node)} (known nodes: ${deps.nodes().map((n) => n.name).join(', ') || '(none)'})`);
        edge = found;
      } else {
        const svc = serviceFor(deps, container, 'container');
        if (!svc) throw new HomelabError('INVALID_ARGUMENTS', `the topology does not say where container ${container} runs: pass \`node\``);
        edge = hubNodeFor(deps, svc);
        name = svc.container ?? container;
      }
      try {
        return await edge.source.callTool('get_container_logs', { container: name, ...rest }, { signal: ctx.signal, timeoutMs: deps.callTimeoutMs() });
      } catch (err) {
        return text(messageOf(err), { node: edge.name, error: messageOf(err) }, true);
      }
    },
  };
}
