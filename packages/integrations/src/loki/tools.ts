/**
 * `query_logs`: a LogQL log query over a time range, answered as lines a person reads (newest
 * first, ISO times) and as structuredContent. Bounded: `limit` (≤ 5000) entries, each line cut
 * at {@link MAX_LINE_CHARS}, the whole answer at {@link MAX_ANSWER_CHARS}.
 */
import * as z from 'zod';
import { HomelabError } from '@homelab-mcp/core';
import { capText, defineTool, formatLabels, parseTimeArg, textResult, timeArg, type IntegrationTool } from '../integration.ts';
import type { LokiClient } from './client.ts';

export const MAX_LOG_LIMIT = 5000;
export const DEFAULT_LOG_LIMIT = 100;
export const MAX_LINE_CHARS = 2000;
export const MAX_ANSWER_CHARS = 256 * 1024;
const MAX_LOGQL = 16 * 1024;

/** Unix ns (a string) as RFC3339 with all nine digits: `2026-11-21T13:50:11.123456789Z`. */
export function nsToIso(ns: string): string {
  const n = BigInt(ns);
  const ms = Number(n / 1_000_000n);
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

export function queryLogsTool(client: LokiClient): IntegrationTool {
  return defineTool({
    name: 'query_logs',
    title: 'Query logs (Loki)',
    description:
      'Searches logs in Loki with a LogQL log query, e.g. `{job="nginx"} |= "error"` or `{host="pi-kitchen", unit="mpd.service"} != "debug"`, ' +
      'and returns the matching lines newest first with their time and labels. start/end take RFC3339, Unix seconds or a relative time (1h = an hour ago); ' +
      `default the last hour. limit: default ${DEFAULT_LOG_LIMIT}, at most ${MAX_LOG_LIMIT}.`,
    args: z.strictObject({
      logql: z.string().min(1, 'expected a LogQL query such as {job="nginx"} |= "error"').max(MAX_LOGQL, `at most ${MAX_LOGQL} characters`).describe('LogQL log query: a {label="value"} selector, optionally with line filters'),
      start: timeArg('Start: RFC3339, Unix seconds, or relative such as 15m (15 minutes ago); default an hour before end').optional(),
      end: timeArg('End: RFC3339, Unix seconds, relative, or now (default)').optional(),
      limit: z.number().int('expected a whole number').min(1, 'at least 1').max(MAX_LOG_LIMIT, `at most ${MAX_LOG_LIMIT}`).describe(`Most lines returned (default ${DEFAULT_LOG_LIMIT}, at most ${MAX_LOG_LIMIT})`).optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const now = Date.now();
      const end = args.end ? parseTimeArg(args.end, now)! : new Date(now);
      const start = args.start ? parseTimeArg(args.start, now)! : new Date(end.getTime() - 3600_000);
      if (end.getTime() <= start.getTime()) throw new HomelabError('INVALID_ARGUMENT', `query_logs: end (${end.toISOString()}) must be after start (${start.toISOString()})`);
      const limit = args.limit ?? DEFAULT_LOG_LIMIT;
      const streams = await client.queryRange({ logql: args.logql, start, end, limit, direction: 'backward' }, signal);

      // Loki sorts within each stream; merge the streams, newest first.
      const all = streams.flatMap((s) => s.entries.map((e) => ({ labels: s.labels, ts: e.ts, line: e.line, n: BigInt(e.ts) })));
      all.sort((a, b) => (a.n > b.n ? -1 : a.n < b.n ? 1 : 0));
      const many = streams.length > 1;
      const range = `${start.toISOString()} to ${end.toISOString()}`;
      const lines: string[] = [];
      const entries: Array<{ time: string; ts: string; labels: Record<string, string>; line: string; lineTruncated?: boolean }> = [];
      let size = 0;
      let answerCut = false;
      let linesCut = 0;
      for (const e of all) {
        const { text, cut } = capText(e.line, MAX_LINE_CHARS);
        const time = nsToIso(e.ts);
        const shown = `${time}${many ? ` ${formatLabels(e.labels)}` : ''} ${text}`;
        if (size + shown.length > MAX_ANSWER_CHARS) {
          answerCut = true;
          break;
        }
        size += shown.length + 1;
        if (cut) linesCut++;
        lines.push(shown);
        entries.push({ time, ts: e.ts, labels: e.labels, line: text, ...(cut ? { lineTruncated: true } : {}) });
      }
      const limitReached = all.length >= limit;
      const head =
        all.length === 0
          ? `No log lines match ${args.logql} from ${range}.`
          : `${all.length} line${all.length === 1 ? '' : 's'} from ${streams.length} stream${streams.length === 1 ? '' : 's'}, newest first (${range})` +
            (many ? '' : `: ${formatLabels(streams[0]!.labels)}`) +
            (limitReached ? `. The limit of ${limit} was reached: older lines may exist (narrow the range or raise limit).` : '');
      const notes: string[] = [];
      if (answerCut) notes.push(`(only the newest ${entries.length} lines fit in the answer; narrow the query or the time range for the rest)`);
      if (linesCut) notes.push(`(${linesCut} line${linesCut === 1 ? ' was' : 's were'} longer than ${MAX_LINE_CHARS} characters and cut)`);
      return textResult([head, ...lines, ...notes].join('\n'), {
        query: args.logql,
        start: start.toISOString(),
        end: end.toISOString(),
        limit,
        streams: streams.length,
        entries,
        limitReached,
        truncated: answerCut || linesCut > 0,
      });
    },
  });
}
