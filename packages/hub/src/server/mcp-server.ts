/**
 * Builds the MCP server instance the hub serves to one caller: a low-level SDK `Server`
 * whose handlers read the live catalog, so a request (2026-07-28) or a session (2025 era)
 * costs no per-tool registration, and a catalog change is seen by the next list.
 */
import { randomUUID } from 'node:crypto';
import { MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode, ResourceNotFoundError, SdkErrorCode, Server, type CallToolResult, type GetPromptResult, type ServerCapabilities, type ServerContext } from '@modelcontextprotocol/server';
import { visibleTo, type Catalog } from '../catalog/catalog.ts';
import { callOutcome } from '../catalog/fleet.ts';
import type { CallContext, Caller } from '../catalog/types.ts';
import type { Gate, HumanChannel } from '../policy/gate.ts';
import { actingAs } from '../policy/acting-for.ts';
import { boundedClientInfo } from './client-info.ts';
import type { ResourceSubscriptions } from './resource-subscriptions.ts';
import { createClientChannel, declares, MAX_CLIENT_REQUESTS_PER_CALL, type ClientChannelSpec, type DeclaredCapabilities, type ForwardedRequest } from './client-channel.ts';
import type { ClientChannel } from '../upstreams/client-requests.ts';
import { createInputRelay, isRelayState, type InputRelay, type RelayBinding } from './input-relay.ts';
import { createParking, type ParkedOutcome, type Parking } from './parked-calls.ts';

/** The hub's relay of upstreams' input_required (one key per process). */
const defaultInputRelay = createInputRelay();
/** Calls of 2025 upstreams waiting for a 2026-07-28 client's answers (one set per process). */
const defaultParking = createParking();

export interface HubServerInfo {
  name: string;
  version: string;
  instructions: string;
}

/**
 * Drops the protocol's reserved `_meta` keys (`io.modelcontextprotocol/...`) from a relayed
 * result: an upstream's `serverInfo` there would make a 2026-07-28 client believe it talks to
 * the upstream, not the hub. Other `_meta` entries are the upstream's to pass on.
 */
export function withoutReservedMeta<T extends { _meta?: Record<string, unknown> }>(result: T): T {
  if (!result._meta) return result;
  const kept = Object.entries(result._meta).filter(([k]) => !k.startsWith('io.modelcontextprotocol/'));
  const { _meta: _dropped, ...rest } = result;
  return (kept.length ? { ...rest, _meta: Object.fromEntries(kept) } : rest) as T;
}

/**
 * The cheap `tools/list` (2026-07-28, and 2025-era Streamable HTTP sessions). The HTTP transport puts an empty `ToolsListSplice` in the
 * request's `authInfo.extra` under `TOOLS_LIST_SPLICE`; the handler then answers with one
 * placeholder tool and leaves the catalog's pre-serialised list in `splice.bytes`, and the
 * transport swaps the placeholder's JSON for those bytes in the SDK's answer. The SDK still
 * validates the request and builds the envelope (`resultType`, `ttlMs`, `_meta`), so the
 * answer is byte for byte what it would have sent, without serialising 1.6 MB per call.
 * The placeholder's name carries a random nonce: no upstream tool can match it.
 */
export interface ToolsListSplice {
  bytes?: Buffer;
}
export const TOOLS_LIST_SPLICE = 'homelabToolsListSplice';
const SPLICE_TOOL = { name: `homelab-hub-tools-${randomUUID()}`, inputSchema: { type: 'object' as const } };
/** The placeholder list as the SDK serialises it: what the transport replaces. */
export const SPLICE_PLACEHOLDER_JSON = JSON.stringify([SPLICE_TOOL]);

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
const LOG_LEVEL_KEY = 'io.modelcontextprotocol/logLevel';
const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
/** The minimum log level each client asked for (`logging/setLevel`); `info` until it asks. */
const logLevels = new WeakMap<Server, number>();

/**
 * Passes an upstream's log message to a client, named `<source>` or `<source>/<logger>`,
 * when it is at or above the level the client asked for.
 */
export function relayLog(server: Server, source: string, message: { level: string; logger?: string; data: unknown }): void {
  const rank = LOG_LEVELS.indexOf(message.level);
  if (rank < 0 || rank < (logLevels.get(server) ?? 1)) return;
  void server
    .sendLoggingMessage({ level: message.level as 'info', logger: message.logger ? `${source}/${message.logger}` : source, data: message.data })
    .catch(() => undefined);
}

/** Relays upstream progress to the client when it asked for progress (sent a token). */
function progressRelay(ctx: ServerContext): CallContext['onprogress'] {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  return (p) => {
    void ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, ...p } }).catch(() => undefined);
  };
}

