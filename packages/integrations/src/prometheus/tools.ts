/**
 * The Prometheus tools: prom_query, prom_query_range, prom_alerts, prom_targets. Each answers
 * with text a person reads and the same facts as structuredContent; what they return is bounded
 * (series, points, alerts, targets) and a cut says so in both.
 */
import * as z from 'zod';
import { redactText } from '@homelab-mcp/core/audit-event';
import { HomelabError } from '@homelab-mcp/core';
import { capText, defineTool, formatLabels, parseDuration, parseTimeArg, textResult, timeArg, type IntegrationTool } from '../integration.ts';
import type { PromAlert, PromTarget, PrometheusClient, PromQueryResult } from './client.ts';

/** Series shown by prom_query (instant vectors can be large: `{__name__=~".+"}`). */
export const MAX_QUERY_SERIES = 200;
/** Series and points per series shown by prom_query_range. */
export const MAX_RANGE_SERIES = 50;
export const MAX_RANGE_POINTS = 300;
/** Points a range query asks for when no step is given. */
const DEFAULT_RANGE_POINTS = 120;
const MAX_ALERTS = 200;
const MAX_TARGETS = 500;
const MAX_PROMQL = 16 * 1024;

type Sample = [number, string];
interface VectorItem {
  metric: Record<string, string>;
  value?: Sample;
  values?: Sample[];
}

const promql = z.string().min(1, 'expected a PromQL expression').max(MAX_PROMQL, `at most ${MAX_PROMQL} characters`);

const iso = (sec: number) => new Date(sec * 1000).toISOString();

/** `1.5e+00` → `1.5`; NaN and infinities as Prometheus writes them. */
function num(v: string): string {
  const n = Number(v);
  return Number.isFinite(n) ? String(n) : v;
}

export function prometheusTools(client: PrometheusClient): IntegrationTool[] {
  return [promQueryTool(client), promQueryRangeTool(client), promAlertsTool(client), promTargetsTool(client)];
}

