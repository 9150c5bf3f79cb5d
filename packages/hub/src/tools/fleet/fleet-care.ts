/**
 * Fleet care that needs more than one edge call: `reboot_node` (reboots through each edge, then
 * waits until the node answers with a new boot id, and says how long that took or that it did
 * not come back) and `wake_on_lan` (finds the device's MAC and subnet in the topology and sends
 * the magic packet from an edge on that subnet, where a broadcast reaches it, else from the hub).
 * Both take the name of the edge tool they replace in the catalog (hub tools come first), so
 * the fleet copy that does not wait, or does not know the topology, is not offered beside them.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { HomelabError } from '@homelab-mcp/core';
import { broadcastOf, parseMac, sendMagicPacket, WOL_DEFAULT_ADDRESS, WOL_DEFAULT_PORT, wolTarget } from '@homelab-mcp/core/wake-on-lan';
import { HUB_HOST_NOTE, NODE_ARG, messageOf, onHubHost, quotedName, selectNodes } from '../../catalog/fleet.ts';
import { stateText, type HubNode } from '../../catalog/nodes.ts';
import type { CallContext, CatalogTool } from '../../catalog/types.ts';
import { callNode } from '../../nodes/file-policy.ts';
import type { HubTopology, TopologyNodeView } from '../../topology/topology.ts';

export const DEFAULT_REBOOT_WAIT_S = 300;
const MAX_REBOOT_WAIT_S = 3600;
/** How often a rebooting node is asked whether it is back. */
const POLL_MS = 1000;
/** One status call while waiting: a node that is booting may accept and then hang. */
const STATUS_TIMEOUT_MS = 5000;
const MAX_TARGETS = 1000;

export interface FleetCareOptions {
  nodes: () => HubNode[];
  topology: () => HubTopology | undefined;
  callTimeoutMs: () => number;
}

const WRITE = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false } as const;

function fail(text: string, data: Record<string, unknown> = {}): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: { error: text, ...data }, isError: true };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

/** The boot id in a get_status answer, or null. */
function bootIdOf(r: CallToolResult): string | null {
  const id = (r.structuredContent as { bootId?: unknown } | undefined)?.bootId;
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : null;
}

// ---- reboot_node --------------------------------------------------------------------------

interface RebootOutcome {
  node: string;
  ok: boolean;
  /** Seconds from the edge accepting the reboot to its first answer with a new boot id. */
  seconds?: number;
  bootIdBefore?: string | null;
  bootIdAfter?: string | null;
  error?: string;
}

function waitSeconds(v: unknown): number {
  if (v === undefined) return DEFAULT_REBOOT_WAIT_S;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_REBOOT_WAIT_S) {
    throw new HomelabError('INVALID_ARGUMENTS', `timeout_s: expected a whole number of seconds from 1 to ${MAX_REBOOT_WAIT_S}`);
  }
  return v;
}

/** Services the topology places on the device a hub node serves, for the preview. */
function servicesOn(topology: HubTopology | undefined, hubNode: string): string[] {
  if (!topology) return [];
  const devices = new Set(topology.nodes().filter((n) => n.edge === hubNode || n.name === hubNode).map((n) => n.name));
  return topology.services().filter((s) => devices.has(s.node)).map((s) => s.name);
}

