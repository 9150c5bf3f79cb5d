/**
 * OS package updates through the node's package manager (apt-get, else dnf, as found on the PATH
 * commands run with): `package_updates` (read) says what an upgrade would change, and
 * `package_upgrade` (write) runs it. Apply is a tool of its own rather than an `apply` argument:
 * the hub classes edge tools by name from their annotations, so a separate write tool is gated
 * alike as a fleet tool, a per-device copy or through any other hub, with no argument to inspect.
 *
 * With apt, `package_updates` runs the simulation (`apt-get -s`) of exactly the command
 * `package_upgrade` runs, so it also lists new dependencies and removals; neither tool refreshes
 * the package lists (`apt-get update`), so what the preview showed is what the upgrade does.
 * Package names go to the package manager as argv, never through a shell, and are checked first.
 */
import { HomelabError } from '@homelab-mcp/core';
import { defineCapability, defineTool, type EdgeEnv, type ProbeResult } from '../capability.ts';
import type { RunResult } from '../exec.ts';
import { findExecutable } from './find-executable.ts';
import { parseAptSimulation, parseDnfCheckUpdate, parseUpgradeLog, type PackageChange } from './packages/parse.ts';

export type PackageManager = 'apt' | 'dnf';
const BINARY: Record<PackageManager, string> = { apt: 'apt-get', dnf: 'dnf' };
const CHECK_TIMEOUT_MS = 120_000;
export const DEFAULT_UPGRADE_TIMEOUT_S = 1800;
const MAX_UPGRADE_TIMEOUT_S = 7200;
const MAX_NAMES = 500;
/**
 * Debian and RPM package names (apt also takes `name:arch`); never starting with `-` (an option),
 * nor ending in `-`: apt-get reads `NAME-` as "remove NAME", even under `install --only-upgrade`.
 */
const PACKAGE_RE = /^[A-Za-z0-9](?:[A-Za-z0-9+._-]{0,126}[A-Za-z0-9+._])?(?::[A-Za-z0-9_]|:[A-Za-z0-9_][A-Za-z0-9_-]{0,30}[A-Za-z0-9_])?$/;
/** How much of an upgrade's output the answer keeps: its end, where errors are. */
const LOG_TAIL_CHARS = 4000;
/** Rows of packages the text lists; structuredContent has all of them (up to the parser's cap). */
const TEXT_ROWS = 200;

/** apt's own options for an unattended run: keep changed config files, take the maintainer's default otherwise. */
const APT_UNATTENDED = ['-y', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];

/** The package manager on `PATH`: apt-get first, then dnf. */
export function findPackageManager(pathVar: string | undefined): { manager: PackageManager; path: string } | { error: string } {
  for (const manager of ['apt', 'dnf'] as const) {
    const found = findExecutable(BINARY[manager], pathVar);
    if (found && 'path' in found) return { manager, path: found.path };
    if (found) return { error: `${BINARY[manager]} exists (${found.notExecutable}) but the edge may not execute it` };
  }
  return { error: 'no supported package manager on this node (looked for apt-get and dnf on the PATH)' };
}

/**
 * Checks the `packages` argument: package names, at most 500, none option-like.
 * @example checkPackages(['bash', 'libssl3:amd64']) // ['bash', 'libssl3:amd64']
 */
export function checkPackages(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_NAMES) {
    throw new HomelabError('INVALID_ARGUMENTS', `packages: expected a list of 1 to ${MAX_NAMES} package names, or no packages for every upgradable package`);
  }
  for (const p of v) {
    if (typeof p !== 'string' || !PACKAGE_RE.test(p)) {
      throw new HomelabError('INVALID_ARGUMENTS', `packages: ${JSON.stringify(typeof p === 'string' && p.length > 80 ? `${p.slice(0, 80)}…` : p)} is not a package name (letters, digits, + . _ -, optionally :ARCH; not starting with -, not ending in -: apt would remove it)`);
    }
  }
  return [...new Set(v as string[])];
}

