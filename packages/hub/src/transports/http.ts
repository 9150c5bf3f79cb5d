/**
 * The hub's HTTP face: `/mcp` in both protocol eras, legacy `/sse`, `/healthz`, `/readyz`,
 * `/metrics`.
 *
 * - 2026-07-28 requests are stateless: each is served by a fresh server instance from
 *   `createMcpHandler`, so several hub replicas can sit behind one proxy.
 * - 2025-era clients (MetaMCP, mcp-remote, the Inspector) `initialize` a session: it gets a
 *   session transport (`Mcp-Session-Id`, GET stream for list_changed, DELETE), owned by the
 *   user who opened it.
 *
 * Every request first passes the Host/Origin check (DNS rebinding), then authentication (a
 * bare 401: no body, no OAuth metadata, which would make Claude Code ignore its static
 * header), the per-token rate limit (429 + Retry-After) and the body limit (413).
 *
 * With `oauth.enabled`, `/oauth/mcp` serves the same for OAuth access tokens only (oauth/oauth.ts
 * and its endpoints under /oauth/ and /.well-known/); its 401 names the resource metadata.
 */
import { isIP } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { createMcpHandler, isLegacyRequest, ProtocolError, ProtocolErrorCode, WebStandardStreamableHTTPServerTransport, type Server } from '@modelcontextprotocol/server';
import { visibleTo, type Catalog } from '../catalog/catalog.ts';
import type { Caller } from '../catalog/types.ts';
import type { Metrics } from '../metrics.ts';
import type { Authenticated } from '../policy/auth.ts';
import { requestSource } from './request-source.ts';
import { createRateLimiter, type RateDecision } from '../policy/rate-limit.ts';
import { callHubTool, createHubServer, relayLog, SPLICE_PLACEHOLDER_JSON, TOOLS_LIST_SPLICE, type CallObserver, type HubServerInfo, type ToolsListSplice } from '../server/mcp-server.ts';
import type { Gate } from '../policy/gate.ts';
import { createEnvelopeCheck, encodeToolsCallAnswer, plainToolsCall } from './fast-tools-call.ts';
import { checkParamHeaders, createParamHeaderIndex, type ParamHeaderRejection } from './param-headers.ts';
import { SseServerTransport } from './sse.ts';
import { exceedsJsonDepth } from './json-depth.ts';
import { createRefusals, type RefusalKind } from './refusals.ts';
import type { Role } from '../catalog/types.ts';
import type { LiveSession } from '../ui/contract.ts';
import type { createEdgeDist } from '../edge-dist/edge-dist.ts';
import { readBounded } from '@homelab-mcp/core/http';
import { createOwnHostCheck } from './own-host.ts';
import type { Hono as HonoApp } from 'hono';
import type { UiHttp } from '../ui/app.ts';
import { boundedClientInfo } from '../server/client-info.ts';
import { MAX_SUBSCRIPTIONS_PER_SESSION, type ResourceSubscriptions } from '../server/resource-subscriptions.ts';
import { bearerToken } from '@homelab-mcp/core';
import { OAUTH_MCP_PATH, type OAuth } from '../oauth/oauth.ts';

export interface UpstreamHealth {
  name: string;
  kind: 'node' | 'upstream';
  status: 'connecting' | 'up' | 'down';
  since: string;
  error?: string;
  /** Up, but something a person should fix (a Home Assistant that exposes no entities). */
  warning?: string;
  /** Entries of this upstream the catalog left out, each with why (a name another entry has). */
  leftOut?: string[];
}

export interface HttpAppOptions {
  info: HubServerInfo;
  catalog: () => Catalog;
  authenticate(authorization: string | undefined): Authenticated | undefined;
  /**
   * The caller a token key stands for now (undefined once the token is gone): open sessions
   * ask on every call, so role changes and removed tokens reach them at once.
   */
  resolveCaller?(key: string): Authenticated | undefined;
  /** Takes `n` requests' worth from the caller's bucket (each message of a batch counts). */
  rateLimit(key: string, n?: number): RateDecision;
  /** Failed authentications allowed per source address and minute before it gets 429s; default 30. */
  authFailuresPerMinute?: number;
  /** Addresses of trusted reverse proxies (`trustedProxies`): read at each request. */
  trustedProxies?(): readonly string[];
  /** The header a trusted proxy names the client in (`clientIpHeader`): read at each request. */
  clientIpHeader?(): 'x-forwarded-for' | 'cf-connecting-ip';
  /** Deepest nesting of arrays/objects accepted in a request body (`limits.maxJsonDepth`); default 64. */
  maxJsonDepth?: number;
  /** The names of the tools node `source` offers, when it is a node (which of its logs a role may see). */
  nodeTools?(source: string): string[] | undefined;
  /** Whether a Host/Origin name (no port, lower case) is accepted; loopback names always are. */
  hostAllowed(host: string): boolean;
  /**
   * Whether a Host/Origin name names this hub itself (its addresses, its host name), accepted
   * for `/edge/*` only; default {@link createOwnHostCheck}.
   */
  ownHost?(host: string, localAddress: string | undefined): boolean;
  maxBodyBytes: number;
  metrics: Metrics;
  gate: Gate;
  observer?: CallObserver;
  health(): UpstreamHealth[];
  /** Serves the edge bundle and installer under /edge/ when given. */
  edgeDist?: ReturnType<typeof createEdgeDist>;
  /** Idle time after which a 2025-era session is closed. */
  sessionIdleMs?: number;
  /** The admin web UI, mounted at /ui behind the same Host/Origin check (ui/app.ts). */
  ui?: (http: UiHttp) => HonoApp;
  log?: { warn(obj: Record<string, unknown>, msg: string): void };
  /** Resource subscriptions: 2025 `resources/subscribe` and 2026-07-28 `subscriptions/listen`. */
  subscriptions?: ResourceSubscriptions;
  /**
   * The hub's OAuth authorization server (oauth/oauth.ts): its endpoints and `/oauth/mcp`
   * answer only while `oauthEnabled()` says so (`oauth.enabled` in hub.yaml).
   */
  oauth?: (deps: { authFailures: ReturnType<typeof createRateLimiter>; sourceOf(c: Context): string; revoked(): void }) => OAuth;
  oauthEnabled?(): boolean;
}

/**
 * Where a 2026-07-28 `tools/call` whose `Mcp-Param-*` headers fail their check waits for the
 * SDK (see `paramHeaderRefusal`): set in the request's `authInfo.extra`; the handler's factory
 * marks it `reached`.
 */
const PARAM_HEADER_CHECK = 'homelabParamHeaderCheck';
interface ParamHeaderCheck {
  rejection: ParamHeaderRejection;
  reached: boolean;
}

/** The one revision whose sessions may send JSON-RPC batches (added in it, removed in 2025-06-18). */
const BATCH_REVISION = '2025-03-26';

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]', '::1'];
/** The largest request body read to echo its id in a 429. */
const MAX_ECHO_BODY = 64 * 1024;
/** Open 2025-era sessions (and SSE streams) per token; one more closes that token's oldest. */
const MAX_SESSIONS_PER_TOKEN = 64;

