import { describe, expect, it } from 'vitest';
import { createSessionActivity } from './session-activity.ts';

const call = (user: string, session: string, tool = 'get_status', client?: string) => ({ caller: { user, role: 'operator' as const, key: `tok:${user}` }, session, tool, ...(client ? { client: { name: client, version: '1' } } : {}) });

describe('session activity', () => {
  it('counts calls per user and session, keeps the 2026 client name, and moves a called session to the end', () => {
    let t = Date.parse('2026-12-07T10:00:00Z');
    const a = createSessionActivity({ now: () => t });
    a.record(call('ann', 's1'));
    a.record(call('ann', 'client:claude-code', 'run_command', 'claude-code'));
    t += 1000;
    a.record(call('ann', 's1', 'list_nodes'));
    expect(a.calls('ann', 's1')).toBe(2);
    expect(a.list().map((r) => r.session)).toEqual(['client:claude-code', 's1']);
    expect(a.list()[1]).toEqual({ user: 'ann', role: 'operator', key: 'tok:ann', session: 's1', calls: 2, lastCallAt: '2026-12-07T10:00:01.000Z', lastTool: 'list_nodes' });
    expect(a.list()[0]!.client).toEqual({ name: 'claude-code', version: '1' });
  });

  it('one user cycling through client names pushes out only their own oldest rows; the whole stays bounded', () => {
    const a = createSessionActivity({ max: 50, maxPerUser: 10 });
    a.record(call('ann', 's-ann'));
    for (let i = 0; i < 1000; i++) a.record(call('mallory', `client:x${i}`, 'get_status', `x${i}`));
    expect(a.calls('ann', 's-ann')).toBe(1);
    expect(a.list().filter((r) => r.user === 'mallory').map((r) => r.session)).toEqual(Array.from({ length: 10 }, (_, i) => `client:x${990 + i}`));
    for (let u = 0; u < 100; u++) a.record(call(`u${u}`, 's'));
    expect(a.size()).toBe(50);
    expect(a.list().at(-1)!.user).toBe('u99');
  });
});
