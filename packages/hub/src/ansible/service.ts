/**
 * The Ansible review queue: the AI drafts playbooks on review branches with a pull request, a
 * person merges, and only the main branch ever runs, each live run after a dry run of exactly
 * the same thing.
 *
 * - Reads: list_playbooks, get_playbook, list_inventory, list_pending_playbooks, and
 *   dry_run_playbook (`--check --diff`), which is a write for a playbook with `check_mode: false`
 *   tasks: those run for real even in check mode, so the gate holds the call and the preview
 *   names them.
 * - Writes: refresh_inventory (fetch and fast-forward), draft_playbook (syntax check, commit,
 *   push, PR), promote_playbook (merge through the forge), run_playbook.
 * - Hard limits, in the gate's rule hook so that no approval lifts them: run_playbook runs only a
 *   playbook of main at the clone's commit, and only after a successful dry run of the same
 *   playbook, commit, inventory, extra_vars, limit and tags within `dryRunValidMinutes`. The run
 *   checks both again under the lock, so nothing can slip between the gate and the run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { HomelabError, isHomelabError } from '@homelab-mcp/core';
import { canonicalJson } from '@homelab-mcp/core/audit-event';
import type { HttpClient } from '@homelab-mcp/core/http';
import { REDACTED } from '@homelab-mcp/core/secret-keys';
import type { CallContext, CatalogTool } from '../catalog/types.ts';
import type { AnsibleConfig } from '../config/schema.ts';
import type { Rule } from '../policy/gate.ts';
import type { CheckModeFalseTask, Forge, PlaybookRunResult, PullRequest } from './contract.ts';
import { createForge, ForgeError } from './forge.ts';
import { draftPathProblems, hiddenJinja, inertCopy } from './draft-check.ts';
import { readInventory, vaultBlobs, vaultedFileVars, vaultPlaintexts, type Inventory } from './inventory.ts';
import { maskVars, maskYamlText, scrubValues, secretValuesOf, isSecretVar, VAULT_MASK } from './mask.ts';
import { badPlaybookName, createPlaybookRepo, playsOf, type PlaybookInfo, type PlaybookRepo } from './repo.ts';
import { checkModeFalseTasks, hostKeyMessage, runPlaybook, syntaxCheck } from './runner.ts';
import type { PlaybookDraftView, PlaybookDrafts } from '../ui/contract.ts';

export interface AnsibleServiceOptions {
  config: AnsibleConfig;
  /** The hub's data dir: the clone, known_hosts and run logs live under DATA/ansible. */
  dataDir: string;
  /** For the forge's API (audited). */
  http: HttpClient;
  log: { info(o: Record<string, unknown>, m: string): void; warn(o: Record<string, unknown>, m: string): void };
  /** Variables hub.yaml takes as `${VAR}`: never passed to Ansible or git. */
  secretVars?: readonly string[];
  now?: () => number;
  /**
   * How long drafts() waits for syntax checks it had to start (default 4 s): the rest are
   * answered as pending and keep running, so a page view stays within its deadline.
   */
  draftCheckWaitMs?: number;
}

const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;
const MAX_CONTENT = 256 * 1024;
const MAX_EXTRA_VARS = 64 * 1024;
const MAX_LOGS = 200;
const MAX_DRY_RUNS = 1000;
const MAX_PENDING = 100;
/** A draft's diff on the Playbooks page is cut here. */
export const MAX_DRAFT_DIFF_BYTES = 200 * 1024;
/** Syntax check results of drafts kept (per commit and path). */
const MAX_DRAFT_CHECKS = 200;

/** The arguments of a dry run or a run, validated. */
interface RunArgs {
  name: string;
  inventory?: string;
  extraVars?: Record<string, unknown>;
  limit?: string;
  tags?: string[];
}

/** A successful dry run, remembered for the live run of the same thing. */
interface DryRunRecord {
  at: number;
  commit: string;
  hosts: string[];
  changes: Array<{ host: string; task: string }>;
  changed: number;
  user: string;
}

function ok(text: string, data?: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], ...(data ? { structuredContent: data } : {}) };
}
function fail(text: string, data?: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true, ...(data ? { structuredContent: data } : {}) };
}
/**
 * Text from outside (a forge's PR title or author, a play or task name, a name argument) on one
 * line, with control and bidi characters shown as "?": a newline in it would fake lines of an
 * answer or of the preview a person approves.
 */
export function oneLine(s: string, max = 200): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?').slice(0, max);
}
function message(err: unknown): string {
  if (isHomelabError(err) || err instanceof ForgeError) return err.message;
  return err instanceof Error ? `internal error: ${err.message.slice(0, 300)}` : 'internal error';
}

/** A repo path argument (an inventory): relative, inside the repo, no `..`. */
function badRepoPath(p: string): string | undefined {
  if (p.length > 512 || p.startsWith('/') || p.startsWith('-') || p.split(/[\\/]/).includes('..') || /[\u0000-\u001f]/.test(p)) return `"${p.slice(0, 80)}" is not a path inside the playbook repo (relative, no "..")`;
  // Ansible reads "a,b," as a list of hosts rather than a file: hosts nobody reviewed.
  if (p.includes(',')) return `"${p.slice(0, 80)}" is a list of hosts (it has a ","); name an inventory file or folder of the playbook repo`;
  if (p.split(/[\\/]/).includes('.git')) return `"${p.slice(0, 80)}" is inside .git, not a file of the playbook repo`;
  return undefined;
}

/** Names Ansible gives a meaning of its own: a variable of the caller must not override them. */
const RESERVED_VARS = new Set(['hostvars', 'groups', 'group_names', 'inventory_hostname', 'inventory_hostname_short', 'inventory_dir', 'inventory_file', 'playbook_dir', 'play_hosts', 'role_path', 'omit', 'environment', 'vars', 'lookup', 'query', 'q']);
const JINJA_OPEN = /\{\{|\{%|\{#/;

/**
 * Why extra_vars are refused, or undefined. Extra vars take precedence over everything, so
 * `ansible_*` would let a caller pick the connection (`ansible_connection: local`), the SSH
 * command (`ansible_ssh_common_args: -o ProxyCommand=...`) or the interpreter: commands on the
 * hub, from a dry run a viewer may call. And a value with Jinja (`{{ lookup('pipe', ...) }}`) is
 * evaluated on the hub when the playbook uses it. Neither is allowed.
 */
export function badExtraVars(ev: Record<string, unknown>): string | undefined {
  for (const k of Object.keys(ev)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,100}$/.test(k)) return `"${k.slice(0, 60)}" is not a variable name (letters, digits and _)`;
    if (/^ansible_/i.test(k)) return `"${k}": ansible_* variables (connection, SSH arguments, interpreters, become) cannot be set through extra_vars; they belong in the reviewed inventory`;
    if (RESERVED_VARS.has(k)) return `"${k}" is a name Ansible reserves`;
  }
  let found: string | undefined;
  const walk = (v: unknown, path: string, depth: number): void => {
    if (found || depth > 32) return;
    if (typeof v === 'string') {
      if (JINJA_OPEN.test(v)) found = `${path} holds a Jinja template ("{{", "{%" or "{#"), which would be evaluated on the hub; pass plain values`;
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, depth + 1));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (JINJA_OPEN.test(k)) found = `${path}: the key "${k.slice(0, 60)}" holds a Jinja template`;
      walk(x, `${path}.${k}`, depth + 1);
    }
  };
  for (const [k, v] of Object.entries(ev)) walk(v, k, 0);
  return found;
}

