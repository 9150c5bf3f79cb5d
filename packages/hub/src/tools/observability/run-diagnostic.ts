/**
 * `run_diagnostic(service, node?)`: "why is X down?" as a guided sequence, the one a person
 * would walk through: find the service in the topology, is its node reachable, is its unit or
 * container running, is its port open (from the hub, and from the node itself when not), does
 * its URL answer, what did it log lately (Loki), are the services it depends on healthy, which
 * Prometheus alerts mention it. Returns findings and suggested fixes; it changes nothing.
 */
import { HomelabError } from '@homelab-mcp/core';
import type { CatalogTool } from '../../catalog/types.ts';
import { messageOf, quotedName } from '../../catalog/fleet.ts';
import { askNode, edgeOf, recheck, snapshotNodes, type ObservabilityDeps, type TopologyService } from './deps.ts';
import { addressOf, checkContainer, checkHttp, checkNode, checkPorts, checkService, checkUnit, firstLine, healthyDetail, type Finding } from './service-check.ts';
import { shownUrl } from '../../topology/shown-url.ts';

const DIAGNOSTIC_DEADLINE_MS = 30_000;
const MAX_DEPENDENCY_DEPTH = 3;

export interface Diagnosis {
  service: string;
  node?: string;
  findings: Finding[];
  suggestions: string[];
  problems: number;
}

/** LogQL that finds a service's recent errors without knowing the user's label scheme. */
export function errorLogQL(term: string, auditJob = 'mcp-audit'): string {
  const quoted = JSON.stringify(term);
  // Never the audit stream: the term is the caller's, and only an admin reads other users' events.
  return `{job=~".+", job!=${JSON.stringify(auditJob)}} |= ${quoted} |~ "(?i)(error|fail|fatal|panic|exception|refused|denied)"`;
}

