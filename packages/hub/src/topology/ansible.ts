/**
 * Runs `ansible PATTERN -i INVENTORY -m setup` and reads each host's facts.
 *
 * Output format: `--tree DIR` (the builtin `tree` callback of ansible-core: one JSON file per
 * host). The `json` stdout callback lives in the ansible.posix collection, which an
 * ansible-core install does not have, and the default screen output is pretty-printed JSON
 * behind a `host | SUCCESS =>` prefix, meant for people.
 *
 * Nothing is written to ~/.ansible: every Ansible directory (home, local and remote temp,
 * SSH control sockets) points into a private temp dir removed afterwards. The run has a
 * deadline (the whole process group is killed), and what is read back is capped.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';
import { factsFromAnsible, type DiscoveredFacts } from './facts.ts';

export interface AnsibleSetupOptions {
  inventory: string;
  pattern: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The `ansible` executable; default `ansible` on PATH. */
  command?: string;
  /** Largest facts file read per host (a host with many disks and interfaces is ~50 KB). */
  maxHostBytes?: number;
  maxHosts?: number;
  /**
   * Where Ansible's environment is taken from (only {@link ansibleEnv}'s allowlist of it; its own
   * directories are set on top); default process.env.
   */
  env?: NodeJS.ProcessEnv;
  /** Variables never passed on whatever their name: those hub.yaml takes as `${VAR}` (its secrets). */
  secretVars?: readonly string[];
}

export interface AnsibleHostResult {
  ok: boolean;
  facts?: DiscoveredFacts;
  /** Why it failed: unreachable, module failure, facts too large. */
  error?: string;
}

export interface AnsibleSetupRun {
  /** Inventory host name → its result. */
  hosts: Record<string, AnsibleHostResult>;
  exitCode: number | null;
  durationMs: number;
  /** Ansible's own warnings (an unparsable inventory, a pattern that matched nothing), a few, short. */
  warnings: string[];
}

const OUTPUT_CAP = 64 * 1024;

/**
 * What Ansible inherits from the hub: the same harmless variables as the local node's child
 * (nodes/local-node.ts), the SSH agent it logs in with, a virtualenv it may run from, and the
 * user's own ANSIBLE_* settings. Nothing else: Ansible, its module processes on `local` and its
 * --tree output would otherwise carry every token of the hub's environment, readable by anyone
 * who reads /proc/<pid>/environ or the tree.
 */
const ANSIBLE_INHERITED = /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|USER|LOGNAME|SHELL|TERM|TMPDIR|SSH_AUTH_SOCK|VIRTUAL_ENV|ANSIBLE_[A-Z0-9_]+)$/;

/**
 * The environment that keeps Ansible's files in `dir` and its output plain, from the allowlisted
 * variables of `base` less `secretVars`.
 *
 * @example ansibleEnv('/tmp/homelab-ansible-x', { PATH: '/usr/bin', HA_TOKEN: 's' }).HA_TOKEN // undefined
 */
export function ansibleEnv(dir: string, base: NodeJS.ProcessEnv = process.env, secretVars: readonly string[] = []): NodeJS.ProcessEnv {
  const secret = new Set(secretVars);
  const inherited: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && ANSIBLE_INHERITED.test(k) && !secret.has(k)) inherited[k] = v;
  return {
    ...inherited,
    ANSIBLE_HOME: join(dir, 'home'),
    ANSIBLE_LOCAL_TEMP: join(dir, 'local'),
    // Also used on the targets (created there with mkdir -p); with `ansible_connection=local`
    // the target is this host, whose ~/.ansible/tmp would otherwise fill.
    ANSIBLE_REMOTE_TEMP: join(dir, 'remote'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'cp'),
    ANSIBLE_PERSISTENT_CONTROL_PATH_DIR: join(dir, 'pcp'),
    ANSIBLE_GALAXY_CACHE_DIR: join(dir, 'galaxy'),
    ANSIBLE_RETRY_FILES_ENABLED: 'false',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_PYTHON_INTERPRETER: inherited.ANSIBLE_PYTHON_INTERPRETER ?? 'auto_silent',
    ANSIBLE_DEPRECATION_WARNINGS: 'false',
    ANSIBLE_LOCALHOST_WARNING: 'false',
  };
}

/** Keeps the last `cap` bytes of a stream (the end of an error output says what failed). */
function tail(cap: number) {
  let buf = Buffer.alloc(0);
  return {
    push(b: Buffer) {
      buf = Buffer.concat([buf, b]);
      if (buf.length > cap) buf = buf.subarray(buf.length - cap);
    },
    text: () => buf.toString('utf8'),
  };
}

