/**
 * Home Assistant's REST API for tests, since HA cannot run here: `handleHaRest` answers the
 * views the hub's REST tools use, as developers.home-assistant docs/api/rest.md and core's api/,
 * history/ and logbook/ views answer them (shared/reference/service-apis.md §4b):
 *
 * - `GET /api/` → `{"message":"API running."}`; `GET /api/states`, `GET /api/states/<id>` (404
 *   `{"message":"Entity not found."}`), state objects with entity_id, state, attributes,
 *   last_changed, last_reported, last_updated and context.
 * - `GET /api/history/period[/<start>]?filter_entity_id=&end_time=&minimal_response&no_attributes
 *   &significant_changes_only&skip_initial_state`: one list per entity, oldest first, the first
 *   being the state at the start (its times set to the start, as the recorder does); with
 *   minimal_response the ones between first and last carry only state and last_changed. The
 *   changes come from the logbook's state entries of that entity (the fake's one record of the past).
 * - `GET /api/logbook[/<start>]?end_time=&entity=`: entries oldest first (`when`, `name`, and
 *   `message` or `state`, `entity_id`, `domain`); without end_time one day from the start, as HA.
 * - `GET /api/error_log`: text/plain; a `Range: bytes=-N` (or `bytes=A-B`) header gets 206 with
 *   Content-Range, as aiohttp's FileResponse answers.
 * - `POST /api/template` with the areas template of the REST client (`AREA_TEMPLATE`): each area
 *   as `[id, name, [entity ids]]`, JSON, text/plain; any other template is unknown.
 *
 * Bad datetimes answer 400 `{"message":"Invalid datetime"}` / `Invalid end_time`. Anything else
 * (another path, method or query parameter) is undefined: the caller records it as unknown.
 *
 * `startFakeHaRest` serves it on 127.0.0.1 with HA's Bearer check (a wrong token: 401 text
 * `401: Unauthorized`; `nonAdminToken` is a user who is not an administrator, refused by
 * /api/template and /api/error_log with 401 as HA does), records unknown requests, and takes a
 * `respond` hook for hostile answers.
 *
 * @example
 * await using ha = await startFakeHaRest({ token: 'ha-token' });
 * ha.state.entities.find((e) => e.entityId === 'light.kitchen')!.state = 'off';
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { serveLoopback } from './serve.ts';

/**
 * The one template the REST client sends (its `AREA_TEMPLATE`; the testkit does not import the
 * integrations, so the client's unit test checks the two are the same).
 */
export const FAKE_HA_AREA_TEMPLATE = '{% set ns = namespace(out=[]) %}{% for a in areas() %}{% set ns.out = ns.out + [[a, area_name(a), area_entities(a)]] %}{% endfor %}{{ ns.out | to_json }}';

export interface FakeHaEntity {
  entityId: string;
  state: string;
  attributes: Record<string, unknown>;
  area?: string;
  lastChanged?: string;
}

export interface FakeHaState {
  /** Mutable: the MCP side's HassTurnOn flips state here. */
  entities: FakeHaEntity[];
  logbook: Array<{ when: string; name: string; message?: string; entityId?: string; state?: string }>;
  errorLog: string;
}

export interface FakeHaAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

const DEFAULT_CHANGED = '2026-12-07T08:00:00.000000+00:00';
const json = (status: number, v: unknown): FakeHaAnswer => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) });
const message = (status: number, m: string) => json(status, { message: m });

/** HA's dt_util.parse_datetime, near enough: ISO 8601 with a date and time. */
function parseTime(s: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(s)) return undefined;
  const ms = Date.parse(s.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}
/** HA's isoformat: `2026-12-07T08:00:00.000000+00:00`. */
const isoformat = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
export const areaId = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

function stateObject(e: FakeHaEntity): Record<string, unknown> {
  const changed = e.lastChanged ?? DEFAULT_CHANGED;
  return { entity_id: e.entityId, state: e.state, attributes: e.attributes, last_changed: changed, last_reported: changed, last_updated: changed, context: { id: '01JEFAKECONTEXT0000000000', parent_id: null, user_id: null } };
}

/** The `/api/<view>/<datetime>` start, `undefined` when absent, null when not a datetime. */
function startOf(path: string, view: string): number | undefined | null {
  const rest = path.slice(view.length);
  if (rest === '') return undefined;
  const t = parseTime(decodeURIComponent(rest.slice(1)));
  return t === undefined ? null : t;
}

/**
 * Answers HA's REST API (/api/, /api/states..., /api/history/period..., /api/logbook...,
 * /api/error_log, /api/template) for `state`; undefined when the path is not one of them (the
 * caller then fails the test as unknown). Auth is checked by the caller, not here. `headers`
 * (lower-case names; optional) carries a Range for the error log.
 */
