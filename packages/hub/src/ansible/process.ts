/**
 * One ansible-playbook process as the review queue runs it: a private temp dir for every file
 * Ansible writes (ANSIBLE_HOME, temp dirs, SSH control sockets, our callback plugin, the extra
 * vars file), the environment of {@link ansibleEnv}, SSH host key checking against one
 * known_hosts file only, its own process group killed at the deadline or on abort, and what is
 * read back bounded.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';
import { ansibleEnv } from '../topology/ansible.ts';
import type { AnsibleRunBase } from './contract.ts';
import { CALLBACK_NAME, CALLBACK_SOURCE } from './callback-plugin.ts';

/** What ansible-playbook left behind: exit, how it ended, the ends of its outputs. */
export interface AnsibleExit {
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  stdout: string;
  stderr: string;
  pid: number | undefined;
}

export interface AnsibleSpawnOptions {
  base: AnsibleRunBase;
  /** Arguments after the playbook (`--check`, `-l`, ...). */
  args: string[];
  /** Written to a 0600 file in the private dir and passed as `-e @file`. */
  extraVars?: Record<string, unknown>;
  /** Loads our callback plugin as the stdout callback; its JSON lines go to `onEvent`. */
  onEvent?: (line: string) => void;
  /** Called with the (scrubbable) command line once the process started. */
  onStart?: (argv: string[]) => void;
  /** Bytes kept of stdout and of stderr each (their ends); default 64 KiB. */
  outputCap?: number;
  /** How long SIGTERM has before SIGKILL; default 3 s. */
  killGraceMs?: number;
}

const OUTPUT_CAP = 64 * 1024;
/** Longest event line read; a longer one (it cannot be: the plugin cuts its texts) is dropped. */
const MAX_EVENT_LINE = 512 * 1024;

/** Keeps the last `cap` bytes of a stream (the end of an error output says what failed). */
function tail(cap: number) {
  let chunks: Buffer[] = [];
  let size = 0;
  return {
    push(b: Buffer) {
      chunks.push(b);
      size += b.length;
      if (size > cap * 2) {
        const all = Buffer.concat(chunks).subarray(-cap);
        chunks = [all];
        size = all.length;
      }
    },
    text: () => Buffer.concat(chunks).subarray(-cap).toString('utf8'),
  };
}

/** Splits a stream into lines, dropping any line longer than `max` bytes. */
function lineReader(onLine: (line: string) => void, max: number) {
  let buf = '';
  let skipping = false;
  return {
    push(b: Buffer) {
      buf += b.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!skipping && line) onLine(line);
        skipping = false;
      }
      if (buf.length > max) {
        buf = '';
        skipping = true;
      }
    },
    end() {
      if (!skipping && buf) onLine(buf);
      buf = '';
    },
  };
}

/**
 * `ssh_args` for Ansible's ssh connection: host keys checked against `knownHosts` only. They
 * come first on ssh's command line, and for ssh the first value of an option wins, so an
 * inventory's `ansible_ssh_common_args: -o StrictHostKeyChecking=no` cannot undo them.
 */
export function sshArgs(knownHosts: string): string {
  if (/['\n\r]/.test(knownHosts)) throw new HomelabError('ANSIBLE_FAILED', `known_hosts path ${JSON.stringify(knownHosts)} must not contain quotes or newlines`);
  return `-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile='${knownHosts}' -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o CheckHostIP=no -o HashKnownHosts=no`;
}

/**
 * The extra vars the hub adds on top of the caller's: extra vars beat every other variable
 * source, so an inventory or play that sets `ansible_ssh_args` or turns host key checking off
 * is overridden.
 */
function pinnedVars(knownHosts: string): Record<string, unknown> {
  return { ansible_ssh_args: sshArgs(knownHosts), ansible_host_key_checking: true, ansible_ssh_host_key_checking: true };
}

/** The argv (after the command) of an ansible-playbook run; extra vars only ever as `-e @file`. */
export function playbookArgv(base: AnsibleRunBase, args: string[], extraVarsFile?: string): string[] {
  const argv = ['-i', base.inventory, base.playbook, ...args];
  if (extraVarsFile) argv.push('-e', `@${extraVarsFile}`);
  if (base.privateKey) argv.push('--private-key', base.privateKey);
  if (base.remoteUser) argv.push('-u', base.remoteUser);
  if (base.vaultPasswordFile) argv.push('--vault-password-file', base.vaultPasswordFile);
  return argv;
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Ends the SSH ControlMaster processes a run left: ssh puts them in their own session (they
 * outlive the process group) to keep connections open for 60 s, but their sockets are in our
 * temp dir, about to be removed.
 */
async function closeControlMasters(dir: string): Promise<void> {
  let sockets: string[] = [];
  try {
    sockets = readdirSync(dir).slice(0, 200);
  } catch {
    return;
  }
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          execFile('ssh', ['-o', `ControlPath=${join(dir, s)}`, '-O', 'exit', 'homelab-control-master'], { timeout: 5000 }, () => resolve());
        }),
    ),
  );
}

