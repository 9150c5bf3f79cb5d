/**
 * GPIO lines through the libgpiod command-line tools (the character device; the sysfs GPIO
 * interface is obsolete). libgpiod 1.6 and 2.x tools take different arguments and print
 * different formats, so the version is found once, by `gpiodetect --version` on the first tool
 * call (the probe at start spawns nothing), and every command is built for it.
 */
import { readdirSync } from 'node:fs';
import { HomelabError } from '@homelab-mcp/core';
import { defineCapability, defineTool, type EdgeEnv, type JsonSchema, type ProbeResult } from '../capability.ts';
import type { RunResult } from '../exec.ts';
import { parseGpiodVersion, parseGpiodetect, parseGpioinfo, parseGpiogetValue, type GpioChip, type GpioLine } from './gpio/parse.ts';
import { findExecutable } from './find-executable.ts';

const GPIO_TIMEOUT_MS = 5_000;
/** The message for a node without the libgpiod tools. */
export const GPIOD_MISSING = 'libgpiod tools are not installed (apt install gpiod)';
/** The message for a node whose kernel shows no GPIO chip (a VM, a container, most x86 servers). */
export const NO_GPIO_CHIPS = 'this node has no GPIO chips';

/** The libgpiod tools found on this node; `major` picks the command syntax. */
export interface GpioTools {
  version: string;
  major: 1 | 2;
}

/** A line given by offset or by name. */
export type GpioLineRef = { offset: number } | { name: string };

/** Arguments of `gpio_info`. */
export interface GpioInfoArgs {
  chip?: string | number;
}
/** Arguments of `gpio_read`. */
export interface GpioReadArgs {
  chip: string | number;
  line: string | number;
}
/** Arguments of `gpio_write`. */
export interface GpioWriteArgs extends GpioReadArgs {
  value: number | boolean;
}

/** Normalizes a chip argument (`gpiochip0`, `0`, `/dev/gpiochip0`) to its name, `gpiochip0`. */
export function normalizeGpioChip(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 4095) return `gpiochip${v}`;
  const m = typeof v === 'string' ? /^(?:\/dev\/)?(?:gpiochip)?(\d{1,4})$/.exec(v) : null;
  if (!m) throw new HomelabError('INVALID_ARGUMENTS', `chip must be a GPIO chip name such as gpiochip0 or its number, got ${JSON.stringify(v)}`);
  return `gpiochip${Number(m[1])}`;
}

/**
 * Reads a line argument: an offset 0..1023, or a line name as `gpio_info` shows it. A name may
 * not start with `-` (the tools would read it as an option) nor be all digits (an offset).
 */
export function parseGpioLineRef(v: unknown): GpioLineRef {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1023) return { offset: v };
  if (typeof v === 'string' && /^\d{1,4}$/.test(v) && Number(v) <= 1023) return { offset: Number(v) };
  if (typeof v === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.:+/ -]{0,63}$/.test(v) && v.trim() === v && !/^\d+$/.test(v)) return { name: v };
  throw new HomelabError('INVALID_ARGUMENTS', `line must be an offset from 0 to 1023 or a line name such as GPIO17, got ${JSON.stringify(v)}`);
}

/** Reads a value argument: 1/true is active, 0/false inactive. */
export function parseGpioValue(v: unknown): 0 | 1 {
  if (v === 1 || v === true) return 1;
  if (v === 0 || v === false) return 0;
  throw new HomelabError('INVALID_ARGUMENTS', `value must be 0, 1, true or false, got ${JSON.stringify(v)}`);
}

const lineLabel = (ref: GpioLineRef) => ('offset' in ref ? `line ${ref.offset}` : `line "${ref.name}"`);

