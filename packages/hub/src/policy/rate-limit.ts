/**
 * A token bucket per caller: `perMinute` requests on average with bursts up to `burst`.
 * In memory, because a hub is one process; a replica set behind a proxy limits per replica.
 */
export interface RateLimitOptions {
  perMinute: number;
  burst: number;
}

/** Buckets kept at most; one more evicts the oldest. */
const MAX_KEYS = 100_000;

export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

export function createRateLimiter(opts: RateLimitOptions, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const ratePerMs = opts.perMinute / 60_000;
  return {
    /**
     * Takes `n` requests' worth (a JSON-RPC batch counts each message). A batch larger than the
     * tokens left is admitted when one is, and the bucket goes into debt: the caller then waits
     * until it is paid, so the average never exceeds `perMinute` however the calls are packed.
     */
    take(key: string, n = 1): RateDecision {
      const t = now();
      const b = buckets.get(key) ?? { tokens: opts.burst, at: t };
      b.tokens = Math.min(opts.burst, b.tokens + (t - b.at) * ratePerMs);
      b.at = t;
      if (!buckets.has(key)) {
        // Bounded: keys come from source addresses too (failed logins); the oldest go first.
        if (buckets.size >= MAX_KEYS) buckets.delete(buckets.keys().next().value!);
        buckets.set(key, b);
      }
      if (b.tokens >= 1) {
        b.tokens -= n;
        return { ok: true };
      }
      return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000)) };
    },
    /** Whether `key` would be refused now, without taking anything. */
    blocked(key: string): RateDecision {
      const b = buckets.get(key);
      if (!b) return { ok: true };
      const tokens = Math.min(opts.burst, b.tokens + (now() - b.at) * ratePerMs);
      return tokens >= 1 ? { ok: true } : { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000)) };
    },
  };
}