async function rebootOne(node: HubNode, waitS: number, ctx: CallContext, callTimeoutMs: number, progress: (msg: string) => void): Promise<RebootOutcome> {
  let before: string | null;
  try {
    const r = await callNode(node, 'reboot_node', {}, { signal: ctx.signal, timeoutMs: callTimeoutMs }, undefined);
    const text = (r.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join(' ');
    if (r.isError) return { node: node.name, ok: false, error: text.split('\n')[0] || 'the edge refused to reboot' };
    before = bootIdOf(r);
  } catch (err) {
    const s = stateText(node.source.state());
    return { node: node.name, ok: false, error: s.up ? messageOf(err) : s.text };
  }
  const started = performance.now();
  const deadline = started + waitS * 1000;
  progress(`${node.name}: rebooting`);
  // Without a boot id to compare (an edge that cannot read it), "back" means: seen gone, then answering.
  let seenGone = false;
  while (performance.now() < deadline) {
    await sleep(POLL_MS, ctx.signal);
    await node.source.checkNow?.().catch(() => undefined);
    if (node.source.state().status !== 'up') {
      seenGone = true;
      continue;
    }
    try {
      const r = await callNode(node, 'get_status', {}, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(STATUS_TIMEOUT_MS)]), timeoutMs: STATUS_TIMEOUT_MS }, undefined);
      if (r.isError) continue;
      const after = bootIdOf(r);
      if ((before !== null && after !== null && after !== before) || ((before === null || after === null) && seenGone)) {
        const seconds = Math.round((performance.now() - started) / 100) / 10;
        progress(`${node.name}: back after ${seconds} s`);
        return { node: node.name, ok: true, seconds, bootIdBefore: before, bootIdAfter: after };
      }
    } catch {
      ctx.signal.throwIfAborted();
      seenGone = true;
    }
  }
  const s = stateText(node.source.state());
  return {
    node: node.name,
    ok: false,
    bootIdBefore: before,
    error: `did not come back within ${waitS} s (${s.up ? 'it answers, but with the same boot id: it has not rebooted' : `it is ${s.text}`})`,
  };
}

function rebootTool(o: FleetCareOptions): CatalogTool {
  return {
    def: {
      name: 'reboot_node',
      title: 'Reboot nodes',
      description:
        'Reboots the node(s) named by `node` through their edge (systemctl reboot unless the edge is configured otherwise), then waits ' +
        'until each answers again with a new boot id, and reports how long that took, or that it did not come back within timeout_s. ' +
        'Several nodes reboot in parallel. Progress notifications are sent while it waits.',
      inputSchema: {
        type: 'object',
        properties: {
          node: NODE_ARG,
          timeout_s: { type: 'integer', minimum: 1, maximum: MAX_REBOOT_WAIT_S, description: `How long to wait for each node to come back, in seconds (default ${DEFAULT_REBOOT_WAIT_S}).` },
        },
        required: ['node'],
        additionalProperties: false,
      },
      annotations: { title: 'Reboot nodes', ...WRITE },
    },
    toolClass: 'write',
    source: 'hub',
    targets(args) {
      try {
        return selectNodes(args.node, o.nodes()).nodes.map((n) => n.name);
      } catch (err) {
        return [`(invalid node: ${messageOf(err)})`];
      }
    },
    async preview(args) {
      let nodes: HubNode[];
      try {
        nodes = selectNodes(args.node, o.nodes()).nodes;
      } catch (err) {
        return { tool: 'reboot_node', where: [], action: `nothing: ${messageOf(err)}`, arguments: args };
      }
      const topology = o.topology();
      // Looked up, not guessed from the URL: an edge at 127.0.0.1 or by its LAN name on the
      // hub's host answers with the hub's boot id (`node: all` includes it without saying so).
      const ownHost = await Promise.all(nodes.map((n) => onHubHost(n, o.callTimeoutMs())));
      const shown = nodes.map((n, i) => {
        const s = stateText(n.source.state());
        const services = servicesOn(topology, n.name);
        const own = ownHost[i] ? HUB_HOST_NOTE : '';
        return `${n.name}${own}${s.up ? '' : ` (${s.text.slice(0, s.text.indexOf(' '))} now)`}${services.length ? ` (running ${services.slice(0, 20).join(', ')}${services.length > 20 ? ', …' : ''})` : ''}`;
      });
      return {
        tool: 'reboot_node',
        where: nodes.map((n) => n.name),
        action: `reboot ${shown.join('; ')}, then wait up to ${typeof args.timeout_s === 'number' ? args.timeout_s : DEFAULT_REBOOT_WAIT_S} s for each to come back`,
        arguments: args,
      };
    },
    async call(args, ctx) {
      let nodes: HubNode[];
      let waitS: number;
      try {
        nodes = selectNodes(args.node, o.nodes()).nodes;
        waitS = waitSeconds(args.timeout_s);
      } catch (err) {
        return fail(messageOf(err));
      }
      let done = 0;
      const progress = (message: string) => ctx.onprogress?.({ progress: done, total: nodes.length, message });
      const results = await Promise.all(
        nodes.map(async (n) => {
          const r = await rebootOne(n, waitS, ctx, o.callTimeoutMs(), progress);
          done++;
          return r;
        }),
      );
      const back = results.filter((r) => r.ok);
      const lines = results.map((r) => (r.ok ? `${r.node}: back after ${r.seconds} s${r.bootIdAfter ? ` (boot id ${r.bootIdAfter})` : ''}` : `${r.node}: ${r.error}`));
      const summary =
        results.length === 1
          ? lines[0]!
          : `${results.length} nodes: ${back.length} back${back.length ? ` (slowest ${Math.max(...back.map((r) => r.seconds!))} s)` : ''}${back.length < results.length ? `, ${results.length - back.length} not` : ''}`;
      return {
        content: [{ type: 'text', text: results.length === 1 ? summary : [summary, ...lines].join('\n') }],
        structuredContent: { summary, nodes: results },
        ...(back.length === 0 ? { isError: true } : {}),
      };
    },
  };
}

