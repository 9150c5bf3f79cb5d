/**
 * An upstream: one MCP server the hub proxies (an edge agent, a Streamable HTTP server such
 * as Home Assistant or another hub, a legacy HTTP+SSE server, or a stdio command), kept
 * connected for the life of the hub.
 *
 * This layer exists for the failures users of other MCP proxies report most: an upstream that
 * restarts leaves the proxy stuck on "Session not found"; a crashed upstream never comes back
 * without restarting the proxy; one dead upstream makes every call (or `tools/list`) hang.
 * Here:
 * - the era is negotiated (2026-07-28 first, then `initialize`) and remembered, so a
 *   reconnect costs no probe;
 * - a lost session (HTTP 404 on a 2025 session) is re-initialized and the call retried once;
 * - a drop is noticed by failed calls, transport errors and a periodic health check, and
 *   repaired by reconnecting with exponential backoff; a stdio child that exits is respawned;
 * - while an upstream is down, its lists are empty and a call fails at once with
 *   `UPSTREAM_UNAVAILABLE` ("node pi is unreachable since <time>: connection refused"),
 *   never waiting for a connect timeout;
 * - every call has a deadline, combined with the caller's signal; aborting cancels the
 *   request upstream, and progress notifications reach the caller.
 *
 * Messages never contain a token, a header value or URL credentials.
 *
 * @example
 * const pi = createUpstream({ kind: 'edge', name: 'pi', url: 'http://10.0.0.5:8222/mcp', token });
 * await pi.start();                       // resolves after the first attempt, up or not
 * pi.onChange((what) => what === 'tools' && rebuildCatalog());
 * const r = await pi.callTool('get_status', {}, { signal, timeoutMs: 10_000 });
 */
import { HomelabError } from '@homelab-mcp/core';
import {
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  SseError,
  type CallToolResult,
  type CompleteRequest,
  type CompleteResult,
  type GetPromptResult,
  type McpSubscription,
  type Prompt,
  type ReadResourceResult,
  type RequestOptions,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type PriorDiscovery,
  type Tool,
} from '@modelcontextprotocol/client';
import { createBackoff } from './backoff.ts';
import { openConnection, requestHeaders, type Connection, type ConnectionHooks, type ListKind, type UpstreamLogMessage, type UpstreamSpec } from './connection.ts';
import { boundedProtocolError, classifyFailure, embeddedProtocolError, safeUrl, shortReason, type FailureKind } from './errors.ts';
import { callScope, withCallScope } from './call-scope.ts';
import { isResultTooLarge } from './limited-fetch.ts';
import { createClientRouting, isRelayFailure, outsideCalls, type ClientChannel } from './client-requests.ts';

/**
 * Why a connection the hub closed itself is down: a call still running on it (cancelled on
 * the device, its command killed) must not read as a device that went away on its own.
 */
/** Where a 2026-07-28 answer names its server. */
const SERVER_INFO_META = 'io.modelcontextprotocol/serverInfo';

const CLOSED = 'closed by the hub: a config reload removed or changed it, or the hub is stopping';

export type { UpstreamLogMessage, UpstreamSpec } from './connection.ts';

export interface UpstreamState {
  /** `connecting`: the first attempt, or a transparent re-connect from `up`; `down`: waiting to retry. */
  status: 'connecting' | 'up' | 'down';
  /** When `status` last changed. */
  since: Date;
  /** Why it is down (or reconnecting): short, redacted. */
  lastError?: string;
  /** The protocol era spoken (or last spoken) with this upstream. */
  era?: 'modern' | 'legacy';
  serverInfo?: { name: string; version: string };
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Deadline for the whole call, including one transparent retry; default `callTimeoutMs`. */
  timeoutMs?: number;
  onprogress?: (p: { progress: number; total?: number; message?: string }) => void;
  /** Extra `_meta` for a tools/call (the hub's file policy for an edge). */
  meta?: Record<string, unknown>;
  /** The least severe log level the caller wants of a tools/call (2026-07-28 `_meta`); default `info`. */
  logLevel?: string;
  /** Log messages the upstream sends on this call's own stream (besides `onLog` listeners). */
  onlog?: (message: UpstreamLogMessage) => void;
  /** The client of this call: what the upstream asks mid-call goes there (client-requests.ts). */
  client?: ClientChannel;
  /**
   * A 2026-07-28 client's retry of a call the upstream answered `input_required`: its answers
   * and the upstream's own `requestState`, sent back with the same tool call.
   */
  resume?: { inputResponses?: Record<string, unknown>; requestState?: string };
}

/** What a connected upstream offers beyond its lists, as its capabilities say. */
export interface UpstreamFeatures {
  completions: boolean;
  /** `resources.subscribe`: it announces changes of a resource (resources/subscribe or subscriptions/listen). */
  resourceSubscribe: boolean;
}

export type UpstreamChange = 'state' | 'tools' | 'resources' | 'prompts';

