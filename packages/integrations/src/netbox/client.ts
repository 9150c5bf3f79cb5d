/**
 * A small client for NetBox's REST API (`/api/`, shared/reference/service-apis.md §8b): v2
 * tokens (`nbt_<key>.<token>`, sent as `Bearer`) and v1 tokens (40 hex digits, sent as
 * `Token`), trailing slashes always (without one NetBox answers a 302), and NetBox's errors in
 * words a person acts on: its auth errors are 403, not 401, so a rejected token is told apart
 * from a missing permission by its message, and a 400 names the filter NetBox refused.
 *
 * Lists are read one page at a time with `count` for the total: the `next` links are not
 * followed, since NetBox behind a proxy often writes them with its inside scheme and host.
 *
 * @example
 * const nb = createNetboxClient({ url: 'https://netbox.lan', token, http, timeoutMs: 10_000 });
 * const { count, results } = await nb.list('dcim/devices', { site: 'home' }, 50);
 */
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient, HttpResponse } from '@homelab-mcp/core/http';

/** Largest page read (1000 full device objects are a few MB). */
export const MAX_NETBOX_BYTES = 8 * 1024 * 1024;

/**
 * A NetBox API error. `status` is set (401) only when NetBox rejected the token, so the link
 * counts it as a rejected credential; a 403 for a missing permission is the request's own.
 */
export class NetboxError extends HomelabError {
  readonly status: number | undefined;
  readonly httpStatus: number;
  /** A 400's refusals by filter: `{ site: ['Select a valid choice. x is not one of the available choices.'] }`. */
  fields?: Record<string, string[]>;
  constructor(httpStatus: number, message: string, rejected = false) {
    super(rejected ? 'AUTH_REJECTED' : 'UPSTREAM_ERROR', message);
    this.name = 'NetboxError';
    this.httpStatus = httpStatus;
    this.status = rejected ? 401 : undefined;
  }
}

export interface NetboxList<T> {
  count: number;
  results: T[];
}

export interface NetboxClient {
  host: string;
  /** NetBox's web base (`https://netbox.lan`), for links in answers. */
  base: string;
  /** One page of `/api/<kind>/` (`dcim/devices`), the first `limit` items (at most 1000). */
  list<T = Record<string, unknown>>(kind: string, query: Record<string, string | number | undefined>, limit: number, signal?: AbortSignal): Promise<NetboxList<T>>;
}

export interface NetboxClientOptions {
  url: string;
  token: string;
  http: HttpClient;
  timeoutMs: number;
  /** The config key of the token, named when NetBox rejects it. */
  tokenKey?: string;
}

/** The Authorization header for a token: v2 `nbt_...` as Bearer, anything else as a v1 Token. */
export function netboxAuthorization(token: string): string {
  return token.startsWith('nbt_') ? `Bearer ${token}` : `Token ${token}`;
}

export function createNetboxClient(opts: NetboxClientOptions): NetboxClient {
  const url = new URL(opts.url);
  const host = url.host;
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/api$/, '')}`;
  const tokenKey = opts.tokenKey ?? 'integrations.netbox.token';
  const authorization = netboxAuthorization(opts.token);

  function fail(res: HttpResponse, kind: string): never {
    let body: unknown;
    try {
      body = res.json();
    } catch {
      body = undefined;
    }
    const detail = typeof (body as { detail?: unknown } | undefined)?.detail === 'string' ? ((body as { detail: string }).detail.trim().slice(0, 200)) : '';
    if (res.status === 401 || (res.status === 403 && /token|credential|authenticat/i.test(detail))) throw new NetboxError(res.status, `NetBox at ${host} rejected the API token (${tokenKey})${detail ? `: ${detail}` : ''}`, true);
    if (res.status === 403) throw new NetboxError(403, `NetBox at ${host} refused ${kind}: ${detail || 'permission denied'} (the token's user lacks the view permission)`);
    if (res.status === 400 && body && typeof body === 'object') {
      const fields = Object.entries(body as Record<string, unknown>).map(([k, v]) => `${k}: ${(Array.isArray(v) ? v : [v]).map(String).join(' ')}`);
      const err = new NetboxError(400, `NetBox at ${host} refused the filter: ${fields.join('; ').slice(0, 400)}`);
      err.fields = Object.fromEntries(Object.entries(body as Record<string, unknown>).map(([k, v]) => [k, (Array.isArray(v) ? v : [v]).map(String)]));
      throw err;
    }
    if (res.status === 404) throw new NetboxError(404, `NetBox at ${host} has no API at ${base}/api/${kind}/ (${detail || 'Not Found'}; is the url NetBox's base URL?)`);
    if (res.status >= 300 && res.status < 400) throw new NetboxError(res.status, `NetBox at ${host} redirected to ${res.headers.location ?? 'elsewhere'}: is the url NetBox's base URL (with https if it redirects to it)?`);
    throw new NetboxError(res.status, `NetBox at ${host}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
  }

  return {
    host,
    base,
    async list<T>(kind: string, query: Record<string, string | number | undefined>, limit: number, signal?: AbortSignal): Promise<NetboxList<T>> {
      const u = new URL(`${base}/api/${kind}/`);
      for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
      u.searchParams.set('limit', String(Math.max(1, Math.min(1000, limit))));
      const res = await opts.http.request({ url: u, headers: { authorization, accept: 'application/json' }, timeoutMs: opts.timeoutMs, maxBytes: MAX_NETBOX_BYTES, ...(signal ? { signal } : {}) });
      if (res.status !== 200) fail(res, kind);
      const body = res.json<{ count?: number; results?: T[] }>();
      return { count: Number(body.count ?? body.results?.length ?? 0), results: body.results ?? [] };
    },
  };
}
