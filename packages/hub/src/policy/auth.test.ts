import { describe, expect, it } from 'vitest';
import { createAuthenticator } from './auth.ts';

describe('createAuthenticator', () => {
  it('keys a caller by its token, stably across reloads, and resolves a key to the current user and role', () => {
    const before = createAuthenticator([
      { user: 'ann', role: 'admin', token: 'token-of-ann-0123456789' },
      { user: 'ops', role: 'admin', token: 'token-of-ops-0123456789' },
    ]);
    const ops = before('Bearer token-of-ops-0123456789')!;
    expect(ops).toMatchObject({ user: 'ops', role: 'admin' });
    expect(ops.key).not.toContain('token-of-ops');
    // Reordered, demoted: same key, new role; removed: no caller.
    const after = createAuthenticator([{ user: 'ops', role: 'viewer', token: 'token-of-ops-0123456789' }]);
    expect(after.resolve(ops.key)).toEqual({ user: 'ops', role: 'viewer', key: ops.key });
    expect(createAuthenticator([{ user: 'ann', role: 'admin', token: 'token-of-ann-0123456789' }]).resolve(ops.key)).toBeUndefined();
    expect(before('Bearer nope')).toBeUndefined();
  });

  it('matches only the exact token: a prefix, a longer one, another case or an empty configured token never match', () => {
    const auth = createAuthenticator([
      { user: 'ann', role: 'admin', token: 'token-of-ann-0123456789' },
      { user: 'nobody', role: 'admin', token: '' },
    ]);
    expect(auth('Bearer token-of-ann-0123456789')).toMatchObject({ user: 'ann' });
    for (const t of ['token-of-ann-012345678', 'token-of-ann-0123456789x', 'TOKEN-OF-ANN-0123456789']) expect(auth(`Bearer ${t}`)).toBeUndefined();
    expect(auth('Bearer ')).toBeUndefined();
    expect(auth(undefined)).toBeUndefined();
  });
});
