/**
 * The Ansible review queue end to end, with real processes: the bundled hub, git with a bare
 * repository on disk as the remote, ansible-core running real playbooks over SSH against a
 * throwaway sshd on 127.0.0.1 (a generated key), and the testkit's fake GitHub and Gitea whose
 * merge really merges the branch into the bare repo's main.
 *
 * draft → listed as pending → run refused as not on main (also after approve_writes) → promote
 * → run refused without a dry run → dry run (nothing changes) → run with other extra_vars
 * refused → run → the file appears on the managed host, recap changed=1; secrets never in
 * answers, the hub's log or the journal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startFakeGitea, startFakeGitHub, startHubProcess, startSshd, type SshdProcess } from '@homelab-mcp/testkit';

const TOKEN = 'ansible-hub-admin-token-0123456789';
const VIEWER = 'ansible-hub-viewer-token-0123456789';
const GIT_TOKEN = 'forge-api-token-0123456789abcdef';
const DB_PASSWORD = 'hunter2-db-password-9f8e';
const EXTRA_PASSWORD = 'extra-var-password-7a6b';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();

let root: string;
let sshd: SshdProcess;
/** A second host whose key nobody pinned. */
let stranger: SshdProcess;
let bare: string;
let target: string;

/** A bare repo whose main holds an inventory (the sshd as pi1, a secret var) and two playbooks. */
function seedRepo(): void {
  bare = join(root, 'playbooks.git');
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  const work = join(root, 'seed');
  git(root, 'clone', '--quiet', bare, work);
  mkdirSync(join(work, 'inventory'));
  writeFileSync(
    join(work, 'inventory', 'hosts.ini'),
    `[pis]\npi1 ansible_host=127.0.0.1 ansible_port=${sshd.port} ansible_user=root ansible_python_interpreter=/usr/bin/python3 db_password=${DB_PASSWORD}\n`,
  );
  writeFileSync(join(work, 'inventory', 'stranger.ini'), `[pis]\nnewpi ansible_host=127.0.0.1 ansible_port=${stranger.port} ansible_user=root ansible_python_interpreter=/usr/bin/python3\n`);
  writeFileSync(join(work, 'ping.yml'), '- name: Check the pis answer\n  hosts: pis\n  gather_facts: false\n  tasks:\n    - name: ping\n      ansible.builtin.ping:\n');
  writeFileSync(
    join(work, 'risky.yml'),
    `- name: Something with a real effect\n  hosts: pis\n  gather_facts: false\n  tasks:\n    - name: Touch even in check mode\n      ansible.builtin.command: touch ${join(target, 'risky-ran')}\n      check_mode: false\n`,
  );
  git(work, 'add', '.');
  git(work, 'commit', '--quiet', '-m', 'seed');
  git(work, 'push', '--quiet', 'origin', 'main');
}

const makeFile = (name: string) => `- name: Put a marker on the pis
  hosts: pis
  gather_facts: false
  tasks:
    - name: Write the marker
      ansible.builtin.copy:
        dest: ${join(target, name)}
        content: "made by the review queue {{ flavour | default('plain') }} {{ marker_password | default('none') }}\\n"
        mode: "0644"
`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'homelab-ansible-e2e-'));
  target = join(root, 'managed');
  mkdirSync(target);
  sshd = await startSshd();
  stranger = await startSshd();
  seedRepo();
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  await stranger?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const forges = [
  { type: 'github' as const, start: (token: string) => startFakeGitHub({ bareRepo: bare, owner: 'me', repo: 'playbooks', token }) },
  { type: 'gitea' as const, start: (token: string) => startFakeGitea({ bareRepo: bare, owner: 'me', repo: 'playbooks', token }) },
];

