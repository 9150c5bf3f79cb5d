/**
 * `tools/call` to an edge agent on the 2026-07-28 era, posted with `node:http` over a
 * keep-alive pool instead of through the SDK client.
 *
 * Why: the edge is a stateless JSON server we own, and tool calls are the hub's hot path (a
 * 50-node fan-out is 50 of them). Through the SDK client each call built a WHATWG `Request`,
 * `Headers` and `AbortSignal`s, wrapped both bodies in web streams and ran zod over the envelope:
 * over a third of the hub's CPU per call in bench/hub's profile. Here a call is one POST and one
 * `JSON.parse`.
 *
 * What stays as it was: the request the edge receives (body, `_meta` envelope, `Mcp-*` headers,
 * bearer token); the result the hub gets (the SDK's decoding drops `resultType`, so does this);
 * the errors, which are the SDK's own classes (`ProtocolError` for a JSON-RPC error,
 * `UnauthorizedError` for 401, `SdkHttpError` with the status and body for other HTTP errors,
 * the socket error with its `code` for a failed connection), so `errors.ts` classifies and words
 * them as before; the audit hook (`onHttp`, at the response head); progress and log
 * notifications when the edge answers with an SSE stream; a stream that ends without an answer
 * (the `STREAM_ENDED_CODE` error). The deadline and cancellation come in as one signal from the
 * caller: aborting destroys the request, which is how a 2026-07-28 client cancels.
 *
 * Handshake, lists, health checks and `subscriptions/listen` still go through the SDK client.
 *
 * @example
 * const rpc = createEdgeRpc({ url: 'http://pi:8222/mcp', headers: { Authorization: 'Bearer ...' }, clientInfo, hooks });
 * const result = await rpc.callTool('get_status', {}, { signal });
 */
import http from 'node:http';
import https from 'node:https';
import { ProtocolError, SdkError, SdkErrorCode, SdkHttpError, UnauthorizedError, type CallToolResult } from '@modelcontextprotocol/client';
import type { ConnectionHooks, UpstreamLogMessage } from './connection.ts';
import { STREAM_ENDED_CODE } from './errors.ts';
import { createSseParser } from './sse-parser.ts';

const MODERN = '2026-07-28';
/** Largest answer read from an edge; its tool outputs are capped far below this. */
export const MAX_EDGE_RESPONSE_BYTES = 32 * 1024 * 1024;
/**
 * Idle keep-alive sockets are closed after this long: longer than the health check's 15 s
 * interval, whose `tools/list` goes over this pool too, so each edge keeps one warm socket and a
 * fan-out after a quiet spell opens no connections (was 4 s, as undici: every check and every
 * fan-out more than 4 s after the last opened new ones). Well before the edge's own 65 s, so a
 * request is never sent on a socket the edge is closing; a server that announces a shorter
 * `Keep-Alive: timeout=` is taken at its word (node:http's agent uses the smaller of the two).
 */
export const IDLE_SOCKET_MS = 20_000;
/**
 * An SSE answer's stream is cut this long after the answer came if it has not ended by then:
 * the edge ends it right after the answer, so a socket is only lost to a server that keeps
 * sending (or just keeps the stream open) past its answer, which would otherwise hold one of
 * the hub's sockets per call and per health check for as long as it likes (the caller's
 * deadline no longer applies once the answer is in).
 */
export const ANSWERED_STREAM_GRACE_MS = 1_000;
/** Default of `limits.maxResultBytes`: the largest result the hub takes from any upstream. */
export const DEFAULT_MAX_RESULT_BYTES = 8 * 1024 * 1024;

export interface EdgeRpcOptions {
  url: string;
  /** Sent on every request (the bearer token). */
  headers: Record<string, string>;
  clientInfo: { name: string; version: string };
  hooks: Pick<ConnectionHooks, 'onHttp' | 'onLog' | 'onListChanged'>;
  /** Idle keep-alive sockets are closed after this long; default `IDLE_SOCKET_MS` (tests shorten it). */
  idleSocketMs?: number;
  /** Largest answer (a JSON body, or one SSE event) accepted: `limits.maxResultBytes`; default 8 MiB. */
  maxResultBytes?: number;
}

