/**
 * ansible-playbook runs for the review queue (issue #13): dry and live runs with a recap, the
 * diffs and failures bounded, host key refusals explained, a full log kept; syntax checks; the
 * hosts a play would touch; and the scan for tasks that run for real in check mode
 * (`check_mode: false`, in check-mode-scan.ts).
 *
 * Everything read back from Ansible is scrubbed before it leaves: the caller's secret values,
 * the values of secret-named extra vars and the vault password are cut out, then the hub's
 * redaction patterns (`password: …`, tokens, keys) run on what remains.
 */
import { closeSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import { HomelabError } from '@homelab-mcp/core';
import { capString, redactText } from '@homelab-mcp/core/redact';
import { isSecretKey, REDACTED } from '@homelab-mcp/core/secret-keys';
import type { AnsibleRunBase, HostRecap, PlaybookRunOptions, PlaybookRunResult, TaskChange } from './contract.ts';
import { hostKeyProblem } from './host-keys.ts';
import { secretForms } from './mask.ts';
import { spawnAnsiblePlaybook } from './process.ts';

export { hostKeyMessage } from './host-keys.ts';
export { checkModeFalseTasks } from './check-mode-scan.ts';

/** Bounds of what a run returns; the log file has everything (up to {@link MAX_LOG_BYTES}). */
export const RUN_LIMITS = { changes: 20, diffChars: 4096, diffTotalChars: 40 * 1024, failures: 20, messageChars: 1000, errorChars: 2000, hostKeyScans: 10 } as const;
/** The log file stops growing here (a marker says so): a run printing without end cannot fill the disk. */
export const MAX_LOG_BYTES = 8 * 1024 * 1024;

/** Text cut to `max` characters with a line saying how much more there was. */
function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}\n… ${s.length - max} more characters`;
}

/** String values under secret-named keys (`db_password`, `api_token`, `ssh_key`), at any depth. */
function secretLeaves(v: unknown, underSecret: boolean, out: string[], depth = 0): void {
  if (depth > 12 || out.length > 1000) return;
  if (typeof v === 'string' || typeof v === 'number') {
    if (underSecret) out.push(String(v));
  } else if (Array.isArray(v)) for (const x of v) secretLeaves(x, underSecret, out, depth + 1);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) secretLeaves(x, underSecret || isSecretKey(k), out, depth + 1);
}

/**
 * A function that cuts `values` (and their JSON-escaped forms) out of text, then applies the
 * hub's redaction patterns. Values under 4 characters are not cut: replacing every `ab` would
 * make the text unreadable and hide nothing worth hiding.
 *
 * @example createScrubber(['hunter22'])('pw is hunter22') // 'pw is [REDACTED]'
 */
export function createScrubber(values: readonly string[]): (s: string) => string {
  const list = secretForms(values);
  return (s: string) => {
    for (const v of list) if (s.includes(v)) s = s.split(v).join(REDACTED);
    return redactText(s, 1024 * 1024);
  };
}

/** The secret values of a run: the caller's, secret-named extra vars, the vault password. */
function runSecrets(o: AnsibleRunBase & { extraVars?: Record<string, unknown> }): string[] {
  const values = [...(o.secretValues ?? [])];
  secretLeaves(o.extraVars ?? {}, false, values);
  if (o.vaultPasswordFile) {
    try {
      const pw = readFileSync(o.vaultPasswordFile, 'utf8').slice(0, 4096);
      // An executable vault password file prints the password instead; its text is no secret.
      if (!pw.startsWith('#!')) values.push(pw.trim());
    } catch {
      // ansible-playbook says so itself
    }
  }
  return values;
}

/** Ansible's own error in its output: from `ERROR!` on, else the last lines; paths relative to cwd. */
function ansibleError(text: string, cwd: string): string {
  const lines = text.split('\n').filter((l) => !/^\[(WARNING|DEPRECATION WARNING)\]/.test(l));
  let from = lines.findIndex((l) => l.startsWith('ERROR!'));
  if (from < 0) from = Math.max(0, lines.length - 12);
  return lines.slice(from).join('\n').split(`${cwd.replace(/\/+$/, '')}/`).join('').trim();
}

interface HostEvent {
  e: 'host';
  status: 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';
  host: string;
  task: string;
  msg?: string;
  ignored?: boolean;
  address?: string;
  port?: string;
}
type RunEvent =
  | { e: 'play'; name: string }
  | { e: 'task'; name: string; handler?: boolean }
  | HostEvent
  | { e: 'diff'; host: string; task: string; text: string }
  | { e: 'warning'; msg: string }
  | { e: 'stats'; hosts: Record<string, { ok: number; changed: number; unreachable: number; failures: number; skipped: number; rescued: number; ignored: number }> };

/** The 0600 log of a run, scrubbed line by line, bounded. */
function openLog(path: string, scrub: (s: string) => string) {
  let fd: number;
  try {
    fd = openSync(path, 'w', 0o600);
  } catch (err) {
    throw new HomelabError('ANSIBLE_FAILED', `cannot write the run log ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  // An existing file keeps its mode through open(); the log may hold what secrets we missed.
  fchmodSync(fd, 0o600);
  let bytes = 0;
  let full = false;
  return {
    line(text: string) {
      if (full) return;
      const b = Buffer.from(`${scrub(text)}\n`);
      if (bytes + b.length > MAX_LOG_BYTES) {
        full = true;
        writeSync(fd, `… log cut at ${MAX_LOG_BYTES} bytes\n`);
        return;
      }
      bytes += b.length;
      writeSync(fd, b);
    },
    close: () => closeSync(fd),
  };
}

