import { describe, expect, it } from 'vitest';
import { maskVars, maskYamlText, scrubValues, secretValuesOf, VAULT_MASK } from './mask.ts';

const VAULT = '$ANSIBLE_VAULT;1.1;AES256\n3534353964323662\n6331363334';

describe('Ansible masking', () => {
  it('masks vault values and secret-named variables in inventory variables, keeps the rest and Jinja references', () => {
    const vars = {
      pi1: { ansible_host: '127.0.0.1', db_password: 'hunter2', ansible_become_pass: 'sudo-pw', api_token: 't0k3n', wifi: { psk_secret: 'x1', ssid: 'home' }, vaulted: { __ansible_vault: VAULT }, raw: VAULT, ref_password: '{{ vault_db_password }}', port: 22 },
    };
    expect(maskVars(vars)).toEqual({
      pi1: { ansible_host: '127.0.0.1', db_password: '[REDACTED]', ansible_become_pass: '[REDACTED]', api_token: '[REDACTED]', wifi: { psk_secret: '[REDACTED]', ssid: 'home' }, vaulted: VAULT_MASK, raw: VAULT_MASK, ref_password: '{{ vault_db_password }}', port: 22 },
    });
    // The vault ciphertext is cut out of run output too.
    expect([...secretValuesOf(vars)].sort()).toEqual([VAULT, 'hunter2', 'sudo-pw', 't0k3n'].sort());
  });

  it('masks a playbook text line by line: !vault blocks, inline vault, secret-named values and block scalars; line numbers stay', () => {
    const text = [
      '- hosts: all',
      '  vars:',
      '    db_password: hunter2 # the db',
      '    mysql_root_password: !vault |',
      '      $ANSIBLE_VAULT;1.1;AES256',
      '      62313365396662343061393464336163',
      '    user: bob',
      '    "api_token": "{{ lookup(\'env\', \'T\') }}"',
      '    ssh_private_key: |',
      '      -----BEGIN OPENSSH PRIVATE KEY-----',
      '      abc',
      '  tasks:',
      '    - name: x',
      '      debug: msg=hi',
    ].join('\n');
    const masked = maskYamlText(text);
    expect(masked.split('\n')).toHaveLength(14);
    expect(masked).not.toMatch(/hunter2|62313365|ANSIBLE_VAULT|BEGIN OPENSSH|abc/);
    expect(masked).toContain('db_password: [REDACTED] # the db');
    expect(masked).toContain('mysql_root_password: [VAULT]');
    expect(masked).toContain('user: bob');
    expect(masked).toContain(`"api_token": "{{ lookup('env', 'T') }}"`);
    expect(masked).toContain('  tasks:');
    expect(masked).toContain('      debug: msg=hi');
  });

  it('scrubs values longest first', () => {
    expect(scrubValues('a hunter22 b hunter2', ['hunter2', 'hunter22'])).toBe('a [REDACTED] b [REDACTED]');
    expect(scrubValues('abc', ['ab'])).toBe('abc');
  });
});