async function gpiotool(env: EdgeEnv, file: string, args: string[], signal?: AbortSignal): Promise<RunResult> {
  let r: RunResult;
  try {
    r = await env.run({ file, args, timeoutMs: GPIO_TIMEOUT_MS, maxBytes: env.maxOutputBytes, env: env.childEnv, signal });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HomelabError('GPIO_TOOLS_NOT_INSTALLED', GPIOD_MISSING, { cause: err });
    throw new HomelabError('GPIO_FAILED', `could not run ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (r.aborted) throw new HomelabError('CANCELLED', `${file} was cancelled`);
  if (r.timedOut) throw new HomelabError('GPIO_TIMEOUT', `${file} did not finish within ${GPIO_TIMEOUT_MS / 1000} s`);
  return r;
}

// One detection per edge environment: the installed tools do not change while the edge runs.
const detected = new WeakMap<EdgeEnv, GpioTools>();

/** Finds the libgpiod tools' version, once per environment. */
export async function detectGpioTools(env: EdgeEnv, signal?: AbortSignal): Promise<GpioTools> {
  const known = detected.get(env);
  if (known) return known;
  const r = await gpiotool(env, 'gpiodetect', ['--version'], signal);
  const v = parseGpiodVersion(r.stdout);
  if (r.exitCode !== 0 || !v) {
    const said = (r.stderr || r.stdout).trim().split('\n')[0] ?? '';
    throw new HomelabError('GPIO_TOOLS_UNKNOWN', `could not tell the libgpiod version from gpiodetect --version${said ? `: ${said}` : ''}`);
  }
  // libgpiod 2.x kept one syntax through 2.3; treat any later major the same way.
  const tools: GpioTools = { version: v.version, major: v.major >= 2 ? 2 : 1 };
  detected.set(env, tools);
  return tools;
}

/** The first line a tool printed about its failure. */
const said = (r: RunResult) => (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';

function permissionError(tool: string, r: RunResult): HomelabError {
  return new HomelabError(
    'GPIO_PERMISSION_DENIED',
    `${tool}: ${said(r)}. The edge's user needs read-write access to /dev/gpiochip* (the gpio group on Raspberry Pi OS and Debian, or root)`,
  );
}

async function listChips(env: EdgeEnv, signal?: AbortSignal): Promise<GpioChip[]> {
  const r = await gpiotool(env, 'gpiodetect', [], signal);
  const chips = parseGpiodetect(r.stdout);
  // gpiodetect prints the chips it could open and fails for the rest; with none readable the
  // failure is the answer.
  if (r.exitCode !== 0 && chips.length === 0) {
    if (/permission denied|operation not permitted/i.test(said(r))) throw permissionError('gpiodetect', r);
    throw new HomelabError('GPIO_FAILED', `gpiodetect failed (exit ${r.exitCode ?? r.signal}): ${said(r)}`);
  }
  return chips;
}

/** Turns a failed gpioget/gpioset/gpioinfo into a message that says what is wrong and what to do. */
async function gpioError(env: EdgeEnv, tool: string, r: RunResult, chip: string, ref: GpioLineRef | undefined, signal?: AbortSignal): Promise<HomelabError> {
  const msg = said(r);
  const where = ref ? `${lineLabel(ref)} of ${chip}` : chip;
  if (/permission denied|operation not permitted/i.test(msg)) return permissionError(tool, r);
  if (/busy/i.test(msg)) {
    return new HomelabError('GPIO_LINE_BUSY', `${where} is in use by another consumer (a kernel driver or another program; see gpio_info): ${msg}`);
  }
  if (/cannot find line|out of range|invalid argument/i.test(msg)) {
    return new HomelabError('GPIO_LINE_NOT_FOUND', `${where} does not exist (see gpio_info for the chip's lines): ${msg}`);
  }
  // v1 says "No such file or directory" and v2 "cannot find GPIO chip" for a missing chip; tell
  // a node without GPIO apart from a wrong chip name.
  if (/no such file|cannot find gpio chip|no such device/i.test(msg)) {
    const chips = await listChips(env, signal).catch(() => []);
    if (chips.length === 0) return new HomelabError('GPIO_UNAVAILABLE', NO_GPIO_CHIPS);
    if (!chips.some((c) => c.name === chip)) {
      return new HomelabError('GPIO_CHIP_NOT_FOUND', `${chip} does not exist on this node (chips: ${chips.map((c) => c.name).join(', ')})`);
    }
  }
  return new HomelabError('GPIO_FAILED', `${tool} failed on ${where} (exit ${r.exitCode ?? r.signal}): ${msg}`);
}

/** Runs gpioinfo for one chip or all, in the syntax of the installed version. */
async function gpioinfo(env: EdgeEnv, tools: GpioTools, chip: string | undefined, signal?: AbortSignal) {
  const args = chip === undefined ? [] : tools.major === 1 ? [chip] : ['--chip', chip];
  const r = await gpiotool(env, 'gpioinfo', args, signal);
  const chips = parseGpioinfo(r.stdout);
  if (r.exitCode !== 0 && chips.length === 0) throw await gpioError(env, 'gpioinfo', r, chip ?? 'all chips', undefined, signal);
  return chips;
}

/**
 * libgpiod 1.6 gpioget/gpioset take offsets only, so a name is looked up in the chip's
 * gpioinfo first; v2 resolves names itself.
 */
async function lineArg(env: EdgeEnv, tools: GpioTools, chip: string, ref: GpioLineRef, signal?: AbortSignal): Promise<string> {
  if ('offset' in ref) return String(ref.offset);
  if (tools.major === 2) return ref.name;
  const [info] = await gpioinfo(env, tools, chip, signal);
  const hit = info?.lines.find((l) => l.name === ref.name);
  if (!hit) throw new HomelabError('GPIO_LINE_NOT_FOUND', `${chip} has no line named "${ref.name}" (see gpio_info)`);
  return String(hit.offset);
}

function describeLine(l: GpioLine): string {
  const parts = [`  ${String(l.offset).padStart(3)} ${l.name ?? '(unnamed)'}`, l.direction];
  if (l.activeLow) parts.push('active-low');
  if (l.drive !== 'push-pull') parts.push(l.drive);
  if (l.bias) parts.push(`bias=${l.bias}`);
  if (l.edges) parts.push(`edges=${l.edges}`);
  if (l.debouncePeriod) parts.push(`debounce=${l.debouncePeriod}`);
  if (l.used) parts.push(`used by ${l.consumer ?? 'kernel'}`);
  return parts.join(' ');
}

const chipSchema: JsonSchema = {
  anyOf: [
    { type: 'string', maxLength: 24 },
    { type: 'integer', minimum: 0, maximum: 4095 },
  ],
  description: 'GPIO chip: its name as gpio_info lists it (gpiochip0) or its number (0).',
};
const lineSchema: JsonSchema = {
  anyOf: [
    { type: 'integer', minimum: 0, maximum: 1023 },
    { type: 'string', maxLength: 64 },
  ],
  description: 'Line offset on the chip, 0-1023 (17 is GPIO17 on a Raspberry Pi gpiochip0), or a line name from gpio_info such as "GPIO17".',
};
const readAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

const gpioInfo = defineTool<GpioInfoArgs>({
  name: 'gpio_info',
  title: 'GPIO chips and lines',
  description:
    'Lists the GPIO chips of this node and every line: offset, name, direction, active-low, bias, drive, and who holds it ' +
    '(a kernel driver such as led0, or a program). Use it to find a line before gpio_read or gpio_write.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { chip: { ...chipSchema, description: 'Only this chip (gpiochip0 or 0). Omit to list all chips.' } },
  },
  annotations: { title: 'GPIO chips and lines', ...readAnnotations },
  async handler(args, { env, signal }) {
    const chip = args.chip === undefined ? undefined : normalizeGpioChip(args.chip);
    const tools = await detectGpioTools(env, signal);
    const chips = await listChips(env, signal);
    if (chips.length === 0) throw new HomelabError('GPIO_UNAVAILABLE', NO_GPIO_CHIPS);
    if (chip && !chips.some((c) => c.name === chip)) {
      throw new HomelabError('GPIO_CHIP_NOT_FOUND', `${chip} does not exist on this node (chips: ${chips.map((c) => c.name).join(', ')})`);
    }
    const info = await gpioinfo(env, tools, chip, signal);
    const out = chips
      .filter((c) => !chip || c.name === chip)
      .map((c) => ({ ...c, lines: info.find((i) => i.chip === c.name)?.lines ?? [] }));
    const text = out
      .map((c) => [`${c.name} [${c.label}]: ${c.lineCount} lines, ${c.lines.filter((l) => l.used).length} in use`, ...c.lines.map(describeLine)].join('\n'))
      .join('\n');
    return { data: { libgpiod: tools.version, chips: out }, text };
  },
});

