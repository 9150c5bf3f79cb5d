/**
 * A small client for Prometheus' HTTP API (`/api/v1/*`, `/-/ready`; see
 * shared/reference/service-apis.md §6). Every request goes through the core HTTP helper, so it
 * has a deadline and a bounded body and is audited. The API's error envelope
 * (`{"status":"error","errorType":"bad_data","error":"..."}`) becomes a {@link PrometheusError}
 * whose message a person can act on; an unreachable Prometheus an `UPSTREAM_UNAVAILABLE` error
 * naming the host.
 *
 * @example
 * const prom = createPrometheusClient({ url: 'http://127.0.0.1:9090', http: createHttpClient() });
 * const firing = (await prom.alerts()).filter((a) => a.state === 'firing');
 */
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpClient, type HttpResponse } from '@homelab-mcp/core/http';

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  /** RFC3339: since when the alert is active (pending, then firing). */
  activeAt?: string;
  /** The expression's value when last evaluated, as Prometheus prints it (`1e+00`). */
  value?: string;
}

export interface PromTarget {
  job: string;
  instance: string;
  health: 'up' | 'down' | 'unknown';
  /** Empty when the last scrape worked. */
  lastError: string;
  scrapeUrl: string;
  scrapePool?: string;
  labels?: Record<string, string>;
  /** RFC3339; Prometheus reports 0001-01-01T00:00:00Z before the first scrape. */
  lastScrape?: string;
  lastScrapeDuration?: number;
}

export interface PromQueryResult {
  resultType: string;
  result: unknown[];
  warnings?: string[];
}

export interface PrometheusClient {
  alerts(signal?: AbortSignal): Promise<PromAlert[]>;
  targets(signal?: AbortSignal): Promise<PromTarget[]>;
  /** An instant query; `time` as Prometheus takes it (RFC3339 or Unix seconds), default now. */
  query(promql: string, opts?: { time?: string; signal?: AbortSignal }): Promise<PromQueryResult>;
  /** A range query: `start`/`end` as Dates or Prometheus times, `step` in seconds or as a duration (`30s`). */
  queryRange(promql: string, opts: { start: Date | string; end: Date | string; step: number | string; signal?: AbortSignal }): Promise<PromQueryResult>;
  /**
   * true when `/-/ready` answers 200, false when Prometheus answers that it is not ready (503
   * while starting or stopping); rejects with an `UPSTREAM_UNAVAILABLE` error when unreachable.
   */
  ready(signal?: AbortSignal): Promise<boolean>;
  /** `host:port`, for messages. */
  readonly host: string;
}

export interface PrometheusClientOptions {
  /** Base URL, e.g. `http://prometheus:9090` (a path prefix such as `/prometheus` is kept). */
  url: string;
  headers?: Record<string, string>;
  http: HttpClient;
  /** Per request; default 15 s. */
  timeoutMs?: number;
  /** Largest answer read; default 8 MiB. */
  maxBytes?: number;
}

/** Prometheus answered with its error envelope. */
export class PrometheusError extends HomelabError {
  readonly errorType: string;
  readonly error: string;
  readonly status: number;
  constructor(status: number, errorType: string, error: string) {
    super('PROMETHEUS_ERROR', `${PROM_ERROR_WORDS[errorType] ?? `Prometheus answered with an error (${errorType})`}: ${error}`);
    this.name = 'PrometheusError';
    this.errorType = errorType;
    this.error = error;
    this.status = status;
  }
}

// errorType values from web/api/v1/api.go, in words.
const PROM_ERROR_WORDS: Record<string, string> = {
  bad_data: 'Prometheus rejected the query (bad_data)',
  execution: 'Prometheus could not evaluate the query (execution)',
  timeout: 'Prometheus timed out evaluating the query (timeout)',
  canceled: 'Prometheus cancelled the query (canceled)',
  internal: 'Prometheus failed internally (internal)',
  unavailable: 'Prometheus is unavailable (unavailable)',
  not_found: 'Prometheus does not know this (not_found)',
};

interface Envelope<T> {
  status?: string;
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

export function createPrometheusClient(opts: PrometheusClientOptions): PrometheusClient {
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    throw new HomelabError('CONFIG_INVALID', 'integrations.prometheus.url is not a URL');
  }
  const host = base.host;
  const prefix = base.pathname.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
  const urlFor = (path: string) => {
    const u = new URL(base);
    u.pathname = prefix + path;
    u.search = '';
    u.hash = '';
    return u;
  };

