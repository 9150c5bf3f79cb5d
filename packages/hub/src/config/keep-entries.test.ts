import { describe, expect, it } from 'vitest';
import type { UnresolvedRef } from '@homelab-mcp/core/config';
import { keepRunningEntries } from './keep-entries.ts';

const ref = (keyPath: PropertyKey[], name: string): UnresolvedRef => ({ keyPath, name, message: `hub.yaml:1:1: key "${keyPath.join('.')}": environment variable ${name} is not set` });

describe('keepRunningEntries', () => {
  it('puts back the running node, upstream and token, leaves new ones out (returning new nodes for the fleet), and names each variable', () => {
    const previous = { nodes: [{ name: 'a', url: 'http://a', token: 'old-a' }], upstreams: { ha: { url: 'http://ha-old' } }, auth: { tokens: [{ user: 'u', role: 'admin', token: 'old-u' }] } };
    const data = {
      nodes: [{ name: 'new', url: 'http://n', token: '${NEW_TOKEN}', roles: ['speaker'] }, { name: 'a', url: 'http://a2', token: '${A_TOKEN}' }, { name: 'b', url: 'http://b' }],
      upstreams: { ha: { url: '${HA_URL}' }, x: { url: 'http://x', headers: { A: '${X_KEY}' } } },
      auth: { tokens: [{ user: 'u', role: 'admin', token: '${U_TOKEN}' }] },
    };
    const r = keepRunningEntries(data, [ref(['nodes', 0, 'token'], 'NEW_TOKEN'), ref(['nodes', 1, 'token'], 'A_TOKEN'), ref(['upstreams', 'ha', 'url'], 'HA_URL'), ref(['upstreams', 'x', 'headers', 'A'], 'X_KEY'), ref(['auth', 'tokens', 0, 'token'], 'U_TOKEN')], previous, 'hub.yaml');
    expect(r.unsettled).toEqual([]);
    expect(data.nodes).toEqual([previous.nodes[0], { name: 'b', url: 'http://b' }]);
    expect(data.upstreams).toEqual({ ha: { url: 'http://ha-old' } });
    expect(data.auth.tokens).toEqual(previous.auth.tokens);
    expect(r.notes).toEqual([
      'hub.yaml: nodes[0] "new": environment variable NEW_TOKEN is not set; not connected until it is resolved (calls to it say why)',
      'hub.yaml: nodes[1] "a": environment variable A_TOKEN is not set; keeping its running settings',
      'hub.yaml: upstreams.ha: environment variable HA_URL is not set; keeping its running settings',
      'hub.yaml: upstreams.x: environment variable X_KEY is not set; left out until it is resolved',
      'hub.yaml: auth.tokens[0] "u": environment variable U_TOKEN is not set; keeping its running settings',
    ]);
    expect(r.nodes).toEqual([{ name: 'new', roles: ['speaker'], why: 'environment variable NEW_TOKEN is not set' }]);
  });

  it('leaves a reference outside any entry unsettled: the whole reload is refused', () => {
    const data = { logLevel: '${LEVEL}' };
    const r = keepRunningEntries(data, [ref(['logLevel'], 'LEVEL')], {}, 'hub.yaml');
    expect(r.unsettled.map((u) => u.name)).toEqual(['LEVEL']);
    expect(r.notes).toEqual([]);
  });
});