const gpioRead = defineTool<GpioReadArgs>({
  name: 'gpio_read',
  title: 'Read a GPIO line',
  description:
    'Reads the value of one GPIO line: 1 (active) or 0 (inactive). With libgpiod 2.x the line is read as it is; ' +
    'libgpiod 1.x tools request it as an input, which stops an output line from being driven.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { chip: chipSchema, line: lineSchema },
    required: ['chip', 'line'],
  },
  annotations: { title: 'Read a GPIO line', ...readAnnotations },
  async handler(args, { env, signal }) {
    const chip = normalizeGpioChip(args.chip);
    const ref = parseGpioLineRef(args.line);
    const tools = await detectGpioTools(env, signal);
    const line = await lineArg(env, tools, chip, ref, signal);
    // --as-is: v2 would otherwise switch the line to input, undoing a gpio_write.
    const argv = tools.major === 1 ? [chip, line] : ['--as-is', '--chip', chip, line];
    const r = await gpiotool(env, 'gpioget', argv, signal);
    if (r.exitCode !== 0) throw await gpioError(env, 'gpioget', r, chip, ref, signal);
    const value = parseGpiogetValue(r.stdout);
    const offset = /^\d+$/.test(line) ? Number(line) : undefined;
    return {
      data: { chip, line: args.line, ...(offset === undefined ? {} : { offset }), value, active: value === 1 },
      text: `${chip} ${lineLabel(ref)}${'name' in ref && offset !== undefined ? ` (offset ${offset})` : ''}: ${value} (${value ? 'active' : 'inactive'})`,
    };
  },
});

