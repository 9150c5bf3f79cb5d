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
import { collectStatus, createStatusState, monotonicMs, recordCpuSample, SLOW_SECTIONS, type StatusReport, type StatusState } from './status/collect.ts';
import { parseCpuStat } from './status/proc-parsers.ts';
import { formatStatusText } from './status/summary.ts';

/**
 * Per edge: the static facts read once, the /proc/stat samples CPU usage is measured against and
 * the slower sections kept between calls. Keyed by the edge's `capabilities` function, made once
 * per edge: a tool call gets a copy of the EdgeEnv (with that call's `run`), so the EdgeEnv object
 * itself differs on every call (keyed by it, nothing was ever reused).
 */
const states = new WeakMap<EdgeEnv['capabilities'], StatusState & { bootId?: string }>();

/** The status state of `env`'s edge, created on first use. */
export function statusState(env: EdgeEnv): StatusState & { bootId?: string } {
  let s = states.get(env.capabilities);
  if (!s) states.set(env.capabilities, (s = createStatusState()));
  return s;
}

/**
 * How long the slower sections (disks, temperatures, network, listening ports) are answered again
 * before they are read anew: a client polling get_status pays for them once per interval.
 */
export const SLOW_SECTIONS_MAX_AGE_MS = 5000;

/**
 * The /etc that belongs with `procRoot`: `/etc` for the real `/proc`, else the `etc` beside it,
 * so a fixture tree `X/{proc,sys,etc}` is read whole. EdgeEnv has no etcRoot of its own.
 * @example deriveEtcRoot('/tmp/pi/proc') // '/tmp/pi/etc'
 */
export function deriveEtcRoot(procRoot: string): string {
  return resolve(procRoot) === '/proc' ? '/etc' : join(procRoot, '..', 'etc');
}

/**
 * Sections answered only when asked (`include`): the longest part of an answer (a few KB on a
 * device running a dozen services), and what only an inventory needs (the hub's topology asks).
 */
export const OPTIONAL_SECTIONS = ['network', 'listening', 'capabilities'] as const;
type OptionalSection = (typeof OPTIONAL_SECTIONS)[number];
/** The slower sections of an answer without optional sections. */
const DEFAULT_SLOW = SLOW_SECTIONS.filter((n) => !(OPTIONAL_SECTIONS as readonly string[]).includes(n));

/** `get_status`: hostname, OS, board, CPU, memory, disks, temperatures; network, ports, capabilities when asked. */
export const getStatusTool = defineTool<{ fresh?: boolean; include?: OptionalSection[] }>({
  name: 'get_status',
  title: 'Device status',
  description:
    'Status of this device: hostname, OS and kernel, board model, CPU count and usage, load, memory and swap, ' +
    'disk usage per mount, temperatures, uptime and the boot id (it changes at every boot); with include, also ' +
    'network interfaces with addresses ("network"), listening TCP ports ("listening") and which edge capabilities are ' +
    'active or why not ("capabilities"). CPU usage covers the time since an earlier sample (the ' +
    'previous call at least a second back, or the edge\'s start), or the average since boot: `cpu.since` and ' +
    '`cpu.sampleMs` say which. Disks, temperatures, network interfaces and listening ports are read at most every ' +
    `${SLOW_SECTIONS_MAX_AGE_MS / 1000} s and answered from that reading in between: \`cached.ageMs\` says how old they are; ` +
    'pass fresh: true to read them now. Sections that cannot be read are listed in `errors`.',
  inputSchema: {
    type: 'object',
    properties: {
      include: {
        type: 'array',
        items: { type: 'string', enum: OPTIONAL_SECTIONS },
        maxItems: OPTIONAL_SECTIONS.length,
        description: 'Sections to add to the answer: "network" (interfaces and addresses), "listening" (listening TCP ports), "capabilities". Default none.',
      },
      fresh: {
        type: 'boolean',
        description: `Read disks, temperatures, network and listening ports now instead of answering them from a reading up to ${SLOW_SECTIONS_MAX_AGE_MS / 1000} s old. Default false.`,
      },
    },
    additionalProperties: false,
  },
  annotations: { title: 'Device status', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const state = statusState(ctx.env);
    const include = args.include ?? [];
    const report = await collectStatus({
      procRoot: ctx.env.procRoot,
      sysRoot: ctx.env.sysRoot,
      etcRoot: deriveEtcRoot(ctx.env.procRoot),
      state,
      maxAgeMs: args.fresh === true ? 0 : SLOW_SECTIONS_MAX_AGE_MS,
      // Network and listening sockets are not even read unless asked for.
      sections: include.length === 0 ? DEFAULT_SLOW : SLOW_SECTIONS.filter((n) => !(OPTIONAL_SECTIONS as readonly string[]).includes(n) || include.includes(n as OptionalSection)),
      capabilities: ctx.env.capabilities(),
      signal: ctx.signal,
    });
    // The kernel's boot id cannot change while this process lives: read once. A --boot-id-file
    // (tests that simulate a reboot) is read on every call.
    const bootId = ctx.env.bootIdFile !== undefined ? readBootId(ctx.env) : (state.bootId ??= readBootId(ctx.env) ?? undefined) ?? null;
    // The sections not asked for are left out of the data and the text (`cached` and `errors`
    // only name the sections read).
    const { network, listening, capabilities, cached, errors, ...always } = report;
    const shown: Partial<StatusReport> & { bootId: string | null } = {
      ...always,
      ...(include.includes('network') ? { network } : {}),
      ...(include.includes('listening') ? { listening } : {}),
      ...(include.includes('capabilities') ? { capabilities } : {}),
      cached,
      errors,
      bootId,
    };
    return { data: shown, text: formatStatusText(shown as StatusReport) };
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
