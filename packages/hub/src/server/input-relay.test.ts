import { describe, expect, it } from 'vitest';
import { createInputRelay, RELAY_TTL_MS, type RelayBinding } from './input-relay.ts';

const binding: RelayBinding = { user: 'alice', role: 'admin', session: 'client:cc', tool: 'ha__set', args: { x: 1 }, upstream: 'ha' };
const caps = { elicitation: { form: {} }, sampling: {} };
const elicit = (message: string) => ({ method: 'elicitation/create', params: { message, requestedSchema: { type: 'object', properties: { approve: { type: 'boolean' } } } } });

describe('input relay', () => {
  it('shows the upstream\'s questions under its own keys, named, and every answer of the retry goes back to it', () => {
    const relay = createInputRelay();
    const shown = relay.wrap({ resultType: 'input_required', inputRequests: { approve: elicit('Approve this change?') }, requestState: 'up-state' }, binding, caps) as any;
    // Named, so the person never reads it as the hub's own approval; the gate never sees this
    // round's answers (a retry under a relayed state does not go through the gate).
    expect(shown.inputRequests).toEqual({ approve: elicit('[ha] Approve this change?') });
    const back = relay.unwrap(shown.requestState, { approve: { action: 'decline' } }, binding);
    expect(back).toEqual({ ok: true, upstream: 'ha', confirmStripped: false, resume: { inputResponses: { approve: { action: 'decline' } }, requestState: 'up-state' } });
  });

  it('refuses a state past its time, of another caller or session, or of a demoted role', () => {
    let t = 1_000_000;
    const relay = createInputRelay({ now: () => t });
    const state = () => (relay.wrap({ inputRequests: { e: elicit('?') } }, binding, caps) as any).requestState as string;
    for (const other of [{ user: 'bob' }, { session: 'client:other' }, { role: 'viewer' }, { args: { x: 2 } }]) {
      expect(relay.unwrap(state(), {}, { ...binding, ...other })).toEqual({ ok: false, reason: 'the requestState sent back belongs to another call' });
    }
    const s = state();
    t += RELAY_TTL_MS;
    expect(relay.unwrap(s, {}, binding)).toMatchObject({ ok: false, reason: expect.stringContaining('expired') });
  });

  it('refuses what a client must not be asked: undeclared capabilities, unknown methods, a flood', () => {
    const relay = createInputRelay();
    expect(() => relay.wrap({ inputRequests: { r: { method: 'roots/list' } } }, binding, caps)).toThrow('roots/list is not available: the client of this call did not declare the capability');
    expect(() => relay.wrap({ inputRequests: { r: { method: 'tools/call' } } }, binding, caps)).toThrow('an input the protocol does not define');
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, elicit('?')]));
    expect(() => relay.wrap({ inputRequests: many }, binding, caps)).toThrow('ha asked for 17 inputs at once; the hub relays at most 16');
  });

  it('a state from another hub process (another key) is not this hub\'s', () => {
    const state = (createInputRelay().wrap({ inputRequests: { e: elicit('?') } }, binding, caps) as any).requestState as string;
    expect(createInputRelay().unwrap(state, {}, binding)).toMatchObject({ ok: false, reason: expect.stringContaining('not issued by this hub') });
  });

  it("drops a sampling request's includeContext: to the client the context of 'this server' is the whole hub's", () => {
    const shown = createInputRelay().wrap({ inputRequests: { s: { method: 'sampling/createMessage', params: { messages: [], maxTokens: 5, includeContext: 'allServers' } } } }, binding, caps) as any;
    expect(Object.values(shown.inputRequests)).toEqual([{ method: 'sampling/createMessage', params: { messages: [], maxTokens: 5 } }]);
  });
});
