import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInventory, vaultBlobs, vaultedFileVars, vaultPlaintexts } from './inventory.ts';
import { maskVars, secretValuesOf } from './mask.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'homelab-inventory-test-'));
  writeFileSync(join(dir, 'vault-pass'), 'correct horse\n', { mode: 0o600 });
  const enc = execFileSync('ansible-vault', ['encrypt_string', '--vault-password-file', join(dir, 'vault-pass'), 'the-vaulted-secret-42', '--name', 'mysql_root_password'], { encoding: 'utf8', env: { ...process.env, ANSIBLE_HOME: join(dir, '.ansible') } });
  mkdirSync(join(dir, 'host_vars'));
  writeFileSync(join(dir, 'host_vars', 'pi1.yml'), `---\n${enc}\napi_user: bob\n`);
  writeFileSync(join(dir, 'hosts.ini'), '[pis]\npi1 ansible_host=127.0.0.1 db_password=plain-secret-1\npi2 ansible_host=127.0.0.2\n[lab:children]\npis\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading an inventory with ansible-inventory', () => {
  it('gives groups and merged host vars; vault values masked; their plaintexts recoverable only with the password file', async () => {
    const inv = await readInventory({ cwd: dir, inventory: 'hosts.ini', vaultPasswordFile: join(dir, 'vault-pass'), timeoutMs: 60_000 });
    expect(inv.groups.pis).toEqual({ hosts: ['pi1', 'pi2'], children: [] });
    expect(inv.groups.lab!.children).toEqual(['pis']);
    expect(inv.hostvars.pi1).toMatchObject({ api_user: 'bob', db_password: 'plain-secret-1' });
    const masked = maskVars(inv.hostvars) as Record<string, Record<string, unknown>>;
    expect(masked.pi1).toMatchObject({ api_user: 'bob', db_password: '[REDACTED]', mysql_root_password: '[VAULT]' });
    expect(JSON.stringify(masked)).not.toMatch(/ANSIBLE_VAULT|plain-secret-1/);
    const blobs = vaultBlobs(inv.hostvars);
    expect(blobs).toHaveLength(1);
    expect(await vaultPlaintexts(blobs, join(dir, 'vault-pass'))).toEqual(['the-vaulted-secret-42']);
    expect(await vaultPlaintexts(blobs, undefined)).toEqual([]);
    expect(secretValuesOf(inv.hostvars)).toContain('plain-secret-1');
  });

  it('names the inventory when Ansible cannot parse it', async () => {
    writeFileSync(join(dir, 'bad.ini'), '[pis\npi1 ansible_host=\n');
    await expect(readInventory({ cwd: dir, inventory: 'bad.ini', timeoutMs: 60_000 })).rejects.toThrow(/ansible-inventory -i bad\.ini/);
  });
});

describe('whole-file vaults', () => {
  it('names the variables of an encrypted group_vars file and gives their values, with a plain password file only', async () => {
    const repo = join(dir, 'repo');
    mkdirSync(join(repo, 'inventory', 'group_vars', 'pis'), { recursive: true });
    const file = join(repo, 'inventory', 'group_vars', 'pis', 'vault.yml');
    writeFileSync(file, 'wifi_psk: the-wifi-psk-1234\nnested: { deep: [another-secret-99] }\n');
    execFileSync('ansible-vault', ['encrypt', '--vault-password-file', join(dir, 'vault-pass'), file], { env: { ...process.env, ANSIBLE_HOME: join(dir, '.ansible') } });
    writeFileSync(join(repo, 'inventory', 'group_vars', 'pis', 'plain.yml'), 'ntp: pool.ntp.org\n');
    const found = await vaultedFileVars(repo, join(dir, 'vault-pass'));
    expect([...found.names].sort()).toEqual(['nested', 'wifi_psk']);
    expect(found.values.sort()).toEqual(['another-secret-99', 'the-wifi-psk-1234']);
    expect(found.undecrypted).toBe(0);
    // A password script is not run for this: the file is counted as not decrypted.
    const script = join(dir, 'vault-pass.sh');
    writeFileSync(script, '#!/bin/sh\necho correct horse\n');
    chmodSync(script, 0o700);
    expect(await vaultedFileVars(repo, script)).toEqual({ names: new Set(), values: [], undecrypted: 1 });
  });
});