/** The argv of the upgrade `package_upgrade` runs (without the binary's path). */
export function upgradeArgv(manager: PackageManager, packages: string[] | undefined): string[] {
  if (manager === 'apt') return packages ? [...APT_UNATTENDED, 'install', '--only-upgrade', ...packages] : [...APT_UNATTENDED, 'upgrade'];
  return ['-y', 'upgrade', ...(packages ?? [])];
}

/** Shown as one command line: the binary's name and the argv (names are checked, so no quoting is needed). */
function commandText(manager: PackageManager, argv: string[]): string {
  return [BINARY[manager], ...argv].join(' ');
}

function packageEnv(env: EdgeEnv): NodeJS.ProcessEnv {
  // LC_ALL=C: the parsers read English output. noninteractive: debconf never waits for a person.
  return { ...env.childEnv, LC_ALL: 'C', LANG: 'C', DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none', NEEDRESTART_MODE: 'l' };
}

async function run(env: EdgeEnv, file: string, args: string[], timeoutMs: number, signal: AbortSignal, what: string): Promise<RunResult> {
  let r: RunResult;
  try {
    r = await env.run({ file, args, timeoutMs, maxBytes: env.maxOutputBytes, env: packageEnv(env), signal });
  } catch (err) {
    throw new HomelabError('PACKAGES_FAILED', `could not run ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (r.aborted) throw new HomelabError('CANCELLED', `${what} was cancelled`);
  if (r.timedOut) throw new HomelabError('PACKAGES_TIMEOUT', `${what} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped`);
  return r;
}

/** The first line that says what went wrong: apt's `E:` lines, dnf's `Error:`, else the last line. */
function failureLine(r: RunResult): string {
  const text = `${r.stderr}\n${r.stdout}`;
  const e = /^(?:E|Error): ?(.*)$/m.exec(text);
  const line = (e ? e[1]! : text.trim().split('\n').at(-1) ?? '').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function needsRoot(r: RunResult): boolean {
  // The last: systemd-run --scope asking polkit for a non-root edge.
  return /are you root|permission denied|This command has to be run with superuser privileges|Interactive authentication required/i.test(`${r.stderr}\n${r.stdout}`);
}

/** `bash 5.2.15-2+b8 → 5.2.15-2+b13 [security]`; `(new)` for a package that is not installed yet. */
function changeText(c: PackageChange, install = false): string {
  const from = install ? '(new) ' : c.from !== null ? `${c.from} ` : '';
  return `${c.name} ${from}→ ${c.to}${c.security ? ' [security]' : ''}`;
}

export interface PackageUpdates {
  manager: PackageManager;
  /** The exact command package_upgrade runs for the same `packages`. */
  command: string;
  packages: string[] | null;
  upgrades: PackageChange[];
  installs: PackageChange[];
  removals: Array<{ name: string; version: string | null }>;
  keptBack: string[];
  count: number;
  securityCount: number | null;
  truncated?: boolean;
}

/** One summary line, then a row per package (capped). */
export function formatUpdates(u: PackageUpdates): string {
  const sec = u.securityCount === null ? '' : `, ${u.securityCount} security`;
  const extra = [
    u.installs.length ? `${u.installs.length} new to install` : '',
    u.removals.length ? `${u.removals.length} to remove` : '',
    u.keptBack.length ? `${u.keptBack.length} kept back` : '',
  ].filter(Boolean);
  const head =
    u.count === 0 && u.installs.length === 0 && u.removals.length === 0
      ? `no package updates (${u.manager}${u.packages ? `, for ${u.packages.join(' ')}` : ''})`
      : `${u.count} package update${u.count === 1 ? '' : 's'}${sec}${extra.length ? ` (${extra.join(', ')})` : ''} via ${u.manager}: \`${u.command}\``;
  const rows = [...u.upgrades.map((c) => changeText(c)), ...u.installs.map((c) => changeText(c, true))];
  const removed = u.removals.map((r) => `${r.name} ${r.version ?? ''} → removed`.replace('  ', ' '));
  const all = [...rows, ...removed];
  const shown = all.slice(0, TEXT_ROWS);
  if (all.length > shown.length) shown.push(`… and ${all.length - shown.length} more (structuredContent lists them)`);
  if (u.keptBack.length) shown.push(`kept back (not upgraded): ${u.keptBack.slice(0, 50).join(' ')}${u.keptBack.length > 50 ? ' …' : ''}`);
  if (u.truncated) shown.push('(the list was cut: the package manager printed more than the edge keeps)');
  return [head, ...shown].join('\n');
}

/**
 * What an upgrade would change on this node, as the package manager says now.
 * With apt: the simulation of the very command package_upgrade runs.
 */
export async function checkUpdates(env: EdgeEnv, packages: string[] | undefined, signal: AbortSignal): Promise<PackageUpdates> {
  const pm = findPackageManager(env.childEnv.PATH);
  if ('error' in pm) throw new HomelabError('PACKAGES_UNAVAILABLE', pm.error);
  const argv = upgradeArgv(pm.manager, packages);
  const command = commandText(pm.manager, argv);
  if (pm.manager === 'apt') {
    // -s: simulate; apt-get then changes nothing and needs no root. -y and the dpkg options are
    // kept so the simulated command line is the one that runs.
    const r = await run(env, pm.path, ['-s', ...argv], CHECK_TIMEOUT_MS, signal, 'apt-get -s');
    if (r.exitCode !== 0) throw new HomelabError('PACKAGES_FAILED', `apt-get -s ${argv.slice(APT_UNATTENDED.length).join(' ')} failed (exit ${r.exitCode ?? r.signal}): ${failureLine(r)}`);
    const sim = parseAptSimulation(r.stdout);
    return {
      manager: 'apt',
      command,
      packages: packages ?? null,
      upgrades: sim.upgrades,
      installs: sim.installs,
      removals: sim.removals,
      keptBack: sim.keptBack,
      count: sim.upgrades.length,
      securityCount: sim.upgrades.filter((u) => u.security).length,
      ...(sim.truncated || r.stdoutTruncated ? { truncated: true } : {}),
    };
  }
  // dnf check-update: exit 100 when there are updates, 0 when none, 1 on an error.
  const r = await run(env, pm.path, ['-q', 'check-update', ...(packages ?? [])], CHECK_TIMEOUT_MS, signal, 'dnf check-update');
  if (r.exitCode !== 0 && r.exitCode !== 100) throw new HomelabError('PACKAGES_FAILED', `dnf check-update failed (exit ${r.exitCode ?? r.signal}): ${failureLine(r)}`);
  const parsed = parseDnfCheckUpdate(r.stdout);
  return {
    manager: 'dnf',
    command,
    packages: packages ?? null,
    upgrades: parsed.upgrades,
    installs: [],
    removals: [],
    keptBack: [],
    count: parsed.upgrades.length,
    securityCount: null,
    ...(parsed.truncated || r.stdoutTruncated ? { truncated: true } : {}),
  };
}

const packagesArg = {
  type: 'array' as const,
  items: { type: 'string' as const, minLength: 1, maxLength: 160 },
  maxItems: MAX_NAMES,
  description: 'Only these packages (names as the package manager spells them, e.g. openssl or libssl3:amd64). Omit for every upgradable package.',
};

const packageUpdates = defineTool<{ packages?: string[] }>({
  name: 'package_updates',
  title: 'Package updates',
  description:
    'Lists what an upgrade of the OS packages would change on this node (apt or dnf): each package with its installed and new version, ' +
    'where the new one comes from and whether it is a security update (apt), plus new dependencies and removals, and the exact command ' +
    'package_upgrade would run. With apt this is the simulation (apt-get -s) of that command. Uses the package lists as last refreshed; ' +
    'changes nothing.',
  inputSchema: { type: 'object', additionalProperties: false, properties: { packages: packagesArg } },
  annotations: { title: 'Package updates', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, { env, signal }) {
    const u = await checkUpdates(env, checkPackages(args.packages), signal);
    return { data: { ...u }, text: formatUpdates(u) };
  },
});

const packageUpgrade = defineTool<{ packages?: string[]; timeout_s?: number }>({
  name: 'package_upgrade',
  title: 'Upgrade packages',
  description:
    'Upgrades the OS packages of this node (apt-get upgrade, or apt-get install --only-upgrade for named packages; dnf upgrade), ' +
    'non-interactively (changed config files are kept). The package lists are not refreshed first, so it upgrades what package_updates ' +
    'lists. Needs the edge to run as root. Answers the exit code, the packages set up and the end of the output.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      packages: packagesArg,
      timeout_s: { type: 'integer', minimum: 1, maximum: MAX_UPGRADE_TIMEOUT_S, description: `Deadline in seconds (default ${DEFAULT_UPGRADE_TIMEOUT_S}); the package manager is stopped when it passes.` },
    },
  },
  annotations: { title: 'Upgrade packages', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(args, { env }) {
    const packages = checkPackages(args.packages);
    const t = args.timeout_s ?? DEFAULT_UPGRADE_TIMEOUT_S;
    if (!Number.isInteger(t) || t < 1 || t > MAX_UPGRADE_TIMEOUT_S) throw new HomelabError('INVALID_ARGUMENTS', `timeout_s: expected a whole number of seconds from 1 to ${MAX_UPGRADE_TIMEOUT_S}`);
    const pm = findPackageManager(env.childEnv.PATH);
    if ('error' in pm) throw new HomelabError('PACKAGES_UNAVAILABLE', pm.error);
    const argv = upgradeArgv(pm.manager, packages);
    const command = commandText(pm.manager, argv);
    // Not the call's signal: a client that gives up must not kill dpkg halfway (that leaves
    // packages half-configured); the run ends by itself or at its deadline.
    const scope = scopeArgv(env);
    const r = await run(env, scope ? scope.file : pm.path, scope ? [...scope.args, pm.path, ...argv] : argv, t * 1000, new AbortController().signal, command);
    const log = `${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`.trim();
    const tail = log.length > LOG_TAIL_CHARS ? `…${log.slice(-LOG_TAIL_CHARS)}` : log;
    const upgraded = parseUpgradeLog(pm.manager, r.stdout);
    const data = { manager: pm.manager, command, exitCode: r.exitCode, upgraded, count: upgraded.length, outputTail: tail, durationMs: Math.round(r.durationMs) };
    if (r.exitCode !== 0) {
      const why = needsRoot(r) ? `${BINARY[pm.manager]} needs root, and the edge does not run as root: ${failureLine(r)}` : failureLine(r);
      return { data, isError: true, text: `\`${command}\` failed (exit ${r.exitCode ?? r.signal}): ${why}\n${tail}` };
    }
    const head = `upgraded ${upgraded.length} package${upgraded.length === 1 ? '' : 's'} with \`${command}\` in ${(r.durationMs / 1000).toFixed(1)} s`;
    return { data, text: [head, ...upgraded.slice(0, TEXT_ROWS), ...(upgraded.length > TEXT_ROWS ? [`… and ${upgraded.length - TEXT_ROWS} more`] : [])].join('\n') };
  },
});

/**
 * Under systemd (the service's INVOCATION_ID), the upgrade runs in a transient scope of its own,
 * outside the edge's cgroup: there it would share the unit's MemoryMax (128M) and be killed with
 * the edge (an idle exit, a restart, `systemctl stop`), leaving dpkg halfway. `--scope` execs the
 * command in place, so its output and the deadline's kill work as for a plain child.
 */
function scopeArgv(env: EdgeEnv): { file: string; args: string[] } | undefined {
  if (!env.childEnv.INVOCATION_ID) return undefined;
  const found = findExecutable('systemd-run', env.childEnv.PATH);
  if (!found || !('path' in found)) return undefined;
  return { file: found.path, args: ['--scope', '--quiet', '--collect', '--description=homelab-edge package_upgrade', '--'] };
}

/** Finds the package manager without running it. */
export async function probePackages(env: EdgeEnv): Promise<ProbeResult> {
  const pm = findPackageManager(env.childEnv.PATH);
  return 'error' in pm ? { ok: false, reason: pm.error } : { ok: true, detail: `${pm.manager} (${pm.path})` };
}

/** The `packages` capability: `package_updates` (read), `package_upgrade` (write). */
export const packages = defineCapability({
  name: 'packages',
  description: 'OS package updates through apt-get or dnf: what an upgrade would change, and the upgrade.',
  enabledByDefault: true,
  probe: probePackages,
  tools: [packageUpdates, packageUpgrade],
});