export async function diagnose(deps: ObservabilityDeps, serviceName: string, nodeName: string | undefined, signal: AbortSignal): Promise<Diagnosis> {
  const findings: Finding[] = [];
  const suggestions: string[] = [];
  const topo = deps.topology();
  if (nodeName !== undefined) {
    // A mistyped node must not become a diagnosis of a host by that name (a DNS lookup, a
    // ping and a port probe of something that does not exist, reported as "problems").
    const known = topo?.findNode(nodeName)?.name ?? deps.nodes().find((n) => n.name === nodeName)?.name;
    if (!known) {
      const names = [...new Set([...(topo?.nodes().map((n) => n.name) ?? []), ...deps.nodes().map((n) => n.name)])];
      throw new HomelabError('INVALID_ARGUMENTS', `node: unknown node ${quotedName(nodeName)} (known nodes: ${names.slice(0, 30).join(', ') || 'none'})`);
    }
    nodeName = known;
  }
  let svc: TopologyService | undefined = topo?.findService(serviceName);
  if (svc && nodeName && svc.node !== nodeName) svc = { ...svc, node: nodeName };
  if (!svc) {
    if (!nodeName) {
      const known = topo?.services().map((s) => s.name) ?? [];
      findings.push({ check: 'topology', status: 'problem', detail: `${serviceName} is not a service of the topology${known.length ? ` (known: ${known.slice(0, 30).join(', ')})` : ' (no services are declared)'}` });
      suggestions.push(`Declare ${serviceName} in topology.yaml (node, ports, unit or container, url, dependsOn), or call run_diagnostic again with the node it runs on: it is then checked as a systemd unit there.`);
      return { service: serviceName, findings, suggestions, problems: 1 };
    }
    findings.push({ check: 'topology', status: 'warning', detail: `${serviceName} is not in the topology: checking it as systemd unit ${serviceName} on ${nodeName}` });
    svc = { name: serviceName, node: nodeName, ports: [], unit: serviceName, dependsOn: [] };
  } else {
    const what = [svc.unit && `unit ${svc.unit}`, svc.container && `container ${svc.container}`, svc.ports.length && `ports ${svc.ports.map((p) => `${p.port}/${p.protocol}`).join(', ')}`, svc.url && shownUrl(svc.url)].filter(Boolean);
    findings.push({ check: 'topology', status: 'ok', detail: `${svc.name} runs on ${svc.node}${what.length ? `: ${what.join(', ')}` : ''}${svc.dependsOn.length ? `; depends on ${svc.dependsOn.join(', ')}` : ''}` });
  }
  const s = svc;

  // The node first: when it is down, everything else fails for that one reason.
  const serving = edgeOf(deps, topo?.findNode(s.node), s.node);
  if (serving) await recheck([serving.source], signal);
  // From here on, one state per node: the node finding and the dependencies' checks agree.
  deps = snapshotNodes(deps);
  const node = checkNode(deps, s.node);
  findings.push(node);
  const host = addressOf(deps, s.node);
  const nodeDown = node.status === 'problem';
  if (nodeDown || node.status === 'skipped') {
    const ping = await deps.probes.pingHost({ host, count: 2, timeoutMs: 4000, signal });
    findings.push(
      ping.reachable
        ? { check: 'ping', status: 'ok', detail: `${host} answers ${ping.method === 'icmp' ? 'ping' : 'TCP connects'} (${ping.received}/${ping.sent})` }
        : { check: 'ping', status: 'problem', detail: `${host} does not answer ${ping.method === 'icmp' ? 'ping' : 'TCP connects'}${ping.error ? `: ${ping.error}` : ''}` },
    );
    if (nodeDown) {
      suggestions.push(
        ping.reachable
          ? `${s.node} answers on the network but its edge agent does not: check it there (systemctl status homelab-edge; journalctl -u homelab-edge) or reinstall it from the hub's /edge/install.sh.`
          : `${s.node} does not answer at all: check its power, cable/Wi-Fi and address (${host}); the edge agent and ${s.name} cannot be reached until it is back.`,
      );
    }
  }

  const [unit, container] = nodeDown ? [undefined, undefined] : await Promise.all([checkUnit(deps, s, signal), checkContainer(deps, s, signal)]);
  if (unit) findings.push(unit);
  if (container) findings.push(container);
  if (unit?.status === 'problem') suggestions.push(`Unit ${s.unit} is not running on ${s.node}: look at its log (run_command on ${s.node}: journalctl -u ${s.unit} -n 50 --no-pager), fix the cause, then restart it (systemctl restart ${s.unit}, a write that needs approval).`);
  if (container?.status === 'problem') suggestions.push(`Container ${s.container} is not running properly on ${s.node}: read its output with get_container_logs(container: "${s.container}"), then start it again with compose_up on its stack (a write that needs approval).`);

  const ports = await checkPorts(deps, s, signal);
  findings.push(...ports);
  const edge = edgeOf(deps, topo?.findNode(s.node), s.node);
  for (const p of ports.filter((f) => f.status === 'problem')) {
    const port = Number(/port (\d+)/.exec(p.check)?.[1]);
    // Closed from the hub: ask the node itself, to tell "not listening" from "filtered on the way".
    if (!nodeDown && edge && Number.isInteger(port)) {
      const local = await askNode(edge, 'check_port', { host: '127.0.0.1', port }, signal, deps.callTimeoutMs());
      const open = local.ok && local.data?.open === true;
      findings.push({ check: `port ${port}/tcp on the node`, status: !local.ok ? 'skipped' : open ? 'warning' : 'problem', detail: local.ok ? `from ${s.node} itself, 127.0.0.1:${port} is ${open ? 'open' : 'closed'}` : `could not check from ${s.node}: ${firstLine(local.text)}` });
      if (open) suggestions.push(`${s.name} listens on ${s.node} but port ${port} is not reachable from the hub: it may bind only to 127.0.0.1, or a firewall on ${s.node} (nft/ufw) blocks it.`);
      else if (local.ok) suggestions.push(`Nothing listens on port ${port} on ${s.node}: ${s.name} is down or configured for another port${unit?.status === 'ok' || container?.status === 'ok' ? ' (its process runs: check its configuration and log)' : ''}.`);
    } else if (!nodeDown) suggestions.push(`Port ${port} of ${s.name} on ${host} does not accept connections: check that ${s.name} runs and listens there.`);
  }

  const http = await checkHttp(deps, s, signal);
  if (http) {
    findings.push(http);
    if (http.status === 'problem' && !ports.some((p) => p.status === 'problem')) suggestions.push(`${shownUrl(s.url!)} answers badly while its port is open: ${s.name} is up but unhappy; its recent log lines below may say why.`);
  }

  // What the homelab-service integrations know of it: its Proxmox guest, the Pi-hole it is,
  // the Caddy route in front of it.
  const views = await Promise.all(
    (deps.services?.() ?? [])
      .filter((src) => src.diagnose)
      .map((src) =>
        src.diagnose!({ name: s.name, node: s.node, ...(s.url ? { url: s.url } : {}) }, signal).catch((err: unknown) => [{ check: src.title, status: 'skipped' as const, detail: `${src.title} could not be asked: ${messageOf(err)}` }]),
      ),
  );
  for (const f of views.flat()) {
    findings.push({ check: f.check, status: f.status, detail: f.detail });
    if ((f.status === 'problem' || f.status === 'warning') && 'suggestion' in f && f.suggestion) suggestions.push(f.suggestion);
  }

  const loki = deps.loki();
  if (loki) {
    try {
      const streams = await loki.queryRange({ logql: errorLogQL(s.container ?? s.unit ?? s.name, deps.auditJob?.()), start: new Date(Date.now() - 3_600_000), limit: 10, direction: 'backward' }, signal);
      const lines = streams.flatMap((st) => st.entries.map((e) => ({ ts: e.ts, line: e.line }))).sort((a, b) => (a.ts < b.ts ? 1 : -1)).slice(0, 5);
      findings.push(
        lines.length
          ? { check: 'logs', status: 'warning', detail: `${lines.length} recent error line(s) in Loki (last hour): ${lines.map((l) => `[${new Date(Number(BigInt(l.ts) / 1_000_000n)).toISOString()}] ${l.line.slice(0, 200)}`).join(' | ')}` }
          : { check: 'logs', status: 'ok', detail: 'no error lines mentioning it in Loki in the last hour' },
      );
    } catch (err) {
      findings.push({ check: 'logs', status: 'skipped', detail: `Loki could not be queried: ${messageOf(err)}` });
    }
  } else findings.push({ check: 'logs', status: 'skipped', detail: 'no Loki configured (integrations.loki or audit.loki)' });

  // Dependencies: a broken dependency is often the real cause.
  const seen = new Set([s.name]);
  const deps_ = async (names: string[], depth: number): Promise<void> => {
    for (const name of names) {
      if (seen.has(name) || depth > MAX_DEPENDENCY_DEPTH) continue;
      seen.add(name);
      const dep = topo?.findService(name);
      if (!dep) {
        findings.push({ check: `dependency ${name}`, status: 'warning', detail: `${name} is not declared in the topology` });
        continue;
      }
      const c = await checkService(deps, dep, signal);
      const problems = c.findings.filter((f) => f.status === 'problem').map((f) => f.detail);
      findings.push({ check: `dependency ${name}`, status: c.healthy ? 'ok' : 'problem', detail: c.healthy ? `${name}: ${healthyDetail(c)}` : `${name} on ${dep.node}: ${problems.join('; ')}` });
      if (!c.healthy) suggestions.push(`${s.name} depends on ${name}, which is unhealthy: fix it first (run_diagnostic(service: "${name}")).`);
      await deps_(dep.dependsOn, depth + 1);
    }
  };
  await deps_(s.dependsOn, 1);

  const prom = deps.prometheus();
  if (prom) {
    try {
      const alerts = (await prom.alerts(signal)).filter((a) => a.state === 'firing');
      const terms = [s.name, s.node, s.unit, s.container, host !== s.node ? host : undefined].filter((t): t is string => !!t).map((t) => t.toLowerCase());
      const mentions = alerts.filter((a) => [...Object.values(a.labels), ...Object.values(a.annotations)].some((v) => terms.some((t) => v.toLowerCase().includes(t))));
      findings.push(
        mentions.length
          ? { check: 'alerts', status: 'problem', detail: `${mentions.length} firing alert(s) mention it: ${mentions.map((a) => `${a.labels.alertname ?? '?'}${a.annotations.summary ? ` (${a.annotations.summary})` : ''}`).join(', ')}` }
          : { check: 'alerts', status: 'ok', detail: `no firing alert mentions it (${alerts.length} firing in all)` },
      );
      if (mentions.length) suggestions.push(`Prometheus alerts about it are firing (${mentions.map((a) => a.labels.alertname).join(', ')}): prom_alerts shows their details.`);
    } catch (err) {
      findings.push({ check: 'alerts', status: 'skipped', detail: `Prometheus could not be queried: ${messageOf(err)}` });
    }
  } else findings.push({ check: 'alerts', status: 'skipped', detail: 'no Prometheus configured (integrations.prometheus)' });

  const problems = findings.filter((f) => f.status === 'problem').length;
  return { service: s.name, node: s.node, findings, suggestions: [...new Set(suggestions)], problems };
}

