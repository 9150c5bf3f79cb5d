/**
 * A client for one Pi-hole v6 (FTL's `/api`, shared/reference/service-apis.md §3). Sessions are
 * a scarce resource on Pi-hole (`webserver.api.max_sessions`, 16 by default; a client that
 * logs in per request locks everyone out with 429 `api_seats_exceeded`), so this client logs in
 * once, reuses the SID for every request (`X-FTL-SID`), logs in again exactly once when a
 * request answers 401 (the session expired or Pi-hole restarted), and logs out (`DELETE
 * /api/auth`) when it is closed, at shutdown and on reload.
 *
 * @example
 * const ns1 = createPiholeClient({ name: 'ns1', url: 'http://192.168.1.2', password, http, timeoutMs: 10_000 });
 * const hosts = await ns1.hosts();
 * await ns1.close();
 */
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient, HttpResponse } from '@homelab-mcp/core/http';

export const MAX_PIHOLE_BYTES = 4 * 1024 * 1024;

/** A Pi-hole API error; `status` 401 when the password was refused. */
export class PiholeError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(status === 401 ? 'AUTH_REJECTED' : 'UPSTREAM_ERROR', message);
    this.name = 'PiholeError';
    this.status = status;
  }
}

export interface PiholeSummary {
  queries?: { total?: number; blocked?: number; percent_blocked?: number; unique_domains?: number };
  clients?: { active?: number; total?: number };
  gravity?: { domains_being_blocked?: number; last_update?: number };
}

export interface PiholeClient {
  name: string;
  host: string;
  /** `dns.hosts`: "IP NAME [NAME...]" each. */
  hosts(signal?: AbortSignal): Promise<string[]>;
  /** `dns.cnameRecords`: "DOMAIN,TARGET[,TTL]" each. */
  cnames(signal?: AbortSignal): Promise<string[]>;
  /** Adds an item; false when it was already there. */
  addItem(list: 'hosts' | 'cnameRecords', item: string, signal?: AbortSignal): Promise<boolean>;
  /** Removes an item; false when it was not there. */
  removeItem(list: 'hosts' | 'cnameRecords', item: string, signal?: AbortSignal): Promise<boolean>;
  blocking(signal?: AbortSignal): Promise<{ blocking: string; timer: number | null }>;
  summary(signal?: AbortSignal): Promise<PiholeSummary>;
  /** Logins so far (for tests and the health line). */
  logins(): number;
  /** Logs out, if logged in. */
  close(): Promise<void>;
}

export interface PiholeClientOptions {
  name: string;
  url: string;
  password: string;
  http: HttpClient;
  timeoutMs: number;
  /** The config key of the password, named when Pi-hole refuses it. */
  passwordKey: string;
}

