/**
 * One connection to one upstream: the SDK client and transport for an upstream spec, the era
 * handshake, and the wiring the upstream needs to notice trouble. An `Upstream` opens a new
 * connection after each loss and never reuses a `Client` across connections: a fresh client
 * cannot carry a closed transport, a stale session id or half-settled listen state from the
 * previous one. Connections are not opened per call: the HTTP transports share undici's global
 * keep-alive pool, so calls on one connection reuse sockets.
 *
 * @example
 * const conn = await openConnection(spec, { clientInfo, timeoutMs: 10_000, hooks });
 * await conn.client.callTool({ name: 'get_status', arguments: {} });
 */
import {
  Client,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  PROTOCOL_VERSION_META_KEY,
  SdkError,
  SdkErrorCode,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type JSONRPCMessage,
  type McpSubscription,
  type PriorDiscovery,
  type ServerCapabilities,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/client';
import type { Stream } from 'node:stream';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { createEdgeRpc, DEFAULT_MAX_RESULT_BYTES, type EdgeRpc } from './edge-rpc.ts';
import { limitedFetch } from './limited-fetch.ts';
import { STREAM_ENDED_CODE } from './errors.ts';
import { explainHaFailure, haMcpUrl, haSseUrl, isHaStreamableMissing } from './home-assistant.ts';
import { CLIENT_REQUEST_METHODS, FORWARDED_CAPABILITIES, type ClientRequestMethod } from './client-requests.ts';

/**
 * How to reach an upstream. `name` is what messages and logs call it ("node <name> is
 * unreachable ..."); it is not sent anywhere.
 * - `edge`: our edge agent (stateless, both eras); `token` goes out as `Authorization: Bearer`.
 * - `http`: any Streamable HTTP MCP server: Home Assistant's `/api/mcp`, another hub, ...;
 *   `headers` go out on every request (`Authorization`, `X-Api-Key`, ...).
 * - `sse`: a legacy HTTP+SSE server (the 2024-11-05 transport): `url` is its SSE endpoint.
 * - `stdio`: a command the hub spawns; `env` is added to a minimal inherited environment
 *   (HOME, PATH, USER, ...), not to the hub's whole environment, which holds the hub's secrets.
 * - `home-assistant`: HA's MCP Server integration at `url` (HA's own address): Streamable HTTP at
 *   `<url>/api/mcp`, falling back to the legacy SSE at `/mcp_server/sse` on an older HA;
 *   `token` (a long-lived access token) goes out as `Authorization: Bearer` (home-assistant.ts).
 *
 * @example
 * { kind: 'http', name: 'ha', url: 'http://ha.lan:8123/api/mcp', headers: { Authorization: `Bearer ${haToken}` } }
 */
export type UpstreamSpec =
  | { kind: 'edge'; name: string; url: string; token?: string }
  | { kind: 'http'; name: string; url: string; headers?: Record<string, string>; protocol?: PinnedProtocol }
  | { kind: 'sse'; name: string; url: string; headers?: Record<string, string> }
  | { kind: 'stdio'; name: string; command: string; args?: string[]; env?: Record<string, string>; cwd?: string; protocol?: PinnedProtocol }
  | { kind: 'home-assistant'; name: string; url: string; token: string; protocol?: PinnedProtocol };

/**
 * An era pinned in config (`upstreams.<alias>.protocol`) instead of negotiated: `2025-11-25`
 * connects with `initialize` and never probes (a server that mishandles `server/discover`);
 * `2026-07-28` must be offered by the server's `server/discover`, with no fallback.
 */
export type PinnedProtocol = '2025-11-25' | '2026-07-28';

export type Era = 'modern' | 'legacy';

/** An MCP log message: level (syslog names), optional logger name, any JSON data. */
export interface UpstreamLogMessage {
  level: string;
  logger?: string;
  data: unknown;
}
export type ListKind = 'tools' | 'resources' | 'prompts';

export interface ConnectionHooks {
  /** The transport closed by itself (a stdio child exited, the SSE transport gave up). */
  onclose(): void;
  /** An error outside any request: a broken GET stream, a failed reconnect of it, a bad message. */
  onerror(err: Error): void;
  /** The upstream said one of its lists changed. */
  onListChanged(kind: ListKind): void;
  /** One line the stdio child wrote to stderr. */
  onStderr?(line: string): void;
  /** A log message the upstream sent (`notifications/message`). */
  onLog?(message: UpstreamLogMessage): void;
  /** A resource the hub subscribed to changed (`notifications/resources/updated`). */
  onResourceUpdated?(uri: string): void;
  /**
   * A request the upstream sent the hub's client mid-call (sampling, elicitation, roots): the
   * result goes back to the upstream, a thrown `ProtocolError` as its JSON-RPC error. Without
   * this hook the hub declares none of those capabilities.
   */
  onClientRequest?(method: ClientRequestMethod, params: Record<string, unknown> | undefined): Promise<Record<string, unknown>>;
  /** Each HTTP request made to the upstream, for the audit trail. */
  onHttp?(request: { method: string; url: string; status?: number; error?: string; durationMs: number }): void;
}

export interface OpenOptions {
  clientInfo: { name: string; version: string };
  /** A remembered era verdict for this upstream; skips the `server/discover` probe. */
  prior?: PriorDiscovery;
  /** Deadline for the whole handshake (transport start, probe, initialize). */
  timeoutMs: number;
  /** Aborts the handshake (the upstream is being closed). */
  signal?: AbortSignal;
  hooks: ConnectionHooks;
  /** Largest answer (JSON body or one SSE event) read from an HTTP upstream; default 8 MiB. */
  maxResultBytes?: number;
}

export interface Connection {
  readonly client: Client;
  readonly transport: Transport;
  readonly era: Era;
  /**
   * True when the upstream keeps a session for us (a 2025 Streamable HTTP session with
   * `Mcp-Session-Id`, or a legacy SSE session): only then does a 404 mean "session lost".
   */
  readonly sessionful: boolean;
  readonly capabilities: ServerCapabilities;
  readonly serverInfo?: { name: string; version: string };
  /** The verdict to remember for the next connect, for upstreams that negotiate the era. */
  readonly verdict?: PriorDiscovery;
  /** The 2026-07-28 `subscriptions/listen` stream carrying list_changed, when one is open. */
  subscription?: McpSubscription;
  /** Direct `tools/call` for an edge on the 2026-07-28 era (edge-rpc.ts); the SDK client otherwise. */
  readonly edgeRpc?: EdgeRpc;
  /**
   * Closes the client and transport (kills a stdio child); hooks stay silent from here on.
   * `terminate` first ends a 2025 session with `DELETE` (best effort, 1 s), so the server
   * can free it at once instead of when it expires; pointless when the session is already lost.
   */
  close(opts?: { terminate?: boolean }): Promise<void>;
}

/** Whether an upstream of this kind negotiates the era (`'auto'`) or speaks 2025 only. */
export function negotiatesEra(spec: UpstreamSpec): boolean {
  // Legacy HTTP+SSE predates 2026-07-28. stdio is 2025-only here on purpose: the SDK probes a
  // stdio server on a second, throwaway copy of the process (twice the spawn cost of a
  // `docker run` or `npx` command), and a server that ignores the unknown probe costs a full
  // probe timeout on every connect.
  return spec.kind === 'edge' || spec.kind === 'http' || spec.kind === 'home-assistant';
}

/** Request headers for an HTTP upstream: the edge's bearer token or the configured headers. */
export function requestHeaders(spec: UpstreamSpec): Record<string, string> {
  if (spec.kind === 'edge') return spec.token ? { Authorization: `Bearer ${spec.token}` } : {};
  if (spec.kind === 'home-assistant') return { Authorization: `Bearer ${spec.token}` };
  if (spec.kind === 'http' || spec.kind === 'sse') return { ...spec.headers };
  return {};
}

/**
 * Opens a connection: builds the transport, runs the handshake (probe or `initialize`, or
 * adopts `prior`), all within `timeoutMs`. Rejects with the SDK's error; the transport is
 * closed (and a stdio child killed) on any failure.
 */
export async function openConnection(spec: UpstreamSpec, opts: OpenOptions): Promise<Connection> {
  if (spec.kind === 'home-assistant') return openHomeAssistant(spec, opts);
  const pinned = spec.kind === 'http' || spec.kind === 'stdio' ? spec.protocol : undefined;
  const mode: 'auto' | 'legacy' | { pin: string } = pinned === '2026-07-28' ? { pin: pinned } : pinned === '2025-11-25' ? 'legacy' : negotiatesEra(spec) ? 'auto' : 'legacy';
  const forward = opts.hooks.onClientRequest;
  // Declared so that servers ask at all; each request goes to the client of the call that
  // caused it (client-requests.ts), which may lack the capability: it is then refused there.
  const client = new Client(opts.clientInfo, { versionNegotiation: { mode }, ...(forward ? { capabilities: FORWARDED_CAPABILITIES } : {}) });
  if (forward) {
    for (const method of CLIENT_REQUEST_METHODS) {
      client.setRequestHandler(method, (req) => forward(method, req.params as Record<string, unknown> | undefined) as never);
    }
  }
  const transport = buildTransport(spec, opts.hooks, opts.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES);
  const guard = transport instanceof StreamableHTTPClientTransport ? guardRequestStreams(transport) : undefined;
  completeResultType(transport);

  let closing = false;
  // Handlers go on the client, not the transport: Client.connect() chains onto the transport's
  // own callbacks, and on an `'auto'` connect the probe swaps them out for its duration.
  client.onclose = () => {
    if (!closing) opts.hooks.onclose();
  };
  client.onerror = (err) => {
    if (!closing) opts.hooks.onerror(err);
  };
  client.setNotificationHandler('notifications/tools/list_changed', () => opts.hooks.onListChanged('tools'));
  client.setNotificationHandler('notifications/prompts/list_changed', () => opts.hooks.onListChanged('prompts'));
  client.setNotificationHandler('notifications/resources/list_changed', () => opts.hooks.onListChanged('resources'));
  client.setNotificationHandler('notifications/message', (n) => opts.hooks.onLog?.(n.params as UpstreamLogMessage));
  client.setNotificationHandler('notifications/resources/updated', (n) => opts.hooks.onResourceUpdated?.(n.params.uri));

  // One deadline for the whole handshake: the SDK's `timeout` covers each request, but not
  // the legacy SSE transport's wait for its `endpoint` event, which has no timeout at all.
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  const abandon = () => {
    closing = true;
    void client.close().catch(() => {});
  };
  signal.addEventListener('abort', abandon, { once: true });
  try {
    await Promise.race([
      // A remembered verdict is for negotiated eras only: a pin decides by itself.
      client.connect(transport, { timeout: opts.timeoutMs, signal, ...(opts.prior && mode === 'auto' ? { prior: opts.prior } : {}) }),
      new Promise<never>((_, reject) => {
        const fail = () =>
          reject(deadline.aborted ? new SdkError(SdkErrorCode.RequestTimeout, `connect timed out after ${opts.timeoutMs} ms`) : (signal.reason as unknown));
        if (signal.aborted) fail();
        else signal.addEventListener('abort', fail, { once: true });
      }),
    ]);
  } catch (err) {
    abandon();
    throw err;
  } finally {
    signal.removeEventListener('abort', abandon);
  }
  guard?.arm();

  const era: Era = client.getProtocolEra() === 'modern' ? 'modern' : 'legacy';
  const discover = client.getDiscoverResult();
  const verdict: PriorDiscovery | undefined =
    mode !== 'auto' ? undefined : era === 'modern' && discover ? { kind: 'modern', discover } : { kind: 'legacy' };
  const info = client.getServerVersion();
  const edgeRpc =
    spec.kind === 'edge' && era === 'modern'
      ? createEdgeRpc({ url: spec.url, headers: requestHeaders(spec), clientInfo: opts.clientInfo, maxResultBytes: opts.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES, hooks: { onHttp: (r) => opts.hooks.onHttp?.(r), onLog: (m) => !closing && opts.hooks.onLog?.(m), onListChanged: (k) => !closing && opts.hooks.onListChanged(k) } })
      : undefined;
  const conn: Connection = {
    client,
    transport,
    era,
    sessionful: spec.kind === 'sse' || (transport as { sessionId?: string }).sessionId !== undefined,
    capabilities: client.getServerCapabilities() ?? {},
    ...(info ? { serverInfo: { name: info.name, version: info.version } } : {}),
    ...(verdict ? { verdict } : {}),
    ...(edgeRpc ? { edgeRpc } : {}),
    async close(closeOpts) {
      closing = true;
      edgeRpc?.close();
      if (closeOpts?.terminate && transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
        await Promise.race([transport.terminateSession().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
      }
      await conn.subscription?.close().catch(() => {});
      await client.close().catch(() => {});
    },
  };
  return conn;
}

/**
 * Home Assistant: `/api/mcp` first (the era negotiated there: HA answers the 2026-07-28 probe
 * with -32601 and the SDK falls back to `initialize`); on aiohttp's bare `404: Not Found` (an HA
 * older than the streamable endpoint) the legacy SSE endpoint. A failure is put into words a
 * person can act on (home-assistant.ts), its kind kept.
 */
async function openHomeAssistant(spec: Extract<UpstreamSpec, { kind: 'home-assistant' }>, opts: OpenOptions): Promise<Connection> {
  const headers = requestHeaders(spec);
  const secrets = [spec.token, headers.Authorization!];
  try {
    return await openConnection({ kind: 'http', name: spec.name, url: haMcpUrl(spec.url), headers, ...(spec.protocol ? { protocol: spec.protocol } : {}) }, opts);
  } catch (err) {
    // A pinned 2026-07-28 has no legacy fallback, by definition of the pin.
    if (!isHaStreamableMissing(err) || spec.protocol === '2026-07-28' || opts.signal?.aborted) throw explainHaFailure(err, spec.name, spec.url, secrets);
  }
  try {
    return await openConnection({ kind: 'sse', name: spec.name, url: haSseUrl(spec.url), headers }, opts);
  } catch (err) {
    throw explainHaFailure(err, spec.name, spec.url, secrets);
  }
}

/** fetch, reporting each request (method, URL, status or error, time to the response head). */
function observedFetch(hooks: ConnectionHooks): typeof fetch {
  return async (input, init) => {
    const started = performance.now();
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const url = input instanceof Request ? input.url : String(input);
    try {
      const res = await fetch(input, init);
      hooks.onHttp?.({ method, url, status: res.status, durationMs: performance.now() - started });
      return res;
    } catch (err) {
      hooks.onHttp?.({ method, url, error: err instanceof Error ? err.message : String(err), durationMs: performance.now() - started });
      throw err;
    }
  };
}

function buildTransport(spec: UpstreamSpec, hooks: ConnectionHooks, maxResultBytes: number): Transport {
  // Every answer is read through the cap (limited-fetch.ts): the SDK itself reads without limit.
  const capped = () => limitedFetch(hooks.onHttp ? observedFetch(hooks) : fetch, { name: spec.name, maxResultBytes });
  switch (spec.kind) {
    case 'edge':
    case 'http':
      return new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: requestHeaders(spec) }, fetch: capped() });
    case 'sse':
      return new SSEClientTransport(new URL(spec.url), { requestInit: { headers: requestHeaders(spec) }, fetch: capped() });
    case 'home-assistant':
      throw new Error('a home-assistant upstream is opened as http or sse (openHomeAssistant)');
    case 'stdio': {
      const t = new StdioClientTransport({
        command: spec.command,
        ...(spec.args ? { args: spec.args } : {}),
        ...(spec.env ? { env: spec.env } : {}),
        ...(spec.cwd ? { cwd: spec.cwd } : {}),
        // Piped, not inherited: the child's chatter goes to our log (tagged with the upstream),
        // and its last lines explain an exit.
        stderr: 'pipe',
        // One message (line) longer than this errors the transport: the child is restarted.
        maxBufferSize: maxResultBytes,
      });
      forwardLines(t.stderr, (line) => hooks.onStderr?.(line));
      return t;
    }
  }
}

