/**
 * Reads an inventory of the playbook repo with `ansible-inventory --list` (the way Ansible
 * itself will read it: INI, YAML, folders, group_vars and host_vars) into groups and hosts.
 * Everything runs with the private Ansible directories of topology/ansible.ts (`ansibleEnv`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';
import { ansibleEnv } from '../topology/ansible.ts';

export interface InventoryGroup {
  hosts: string[];
  children: string[];
}

export interface Inventory {
  groups: Record<string, InventoryGroup>;
  /** Host → its variables as Ansible merges them (group_vars, host_vars), unmasked. */
  hostvars: Record<string, Record<string, unknown>>;
}

const MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * @example const inv = await readInventory({ cwd: clone, inventory: 'inventory/hosts.ini', timeoutMs: 60_000 });
 */
export async function readInventory(o: { cwd: string; inventory: string; vaultPasswordFile?: string | undefined; timeoutMs: number; signal?: AbortSignal | undefined; secretVars?: readonly string[] | undefined; command?: string }): Promise<Inventory> {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-inventory-'));
  try {
    const args = ['-i', o.inventory, '--list', ...(o.vaultPasswordFile ? ['--vault-password-file', o.vaultPasswordFile] : [])];
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(o.command ?? 'ansible-inventory', args, { cwd: o.cwd, env: ansibleEnv(dir, process.env, o.secretVars), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const out: Buffer[] = [];
      let n = 0;
      let err = '';
      let why: string | undefined;
      const kill = (reason: string) => {
        why ??= reason;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      };
      const timer = setTimeout(() => kill(`ansible-inventory took longer than ${Math.round(o.timeoutMs / 1000)} s`), o.timeoutMs);
      const onAbort = () => kill('cancelled');
      o.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (b: Buffer) => {
        n += b.length;
        if (n > MAX_OUTPUT) kill(`the inventory is larger than ${MAX_OUTPUT / 1024 / 1024} MiB as JSON`);
        else out.push(b);
      });
      child.stderr.on('data', (b: Buffer) => {
        if (err.length < 64 * 1024) err += b.toString('utf8');
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new HomelabError('ANSIBLE_FAILED', `ansible-inventory could not be started: ${e.message} (is ansible-core installed?)`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        if (why) return reject(new HomelabError(why === 'cancelled' ? 'CANCELLED' : 'ANSIBLE_FAILED', why));
        resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: err });
      });
    });
    const problem = stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^\[WARNING\]: (Unable to parse|\S+ did not meet|No inventory was parsed)|^ERROR!/.test(l))
      .map((l) => l.replace(/^\[WARNING\]: /, ''))
      .slice(0, 3)
      .join(' ')
      .slice(0, 500);
    if (code !== 0) throw new HomelabError('ANSIBLE_FAILED', `ansible-inventory -i ${o.inventory} failed: ${problem || stderr.trim().split('\n').pop()?.slice(0, 300) || `exit ${code}`}`);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(stdout) as Record<string, unknown>;
    } catch {
      throw new HomelabError('ANSIBLE_FAILED', `ansible-inventory -i ${o.inventory} printed something that is not JSON`);
    }
    const groups: Record<string, InventoryGroup> = {};
    for (const [name, g] of Object.entries(doc)) {
      if (name === '_meta' || !g || typeof g !== 'object') continue;
      const r = g as { hosts?: unknown; children?: unknown };
      groups[name] = { hosts: Array.isArray(r.hosts) ? r.hosts.map(String) : [], children: Array.isArray(r.children) ? r.children.map(String) : [] };
    }
    const meta = (doc._meta ?? {}) as { hostvars?: Record<string, Record<string, unknown>> };
    // A parse problem with exit 0 (an unparsable file is a warning to Ansible): say so rather than show an empty inventory.
    if (Object.values(groups).every((g) => g.hosts.length === 0) && problem) throw new HomelabError('ANSIBLE_FAILED', `ansible-inventory -i ${o.inventory}: ${problem}`);
    return { groups, hostvars: meta.hostvars ?? {} };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every vault ciphertext in inventory variables (`{ __ansible_vault: "$ANSIBLE_VAULT;..." }`). */
export function vaultBlobs(v: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 32 || out.length >= 500) return out;
  if (Array.isArray(v)) for (const x of v) vaultBlobs(x, out, depth + 1);
  else if (v && typeof v === 'object') {
    const r = v as Record<string, unknown>;
    if (typeof r.__ansible_vault === 'string') out.push(r.__ansible_vault);
    else for (const x of Object.values(r)) vaultBlobs(x, out, depth + 1);
  }
  return out;
}

