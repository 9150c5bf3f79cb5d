/**
 * A sliding-window limiter for a service that bans clients over its limit (NVD: 5 requests per
 * 30 s without an API key, 50 with). A request waits for a free slot when one frees within
 * `maxWaitMs`, else it is refused with when to retry, so a call never hangs for long and the
 * service never sees more than it allows. The clock and the sleep are injected for tests.
 */

export interface RateLimiter {
  /**
   * Takes a slot for one request under `limit` per window: resolves when it may go, or gives
   * `{ retryInMs }` when none frees within `maxWaitMs`. A `signal` abort ends a wait.
   */
  acquire(limit: number, signal?: AbortSignal): Promise<{ ok: true } | { ok: false; retryInMs: number }>;
}

export interface RateLimiterOptions {
  windowMs: number;
  /** The longest a request waits for a slot before it is refused. */
  maxWaitMs: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * @example
 * const nvd = createRateLimiter({ windowMs: 30_000, maxWaitMs: 10_000 });
 * const slot = await nvd.acquire(apiKey ? 50 : 5, signal);
 * if (!slot.ok) return `retry in ${Math.ceil(slot.retryInMs / 1000)} s`;
 */
export function createRateLimiter(o: RateLimiterOptions): RateLimiter {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? realSleep;
  /** Start times of the requests of the current window, oldest first (granted slots included). */
  const sent: number[] = [];
  return {
    async acquire(limit, signal) {
      for (;;) {
        const t = now();
        while (sent.length && sent[0]! <= t - o.windowMs) sent.shift();
        if (sent.length < limit) {
          sent.push(t);
          return { ok: true };
        }
        // The slot that frees first is the one `limit` requests back.
        const wait = sent[sent.length - limit]! + o.windowMs - t;
        if (wait > o.maxWaitMs) return { ok: false, retryInMs: wait };
        await sleep(wait, signal);
      }
    },
  };
}
