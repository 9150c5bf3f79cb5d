/**
 * Refused requests, counted and logged without letting a flood flood the log: at most one line
 * per kind and source per window (10 s), which carries how many were not logged since the last.
 *
 * @example
 * const refusals = createRefusals({ log, count: metrics.refusal });
 * refusals.refuse('unauthorized', '203.0.113.9', { path: '/mcp' });
 */
export type RefusalKind = 'unauthorized' | 'forbidden_host' | 'too_large' | 'rate_limited' | 'auth_throttled' | 'unknown_tool' | 'bad_request';

export interface RefusalsOptions {
  log?: { warn(obj: Record<string, unknown>, msg: string): void };
  count(kind: RefusalKind): void;
  windowMs?: number;
  now?: () => number;
}

/** (kind, source) pairs remembered; beyond this the oldest is forgotten (and logs again). */
const MAX_ENTRIES = 10_000;
/**
 * Lines per window over all kinds and sources: Host names are logged one by one, and a flood of
 * made-up names must not flood the log (the metric still counts every refusal).
 */
const MAX_LINES_PER_WINDOW = 100;

const MESSAGES: Record<RefusalKind, string> = {
  unauthorized: 'refused: no valid bearer token (401)',
  forbidden_host: 'refused: Host or Origin not allowed (403)',
  too_large: 'refused: request body too large (413)',
  rate_limited: 'refused: rate limit (429)',
  auth_throttled: 'refused: too many failed authentications from this address (429)',
  unknown_tool: 'refused: call to an unknown or hidden tool',
  bad_request: 'refused: malformed request (400)',
};

export function createRefusals(o: RefusalsOptions) {
  const windowMs = o.windowMs ?? 10_000;
  const now = o.now ?? Date.now;
  const seen = new Map<string, { at: number; suppressed: number }>();
  let window = { at: -Infinity, lines: 0 };
  return {
    /**
     * `line.distinct` logs each value once per window on its own (a refused Host name, so that
     * every name refused is in the log); `line.msg` replaces the kind's message.
     */
    refuse(kind: RefusalKind, source: string, detail: Record<string, unknown> = {}, line: { distinct?: string; msg?: string } = {}): void {
      o.count(kind);
      const key = `${kind}\u0000${source}${line.distinct === undefined ? '' : `\u0000${line.distinct}`}`;
      const t = now();
      const entry = seen.get(key);
      if (entry && t - entry.at < windowMs) {
        entry.suppressed++;
        return;
      }
      if (!entry && seen.size >= MAX_ENTRIES) seen.delete(seen.keys().next().value!);
      const suppressed = entry?.suppressed ?? 0;
      if (t - window.at >= windowMs) window = { at: t, lines: 0 };
      if (window.lines >= MAX_LINES_PER_WINDOW) {
        seen.set(key, { at: t, suppressed: suppressed + 1 });
        return;
      }
      window.lines++;
      seen.set(key, { at: t, suppressed: 0 });
      o.log?.warn({ refusal: kind, source, ...detail, ...(suppressed ? { suppressedSinceLast: suppressed } : {}) }, line.msg ?? MESSAGES[kind]);
    },
  };
}

export type Refusals = ReturnType<typeof createRefusals>;