export interface Upstream {
  readonly spec: UpstreamSpec;
  state(): UpstreamState;
  /** Last known lists; empty while down. `resources` changes cover both resources and templates. */
  tools(): Tool[];
  resources(): Resource[];
  resourceTemplates(): ResourceTemplate[];
  prompts(): Prompt[];
  /** The first connect attempt: resolves when up or when that attempt failed; never rejects. */
  start(): Promise<void>;
  /** Disconnects for good (kills a stdio child); pending calls fail. */
  close(): Promise<void>;
  /**
   * Checks now instead of at the next health-check tick: a cheap request while up (a dead
   * upstream is marked down at once), a reconnect attempt while down. Never rejects.
   */
  checkNow(): Promise<void>;
  callTool(name: string, args: Record<string, unknown>, opts?: CallOptions): Promise<CallToolResult>;
  readResource(uri: string, opts?: CallOptions): Promise<ReadResourceResult>;
  getPrompt(name: string, args: Record<string, string> | undefined, opts?: CallOptions): Promise<GetPromptResult>;
  /** `completion/complete`, `params` as the upstream names its prompt or template. */
  complete(params: CompleteRequest['params'], opts?: CallOptions): Promise<CompleteResult>;
  /** What the live connection offers (both false while down). */
  features(): UpstreamFeatures;
  /**
   * Asks the upstream to announce changes of `uri` (`resources/subscribe` on 2025, a
   * `subscriptions/listen` stream on 2026-07-28), kept across reconnects until
   * `unsubscribeResource`. Rejects (and keeps nothing) when the upstream refuses or is down.
   */
  subscribeResource(uri: string, opts?: CallOptions): Promise<void>;
  /** Stops announcements of `uri` (best effort: never rejects). */
  unsubscribeResource(uri: string): Promise<void>;
  /** Calls `listener` with each URI the upstream says changed; returns the unsubscribe function. */
  onResourceUpdated(listener: (uri: string) => void): () => void;
  /** Calls `listener` on each change; returns the unsubscribe function. */
  onChange(listener: (what: UpstreamChange) => void): () => void;
  /** Calls `listener` with each log message the upstream sends; returns the unsubscribe function. */
  onLog(listener: (message: UpstreamLogMessage) => void): () => void;
}

