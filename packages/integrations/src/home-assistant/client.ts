/**
 * A small client for Home Assistant's REST API (`/api/...`, developers.home-assistant
 * docs/api/rest.md; core's api/, history/ and logbook/ views; shared/reference/service-apis.md
 * §4b), for the views HA's own MCP server does not offer: the states, one entity's history, the
 * logbook and the error log. Reads only. Every answer is read bounded and checked field by
 * field: HA is trusted to be HA, not to be small or well-formed.
 *
 * - `GET /api/` (`{"message":"API running."}`): the cheap authenticated check.
 * - `GET /api/states`: every entity's state object.
 * - `POST /api/template` with {@link AREA_TEMPLATE}: each area's id, name and entities (HA's
 *   REST API has no area view; the template functions `areas()`, `area_name()`,
 *   `area_entities()` are the documented way). Needs an administrator's token.
 * - `GET /api/history/period/<start>?filter_entity_id=<id>&end_time=<end>&minimal_response&no_attributes`.
 * - `GET /api/logbook/<start>?end_time=<end>[&entity=<id>]` (without end_time HA answers one day
 *   from the start only).
 * - `GET /api/error_log` with `Range: bytes=-N` (HA answers it with aiohttp's FileResponse,
 *   which honours ranges): the tail only. Needs an administrator's token.
 *
 * HA answers a rejected token with 401 (`401: Unauthorized`) and an admin-only view called with a
 * non-admin user's token also with 401: the client tells the two apart by asking `/api/` again.
 *
 * @example
 * const ha = createHaClient({ alias: 'ha', url: 'http://ha.lan:8123', token, http, timeoutMs: 10_000, tokenKey: 'upstreams.ha.token' });
 * const states = await ha.states(signal);
 */
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpClient, type HttpResponse } from '@homelab-mcp/core/http';

/** Largest `/api/states` answer read (a big install: 3,000 entities with attributes is ~3 MiB). */
export const MAX_HA_STATES_BYTES = 16 * 1024 * 1024;
/** Largest history, logbook or template answer read. */
export const MAX_HA_BYTES = 8 * 1024 * 1024;
/** The tail of the error log asked for (a Range request). */
export const ERROR_LOG_TAIL_BYTES = 256 * 1024;
/** Entities read at most from `/api/states`. */
export const MAX_HA_ENTITIES = 20_000;
/** History points and logbook entries kept at most (the newest). */
export const MAX_HA_ROWS = 5000;

/**
 * Each area as `[id, name, [entity ids]]`, as JSON: one request for all areas. The fake HA of
 * the testkit answers exactly this template (and refuses any other).
 */
export const AREA_TEMPLATE = '{% set ns = namespace(out=[]) %}{% for a in areas() %}{% set ns.out = ns.out + [[a, area_name(a), area_entities(a)]] %}{% endfor %}{{ ns.out | to_json }}';

/** HA's entity id: `<domain>.<object_id>`, lower-case letters, digits and `_`. */
export const ENTITY_ID = /^[a-z0-9_]{1,64}\.[a-z0-9_]{1,190}$/;

/** A Home Assistant REST error: `status` 401 when the token was rejected, 403 when it is not an administrator's. */
export class HaError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string, opts?: { cause?: unknown }) {
    super(status === 401 ? 'AUTH_REJECTED' : status === 503 ? 'UPSTREAM_UNAVAILABLE' : 'UPSTREAM_ERROR', message, opts);
    this.name = 'HaError';
    this.status = status;
  }
}

export interface HaState {
  entityId: string;
  domain: string;
  state: string;
  /** `attributes.friendly_name`, when HA gives one. */
  name?: string;
  /** ISO time of the last state change, as HA gives it. */
  lastChanged?: string;
}

export interface HaArea {
  id: string;
  name: string;
  entities: string[];
}

export interface HaHistoryPoint {
  state: string;
  /** ISO time. */
  when: string;
}

export interface HaLogbookEntry {
  /** ISO time. */
  when: string;
  name: string;
  message?: string;
  entityId?: string;
  state?: string;
  domain?: string;
}