/**
 * Runs `ansible-playbook -i INV PLAYBOOK [--check] --diff …` and reads its events as they come:
 * `onTask` per task started, the recap, changes (diffs), failures, host key refusals (with the
 * key the host offers, for {@link hostKeyMessage}). Resolves also when a task failed, a host was
 * unreachable, the deadline passed or the run was cancelled (see `exitCode`, `timedOut`,
 * `cancelled`, `error`); rejects only when ansible-playbook cannot start.
 *
 * @example
 * const r = await runPlaybook({ cwd: clone, playbook: 'site.yml', inventory: 'hosts.ini', knownHostsFile, check: true, logFile, timeoutMs: 600_000 });
 * r.recap['pi1']?.changed // 1
 */
export async function runPlaybook(opts: PlaybookRunOptions): Promise<PlaybookRunResult> {
  const started = performance.now();
  const scrub = createScrubber(runSecrets(opts));
  const log = openLog(opts.logFile, scrub);
  let play = '';
  let task = '';
  let taskCount = 0;
  let stats: Extract<RunEvent, { e: 'stats' }>['hosts'] | undefined;
  const changes: TaskChange[] = [];
  let changesOmitted = 0;
  let diffChars = 0;
  const diffed = new Set<string>();
  const failures: PlaybookRunResult['failures'] = [];
  let failuresOmitted = 0;
  const refused = new Map<string, HostEvent>();

  const addChange = (host: string, taskName: string, diff: string) => {
    const text = cut(scrub(diff), RUN_LIMITS.diffChars);
    if (changes.length >= RUN_LIMITS.changes || diffChars + text.length > RUN_LIMITS.diffTotalChars) {
      changesOmitted++;
      return;
    }
    diffChars += text.length;
    changes.push({ host: scrub(host), task: scrub(taskName), diff: text });
  };

  const onEvent = (line: string) => {
    let ev: RunEvent;
    try {
      ev = JSON.parse(line) as RunEvent;
    } catch {
      log.line(line.slice(0, 4096));
      return;
    }
    switch (ev.e) {
      case 'play':
        play = ev.name;
        log.line(`\nPLAY [${ev.name}]`);
        break;
      case 'task':
        task = ev.name;
        taskCount++;
        log.line(`\n${ev.handler ? 'RUNNING HANDLER' : 'TASK'} [${ev.name}]`);
        try {
          opts.onTask?.({ index: taskCount, play: scrub(play), task: scrub(ev.name) });
        } catch {
          // a progress listener's failure is not the run's
        }
        break;
      case 'diff':
        log.line(ev.text.trimEnd());
        diffed.add(`${taskCount}\0${ev.host}`);
        addChange(ev.host, ev.task, ev.text);
        break;
      case 'host': {
        const msg = ev.msg ? `: ${ev.msg}` : '';
        if (ev.status === 'failed') log.line(`fatal: [${ev.host}]: FAILED!${ev.ignored ? ' (ignored)' : ''}${msg}`);
        else if (ev.status === 'unreachable') log.line(`fatal: [${ev.host}]: UNREACHABLE!${msg}`);
        else if (ev.status === 'skipped') log.line(`skipping: [${ev.host}]`);
        else log.line(`${ev.status}: [${ev.host}]${msg}`);
        // A changed task without a diff (a command, a service restart) is still a change to show.
        if (ev.status === 'changed' && !diffed.has(`${taskCount}\0${ev.host}`)) addChange(ev.host, ev.task, '');
        if ((ev.status === 'failed' && !ev.ignored) || ev.status === 'unreachable') {
          if (failures.length < RUN_LIMITS.failures) failures.push({ host: scrub(ev.host), task: scrub(ev.task || task), message: cut(scrub(ev.msg ?? ''), RUN_LIMITS.messageChars), unreachable: ev.status === 'unreachable' });
          else failuresOmitted++;
        }
        if (ev.status === 'unreachable' && ev.msg && !refused.has(ev.host) && refused.size < RUN_LIMITS.hostKeyScans) refused.set(ev.host, ev);
        break;
      }
      case 'warning':
        log.line(`[WARNING]: ${ev.msg}`);
        break;
      case 'stats':
        stats = ev.hosts;
        log.line('\nPLAY RECAP');
        for (const [h, s] of Object.entries(ev.hosts)) {
          log.line(`${h} : ok=${s.ok} changed=${s.changed} unreachable=${s.unreachable} failed=${s.failures} skipped=${s.skipped} rescued=${s.rescued} ignored=${s.ignored}`);
        }
        break;
    }
  };

  const args = [...(opts.check ? ['--check'] : []), '--diff'];
  if (opts.limit) args.push('-l', opts.limit);
  if (opts.tags?.length) args.push('-t', opts.tags.join(','));
  let exit;
  try {
    exit = await spawnAnsiblePlaybook({
      base: opts,
      args,
      extraVars: opts.extraVars ?? {},
      onEvent,
      onStart: (argv) => log.line(`# ${argv.join(' ')}\n# ${opts.check ? 'check mode (dry run)' : 'live run'}, started ${new Date().toISOString()}`),
    });
  } catch (err) {
    log.close();
    throw err;
  }

  const hostKeyProblems = (
    await Promise.all([...refused.values()].map((ev) => hostKeyProblem(ev.host, ev.msg ?? '', ev.address ?? ev.host, ev.port)))
  ).filter((p) => p !== undefined);

  const recap: Record<string, HostRecap> = {};
  for (const [h, s] of Object.entries(stats ?? {})) recap[scrub(h)] = { ok: s.ok, changed: s.changed, unreachable: s.unreachable, failed: s.failures, skipped: s.skipped, rescued: s.rescued, ignored: s.ignored };

  let error: string | undefined;
  if (exit.timedOut) error = `ansible-playbook timed out after ${Math.round(opts.timeoutMs / 1000)} s; the run was stopped`;
  else if (exit.cancelled) error = 'ansible-playbook was cancelled; the run was stopped';
  else if (!stats || (exit.exitCode !== 0 && exit.exitCode !== 2 && exit.exitCode !== 4)) {
    const text = ansibleError(exit.stderr.trim() || exit.stdout, opts.cwd);
    error = capString(scrub(text || `ansible-playbook exited with ${exit.exitCode ?? 'a signal'}`), RUN_LIMITS.errorChars);
  }

  if (exit.stderr.trim()) log.line(`\n--- stderr ---\n${exit.stderr.trim()}`);
  if (exit.stdout.trim()) log.line(`\n--- stdout ---\n${exit.stdout.trim()}`);
  log.line(`\n# exit ${exit.exitCode ?? 'signal'}${exit.timedOut ? ' (timed out)' : ''}${exit.cancelled ? ' (cancelled)' : ''}`);
  log.close();

  return {
    exitCode: exit.exitCode,
    timedOut: exit.timedOut,
    cancelled: exit.cancelled,
    recap,
    changes,
    ...(changesOmitted ? { changesOmitted } : {}),
    failures,
    ...(failuresOmitted ? { failuresOmitted } : {}),
    hostKeyProblems,
    taskCount,
    logFile: opts.logFile,
    durationMs: Math.round(performance.now() - started),
    ...(error ? { error } : {}),
  };
}

