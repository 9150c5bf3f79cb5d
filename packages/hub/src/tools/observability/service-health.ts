/**
 * `service_health`: "is anything broken in my homelab?" as one call with one answer. Every
 * topology service, every node (edge), every native MCP upstream and the configured
 * integrations are checked in parallel; the first line says how many are healthy and names
 * what is not ("7 of 8 healthy; Prometheus: 2 alerts firing; pi-kitchen unreachable since
 * 10:42:05Z"), the rest lists each item.
 */
import type { CatalogTool } from '../../catalog/types.ts';
import { messageOf } from '../../catalog/fleet.ts';
import { stateText } from '../../catalog/nodes.ts';
import { mib } from '../../audit/loki-shipper.ts';
import { nodeState, recheck, snapshotNodes, taskSignal, type AuditShipping, type ObservabilityDeps } from './deps.ts';
import { checkService, healthyDetail, type Finding } from './service-check.ts';

export interface HealthItem {
  kind: 'service' | 'node' | 'upstream' | 'integration';
  name: string;
  healthy: boolean;
  /** One line: what is wrong, or what was seen. */
  detail: string;
  findings?: Finding[];
}

/** Longest a whole service_health call may take: a hung check must not hang the answer. */
const HEALTH_DEADLINE_MS = 20_000;

const problemsOf = (findings: Finding[]) => findings.filter((f) => f.status === 'problem').map((f) => f.detail);

export async function collectHealth(live: ObservabilityDeps, signal: AbortSignal): Promise<{ items: HealthItem[]; alerts: Array<{ name: string; labels: Record<string, string> }> }> {
  await recheck([...live.nodes().map((n) => n.source), ...live.upstreams()], signal);
  // One state per node for the whole answer: a service's line and its node's line must agree.
  const deps = snapshotNodes(live);
  const now = deps.now?.() ?? new Date();
  const topo = deps.topology();
  const services = topo?.services() ?? [];
  const prom = deps.prometheus();
  const loki = deps.loki();
  const [serviceItems, promItem, lokiItem, integrationItems] = await Promise.all([
    Promise.all(
      services.map(async (svc): Promise<HealthItem> => {
        try {
          const c = await checkService(deps, svc, taskSignal(signal));
          const problems = problemsOf(c.findings);
          return { kind: 'service', name: svc.name, healthy: c.healthy, detail: c.healthy ? healthyDetail(c) : problems.join('; '), findings: c.findings };
        } catch (err) {
          return { kind: 'service', name: svc.name, healthy: false, detail: `check failed: ${messageOf(err)}` };
        }
      }),
    ),
    prom
      ? (async () => {
          try {
            const alerts = await prom.alerts(taskSignal(signal));
            const firing = alerts.filter((a) => a.state === 'firing');
            const item: HealthItem = { kind: 'integration', name: 'Prometheus', healthy: true, detail: firing.length ? `${firing.length} alert${firing.length === 1 ? '' : 's'} firing` : 'reachable, no alerts firing' };
            return { item, firing };
          } catch (err) {
            return { item: { kind: 'integration' as const, name: 'Prometheus', healthy: false, detail: `unreachable: ${messageOf(err)}` }, firing: [] };
          }
        })()
      : undefined,
    loki
      ? loki.ready(taskSignal(signal)).then(
          (ready): HealthItem => ({ kind: 'integration', name: 'Loki', healthy: ready, detail: ready ? 'ready' : 'not ready' }),
          (err: unknown): HealthItem => ({ kind: 'integration', name: 'Loki', healthy: false, detail: `unreachable: ${messageOf(err)}` }),
        )
      : undefined,
    Promise.all(
      (deps.services?.() ?? []).map((svc) =>
        svc.health(taskSignal(signal)).then(
          (h): HealthItem => ({ kind: 'integration', name: svc.title, healthy: h.ok && !h.problems?.length, detail: [h.detail, ...(h.problems ?? []).slice(0, 10)].join('; ') }),
          (err: unknown): HealthItem => ({ kind: 'integration', name: svc.title, healthy: false, detail: `check failed: ${messageOf(err)}` }),
        ),
      ),
    ),
  ]);
  const nodeItems = deps.nodes().map((n): HealthItem => {
    const s = nodeState(n, now);
    return { kind: 'node', name: n.name, healthy: s.up, detail: s.up ? 'up' : s.text };
  });
  const upstreamItems = deps.upstreams().map((u): HealthItem => {
    const state = u.state();
    const s = stateText(state, now);
    // Up but useless until a person fixes something (Home Assistant exposing no entities).
    if (s.up && state.warning) return { kind: 'upstream', name: u.alias, healthy: false, detail: `up, but ${state.warning}` };
    return { kind: 'upstream', name: u.alias, healthy: s.up, detail: s.text };
  });
  const shipping = deps.auditShipping?.();
  const auditItem = shipping ? auditShippingItem(shipping) : undefined;
  const items = [...nodeItems, ...upstreamItems, ...serviceItems, ...(promItem ? [promItem.item] : []), ...(lokiItem ? [lokiItem] : []), ...integrationItems, ...(auditItem ? [auditItem] : [])];
  const alerts = (promItem?.firing ?? []).map((a) => ({ name: a.labels.alertname ?? '(unnamed)', labels: a.labels }));
  return { items, alerts };
}

