/**
 * Reading the errors the MCP SDK client throws: what kind of failure each one is (so the
 * upstream knows whether to retry, re-initialize or give up on the connection), and a short,
 * redacted reason a person can read in `list_nodes` or in a failed call.
 *
 * The SDK reports failures in many shapes: `ProtocolError` (a JSON-RPC error: the upstream is
 * alive and said no), `SdkHttpError` (a non-2xx answer, with `status`), `SdkError` with a code
 * (timeouts, closed connections, failed era negotiation wrapping the network error as
 * `cause`), `SseError` (the legacy SSE stream), a plain `Error` from the legacy SSE transport
 * (`Error POSTing to endpoint (HTTP 404): ...`), and undici's `TypeError: fetch failed` whose
 * `cause` carries the socket error code.
 *
 * @example
 * classifyFailure(err, { sessionful: true }) // 'session' for a 404 on a 2025 session
 * shortReason(err, [token])                  // 'connection refused'
 */
import { ProtocolError, SdkError, SdkErrorCode, SdkHttpError, SseError, UnauthorizedError } from '@modelcontextprotocol/client';

/**
 * - `protocol`: the upstream answered with a JSON-RPC error; it is alive.
 * - `session`: the upstream no longer knows our session (it restarted, or expired it):
 *   re-initialize and retry once. The request never reached a handler, so a retry is safe.
 * - `auth`: 401/403; retrying with the same credentials will not help.
 * - `timeout`: no answer in time.
 * - `unavailable`: could not reach it, or the connection broke (refused, reset, closed,
 *   DNS, 5xx from a proxy in front of a dead server).
 * - `other`: anything else (an unusable answer, a bug).
 */
export type FailureKind = 'protocol' | 'session' | 'auth' | 'timeout' | 'unavailable' | 'other';

/**
 * A failure already put into words for a person (what to do in the upstream or in hub.yaml), with
 * the kind it is: its message is the reason shown as is (redacted and cut like any other).
 */
export class ExplainedFailure extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExplainedFailure';
  }
}

/**
 * The JSON-RPC error code connection.ts delivers when an upstream's response stream ended
 * without an answer (from the range JSON-RPC leaves to implementations). Never sent by an
 * upstream we know of; classified as `unavailable`.
 */
export const STREAM_ENDED_CODE = -32099;

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'EHOSTDOWN', 'ENETDOWN', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ENOENT', 'EACCES',
]);

/** The first `code` string found on the error or its `cause` chain (undici nests them). */
export function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e !== null && typeof e === 'object'; depth++) {
    // The SDK's own codes (ERA_NEGOTIATION_FAILED, ...) look like errno names: skip them.
    const code = e instanceof SdkError ? undefined : (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z0-9_]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The HTTP status an error carries, from the Streamable HTTP transport or the legacy SSE one. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof SdkHttpError) return err.status;
  if (err instanceof SseError) return err.code;
  if (err instanceof UnauthorizedError) return 401;
  // The legacy SSE transport throws a plain Error for a failed POST.
  const m = err instanceof Error ? /^Error POSTing to endpoint \(HTTP (\d{3})\)/.exec(err.message) : null;
  if (m) return Number(m[1]);
  return undefined;
}

/** The body text of a failed HTTP answer, when the SDK kept it. */
function httpBody(err: unknown): string | undefined {
  if (err instanceof SdkHttpError && typeof err.data.text === 'string') return err.data.text;
  if (err instanceof Error) {
    const m = /^Error POSTing to endpoint(?: \(HTTP \d{3}\))?: ([\s\S]*)$/.exec(err.message);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * A JSON-RPC error hidden in a non-2xx HTTP answer, as a `ProtocolError`. A 2026-07-28 server
 * answers some JSON-RPC errors with a 4xx status (the edge: 404 for an unknown method); the
 * SDK only unwraps those for 400, so a caller would otherwise see "Error POSTing to endpoint".
 */
export function embeddedProtocolError(err: unknown): ProtocolError | undefined {
  const body = httpBody(err);
  if (!body || body[0] !== '{') return undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown; data?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === 'number' && typeof e.message === 'string') return new ProtocolError(e.code, e.message, e.data);
  } catch {
    // not JSON: fall through
  }
  return undefined;
}

