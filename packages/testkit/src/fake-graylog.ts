/**
 * A fake Graylog REST API for tests, since Graylog cannot run here: a real HTTP server on
 * 127.0.0.1 answering `/api/` as Graylog 6 does (shared/reference/peer-servers.md §4.5: token
 * auth as HTTP Basic `<token>:token`, `X-Requested-By` required on POST; the Scripting API).
 *
 * - A wrong or missing credential is a 401 with an empty body; a POST without `X-Requested-By`
 *   a 400 (recorded in `unknown()`: the client must always send it).
 * - `POST /api/search/messages` (Scripting API): `{query, streams?, fields?, size?, timerange:
 *   {type:"relative", range: seconds}, sort?, sort_order?}` → `{"schema":[{"column_type":"field",
 *   "type":"date"|"string"|"numeric","field":F}],"datarows":[[...]],"metadata":{
 *   "effective_timerange":{...}}}`, newest first. The query is a small Lucene subset (`*`, bare
 *   words in `message`, `field:value` with `*` wildcards, `AND`, `NOT`); a dangling `(` or `:`
 *   is a 400 `{"type":"ApiError","message":"Cannot parse ..."}` as Graylog says it.
 * - `GET /api/streams`, `/api/system`, `/api/system/cluster/nodes`, `/api/system/indexer/cluster/
 *   health`, `/api/system/throughput`, `/api/system/indexer/failures/count?since=`,
 *   `/api/system/notifications`, `/api/system/journal`.
 *
 * The data is realistic: 4 streams (one paused), about 240 messages over two hours from a dozen
 * sources with `level` (syslog severity) and `application_name`, a yellow indexer cluster can be
 * switched on, 3 indexing failures in the last day. Anything else is a 501 in `unknown()`.
 *
 * @example
 * await using gl = await startFakeGraylog({ token: '1a2b3c...' });
 * gl.setIndexerStatus('yellow');
 */
import { delayed } from './delay.ts';
import { serveLoopback } from './serve.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakeGraylogMessage {
  _id: string;
  timestamp: string;
  source: string;
  message: string;
  level: number;
  application_name: string;
  streams: string[];
}

export interface FakeGraylogRequest {
  method: string;
  path: string;
  status: number;
  body?: string;
}

export interface FakeGraylogOptions {
  /** The access token; Graylog takes it as the Basic user with the password `token`. */
  token: string;
  port?: number;
  /** Every answer this much later. */
  delayMs?: number;
}