/** Validates a dry run's or run's arguments; a message naming the argument otherwise. */
export function parseRunArgs(args: Record<string, unknown>): RunArgs | string {
  const known = ['name', 'inventory', 'extra_vars', 'limit', 'tags'];
  const unknown = Object.keys(args).filter((k) => !known.includes(k));
  if (unknown.length) return `unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (expected: ${known.join(', ')})`;
  const { name, inventory, extra_vars: ev, limit, tags } = args;
  if (typeof name !== 'string' || !name) return 'argument "name" is required (the playbook, as list_playbooks names it)';
  const bad = badPlaybookName(name.replace(/\.ya?ml$/i, ''));
  if (bad) return `argument "name": ${bad}`;
  const out: RunArgs = { name: name.replace(/\.ya?ml$/i, '') };
  if (inventory !== undefined) {
    if (typeof inventory !== 'string' || !inventory) return 'argument "inventory": expected a path inside the playbook repo';
    const b = badRepoPath(inventory);
    if (b) return `argument "inventory": ${b}`;
    out.inventory = inventory;
  }
  if (ev !== undefined) {
    if (!ev || typeof ev !== 'object' || Array.isArray(ev)) return 'argument "extra_vars": expected an object of variables ({"version": "1.2"})';
    if (JSON.stringify(ev).length > MAX_EXTRA_VARS) return `argument "extra_vars": larger than ${MAX_EXTRA_VARS / 1024} KiB`;
    const bad = badExtraVars(ev as Record<string, unknown>);
    if (bad) return `argument "extra_vars": ${bad}`;
    out.extraVars = ev as Record<string, unknown>;
  }
  if (limit !== undefined) {
    if (typeof limit !== 'string' || !/^(?!-)[^\s\u0000-\u001f]{1,500}$/.test(limit)) return 'argument "limit": expected an Ansible host pattern such as pi1 or "webservers:!web3" (no spaces, not starting with -)';
    // `@file` makes Ansible read host patterns from a file of the hub, and warn with each line it cannot match.
    if (limit.includes('@')) return 'argument "limit": "@" (a file of host patterns) is not allowed; name the hosts or groups, such as pi1 or "webservers:!web3"';
    out.limit = limit;
  }
  if (tags !== undefined) {
    if (!Array.isArray(tags) || tags.length > 50 || tags.some((t) => typeof t !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(t))) return 'argument "tags": expected a list of tag names (letters, digits, "_", ".", "-")';
    out.tags = [...new Set(tags as string[])].sort();
  }
  return out;
}

const runArgsSchema = {
  type: 'object' as const,
  properties: {
    name: { type: 'string', description: 'The playbook, as list_playbooks names it (site, update-pis).' },
    inventory: { type: 'string', description: 'Another inventory inside the repo (default: ansible.inventory).' },
    extra_vars: { type: 'object', description: 'Extra variables (-e), as an object.', additionalProperties: true },
    limit: { type: 'string', description: 'Host pattern to limit the run to (-l), e.g. pi1 or "webservers:!web3".' },
    tags: { type: 'array', items: { type: 'string' }, description: 'Only tasks with these tags (-t).' },
  },
  required: ['name'],
  additionalProperties: false,
};