// ---- wake_on_lan --------------------------------------------------------------------------

interface WakePlan {
  /** The topology node, or the MAC itself when given one. */
  target: string;
  mac: string;
  /** The hub node that sends it, or undefined for the hub itself. */
  via?: HubNode;
  address: string;
  port: number;
  /** Why it is sent from there. */
  why: string;
}

/** The hub node of an edge on `subnet` that is up, other than the target's own. */
function edgeOnSubnet(topology: HubTopology, nodes: HubNode[], subnet: string, except: string): { node: HubNode; device: string } | undefined {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const candidates = topology.nodes().filter((t) => t.subnet === subnet && t.name !== except && t.edge && byName.has(t.edge) && t.edge !== except);
  // An edge that is up now first: a sleeping device's LAN may have a sleeping Pi too.
  const sorted = [...candidates].sort((a, b) => Number(byName.get(b.edge!)!.source.state().status === 'up') - Number(byName.get(a.edge!)!.source.state().status === 'up'));
  const t = sorted[0];
  return t ? { node: byName.get(t.edge!)!, device: t.name } : undefined;
}

/** Topology nodes for a `node` selector: a name, a list, `role:NAME`, or `all` (those with a MAC). */
function selectDevices(selector: unknown, devices: TopologyNodeView[]): TopologyNodeView[] {
  const items = typeof selector === 'string' ? [selector] : Array.isArray(selector) ? selector : undefined;
  const known = () => `topology nodes with a mac: ${devices.filter((d) => d.mac).map((d) => d.name).slice(0, 30).join(', ') || '(none)'}`;
  if (!items || items.length === 0 || items.length > MAX_TARGETS || !items.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new HomelabError('INVALID_ARGUMENTS', `node: expected a topology node name, a list of names, "role:NAME" or "all" (${known()})`);
  }
  const picked = new Map<string, TopologyNodeView>();
  for (const item of items as string[]) {
    if (item === 'all' || item.startsWith('role:')) {
      const role = item.slice(5);
      const matching = devices.filter((d) => d.mac && (item === 'all' || d.roles.includes(role)));
      if (matching.length === 0) throw new HomelabError('INVALID_ARGUMENTS', `node: no topology node ${item === 'all' ? '' : `with the role ${quotedName(role)} `}declares a mac (${known()})`);
      for (const d of matching) picked.set(d.name, d);
    } else {
      const d = devices.find((x) => x.name === item);
      if (!d) throw new HomelabError('INVALID_ARGUMENTS', `node: unknown topology node ${quotedName(item)} (${known()})`);
      if (!d.mac) throw new HomelabError('INVALID_ARGUMENTS', `node: ${d.name} has no mac in topology.yaml; add \`mac: xx:xx:xx:xx:xx:xx\` to its entry, or give mac instead of node`);
      picked.set(d.name, d);
    }
  }
  return [...picked.values()];
}

/**
 * The addresses a magic packet may go to: the limited broadcast and the broadcast address of
 * each IPv4 subnet topology.yaml declares. A wake-on-LAN tool that sent its datagram to any
 * address would let a model send UDP to any host and port the hub or an edge reaches (a
 * resolver on 127.0.0.53, a host across the internet); the port stays free, as devices and
 * routers forwarding directed broadcasts listen on 7, 9 or one of their own.
 */
