/**
 * The Graylog tools: a log search through the Scripting API (newest first, bounded, long
 * messages cut), the streams, and one screen of the cluster (throughput, indexer health,
 * indexing failures, the journal, notifications). Reads only.
 */
import * as z from 'zod';
import { capText, defineTool, errorResult, parseDuration, textResult, type IntegrationTool } from '../integration.ts';
import type { GraylogClient } from './client.ts';

/** Characters of messages shown by search_logs in all. */
export const MAX_SEARCH_CHARS = 200_000;
/** Characters of one message shown at most. */
export const MESSAGE_CHARS = 500;
/** The longest search range. */
const MAX_RANGE_S = 30 * 86_400;
const DAY = 86_400_000;

export interface GraylogStream {
  id: string;
  title: string;
  description?: string;
  disabled?: boolean;
  is_default?: boolean;
  rules?: Array<{ field?: string; value?: string; type?: number; inverted?: boolean }>;
}

export interface GraylogOverview {
  version?: string;
  hostname?: string;
  lifecycle?: string;
  processing?: boolean;
  nodes: number;
  indexer: string;
  unassignedShards: number;
  throughput: number;
  failures24h: number;
  uncommittedJournal: number;
  notifications: Array<{ type: string; severity: string; timestamp?: string }>;
}

/** Everything graylog_overview and service_health show, in parallel requests. */
export async function graylogOverview(gl: GraylogClient, signal: AbortSignal): Promise<GraylogOverview> {
  const [system, nodes, health, tp, failures, notes, journal] = await Promise.all([
    gl.get<Record<string, any>>('/system', undefined, signal),
    gl.get<{ total?: number; nodes?: unknown[] }>('/system/cluster/nodes', undefined, signal),
    gl.get<{ status?: string; shards?: { unassigned?: number } }>('/system/indexer/cluster/health', undefined, signal),
    gl.get<{ throughput?: number }>('/system/throughput', undefined, signal),
    gl.get<{ count?: number }>('/system/indexer/failures/count', { since: new Date(Date.now() - DAY).toISOString() }, signal),
    gl.get<{ notifications?: Array<{ type: string; severity: string; timestamp?: string }> }>('/system/notifications', undefined, signal),
    // The journal of the node answering; an older Graylog or a missing permission leaves it out.
    gl.get<{ uncommitted_journal_entries?: number }>('/system/journal', undefined, signal).catch(() => ({ uncommitted_journal_entries: 0 })),
  ]);
  return {
    version: system.version,
    hostname: system.hostname,
    lifecycle: system.lifecycle,
    processing: system.is_processing,
    nodes: nodes.total ?? nodes.nodes?.length ?? 0,
    indexer: health.status ?? 'unknown',
    unassignedShards: health.shards?.unassigned ?? 0,
    throughput: tp.throughput ?? 0,
    failures24h: failures.count ?? 0,
    uncommittedJournal: journal.uncommitted_journal_entries ?? 0,
    notifications: (notes.notifications ?? []).map((n) => ({ type: n.type, severity: n.severity, ...(n.timestamp ? { timestamp: n.timestamp } : {}) })),
  };
}

/** What is wrong in an overview, one sentence each. */
export function overviewProblems(o: GraylogOverview): string[] {
  const p: string[] = [];
  if (o.indexer !== 'green') p.push(`Graylog's indexer cluster is ${o.indexer}${o.unassignedShards ? ` (${o.unassignedShards} unassigned shards)` : ''}`);
  if (o.processing === false) p.push('Graylog message processing is paused');
  if (o.failures24h) p.push(`${o.failures24h} Graylog indexing failure${o.failures24h === 1 ? '' : 's'} in the last 24 h`);
  for (const n of o.notifications.filter((x) => x.severity === 'urgent')) p.push(`Graylog notification: ${n.type.replace(/_/g, ' ')}`);
  return p;
}