/** `2h 3m` / `5m` / `40s` since `iso`. */
function age(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d`;
}

/** PLAY RECAP lines. */
function recapText(r: PlaybookRunResult): string {
  const hosts = Object.entries(r.recap);
  if (!hosts.length) return 'no host was run (the limit or the play matched none)';
  return hosts.map(([h, s]) => `${h}: ok=${s.ok} changed=${s.changed} unreachable=${s.unreachable} failed=${s.failed} skipped=${s.skipped} rescued=${s.rescued} ignored=${s.ignored}`).join('\n');
}

/**
 * A unified diff with secret-named values and vault blocks masked as get_playbook masks a
 * playbook ({@link maskYamlText}), hunk by hunk on the lines' text (the `+`, `-`, ` ` column
 * kept), so that line counts and numbers stay.
 *
 * @example maskDiff('@@ -1 +1 @@\n-db_password: a\n+db_password: b\n') // '@@ -1 +1 @@\n-db_password: [REDACTED]\n+db_password: [REDACTED]\n'
 */
export function maskDiff(diff: string): string {
  const lines = diff.split('\n');
  const out: string[] = [];
  let hunk: string[] = [];
  const flush = () => {
    if (!hunk.length) return;
    const masked = maskYamlText(hunk.map((l) => (l.startsWith('\\') ? '' : l.slice(1))).join('\n')).split('\n');
    hunk.forEach((l, i) => out.push(l.startsWith('\\') ? l : `${l[0]}${masked[i] ?? ''}`));
    hunk = [];
  };
  let inHunk = false;
  for (const l of lines) {
    if (l.startsWith('@@')) {
      flush();
      inHunk = true;
      out.push(l);
    } else if (inHunk && (l.startsWith(' ') || l.startsWith('+') || l.startsWith('-') || l.startsWith('\\'))) hunk.push(l);
    else {
      flush();
      inHunk = false;
      out.push(l);
    }
  }
  flush();
  return out.join('\n');
}

/**
 * @example
 * const ansible = createAnsibleService({ config: hubConfig.ansible, dataDir, http, log });
 * catalog tools: ansible.tools; gate rules: [ansible.rule]
 */
export function createAnsibleService(o: AnsibleServiceOptions) {
  const c = o.config;
  const now = o.now ?? Date.now;
  const base = join(o.dataDir, 'ansible');
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const home = join(base, 'home');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const logsDir = join(base, 'runs');
  mkdirSync(logsDir, { recursive: true, mode: 0o700 });
  // The only known_hosts Ansible's and git's ssh read: the pinned lines, and nothing learnt
  // silently (a first contact is refused with the key's fingerprint; the person pins it).
  const knownHostsFile = join(base, 'known_hosts');
  writeFileSync(knownHostsFile, c.knownHosts.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  chmodSync(knownHostsFile, 0o600);

  const gitExtraEnv: Record<string, string> = {};
  const sshOpts = `-o UserKnownHostsFile=${knownHostsFile} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes`;
  gitExtraEnv.GIT_SSH_COMMAND = c.gitSshKey ? `ssh -i ${c.gitSshKey} -o IdentitiesOnly=yes ${sshOpts}` : `ssh ${sshOpts}`;
  if (c.forge && /^https:\/\//i.test(c.repo)) {
    // The forge token authenticates git over https too, through the environment (never argv,
    // which any local user can read in /proc).
    const user = c.forge.type === 'github' ? 'x-access-token' : 'homelab-mcp';
    gitExtraEnv.GIT_CONFIG_COUNT = '1';
    gitExtraEnv.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    gitExtraEnv.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${Buffer.from(`${user}:${c.forge.token}`).toString('base64')}`;
  }
  const repo: PlaybookRepo = createPlaybookRepo({ url: c.repo, branch: c.branch, dir: c.clone ?? join(base, 'repo'), playbookDir: c.playbookDir, draftPrefix: c.draftPrefix, home, gitExtraEnv });
  const forge: Forge | undefined = c.forge ? createForge(c.forge, o.http) : undefined;
  const secretConfig = [c.forge?.token].filter((s): s is string => !!s);
  const dryRuns = new Map<string, DryRunRecord>();
  // Fetches and pushes update refs: one at a time.
  let refQueue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = refQueue.then(fn, fn);
    refQueue = p.catch(() => undefined);
    return p;
  };
  const validMs = c.dryRunValidMinutes * 60_000;
  const repoLabel = c.forge ? `${c.forge.repo}` : c.repo.replace(/\/\/[^/@]*@/, '//');

  const scrub = (s: string) => scrubValues(s, secretConfig);

  /** The key a dry run is remembered under: everything that decides what a run does. */
  const runKey = (playbook: PlaybookInfo, commit: string, a: RunArgs) =>
    createHash('sha256')
      .update(canonicalJson({ playbook: playbook.path, commit, inventory: a.inventory ?? c.inventory, extraVars: a.extraVars ?? {}, limit: a.limit ?? null, tags: a.tags ?? [] }))
      .digest('hex');

  function keyFile(): string | undefined {
    if (!c.sshKey) return undefined;
    if (!existsSync(c.sshKey)) throw new HomelabError('ANSIBLE_CONFIG', `the SSH key ${c.sshKey} (ansible.sshKey) does not exist`);
    const mode = statSync(c.sshKey).mode & 0o777;
    if (mode & 0o077) throw new HomelabError('ANSIBLE_CONFIG', `the SSH key ${c.sshKey} (ansible.sshKey) is readable by others (mode ${mode.toString(8)}); run chmod 600 ${c.sshKey}`);
    return c.sshKey;
  }

  /** The playbook of main named `name`, or an error that says what there is. */
  async function mainPlaybook(name: string, signal?: AbortSignal): Promise<PlaybookInfo> {
    const list = await repo.playbooks(signal);
    const p = list.find((x) => x.name === name);
    if (p) return p;
    const head = repo.head()?.slice(0, 12) ?? '?';
    const drafts = await repo.draftBranches(signal).catch(() => []);
    const draft = drafts.some((d) => d.name === name);
    throw new HomelabError(
      'NOT_ON_MAIN',
      draft
        ? `"${name}" exists only as a draft (branch ${repo.draftBranch(name)}), not on ${c.branch} at ${head}: only playbooks merged into ${c.branch} run. Ask a person to review and merge it (promote_playbook), then refresh.`
        : `"${name}" is not a playbook on ${c.branch} at ${head} (playbooks: ${list.map((x) => x.name).join(', ') || 'none'})`,
    );
  }

  /**
   * Why `inventory` (an argument) may not be read at `commit`, or undefined. It must be a file
   * or folder of that commit: ansible-inventory reads whatever the path names, and runs any
   * executable it finds there with --list, so a viewer could otherwise run any script of the
   * repo (or one git keeps in .git). Only the configured inventory may be or hold a script.
   */
  async function inventoryProblem(inventory: string, commit: string, signal?: AbortSignal): Promise<string | undefined> {
    const e = await repo.entry(commit, inventory, signal);
    // Ansible would run against an empty inventory and call that a success: say what is missing.
    if (inventory === c.inventory) return e ? undefined : `the inventory ${inventory} (ansible.inventory) is not in ${c.branch} at ${commit.slice(0, 12)}`;
    if (!e) return `"${inventory.slice(0, 80)}" is not a file or folder of ${c.branch} at ${commit.slice(0, 12)}`;
    const modes = [e.mode, ...e.below];
    if (modes.includes('120000')) return `"${inventory.slice(0, 80)}" is or holds a symbolic link; only ansible.inventory (${c.inventory}) may`;
    if (modes.includes('100755')) return `"${inventory.slice(0, 80)}" is or holds an executable (a dynamic inventory script, which Ansible would run); only ansible.inventory (${c.inventory}) may`;
    return undefined;
  }

  /** Plaintext secrets of the inventory and extra_vars, cut out of run output. */
  async function secretsFor(a: RunArgs, signal?: AbortSignal): Promise<string[]> {
    const values = new Set<string>(secretConfig);
    if (a.extraVars) secretValuesOf(a.extraVars, values);
    try {
      const inv = await readInventory({ cwd: repo.dir, inventory: a.inventory ?? c.inventory, vaultPasswordFile: c.vaultPasswordFile, timeoutMs: 60_000, signal, secretVars: o.secretVars });
      secretValuesOf(inv.hostvars, values);
      for (const v of (await vaultedFileVars(repo.dir, c.vaultPasswordFile)).values) values.add(v);
      for (const p of await vaultPlaintexts(vaultBlobs(inv.hostvars), c.vaultPasswordFile)) {
        // A multi-line secret is cut line by line too (a diff shows it per line).
        values.add(p);
        for (const line of p.split('\n')) if (line.trim().length >= 6) values.add(line.trim());
      }
    } catch {
      // The run reports an unreadable inventory itself.
    }
    return [...values];
  }

  function logFileFor(name: string, check: boolean): string {
    // Oldest logs go first; the directory keeps MAX_LOGS.
    try {
      const files = readdirSync(logsDir).filter((f) => f.endsWith('.log')).sort();
      for (const f of files.slice(0, Math.max(0, files.length - MAX_LOGS + 1))) rmSync(join(logsDir, f), { force: true });
    } catch {
      // best effort
    }
    return join(logsDir, `${new Date(now()).toISOString().replace(/[:.]/g, '-')}-${name}-${check ? 'check' : 'run'}-${randomBytes(3).toString('hex')}.log`);
  }

  /** Runs (or dry-runs) a main playbook under the shared lock, at the clone's commit. */
  async function execute(a: RunArgs, check: boolean, ctx: CallContext, readAt?: string): Promise<CallToolResult> {
    return repo.lock.read(async () => {
      const commit = await repo.ensure(ctx.signal);
      const playbook = await mainPlaybook(a.name, ctx.signal);
      if (readAt !== undefined && readAt !== commit && (await riskyTasksUnlocked(commit, playbook.path)).length) {
        // The gate scanned another commit and let this through as a read; main moved under it.
        return fail(`dry_run_playbook: ${c.branch} moved to ${commit.slice(0, 12)} while this was asked, and ${playbook.name} there has check_mode: false tasks (they run for real even in a dry run); call it again to have it held for approval`, { status: 'refused' });
      }
      const key = runKey(playbook, commit, a);
      if (!check) {
        // Again under the lock: the clone may have moved since the gate looked.
        const why = dryRunMissing(playbook, commit, a);
        if (why) return fail(`Refused: ${why}`, { status: 'denied', reason: why });
      }
      {
        const bad = await inventoryProblem(a.inventory ?? c.inventory, commit, ctx.signal);
        if (bad) return fail(`${check ? 'dry_run_playbook' : 'run_playbook'}: ${a.inventory ? 'argument "inventory": ' : ''}${bad}`);
      }
      if (!(await repo.clean(ctx.signal))) throw new HomelabError('ANSIBLE_REPO', `the hub's clone ${repo.dir} has local changes; run refresh_inventory to reset it to ${c.branch}`);
      const content = (await repo.show(commit, playbook.path, ctx.signal)) ?? '';
      const playbookSha256 = createHash('sha256').update(content).digest('hex');
      const secretValues = await secretsFor(a, ctx.signal);
      // Secret-named values written in the playbook itself, which get_playbook masks, are cut out
      // of its diffs too (a template rendering one would show it).
      try {
        secretValues.push(...secretValuesOf(parseYaml(content, { maxAliasCount: 100 })));
      } catch {
        // not YAML we can read: Ansible says so
      }
      const logFile = logFileFor(playbook.name, check);
      const r = await runPlaybook({
        cwd: repo.dir,
        playbook: playbook.path,
        inventory: a.inventory ?? c.inventory,
        ...(keyFile() ? { privateKey: keyFile()! } : {}),
        ...(c.remoteUser ? { remoteUser: c.remoteUser } : {}),
        knownHostsFile,
        ...(c.vaultPasswordFile ? { vaultPasswordFile: c.vaultPasswordFile } : {}),
        timeoutMs: c.timeoutSeconds * 1000,
        signal: ctx.signal,
        ...(o.secretVars ? { secretVars: o.secretVars } : {}),
        secretValues,
        check,
        ...(a.extraVars ? { extraVars: a.extraVars } : {}),
        ...(a.limit ? { limit: a.limit } : {}),
        ...(a.tags ? { tags: a.tags } : {}),
        logFile,
        onTask: (t) => ctx.onprogress?.({ progress: t.index, message: oneLine(`${t.play}: ${t.task}`) }),
      });
      const success = r.exitCode === 0 && !r.timedOut && !r.cancelled;
      const hosts = Object.keys(r.recap);
      const changed = Object.values(r.recap).reduce((n, s) => n + s.changed, 0);
      ctx.auditDetail?.({
        commit,
        playbook: playbook.path,
        playbookSha256,
        inventory: a.inventory ?? c.inventory,
        ...(a.limit ? { limit: a.limit } : {}),
        ...(a.tags ? { tags: a.tags } : {}),
        // Redacted by the journal (secret-named keys); values cut here too, whatever their name.
        ...(a.extraVars ? { extraVars: JSON.parse(scrubValues(JSON.stringify(maskVars(a.extraVars)), secretValues)) as unknown } : {}),
        check,
        exitCode: r.exitCode,
        recap: r.recap,
        logFile: r.logFile,
      });
      if (check && success) {
        if (dryRuns.size >= MAX_DRY_RUNS) dryRuns.delete(dryRuns.keys().next().value!);
        dryRuns.delete(key);
        dryRuns.set(key, { at: now(), commit, hosts, changes: r.changes.map((x) => ({ host: x.host, task: x.task })), changed, user: ctx.caller.user });
      }
      const what = check ? 'Dry run (--check --diff)' : 'Run';
      const status = r.timedOut ? `stopped at the deadline (${c.timeoutSeconds} s, ansible.timeoutSeconds)` : r.cancelled ? 'cancelled' : success ? 'succeeded' : `failed (exit ${r.exitCode})`;
      const lines = [
        `${what} of ${playbook.name} (${playbook.path}) at ${c.branch} ${commit.slice(0, 12)}, inventory ${a.inventory ?? c.inventory}${a.limit ? `, limit ${a.limit}` : ''}${a.tags ? `, tags ${a.tags.join(',')}` : ''}: ${status}.`,
        '',
        'PLAY RECAP',
        recapText(r),
      ];
      if (r.hostKeyProblems.length) lines.push('', hostKeyMessage(r.hostKeyProblems));
      if (r.failures.length) lines.push('', 'Failures:', ...r.failures.map((f) => `- ${f.host}: ${f.task}: ${f.unreachable ? 'unreachable: ' : ''}${f.message}`));
      if (r.error) lines.push('', `Ansible: ${r.error}`);
      if (r.changes.length) lines.push('', check ? 'Would change:' : 'Changed:', ...r.changes.map((x) => `--- ${x.host}: ${x.task}\n${x.diff}`));
      else if (success) lines.push('', check ? 'Nothing would change.' : 'Nothing changed.');
      if (check && success) lines.push('', `A live run of exactly this (run_playbook with the same name, inventory, extra_vars, limit and tags) is allowed until ${new Date(now() + validMs).toISOString()} while ${c.branch} stays at ${commit.slice(0, 12)}.`);
      if (check && !success) lines.push('', 'This dry run did not succeed, so it does not allow a live run.');
      lines.push('', `Full log: ${r.logFile}`);
      const text = scrubValues(lines.join('\n'), secretValues);
      const data = {
        playbook: playbook.name,
        path: playbook.path,
        commit,
        check,
        status: r.timedOut ? 'timeout' : r.cancelled ? 'cancelled' : success ? 'succeeded' : 'failed',
        exitCode: r.exitCode,
        recap: r.recap,
        changes: r.changes,
        failures: r.failures,
        hostKeyProblems: r.hostKeyProblems,
        logFile: r.logFile,
        durationMs: Math.round(r.durationMs),
        ...(r.error ? { error: r.error } : {}),
      };
      const scrubbed = JSON.parse(scrubValues(JSON.stringify(data), secretValues)) as Record<string, unknown>;
      return success ? ok(text, scrubbed) : fail(text, scrubbed);
    });
  }

  /** Why a live run of this is not allowed now (no matching dry run), or undefined. */
  function dryRunMissing(playbook: PlaybookInfo, commit: string, a: RunArgs): string | undefined {
    const rec = dryRuns.get(runKey(playbook, commit, a));
    const mins = c.dryRunValidMinutes;
    if (rec && now() - rec.at <= validMs) return undefined;
    if (rec) return `run dry_run_playbook first: the dry run of ${playbook.name} with these arguments was ${Math.round((now() - rec.at) / 60_000)} minutes ago, more than ${mins} (ansible.dryRunValidMinutes)`;
    const others = [...dryRuns.values()].some((d) => d.commit !== commit);
    return `run dry_run_playbook first: no successful dry run of ${playbook.name} at ${c.branch} ${commit.slice(0, 12)} with exactly these inventory, extra_vars, limit and tags in the last ${mins} minutes${others ? ` (${c.branch} moved since earlier dry runs)` : ''}`;
  }

  const rule: Rule = async (call) => {
    if (call.tool !== 'run_playbook') return undefined;
    const a = parseRunArgs(call.args);
    if (typeof a === 'string') return undefined; // the tool refuses it with the argument named
    try {
      const commit = await repo.ensure(call.signal);
      const playbook = await mainPlaybook(a.name, call.signal);
      return dryRunMissing(playbook, commit, a);
    } catch (err) {
      return message(err);
    }
  };

  /** Dry-run arguments the gate let through as a read, with the commit it scanned. */
  const classifiedRead = new WeakMap<Record<string, unknown>, string>();

  /** Tasks that run for real even in check mode, for dry_run_playbook's class and preview. */
  const riskCache = new Map<string, CheckModeFalseTask[]>();
  async function riskyTasks(name: string, signal?: AbortSignal): Promise<CheckModeFalseTask[]> {
    return (await riskyTasksAt(name, signal)).tasks;
  }
  /** The same, with the commit scanned (under the lock, so the clone is at it while scanned). */
  async function riskyTasksAt(name: string, signal?: AbortSignal): Promise<{ commit: string; tasks: CheckModeFalseTask[] }> {
    await repo.ensure(signal);
    return repo.lock.read(async () => {
      const commit = await repo.ensure(signal);
      const p = await mainPlaybook(name, signal);
      return { commit, tasks: await riskyTasksUnlocked(commit, p.path) };
    });
  }
  /** The same, while the caller holds the lock (the clone stays at `commit`). */
  async function riskyTasksUnlocked(commit: string, path: string): Promise<CheckModeFalseTask[]> {
    const k = `${commit}\u0000${path}`;
    let r = riskCache.get(k);
    if (!r) {
      r = await checkModeFalseTasks(repo.dir, path);
      if (riskCache.size > 500) riskCache.clear();
      riskCache.set(k, r);
    }
    return r;
  }

  /** For a run's preview: the hosts and what the dry run said would change. */
  async function runPreview(args: Record<string, unknown>): Promise<string> {
    const a = parseRunArgs(args);
    if (typeof a === 'string') return `run_playbook with arguments it will refuse (${a})`;
    const commit = await repo.ensure();
    const p = await mainPlaybook(a.name);
    const rec = dryRuns.get(runKey(p, commit, a));
    const head = `Run ansible-playbook ${p.path} at ${c.branch} ${commit.slice(0, 12)} for real, inventory ${a.inventory ?? c.inventory}${a.limit ? `, limit ${a.limit}` : ''}${a.tags ? `, tags ${a.tags.join(',')}` : ''}${a.extraVars ? `, extra_vars ${JSON.stringify(maskVars(a.extraVars))}` : ''}`;
    if (!rec) return `${head}.`;
    const changes = rec.changes.length ? `the dry run ${Math.round((now() - rec.at) / 60_000)} min ago said it would change: ${rec.changes.slice(0, 20).map((x) => `${x.host}: ${x.task}`).join('; ')}${rec.changes.length > 20 ? `; … ${rec.changes.length - 20} more` : ''}` : 'the dry run said nothing would change';
    return `${head} on ${rec.hosts.join(', ') || 'no host'}; ${changes}.`;
  }

  const tools: CatalogTool[] = [
    {
      def: {
        name: 'list_playbooks',
        title: 'List playbooks',
        description: `The playbooks on ${c.branch} of the playbook repo (the only ones that run): name, hosts, a one-line description from the play names, and the last commit.`,
        inputSchema: { type: 'object', properties: {}, additionalProperties: false },
        annotations: { title: 'List playbooks', ...READ },
      },
      toolClass: 'read',
      source: 'ansible',
      async call(_args, ctx) {
        try {
          const list = await repo.playbooks(ctx.signal);
          const head = repo.head()!;
          const text = [
            `${list.length} playbook(s) on ${c.branch} at ${head.slice(0, 12)}:`,
            ...list.map((p) => `- ${p.name} (${p.path}): hosts ${oneLine(p.hosts)}; ${oneLine(p.description, 300)}${p.lastCommit ? `; last commit ${p.lastCommit.sha} ${p.lastCommit.date.slice(0, 10)} "${oneLine(p.lastCommit.subject)}" (${oneLine(p.lastCommit.author, 100)})` : ''}`),
          ].join('\n');
          return ok(scrub(text), { branch: c.branch, commit: head, playbooks: list });
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
    {
      def: {
        name: 'get_playbook',
        title: 'Get a playbook',
        description: `A playbook's content on ${c.branch} (secret-named values and vault values masked).`,
        inputSchema: { type: 'object', properties: { name: { type: 'string', description: 'The playbook, as list_playbooks names it.' } }, required: ['name'], additionalProperties: false },
        annotations: { title: 'Get a playbook', ...READ },
      },
      toolClass: 'read',
      source: 'ansible',
      async call(args, ctx) {
        try {
          const a = parseRunArgs({ name: args.name });
          if (typeof a === 'string') return fail(`get_playbook: ${a}`);
          const p = await mainPlaybook(a.name, ctx.signal);
          const head = repo.head()!;
          const raw = (await repo.show(head, p.path, ctx.signal)) ?? '';
          // The line-by-line mask misses what YAML nests on one line (`vars: { db_password: x }`,
          // an anchor): the secret-named values of the parsed document are cut out as well.
          let parsed: unknown;
          try {
            parsed = parseYaml(raw, { maxAliasCount: 100 });
          } catch {
            parsed = undefined;
          }
          const content = scrubValues(maskYamlText(raw), secretValuesOf(parsed));
          return ok(`# ${p.path} at ${c.branch} ${head.slice(0, 12)}\n${content}`, { name: p.name, path: p.path, commit: head, content });
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
    {
      def: {
        name: 'list_inventory',
        title: 'List the Ansible inventory',
        description: 'The groups and hosts of the inventory on main, with their variables (secret-named values and every vault value masked).',
        inputSchema: { type: 'object', properties: { inventory: { type: 'string', description: 'Another inventory inside the repo (default: ansible.inventory).' } }, additionalProperties: false },
        annotations: { title: 'List the Ansible inventory', ...READ },
      },
      toolClass: 'read',
      source: 'ansible',
      async call(args, ctx) {
        try {
          const inventory = args.inventory === undefined ? c.inventory : args.inventory;
          if (typeof inventory !== 'string' || badRepoPath(inventory)) return fail(`list_inventory: argument "inventory": ${typeof inventory === 'string' ? badRepoPath(inventory) : 'expected a path inside the playbook repo'}`);
          await repo.ensure(ctx.signal);
          // Under the lock: the path is checked at the commit the work tree is on while it is read.
          const read = await repo.lock.read(async () => {
            const head = await repo.ensure(ctx.signal);
            const bad = await inventoryProblem(inventory, head, ctx.signal);
            if (bad) return { bad };
            const inv = await readInventory({ cwd: repo.dir, inventory, vaultPasswordFile: c.vaultPasswordFile, timeoutMs: 60_000, signal: ctx.signal, secretVars: o.secretVars });
            return { head, inv, vaulted: await vaultedFileVars(repo.dir, c.vaultPasswordFile) };
          });
          if ('bad' in read) return fail(`list_inventory: ${args.inventory === undefined ? '' : 'argument "inventory": '}${read.bad}`);
          const { head } = read;
          const inv: Inventory = read.inv;
          const hostvars = maskVars(inv.hostvars) as Record<string, Record<string, unknown>>;
          // Variables of a whole-file vault come back decrypted and unmarked: masked by name.
          for (const vars of Object.values(hostvars)) for (const k of Object.keys(vars)) if (read.vaulted.names.has(k)) vars[k] = VAULT_MASK;
          const secretValues = [...secretValuesOf(inv.hostvars), ...read.vaulted.values];
          const groups = Object.entries(inv.groups).filter(([g, v]) => !(g === 'ungrouped' && v.hosts.length === 0));
          const hostNames = Object.keys(hostvars);
          const text = [
            `Inventory ${inventory} at ${c.branch} ${head.slice(0, 12)}: ${hostNames.length} host(s), ${groups.length} group(s).`,
            'Groups:',
            ...groups.map(([g, v]) => `- ${g}:${v.hosts.length ? ` hosts ${v.hosts.join(', ')}` : ''}${v.children.length ? ` children ${v.children.join(', ')}` : ''}`),
            'Hosts:',
            ...hostNames.slice(0, 500).map((h) => `- ${h}: ${JSON.stringify(hostvars[h]).slice(0, 1000)}`),
            ...(hostNames.length > 500 ? [`… ${hostNames.length - 500} more hosts`] : []),
          ].join('\n');
          const scrubbed = scrubValues(text, secretValues);
          return ok(scrub(scrubbed), { inventory, commit: head, groups: Object.fromEntries(groups), hostvars: JSON.parse(scrubValues(JSON.stringify(hostvars), secretValues)) as unknown });
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
    {
      def: {
        name: 'refresh_inventory',
        title: 'Refresh the playbook repo',
        description: `Fetches the playbook repo and fast-forwards the hub's clone to ${c.branch} (waits for running playbooks to finish). Answers with the commits pulled.`,
        inputSchema: { type: 'object', properties: {}, additionalProperties: false },
        annotations: { title: 'Refresh the playbook repo', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      },
      toolClass: 'write',
      source: 'ansible',
      preview: () => ({ tool: 'refresh_inventory', where: ['ansible'], action: `fetch ${repoLabel} and fast-forward the hub's clone to ${c.branch} (now at ${repo.head()?.slice(0, 12) ?? 'not cloned yet'})`, arguments: {} }),
      async call(_args, ctx) {
        try {
          const r = await serial(() => repo.refresh(ctx.signal));
          riskCache.clear();
          const text = r.cloned
            ? `Cloned ${repoLabel}: ${c.branch} at ${r.after.slice(0, 12)}.`
            : r.commits.length === 0
              ? `Already up to date: ${c.branch} at ${r.after.slice(0, 12)}.`
              : [`${c.branch} moved ${r.before?.slice(0, 12)} → ${r.after.slice(0, 12)}: ${r.commits.length + r.more} commit(s) pulled:`, ...r.commits.map((x) => `- ${x.sha.slice(0, 12)} ${x.date.slice(0, 10)} ${x.author}: ${x.subject}`), ...(r.more ? [`… ${r.more} more`] : [])].join('\n');
          return ok(scrub(text), { before: r.before ?? null, after: r.after, commits: r.commits, more: r.more });
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
    {
      def: {
        name: 'dry_run_playbook',
        title: 'Dry-run a playbook',
        description: `ansible-playbook --check --diff of a playbook on ${c.branch}: what would change, per host, and the PLAY RECAP. A successful dry run allows run_playbook of exactly the same thing for ${c.dryRunValidMinutes} minutes. A playbook with check_mode: false tasks (they run for real even in check mode) needs approval like a write.`,
        inputSchema: runArgsSchema,
        annotations: { title: 'Dry-run a playbook', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      },
      toolClass: 'read',
      source: 'ansible',
      async classFor(args) {
        const a = parseRunArgs(args);
        if (typeof a === 'string') return 'read';
        // A playbook the hub cannot scan is held as a write: the scan is what makes it a read.
        try {
          const scan = await riskyTasksAt(a.name);
          const risky = scan.tasks.length > 0;
          // The call runs these same arguments later, maybe at another commit: remembered so
          // that a call let through as a read does not run a main that gained such a task.
          if (!risky) classifiedRead.set(args, scan.commit);
          return risky ? 'write' : 'read';
        } catch (err) {
          if (isHomelabError(err) && err.code === 'NOT_ON_MAIN') return 'read';
          return 'write';
        }
      },
      async preview(args) {
        const a = parseRunArgs(args);
        if (typeof a === 'string') return { tool: 'dry_run_playbook', where: ['ansible'], action: `dry_run_playbook with arguments it will refuse (${a})`, arguments: args };
        let tasks: CheckModeFalseTask[] = [];
        let why = '';
        try {
          tasks = await riskyTasks(a.name);
        } catch (err) {
          why = ` (its tasks could not be checked for check_mode: false: ${message(err)})`;
        }
        const list = tasks.slice(0, 20).map((t) => `"${oneLine(t.task, 120)}" (${oneLine(t.file)}:${t.line})`).join('; ');
        return {
          tool: 'dry_run_playbook',
          where: ['ansible'],
          action: `Dry-run ${a.name} (--check --diff)${a.limit ? ` on ${a.limit}` : ''}; these tasks have check_mode: false and RUN FOR REAL even in a dry run: ${list}${tasks.length > 20 ? `; … ${tasks.length - 20} more` : ''}${why}`,
          arguments: args,
        };
      },
      async call(args, ctx) {
        const a = parseRunArgs(args);
        if (typeof a === 'string') return fail(`dry_run_playbook: ${a}`);
        try {
          return await execute(a, true, ctx, classifiedRead.get(args));
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
    {
      def: {
        name: 'run_playbook',
        title: 'Run a playbook',
        description: `Runs a playbook of ${c.branch} for real. Only a playbook on ${c.branch} at the clone's commit runs, and only after a successful dry_run_playbook of exactly the same name, inventory, extra_vars, limit and tags in the last ${c.dryRunValidMinutes} minutes: no approval lifts these limits. Reports the PLAY RECAP, the diffs and where the full log is.`,
        inputSchema: runArgsSchema,
        annotations: { title: 'Run a playbook', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
      },
      toolClass: 'write',
      source: 'ansible',
      async preview(args) {
        return { tool: 'run_playbook', where: ['ansible'], action: await runPreview(args).catch((err: unknown) => `run_playbook, which will be refused: ${message(err)}`), arguments: args };
      },
      async call(args, ctx) {
        const a = parseRunArgs(args);
        if (typeof a === 'string') return fail(`run_playbook: ${a}`);
        try {
          return await execute(a, false, ctx);
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
    {
      def: {
        name: 'draft_playbook',
        title: 'Draft a playbook for review',
        description: `Proposes a new or changed playbook: the YAML is parsed and syntax-checked, committed on ${c.draftPrefix}<name> (from ${c.branch}), pushed, and a pull request is opened${c.forge ? '' : ' (no forge is configured: the branch is pushed, no PR)'}. Nothing drafted runs until a person merges it. A second draft of the same name updates the branch and PR.`,
        inputSchema: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'The playbook name (file name without .yml): update-pis.' },
            content: { type: 'string', description: 'The whole playbook, YAML.' },
            description: { type: 'string', description: 'Why and what, for the reviewer (the PR body).' },
          },
          required: ['name', 'content'],
          additionalProperties: false,
        },
        annotations: { title: 'Draft a playbook for review', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
      },
      toolClass: 'write',
      source: 'ansible',
      preview(args) {
        const name = typeof args.name === 'string' ? args.name.replace(/\.ya?ml$/i, '') : '?';
        const lines = typeof args.content === 'string' ? args.content.split('\n').length : 0;
        const bad = badPlaybookName(name);
        if (bad) return { tool: 'draft_playbook', where: ['ansible'], action: `draft_playbook with a name it will refuse (${oneLine(bad)})`, arguments: args };
        return {
          tool: 'draft_playbook',
          where: ['ansible'],
          action: `commit ${repo.pathFor(name)} (${lines} lines, shown in arguments) on branch ${repo.draftBranch(name)} of ${repoLabel}, push it${forge ? ` and open or update a pull request on ${forge.label}` : ''}; nothing runs`,
          arguments: args,
        };
      },
      async call(args, ctx) {
        try {
          return await draft(args, ctx);
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
    {
      def: {
        name: 'list_pending_playbooks',
        title: 'List drafts waiting for review',
        description: 'The open review pull requests of drafted playbooks: name, branch, author, age, checks, URL and diff stat.',
        inputSchema: { type: 'object', properties: {}, additionalProperties: false },
        annotations: { title: 'List drafts waiting for review', ...READ, openWorldHint: true },
      },
      toolClass: 'read',
      source: 'ansible',
      async call(_args, ctx) {
        try {
          return await pending(ctx);
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
    {
      def: {
        name: 'promote_playbook',
        title: 'Merge a reviewed draft',
        description: `Merges a draft's pull request into ${c.branch} through the forge (refused when the forge says it is not mergeable, or ${c.branch} moved and the draft needs a rebase), then fast-forwards the hub's clone.`,
        inputSchema: { type: 'object', properties: { name: { type: 'string', description: 'The drafted playbook.' } }, required: ['name'], additionalProperties: false },
        annotations: { title: 'Merge a reviewed draft', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
      },
      toolClass: 'write',
      source: 'ansible',
      async preview(args) {
        const name = typeof args.name === 'string' ? args.name.replace(/\.ya?ml$/i, '') : '?';
        const bad = badPlaybookName(name);
        if (bad) return { tool: 'promote_playbook', where: ['ansible'], action: `promote_playbook with a name it will refuse (${oneLine(bad)})`, arguments: args };
        let pr = '';
        if (forge && !badPlaybookName(name)) {
          const found = await forge.findOpen(repo.draftBranch(name)).catch(() => undefined);
          if (found) pr = ` PR #${found.number} "${oneLine(found.title, 100)}" (${oneLine(found.url, 300)}, head ${oneLine(found.headSha, 12)})`;
        }
        return { tool: 'promote_playbook', where: ['ansible'], action: `merge${pr || ` the review PR of ${repo.draftBranch(name)}`} into ${c.branch} of ${repoLabel}${forge ? ` on ${forge.label}` : ''}, then fast-forward the hub's clone`, arguments: args };
      },
      async call(args, ctx) {
        try {
          return await promote(args, ctx);
        } catch (err) {
          return fail(scrub(message(err)));
        }
      },
    },
  ];

  async function draft(args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> {
    const unknown = Object.keys(args).filter((k) => !['name', 'content', 'description'].includes(k));
    if (unknown.length) return fail(`draft_playbook: unknown argument(s) ${unknown.map((k) => `"${k}"`).join(', ')} (expected: name, content, description)`);
    const { name: given, content, description } = args;
    if (typeof given !== 'string' || !given) return fail('draft_playbook: argument "name" is required (the playbook name, e.g. update-pis)');
    // `update-pis.yml` names the playbook update-pis, as in run_playbook (not update-pis.yml.yml).
    const name = given.replace(/\.ya?ml$/i, '');
    const bad = badPlaybookName(name);
    if (bad) return fail(`draft_playbook: argument "name": ${bad}`);
    if (typeof content !== 'string' || !content.trim()) return fail('draft_playbook: argument "content" is required (the playbook as YAML)');
    if (content.length > MAX_CONTENT) return fail(`draft_playbook: argument "content" is longer than ${MAX_CONTENT / 1024} KiB`);
    if (description !== undefined && (typeof description !== 'string' || description.length > 20_000)) return fail('draft_playbook: argument "description": expected text of at most 20,000 characters');
    // YAML first: a broken draft is refused with the line, before anything is committed.
    const { parseDocument } = await import('yaml');
    const doc = parseDocument(content, { prettyErrors: true });
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      return fail(`draft_playbook: the content is not valid YAML: line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, { status: 'refused', line: e.linePos?.[0]?.line ?? null });
    }
    if (!playsOf(content)) return fail('draft_playbook: the content is not a playbook: expected a YAML list of plays, each with hosts (or import_playbook)');
    // Unreviewed content: nothing in it may make the hub read a file outside the repo, or
    // evaluate a template, while the syntax check parses it (see draft-check.ts).
    const problems = draftPathProblems(content);
    if (problems.length) return fail(`draft_playbook: refused, the draft names files the hub will not load for an unreviewed draft: ${problems.join('; ')}. Use relative paths inside the repo, without Jinja.`, { status: 'refused', problems });
    const hidden = hiddenJinja(content);
    if (hidden.length) return fail(`draft_playbook: refused, the draft holds Jinja that only appears once YAML reads it, which the hub would evaluate while checking it: ${hidden.join('; ')}. Write Jinja as plain {{ ... }} text.`, { status: 'refused', problems: hidden });
    return serial(async () => {
      await repo.ensure(ctx.signal);
      await repo.fetch(ctx.signal);
      const main = (await repo.revParse(`refs/remotes/origin/${c.branch}`, ctx.signal))!;
      const existing = await repo.revParse(repo.draftRef(name), ctx.signal);
      // A second draft updates the branch: on top of it (a reviewer's commits stay) while it
      // still contains main; rebuilt on main when main moved (the draft is then rebased).
      const onTop = existing !== undefined && (await repo.isAncestor(main, existing, ctx.signal));
      const parent = onTop ? existing! : main;
      const onMain = (await repo.playbooks(ctx.signal)).find((p) => p.name === name);
      const path = onMain?.path ?? repo.pathFor(name);
      if (!onMain) {
        // A file of main that is not a playbook (an inventory, a vars file) is not replaced by a draft's playbook.
        const there = await repo.show(main, path, ctx.signal);
        if (there !== undefined && !playsOf(there)) return fail(`draft_playbook: ${path} is already a file of ${c.branch} and not a playbook (an inventory or vars file?); choose another name`, { status: 'refused' });
      }
      const user = ctx.caller.user;
      let commit = await repo.commitFile(parent, path, content.endsWith('\n') ? content : `${content}\n`, `${onMain ? 'Update' : 'Add'} playbook ${name} (drafted through homelab-mcp for ${user})\n\n${(typeof description === 'string' ? description : '').slice(0, 2000)}`, ctx.signal);
      // The branch already holds exactly this, but its pull request may be missing (opening it
      // failed last time): then this draft opens it rather than saying there is nothing to do.
      if (!commit && onTop && forge && !(await forge.findOpen(repo.draftBranch(name), ctx.signal))) commit = existing;
      if (!commit) return fail(`draft_playbook: ${path} on ${onTop ? repo.draftBranch(name) : c.branch} already has exactly this content; nothing to draft`);
      const check = await repo.withCheckout(commit, (dir) => (writeFileSync(join(dir, path), inertCopy(content)), syntaxCheck({ cwd: dir, playbook: path, inventory: c.inventory, knownHostsFile, timeoutMs: 120_000, signal: ctx.signal, ...(o.secretVars ? { secretVars: o.secretVars } : {}), ...(c.vaultPasswordFile ? { vaultPasswordFile: c.vaultPasswordFile } : {}) })), ctx.signal);
      if (!check.ok) return fail(`draft_playbook: ansible-playbook --syntax-check refused the draft${check.line ? ` (line ${check.line})` : ''}: ${check.error}`, { status: 'refused', ...(check.line ? { line: check.line } : {}), error: check.error });
      const branch = repo.draftBranch(name);
      // The forge first: when it refuses (a wrong token), nothing is pushed and the answer is whole.
      const found = forge ? await forge.findOpen(branch, ctx.signal) : undefined;
      await repo.pushDraft(name, commit, existing, ctx.signal);
      const risky = await repo.withCheckout(commit, (dir) => checkModeFalseTasks(dir, path), ctx.signal).catch(() => []);
      const body = [
        typeof description === 'string' && description.trim() ? description.trim() : '(no description given)',
        '',
        '---',
        `Drafted through homelab-mcp for **${user}**${onMain ? ` (changes \`${path}\`, which is on ${c.branch})` : ` (new playbook \`${path}\`)`}.`,
        `\`ansible-playbook --syntax-check\`: passed at ${commit.slice(0, 12)}.`,
        ...(risky.length ? [`⚠️ Tasks with \`check_mode: false\` (they run for real even in a dry run): ${risky.map((t) => `\`${t.task}\` (${t.file}:${t.line})`).join(', ')}`] : []),
        `Nothing here runs until this is merged into ${c.branch}.`,
      ].join('\n');
      const title = `Playbook ${name}: ${onMain ? 'update' : 'new'} (draft by ${user})`;
      if (!forge) {
        return ok(`Pushed ${path} to branch ${branch} at ${commit.slice(0, 12)} (syntax check passed). No forge is configured (ansible.forge), so no pull request was opened: a person reviews and merges the branch into ${c.branch}.`, { branch, commit, path, pr: null });
      }
      const updated = found !== undefined;
      let pr: PullRequest;
      try {
        pr = found ? await forge.update(found.number, { title, body }, ctx.signal) : await forge.create({ branch, base: c.branch, title, body }, ctx.signal);
      } catch (err) {
        return fail(scrub(`draft_playbook: pushed ${path} to branch ${branch} at ${commit.slice(0, 12)} (syntax check passed), but ${updated ? `updating pull request #${found!.number}` : 'opening the pull request'} failed: ${message(err)}. Draft it again to retry, or open the pull request by hand.`), { status: 'pushed_without_pr', branch, commit, path });
      }
      return ok(
        `${updated ? 'Updated' : 'Opened'} pull request #${pr.number}: ${oneLine(pr.url, 300)}\nBranch ${branch} at ${commit.slice(0, 12)}${onTop && updated ? ' (on top of the branch)' : existing && !onTop ? ` (rebuilt on ${c.branch}, which had moved)` : ''}; syntax check passed.${risky.length ? `\nNote: ${risky.length} task(s) have check_mode: false: a dry run of this playbook will need approval.` : ''}\nA person reviews and merges it (or approves promote_playbook); only then can it run.`,
        { branch, commit, path, pr: { number: pr.number, url: pr.url }, updated },
      );
    });
  }

  async function pending(ctx: CallContext): Promise<CallToolResult> {
    await repo.ensure(ctx.signal);
    await serial(() => repo.fetch(ctx.signal));
    const main = `refs/remotes/origin/${c.branch}`;
    const t = now();
    if (!forge) {
      const drafts = await repo.draftBranches(ctx.signal);
      const rows = [];
      for (const d of drafts) rows.push({ name: d.name, branch: repo.draftBranch(d.name), author: d.author, age: age(d.date, t), diffStat: await repo.diffStat(main, d.sha, ctx.signal).catch(() => '?'), pr: null });
      const text = [`${rows.length} draft branch(es); no forge is configured (ansible.forge), so there are no pull requests:`, ...rows.map((r) => `- ${oneLine(r.name)} (${oneLine(r.branch)}) by ${oneLine(r.author, 100)}, ${r.age} old: ${r.diffStat}`)].join('\n');
      return ok(scrub(text), { pending: rows });
    }
    const open = (await forge.listOpen({ max: MAX_PENDING, signal: ctx.signal })).filter((p) => p.branch.startsWith(c.draftPrefix));
    const rows = [];
    for (const p of open) {
      const name = p.branch.slice(c.draftPrefix.length);
      const checks = await forge.checks(p.headSha, ctx.signal).catch(() => ({ state: 'none' as const, total: 0 }));
      const diffStat = await repo.diffStat(main, repo.draftRef(name), ctx.signal).catch(() => 'branch not fetched');
      rows.push({ name, branch: p.branch, number: p.number, title: p.title, author: p.author, age: age(p.createdAt, t), createdAt: p.createdAt, checks: checks.state === 'none' ? 'none' : `${checks.state} (${checks.total})`, url: p.url, diffStat, mergeable: p.mergeable });
    }
    const text = rows.length
      ? [`${rows.length} draft(s) waiting for review on ${forge.label}:`, ...rows.map((r) => `- ${oneLine(r.name)}: #${r.number} "${oneLine(r.title)}" by ${oneLine(r.author, 100)}, ${r.age} old, checks ${r.checks}, ${r.diffStat}: ${oneLine(r.url, 300)}`)].join('\n')
      : `No draft waits for review on ${forge.label}.`;
    return ok(scrub(text), { pending: rows });
  }

  async function promote(args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> {
    const unknown = Object.keys(args).filter((k) => k !== 'name');
    if (unknown.length) return fail(`promote_playbook: unknown argument(s) ${unknown.map((k) => `"${k}"`).join(', ')} (expected: name)`);
    if (typeof args.name !== 'string' || !args.name) return fail('promote_playbook: argument "name" is required (the drafted playbook)');
    const name = args.name.replace(/\.ya?ml$/i, '');
    const bad = badPlaybookName(name);
    if (bad) return fail(`promote_playbook: argument "name": ${bad}`);
    if (!forge) return fail(`promote_playbook: promotion merges the draft's pull request, and no forge is configured (ansible.forge: { type: github | gitea, url, repo, token }). Without one, a person merges ${repo.draftBranch(name)} into ${c.branch} and then calls refresh_inventory.`);
    const branch = repo.draftBranch(name);
    const pr: PullRequest | undefined = await forge.findOpen(branch, ctx.signal);
    if (!pr) return fail(`promote_playbook: there is no open pull request for ${branch} on ${forge.label} (list_pending_playbooks shows the drafts)`);
    // Only a merge into the branch that runs is a promotion; a PR into another branch is not ours to merge.
    if (pr.base !== c.branch) return fail(`promote_playbook: the pull request of ${branch} (#${pr.number}, ${oneLine(pr.url, 300)}) is into ${oneLine(pr.base, 100)}, not ${c.branch} (ansible.branch); it is not merged`, { status: 'refused' });
    return serial(() =>
      repo.lock.write(async () => {
        await repo.ensure(ctx.signal);
        await repo.fetch(ctx.signal);
        const main = (await repo.revParse(`refs/remotes/origin/${c.branch}`, ctx.signal))!;
        const head = await repo.revParse(repo.draftRef(name), ctx.signal);
        if (!head) return fail(`promote_playbook: the branch ${branch} is gone from the repo`);
        if (head !== pr.headSha) return fail(`promote_playbook: ${branch} moved while this was asked (the PR says ${pr.headSha.slice(0, 12)}, the repo ${head.slice(0, 12)}); look at it again (list_pending_playbooks) before promoting`);
        if (!(await repo.isAncestor(main, head, ctx.signal))) {
          return fail(`promote_playbook: ${c.branch} moved since this draft (${c.branch} is at ${main.slice(0, 12)}, which ${branch} does not contain): the PR needs a rebase. Draft it again (draft_playbook with the same name rebuilds it on ${c.branch}) or rebase the branch, and have it reviewed again.`, { status: 'needs_rebase' });
        }
        const fresh = await forge.get(pr.number, ctx.signal);
        if (fresh.state !== 'open') return fail(`promote_playbook: PR #${pr.number} is ${fresh.merged ? 'already merged' : 'closed'}`);
        if (fresh.mergeable === false) return fail(`promote_playbook: ${forge.label} says PR #${pr.number} is not mergeable (a conflict, or branch protection such as required reviews or checks): ${fresh.url}`, { status: 'not_mergeable' });
        await forge.merge(pr.number, { headSha: head, title: `Merge playbook ${name} (${branch}) through homelab-mcp for ${ctx.caller.user}` }, ctx.signal);
        const r = await repo.refreshUnlocked(ctx.signal);
        riskCache.clear();
        ctx.auditDetail?.({ pr: pr.number, branch, headSha: head, mergedInto: c.branch, commit: r.after });
        return ok(`Merged PR #${pr.number} (${oneLine(pr.url, 300)}) into ${c.branch}; the hub's clone is now at ${r.after.slice(0, 12)}. ${name} can now be dry-run (dry_run_playbook), then run.`, { pr: pr.number, url: pr.url, commit: r.after });
      }),
    );
  }

  type DraftSyntax = PlaybookDraftView['syntax'];
  // Syntax checks of drafts, per commit and path, so that a page view does not run Ansible each
  // time; one at a time (each is a Python process), each under its own deadline rather than the
  // page's, so that a check a closed page started still serves the next view.
  interface DraftCheck {
    result: Promise<DraftSyntax>;
    /** Set once the check is done (a later view answers at once, whatever its wait). */
    done?: DraftSyntax;
  }
  const draftChecks = new Map<string, DraftCheck>();
  let checkQueue: Promise<unknown> = Promise.resolve();

  /** What draft_playbook checks before it commits, then `--syntax-check` on an inert copy, at `commit`. */
  async function checkDraftAt(commit: string, path: string): Promise<{ syntax: DraftSyntax; keep: boolean }> {
    const signal = AbortSignal.timeout(120_000);
    const main = `refs/remotes/origin/${c.branch}`;
    // A branch pushed by hand may change more than its playbook; the hub parses no other
    // unreviewed file (a task file imported while parsing could template a lookup on the hub).
    const others = (await repo.changedPaths(main, commit, signal)).filter((f) => f !== path);
    if (others.length) return { keep: true, syntax: { ok: false, error: `not checked: the branch also changes ${others.slice(0, 5).join(', ')}${others.length > 5 ? ` and ${others.length - 5} more` : ''}; the hub syntax-checks a draft only when it changes nothing but ${path}` } };
    const content = await repo.show(commit, path, signal);
    if (content === undefined) return { keep: true, syntax: { ok: false, error: `${path} is not in the branch at ${commit.slice(0, 12)}` } };
    const { parseDocument } = await import('yaml');
    const doc = parseDocument(content, { prettyErrors: true });
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line;
      return { keep: true, syntax: { ok: false, error: `not valid YAML: line ${line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, ...(line ? { line } : {}) } };
    }
    if (!playsOf(content)) return { keep: true, syntax: { ok: false, error: 'not a playbook: expected a YAML list of plays, each with hosts (or import_playbook)' } };
    const problems = [...draftPathProblems(content), ...hiddenJinja(content)];
    if (problems.length) return { keep: true, syntax: { ok: false, error: `not checked: the draft names files, or holds Jinja, that the hub will not load for an unreviewed draft: ${problems.slice(0, 5).join('; ')}` } };
    const r = await repo.withCheckout(commit, (dir) => (writeFileSync(join(dir, path), inertCopy(content)), syntaxCheck({ cwd: dir, playbook: path, inventory: c.inventory, knownHostsFile, timeoutMs: 110_000, signal, ...(o.secretVars ? { secretVars: o.secretVars } : {}), ...(c.vaultPasswordFile ? { vaultPasswordFile: c.vaultPasswordFile } : {}) })), signal);
    if (r.ok) return { keep: true, syntax: { ok: true } };
    // A timeout says nothing about the draft: the next view tries again.
    const stopped = signal.aborted || /^ansible-playbook --syntax-check (timed out|was cancelled)$/.test(r.error);
    return { keep: !stopped, syntax: { ok: false, error: scrub(r.error), ...(r.line ? { line: r.line } : {}) } };
  }

  function draftSyntax(commit: string, path: string, signal: AbortSignal, budget: Promise<void>): Promise<DraftSyntax> {
    const key = `${commit}\u0000${path}`;
    let entry = draftChecks.get(key);
    if (!entry) {
      const run = checkQueue.then(() => checkDraftAt(commit, path));
      checkQueue = run.catch(() => undefined);
      const e: DraftCheck = {
        result: run.then(
          (r) => {
            if (r.keep) e.done = r.syntax;
            else draftChecks.delete(key);
            return r.syntax;
          },
          (err: unknown): DraftSyntax => {
            draftChecks.delete(key);
            return { ok: false, error: `could not be checked: ${scrub(message(err))}` };
          },
        ),
      };
      if (draftChecks.size >= MAX_DRAFT_CHECKS) draftChecks.delete(draftChecks.keys().next().value!);
      draftChecks.set(key, (entry = e));
    }
    if (entry.done) return Promise.resolve(entry.done);
    const running: DraftSyntax = { ok: false, pending: true, error: 'the syntax check is still running; reload the page in a few seconds' };
    const cancelled = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new HomelabError('CANCELLED', 'cancelled'));
      signal.addEventListener('abort', () => reject(new HomelabError('CANCELLED', 'cancelled')), { once: true });
    });
    cancelled.catch(() => undefined);
    return Promise.race([entry.result, budget.then(() => running), cancelled]);
  }

  /** The secret-named values of `path` at `rev` (the diff loses them as get_playbook does). */
  async function yamlSecrets(rev: string, path: string, signal: AbortSignal): Promise<Set<string>> {
    try {
      return secretValuesOf(parseYaml((await repo.show(rev, path, signal)) ?? '', { maxAliasCount: 100 }));
    } catch {
      return new Set();
    }
  }

  /** One draft for the Playbooks page: its diff against main, masked and cut, and its syntax check. */
  async function draftView(name: string, sha: string | undefined, base: Omit<PlaybookDraftView, 'name' | 'branch' | 'commit' | 'diff' | 'cut' | 'syntax'> & { commit?: string }, signal: AbortSignal, budget: Promise<void>): Promise<PlaybookDraftView> {
    const branch = repo.draftBranch(name);
    const head = { name: oneLine(name, 100), branch: oneLine(branch, 200), commit: sha ?? base.commit ?? '', author: base.author, ...(base.createdAt ? { createdAt: base.createdAt } : {}), ...(base.pr ? { pr: base.pr } : {}) };
    if (!sha) return { ...head, diff: '', cut: false, syntax: { ok: false, error: `the branch ${oneLine(branch, 200)} is not in the playbook repo (a pull request from a fork?)` } };
    const bad = badPlaybookName(name);
    const main = `refs/remotes/origin/${c.branch}`;
    try {
      const { diff, cut } = await repo.diff(main, sha, MAX_DRAFT_DIFF_BYTES, signal);
      const path = bad ? undefined : ((await repo.playbooks(signal)).find((p) => p.name === name)?.path ?? repo.pathFor(name));
      const secrets = path ? new Set([...(await yamlSecrets(sha, path, signal)), ...(await yamlSecrets(main, path, signal))]) : new Set<string>();
      const syntax: DraftSyntax = path ? await draftSyntax(sha, path, signal, budget) : { ok: false, error: `the branch does not name a playbook: ${bad}` };
      return { ...head, diff: scrub(scrubValues(maskDiff(diff), secrets)), cut, syntax };
    } catch (err) {
      if (signal.aborted) throw err;
      return { ...head, diff: '', cut: false, syntax: { ok: false, error: `could not be read: ${scrub(message(err))}` } };
    }
  }

  /** The Playbooks page's list: the pending drafts, each with its diff and syntax check. */
  async function drafts(signal: AbortSignal): Promise<PlaybookDrafts> {
    let label = `${repoLabel}${forge ? `, PRs on ${forge.label}` : ', no forge (drafts are branches only)'}`;
    // One wait for all the checks this view has to start: a check done before then is shown,
    // later ones say they are running (and are cached for the next view when they finish).
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, o.draftCheckWaitMs ?? 4000);
    });
    try {
      const head = await repo.ensure(signal);
      label = `${c.branch} at ${head.slice(0, 12)}${forge ? `, PRs on ${forge.label}` : ', no forge (drafts are branches only)'}`;
      await serial(() => repo.fetch(signal));
      const out: PlaybookDraftView[] = [];
      if (!forge) {
        for (const d of await repo.draftBranches(signal)) out.push(await draftView(d.name, d.sha, { author: oneLine(d.author, 100), createdAt: d.date }, signal, budget));
        return { repo: scrub(label), drafts: out };
      }
      const open = (await forge.listOpen({ max: MAX_PENDING, signal })).filter((p) => p.branch.startsWith(c.draftPrefix));
      for (const p of open) {
        const name = p.branch.slice(c.draftPrefix.length);
        const checks = await forge.checks(p.headSha, signal).then(
          (x) => (x.state === 'none' ? 'none' : `${x.state} (${x.total})`),
          () => 'unknown (the forge did not say)',
        );
        const sha = await repo.revParse(repo.draftRef(name), signal);
        out.push(await draftView(name, sha, { author: oneLine(p.author, 100), createdAt: p.createdAt, commit: p.headSha, pr: { number: p.number, url: scrub(oneLine(p.url, 500)), title: scrub(oneLine(p.title)), checks, mergeable: p.mergeable } }, signal, budget));
      }
      return { repo: scrub(label), drafts: out };
    } catch (err) {
      if (signal.aborted) throw err;
      return { repo: scrub(label), drafts: [], error: scrub(message(err)) };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    tools,
    rule,
    repo,
    /** For service_health: is the clone there and the forge answering? */
    async health(signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
      try {
        const head = await repo.ensure(signal);
        return { ok: true, detail: `${c.branch} at ${head.slice(0, 12)}${forge ? `, PRs on ${forge.label}` : ', no forge (drafts are branches only)'}` };
      } catch (err) {
        return { ok: false, detail: scrub(message(err)) };
      }
    },
    /**
     * The drafts waiting for review, for the admin UI's Playbooks page: with a forge its open
     * PRs on the draft prefix, else the draft branches; each with its diff against main and its
     * syntax check (cached per commit). A forge or remote that fails gives `error`.
     *
     * @example const { drafts: list } = await ansible.drafts(signal); list[0].syntax // { ok: true }
     */
    drafts,
    /** Secret-named arguments are redacted by the journal; these values also never leave. */
    secretValues: secretConfig,
    isSecretVar,
    REDACTED,
  };
}

export type AnsibleService = ReturnType<typeof createAnsibleService>;
