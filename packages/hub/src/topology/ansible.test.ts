import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ansibleEnv, runAnsibleSetup } from './ansible.ts';

const dir = mkdtempSync(join(tmpdir(), 'ansible-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A real ansible-core run against this host (connection local), and a host whose SSH port
// refuses on loopback, so both answers come from Ansible itself.
const inventory = join(dir, 'hosts.ini');
writeFileSync(inventory, 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\ndeadhost ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh\n');

describe('runAnsibleSetup (real ansible)', () => {
  it('reads facts per host from the tree, reports the unreachable one, and writes nothing to ~/.ansible', async () => {
    const home = join(dir, 'home');
    // Its temporary directory goes under a TMPDIR of this test's own (os.tmpdir() reads it per
    // call), so another test file running Ansible at the same time cannot change the count.
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    let run: Awaited<ReturnType<typeof runAnsibleSetup>>;
    try {
      run = await runAnsibleSetup({ inventory, pattern: 'all', timeoutMs: 120_000, env: { ...process.env, HOME: home } });
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(run.exitCode).toBe(4); // 4: a host was unreachable
    const local = run.hosts.localhost!;
    expect(local.ok).toBe(true);
    expect(local.facts?.os).toMatch(/^Debian \d+/);
    expect(local.facts?.cpuCount).toBeGreaterThan(0);
    expect(local.facts?.memoryBytes).toBeGreaterThan(64 * 1024 * 1024);
    expect(local.facts?.kernel).toBeTruthy();
    expect(run.hosts.deadhost).toMatchObject({ ok: false });
    expect(run.hosts.deadhost!.error).toMatch(/^unreachable: .*Connection refused/);
    // Its own directories were private and are gone.
    expect(existsSync(join(home, '.ansible'))).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  }, 120_000);

  it('limits the hosts with the pattern, and passes on why nothing matched', async () => {
    const run = await runAnsibleSetup({ inventory, pattern: 'localhost', timeoutMs: 120_000 });
    expect(Object.keys(run.hosts)).toEqual(['localhost']);
    expect(run.exitCode).toBe(0);
    const none = await runAnsibleSetup({ inventory, pattern: 'nosuchgroup', timeoutMs: 60_000 });
    expect(none.hosts).toEqual({});
    expect(none.warnings).toContain('Could not match supplied host pattern, ignoring: nosuchgroup');
  }, 120_000);

  it('fails with a clear message when ansible is missing, the inventory is bad, or the deadline passes', async () => {
    await expect(runAnsibleSetup({ inventory, pattern: 'all', timeoutMs: 10_000, command: join(dir, 'no-such-ansible') })).rejects.toThrow(/is not installed \(install ansible-core\)/);
    const slow = join(dir, 'slow-ansible');
    writeFileSync(slow, '#!/bin/sh\nsleep 30 &\nsleep 30\n');
    chmodSync(slow, 0o755);
    // The fake ansible sleeps 30 s: the message says the deadline ended it.
    await expect(runAnsibleSetup({ inventory, pattern: 'all', timeoutMs: 500, command: slow })).rejects.toThrow('ansible -m setup timed out after 1 s');
    const broken = join(dir, 'broken-ansible');
    writeFileSync(broken, '#!/bin/sh\necho "ERROR! the inventory is not readable" >&2\nexit 1\n');
    chmodSync(broken, 0o755);
    await expect(runAnsibleSetup({ inventory, pattern: 'all', timeoutMs: 10_000, command: broken })).rejects.toThrow('ansible -m setup exited with 1: ERROR! the inventory is not readable');
  }, 60_000);
});

describe('the environment Ansible gets (red team round 3: the hub\'s secrets)', () => {
  const hubEnv = { PATH: '/usr/bin:/bin', HOME: '/home/hub', LANG: 'C.UTF-8', SSH_AUTH_SOCK: '/run/agent.sock', ANSIBLE_CONFIG: '/etc/ansible/mine.cfg', HA_TOKEN: 'ha-secret-0f3c', HOMELAB_HUB_TOKEN: 'hub-secret-77a1', ANSIBLE_VAULT_PASS: 'vault-secret-9d2e' };

  it('holds the harmless variables, the SSH agent and the user\'s ANSIBLE_* settings, never a secret or a ${VAR} of hub.yaml', () => {
    const env = ansibleEnv('/tmp/x', hubEnv, ['ANSIBLE_VAULT_PASS']);
    expect(env).toMatchObject({ PATH: '/usr/bin:/bin', HOME: '/home/hub', LANG: 'C.UTF-8', SSH_AUTH_SOCK: '/run/agent.sock', ANSIBLE_CONFIG: '/etc/ansible/mine.cfg', ANSIBLE_HOME: '/tmp/x/home' });
    expect(JSON.stringify(env)).not.toMatch(/secret/);
  });

  it('is what the real ansible process runs with', async () => {
    // A stand-in `ansible` that writes down its environment, run as the hub runs Ansible.
    const seen = join(dir, 'seen-env');
    const fake = join(dir, 'env-ansible');
    writeFileSync(fake, `#!/bin/sh\nenv > '${seen}'\n`);
    chmodSync(fake, 0o755);
    await runAnsibleSetup({ inventory, pattern: 'all', timeoutMs: 60_000, command: fake, env: hubEnv, secretVars: ['ANSIBLE_VAULT_PASS'] }).catch(() => undefined);
    const text = readFileSync(seen, 'utf8');
    expect(text).toContain('SSH_AUTH_SOCK=/run/agent.sock');
    expect(text).not.toMatch(/secret/);
  });
});