export function handleHaRest(method: string, url: URL, body: string, state: FakeHaState, headers?: Record<string, string | string[] | undefined>): FakeHaAnswer | undefined {
  const path = url.pathname;
  const params = [...url.searchParams.keys()];
  const only = (...allowed: string[]) => params.every((p) => allowed.includes(p));
  if (method === 'GET' && path === '/api/' && !params.length) return message(200, 'API running.');
  if (method === 'GET' && path === '/api/states' && !params.length) return json(200, state.entities.map(stateObject));
  if (method === 'GET' && path.startsWith('/api/states/') && !params.length) {
    const e = state.entities.find((x) => x.entityId === decodeURIComponent(path.slice('/api/states/'.length)));
    return e ? json(200, stateObject(e)) : message(404, 'Entity not found.');
  }
  if (method === 'GET' && (path === '/api/history/period' || path.startsWith('/api/history/period/'))) {
    if (!only('filter_entity_id', 'end_time', 'minimal_response', 'no_attributes', 'significant_changes_only', 'skip_initial_state')) return undefined;
    const s = startOf(path, '/api/history/period');
    if (s === null) return message(400, 'Invalid datetime');
    const now = Date.now();
    const start = s ?? now - 86_400_000;
    if (start > now) return json(200, []);
    const endStr = url.searchParams.get('end_time');
    const end = endStr ? parseTime(endStr) : start + 86_400_000;
    if (end === undefined) return message(400, 'Invalid end_time');
    const ids = url.searchParams.get('filter_entity_id')?.toLowerCase().split(',') ?? state.entities.map((e) => e.entityId);
    const minimal = url.searchParams.has('minimal_response');
    const noAttributes = url.searchParams.has('no_attributes');
    const skipInitial = url.searchParams.has('skip_initial_state');
    const out: unknown[] = [];
    for (const id of ids) {
      const entity = state.entities.find((e) => e.entityId === id);
      const changes = state.logbook.filter((l) => l.entityId === id && l.state !== undefined).map((l) => ({ state: l.state!, at: parseTime(l.when)! })).filter((c) => c.at !== undefined).sort((a, b) => a.at - b.at);
      const before = changes.filter((c) => c.at <= start);
      const within = changes.filter((c) => c.at > start && c.at <= end);
      const rows: Array<{ state: string; at: number }> = [];
      const initial = before.length ? before[before.length - 1]!.state : !within.length && entity && (parseTime(entity.lastChanged ?? DEFAULT_CHANGED) ?? 0) <= start ? entity.state : undefined;
      if (!skipInitial && initial !== undefined) rows.push({ state: initial, at: start });
      rows.push(...within);
      if (!rows.length) continue;
      const full = (r: { state: string; at: number }) => ({ entity_id: id, state: r.state, ...(noAttributes ? {} : { attributes: entity?.attributes ?? {} }), last_changed: isoformat(r.at), last_updated: isoformat(r.at) });
      out.push(rows.map((r, i) => (!minimal || i === 0 || i === rows.length - 1 ? full(r) : { state: r.state, last_changed: isoformat(r.at) })));
    }
    return json(200, out);
  }
  if (method === 'GET' && (path === '/api/logbook' || path.startsWith('/api/logbook/'))) {
    if (!only('end_time', 'entity')) return undefined;
    const s = startOf(path, '/api/logbook');
    if (s === null) return message(400, 'Invalid datetime');
    const start = s ?? new Date(new Date().toISOString().slice(0, 10)).getTime();
    const endStr = url.searchParams.get('end_time');
    const end = endStr === null ? start + 86_400_000 : parseTime(endStr);
    if (end === undefined) return message(400, 'Invalid end_time');
    const entity = url.searchParams.get('entity');
    const rows = state.logbook
      .map((l) => ({ l, at: parseTime(l.when) }))
      .filter((x): x is { l: FakeHaState['logbook'][number]; at: number } => x.at !== undefined && x.at >= start && x.at < end && (!entity || x.l.entityId === entity))
      .sort((a, b) => a.at - b.at)
      .map(({ l, at }) => ({
        when: isoformat(at),
        name: l.name,
        ...(l.message !== undefined ? { message: l.message } : {}),
        ...(l.state !== undefined ? { state: l.state } : {}),
        ...(l.entityId ? { entity_id: l.entityId, domain: l.entityId.split('.')[0] } : {}),
      }));
    return json(200, rows);
  }
  if (method === 'GET' && path === '/api/error_log' && !params.length) {
    const bytes = Buffer.from(state.errorLog, 'utf8');
    const range = headers?.range;
    const m = typeof range === 'string' ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    if (m && (m[1] || m[2])) {
      const total = bytes.length;
      const from = m[1] ? Number(m[1]) : Math.max(0, total - Number(m[2]));
      const to = m[1] && m[2] ? Math.min(total - 1, Number(m[2])) : total - 1;
      if (total === 0 || from > to) return { status: 416, headers: { 'content-range': `bytes */${total}` }, body: '' };
      return { status: 206, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-range': `bytes ${from}-${to}/${total}` }, body: bytes.subarray(from, to + 1).toString('latin1') };
    }
    return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: state.errorLog };
  }
  if (method === 'POST' && path === '/api/template' && !params.length) {
    let template: unknown;
    try {
      template = (JSON.parse(body) as { template?: unknown }).template;
    } catch {
      return message(400, 'Invalid JSON specified.');
    }
    if (template !== FAKE_HA_AREA_TEMPLATE) return undefined;
    const names = [...new Set(state.entities.map((e) => e.area).filter((a): a is string => !!a))];
    return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: JSON.stringify(names.map((n) => [areaId(n), n, state.entities.filter((e) => e.area === n).map((e) => e.entityId)])) };
  }
  return undefined;
}