/** What the hub records of each call and approval change (the audit trail hooks in here). */
export interface CallObserver {
  call(event: {
    caller: Caller;
    session: string;
    client?: { name?: string; version?: string };
    tool: string;
    toolClass?: 'read' | 'write';
    args: Record<string, unknown>;
    decision: 'allowed' | 'pending' | 'denied';
    /** `partial`: a fleet call where some nodes succeeded and some failed. */
    outcome: 'succeeded' | 'partial' | 'failed' | 'cancelled' | 'pending' | 'denied';
    error?: string;
    durationMs: number;
    nodes?: string[];
    /** What the tool added for the record (CallContext.auditDetail). */
    detail?: Record<string, unknown>;
    /** The answer's shape, never its content (the journal holds no result: it may hold secrets). */
    result?: ResultSummary;
  }): Promise<void> | void;
  /**
   * A call the gate let run, as it starts (no outcome yet): its record is made durable while the
   * call runs. The returned `finish` takes the call's outcome event (what `call` takes) and
   * resolves once the call is on record: its start on disk (the outcome itself may follow, see
   * the journal's `begin`). Without `begin`, `call` journals each call when it ends.
   */
  begin?(event: CallStart): CallRecord;
}

/** A call as it starts: what {@link CallObserver.call} takes, without its outcome. */
export type CallStart = Omit<CallEvent, 'outcome' | 'error' | 'durationMs' | 'detail' | 'result'> & { decision: 'allowed' };

/** What {@link CallObserver.call} takes. */
export type CallEvent = Parameters<CallObserver['call']>[0];

/** A started call's record: see {@link CallObserver.begin}. */
export interface CallRecord {
  finish(event: CallEvent): Promise<void>;
}

/** What an answer was, without what it said: for the audit event (and the UI's Audit page). */
export interface ResultSummary {
  /** Content items (text, image, resource...). */
  items: number;
  /** Bytes of text (and of base64 data) across the items. */
  bytes: number;
  structured?: true;
  isError?: true;
}

/** @example resultSummary({ content: [{ type: 'text', text: 'ok' }] }) // { items: 1, bytes: 2 } */
export function resultSummary(r: CallToolResult): ResultSummary {
  let bytes = 0;
  const content = Array.isArray(r.content) ? r.content : [];
  for (const c of content) {
    const item = c as { text?: unknown; data?: unknown; resource?: { text?: unknown; blob?: unknown } };
    for (const v of [item.text, item.data, item.resource?.text, item.resource?.blob]) if (typeof v === 'string') bytes += Buffer.byteLength(v);
  }
  return { items: content.length, bytes, ...(r.structuredContent !== undefined ? { structured: true as const } : {}), ...(r.isError ? { isError: true as const } : {}) };
}

export interface HubServerOptions {
  info: HubServerInfo;
  catalog: () => Catalog;
  /**
   * Who calls: fixed, or looked up on every request (a 2025 session: the token's user and role
   * in the configuration in force now, so a demotion reaches open sessions; it throws when the
   * token is gone).
   */
  caller: Caller | (() => Caller);
  gate: Gate;
  /** Session key when the transport has none: `stdio`, or derived from the 2026 client's name. */
  sessionFallback?: string;
  metrics?: (tool: string, outcome: MetricOutcome, seconds: number) => void;
  observer?: CallObserver;
  /** A call to a tool the caller cannot see (unknown or hidden): for the sampled refusal log. */
  onUnknownTool?: (caller: Caller, tool: string) => void;
  /** Resource subscriptions across sessions (2025 `resources/subscribe`); none: subscribing is refused. */
  subscriptions?: ResourceSubscriptions;
  /** Relays upstreams' input_required to 2026-07-28 clients; default: one per process. */
  inputRelay?: InputRelay;
  /** Parks 2025 upstreams' calls waiting for a 2026-07-28 client; default: one per process. */
  parking?: Parking;
}

/** The `outcome` label of homelab_hub_tool_calls_total. */
export type MetricOutcome = 'ok' | 'partial' | 'error' | 'cancelled' | 'unknown' | 'pending' | 'denied';

/** A finished call's journal outcome as its /metrics label. */
const METRIC_OF = { succeeded: 'ok', partial: 'partial', failed: 'error', cancelled: 'cancelled' } as const satisfies Record<string, MetricOutcome>;

/** Longest tool name written to the journal for a call to an unknown tool (the client chose it). */
const MAX_UNKNOWN_NAME = 128;

/** The client's name and version: from the 2026-07-28 envelope, else the request's _meta. */
function clientOf(ctx: ServerContext): { name?: string; version?: string } | undefined {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  return boundedClientInfo(envelope?.['io.modelcontextprotocol/clientInfo'] ?? ctx.mcpReq._meta?.['io.modelcontextprotocol/clientInfo']);
}

/** The session a request belongs to: the transport's session id, else a stable fallback. */
function sessionOf(ctx: ServerContext, fallback: string | undefined): string {
  if (ctx.sessionId) return ctx.sessionId;
  const client = clientOf(ctx);
  // 2026-07-28 has no sessions: approvals of a stateless client last per user and client name.
  return fallback ?? `client:${client?.name ?? 'unknown'}`;
}

/**
 * 2026-07-28 clients may cache lists: 30 s, per client (a viewer's list differs from an admin's).
 * A change is announced on subscriptions/listen within that time anyway. Built once: a server
 * is created per 2026-07-28 request.
 */
