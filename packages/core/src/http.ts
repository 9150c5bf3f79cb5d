/**
 * The one outbound-HTTP helper: every request an integration (or probe) makes goes through
 * `createHttpClient().request()`, so that each has a deadline, a bounded body, an error that
 * names the host and what failed (never credentials or a query string), and one report to
 * `onRequest`, which the hub turns into an `http_request` audit event. It uses global fetch, so
 * msw-style interception and the fakes in tests see every request.
 *
 * @example
 * const http = createHttpClient({ onRequest: (r) => audit(r) });
 * const res = await http.request({ url: 'http://prom:9090/api/v1/alerts', timeoutMs: 10_000, maxBytes: 1 << 20 });
 * if (res.status === 200) console.log(res.json());
 */
import { HomelabError } from './errors.ts';

/**
 * `protocol//host/path`: no credentials, query or fragment. (audit-event's `safeUrl` does the
 * same, but importing it would pull zod into the edge bundle, which may use this helper.)
 */
function shownUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** What `onRequest` hears about each request, once, when it has finished or failed. */
export interface HttpRequestReport {
  method: string;
  /** The URL without credentials, query or fragment. */
  url: string;
  /** The response status, when one arrived (also set when the body then failed, e.g. too large). */
  status?: number;
  /** What failed, as in the error's message; absent on success. */
  error?: string;
  /** From the start to the end of the body (or the failure), in ms. */
  durationMs: number;
  /** The body's size as read (after any cut), on success. */
  bytes?: number;
}

export interface HttpClientOptions {
  /** Called once per request; an exception in it is ignored (it must never fail the request). */
  onRequest?: (report: HttpRequestReport) => void;
  /** Default `homelab-mcp`. */
  userAgent?: string;
  /**
   * The fetch to use; default the global one. A service with its own TLS trust (a CA file, a
   * pinned certificate) passes `tlsFetch(...)` from `@homelab-mcp/core/tls-fetch`, kept out of
   * this module so the edge bundle, which may use it, never carries undici.
   */
  fetch?: FetchLike;
}

/** The part of `fetch` the client uses. */
export type FetchLike = (url: URL, init: RequestInit) => Promise<Response>;

export interface HttpRequest {
  /** Default GET. */
  method?: string;
  /** `user:pass@` in the URL becomes a Basic `Authorization` header (fetch refuses it in the URL). */
  url: string | URL;
  headers?: Record<string, string>;
  body?: string | Uint8Array | URLSearchParams;
  /** Deadline for the whole exchange, body included. */
  timeoutMs: number;
  /** The caller's cancellation, combined with the deadline. */
  signal?: AbortSignal;
  /** Largest body read; more is an `HTTP_TOO_LARGE` error unless `truncate` is set. */
  maxBytes: number;
  /** Keep the first `maxBytes` and mark the response `truncated` instead of failing. */
  truncate?: boolean;
  /**
   * Default `manual`: a 3xx is returned as it is, so that headers such as a tenant or API key
   * never follow a redirect to another host unless the caller chooses `follow`.
   */
  redirect?: 'manual' | 'follow' | 'error';
}

export interface HttpResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Uint8Array;
  /** True when `truncate` was set and the body was longer than `maxBytes`. */
  truncated: boolean;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON; an `HTTP_BAD_RESPONSE` error naming the host when it is not JSON. */
  json<T = unknown>(): T;
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  /**
   * A client that reports to the same `onRequest` but fetches with `fetch` (a service's own TLS
   * trust). @example const pve = http.with({ fetch: tlsFetch({ fingerprint }) });
   */
  with(opts: { fetch: FetchLike }): HttpClient;
}

/** Why a request failed; also the `HttpError.code` (prefixed `HTTP_`). */
export type HttpFailure = 'timeout' | 'aborted' | 'unreachable' | 'too_large' | 'bad_response' | 'invalid_request';

/**
 * A failed request. `message` is safe for clients: `<host>: <what failed>` (no path, query or
 * credentials); `host` and `reason` let a caller phrase its own ("Prometheus at HOST is
 * unreachable: connection refused").
 */
