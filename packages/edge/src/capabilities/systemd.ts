/**
 * systemd services through `systemctl`: the status of one unit and the list of services.
 * Read-only; starting and stopping units goes through `run_command`, where the hub's approval
 * gate sees it.
 */
import { statSync } from 'node:fs';
import { HomelabError } from '@homelab-mcp/core';
import { defineCapability, defineTool, type EdgeEnv, type ProbeResult } from '../capability.ts';
import type { RunResult } from '../exec.ts';
import { STATUS_PROPERTIES, parseListUnits, parseServiceStatus, type ServiceStatus, type UnitListEntry } from './systemd/parse.ts';
import { findExecutable } from './find-executable.ts';

const SYSTEMCTL = 'systemctl';
const SYSTEMCTL_TIMEOUT_MS = 5_000;
/** sd_booted(3): this directory exists exactly when systemd is the running init system. */
export const SYSTEMD_RUN_DIR = '/run/systemd/system';
const UNIT_RE = /^[A-Za-z0-9@._:\\-]+$/;
const UNIT_SUFFIXES = ['service', 'socket', 'target', 'timer', 'mount', 'automount', 'swap', 'path', 'slice', 'scope', 'device'];
/** The states `list_services` can filter on (`--state=`): active, sub and load states. */
export const SERVICE_STATES = [
  'running', 'failed', 'active', 'inactive', 'exited', 'dead', 'activating', 'deactivating', 'reloading',
  'auto-restart', 'waiting', 'loaded', 'not-found', 'masked',
] as const;

/** Arguments of `get_service_status`. */
export interface ServiceStatusArgs {
  unit: string;
}
/** Arguments of `list_services`. */
export interface ListServicesArgs {
  state?: (typeof SERVICE_STATES)[number];
}

/**
 * Checks a unit name and adds `.service` when it has no unit suffix (`nginx` → `nginx.service`).
 * A leading `-` is refused so the name can never be read as a systemctl option.
 */
export function normalizeUnitName(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256 || !UNIT_RE.test(v) || v.startsWith('-')) {
    throw new HomelabError('INVALID_ARGUMENTS', `unit must be a systemd unit name such as nginx or nginx.service, got ${JSON.stringify(v)}`);
  }
  const dot = v.lastIndexOf('.');
  return dot > 0 && UNIT_SUFFIXES.includes(v.slice(dot + 1)) ? v : `${v}.service`;
}

async function systemctl(env: EdgeEnv, args: string[], signal?: AbortSignal): Promise<RunResult> {
  let r: RunResult;
  try {
    r = await env.run({ file: SYSTEMCTL, args, timeoutMs: SYSTEMCTL_TIMEOUT_MS, maxBytes: env.maxOutputBytes, env: env.childEnv, signal });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new HomelabError('SYSTEMD_UNAVAILABLE', 'systemctl is not installed on this node (it does not run systemd)', { cause: err });
    }
    throw new HomelabError('SYSTEMCTL_FAILED', `could not run systemctl: ${(err as Error).message}`, { cause: err });
  }
  if (r.aborted) throw new HomelabError('CANCELLED', 'systemctl was cancelled');
  if (r.timedOut) throw new HomelabError('SYSTEMCTL_TIMEOUT', `systemctl did not answer within ${SYSTEMCTL_TIMEOUT_MS / 1000} s (is systemd busy or hung?)`);
  return r;
}

/** Turns a failed systemctl into a message that says what is wrong. */
function systemctlError(r: RunResult, what: string): HomelabError {
  const msg = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';
  // Inside a container or on a non-systemd distribution, systemctl exists but has no manager to ask.
  if (/not been booted with systemd|failed to connect to bus|host is down/i.test(r.stderr)) {
    return new HomelabError('SYSTEMD_UNAVAILABLE', `systemd is not running on this node (PID 1 is not systemd), so there are no services to query: ${msg}`);
  }
  if (/access denied|permission denied/i.test(msg)) return new HomelabError('SYSTEMCTL_PERMISSION_DENIED', `systemctl ${what}: ${msg}`);
  if (/not valid|invalid unit name/i.test(msg)) return new HomelabError('INVALID_ARGUMENTS', `systemctl ${what}: ${msg}`);
  return new HomelabError('SYSTEMCTL_FAILED', `systemctl ${what} failed (exit ${r.exitCode ?? r.signal}): ${msg}`);
}

/** Bytes the way systemctl status prints memory, in binary units: `9.0M` → `9.0 MiB`. */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** One line a person reads like the head of `systemctl status`. */
export function formatServiceStatus(s: ServiceStatus): string {
  const parts = [`${s.id}${s.description && s.description !== s.id ? ` (${s.description})` : ''}: ${s.activeState} (${s.subState})`];
  if (s.loadState !== 'loaded') parts.push(`load state ${s.loadState}`);
  if (s.activeState === 'active' && s.activeEnterTimestamp) parts.push(`since ${s.activeEnterTimestamp}`);
  if (s.mainPid !== null) parts.push(`main PID ${s.mainPid}`);
  if (s.memoryCurrentBytes !== null) parts.push(`memory ${formatBytes(s.memoryCurrentBytes)}`);
  if (s.nRestarts) parts.push(`restarted ${s.nRestarts} time${s.nRestarts === 1 ? '' : 's'}`);
  if (s.result && s.result !== 'success') parts.push(`last result ${s.result}`);
  if (s.unitFileState) parts.push(`unit file ${s.unitFileState}`);
  return parts.join(', ');
}

const readAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

const getServiceStatus = defineTool<ServiceStatusArgs>({
  name: 'get_service_status',
  title: 'systemd service status',
  description:
    'Shows the state of one systemd unit on this node: load, active and sub state, whether it is enabled, main PID, ' +
    'since when it runs, restarts, memory and the result of its last run.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      unit: { type: 'string', minLength: 1, maxLength: 256, description: 'Unit name, e.g. nginx or nginx.service; .service is added when there is no suffix.' },
    },
    required: ['unit'],
  },
  annotations: { title: 'systemd service status', ...readAnnotations },
  async handler(args, { env, signal }) {
    const unit = normalizeUnitName(args.unit);
    const r = await systemctl(env, ['show', unit, '--no-pager', `--property=${STATUS_PROPERTIES.join(',')}`], signal);
    if (r.exitCode !== 0) throw systemctlError(r, `show ${unit}`);
    const status = parseServiceStatus(r.stdout);
    // systemctl show answers for any name; a unit that does not exist only shows as not-found.
    // A not-found unit can still be running (its file deleted under it), so only then is it an error.
    if (status.loadState === 'not-found' && status.activeState === 'inactive') {
      throw new HomelabError('UNIT_NOT_FOUND', `${unit} does not exist on this node (LoadState=not-found); list_services shows the units there are`);
    }
    return { data: { ...status }, text: formatServiceStatus(status) };
  },
});

function formatList(units: UnitListEntry[], state: string | undefined): string {
  if (units.length === 0) return `no services${state ? ` in state ${state}` : ''} on this node`;
  const running = units.filter((u) => u.sub === 'running').length;
  const failed = units.filter((u) => u.failed).length;
  const width = Math.min(48, Math.max(...units.map((u) => u.unit.length)));
  const head = `${units.length} services${state ? ` in state ${state}` : ''}: ${running} running, ${failed} failed`;
  const rows = units.map((u) => `${u.failed ? '● ' : '  '}${u.unit.padEnd(width)}  ${`${u.active}/${u.sub}`.padEnd(18)}${u.job ? ` [${u.job}]` : ''} ${u.description}`);
  return [head, ...rows].join('\n');
}

const listServices = defineTool<ListServicesArgs>({
  name: 'list_services',
  title: 'List systemd services',
  description: 'Lists the systemd services of this node with their load, active and sub state, optionally only those in one state (such as failed or running).',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      state: { type: 'string', enum: SERVICE_STATES, description: 'Only services in this state, e.g. failed, running, inactive. Omit for all.' },
    },
  },
  annotations: { title: 'List systemd services', ...readAnnotations },
  async handler(args, { env, signal }) {
    const state = args.state;
    if (state !== undefined && !(SERVICE_STATES as readonly string[]).includes(state)) {
      throw new HomelabError('INVALID_ARGUMENTS', `state must be one of ${SERVICE_STATES.join(', ')}`);
    }
    // --full: without it systemctl may shorten long unit names with "…" when COLUMNS is set.
    const argv = ['list-units', '--type=service', '--all', '--plain', '--no-legend', '--no-pager', '--full', ...(state ? [`--state=${state}`] : [])];
    const r = await systemctl(env, argv, signal);
    if (r.exitCode !== 0) throw systemctlError(r, 'list-units');
    const services = parseListUnits(r.stdout);
    return {
      data: { state: state ?? null, count: services.length, services, ...(r.stdoutTruncated ? { truncated: true } : {}) },
      text: formatList(services, state) + (r.stdoutTruncated ? `\n(output cut at ${env.maxOutputBytes} bytes)` : ''),
    };
  },
});

/**
 * Checks that systemctl is on the PATH commands run with and that systemd is the init system, the
 * way sd_booted(3) does. Nothing is spawned: `systemctl --version` at start cost start-up time and
 * memory, and no tool depends on the version. `runDir` is a parameter so a test can point it at a
 * directory that exists.
 */
export async function probeSystemd(env: EdgeEnv, runDir: string = SYSTEMD_RUN_DIR): Promise<ProbeResult> {
  const found = findExecutable(SYSTEMCTL, env.childEnv.PATH);
  if (!found) return { ok: false, reason: 'systemctl is not installed on this node (it does not run systemd)' };
  if ('notExecutable' in found) return { ok: false, reason: `systemctl exists (${found.notExecutable}) but the edge may not execute it` };
  let isDir = false;
  try {
    isDir = statSync(runDir).isDirectory();
  } catch {
    // Missing: not booted with systemd.
  }
  if (!isDir) {
    return { ok: false, reason: `systemd is not the init system on this node (${runDir} does not exist), so there are no services to query` };
  }
  return { ok: true, detail: found.path };
}

/** The `systemd` capability: `get_service_status`, `list_services`. */
export const systemd = defineCapability({
  name: 'systemd',
  description: 'systemd services through systemctl: the status of a unit and the list of services.',
  enabledByDefault: true,
  probe: (env) => probeSystemd(env),
  tools: [getServiceStatus, listServices],
});
