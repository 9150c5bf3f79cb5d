/**
 * The Audit page (`/ui/audit`): the journal newest first, filtered by a GET form, paged with
 * `before=`, each row opening to its redacted arguments, detail, error and duration; and its live
 * stream (`/ui/audit/stream`, SSE) that sends the rows of new events as they are committed.
 *
 * Every string in a row comes from an event, which comes from a client: all of it goes through
 * the escaping `html` tag. An operator or viewer sees only their own events, forced here on the
 * server (the form has no user field for them, and a `user=` in the URL is ignored).
 */
import { AUDIT_KINDS, type AuditEvent } from '@homelab-mcp/core/audit-event';
import { isHomelabError } from '@homelab-mcp/core';
import { auditEventMatches, comparePositions, MAX_PAGE, parsePosition } from '../../audit/journal.ts';
import type { AuditFilter, AuditPage, UiData, UiViewer } from '../contract.ts';
import { html, timeTag, type Html } from '../html.ts';
import type { Page, PageContext } from '../page.ts';

const DECISIONS = ['allowed', 'pending', 'denied'] as const;
const OUTCOMES = ['succeeded', 'partial', 'failed', 'cancelled', 'pending', 'denied', 'unknown'] as const;
/** Events per page unless `limit=` says otherwise. */
export const AUDIT_PAGE_SIZE = 50;
/** The longest text filter accepted (a session id is ~40 characters). */
const MAX_FILTER_CHARS = 256;
/** The most events the stream sends to catch up with what was committed since the page was made. */
const CATCH_UP = 200;
/** The position before every event: the `after` of a page that showed none. */
const START = '0.0';
/** A comment line this often keeps proxies from closing an idle stream. */
export const AUDIT_STREAM_PING_MS = 15_000;

/** The Audit page's query, read: the filter (the viewer's own events for non-admins), paging, and what was wrong with it. */
export interface AuditQuery {
  filter: AuditFilter;
  before?: string;
  /** The newest position the page showed (the stream's `after=`). */
  after?: string;
  limit: number;
  /** One message per field that was not understood (that field is then not applied). */
  errors: string[];
}

/**
 * Reads the Audit page's (and its stream's) query string. `since`/`until` take a
 * `datetime-local` value, read as UTC (the times shown are UTC), or a full ISO 8601 time.
 *
 * @example parseAuditQuery(new URLSearchParams('tool=run_command&since=2026-12-07T10:00'), viewer)
 *   // { filter: { tool: 'run_command', since: '2026-12-07T10:00:00.000Z' }, limit: 50, errors: [] }
 */
export function parseAuditQuery(query: URLSearchParams, viewer: UiViewer): AuditQuery {
  const errors: string[] = [];
  const filter: AuditFilter = {};
  const text = (key: 'user' | 'session' | 'tool' | 'node') => {
    const v = query.get(key)?.trim();
    if (!v) return;
    if (v.length > MAX_FILTER_CHARS) errors.push(`${key}: longer than ${MAX_FILTER_CHARS} characters`);
    else filter[key] = v;
  };
  const choice = <K extends 'kind' | 'decision' | 'outcome'>(key: K, allowed: readonly NonNullable<AuditFilter[K]>[]) => {
    const v = query.get(key);
    if (!v) return;
    if ((allowed as readonly string[]).includes(v)) filter[key] = v as AuditFilter[K];
    else errors.push(`${key}: expected one of ${allowed.join(', ')}`);
  };
  const time = (key: 'since' | 'until') => {
    const v = query.get(key)?.trim();
    if (!v) return;
    const iso = toIsoTime(v);
    if (iso) filter[key] = iso;
    else errors.push(`${key}: expected a date and time such as 2026-12-07T16:30 (UTC)`);
  };
  // Admins may look at anyone; everyone else at themselves, whatever the URL says.
  if (viewer.role === 'admin') text('user');
  else filter.user = viewer.user;
  text('session');
  text('tool');
  text('node');
  choice('kind', AUDIT_KINDS);
  choice('decision', DECISIONS);
  choice('outcome', OUTCOMES);
  time('since');
  time('until');
  const out: AuditQuery = { filter, limit: AUDIT_PAGE_SIZE, errors };
  const before = query.get('before');
  if (before) out.before = before;
  const after = query.get('after');
  if (after) {
    if (parsePosition(after)) out.after = after;
    else errors.push('after: expected a position of the audit journal, as the page gives');
  }
  const limit = query.get('limit');
  if (limit) {
    const n = Number(limit);
    if (Number.isInteger(n) && n >= 1 && n <= MAX_PAGE) out.limit = n;
    else errors.push(`limit: expected a whole number from 1 to ${MAX_PAGE}`);
  }
  return out;
}