function wolAddresses(topology: HubTopology | undefined): string[] {
  const subnets = topology ? topology.full().subnets.map((s) => broadcastOf(s.cidr)).filter((b): b is string => b !== undefined) : [];
  return [...new Set([WOL_DEFAULT_ADDRESS, ...subnets])];
}

function checkWolAddress(address: string, topology: HubTopology | undefined): void {
  const allowed = wolAddresses(topology);
  if (!allowed.includes(address)) {
    const subnets = allowed.filter((a) => a !== WOL_DEFAULT_ADDRESS);
    throw new HomelabError(
      'INVALID_ARGUMENTS',
      `address: ${address} is not a broadcast address: expected ${WOL_DEFAULT_ADDRESS} or the broadcast address of a subnet in topology.yaml (${subnets.slice(0, 30).join(', ') || 'none declared'})`,
    );
  }
}

/** What wake_on_lan would do: the same for the preview and the call. */
function planWake(args: Record<string, unknown>, o: FleetCareOptions): WakePlan[] {
  const nodes = o.nodes();
  const topology = o.topology();
  if (args.address !== undefined) checkWolAddress(wolTarget(args.address, args.port ?? WOL_DEFAULT_PORT).address, topology);
  if ((args.node === undefined) === (args.mac === undefined)) throw new HomelabError('INVALID_ARGUMENTS', 'give either node (a topology node with a mac) or mac, not both and not neither');
  const port = args.port ?? WOL_DEFAULT_PORT;
  let via: HubNode | undefined;
  let viaGiven = false;
  if (args.via !== undefined && args.via !== 'hub') {
    if (typeof args.via !== 'string') throw new HomelabError('INVALID_ARGUMENTS', 'via: expected a node name or "hub"');
    via = nodes.find((n) => n.name === args.via);
    if (!via) throw new HomelabError('INVALID_ARGUMENTS', `via: unknown node ${quotedName(args.via)} (known nodes: ${nodes.map((n) => n.name).join(', ') || '(none)'}, or "hub")`);
    viaGiven = true;
  } else if (args.via === 'hub') viaGiven = true;
  if (args.mac !== undefined) {
    const mac = parseMac(args.mac);
    const { address } = wolTarget(args.address ?? WOL_DEFAULT_ADDRESS, port);
    return [{ target: mac, mac, ...(via ? { via } : {}), address, port: port as number, why: viaGiven ? 'as asked' : 'no node given: from the hub' }];
  }
  if (!topology) throw new HomelabError('INVALID_ARGUMENTS', 'node: there is no topology to look the MAC up in; give mac instead');
  const devices = selectDevices(args.node, topology.nodes());
  const subnets = topology.full().subnets;
  return devices.map((d) => {
    const cidr = d.subnet ? subnets.find((s) => s.name === d.subnet)?.cidr : undefined;
    const { address } = wolTarget(args.address ?? (cidr ? broadcastOf(cidr) : undefined) ?? WOL_DEFAULT_ADDRESS, port);
    if (viaGiven) return { target: d.name, mac: d.mac!, ...(via ? { via } : {}), address, port: port as number, why: 'as asked' };
    const edge = d.subnet ? edgeOnSubnet(topology, nodes, d.subnet, d.name) : undefined;
    return edge
      ? { target: d.name, mac: d.mac!, via: edge.node, address, port: port as number, why: `${edge.device} is on its subnet ${d.subnet}` }
      : { target: d.name, mac: d.mac!, address, port: port as number, why: d.subnet ? `no edge on its subnet ${d.subnet}` : 'its subnet is not declared' };
  });
}

const planText = (p: WakePlan) => `${p.target === p.mac ? p.mac : `${p.target} (${p.mac})`} from ${p.via ? p.via.name : 'the hub'} to ${p.address}:${p.port}`;