/** Calls `onLine` for each line of `stream`, each cut to 1,000 characters. */
function forwardLines(stream: Stream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let partial = '';
  stream.on('data', (chunk: Buffer | string) => {
    partial += chunk.toString();
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl).trimEnd();
      partial = partial.slice(nl + 1);
      if (line) onLine(line.slice(0, 1000));
    }
    // A child that never writes a newline must not grow this buffer forever.
    if (partial.length > 64 * 1024) partial = partial.slice(-1000);
  });
  stream.on('end', () => {
    if (partial.trim()) onLine(partial.trim().slice(0, 1000));
  });
}

/** Requests of the 2026-07-28 era awaiting an answer, remembered at most (the oldest go first). */
const MAX_MODERN_PENDING = 4096;

/**
 * Gives a 2026-07-28 result that lacks `resultType` the `"complete"` the spec makes it.
 *
 * Why: the SDK client refuses such a result ("missing required resultType"), so one upstream
 * that forgets the field (hand-written servers, early ports) failed every call. Absent means
 * complete in the earlier revisions, and a result that is anything else (`input_required`)
 * always says so. Only answers to requests sent with the 2026-07-28 envelope are touched; the
 * message is amended in place before the client (which chains after this handler) decodes it.
 */
function completeResultType(transport: Transport): void {
  const modern = new Set<string | number>();
  const send = transport.send.bind(transport);
  transport.send = (message: JSONRPCMessage, options?: TransportSendOptions) => {
    if (isJSONRPCRequest(message)) {
      const meta = message.params?._meta as Record<string, unknown> | undefined;
      if (meta?.[PROTOCOL_VERSION_META_KEY] !== undefined) {
        modern.add(message.id);
        if (modern.size > MAX_MODERN_PENDING) modern.delete(modern.values().next().value!);
      }
    }
    return send(message, options);
  };
  const inner = transport.onmessage;
  transport.onmessage = (message: JSONRPCMessage, extra?: Parameters<NonNullable<Transport['onmessage']>>[1]) => {
    if ((isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) && message.id !== undefined && modern.delete(message.id)) {
      const result = (message as { result?: unknown }).result;
      if (result !== null && typeof result === 'object' && !Array.isArray(result) && !('resultType' in result)) (result as Record<string, unknown>).resultType = 'complete';
    }
    inner?.(message, extra);
  };
}

