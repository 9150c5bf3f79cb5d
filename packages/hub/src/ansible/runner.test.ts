import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { descendantPids, freePort, isAlive, startSshd, type SshdProcess } from '@homelab-mcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlaybookRunOptions } from './contract.ts';
import { checkModeFalseTasks, createScrubber, hostKeyMessage, listHosts, runPlaybook, syntaxCheck } from './runner.ts';

const root = mkdtempSync(join(tmpdir(), 'ansible-runner-test-'));
let sshd: SshdProcess;
let knownHosts: string;
let n = 0;

beforeAll(async () => {
  sshd = await startSshd();
  knownHosts = join(root, 'known_hosts');
  writeFileSync(knownHosts, `${sshd.hostKeyLine}\n`);
});
afterAll(async () => {
  await sshd?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A fresh repo dir with these files (an INI inventory `hosts.ini` pointing at the test sshd unless given). */
function repo(files: Record<string, string>, hostVars = ''): string {
  const dir = join(root, `repo-${++n}`);
  mkdirSync(dir);
  const all = { 'hosts.ini': `[pis]\npi1 ansible_host=127.0.0.1 ansible_port=${sshd.port} ansible_user=root ansible_connection=ssh ansible_python_interpreter=/usr/bin/python3 ${hostVars}\n`, ...files };
  for (const [name, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function opts(cwd: string, over: Partial<PlaybookRunOptions> = {}): PlaybookRunOptions {
  return { cwd, playbook: 'site.yml', inventory: 'hosts.ini', privateKey: sshd.clientKey, knownHostsFile: knownHosts, timeoutMs: 120_000, check: true, logFile: join(cwd, 'run.log'), ...over };
}

const play = (tasks: string) => `- name: Test play\n  hosts: all\n  gather_facts: false\n  tasks:\n${tasks}`;

/** PIDs of the process group `pgid`, from /proc. */
function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid && isAlive(Number(name))) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A `command` that records its PID, then becomes ansible-playbook (exec keeps the PID). */
function pidRecorder(dir: string): { command: string; pidFile: string } {
  const pidFile = join(dir, 'ansible.pid');
  const command = join(dir, 'ansible-playbook-wrapper');
  writeFileSync(command, `#!/bin/sh\necho $$ > '${pidFile}'\nexec ansible-playbook "$@"\n`, { mode: 0o755 });
  return { command, pidFile };
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('runPlaybook against a real sshd', () => {
  it('check mode reports the change with its diff and changes nothing; the live run changes the file', async () => {
    const target = join(root, `managed-${++n}.txt`);
    const dir = repo({ 'site.yml': play(`    - name: Write the file\n      ansible.builtin.copy:\n        dest: ${target}\n        content: "hello from ansible\\n"\n`) });
    const tasks: unknown[] = [];
    const dry = await runPlaybook(opts(dir, { onTask: (t) => tasks.push(t) }));
    expect(dry.error).toBeUndefined();
    expect(dry.exitCode).toBe(0);
    expect(dry.recap).toEqual({ pi1: { ok: 1, changed: 1, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 } });
    expect(dry.changes).toHaveLength(1);
    expect(dry.changes[0]).toMatchObject({ host: 'pi1', task: 'Write the file' });
    expect(dry.changes[0]!.diff).toContain('+hello from ansible');
    expect(dry.taskCount).toBe(1);
    expect(tasks).toEqual([{ index: 1, play: 'Test play', task: 'Write the file' }]);
    expect(existsSync(target)).toBe(false);
    expect(statSync(dry.logFile).mode & 0o777).toBe(0o600);
    const log = readFileSync(dry.logFile, 'utf8');
    expect(log).toContain('TASK [Write the file]');
    expect(log).toContain('pi1 : ok=1 changed=1');

    const live = await runPlaybook(opts(dir, { check: false }));
    expect(live.exitCode).toBe(0);
    expect(live.recap.pi1).toMatchObject({ changed: 1, failed: 0 });
    expect(readFileSync(target, 'utf8')).toBe('hello from ansible\n');
  });

  it('reports a failed task (exit 2) without the module arguments, and an unreachable host (exit 4)', async () => {
    const dir = repo({ 'site.yml': play('    - name: Fail on purpose\n      ansible.builtin.command: /bin/sh -c "echo to-stderr >&2; exit 3" arg-marker-QQQ\n') });
    const failed = await runPlaybook(opts(dir, { check: false }));
    expect(failed.exitCode).toBe(2);
    expect(failed.recap.pi1).toMatchObject({ failed: 1 });
    expect(failed.failures).toHaveLength(1);
    expect(failed.failures[0]).toMatchObject({ host: 'pi1', task: 'Fail on purpose', unreachable: false });
    expect(failed.failures[0]!.message).toMatch(/rc=3.*to-stderr/s);
    expect(JSON.stringify(failed)).not.toContain('arg-marker-QQQ');
    expect(readFileSync(failed.logFile, 'utf8')).not.toContain('arg-marker-QQQ');

    const closed = await freePort();
    const dead = repo({ 'site.yml': play('    - name: Ping\n      ansible.builtin.ping:\n'), 'hosts.ini': `dead ansible_host=127.0.0.1 ansible_port=${closed} ansible_user=root ansible_connection=ssh\n` });
    const unreachable = await runPlaybook(opts(dead));
    expect(unreachable.exitCode).toBe(4);
    expect(unreachable.recap.dead).toMatchObject({ unreachable: 1 });
    expect(unreachable.failures[0]).toMatchObject({ host: 'dead', task: 'Ping', unreachable: true });
    expect(unreachable.failures[0]!.message).toContain('Connection refused');
    expect(unreachable.hostKeyProblems).toEqual([]);
  });

  it('refuses an unknown host key, even when the inventory turns checking off, and says which key to pin', async () => {
    const empty = join(root, `known_hosts-${++n}`);
    writeFileSync(empty, '');
    const target = join(root, `never-${n}.txt`);
    const dir = repo(
      { 'site.yml': play(`    - name: Write\n      ansible.builtin.copy: { dest: ${target}, content: x }\n`) },
      `ansible_host_key_checking=false ansible_ssh_common_args='-o StrictHostKeyChecking=no' ansible_ssh_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'`,
    );
    const r = await runPlaybook(opts(dir, { knownHostsFile: empty, check: false }));
    expect(r.exitCode).toBe(4);
    expect(existsSync(target)).toBe(false);
    expect(r.hostKeyProblems).toEqual([{ host: 'pi1', address: `127.0.0.1:${sshd.port}`, kind: 'unknown', fingerprint: `ssh-ed25519 ${sshd.hostFingerprint}`, knownHostsLine: sshd.hostKeyLine }]);
    expect(hostKeyMessage(r.hostKeyProblems)).toBe(
      `pi1 (127.0.0.1:${sshd.port}) offered an unknown host key ssh-ed25519 ${sshd.hostFingerprint}; if that is its key, pin it in hub.yaml under ansible.knownHosts: "${sshd.hostKeyLine}"`,
    );
  });

  it('refuses a host whose key changed, naming the key it offers now', async () => {
    const other = join(root, `other-key-${++n}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const pinned = join(root, `known_hosts-${n}`);
    writeFileSync(pinned, `[127.0.0.1]:${sshd.port} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const dir = repo({ 'site.yml': play('    - name: Ping\n      ansible.builtin.ping:\n') });
    const r = await runPlaybook(opts(dir, { knownHostsFile: pinned }));
    expect(r.exitCode).toBe(4);
    expect(r.hostKeyProblems).toEqual([{ host: 'pi1', address: `127.0.0.1:${sshd.port}`, kind: 'changed', fingerprint: `ssh-ed25519 ${sshd.hostFingerprint}`, knownHostsLine: sshd.hostKeyLine }]);
    expect(hostKeyMessage(r.hostKeyProblems)).toContain(`offered the host key ssh-ed25519 ${sshd.hostFingerprint}, which differs from the one pinned for it`);
  });

  it('on abort kills the whole process group; extra vars never reach the command line', async () => {
    const dir = repo({ 'site.yml': play('    - name: Before\n      ansible.builtin.ping:\n    - name: Sleep\n      ansible.builtin.command: sleep 300\n') });
    const { command, pidFile } = pidRecorder(dir);
    const ac = new AbortController();
    let sleeping = false;
    const running = runPlaybook(opts(dir, { command, check: false, signal: ac.signal, extraVars: { api_password: 'xv-Secret-9f8e7d', greeting: 'plain-xv-value' }, onTask: (t) => (sleeping ||= t.task === 'Sleep') }));
    await until('the Sleep task', () => sleeping);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const remoteSleep = () =>
      descendantPids(sshd.pid).some((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\x00300\x00';
        } catch {
          return false;
        }
      });
    await until('the remote sleep', remoteSleep);
    // Its workers and ssh client are in its group while the task runs.
    await until('a worker in the group', () => groupPids(pid).length > 1);
    const members = groupPids(pid);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv.join(' ')).not.toContain('xv-Secret-9f8e7d');
    expect(argv.join(' ')).not.toContain('plain-xv-value');
    const varsFile = argv[argv.indexOf('-e') + 1]!.slice(1);
    expect(statSync(varsFile).mode & 0o777).toBe(0o600);
    ac.abort();
    const r = await running;
    expect(r.cancelled).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(r.error).toMatch(/cancelled/);
    expect(members.filter(isAlive)).toEqual([]);
    expect(groupPids(pid)).toEqual([]);
    expect(existsSync(varsFile)).toBe(false);
    // The remote side ends too: ssh's pty hangs up the command when the client is gone.
    await until('the remote sleep to end', () => !remoteSleep());
  }, 120_000);

  it('stops the run at the deadline', async () => {
    const dir = repo({ 'site.yml': play('    - name: Sleep\n      ansible.builtin.command: sleep 300\n') });
    const { command, pidFile } = pidRecorder(dir);
    const r = await runPlaybook(opts(dir, { command, check: false, timeoutMs: 5000 }));
    expect(r.timedOut).toBe(true);
    expect(r.error).toMatch(/timed out after 5 s/);
    expect(groupPids(Number(readFileSync(pidFile, 'utf8')))).toEqual([]);
  }, 120_000);

  it('keeps secret values, secret-named extra vars and no_log output out of the result and the log', async () => {
    const target = join(root, `secret-${++n}.txt`);
    const dir = repo({
      'site.yml': play(
        [
          '    - name: Show',
          '      ansible.builtin.debug:',
          '        msg: "pw={{ db_password }} tok=tok-ABCDEF123456 plain={{ colour }}"',
          '    - name: Config',
          '      ansible.builtin.copy:',
          `        dest: ${target}`,
          '        content: "password {{ db_password }}\\nsetting tok-ABCDEF123456\\n"',
          '    - name: Hidden',
          '      ansible.builtin.shell: echo nolog-output-XYZ; exit 1',
          '      no_log: true',
          '',
        ].join('\n'),
      ),
    });
    // Live: check mode skips shell tasks, and the Hidden one must really run and fail.
    const r = await runPlaybook(opts(dir, { check: false, extraVars: { db_password: 'Sup3r-Secret-Pw', colour: 'blue' }, secretValues: ['tok-ABCDEF123456'] }));
    expect(r.exitCode).toBe(2);
    const text = JSON.stringify(r);
    const log = readFileSync(r.logFile, 'utf8');
    for (const s of ['Sup3r-Secret-Pw', 'tok-ABCDEF123456', 'nolog-output-XYZ']) {
      expect(text).not.toContain(s);
      expect(log).not.toContain(s);
    }
    expect(log).toContain('pw=[REDACTED] tok=[REDACTED] plain=blue');
    expect(r.changes[0]!.diff).toContain('+password [REDACTED]');
    expect(r.failures[0]).toMatchObject({ task: 'Hidden' });
    expect(r.failures[0]!.message).toContain("'no_log: true'");
  });

  it('bounds the diffs it returns, saying how many it left out', async () => {
    const out = join(root, `bounded-${++n}`);
    const line = 'x'.repeat(99);
    // ansible_connection=local: the bounds are ours, not SSH's, and 22 items stay quick.
    const dir = repo({
      'site.yml': play(`    - name: Many\n      ansible.builtin.copy:\n        dest: "${out}-{{ item }}"\n        content: "{{ '${line}\\n' * 50 }}"\n      loop: "{{ range(22) | list }}"\n`),
      'hosts.ini': 'here ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n',
    });
    const r = await runPlaybook(opts(dir));
    expect(r.recap.here).toMatchObject({ changed: 1 });
    // Each diff is 5,000+ characters, cut to 4,096 with a marker; 40 KiB in all fits 9 of them.
    expect(r.changes).toHaveLength(9);
    expect(r.changesOmitted).toBe(13);
    for (const c of r.changes) expect(c.diff).toMatch(/^--- before\n[\s\S]{4000,4096}\n… \d+ more characters$/);
  }, 120_000);

  it('calls onTask for each task in order, handlers included', async () => {
    const dir = repo({
      'site.yml': `${play('    - name: one\n      ansible.builtin.ping:\n    - name: two\n      ansible.builtin.command: "true"\n      notify: three\n')}  handlers:\n    - name: three\n      ansible.builtin.ping:\n- name: Second play\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: four\n      ansible.builtin.ping:\n`,
    });
    const seen: unknown[] = [];
    const r = await runPlaybook(opts(dir, { check: false, onTask: (t) => seen.push(t) }));
    expect(r.exitCode).toBe(0);
    expect(seen).toEqual([
      { index: 1, play: 'Test play', task: 'one' },
      { index: 2, play: 'Test play', task: 'two' },
      { index: 3, play: 'Test play', task: 'three' },
      { index: 4, play: 'Second play', task: 'four' },
    ]);
    expect(r.taskCount).toBe(4);
  });

  it('reports ansible-playbook\'s own error when there is no recap', async () => {
    const dir = repo({ 'site.yml': '- hosts: all\n  tasks:\n    - name: broken\n      ansible.builtin.ping:\n     bad: indent\n' });
    const r = await runPlaybook(opts(dir));
    expect(r.exitCode).not.toBe(0);
    expect(r.recap).toEqual({});
    expect(r.error).toMatch(/^ERROR! .*'site\.yml': line 5/s);
    expect(r.error).not.toContain(dir);
  });
});

describe('syntaxCheck and listHosts', () => {
  it('says ok, or the error with its line', async () => {
    const good = repo({ 'site.yml': play('    - name: Ping\n      ansible.builtin.ping:\n') });
    expect(await syntaxCheck(opts(good))).toEqual({ ok: true });
    const bad = repo({ 'site.yml': play('    - name: Ping\n      ansible.builtin.ping:\n     bad: indent\n') });
    const r = await syntaxCheck(opts(bad));
    expect(r).toMatchObject({ ok: false, line: 7, file: 'site.yml' });
    if (!r.ok) expect(r.error).toMatch(/^ERROR! .*The error appears to be in 'site\.yml': line 7/s);
  });

  it('lists the hosts the plays would touch', async () => {
    const dir = repo({ 'site.yml': play('    - name: Ping\n      ansible.builtin.ping:\n'), 'hosts.ini': '[pis]\npi1\npi2\n[nas]\nnas1\n' });
    expect(await listHosts(opts(dir))).toEqual(['nas1', 'pi1', 'pi2']);
    expect(await listHosts({ ...opts(dir), limit: 'pis' })).toEqual(['pi1', 'pi2']);
  });
});

describe('checkModeFalseTasks', () => {
  it('finds them in the playbook, a block, an imported task file, a role, and refuses to leave the repo', async () => {
    const outsideName = `outside-${++n}`;
    const outside = join(root, outsideName);
    mkdirSync(outside);
    writeFileSync(join(outside, 'evil.yml'), '- name: outside task\n  ansible.builtin.command: reboot\n  check_mode: false\n');
    const dir = repo({
      'site.yml': [
        '- name: Main',
        '  hosts: all',
        '  roles:',
        '    - web',
        '  tasks:',
        '    - name: safe',
        '      ansible.builtin.ping:',
        '      check_mode: true',
        '    - name: plain false',
        '      ansible.builtin.command: date',
        '      check_mode: false',
        '    - block:',
        '        - name: inside block',
        '          ansible.builtin.command: date',
        '          check_mode: no',
        '    - ansible.builtin.import_tasks: tasks/more.yml',
        `    - import_tasks: ../${outsideName}/evil.yml`,
        '    - import_tasks: linked/evil.yml',
        '',
      ].join('\n'),
      'tasks/more.yml': '- name: from more\n  ansible.builtin.command: date\n  check_mode: "False"\n',
      'roles/web/tasks/main.yml': '- name: role safe\n  ansible.builtin.ping:\n- name: role templated\n  ansible.builtin.command: date\n  check_mode: "{{ not really_check }}"\n',
    });
    symlinkSync(outside, join(dir, 'linked'));
    const found = await checkModeFalseTasks(dir, 'site.yml');
    expect(found).toEqual([
      // Roles run before the play's tasks, and are scanned first.
      { file: 'roles/web/tasks/main.yml', line: 3, task: 'role templated', note: 'check_mode is "{{ not really_check }}", not literally true: treated as false' },
      { file: 'site.yml', line: 9, task: 'plain false' },
      { file: 'site.yml', line: 13, task: 'inside block' },
      { file: 'tasks/more.yml', line: 1, task: 'from more' },
      { file: 'site.yml', line: 17, task: `import_tasks: ../${outsideName}/evil.yml`, note: `"../${outsideName}/evil.yml" is outside the repo: not scanned for check_mode, counted as risky` },
      { file: 'site.yml', line: 18, task: 'import_tasks: linked/evil.yml', note: '"linked/evil.yml" is outside the repo (through a symlink): not scanned for check_mode, counted as risky' },
    ]);
  });
});

describe('checkModeFalseTasks, commands on the hub', () => {
  it('finds pipe and lines lookups in tasks, role templates, vars and defaults, and group_vars/host_vars, but not in files the play does not use', async () => {
    const dir = repo({
      'site.yml': ["- hosts: all", "  roles: [web]", "  tasks:", "    - name: who", "      ansible.builtin.debug:", "        msg: \"{{ lookup('pipe', 'id') }}\"", "    - name: loop", "      ansible.builtin.debug: msg={{ item }}", "      with_lines: cat /etc/hostname", ''].join('\n'),
      'roles/web/tasks/main.yml': '- ansible.builtin.template: { src: a.j2, dest: /tmp/a }\n',
      'roles/web/templates/a.j2': "x={{ query( \"ansible.builtin.pipe\", 'date') }}\n",
      'roles/web/defaults/main.yml': 'ok: 1\n',
      'inventory/group_vars/all.yml': "stamp: \"{{ q('lines', 'date') }}\"\n",
      'roles/unused/templates/b.j2': "{{ lookup('pipe', 'id') }}\n",
      'other.yml': "- hosts: all\n  tasks:\n    - debug: msg={{ lookup('pipe','id') }}\n",
    });
    const found = await checkModeFalseTasks(dir, 'site.yml');
    const note = 'a pipe or lines lookup runs a command on the hub while Ansible templates, even in a dry run';
    expect(found.map((f) => [f.file, f.line, f.note])).toEqual([
      ['site.yml', 6, note],
      ['site.yml', 9, note],
      ['roles/web/templates/a.j2', 1, note],
      ['inventory/group_vars/all.yml', 1, note],
    ]);
    expect(await checkModeFalseTasks(dir, 'other.yml')).toHaveLength(2); // its own, and the repo's group_vars
  });
});

describe('checkModeFalseTasks, more ways in', () => {
  it('follows import_playbook, include_role and role dependencies; lists plays and dynamic includes it cannot read', async () => {
    const dir = repo({
      'site.yml': '- ansible.builtin.import_playbook: plays/db.yml\n',
      'plays/db.yml': [
        '- name: Live play',
        '  hosts: all',
        '  check_mode: false',
        '  tasks:',
        '    - ansible.builtin.include_role:',
        '        name: db',
        '    - ansible.builtin.include_tasks: "{{ ansible_os_family }}.yml"',
        '',
      ].join('\n'),
      'roles/db/tasks/main.yml': '- name: db safe\n  ansible.builtin.ping:\n',
      'roles/db/meta/main.yml': 'dependencies:\n  - role: common\n',
      'roles/common/tasks/main.yml': '- name: Restart it\n  ansible.builtin.service: { name: x, state: restarted }\n  check_mode: off\n',
    });
    expect(await checkModeFalseTasks(dir, 'site.yml')).toEqual([
      { file: 'plays/db.yml', line: 1, task: 'play "Live play"', note: 'every task in the play runs for real in check mode' },
      { file: 'roles/common/tasks/main.yml', line: 1, task: 'Restart it' },
      { file: 'plays/db.yml', line: 7, task: 'ansible.builtin.include_tasks: {{ ansible_os_family }}.yml', note: 'a templated or missing file name: not scanned for check_mode, counted as risky' },
    ]);
    await expect(checkModeFalseTasks(dir, '../x.yml')).rejects.toThrow(/not a file inside/);
  });
});

describe('createScrubber', () => {
  it('cuts values and their JSON-escaped forms, then the redaction patterns', () => {
    const scrub = createScrubber(['p"w\\1234', 'ab']);
    expect(scrub('a "p\\"w\\\\1234" b')).toBe('a "[REDACTED]" b');
    expect(scrub('ab api_token=xyz12345')).toBe('ab api_token=[REDACTED]');
  });
});