export function runDiagnosticTool(deps: ObservabilityDeps): CatalogTool {
  return {
    def: {
      name: 'run_diagnostic',
      title: 'Diagnose a service',
      description:
        'Why is a service down? Walks through the checks a person would: the service in the topology, its node reachable, its systemd unit or container state, ' +
        'its ports open (from the hub, and from the node itself), its URL, recent errors in Loki, the health of what it depends on, and firing Prometheus alerts that mention it. ' +
        'Returns the findings and suggested fixes; changes nothing.',
      inputSchema: {
        type: 'object',
        properties: {
          service: { type: 'string', minLength: 1, maxLength: 128, description: 'Service name from the topology (find_service), or a systemd unit when `node` is given.' },
          node: { type: 'string', minLength: 1, maxLength: 64, description: 'The node it runs on; needed only when the service is not in the topology.' },
        },
        required: ['service'],
        additionalProperties: false,
      },
      annotations: { title: 'Diagnose a service', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    toolClass: 'read',
    source: 'hub',
    targets: (args) => (typeof args.node === 'string' ? [args.node] : ['hub']),
    async call(args, ctx) {
      const service = args.service;
      const node = args.node;
      if (typeof service !== 'string' || service.length === 0 || service.length > 128) throw new HomelabError('INVALID_ARGUMENTS', 'service: expected a service name (1-128 characters)');
      if (node !== undefined && (typeof node !== 'string' || node.length === 0)) throw new HomelabError('INVALID_ARGUMENTS', 'node: expected a node name');
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(DIAGNOSTIC_DEADLINE_MS)]);
      const d = await diagnose(deps, service, node as string | undefined, signal);
      const mark = { ok: '✓', problem: '✗', warning: '!', skipped: '-' } as const;
      // "No problem found" must not read as "it is fine" when nothing about the service itself was seen.
      const seen = d.findings.some((f) => /^(unit|container|port|http)\b/.test(f.check) && f.status !== 'skipped');
      const verdict = d.problems > 0 ? `${d.problems} problem${d.problems === 1 ? '' : 's'}` : seen ? 'no problem found' : 'no problem found, but its unit, container, ports and URL could not be checked';
      const text = [
        `Diagnosis of ${d.service}${d.node ? ` on ${d.node}` : ''}: ${verdict}`,
        '',
        ...d.findings.map((f) => `${mark[f.status]} ${f.check}: ${f.detail}`),
        ...(d.suggestions.length ? ['', 'Suggested fixes:', ...d.suggestions.map((s) => `- ${s}`)] : []),
      ].join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { ...d } };
    },
  };
}