const gpioWrite = defineTool<GpioWriteArgs>({
  name: 'gpio_write',
  title: 'Set a GPIO line',
  description:
    'Drives one GPIO line as an output, active (1) or inactive (0), then releases it. This changes hardware: a relay, ' +
    'a LED, a reset pin. Most drivers, the Raspberry Pi\'s included, keep the level after release, but the kernel does not guarantee it.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      chip: chipSchema,
      line: lineSchema,
      value: { anyOf: [{ type: 'integer', enum: [0, 1] }, { type: 'boolean' }], description: '1 or true drives the line active, 0 or false inactive.' },
    },
    required: ['chip', 'line', 'value'],
  },
  annotations: { title: 'Set a GPIO line', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, { env, signal }) {
    const chip = normalizeGpioChip(args.chip);
    const ref = parseGpioLineRef(args.line);
    const value = parseGpioValue(args.value);
    const tools = await detectGpioTools(env, signal);
    const line = await lineArg(env, tools, chip, ref, signal);
    // v2 gpioset holds the line until killed unless told to exit at once (-t0); v1 exits by default.
    const argv = tools.major === 1 ? [chip, `${line}=${value}`] : ['-t0', '--chip', chip, `${line}=${value}`];
    const r = await gpiotool(env, 'gpioset', argv, signal);
    if (r.exitCode !== 0) throw await gpioError(env, 'gpioset', r, chip, ref, signal);
    const offset = /^\d+$/.test(line) ? Number(line) : undefined;
    return {
      data: { chip, line: args.line, ...(offset === undefined ? {} : { offset }), value, released: true },
      text: `${chip} ${lineLabel(ref)} set to ${value} (${value ? 'active' : 'inactive'}); gpioset has released the line, which keeps its level on most drivers.`,
    };
  },
});

/** Where the kernel's GPIO character devices appear. */
export const GPIO_DEV_DIR = '/dev';

/**
 * Checks that the libgpiod tools are on the PATH commands run with and that the kernel shows at
 * least one GPIO chip (`/dev/gpiochipN`). Nothing is spawned at start (running `gpiodetect` twice
 * cost start-up time and memory); the version is found on the first tool call. `devDir` is a
 * parameter so a test can point it at a directory of its own.
 */
export async function probeGpio(env: EdgeEnv, devDir: string = GPIO_DEV_DIR): Promise<ProbeResult> {
  const found = findExecutable('gpiodetect', env.childEnv.PATH);
  if (!found) return { ok: false, reason: GPIOD_MISSING };
  if ('notExecutable' in found) return { ok: false, reason: `gpiodetect exists (${found.notExecutable}) but the edge may not execute it` };
  let chips: string[];
  try {
    chips = readdirSync(devDir).filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    chips = [];
  }
  if (chips.length === 0) return { ok: false, reason: NO_GPIO_CHIPS };
  chips.sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
  return { ok: true, detail: `${found.path}; ${chips.join(', ')}` };
}

/** The `gpio` capability: `gpio_info`, `gpio_read`, `gpio_write`. */
export const gpio = defineCapability({
  name: 'gpio',
  description: 'GPIO lines through the libgpiod tools (gpiodetect, gpioinfo, gpioget, gpioset), v1.6 and v2.x.',
  enabledByDefault: true,
  probe: (env) => probeGpio(env),
  tools: [gpioInfo, gpioRead, gpioWrite],
});
