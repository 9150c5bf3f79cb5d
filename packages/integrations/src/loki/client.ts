/**
 * A small client for Grafana Loki's query API (`/loki/api/v1/query_range`, `/ready`; see
 * shared/reference/service-apis.md §5). Loki's errors are plain text (`parse error at line 1,
 * col 3: ...`), not Prometheus' JSON envelope; they become {@link LokiError}s with that text.
 * Every request goes through the core HTTP helper (deadline, bounded body, audited).
 *
 * @example
 * const loki = createLokiClient({ url: 'http://127.0.0.1:3100', tenant: 'homelab', http: createHttpClient() });
 * const streams = await loki.queryRange({ logql: '{job="nginx"} |= "error"', limit: 50 });
 */
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpClient, type HttpResponse } from '@homelab-mcp/core/http';

export interface LokiStream {
  labels: Record<string, string>;
  /** In the order Loki returned them (newest first for `backward`). */
  entries: Array<{ ts: string /* Unix ns */; line: string }>;
}

export interface LokiQuery {
  logql: string;
  /** Default: an hour before `end`. */
  start?: Date;
  /** Default: now. */
  end?: Date;
  /** Entries over all streams; default 100 (Loki's default limit; its own cap is usually 5000). */
  limit?: number;
  /** Default `backward`: newest first. */
  direction?: 'backward' | 'forward';
}

export interface LokiClient {
  queryRange(q: LokiQuery, signal?: AbortSignal): Promise<LokiStream[]>;
  /**
   * true when `/ready` answers 200, false when Loki answers that it is not ready (503);
   * rejects with an `UPSTREAM_UNAVAILABLE` error when unreachable.
   */
  ready(signal?: AbortSignal): Promise<boolean>;
  /** `host:port`, for messages. */
  readonly host: string;
}

export interface LokiClientOptions {
  /** Base URL, e.g. `http://loki:3100` (a path prefix is kept). */
  url: string;
  /** `X-Scope-OrgID` for a multi-tenant Loki (`t1|t2` queries several). */
  tenant?: string;
  headers?: Record<string, string>;
  http: HttpClient;
  /** Per request; default 15 s. */
  timeoutMs?: number;
  /** Largest answer read; default 16 MiB. */
  maxBytes?: number;
}

/** Loki answered a query with an error status; `text` is its (plain-text) message. */
export class LokiError extends HomelabError {
  readonly status: number;
  readonly text: string;
  constructor(status: number, text: string, message: string) {
    super('LOKI_ERROR', message);
    this.name = 'LokiError';
    this.status = status;
    this.text = text;
  }
}

export function createLokiClient(opts: LokiClientOptions): LokiClient {
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    throw new HomelabError('CONFIG_INVALID', 'the Loki URL is not a URL');
  }
  const host = base.host;
  const prefix = base.pathname.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  const headers: Record<string, string> = { ...opts.headers, ...(opts.tenant ? { 'x-scope-orgid': opts.tenant } : {}) };

  async function get(path: string, params: URLSearchParams | undefined, signal?: AbortSignal): Promise<HttpResponse> {
    const url = new URL(base);
    url.pathname = prefix + path;
    url.search = params ? params.toString() : '';
    url.hash = '';
    try {
      return await opts.http.request({ url, headers, timeoutMs, maxBytes, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (!isHttpError(err)) throw err;
      if (err.reason === 'unreachable') throw new HomelabError('UPSTREAM_UNAVAILABLE', `Loki at ${host} is unreachable: ${err.detail}`, { cause: err });
      if (err.reason === 'timeout') throw new HomelabError('UPSTREAM_TIMEOUT', `Loki at ${host} did not answer: ${err.detail}`, { cause: err });
      if (err.reason === 'too_large') throw new HomelabError('RESULT_TOO_LARGE', `Loki's answer is larger than ${maxBytes} bytes: lower the limit or narrow the query`, { cause: err });
      if (err.reason === 'aborted') throw new HomelabError('CANCELLED', 'the request to Loki was cancelled', { cause: err });
      throw new HomelabError('UPSTREAM_ERROR', `Loki at ${host}: ${err.detail}`, { cause: err });
    }
  }

  /** Loki's error text (plain; some proxies send JSON with `message`), one line, capped. */
  function errorText(res: HttpResponse): string {
    let text = res.text();
    try {
      const j = JSON.parse(text) as { message?: unknown; error?: unknown };
      if (typeof j.message === 'string') text = j.message;
      else if (typeof j.error === 'string') text = j.error;
    } catch {
      // plain text, as Loki writes it
    }
    return text.replace(/\s+/g, ' ').trim().slice(0, 500);
  }

  const ns = (d: Date) => `${BigInt(d.getTime()) * 1_000_000n}`;

  return {
    host,
    async queryRange(q, signal) {
      const end = q.end ?? new Date();
      const start = q.start ?? new Date(end.getTime() - 3600_000);
      const params = new URLSearchParams({ query: q.logql, start: ns(start), end: ns(end), limit: String(q.limit ?? 100), direction: q.direction ?? 'backward' });
      const res = await get('/loki/api/v1/query_range', params, signal);
      if (res.status !== 200) {
        const text = errorText(res);
        if (res.status === 400) throw new LokiError(400, text, `Loki rejected the query: ${text}`);
        if (res.status === 401 && /no org id/i.test(text)) throw new LokiError(401, text, `Loki at ${host} wants a tenant (no org id): set the tenant in the Loki config`);
        throw new LokiError(res.status, text, `Loki at ${host} answered HTTP ${res.status}${text ? `: ${text}` : ''}`);
      }
      const body = res.json<{ status?: string; data?: { resultType?: string; result?: Array<{ stream?: Record<string, string>; values?: Array<[string, string]> }> } }>();
      if (body.status !== 'success' || !Array.isArray(body.data?.result)) throw new HomelabError('UPSTREAM_ERROR', `Loki at ${host} answered something that is not a query result`);
      if (body.data.resultType !== 'streams') {
        throw new LokiError(400, `resultType ${body.data.resultType}`, `query_logs takes a log query ({selector} |= "text"); this is a metric query (result: ${body.data.resultType})`);
      }
      return body.data.result.map((s) => ({ labels: s.stream ?? {}, entries: (s.values ?? []).map(([ts, line]) => ({ ts: String(ts), line: String(line) })) }));
    },
    async ready(signal) {
      const res = await get('/ready', undefined, signal);
      return res.status === 200;
    },
  };
}