export interface HaErrorLog {
  text: string;
  /** The text starts inside the log (the tail of a longer one). */
  partial: boolean;
  /** The whole log's size in bytes, when HA said it (Content-Range). */
  size?: number;
  /** HA ignored the range and sent more than was read: `text` is the log's head, not its tail. */
  headOnly?: boolean;
}

export interface HaClient {
  alias: string;
  host: string;
  /** `Home Assistant ha at ha.lan:8123`. */
  label: string;
  /** `GET /api/`: resolves when HA answers it with the token. */
  ping(signal?: AbortSignal): Promise<void>;
  /** Every entity; `dropped` counts state objects that were not well-formed (or past the cap). */
  states(signal?: AbortSignal): Promise<{ states: HaState[]; dropped: number }>;
  areas(signal?: AbortSignal): Promise<HaArea[]>;
  /** State changes of one entity from `start` to `end`, oldest first, the newest {@link MAX_HA_ROWS}. */
  history(entityId: string, start: Date, end: Date, signal?: AbortSignal): Promise<{ points: HaHistoryPoint[]; total: number }>;
  /** Logbook entries from `start` to `end` as HA orders them (oldest first), the newest {@link MAX_HA_ROWS}. */
  logbook(start: Date, end: Date, entityId: string | undefined, signal?: AbortSignal): Promise<{ entries: HaLogbookEntry[]; total: number }>;
  /** The tail of the error log (at most about {@link ERROR_LOG_TAIL_BYTES}); `partial` when it starts inside the log. */
  errorLog(signal?: AbortSignal): Promise<HaErrorLog>;
}

export interface HaClientOptions {
  alias: string;
  url: string;
  token: string;
  http: HttpClient;
  timeoutMs: number;
  /** The config key of the token (`upstreams.ha.token`), named when HA rejects it. */
  tokenKey: string;
  /** Told when HA rejects the token (the service link's `failed`). */
  onAuthRejected?: () => void;
}

const str = (v: unknown, max = 255): string | undefined => (typeof v === 'string' ? v.slice(0, max) : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
/** An ISO time HA gave, or undefined when it is not one. */
const isoTime = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= 40 && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(v) && !Number.isNaN(Date.parse(v)) ? v : undefined);