export interface FakeGraylog {
  url: string;
  host: string;
  messages: FakeGraylogMessage[];
  streams: Array<{ id: string; title: string; description: string; disabled: boolean; is_default: boolean; rules: Array<{ field: string; value: string }> }>;
  setIndexerStatus(status: 'green' | 'yellow' | 'red'): void;
  requests(): FakeGraylogRequest[];
  unknown(): FakeGraylogRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_STREAM = '000000000000000000000001';

/** The fake's messages, newest first, relative to `now`. */
export function fakeGraylogMessages(now: number): FakeGraylogMessage[] {
  const sources: Array<[string, string]> = [
    ['pve1', 'pvedaemon'],
    ['pve2', 'pveproxy'],
    ['nas01', 'smartd'],
    ['caddy1', 'caddy'],
    ['caddy2', 'caddy'],
    ['n8n', 'n8n'],
    ['pihole1', 'pihole-FTL'],
    ['gw', 'filterlog'],
    ['homeassistant', 'homeassistant'],
    ['docker1', 'dockerd'],
    ['pi-03', 'kernel'],
    ['postgres', 'postgres'],
  ];
  const out: FakeGraylogMessage[] = [];
  for (let i = 0; i < 240; i++) {
    const [source, app] = sources[i % sources.length]!;
    let level = 6;
    let message = `${app}: periodic status ok (${i})`;
    if (source === 'caddy1' && i % 24 === 3) {
      level = 3;
      message = 'reverse_proxy: dial tcp 192.168.1.100:5678: connect: connection refused (upstream n8n)';
    } else if (source === 'nas01' && i % 36 === 2) {
      level = 4;
      message = 'Device: /dev/sda [SAT], 8 Currently unreadable (pending) sectors';
    } else if (source === 'postgres' && i % 48 === 11) {
      level = 3;
      message = 'FATAL: password authentication failed for user "n8n"';
    }
    const streams = [DEFAULT_STREAM, ...(level <= 3 ? ['65a1f0c2e4b0a1b2c3d4e5f6'] : []), ...(app === 'filterlog' ? ['65a1f0c2e4b0a1b2c3d4e5f7'] : [])];
    out.push({ _id: `0b1e2f30-${String(i).padStart(4, '0')}-11ef-9c3a-0242ac120002`, timestamp: new Date(now - i * 30_000).toISOString(), source, message, level, application_name: app, streams });
  }
  return out;
}

/** One term of the query subset: does `m` match it. */
function term(m: FakeGraylogMessage, t: string): boolean {
  if (t === '*') return true;
  const f = /^([A-Za-z_][A-Za-z0-9_.]*):(.+)$/.exec(t);
  if (f) {
    const v = (m as unknown as Record<string, unknown>)[f[1]!];
    if (v === undefined) return false;
    const want = f[2]!.replace(/^"|"$/g, '');
    const re = new RegExp(`^${want.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
    return re.test(String(v));
  }
  return m.message.toLowerCase().includes(t.replace(/^"|"$/g, '').toLowerCase());
}

export async function startFakeGraylog(opts: FakeGraylogOptions): Promise<FakeGraylog> {
  const now = Date.now();
  const messages = fakeGraylogMessages(now);
  const streams = [
    { id: DEFAULT_STREAM, title: 'Default Stream', description: 'Contains messages that are not explicitly routed to other streams', disabled: false, is_default: true, rules: [] },
    { id: '65a1f0c2e4b0a1b2c3d4e5f6', title: 'Errors', description: 'Severity error and worse', disabled: false, is_default: false, rules: [{ field: 'level', value: '3' }] },
    { id: '65a1f0c2e4b0a1b2c3d4e5f7', title: 'Firewall', description: 'OPNsense filterlog', disabled: false, is_default: false, rules: [{ field: 'application_name', value: 'filterlog' }] },
    { id: '65a1f0c2e4b0a1b2c3d4e5f8', title: 'Old syslog', description: '', disabled: true, is_default: false, rules: [{ field: 'source', value: 'old-nas' }] },
  ];
  let indexer: 'green' | 'yellow' | 'red' = 'green';
  const failures = [now - 2 * 3_600_000, now - 5 * 3_600_000, now - 30 * 3_600_000, now - 40 * 3_600_000];
  const log: FakeGraylogRequest[] = [];
  const expected = `Basic ${Buffer.from(`${opts.token}:token`).toString('base64')}`;

  const send = (res: ServerResponse, status: number, body: unknown): number => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return status;
  };

  function search(body: string, res: ServerResponse): number {
    let req: { query?: string; streams?: string[]; fields?: string[]; size?: number; from?: number; timerange?: { type?: string; range?: number }; sort?: string; sort_order?: string };
    try {
      req = JSON.parse(body);
    } catch {
      return send(res, 400, { type: 'ApiError', message: 'Unable to map request body' });
    }
    const q = (req.query ?? '*').trim() || '*';
    if (/\(\s*$|:\s*$|^\s*AND|\bAND\s*$/.test(q) || (q.match(/\(/g)?.length ?? 0) !== (q.match(/\)/g)?.length ?? 0)) {
      return send(res, 400, { type: 'ApiError', message: `Cannot parse '${q}': Encountered "<EOF>" at line 1, column ${q.length}.` });
    }
    if (req.timerange?.type !== 'relative' || !Number.isInteger(req.timerange.range)) return send(res, 400, { type: 'ApiError', message: 'timerange: expected a relative range in seconds' });
    const since = now - req.timerange.range! * 1000;
    const terms = q.split(/\s+AND\s+/);
    const hits = messages.filter(
      (m) =>
        Date.parse(m.timestamp) >= since &&
        (!req.streams?.length || req.streams.some((s) => m.streams.includes(s))) &&
        terms.every((t) => (t.startsWith('NOT ') ? !term(m, t.slice(4).trim()) : term(m, t.trim()))),
    );
    const fields = req.fields?.length ? req.fields : ['timestamp', 'source', 'message'];
    const size = Math.min(req.size ?? 10, 10_000);
    const sorted = req.sort_order === 'asc' ? [...hits].reverse() : hits;
    const typeOf = (f: string) => (f === 'timestamp' ? 'date' : f === 'level' ? 'numeric' : 'string');
    return send(res, 200, {
      schema: fields.map((f) => ({ column_type: 'field', type: typeOf(f), field: f, name: `field: ${f}` })),
      datarows: sorted.slice(req.from ?? 0, (req.from ?? 0) + size).map((m) => fields.map((f) => (m as unknown as Record<string, unknown>)[f] ?? null)),
      metadata: { effective_timerange: { from: new Date(since).toISOString(), to: new Date(now).toISOString(), type: 'absolute' } },
    });
  }

  function route(req: IncomingMessage, url: URL, body: string, res: ServerResponse): number | undefined {
    const p = url.pathname;
    if (req.method === 'POST' && p === '/api/search/messages') return search(body, res);
    if (req.method !== 'GET') return undefined;
    if (p === '/api/streams') return send(res, 200, { total: streams.length, streams: streams.map((s) => ({ ...s, index_set_id: '65a1f0c2e4b0a1b2c3d4e000', matching_type: 'AND', remove_matches_from_default_stream: false, created_at: '2026-01-10T10:00:00.000Z', creator_user_id: 'admin', content_pack: null, outputs: [], alert_receivers: null, title: s.title, rules: s.rules.map((r, i) => ({ id: `${s.id}-r${i}`, field: r.field, value: r.value, type: 1, inverted: false, stream_id: s.id, description: '' })) })) });
    if (p === '/api/system') return send(res, 200, { facility: 'graylog-server', codename: 'Noir', node_id: '5ca1ab1e-0000-4000-8000-000000000001', cluster_id: 'c0ffee00-0000-4000-8000-000000000002', version: '6.1.4+a1b2c3d', started_at: new Date(now - 9 * 86_400_000).toISOString(), hostname: 'graylog', lifecycle: 'running', lb_status: 'alive', timezone: 'UTC', operating_system: 'Linux 6.8.0', is_processing: true });
    if (p === '/api/system/cluster/nodes') return send(res, 200, { total: 1, nodes: [{ cluster_id: 'c0ffee00-0000-4000-8000-000000000002', node_id: '5ca1ab1e-0000-4000-8000-000000000001', type: 'SERVER', transport_address: 'http://192.168.1.104:9000/api/', last_seen: new Date(now).toISOString(), hostname: 'graylog', is_leader: true, short_node_id: '5ca1ab1e' }] });
    if (p === '/api/system/indexer/cluster/health') return send(res, 200, { status: indexer, shards: { active: 24, initializing: 0, relocating: 0, unassigned: indexer === 'green' ? 0 : 4 } });
    if (p === '/api/system/throughput') return send(res, 200, { throughput: 42 });
    if (p === '/api/system/indexer/failures/count') {
      const since = Date.parse(url.searchParams.get('since') ?? '');
      if (Number.isNaN(since)) return send(res, 400, { type: 'ApiError', message: 'Invalid date parameter provided: since' });
      return send(res, 200, { count: failures.filter((t) => t >= since).length });
    }
    if (p === '/api/system/notifications') return send(res, 200, { total: 1, notifications: [{ type: 'no_input_running', severity: 'urgent', timestamp: new Date(now - 3_600_000).toISOString(), node_id: '5ca1ab1e-0000-4000-8000-000000000001', details: {} }] });
    if (p === '/api/system/journal') return send(res, 200, { enabled: true, append_events_per_second: 42, read_events_per_second: 42, uncommitted_journal_entries: 12, journal_size: 5_242_880, journal_size_limit: 5_368_709_120, number_of_segments: 1, oldest_segment: new Date(now - 86_400_000).toISOString(), journal_config: { directory: 'file:///usr/share/graylog/data/journal/', segment_size: 104_857_600, segment_age: 3_600_000, max_size: 5_368_709_120, max_age: 43_200_000, flush_interval: 1_000_000, flush_age: 60_000 } });
    return undefined;
  }

  const server: Server = createServer(delayed((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = Buffer.concat(chunks).toString();
      const entry: FakeGraylogRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0, ...(body ? { body } : {}) };
      log.push(entry);
      if (!url.pathname.startsWith('/api/')) {
        entry.status = 501;
        res.writeHead(501).end();
        return;
      }
      if (req.headers.authorization !== expected) {
        entry.status = 401;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="Graylog Server"' }).end();
        return;
      }
      if (req.method !== 'GET' && !req.headers['x-requested-by']) {
        // Graylog's CSRF guard; recorded as unknown: the client must always send the header.
        entry.status = 501;
        send(res, 400, { type: 'ApiError', message: 'CSRF protection: the X-Requested-By header is missing' });
        return;
      }
      const status = route(req, url, body, res);
      if (status === undefined) {
        entry.status = 501;
        res.writeHead(501).end();
      } else entry.status = status;
    });
  }, opts.delayMs));
  const { port, stop } = await serveLoopback(server, opts.port);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    messages,
    streams,
    setIndexerStatus: (s) => void (indexer = s),
    requests: () => log,
    unknown: () => log.filter((r) => r.status === 501),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