/** The last meaningful line of Ansible's stderr, short, for an error message. */
function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('[WARNING]') && !l.startsWith('[DEPRECATION'));
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

/**
 * @example
 * const run = await runAnsibleSetup({ inventory: '/etc/ansible/hosts', pattern: 'all', timeoutMs: 300_000 });
 * run.hosts['nas']?.facts?.os // 'Debian 12.11'
 */
export async function runAnsibleSetup(o: AnsibleSetupOptions): Promise<AnsibleSetupRun> {
  const maxHostBytes = o.maxHostBytes ?? 4 * 1024 * 1024;
  const maxHosts = o.maxHosts ?? 2000;
  const dir = mkdtempSync(join(tmpdir(), 'homelab-ansible-'));
  const tree = join(dir, 'tree');
  const started = performance.now();
  try {
    const args = [o.pattern, '-i', o.inventory, '-m', 'setup', '-a', 'gather_subset=!all,network,hardware,virtual gather_timeout=30', '--tree', tree, '--forks', '10', '--timeout', '20'];
    let stderrText = '';
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      // cwd beside the inventory: an ansible.cfg kept there (remote_user, ...) applies, as when
      // the user runs ansible in that folder. Our ANSIBLE_* settings still take precedence.
      const cwd = o.inventory.includes(',') ? tmpdir() : dirname(o.inventory);
      const child = spawn(o.command ?? 'ansible', args, { cwd, env: ansibleEnv(dir, o.env, o.secretVars), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const err = tail(OUTPUT_CAP);
      child.stdout.on('data', () => undefined); // the tree has the results; stdout is drained, not kept
      child.stderr.on('data', (b: Buffer) => err.push(b));
      let why: string | undefined;
      const kill = (reason: string) => {
        why ??= reason;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const timer = setTimeout(() => kill(`timed out after ${Math.round(o.timeoutMs / 1000)} s`), o.timeoutMs);
      const onAbort = () => kill('cancelled');
      o.signal?.addEventListener('abort', onAbort, { once: true });
      if (o.signal?.aborted) onAbort();
      const done = () => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
      };
      child.on('error', (e: NodeJS.ErrnoException) => {
        done();
        reject(new HomelabError('ANSIBLE_FAILED', e.code === 'ENOENT' ? `${o.command ?? 'ansible'} is not installed (install ansible-core)` : `cannot run ansible: ${e.code ?? e.message}`));
      });
      child.on('close', (code) => {
        done();
        stderrText = err.text();
        if (why) return reject(new HomelabError('ANSIBLE_FAILED', `ansible -m setup ${why}`));
        // 0: all ok, 2: a host failed, 4: a host unreachable; those still have results.
        if (code !== 0 && code !== 2 && code !== 4) {
          return reject(new HomelabError('ANSIBLE_FAILED', `ansible -m setup exited with ${code ?? 'a signal'}${lastLine(err.text()) ? `: ${lastLine(err.text())}` : ''}`));
        }
        resolve(code);
      });
    });
    const hosts: Record<string, AnsibleHostResult> = {};
    let files: string[] = [];
    try {
      files = readdirSync(tree).slice(0, maxHosts);
    } catch {
      // no host matched the pattern: no tree
    }
    for (const host of files) {
      const path = join(tree, host);
      if (statSync(path).size > maxHostBytes) {
        hosts[host] = { ok: false, error: `facts larger than ${maxHostBytes} bytes, not read` };
        continue;
      }
      let result: unknown;
      try {
        result = JSON.parse(readFileSync(path, 'utf8'));
      } catch {
        hosts[host] = { ok: false, error: 'unreadable result' };
        continue;
      }
      const r = (result ?? {}) as { unreachable?: unknown; failed?: unknown; msg?: unknown; ansible_facts?: unknown };
      if (r.unreachable || r.failed || !r.ansible_facts) {
        const msg = typeof r.msg === 'string' ? r.msg.slice(0, 300) : 'no facts';
        hosts[host] = { ok: false, error: `${r.unreachable ? 'unreachable' : 'failed'}: ${msg}` };
      } else hosts[host] = { ok: true, facts: factsFromAnsible(result) };
    }
    const warnings = stderrText
      .split('\n')
      .filter((l) => l.startsWith('[WARNING]: '))
      .map((l) => l.slice(11).trim().slice(0, 200))
      .slice(0, 5);
    return { hosts, exitCode, durationMs: Math.round(performance.now() - started), warnings };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
