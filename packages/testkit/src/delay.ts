import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A request handler that answers `ms` later (the request body waits, unread, meanwhile): fakes
 * that stand for a slow service (bench/services measures that parallel checks cost the slowest,
 * not the sum).
 *
 * @example createServer(delayed(handler, opts.delayMs))
 */
export function delayed<Q extends IncomingMessage, S extends ServerResponse>(handler: (req: Q, res: S) => void, ms: number | undefined): (req: Q, res: S) => void {
  if (!ms) return handler;
  return (req, res) => void setTimeout(() => handler(req, res), ms);
}
