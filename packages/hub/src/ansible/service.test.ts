import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient } from '@homelab-mcp/core/http';
import { AnsibleConfigSchema } from '../config/schema.ts';
import type { CallContext } from '../catalog/types.ts';
import { createAnsibleService } from './service.ts';

const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

let root: string;
let work: string;
let bare: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'homelab-ansible-service-test-'));
  bare = join(root, 'remote.git');
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  work = join(root, 'work');
  git(root, 'clone', '--quiet', bare, work);
  git(work, 'checkout', '--quiet', '-b', 'main');
  writeFileSync(join(work, 'hosts.ini'), '[pis]\npi1 ansible_host=127.0.0.1 ansible_port=1\n');
  writeFileSync(join(work, 'site.yml'), '- hosts: pis\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n');
  git(work, 'add', '.');
  git(work, 'commit', '--quiet', '-m', 'seed');
  git(work, 'push', '--quiet', 'origin', 'main');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));



describe('dry_run_playbook between the gate and the call', () => {
  it('does not run as a read a playbook that gained check_mode: false tasks after the gate scanned it', async () => {
    const service = createAnsibleService({ config: AnsibleConfigSchema.parse({ repo: bare, inventory: 'hosts.ini' }), dataDir: join(root, 'data'), http: createHttpClient(), log: { info: () => undefined, warn: () => undefined } });
    const tool = (name: string) => service.tools.find((t) => t.def.name === name)!;
    const signal = new AbortController().signal;
    const c: CallContext = { caller: { user: 'vic', role: 'viewer' } as CallContext['caller'], session: 's', signal };
    const args = { name: 'site' };
    // The gate asks the class: a read at this commit.
    expect(await tool('dry_run_playbook').classFor!(args)).toBe('read');
    // Then, before the call runs, main gains a task that runs for real in a dry run, and the clone follows.
    writeFileSync(join(work, 'site.yml'), `- hosts: pis\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: touch ${join(root, 'ran')}\n      check_mode: false\n`);
    git(work, 'commit', '--quiet', '-am', 'risky');
    git(work, 'push', '--quiet', 'origin', 'main');
    expect((await tool('refresh_inventory').call({}, c)).isError).toBeFalsy();
    const r = await tool('dry_run_playbook').call(args, c);
    expect(r.isError).toBe(true);
    expect((r.content[0] as { text: string }).text).toMatch(/^dry_run_playbook: main moved to [0-9a-f]{12} while this was asked, and site there has check_mode: false tasks .*call it again/);
    // Asked again, the gate now holds it as a write.
    expect(await tool('dry_run_playbook').classFor!({ name: 'site' })).toBe('write');
  });
});
