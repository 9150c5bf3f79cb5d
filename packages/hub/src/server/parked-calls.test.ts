import { afterEach, describe, expect, it, vi } from 'vitest';
import { createParking } from './parked-calls.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** A call that asks once, then answers with what it got (or why it failed), reporting its cancellation. */
function askingCall(events: string[]) {
  return async (ask: Parameters<Parameters<ReturnType<typeof createParking>['start']>[1]>[0], signal: AbortSignal) => {
    signal.addEventListener('abort', () => events.push('cancelled upstream'));
    try {
      const r = await ask('up', 'elicitation/create', { message: 'colour?' });
      return { content: [{ type: 'text' as const, text: `got ${JSON.stringify(r)}` }] };
    } catch (err) {
      events.push(`ask failed: ${(err as Error).message}`);
      return { content: [{ type: 'text' as const, text: 'failed' }], isError: true };
    }
  };
}

describe('parked calls', () => {
  it('hands out the question, then resumes the call with the answer, once', async () => {
    const parking = createParking();
    const out = await parking.start(new AbortController().signal, askingCall([]));
    expect(out).toMatchObject({ kind: 'asks', asks: [{ key: 'q0', upstream: 'up', method: 'elicitation/create' }] });
    const id = (out as { id: string }).id;
    const done = await parking.resume(id, { q0: { action: 'accept', content: { c: 'red' } } }, new AbortController().signal);
    expect(done).toEqual({ kind: 'done', result: { content: [{ type: 'text', text: 'got {"action":"accept","content":{"c":"red"}}' }] } });
    expect(parking.resume(id, {}, new AbortController().signal)).toBeUndefined();
    expect(parking.size()).toBe(0);
  });

  it('cancels the upstream call and forgets it when the retry never comes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const parking = createParking({ ttlMs: 60_000 });
    const events: string[] = [];
    const out = await parking.start(new AbortController().signal, askingCall(events));
    expect(parking.size()).toBe(1);
    vi.advanceTimersByTime(59_999);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    await vi.waitFor(() => expect([...events].sort()).toEqual(['ask failed: elicitation/create got no answer: the client did not come back within 60 s', 'cancelled upstream']));
    expect(parking.size()).toBe(0);
    expect(parking.resume((out as { id: string }).id, {}, new AbortController().signal)).toBeUndefined();
  });

  it('refuses the question when too many calls wait already', async () => {
    const parking = createParking({ max: 1 });
    await parking.start(new AbortController().signal, askingCall([]));
    const events: string[] = [];
    const second = await parking.start(new AbortController().signal, askingCall(events));
    expect(second.kind).toBe('done');
    expect(events).toEqual(['ask failed: elicitation/create refused by the hub: 1 calls already wait for their client\'s answers']);
  });

  it('a parked call that ended (its upstream deadline) no longer takes a place, and its retry gets the result', async () => {
    const parking = createParking({ max: 1 });
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    const first = await parking.start(new AbortController().signal, async (ask) => {
      void ask('up', 'roots/list', undefined).catch(() => undefined);
      await ended;
      return { content: [{ type: 'text' as const, text: 'timed out upstream' }], isError: true };
    });
    end();
    await new Promise((r) => setImmediate(r));
    const events: string[] = [];
    expect((await parking.start(new AbortController().signal, askingCall(events))).kind).toBe('asks');
    expect(events).toEqual([]);
    expect(await parking.resume((first as { id: string }).id, {}, new AbortController().signal)).toEqual({ kind: 'done', result: { content: [{ type: 'text', text: 'timed out upstream' }], isError: true } });
  });

  it('a cancelled first request cancels the call before it parks', async () => {
    const parking = createParking();
    const events: string[] = [];
    const ac = new AbortController();
    const out = parking.start(ac.signal, async (_ask, signal) => {
      await new Promise<void>((r) => signal.addEventListener('abort', () => r()));
      events.push('cancelled upstream');
      return { content: [] };
    });
    ac.abort();
    expect(await out).toEqual({ kind: 'done', result: { content: [] } });
    expect(events).toEqual(['cancelled upstream']);
  });
});