/**
 * The audit trail on its way to Loki: unhealthy while pushes fail or the backlog passed
 * `audit.loki.backlogWarnBytes`. The events wait in the journal either way; the line says so.
 *
 * @example auditShippingItem({ state: 'retrying', backlogBytes: 3_400_000, backlogWarnBytes: 67_108_864, lastError: 'http://loki:3100: ECONNREFUSED' })
 * // { name: 'Audit shipping', healthy: false, detail: '3.2 MiB of audit events not yet in Loki (http://loki:3100: ECONNREFUSED); kept in the journal, nothing is dropped' }
 */
export function auditShippingItem(s: AuditShipping): HealthItem {
  const behind = `${mib(s.backlogBytes)} of audit events not yet in Loki${s.oldestUnshippedAt ? `, oldest from ${s.oldestUnshippedAt}` : ''}`;
  const failing = s.lastError !== undefined;
  const over = s.backlogBytes >= s.backlogWarnBytes;
  if (!failing && !over) return { kind: 'integration', name: 'Audit shipping', healthy: true, detail: `shipping to Loki, ${mib(s.backlogBytes)} behind` };
  const why = [failing ? s.lastError : undefined, over ? `over audit.loki.backlogWarnBytes (${mib(s.backlogWarnBytes)})` : undefined].filter(Boolean).join('; ');
  return { kind: 'integration', name: 'Audit shipping', healthy: false, detail: `${behind} (${why}); kept in the journal, nothing is dropped` };
}

/** The one-line answer: counts first, then each thing that needs attention. */
export function healthSummary(items: HealthItem[], alerts: Array<{ name: string }>): string {
  const healthy = items.filter((i) => i.healthy).length;
  const parts = [`${healthy} of ${items.length} healthy`];
  if (alerts.length) {
    const names = [...new Set(alerts.map((a) => a.name))];
    parts.push(`Prometheus: ${alerts.length} alert${alerts.length === 1 ? '' : 's'} firing (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`);
  }
  for (const i of items.filter((x) => !x.healthy)) parts.push(`${i.name} ${i.kind === 'node' || i.kind === 'upstream' ? i.detail : i.kind === 'integration' ? i.detail : `unhealthy: ${i.detail}`}`);
  return parts.join('; ');
}

export function serviceHealthTool(deps: ObservabilityDeps): CatalogTool {
  return {
    def: {
      name: 'service_health',
      title: 'Service health',
      description:
        'Is anything broken? Checks every service of the topology (node up, unit or container running, ports open, URL answering), every node (edge agent), ' +
        'every MCP upstream, and Prometheus (firing alerts) and Loki when configured, all in parallel. The first line says how many are healthy and names what is not. Changes nothing.',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      annotations: { title: 'Service health', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    toolClass: 'read',
    source: 'hub',
    async call(_args, ctx) {
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(HEALTH_DEADLINE_MS)]);
      const { items, alerts } = await collectHealth(deps, signal);
      const summary = healthSummary(items, alerts);
      const section = (kind: HealthItem['kind'], title: string) => {
        const of = items.filter((i) => i.kind === kind);
        return of.length ? [`${title}:`, ...of.map((i) => `${i.healthy ? '✓' : '✗'} ${i.name}: ${i.detail}`)] : [];
      };
      const text = [
        summary,
        '',
        ...section('service', 'Services'),
        ...section('node', 'Nodes'),
        ...section('upstream', 'MCP upstreams'),
        ...section('integration', 'Integrations'),
        ...(alerts.length ? ['Firing alerts:', ...alerts.slice(0, 20).map((a) => `- ${a.name} ${JSON.stringify(a.labels)}`)] : []),
        ...(deps.topology()?.services().length ? [] : ['', 'No services are declared: add them to topology.yaml to have them checked.']),
      ].join('\n');
      return {
        content: [{ type: 'text', text }],
        structuredContent: { summary, healthy: items.filter((i) => i.healthy).length, total: items.length, items, firingAlerts: alerts },
      };
    },
  };
}
