/**
 * Caddy's admin API (shared/reference/service-apis.md §8a): `GET /config/[path]` and
 * `GET /reverse_proxy/upstreams`. Errors are `{"error":"..."}`; a path that does not exist is a
 * 400 "invalid traversal path". Read-only: this client never POSTs, PATCHes or loads.
 *
 * @example
 * const caddy = createCaddyClient({ name: 'proxy1', url: 'http://127.0.0.1:2019', http, timeoutMs: 10_000 });
 * const servers = await caddy.config('apps/http/servers');
 */
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient } from '@homelab-mcp/core/http';

/** Largest config or upstream list read (a Caddy config with thousands of routes is a few MB). */
export const MAX_CADDY_BYTES = 4 * 1024 * 1024;

/** One upstream as `/reverse_proxy/upstreams` counts it. */
export interface CaddyUpstream {
  address: string;
  numRequests: number;
  /** Recent failures; counted only where the route sets `health_checks.passive` (`fail_duration`). */
  fails: number;
}

export interface CaddyClient {
  name: string;
  /** `host:port` of the admin API, for messages. */
  host: string;
  /** The JSON at `path` of the running config (`null` when nothing is there yet). */
  config(path?: string, signal?: AbortSignal): Promise<unknown>;
  upstreams(signal?: AbortSignal): Promise<CaddyUpstream[]>;
}

export interface CaddyClientOptions {
  name: string;
  url: string;
  http: HttpClient;
  timeoutMs: number;
  headers?: Record<string, string>;
}

/** A config path as Caddy's API takes it: segments of letters, digits, `_`, `-`, `.`, `@`, none starting with a dot (no `..`). */
export const CADDY_PATH = /^[A-Za-z0-9_@-][A-Za-z0-9_.@-]*(\/[A-Za-z0-9_@-][A-Za-z0-9_.@-]*)*$/;

export function createCaddyClient(opts: CaddyClientOptions): CaddyClient {
  const base = new URL(opts.url);
  const host = base.host;
  const root = base.href.replace(/\/+$/, '');
  async function get(path: string, signal?: AbortSignal): Promise<unknown> {
    const res = await opts.http.request({ url: `${root}${path}`, headers: { accept: 'application/json', ...opts.headers }, timeoutMs: opts.timeoutMs, maxBytes: MAX_CADDY_BYTES, ...(signal ? { signal } : {}) });
    if (res.status === 200) return res.json();
    let why = `HTTP ${res.status}`;
    try {
      const e = res.json<{ error?: unknown }>();
      if (typeof e?.error === 'string') why = e.error.slice(0, 300);
    } catch {
      // not JSON: the status says enough
    }
    throw Object.assign(new HomelabError('UPSTREAM_ERROR', `Caddy ${opts.name} at ${host}: ${why}`), { status: res.status });
  }
  return {
    name: opts.name,
    host,
    async config(path = '', signal) {
      if (path && !CADDY_PATH.test(path)) throw new HomelabError('INVALID_ARGUMENTS', `path: expected a config path such as apps/http/servers (letters, digits, "_", "-", ".", "@" between "/"), got ${JSON.stringify(path.slice(0, 100))}`);
      return get(`/config/${path}`, signal);
    },
    async upstreams(signal) {
      const list = await get('/reverse_proxy/upstreams', signal);
      if (!Array.isArray(list)) return [];
      return list.map((u: { address?: unknown; num_requests?: unknown; fails?: unknown }) => ({ address: String(u.address ?? ''), numRequests: Number(u.num_requests ?? 0), fails: Number(u.fails ?? 0) }));
    },
  };
}
