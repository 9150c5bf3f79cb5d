import { describe, expect, it } from 'vitest';
import { ACTING_FOR_META_KEY, actingAs, actingForMeta } from './acting-for.ts';

const claim = (v: unknown) => ({ [ACTING_FOR_META_KEY]: v });

describe('actingAs', () => {
  it('leaves a call without a claim as the token made it', () => {
    expect(actingAs({ user: 'bob', role: 'admin' }, undefined)).toEqual({ user: 'bob', role: 'admin' });
    expect(actingAs({ user: 'bob', role: 'admin' }, { other: 1 })).toEqual({ user: 'bob', role: 'admin' });
  });

  it('lowers to the claimed role and keeps the token\'s user', () => {
    expect(actingAs({ user: 'bob', role: 'admin' }, claim({ user: 'vic', role: 'viewer' }))).toEqual({ user: 'bob', role: 'viewer', actingFor: 'vic' });
    expect(actingAs({ user: 'bob', role: 'admin' }, claim({ user: 'otto', role: 'operator' }))).toEqual({ user: 'bob', role: 'operator', actingFor: 'otto' });
  });

  it('never raises: a higher claim keeps the token\'s role', () => {
    expect(actingAs({ user: 'v', role: 'viewer' }, claim({ user: 'root', role: 'admin' })).role).toBe('viewer');
    expect(actingAs({ user: 'o', role: 'operator' }, claim({ user: 'root', role: 'admin' })).role).toBe('operator');
  });

  it('takes an unknown or malformed claim as viewer', () => {
    for (const c of [{ role: 'root' }, { role: 'toString' }, { role: 2 }, null, 'admin', {}]) {
      expect(actingAs({ user: 'bob', role: 'admin' }, claim(c)).role, JSON.stringify(c)).toBe('viewer');
    }
  });
});

describe('actingForMeta', () => {
  it('passes on the original user of a call that is itself delegated', () => {
    expect(actingForMeta({ user: 'hubA', role: 'viewer', actingFor: 'vic' })).toEqual(claim({ user: 'vic', role: 'viewer' }));
    expect(actingForMeta({ user: 'ann', role: 'admin' })).toEqual(claim({ user: 'ann', role: 'admin' }));
  });
});