const CACHE_HINTS = Object.freeze(
  Object.fromEntries(
    (['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'server/discover'] as const).map((m) => [m, Object.freeze({ ttlMs: 30_000, cacheScope: 'private' as const })]),
  ),
);

/** One `tools/call` as the hub sees it, whichever transport carried it. */
export interface HubToolCall {
  name: string;
  args: Record<string, unknown> | undefined;
  session: string;
  client?: { name?: string; version?: string };
  signal: AbortSignal;
  onprogress?: CallContext['onprogress'] | undefined;
  /** How the gate can reach the person (human mode). */
  human: HumanChannel;
  /** The least severe log level the client wants of this call (what the hub asks upstream). */
  logLevel?: string;
  /** Log messages an upstream sends on this call's stream, for the client's (2026-07-28: its level). */
  onlog?: CallContext['onlog'];
  /** How the call's upstreams reach its client mid-call (sampling, elicitation, roots). */
  clientRequests?: ClientChannelSpec;
}

/**
 * Serves one `tools/call`: visibility, the write gate, the call, metrics and the audit event
 * (journaled before this resolves). Failures while running the tool are `isError` results
 * (MCP's second channel); an unknown or invisible tool is a protocol error.
 */
export async function callHubTool(opts: Pick<HubServerOptions, 'catalog' | 'gate' | 'metrics' | 'observer' | 'onUnknownTool' | 'inputRelay' | 'parking'> & { caller: Caller }, call: HubToolCall): Promise<CallToolResult> {
  const { caller, gate } = opts;
  const { name, args: rawArgs } = call;
  const tool = opts.catalog().tool(name);
  // A viewer is told the tool does not exist rather than that it is forbidden: it never saw it.
  // (The role's list is the catalog filtered by visibleTo: no scan of 2,000 tools per call.)
  if (!tool || !visibleTo(caller.role, tool)) {
    opts.metrics?.('(unknown)', 'unknown', 0);
    opts.onUnknownTool?.(caller, name);
    // Journaled as denied (probing for hidden tools is worth seeing); the name is the client's
    // text, so it is cut, and the arguments are not kept.
    const shown = name.length > MAX_UNKNOWN_NAME ? `${name.slice(0, MAX_UNKNOWN_NAME)}…` : name;
    await opts.observer?.call({ caller, session: call.session, ...(call.client ? { client: call.client } : {}), tool: shown, args: {}, decision: 'denied', outcome: 'denied', error: 'no such tool for this role (unknown or hidden)', durationMs: 0 });
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${name} not found`);
  }
  let detail: Record<string, unknown> | undefined;
  const onlog = call.onlog;
  const cctx: CallContext = {
    caller,
    session: call.session,
    signal: call.signal,
    onprogress: call.onprogress,
    auditDetail: (d) => void (detail = { ...detail, ...d }),
    ...(call.logLevel ? { logLevel: call.logLevel } : {}),
    // Named like the relayed session logs: `<source>` or `<source>/<logger>`.
    ...(onlog ? { onlog: (m: Parameters<NonNullable<CallContext['onlog']>>[0]) => onlog({ ...m, logger: m.logger ? `${tool.source}/${m.logger}` : tool.source }) } : {}),
  };
  // What the upstreams asked the client, for the audit event: never what was asked or answered.
  const record = (r: ForwardedRequest) => {
    const forwarded = (detail?.clientRequests as ForwardedRequest[] | undefined) ?? [];
    if (forwarded.length <= MAX_CLIENT_REQUESTS_PER_CALL) detail = { ...detail, clientRequests: [...forwarded, r] };
  };
  if (call.clientRequests) cctx.client = createClientChannel(call.clientRequests, record);
  const started = performance.now();
  const base = { caller, session: call.session, ...(call.client ? { client: call.client } : {}), tool: name, toolClass: tool.toolClass as 'read' | 'write', nodes: tool.targets?.(rawArgs ?? {}) ?? [tool.source] };
  const relay = opts.inputRelay ?? defaultInputRelay;
  const binding: RelayBinding = { user: caller.user, role: caller.role, session: call.session, tool: name, args: rawArgs ?? {}, upstream: tool.source };
  let decision: Awaited<ReturnType<Gate['check']>>;
  const retryState = call.human.retry?.requestState;
  let parked: { id: string; answers: Record<string, unknown> } | undefined;
  // A 2026-07-28 client answering an upstream's input_required: the state was issued after
  // the gate let this exact call run, so the gate is not asked again (human mode would ask
  // the person a second time; a confirm token is single-use).
  const back = isRelayState(retryState) ? relay.unwrap(retryState, call.human.retry?.inputResponses, binding) : undefined;
  if (back && !back.ok) {
    opts.metrics?.(name, 'denied', 0);
    await opts.observer?.call({ ...base, args: rawArgs ?? {}, decision: 'denied', outcome: 'denied', error: back.reason, durationMs: 0 });
    // Not this call's state: invalid params (2026-07-28 servers validate requestState and
    // refuse it, rather than completing the call).
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid requestState: ${back.reason}`);
  }
  try {
    if (back?.ok) {
      // In session mode an approval can end while the upstream waits for the answers
      // (revoke_writes, idle time): a write's continuation needs it still. (Human and confirm
      // approvals were given for exactly this call, once.)
      const toolClass = tool.classFor ? await tool.classFor(rawArgs ?? {}) : tool.toolClass;
      if (toolClass === 'write' && gate.mode(caller) === 'session' && !gate.isApproved(caller, call.session)) {
        const reason = 'the approval of writes in this session ended (revoke_writes, or idle time) while the upstream waited for these answers; approve again, then call the tool again without requestState';
        if (back.parked) (opts.parking ?? defaultParking).cancel(back.parked, 'the approval of writes ended');
        opts.metrics?.(name, 'denied', 0);
        await opts.observer?.call({ ...base, toolClass: 'write', args: rawArgs ?? {}, decision: 'denied', outcome: 'denied', error: reason, durationMs: 0 });
        return { content: [{ type: 'text', text: `Denied: ${reason}.` }], structuredContent: { status: 'denied', reason }, isError: true };
      }
      if (back.parked) parked = { id: back.parked, answers: back.resume.inputResponses ?? {} };
      else cctx.resume = back.resume;
      const { confirm: _confirm, ...withoutConfirm } = rawArgs ?? {};
      decision = { kind: 'allow', args: back.confirmStripped ? withoutConfirm : (rawArgs ?? {}) };
    } else {
      decision = await gate.check({ tool, args: rawArgs ?? {}, caller, session: call.session, human: call.human, signal: call.signal });
    }
  } catch (err) {
    // Every call that reached the gate is journaled, one the gate failed on included, and the
    // model reads why (a result, not a protocol error a client shows as a bare failure).
    const seconds = (performance.now() - started) / 1000;
    const message = err instanceof Error ? err.message : String(err);
    opts.metrics?.(name, 'denied', seconds);
    await opts.observer?.call({ ...base, args: rawArgs ?? {}, decision: 'denied', outcome: 'denied', error: `approval check failed: ${message}`, durationMs: seconds * 1000 });
    return { content: [{ type: 'text', text: `Denied: the write-approval check failed on this call, so it did not run: ${message}` }], structuredContent: { status: 'denied', reason: `approval check failed: ${message}` }, isError: true };
  }
  if (decision.kind === 'hold') {
    const seconds = (performance.now() - started) / 1000;
    opts.metrics?.(name, decision.decision, seconds);
    // Only writes are held: a read tool's classFor made this call one.
    await opts.observer?.call({ ...base, toolClass: 'write', args: rawArgs ?? {}, decision: decision.decision, outcome: decision.decision, error: decision.reason, durationMs: seconds * 1000 });
    return decision.result;
  }
  if (decision.toolClass === 'write' || decision.approvedBy) base.toolClass = 'write';
  // The call is on record while it runs (its start synced in parallel with the upstream's
  // work), and its outcome follows: see CallObserver.begin. Every way out below finishes it.
  const started$ = opts.observer?.begin?.({ ...base, args: decision.args, decision: 'allowed' });
  const finish = (e: CallEvent): Promise<void> | void => (started$ ? started$.finish(e) : opts.observer?.call(e));
  try {
    let answer: CallToolResult;
    let parkedId: string | undefined;
    let parkedChannel: ClientChannel | undefined;
    const modern = call.clientRequests?.modern ? call.clientRequests : undefined;
    const caps = modern?.capabilities;
    // A 2026-07-28 client that can answer something, calling an upstream's tool: a 2025
    // upstream's question parks the call (parked-calls.ts) and goes back as input_required.
    if (modern && (parked || (tool.mayAskClient && (caps?.sampling !== undefined || caps?.elicitation !== undefined || caps?.roots !== undefined)))) {
      const parking = opts.parking ?? defaultParking;
      let out: ParkedOutcome;
      if (parked) {
        const resumed = parking.resume(parked.id, parked.answers, call.signal);
        if (!resumed) throw new Error('the call waiting for these answers is gone: it was cancelled after waiting too long, or answered already. Call the tool again.');
        out = await resumed;
      } else {
        out = await parking.start(call.signal, (ask, signal) => tool.call(decision.args, { ...cctx, signal, client: (parkedChannel = createClientChannel({ ...modern, park: ask }, record)) }));
      }
      if (out.kind === 'asks') {
        parkedId = out.id;
        answer = { resultType: 'input_required', inputRequests: Object.fromEntries(out.asks.map((a) => [a.key, { method: a.method, ...(a.params ? { params: a.params } : {}) }])) } as unknown as CallToolResult;
      } else answer = out.result;
    } else {
      answer = await tool.call(decision.args, cctx);
    }
    // A 2026-07-28 client that lacks what the upstream asked for: the call failed for that, and
    // 2026-07-28 says so with -32021 (a 2025 upstream got -32601 for its request and failed).
    const missing = call.clientRequests?.modern && answer.isError ? (parkedChannel ?? cctx.client)?.missing?.() : undefined;
    // (Journaled as failed by the catch below.)
    if (missing) throw new MissingRequiredClientCapabilityError({ requiredCapabilities: missing }, `${tool.source} needs what this client did not declare: ${Object.keys(missing).join(', ')}`);
    if ((answer as { resultType?: unknown }).resultType === 'input_required') {
      // An upstream needs the client's input (2026-07-28 client: see input-relay.ts).
      const seconds = (performance.now() - started) / 1000;
      let shown: CallToolResult;
      try {
        if (!call.clientRequests?.modern) throw new Error('this client cannot be sent an input_required result');
        shown = relay.wrap(answer, binding, call.clientRequests.capabilities, { confirmStripped: 'confirm' in (rawArgs ?? {}) && !('confirm' in decision.args), ...(parkedId ? { parked: parkedId } : {}) });
      } catch (err) {
        // The upstream asked for what the client did not declare: -32021, as the upstream
        // itself would answer this client (journaled by the catch below).
        if (err instanceof MissingRequiredClientCapabilityError) throw err;
        const message = err instanceof Error ? err.message : String(err);
        opts.metrics?.(name, 'error', seconds);
        await finish({ ...base, args: decision.args, decision: 'allowed', outcome: 'failed', error: message, durationMs: seconds * 1000, ...(detail ? { detail } : {}) });
        return { content: [{ type: 'text', text: message }], isError: true };
      }
      const asked = Object.values((shown as { inputRequests?: Record<string, { method: ForwardedRequest['method'] }> }).inputRequests ?? {}).map((r) => ({ method: r.method, upstream: tool.source, outcome: 'relayed' as const }));
      detail = { ...detail, clientRequests: [...((detail?.clientRequests as ForwardedRequest[] | undefined) ?? []), ...asked] };
      opts.metrics?.(name, 'pending', seconds);
      await finish({ ...base, args: decision.args, decision: 'allowed', outcome: 'pending', durationMs: seconds * 1000, detail });
      return shown;
    }
    const result = withoutReservedMeta(answer);
    const seconds = (performance.now() - started) / 1000;
    // A cancelled call is cancelled whatever its tool made of the abort (a fleet call answers
    // one "cancelled" section per node rather than throwing).
    const { outcome, error } = call.signal.aborted ? { outcome: 'cancelled' as const, error: 'cancelled by the client' } : callOutcome(answer);
    opts.metrics?.(name, METRIC_OF[outcome], seconds);
    await finish({ ...base, args: decision.args, decision: 'allowed', outcome, ...(error ? { error } : {}), durationMs: seconds * 1000, ...(detail ? { detail } : {}), result: resultSummary(answer) });
    return result;
  } catch (err) {
    const seconds = (performance.now() - started) / 1000;
    // Failures while running a tool are results the model can read (MCP's second channel).
    const message = err instanceof Error ? err.message : String(err);
    const outcome = call.signal.aborted ? 'cancelled' : 'failed';
    opts.metrics?.(name, METRIC_OF[outcome], seconds);
    await finish({ ...base, args: decision.args, decision: 'allowed', outcome, error: message, durationMs: seconds * 1000, ...(detail ? { detail } : {}) });
    const noUrl = urlElicitationRefused(err, call.clientRequests?.capabilities);
    if (noUrl) return { content: [{ type: 'text', text: noUrl }], isError: true };
    // An upstream that answered with a JSON-RPC error meant a protocol error (an unknown tool,
    // bad arguments, its own code): the client gets it as one, code, message and data intact.
    // So is a capability the client lacks for what the upstream asked (-32021).
    if (fromUpstream(err) || err instanceof MissingRequiredClientCapabilityError) throw err;
    return { content: [{ type: 'text', text: message }], isError: true };
  }
}

/** Whether `err` is an upstream's own JSON-RPC error (upstreams/errors.ts UpstreamProtocolError). */
function fromUpstream(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError && (err as { fromUpstream?: unknown }).fromUpstream === true;
}

/**
 * Why an upstream's "URL elicitation required" error (-32042) is not passed on, when the client
 * did not declare URL elicitation: as for an `elicitation/create` in URL mode (client-channel.ts),
 * the URL the upstream wants the person to open never reaches a client that did not ask for such
 * requests. Undefined for any other error, or a client that declared it.
 */
export function urlElicitationRefused(err: unknown, caps: DeclaredCapabilities | undefined): string | undefined {
  if (!fromUpstream(err) || err.code !== ProtocolErrorCode.UrlElicitationRequired) return undefined;
  if (declares(caps, 'elicitation/create', { mode: 'url' })) return undefined;
  return 'The server asked the client to open a URL (URL elicitation required, -32042), and this client did not declare URL elicitation: the request was not passed on.';
}

/** The capabilities the client of this request declared (2026-07-28: in its envelope). */
function declaredBy(server: Server, ctx: ServerContext): DeclaredCapabilities | undefined {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  return envelope !== undefined ? (envelope['io.modelcontextprotocol/clientCapabilities'] as DeclaredCapabilities | undefined) : server.getClientCapabilities();
}

/** An upstream's error for a request other than a call, with the same URL-elicitation guard. */
function relayedError(err: unknown, server: Server, ctx: ServerContext): unknown {
  const noUrl = urlElicitationRefused(err, declaredBy(server, ctx));
  return noUrl ? new ProtocolError(ProtocolErrorCode.InternalError, noUrl) : err;
}

/** A `.catch` that rethrows an upstream's error through {@link relayedError}. */
function relayingTo(server: Server, ctx: ServerContext): (err: unknown) => never {
  return (err) => {
    throw relayedError(err, server, ctx);
  };
}

/**
 * The upstream's "resource not found" (-32602, or -32002 from older servers, with `data.uri`)
 * for the URI the client sent: the upstream named its own, which the client never saw.
 */
function withClientUri(err: unknown, uri: string): unknown {
  if (!fromUpstream(err) || (err.code !== ProtocolErrorCode.InvalidParams && err.code !== ProtocolErrorCode.ResourceNotFound)) return err;
  const theirs = (err.data as { uri?: unknown } | undefined)?.uri;
  if (typeof theirs !== 'string') return err;
  const parts = theirs ? err.message.split(theirs) : [err.message];
  // The upstream chose both its message and the URI it names: one that occurs at every
  // character would repeat the client's URI thousands of times.
  return new ResourceNotFoundError(uri, parts.length <= 3 ? parts.join(uri) : `Resource ${uri} not found`);
}

/**
 * The hub's capabilities now: `completions` and `resources.subscribe` only while an upstream
 * offers them. Read when a client asks (`initialize`, `server/discover`, a listen's ack), not
 * when its server was built: a 2025 session may be opened before the upstreams are up.
 */
function liveCapabilities(base: ServerCapabilities, catalog: Catalog, subscribable: boolean): ServerCapabilities {
  const f = catalog.upstreamFeatures();
  const { completions: _c, ...rest } = base;
  return {
    ...rest,
    ...(f.completions ? { completions: {} } : {}),
    resources: { ...base.resources, ...(f.resourceSubscribe && subscribable ? { subscribe: true } : {}) },
  };
}

/**
 * Runs a request that may reach an upstream which asks the client mid-request (prompts/get;
 * tools/call has the same steps inside callHubTool, with the gate and the audit around them):
 * a 2025 session is asked on the request's stream; a 2026-07-28 client gets the upstream's
 * input_required (or a 2025 upstream's question, the request parked meanwhile) under a
 * requestState of the hub's, and its retry resumes exactly that request.
 */
async function withClientInput(
  o: { relay: InputRelay; parking: Parking; binding: RelayBinding; spec: ClientChannelSpec; retry: { inputResponses?: Record<string, unknown>; requestState?: string } | undefined; signal: AbortSignal },
  run: (extra: Pick<CallContext, 'client' | 'resume' | 'signal'>) => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const state = o.retry?.requestState;
  let resume: CallContext['resume'];
  let parked: { id: string; answers: Record<string, unknown> } | undefined;
  if (isRelayState(state)) {
    const back = o.relay.unwrap(state, o.retry?.inputResponses, o.binding);
    if (!back.ok) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid requestState: ${back.reason}`);
    if (back.parked) parked = { id: back.parked, answers: back.resume.inputResponses ?? {} };
    else resume = back.resume;
  }
  const record = () => undefined;
  const caps = o.spec.capabilities;
  let answer: Record<string, unknown>;
  let parkedId: string | undefined;
  let channel: ClientChannel | undefined;
  if (o.spec.modern && (parked || caps?.sampling !== undefined || caps?.elicitation !== undefined || caps?.roots !== undefined)) {
    let out: ParkedOutcome;
    if (parked) {
      const resumed = o.parking.resume(parked.id, parked.answers, o.signal);
      if (!resumed) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid requestState: the request waiting for these answers is gone (it waited too long, or was answered already); send it again without requestState');
      out = await resumed;
    } else {
      out = await o.parking.start(o.signal, (ask, signal) => run({ signal, client: (channel = createClientChannel({ ...o.spec, park: ask }, record)), ...(resume ? { resume } : {}) }) as Promise<CallToolResult>);
    }
    if (out.kind === 'asks') {
      parkedId = out.id;
      answer = { resultType: 'input_required', inputRequests: Object.fromEntries(out.asks.map((a) => [a.key, { method: a.method, ...(a.params ? { params: a.params } : {}) }])) };
    } else answer = out.result as unknown as Record<string, unknown>;
  } else {
    channel = createClientChannel(o.spec, record);
    answer = await run({ signal: o.signal, client: channel, ...(resume ? { resume } : {}) });
  }
  if (answer.resultType === 'input_required') {
    if (!o.spec.modern) throw new ProtocolError(ProtocolErrorCode.InternalError, `${o.binding.upstream} answered input_required to a client that cannot be sent one`);
    return o.relay.wrap(answer, o.binding, caps, parkedId ? { parked: parkedId } : {}) as unknown as Record<string, unknown>;
  }
  return answer;
}

/** How long a 2025 session's person has to answer a human-mode approval (the SDK's default request timeout). */
export const ELICIT_TIMEOUT_MS = 60_000;

/**
 * Asks the person behind a 2025 session to approve a write: `elicitation/create` on the
 * stream of the tool call it belongs to (`ctx.mcpReq.send` relates it to the call), so a
 * client that never opened the standalone GET stream sees it too; the SDK's `elicitInput`
 * would send it there, where such a client never hears it. Rejects with a message for the
 * person when asking fails.
 */
async function askOnCallStream(ctx: ServerContext, message: string): Promise<'approved' | 'declined'> {
  try {
    const r = await ctx.mcpReq.send(
      {
        method: 'elicitation/create',
        params: { message, requestedSchema: { type: 'object', properties: { approve: { type: 'boolean', title: 'Approve this change?' } }, required: ['approve'] } },
      },
      { timeout: ELICIT_TIMEOUT_MS, signal: ctx.mcpReq.signal },
    );
    return r.action === 'accept' && r.content?.approve === true ? 'approved' : 'declined';
  } catch (err) {
    throw new Error(elicitFailure(err, ctx.mcpReq.signal));
  }
}

/** Why an elicitation failed, in words for the person and the journal. */
export function elicitFailure(err: unknown, signal?: AbortSignal): string {
  if (signal?.aborted) return 'the call was cancelled while waiting for the answer';
  const code = (err as { code?: unknown } | null)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === ProtocolErrorCode.MethodNotFound) return 'the client answered "Method not found" (it declares elicitation but does not support it)';
  if (code === SdkErrorCode.RequestTimeout) return `no answer came within ${ELICIT_TIMEOUT_MS / 1000} s`;
  if (code === SdkErrorCode.ConnectionClosed) return 'the connection to the client closed before it answered';
  return `the elicitation failed: ${text}`;
}

/**
 * @example
 * const server = createHubServer({ info, catalog: () => catalog, caller, gate });
 * await server.connect(transport);
 */
export function createHubServer(opts: HubServerOptions): Server {
  const { info, catalog, gate } = opts;
  const given = opts.caller;
  const who: () => Caller = typeof given === 'function' ? given : () => given;
  const server = new Server(
    { name: info.name, version: info.version },
    {
      // `completions` here lets its handler be set; liveCapabilities says whether it is offered.
      capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, logging: {}, completions: {} },
      instructions: info.instructions,
      cacheHints: CACHE_HINTS,
    },
  );
  const declared = server.getCapabilities();
  const subs = opts.subscriptions;
  server.getCapabilities = () => liveCapabilities(declared, catalog(), subs !== undefined);
  const callContext = (ctx: ServerContext): CallContext => ({ caller: who(), session: sessionOf(ctx, opts.sessionFallback), signal: ctx.mcpReq.signal, onprogress: progressRelay(ctx) });

  server.setRequestHandler('logging/setLevel', async (req) => {
    logLevels.set(server, Math.max(0, LOG_LEVELS.indexOf(req.params.level)));
    return {};
  });

  server.setRequestHandler('tools/list', async (_req, ctx) => {
    const caller = who();
    const confirmArg = gate.mode(caller) === 'confirm';
    const splice = ctx.http?.authInfo?.extra?.[TOOLS_LIST_SPLICE] as ToolsListSplice | undefined;
    if (splice) {
      splice.bytes = ctx.mcpReq.envelope !== undefined ? catalog().modernDefsJson(caller.role, confirmArg) : catalog().legacyDefsJson(caller.role, confirmArg);
      if (splice.bytes) return { tools: [SPLICE_TOOL] };
    }
    return { tools: catalog().defs(caller.role, confirmArg) };
  });

  server.setRequestHandler('tools/call', async (req, ctx) => {
    // Only 2026-07-28 requests carry the per-request envelope.
    const modern = ctx.mcpReq.envelope !== undefined;
    const envelope = ctx.mcpReq.envelope as Record<string, { elicitation?: unknown } | undefined> | undefined;
    const canElicit = modern
      ? envelope?.['io.modelcontextprotocol/clientCapabilities']?.elicitation !== undefined
      : server.getClientCapabilities()?.elicitation !== undefined;
    // A 2025 session's client said who it is once, in `initialize` (the audit event names it too).
    const client = clientOf(ctx) ?? (modern ? undefined : boundedClientInfo(server.getClientVersion()));
    // A chaining hub's claim lowers the role (never raises it): both eras carry it in _meta.
    const meta = (req.params._meta ?? ctx.mcpReq._meta) as Record<string, unknown> | undefined;
    // The log level asked of the upstream. A 2026-07-28 request names its own (there is no
    // logging/setLevel) and gets the call's messages on the call's stream. A 2025 session's
    // call asks no less than info: its messages go to every session that sees the upstream
    // (relayLog), each filtering by its own level. (A 2025 request may carry reserved _meta
    // keys too: the protocol version key tells the eras apart.)
    const perRequest = envelope?.[PROTOCOL_VERSION_KEY] !== undefined;
    const wanted = perRequest ? (envelope?.[LOG_LEVEL_KEY] as unknown as string | undefined) : (logLevels.get(server) ?? 1) < 1 ? 'debug' : undefined;
    const logLevel = wanted !== undefined && LOG_LEVELS.includes(wanted) ? wanted : undefined;
    return callHubTool({ ...opts, caller: actingAs(who(), meta) }, {
      ...(logLevel ? { logLevel } : {}),
      ...(perRequest && logLevel ? { onlog: (m: { level: string; logger?: string; data: unknown }) => void ctx.mcpReq.log(m.level as 'info', m.data, m.logger).catch(() => undefined) } : {}),
      name: req.params.name,
      args: req.params.arguments,
      session: sessionOf(ctx, opts.sessionFallback),
      ...(client ? { client } : {}),
      signal: ctx.mcpReq.signal,
      onprogress: progressRelay(ctx),
      clientRequests: modern
        ? { capabilities: envelope?.['io.modelcontextprotocol/clientCapabilities'] as ClientChannelSpec['capabilities'], modern: true }
        : { capabilities: server.getClientCapabilities(), send: (request, o) => ctx.mcpReq.send(request as { method: 'roots/list' }, o) as Promise<Record<string, unknown>> },
      human: {
        modern,
        canAsk: canElicit,
        ...(modern ? { retry: { inputResponses: ctx.mcpReq.inputResponses, requestState: ctx.mcpReq.requestState<string>() } } : {}),
        ...(canElicit && !modern
          ? {
              elicit: (message: string) => askOnCallStream(ctx, message),
            }
          : {}),
      },
    });
  });

  server.setRequestHandler('resources/list', async () => ({ resources: catalog().resources().map((r) => r.def) }));
  server.setRequestHandler('resources/templates/list', async () => ({ resourceTemplates: catalog().resourceTemplates().map((r) => r.def) }));
  server.setRequestHandler('resources/read', async (req, ctx) => {
    const uri = req.params.uri;
    const r = catalog().resource(uri);
    if (!r) throw new ResourceNotFoundError(uri, `Resource ${uri} not found`);
    try {
      return withoutReservedMeta(await r.read(callContext(ctx)));
    } catch (err) {
      throw relayedError(withClientUri(err, uri), server, ctx);
    }
  });
  if (subs) {
    // 2025 sessions; a 2026-07-28 client subscribes with subscriptions/listen (transports/http.ts).
    server.setRequestHandler('resources/subscribe', async (req, ctx) => {
      const uri = req.params.uri;
      await subs.subscribe(server, uri, (u) => void server.sendResourceUpdated({ uri: u }).catch(() => undefined), ctx.mcpReq.signal, who().user);
      return {};
    });
    server.setRequestHandler('resources/unsubscribe', async (req) => {
      await subs.unsubscribe(server, req.params.uri);
      return {};
    });
    // The session ended (closed, expired, its token removed): its subscriptions end with it.
    server.onclose = () => subs.drop(server);
  }
  server.setRequestHandler('completion/complete', async (req, ctx) => {
    // Not advertised then (liveCapabilities): answered as a method the hub does not have.
    if (!catalog().upstreamFeatures().completions) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, 'Method not found: completion/complete (no upstream offers completions)');
    const { ref, argument, context } = req.params;
    const ask = { argument, ...(context ? { context } : {}) };
    if (ref.type === 'ref/prompt') {
      const p = catalog().prompt(ref.name);
      if (!p) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${ref.name} not found`);
      // A prompt of the hub's own, or of an upstream that cannot complete: nothing to offer.
      return withoutReservedMeta(p.complete ? await p.complete(ask, callContext(ctx)).catch(relayingTo(server, ctx)) : { completion: { values: [] } });
    }
    const t = catalog()
      .resourceTemplates()
      .find((x) => x.def.uriTemplate === ref.uri);
    if (!t) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource template ${ref.uri} not found`);
    return withoutReservedMeta(t.complete ? await t.complete(ask, callContext(ctx)).catch(relayingTo(server, ctx)) : { completion: { values: [] } });
  });
  server.setRequestHandler('prompts/list', async () => ({ prompts: catalog().prompts().map((p) => p.def) }));
  server.setRequestHandler('prompts/get', async (req, ctx) => {
    const p = catalog().prompt(req.params.name);
    if (!p) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${req.params.name} not found`);
    if (!p.mayAskClient) return withoutReservedMeta(await p.get(req.params.arguments, callContext(ctx)).catch(relayingTo(server, ctx)));
    // An upstream's prompt may ask the client mid-request, as a tool may: the same relay
    // (input-relay.ts, parked-calls.ts), bound to this prompt and its arguments.
    const modern = ctx.mcpReq.envelope !== undefined;
    const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
    const spec: ClientChannelSpec = modern
      ? { capabilities: envelope?.['io.modelcontextprotocol/clientCapabilities'] as ClientChannelSpec['capabilities'], modern: true }
      : { capabilities: server.getClientCapabilities(), send: (request, o) => ctx.mcpReq.send(request as { method: 'roots/list' }, o) as Promise<Record<string, unknown>> };
    const caller = who();
    const binding: RelayBinding = { user: caller.user, role: caller.role, session: sessionOf(ctx, opts.sessionFallback), tool: `prompts/get ${req.params.name}`, args: req.params.arguments ?? {}, upstream: p.source };
    const answer = await withClientInput(
      { relay: opts.inputRelay ?? defaultInputRelay, parking: opts.parking ?? defaultParking, binding, spec, retry: modern ? { inputResponses: ctx.mcpReq.inputResponses, requestState: ctx.mcpReq.requestState<string>() } : undefined, signal: ctx.mcpReq.signal },
      (extra) => p.get(req.params.arguments, { ...callContext(ctx), ...extra }) as Promise<Record<string, unknown>>,
    ).catch(relayingTo(server, ctx));
    return (answer.resultType === 'input_required' ? answer : withoutReservedMeta(answer)) as GetPromptResult;
  });
  return server;
}
