import { describe, expect, it } from 'vitest';
import { INTEGRATION_CACHE_MS, integrationHealth } from './ui-data.ts';

describe('integrationHealth', () => {
  it('asks each service at most once per cache period, keeps "since" while the state holds, and answers from the last round while a slow one is asked again', async () => {
    let t = Date.parse('2026-12-07T10:00:00Z');
    let calls = 0;
    let ok = true;
    let release: (() => void) | undefined;
    const sources = [
      {
        title: 'Proxmox',
        health: async () => {
          calls++;
          if (release === undefined && calls > 3) await new Promise<void>((r) => (release = r));
          return { ok, detail: ok ? 'ready' : 'auth failed' };
        },
      },
    ];
    const lines = integrationHealth(() => sources, () => t);
    const signal = new AbortController().signal;
    expect(await lines(signal)).toEqual([{ name: 'Proxmox', kind: 'integration', status: 'ok', since: '2026-12-07T10:00:00.000Z', detail: 'ready' }]);
    t += 1000;
    await lines(signal);
    expect(calls).toBe(1);
    t += INTEGRATION_CACHE_MS;
    await lines(signal); // answered from the cache; the new round runs meanwhile
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(2);
    expect((await lines(signal))[0]!.since).toBe('2026-12-07T10:00:00.000Z');
    ok = false;
    t += INTEGRATION_CACHE_MS;
    await lines(signal);
    await new Promise((r) => setImmediate(r));
    const down = await lines(signal);
    expect(down[0]).toMatchObject({ status: 'problem', detail: 'auth failed', since: new Date(t).toISOString() });
    // A service that hangs: pages keep getting the last answer at once.
    t += INTEGRATION_CACHE_MS;
    expect((await lines(signal))[0]!.status).toBe('problem');
    await new Promise((r) => setImmediate(r));
    expect(release).toBeDefined();
    expect((await lines(signal))[0]!.detail).toBe('auth failed');
    expect(calls).toBe(4);
    release!();
  });

  it('the first page waits for the first answers, but no longer than its signal', async () => {
    const lines = integrationHealth(() => [{ title: 'Slow', health: () => new Promise(() => undefined) }]);
    await expect(lines(AbortSignal.timeout(20))).rejects.toThrow();
  });
});
