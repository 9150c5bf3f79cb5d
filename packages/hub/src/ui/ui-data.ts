/**
 * The integrations' lines of the Health page: each integration's `health()` asked at most every
 * {@link INTEGRATION_CACHE_MS} (a page that refreshes every 10 s must not become a request to
 * every service every 10 s), with "since when" kept from the first answer in that state. Once
 * every integration has answered once, a page gets the last answers at once and a stale one is
 * asked again in the background (a slow service never slows the page down).
 */
import type { HealthItem } from './contract.ts';

export const INTEGRATION_CACHE_MS = 15_000;
/** How long one integration's check may take. */
export const CHECK_TIMEOUT_MS = 10_000;

export interface HealthSource {
  title: string;
  health(signal: AbortSignal): Promise<{ ok: boolean; detail: string }>;
}

/** @example const lines = integrationHealth(() => sources); await lines(signal) */
export function integrationHealth(sources: () => HealthSource[], now: () => number = Date.now): (signal: AbortSignal) => Promise<HealthItem[]> {
  const last = new Map<string, { item: HealthItem; at: number }>();
  let inflight: Promise<HealthItem[]> | undefined;
  const check = async (): Promise<HealthItem[]> => {
    const list = sources();
    const t = now();
    const items = await Promise.all(
      list.map(async (s) => {
        const cached = last.get(s.title);
        if (cached && t - cached.at < INTEGRATION_CACHE_MS) return cached.item;
        // A check that ignores its signal must not hold every later round up: it loses the race.
        const deadline = AbortSignal.timeout(CHECK_TIMEOUT_MS);
        const late = new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)), { once: true }));
        const h = await Promise.race([s.health(deadline), late]).catch((err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }));
        const status: HealthItem['status'] = h.ok ? 'ok' : 'problem';
        const since = cached?.item.status === status ? cached.item.since : new Date(now()).toISOString();
        const item: HealthItem = { name: s.title, kind: 'integration', status, ...(since ? { since } : {}), detail: h.detail };
        last.set(s.title, { item, at: now() });
        return item;
      }),
    );
    for (const k of last.keys()) if (!list.some((s) => s.title === k)) last.delete(k);
    return items;
  };
  return async (signal) => {
    const list = sources();
    const t = now();
    const known = list.map((s) => last.get(s.title));
    // One round of checks at a time, shared by every page asking meanwhile.
    if (known.some((k) => !k || t - k.at >= INTEGRATION_CACHE_MS)) {
      inflight ??= check().finally(() => {
        inflight = undefined;
      });
      inflight.catch(() => undefined);
    }
    if (known.every((k) => k)) return known.map((k) => k!.item);
    const mine = inflight!;
    return new Promise<HealthItem[]>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      mine.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  };
}