function hostOnly(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1).toLowerCase();
  const i = host.lastIndexOf(':');
  return (i >= 0 && !host.slice(0, i).includes(':') ? host.slice(0, i) : host).toLowerCase();
}

/** The body as text, or undefined when it is longer than `limit` bytes (read no further). */
async function readLimited(req: Request, limit: number): Promise<string | undefined> {
  if (!req.body) return '';
  return (await readBounded(req.body, limit))?.toString('utf8');
}

/**
 * The SDK's answer to a 2026-07-28 `tools/list` with the handler's placeholder replaced by the
 * catalog's pre-serialised tools (see `ToolsListSplice`). An answer without the placeholder
 * (an error, a rejected request) is passed on unchanged. Under `@hono/node-server` the three
 * parts go straight to the socket: copying 1.6 MB into one buffer per call grew the hub's RSS
 * by tens of MB (freed large buffers stay in malloc's arenas).
 */
async function splicedToolsList(res: Response, splice: ToolsListSplice, outgoing: ServerResponse | undefined): Promise<Response> {
  if (!splice.bytes || !res.body) return res;
  const text = await res.text();
  const at = text.indexOf(SPLICE_PLACEHOLDER_JSON);
  const headers = new Headers(res.headers);
  if (at < 0) return new Response(text, { status: res.status, headers });
  const head = Buffer.from(text.slice(0, at));
  const tail = Buffer.from(text.slice(at + SPLICE_PLACEHOLDER_JSON.length));
  // A JSON answer gets its new length; an SSE one (2025 sessions) stays chunked, as it was.
  const sized = !/^text\/event-stream/i.test(headers.get('content-type') ?? '');
  headers.delete('content-length');
  if (outgoing && !outgoing.headersSent) {
    // Content-Type first, as the SDK writes it (Headers iterate in sorted order).
    const record: Record<string, string | number> = { 'content-type': headers.get('content-type') ?? 'application/json' };
    headers.forEach((value, key) => {
      record[key] = value;
    });
    if (sized) record['content-length'] = head.length + splice.bytes.length + tail.length;
    outgoing.writeHead(res.status, record);
    outgoing.cork();
    outgoing.write(head);
    outgoing.write(splice.bytes);
    outgoing.end(tail);
    return RESPONSE_ALREADY_SENT;
  }
  return new Response(Buffer.concat([head, splice.bytes, tail]), { status: res.status, headers });
}

/** A JSON answer in one write: the head and the body together, with its length (no chunked encoding). */
function writeJsonAnswer(outgoing: ServerResponse, status: number, text: string): void {
  outgoing.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  outgoing.end(text);
}

/**
 * What the raw fast path (`nodeListener` in createHttpApp) already did for a request it then
 * handed to the Hono app: the caller it authenticated, the rate limiter's decision it took, and
 * the body it read (`read`), so that neither is done twice.
 */
interface Preadmitted {
  caller: Authenticated;
  rate: RateDecision;
  read: boolean;
  text?: string | undefined;
}

/** The Host values `@hono/node-server` builds its URL from without parsing (its `reValidHost`). */
const NODE_SERVER_PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/**
 * Whether `@hono/node-server` (2.1.8, `buildUrl`) takes this Host header for a request to
 * `/mcp` rather than answering 400: its plain form as is, any other when it parses as a URL
 * authority whose host name is the header's (port aside). `127.0.0.1:99999`, `localhost:1/x`
 * are refused there, though hostOnly() of each is an allowed name.
 */
function nodeServerTakesHost(host: string): boolean {
  if (NODE_SERVER_PLAIN_HOST.test(host)) return true;
  try {
    const u = new URL(`http://${host}/mcp`);
    return u.hostname.length === host.length || u.hostname === (host.includes(':') ? host.replace(/:\d+$/, '') : host).toLowerCase();
  } catch {
    return false;
  }
}

