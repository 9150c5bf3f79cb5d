import { describe, expect, it } from 'vitest';
import { badExtraVars, parseRunArgs } from './service.ts';

describe('dry run and run arguments', () => {
  it('takes a name, an inventory inside the repo, extra_vars, a limit and tags (sorted, deduplicated)', () => {
    expect(parseRunArgs({ name: 'site.yml', inventory: 'inv/prod.ini', extra_vars: { v: '1.2', n: [1, { a: 'b' }] }, limit: 'pis:!pi3', tags: ['b', 'a', 'b'] })).toEqual({ name: 'site', inventory: 'inv/prod.ini', extraVars: { v: '1.2', n: [1, { a: 'b' }] }, limit: 'pis:!pi3', tags: ['a', 'b'] });
  });
  it('refuses paths, options and unknown arguments, naming the argument', () => {
    expect(parseRunArgs({ name: '../site' })).toMatch(/^argument "name": .* is a path/);
    expect(parseRunArgs({ name: 'site', inventory: '/etc/ansible/hosts' })).toMatch(/^argument "inventory": .*not a path inside the playbook repo/);
    expect(parseRunArgs({ name: 'site', inventory: 'a/../../x' })).toMatch(/^argument "inventory"/);
    expect(parseRunArgs({ name: 'site', limit: '--become' })).toMatch(/^argument "limit"/);
    expect(parseRunArgs({ name: 'site', limit: 'a b' })).toMatch(/^argument "limit"/);
    expect(parseRunArgs({ name: 'site', tags: ['a b'] })).toMatch(/^argument "tags"/);
    expect(parseRunArgs({ name: 'site', extra_vars: [1] })).toMatch(/^argument "extra_vars": expected an object/);
    expect(parseRunArgs({ name: 'site', branch: 'x' })).toMatch(/^unknown argument "branch"/);
    expect(parseRunArgs({ name: 'site', limit: '@/etc/passwd' })).toMatch(/^argument "limit": "@" \(a file of host patterns\) is not allowed/);
    expect(parseRunArgs({ name: 'site', limit: 'pis:@hosts.txt' })).toMatch(/^argument "limit": "@"/);
    expect(parseRunArgs({ name: 'site', inventory: '127.0.0.1:22,' })).toMatch(/^argument "inventory": .* is a list of hosts/);
    expect(parseRunArgs({ name: 'site', inventory: '.git/config' })).toMatch(/^argument "inventory": .* is inside \.git/);
  });
  it('refuses extra_vars that would choose how Ansible connects, or carry Jinja', () => {
    expect(badExtraVars({ ansible_ssh_common_args: '-o ProxyCommand=x' })).toMatch(/ansible_\* variables/);
    expect(badExtraVars({ ANSIBLE_connection: 'local' })).toMatch(/ansible_\* variables/);
    expect(badExtraVars({ hostvars: {} })).toMatch(/reserves/);
    expect(badExtraVars({ 'a-b': 1 })).toMatch(/not a variable name/);
    expect(badExtraVars({ v: "{{ lookup('pipe', 'id') }}" })).toMatch(/^v holds a Jinja template/);
    expect(badExtraVars({ v: { w: ['ok', '{% if %}'] } })).toMatch(/^v\.w\[1\] holds a Jinja template/);
    expect(badExtraVars({ v: { '{{x}}': 1 } })).toMatch(/the key/);
    expect(badExtraVars({ version: '1.2', list: ['a', { b: 'c' }] })).toBeUndefined();
  });
});