/**
 * `ansible-playbook --syntax-check`: ok, or Ansible's error (cut, paths relative to cwd) with
 * the file and line it names.
 *
 * @example
 * await syntaxCheck(base) // { ok: false, error: "ERROR! … The error appears to be in 'site.yml': line 4, column 7 …", file: 'site.yml', line: 4 }
 */
export async function syntaxCheck(base: AnsibleRunBase): Promise<{ ok: true } | { ok: false; error: string; line?: number; file?: string }> {
  const scrub = createScrubber(runSecrets(base));
  const exit = await spawnAnsiblePlaybook({ base, args: ['--syntax-check'] });
  if (exit.exitCode === 0 && !exit.timedOut && !exit.cancelled) return { ok: true };
  if (exit.timedOut || exit.cancelled) return { ok: false, error: `ansible-playbook --syntax-check ${exit.timedOut ? 'timed out' : 'was cancelled'}` };
  const text = ansibleError(exit.stderr.trim() || exit.stdout, base.cwd);
  const where = /appears to be in '([^']+)': line (\d+)/.exec(text);
  const line = where ? Number(where[2]) : undefined;
  return { ok: false, error: capString(scrub(text || `ansible-playbook --syntax-check exited with ${exit.exitCode ?? 'a signal'}`), RUN_LIMITS.errorChars), ...(line ? { line } : {}), ...(where ? { file: scrub(where[1]!) } : {}) };
}