/**
 * Makes a request whose response stream ends without an answer fail at once.
 *
 * The Streamable HTTP transport opens one POST per request. When the upstream answers with an
 * SSE stream and that stream ends before the response (the server crashed mid-call, a proxy
 * cut it), the transport reports it only through `onRequestStreamEnd`, which the SDK's request
 * layer does not pass, so the call would hang until its deadline. This wrapper passes it and,
 * if no response with that id came through, delivers a synthetic JSON-RPC error for the id
 * (code `STREAM_ENDED_CODE`, classified as "upstream unavailable").
 *
 * Armed only after the handshake: the era probe uses the transport before the client's
 * handlers are attached. `subscriptions/listen` streams are left alone: the SDK settles those
 * itself.
 */
function guardRequestStreams(transport: StreamableHTTPClientTransport): { arm(): void } {
  let armed = false;
  const waiting = new Set<string | number>();
  // Set before Client.connect(), which chains its own handler after this one.
  transport.onmessage = (message: JSONRPCMessage) => {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      if (message.id !== undefined && message.id !== null) waiting.delete(message.id);
    }
  };
  const send = transport.send.bind(transport);
  transport.send = async (message: JSONRPCMessage | JSONRPCMessage[], options?: Parameters<typeof send>[1]) => {
    if (Array.isArray(message) || !armed) return send(message, options);
    if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      // A cancelled request may legitimately never be answered.
      const id = (message.params as { requestId?: string | number } | undefined)?.requestId;
      if (id !== undefined) waiting.delete(id);
    }
    if (!isJSONRPCRequest(message) || message.method === 'subscriptions/listen') return send(message, options);
    const id = message.id;
    waiting.add(id);
    options?.requestSignal?.addEventListener('abort', () => waiting.delete(id), { once: true });
    const guarded: TransportSendOptions = {
      ...options,
      onRequestStreamEnd: () => {
        options?.onRequestStreamEnd?.();
        if (!waiting.delete(id)) return;
        transport.onmessage?.({
          jsonrpc: '2.0',
          id,
          error: { code: STREAM_ENDED_CODE, message: 'the upstream closed the response stream without answering' },
        });
      },
    };
    try {
      await send(message, guarded);
    } catch (err) {
      waiting.delete(id);
      throw err;
    }
  };
  return {
    arm() {
      armed = true;
    },
  };
}
