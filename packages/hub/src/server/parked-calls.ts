/**
 * A 2025 upstream asking a 2026-07-28 client mid-call. The upstream sends a real request
 * (`sampling/createMessage`, ...) and waits on it; the 2026-07-28 client cannot be asked
 * mid-call, only answered with `input_required`. So the hub answers the client's call with
 * the question and keeps the upstream call running, parked in memory under a random id (which
 * goes in the hub's signed requestState); the client's retry resumes it with the answers, and
 * the upstream's next question or its result is the retry's answer.
 *
 * Bounded: at most {@link MAX_PARKED_CALLS} parked and still running at once (beyond that the
 * upstream's question is refused with an error it receives), each for at most {@link PARKED_TTL_MS}. When
 * the retry never comes, the parked call is cancelled upstream at that deadline (the upstream
 * sees `notifications/cancelled`) and forgotten; a retry after that is told the question expired.
 * The upstream's own call deadline (`limits.callTimeoutMs`) still runs meanwhile.
 *
 * @example
 * const parking = createParking();
 * const out = await parking.start(signal, (ask, s) => tool.call(args, { ...ctx, signal: s, client: channelWith(ask) }));
 * if (out.kind === 'asks') return inputRequiredFor(out);    // later: parking.resume(out.id, answers, retrySignal)
 */
import { randomBytes } from 'node:crypto';
import { ProtocolError, ProtocolErrorCode, type CallToolResult } from '@modelcontextprotocol/server';
import type { ClientRequestMethod } from '../upstreams/client-requests.ts';

/** Calls waiting for a 2026-07-28 client's answers, at most. */
export const MAX_PARKED_CALLS = 64;
/** How long a parked call waits for the client's retry before it is cancelled. */
export const PARKED_TTL_MS = 5 * 60_000;

/** One question the upstream asked, as the client gets it. */
export interface ParkedAsk {
  key: string;
  upstream: string;
  method: ClientRequestMethod;
  params: Record<string, unknown> | undefined;
}

export type ParkedOutcome = { kind: 'done'; result: CallToolResult } | { kind: 'asks'; id: string; asks: ParkedAsk[] };

/** How the call reaches the client: each question resolves with the client's answer on its retry. */
export type ParkedAskFn = (upstream: string, method: ClientRequestMethod, params: Record<string, unknown> | undefined) => Promise<Record<string, unknown>>;

interface Pending extends ParkedAsk {
  resolve(r: Record<string, unknown>): void;
  reject(e: Error): void;
}

interface Entry {
  done: Promise<{ result: CallToolResult } | { error: unknown }>;
  asks: Pending[];
  /** Wakes `next` when a question comes. */
  wake?: () => void;
  abort: AbortController;
  /** Unlinks the current request's signal from `abort`. */
  unlink?: () => void;
  counter: number;
  /** Keys of the questions the client was shown (a question that came after waits for the next round). */
  shown: Set<string>;
  /** The call ended (its upstream deadline, say) while parked: it holds only its result now. */
  settled: boolean;
}

export function createParking(opts: { ttlMs?: number; max?: number } = {}) {
  const ttl = opts.ttlMs ?? PARKED_TTL_MS;
  const max = opts.max ?? MAX_PARKED_CALLS;
  const parked = new Map<string, { entry: Entry; timer: NodeJS.Timeout }>();

  /** Cancels the call when `signal` (the client's current request) aborts, until unlinked. */
  function link(entry: Entry, signal: AbortSignal): void {
    entry.unlink?.();
    const onAbort = () => entry.abort.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    entry.unlink = () => signal.removeEventListener('abort', onAbort);
  }

  /** Waits for the result or the next questions (those that come together go out together). */
  async function next(entry: Entry, signal: AbortSignal): Promise<ParkedOutcome> {
    link(entry, signal);
    const asked = new Promise<'asks'>((resolve) => {
      entry.wake = () => resolve('asks');
      if (entry.asks.length) resolve('asks');
    });
    const first = await Promise.race([entry.done.then(() => 'done' as const), asked]);
    entry.wake = undefined;
    if (first === 'done') {
      entry.unlink?.();
      const d = await entry.done;
      if ('error' in d) throw d.error;
      return { kind: 'done', result: d.result };
    }
    // Questions sent together (one legacy-shim round) arrive a few reads apart.
    await new Promise((r) => setImmediate(r));
    // The client's request is answered now; the parked call no longer dies with it.
    entry.unlink?.();
    const id = randomBytes(16).toString('base64url');
    const timer = setTimeout(() => {
      parked.delete(id);
      for (const a of entry.asks.splice(0)) a.reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, `${a.method} got no answer: the client did not come back within ${ttl / 1000} s`));
      entry.abort.abort(new Error('the client did not answer in time'));
    }, ttl);
    timer.unref();
    parked.set(id, { entry, timer });
    entry.shown = new Set(entry.asks.map((a) => a.key));
    return { kind: 'asks', id, asks: entry.asks.map(({ key, upstream, method, params }) => ({ key, upstream, method, params })) };
  }

  return {
    /** Calls parked now. */
    size: () => parked.size,
    /**
     * Runs a call for a 2026-07-28 client: `run` gets the function its upstream's questions go
     * through and the signal the call must use (not the request's: a parked call outlives it).
     */
    start(signal: AbortSignal, run: (ask: ParkedAskFn, signal: AbortSignal) => Promise<CallToolResult>): Promise<ParkedOutcome> {
      const entry: Entry = { done: undefined as never, asks: [], abort: new AbortController(), counter: 0, shown: new Set(), settled: false };
      const ask: ParkedAskFn = (upstream, method, params) =>
        new Promise((resolve, reject) => {
          // Only calls still running count: one that ended keeps just its result for the retry.
          let running = 0;
          for (const p of parked.values()) if (!p.entry.settled) running++;
          if (running >= max) {
            reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, `${method} refused by the hub: ${max} calls already wait for their client's answers`));
            return;
          }
          entry.asks.push({ key: `q${entry.counter++}`, upstream, method, params, resolve, reject });
          entry.wake?.();
        });
      entry.done = run(ask, entry.abort.signal).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      void entry.done.then(() => (entry.settled = true));
      return next(entry, signal);
    },
    /** Ends a parked call now (its questions refused, its upstream call cancelled): `why` says why. */
    cancel(id: string, why: string): void {
      const p = parked.get(id);
      if (!p) return;
      parked.delete(id);
      clearTimeout(p.timer);
      for (const a of p.entry.asks.splice(0)) a.reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, `${a.method} was not answered: ${why}`));
      p.entry.abort.abort(new Error(why));
    },
    /**
     * Resumes a parked call with the client's answers (by question key); undefined when no
     * call is parked under `id` (it expired, or was resumed already).
     */
    resume(id: string, answers: Record<string, unknown>, signal: AbortSignal): Promise<ParkedOutcome> | undefined {
      const p = parked.get(id);
      if (!p) return undefined;
      parked.delete(id);
      clearTimeout(p.timer);
      const { entry } = p;
      const answered = entry.asks.filter((a) => entry.shown.has(a.key));
      entry.asks = entry.asks.filter((a) => !entry.shown.has(a.key));
      for (const a of answered) {
        const answer = answers[a.key];
        if (answer && typeof answer === 'object' && !Array.isArray(answer)) a.resolve(answer as Record<string, unknown>);
        else a.reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, `the client sent no answer to ${a.method}`));
      }
      return next(entry, signal);
    },
  };
}

export type Parking = ReturnType<typeof createParking>;
