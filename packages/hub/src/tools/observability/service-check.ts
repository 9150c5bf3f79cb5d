/**
 * Checks one topology service from the outside, the way a person would: is its node's edge
 * up, is its systemd unit or container running (asked through the edge), does each declared
 * TCP port accept a connection from the hub, does its URL answer. Shared by service_health
 * (all services at once) and run_diagnostic (one service, in depth).
 */
import { LOCAL_NODE_URL } from '../../nodes/local-node.ts';
import { askNode, edgeOf, nodeState, taskSignal, type ObservabilityDeps, type TopologyService } from './deps.ts';
import { shownUrl } from '../../topology/shown-url.ts';

export type CheckStatus = 'ok' | 'problem' | 'warning' | 'skipped';

export interface Finding {
  /** What was checked: `node`, `unit`, `container`, `port 8080/tcp`, `http`, `logs`, `alerts`, `dependency X`. */
  check: string;
  status: CheckStatus;
  detail: string;
}

export interface ServiceCheck {
  service: string;
  node: string;
  healthy: boolean;
  findings: Finding[];
}

/**
 * The address the hub uses to reach a node's services: a declared address first (the user said
 * so); else the host of the edge URL the hub already reaches it by; else, for the hub's own
 * in-process node, loopback. A discovered node's interface addresses are not used: the first
 * one may be a container bridge or a VPN the hub has no route to.
 */
export function addressOf(deps: ObservabilityDeps, nodeName: string): string {
  const view = deps.topology()?.findNode(nodeName);
  if (view?.origin !== 'discovered' && view?.addresses[0]) return view.addresses[0];
  const edge = edgeOf(deps, view, nodeName);
  // The hub's own node (createLocalNode) runs on the hub's host: its services are on loopback.
  if (edge && (!edge.url || edge.url === LOCAL_NODE_URL)) return '127.0.0.1';
  if (edge?.url) {
    try {
      return new URL(edge.url).hostname.replace(/^\[(.*)\]$/, '$1');
    } catch {
      // An unparsable URL: fall through.
    }
  }
  return view?.addresses[0] ?? nodeName;
}

const PROBE_TIMEOUT_MS = 3000;

export async function checkUnit(deps: ObservabilityDeps, svc: TopologyService, signal: AbortSignal): Promise<Finding | undefined> {
  if (!svc.unit) return undefined;
  const edge = edgeOf(deps, deps.topology()?.findNode(svc.node), svc.node);
  if (!edge) return { check: 'unit', status: 'skipped', detail: `no edge serves node ${svc.node}: unit ${svc.unit} cannot be asked` };
  const a = await askNode(edge, 'get_service_status', { unit: svc.unit }, signal, deps.callTimeoutMs());
  if (a.unsupported) return { check: 'unit', status: 'skipped', detail: `unit ${svc.unit} cannot be checked on ${svc.node}: ${firstLine(a.text)}` };
  if (!a.ok) return { check: 'unit', status: 'problem', detail: `unit ${svc.unit}: ${firstLine(a.text)}` };
  const active = String(a.data?.activeState ?? '');
  const sub = String(a.data?.subState ?? '');
  const result = a.data?.result ? `, last result ${String(a.data.result)}` : '';
  const restarts = typeof a.data?.nRestarts === 'number' && a.data.nRestarts > 0 ? `, ${a.data.nRestarts} restarts` : '';
  return active === 'active'
    ? { check: 'unit', status: 'ok', detail: `unit ${svc.unit} is ${active}/${sub}${restarts}` }
    : { check: 'unit', status: 'problem', detail: `unit ${svc.unit} is ${active || 'unknown'}/${sub || 'unknown'}${result}${restarts}` };
}

export async function checkContainer(deps: ObservabilityDeps, svc: TopologyService, signal: AbortSignal): Promise<Finding | undefined> {
  if (!svc.container) return undefined;
  const edge = edgeOf(deps, deps.topology()?.findNode(svc.node), svc.node);
  if (!edge) return { check: 'container', status: 'skipped', detail: `no edge serves node ${svc.node}: container ${svc.container} cannot be asked` };
  const a = await askNode(edge, 'get_container_status', { container: svc.container }, signal, deps.callTimeoutMs());
  if (a.unsupported) return { check: 'container', status: 'skipped', detail: `container ${svc.container} cannot be checked on ${svc.node}: ${firstLine(a.text)}` };
  if (!a.ok) return { check: 'container', status: 'problem', detail: `container ${svc.container}: ${firstLine(a.text)}` };
  const state = String(a.data?.state ?? 'unknown');
  const health = a.data?.health ? String(a.data.health) : '';
  const exit = typeof a.data?.exitCode === 'number' && state !== 'running' ? `, exit code ${a.data.exitCode}` : '';
  const ok = state === 'running' && health !== 'unhealthy';
  return { check: 'container', status: ok ? 'ok' : 'problem', detail: `container ${svc.container} is ${state}${health ? ` (${health})` : ''}${exit}` };
}