  async function send(method: 'GET' | 'POST', path: string, params: URLSearchParams | undefined, signal?: AbortSignal): Promise<HttpResponse> {
    const url = urlFor(path);
    if (method === 'GET' && params) url.search = params.toString();
    try {
      return await opts.http.request({
        method,
        url,
        headers: { accept: 'application/json', ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...opts.headers },
        ...(method === 'POST' && params ? { body: params.toString() } : {}),
        timeoutMs,
        maxBytes,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw unreachable(err);
    }
  }

  function unreachable(err: unknown): unknown {
    if (!isHttpError(err)) return err;
    switch (err.reason) {
      case 'unreachable':
        return new HomelabError('UPSTREAM_UNAVAILABLE', `Prometheus at ${host} is unreachable: ${err.detail}`, { cause: err });
      case 'timeout':
        return new HomelabError('UPSTREAM_TIMEOUT', `Prometheus at ${host} did not answer: ${err.detail}`, { cause: err });
      case 'too_large':
        return new HomelabError('RESULT_TOO_LARGE', `Prometheus' answer is larger than ${maxBytes} bytes: narrow the query (more label matchers, topk(), a shorter range or a larger step)`, { cause: err });
      case 'aborted':
        return new HomelabError('CANCELLED', 'the request to Prometheus was cancelled', { cause: err });
      default:
        return new HomelabError('UPSTREAM_ERROR', `Prometheus at ${host}: ${err.detail}`, { cause: err });
    }
  }

  /** The `data` of a successful envelope; the envelope's error as a PrometheusError. */
  async function api<T>(method: 'GET' | 'POST', path: string, params: URLSearchParams | undefined, signal?: AbortSignal): Promise<{ data: T; warnings?: string[] }> {
    const res = await send(method, path, params, signal);
    let env: Envelope<T> | undefined;
    try {
      env = JSON.parse(res.text()) as Envelope<T>;
    } catch {
      env = undefined;
    }
    if (env && env.status === 'error') throw new PrometheusError(res.status, env.errorType ?? 'unknown', env.error ?? '(no message)');
    if (res.status !== 200 || !env || env.status !== 'success') {
      // A proxy in front (401, 502) or not Prometheus at all.
      const text = res.text().replace(/\s+/g, ' ').trim().slice(0, 200);
      throw new HomelabError('UPSTREAM_ERROR', `Prometheus at ${host} answered HTTP ${res.status}${text ? `: ${text}` : ''}`);
    }
    return { data: env.data as T, ...(env.warnings?.length ? { warnings: env.warnings } : {}) };
  }

  // Prometheus stops evaluating at its own `timeout` parameter; ask for a little less than ours
  // so that a slow query ends as Prometheus' clear timeout error rather than our cut connection.
  const evalTimeout = `${Math.max(1, Math.floor((timeoutMs - 500) / 1000))}s`;
  const asPromTime = (t: Date | string) => (t instanceof Date ? (t.getTime() / 1000).toFixed(3) : t);

  return {
    host,
    async alerts(signal) {
      const { data } = await api<{ alerts?: PromAlert[] }>('GET', '/api/v1/alerts', undefined, signal);
      return (data?.alerts ?? []).map((a) => ({
        labels: a.labels ?? {},
        annotations: a.annotations ?? {},
        state: a.state,
        ...(a.activeAt ? { activeAt: a.activeAt } : {}),
        ...(a.value !== undefined ? { value: a.value } : {}),
      }));
    },
    async targets(signal) {
      type Raw = { labels?: Record<string, string>; scrapePool?: string; scrapeUrl?: string; lastError?: string; health?: string; lastScrape?: string; lastScrapeDuration?: number };
      const { data } = await api<{ activeTargets?: Raw[] }>('GET', '/api/v1/targets', new URLSearchParams({ state: 'active' }), signal);
      return (data?.activeTargets ?? []).map((t) => ({
        job: t.labels?.job ?? t.scrapePool ?? '',
        instance: t.labels?.instance ?? '',
        health: t.health === 'up' || t.health === 'down' ? t.health : 'unknown',
        lastError: t.lastError ?? '',
        scrapeUrl: t.scrapeUrl ?? '',
        ...(t.scrapePool ? { scrapePool: t.scrapePool } : {}),
        ...(t.labels ? { labels: t.labels } : {}),
        ...(t.lastScrape ? { lastScrape: t.lastScrape } : {}),
        ...(typeof t.lastScrapeDuration === 'number' ? { lastScrapeDuration: t.lastScrapeDuration } : {}),
      }));
    },
    async query(promql, o = {}) {
      // POST: a long expression never meets a URL length limit.
      const params = new URLSearchParams({ query: promql, timeout: evalTimeout });
      if (o.time) params.set('time', o.time);
      const { data, warnings } = await api<{ resultType: string; result: unknown }>('POST', '/api/v1/query', params, o.signal);
      return toResult(data, warnings);
    },
    async queryRange(promql, o) {
      const params = new URLSearchParams({ query: promql, start: asPromTime(o.start), end: asPromTime(o.end), step: String(o.step), timeout: evalTimeout });
      const { data, warnings } = await api<{ resultType: string; result: unknown }>('POST', '/api/v1/query_range', params, o.signal);
      return toResult(data, warnings);
    },
    async ready(signal) {
      const res = await send('GET', '/-/ready', undefined, signal);
      return res.status === 200;
    },
  };
}

function toResult(data: { resultType: string; result: unknown } | undefined, warnings?: string[]): PromQueryResult {
  const resultType = data?.resultType ?? 'unknown';
  // Scalars and strings come as one [time, value] pair, not a list: keep them as a list of one.
  const result = Array.isArray(data?.result) ? data.result : data?.result === undefined ? [] : [data.result];
  return { resultType, result, ...(warnings ? { warnings } : {}) };
}
