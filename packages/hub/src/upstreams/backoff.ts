/**
 * Exponential backoff with jitter for reconnect attempts.
 *
 * The delay doubles from `initialMs` up to `maxMs`; each delay is then shortened by up to
 * `jitter` (a fraction) at random so that many upstreams that died together (a switch
 * rebooted, the hub host woke from sleep) do not all reconnect in the same millisecond.
 * Jitter only shortens, so `maxMs` is a real upper bound a test can wait for.
 *
 * @example
 * const backoff = createBackoff({ initialMs: 500, maxMs: 30_000 });
 * setTimeout(retry, backoff.next()); // ~500, ~1000, ~2000, ... ~30000
 * backoff.reset();                   // after a success
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Fraction of each delay that may be taken off at random; default 0.3. */
  jitter?: number;
  /** Source of randomness in [0, 1); tests pass a fixed one. */
  random?: () => number;
}

export interface Backoff {
  /** The delay before the next attempt; each call counts one failed attempt. */
  next(): number;
  /** Back to `initialMs` (call after a success). */
  reset(): void;
  /** Failed attempts since the last reset. */
  readonly attempts: number;
}

export function createBackoff(opts: BackoffOptions): Backoff {
  const jitter = Math.min(Math.max(opts.jitter ?? 0.3, 0), 1);
  const random = opts.random ?? Math.random;
  const initial = Math.max(1, opts.initialMs);
  const max = Math.max(initial, opts.maxMs);
  let attempts = 0;
  return {
    next() {
      // 2 ** 30 is far past any sane max; capping the exponent keeps the number finite.
      const base = Math.min(max, initial * 2 ** Math.min(attempts, 30));
      attempts++;
      return Math.round(base * (1 - jitter * random()));
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