export async function checkPorts(deps: ObservabilityDeps, svc: TopologyService, signal: AbortSignal): Promise<Finding[]> {
  const host = addressOf(deps, svc.node);
  return Promise.all(
    svc.ports.map(async (p): Promise<Finding> => {
      const check = `port ${p.port}/${p.protocol}`;
      // A UDP port cannot be tested by connecting; the edge's drift report covers it.
      if (p.protocol !== 'tcp') return { check, status: 'skipped', detail: `${p.port}/udp is not probed from the hub (UDP has no handshake)` };
      const r = await deps.probes.checkPort({ host, port: p.port, timeoutMs: PROBE_TIMEOUT_MS, signal: taskSignal(signal) });
      return r.open
        ? { check, status: 'ok', detail: `${host}:${p.port} accepts connections${r.latencyMs !== undefined ? ` (${r.latencyMs} ms)` : ''}` }
        : { check, status: 'problem', detail: `${host}:${p.port} does not accept connections${r.error ? ` (${r.error.split(':')[0]})` : ''}` };
    }),
  );
}

export async function checkHttp(deps: ObservabilityDeps, svc: TopologyService, signal: AbortSignal): Promise<Finding | undefined> {
  if (!svc.url) return undefined;
  const r = await deps.probes.probeHttp({ url: svc.url, timeoutMs: PROBE_TIMEOUT_MS * 2, signal });
  return r.ok
    ? { check: 'http', status: 'ok', detail: `${shownUrl(r.url)} answered ${r.status}${r.latencyMs !== undefined ? ` in ${r.latencyMs} ms` : ''}` }
    : { check: 'http', status: 'problem', detail: `${shownUrl(r.url)} ${r.status !== undefined ? `answered ${r.status}` : `failed: ${r.error ?? 'no answer'}`}` };
}

/** The node's edge, for a service: `ok`, or a problem that explains every other failure. */
export function checkNode(deps: ObservabilityDeps, nodeName: string): Finding {
  const edge = edgeOf(deps, deps.topology()?.findNode(nodeName), nodeName);
  if (!edge) return { check: 'node', status: 'skipped', detail: `node ${nodeName} has no edge agent behind the hub` };
  const s = nodeState(edge, deps.now?.());
  return s.up ? { check: 'node', status: 'ok', detail: `node ${nodeName}: edge ${edge.name} is up` } : { check: 'node', status: 'problem', detail: `node ${nodeName} is ${s.text}` };
}

/** Node, unit/container, ports and URL of one service, in parallel. */
export async function checkService(deps: ObservabilityDeps, svc: TopologyService, signal: AbortSignal): Promise<ServiceCheck> {
  const node = checkNode(deps, svc.node);
  const nodeDown = node.status === 'problem';
  const [unit, container, ports, http] = await Promise.all([
    nodeDown ? undefined : checkUnit(deps, svc, taskSignal(signal)),
    nodeDown ? undefined : checkContainer(deps, svc, taskSignal(signal)),
    checkPorts(deps, svc, signal),
    checkHttp(deps, svc, taskSignal(signal)),
  ]);
  const findings = [node, unit, container, ...ports, http].filter((f): f is Finding => f !== undefined);
  return { service: svc.name, node: svc.node, healthy: !findings.some((f) => f.status === 'problem'), findings };
}

/**
 * What a healthy verdict rests on, in words. `healthy on pi` when something of the service
 * itself answered (its unit, container, a TCP port or its URL). Otherwise only its node was
 * seen (a DNS server declared with `53/udp` alone: UDP ports are not probed), and a plain
 * "healthy" would claim more than was checked.
 *
 * @example healthyDetail(check) // 'healthy only as far as its node pi-b is up; 53/udp is not probed from the hub (UDP has no handshake)'
 */
export function healthyDetail(c: ServiceCheck): string {
  if (c.findings.some((f) => f.check !== 'node' && f.status === 'ok')) return `healthy on ${c.node}`;
  const node = c.findings.find((f) => f.check === 'node');
  const unseen = c.findings.filter((f) => f.check !== 'node' && f.status === 'skipped').map((f) => f.detail);
  const why = unseen.length ? unseen.join('; ') : 'it declares no unit, container, TCP port or URL to check';
  return node?.status === 'ok' ? `healthy only as far as its node ${c.node} is up; ${why}` : `not checked: ${node?.detail ?? `node ${c.node} is unknown`}; ${why}`;
}

export function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? 'failed';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