// Decrypts with ansible-core's own VaultLib, in one process for all values.
const DECRYPT = `import sys, json
from ansible.parsing.vault import VaultLib, VaultSecret
pw = open(sys.argv[1], 'rb').read().strip()
lib = VaultLib([('default', VaultSecret(pw))])
out = []
for blob in json.load(sys.stdin):
    try:
        out.append(lib.decrypt(blob.encode()).decode('utf-8', 'replace'))
    except Exception:
        pass
print(json.dumps(out))
`;

/**
 * The plaintexts of vault values, so that a run's diffs and messages can have them cut out (a
 * template that renders a vaulted password into a file would show it in its diff). Only with a
 * plain vault password file (a script is not run for this); [] when anything fails.
 *
 * @example await vaultPlaintexts(vaultBlobs(inv.hostvars), '/etc/homelab/vault-pass')
 */
export async function vaultPlaintexts(blobs: string[], passwordFile: string | undefined, python = '/usr/bin/python3'): Promise<string[]> {
  if (!passwordFile || blobs.length === 0) return [];
  try {
    const { statSync } = await import('node:fs');
    if (statSync(passwordFile).mode & 0o111) return [];
  } catch {
    return [];
  }
  return new Promise((resolve) => {
    const child = spawn(python, ['-c', DECRYPT, passwordFile], { stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() } });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (b: Buffer) => {
      if (out.length < 4 * 1024 * 1024) out += b.toString('utf8');
    });
    child.on('error', () => resolve([]));
    child.on('close', () => {
      clearTimeout(timer);
      try {
        const list = JSON.parse(out) as unknown;
        resolve(Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : []);
      } catch {
        resolve([]);
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(blobs));
  });
}

/** Most files looked at, and largest read, when looking for vaulted variable files. */
const VAULT_SCAN = { files: 2000, entries: 50_000, bytes: 1024 * 1024 } as const;

/**
 * The variables of whole-file vaults: `group_vars/` and `host_vars/` files encrypted with
 * `ansible-vault encrypt`. ansible-inventory prints their variables decrypted, as plain
 * values with nothing to show they were vaulted, so their names are masked and their values
 * cut out by name here. Only with a plain vault password file (see {@link vaultPlaintexts});
 * `undecrypted` counts the vaulted files that could not be read.
 *
 * @example await vaultedFileVars(clone, '/etc/homelab/vault-pass') // { names: Set { 'wifi_psk' }, values: ['...'], undecrypted: 0 }
 */
export async function vaultedFileVars(repoDir: string, passwordFile: string | undefined): Promise<{ names: Set<string>; values: string[]; undecrypted: number }> {
  const { readdirSync, openSync, readSync, closeSync, readFileSync, lstatSync } = await import('node:fs');
  const blobs: string[] = [];
  let seen = 0;
  let visited = 0;
  const walk = (dir: string, inVarsDir: boolean, depth: number) => {
    if (depth > 12 || seen >= VAULT_SCAN.files) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (seen >= VAULT_SCAN.files || ++visited > VAULT_SCAN.entries) return;
      if (e.name === '.git') continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, inVarsDir || e.name === 'group_vars' || e.name === 'host_vars', depth + 1);
      else if (e.isFile() && inVarsDir) {
        seen++;
        try {
          if (lstatSync(p).size > VAULT_SCAN.bytes) continue;
          const fd = openSync(p, 'r');
          const head = Buffer.alloc(14);
          readSync(fd, head, 0, 14, 0);
          closeSync(fd);
          if (head.toString('utf8') === '$ANSIBLE_VAULT') blobs.push(readFileSync(p, 'utf8'));
        } catch {
          // unreadable: ansible-inventory says so itself
        }
      }
    }
  };
  walk(repoDir, false, 0);
  const names = new Set<string>();
  const values: string[] = [];
  if (!blobs.length) return { names, values, undecrypted: 0 };
  const plain = await vaultPlaintexts(blobs, passwordFile);
  const leaves = (v: unknown, depth: number) => {
    if (depth > 32 || values.length > 1000) return;
    if (typeof v === 'string' || typeof v === 'number') {
      if (String(v).length >= 4) values.push(String(v));
    } else if (Array.isArray(v)) for (const x of v) leaves(x, depth + 1);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) leaves(x, depth + 1);
  };
  const { parse } = await import('yaml');
  for (const text of plain) {
    let doc: unknown;
    try {
      doc = parse(text, { maxAliasCount: 100 });
    } catch {
      continue;
    }
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) for (const k of Object.keys(doc)) names.add(k);
    leaves(doc, 0);
  }
  return { names, values, undecrypted: blobs.length - plain.length };
}