function wakeTool(o: FleetCareOptions): CatalogTool {
  return {
    def: {
      name: 'wake_on_lan',
      title: 'Wake on LAN',
      description:
        'Wakes machines with a wake-on-LAN magic packet. `node` names topology nodes (a name, a list, "role:NAME" or "all": those whose ' +
        'topology entry has a `mac`); or give `mac` directly. The packet goes to the broadcast address of the device\'s subnet, sent ' +
        'from an edge on that subnet when the topology has one (broadcasts do not cross routers), else from the hub; `via` picks the ' +
        'sender ("hub" or a node name).',
      inputSchema: {
        type: 'object',
        properties: {
          node: { ...NODE_ARG, description: 'Topology node(s) to wake: a name, a list, "role:NAME", or "all" (nodes with a mac in topology.yaml).' },
          mac: { type: 'string', minLength: 1, maxLength: 40, description: 'A MAC address to wake instead of a node, e.g. b8:27:eb:12:34:56.' },
          via: { type: 'string', minLength: 1, maxLength: 128, description: 'Send from this node\'s edge, or "hub"; default: an edge on the device\'s subnet, else the hub.' },
          address: { type: 'string', minLength: 7, maxLength: 15, description: `IPv4 broadcast address to send to: ${WOL_DEFAULT_ADDRESS} or the broadcast address of a subnet in topology.yaml; default the device's subnet's, or ${WOL_DEFAULT_ADDRESS}.` },
          port: { type: 'integer', minimum: 1, maximum: 65535, description: `UDP port (default ${WOL_DEFAULT_PORT}).` },
        },
        additionalProperties: false,
      },
      annotations: { title: 'Wake on LAN', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    toolClass: 'write',
    source: 'hub',
    targets(args) {
      try {
        return [...new Set(planWake(args, o).map((p) => p.via?.name ?? 'hub'))];
      } catch (err) {
        return [`(invalid: ${messageOf(err)})`];
      }
    },
    preview(args) {
      try {
        const plans = planWake(args, o);
        return { tool: 'wake_on_lan', where: [...new Set(plans.map((p) => p.via?.name ?? 'hub'))], action: `send a wake-on-LAN packet for ${plans.map((p) => `${planText(p)} (${p.why})`).join('; ')}`, arguments: args };
      } catch (err) {
        return { tool: 'wake_on_lan', where: [], action: `nothing: ${messageOf(err)}`, arguments: args };
      }
    },
    async call(args, ctx) {
      let plans: WakePlan[];
      try {
        plans = planWake(args, o);
      } catch (err) {
        return fail(messageOf(err));
      }
      const results = await Promise.all(
        plans.map(async (p): Promise<{ target: string; mac: string; from: string; address: string; port: number; ok: boolean; error?: string }> => {
          const base = { target: p.target, mac: p.mac, from: p.via?.name ?? 'hub', address: p.address, port: p.port };
          try {
            if (!p.via) {
              await sendMagicPacket(p.mac, { address: p.address, port: p.port, signal: ctx.signal });
            } else {
              const r = await callNode(p.via, 'wake_on_lan', { mac: p.mac, address: p.address, port: p.port }, { signal: ctx.signal, timeoutMs: o.callTimeoutMs() }, undefined);
              if (r.isError) throw new Error((r.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join(' ').split('\n')[0] || 'failed');
            }
            return { ...base, ok: true };
          } catch (err) {
            const s = p.via ? stateText(p.via.source.state()) : undefined;
            return { ...base, ok: false, error: s && !s.up ? `node ${p.via!.name} is ${s.text}` : messageOf(err) };
          }
        }),
      );
      const sent = results.filter((r) => r.ok);
      const lines = results.map((r) => (r.ok ? `sent for ${r.target === r.mac ? r.mac : `${r.target} (${r.mac})`} from ${r.from} to ${r.address}:${r.port}` : `${r.target}: not sent (${r.error})`));
      const summary = results.length === 1 ? lines[0]! : `${results.length} machines: ${sent.length} packets sent${sent.length < results.length ? `, ${results.length - sent.length} failed` : ''}`;
      return {
        content: [{ type: 'text', text: results.length === 1 ? summary : [summary, ...lines].join('\n') }],
        structuredContent: { summary, targets: results },
        ...(sent.length === 0 ? { isError: true } : {}),
      };
    },
  };
}

/** `reboot_node` and `wake_on_lan`, the hub's versions (see the file comment). */
export function fleetCareTools(o: FleetCareOptions): CatalogTool[] {
  return [rebootTool(o), wakeTool(o)];
}
