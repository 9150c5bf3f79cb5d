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