/** Longest message of an upstream's JSON-RPC error passed on to a client (characters). */
export const MAX_UPSTREAM_ERROR_MESSAGE = 2_000;
/** Largest `data` of an upstream's JSON-RPC error passed on (bytes of its JSON); larger is dropped. */
export const MAX_UPSTREAM_ERROR_DATA = 16 * 1024;

/**
 * An upstream's own JSON-RPC error, as the hub relays it: a `ProtocolError` (so the SDK server
 * answers it as a JSON-RPC error with its code, message and data) that says it came from an
 * upstream, so the tools/call path relays it instead of turning it into an `isError` result.
 */
export class UpstreamProtocolError extends ProtocolError {
  readonly fromUpstream = true;
}

/**
 * `err` as an `UpstreamProtocolError` whose message and data are cut to size (a hostile or
 * broken upstream must not make the hub hold, journal and resend megabytes per error) and carry
 * none of `secrets` (the hub's credentials for that upstream: a server that echoes the header it
 * rejected would otherwise hand them to every client); anything that is not a `ProtocolError`
 * is returned as it is. The elicitations of a "URL elicitation required" error (-32042) get
 * `[<source>] ` in front of their message, as the hub's forwarded elicitations do, so no URL
 * the upstream asks the person to open reads as the hub's own request.
 *
 * @example boundedProtocolError(new ProtocolError(-32050, 'x'.repeat(1e6))).message.length // 2001
 */
export function boundedProtocolError(err: unknown, secrets: readonly string[] = [], source?: string): unknown {
  if (!(err instanceof ProtocolError) || err instanceof UpstreamProtocolError) return err;
  const text = redact(err.message, secrets);
  const message = text.length > MAX_UPSTREAM_ERROR_MESSAGE ? `${text.slice(0, MAX_UPSTREAM_ERROR_MESSAGE)}…` : text;
  let data: unknown;
  if (err.data !== undefined) {
    try {
      const json = JSON.stringify(err.data);
      // Redacted as JSON text, so a secret anywhere in it (a key, a nested value) goes.
      if (json !== undefined && Buffer.byteLength(json) <= MAX_UPSTREAM_ERROR_DATA) data = JSON.parse(redact(json, secrets));
    } catch {
      // not serialisable (or a secret's replacement broke an escape): dropped
    }
  }
  if (source !== undefined && err.code === URL_ELICITATION_REQUIRED) data = attributedElicitations(data, source);
  return new UpstreamProtocolError(err.code, message, data);
}

/** JSON-RPC code of 2025-11-25's "URL elicitation required" error. */
export const URL_ELICITATION_REQUIRED = -32042;

/** -32042's `data.elicitations`, each message prefixed with the upstream's name. */
function attributedElicitations(data: unknown, source: string): unknown {
  const list = (data as { elicitations?: unknown } | undefined)?.elicitations;
  if (!Array.isArray(list)) return data;
  const elicitations = list.map((e: unknown) => (e !== null && typeof e === 'object' ? { ...e, message: `[${source}] ${typeof (e as { message?: unknown }).message === 'string' ? (e as { message: string }).message : ''}` } : e));
  return { ...(data as object), elicitations };
}

/**
 * What kind of failure `err` is. `sessionful` says whether the connection holds a 2025-era
 * session (`Mcp-Session-Id`, or the legacy SSE transport's session endpoint): only then does
 * a 404 mean "session lost" (on a stateless or 2026 server a 404 is a wrong URL or an unknown
 * method).
 */
