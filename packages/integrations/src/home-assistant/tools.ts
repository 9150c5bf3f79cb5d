/**
 * The Home Assistant REST tools, the views HA's own MCP server (`/api/mcp`) does not offer:
 * ha_states (entities with state, name, area and last change; filtered by domain and area),
 * ha_history (one entity's state changes), ha_logbook (what happened, newest first) and
 * ha_error_log (the tail of HA's log). All reads, all bounded in count and characters. With
 * several home-assistant upstreams, `instance` (the upstream's alias) chooses one and is required.
 */
import * as z from 'zod';
import { HomelabError } from '@homelab-mcp/core';
import { redactText } from '@homelab-mcp/core/redact';
import { capText, defineTool, parseTimeArg, textResult, timeArg, type IntegrationTool } from '../integration.ts';
import { ENTITY_ID, ERROR_LOG_TAIL_BYTES, type HaArea, type HaClient, type HaState } from './client.ts';

/** Entities listed by ha_states (the summary line counts them all). */
export const MAX_STATES_SHOWN = 200;
/** State changes listed by ha_history (the newest). */
export const MAX_HISTORY_SHOWN = 200;
/** Logbook entries listed by ha_logbook (the newest). */
export const MAX_LOGBOOK_SHOWN = 200;
/** Characters of the error log's tail shown (cut from the start, at a line). */
export const MAX_ERROR_LOG_CHARS = 20_000;
/** Characters of any answer's text. */
export const MAX_TEXT_CHARS = 30_000;

const DAY_MS = 86_400_000;
const quoted = (s: string) => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
/** HA's time without its microseconds: `2026-12-07T21:43:32+00:00`. */
const shortTime = (iso: string) => iso.replace(/\.\d+(?=(Z|[+-]\d{2}:?\d{2})?$)/, '');
/** One line of HA text: no newlines or control characters (C0, C1 with NEL, U+2028/2029) from a hostile name or state. */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');

/** `42 entities: 12 on, 20 off, 4 unavailable, 6 other`: the four commonest states, then the rest. */
export function statesSummary(states: ReadonlyArray<{ state: string }>): { line: string; counts: Record<string, number> } {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = top.slice(0, 4);
  const rest = top.slice(4).reduce((n, [, c]) => n + c, 0);
  const parts = [...shown.map(([s, c]) => `${c} ${oneLine(s).slice(0, 40)}`), ...(rest ? [`${rest} other`] : [])];
  return { line: `${states.length} entit${states.length === 1 ? 'y' : 'ies'}${parts.length ? `: ${parts.join(', ')}` : ''}`, counts: Object.fromEntries(top.slice(0, 20)) };
}

/** `text` cut to {@link MAX_TEXT_CHARS} at a line. */
function bounded(text: string): string {
  if (text.length <= MAX_TEXT_CHARS) return text;
  const cut = text.lastIndexOf('\n', MAX_TEXT_CHARS);
  const head = text.slice(0, cut > 0 ? cut : MAX_TEXT_CHARS);
  return `${head}\n… [${text.length - head.length} more characters]`;
}