describe.each(forges)('the Ansible review queue with a fake $type', ({ type, start }) => {
  it('draft → pending → refused until on main → promote → dry run → run changes the host; secrets never leave', { timeout: 240_000 }, async () => {
    await using forge = await start(GIT_TOKEN);
    const name = `marker-${type}`;
    await using hub = await startHubProcess({
      config: {
        auth: {
          tokens: [
            { user: 'ann', role: 'admin', token: TOKEN },
            { user: 'vic', role: 'viewer', token: VIEWER },
          ],
        },
        local: { enabled: false },
        approval: { mode: 'session' },
        ansible: {
          repo: bare,
          inventory: 'inventory/hosts.ini',
          sshKey: sshd.clientKey,
          knownHosts: [sshd.hostKeyLine],
          forge: { type, url: forge.url, repo: 'me/playbooks', token: '${GIT_TOKEN}' },
        },
      },
      env: { GIT_TOKEN },
      timeoutMs: 60_000,
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const call = async (tool: string, args: Record<string, unknown> = {}) => (await client.callTool({ name: tool, arguments: args })) as Result;
    const answers: string[] = [];
    const keep = (r: Result) => (answers.push(JSON.stringify(r)), r);

    const listed = keep(await call('list_playbooks'));
    expect(listed.isError).toBeFalsy();
    expect(listed.structuredContent!.playbooks.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['ping', 'risky']));
    expect(listed.structuredContent!.playbooks.map((p: { name: string }) => p.name)).not.toContain(name);
    expect(resultText(listed)).toContain('- ping (ping.yml): hosts pis; Check the pis answer; last commit');

    const inv = keep(await call('list_inventory'));
    expect(resultText(inv)).toContain('pis: hosts pi1');
    expect(inv.structuredContent!.hostvars.pi1.db_password).toBe('[REDACTED]');

    // A draft is a write: held, then pushed with a PR after approval.
    const held = keep(await call('draft_playbook', { name, content: makeFile(name), description: 'Marks the pis.' }));
    expect(held.structuredContent).toMatchObject({ status: 'approval_required' });
    keep(await call('approve_writes'));
    const drafted = keep(await call('draft_playbook', { name, content: makeFile(name), description: 'Marks the pis.' }));
    expect(drafted.isError, resultText(drafted)).toBeFalsy();
    expect(resultText(drafted)).toMatch(/^Opened pull request #\d+: http/);
    expect(git(root, '--git-dir', bare, 'rev-parse', '--verify', `refs/heads/mcp-draft/${name}`)).toMatch(/^[0-9a-f]{40}$/);

    const pending = keep(await call('list_pending_playbooks'));
    expect(pending.structuredContent!.pending).toEqual([expect.objectContaining({ name, branch: `mcp-draft/${name}`, author: expect.any(String), diffStat: expect.stringMatching(/1 file changed/) })]);

    // Not on main: refused by the hard limit, whatever the session approved.
    const notMain = keep(await call('run_playbook', { name }));
    expect(notMain.structuredContent).toMatchObject({ status: 'denied' });
    expect(resultText(notMain)).toMatch(/exists only as a draft .* not on main/);
    const dryDraft = keep(await call('dry_run_playbook', { name }));
    expect(dryDraft.isError).toBe(true);

    const promoted = keep(await call('promote_playbook', { name }));
    expect(promoted.isError, resultText(promoted)).toBeFalsy();
    expect(git(root, '--git-dir', bare, 'log', '--format=%s', 'main')).toContain('playbook');
    expect(git(root, '--git-dir', bare, 'ls-tree', '--name-only', 'main')).toContain(`${name}.yml`);

    // On main now, but no dry run yet.
    const noDry = keep(await call('run_playbook', { name, extra_vars: { flavour: 'x' } }));
    expect(resultText(noDry)).toMatch(/run dry_run_playbook first/);

    const progress: string[] = [];
    const dry = (await client.callTool({ name: 'dry_run_playbook', arguments: { name, extra_vars: { flavour: 'x', marker_password: EXTRA_PASSWORD } } }, { onprogress: (p) => progress.push(p.message ?? '') })) as Result;
    keep(dry);
    expect(dry.isError, resultText(dry)).toBeFalsy();
    expect(dry.structuredContent!.recap.pi1).toMatchObject({ changed: 1, failed: 0, unreachable: 0 });
    expect(resultText(dry)).toContain('Would change:');
    expect(progress.some((m) => m.includes('Write the marker'))).toBe(true);
    expect(existsSync(join(target, name))).toBe(false);

    // Other extra_vars than the dry run's: refused.
    const other = keep(await call('run_playbook', { name, extra_vars: { flavour: 'y', marker_password: EXTRA_PASSWORD } }));
    expect(resultText(other)).toMatch(/run dry_run_playbook first/);
    expect(existsSync(join(target, name))).toBe(false);

    const ran = keep(await call('run_playbook', { name, extra_vars: { flavour: 'x', marker_password: EXTRA_PASSWORD } }));
    expect(ran.isError, resultText(ran)).toBeFalsy();
    expect(ran.structuredContent!.recap.pi1).toMatchObject({ changed: 1, failed: 0 });
    expect(readFileSync(join(target, name), 'utf8')).toBe(`made by the review queue x ${EXTRA_PASSWORD}\n`);
    expect(existsSync(ran.structuredContent!.logFile)).toBe(true);

    // A viewer reads, but cannot run or draft (it does not even see those tools).
    await using viewer = await connectClient(hub.url, VIEWER, 'legacy');
    const vtools = (await viewer.listTools()).tools.map((t) => t.name);
    expect(vtools).toEqual(expect.arrayContaining(['list_playbooks', 'dry_run_playbook', 'list_pending_playbooks']));
    expect(vtools).not.toContain('run_playbook');
    expect(vtools).not.toContain('draft_playbook');

    const events = readJournal(join(hub.dir, 'data'));
    const run = events.find((e) => e.kind === 'tool_call' && e.tool === 'run_playbook' && e.outcome === 'succeeded')!;
    expect(run.detail).toMatchObject({ commit: expect.stringMatching(/^[0-9a-f]{40}$/), playbook: `${name}.yml`, playbookSha256: expect.stringMatching(/^[0-9a-f]{64}$/), inventory: 'inventory/hosts.ini', check: false, recap: { pi1: expect.objectContaining({ changed: 1 }) } });
    const all = [JSON.stringify(events), answers.join('\n'), hub.output(), readFileSync(ran.structuredContent!.logFile, 'utf8')].join('\n');
    for (const secret of [DB_PASSWORD, EXTRA_PASSWORD, GIT_TOKEN]) expect(all).not.toContain(secret);
    expect(forge.unknown()).toEqual([]);
  });
});

describe('the Ansible review queue refuses', () => {
  it('a broken or path-named draft, a check_mode: false playbook as a read, an unknown host key, a forge that rejects the token', { timeout: 180_000 }, async () => {
    await using forge = await startFakeGitHub({ bareRepo: bare, owner: 'me', repo: 'playbooks', token: 'the-token-the-forge-expects-0123' });
    await using hub = await startHubProcess({
      config: {
        auth: {
          tokens: [
            { user: 'ann', role: 'admin', token: TOKEN },
            { user: 'vic', role: 'viewer', token: VIEWER },
          ],
        },
        local: { enabled: false },
        approval: { mode: 'session' },
        ansible: { repo: bare, inventory: 'inventory/hosts.ini', sshKey: sshd.clientKey, knownHosts: [sshd.hostKeyLine], forge: { type: 'github', url: forge.url, repo: 'me/playbooks', token: '${GIT_TOKEN}' } },
      },
      env: { GIT_TOKEN },
      timeoutMs: 60_000,
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const call = async (tool: string, args: Record<string, unknown> = {}) => (await client.callTool({ name: tool, arguments: args })) as Result;
    await call('approve_writes');

    const broken = await call('draft_playbook', { name: 'broken', content: '- hosts: all\n  tasks:\n    - name: "unclosed\n      debug: msg=x\n' });
    expect(broken.isError).toBe(true);
    expect(resultText(broken)).toMatch(/not valid YAML: line \d+, column \d+: Missing closing "quote$/);
    const bogusModule = await call('draft_playbook', { name: 'bogus', content: '- hosts: all\n  tasks:\n    - name: x\n      no_such_module_here: {}\n' });
    expect(bogusModule.isError).toBe(true);
    expect(resultText(bogusModule)).toMatch(/syntax-check refused the draft.*no_such_module_here/s);
    for (const name of ['../x', '/etc/x', 'a/b']) {
      const r = await call('draft_playbook', { name, content: '- hosts: all\n' });
      expect(r.isError).toBe(true);
      expect(resultText(r)).toMatch(/argument "name": .* is a path/);
      const d = await call('dry_run_playbook', { name });
      expect(resultText(d)).toMatch(/is a path/);
    }
    // Unreviewed content is never evaluated on the hub: a lookup in a templated keyword stays
    // inert in the syntax check, and a file outside the repo is not loaded (its content would
    // be quoted back in Ansible's error).
    const pwned = join(root, 'pwned-by-a-draft');
    const sneaky = await call('draft_playbook', { name: 'sneaky', content: `- hosts: "{{ lookup('pipe', 'touch ${pwned}') }}all"\n  gather_facts: false\n  tasks: []\n` });
    expect(existsSync(pwned)).toBe(false);
    expect(resultText(sneaky)).not.toMatch(/internal error/);
    const leak = await call('draft_playbook', { name: 'leak', content: `- hosts: all\n  vars_files: [${join(hub.dir, 'hub.yaml')}]\n  tasks: []\n` });
    expect(leak.isError).toBe(true);
    expect(resultText(leak)).toMatch(/vars_files ".*hub\.yaml": is absolute/);
    expect(resultText(leak)).not.toContain(TOKEN);
    expect(git(root, '--git-dir', bare, 'for-each-ref', '--format=%(refname)', 'refs/heads/mcp-draft/')).not.toMatch(/broken|bogus|leak/);

    // The forge rejects the hub's token: said with the key, never the token.
    const rejected = await call('draft_playbook', { name: 'fine', content: '- hosts: all\n  gather_facts: false\n  tasks: []\n' });
    expect(rejected.isError).toBe(true);
    expect(resultText(rejected)).toMatch(/rejected the token \(ansible\.forge\.token\)/);
    expect(JSON.stringify(rejected)).not.toContain(GIT_TOKEN);
    const pending = await call('list_pending_playbooks');
    expect(resultText(pending)).toMatch(/rejected the token \(ansible\.forge\.token\)/);

    // check_mode: false makes a dry run a write: a viewer is refused, a writer gets a preview naming the task.
    await using viewer = await connectClient(hub.url, VIEWER, 'legacy');
    const vr = (await viewer.callTool({ name: 'dry_run_playbook', arguments: { name: 'risky' } })) as Result;
    expect(vr.structuredContent).toMatchObject({ status: 'denied' });
    const vping = (await viewer.callTool({ name: 'dry_run_playbook', arguments: { name: 'ping' } })) as Result;
    expect(vping.isError, resultText(vping)).toBeFalsy();
    // extra_vars cannot pick the connection, SSH arguments or interpreter, nor carry Jinja: both
    // would run commands on the hub, from a dry run a viewer may call.
    const viaSsh = join(root, 'pwned-by-extra-vars');
    for (const extra_vars of [
      { ansible_ssh_common_args: `-o ProxyCommand="touch ${viaSsh}"` },
      { ansible_connection: 'local' },
      { flavour: `{{ lookup('pipe', 'touch ${viaSsh}') }}` },
      { nested: { deep: [`{% set x = lookup('pipe', 'touch ${viaSsh}') %}`] } },
    ]) {
      const r = (await viewer.callTool({ name: 'dry_run_playbook', arguments: { name: 'ping', extra_vars } })) as Result;
      expect(r.isError, JSON.stringify(extra_vars)).toBe(true);
      expect(resultText(r)).toMatch(/argument "extra_vars": /);
    }
    expect(existsSync(viaSsh)).toBe(false);
    await call('revoke_writes');
    const held = await call('dry_run_playbook', { name: 'risky' });
    expect(held.structuredContent).toMatchObject({ status: 'approval_required' });
    expect(held.structuredContent!.preview.action).toMatch(/RUN FOR REAL even in a dry run: "Touch even in check mode" \(risky\.yml:\d+\)/);
    expect(existsSync(join(target, 'risky-ran'))).toBe(false);
    await call('approve_writes');
    const risky = await call('dry_run_playbook', { name: 'risky' });
    expect(risky.isError, resultText(risky)).toBeFalsy();
    expect(existsSync(join(target, 'risky-ran'))).toBe(true);

    // A host whose key is not pinned: refused, with the key's fingerprint and the line to pin.
    const unknownKey = await call('dry_run_playbook', { name: 'ping', inventory: 'inventory/stranger.ini' });
    expect(unknownKey.isError).toBe(true);
    expect(resultText(unknownKey)).toContain(stranger.hostFingerprint);
    expect(resultText(unknownKey)).toContain(stranger.hostKeyLine);
    const events = readJournal(join(hub.dir, 'data'));
    const everything = [JSON.stringify(events), hub.output()].join('\n');
    expect(everything).not.toContain(GIT_TOKEN);
    expect(everything).not.toContain(DB_PASSWORD);
    expect(forge.unknown()).toEqual([]);
  });
});