/** A stream given by id or title → its id. */
async function streamId(gl: GraylogClient, stream: string, signal: AbortSignal): Promise<string | undefined> {
  const { streams = [] } = await gl.get<{ streams?: GraylogStream[] }>('/streams', undefined, signal);
  return (streams.find((s) => s.id === stream) ?? streams.find((s) => s.title.toLowerCase() === stream.toLowerCase()))?.id;
}

const FIELD_RE = /^[A-Za-z_@][A-Za-z0-9_.@-]{0,99}$/;

export function graylogTools(gl: GraylogClient): IntegrationTool[] {
  const search = defineTool({
    name: 'search_logs',
    title: 'Graylog log search',
    description: 'Searches Graylog (Lucene syntax, e.g. source:nas01 AND level:<=3) over a recent range, newest first; choose the fields to keep answers small.',
    args: z.strictObject({
      query: z.string().trim().min(1).max(2000).describe('Graylog search query; * for everything'),
      range: z
        .string()
        .refine((v) => {
          const ms = parseDuration(v);
          return ms !== undefined && ms >= 1000 && ms <= MAX_RANGE_S * 1000;
        }, 'a duration from 1s to 30d, such as 15m, 1h or 7d')
        .describe('How far back, e.g. 15m, 1h, 7d (default 1h)')
        .optional(),
      limit: z.number().int().min(1).max(500).describe('At most this many messages (default 50)').optional(),
      fields: z.array(z.string().regex(FIELD_RE, 'a Graylog field name such as source, level, application_name')).min(1).max(20).describe('Fields of each message (default timestamp, source, message)').optional(),
      stream: z.string().min(1).max(200).describe('Only this stream, by title or id (graylog_streams lists them)').optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const range = Math.round(parseDuration(args.range ?? '1h')! / 1000);
      const limit = args.limit ?? 50;
      const fields = args.fields ?? ['timestamp', 'source', 'message'];
      if (!fields.includes('timestamp')) fields.unshift('timestamp');
      let streams: string[] | undefined;
      if (args.stream) {
        const id = await streamId(gl, args.stream, signal);
        if (!id) return errorResult(`search_logs: argument "stream": no stream ${JSON.stringify(args.stream)} in Graylog at ${gl.host} (graylog_streams lists them)`);
        streams = [id];
      }
      // One more than asked: whether there were more says itself.
      const res = await gl.post<{ schema?: Array<{ field?: string; name?: string }>; datarows?: unknown[][] }>(
        '/search/messages',
        { query: args.query, ...(streams ? { streams } : {}), fields, size: limit + 1, timerange: { type: 'relative', range }, sort: 'timestamp', sort_order: 'desc' },
        signal,
      );
      const cols = (res.schema ?? []).map((s) => s.field ?? s.name ?? '?');
      const rows = res.datarows ?? [];
      const more = rows.length > limit;
      let cut = 0;
      const messages = rows.slice(0, limit).map((row) => {
        const m: Record<string, unknown> = {};
        cols.forEach((c, i) => {
          const v = row[i];
          if (v === null || v === undefined || v === '') return;
          if (typeof v === 'string' && v.length > MESSAGE_CHARS) {
            cut++;
            m[c] = capText(v, MESSAGE_CHARS).text;
          } else m[c] = v;
        });
        return m;
      });
      const lines = messages.map((m) => {
        const rest = Object.entries(m)
          .filter(([k]) => k !== 'timestamp' && k !== 'message' && k !== 'source')
          .map(([k, v]) => `${k}=${String(v)}`);
        return `${String(m.timestamp ?? '?')} ${String(m.source ?? '')}${rest.length ? ` [${rest.join(' ')}]` : ''}${m.message !== undefined ? ` ${String(m.message).replace(/\s*\n\s*/g, ' ⏎ ')}` : ''}`.replace(/ {2,}/g, ' ');
      });
      const span = args.range ?? '1h';
      const head = messages.length ? `${messages.length}${more ? '+' : ''} message${messages.length === 1 && !more ? '' : 's'} in the last ${span}, newest first${more ? ` (more exist: narrow the query or range, or raise limit up to 500)` : ''}:` : `no messages match ${JSON.stringify(args.query)} in the last ${span}${streams ? ` in stream ${args.stream}` : ''}: widen the range, or check the query (graylog_streams, field names)`;
      // Bounded as a whole too: 500 messages of 20 fields could be megabytes of text.
      const { text: body, cut: answerCut } = capText(lines.join('\n'), MAX_SEARCH_CHARS);
      return textResult(`${head}${lines.length ? `\n${body}` : ''}`, { query: args.query, range: span, count: messages.length, more, ...(cut ? { cutMessages: cut } : {}), ...(answerCut ? { answerCut: true } : {}), messages: answerCut ? messages.slice(0, Math.max(1, Math.floor(messages.length * (MAX_SEARCH_CHARS / Math.max(1, lines.join('\n').length))))) : messages });
    },
  });

  const streams = defineTool({
    name: 'graylog_streams',
    title: 'Graylog streams',
    description: 'Lists Graylog streams with id, title, whether they are running or paused, and their routing rules.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_args, { signal }) {
      const { streams: all = [], total } = await gl.get<{ total?: number; streams?: GraylogStream[] }>('/streams', undefined, signal);
      const shown = all.slice(0, 200);
      const rule = (r: NonNullable<GraylogStream['rules']>[number]) => `${r.inverted ? 'not ' : ''}${r.field ?? '?'}${r.value !== undefined && r.value !== '' ? `=${r.value}` : ''}`;
      const lines = shown.map((s) => `- ${s.title} (${s.id})${s.is_default ? ' default' : ''}: ${s.disabled ? 'paused' : 'running'}${s.rules?.length ? `, rules ${s.rules.map(rule).join(', ')}` : ''}${s.description ? ` — ${s.description.slice(0, 120)}` : ''}`);
      if (all.length > shown.length) lines.push(`(${all.length - shown.length} more not shown)`);
      const n = total ?? all.length;
      return textResult(`${n} stream${n === 1 ? '' : 's'} (${all.filter((s) => s.disabled).length} paused):\n${lines.join('\n')}`, {
        total: n,
        streams: shown.map((s) => ({ id: s.id, title: s.title, description: s.description ?? '', disabled: !!s.disabled, isDefault: !!s.is_default, rules: (s.rules ?? []).map((r) => ({ field: r.field, value: r.value, inverted: !!r.inverted })) })),
      });
    },
  });

  const overview = defineTool({
    name: 'graylog_overview',
    title: 'Graylog overview',
    description: 'One screen of Graylog: version, nodes, message throughput, indexer cluster health, indexing failures in 24 h, journal backlog and notifications.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_args, { signal }) {
      const o = await graylogOverview(gl, signal);
      const problems = overviewProblems(o);
      const lines = [
        `Graylog ${o.version ?? '?'} on ${o.hostname ?? '?'} (${o.lifecycle ?? 'unknown'}${o.processing === false ? ', processing paused' : ''}), ${o.nodes} node${o.nodes === 1 ? '' : 's'}`,
        `throughput ${o.throughput} msg/s; journal ${o.uncommittedJournal} uncommitted`,
        `indexer cluster ${o.indexer}${o.unassignedShards ? `, ${o.unassignedShards} unassigned shards` : ''}; ${o.failures24h} indexing failure${o.failures24h === 1 ? '' : 's'} in 24 h`,
        o.notifications.length ? `notifications: ${o.notifications.map((n) => `${n.type} (${n.severity})`).join(', ')}` : 'no notifications',
        ...(problems.length ? ['problems:', ...problems.map((p) => `- ${p}`)] : []),
      ];
      return textResult(lines.join('\n'), { ...o, problems });
    },
  });

  return [search, streams, overview];
}