/** The subset of pino's API this module logs with (pass `log.child({ ... })` of core's logger). */
export interface UpstreamLogger {
  debug?(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface UpstreamOptions {
  log?: UpstreamLogger;
  /** Deadline of a connect (handshake plus first lists) and of a health check; default 10 s. */
  connectTimeoutMs?: number;
  /** Default deadline of a call; default 60 s. */
  callTimeoutMs?: number;
  /** Reconnect delays; default 500 ms doubling to 30 s, with jitter. */
  backoff?: { initialMs: number; maxMs: number };
  /** Interval of the health check while up; default 15 s; 0 turns it off. */
  healthIntervalMs?: number;
  /** A connection up for less than this is flapping (see `STABLE_MS`, the default); tests shorten it. */
  stableMs?: number;
  /** How the hub introduces itself upstream. */
  clientInfo?: { name: string; version: string };
  /** Cap of each cached list; default 5,000. Longer lists are cut, with a warning. */
  maxListItems?: number;
  /** Largest answer read from the upstream (`limits.maxResultBytes`); default 8 MiB. */
  maxResultBytes?: number;
  /** Each HTTP request made to the upstream (the audit trail records them). */
  onHttpRequest?: (request: { upstream: string; method: string; url: string; status?: number; error?: string; durationMs: number }) => void;
}

export const UPSTREAM_DEFAULTS = {
  connectTimeoutMs: 10_000,
  callTimeoutMs: 60_000,
  backoff: { initialMs: 500, maxMs: 30_000 },
  healthIntervalMs: 15_000,
  clientInfo: { name: 'homelab-hub', version: '0.1.0' },
  maxListItems: 5_000,
} as const;

/**
 * A connection that dies sooner than this after coming up is flapping: its replacement waits
 * for the backoff instead of being attempted at once, so an upstream that accepts
 * `initialize` and then fails every request cannot spin the hub in a reconnect loop.
 */
const STABLE_MS = 10_000;
/** A call to a down upstream pulls the next retry forward, at most this often. */
const POKE_MIN_MS = 2_000;
/** A remembered 2025 verdict is re-probed after this long: the server may have been upgraded. */
const LEGACY_VERDICT_MAX_AGE_MS = 24 * 60 * 60 * 1000;

const silent: UpstreamLogger = { debug() {}, info() {}, warn() {} };

interface Lists {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
}
const EMPTY_LISTS: Lists = { tools: [], resources: [], resourceTemplates: [], prompts: [] };

/**
 * Creates an upstream. Nothing happens until `start()`.
 *
 * @example
 * const ha = createUpstream({ kind: 'http', name: 'ha', url: 'http://ha:8123/api/mcp', headers: { Authorization: `Bearer ${t}` } });
 */
export function createUpstream(spec: UpstreamSpec, options: UpstreamOptions = {}): Upstream {
  const log = options.log ?? silent;
  const connectTimeoutMs = options.connectTimeoutMs ?? UPSTREAM_DEFAULTS.connectTimeoutMs;
  const callTimeoutMs = options.callTimeoutMs ?? UPSTREAM_DEFAULTS.callTimeoutMs;
  const healthIntervalMs = options.healthIntervalMs ?? UPSTREAM_DEFAULTS.healthIntervalMs;
  const stableMs = options.stableMs ?? STABLE_MS;
  const clientInfo = options.clientInfo ?? UPSTREAM_DEFAULTS.clientInfo;
  const maxListItems = options.maxListItems ?? UPSTREAM_DEFAULTS.maxListItems;
  const backoffOpts = options.backoff ?? UPSTREAM_DEFAULTS.backoff;
  const backoff = createBackoff(backoffOpts);
  const name = spec.name;
  const secrets = secretsOf(spec);
  const reason = (err: unknown) => shortReason(err, secrets);

  let status: UpstreamState['status'] = 'connecting';
  let since = new Date();
  let lastError: string | undefined;
  let era: UpstreamState['era'];
  let serverInfo: UpstreamState['serverInfo'];
  /** Takes a newer serverInfo an answer carries (bounded: it is the upstream's word). */
  const noteServerInfo = (info: unknown): void => {
    if (!info || typeof info !== 'object') return;
    const { name: n, version: v } = info as { name?: unknown; version?: unknown };
    if (typeof n !== 'string' || typeof v !== 'string' || !n || !v) return;
    if (serverInfo?.name === n.slice(0, 128) && serverInfo.version === v.slice(0, 64)) return;
    serverInfo = { name: n.slice(0, 128), version: v.slice(0, 64) };
  };
  let lists: Lists = EMPTY_LISTS;
  let toolIndex = new Map<string, Tool>();
  /** Tools that declare `x-mcp-header` parameters: only the SDK client mirrors those into headers. */
  let mirroredTools = new Set<string>();

  /** The live connection, only while up. */
  let conn: Connection | undefined;
  let upAt = 0;
  let verdict: { prior: PriorDiscovery; at: number } | undefined;
  /** The connect attempt in progress (single flight: calls and timers share it). */
  let attempt: Promise<boolean> | undefined;
  let lastAttemptAt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  let checking: Promise<void> | undefined;
  let started: Promise<void> | undefined;
  let closed = false;
  const lifetime = new AbortController();
  const listeners = new Set<(what: UpstreamChange) => void>();
  const logListeners = new Set<(message: UpstreamLogMessage) => void>();
  const updateListeners = new Set<(uri: string) => void>();
  /** Resource URIs the hub subscribed to: re-subscribed on every new connection. */
  const subscribed = new Set<string>();
  /** 2026-07-28: one `subscriptions/listen` stream per subscribed URI, on the live connection. */
  const resourceStreams = new Map<string, { c: Connection; sub: McpSubscription }>();
  /** Connections whose 2025 GET stream (the only path for its notifications) is gone for good. */
  const streamLost = new WeakSet<Connection>();
  /** Calls in flight per connection, so a connection whose session was lost closes after its last call. */
  const inflight = new Map<Connection, number>();
  const retiring = new WeakSet<Connection>();
  const refreshing = new Map<ListKind, Promise<void>>();
  const dirty = new Set<ListKind>();
  let stderrTail: string[] = [];
  const routing = createClientRouting(name);

  function emit(what: UpstreamChange): void {
    for (const l of [...listeners]) {
      try {
        l(what);
      } catch (err) {
        log.warn({ upstream: name, err: String(err) }, 'upstream change listener threw');
      }
    }
  }

  function setStatus(next: UpstreamState['status'], error: string | undefined): void {
    lastError = error;
    if (next === status) return;
    // `since` is when it stopped (or started) being up: a lost connection whose reconnect
    // then fails goes connecting -> down, and "unreachable since T" must keep saying when it
    // went away, not when the first retry gave up.
    if ((next === 'up') !== (status === 'up')) since = new Date();
    status = next;
    emit('state');
  }

  // ---- lists -------------------------------------------------------------------------------

  function capped<T>(kind: string, items: T[]): T[] {
    if (items.length <= maxListItems) return items;
    log.warn({ upstream: name, list: kind, count: items.length, kept: maxListItems }, 'upstream list too long: cut');
    return items.slice(0, maxListItems);
  }

  /** Fetches the given lists; a list the server does not advertise (or implement) is empty. */
  async function fetchLists(c: Connection, kinds: readonly ListKind[], timeoutMs: number): Promise<Partial<Lists>> {
    const ro = { timeout: timeoutMs, signal: lifetime.signal, cacheMode: 'refresh' as const };
    const caps = c.capabilities;
    // Not implemented is not fatal: some servers advertise a capability and then answer
    // "method not found" for one of its lists (templates, typically).
    const orEmpty = async <T>(what: string, p: Promise<T[]>): Promise<T[]> => {
      try {
        return await p;
      } catch (err) {
        const protocol = embeddedProtocolError(err) ?? err;
        if ((protocol as { code?: unknown }).code === ProtocolErrorCode.MethodNotFound) {
          log.debug?.({ upstream: name, list: what }, 'upstream does not implement this list');
          return [];
        }
        throw err;
      }
    };
    const out: Partial<Lists> = {};
    await Promise.all(
      kinds.map(async (kind) => {
        if (kind === 'tools') {
          out.tools = caps.tools ? capped('tools', await orEmpty('tools', c.client.listTools(undefined, ro).then((r) => r.tools))) : [];
        } else if (kind === 'prompts') {
          out.prompts = caps.prompts ? capped('prompts', await orEmpty('prompts', c.client.listPrompts(undefined, ro).then((r) => r.prompts))) : [];
        } else if (caps.resources) {
          const [resources, templates] = await Promise.all([
            orEmpty('resources', c.client.listResources(undefined, ro).then((r) => r.resources)),
            orEmpty('resourceTemplates', c.client.listResourceTemplates(undefined, ro).then((r) => r.resourceTemplates)),
          ]);
          out.resources = capped('resources', resources);
          out.resourceTemplates = capped('resourceTemplates', templates);
        } else {
          out.resources = [];
          out.resourceTemplates = [];
        }
      }),
    );
    return out;
  }

  /** Replaces the given lists and returns which kinds actually changed. */
  function applyLists(next: Partial<Lists>): ListKind[] {
    const changed = new Set<ListKind>();
    const merged: Lists = { ...lists };
    for (const key of Object.keys(next) as (keyof Lists)[]) {
      const value = next[key]!;
      // Lists are small JSON documents; comparing their text is cheap next to fetching them.
      if (JSON.stringify(value) === JSON.stringify(lists[key])) continue;
      (merged as unknown as Record<string, unknown>)[key] = value;
      changed.add(key === 'resourceTemplates' ? 'resources' : key);
    }
    lists = merged;
    if (changed.has('tools')) {
      toolIndex = new Map(lists.tools.map((t) => [t.name, t]));
      mirroredTools = new Set(lists.tools.filter((t) => JSON.stringify(t.inputSchema).includes('"x-mcp-header"')).map((t) => t.name));
    }
    return [...changed];
  }

  /** Re-fetches one list after a list_changed; coalesces bursts into one fetch in flight plus one after. */
  function refresh(kind: ListKind): void {
    const c = conn;
    if (!c) return;
    if (refreshing.has(kind)) {
      dirty.add(kind);
      return;
    }
    // Outside any call: a list_changed that arrived on a call's stream must not lend that call
    // to the requests of the refresh (see client-requests.ts).
    const run = outsideCalls(async () => {
      do {
        dirty.delete(kind);
        try {
          const next = await fetchLists(c, [kind], connectTimeoutMs);
          if (c !== conn) return;
          for (const k of applyLists(next)) emit(k);
        } catch (err) {
          log.debug?.({ upstream: name, list: kind, err: reason(err) }, 'list refresh failed');
          if (classifyFailure(err, c) !== 'protocol') checkSoon();
          return;
        }
      } while (dirty.has(kind) && c === conn);
    }).finally(() => refreshing.delete(kind));
    refreshing.set(kind, run);
  }

  // ---- connecting --------------------------------------------------------------------------

  function usablePrior(): PriorDiscovery | undefined {
    if (!verdict) return undefined;
    if (verdict.prior.kind === 'legacy' && Date.now() - verdict.at > LEGACY_VERDICT_MAX_AGE_MS) return undefined;
    return verdict.prior;
  }

  function connectOnce(): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    if (conn) return Promise.resolve(true);
    // Outside the caller's context: the connection outlives the call that triggered it.
    attempt ??= outsideCalls(runAttempt).finally(() => {
      attempt = undefined;
    });
    return attempt;
  }

  async function runAttempt(): Promise<boolean> {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    lastAttemptAt = Date.now();
    stderrTail = [];
    const prior = usablePrior();
    let c: Connection | undefined;
    try {
      c = await openConnection(spec, { clientInfo, ...(prior ? { prior } : {}), timeoutMs: connectTimeoutMs, signal: lifetime.signal, hooks: hooksFor(() => c), ...(options.maxResultBytes ? { maxResultBytes: options.maxResultBytes } : {}) });
      // Listen before listing, so that a change between the two is not lost.
      if (c.era === 'modern') await listen(c);
      const fetched = await fetchLists(c, ['tools', 'resources', 'prompts'], connectTimeoutMs);
      if (closed) {
        await c.close();
        return false;
      }
      if (c.verdict) verdict = { prior: c.verdict, at: verdict?.prior.kind === c.verdict.kind ? verdict.at : Date.now() };
      install(c, fetched);
      return true;
    } catch (err) {
      await c?.close();
      if (closed) return false;
      const kind = classifyFailure(err, { sessionful: false });
      // A remembered verdict that led to an answer we could not use is stale (the server was
      // replaced by one of the other era): forget it, so the next attempt probes. An outage
      // says nothing about the era, so the verdict survives it.
      if (prior && kind !== 'unavailable' && kind !== 'timeout' && kind !== 'auth') verdict = undefined;
      const why = stderrTail.length ? `${reason(err)} (stderr: ${shortReason(stderrTail.at(-1), secrets)})` : reason(err);
      fail(why);
      return false;
    }
  }

  function install(c: Connection, fetched: Partial<Lists>): void {
    const again = upAt !== 0;
    conn = c;
    upAt = Date.now();
    era = c.era;
    serverInfo = c.serverInfo;
    const changed = applyLists(fetched);
    const where = spec.kind === 'stdio' ? { command: spec.command } : { url: safeUrl(spec.url) };
    log.info({ upstream: name, ...where, era: c.era, tools: lists.tools.length, server: c.serverInfo?.name }, again ? 'upstream reconnected' : 'upstream up');
    setStatus('up', undefined);
    for (const k of changed) emit(k);
    startHealth();
    // The upstream forgot what the previous connection subscribed to (a new 2025 session, or
    // listen streams that ended with it).
    for (const uri of subscribed) {
      void watch(c, uri, { timeout: connectTimeoutMs, signal: lifetime.signal }).catch((err: unknown) => log.warn({ upstream: name, uri, err: reason(err) }, 'resubscribing to a resource failed'));
    }
  }

  /** Subscribes on connection `c` to changes of `uri`. */
  async function watch(c: Connection, uri: string, ro: RequestOptions): Promise<void> {
    if (c.era === 'legacy') {
      await c.client.subscribeResource({ uri }, ro);
      return;
    }
    const sub = await c.client.listen({ resourceSubscriptions: [uri] }, ro);
    if (!subscribed.has(uri) || c !== conn) {
      await sub.close();
      return;
    }
    resourceStreams.get(uri)?.sub.close().catch(() => {});
    resourceStreams.set(uri, { c, sub });
    void sub.closed.then((how) => {
      if (resourceStreams.get(uri)?.sub === sub) resourceStreams.delete(uri);
      if (how === 'local' || closed || c !== conn || !subscribed.has(uri)) return;
      // The server ended the stream (restart, proxy timeout): listen again shortly.
      const t = setTimeout(() => {
        if (c === conn && subscribed.has(uri) && !resourceStreams.has(uri)) void watch(c, uri, { timeout: connectTimeoutMs, signal: lifetime.signal }).catch(() => checkSoon());
      }, 1000);
      t.unref();
    });
  }

  /** The attempt failed: down (lists emptied) and retry after the backoff. */
  function fail(why: string): void {
    const wasDown = status === 'down';
    if (!wasDown) log.warn({ upstream: name, err: why }, 'upstream down');
    else log.debug?.({ upstream: name, err: why }, 'upstream still down');
    const changed = applyLists(EMPTY_LISTS);
    setStatus('down', why);
    for (const k of changed) emit(k);
    scheduleRetry();
  }

  function scheduleRetry(): void {
    if (closed || retryTimer) return;
    const delay = backoff.next();
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connectOnce();
    }, delay);
    retryTimer.unref();
  }

  /**
   * Closes a replaced connection whose session the server lost, once its calls are done. Those
   * calls cannot be running upstream (the server no longer knows their session): each gets its
   * own 404 and is retried on the new connection. Closing now would fail them with "connection
   * closed" instead, which is not safe to retry.
   */
  function retire(c: Connection): void {
    if (inflight.has(c)) retiring.add(c);
    else void c.close();
  }

  /**
   * The live connection broke. A connection that had been stable gets one immediate attempt
   * (status `connecting`, lists kept, so a blip does not churn the catalog); a flapping one
   * goes down and waits for the backoff. A broken connection is closed at once, failing its
   * calls now rather than at their deadlines; one whose session was lost is retired instead.
   */
  function lose(c: Connection, why: string, opts: { sessionLost?: boolean } = {}): void {
    if (c !== conn || closed) return;
    conn = undefined;
    stopHealth();
    if (opts.sessionLost) retire(c);
    else void c.close();
    if (Date.now() - upAt >= stableMs) {
      backoff.reset();
      log.info({ upstream: name, err: why }, 'upstream connection lost; reconnecting');
      setStatus('connecting', why);
      void connectOnce();
    } else {
      fail(why);
    }
  }

  /** The upstream forgot our session: replace the connection now (used by the call retry). */
  async function reinit(c: Connection): Promise<void> {
    if (c === conn) {
      log.info({ upstream: name }, 'upstream session lost; re-initializing');
      conn = undefined;
      stopHealth();
      retire(c);
      setStatus('connecting', 'session expired');
      await connectOnce();
    } else if (attempt) {
      // Another call hit the same 404 and is already re-initializing.
      await attempt;
    }
  }

  function hooksFor(current: () => Connection | undefined): ConnectionHooks {
    // Events count only for the installed connection: events from a handshake in progress
    // or from a connection being replaced are not news.
    const live = () => {
      const c = current();
      return c && c === conn ? c : undefined;
    };
    return {
      onclose() {
        const c = live();
        if (!c) return;
        const tail = stderrTail.at(-1);
        const why = spec.kind === 'stdio' ? `process exited${tail ? ` (stderr: ${tail})` : ''}` : 'connection closed';
        lose(c, shortReason(why, secrets));
      },
      onerror(err) {
        const c = live();
        if (!c) return;
        log.debug?.({ upstream: name, err: reason(err) }, 'upstream transport error');
        if (err instanceof SseError) {
          // The legacy SSE stream carries every response and its session: once it broke,
          // the session is gone (the transport would reconnect to a fresh, uninitialized one).
          lose(c, reason(err));
          return;
        }
        // A failed POST is also thrown to its caller, whose error handling checks the upstream
        // when it matters (and retries a lost session): nothing to do here.
        if (isRequestFailure(err)) return;
        // The 2025 GET stream could not be re-opened: notifications (list_changed) no longer
        // arrive. The health check replaces the connection.
        if (/Maximum reconnection attempts/.test(err.message)) streamLost.add(c);
        // Anything else (a stream cut off, a bad message) may mean the upstream died.
        checkSoon();
      },
      onListChanged(kind) {
        if (live()) refresh(kind);
      },
      onClientRequest: (method, params) => routing.forward(method, params),
      onHttp(request) {
        options.onHttpRequest?.({ upstream: name, ...request });
      },
      onLog(message) {
        if (!live()) return;
        // A message on a call's own stream goes to that call too (see call-scope.ts).
        try {
          callScope.getStore()?.onlog?.(message);
        } catch {
          // as below
        }
        for (const l of [...logListeners]) {
          try {
            l(message);
          } catch {
            // A listener's failure must not break the connection's message loop.
          }
        }
      },
      onResourceUpdated(uri) {
        if (!live() || !subscribed.has(uri)) return;
        for (const l of [...updateListeners]) {
          try {
            l(uri);
          } catch {
            // A listener's failure must not break the connection's message loop.
          }
        }
      },
      onStderr(line) {
        stderrTail.push(line);
        if (stderrTail.length > 5) stderrTail.shift();
        log.debug?.({ upstream: name, stderr: shortReason(line, secrets) }, 'upstream stderr');
      },
    };
  }

  /** Opens the 2026-07-28 `subscriptions/listen` stream for the list_changed the server advertises. */
  async function listen(c: Connection): Promise<boolean> {
    const caps = c.capabilities;
    const filter = {
      ...(caps.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(caps.prompts?.listChanged ? { promptsListChanged: true } : {}),
      ...(caps.resources?.listChanged ? { resourcesListChanged: true } : {}),
    };
    if (Object.keys(filter).length === 0) return true;
    try {
      const sub = await c.client.listen(filter, { timeout: connectTimeoutMs, signal: lifetime.signal });
      c.subscription = sub;
      void sub.closed.then((how) => {
        if (how === 'local' || closed || (conn !== undefined && conn !== c)) return;
        // The server ended the stream (restart, proxy timeout): listen again shortly, and
        // re-read the lists, since changes in the gap were not announced.
        log.debug?.({ upstream: name, how }, 'listen stream ended');
        const t = setTimeout(() => {
          if (c !== conn) return;
          void listen(c).then((ok) => {
            if (!ok) return checkSoon();
            for (const kind of ['tools', 'resources', 'prompts'] as const) refresh(kind);
          });
        }, 1000);
        t.unref();
      });
      return true;
    } catch (err) {
      // Not fatal: the health check re-reads the tool list on this era anyway.
      log.debug?.({ upstream: name, err: reason(err) }, 'subscriptions/listen failed; relying on the health check');
      return false;
    }
  }

  // ---- health ------------------------------------------------------------------------------

  function startHealth(): void {
    stopHealth();
    if (healthIntervalMs <= 0) return;
    healthTimer = setInterval(checkSoon, healthIntervalMs);
    healthTimer.unref();
  }

  function stopHealth(): void {
    clearInterval(healthTimer);
    healthTimer = undefined;
  }

  /** Runs a health check now unless one is running. */
  function checkSoon(): void {
    const c = conn;
    if (!c || checking) return;
    checking = outsideCalls(() => check(c)).finally(() => {
      checking = undefined;
    });
  }

  /**
   * Per connection, the tools/list text of an edge's last health check and the list it applied:
   * both still the same (no list_changed refresh replaced the list since) means nothing changed.
   */
  const checkedTools = new WeakMap<Connection, { text: string; tools: Tool[] }>();

  /**
   * One cheap request. 2025: `ping`. 2026-07-28 has no ping; `tools/list` doubles as a refresh
   * for servers that cannot push list_changed (the edge), `server/discover` otherwise.
   * Any JSON-RPC answer, even an error, proves the upstream alive.
   */
  async function check(c: Connection): Promise<void> {
    try {
      if (streamLost.has(c)) throw new Error('notification stream lost');
      if (c.era === 'legacy') {
        await c.client.ping({ timeout: connectTimeoutMs, signal: lifetime.signal });
      } else if (c.capabilities.tools && c.edgeRpc) {
        // An edge: one plain POST over the calls' keep-alive pool. Its list unchanged since the
        // last check (the same JSON text) proves the edge alive and needs nothing more; any
        // other answer is fetched again and applied through the SDK, validated as always.
        // Past the deadline it fails as the SDK's request timeout did ('timed out').
        const ac = new AbortController();
        const onClose = () => ac.abort(lifetime.signal.reason);
        lifetime.signal.addEventListener('abort', onClose, { once: true });
        const timer = setTimeout(() => ac.abort(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: connectTimeoutMs })), connectTimeoutMs);
        let text: string | undefined;
        try {
          text = await c.edgeRpc.listToolsText({ signal: ac.signal });
        } catch (err) {
          // A JSON-RPC error is an answer (the edge is alive), but what it means for the list
          // is the SDK's call, as before: -32601 empties it (fetchLists' orEmpty).
          if (classifyFailure(err, c) !== 'protocol') throw err;
        } finally {
          clearTimeout(timer);
          lifetime.signal.removeEventListener('abort', onClose);
        }
        const last = checkedTools.get(c);
        if (c !== conn || (text !== undefined && last?.text === text && last.tools === lists.tools)) return;
        const next = await fetchLists(c, ['tools'], connectTimeoutMs);
        if (c === conn) {
          for (const k of applyLists(next)) emit(k);
          if (text !== undefined) checkedTools.set(c, { text, tools: lists.tools });
          else checkedTools.delete(c);
        }
      } else if (c.capabilities.tools) {
        const next = await fetchLists(c, ['tools'], connectTimeoutMs);
        if (c === conn) for (const k of applyLists(next)) emit(k);
      } else {
        await c.client.discover({ timeout: connectTimeoutMs, signal: lifetime.signal });
      }
    } catch (err) {
      if (c !== conn || closed) return;
      const kind = classifyFailure(err, c);
      if (kind === 'protocol') return;
      if (kind === 'session') lose(c, 'session expired', { sessionLost: true });
      else lose(c, reason(err));
    }
  }

  // ---- calls -------------------------------------------------------------------------------

  function unavailable(): HomelabError {
    const why = lastError ?? (started ? 'not connected' : 'not started');
    return new HomelabError('UPSTREAM_UNAVAILABLE', `node ${name} is unreachable since ${since.toISOString()}: ${why}`);
  }

  /** A call to a down upstream: pull the next retry forward (the user may just have fixed it). */
  function poke(): void {
    if (closed || attempt || !retryTimer || Date.now() - lastAttemptAt < POKE_MIN_MS) return;
    void connectOnce();
  }

  /** The connection to use now: the live one, the one being set up, or a fast failure. */
  async function connectionFor(signal: AbortSignal): Promise<Connection> {
    if (closed) throw new HomelabError('UPSTREAM_UNAVAILABLE', `node ${name} is ${CLOSED}`);
    if (conn) return conn;
    // Waiting is only for a connect that is expected to succeed (the first one, or a
    // transparent re-connect from up). A down upstream fails fast.
    if (status === 'connecting' && attempt) {
      await untilAborted(attempt, signal);
      if (conn) return conn;
    }
    poke();
    throw unavailable();
  }

  async function request<T>(label: string, opts: CallOptions | undefined, run: (c: Connection, ro: RequestOptions) => Promise<T>): Promise<T> {
    const timeoutMs = opts?.timeoutMs ?? callTimeoutMs;
    const startedAt = Date.now();
    // One controller and one timer per call: AbortSignal.timeout + AbortSignal.any cost a few
    // percent of the hub's CPU per call (bench/hub profile).
    const ac = new AbortController();
    const signal = ac.signal;
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, timeoutMs);
    deadline.unref();
    const callerSignal = opts?.signal;
    const onCallerAbort = () => ac.abort(callerSignal!.reason);
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    const settle = (err: unknown): unknown => {
      if (callerSignal?.aborted) return callerSignal.reason ?? new HomelabError('CANCELLED', `${label} on ${name} was cancelled`);
      if (timedOut) return new HomelabError('UPSTREAM_TIMEOUT', `node ${name} did not answer ${label} within ${timeoutMs} ms`);
      return err;
    };
    let retried = false;
    try {
      for (;;) {
        let c: Connection;
        // The live connection without an await (the common case: one less async hop per call,
        // 50 per fan-out); connectionFor decides everything else, as before.
        if (!closed && conn) c = conn;
        else {
          try {
            c = await connectionFor(signal);
          } catch (err) {
            throw settle(err);
          }
        }
        const ro: RequestOptions = {
          signal,
          // Our deadline fires first and decides the error; the SDK's own timer (60 s unless
          // told) must not cut a longer deadline short.
          timeout: Math.max(1, timeoutMs - (Date.now() - startedAt)) + 1000,
          ...(opts?.onprogress ? { onprogress: opts.onprogress } : {}),
        };
        inflight.set(c, (inflight.get(c) ?? 0) + 1);
        try {
          return await routing.during({ signal, ...(opts?.client ? { channel: opts.client } : {}) }, () => run(c, ro));
        } catch (err) {
          // Cancelled or past the deadline: that decides the error, whatever the request threw
          // (the direct edge path rejects with the caller's own abort reason).
          if (callerSignal?.aborted || timedOut) throw settle(err);
          const kind = classifyFailure(err, c);
          if (kind === 'session' && !retried) {
            // The 404 came before any handler ran, so the call is safe to send again.
            retried = true;
            await untilAborted(reinit(c), signal).catch((e: unknown) => {
              throw settle(e);
            });
            continue;
          }
          throw callError(err, kind, label, c);
        } finally {
          const left = (inflight.get(c) ?? 1) - 1;
          if (left > 0) inflight.set(c, left);
          else {
            inflight.delete(c);
            if (retiring.has(c)) {
              retiring.delete(c);
              void c.close();
            }
          }
        }
      }
    } finally {
      clearTimeout(deadline);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }

  function callError(err: unknown, kind: FailureKind, label: string, c: Connection): unknown {
    switch (kind) {
      case 'protocol':
        if (isResultTooLarge(err)) return new HomelabError('UPSTREAM_ERROR', (err as Error).message, { cause: err });
        if (isRelayFailure(err)) return new HomelabError('UPSTREAM_ERROR', `node ${name}: ${reason(err)}`, { cause: err });
        // The upstream's own JSON-RPC error: relayed with its code, message and data, cut to size.
        return boundedProtocolError(embeddedProtocolError(err) ?? err, secrets, name);
      case 'unavailable':
        // Find out now whether the whole upstream is gone, rather than at the next tick.
        if (c === conn) checkSoon();
        return new HomelabError('UPSTREAM_UNAVAILABLE', `node ${name} is unreachable since ${new Date().toISOString()}: ${reason(err)} (during ${label})`, { cause: err });
      case 'session':
        return new HomelabError('UPSTREAM_UNAVAILABLE', `node ${name} lost the session again after re-initializing (during ${label})`, { cause: err });
      case 'auth':
        return new HomelabError('UPSTREAM_AUTH', `node ${name} rejected the hub's credentials: ${reason(err)}`, { cause: err });
      case 'timeout':
        return new HomelabError('UPSTREAM_TIMEOUT', `node ${name} did not answer ${label} in time`, { cause: err });
      default:
        return new HomelabError('UPSTREAM_ERROR', `node ${name}: ${label} failed: ${reason(err)}`, { cause: err });
    }
  }

  // ---- the object --------------------------------------------------------------------------

  return {
    spec,
    state() {
      return {
        status,
        since,
        ...(lastError !== undefined ? { lastError } : {}),
        ...(era ? { era } : {}),
        ...(serverInfo ? { serverInfo } : {}),
      };
    },
    tools: () => lists.tools,
    resources: () => lists.resources,
    resourceTemplates: () => lists.resourceTemplates,
    prompts: () => lists.prompts,
    async checkNow() {
      if (closed) return;
      if (conn) {
        checkSoon();
        await checking;
        return;
      }
      // Down: one attempt now (a user asking "is it back?" should not wait for the backoff).
      if (status === 'down' && !attempt) await connectOnce().catch(() => false);
      else if (attempt) await attempt.catch(() => false);
    },
    start() {
      started ??= connectOnce().then(
        () => undefined,
        () => undefined,
      );
      return started;
    },
    async close() {
      if (closed) return;
      closed = true;
      lifetime.abort(new HomelabError('UPSTREAM_UNAVAILABLE', `node ${name} is ${CLOSED}`));
      clearTimeout(retryTimer);
      stopHealth();
      const c = conn;
      conn = undefined;
      await c?.close({ terminate: true });
      await attempt?.catch(() => {});
      lists = EMPTY_LISTS;
      setStatus('down', CLOSED);
      listeners.clear();
      logListeners.clear();
      updateListeners.clear();
      subscribed.clear();
    },
    callTool(toolName, args, opts) {
      return request(`tools/call ${toolName}`, opts, (c, ro) => {
        // An edge on 2026-07-28: one plain POST (edge-rpc.ts), unless the tool needs the SDK's
        // `x-mcp-header` mirroring.
        if (c.edgeRpc && !mirroredTools.has(toolName)) {
          return c.edgeRpc.callTool(toolName, args, { signal: ro.signal!, ...(ro.onprogress ? { onprogress: ro.onprogress } : {}), ...(opts?.meta ? { meta: opts.meta } : {}) }).then((r) => {
            // A stateless edge restarted (upgraded) between two calls is never re-connected:
            // the serverInfo each of its answers carries keeps list_nodes' version current.
            if (c === conn) noteServerInfo(r._meta?.[SERVER_INFO_META]);
            return r;
          });
        }
        // The definition is passed so the SDK neither needs its own tools/list nor validates
        // structuredContent against outputSchema: a proxy relays results, it does not judge
        // them. It still mirrors `x-mcp-header` parameters into headers on 2026-07-28.
        const known = toolIndex.get(toolName);
        const { outputSchema: _drop, ...definition } = known ?? { name: toolName, inputSchema: { type: 'object' as const } };
        // 2026-07-28 has no logging/setLevel: a request that wants log messages names a level
        // in its _meta. The hub asks for the caller's level (info unless it said), and each
        // 2025 session filters by its own.
        // A 2026-07-28 client gets the upstream's input_required to answer itself (the hub
        // cannot ask it mid-call); for anyone else the SDK fulfils it through the handlers,
        // which forward each input request to the caller's client.
        const relay = c.era === 'modern' && opts?.client?.relay === true;
        // On 2026-07-28 the upstream is told what this call's client can answer (the SDK lets a
        // request's own _meta override its envelope): it then asks only for that, or refuses
        // with -32021 itself, as it would without the hub in between.
        const caps = c.era === 'modern' && opts?.client?.capabilities ? { 'io.modelcontextprotocol/clientCapabilities': opts.client.capabilities } : {};
        const params = { name: toolName, arguments: args, _meta: { ...opts?.meta, 'io.modelcontextprotocol/logLevel': opts?.logLevel ?? 'info', ...caps }, ...(relay ? opts?.resume : {}) };
        const call = () => c.client.callTool(params, { ...ro, toolDefinition: definition, ...(relay ? { allowInputRequired: true } : {}) }) as Promise<CallToolResult>;
        return opts?.onlog ? withCallScope({ onlog: opts.onlog }, call) : call();
      });
    },
    complete(params, opts) {
      return request('completion/complete', opts, (c, ro) => c.client.complete(params, ro));
    },
    features() {
      const caps = conn?.capabilities;
      return { completions: caps?.completions !== undefined, resourceSubscribe: caps?.resources?.subscribe === true };
    },
    async subscribeResource(uri, opts) {
      if (subscribed.has(uri)) return;
      subscribed.add(uri);
      try {
        await request('resources/subscribe', opts, (c, ro) => watch(c, uri, ro));
      } catch (err) {
        subscribed.delete(uri);
        throw err;
      }
    },
    async unsubscribeResource(uri) {
      if (!subscribed.delete(uri)) return;
      const stream = resourceStreams.get(uri);
      resourceStreams.delete(uri);
      if (stream) return stream.sub.close().catch(() => {});
      const c = conn;
      if (c?.era === 'legacy') await c.client.unsubscribeResource({ uri }, { timeout: connectTimeoutMs, signal: lifetime.signal }).catch(() => {});
    },
    onResourceUpdated(listener) {
      updateListeners.add(listener);
      return () => {
        updateListeners.delete(listener);
      };
    },
    readResource(uri, opts) {
      // `bypass`: the SDK may cache a resource body on a hint from the server; the hub relays.
      return request('resources/read', opts, (c, ro) => c.client.readResource({ uri }, { ...ro, cacheMode: 'bypass' }));
    },
    getPrompt(promptName, args, opts) {
      return request(`prompts/get ${promptName}`, opts, (c, ro) => {
        // As for tools/call: a 2026-07-28 client answers the upstream's input_required itself,
        // and the upstream is told what that client can answer.
        const relay = c.era === 'modern' && opts?.client?.relay === true;
        const caps = c.era === 'modern' && opts?.client?.capabilities ? { _meta: { 'io.modelcontextprotocol/clientCapabilities': opts.client.capabilities } } : {};
        return c.client.getPrompt({ name: promptName, ...(args ? { arguments: args } : {}), ...caps, ...(relay ? opts?.resume : {}) }, { ...ro, ...(relay ? { allowInputRequired: true } : {}) }) as Promise<GetPromptResult>;
      });
    },
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    onLog(listener) {
      logListeners.add(listener);
      return () => {
        logListeners.delete(listener);
      };
    },
  };
}