export interface EdgeCallOptions {
  /** The call's deadline and cancellation together; required: every call ends. */
  signal: AbortSignal;
  onprogress?: (p: { progress: number; total?: number; message?: string }) => void;
  /** Extra `_meta` keys (the hub's file policy); the protocol's own keys win. */
  meta?: Record<string, unknown>;
}

export interface EdgeRpc {
  callTool(name: string, args: Record<string, unknown>, opts: EdgeCallOptions): Promise<CallToolResult>;
  /**
   * `tools/list` posted the same way; resolves the result's JSON text as received (parsed and
   * re-serialized, not validated): a fingerprint for the health check, which validates any new
   * list through the SDK (see upstream.ts).
   */
  listToolsText(opts: { signal: AbortSignal }): Promise<string>;
  /** Closes the idle sockets; calls in flight finish or fail on their own. */
  close(): void;
}

interface JsonRpcMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export function createEdgeRpc(opts: EdgeRpcOptions): EdgeRpc {
  const url = new URL(opts.url);
  const secure = url.protocol === 'https:';
  const transport = secure ? https : http;
  // `timeout` closes only idle pooled sockets: on a socket in use it merely emits 'timeout' on
  // the request, which nothing here listens to, so a long tool call is not cut.
  const agent = new transport.Agent({ keepAlive: true, timeout: opts.idleSocketMs ?? IDLE_SOCKET_MS, scheduling: 'lifo' });
  const target = {
    protocol: url.protocol,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port || (secure ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    agent,
    ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
  };
  const envelope = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': opts.clientInfo,
    'io.modelcontextprotocol/clientCapabilities': {},
    // 2026-07-28 has no logging/setLevel: the hub asks for info and up on every call.
    'io.modelcontextprotocol/logLevel': 'info',
  };
  let nextId = 1;
  const maxResultBytes = opts.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
  const tooLarge = () => new SdkError(SdkErrorCode.InvalidResult, `the answer is larger than limits.maxResultBytes (${maxResultBytes} bytes): the call was dropped`);

