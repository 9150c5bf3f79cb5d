/**
 * A fake Cloudflare API v4 for tests (Cloudflare cannot run here, and tests never leave
 * loopback): a real HTTP server on 127.0.0.1 whose `url` ends in `/client/v4` like the real base,
 * answering as shared/reference/service-apis.md §10 documents it, plus the tunnel endpoints.
 *
 * What it relies on (§10, and developers.cloudflare.com's API reference for the tunnels):
 * - `Authorization: Bearer <token>`. A missing or malformed header is 400 code 6003 "Invalid
 *   request headers" with `error_chain` 6111; any other token is 403 code 10000 "Authentication
 *   error" (the shape third-party mocks show; `rejectAs: 'invalid-token'` answers 401 code 9109
 *   "Invalid access token" instead, as some endpoints do).
 * - Every answer is the envelope `{success, errors, messages, result, result_info?}`; lists take
 *   `page` (from 1) and `per_page` and say `result_info: {page, per_page, count, total_count,
 *   total_pages}`. `per_page` is 5 to 50 for zones and accounts, 5 to 5,000,000 for DNS records
 *   (default 100 there, 20 elsewhere); outside that, 400 code 1001 (the code is a guess; a client
 *   should never ask for it). For tunnels the fake allows up to 1000 (not checked against a real
 *   account).
 * - `GET /user/tokens/verify`, `GET /accounts`, `GET /zones[?name=]`, `GET /zones/{id}` (an
 *   unknown id is 404 code 7003 "Could not route to …, perhaps your object identifier is
 *   invalid?").
 * - `GET /zones/{id}/dns_records[?type=&name=&content=&match=&order=&direction=]` (name is an
 *   exact match on the full name), `GET|PATCH|DELETE /zones/{id}/dns_records/{record_id}`,
 *   `POST /zones/{id}/dns_records` → 200 (not 201) with the record; a missing record is 404 code
 *   81044 "Record does not exist."; an identical record 400 code 81058 "An identical record
 *   already exists."; a CNAME beside an A/AAAA/CNAME of the same name (or the reverse) 400 code
 *   81053 "An A, AAAA, or CNAME record with that host already exists."; a name outside the zone
 *   400 code 1004 "DNS Validation Error"; a delete answers `result: {id}`.
 * - `GET /accounts/{account_id}/cfd_tunnel[?is_deleted=&name=]`: the tunnels, with `status`
 *   one of inactive (never run), degraded, healthy, down (no connection to the edge), and the
 *   deprecated `connections` always empty, as Cloudflare now sends it;
 *   `GET /accounts/{account_id}/cfd_tunnel/{tunnel_id}/connections`: the connectors (clients:
 *   `id`, `arch`, `version`, `run_at`, `conns: [{colo_name, id, uuid, client_id, client_version,
 *   is_pending_reconnect, opened_at, origin_ip}]`). An account other than the fake's is 403
 *   code 10000 (the token cannot see it).
 *
 * Anything else (another path, method or query parameter) is a 501 recorded in `unknown()`: a
 * test asserts it stays empty.
 *
 * @example
 * await using cf = await startFakeCloudflare({ token: 'cf-token' });
 * // internet: { endpoints: { cloudflare: cf.url }, cloudflare: { token: 'cf-token' } }
 * cf.records.find((r) => r.name === 'www.example.com');
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { serveLoopback } from './serve.ts';

export interface FakeCloudflareZone {
  id: string;
  name: string;
}

export interface FakeCloudflareRecord {
  id: string;
  zone_id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
  proxied: boolean;
  proxiable: boolean;
  priority?: number;
  comment: string | null;
  created_on: string;
  modified_on: string;
}

export interface FakeCloudflareConn {
  colo_name: string;
  origin_ip: string;
  opened_at: string;
  is_pending_reconnect: boolean;
}

export interface FakeCloudflareTunnel {
  id: string;
  name: string;
  status: 'inactive' | 'degraded' | 'healthy' | 'down';
  created_at: string;
  conns_active_at: string | null;
  conns_inactive_at: string | null;
  /** The cloudflared processes connected (each with its connections to Cloudflare's colos). */
  connectors: Array<{ id: string; version: string; arch: string; run_at: string; conns: FakeCloudflareConn[] }>;
}

