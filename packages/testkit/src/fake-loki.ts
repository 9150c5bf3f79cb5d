/**
 * A fake Grafana Loki for tests: a real HTTP server on 127.0.0.1 that follows Loki's HTTP API
 * (`grafana/loki` docs/sources/reference/loki-http-api.md, see shared/reference/service-apis.md
 * §5), since Loki cannot be installed here.
 *
 * Served, as the real one answers:
 * - `POST /loki/api/v1/push`: JSON only (`Content-Type: application/json`, optionally
 *   `Content-Encoding: gzip`); timestamps must be strings of Unix ns, lines strings, an optional
 *   third element string→string metadata; every stream needs a label. 204 on success; errors are
 *   plain text 400. Like Loki's defaults, entries older than `rejectOlderThanMs` (1 week) or more
 *   than 10 min in the future are rejected with 400 while the valid ones of the same push are kept.
 * - `GET|POST /loki/api/v1/query_range`: a stream selector (`=`, `!=`, `=~`, `!~`) with line
 *   filters (`|=`, `!=`, `|~`, `!~`); `start`/`end` in ns, seconds or RFC3339, `since`, `limit`
 *   (default 100), `direction` (default backward). Identical entries (same stream, timestamp and
 *   line) are returned once, as Loki's queriers deduplicate replicas.
 * - `GET /loki/api/v1/query`: metric queries only (`count_over_time(...[d])`, optionally in
 *   `sum(...)`); a log query is a 400, as in Loki. The same metric queries on query_range
 *   answer a `matrix` (one sample per `step` that has any), as Loki does.
 * - `GET /loki/api/v1/labels`, `/loki/api/v1/label/<name>/values`, `GET /ready`.
 * - With `tenant` set (Loki's `auth_enabled`): `X-Scope-OrgID` required, else 401 `no org id`.
 *
 * Anything else, and any request a real Loki would refuse because the client is wrong (bad
 * JSON, a number timestamp, a protobuf body, LogQL this fake does not know), is answered like
 * Loki would (404/400) and recorded in `unhandled()`: a test asserts it stays empty.
 *
 * @example
 * await using loki = await startFakeLoki();
 * await loki.down(); ... await loki.up();     // an outage on the same port
 * loki.setFailing(503);                        // or answer 503 (429, 500, ...) to everything
 * expect(loki.received().map((e) => e.line)).toEqual(lines);
 * expect(loki.unhandled()).toEqual([]);
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface FakeLokiEntry {
  stream: Record<string, string>;
  /** Unix ns, as pushed (a string). */
  ts: string;
  line: string;
  metadata?: Record<string, string>;
  tenant: string;
}

export interface FakeLokiRequest {
  method: string;
  path: string;
  status: number;
  /** `Date.now()` when the request arrived. */
  at: number;
  headers: Record<string, string | string[] | undefined>;
  /** For pushes: entries in the request, and whether the body was gzipped. */
  entries?: number;
  gzip?: boolean;
}

export interface FakeLokiOptions {
  /** Start answering 503 to pushes and queries. */
  failing?: boolean;
  /** Require `X-Scope-OrgID` (multi-tenant Loki); entries are kept per tenant. */
  tenant?: string;
  /** Loki's `reject_old_samples_max_age`; default 1 week. */
  rejectOlderThanMs?: number;
  /** A fixed port (to reopen a fake on the port of one that stopped); default 0. */
  port?: number;
}

