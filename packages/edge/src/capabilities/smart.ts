/**
 * Disk health through `smartctl --json` (smartmontools 7.x). One disk that cannot be read
 * (asleep, behind an odd USB bridge, no permission) is reported as such beside the others
 * rather than failing the whole answer, the node_exporter way.
 */
import { HomelabError } from '@homelab-mcp/core';
import { defineCapability, defineTool, type EdgeEnv, type ProbeResult, type ToolOutput } from '../capability.ts';
import type { RunResult } from '../exec.ts';
import { parseSmartReport, parseSmartScan, type SmartReport } from './smart/parse.ts';
import { findExecutable } from './find-executable.ts';

const SMARTCTL = 'smartctl';
/** Per smartctl call: a spun-down HDD takes several seconds to answer. */
const SMARTCTL_TIMEOUT_MS = 10_000;
/** Disks read at once when scanning: enough to overlap spin-ups, few enough for a Pi's USB bus. */
const SCAN_PARALLEL = 2;
const DEVICE_RE = /^\/dev\/[A-Za-z0-9._/-]+$/;
/** smartctl `-d` types: `sat`, `nvme`, `scsi`, `auto`, `sat,12`, `megaraid,0`, `sat+megaraid,1`, … */
const TYPE_RE = /^[a-z][a-z0-9,+/]{0,31}$/;

/** The message for a node without smartmontools. */
export const SMARTCTL_MISSING = 'smartctl is not installed on this node (install smartmontools)';

/** Arguments of `get_smart_health`. */
export interface SmartArgs {
  device?: string;
  type?: string;
}