export class HttpError extends HomelabError {
  readonly host: string;
  readonly reason: HttpFailure;
  /** The short cause: `connection refused`, `no answer within 5000 ms`, ... */
  readonly detail: string;
  readonly status?: number;
  constructor(reason: HttpFailure, host: string, detail: string, opts: { status?: number; cause?: unknown } = {}) {
    super(`HTTP_${reason.toUpperCase()}`, `${host}: ${detail}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HttpError';
    this.host = host;
    this.reason = reason;
    this.detail = detail;
    if (opts.status !== undefined) this.status = opts.status;
  }
}

export function isHttpError(err: unknown, reason?: HttpFailure): err is HttpError {
  return err instanceof HttpError && (reason === undefined || err.reason === reason);
}

// undici's connection errors (err.cause.code) in words a person reads.
const NET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed while sending',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  CERT_FINGERPRINT_MISMATCH: 'TLS certificate is not the one pinned (its SHA-256 fingerprint differs)',
  TLS_KEY_ON_HTTP: 'the URL is plain http:// but a TLS key (caFile, fingerprint, insecureTls) is set: use https://, or drop the key',
  BAD_STATUS: 'the answer has an HTTP status outside 200-599',
  UND_ERR_SOCKET: 'connection closed unexpectedly',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'the body stalled',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate chain has an untrusted self-signed certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS certificate issuer is not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host name',
};

function networkDetail(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code;
  if (code && NET_ERRORS[code]) return NET_ERRORS[code];
  if (code) return `connection failed (${code})`;
  // Never the raw message: undici's can contain the URL.
  return 'connection failed';
}

/**
 * Reads a web stream whole, or stops (and cancels it) as soon as it passes `limit` bytes:
 * undefined then. For bodies whose size a sender chooses (requests to the hub, upstreams'
 * answers), so nothing past the limit is ever held.
 *
 * @example const bytes = await readBounded(req.body, 4 << 20); if (!bytes) return tooLarge();
 */
export async function readBounded(body: ReadableStream<Uint8Array>, limit: number): Promise<Buffer | undefined> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Creates the client; one per integration is usual, each with its own `onRequest`. */
export function createHttpClient(opts: HttpClientOptions = {}): HttpClient {
  const userAgent = opts.userAgent ?? 'homelab-mcp';
  const report = (r: HttpRequestReport) => {
    try {
      opts.onRequest?.(r);
    } catch {
      // An observer never fails the request it observes.
    }
  };

  const doFetch: FetchLike = opts.fetch ?? ((url, init) => fetch(url, init));
  return {
    with: (o) => createHttpClient({ ...opts, fetch: o.fetch }),
    async request(req: HttpRequest): Promise<HttpResponse> {
      const method = (req.method ?? 'GET').toUpperCase();
      const started = performance.now();
      let url: URL;
      try {
        url = new URL(String(req.url));
      } catch {
        throw new HttpError('invalid_request', '(invalid url)', 'not a URL');
      }
      const host = url.host;
      const shown = shownUrl(url);
      let status: number | undefined;
      const fail = (err: HttpError): never => {
        report({ method, url: shown, ...(status !== undefined ? { status } : {}), error: err.detail, durationMs: performance.now() - started });
        throw err;
      };
      if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(new HttpError('invalid_request', host, `unsupported protocol ${url.protocol}`));
      if (!Number.isFinite(req.timeoutMs) || req.timeoutMs <= 0) fail(new HttpError('invalid_request', host, 'timeoutMs must be a positive number'));
      if (!Number.isInteger(req.maxBytes) || req.maxBytes < 0) fail(new HttpError('invalid_request', host, 'maxBytes must be a non-negative integer'));

      const headers: Record<string, string> = { 'user-agent': userAgent };
      for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
      if (url.username || url.password) {
        headers.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
        url.username = '';
        url.password = '';
      }

      const deadline = AbortSignal.timeout(req.timeoutMs);
      const signal = req.signal ? AbortSignal.any([deadline, req.signal]) : deadline;
      // Which of the two fired: a deadline is a timeout, the caller's signal a cancellation.
      const abortError = (cause: unknown): HttpError =>
        req.signal?.aborted && !deadline.aborted
          ? new HttpError('aborted', host, 'cancelled', { cause })
          : new HttpError('timeout', host, `no answer within ${req.timeoutMs} ms`, { cause });

      let res: Response;
      try {
        res = await doFetch(url, { method, headers, ...(req.body !== undefined ? { body: req.body } : {}), signal, redirect: req.redirect ?? 'manual' });
      } catch (err) {
        if (signal.aborted) return fail(abortError(err));
        return fail(new HttpError('unreachable', host, networkDetail(err), { cause: err }));
      }
      status = res.status;
      const resHeaders: Record<string, string> = {};
      res.headers.forEach((v, k) => (resHeaders[k] = v));

      const tooLarge = () => new HttpError('too_large', host, `the answer is larger than ${req.maxBytes} bytes`, { status: res.status });
      const declared = Number(res.headers.get('content-length'));
      if (!req.truncate && Number.isFinite(declared) && declared > req.maxBytes) {
        await res.body?.cancel().catch(() => undefined);
        return fail(tooLarge());
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      let truncated = false;
      if (res.body) {
        const reader = res.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            if (size + value.byteLength > req.maxBytes) {
              truncated = true;
              if (req.truncate) chunks.push(value.subarray(0, req.maxBytes - size));
              size = req.maxBytes;
              break;
            }
            chunks.push(value);
            size += value.byteLength;
          }
        } catch (err) {
          if (signal.aborted) return fail(abortError(err));
          return fail(new HttpError('unreachable', host, `the answer broke off: ${networkDetail(err)}`, { status: res.status, cause: err }));
        } finally {
          if (truncated) await reader.cancel().catch(() => undefined);
          reader.releaseLock();
        }
      }
      if (truncated && !req.truncate) return fail(tooLarge());
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      report({ method, url: shown, status: res.status, bytes: body.byteLength, durationMs: performance.now() - started });
      let text: string | undefined;
      const asText = () => (text ??= Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
      return {
        status: res.status,
        headers: resHeaders,
        body,
        truncated,
        text: asText,
        json<T>(): T {
          try {
            return JSON.parse(asText()) as T;
          } catch {
            throw new HttpError('bad_response', host, `the answer (HTTP ${res.status}) is not JSON`, { status: res.status });
          }
        },
      };
    },
  };
}