/** Node's parsed headers as the `get` of a `Headers` (the fast path checks there are no repeats). */
const nodeHeaders = (h: IncomingMessage['headers']) => ({
  get(name: string): string | null {
    // Node's keys are lower case; `Headers.get` is case-insensitive (`Mcp-Param-Region`).
    const v = h[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  },
});

/**
 * The body as text straight from the Node request (under `@hono/node-server`), or undefined
 * when it is longer than `limit` bytes (read no further; node-server drains or drops the rest
 * after the answer). Reading `Request.body` instead made node-server build a full WHATWG
 * `Request` and web stream for every call: about 8% of the hub's CPU per call.
 */
function readIncoming(incoming: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        incoming.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (incoming.complete) return;
      cleanup();
      reject(new Error('the client closed the request before its body was complete'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/**
 * Whether a parsed POST body is a message that carries the 2026-07-28 envelope claim (the
 * protocol-version key in `params._meta`) and is not `initialize` or a posted response: the
 * SDK's classifier never routes such a message to the 2025 side (it serves or rejects it on
 * the modern path), so `isLegacyRequest` need not classify it a second time.
 */
export function claimsModernEnvelope(body: unknown): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const m = body as { method?: unknown; params?: unknown; result?: unknown; error?: unknown };
  if (typeof m.method !== 'string' || m.method === 'initialize' || 'result' in m || 'error' in m) return false;
  const params = m.params;
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return false;
  const meta = (params as { _meta?: unknown })._meta;
  return meta !== null && typeof meta === 'object' && !Array.isArray(meta) && 'io.modelcontextprotocol/protocolVersion' in meta;
}

/** The `resourceSubscriptions` of a `subscriptions/listen` request, when it names any. */
function resourceListen(body: unknown): string[] | undefined {
  const m = body as { method?: unknown; params?: { notifications?: { resourceSubscriptions?: unknown } } } | null;
  if (m?.method !== 'subscriptions/listen') return undefined;
  const uris = m.params?.notifications?.resourceSubscriptions;
  if (!Array.isArray(uris) || uris.length === 0 || !uris.every((u) => typeof u === 'string')) return undefined;
  return uris as string[];
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: Server;
  ownerKey: string;
  /** Who opened it; each call looks up who that token is now (`resolveCaller`). */
  opener: Authenticated;
  openedAt: number;
  lastSeen: number;
}

interface SseSession {
  transport: SseServerTransport;
  server: Server;
  ownerKey: string;
  opener: Authenticated;
  openedAt: number;
  /** The last POST /messages (or the GET that opened it). */
  lastSeen: number;
}

export function createHttpApp(opts: HttpAppOptions) {
  const allowed = (host: string) => LOOPBACK.includes(host) || opts.hostAllowed(host);
  const sessions = new Map<string, Session>();
  const sseSessions = new Map<string, SseSession>();
  const idleMs = opts.sessionIdleMs ?? 60 * 60_000;

  const maxDepth = opts.maxJsonDepth ?? 64;
  const refusals = createRefusals({ ...(opts.log ? { log: opts.log } : {}), count: (k) => opts.metrics.refusal(k) });
  // Per source address (see clientAddress and trustedProxies), only failures take from the bucket;
  // once it is empty, every request from that address waits, a good token included, so the
  // answer never tells which tokens exist.
  const authFailures = createRateLimiter({ perMinute: opts.authFailuresPerMinute ?? 30, burst: opts.authFailuresPerMinute ?? 30 });
  const sourceOf = (c: Context) => {
    const header = opts.clientIpHeader?.() ?? 'x-forwarded-for';
    return clientAddress((c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress, c.req.header(header), opts.trustedProxies?.() ?? [], header);
  };
  // Grants revoked: their sessions and streams close now (dropStale is defined below, called later).
  const oauth = opts.oauth?.({ authFailures, sourceOf, revoked: () => dropStale() });
  const refuse = (c: Context, kind: RefusalKind, detail: Record<string, unknown> = {}, line?: { distinct?: string; msg?: string }) => refusals.refuse(kind, sourceOf(c), { path: c.req.path, ...detail }, line);

  /** The current caller behind a session's token; a removed token fails the call it was making. */
  const current = (first: Authenticated) => (first.alive && !first.alive() ? undefined : opts.resolveCaller ? opts.resolveCaller(first.key) : first);
  const sessionCaller = (first: Authenticated) => (): Caller => {
    const now = current(first);
    if (!now) throw new ProtocolError(ProtocolErrorCode.InvalidRequest, 'the token of this session is no longer configured on the hub');
    return first.oauthClient !== undefined ? { ...now, oauthClient: first.oauthClient } : now;
  };

  const envelopeAccepted = createEnvelopeCheck();
  /** Requests the raw fast path admitted (and maybe read) before handing them to the app. */
  const preadmitted = new WeakMap<IncomingMessage, Preadmitted>();
  const preadmittedOf = (c: Context) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    // Only /mcp: the one route the raw path serves.
    return incoming && c.req.path === '/mcp' ? preadmitted.get(incoming) : undefined;
  };
  const paramHeadersOf = createParamHeaderIndex();

  /**
   * How the SDK would refuse this 2026-07-28 request for its `Mcp-Param-*` headers (SEP-2243),
   * were the catalog's tools its own: only a `tools/call` of a tool the caller sees whose
   * schema declares `x-mcp-header` parameters is looked at (one map lookup for the others).
   */
  function paramHeaderRefusal(caller: Caller, body: unknown, headers: { get(name: string): string | null }): ParamHeaderRejection | undefined {
    const m = body as { id?: unknown; method?: unknown; params?: { name?: unknown; arguments?: unknown } } | null;
    // A request (with an id): the SDK checks nothing on a notification.
    if (m?.method !== 'tools/call' || typeof m.params?.name !== 'string' || !(typeof m.id === 'string' || typeof m.id === 'number')) return undefined;
    const catalog = opts.catalog();
    const declared = paramHeadersOf(catalog).get(m.params.name);
    if (!declared) return undefined;
    const tool = catalog.tool(m.params.name);
    // A tool the caller does not see is unknown to it: the SDK's handler answers that.
    if (!tool || !visibleTo(caller.role, tool)) return undefined;
    return checkParamHeaders(declared, m.params.arguments, headers);
  }
  const callOptions = (caller: Caller | (() => Caller)) => ({
    catalog: opts.catalog,
    caller,
    gate: opts.gate,
    metrics: opts.metrics.observeCall,
    ...(opts.observer ? { observer: opts.observer } : {}),
    ...(opts.subscriptions ? { subscriptions: opts.subscriptions } : {}),
    onUnknownTool: (who: Caller, tool: string) => refusals.refuse('unknown_tool', who.user, { tool: tool.slice(0, 128) }),
  });

  /**
   * A plain 2026-07-28 tools/call, served without the SDK's per-request server (see
   * fast-tools-call.ts); undefined when the SDK must serve it (anything else, an unknown tool,
   * a human-mode write, or a tool that may be one: dry_run_playbook's classFor).
   */
  async function fastToolsCall(c: Context, caller: Authenticated, parsedBody: unknown): Promise<Response | undefined> {
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    const answer = await plainCallAnswer(c.req.raw.headers, outgoing, c.req.raw.signal, caller, parsedBody);
    if (!answer) return undefined;
    const { text, status } = answer;
    if (outgoing && !outgoing.headersSent) {
      if (outgoing.destroyed) return RESPONSE_ALREADY_SENT;
      writeJsonAnswer(outgoing, status, text);
      return RESPONSE_ALREADY_SENT;
    }
    return new Response(text, { status, headers: { 'content-type': 'application/json' } });
  }

  /**
   * The answer (JSON text and status) to a plain 2026-07-28 tools/call, or undefined when the
   * SDK must serve the request. The client going away (`outgoing` closing, or `signal` without
   * a Node response) cancels the call.
   */
  async function plainCallAnswer(headers: { get(name: string): string | null }, outgoing: ServerResponse | undefined, requestSignal: AbortSignal | undefined, caller: Authenticated, parsedBody: unknown): Promise<{ text: string; status: number } | undefined> {
    const call = plainToolsCall(parsedBody, headers, envelopeAccepted);
    if (!call) return undefined;
    const tool = opts.catalog().tool(call.name);
    if (!tool || !visibleTo(caller.role, tool) || ((tool.toolClass === 'write' || tool.classFor) && opts.gate.mode(caller) === 'human')) return undefined;
    // The client going away cancels the call, as it does on the SDK's path (its request signal).
    const abort = new AbortController();
    const onClose = () => {
      if (!outgoing?.writableFinished) abort.abort(new Error('the client closed the connection'));
    };
    if (outgoing) outgoing.once('close', onClose);
    const signal = outgoing || !requestSignal ? abort.signal : requestSignal;
    let text: string;
    let status = 200;
    try {
      const result = await callHubTool({ ...callOptions(caller), caller }, {
        name: call.name,
        args: call.args,
        // 2026-07-28 has no sessions: approvals of a stateless client last per user and client name.
        session: `client:${call.client?.name ?? 'unknown'}`,
        ...(call.client ? { client: call.client } : {}),
        signal,
        human: { modern: true, canAsk: call.canElicit, retry: {} },
        clientRequests: { capabilities: call.capabilities, modern: true },
      });
      text = encodeToolsCallAnswer(call.id, result, { name: opts.info.name, version: opts.info.version });
    } catch (err) {
      // A protocol error (the tool went away since the check above) is answered as the SDK
      // does; anything else is a bug, logged here and not shown to the client.
      if (!(err instanceof ProtocolError)) opts.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'tools/call failed');
      const error = err instanceof ProtocolError ? { code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) } : { code: ProtocolErrorCode.InternalError, message: 'Internal error' };
      text = JSON.stringify({ jsonrpc: '2.0', id: call.id, error });
      // As the SDK answers it (its error ladder): a missing client capability is a 400.
      if (error.code === ProtocolErrorCode.MissingRequiredClientCapability) status = 400;
    } finally {
      outgoing?.off('close', onClose);
    }
    return { text, status };
  }

  const observed = (caller: Caller | (() => Caller)) => createHubServer({ info: opts.info, ...callOptions(caller) });

  const modern = createMcpHandler(
    (ctx) => {
      const caller = ctx.authInfo?.extra?.caller as Caller | undefined;
      // The route authenticates before the handler runs; a missing caller is a wiring bug.
      if (!caller) throw new Error('unauthenticated request reached the MCP handler');
      // The SDK builds the server once the request passed its own checks (revision, standard
      // headers, client capabilities): the point where it checks its own tools' Mcp-Param-*
      // headers. Throwing keeps the call from running; the route answers the refusal. The log
      // line (the handler's onerror) names the header, not the values: they are arguments.
      const check = ctx.authInfo?.extra?.[PARAM_HEADER_CHECK] as ParamHeaderCheck | undefined;
      if (check) {
        check.reached = true;
        throw new Error(`Rejected inbound request (${check.rejection.cell}): the ${check.rejection.error.data.mismatch.header} header does not carry its argument`);
      }
      return observed(caller);
    },
    { legacy: 'reject', maxRequestBodySize: opts.maxBodyBytes, onerror: (e) => opts.log?.warn({ err: e.message }, 'mcp handler error') },
  );

  /** 2026-07-28 `subscriptions/listen` streams open now, with who opened them. */
  const listens = new Set<{ caller: Authenticated; close(): void }>();
  /** Closes the sessions, legacy streams and listen streams whose token (or OAuth grant) is gone. */
  function dropStale(): void {
    for (const [id, s] of sessions) {
      if (current(s.opener)) continue;
      void s.transport.close().catch(() => undefined);
      sessions.delete(id);
      opts.gate.endSession(id);
    }
    for (const s of sseSessions.values()) if (!current(s.opener)) void s.transport.close();
    for (const l of listens) if (!current(l.caller)) l.close();
  }

  const sweep = setInterval(() => {
    const cutoff = Date.now() - idleMs;
    // An OAuth grant whose refresh token expired ends its sessions here.
    dropStale();
    for (const [id, s] of sessions) {
      if (s.lastSeen >= cutoff) continue;
      void s.transport.close().catch(() => undefined);
      sessions.delete(id);
      opts.gate.endSession(id);
    }
  }, Math.min(idleMs, 60_000));
  sweep.unref();

  async function legacy(c: Context, caller: Authenticated, parsedBody: unknown): Promise<Response> {
    const req = c.req.raw;
    const sid = req.headers.get('mcp-session-id');
    if (sid) {
      const s = sessions.get(sid);
      // Another user's session id is answered like an unknown one: nothing to learn from it.
      if (!s || s.ownerKey !== caller.key) {
        return c.json({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found: initialize a new session' } }, 404);
      }
      s.lastSeen = Date.now();
      if (Array.isArray(parsedBody)) {
        const revision = s.server.getNegotiatedProtocolVersion();
        if (revision !== BATCH_REVISION) return batchRefused(c, revision);
      }
      if ((parsedBody as { method?: unknown } | null)?.method === 'tools/list') {
        const splice: ToolsListSplice = {};
        const res = await s.transport.handleRequest(req, { parsedBody, authInfo: { token: '', clientId: caller.user, scopes: [], extra: { caller, [TOOLS_LIST_SPLICE]: splice } } });
        return splicedToolsList(res, splice, (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing);
      }
      return s.transport.handleRequest(req, parsedBody === undefined ? undefined : { parsedBody });
    }
    if (req.method !== 'POST') return c.json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' } }, 400);
    // A batch cannot initialize (2025-03-26 forbids it) and needs a session of that revision.
    if (Array.isArray(parsedBody)) return batchRefused(c, undefined);
    // Bounded: a client that opens sessions in a loop closes its own oldest, not the hub.
    const own = [...sessions.entries()].filter(([, s]) => s.ownerKey === caller.key).sort(([, a], [, b]) => a.lastSeen - b.lastSeen);
    for (const [id, s] of own.slice(0, Math.max(0, own.length - (MAX_SESSIONS_PER_TOKEN - 1)))) {
      void s.transport.close().catch(() => undefined);
      sessions.delete(id);
      opts.gate.endSession(id);
    }
    const server = observed(sessionCaller(caller));
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: opts.maxBodyBytes,
      onsessioninitialized: (id) => {
        const opened = Date.now();
        sessions.set(id, { transport, server, ownerKey: caller.key, opener: caller, openedAt: opened, lastSeen: opened });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
        opts.gate.endSession(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) {
        sessions.delete(transport.sessionId);
        opts.gate.endSession(transport.sessionId);
      }
    };
    await server.connect(transport);
    return transport.handleRequest(req, parsedBody === undefined ? undefined : { parsedBody });
  }

  function batchRefused(c: Context, revision: string | undefined): Response {
    refuse(c, 'bad_request', { why: 'batch', revision: revision ?? 'none' });
    const message = `Invalid Request: JSON-RPC batches are accepted only in a session of protocol revision ${BATCH_REVISION}${revision ? ` (this session uses ${revision})` : ''}`;
    return c.json({ jsonrpc: '2.0', id: null, error: { code: -32600, message } }, 400);
  }

  /**
   * The request body parsed, read no further than the body limit and refused when it nests
   * deeper than `maxJsonDepth`; or the error answer (413, 400).
   */
  async function readJson(c: Context): Promise<{ body: unknown } | Response> {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const pre = incoming ? preadmitted.get(incoming) : undefined;
    // (A Node request someone already read or consumed: through the web body, as before.)
    const direct = incoming && !incoming.readableEnded && !incoming.readableDidRead && !incoming.destroyed;
    const text = pre?.read ? pre.text : direct ? await readIncoming(incoming, opts.maxBodyBytes) : await readLimited(c.req.raw, opts.maxBodyBytes);
    if (text === undefined) {
      refuse(c, 'too_large');
      return c.json({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Request body too large: limit is ${opts.maxBodyBytes} bytes` } }, 413);
    }
    if (exceedsJsonDepth(text, maxDepth)) {
      refuse(c, 'bad_request', { why: 'depth' });
      return c.json({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Invalid Request: the body nests arrays/objects deeper than limits.maxJsonDepth (${maxDepth})` } }, 400);
    }
    try {
      return { body: JSON.parse(text) };
    } catch {
      return c.json({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the body is not valid JSON' } }, 400);
    }
  }

  /** Whether a session of `role` may get the log messages of `source` (see `relayLog` below). */
  const logAudience = new WeakMap<Catalog, Map<Role, { sources: Set<string>; fleet: Set<string> }>>();
  function seesSource(role: Role, source: string): boolean {
    const catalog = opts.catalog();
    let byRole = logAudience.get(catalog);
    if (!byRole) logAudience.set(catalog, (byRole = new Map()));
    let seen = byRole.get(role);
    if (!seen) {
      const tools = catalog.tools(role);
      seen = {
        // Tools only: every role reads every upstream's resources and prompts, and an upstream's
        // log messages (which can carry what an admin's write call sent) are for who may call it.
        sources: new Set(tools.map((t) => t.source)),
        fleet: new Set(tools.filter((t) => t.source === 'fleet').map((t) => t.def.name)),
      };
      byRole.set(role, seen);
    }
    if (seen.sources.has(source)) return true;
    return opts.nodeTools?.(source)?.some((n) => seen.fleet.has(n)) ?? false;
  }

  const app = new Hono();

  const ownHost = opts.ownHost ?? createOwnHostCheck();
  // Every name refused is logged (once per name and source per window), with the key that
  // allows it: a hub behind a new tunnel name, or a device installing from the LAN, is one
  // config line away from working and must not have to guess which.
  const forbidden = (c: Context, header: 'Host' | 'Origin', value: string, name: string, edgeFile: boolean) => {
    const what = header === 'Host' ? `Host "${name}"` : `Origin "${value.slice(0, 200)}" (host "${name}")`;
    const also = edgeFile ? "; /edge/ also accepts this hub's own addresses and host name" : '';
    refuse(c, 'forbidden_host', { [header.toLowerCase()]: value.slice(0, 200), allowWith: 'allowedHosts' }, { distinct: `${header}\u0000${name.slice(0, 200)}`, msg: `refused: Host or Origin not allowed (403): ${what} is not a name of this hub; if clients reach the hub by this name (its tunnel or reverse proxy), add "${name.slice(0, 200)}" to allowedHosts in hub.yaml${also}` });
    return c.json({ error: `forbidden ${header.toLowerCase()}: "${name.slice(0, 200)}" is not in the hub's allowedHosts` }, 403);
  };

  // Every request's work knows its source (the audit event of a call records it).
  app.use('*', (c, next) => requestSource.run(sourceOf(c), next));

  app.use('*', async (c, next) => {
    // The installer and the bundle are not secrets: a device on the LAN may fetch them by the
    // hub's own address or host name (see own-host.ts). Everything else keeps the strict check.
    const edgeFile = c.req.path.startsWith('/edge/');
    const localAddress = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.localAddress;
    const ok = (name: string) => allowed(name) || (edgeFile && ownHost(name, localAddress));
    const host = hostOnly(c.req.header('host') ?? '');
    if (!ok(host)) return forbidden(c, 'Host', c.req.header('host') ?? '', host, edgeFile);
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let oh = '';
      try {
        oh = hostOnly(new URL(origin).host);
      } catch {
        // refused below
      }
      if (!ok(oh)) return forbidden(c, 'Origin', origin, oh, edgeFile);
    }
    await next();
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  if (opts.ui) {
    const peerTrusted = (c: Context) => {
      const peer = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress;
      return !!peer && (opts.trustedProxies?.() ?? []).some((t) => plainAddress(t) === plainAddress(peer));
    };
    const ui = opts.ui({
      authenticate: (h) => opts.authenticate(h),
      resolveCaller: (k) => (opts.resolveCaller ? opts.resolveCaller(k) : undefined),
      sourceOf,
      // Only a trusted proxy may say the browser used TLS (the Secure cookie flag); its own entry is the last.
      viaTls: (c) => peerTrusted(c) && (c.req.header('x-forwarded-proto') ?? '').split(',').pop()!.trim().toLowerCase() === 'https',
      authFailures,
      refused: (c, kind) => refuse(c, kind),
      rateLimit: (key) => opts.rateLimit(key),
    });
    app.route('/ui', ui);
  }

  app.get('/edge/homelab-edge.mjs', (c) => {
    const b = opts.edgeDist?.bundle();
    if (!b) return c.json({ error: 'the edge bundle is not built on this hub (pnpm build)' }, 404);
    return c.body(new Uint8Array(b.bytes), 200, { 'content-type': 'text/javascript; charset=utf-8', 'x-sha256': b.sha256 });
  });
  app.get('/edge/install.sh', (c) => {
    const b = opts.edgeDist?.bundle();
    if (!b) return c.json({ error: 'the edge bundle is not built on this hub (pnpm build)' }, 404);
    // The Host header already passed the allow-list above; the scheme comes from the proxy.
    const proto = c.req.header('x-forwarded-proto') === 'https' ? 'https' : 'http';
    const hubUrl = `${proto}://${c.req.header('host')}`;
    if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(hubUrl)) return c.json({ error: 'unusable Host header' }, 400);
    return c.text(opts.edgeDist!.installer(hubUrl, b.sha256), 200, { 'content-type': 'text/x-shellscript; charset=utf-8' });
  });

  /**
   * The caller, or the refusal: 401 for a bad token, and 429 for every request from an address
   * that failed too often lately (checked before the token, so the answer says nothing about
   * whether a token exists).
   */
  const authed = (c: Context): Authenticated | Response => {
    const source = sourceOf(c);
    const throttled = authFailures.blocked(source);
    if (!throttled.ok) {
      refuse(c, 'auth_throttled');
      return c.body(null, 429, { 'retry-after': String(throttled.retryAfterS) });
    }
    const caller = opts.authenticate(c.req.header('authorization'));
    if (caller) return caller;
    authFailures.take(source);
    refuse(c, 'unauthorized');
    return c.body(null, 401);
  };

  app.get('/readyz', (c) => {
    const caller = authed(c);
    if (caller instanceof Response) return caller;
    const upstreams = opts.health();
    const ready = upstreams.every((u) => u.status === 'up');
    return c.json({ status: ready ? 'ready' : 'degraded', upstreams }, ready ? 200 : 503);
  });

  app.get('/metrics', (c) => {
    const caller = authed(c);
    if (caller instanceof Response) return caller;
    const text = opts.metrics.render(opts.health().map((u) => ({ name: u.name, kind: u.kind, up: u.status === 'up' })));
    return c.text(text, 200, { 'content-type': 'text/plain; version=0.0.4' });
  });

  function rateLimited(c: Context, caller: Authenticated, retryAfterS: number): Response {
    refuse(c, 'rate_limited', { user: caller.user });
    return c.json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Too many requests' } }, 429, { 'retry-after': String(retryAfterS) });
  }

  /** A batch counts as its number of messages; the first was taken by `admit`. */
  function chargeBatch(c: Context, caller: Authenticated, body: unknown): Response | undefined {
    if (!Array.isArray(body) || body.length < 2) return undefined;
    const rate = opts.rateLimit(caller.key, body.length - 1);
    return rate.ok ? undefined : rateLimited(c, caller, rate.retryAfterS);
  }

  /** Authentication, rate limit and body limit: the gate every MCP request passes. */
  function admit(c: Context, auth: (c: Context) => Authenticated | Response = authed): Authenticated | Response {
    // A request the raw fast path already authenticated and charged (it handed it on): once only.
    const pre = preadmittedOf(c);
    const caller = pre ? pre.caller : auth(c);
    if (caller instanceof Response) return caller;
    const rate = pre ? pre.rate : opts.rateLimit(caller.key);
    if (!rate.ok) return rateLimited(c, caller, rate.retryAfterS);
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > opts.maxBodyBytes) {
      refuse(c, 'too_large', { declared });
      return c.json({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Request body too large: limit is ${opts.maxBodyBytes} bytes` } }, 413);
    }
    return caller;
  }

  // Legacy HTTP+SSE (2024-11-05) for clients that predate Streamable HTTP.
  app.get('/sse', async (c) => {
    const caller = admit(c);
    if (caller instanceof Response) return caller;
    const ownStreams = [...sseSessions.values()].filter((x) => x.ownerKey === caller.key);
    for (const x of ownStreams.slice(0, Math.max(0, ownStreams.length - (MAX_SESSIONS_PER_TOKEN - 1)))) void x.transport.close();
    const transport = new SseServerTransport('/messages');
    const server = observed(sessionCaller(caller));
    const opened = Date.now();
    sseSessions.set(transport.sessionId, { transport, server, ownerKey: caller.key, opener: caller, openedAt: opened, lastSeen: opened });
    transport.onclose = () => {
      sseSessions.delete(transport.sessionId);
      opts.gate.endSession(transport.sessionId);
      void server.close().catch(() => undefined);
    };
    await server.connect(transport);
    return transport.response;
  });

  app.post('/messages', async (c) => {
    const caller = admit(c);
    if (caller instanceof Response) return caller;
    const s = sseSessions.get(c.req.query('sessionId') ?? '');
    if (!s || s.ownerKey !== caller.key) return c.json({ error: 'unknown session: open a new one with GET /sse' }, 404);
    s.lastSeen = Date.now();
    // Read no further than the limit: the whole body used to be buffered before its 413.
    const parsed = await readJson(c);
    if (parsed instanceof Response) return parsed;
    // 2024-11-05 has no batches (they came with 2025-03-26 and left with 2025-06-18).
    if (Array.isArray(parsed.body)) return batchRefused(c, '2024-11-05');
    s.transport.receive(parsed.body as Parameters<typeof s.transport.receive>[0]);
    return c.text('Accepted', 202);
  });

  /**
   * A 429 for a POSTed request names the request it refuses (JSON-RPC: the error's `id` is the
   * request's), so a client can tell which call to retry. Only a small body is read for it (the
   * limit is there to shed load); a larger one, a batch or a notification keeps `id: null`.
   */
  async function withRequestId(c: Context, refused: Response): Promise<Response> {
    const declared = Number(c.req.header('content-length') ?? NaN);
    // (The login throttle's 429 has no body to put the id in: refused.json() threw, a 500.)
    if (refused.status !== 429 || !refused.body || c.req.method !== 'POST' || !(declared <= MAX_ECHO_BODY)) return refused;
    const text = await readLimited(c.req.raw, MAX_ECHO_BODY).catch(() => undefined);
    let id: unknown;
    try {
      id = text ? (JSON.parse(text) as { id?: unknown }).id : undefined;
    } catch {
      return refused;
    }
    if (typeof id !== 'string' && typeof id !== 'number') return refused;
    const body = (await refused.json()) as { error: unknown };
    return new Response(JSON.stringify({ jsonrpc: '2.0', id, error: body.error }), { status: 429, headers: refused.headers });
  }

  app.all('/mcp', async (c) => {
    const caller = admit(c);
    if (caller instanceof Response) return withRequestId(c, caller);
    return serveMcp(c, caller);
  });

  /**
   * `/oauth/mcp`: what `/mcp` serves, for the caller an OAuth access token stands for (its hub
   * token's user and role as configured now). A 401 names the protected resource metadata.
   */
  const oauthOn = () => !!oauth && (opts.oauthEnabled?.() ?? false);
  const oauthAuthed = (c: Context): Authenticated | Response => {
    const source = sourceOf(c);
    const throttled = authFailures.blocked(source);
    if (!throttled.ok) {
      refuse(c, 'auth_throttled');
      return c.body(null, 429, { 'retry-after': String(throttled.retryAfterS) });
    }
    const presented = bearerToken(c.req.header('authorization'));
    const caller = presented !== undefined && presented.length <= 1024 ? oauth!.verify(c, presented) : undefined;
    // A session opened with this token lives as long as its grant (refreshes keep it; a
    // revocation or the refresh token's expiry ends it), and as long as the hub token.
    if (caller) return { user: caller.user, role: caller.role, key: caller.key, oauthClient: caller.clientName || caller.clientId, alive: () => oauth!.grantAlive(caller.familyId) };
    // A missing token is how every OAuth client starts: not a failure to throttle.
    if (presented !== undefined) {
      authFailures.take(source);
      refuse(c, 'unauthorized');
    }
    return c.body(null, 401, { 'www-authenticate': oauth!.challenge(c, presented !== undefined) });
  };
  app.all(OAUTH_MCP_PATH, async (c) => {
    if (!oauthOn()) return c.json({ error: 'not found' }, 404);
    const caller = admit(c, oauthAuthed);
    if (caller instanceof Response) return withRequestId(c, caller);
    return serveMcp(c, caller);
  });
  app.use('/.well-known/*', async (c, next) => (oauthOn() ? next() : c.json({ error: 'not found' }, 404)));
  app.use('/oauth/*', async (c, next) => (oauthOn() ? next() : c.json({ error: 'not found' }, 404)));
  if (oauth) app.route('/', oauth.app);

  async function serveMcp(c: Context, caller: Authenticated): Promise<Response> {
    const req = c.req.raw;
    // The body is read and parsed once, here, and handed to the SDK: classifying the era and
    // serving the request would otherwise each read and parse it again.
    let parsedBody: unknown;
    if (req.method === 'POST') {
      const parsed = await readJson(c);
      if (parsed instanceof Response) return parsed;
      parsedBody = parsed.body;
      const charged = chargeBatch(c, caller, parsedBody);
      if (charged) return charged;
    }
    if (req.method !== 'POST' || req.headers.has('mcp-session-id') || (!claimsModernEnvelope(parsedBody) && (await isLegacyRequest(req, parsedBody, { maxRequestBodySize: opts.maxBodyBytes })))) {
      return legacy(c, caller, parsedBody);
    }
    if ((parsedBody as { method?: unknown } | null)?.method === 'tools/list') {
      const splice: ToolsListSplice = {};
      const res = await modern.fetch(req, { parsedBody, authInfo: { token: '', clientId: caller.user, scopes: [], extra: { caller, [TOOLS_LIST_SPLICE]: splice } } });
      return splicedToolsList(res, splice, (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing);
    }
    // A call whose Mcp-Param-* headers fail their check goes the SDK's way, which checks the
    // rest of the request first and so refuses what the SDK would refuse first.
    const refusal = paramHeaderRefusal(caller, parsedBody, req.headers);
    if (refusal) return refusedForParamHeaders(req, caller, parsedBody, refusal);
    const fast = await fastToolsCall(c, caller, parsedBody);
    if (fast) return fast;
    const watched = resourceListen(parsedBody);
    if (watched && opts.subscriptions) return listenWithSubscriptions(c, caller, parsedBody, watched, opts.subscriptions);
    const res = await modern.fetch(req, { parsedBody, authInfo: { token: '', clientId: caller.user, scopes: [], extra: { caller } } });
    return (parsedBody as { method?: unknown } | null)?.method === 'subscriptions/listen' ? trackedListen(res, caller) : res;
  }

  /**
   * A listen stream, closed by {@link dropStale} when its caller's token (or OAuth grant) goes:
   * it would otherwise go on announcing changes to someone no longer allowed in.
   */
  function trackedListen(res: Response, caller: Authenticated, release: () => void = () => undefined): Response {
    if (!res.body) {
      release();
      return res;
    }
    const reader = res.body.getReader();
    let ctl: ReadableStreamDefaultController<Uint8Array> | undefined;
    const entry = {
      caller,
      close: () => {
        end();
        void reader.cancel().catch(() => undefined);
        try {
          ctl?.close();
        } catch {
          // already closed
        }
      },
    };
    const end = () => {
      listens.delete(entry);
      release();
    };
    listens.add(entry);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        ctl = controller;
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            end();
            controller.close();
          } else controller.enqueue(value);
        } catch (err) {
          end();
          controller.error(err);
        }
      },
      cancel(reason) {
        end();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  /**
   * The SDK's answer to a 2026-07-28 tools/call whose Mcp-Param-* headers fail their check:
   * its own refusal when an earlier check of its refuses the request, else this one (400,
   * -32020, the request's id), as the SDK answers for its own tools.
   */
  async function refusedForParamHeaders(req: Request, caller: Authenticated, parsedBody: unknown, rejection: ParamHeaderRejection): Promise<Response> {
    const check: ParamHeaderCheck = { rejection, reached: false };
    const res = await modern.fetch(req, { parsedBody, authInfo: { token: '', clientId: caller.user, scopes: [], extra: { caller, [PARAM_HEADER_CHECK]: check } } });
    if (!check.reached) return res;
    await res.body?.cancel();
    return Response.json({ jsonrpc: '2.0', error: rejection.error, id: (parsedBody as { id: unknown }).id }, { status: rejection.status });
  }

  /** Tells the 2026-07-28 listen streams subscribed to `uri` (the SDK's router filters by URI). */
  const publishUpdated = (uri: string) => modern.notify.resourceUpdated(uri);

  /**
   * A 2026-07-28 `subscriptions/listen` with `resourceSubscriptions`: the hub subscribes at the
   * upstreams first (so no change after the acknowledgement is missed), lets the SDK serve the
   * stream, and gives the subscriptions back when the stream ends, whichever side ends it.
   */
  async function listenWithSubscriptions(c: Context, caller: Authenticated, parsedBody: unknown, uris: string[], subs: ResourceSubscriptions): Promise<Response> {
    const id = (parsedBody as { id?: unknown }).id;
    if (uris.length > MAX_SUBSCRIPTIONS_PER_SESSION) {
      return c.json({ jsonrpc: '2.0', id: id ?? null, error: { code: ProtocolErrorCode.InvalidParams, message: `subscriptions/listen: at most ${MAX_SUBSCRIPTIONS_PER_SESSION} resourceSubscriptions per stream` } });
    }
    const stream = {};
    const ended = new AbortController();
    // A resource that cannot be subscribed to is acknowledged like the others and never
    // announced (the ack is the SDK's); the first reason goes to the hub's log, once per stream.
    let refused = 0;
    let first: Record<string, unknown> | undefined;
    for (const uri of new Set(uris)) {
      await subs.subscribe(stream, uri, publishUpdated, ended.signal, caller.user).catch((err: unknown) => {
        refused++;
        first ??= { uri: uri.slice(0, 200), err: (err instanceof Error ? err.message : String(err)).slice(0, 300) };
      });
    }
    if (first) opts.log?.warn({ user: caller.user, refused, ...first }, 'subscriptions/listen: some resources not subscribed');
    const release = () => {
      ended.abort();
      subs.drop(stream);
    };
    let res: Response;
    try {
      res = await modern.fetch(c.req.raw, { parsedBody, authInfo: { token: '', clientId: caller.user, scopes: [], extra: { caller } } });
    } catch (err) {
      release();
      throw err;
    }
    return trackedListen(res, caller, release);
  }

  /**
   * Whether a request is one the raw fast path may take, and if so the caller and the rate
   * limiter's decision: a `POST /mcp` announcing a 2026-07-28 `tools/call` (`Mcp-Method`), no
   * session, no `Origin`, no repeated header (Node keeps the first of some where the app's
   * `Headers` joins them), an allowed `Host`, a source not throttled, a valid bearer token and a
   * declared length within the limit: the checks the app's middleware and `admit` make, in
   * their order. Anything else, the refusals included, is the app's. Only the rate limiter has
   * a side effect (it takes a token), and it runs last.
   */
  function rawAdmit(incoming: IncomingMessage): { caller: Authenticated; rate: RateDecision; source: string } | undefined {
    if (incoming.method !== 'POST' || incoming.url !== '/mcp') return undefined;
    const h = incoming.headers;
    if (h['mcp-method'] !== 'tools/call' || h['mcp-session-id'] !== undefined || h.origin !== undefined) return undefined;
    if (incoming.rawHeaders.length !== 2 * Object.keys(h).length) return undefined;
    // Only a Host @hono/node-server takes: it refuses some whose hostOnly() is allowed.
    if (!h.host || !nodeServerTakesHost(h.host) || !allowed(hostOnly(h.host))) return undefined;
    const header = opts.clientIpHeader?.() ?? 'x-forwarded-for';
    const forwarded = h[header.toLowerCase()];
    const source = clientAddress(incoming.socket?.remoteAddress, typeof forwarded === 'string' ? forwarded : undefined, opts.trustedProxies?.() ?? [], header);
    if (!authFailures.blocked(source).ok) return undefined;
    const caller = opts.authenticate(h.authorization);
    if (!caller) return undefined;
    if (Number(h['content-length'] ?? 0) > opts.maxBodyBytes) return undefined;
    return { caller, rate: opts.rateLimit(caller.key), source };
  }

  /**
   * Serves a request `rawAdmit` took: reads and parses the body (same limit and depth check),
   * and answers a plain tools/call from the Node request and response, with no Hono context and
   * no WHATWG Request or Headers. Everything else (a body too large, too deep or not JSON, a
   * batch, a Mcp-Param-* mismatch, anything the SDK must serve) goes to the app with what was
   * done (`preadmitted`), which answers it as it would have.
   */
  async function rawServe(incoming: IncomingMessage, outgoing: ServerResponse, caller: Authenticated, rate: RateDecision, next: (incoming: IncomingMessage, outgoing: ServerResponse) => unknown): Promise<void> {
    const text = await readIncoming(incoming, opts.maxBodyBytes);
    let body: unknown;
    let parsed = text !== undefined && !exceedsJsonDepth(text, maxDepth);
    if (parsed) {
      try {
        body = JSON.parse(text!);
      } catch {
        parsed = false;
      }
    }
    const handOn = () => {
      preadmitted.set(incoming, { caller, rate, read: true, text });
      void next(incoming, outgoing);
    };
    if (!parsed || Array.isArray(body)) return handOn();
    const headers = nodeHeaders(incoming.headers);
    if (paramHeaderRefusal(caller, body, headers)) return handOn();
    const answer = await plainCallAnswer(headers, outgoing, undefined, caller, body);
    if (!answer) return handOn();
    if (outgoing.headersSent || outgoing.destroyed) return;
    writeJsonAnswer(outgoing, answer.status, answer.text);
  }

  /**
   * The Node request listener to serve with: `next` (the app's listener from
   * `@hono/node-server`) for every request, except a plain 2026-07-28 tools/call on `/mcp`,
   * which is answered straight from the Node request (see `rawAdmit`, `rawServe`): Hono's
   * routing, its context and the Request/Headers objects were a tenth of the hub's CPU per call.
   */
  function nodeListener(next: (incoming: IncomingMessage, outgoing: ServerResponse) => unknown): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
    return (incoming, outgoing) => {
      let admitted: ReturnType<typeof rawAdmit>;
      try {
        admitted = rawAdmit(incoming);
      } catch {
        // A check that throws (nothing was charged: the rate limiter runs last) would escape
        // the 'request' event and end the process; the app runs it again and answers its 500.
        return void next(incoming, outgoing);
      }
      if (!admitted) return void next(incoming, outgoing);
      const { caller, rate, source } = admitted;
      if (!rate.ok) {
        preadmitted.set(incoming, { caller, rate, read: false });
        return void next(incoming, outgoing);
      }
      requestSource.run(source, () => {
        rawServe(incoming, outgoing, caller, rate, next).catch((err: unknown) => {
          // As Hono answers an exception in a handler.
          opts.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'mcp request failed');
          if (!outgoing.headersSent && !outgoing.destroyed) {
            outgoing.writeHead(500, { 'content-type': 'text/plain; charset=UTF-8' });
            outgoing.end('Internal Server Error');
          }
        });
      });
    };
  }

  return {
    app,
    nodeListener,
    /** Tells every client that the lists changed: open 2025 sessions and 2026 subscriptions. */
    notifyListChanged(): void {
      modern.notify.toolsChanged();
      modern.notify.resourcesChanged();
      modern.notify.promptsChanged();
      for (const s of [...sessions.values(), ...sseSessions.values()]) {
        void s.server.sendToolListChanged().catch(() => undefined);
        void s.server.sendResourceListChanged().catch(() => undefined);
        void s.server.sendPromptListChanged().catch(() => undefined);
      }
    },
    /**
     * Passes an upstream's log message to the open sessions that may see it: a session gets the
     * logs of a source when its user's role, as configured now, sees at least one tool,
     * resource or prompt of that source (for a node: one fleet tool the node offers). A viewer
     * therefore gets nothing from an upstream or node that offers it only writes. (Only open
     * 2025-era sessions and legacy SSE streams get relayed logs.)
     */
    relayLog(source: string, message: { level: string; logger?: string; data: unknown }): void {
      for (const s of [...sessions.values(), ...sseSessions.values()]) {
        const who = current(s.opener);
        if (who && seesSource(who.role, source)) relayLog(s.server, source, message);
      }
    },
    /** Closes the open sessions and listen streams whose token is no longer configured (after a reload). */
    dropStaleSessions: dropStale,
    sessionCount: () => sessions.size,
    /**
     * Every open 2025-era session (Streamable HTTP) and legacy /sse stream, for the admin UI: who
     * its token stands for now (a session whose token is gone is left out: it is being closed),
     * the protocol revision and client it declared at `initialize` (absent before), and when it
     * was opened and last sent a request.
     *
     * @example http.sessions().filter((s) => s.user === 'ann')
     */
    sessions(): LiveSession[] {
      const out: LiveSession[] = [];
      const add = (id: string, transport: LiveSession['transport'], s: Session | SseSession) => {
        const who = current(s.opener);
        if (!who) return;
        const protocolVersion = s.server.getNegotiatedProtocolVersion();
        const client = boundedClientInfo(s.server.getClientVersion());
        out.push({
          id,
          transport,
          user: who.user,
          role: who.role,
          key: who.key,
          ...(protocolVersion ? { protocolVersion } : {}),
          ...(client?.name !== undefined ? { client: { name: client.name, ...(client.version !== undefined ? { version: client.version } : {}) } } : {}),
          openedAt: new Date(s.openedAt).toISOString(),
          lastSeenAt: new Date(s.lastSeen).toISOString(),
        });
      };
      for (const [id, s] of sessions) add(id, 'streamable-http', s);
      for (const [id, s] of sseSessions) add(id, 'sse', s);
      return out;
    },
    async close(): Promise<void> {
      clearInterval(sweep);
      await modern.close();
      await Promise.all([...sessions.values(), ...sseSessions.values()].map((s) => s.transport.close().catch(() => undefined)));
      sessions.clear();
      sseSessions.clear();
    },
  };
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) is 127.0.0.1. */
function plainAddress(a: string): string {
  const t = a.trim().toLowerCase();
  return t.startsWith('::ffff:') && isIP(t.slice(7)) === 4 ? t.slice(7) : t;
}

/**
 * The address a request is attributed to (failed-login throttling, refusal logs, audit events):
 * the peer, unless the peer is a trusted proxy; then the nearest X-Forwarded-For entry that is
 * not one (proxies append what they saw, so entries further left may be made up by the client),
 * or with `cf-connecting-ip` the one address Cloudflare's edge put there.
 *
 * @example clientAddress('127.0.0.1', '203.0.113.5', ['127.0.0.1']) // '203.0.113.5'
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | undefined, trusted: readonly string[], header: 'x-forwarded-for' | 'cf-connecting-ip' = 'x-forwarded-for'): string {
  if (!peer) return 'unknown';
  const from = plainAddress(peer);
  if (trusted.length === 0 || !forwardedFor) return from;
  const isTrusted = (a: string) => trusted.some((t) => plainAddress(t) === a);
  if (!isTrusted(from)) return from;
  if (header === 'cf-connecting-ip') {
    const named = plainAddress(forwardedFor);
    return isIP(named) === 0 ? from : named;
  }
  const hops = forwardedFor.split(',').map(plainAddress).slice(-32);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) return from; // a malformed entry: the chain cannot be followed further
    if (!isTrusted(hop)) return hop;
  }
  return from;
}