/** A `datetime-local` value (UTC) or an ISO 8601 time, as canonical ISO; undefined when neither. */
function toIsoTime(v: string): string | undefined {
  const local = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(v);
  if (!local && !/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(v)) return undefined;
  const t = Date.parse(local ? `${v}Z` : v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** The query string of a filter (and paging), for links and the stream's URL. */
function filterQuery(viewer: UiViewer, filter: AuditFilter, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const key of ['user', 'session', 'tool', 'node', 'kind', 'decision', 'outcome', 'since', 'until'] as const) {
    // A non-admin's user is forced on the server: it stays out of their URLs.
    if (key === 'user' && viewer.role !== 'admin') continue;
    const v = filter[key];
    if (v !== undefined) q.set(key, v);
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
  return q.toString();
}

const word = (v: unknown): string | undefined => (typeof v === 'string' && /^[a-z_]{1,20}$/.test(v) ? v : undefined);

function duration(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function json(v: unknown): string {
  try {
    return JSON.stringify(v, null, 2) ?? '';
  } catch {
    return String(v);
  }
}

/** ` GET https://…` for an outbound request's detail (`{ method, url, status }`), capped. */
function outbound(detail: unknown): string {
  if (!detail || typeof detail !== 'object') return '';
  const { method, url } = detail as { method?: unknown; url?: unknown };
  if (typeof method !== 'string' || typeof url !== 'string') return '';
  return ` ${method} ${url.length > 60 ? `${url.slice(0, 60)}…` : url}`;
}

/** A label and a value-badge whose class names only a known word (the value itself is text). */
function badge(kind: 'decision' | 'outcome', v: unknown): Html | undefined {
  if (typeof v !== 'string') return undefined;
  const w = word(v);
  return html`<span class="badge ${w ? `${kind}-${w}` : ''}">${v}</span>`;
}

/**
 * A tool call's result summary (`detail.result`: items and bytes, never the content) in words,
 * and the rest of the detail; a detail that held only the summary is not shown twice.
 *
 * @example splitResult({ result: { items: 1, bytes: 2048 } }) // { summary: '1 item, 2 KiB', rest: undefined }
 */
export function splitResult(detail: unknown): { summary?: string; rest?: unknown } {
  if (!detail || typeof detail !== 'object' || Array.isArray(detail) || !('result' in detail)) return detail === undefined ? {} : { rest: detail };
  const { result, ...others } = detail as { result?: unknown } & Record<string, unknown>;
  const r = (result && typeof result === 'object' ? result : {}) as { items?: unknown; bytes?: unknown; structured?: unknown; isError?: unknown };
  const items = typeof r.items === 'number' ? r.items : 0;
  const bytes = typeof r.bytes === 'number' ? r.bytes : 0;
  const size = bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : bytes >= 1024 ? `${Math.round(bytes / 1024)} KiB` : `${bytes} bytes`;
  const words = [`${items} item${items === 1 ? '' : 's'}`, size, ...(r.structured === true ? ['structured content'] : []), ...(r.isError === true ? ['an error result'] : [])];
  return { summary: words.join(', '), ...(Object.keys(others).length ? { rest: others } : {}) };
}

/**
 * One event as a row of the audit table: `<tr class="audit-row" data-id data-user data-tool
 * data-decision data-outcome data-pos>`; its last cell is a `<details>` with the redacted
 * arguments, detail, error and duration. Used by the page and by the live stream.
 *
 * @example renderAuditRow(event, '3.10240').toString() // '<tr class="audit-row" data-id="01J…" …'
 */
export function renderAuditRow(event: AuditEvent, pos: string): Html {
  const e = event as Partial<AuditEvent>;
  const session = typeof e.session === 'string' ? e.session : undefined;
  const client = e.client && typeof e.client === 'object' ? e.client : undefined;
  const nodes = Array.isArray(e.nodes) ? e.nodes.map(String) : [];
  const { summary, rest } = splitResult(e.detail);
  return html`<tr class="audit-row${e.kind && e.kind !== 'tool_call' ? ` audit-${word(e.kind) ?? 'other'}` : ''}" data-id="${e.id}" data-pos="${pos}" data-user="${e.user}" data-tool="${e.tool ?? ''}" data-decision="${e.decision ?? ''}" data-outcome="${e.outcome ?? ''}" data-kind="${e.kind}"><td class="time">${timeTag(e.time)}</td><td class="user">${e.user}</td><td class="session hide-narrow">${session !== undefined && html`<span class="mono" title="${session}">${session.length > 8 ? `${session.slice(0, 8)}…` : session}</span>`}</td><td class="client hide-narrow">${client && html`${client.name}${client.version !== undefined && html` <span class="muted">${client.version}</span>`}`}</td><td class="tool">${e.tool !== undefined ? html`<span class="mono">${e.tool}</span>` : html`<span class="muted">${e.kind}${outbound(e.detail)}</span>`}</td><td class="nodes hide-narrow">${nodes.join(', ')}</td><td class="decision">${badge('decision', e.decision)}</td><td class="outcome">${badge('outcome', e.outcome)}</td><td class="duration">${duration(e.durationMs)}</td><td class="more"><details class="audit-detail"><summary>details</summary>
<dl>
<dt>Kind</dt><dd>${e.kind}${e.class !== undefined && html` (${e.class})`}${e.role !== undefined && html`, role ${e.role}`}</dd>
${session !== undefined && html`<dt>Session</dt><dd class="mono">${session}</dd>`}
${e.source !== undefined && html`<dt>From</dt><dd class="mono source">${e.source}</dd>`}
${e.args !== undefined && html`<dt>Arguments (redacted)</dt><dd><pre class="args">${json(e.args)}</pre></dd>`}
${summary !== undefined && html`<dt>Result</dt><dd class="result">${summary}</dd>`}
${rest !== undefined && html`<dt>Detail</dt><dd><pre class="detail">${json(rest)}</pre></dd>`}
${e.error !== undefined && html`<dt>Error</dt><dd><pre class="error">${String(e.error)}</pre></dd>`}
${e.durationMs !== undefined && html`<dt>Duration</dt><dd>${duration(e.durationMs)}${typeof e.durationMs === 'number' && e.durationMs >= 1000 ? ` (${e.durationMs} ms)` : ''}</dd>`}
${e.argsSha256 !== undefined && html`<dt>Arguments SHA-256</dt><dd class="mono">${e.argsSha256}</dd>`}
<dt>Event id</dt><dd class="mono">${e.id}</dd>
</dl></details></td></tr>`;
}

function select(name: string, label: string, values: readonly string[], current: string | undefined): Html {
  return html`<label>${label} <select name="${name}"><option value="">any</option>${values.map((v) => html`<option value="${v}"${v === current ? html` selected` : ''}>${v}</option>`)}</select></label>`;
}

/** What a datetime-local input shows for a filter time: the raw text when it was not understood. */
function timeValue(iso: string | undefined, raw: string | null): string {
  if (iso) return iso.slice(0, 19);
  return raw ?? '';
}

/**
 * The Audit page. Its `<tbody id="audit-rows">` carries `data-stream`, the URL of its live
 * stream with the same filters and `after=` the newest row shown (first page only): app.js
 * opens an EventSource there and puts the rows of each `rows` event at the top.
 */
export const auditPage: Page = {
  path: 'audit',
  title: 'Audit',
  async render({ data, viewer, query, signal }) {
    const q = parseAuditQuery(query, viewer);
    let page: AuditPage = { events: [] };
    const errors = [...q.errors];
    try {
      page = await data.audit(q.filter, { limit: q.limit, signal, ...(q.before ? { before: q.before } : {}) });
    } catch (err) {
      // The page's deadline passed in a long scan (the scan stops with it): say what helps.
      if (signal.aborted) errors.push('The search was stopped: it read the journal for too long. Narrow it with a time range (since, until) or a tool, and filter again.');
      // A stale or hand-made `before=`, a time the journal refuses: say so, show nothing.
      else if (!isHomelabError(err, 'INVALID_ARGUMENTS')) throw err;
      else errors.push(err.message);
    }
    const admin = viewer.role === 'admin';
    const f = q.filter;
    const live = !q.before && errors.length === 0;
    // `after`: the newest row shown, or the journal's start when none is (every match is new).
    const stream = `/ui/audit/stream?${filterQuery(viewer, f, { after: page.events[0]?.pos ?? START })}`;
    const filtered = filterQuery(viewer, f) !== '';
    return html`<h1>Audit</h1>
<form class="filters" id="audit-filter" method="get" action="/ui/audit">
${admin ? html`<label>User <input name="user" value="${f.user ?? ''}" autocomplete="off"></label>` : ''}
<label>Session <input name="session" value="${f.session ?? ''}" autocomplete="off"></label>
<label>Tool <input name="tool" value="${f.tool ?? ''}" autocomplete="off"></label>
<label>Node <input name="node" value="${f.node ?? ''}" autocomplete="off"></label>
${select('decision', 'Decision', DECISIONS, f.decision)}
${select('outcome', 'Outcome', OUTCOMES, f.outcome)}
${select('kind', 'Kind', AUDIT_KINDS, f.kind)}
<label>Since (UTC) <input type="datetime-local" name="since" step="1" value="${timeValue(f.since, query.get('since'))}"></label>
<label>Until (UTC) <input type="datetime-local" name="until" step="1" value="${timeValue(f.until, query.get('until'))}"></label>
<button type="submit">Filter</button>${filtered ? html` <a href="/ui/audit">Clear</a>` : ''}
</form>
${errors.map((m) => html`<p class="error audit-error">${m}</p>`)}
${!admin && html`<p class="muted">Your own events (${viewer.user}) only.</p>`}
${live && html`<p class="muted stream-line">New events appear at the top: <span id="stream-status">connecting…</span></p>`}
<div class="table-wrap">
<table id="audit-table" class="audit">
<thead><tr><th>Time (UTC)</th><th>User</th><th class="hide-narrow">Session</th><th class="hide-narrow">Client</th><th>Tool</th><th class="hide-narrow">Nodes</th><th>Decision</th><th>Outcome</th><th>Duration</th><th></th></tr></thead>
<tbody id="audit-rows"${live ? html` data-stream="${stream}"` : ''}>
${page.events.map(({ event, pos }) => renderAuditRow(event, pos))}
</tbody>
</table>
</div>
${page.events.length === 0 && html`<p class="empty" id="audit-empty">${q.before ? 'No older events match.' : filtered ? 'No events match these filters yet.' : 'No audit events yet.'}</p>`}
<nav class="pager">${q.before ? html`<a href="/ui/audit${filtered ? `?${filterQuery(viewer, f)}` : ''}" id="audit-newest">Newest</a>` : ''}${page.older ? html` <a href="/ui/audit?${filterQuery(viewer, f, { before: page.older, ...(q.limit !== AUDIT_PAGE_SIZE ? { limit: String(q.limit) } : {}) })}" id="audit-older" rel="next">Older</a>` : ''}</nav>`;
  },
};

/** The headers of the stream's response. */
export const AUDIT_STREAM_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  // nginx and Caddy would otherwise buffer the stream.
  'x-accel-buffering': 'no',
};

/** Tuning of {@link auditStream}; the defaults are what the hub uses. */
export interface AuditStreamOptions {
  /** Default {@link AUDIT_STREAM_PING_MS}. */
  pingMs?: number;
  /** SSE messages the stream holds for a client that does not read before it stops taking more; default 16. */
  highWaterMark?: number;
}

/**
 * The Audit page's live stream (GET /ui/audit/stream, same query as the page plus `after=`):
 * server-sent events, one `rows` event per batch of new events that pass the filter and the
 * viewer's visibility, `data` the rows' HTML newest first and `id` the newest row's position.
 * With `after` (the page's newest row) it first sends what was committed since and before the
 * stream opened, so nothing falls between the page and its stream; without, it starts now. A `reload` event (then the stream
 * ends) means the page must be loaded again: the filter is invalid, more events came than the
 * stream catches up with, or the client read too slowly. A comment every 15 s. Ends when
 * `signal` aborts.
 *
 * @example
 * app.get('/audit/stream', (c) => new Response(auditStream(data, viewer, new URL(c.req.url).searchParams, c.req.raw.signal), { headers: AUDIT_STREAM_HEADERS }));
 */
export function auditStream(data: Pick<UiData, 'audit' | 'follow'>, viewer: UiViewer, query: URLSearchParams, signal: AbortSignal, options: AuditStreamOptions = {}): ReadableStream<Uint8Array> {
  const q = parseAuditQuery(query, viewer);
  const visible = { ...q.filter, ...(viewer.role === 'admin' ? {} : { viewerUser: viewer.user }) };
  const enc = new TextEncoder();
  let stop: (() => void) | undefined;
  let ping: NodeJS.Timeout | undefined;
  let closed = false;
  /** Resolved when the client has read (pull) or gone: a listener waiting on it is "slow". */
  let drained: { promise: Promise<void>; resolve: () => void } | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const cleanup = () => {
    if (closed) return;
    closed = true;
    stop?.();
    clearInterval(ping);
    signal.removeEventListener('abort', onAbort);
    drained?.resolve();
  };
  const onAbort = () => {
    cleanup();
    try {
      controller.close();
    } catch {
      // Already closed or errored.
    }
  };
  const send = (text: string) => {
    if (!closed) controller.enqueue(enc.encode(text));
  };
  const reload = (why: string) => {
    send(`event: reload\ndata: ${why}\n\n`);
    onAbort();
  };
  /** The newest position sent: later batches may overlap the catch-up read. */
  let newest = q.after;
  const rows = (events: AuditPage['events']): void | Promise<void> => {
    const fresh = events.filter(({ pos, event }) => (newest === undefined || comparePositions(pos, newest) > 0) && auditEventMatches(event, visible));
    if (fresh.length === 0 || closed) return;
    newest = fresh.at(-1)!.pos;
    const body = fresh
      .map(({ event, pos }) => renderAuditRow(event, pos).value)
      .reverse()
      .join('')
      // SSE: a line break ends a data line; each line is a `data:` line of its own.
      .split(/\r\n|\r|\n/)
      .map((l) => `data: ${l}`)
      .join('\n');
    send(`event: rows\nid: ${newest}\n${body}\n\n`);
    if ((controller.desiredSize ?? 1) > 0) return;
    drained ??= withResolvers();
    return drained.promise;
  };

  return new ReadableStream<Uint8Array>(
    {
      async start(c) {
        controller = c;
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        if (q.errors.length > 0) return reload(q.errors.join('; '));
        // Follow first, then read what came since the page: an event committed in between is
        // in one or the other (or both: `newest` drops the second copy).
        const early: AuditPage['events'] = [];
        let caughtUp = false;
        stop = data.follow(
          (events) => {
            if (!caughtUp) {
              early.push(...events);
              if (early.length > CATCH_UP) reload('too many new events');
              return;
            }
            return rows(events);
          },
          () => reload('the page fell behind'),
        );
        ping = setInterval(() => {
          if ((controller.desiredSize ?? 0) > 0) send(': ping\n\n');
        }, options.pingMs ?? AUDIT_STREAM_PING_MS);
        ping.unref?.();
        let since: AuditPage = { events: [] };
        try {
          if (q.after !== undefined) {
            since = await data.audit(q.filter, { limit: CATCH_UP, signal });
            // A page from before the journal was reset (its data directory emptied): positions
            // start again from the beginning, below `after`, and would never be sent.
            const head = q.after === START ? undefined : await data.audit({}, { limit: 1, signal });
            if (head && (head.events.length === 0 || comparePositions(head.events[0]!.pos, q.after) < 0)) return reload('the audit journal was reset');
          }
        } catch (err) {
          return reload(err instanceof Error ? err.message.replace(/[\r\n]+/g, ' ') : 'the journal cannot be read');
        }
        // Without `after` the stream is live from now on: nothing to catch up with.
        const missed = q.after === undefined ? [] : since.events.filter((e) => comparePositions(e.pos, q.after!) > 0);
        if (missed.length > 0 && missed.length === since.events.length && since.older !== undefined) return reload('too many new events');
        caughtUp = true;
        rows([...missed].reverse());
        rows(early);
        send(': live\n\n');
      },
      pull() {
        const d = drained;
        drained = undefined;
        d?.resolve();
      },
      cancel() {
        cleanup();
      },
    },
    new CountQueuingStrategy({ highWaterMark: options.highWaterMark ?? 16 }),
  );
}

/**
 * The stream as app.ts's `streams` want it: mount as `streams: { 'audit/stream': auditStreamResponse }`
 * (logged-in only; `ctx.signal` ends when the browser goes or its login session changes).
 */
export function auditStreamResponse(ctx: PageContext): Response {
  return new Response(auditStream(ctx.data, ctx.viewer, ctx.query, ctx.signal), { headers: AUDIT_STREAM_HEADERS });
}

function withResolvers(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
