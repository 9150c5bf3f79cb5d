/**
 * The caller's client as the upstreams of one call reach it: what an upstream asks mid-call
 * (`sampling/createMessage`, `elicitation/create`, `roots/list`) is sent to the client on the
 * call's own stream (2025 sessions) and its answer goes back; a 2026-07-28 client gets the
 * upstream's `input_required` instead (see input-relay.ts).
 *
 * What an upstream cannot do through it: ask a client that did not declare the capability (a
 * JSON-RPC error, -32601), ask more than {@link MAX_CLIENT_REQUESTS_PER_CALL} times in one call
 * (a flood of questions to a person), pass its question off as the hub's (an elicitation's
 * message is prefixed with the upstream's name, so it never reads like the hub's own write
 * approval), or ask for the context of the others (a sampling request's `includeContext` is
 * dropped). Each request is recorded in the call's audit detail (method, upstream, outcome),
 * never what it asked or what came back.
 *
 * @example
 * const channel = createClientChannel({ capabilities: server.getClientCapabilities(), send: (req, o) => ctx.mcpReq.send(req, o) }, record);
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { ClientChannel, ClientRequestMethod } from '../upstreams/client-requests.ts';

/** Requests one call's upstreams may send its client, in all. */
export const MAX_CLIENT_REQUESTS_PER_CALL = 16;
/** How long the client has to answer one request (the SDK's default request timeout). */
export const CLIENT_REQUEST_TIMEOUT_MS = 60_000;

/** What the client declared (its `capabilities`, or a 2026-07-28 request's clientCapabilities). */
export interface DeclaredCapabilities {
  sampling?: unknown;
  elicitation?: { form?: unknown; url?: unknown } | Record<string, unknown>;
  roots?: unknown;
}

/** One forwarded request as the audit event records it. */
export interface ForwardedRequest {
  method: ClientRequestMethod;
  upstream: string;
  /** `relayed`: sent to a 2026-07-28 client inside an input_required result. */
  outcome: 'answered' | 'refused' | 'failed' | 'relayed';
}

export interface ClientChannelSpec {
  capabilities: DeclaredCapabilities | undefined;
  /** 2025 sessions: sends a request related to the call (on its stream). */
  send?: (request: { method: ClientRequestMethod; params?: Record<string, unknown> }, opts: { timeout: number; signal: AbortSignal }) => Promise<Record<string, unknown>>;
  /** 2026-07-28 requests: upstreams' `input_required` goes back to the client. */
  modern?: boolean;
  /**
   * 2026-07-28 requests: a 2025 upstream's question goes to the client in an input_required
   * result while the call waits (parked-calls.ts); resolves with the client's answer.
   */
  park?: (upstream: string, method: ClientRequestMethod, params: Record<string, unknown> | undefined) => Promise<Record<string, unknown>>;
}

const NEEDS: Record<ClientRequestMethod, keyof DeclaredCapabilities> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** Whether `caps` cover `method` (URL-mode elicitation needs `elicitation.url`). */
export function declares(caps: DeclaredCapabilities | undefined, method: ClientRequestMethod, params?: Record<string, unknown>): boolean {
  const cap = caps?.[NEEDS[method]];
  if (cap === undefined || cap === null) return false;
  if (method === 'elicitation/create' && params?.mode === 'url') return (cap as { url?: unknown }).url !== undefined;
  return true;
}

/** The part of a client's capabilities the hub forwards requests for, as the client declared it. */
export function forwardable(caps: DeclaredCapabilities | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['sampling', 'elicitation', 'roots'] as const) {
    const v = caps?.[key];
    if (v !== undefined && v !== null && typeof v === 'object') out[key] = v;
  }
  return out;
}

/**
 * An upstream's request as the client gets it. An elicitation names the upstream first, as the
 * person sees it. A sampling request loses `includeContext`: the client knows only the hub, so
 * the context of "this server" (or of all) would be every upstream's results, handed to the one
 * that asked.
 *
 * @example forwardedParams('ha', 'elicitation/create', { message: 'Pick' }) // { message: '[ha] Pick' }
 */
export function forwardedParams(upstream: string, method: ClientRequestMethod, params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!params) return params;
  if (method === 'sampling/createMessage' && 'includeContext' in params) {
    const { includeContext: _dropped, ...rest } = params;
    return rest;
  }
  if (method !== 'elicitation/create' || typeof params.message !== 'string') return params;
  return { ...params, message: `[${upstream}] ${params.message}` };
}

/**
 * Builds the channel of one call; `record` is told about each request (for the audit detail).
 */
export function createClientChannel(spec: ClientChannelSpec, record: (r: ForwardedRequest) => void): ClientChannel {
  let asked = 0;
  let missing: Record<string, object> | undefined;
  return {
    ...(spec.modern ? { relay: true } : {}),
    capabilities: forwardable(spec.capabilities),
    missing: () => missing,
    async ask(upstream, method, params, signal) {
      const refuse = (code: number, message: string): never => {
        record({ method, upstream, outcome: 'refused' });
        throw new ProtocolError(code, message);
      };
      if (!declares(spec.capabilities, method, params)) {
        missing = { ...missing, [NEEDS[method]]: method === 'elicitation/create' && params?.mode === 'url' ? { url: {} } : {} };
        refuse(ProtocolErrorCode.MethodNotFound, `${method} is not available: the client of this call did not declare the capability`);
      }
      if (!spec.send && !spec.park) refuse(ProtocolErrorCode.MethodNotFound, `${method} is not available: the hub cannot ask this client in the middle of a call`);
      if (++asked > MAX_CLIENT_REQUESTS_PER_CALL) refuse(ProtocolErrorCode.InvalidRequest, `${method} refused by the hub: a call may ask its client at most ${MAX_CLIENT_REQUESTS_PER_CALL} times`);
      if (!spec.send) {
        // Recorded by the call as relayed (input-relay.ts names the upstream in the question);
        // its answer comes with the client's retry.
        return spec.park!(upstream, method, params);
      }
      try {
        const p = forwardedParams(upstream, method, params);
        const result = await spec.send!({ method, ...(p ? { params: p } : {}) }, { timeout: CLIENT_REQUEST_TIMEOUT_MS, signal });
        record({ method, upstream, outcome: 'answered' });
        return result;
      } catch (err) {
        record({ method, upstream, outcome: 'failed' });
        // The client's own JSON-RPC error goes to the upstream as it is; anything else (a
        // timeout, a closed connection) as an internal error that says what happened.
        if (err instanceof ProtocolError) throw err;
        throw new ProtocolError(ProtocolErrorCode.InternalError, `the client did not answer ${method}: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}
