/**
 * A fake Pi-hole v6 (FTL's embedded API) for tests, since Pi-hole cannot run here: a real HTTP
 * server on 127.0.0.1 answering as shared/reference/service-apis.md §3 documents it.
 *
 * - `POST /api/auth {"password"}`: 200 with `session.sid`/`csrf`/`validity`, or 401 with the
 *   same schema (`valid:false`, "password incorrect"); 429 `api_seats_exceeded` when
 *   `maxSessions` sessions are open (Pi-hole's `webserver.api.max_sessions`, default 16).
 *   `DELETE /api/auth` logs out (204; 401 without a session). The SID is accepted in the
 *   `X-FTL-SID` or `sid` header; anything else is the generic 401 `unauthorized`.
 * - `GET /api/dns/blocking`, `GET /api/stats/summary`, `GET /api/config/dns/hosts`,
 *   `GET /api/config/dns/cnameRecords`, `PUT|DELETE /api/config/dns/{hosts|cnameRecords}/<item>`
 *   (201; 400 "Item already present"; 204; 404 `{"took":...}`).
 * - Every answer carries `took`. Anything else is a 404 `not_found`, recorded in `unknown()`: a
 *   test asserts it stays empty.
 *
 * @example
 * await using ph = await startFakePihole({ password: 'pw', hosts: ['192.168.1.2 ns1.lan'] });
 * ph.expireSessions();           // the next call gets 401: the client logs in again, once
 * expect(ph.logins()).toBe(1);
 */
import { randomBytes } from 'node:crypto';
import { delayed } from './delay.ts';
import { serveLoopback } from './serve.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakePiholeOptions {
  password: string;
  hosts?: string[];
  cnames?: string[];
  blocking?: 'enabled' | 'disabled';
  maxSessions?: number;
  port?: number;
  /** Every answer this much later. */
  delayMs?: number;
}

export interface FakePiholeRequest {
  method: string;
  path: string;
  status: number;
}

export interface FakePihole {
  url: string;
  host: string;
  hosts: string[];
  cnames: string[];
  /** Successful logins so far. */
  logins(): number;
  logouts(): number;
  /** Sessions open now. */
  sessions(): number;
  /** Every session ends now (as after Pi-hole's restart or the 30 min validity). */
  expireSessions(): void;
  requests(): FakePiholeRequest[];
  unknown(): FakePiholeRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startFakePihole(opts: FakePiholeOptions): Promise<FakePihole> {
  const hosts = [...(opts.hosts ?? [])];
  const cnames = [...(opts.cnames ?? [])];
  const sessions = new Set<string>();
  const maxSessions = opts.maxSessions ?? 16;
  const log: FakePiholeRequest[] = [];
  let logins = 0;
  let logouts = 0;
  const t0 = Date.now();

  const send = (res: ServerResponse, status: number, body?: Record<string, unknown>) => {
    if (status === 204) {
      res.writeHead(204).end();
      return 204;
    }
    const text = JSON.stringify({ ...body, took: 0.003 });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(text);
    return status;
  };
  const error = (res: ServerResponse, status: number, key: string, message: string, hint: string | null = null) => send(res, status, { error: { key, message, hint } });

  function route(req: IncomingMessage, url: URL, body: string, res: ServerResponse): number | undefined {
    const p = url.pathname;
    if (p === '/api/auth' && req.method === 'POST') {
      let password: unknown;
      try {
        password = (JSON.parse(body) as { password?: unknown }).password;
      } catch {
        return error(res, 400, 'bad_request', 'Invalid JSON payload');
      }
      if (typeof password !== 'string') return error(res, 400, 'bad_request', 'No password found in JSON payload');
      if (password !== opts.password) return send(res, 401, { session: { valid: false, totp: false, sid: null, csrf: null, validity: -1, message: 'password incorrect' } });
      if (sessions.size >= maxSessions) return error(res, 429, 'api_seats_exceeded', 'API seats exceeded', 'increase webserver.api.max_sessions');
      const sid = randomBytes(16).toString('base64');
      sessions.add(sid);
      logins++;
      return send(res, 200, { session: { valid: true, totp: false, sid, csrf: randomBytes(16).toString('base64'), validity: 1800, message: 'correct password' } });
    }
    const sid = (req.headers['x-ftl-sid'] ?? req.headers.sid) as string | undefined;
    if (!sid || !sessions.has(sid)) return error(res, 401, 'unauthorized', 'Unauthorized');
    if (p === '/api/auth' && req.method === 'DELETE') {
      sessions.delete(sid);
      logouts++;
      return send(res, 204);
    }
    if (req.method === 'GET' && p === '/api/dns/blocking') return send(res, 200, { blocking: opts.blocking ?? 'enabled', timer: null });
    if (req.method === 'GET' && p === '/api/stats/summary')
      return send(res, 200, {
        queries: { total: 7497, blocked: 900, percent_blocked: 12.0, unique_domains: 445, forwarded: 4574, cached: 2023, frequency: 1.1, types: { A: 3643, AAAA: 123 }, status: { GRAVITY: 900 }, replies: { NODATA: 72 } },
        clients: { active: 10, total: 22 },
        gravity: { domains_being_blocked: 104756, last_update: Math.floor(t0 / 1000) - 2 * 86400 },
      });
    if (req.method === 'GET' && p === '/api/config/dns/hosts') return send(res, 200, { config: { dns: { hosts } } });
    if (req.method === 'GET' && p === '/api/config/dns/cnameRecords') return send(res, 200, { config: { dns: { cnameRecords: cnames } } });
    const m = /^\/api\/config\/dns\/(hosts|cnameRecords)\/([^/]+)$/.exec(p);
    if (m && (req.method === 'PUT' || req.method === 'DELETE')) {
      const list = m[1] === 'hosts' ? hosts : cnames;
      const item = decodeURIComponent(m[2]!);
      const i = list.indexOf(item);
      if (req.method === 'PUT') {
        if (i >= 0) return error(res, 400, 'bad_request', 'Item already present', 'Uniqueness of items is enforced');
        list.push(item);
        return send(res, 201, {});
      }
      if (i < 0) return send(res, 404, {});
      list.splice(i, 1);
      return send(res, 204);
    }
    return undefined;
  }

  const server: Server = createServer(delayed((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const entry: FakePiholeRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0 };
      log.push(entry);
      const status = route(req, url, Buffer.concat(chunks).toString(), res);
      if (status === undefined) {
        entry.status = 404;
        error(res, 404, 'not_found', 'Not found');
        (entry as FakePiholeRequest & { unknown?: boolean }).unknown = true;
      } else entry.status = status;
    });
  }, opts.delayMs));
  const { port, stop } = await serveLoopback(server, opts.port);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    hosts,
    cnames,
    logins: () => logins,
    logouts: () => logouts,
    sessions: () => sessions.size,
    expireSessions: () => sessions.clear(),
    requests: () => log,
    unknown: () => log.filter((r) => (r as FakePiholeRequest & { unknown?: boolean }).unknown),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
