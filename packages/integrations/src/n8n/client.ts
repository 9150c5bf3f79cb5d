/**
 * A small client for n8n's public API (`/api/v1`, shared/reference/service-apis.md §8c): the
 * `X-N8N-API-KEY` header, cursor pagination (`nextCursor`), string workflow ids, and n8n's
 * errors in words a person acts on: a rejected key names its config key, a 404 on the API root
 * says the public API may be disabled.
 *
 * @example
 * const n8n = createN8nClient({ url: 'http://n8n.lan:5678', apiKey, http, timeoutMs: 10_000 });
 * const { items } = await n8n.list<N8nWorkflow>('/workflows', { active: 'true' }, { max: 500 });
 */
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient, HttpResponse } from '@homelab-mcp/core/http';

/** Largest page read (250 workflows with their nodes can be a few MB). */
export const MAX_N8N_BYTES = 8 * 1024 * 1024;
/** n8n's largest page size. */
export const N8N_PAGE = 250;

export interface N8nWorkflow {
  id: string;
  name: string;
  active: boolean;
  isArchived?: boolean;
  updatedAt?: string;
  tags?: Array<{ id: string; name: string }>;
}

export type N8nExecutionStatus = 'canceled' | 'crashed' | 'error' | 'new' | 'running' | 'success' | 'unknown' | 'waiting';

export interface N8nExecution {
  /** A number in n8n's spec, a string in some versions: kept as n8n sends it. */
  id: number | string;
  finished?: boolean;
  mode?: string;
  startedAt?: string | null;
  stoppedAt?: string | null;
  /** The spec types it as a number; real instances send string ids. */
  workflowId: string | number;
  status: N8nExecutionStatus | string;
  retryOf?: string | number | null;
  data?: { resultData?: { lastNodeExecuted?: string; error?: { message?: string; node?: { name?: string } } } };
}

/** An n8n API error with the status and n8n's own message. */
export class N8nError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(status === 401 ? 'AUTH_REJECTED' : 'UPSTREAM_ERROR', message);
    this.name = 'N8nError';
    this.status = status;
  }
}

export interface N8nClient {
  host: string;
  get<T = unknown>(path: string, query?: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<T>;
  /**
   * The items of a list, page after page (`nextCursor`) until `max` items: `more` says there
   * were more than that.
   */
  list<T>(path: string, query: Record<string, string | number | undefined>, opts: { max: number; signal?: AbortSignal | undefined; until?: (item: T) => boolean }): Promise<{ items: T[]; more: boolean }>;
}

export interface N8nClientOptions {
  url: string;
  apiKey: string;
  http: HttpClient;
  timeoutMs: number;
  /** The config key of the API key, named when n8n rejects it. */
  apiKeyKey?: string;
}

/** The failed states of an execution. */
export const FAILED_STATUSES: ReadonlySet<string> = new Set(['error', 'crashed']);

export function createN8nClient(opts: N8nClientOptions): N8nClient {
  const base = new URL(opts.url);
  const host = base.host;
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '')}/api/v1`;
  const keyName = opts.apiKeyKey ?? 'integrations.n8n.apiKey';

  function fail(res: HttpResponse, path: string): never {
    let message = '';
    try {
      const body = res.json<{ message?: unknown }>();
      if (typeof body?.message === 'string') message = body.message.trim().slice(0, 300);
    } catch {
      message = res.text().slice(0, 200).trim();
    }
    if (res.status === 401 || res.status === 403) throw new N8nError(res.status, `n8n at ${host} rejected the API key (${keyName})`);
    if (res.status === 404 && (path === '/workflows' || path === '/executions')) throw new N8nError(404, `n8n at ${host} has no public API at ${root} (is it disabled with N8N_PUBLIC_API_DISABLED?)`);
    if (res.status === 404) throw new N8nError(404, `n8n at ${host}: ${path.split('/')[1]?.replace(/s$/, '') ?? 'object'} ${decodeURIComponent(path.split('/')[2] ?? '')} not found`);
    throw new N8nError(res.status, `n8n at ${host}: HTTP ${res.status}${message ? `: ${message}` : ''}`);
  }

  async function get<T>(path: string, query: Record<string, string | number | undefined> | undefined, signal?: AbortSignal): Promise<T> {
    const url = new URL(`${root}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const res = await opts.http.request({ url, headers: { 'x-n8n-api-key': opts.apiKey, accept: 'application/json' }, timeoutMs: opts.timeoutMs, maxBytes: MAX_N8N_BYTES, ...(signal ? { signal } : {}) });
    if (res.status !== 200) fail(res, path);
    return res.json<T>();
  }

  return {
    host,
    get: (path, query, signal) => get(path, query, signal),
    async list<T>(path: string, query: Record<string, string | number | undefined>, o: { max: number; signal?: AbortSignal | undefined; until?: (item: T) => boolean }) {
      const items: T[] = [];
      let cursor: string | undefined;
      // A broken or hostile n8n that answers empty pages with a cursor forever must not keep
      // the call (and service_health) going: at most the pages `max` needs, plus one.
      const maxPages = Math.ceil(o.max / N8N_PAGE) + 1;
      const seen = new Set<string>();
      for (let pages = 1; ; pages++) {
        const page = await get<{ data?: T[]; nextCursor?: string | null }>(path, { ...query, limit: Math.min(N8N_PAGE, o.max - items.length), cursor }, o.signal);
        for (const item of page.data ?? []) {
          if (o.until?.(item)) return { items, more: false };
          if (items.length === o.max) return { items, more: true };
          items.push(item);
        }
        if (!page.nextCursor) return { items, more: false };
        if (items.length >= o.max) return { items, more: true };
        if (!page.data?.length || pages >= maxPages || seen.has(page.nextCursor)) return { items, more: true };
        seen.add(page.nextCursor);
        cursor = page.nextCursor;
      }
    },
  };
}