function promQueryTool(client: PrometheusClient): IntegrationTool {
  return defineTool({
    name: 'prom_query',
    title: 'Prometheus instant query',
    description:
      'Evaluates a PromQL expression at one point in time (default now) and returns each series with its value, e.g. `up`, ' +
      '`node_filesystem_avail_bytes{mountpoint="/"}`, `rate(http_requests_total[5m])`. ' +
      `At most ${MAX_QUERY_SERIES} series are returned; use topk() or label matchers to narrow.`,
    args: z.strictObject({
      promql: promql.describe('The PromQL expression'),
      time: timeArg('When to evaluate: RFC3339, Unix seconds, or a relative time such as 1h (an hour ago); default now').optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const time = args.time ? parseTimeArg(args.time)! : undefined;
      const r = await client.query(args.promql, { ...(time ? { time: (time.getTime() / 1000).toFixed(3) } : {}), signal });
      return formatInstant(args.promql, r);
    },
  });
}

function formatInstant(query: string, r: PromQueryResult) {
  const warnings = r.warnings?.length ? [`Warnings from Prometheus: ${r.warnings.join('; ')}`] : [];
  if (r.resultType === 'scalar' || r.resultType === 'string') {
    const [t, v] = r.result as unknown as Sample;
    return textResult([`${query} = ${r.resultType === 'scalar' ? num(v) : JSON.stringify(v)} (${r.resultType} at ${iso(t)})`, ...warnings].join('\n'), {
      query,
      resultType: r.resultType,
      value: [t, v],
      ...(r.warnings ? { warnings: r.warnings } : {}),
    });
  }
  const items = r.result as VectorItem[];
  const shown = items.slice(0, MAX_QUERY_SERIES);
  const truncated = items.length > shown.length;
  const lines: string[] = [];
  if (items.length === 0) lines.push(`${query}: no data (empty ${r.resultType}). The series may not exist, or have no sample in the last 5 minutes.`);
  else {
    lines.push(`${query}: ${items.length} series (${r.resultType})${truncated ? `, showing the first ${shown.length}` : ''}`);
    for (const s of shown) {
      if (s.value) lines.push(`- ${formatLabels(s.metric)} = ${num(s.value[1])} at ${iso(s.value[0])}`);
      else if (s.values) {
        const last = s.values.at(-1);
        lines.push(`- ${formatLabels(s.metric)}: ${s.values.length} samples${last ? `, last ${num(last[1])} at ${iso(last[0])}` : ''}`);
      }
    }
    if (truncated) lines.push(`(${items.length - shown.length} more series not shown: narrow the query with label matchers or topk())`);
  }
  lines.push(...warnings);
  // Range vectors (`up[5m]`) can carry thousands of samples a series: bound those too.
  const result = shown.map((s) => (s.values && s.values.length > MAX_RANGE_POINTS ? { metric: s.metric, values: s.values.slice(-MAX_RANGE_POINTS), truncatedPoints: s.values.length - MAX_RANGE_POINTS } : s));
  return textResult(lines.join('\n'), { query, resultType: r.resultType, result, seriesCount: items.length, truncated, ...(r.warnings ? { warnings: r.warnings } : {}) });
}

/** A step that gives about `points` points over the range, rounded to whole seconds (at least 1 s). */
function autoStep(rangeMs: number, points: number): number {
  return Math.max(1, Math.ceil(rangeMs / 1000 / points));
}

/** Every k-th point (always the last), so the shape of the whole range survives the cut. */
function thin(values: Sample[], max: number): Sample[] {
  if (values.length <= max) return values;
  const k = Math.ceil(values.length / max);
  const out = values.filter((_, i) => (values.length - 1 - i) % k === 0);
  return out.slice(-max);
}

function promQueryRangeTool(client: PrometheusClient): IntegrationTool {
  return defineTool({
    name: 'prom_query_range',
    title: 'Prometheus range query',
    description:
      'Evaluates a PromQL expression over a time range and returns each series with its samples and a summary (min, max, last). ' +
      `start/end take RFC3339, Unix seconds or a relative time (1h = an hour ago). Without a step about ${DEFAULT_RANGE_POINTS} points are returned. ` +
      `At most ${MAX_RANGE_SERIES} series and ${MAX_RANGE_POINTS} points per series are returned (longer series are thinned evenly).`,
    args: z.strictObject({
      promql: promql.describe('The PromQL expression'),
      start: timeArg('Start: RFC3339, Unix seconds, or relative such as 6h (six hours ago)'),
      end: timeArg('End: RFC3339, Unix seconds, relative, or now (default)').optional(),
      step: z
        .string()
        .refine((v) => parseDuration(v) !== undefined || /^\d+(\.\d+)?$/.test(v.trim()), { message: 'expected a duration such as 30s, 5m or 1h, or seconds' })
        .describe('Resolution: a duration such as 30s or 5m, or seconds; default range/120')
        .optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const now = Date.now();
      const start = parseTimeArg(args.start, now)!;
      const end = args.end ? parseTimeArg(args.end, now)! : new Date(now);
      if (end.getTime() <= start.getTime()) throw new HomelabError('INVALID_ARGUMENT', `prom_query_range: end (${end.toISOString()}) must be after start (${start.toISOString()})`);
      const stepSec = args.step ? (parseDuration(args.step) ?? Number(args.step) * 1000) / 1000 : autoStep(end.getTime() - start.getTime(), DEFAULT_RANGE_POINTS);
      if (!(stepSec > 0)) throw new HomelabError('INVALID_ARGUMENT', 'prom_query_range: argument "step" must be more than 0');
      const r = await client.queryRange(args.promql, { start, end, step: stepSec, signal });
      const items = r.result as VectorItem[];
      const shown = items.slice(0, MAX_RANGE_SERIES);
      const seriesCut = items.length > shown.length;
      let pointsCut = false;
      const series = shown.map((s) => {
        const all = s.values ?? [];
        const values = thin(all, MAX_RANGE_POINTS);
        if (values.length < all.length) pointsCut = true;
        const nums = all.map((v) => Number(v[1])).filter(Number.isFinite);
        const last = all.at(-1);
        return {
          metric: s.metric,
          points: all.length,
          ...(nums.length ? { min: Math.min(...nums), max: Math.max(...nums) } : {}),
          ...(last ? { last: Number(last[1]), lastAt: iso(last[0]) } : {}),
          values,
          ...(values.length < all.length ? { shownPoints: values.length } : {}),
        };
      });
      const lines = [
        items.length === 0
          ? `${args.promql}: no data between ${start.toISOString()} and ${end.toISOString()}.`
          : `${args.promql}: ${items.length} series from ${start.toISOString()} to ${end.toISOString()}, step ${stepSec}s${seriesCut ? `, showing the first ${shown.length}` : ''}`,
        ...series.map(
          (s) =>
            `- ${formatLabels(s.metric)}: ${s.points} points${s.min !== undefined ? `, min ${s.min}, max ${s.max}` : ''}${s.last !== undefined ? `, last ${s.last} at ${s.lastAt}` : ''}${s.shownPoints ? ` (${s.shownPoints} of them returned, thinned evenly)` : ''}`,
        ),
      ];
      if (seriesCut) lines.push(`(${items.length - shown.length} more series not shown: narrow the query with label matchers or topk())`);
      if (r.warnings?.length) lines.push(`Warnings from Prometheus: ${r.warnings.join('; ')}`);
      return textResult(lines.join('\n'), {
        query: args.promql,
        start: start.toISOString(),
        end: end.toISOString(),
        stepSeconds: stepSec,
        resultType: r.resultType,
        series,
        seriesCount: items.length,
        truncated: seriesCut || pointsCut,
        ...(r.warnings ? { warnings: r.warnings } : {}),
      });
    },
  });
}

/** `for 12m` from an RFC3339 `activeAt`. */
function since(activeAt: string | undefined, now: number): string {
  if (!activeAt) return '';
  const ms = now - Date.parse(activeAt);
  if (!Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  const ago = s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
  return ` since ${activeAt.replace(/\.\d+/, '')} (${ago})`;
}

/** One line for an alert, shared with health(). */
export function alertLine(a: PromAlert, now = Date.now()): string {
  const { alertname, ...rest } = a.labels;
  const labels = Object.keys(rest).length ? ` ${formatLabels(rest, { skipName: true })}` : '';
  return `${a.state.toUpperCase()} ${alertname ?? '(no alertname)'}${labels}${since(a.activeAt, now)}${a.value !== undefined ? `, value ${num(a.value)}` : ''}`;
}

function promAlertsTool(client: PrometheusClient): IntegrationTool {
  return defineTool({
    name: 'prom_alerts',
    title: 'Prometheus alerts',
    description: 'Lists the alerts Prometheus has active (firing, then pending), each with its labels, annotations (summary, description) and since when it is active.',
    args: z.strictObject({
      state: z.enum(['firing', 'pending']).describe('Only alerts in this state').optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const now = Date.now();
      const all = await client.alerts(signal);
      const order = (a: PromAlert) => (a.state === 'firing' ? 0 : 1);
      const alerts = all.filter((a) => !args.state || a.state === args.state).sort((a, b) => order(a) - order(b) || (a.activeAt ?? '').localeCompare(b.activeAt ?? ''));
      const firing = all.filter((a) => a.state === 'firing').length;
      const pending = all.filter((a) => a.state === 'pending').length;
      const shown = alerts.slice(0, MAX_ALERTS);
      const lines = [alerts.length === 0 ? (args.state ? `No ${args.state} alerts.` : 'No alerts are firing or pending.') : `${firing} firing, ${pending} pending:`];
      for (const a of shown) {
        lines.push(`- ${alertLine(a, now)}`);
        for (const [k, v] of Object.entries(a.annotations)) lines.push(`    ${k}: ${capText(v, 500).text}`);
      }
      if (shown.length < alerts.length) lines.push(`(${alerts.length - shown.length} more alerts not shown)`);
      return textResult(lines.join('\n'), {
        firing,
        pending,
        alerts: shown.map((a) => ({ name: a.labels.alertname ?? '', state: a.state, labels: a.labels, annotations: a.annotations, ...(a.activeAt ? { activeAt: a.activeAt } : {}), ...(a.value !== undefined ? { value: a.value } : {}) })),
        truncated: shown.length < alerts.length,
      });
    },
  });
}

const HEALTH_ORDER: Record<PromTarget['health'], number> = { down: 0, unknown: 1, up: 2 };

function promTargetsTool(client: PrometheusClient): IntegrationTool {
  return defineTool({
    name: 'prom_targets',
    title: 'Prometheus scrape targets',
    description: 'Lists what Prometheus scrapes and whether each target is up, with the last scrape error; targets that are down come first.',
    args: z.strictObject({
      health: z.enum(['up', 'down', 'unknown']).describe('Only targets in this state').optional(),
      job: z.string().min(1).max(256).describe('Only targets of this job').optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const all = await client.targets(signal);
      const targets = all
        .filter((t) => (!args.health || t.health === args.health) && (!args.job || t.job === args.job))
        .sort((a, b) => HEALTH_ORDER[a.health] - HEALTH_ORDER[b.health] || a.job.localeCompare(b.job) || a.instance.localeCompare(b.instance))
        // A scrape error quotes the scrape URL; keep any credentials in it out of the answer.
        .map((t) => ({ ...t, lastError: redactText(t.lastError, 2000), scrapeUrl: redactText(t.scrapeUrl, 2000) }));
      const count = (h: PromTarget['health']) => all.filter((t) => t.health === h).length;
      const shown = targets.slice(0, MAX_TARGETS);
      const lines = [
        all.length === 0 ? 'Prometheus has no active scrape targets.' : `${all.length} targets: ${count('up')} up, ${count('down')} down${count('unknown') ? `, ${count('unknown')} unknown (not scraped yet)` : ''}`,
      ];
      if (all.length && targets.length === 0) lines.push('None match the filter.');
      for (const t of shown) {
        const scraped = t.lastScrape && !t.lastScrape.startsWith('0001-') ? `, last scrape ${t.lastScrape.replace(/\.\d+/, '')}` : '';
        lines.push(`- ${t.health.toUpperCase()} ${t.job} ${t.instance} (${t.scrapeUrl})${t.lastError ? `: ${t.lastError}` : ''}${scraped}`);
      }
      if (shown.length < targets.length) lines.push(`(${targets.length - shown.length} more targets not shown)`);
      return textResult(lines.join('\n'), { up: count('up'), down: count('down'), unknown: count('unknown'), targets: shown, truncated: shown.length < targets.length });
    },
  });
}