/**
 * True for the errors the Streamable HTTP transport reports through `onerror` for a POST it
 * also rejects to the request's caller: an HTTP error answer, or a fetch that failed.
 */
function isRequestFailure(err: Error): boolean {
  return (err instanceof SdkHttpError && err.code === SdkErrorCode.ClientHttpNotImplemented) || (err instanceof TypeError && err.message === 'fetch failed');
}

/** Resolves or rejects with `p`, or rejects with the signal's reason when it aborts first. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Every string that must never appear in a message: tokens, header values, URL credentials, secret-looking env. */
function secretsOf(spec: UpstreamSpec): string[] {
  const out: string[] = [];
  for (const value of Object.values(requestHeaders(spec))) {
    out.push(value);
    const bearer = /^\S+\s+(\S+)$/.exec(value);
    if (bearer) out.push(bearer[1]!);
  }
  if (spec.kind === 'edge' && spec.token) out.push(spec.token);
  if (spec.kind !== 'stdio') {
    try {
      const u = new URL(spec.url);
      if (u.password) out.push(decodeURIComponent(u.password));
      for (const v of u.searchParams.values()) out.push(v);
    } catch {
      // an invalid URL fails at connect with its own message
    }
  } else {
    for (const [k, v] of Object.entries(spec.env ?? {})) if (/token|key|secret|pass|auth|cred/i.test(k)) out.push(v);
  }
  // Longest first, so a secret containing another is replaced whole.
  return out.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}
