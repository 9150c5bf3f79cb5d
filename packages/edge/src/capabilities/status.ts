/**
 * `status`: one read-only tool, `get_status`, that tells what this device is and how it is doing
 * (model, OS, load, memory, disks, temperatures, network, listening ports, active capabilities).
 * It reads /proc, /sys and os-release only, so it works on every Linux device without extra
 * binaries; the parsers and the collector live in `status/`.
 */
import { join, resolve } from 'node:path';
import { defineCapability, defineTool, type EdgeEnv } from '../capability.ts';
import { readBootId } from './power.ts';
import { readBounded } from './status/read-bounded.ts';
import { collectStatus, createStatusState, monotonicMs, recordCpuSample, type StatusState } from './status/collect.ts';
import { parseCpuStat } from './status/proc-parsers.ts';
import { formatStatusText } from './status/summary.ts';

// Per edge: the static facts read once and the /proc/stat samples CPU usage is measured against.
const states = new WeakMap<EdgeEnv, StatusState>();

/** The status state of `env`, created on first use. */
export function statusState(env: EdgeEnv): StatusState {
  let s = states.get(env);
  if (!s) states.set(env, (s = createStatusState()));
  return s;
}

/**
 * The /etc that belongs with `procRoot`: `/etc` for the real `/proc`, else the `etc` beside it,
 * so a fixture tree `X/{proc,sys,etc}` is read whole. EdgeEnv has no etcRoot of its own.
 * @example deriveEtcRoot('/tmp/pi/proc') // '/tmp/pi/etc'
 */
export function deriveEtcRoot(procRoot: string): string {
  return resolve(procRoot) === '/proc' ? '/etc' : join(procRoot, '..', 'etc');
}

/** `get_status`: hostname, OS, board, CPU, memory, disks, temperatures, network, ports, capabilities. */
export const getStatusTool = defineTool<Record<string, never>>({
  name: 'get_status',
  title: 'Device status',
  description:
    'Status of this device: hostname, OS and kernel, board model, CPU count and usage, load, memory and swap, ' +
    'disk usage per mount, temperatures, uptime, network interfaces with addresses, listening TCP ports, and ' +
    'which edge capabilities are active (or why not), and the boot id (it changes at every boot). CPU usage covers the time since an earlier sample (the ' +
    'previous call at least a second back, or the edge\'s start), or the average since boot: `cpu.since` and ' +
    '`cpu.sampleMs` say which. Sections that cannot be read are listed in `errors`.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  annotations: { title: 'Device status', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(_args, ctx) {
    const report = await collectStatus({
      procRoot: ctx.env.procRoot,
      sysRoot: ctx.env.sysRoot,
      etcRoot: deriveEtcRoot(ctx.env.procRoot),
      state: statusState(ctx.env),
      capabilities: ctx.env.capabilities(),
      signal: ctx.signal,
    });
    return { data: { ...report, bootId: readBootId(ctx.env) }, text: formatStatusText(report) };
  },
});

/**
 * The `status` capability; on by default, since it only reads /proc and /sys. Its probe reads
 * /proc/stat, which also seeds the CPU sample the first `get_status` measures usage against.
 */
export const status = defineCapability({
  name: 'status',
  description: 'Read-only device status from /proc and /sys: load, memory, disks, temperatures, network, ports.',
  enabledByDefault: true,
  async probe(env: EdgeEnv) {
    try {
      const atMs = monotonicMs();
      const text = readBounded(join(env.procRoot, 'stat'));
      try {
        recordCpuSample(statusState(env).cpu, { times: parseCpuStat(text).total, atMs });
      } catch {
        // Unparseable: get_status reports it; the capability still works without a first sample.
      }
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `cannot read ${join(env.procRoot, 'stat')}: ${err instanceof Error ? err.message : String(err)}` };
    }
  },
  tools: [getStatusTool],
});
