/**
 * What a request to an upstream wants to hear of the messages that arrive while it runs.
 *
 * Why: an upstream sends a call's log messages on that call's own response stream, but the SDK
 * client hands every notification to one handler with nothing saying which request it came
 * with. The stream of a request is read in the async context of the request that opened it,
 * so an `AsyncLocalStorage` entered around the request is what that handler sees: a message on
 * the call's stream finds the call; one on the 2025 GET stream (no request) finds none.
 *
 * @example
 * callScope.run({ onlog: (m) => relay(m) }, () => client.callTool(params));
 * // in the notification handler:
 * callScope.getStore()?.onlog?.(message);
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { UpstreamLogMessage } from './connection.ts';

export interface CallScope {
  /** A log message that came on this call's stream. */
  onlog?: (message: UpstreamLogMessage) => void;
}

export const callScope = new AsyncLocalStorage<CallScope>();

/** Calls running inside a scope: on Node 20 a store in use hooks every promise of the process. */
let inScope = 0;

/**
 * Runs `fn` with `scope` as the store, and disables the store again after the last such call,
 * so a hub that served one 2026-07-28 request with a log level does not pay for the hook on
 * every promise from then on (the same care as client-requests.ts takes).
 */
export async function withCallScope<T>(scope: CallScope, fn: () => Promise<T>): Promise<T> {
  inScope++;
  try {
    return await callScope.run(scope, fn);
  } finally {
    if (--inScope === 0) callScope.disable();
  }
}