export interface FakeLoki extends AsyncDisposable {
  url: string;
  port: number;
  /** Every entry accepted, in push order; pushed twice means listed twice. */
  received(): FakeLokiEntry[];
  /** Every request, in order. */
  requests(): FakeLokiRequest[];
  /** Requests a real Loki would not have served as the client meant (see above). */
  unhandled(): string[];
  /** `false` serves normally; `true` (503) or a status answers pushes, queries and /ready with it. */
  setFailing(failing: boolean | number): void;
  /** The next `n` pushes are rejected with `status` (default 400) and `message`, storing nothing. */
  rejectPushes(n: number, status?: number, message?: string): void;
  /** Closes the listener and drops open connections: clients see connection refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** The metric queries this fake knows: `[sum(]count_over_time(<log query>[<duration>])[)]`. */
const METRIC_QUERY = /^\s*(sum\s*\(\s*)?count_over_time\s*\(([\s\S]*)\[(\w+)\]\s*\)\s*(\)\s*)?$/;
const MAX_BODY = 10 * 1024 * 1024;
const MAX_LINE = 256 * 1024;
const MAX_ENTRIES_PER_QUERY = 5000;
const CREATION_GRACE_MS = 10 * 60 * 1000;

/** Starts a fake Loki on 127.0.0.1 (port 0 unless given). */
export async function startFakeLoki(opts: FakeLokiOptions = {}): Promise<FakeLoki> {
  const entries: FakeLokiEntry[] = [];
  const reqs: FakeLokiRequest[] = [];
  const unhandled: string[] = [];
  let failing: number | false = opts.failing ? 503 : false;
  let rejects: { n: number; status: number; message: string } | undefined;
  const rejectOlderThanMs = opts.rejectOlderThanMs ?? 7 * 24 * 3600 * 1000;

  const server: Server = createServer((req, res) => {
    const rec: FakeLokiRequest = { method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, status: 0, at: Date.now(), headers: req.headers };
    reqs.push(rec);
    handle(req, res, rec).catch((err: unknown) => {
      unhandled.push(`${rec.method} ${rec.path}: fake error ${String(err)}`);
      send(res, rec, 500, String(err));
    });
  });
  server.keepAliveTimeout = 5000;

  function send(res: ServerResponse, rec: FakeLokiRequest, status: number, body?: string | object, headers: Record<string, string> = {}): void {
    rec.status = status;
    if (res.headersSent) return void res.end();
    if (body === undefined) {
      res.writeHead(status, headers).end();
    } else if (typeof body === 'string') {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${body}\n`);
    } else {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    }
  }

  /** 400 for a request the client got wrong: answered as Loki would, and recorded. */
  function clientBug(res: ServerResponse, rec: FakeLokiRequest, status: number, message: string): void {
    unhandled.push(`${rec.method} ${rec.path}: ${message}`);
    send(res, rec, status, message);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, rec: FakeLokiRequest): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://loki');
    const path = url.pathname;
    const method = req.method ?? 'GET';

    if (path === '/ready' && method === 'GET') {
      return failing ? send(res, rec, 503, 'Ingester not ready: waiting for 15s after being ready') : send(res, rec, 200, 'ready');
    }
    if (!path.startsWith('/loki/api/v1/')) return clientBug(res, rec, 404, '404 page not found');

    let tenant = 'fake';
    if (opts.tenant !== undefined) {
      const org = req.headers['x-scope-orgid'];
      if (typeof org !== 'string' || org === '') return send(res, rec, 401, 'no org id');
      tenant = org;
    }
    if (failing) {
      const text = failing === 429 ? 'Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec)' : 'at least 2 live replicas required, could only find 1';
      return send(res, rec, failing, text, failing === 429 || failing === 503 ? { 'retry-after': '1' } : {});
    }

    if (path === '/loki/api/v1/push') {
      if (method !== 'POST') return clientBug(res, rec, 405, `method ${method} not allowed`);
      return push(req, res, rec, tenant);
    }
    const tenants = new Set(tenant.split('|'));
    const visible = () => entries.filter((e) => tenants.has(e.tenant));
    if (path === '/loki/api/v1/query_range' || path === '/loki/api/v1/query') {
      if (method !== 'GET' && method !== 'POST') return clientBug(res, rec, 405, `method ${method} not allowed`);
      let params = url.searchParams;
      if (method === 'POST') {
        const body = (await readBody(req)).toString('utf8');
        params = new URLSearchParams(body);
      }
      return path.endsWith('query_range') ? queryRange(res, rec, params, visible()) : queryInstant(res, rec, params, visible());
    }
    if (path === '/loki/api/v1/labels' && method === 'GET') {
      const names = new Set<string>();
      for (const e of visible()) for (const k of Object.keys(e.stream)) names.add(k);
      return send(res, rec, 200, { status: 'success', data: [...names].sort() });
    }
    const lv = /^\/loki\/api\/v1\/label\/([^/]+)\/values$/.exec(path);
    if (lv && method === 'GET') {
      const name = decodeURIComponent(lv[1]!);
      const values = new Set<string>();
      for (const e of visible()) if (e.stream[name] !== undefined) values.add(e.stream[name]);
      return send(res, rec, 200, { status: 'success', data: [...values].sort() });
    }
    return clientBug(res, rec, 404, '404 page not found');
  }

  async function push(req: IncomingMessage, res: ServerResponse, rec: FakeLokiRequest, tenant: string): Promise<void> {
    const type = req.headers['content-type'] ?? '';
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return send(res, rec, 413, 'request body too large');
    }
    const enc = req.headers['content-encoding'];
    rec.gzip = enc === 'gzip';
    if (enc === 'gzip') {
      try {
        body = gunzipSync(body);
      } catch {
        return clientBug(res, rec, 400, 'gzip: invalid header');
      }
    } else if (enc !== undefined && enc !== 'identity') {
      return clientBug(res, rec, 415, `unsupported content encoding ${enc}`);
    }
    // Without a JSON content type Loki decodes protobuf+snappy; this fake does not.
    if (!/^application\/json\b/i.test(type)) return clientBug(res, rec, 400, `snappy: corrupt input (content type ${type || 'missing'}; this fake speaks JSON only)`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return clientBug(res, rec, 400, `loghttp.PushRequest: ${(err as Error).message}`);
    }
    const shapeError = checkPush(parsed);
    if (shapeError) return clientBug(res, rec, 400, shapeError);
    const streams = (parsed as { streams: Array<{ stream: Record<string, string>; values: Array<[string, string, Record<string, string>?]> }> }).streams;
    rec.entries = streams.reduce((n, s) => n + s.values.length, 0);

    if (rejects && rejects.n > 0) {
      rejects.n--;
      return send(res, rec, rejects.status, rejects.message);
    }
    const now = Date.now();
    const errors: string[] = [];
    for (const s of streams) {
      const selector = formatLabels(s.stream);
      for (const [ts, line, metadata] of s.values) {
        const ms = Number(BigInt(ts) / 1_000_000n);
        if (ms < now - rejectOlderThanMs) {
          errors.push(`entry for stream '${selector}' has timestamp too old: ${new Date(ms).toISOString()}, oldest acceptable timestamp is: ${new Date(now - rejectOlderThanMs).toISOString()}`);
        } else if (ms > now + CREATION_GRACE_MS) {
          errors.push(`entry for stream '${selector}' has timestamp too new: ${new Date(ms).toISOString()}`);
        } else if (Buffer.byteLength(line) > MAX_LINE) {
          errors.push(`Max entry size '${MAX_LINE}' bytes exceeded for stream '${selector}' while adding an entry with length '${Buffer.byteLength(line)}' bytes`);
        } else {
          entries.push({ stream: { ...s.stream }, ts, line, ...(metadata ? { metadata } : {}), tenant });
        }
      }
    }
    // Like Loki: the valid entries are kept, the push answers 400 naming the rejected ones.
    if (errors.length > 0) return send(res, rec, 400, errors.slice(0, 10).join('\n'));
    return send(res, rec, 204);
  }

  function queryRange(res: ServerResponse, rec: FakeLokiRequest, params: URLSearchParams, all: FakeLokiEntry[]): void {
    const q = params.get('query');
    if (!q) return clientBug(res, rec, 400, 'query parameter is required');
    if (METRIC_QUERY.test(q)) return metricRange(res, rec, q, params, all);
    const parsed = parseLogQuery(q);
    if (typeof parsed === 'string') return clientBug(res, rec, 400, parsed);
    const range = parseRange(params);
    if (typeof range === 'string') return clientBug(res, rec, 400, range);
    const { startNs, endNs, limit, direction } = range;
    const seen = new Set<string>();
    const hits: Array<{ e: FakeLokiEntry; i: number }> = [];
    all.forEach((e, i) => {
      const t = BigInt(e.ts);
      if (t < startNs || t >= endNs || !parsed.match(e)) return;
      // Loki's queriers drop exact duplicates (the same entry from several ingesters).
      const key = `${formatLabels(e.stream)}\u0000${e.ts}\u0000${e.line}`;
      if (seen.has(key)) return;
      seen.add(key);
      hits.push({ e, i });
    });
    const sign = direction === 'forward' ? 1 : -1;
    hits.sort((a, b) => {
      const ta = BigInt(a.e.ts);
      const tb = BigInt(b.e.ts);
      return (ta < tb ? -1 : ta > tb ? 1 : a.i - b.i) * sign;
    });
    const byStream = new Map<string, { stream: Record<string, string>; values: Array<[string, string]> }>();
    for (const { e } of hits.slice(0, limit)) {
      const key = formatLabels(e.stream);
      let s = byStream.get(key);
      if (!s) byStream.set(key, (s = { stream: e.stream, values: [] }));
      s.values.push([e.ts, e.line]);
    }
    send(res, rec, 200, { status: 'success', data: { resultType: 'streams', result: [...byStream.values()], stats: {} } });
  }

  /**
   * A metric query on query_range: as Loki, a `matrix` with one sample per step that has any
   * (steps without samples are left out). The default step is Loki's: max(1 s, range / 250).
   */
  function metricRange(res: ServerResponse, rec: FakeLokiRequest, q: string, params: URLSearchParams, all: FakeLokiEntry[]): void {
    const m = METRIC_QUERY.exec(q)!;
    if (Boolean(m[1]) !== Boolean(m[4])) return clientBug(res, rec, 400, `parse error: unbalanced parentheses: ${q}`);
    const parsed = parseLogQuery(m[2]!.trim());
    if (typeof parsed === 'string') return clientBug(res, rec, 400, parsed);
    const durMs = parseDuration(m[3]!);
    if (durMs === undefined) return clientBug(res, rec, 400, `parse error: bad duration ${m[3]}`);
    const p = new URLSearchParams(params);
    p.delete('limit');
    const range = parseRange(p);
    if (typeof range === 'string') return clientBug(res, rec, 400, range);
    const rawStep = params.get('step');
    const stepMs = rawStep ? (parseDuration(rawStep) ?? Number(rawStep) * 1000) : Math.max(1000, Math.floor(Number((range.endNs - range.startNs) / 1_000_000_000n) / 250) * 1000);
    if (!(stepMs > 0)) return clientBug(res, rec, 400, `invalid step ${rawStep}`);
    const stepNs = BigInt(Math.round(stepMs)) * 1_000_000n;
    if ((range.endNs - range.startNs) / stepNs > 11_000n) return send(res, rec, 400, 'exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value of the step parameter');
    const windowNs = BigInt(durMs) * 1_000_000n;
    const series = new Map<string, { metric: Record<string, string>; values: Array<[number, string]> }>();
    for (let t = range.startNs; t <= range.endNs; t += stepNs) {
      const counts = new Map<string, { metric: Record<string, string>; n: number }>();
      for (const e of all) {
        const ts = BigInt(e.ts);
        if (ts <= t - windowNs || ts > t || !parsed.match(e)) continue;
        const metric = m[1] ? {} : e.stream;
        const key = formatLabels(metric);
        const c = counts.get(key) ?? { metric, n: 0 };
        c.n++;
        counts.set(key, c);
      }
      for (const [key, c] of counts) {
        const s = series.get(key) ?? { metric: c.metric, values: [] };
        s.values.push([Number(t / 1_000_000n) / 1000, String(c.n)]);
        series.set(key, s);
      }
    }
    send(res, rec, 200, { status: 'success', data: { resultType: 'matrix', result: [...series.values()], stats: {} } });
  }

  function queryInstant(res: ServerResponse, rec: FakeLokiRequest, params: URLSearchParams, all: FakeLokiEntry[]): void {
    const q = params.get('query');
    if (!q) return clientBug(res, rec, 400, 'query parameter is required');
    const m = METRIC_QUERY.exec(q);
    if (!m) {
      const asLog = parseLogQuery(q);
      // A log query is a 400 on the instant endpoint in Loki itself; anything else is LogQL this fake does not know.
      if (typeof asLog !== 'string') return clientBug(res, rec, 400, 'log queries are not supported as an instant query type, please change your query to a range query type');
      return clientBug(res, rec, 400, `parse error: this fake knows only [sum(]count_over_time(<log query>[<duration>])[)]: ${q}`);
    }
    if (Boolean(m[1]) !== Boolean(m[4])) return clientBug(res, rec, 400, `parse error: unbalanced parentheses: ${q}`);
    const parsed = parseLogQuery(m[2]!.trim());
    if (typeof parsed === 'string') return clientBug(res, rec, 400, parsed);
    const durMs = parseDuration(m[3]!);
    if (durMs === undefined) return clientBug(res, rec, 400, `parse error: bad duration ${m[3]}`);
    const timeNs = parseTime(params.get('time')) ?? BigInt(Date.now()) * 1_000_000n;
    const fromNs = timeNs - BigInt(durMs) * 1_000_000n;
    const counts = new Map<string, { metric: Record<string, string>; n: number }>();
    for (const e of all) {
      const t = BigInt(e.ts);
      if (t <= fromNs || t > timeNs || !parsed.match(e)) continue;
      const metric = m[1] ? {} : e.stream;
      const key = formatLabels(metric);
      const c = counts.get(key) ?? { metric, n: 0 };
      c.n++;
      counts.set(key, c);
    }
    const sec = Number(timeNs / 1_000_000n) / 1000;
    const result = [...counts.values()].map((c) => ({ metric: c.metric, value: [sec, String(c.n)] }));
    send(res, rec, 200, { status: 'success', data: { resultType: 'vector', result, stats: {} } });
  }

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  await listen(opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const fake: FakeLoki = {
    url: `http://127.0.0.1:${port}`,
    port,
    received: () => entries.map((e) => ({ ...e })),
    requests: () => [...reqs],
    unhandled: () => [...unhandled],
    setFailing(f) {
      failing = f === false ? false : f === true ? 503 : f;
    },
    rejectPushes(n, status = 400, message = 'entry out of order') {
      rejects = { n, status, message };
    },
    down: close,
    up: () => listen(port),
    stop: close,
    [Symbol.asyncDispose]: close,
  };
  return fake;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new Error('too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The first thing Loki's JSON decoder or validator would reject, or undefined. */
function checkPush(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object' || !Array.isArray((v as { streams?: unknown }).streams)) return 'loghttp.PushRequest.Streams: expects an array of streams';
  for (const s of (v as { streams: unknown[] }).streams) {
    if (s === null || typeof s !== 'object') return 'loghttp.PushRequest.Streams: a stream must be an object';
    const { stream, values } = s as { stream?: unknown; values?: unknown };
    if (stream === null || typeof stream !== 'object' || Array.isArray(stream)) return 'loghttp.Stream.Labels: expects an object of labels';
    const labels = Object.entries(stream);
    if (labels.length === 0) return 'error at least one label pair is required per stream';
    for (const [k, val] of labels) {
      if (!LABEL_NAME.test(k)) return `error parsing labels: invalid label name ${JSON.stringify(k)}`;
      if (typeof val !== 'string') return `loghttp.Stream.Labels: ReadString: expects " or n, label ${k}`;
    }
    if (!Array.isArray(values)) return 'loghttp.Stream.Entries: expects an array of entries';
    for (const e of values) {
      if (!Array.isArray(e) || (e.length !== 2 && e.length !== 3)) return 'loghttp.Entry: expects [timestamp, line] or [timestamp, line, metadata]';
      if (typeof e[0] !== 'string') return 'loghttp.Entry.Timestamp: ReadString: expects " or n (timestamps are strings of Unix ns)';
      if (!/^\d{1,19}$/.test(e[0])) return `loghttp.Entry.Timestamp: strconv.ParseInt: parsing ${JSON.stringify(e[0])}: invalid syntax`;
      if (typeof e[1] !== 'string') return 'loghttp.Entry.Line: ReadString: expects " or n';
      if (e.length === 3) {
        const md = e[2] as unknown;
        if (md === null || typeof md !== 'object' || Array.isArray(md) || Object.values(md).some((x) => typeof x !== 'string')) {
          return 'loghttp.Entry.StructuredMetadata: expects an object of strings';
        }
      }
    }
  }
  return undefined;
}

function formatLabels(labels: Record<string, string>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ')}}`;
}

interface LogQuery {
  match(e: FakeLokiEntry): boolean;
}

/**
 * An RE2 pattern as Loki (Go) reads it, in JavaScript: RE2's leading flag group `(?i)` (or
 * `(?s)`, `(?is)`) becomes a RegExp flag, which JavaScript has no inline syntax for. Label
 * matchers are anchored, line filters are not.
 */
function re2(pattern: string, anchored: boolean): RegExp {
  const m = /^\(\?([is]+)\)/.exec(pattern);
  const body = m ? pattern.slice(m[0].length) : pattern;
  return new RegExp(anchored ? `^(?:${body})$` : body, m ? [...new Set(m[1])].join('') : '');
}

/** A LogQL log query: `{matchers} [|= "x" | != "x" | |~ "re" | !~ "re"]...`, or an error text. */
function parseLogQuery(q: string): LogQuery | string {
  let i = 0;
  const err = (what: string) => `parse error at line 1, col ${i + 1}: ${what}`;
  const ws = () => {
    while (i < q.length && /\s/.test(q[i]!)) i++;
  };
  const str = (): string | undefined => {
    const c = q[i];
    if (c === '`') {
      const end = q.indexOf('`', i + 1);
      if (end < 0) return undefined;
      const s = q.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    if (c !== '"') return undefined;
    let j = i + 1;
    while (j < q.length && q[j] !== '"') j += q[j] === '\\' ? 2 : 1;
    if (j >= q.length) return undefined;
    try {
      const s = JSON.parse(q.slice(i, j + 1)) as string;
      i = j + 1;
      return s;
    } catch {
      return undefined;
    }
  };
  ws();
  if (q[i] !== '{') return err('syntax error: unexpected input, expecting {');
  i++;
  const matchers: Array<(l: Record<string, string>) => boolean> = [];
  let nonEmpty = false;
  for (;;) {
    ws();
    if (q[i] === '}') {
      i++;
      break;
    }
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(q.slice(i))?.[0];
    if (!name) return err('syntax error: expecting a label name');
    i += name.length;
    ws();
    const op = /^(=~|!~|!=|=)/.exec(q.slice(i))?.[0];
    if (!op) return err('syntax error: expecting =, !=, =~ or !~');
    i += op.length;
    ws();
    const value = str();
    if (value === undefined) return err('syntax error: expecting a string');
    let re: RegExp | undefined;
    if (op === '=~' || op === '!~') {
      try {
        re = re2(value, true);
      } catch {
        return err(`invalid regex ${value}`);
      }
    }
    if ((op === '=' && value !== '') || (op === '=~' && !re!.test(''))) nonEmpty = true;
    matchers.push((l) => {
      const v = l[name] ?? '';
      return op === '=' ? v === value : op === '!=' ? v !== value : op === '=~' ? re!.test(v) : !re!.test(v);
    });
    ws();
    if (q[i] === ',') i++;
    else if (q[i] !== '}') return err('syntax error: expecting , or }');
  }
  if (!nonEmpty) return 'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will';
  const filters: Array<(line: string) => boolean> = [];
  for (;;) {
    ws();
    if (i >= q.length) break;
    const op = /^(\|=|!=|\|~|!~)/.exec(q.slice(i))?.[0];
    if (!op) return err(`this fake supports only the line filters |= != |~ !~ after the selector, got ${JSON.stringify(q.slice(i, i + 20))}`);
    i += op.length;
    ws();
    const value = str();
    if (value === undefined) return err('syntax error: expecting a string');
    if (op === '|=') filters.push((l) => l.includes(value));
    else if (op === '!=') filters.push((l) => !l.includes(value));
    else {
      let re: RegExp;
      try {
        re = re2(value, false);
      } catch {
        return err(`invalid regex ${value}`);
      }
      filters.push(op === '|~' ? (l) => re.test(l) : (l) => !re.test(l));
    }
  }
  return { match: (e: FakeLokiEntry) => matchers.every((m) => m(e.stream)) && filters.every((f) => f(e.line)) };
}

/** Loki's timestamp parameters: ns integers, seconds (with a fraction or ≤ 10 digits), or RFC3339. */
function parseTime(v: string | null): bigint | undefined {
  if (v === null || v === '') return undefined;
  const sec = /^(\d+)\.(\d*)$/.exec(v);
  // Seconds with a fraction, converted exactly (a float would be off by up to ~200 ns).
  if (sec) return BigInt(sec[1]!) * 1_000_000_000n + BigInt(sec[2]!.slice(0, 9).padEnd(9, '0'));
  if (/^\d+$/.test(v)) return v.length <= 10 ? BigInt(v) * 1_000_000_000n : BigInt(v);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) return undefined;
  // Keep sub-ms digits of an RFC3339Nano time.
  const frac = /\.(\d+)/.exec(v)?.[1] ?? '';
  const extraNs = frac.length > 3 ? BigInt(frac.slice(3, 9).padEnd(6, '0')) : 0n;
  return BigInt(ms) * 1_000_000n + extraNs;
}

function parseDuration(v: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;
  const unit: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5, y: 31536e6 };
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  return consumed === v.length && consumed > 0 ? total : undefined;
}

function parseRange(p: URLSearchParams): { startNs: bigint; endNs: bigint; limit: number; direction: 'forward' | 'backward' } | string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const endRaw = p.get('end');
  const endNs = endRaw ? parseTime(endRaw) : now;
  if (endNs === undefined) return `invalid end parameter ${endRaw}`;
  const sinceRaw = p.get('since');
  const sinceMs = sinceRaw ? parseDuration(sinceRaw) : 3600_000;
  if (sinceMs === undefined) return `invalid since parameter ${sinceRaw}`;
  const startRaw = p.get('start');
  const startNs = startRaw ? parseTime(startRaw) : endNs - BigInt(sinceMs) * 1_000_000n;
  if (startNs === undefined) return `invalid start parameter ${startRaw}`;
  if (endNs < startNs) return 'end timestamp must not be before or equal to start time';
  const limit = p.get('limit') === null ? 100 : Number(p.get('limit'));
  if (!Number.isInteger(limit) || limit <= 0) return 'limit must be a positive value';
  if (limit > MAX_ENTRIES_PER_QUERY) return `max entries limit per query exceeded, limit > max_entries_limit_per_query (${limit} > ${MAX_ENTRIES_PER_QUERY})`;
  const direction = (p.get('direction') ?? 'backward').toLowerCase();
  if (direction !== 'forward' && direction !== 'backward') return `invalid direction ${direction}`;
  return { startNs, endNs, limit, direction };
}
