/**
 * The address each HTTP request is attributed to (see `clientAddress` in http.ts: the peer, or
 * behind `trustedProxies` the client the proxy or tunnel names), kept for the async work the
 * request starts, so that the audit event of a tool call records where the call came from
 * without threading it through the SDK's handlers.
 *
 * @example
 * requestSource.run('203.0.113.5', () => handle(req)); // later, inside the call: currentSource() === '203.0.113.5'
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export const requestSource = new AsyncLocalStorage<string>();

/** The source of the HTTP request whose work is running now; undefined outside one (stdio, timers). */
export function currentSource(): string | undefined {
  return requestSource.getStore();
}