/** Checks a device path: absolute, under /dev, no `..`, so the argument cannot name another file. */
export function validateSmartDevice(v: unknown): string {
  if (typeof v !== 'string' || v.length > 128 || !DEVICE_RE.test(v) || v.split('/').includes('..')) {
    throw new HomelabError('INVALID_ARGUMENTS', `device must be a disk path under /dev such as /dev/sda or /dev/nvme0, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks a smartctl `-d` type; it starts with a letter, so it can never be read as an option. */
export function validateSmartType(v: unknown): string {
  if (typeof v !== 'string' || !TYPE_RE.test(v)) {
    throw new HomelabError('INVALID_ARGUMENTS', `type must be a smartctl device type such as sat, nvme, scsi or auto, got ${JSON.stringify(v)}`);
  }
  return v;
}

async function smartctl(env: EdgeEnv, args: string[], signal?: AbortSignal): Promise<RunResult> {
  let r: RunResult;
  try {
    r = await env.run({ file: SMARTCTL, args, timeoutMs: SMARTCTL_TIMEOUT_MS, maxBytes: env.maxOutputBytes, env: env.childEnv, signal });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new HomelabError('SMARTCTL_NOT_INSTALLED', SMARTCTL_MISSING, { cause: err });
    if (code === 'EACCES') throw new HomelabError('SMARTCTL_NOT_EXECUTABLE', 'smartctl exists but the edge may not execute it', { cause: err });
    throw new HomelabError('SMARTCTL_FAILED', `could not run smartctl: ${(err as Error).message}`, { cause: err });
  }
  if (r.aborted) throw new HomelabError('CANCELLED', 'smartctl was cancelled');
  return r;
}

// The smartctl version per edge environment, found on the first tool call (not at start: the
// probe spawns nothing) and kept, since the installed smartctl does not change while the edge runs.
const versions = new WeakMap<EdgeEnv, string>();

/**
 * Checks, once per environment, that smartctl runs and is new enough for `--json` (7.0); the
 * version, or 'unknown version' when `--version` does not say.
 */
export async function smartctlVersion(env: EdgeEnv, signal?: AbortSignal): Promise<string> {
  const known = versions.get(env);
  if (known) return known;
  const r = await smartctl(env, ['--version'], signal);
  if (r.timedOut) throw new HomelabError('SMARTCTL_TIMEOUT', `smartctl --version did not answer within ${SMARTCTL_TIMEOUT_MS / 1000} s`);
  if (r.exitCode !== 0) {
    throw new HomelabError('SMARTCTL_FAILED', `smartctl --version failed (exit ${r.exitCode ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`);
  }
  const m = /^smartctl (\d+)\.(\d+)/m.exec(r.stdout);
  const version = m ? `${m[1]}.${m[2]}` : 'unknown version';
  if (m && Number(m[1]) < 7) {
    throw new HomelabError('SMARTCTL_TOO_OLD', `smartctl ${version} is too old: JSON output needs smartmontools 7.0 or newer`);
  }
  versions.set(env, version);
  return version;
}

/** A report for a disk smartctl gave no usable answer about. */
function unreadable(device: string, type: string | undefined, problem: string, exitStatus: number | null): SmartReport {
  return {
    device, type: type ?? null, protocol: null, model: null, serial: null, firmware: null, capacityBytes: null, capacity: null,
    smartPassed: 'unknown', temperatureC: null, powerOnHours: null, reallocatedSectors: null, pendingSectors: null,
    offlineUncorrectable: null, grownDefects: null, nvme: null, exitStatus: exitStatus ?? -1, exitStatusBits: [], messages: [],
    readable: false, warnings: [], problem,
  };
}

async function readDevice(env: EdgeEnv, device: string, type: string | undefined, signal?: AbortSignal): Promise<SmartReport> {
  const args = ['--json', '-a', ...(type ? ['-d', type] : []), device];
  const r = await smartctl(env, args, signal);
  if (r.timedOut) {
    return unreadable(device, type, `smartctl did not answer within ${SMARTCTL_TIMEOUT_MS / 1000} s for ${device} (the disk may be spinning up, or hung)`, null);
  }
  if (r.stdoutTruncated) {
    return unreadable(device, type, `smartctl printed more than ${env.maxOutputBytes} bytes for ${device}; raise maxOutputBytes`, r.exitCode);
  }
  try {
    return parseSmartReport(r.stdout, { device, exitCode: r.exitCode });
  } catch (err) {
    if (err instanceof HomelabError && err.code === 'SMARTCTL_TOO_OLD') throw err;
    const why = err instanceof HomelabError ? err.message : String(err);
    const stderr = r.stderr.trim().split('\n')[0];
    return unreadable(device, type, `${why}${stderr ? ` (${stderr})` : ''}`, r.exitCode);
  }
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping the order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const yesNo = (v: boolean | 'unknown') => (v === 'unknown' ? 'unknown' : v ? 'PASSED' : 'FAILED');

/** One readable paragraph per disk. */
export function formatSmartReport(r: SmartReport): string {
  if (!r.readable) return `${r.device}: not readable: ${r.problem ?? 'no data'}`;
  const id = [r.protocol, r.capacity, r.firmware ? `fw ${r.firmware}` : null, r.serial ? `s/n ${r.serial}` : null].filter(Boolean).join(', ');
  const facts = [`SMART ${yesNo(r.smartPassed)}`];
  if (r.temperatureC !== null) facts.push(`${r.temperatureC} °C`);
  if (r.powerOnHours !== null) facts.push(`${r.powerOnHours} power-on hours`);
  if (r.reallocatedSectors !== null) facts.push(`reallocated ${r.reallocatedSectors}`);
  if (r.pendingSectors !== null) facts.push(`pending ${r.pendingSectors}`);
  if (r.offlineUncorrectable !== null) facts.push(`offline uncorrectable ${r.offlineUncorrectable}`);
  if (r.grownDefects !== null) facts.push(`grown defects ${r.grownDefects}`);
  const n = r.nvme;
  if (n) {
    if (n.percentageUsed !== null) facts.push(`wear ${n.percentageUsed}%`);
    if (n.availableSpare !== null) facts.push(`spare ${n.availableSpare}%`);
    if (n.mediaErrors !== null) facts.push(`media errors ${n.mediaErrors}`);
    if (n.criticalWarning !== null) facts.push(`critical warning 0x${n.criticalWarning.toString(16).padStart(2, '0')}`);
  }
  const lines = [`${r.device} ${r.model ?? '(unknown model)'}${id ? ` (${id})` : ''}: ${facts.join(', ')}`];
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  for (const b of r.exitStatusBits) lines.push(`  smartctl: ${b}`);
  for (const m of r.messages) lines.push(`  smartctl says (${m.severity}): ${m.text}`);
  return lines.join('\n');
}

function answer(devices: SmartReport[], scanned: boolean): ToolOutput {
  return {
    data: { scanned, devices },
    text: devices.map(formatSmartReport).join('\n'),
    // Only a run that read nothing at all is a failure; one bad disk among good ones is data.
    isError: devices.every((d) => !d.readable),
  };
}

const getSmartHealth = defineTool<SmartArgs>({
  name: 'get_smart_health',
  title: 'Disk SMART health',
  description:
    'Reads the SMART health of this node\'s disks with smartctl: model, serial, firmware, capacity, overall ' +
    'pass/fail, temperature, power-on hours, reallocated/pending/uncorrectable sectors (ATA), wear, spare and ' +
    'media errors (NVMe), and smartctl\'s exit status decoded into plain English. Without device it scans every disk.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      device: {
        type: 'string',
        description: 'Disk to read, an absolute path under /dev such as /dev/sda or /dev/nvme0. Omit to scan all disks.',
        minLength: 6,
        maxLength: 128,
      },
      type: {
        type: 'string',
        description:
          'smartctl device type (-d), only together with device: "sat" for most USB disks, "nvme", "scsi", or "auto". Omit to let smartctl detect it.',
        maxLength: 32,
      },
    },
  },
  annotations: { title: 'Disk SMART health', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const device = args.device === undefined ? undefined : validateSmartDevice(args.device);
    const type = args.type === undefined ? undefined : validateSmartType(args.type);
    if (device) {
      await smartctlVersion(ctx.env, ctx.signal);
      return answer([await readDevice(ctx.env, device, type, ctx.signal)], false);
    }
    if (type) throw new HomelabError('INVALID_ARGUMENTS', 'type is only used together with device');
    await smartctlVersion(ctx.env, ctx.signal);

    const r = await smartctl(ctx.env, ['--scan', '--json'], ctx.signal);
    if (r.timedOut) throw new HomelabError('SMARTCTL_TIMEOUT', `smartctl --scan did not answer within ${SMARTCTL_TIMEOUT_MS / 1000} s`);
    const found = parseSmartScan(r.stdout);
    if (found.length === 0) {
      return {
        data: { scanned: true, devices: [] },
        text:
          'smartctl --scan found no disks on this node. Virtual disks (virtio /dev/vd*) and some USB disks are not ' +
          'listed; pass device (and type "sat" for a USB disk) to read one explicitly.',
      };
    }
    const reports = await mapLimit(found, SCAN_PARALLEL, (d) => readDevice(ctx.env, d.name, d.type, ctx.signal));
    return answer(reports, true);
  },
});

/**
 * Checks that smartctl is on the PATH commands run with. Nothing is spawned at start (the probes'
 * spawns cost about 35 ms of start-up and 1 MB that stayed); the version check (7.0 or newer, for
 * `--json`) runs on the first tool call and is kept.
 */
export async function probeSmart(env: EdgeEnv): Promise<ProbeResult> {
  const found = findExecutable(SMARTCTL, env.childEnv.PATH);
  if (!found) return { ok: false, reason: SMARTCTL_MISSING };
  if ('notExecutable' in found) return { ok: false, reason: `smartctl exists (${found.notExecutable}) but the edge may not execute it` };
  // Without root most disks refuse SMART commands; say so now rather than on every call.
  const root = process.getuid?.() === 0;
  return { ok: true, detail: `${found.path}${root ? '' : '; the edge is not root, so disks may refuse SMART commands'}` };
}

/** The `smart` capability: `get_smart_health`. */
export const smart = defineCapability({
  name: 'smart',
  description: 'Disk health (SMART) through smartctl from smartmontools.',
  enabledByDefault: true,
  probe: probeSmart,
  tools: [getSmartHealth],
});