export function createPiholeClient(opts: PiholeClientOptions): PiholeClient {
  const base = new URL(opts.url);
  const host = base.host;
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/api$/, '')}/api`;
  const label = `Pi-hole ${opts.name} at ${host}`;
  let sid: string | null | undefined; // undefined: not logged in; null: Pi-hole has no password
  let loggingIn: Promise<string | null> | undefined;
  let logins = 0;
  let closed = false;

  const errorOf = (res: HttpResponse): string => {
    try {
      const e = res.json<{ error?: { key?: string; message?: string; hint?: string | null } }>().error;
      if (e?.message) return `${e.message}${e.hint ? ` (${e.hint})` : ''}`.slice(0, 300);
    } catch {
      // not JSON
    }
    return `HTTP ${res.status}`;
  };

  function login(signal?: AbortSignal): Promise<string | null> {
    loggingIn ??= (async () => {
      try {
        const res = await opts.http.request({ method: 'POST', url: `${root}/auth`, headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ password: opts.password }), timeoutMs: opts.timeoutMs, maxBytes: 64 * 1024, ...(signal ? { signal } : {}) });
        if (res.status === 401) throw new PiholeError(401, `${label} refused the password (${opts.passwordKey})`);
        if (res.status === 429) throw new PiholeError(429, `${label} has no free API session: ${errorOf(res)}; another client may be logging in without logging out`);
        if (res.status !== 200) throw new PiholeError(res.status, `${label}: login failed: ${errorOf(res)}`);
        const s = res.json<{ session?: { valid?: boolean; sid?: string | null } }>().session;
        if (!s?.valid) throw new PiholeError(401, `${label} refused the password (${opts.passwordKey})`);
        logins++;
        sid = s.sid ?? null;
        // Closed while logging in: give the seat back at once.
        if (closed && sid) {
          const late = sid;
          sid = undefined;
          await logout(late);
          throw new PiholeError(0, `${label}: the integration was closed (reloaded)`);
        }
        return sid;
      } finally {
        loggingIn = undefined;
      }
    })();
    return loggingIn;
  }

  async function request(method: string, path: string, ok: number[], signal?: AbortSignal): Promise<HttpResponse> {
    if (closed) throw new PiholeError(0, `${label}: the integration was closed (reloaded)`);
    for (let attempt = 0; ; attempt++) {
      const current = sid === undefined ? await login(signal) : sid;
      const res = await opts.http.request({ method, url: `${root}${path}`, headers: { accept: 'application/json', ...(current ? { 'x-ftl-sid': current } : {}) }, timeoutMs: opts.timeoutMs, maxBytes: MAX_PIHOLE_BYTES, ...(signal ? { signal } : {}) });
      // A 401 means the session ended (validity, a restart): one new login, one retry.
      if (res.status === 401 && attempt === 0) {
        if (sid === current) sid = undefined;
        continue;
      }
      if (res.status === 401) throw new PiholeError(401, `${label} refused the session right after logging in (${opts.passwordKey})`);
      if (!ok.includes(res.status)) throw new PiholeError(res.status, `${label}: ${errorOf(res)}`);
      return res;
    }
  }

  async function logout(session: string): Promise<void> {
    try {
      await opts.http.request({ method: 'DELETE', url: `${root}/auth`, headers: { 'x-ftl-sid': session }, timeoutMs: Math.min(opts.timeoutMs, 5000), maxBytes: 64 * 1024 });
    } catch {
      // Pi-hole is gone: its session ends with its validity.
    }
  }

  const itemPath = (list: 'hosts' | 'cnameRecords', item: string) => `/config/dns/${list}/${encodeURIComponent(item)}`;

  return {
    name: opts.name,
    host,
    async hosts(signal) {
      const r = await request('GET', '/config/dns/hosts', [200], signal);
      return r.json<{ config?: { dns?: { hosts?: string[] } } }>().config?.dns?.hosts ?? [];
    },
    async cnames(signal) {
      const r = await request('GET', '/config/dns/cnameRecords', [200], signal);
      return r.json<{ config?: { dns?: { cnameRecords?: string[] } } }>().config?.dns?.cnameRecords ?? [];
    },
    async addItem(list, item, signal) {
      const r = await request('PUT', itemPath(list, item), [201, 200, 400], signal);
      if (r.status !== 400) return true;
      const why = errorOf(r);
      if (/already present/i.test(why)) return false;
      throw new PiholeError(400, `${label}: ${why}`);
    },
    async removeItem(list, item, signal) {
      const r = await request('DELETE', itemPath(list, item), [204, 200, 404], signal);
      return r.status !== 404;
    },
    async blocking(signal) {
      return (await request('GET', '/dns/blocking', [200], signal)).json();
    },
    async summary(signal) {
      return (await request('GET', '/stats/summary', [200], signal)).json();
    },
    logins: () => logins,
    async close() {
      closed = true;
      const current = sid;
      sid = undefined;
      if (current) await logout(current);
      // A login in flight logs itself out when it lands (see login).
      await loggingIn?.catch(() => undefined);
    },
  };
}