export function homeAssistantTools(clients: readonly HaClient[]): IntegrationTool[] {
  const aliases = clients.map((c) => c.alias);
  const several = clients.length > 1;
  const instanceDesc = several ? `Which Home Assistant: the upstream's alias (${aliases.join(', ')}); required` : `The Home Assistant: ${aliases[0]} (the only one; may be left out)`;
  const instanceArg = several ? z.string().max(100).describe(instanceDesc) : z.string().max(100).describe(instanceDesc).optional();
  const where = (c: HaClient) => (several ? `${c.alias}: ` : '');

  function pick(instance: string | undefined): HaClient {
    if (instance === undefined) {
      if (!several) return clients[0]!;
      throw new HomelabError('INVALID_ARGUMENTS', `instance: several Home Assistants are configured; name one of ${aliases.join(', ')}`);
    }
    const c = clients.find((x) => x.alias === instance);
    if (!c) throw new HomelabError('INVALID_ARGUMENTS', `instance: expected ${several ? 'one of ' : ''}${aliases.join(', ')}, got ${quoted(instance)}`);
    return c;
  }
  /** The start of a period: default 24 h ago; a time in the future or past what a date holds is refused. */
  const since = (v: string | undefined, now: number): Date => {
    if (v === undefined) return new Date(now - DAY_MS);
    const d = parseTimeArg(v, now);
    if (!d || Number.isNaN(d.getTime()) || d.getTime() < 0) throw new HomelabError('INVALID_ARGUMENTS', `since: ${quoted(v)} is not a time HA can be asked about (expected RFC3339, Unix seconds, or how long ago such as 24h)`);
    if (d.getTime() > now) throw new HomelabError('INVALID_ARGUMENTS', `since: ${quoted(v)} is in the future (${d.toISOString()}); give a time before now, e.g. 24h for 24 hours ago`);
    return d;
  };
  const entityArg = z.string().max(255).regex(ENTITY_ID, 'an entity id such as light.kitchen (domain.object_id: lower-case letters, digits and "_")');

  const states = defineTool({
    name: 'ha_states',
    title: 'Home Assistant states',
    description: `Home Assistant's entities with their state, friendly name, area and last change (HA's REST API, every entity, not only those exposed to Assist), filtered by domain and area; first line counts them by state. At most ${MAX_STATES_SHOWN} listed.`,
    args: z.strictObject({
      domain: z.string().max(64).regex(/^[a-z0-9_]+$/, 'a domain such as light, switch or sensor').describe('Only entities of this domain (light, switch, sensor, ...)').optional(),
      area: z.string().min(1).max(100).describe("Only entities in this area (its name or id, e.g. Kitchen); HA's areas need an administrator's token").optional(),
      instance: instanceArg,
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const c = pick(args.instance);
      const [st, areas] = await Promise.all([c.states(signal), c.areas(signal).then((a) => ({ ok: true as const, areas: a }), (err: unknown) => ({ ok: false as const, why: err instanceof Error ? err.message : String(err) }))]);
      // An area per entity (an entity in two areas' lists keeps the first).
      const areaOf = new Map<string, HaArea>();
      if (areas.ok) for (const a of areas.areas) for (const e of a.entities) if (!areaOf.has(e)) areaOf.set(e, a);
      let list: HaState[] = st.states;
      if (args.domain) list = list.filter((s) => s.domain === args.domain);
      if (args.area !== undefined) {
        if (!areas.ok) throw new HomelabError('UPSTREAM_ERROR', `area: cannot read the areas: ${areas.why}`);
        const want = args.area.toLowerCase();
        const area = areas.areas.find((a) => a.id.toLowerCase() === want) ?? areas.areas.find((a) => a.name.toLowerCase() === want);
        if (!area) throw new HomelabError('INVALID_ARGUMENTS', `area: no area ${quoted(args.area)} in ${c.label} (areas: ${areas.areas.map((a) => oneLine(a.name)).slice(0, 50).join(', ') || 'none'})`);
        list = list.filter((s) => areaOf.get(s.entityId) === area);
      }
      list = [...list].sort((a, b) => a.entityId.localeCompare(b.entityId));
      const { line, counts } = statesSummary(list);
      const shown = list.slice(0, MAX_STATES_SHOWN);
      const rows = shown.map((s) => ({ entityId: s.entityId, state: s.state, ...(s.name ? { name: s.name } : {}), ...(areaOf.has(s.entityId) ? { area: areaOf.get(s.entityId)!.name } : {}), ...(s.lastChanged ? { lastChanged: s.lastChanged } : {}) }));
      const filter = [args.domain ? `domain ${args.domain}` : '', args.area !== undefined ? `area ${quoted(args.area)}` : ''].filter(Boolean).join(', ');
      const lines = [
        `${where(c)}${line}${filter ? ` (${filter})` : ''}`,
        ...rows.map((r) => `- ${r.entityId}${r.name ? ` "${oneLine(r.name)}"` : ''}: ${oneLine(r.state)}${r.area ? ` [${oneLine(r.area)}]` : ''}${r.lastChanged ? ` since ${shortTime(r.lastChanged)}` : ''}`),
      ];
      // The notes stay whatever the list's length.
      const notes = [
        ...(list.length > shown.length ? [`(${list.length - shown.length} more not listed: filter by domain or area)`] : []),
        ...(areas.ok ? [] : [`(areas unknown: ${oneLine(areas.why).slice(0, 500)})`]),
        ...(st.dropped ? [`(${st.dropped} malformed state objects left out)`] : []),
      ];
      return textResult([bounded(lines.join('\n')), ...notes].join('\n'), { instance: c.alias, total: list.length, counts, entities: rows, ...(list.length > shown.length ? { more: list.length - shown.length } : {}), areasKnown: areas.ok });
    },
  });

  const history = defineTool({
    name: 'ha_history',
    title: 'Home Assistant entity history',
    description: `The state changes of one Home Assistant entity (HA's recorder), oldest first, from since (default 24 hours ago) until now; the first is its state at that start. At most the newest ${MAX_HISTORY_SHOWN}.`,
    args: z.strictObject({
      entity: entityArg.describe('The entity id, e.g. light.kitchen (ha_states lists them)'),
      since: timeArg('From when: RFC3339, Unix seconds, or how long ago (24h, 7d); default 24h').optional(),
      instance: instanceArg,
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const c = pick(args.instance);
      const now = Date.now();
      const start = since(args.since, now);
      const { points, total } = await c.history(args.entity, start, new Date(now), signal);
      const shown = points.slice(-MAX_HISTORY_SHOWN);
      const head = `${where(c)}${args.entity}: ${total ? `${total} state${total === 1 ? '' : 's'}` : 'no recorded states'} since ${start.toISOString()}${total && shown.length ? `, now ${oneLine(shown[shown.length - 1]!.state)}` : ''}`;
      const lines = [head, ...(total > shown.length ? [`(${total - shown.length} earlier changes not listed: use a later since)`] : []), ...shown.map((p) => `- ${shortTime(p.when)} ${oneLine(p.state)}`)];
      return textResult(bounded(lines.join('\n')), { instance: c.alias, entity: args.entity, since: start.toISOString(), total, changes: shown, ...(total > shown.length ? { more: total - shown.length } : {}) });
    },
  });

  const logbook = defineTool({
    name: 'ha_logbook',
    title: 'Home Assistant logbook',
    description: `Home Assistant's logbook (state changes, automations and scripts run, events) from since (default 24 hours ago) until now, newest first (HA answers oldest first; the tool turns it round). At most the newest ${MAX_LOGBOOK_SHOWN}.`,
    args: z.strictObject({
      since: timeArg('From when: RFC3339, Unix seconds, or how long ago (2h, 7d); default 24h').optional(),
      entity: entityArg.describe('Only the entries of this entity, e.g. light.kitchen').optional(),
      instance: instanceArg,
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const c = pick(args.instance);
      const now = Date.now();
      const start = since(args.since, now);
      const { entries, total } = await c.logbook(start, new Date(now), args.entity, signal);
      const shown = entries.slice(-MAX_LOGBOOK_SHOWN).reverse();
      const what = (e: (typeof shown)[number]) => (e.message !== undefined ? e.message : e.state !== undefined ? `changed to ${e.state}` : '');
      const lines = [
        `${where(c)}${total} logbook entr${total === 1 ? 'y' : 'ies'} since ${start.toISOString()}${args.entity ? ` for ${args.entity}` : ''}${total > shown.length ? `, the newest ${shown.length} listed` : ''} (newest first)`,
        ...shown.map((e) => `- ${shortTime(e.when)} ${oneLine(e.name)}${what(e) ? ` ${oneLine(what(e))}` : ''}${e.entityId && e.entityId !== e.name ? ` (${e.entityId})` : ''}`),
      ];
      return textResult(bounded(lines.join('\n')), { instance: c.alias, since: start.toISOString(), total, order: 'newest first', entries: shown, ...(total > shown.length ? { more: total - shown.length } : {}) });
    },
  });

  const errorLog = defineTool({
    name: 'ha_error_log',
    title: 'Home Assistant error log',
    description: `The end of Home Assistant's log (home-assistant.log: warnings, errors and tracebacks since HA started), at most the last ${MAX_ERROR_LOG_CHARS} characters. Needs an administrator's token.`,
    args: z.strictObject({ instance: instanceArg }),
    toolClass: 'read',
    async run(args, { signal }) {
      const c = pick(args.instance);
      const log = await c.errorLog(signal);
      // No terminal escapes or other control characters from the log into the answer.
      // Nor the credentials of other services HA logged (a camera's rtsp://user:pass@ URL, an API
      // key in a query, a header): the log is an HA administrator's view, the answer goes to a model
      // and to any hub user who may read (a viewer too).
      let text = redactText(log.text.replace(/\r\n/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ''), ERROR_LOG_TAIL_BYTES * 2);
      let cut = log.partial && !log.headOnly;
      if (text.length > MAX_ERROR_LOG_CHARS) {
        const tail = text.slice(-MAX_ERROR_LOG_CHARS);
        const nl = tail.indexOf('\n');
        text = nl >= 0 && nl < tail.length - 1 ? tail.slice(nl + 1) : tail;
        cut = true;
      }
      const lines = text.split('\n').filter((l) => l.length).length;
      const head = log.headOnly
        ? `${where(c)}HA sent its whole log, larger than could be read; the first ${lines} lines shown, not the latest`
        : lines
          ? `${where(c)}${cut ? `the last ${lines} lines of HA's log${log.size !== undefined ? ` (${log.size} bytes in all)` : ''}` : `HA's log, ${lines} line${lines === 1 ? '' : 's'}`}`
          : `${where(c)}HA's log is empty`;
      const body = log.headOnly ? capText(text, MAX_ERROR_LOG_CHARS).text : text;
      return textResult(`${head}${lines ? `\n${body.replace(/\n+$/, '')}` : ''}`, { instance: c.alias, lines, cut, ...(log.size !== undefined ? { size: log.size } : {}), ...(log.headOnly ? { headOnly: true } : {}) });
    },
  });

  return [states, history, logbook, errorLog];
}