export function createHaClient(opts: HaClientOptions): HaClient {
  const base = new URL(opts.url);
  const host = base.host;
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
  const label = `Home Assistant ${opts.alias} at ${host}`;
  const auth = { authorization: `Bearer ${opts.token}` };

  /** The reason in an HA error answer (`{"message": ...}`, or its text), short and on one line. */
  const reasonOf = (res: HttpResponse): string => {
    let m: string | undefined;
    try {
      m = str(obj(res.json())?.message, 300);
    } catch {
      m = res.text().slice(0, 300);
    }
    m = m?.replace(/\s+/g, ' ').trim();
    return m ? `HTTP ${res.status}: ${m}` : `HTTP ${res.status}`;
  };

  const rejected = () => {
    opts.onAuthRejected?.();
    return new HaError(401, `${label} rejected the token (${opts.tokenKey})`);
  };

  async function send(method: 'GET' | 'POST', path: string, o: { body?: string; maxBytes: number; headers?: Record<string, string>; truncate?: boolean; tooLargeHint?: string; signal?: AbortSignal | undefined }): Promise<HttpResponse> {
    try {
      return await opts.http.request({
        method,
        url: `${root}${path}`,
        headers: { ...auth, accept: 'application/json', ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
        ...(o.body !== undefined ? { body: o.body } : {}),
        timeoutMs: opts.timeoutMs,
        maxBytes: o.maxBytes,
        ...(o.truncate ? { truncate: true } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (err) {
      if (isHttpError(err, 'unreachable') || isHttpError(err, 'timeout')) throw new HaError(503, `${label} is unreachable: ${err.detail}`, { cause: err });
      if (isHttpError(err, 'too_large')) throw new HaError(502, `${label}: the answer of ${path.replace(/\?.*$/, '')} is larger than ${o.maxBytes} bytes${o.tooLargeHint ? ` (${o.tooLargeHint})` : ''}`, { cause: err });
      throw err;
    }
  }

  async function ping(signal?: AbortSignal): Promise<void> {
    const res = await send('GET', '/api/', { maxBytes: 64 * 1024, signal });
    if (res.status === 401 || res.status === 403) throw rejected();
    if (res.status !== 200) throw new HaError(res.status, `${label}: /api/ answered ${reasonOf(res)} (is this Home Assistant, with the api integration loaded?)`);
    let message: unknown;
    try {
      message = obj(res.json())?.message;
    } catch {
      message = undefined;
    }
    if (message !== 'API running.') throw new HaError(502, `${label}: /api/ did not answer "API running." (is this Home Assistant?)`);
  }

  /** The answer of a read; 401 is the token, unless HA still answers /api/ (then the view is for administrators). */
  async function read(path: string, o: { maxBytes: number; body?: string; headers?: Record<string, string>; truncate?: boolean; tooLargeHint?: string; ok?: number[]; signal?: AbortSignal | undefined }): Promise<HttpResponse> {
    const res = await send(o.body !== undefined ? 'POST' : 'GET', path, o);
    if (res.status === 401 || res.status === 403) {
      const view = path.replace(/\?.*$/, '');
      try {
        await ping(o.signal);
      } catch (err) {
        if (err instanceof HaError && err.status === 401) throw err;
        throw new HaError(401, `${label} refused ${view} (HTTP ${res.status})`);
      }
      throw new HaError(403, `${label}: ${view} needs a token of an administrator; the token in ${opts.tokenKey} belongs to a user who is not one`);
    }
    if (!(o.ok ?? [200]).includes(res.status)) throw new HaError(res.status === 404 ? 404 : 502, `${label}: ${path.replace(/\?.*$/, '')} answered ${reasonOf(res)}`);
    return res;
  }

  const json = (res: HttpResponse, what: string): unknown => {
    try {
      return res.json();
    } catch {
      throw new HaError(502, `${label}: ${what} is not JSON (is this Home Assistant?)`);
    }
  };

  return {
    alias: opts.alias,
    host,
    label,
    ping,
    async states(signal) {
      const body = json(await read('/api/states', { maxBytes: MAX_HA_STATES_BYTES, signal }), 'the answer of /api/states');
      if (!Array.isArray(body)) throw new HaError(502, `${label}: /api/states did not answer a list`);
      const states: HaState[] = [];
      let dropped = Math.max(0, body.length - MAX_HA_ENTITIES);
      for (const raw of body.slice(0, MAX_HA_ENTITIES)) {
        const s = obj(raw);
        const entityId = typeof s?.entity_id === 'string' && ENTITY_ID.test(s.entity_id) ? s.entity_id : undefined;
        const state = str(s?.state);
        if (!s || !entityId || state === undefined) {
          dropped++;
          continue;
        }
        const name = str(obj(s.attributes)?.friendly_name, 200);
        const lastChanged = isoTime(s.last_changed);
        states.push({ entityId, domain: entityId.slice(0, entityId.indexOf('.')), state, ...(name ? { name } : {}), ...(lastChanged ? { lastChanged } : {}) });
      }
      return { states, dropped };
    },
    async areas(signal) {
      const res = await read('/api/template', { body: JSON.stringify({ template: AREA_TEMPLATE }), maxBytes: MAX_HA_BYTES, signal });
      let rows: unknown;
      try {
        rows = JSON.parse(res.text());
      } catch {
        throw new HaError(502, `${label}: the areas template did not render JSON`);
      }
      if (!Array.isArray(rows)) throw new HaError(502, `${label}: the areas template did not render a list`);
      const out: HaArea[] = [];
      for (const r of rows.slice(0, 1000)) {
        if (!Array.isArray(r)) continue;
        const id = str(r[0], 100);
        const name = str(r[1], 100) ?? id;
        if (!id || !name) continue;
        const entities = Array.isArray(r[2]) ? (r[2] as unknown[]).slice(0, MAX_HA_ENTITIES).filter((e): e is string => typeof e === 'string' && ENTITY_ID.test(e)) : [];
        out.push({ id, name, entities });
      }
      return out;
    },
    async history(entityId, start, end, signal) {
      if (!ENTITY_ID.test(entityId)) throw new HaError(400, `entity: expected an entity id such as light.kitchen, got ${JSON.stringify(entityId.slice(0, 100))}`);
      const path = `/api/history/period/${start.toISOString()}?filter_entity_id=${entityId}&end_time=${encodeURIComponent(end.toISOString())}&minimal_response&no_attributes`;
      const body = json(await read(path, { maxBytes: MAX_HA_BYTES, tooLargeHint: 'ask for a shorter period: a later since', signal }), 'the history');
      if (!Array.isArray(body)) throw new HaError(502, `${label}: the history is not a list`);
      // One list per entity; with minimal_response only the first names its entity.
      const list = body.find((l) => Array.isArray(l) && obj(l[0])?.entity_id === entityId) ?? (body.length === 1 && Array.isArray(body[0]) ? body[0] : []);
      const all = (list as unknown[]).filter((p) => obj(p));
      const points: HaHistoryPoint[] = [];
      for (const raw of all.slice(-MAX_HA_ROWS)) {
        const p = obj(raw)!;
        const state = str(p.state);
        const when = isoTime(p.last_changed) ?? isoTime(p.last_updated);
        if (state !== undefined && when) points.push({ state, when });
      }
      return { points, total: all.length };
    },
    async logbook(start, end, entityId, signal) {
      if (entityId !== undefined && !ENTITY_ID.test(entityId)) throw new HaError(400, `entity: expected an entity id such as light.kitchen, got ${JSON.stringify(entityId.slice(0, 100))}`);
      const path = `/api/logbook/${start.toISOString()}?end_time=${encodeURIComponent(end.toISOString())}${entityId ? `&entity=${entityId}` : ''}`;
      const body = json(await read(path, { maxBytes: MAX_HA_BYTES, tooLargeHint: 'ask for a shorter period (a later since) or one entity', signal }), 'the logbook');
      if (!Array.isArray(body)) throw new HaError(502, `${label}: the logbook is not a list`);
      const entries: HaLogbookEntry[] = [];
      for (const raw of body.slice(-MAX_HA_ROWS)) {
        const e = obj(raw);
        const when = isoTime(e?.when);
        if (!e || !when) continue;
        const name = str(e.name, 200) ?? str(e.entity_id) ?? '';
        const message = str(e.message, 500);
        const eid = typeof e.entity_id === 'string' && ENTITY_ID.test(e.entity_id) ? e.entity_id : undefined;
        const state = str(e.state);
        const domain = str(e.domain, 64);
        entries.push({ when, name, ...(message !== undefined ? { message } : {}), ...(eid ? { entityId: eid } : {}), ...(state !== undefined ? { state } : {}), ...(domain ? { domain } : {}) });
      }
      return { entries, total: body.length };
    },
    async errorLog(signal) {
      const res = await read('/api/error_log', { maxBytes: ERROR_LOG_TAIL_BYTES, headers: { range: `bytes=-${ERROR_LOG_TAIL_BYTES}`, accept: 'text/plain' }, truncate: true, ok: [200, 206, 416], signal }).catch((err: unknown) => {
        if (err instanceof HaError && err.status === 404) throw new HaError(404, `${label} serves no error log (/api/error_log answered 404: HA writes no log file, e.g. when started with --log-file off or without the api integration)`);
        throw err;
      });
      // 416: the range cannot be served, which for a suffix range means the log is empty.
      if (res.status === 416) return { text: '', partial: false, size: 0 };
      const size = /\/(\d+)\s*$/.exec(res.headers['content-range'] ?? '')?.[1];
      const total = size !== undefined ? Number(size) : undefined;
      let text = res.text();
      // A range that starts inside the log starts mid-line (maybe mid-character): from the next line on.
      const partial = res.status === 206 ? (total === undefined || total > res.body.byteLength) : res.truncated;
      if (res.status === 206 && partial) text = text.slice(text.indexOf('\n') + 1);
      // A server that ignored the range and sent more than asked: what was read is the head, say so.
      if (res.status === 200 && res.truncated) return { text: text.slice(0, text.lastIndexOf('\n') + 1), partial: true, headOnly: true };
      return { text, partial, ...(total !== undefined ? { size: total } : {}) };
    },
  };
}
