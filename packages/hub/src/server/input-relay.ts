/**
 * An upstream's `input_required` relayed to a 2026-07-28 client, and the client's retry back to
 * the same upstream.
 *
 * The client gets the upstream's `inputRequests` under the upstream's own keys (one call
 * reaches one upstream, and the gate never reads the answers of a relayed round: its own round
 * has its own state), each elicitation's message with `[<upstream>] ` in front, so no question
 * passes for the hub's own approval, and a `requestState` of the hub's own: the upstream's state,
 * the upstream's name, an expiry and a digest of who called what (user, role, session, tool,
 * exact arguments), signed with a per-process HMAC key. On the retry only a state this hub
 * signed for this very call is accepted: a client cannot point it at another upstream, change
 * the upstream's state, or replay it (each state is single-use). The retry then skips the write
 * gate, which let this exact call run when the state was issued.
 *
 * @example
 * const relay = createInputRelay();
 * const shown = relay.wrap(upstreamResult, binding, clientCaps);     // to the client
 * const back = relay.unwrap(requestState, inputResponses, binding);  // on its retry
 */
import { createHmac, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { MissingRequiredClientCapabilityError, type CallToolResult } from '@modelcontextprotocol/server';
import { canonicalJson } from '@homelab-mcp/core/audit-event';
import { CLIENT_REQUEST_METHODS, type ClientRequestMethod } from '../upstreams/client-requests.ts';
import { declares, forwardedParams, MAX_CLIENT_REQUESTS_PER_CALL, type DeclaredCapabilities } from './client-channel.ts';

/** What starts every requestState the hub gives for an upstream's input_required. */
export const RELAY_STATE_PREFIX = 'hubfwd1.';
/** How long the client has to come back with its answers. */
export const RELAY_TTL_MS = 10 * 60_000;
/** Longest upstream requestState the hub carries (it travels to the client and back). */
export const MAX_UPSTREAM_STATE_CHARS = 64 * 1024;
/** States handed out and not yet used, kept to refuse a replay; beyond this a retry is refused. */
const MAX_LIVE_STATES = 10_000;

/** Who called what: a state is valid only for the same. */
export interface RelayBinding {
  user: string;
  role: string;
  session: string;
  tool: string;
  args: Record<string, unknown>;
  upstream: string;
}

/** True for a requestState the hub issued for an upstream (as opposed to the gate's own). */
export function isRelayState(state: unknown): state is string {
  return typeof state === 'string' && state.startsWith(RELAY_STATE_PREFIX);
}

export type Unwrapped =
  | { ok: true; resume: { inputResponses?: Record<string, unknown>; requestState?: string }; upstream: string; confirmStripped: boolean; /** A call parked in memory (parked-calls.ts). */ parked?: string }
  | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Creates a relay with its own key (one per hub process). */
export function createInputRelay(opts: { secret?: Uint8Array; now?: () => number } = {}) {
  const secret = opts.secret ?? randomBytes(32);
  const now = opts.now ?? Date.now;
  const mac = (payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');
  const digest = (b: RelayBinding) => createHash('sha256').update(canonicalJson([b.user, b.role, b.session, b.tool, b.args, b.upstream])).digest('base64url');
  const used = new Map<string, number>();

  return {
    /**
     * The client's view of an upstream's `input_required`. Throws an Error saying why it cannot
     * be relayed: more than {@link MAX_CLIENT_REQUESTS_PER_CALL} requests, a method no client
     * answers, one this client did not declare, a state too long.
     */
    wrap(result: Record<string, unknown>, binding: RelayBinding, caps: DeclaredCapabilities | undefined, wrapOpts: { confirmStripped?: boolean; parked?: string } = {}): CallToolResult {
      const requests = isObject(result.inputRequests) ? result.inputRequests : {};
      const entries = Object.entries(requests);
      if (entries.length > MAX_CLIENT_REQUESTS_PER_CALL) throw new Error(`${binding.upstream} asked for ${entries.length} inputs at once; the hub relays at most ${MAX_CLIENT_REQUESTS_PER_CALL}`);
      const shown: Record<string, unknown> = {};
      for (const [key, entry] of entries) {
        const method = isObject(entry) ? entry.method : undefined;
        if (!CLIENT_REQUEST_METHODS.includes(method as ClientRequestMethod)) throw new Error(`${binding.upstream} asked for an input the protocol does not define (${String(method).slice(0, 60)})`);
        const params = isObject(entry) && isObject(entry.params) ? entry.params : undefined;
        if (!declares(caps, method as ClientRequestMethod, params)) {
          const need = method === 'sampling/createMessage' ? 'sampling' : method === 'roots/list' ? 'roots' : 'elicitation';
          throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { [need]: need === 'elicitation' && params?.mode === 'url' ? { url: {} } : {} } }, `${method} is not available: the client of this call did not declare the capability`);
        }
        const attributed = forwardedParams(binding.upstream, method as ClientRequestMethod, params);
        // The upstream's own keys: one call reaches one upstream, and the state says which.
        shown[key] = { method, ...(attributed ? { params: attributed } : {}) };
      }
      const upstreamState = typeof result.requestState === 'string' ? result.requestState : null;
      if (upstreamState !== null && upstreamState.length > MAX_UPSTREAM_STATE_CHARS) throw new Error(`${binding.upstream} sent a requestState of ${upstreamState.length} characters; the hub carries at most ${MAX_UPSTREAM_STATE_CHARS}`);
      const payload = Buffer.from(JSON.stringify([binding.upstream, upstreamState, digest(binding), now() + RELAY_TTL_MS, randomBytes(12).toString('base64url'), wrapOpts.confirmStripped === true, wrapOpts.parked ?? null])).toString('base64url');
      return { resultType: 'input_required', inputRequests: shown, requestState: `${RELAY_STATE_PREFIX}${payload}.${mac(payload)}` } as unknown as CallToolResult;
    },

    /** The upstream's state and answers from a client's retry, if the state is this call's. */
    unwrap(state: string, inputResponses: Record<string, unknown> | undefined, binding: RelayBinding): Unwrapped {
      const body = state.slice(RELAY_STATE_PREFIX.length);
      const dot = body.lastIndexOf('.');
      const payload = body.slice(0, dot);
      const got = body.slice(dot + 1);
      const want = mac(payload);
      if (dot < 0 || got.length !== want.length || !timingSafeEqual(Buffer.from(got), Buffer.from(want))) return { ok: false, reason: 'the requestState sent back was not issued by this hub (or was changed)' };
      const [upstream, upstreamState, bound, expires, nonce, confirmStripped, parked] = JSON.parse(Buffer.from(payload, 'base64url').toString()) as [string, string | null, string, number, string, boolean, string | null];
      if (upstream !== binding.upstream || bound !== digest(binding)) return { ok: false, reason: 'the requestState sent back belongs to another call' };
      const t = now();
      if (expires <= t) return { ok: false, reason: `the requestState sent back expired (they last ${RELAY_TTL_MS / 60_000} minutes); call the tool again without it` };
      if (used.has(nonce)) return { ok: false, reason: 'the requestState sent back was already used' };
      for (const [n, e] of used) if (e <= t) used.delete(n);
      if (used.size >= MAX_LIVE_STATES) return { ok: false, reason: 'too many retries in flight; try again later' };
      used.set(nonce, expires);
      // The state names one upstream, so every answer of this retry is for it.
      const answers = inputResponses ?? {};
      return {
        ok: true,
        upstream,
        confirmStripped,
        ...(parked ? { parked } : {}),
        resume: { ...(Object.keys(answers).length ? { inputResponses: answers } : {}), ...(upstreamState !== null ? { requestState: upstreamState } : {}) },
      };
    },
  };
}

export type InputRelay = ReturnType<typeof createInputRelay>;