export function classifyFailure(err: unknown, ctx: { sessionful: boolean }): FailureKind {
  if (err instanceof ExplainedFailure) return err.kind;
  if (err instanceof ProtocolError) return err.code === STREAM_ENDED_CODE ? 'unavailable' : 'protocol';
  const status = httpStatus(err);
  if (status !== undefined) {
    if (status === 401 || status === 403) return 'auth';
    if (ctx.sessionful && status === 404) return 'session';
    // Servers built from the SDK's 2025 examples answer an unknown session with 400 "No valid
    // session ID provided" instead of the 404 the spec asks for: the classic cause of proxies
    // stuck on "Session not found" forever. Recognised only on a session and only by wording.
    if (ctx.sessionful && status === 400 && /session/i.test(httpBody(err) ?? '')) return 'session';
    if (embeddedProtocolError(err)) return 'protocol';
    if (status >= 500 || status === 0) return 'unavailable';
    return 'other';
  }
  // The legacy SSE event stream broke (it carries every answer, so the connection is gone).
  if (err instanceof SseError) return 'unavailable';
  if (err instanceof SdkError) {
    switch (err.code) {
      case SdkErrorCode.RequestTimeout:
        return 'timeout';
      case SdkErrorCode.ConnectionClosed:
      case SdkErrorCode.NotConnected:
      case SdkErrorCode.SendFailed:
      case SdkErrorCode.ClientHttpFailedToOpenStream:
        return 'unavailable';
      case SdkErrorCode.ClientHttpAuthentication:
      case SdkErrorCode.ClientHttpForbidden:
        return 'auth';
      case SdkErrorCode.EraNegotiationFailed:
        // The probe wraps the network error; a 5xx probe answer is an outage too.
        return errorCode(err) || /HTTP 5\d\d|probe failed/.test(err.message) ? 'unavailable' : 'other';
      default:
        break;
    }
  }
  const code = errorCode(err);
  if (code && UNAVAILABLE_CODES.has(code)) return 'unavailable';
  if (err instanceof TypeError && /fetch failed|terminated|other side closed/i.test(err.message)) return 'unavailable';
  if (err instanceof Error && /^SSE stream disconnected|^Connection closed/i.test(err.message)) return 'unavailable';
  return 'other';
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host down',
  ENETDOWN: 'network down',
  ETIMEDOUT: 'connect timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_SOCKET: 'connection closed by the upstream',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
  ENOENT: 'command not found',
  EACCES: 'permission denied',
};

const MAX_REASON = 200;

/**
 * A one-line reason for `err`, with every secret in `secrets` and any URL credentials
 * replaced by `***`, at most 200 characters.
 */
export function shortReason(err: unknown, secrets: readonly string[] = []): string {
  return redact(rawReason(err), secrets).replace(/\s+/g, ' ').trim().slice(0, MAX_REASON) || 'unknown error';
}

/** Whether fetch refused the URL's port itself (the Fetch standard's "bad port" list: 6000, 6665-6669, 10080, ...). */
function badPort(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e !== null && typeof e === 'object'; depth++) {
    if (e instanceof Error && e.message === 'bad port') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function rawReason(err: unknown): string {
  if (err instanceof ExplainedFailure) return err.message;
  const code = errorCode(err);
  if (code && REASONS[code]) return REASONS[code]!;
  // Nothing was sent: the hub's fetch never connects to such a port, so no retry can succeed.
  if (badPort(err)) return 'fetch refuses this port (a "bad port" of the Fetch standard): serve it on another port';
  const status = httpStatus(err);
  if (status === 401) return 'unauthorized (HTTP 401): check the token';
  if (status === 403) return 'forbidden (HTTP 403)';
  const embedded = embeddedProtocolError(err);
  if (embedded) return embedded.message;
  if (status !== undefined && status > 0) return `HTTP ${status}`;
  if (err instanceof SdkError) {
    if (err.code === SdkErrorCode.RequestTimeout) return err.message === 'Request timed out' ? 'timed out' : err.message;
    if (err.code === SdkErrorCode.ConnectionClosed) return 'connection closed';
  }
  if (err instanceof Error) {
    if (err instanceof TypeError && err.message === 'fetch failed') return 'connection failed';
    return err.message;
  }
  return String(err);
}

/**
 * Replaces each secret (tokens, header values) and the userinfo of any URL with `***`.
 * Secrets shorter than 4 characters are ignored: replacing "a" everywhere helps nobody.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/gi, '$1***@');
  for (const s of secrets) {
    if (s.length >= 4) out = out.split(s).join('***');
  }
  return out;
}

/**
 * A URL fit for logs: no userinfo, and query values hidden (some servers take an API key in
 * the query string).
 */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()]) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
