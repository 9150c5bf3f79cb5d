/**
 * Prometheus metrics in the text exposition format, written by hand: a handful of metric
 * families do not justify a client library.
 */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** What /metrics shows of the audit trail's shipping to Loki (see audit/loki-shipper.ts). */
export interface AuditShippingGauges {
  backlogBytes: number;
  oldestUnshippedAt?: string;
}

/**
 * @example const metrics = createMetrics({ auditShipping: () => shipper?.stats() });
 */
export function createMetrics(opts: { auditShipping?: () => AuditShippingGauges | undefined; now?: () => number } = {}) {
  const calls = new Map<string, number>();
  const hist = new Map<string, { counts: number[]; sum: number; count: number }>();
  const refusals = new Map<string, number>();
  return {
    /** Counts one refused request by kind (`unauthorized`, `rate_limited`, `unknown_tool`...). */
    refusal(kind: string): void {
      refusals.set(kind, (refusals.get(kind) ?? 0) + 1);
    },
    /** Records one tool call: its outcome (`ok`, `partial`, `error`, `cancelled`, `denied`...) and duration in seconds. */
    observeCall(tool: string, outcome: string, seconds: number): void {
      const k = `${tool}\u0000${outcome}`;
      calls.set(k, (calls.get(k) ?? 0) + 1);
      const h = hist.get(tool) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      BUCKETS.forEach((b, i) => {
        if (seconds <= b) h.counts[i]!++;
      });
      h.sum += seconds;
      h.count++;
      hist.set(tool, h);
    },
    /** The exposition text; `upstreams` gives each node/upstream's up state at scrape time. */
    render(upstreams: Array<{ name: string; kind: string; up: boolean }>): string {
      const lines = ['# HELP homelab_hub_tool_calls_total Tool calls by tool and outcome.', '# TYPE homelab_hub_tool_calls_total counter'];
      for (const [k, v] of calls) {
        const [tool, outcome] = k.split('\u0000');
        lines.push(`homelab_hub_tool_calls_total{tool="${esc(tool!)}",outcome="${esc(outcome!)}"} ${v}`);
      }
      lines.push('# HELP homelab_hub_tool_call_duration_seconds Tool call latency.', '# TYPE homelab_hub_tool_call_duration_seconds histogram');
      for (const [tool, h] of hist) {
        BUCKETS.forEach((b, i) => lines.push(`homelab_hub_tool_call_duration_seconds_bucket{tool="${esc(tool)}",le="${b}"} ${h.counts[i]}`));
        lines.push(`homelab_hub_tool_call_duration_seconds_bucket{tool="${esc(tool)}",le="+Inf"} ${h.count}`);
        lines.push(`homelab_hub_tool_call_duration_seconds_sum{tool="${esc(tool)}"} ${h.sum}`);
        lines.push(`homelab_hub_tool_call_duration_seconds_count{tool="${esc(tool)}"} ${h.count}`);
      }
      lines.push('# HELP homelab_hub_refusals_total Requests refused before or instead of a tool call, by kind.', '# TYPE homelab_hub_refusals_total counter');
      for (const [kind, v] of refusals) lines.push(`homelab_hub_refusals_total{kind="${esc(kind)}"} ${v}`);
      lines.push('# HELP homelab_hub_upstream_up Whether a node or upstream is reachable (1) or not (0).', '# TYPE homelab_hub_upstream_up gauge');
      for (const u of upstreams) lines.push(`homelab_hub_upstream_up{name="${esc(u.name)}",kind="${esc(u.kind)}"} ${u.up ? 1 : 0}`);
      // Only with audit.loki: a journal that grows while Loki is down is worth an alert.
      const audit = opts.auditShipping?.();
      if (audit) {
        const oldest = audit.oldestUnshippedAt ? Date.parse(audit.oldestUnshippedAt) : NaN;
        const age = Number.isFinite(oldest) ? Math.max(0, ((opts.now?.() ?? Date.now()) - oldest) / 1000) : 0;
        lines.push('# HELP homelab_hub_audit_backlog_bytes Audit journal bytes not yet shipped to Loki.', '# TYPE homelab_hub_audit_backlog_bytes gauge');
        lines.push(`homelab_hub_audit_backlog_bytes ${audit.backlogBytes}`);
        lines.push('# HELP homelab_hub_audit_oldest_unshipped_age_seconds Age of the oldest audit event waiting for Loki (0: none waits).', '# TYPE homelab_hub_audit_oldest_unshipped_age_seconds gauge');
        lines.push(`homelab_hub_audit_oldest_unshipped_age_seconds ${Math.round(age * 1000) / 1000}`);
      }
      return lines.join('\n') + '\n';
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
