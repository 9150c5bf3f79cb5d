/**
 * A small client for Graylog's REST API (`/api/`, shared/reference/peer-servers.md §4.5): an
 * access token sent as HTTP Basic with the token as user and `token` as password, the
 * `X-Requested-By` header on every POST (Graylog's CSRF guard refuses a POST without it), and
 * Graylog's errors in words a person acts on: a rejected token names its config key, a query
 * Graylog cannot parse says so with Graylog's own message.
 *
 * @example
 * const gl = createGraylogClient({ url: 'https://graylog.lan:9000', token, http, timeoutMs: 15_000 });
 * const system = await gl.get('/system');
 */
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient, HttpResponse } from '@homelab-mcp/core/http';

/** Largest answer read (a page of 1000 messages with long lines is a few MB). */
export const MAX_GRAYLOG_BYTES = 8 * 1024 * 1024;

/** A Graylog API error with the status and Graylog's own message. */
export class GraylogError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(status === 401 ? 'AUTH_REJECTED' : 'UPSTREAM_ERROR', message);
    this.name = 'GraylogError';
    this.status = status;
  }
}

export interface GraylogClient {
  host: string;
  get<T = unknown>(path: string, query?: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<T>;
  post<T = unknown>(path: string, body: unknown, signal?: AbortSignal): Promise<T>;
}

export interface GraylogClientOptions {
  url: string;
  token: string;
  http: HttpClient;
  timeoutMs: number;
  /** The config key of the token, named when Graylog rejects it. */
  tokenKey?: string;
}

export function createGraylogClient(opts: GraylogClientOptions): GraylogClient {
  const base = new URL(opts.url);
  const host = base.host;
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/api$/, '')}/api`;
  const authorization = `Basic ${Buffer.from(`${opts.token}:token`).toString('base64')}`;
  const tokenKey = opts.tokenKey ?? 'integrations.graylog.token';

  function fail(res: HttpResponse, path: string): never {
    let message = '';
    try {
      const body = res.json<{ message?: unknown }>();
      if (typeof body?.message === 'string') message = body.message.trim().slice(0, 400);
    } catch {
      message = res.text().slice(0, 200).trim();
    }
    if (res.status === 401) throw new GraylogError(401, `Graylog at ${host} rejected the access token (${tokenKey})`);
    if (res.status === 403) throw new GraylogError(403, `Graylog at ${host} refused ${path}: ${message || 'forbidden'} (the token's user lacks that permission)`);
    if (res.status === 400 && path === '/search/messages') throw new GraylogError(400, `Graylog rejected the search: ${message || 'bad request'}`);
    if (res.status === 404) throw new GraylogError(404, `Graylog at ${host} has no ${path} (${message || 'Not Found'}; the search needs Graylog 5.1 or later)`);
    throw new GraylogError(res.status, `Graylog at ${host}: HTTP ${res.status}${message ? `: ${message}` : ''}`);
  }

  async function call<T>(method: 'GET' | 'POST', path: string, query: Record<string, string | number | undefined> | undefined, body: unknown, signal?: AbortSignal): Promise<T> {
    const url = new URL(`${root}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization, accept: 'application/json' };
    if (method === 'POST') {
      headers['x-requested-by'] = 'homelab-mcp';
      headers['content-type'] = 'application/json';
    }
    const res = await opts.http.request({ method, url, headers, ...(method === 'POST' ? { body: JSON.stringify(body) } : {}), timeoutMs: opts.timeoutMs, maxBytes: MAX_GRAYLOG_BYTES, ...(signal ? { signal } : {}) });
    if (res.status !== 200) fail(res, path);
    return res.json<T>();
  }

  return {
    host,
    get: (path, query, signal) => call('GET', path, query, undefined, signal),
    post: (path, body, signal) => call('POST', path, undefined, body, signal),
  };
}