/** A small house: lights, a switch, sensors, a door and a TV that is unavailable. */
export function fakeHaState(): FakeHaState {
  return {
    entities: [
      { entityId: 'light.kitchen', state: 'on', attributes: { friendly_name: 'Kitchen Light', brightness: 255 }, area: 'Kitchen', lastChanged: '2026-12-07T06:30:00.000000+00:00' },
      { entityId: 'light.living_room', state: 'off', attributes: { friendly_name: 'Living Room Light' }, area: 'Living Room', lastChanged: '2026-12-06T23:10:00.000000+00:00' },
      { entityId: 'switch.coffee_maker', state: 'off', attributes: { friendly_name: 'Coffee Maker' }, area: 'Kitchen' },
      { entityId: 'sensor.outdoor_temperature', state: '3.5', attributes: { friendly_name: 'Outdoor Temperature', unit_of_measurement: '°C' } },
      { entityId: 'binary_sensor.front_door', state: 'off', attributes: { friendly_name: 'Front Door', device_class: 'door' }, area: 'Hallway' },
      { entityId: 'media_player.tv', state: 'unavailable', attributes: { friendly_name: 'TV' }, area: 'Living Room' },
    ],
    logbook: [],
    errorLog: [
      '2026-12-07 08:00:01.123 WARNING (MainThread) [homeassistant.loader] We found a custom integration hacs which has not been tested by Home Assistant.',
      '2026-12-07 08:00:05.456 ERROR (MainThread) [homeassistant.components.media_player] Error while setting up samsungtv platform for media_player',
      '2026-12-07 08:10:00.789 WARNING (Recorder) [homeassistant.components.recorder.util] The system could not validate that the sqlite3 database was shutdown cleanly',
      '',
    ].join('\n'),
  };
}

export interface FakeHaRestRequest {
  method: string;
  /** Path and query. */
  url: string;
  unknown?: boolean;
}

export interface FakeHaRestOptions {
  /** The long-lived access token of an administrator. */
  token: string;
  /** A token of a user who is not an administrator (refused by /api/template and /api/error_log). */
  nonAdminToken?: string;
  state?: FakeHaState;
  /** Answers a request before the API does (hostile answers); undefined to let the API answer. */
  respond?: (method: string, url: URL) => FakeHaAnswer | undefined;
  port?: number;
}

export interface FakeHaRest extends AsyncDisposable {
  url: string;
  host: string;
  state: FakeHaState;
  requests(): FakeHaRestRequest[];
  unknown(): FakeHaRestRequest[];
  stop(): Promise<void>;
}

const ADMIN_ONLY = new Set(['/api/template', '/api/error_log']);

export async function startFakeHaRest(opts: FakeHaRestOptions): Promise<FakeHaRest> {
  const state = opts.state ?? fakeHaState();
  const requests: FakeHaRestRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1 << 20) chunks.push(c);
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake-ha');
      const record: FakeHaRestRequest = { method: req.method ?? 'GET', url: `${url.pathname}${url.search}` };
      requests.push(record);
      const send = (a: FakeHaAnswer) => {
        res.writeHead(a.status, a.headers ?? {});
        res.end(a.headers?.['content-type']?.startsWith('text/plain') && a.status === 206 ? Buffer.from(a.body, 'latin1') : a.body);
      };
      const auth = req.headers.authorization ?? '';
      const admin = auth === `Bearer ${opts.token}`;
      const user = admin || (opts.nonAdminToken !== undefined && auth === `Bearer ${opts.nonAdminToken}`);
      if (!user || (!admin && ADMIN_ONLY.has(url.pathname))) return send({ status: 401, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '401: Unauthorized' });
      const hostile = opts.respond?.(record.method, url);
      if (hostile) return send(hostile);
      const answer = handleHaRest(record.method, url, Buffer.concat(chunks).toString('utf8'), state, req.headers);
      if (!answer) {
        record.unknown = true;
        return send({ status: 404, headers: { 'content-type': 'text/plain' }, body: '404: Not Found' });
      }
      send(answer);
    });
  });
  const { port, stop } = await serveLoopback(server, opts.port);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    state,
    requests: () => [...requests],
    unknown: () => requests.filter((r) => r.unknown),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