  // The headers of every request, built once: only the method and the body's length vary.
  const baseHeaders: Record<string, string> = {
    ...opts.headers,
    'mcp-protocol-version': MODERN,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  const callHeaders = new Map<string, Record<string, string>>();
  const headersFor = (method: string, name: string | undefined): Record<string, string> => {
    if (name === undefined) return { ...baseHeaders, 'mcp-method': method };
    let h = callHeaders.get(name);
    if (!h) {
      h = { ...baseHeaders, 'mcp-method': method, 'mcp-name': name };
      // Bounded: tool names come from the hub's callers; an unknown one is refused by the edge.
      if (callHeaders.size < 1000) callHeaders.set(name, h);
    }
    return h;
  };

  function callTool(name: string, args: Record<string, unknown>, call: EdgeCallOptions): Promise<CallToolResult> {
    return post('tools/call', name, { name, arguments: args }, call, (message, id, finish) => settleWith(message, id, finish, decodeCallResult));
  }

  function listToolsText(call: { signal: AbortSignal }): Promise<string> {
    return post('tools/list', undefined, {}, call, (message, id, finish) => settleWith(
      message,
      id,
      finish,
      (raw) => {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return new SdkError(SdkErrorCode.InvalidResult, 'Invalid result for tools/list: not an object');
        return JSON.stringify(raw);
      },
      'tools/list',
    ), true);
  }

  function post<T>(
    method: string,
    name: string | undefined,
    params: Record<string, unknown>,
    call: EdgeCallOptions,
    settle: (message: JsonRpcMessage, id: number, finish: (err: unknown, result?: T) => void) => void,
    /**
     * A read only (tools/list): sent once more on a new socket if a reused keep-alive socket
     * turned out closed (reset before any answer: the edge restarted, its FIN not read yet).
     * Never for tools/call: whether the edge read it cannot be known, and a write is sent once.
     */
    retryStaleSocket = false,
  ): Promise<T> {
    const id = nextId++;
    const base = call.meta ? { ...call.meta, ...envelope } : envelope;
    const meta = call.onprogress ? { ...base, progressToken: id } : base;
    // A string body: Node sends it in one write with the head (a Buffer goes as a second iovec).
    const body = JSON.stringify({ method, params: { ...params, _meta: meta }, jsonrpc: '2.0', id });
    const started = performance.now();
    let reported = false;
    const report = (r: { status?: number; error?: string }) => {
      if (reported) return;
      reported = true;
      opts.hooks.onHttp?.({ method: 'POST', url: url.href, ...r, durationMs: performance.now() - started });
    };

    return new Promise<T>((resolve, reject) => {
      const { signal } = call;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      let settled = false;
      const finish = (err: unknown, result?: T) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(result!);
      };
      const req = transport.request({ ...target, method: 'POST', headers: { ...headersFor(method, name), 'content-length': Buffer.byteLength(body) } });
      function onAbort() {
        // As fetch reported it: the abort reason's message.
        report({ error: signal.reason instanceof Error ? signal.reason.message : String(signal.reason) });
        finish(signal.reason);
        req.destroy();
      }
      signal.addEventListener('abort', onAbort, { once: true });
      let answered = false;
      req.on('error', (err) => {
        report({ error: err.message });
        const code = (err as { code?: unknown }).code;
        if (retryStaleSocket && !settled && !answered && req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) {
          settled = true;
          signal.removeEventListener('abort', onAbort);
          post(method, name, params, call, settle, false).then(resolve, reject);
          return;
        }
        finish(err);
      });
      req.on('response', (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        report({ status });
        const sse = /^text\/event-stream\b/i.test(res.headers['content-type'] ?? '');
        const sseParser =
          sse && status >= 200 && status < 300
            ? sseReader(id, call.onprogress, opts.hooks, (m) => {
                settle(m, id, finish);
                const cut = setTimeout(() => {
                  if (!res.complete) req.destroy();
                }, ANSWERED_STREAM_GRACE_MS);
                cut.unref();
                res.once('close', () => clearTimeout(cut));
              }, () => finish(new ProtocolError(STREAM_ENDED_CODE, 'the upstream closed the response stream without answering')), maxResultBytes, () => {
                finish(tooLarge());
                req.destroy();
              })
            : undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_EDGE_RESPONSE_BYTES || (!sseParser && size > maxResultBytes)) {
            finish(size > maxResultBytes ? tooLarge() : new SdkError(SdkErrorCode.InvalidResult, `the answer is larger than ${MAX_EDGE_RESPONSE_BYTES} bytes`));
            req.destroy();
            return;
          }
          if (sseParser) sseParser.push(chunk);
          else chunks.push(chunk);
        });
        res.on('error', (err) => finish(err));
        // The connection dropped mid-answer (the edge died): as unavailable as a refused one.
        res.on('close', () => {
          if (!res.complete) finish(Object.assign(new Error('the upstream closed the connection mid-answer'), { code: 'ECONNRESET' }));
        });
        res.on('end', () => {
          if (settled) return;
          if (sseParser) {
            sseParser.end();
            return;
          }
          const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
          if (status < 200 || status >= 300) {
            finish(httpError(status, res.statusMessage ?? '', text, id));
            return;
          }
          let message: JsonRpcMessage;
          try {
            message = JSON.parse(text) as JsonRpcMessage;
          } catch {
            finish(new SdkError(SdkErrorCode.InvalidResult, `Invalid result for ${method}: the answer is not JSON`));
            return;
          }
          settle(message, id, finish);
        });
      });
      req.end(body);
    });
  }

  return {
    callTool,
    listToolsText,
    close() {
      agent.destroy();
    },
  };
}

/** The answer `message` to request `id`: its decoded result or its error. */
function settleWith<T>(message: JsonRpcMessage, id: number, finish: (err: unknown, result?: T) => void, decode: (raw: unknown) => T | Error, method = 'tools/call'): void {
  if (message === null || typeof message !== 'object' || message.id !== id) {
    finish(new SdkError(SdkErrorCode.InvalidResult, `Invalid result for ${method}: not an answer to this request`));
    return;
  }
  if (message.error) {
    const e = message.error;
    finish(ProtocolError.fromError(typeof e.code === 'number' ? e.code : -32603, typeof e.message === 'string' ? e.message : 'error', e.data));
    return;
  }
  const decoded = decode(message.result);
  if (decoded instanceof Error) finish(decoded);
  else finish(undefined, decoded);
}