/**
 * Runs ansible-playbook once and resolves when it ended (killed at the deadline or on abort:
 * then `timedOut`/`cancelled`). Rejects only when it cannot start.
 *
 * @example
 * const r = await spawnAnsiblePlaybook({ base, args: ['--syntax-check'] });
 * r.exitCode // 0
 */
export async function spawnAnsiblePlaybook(o: AnsibleSpawnOptions): Promise<AnsibleExit> {
  const { base } = o;
  const command = base.command ?? 'ansible-playbook';
  const dir = mkdtempSync(join(tmpdir(), 'homelab-ansible-run-'));
  try {
    const env = ansibleEnv(dir, process.env, base.secretVars);
    env.ANSIBLE_HOST_KEY_CHECKING = 'True';
    env.ANSIBLE_SSH_ARGS = sshArgs(base.knownHostsFile);
    // A repo's ansible.cfg may name a log file or enable more callbacks; our log is the one kept.
    env.ANSIBLE_LOG_PATH = '/dev/null';
    let extraVarsFile: string | undefined;
    const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe'];
    if (o.onEvent) {
      const plugins = join(dir, 'callbacks');
      mkdirSync(plugins, { mode: 0o700 });
      writeFileSync(join(plugins, `${CALLBACK_NAME}.py`), CALLBACK_SOURCE, { mode: 0o600 });
      env.ANSIBLE_CALLBACK_PLUGINS = plugins;
      env.ANSIBLE_STDOUT_CALLBACK = CALLBACK_NAME;
      env.ANSIBLE_LOAD_CALLBACK_PLUGINS = '1';
      env.HOMELAB_EVENTS_FD = '3';
      stdio.push('pipe');
    }
    if (o.onEvent || o.extraVars) {
      extraVarsFile = join(dir, 'extra-vars.json');
      // Written 0600 before any content is in it: the file holds the caller's secrets.
      writeFileSync(extraVarsFile, '', { mode: 0o600 });
      chmodSync(extraVarsFile, 0o600);
      writeFileSync(extraVarsFile, JSON.stringify({ ...(o.extraVars ?? {}), ...pinnedVars(base.knownHostsFile) }));
    }
    const argv = playbookArgv(base, o.args, extraVarsFile);
    const cap = o.outputCap ?? OUTPUT_CAP;
    const out = tail(cap);
    const err = tail(cap);
    let why: 'timeout' | 'abort' | undefined;
    let pid: number | undefined;
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(command, argv, { cwd: base.cwd, env, stdio, detached: true });
      pid = child.pid;
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      const events = o.onEvent ? lineReader(o.onEvent, MAX_EVENT_LINE) : undefined;
      const fd3 = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
      fd3?.on('data', (b: Buffer) => events?.push(b));
      let graceTimer: NodeJS.Timeout | undefined;
      const kill = (reason: 'timeout' | 'abort') => {
        if (why) return;
        why = reason;
        killGroup(child, 'SIGTERM');
        graceTimer = setTimeout(() => killGroup(child, 'SIGKILL'), o.killGraceMs ?? 3000);
      };
      const timer = setTimeout(() => kill('timeout'), base.timeoutMs);
      const onAbort = () => kill('abort');
      base.signal?.addEventListener('abort', onAbort, { once: true });
      if (base.signal?.aborted) onAbort();
      if (child.pid) o.onStart?.([command, ...argv]);
      const done = () => {
        clearTimeout(timer);
        base.signal?.removeEventListener('abort', onAbort);
      };
      child.on('error', (e: NodeJS.ErrnoException) => {
        done();
        clearTimeout(graceTimer);
        reject(new HomelabError('ANSIBLE_FAILED', e.code === 'ENOENT' ? `${command} is not installed (install ansible-core)` : `cannot run ${command}: ${e.code ?? e.message}`));
      });
      child.on('exit', (code) => {
        done();
        // A straggler of the group (a worker, a module's child) would keep our pipes open.
        if (why) killGroup(child, 'SIGKILL');
        clearTimeout(graceTimer);
        // 'close' waits for the pipes; a process of the group that escaped the kill could hold
        // them, so at most a short while.
        const closed = new Promise<void>((r) => child.once('close', () => r()));
        const t = setTimeout(() => {
          for (const s of [child.stdout, child.stderr, fd3]) (s as { destroy?: () => void } | null | undefined)?.destroy?.();
        }, 2000);
        void closed.then(() => {
          clearTimeout(t);
          events?.end();
          resolve(code);
        });
      });
    });
    await closeControlMasters(join(dir, 'cp'));
    return { exitCode, timedOut: why === 'timeout', cancelled: why === 'abort', stdout: out.text(), stderr: err.text(), pid };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