/** Most hosts {@link listHosts} returns. */
export const MAX_LISTED_HOSTS = 5000;

/**
 * The hosts the playbook's plays would touch (`ansible-playbook --list-hosts`), each once,
 * sorted (Ansible's own order is not stable). Throws HomelabError `ANSIBLE_FAILED` with Ansible's error.
 *
 * @example await listHosts({ ...base, limit: 'pis' }) // ['pi1', 'pi2']
 */
export async function listHosts(base: AnsibleRunBase & { limit?: string; extraVars?: Record<string, unknown> }): Promise<string[]> {
  const args = ['--list-hosts'];
  if (base.limit) args.push('-l', base.limit);
  const exit = await spawnAnsiblePlaybook({ base, args, ...(base.extraVars ? { extraVars: base.extraVars } : {}), outputCap: 1024 * 1024 });
  if (exit.exitCode !== 0 || exit.timedOut || exit.cancelled) {
    const why = exit.timedOut ? 'timed out' : exit.cancelled ? 'was cancelled' : capString(createScrubber(runSecrets(base))(ansibleError(exit.stderr.trim() || exit.stdout, base.cwd)), RUN_LIMITS.errorChars);
    throw new HomelabError('ANSIBLE_FAILED', `ansible-playbook --list-hosts ${base.playbook}: ${why}`);
  }
  const hosts = new Set<string>();
  let indent = -1;
  for (const line of exit.stdout.split('\n')) {
    const m = /^(\s*)hosts \(\d+\):\s*$/.exec(line);
    if (m) {
      indent = m[1]!.length;
      continue;
    }
    const h = /^(\s*)(\S.*?)\s*$/.exec(line);
    if (indent >= 0 && h && h[1]!.length > indent) {
      if (hosts.size < MAX_LISTED_HOSTS) hosts.add(h[2]!);
    } else indent = -1;
  }
  return [...hosts].sort();
}
