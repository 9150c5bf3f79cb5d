import { describe, expect, it } from 'vitest';
import type { CatalogTool } from '../catalog/types.ts';
import { createGate } from './gate.ts';

const tool = (name: string, toolClass: 'read' | 'write'): CatalogTool => ({
  def: { name, inputSchema: { type: 'object' } },
  toolClass,
  source: 'ha',
  call: async () => ({ content: [] }),
});
const admin = { user: 'a', role: 'admin' as const };
const human = { modern: false, canAsk: false };

describe('gate', () => {
  it('lets reads through and holds writes until the session is approved', async () => {
    const gate = createGate({ modeFor: () => 'session' });
    expect((await gate.check({ tool: tool('GetState', 'read'), args: {}, caller: admin, session: 's1', human })).kind).toBe('allow');
    const held = await gate.check({ tool: tool('TurnOn', 'write'), args: { name: 'x' }, caller: admin, session: 's1', human });
    expect(held).toMatchObject({ kind: 'hold', decision: 'pending' });
    gate.approve(admin, 's1');
    expect((await gate.check({ tool: tool('TurnOn', 'write'), args: {}, caller: admin, session: 's1', human })).kind).toBe('allow');
    expect((await gate.check({ tool: tool('TurnOn', 'write'), args: {}, caller: admin, session: 's2', human })).kind).toBe('hold');
    gate.endSession('s1');
    expect(gate.isApproved(admin, 's1')).toBe(false);
  });

  it('a rule refuses whatever the approval state', async () => {
    const gate = createGate({ modeFor: () => 'session', rules: [({ tool: t, args }) => (t === 'run_playbook' && args.branch !== 'main' ? 'only playbooks on main run' : undefined)] });
    gate.approve(admin, 's');
    const r = await gate.check({ tool: tool('run_playbook', 'write'), args: { branch: 'wip' }, caller: admin, session: 's', human });
    expect(r).toMatchObject({ kind: 'hold', decision: 'denied', reason: 'rule: only playbooks on main run' });
    expect((await gate.check({ tool: tool('run_playbook', 'write'), args: { branch: 'main' }, caller: admin, session: 's', human })).kind).toBe('allow');
  });

  it('human mode on 2026-07-28 accepts only the approval it asked for, for that exact call', async () => {
    const gate = createGate({ modeFor: () => 'human' });
    const modern = { modern: true, canAsk: true };
    const first = await gate.check({ tool: tool('TurnOn', 'write'), args: { name: 'x' }, caller: admin, session: 's', human: modern });
    expect(first.kind).toBe('hold');
    const state = (first as any).result.requestState as string;
    const yes = { approve: { action: 'accept', content: { approve: true } } };
    // The same call with the state it was given: allowed.
    expect((await gate.check({ tool: tool('TurnOn', 'write'), args: { name: 'x' }, caller: admin, session: 's', human: { ...modern, retry: { inputResponses: yes, requestState: state } } })).kind).toBe('allow');
    // The state reused for other arguments: denied.
    const other = await gate.check({ tool: tool('TurnOn', 'write'), args: { name: 'y' }, caller: admin, session: 's', human: { ...modern, retry: { inputResponses: yes, requestState: state } } });
    expect(other).toMatchObject({ decision: 'denied', reason: 'bad approval state' });
    // An approval nobody asked for: denied.
    const unsolicited = await gate.check({ tool: tool('TurnOn', 'write'), args: { name: 'x' }, caller: admin, session: 's', human: { ...modern, retry: { inputResponses: yes } } });
    expect(unsolicited).toMatchObject({ decision: 'denied', reason: 'unsolicited approval' });
  });
});