export interface FakeCloudflareRequest {
  method: string;
  path: string;
  status: number;
}

export interface FakeCloudflareOptions {
  token: string;
  /** Default: one account, `Homelab`. */
  accounts?: Array<{ id: string; name: string }>;
  /** Default: example.com and example.org with a few records each (see {@link fakeCloudflareData}). */
  zones?: FakeCloudflareZone[];
  records?: FakeCloudflareRecord[];
  /** Default: `home` healthy with two connections, `office` down. */
  tunnels?: FakeCloudflareTunnel[];
  /** How a wrong token is refused: 403 code 10000 (default) or 401 code 9109. */
  rejectAs?: 'authentication-error' | 'invalid-token';
  port?: number;
}

export interface FakeCloudflare {
  /** The API base, `http://127.0.0.1:PORT/client/v4`: internet.endpoints.cloudflare. */
  url: string;
  host: string;
  accounts: Array<{ id: string; name: string }>;
  zones: FakeCloudflareZone[];
  /** The DNS records of every zone, changed by the API's writes. */
  records: FakeCloudflareRecord[];
  tunnels: FakeCloudflareTunnel[];
  requests(): FakeCloudflareRequest[];
  unknown(): FakeCloudflareRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const hex32 = () => randomBytes(16).toString('hex');
const uuid = () => {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** The default data: account `Homelab`, zones example.com and example.org, tunnels home (healthy) and office (down). */
export function fakeCloudflareData(now = Date.now()) {
  const accounts = [{ id: '9a7806061c88ada191ed06f989cc3dac', name: 'Homelab' }];
  const zones: FakeCloudflareZone[] = [
    { id: '023e105f4ecef8ad9ca31a8372d0c353', name: 'example.com' },
    { id: 'd56084adb405e0b7e32c52321bf07be6', name: 'example.org' },
  ];
  const at = new Date(now - 30 * 86_400_000).toISOString();
  const rec = (zone: FakeCloudflareZone, id: string, type: string, name: string, content: string, extra: Partial<FakeCloudflareRecord> = {}): FakeCloudflareRecord => ({
    id,
    zone_id: zone.id,
    type,
    name,
    content,
    ttl: 1,
    proxied: false,
    proxiable: ['A', 'AAAA', 'CNAME'].includes(type),
    comment: null,
    created_on: at,
    modified_on: at,
    ...extra,
  });
  const [com, org] = zones as [FakeCloudflareZone, FakeCloudflareZone];
  const records = [
    rec(com, '372e67954025e0ba6aaa6d586b9e0b59', 'A', 'example.com', '198.51.100.4', { proxied: true }),
    rec(com, '372e67954025e0ba6aaa6d586b9e0b60', 'CNAME', 'www.example.com', 'example.com', { proxied: true }),
    rec(com, '372e67954025e0ba6aaa6d586b9e0b61', 'A', 'vpn.example.com', '198.51.100.7', { ttl: 300, comment: 'WireGuard' }),
    rec(com, '372e67954025e0ba6aaa6d586b9e0b62', 'MX', 'example.com', 'mail.example.com', { priority: 10 }),
    rec(com, '372e67954025e0ba6aaa6d586b9e0b63', 'TXT', 'example.com', 'v=spf1 mx -all'),
    rec(com, '372e67954025e0ba6aaa6d586b9e0b64', 'A', 'rr.example.com', '198.51.100.21'),
    rec(com, '372e67954025e0ba6aaa6d586b9e0b65', 'A', 'rr.example.com', '198.51.100.22'),
    rec(org, '5a7805061c76ada191ed06f989cc3dac', 'AAAA', 'example.org', '2001:db8::4'),
  ];
  const h = (n: number) => new Date(now - n * 3_600_000).toISOString();
  const tunnels: FakeCloudflareTunnel[] = [
    {
      id: 'f70ff985-a4ef-4643-bbbc-4a0ed4fc8415',
      name: 'home',
      status: 'healthy',
      created_at: at,
      conns_active_at: h(50),
      conns_inactive_at: null,
      connectors: [
        {
          id: '1bedc50d-42b3-473c-b108-ff3d10c0d925',
          version: '2024.11.1',
          arch: 'linux_arm64',
          run_at: h(50),
          conns: [
            { colo_name: 'fra06', origin_ip: '203.0.113.7', opened_at: h(50), is_pending_reconnect: false },
            { colo_name: 'ams01', origin_ip: '203.0.113.7', opened_at: h(49), is_pending_reconnect: false },
          ],
        },
      ],
    },
    { id: 'c2a1bd4e-59f3-4e0e-9c4b-3a8f0e0a7f21', name: 'office', status: 'down', created_at: at, conns_active_at: h(200), conns_inactive_at: h(5), connectors: [] },
  ];
  return { accounts, zones, records, tunnels };
}

/** Starts the fake on 127.0.0.1 (a free port unless `port`), with the default data unless given. */
export async function startFakeCloudflare(opts: FakeCloudflareOptions): Promise<FakeCloudflare> {
  const data = fakeCloudflareData();
  const accounts = opts.accounts ?? data.accounts;
  const zones = opts.zones ?? data.zones;
  const records = opts.records ?? data.records;
  const tunnels = opts.tunnels ?? data.tunnels;
  const log: FakeCloudflareRequest[] = [];

  const send = (res: ServerResponse, status: number, result: unknown, info?: Record<string, number>): number => {
    const body = status < 300 ? { success: true, errors: [], messages: [], result, ...(info ? { result_info: info } : {}) } : { success: false, errors: result, messages: [], result: null };
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return status;
  };
  const error = (res: ServerResponse, status: number, code: number, message: string, chain?: Array<{ code: number; message: string }>) => send(res, status, [{ code, message, ...(chain ? { error_chain: chain } : {}) }]);
  const page = <T>(res: ServerResponse, url: URL, items: T[], json: (t: T) => unknown, maxPerPage: number, defaultPerPage = 20): number => {
    const p = Number(url.searchParams.get('page') ?? 1);
    const per = Number(url.searchParams.get('per_page') ?? defaultPerPage);
    if (!Number.isInteger(p) || p < 1 || !Number.isInteger(per) || per < 5 || per > maxPerPage) return error(res, 400, 1001, `Invalid pagination: page must be >= 1 and per_page between 5 and ${maxPerPage}`);
    const slice = items.slice((p - 1) * per, p * per);
    return send(res, 200, slice.map(json), { page: p, per_page: per, count: slice.length, total_count: items.length, total_pages: Math.max(1, Math.ceil(items.length / per)) });
  };
  const onlyParams = (url: URL, allowed: string[]) => [...url.searchParams.keys()].every((k) => allowed.includes(k));
  const recordJson = (r: FakeCloudflareRecord) => {
    const { priority, ...rest } = r;
    const zone = zones.find((z) => z.id === r.zone_id)!;
    return { ...rest, ...(priority !== undefined ? { priority } : {}), zone_name: zone.name, locked: false, data: {}, meta: { auto_added: false, source: 'primary' }, tags: [] };
  };
  const tunnelJson = (t: FakeCloudflareTunnel, account: string) => ({
    id: t.id,
    account_tag: account,
    created_at: t.created_at,
    deleted_at: null,
    name: t.name,
    connections: [],
    conns_active_at: t.conns_active_at,
    conns_inactive_at: t.conns_inactive_at,
    tun_type: 'cfd_tunnel',
    metadata: {},
    status: t.status,
    remote_config: true,
    config_src: 'cloudflare',
  });

  /** The record fields of a create or update body, checked as Cloudflare does (the basics). */
  function recordFields(body: Record<string, unknown>, zone: FakeCloudflareZone, base?: FakeCloudflareRecord): { fields: Omit<FakeCloudflareRecord, 'id' | 'zone_id' | 'created_on' | 'modified_on'> } | { status: number; code: number; message: string } {
    const known = ['type', 'name', 'content', 'ttl', 'proxied', 'priority', 'comment'];
    if (Object.keys(body).some((k) => !known.includes(k))) return { status: 501, code: 0, message: '' };
    const type = (body.type ?? base?.type) as string;
    const name = String(body.name ?? base?.name ?? '').toLowerCase().replace(/\.$/, '');
    const content = (body.content ?? base?.content) as string;
    const ttl = (body.ttl ?? base?.ttl ?? 1) as number;
    const proxied = (body.proxied ?? base?.proxied ?? false) as boolean;
    const priority = (body.priority ?? base?.priority) as number | undefined;
    if (typeof type !== 'string' || typeof content !== 'string' || !name) return { status: 400, code: 9000, message: 'DNS name, type and content are required' };
    if (name !== zone.name && !name.endsWith(`.${zone.name}`)) return { status: 400, code: 1004, message: 'DNS Validation Error' };
    if (typeof ttl !== 'number' || (ttl !== 1 && (ttl < 30 || ttl > 86_400))) return { status: 400, code: 9021, message: 'Invalid TTL. Must be between 30 and 86,400 seconds, or 1 for Automatic.' };
    const proxiable = ['A', 'AAAA', 'CNAME'].includes(type);
    if (proxied && !proxiable) return { status: 400, code: 9004, message: 'This record type cannot be proxied.' };
    if (type === 'MX' && typeof priority !== 'number') return { status: 400, code: 9100, message: 'MX records require a priority.' };
    const comment = body.comment === undefined ? (base?.comment ?? null) : (body.comment as string | null);
    return { fields: { type, name, content, ttl, proxied, proxiable, ...(type === 'MX' ? { priority: priority! } : {}), comment } };
  }
  function conflict(f: { type: string; name: string; content: string }, zone: FakeCloudflareZone, self?: string): { code: number; message: string } | undefined {
    const same = records.filter((r) => r.zone_id === zone.id && r.name === f.name && r.id !== self);
    if (same.some((r) => r.type === f.type && r.content === f.content)) return { code: 81058, message: 'An identical record already exists.' };
    const addressy = ['A', 'AAAA', 'CNAME'];
    if (addressy.includes(f.type) && same.some((r) => addressy.includes(r.type) && (r.type === 'CNAME' || f.type === 'CNAME'))) return { code: 81053, message: 'An A, AAAA, or CNAME record with that host already exists.' };
    return undefined;
  }

  function route(method: string, url: URL, path: string, body: Record<string, unknown> | undefined, res: ServerResponse): number | undefined {
    if (method === 'GET' && path === '/user/tokens/verify') return send(res, 200, { id: 'ed17574386854bf78a67040be0a770b0', status: 'active' });
    if (method === 'GET' && path === '/accounts') {
      if (!onlyParams(url, ['page', 'per_page', 'name', 'direction'])) return undefined;
      return page(res, url, accounts, (a) => ({ id: a.id, name: a.name, type: 'standard', settings: {}, created_on: '2020-01-01T00:00:00Z' }), 50);
    }
    if (method === 'GET' && path === '/zones') {
      if (!onlyParams(url, ['page', 'per_page', 'name', 'status', 'match', 'order', 'direction'])) return undefined;
      const name = url.searchParams.get('name');
      return page(res, url, zones.filter((z) => name === null || z.name === name), (z) => ({ id: z.id, name: z.name, status: 'active', paused: false, type: 'full', account: accounts[0] }), 50);
    }
    const z = /^\/zones\/([^/]+)(\/dns_records(?:\/([^/]+))?)?$/.exec(path);
    if (z) {
      const zone = zones.find((x) => x.id === z[1]);
      if (!zone) return error(res, 404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
      if (!z[2]) return method === 'GET' ? send(res, 200, { id: zone.id, name: zone.name, status: 'active', paused: false, type: 'full', account: accounts[0] }) : undefined;
      const recordId = z[3];
      if (!recordId && method === 'GET') {
        if (!onlyParams(url, ['type', 'name', 'content', 'page', 'per_page', 'match', 'order', 'direction'])) return undefined;
        const [type, name, content] = ['type', 'name', 'content'].map((k) => url.searchParams.get(k));
        const found = records.filter((r) => r.zone_id === zone.id && (type === null || r.type === type) && (name === null || r.name === name) && (content === null || r.content === content));
        return page(res, url, found, recordJson, 5_000_000, 100);
      }
      if (!recordId && method === 'POST') {
        if (!body) return error(res, 400, 9207, 'Request body is invalid.');
        const f = recordFields(body, zone);
        if ('status' in f) return f.status === 501 ? undefined : error(res, f.status, f.code, f.message);
        const clash = conflict(f.fields, zone);
        if (clash) return error(res, 400, clash.code, clash.message);
        const now = new Date().toISOString();
        const r: FakeCloudflareRecord = { id: hex32(), zone_id: zone.id, ...f.fields, created_on: now, modified_on: now };
        records.push(r);
        return send(res, 200, recordJson(r));
      }
      if (!recordId) return undefined;
      const i = records.findIndex((r) => r.zone_id === zone.id && r.id === recordId);
      if (!['GET', 'PATCH', 'DELETE'].includes(method)) return undefined;
      if (i < 0) return error(res, 404, 81044, 'Record does not exist.');
      const r = records[i]!;
      if (method === 'GET') return send(res, 200, recordJson(r));
      if (method === 'DELETE') {
        records.splice(i, 1);
        return send(res, 200, { id: r.id });
      }
      if (!body) return error(res, 400, 9207, 'Request body is invalid.');
      const f = recordFields(body, zone, r);
      if ('status' in f) return f.status === 501 ? undefined : error(res, f.status, f.code, f.message);
      const clash = conflict(f.fields, zone, r.id);
      if (clash) return error(res, 400, clash.code, clash.message);
      const { priority: _drop, ...kept } = r;
      const next: FakeCloudflareRecord = { ...kept, ...f.fields, modified_on: new Date().toISOString() };
      records[i] = next;
      return send(res, 200, recordJson(next));
    }
    const t = /^\/accounts\/([^/]+)\/cfd_tunnel(?:\/([^/]+)\/connections)?$/.exec(path);
    if (t && method === 'GET') {
      if (!accounts.some((a) => a.id === t[1])) return error(res, 403, 10000, 'Authentication error');
      if (!t[2]) {
        if (!onlyParams(url, ['is_deleted', 'name', 'page', 'per_page', 'status', 'uuid', 'include_prefix', 'exclude_prefix', 'existed_at', 'was_active_at', 'was_inactive_at'])) return undefined;
        const name = url.searchParams.get('name');
        return page(res, url, tunnels.filter((x) => name === null || x.name === name), (x) => tunnelJson(x, t[1]!), 1000);
      }
      if ([...url.searchParams.keys()].length) return undefined;
      const tunnel = tunnels.find((x) => x.id === t[2]);
      if (!tunnel) return error(res, 404, 1003, 'Tunnel not found');
      return send(
        res,
        200,
        tunnel.connectors.map((c) => ({
          id: c.id,
          arch: c.arch,
          config_version: 3,
          features: ['ha-origin', 'serialized_headers'],
          run_at: c.run_at,
          version: c.version,
          conns: c.conns.map((x) => ({ ...x, id: uuid(), uuid: uuid(), client_id: c.id, client_version: c.version })),
        })),
      );
    }
    return undefined;
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const entry: FakeCloudflareRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0 };
      log.push(entry);
      const unknown = () => {
        entry.status = 501;
        res.writeHead(501).end();
      };
      if (!url.pathname.startsWith('/client/v4/')) return unknown();
      const auth = req.headers.authorization;
      const bearer = auth ? /^Bearer (\S+)$/.exec(auth)?.[1] : undefined;
      if (!bearer) {
        entry.status = error(res, 400, 6003, 'Invalid request headers', [{ code: 6111, message: 'Invalid format for Authorization header' }]);
        return;
      }
      if (bearer !== opts.token) {
        entry.status = opts.rejectAs === 'invalid-token' ? error(res, 401, 9109, 'Invalid access token') : error(res, 403, 10000, 'Authentication error');
        return;
      }
      let body: Record<string, unknown> | undefined;
      if (chunks.length) {
        try {
          const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
        } catch {
          entry.status = error(res, 400, 9207, 'Request body is invalid.');
          return;
        }
      }
      const status = route(req.method ?? '', url, url.pathname.slice('/client/v4'.length), body, res);
      if (status === undefined) unknown();
      else entry.status = status;
    });
  });
  const { port, stop } = await serveLoopback(server, opts.port);
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    host: `127.0.0.1:${port}`,
    accounts,
    zones,
    records,
    tunnels,
    requests: () => log,
    unknown: () => log.filter((r) => r.status === 501),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