/**
 * A 2026-07-28 `tools/call` result as the SDK client hands it over: `resultType` must be
 * `complete` and is dropped. (`input_required` is not relayed: the hub's client declares no
 * capability an edge could ask for.)
 */
export function decodeCallResult(raw: unknown): CallToolResult | Error {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return new SdkError(SdkErrorCode.InvalidResult, 'Invalid result for tools/call: not an object');
  const { resultType, ...result } = raw as Record<string, unknown>;
  if (resultType === undefined) return new SdkError(SdkErrorCode.InvalidResult, 'Invalid result for tools/call: missing required resultType');
  if (resultType !== 'complete') return new SdkError(SdkErrorCode.UnsupportedResultType, `Unsupported result type '${String(resultType)}' for tools/call`);
  if (!Array.isArray(result.content)) return new SdkError(SdkErrorCode.InvalidResult, 'Invalid result for tools/call: content must be an array');
  // The SDK's schema puts `_meta` first; clients then see the same key order.
  if (result._meta === undefined) return result as CallToolResult;
  const { _meta, ...rest } = result;
  return { _meta, ...rest } as CallToolResult;
}

/** The error the SDK's Streamable HTTP transport throws for a non-2xx answer. */
function httpError(status: number, statusText: string, text: string, id: number): Error {
  if (status === 401) return new UnauthorizedError();
  // A 2026-07-28 server answers some JSON-RPC errors with 400: those are the server's answer.
  if (status === 400 && text) {
    try {
      const m = JSON.parse(text) as JsonRpcMessage;
      if (m && m.jsonrpc === '2.0' && m.id === id && m.error && typeof m.error.code === 'number') return ProtocolError.fromError(m.error.code, m.error.message, m.error.data);
    } catch {
      // not JSON-RPC: an HTTP error below
    }
  }
  return new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, { status, statusText, text });
}

/**
 * Reads an SSE answer as it arrives: progress for our token goes to `onprogress`, log and
 * list_changed notifications to the hooks, and the answer with our id settles the call. A stream
 * that ends without one fails with `STREAM_ENDED_CODE`, as connection.ts's guard does.
 */
function sseReader(
  id: number,
  onprogress: EdgeCallOptions['onprogress'],
  hooks: EdgeRpcOptions['hooks'],
  onAnswer: (m: JsonRpcMessage) => void,
  onNoAnswer: () => void,
  maxEventBytes: number,
  onOversize: () => void,
): { push(chunk: Buffer): void; end(): void } {
  let answered = false;
  const dispatch = (data: string) => {
    let m: JsonRpcMessage;
    try {
      m = JSON.parse(data) as JsonRpcMessage;
    } catch {
      return;
    }
    if (m.id === id && (m.result !== undefined || m.error !== undefined)) {
      answered = true;
      onAnswer(m);
      return;
    }
    if (m.method === 'notifications/progress' && m.params?.progressToken === id && onprogress) {
      const { progressToken: _t, ...p } = m.params as { progressToken: unknown; progress: number; total?: number; message?: string };
      onprogress(p);
    } else if (m.method === 'notifications/message' && m.params) {
      hooks.onLog?.(m.params as unknown as UpstreamLogMessage);
    } else if (m.method === 'notifications/tools/list_changed') hooks.onListChanged?.('tools');
    else if (m.method === 'notifications/prompts/list_changed') hooks.onListChanged?.('prompts');
    else if (m.method === 'notifications/resources/list_changed') hooks.onListChanged?.('resources');
  };
  // Linear in the stream's length, one event capped (see sse-parser.ts).
  const parser = createSseParser({ maxEventBytes, onEvent: (data) => dispatch(data), onOversize });
  return {
    push(chunk) {
      parser.push(chunk);
    },
    end() {
      parser.end();
      if (!answered) onNoAnswer();
    },
  };
}
