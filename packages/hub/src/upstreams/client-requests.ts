/**
 * What an upstream may ask the hub's client for in the middle of a call (`sampling/createMessage`,
 * `elicitation/create`, `roots/list`), and how the hub finds whose call asked.
 *
 * The hub declares those capabilities to every upstream and forwards each such request to the
 * client whose call caused it. Which call that is: a 2025 server sends the request on the
 * response stream of the call (SDK servers relate it to the call), and the SDK client reads
 * that stream from inside the POST's `transport.send()`, so the request handler runs in the
 * async context of the upstream call: an AsyncLocalStorage set around the call finds it (also
 * for a 2026-07-28 upstream's `input_required`, which the SDK fulfils inside the call). A
 * request that comes another way (the 2025 GET stream, a stdio child, a legacy SSE stream)
 * carries no such context: it goes to the only call in flight on that upstream, and is refused
 * when there are several (it could belong to any of them, and asking the wrong client would
 * show one session's data to another).
 *
 * @example
 * const route = createClientRouting('ha');
 * await route.during({ channel, signal }, () => client.callTool(...));   // the call
 * client.setRequestHandler('sampling/createMessage', (req) => route.forward('sampling/createMessage', req.params));
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/client';

/** The requests a server may send its client mid-call, in both eras. */
export const CLIENT_REQUEST_METHODS = ['sampling/createMessage', 'elicitation/create', 'roots/list'] as const;
export type ClientRequestMethod = (typeof CLIENT_REQUEST_METHODS)[number];

/** What the hub's upstream client declares, so that servers send those requests at all. */
export const FORWARDED_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: false } } as const;

/**
 * The client of one call, as an upstream reaches it (built by the hub's tools/call handler).
 * `ask` rejects with a `ProtocolError` the upstream then receives (no capability, too many
 * requests, the client failed).
 */
export interface ClientChannel {
  /**
   * Sends one request to the client (a 2025 session: on the call's stream) and resolves with
   * its result. `upstream` names who asks (audit, and the prefix of an elicitation's message).
   */
  ask(upstream: string, method: ClientRequestMethod, params: Record<string, unknown> | undefined, signal: AbortSignal): Promise<Record<string, unknown>>;
  /**
   * 2026-07-28 clients: an upstream's `input_required` goes back to the client as it is
   * (wrapped by the hub) instead of being fulfilled here, since the client cannot be asked
   * mid-call.
   */
  relay?: boolean;
  /**
   * What the client declared of what the hub forwards (sampling, elicitation, roots): sent as
   * a 2026-07-28 upstream's `clientCapabilities`, so that it asks only for what this client
   * can answer, or refuses the call itself (-32021) as it would without the hub.
   */
  capabilities?: Record<string, unknown>;
  /** The capabilities an upstream asked for that the client did not declare (requiredCapabilities of -32021). */
  missing?(): Record<string, object> | undefined;
}

interface ActiveCall {
  routing: object;
  channel?: ClientChannel;
  signal: AbortSignal;
}

// One store for all upstreams: each entry names its routing, so a request read on upstream B's
// stream while a call to A is the context (a nested call) is not taken for A's.
const current = new AsyncLocalStorage<ActiveCall>();
/**
 * Calls with a channel in flight. On Node 20 an AsyncLocalStorage in use puts a hook on every
 * promise of the process (a promise-heavy loop runs about 2-3 times slower): the store is
 * enabled only while such a call runs, and disabled again after the last.
 */
let withChannel = 0;

/**
 * Runs `fn` outside any call's context: a connection opened during a call (a reconnect a call
 * triggered) must not carry that call in the context of its streams (a stdio child's output, the
 * GET stream) for its whole life.
 */
export function outsideCalls<T>(fn: () => T): T {
  return current.exit(fn);
}

/**
 * Errors the hub made while answering an upstream's request for its client (a refusal, a
 * client that failed to answer). A 2025 upstream receives them as the JSON-RPC error of its
 * request; for a 2026-07-28 upstream the SDK fulfils input_required itself, so they surface
 * from the tool call, where they are the hub's failure to relay, not the upstream's error, and
 * become the call's tool error (upstream.ts).
 */
const relayFailures = new WeakSet<object>();

/** True for an error the hub raised while relaying an upstream's request to its client. */
export function isRelayFailure(err: unknown): boolean {
  return typeof err === 'object' && err !== null && relayFailures.has(err);
}

/** Refuses a request the upstream sent, with the error it receives. */
function refuse(code: number, message: string): never {
  const err = new ProtocolError(code, message);
  relayFailures.add(err);
  throw err;
}

/** The routing of one upstream's client requests (see the module comment). */
export function createClientRouting(upstream: string) {
  const routing = {};
  const inflight = new Set<ActiveCall>();
  return {
    /** Runs one call (any request to the upstream); client requests it causes reach `channel`. */
    async during<T>(call: { channel?: ClientChannel; signal: AbortSignal }, fn: () => Promise<T>): Promise<T> {
      const active: ActiveCall = { routing, signal: call.signal, ...(call.channel ? { channel: call.channel } : {}) };
      inflight.add(active);
      if (!call.channel) {
        // Counted (the fallback must know every call in flight), but no client to reach.
        try {
          return await fn();
        } finally {
          inflight.delete(active);
        }
      }
      withChannel++;
      try {
        return await current.run(active, fn);
      } finally {
        inflight.delete(active);
        if (--withChannel === 0) current.disable();
      }
    },
    /** Forwards one request the upstream sent to the client of the call that caused it. */
    async forward(method: ClientRequestMethod, params: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
      const ctx = current.getStore();
      let call = ctx?.routing === routing && inflight.has(ctx) ? ctx : undefined;
      if (!call) {
        // A request read right after a call's answer (one stdio chunk holds both) comes before
        // that call's bookkeeping: let finished calls leave first, so it never goes to one.
        await new Promise((r) => setImmediate(r));
        if (inflight.size !== 1) {
          refuse(
            ProtocolErrorCode.InvalidRequest,
            inflight.size === 0
              ? `${method} refused by the hub: no call of this server is in progress, so there is no client to ask`
              : `${method} refused by the hub: it came outside the stream of a call while ${inflight.size} calls are in progress, so the hub cannot tell whose client to ask (send it on the call's own stream)`,
          );
        }
        call = inflight.values().next().value!;
      }
      // A call without a channel comes from the hub itself (a health check, a list) or a client
      // the hub cannot reach mid-call.
      if (!call.channel) refuse(ProtocolErrorCode.MethodNotFound, `${method} is not available: the client of this call cannot be asked`);
      if (call.signal.aborted) refuse(ProtocolErrorCode.InvalidRequest, `${method} refused by the hub: the call it belongs to has ended`);
      return call.channel.ask(upstream, method, params, call.signal).catch((err: unknown) => {
        if (typeof err === 'object' && err !== null) relayFailures.add(err);
        throw err;
      });
    },
  };
}

export type ClientRouting = ReturnType<typeof createClientRouting>;
