/**
 * Docker and Docker Compose through the `docker` CLI: the stacks of this node's compose directory
 * (`--compose-dir DIR`, one folder per stack), their containers, the images, container logs, and
 * `up -d` / `down` / `pull` of a stack. The writes are annotated as such, so the hub's approval
 * gate holds them.
 *
 * Compose always runs as `docker compose --project-directory DIR/<stack> -f DIR/<stack>/<file>
 * -p <project>`: explicit, so it never depends on the edge's working directory, and the project is
 * the name compose itself derives from the folder, so a stack started by hand there is the same one.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';
import { defineCapability, defineTool, type EdgeEnv, type ProbeResult, type ToolOutput } from '../capability.ts';
import type { RunResult } from '../exec.ts';
import {
  classifyDockerFailure,
  firstLine,
  mergeLogStreams,
  normalizeProjectName,
  parseComposeLs,
  parseComposePs,
  parseContainerInspect,
  parseImageLs,
  summarizeComposeOutput,
  type ComposeContainer,
  type ContainerState,
  type ComposeProject,
} from './docker/parse.ts';
import { findExecutable } from './find-executable.ts';

const DOCKER = 'docker';
/** Reads (`ls`, `ps`, `image ls`, `logs`): a busy Pi answers in seconds, a hung daemon never. */
const READ_TIMEOUT_MS = 20_000;
/** Writes default to less than the hub's 120 s call deadline; a big pull passes timeout_s. */
const DEFAULT_WRITE_TIMEOUT_S = 110;
const MAX_WRITE_TIMEOUT_S = 3600;
/** The compose file names, in the order compose itself looks for them. */
export const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'] as const;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_NAME = 128;
const MAX_SERVICES = 64;
/** Folders of the compose directory looked at: bounds the work a huge directory could cause. */
const MAX_STACK_DIRS = 1000;
export const DEFAULT_LOG_LINES = 100;
export const MAX_LOG_LINES = 5000;
const MAX_LOG_LINE_CHARS = 8192;
/** Lines of compose's progress output kept in a write's answer (the last ones). */
const MAX_COMPOSE_LINES = 200;
/** `since` of `docker logs`: a Go duration, a Unix time, or an RFC 3339 date or time. */
const SINCE_RE =
  /^(?:(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+|\d{1,10}(?:\.\d{1,9})?|\d{4}-\d{2}-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:\d{2})?)?)$/;

/** The message for a node without the docker CLI. */
export const DOCKER_MISSING = 'docker is not installed on this node (no docker executable on the PATH)';
/** The message of every compose tool on a node without a compose directory. */
export const COMPOSE_DIR_MISSING =
  'no compose directory is configured on this node: start its edge with --compose-dir DIR (or "composeDir" in its --config file), ' +
  'where each stack is a folder DIR/<stack> holding a compose.yaml';

/** Checks a stack name: a folder name of the compose directory, never a path or an option. */
export function validateStackName(v: unknown): string {
  if (typeof v !== 'string' || v.length > MAX_NAME || !NAME_RE.test(v)) {
    throw new HomelabError(
      'INVALID_ARGUMENTS',
      `stack must be the name of a folder in the compose directory (letters, digits, _ . -, starting with a letter or digit), got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Checks the optional list of compose service names. */
export function validateServices(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_SERVICES || !v.every((s) => typeof s === 'string' && s.length <= MAX_NAME && NAME_RE.test(s))) {
    throw new HomelabError('INVALID_ARGUMENTS', `services must be a list of at most ${MAX_SERVICES} compose service names such as ["web", "db"], got ${JSON.stringify(v)}`);
  }
  return v as string[];
}

/** Checks a container name or ID; it starts with a letter or digit, so it is never read as an option. */
export function validateContainer(v: unknown): string {
  if (typeof v !== 'string' || v.length > MAX_NAME || !NAME_RE.test(v)) {
    throw new HomelabError('INVALID_ARGUMENTS', `container must be a container name or ID such as homelab-web-1 or 3f9a1c2b7d4e, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks `since` of `get_container_logs`. */
export function validateSince(v: unknown): string {
  if (typeof v !== 'string' || v.length > 40 || !SINCE_RE.test(v)) {
    throw new HomelabError(
      'INVALID_ARGUMENTS',
      `since must be a duration such as 10m or 1h30m, a Unix time, or a date/time such as 2026-11-21T13:00:00Z, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Checks `lines` of `get_container_logs`. */
export function validateLines(v: unknown): number {
  if (v === undefined) return DEFAULT_LOG_LINES;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_LOG_LINES) {
    throw new HomelabError('INVALID_ARGUMENTS', `lines must be a whole number from 1 to ${MAX_LOG_LINES}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function validateTimeout(v: unknown): number {
  if (v === undefined) return DEFAULT_WRITE_TIMEOUT_S;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > MAX_WRITE_TIMEOUT_S) {
    throw new HomelabError('INVALID_ARGUMENTS', `timeout_s must be a number of seconds from 1 to ${MAX_WRITE_TIMEOUT_S}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A stack: a folder of the compose directory with a compose file in it. */
export interface Stack {
  name: string;
  /** The compose project name (`-p`). */
  project: string;
  directory: string;
  composeFile: string;
}

const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() === true;

/** The configured compose directory, checked to exist. */
async function composeDirOf(env: EdgeEnv): Promise<string> {
  const dir = env.composeDir;
  if (!dir) throw new HomelabError('COMPOSE_DIR_NOT_CONFIGURED', COMPOSE_DIR_MISSING);
  if (!(await isDir(dir))) {
    throw new HomelabError('COMPOSE_DIR_MISSING', `the compose directory ${dir} (--compose-dir) does not exist or is not a directory on this node`);
  }
  return dir;
}

/** The compose file of a stack folder, or undefined when it has none. */
async function composeFileIn(directory: string): Promise<string | undefined> {
  for (const f of COMPOSE_FILES) {
    if ((await stat(join(directory, f)).catch(() => undefined))?.isFile()) return join(directory, f);
  }
  return undefined;
}

/** A folder of the compose directory that is not a stack, and why. */
interface Ignored {
  name: string;
  reason: string;
}

/** Every stack folder of the compose directory, and the folders that are not stacks, with why. */
async function scanStacks(env: EdgeEnv): Promise<{ dir: string; stacks: Stack[]; ignored: Ignored[] }> {
  const dir = await composeDirOf(env);
  const entries = await readdir(dir, { withFileTypes: true });
  const found: Stack[] = [];
  const ignored: Ignored[] = [];
  for (const e of entries.slice(0, MAX_STACK_DIRS)) {
    const directory = join(dir, e.name);
    // Symlinked stack folders count: stat follows the link.
    if (e.name.startsWith('.') || !(e.isDirectory() || (e.isSymbolicLink() && (await isDir(directory))))) continue;
    if (e.name.length > MAX_NAME || !NAME_RE.test(e.name)) {
      ignored.push({ name: e.name, reason: 'the name is not a valid stack name (letters, digits, _ . -)' });
      continue;
    }
    const composeFile = await composeFileIn(directory);
    if (composeFile) found.push({ name: e.name, project: normalizeProjectName(e.name), directory, composeFile });
    else ignored.push({ name: e.name, reason: 'no compose file in it' });
  }
  // Two folders whose names give the same project (`HomeLab`, `homelab`) would act on one set of
  // containers; the one named exactly like the project keeps it, the other is refused.
  const byProject = new Map<string, Stack>();
  for (const s of found.sort((a, b) => Number(b.name === b.project) - Number(a.name === a.project) || (a.name < b.name ? -1 : 1))) {
    const owner = byProject.get(s.project);
    if (owner) ignored.push({ name: s.name, reason: `its compose project name "${s.project}" is the same as that of stack ${owner.name}` });
    else byProject.set(s.project, s);
  }
  if (entries.length > MAX_STACK_DIRS) ignored.push({ name: '…', reason: `only the first ${MAX_STACK_DIRS} entries of ${dir} were looked at` });
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name, 'en');
  return { dir, stacks: [...byProject.values()].sort(byName), ignored: ignored.sort(byName) };
}

/** Finds one stack by name, with an error that says what exists instead. */
export async function findStack(env: EdgeEnv, name: string): Promise<Stack> {
  const stackName = validateStackName(name);
  const { dir, stacks, ignored } = await scanStacks(env);
  const stack = stacks.find((s) => s.name === stackName);
  if (stack) return stack;
  const why = ignored.find((i) => i.name === stackName)?.reason;
  if (why === 'no compose file in it') {
    throw new HomelabError('STACK_NOT_FOUND', `${join(dir, stackName)} has no compose file (looked for ${COMPOSE_FILES.join(', ')}), so "${stackName}" is not a stack`);
  }
  if (why) throw new HomelabError('STACK_NOT_FOUND', `"${stackName}" is not a usable stack: ${why}`);
  throw new HomelabError('STACK_NOT_FOUND', `no stack "${stackName}" on this node: ${join(dir, stackName)} does not exist (list_stacks shows the stacks in ${dir})`);
}

async function runDocker(env: EdgeEnv, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
  let r: RunResult;
  try {
    r = await env.run({ file: DOCKER, args, timeoutMs, maxBytes: env.maxOutputBytes, env: env.childEnv, signal });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new HomelabError('DOCKER_NOT_INSTALLED', DOCKER_MISSING, { cause: err });
    if (code === 'EACCES') throw new HomelabError('DOCKER_NOT_EXECUTABLE', 'docker exists but the edge may not execute it', { cause: err });
    throw new HomelabError('DOCKER_FAILED', `could not run docker: ${(err as Error).message}`, { cause: err });
  }
  if (r.aborted) throw new HomelabError('CANCELLED', `docker ${args[0]} was cancelled`);
  if (r.timedOut) {
    throw new HomelabError('DOCKER_TIMEOUT', `docker ${commandName(args)} did not finish within ${timeoutMs / 1000} s and was stopped (is the Docker daemon hung?)`);
  }
  return r;
}

/** `compose up`, `image ls`, `logs`: the words of a docker command line that name it. */
function commandName(args: string[]): string {
  if (args[0] !== 'compose') return args[0] === 'image' ? args.slice(0, 2).join(' ') : (args[0] ?? '');
  const sub = args[1] === '--project-directory' ? args[7] : args[1];
  return `compose ${sub ?? ''}`.trim();
}

/**
 * The error for a docker command that failed: the daemon down, no permission, no Compose plugin
 * and no such container each say what to do; anything else quotes docker's first line.
 */
export function dockerError(r: RunResult, args: string[], subject?: string): HomelabError {
  const compose = args[0] === 'compose';
  const what = `docker ${commandName(args)}`;
  const line = firstLine(r.stderr) || firstLine(r.stdout);
  switch (classifyDockerFailure(r.stderr, r.exitCode, compose)) {
    case 'daemon-unreachable':
      return new HomelabError('DOCKER_DAEMON_UNREACHABLE', `the Docker daemon is not running or not reachable on this node (${what}: ${line})`);
    case 'permission-denied':
      return new HomelabError('DOCKER_PERMISSION_DENIED', `the edge's user may not use Docker on this node; add it to the docker group (${what}: ${line})`);
    case 'compose-missing':
      return new HomelabError('COMPOSE_NOT_INSTALLED', `Docker Compose v2 is not installed on this node: docker has no compose command (install the docker-compose-plugin package); docker said: ${line}`);
    case 'no-such-container':
      return new HomelabError('CONTAINER_NOT_FOUND', `no container "${subject}" on this node (${line}); get_stack_status lists the containers of a stack`);
    case 'invalid-since':
      return new HomelabError('INVALID_ARGUMENTS', `docker did not accept since: ${line}`);
    default:
      return new HomelabError('DOCKER_FAILED', `${what} failed (exit ${r.exitCode ?? r.signal}): ${line || 'no message'}`);
  }
}

/** The fixed head of every compose command line. */
export function composeArgs(stack: Stack, ...rest: string[]): string[] {
  return ['compose', '--project-directory', stack.directory, '-f', stack.composeFile, '-p', stack.project, ...rest];
}

const readAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const cutNote = (env: EdgeEnv) => `\n(output cut at ${env.maxOutputBytes} bytes, the edge's --max-output)`;

/** A stack joined with what `docker compose ls` knows of its project. */
interface StackView {
  name: string;
  project: string;
  directory: string;
  composeFile: string;
  /** As compose prints it, `not created` when compose knows no such project, `unknown` when docker failed. */
  status: string;
  counts: Record<string, number>;
}

function stateWord(counts: Record<string, number>, status: string): string {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (status === 'not created' || status === 'unknown') return status;
  if (total > 0 && counts.running === total) return 'running';
  if (counts.running) return 'partly running';
  return 'stopped';
}

function formatStacks(dir: string, stacks: StackView[], others: ComposeProject[], ignored: Ignored[]): string {
  const lines: string[] = [];
  if (stacks.length === 0) lines.push(`no stacks in ${dir} (a stack is a folder holding a compose.yaml)`);
  else {
    const tally = new Map<string, number>();
    for (const s of stacks) tally.set(stateWord(s.counts, s.status), (tally.get(stateWord(s.counts, s.status)) ?? 0) + 1);
    lines.push(`${stacks.length} stack${stacks.length === 1 ? '' : 's'} in ${dir}: ${[...tally].map(([k, n]) => `${n} ${k}`).join(', ')}`);
    const w = Math.min(32, Math.max(...stacks.map((s) => s.name.length)));
    for (const s of stacks) lines.push(`  ${s.name.padEnd(w)}  ${s.status}`);
  }
  if (others.length) lines.push(`other compose projects on this node (not in ${dir}): ${others.map((o) => `${o.name} ${o.status}`).join('; ')}`);
  for (const i of ignored) lines.push(`ignored ${i.name}: ${i.reason}`);
  return lines.join('\n');
}

const listStacks = defineTool<Record<string, never>>({
  name: 'list_stacks',
  title: 'List Docker Compose stacks',
  description:
    "Lists the Docker Compose stacks of this node's compose directory (one folder per stack) with the state of each " +
    '(running(3), exited(1), running(2), not created), including stacks that exist but are stopped, and compose projects ' +
    'running from elsewhere.',
  inputSchema: { type: 'object', additionalProperties: false, properties: {} },
  annotations: { title: 'List Docker Compose stacks', ...readAnnotations },
  async handler(_args, { env, signal }) {
    const { dir, stacks, ignored } = await scanStacks(env);
    const args = ['compose', 'ls', '-a', '--format', 'json'];
    const r = await runDocker(env, args, READ_TIMEOUT_MS, signal);
    let failure: HomelabError | undefined;
    let projects: ComposeProject[] = [];
    if (r.exitCode !== 0) failure = dockerError(r, args);
    else projects = parseComposeLs(r.stdout, r.stdoutTruncated);
    const byName = new Map(projects.map((p) => [p.name, p]));
    const views: StackView[] = stacks.map((s) => {
      const p = byName.get(s.project);
      byName.delete(s.project);
      const status = failure ? 'unknown' : (p?.status ?? 'not created');
      return { ...s, status, counts: p?.counts ?? {} };
    });
    const others = [...byName.values()];
    const data = {
      composeDir: dir,
      stacks: views.map((v) => ({ ...v, state: stateWord(v.counts, v.status) })),
      otherProjects: others,
      ignored,
      ...(failure ? { error: { code: failure.code, message: failure.message } } : {}),
      ...(r.stdoutTruncated ? { truncated: true } : {}),
    };
    const text = formatStacks(dir, views, others, ignored) + (r.stdoutTruncated ? cutNote(env) : '');
    // The folders are still worth seeing when docker cannot say what runs.
    if (failure) return { data, text: `${failure.message}\n${text}`, isError: true };
    return { data, text };
  },
});

function formatContainers(stack: Stack, containers: ComposeContainer[]): string {
  if (containers.length === 0) return `stack ${stack.name} has no containers (it is not up; compose_up starts it)`;
  const running = containers.filter((c) => c.state === 'running').length;
  const unhealthy = containers.filter((c) => c.health === 'unhealthy').length;
  const head = `stack ${stack.name}: ${containers.length} container${containers.length === 1 ? '' : 's'}, ${running} running${unhealthy ? `, ${unhealthy} unhealthy` : ''}`;
  const w = Math.min(40, Math.max(...containers.map((c) => c.name.length)));
  const sw = Math.min(24, Math.max(...containers.map((c) => c.service.length)));
  const rows = containers.map((c) => `  ${c.name.padEnd(w)}  ${c.service.padEnd(sw)}  ${c.state.padEnd(10)}  ${c.status}${c.ports ? `  ${c.ports}` : ''}`);
  return [head, ...rows].join('\n');
}

const getStackStatus = defineTool<{ stack: string }>({
  name: 'get_stack_status',
  title: 'Docker Compose stack status',
  description:
    'Shows the containers of one Docker Compose stack of this node, stopped ones included: name, service, state, ' +
    'health, status (Up 2 hours (healthy), Exited (137) ...) and ports.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { stack: { type: 'string', minLength: 1, maxLength: MAX_NAME, description: 'Stack name: a folder of the compose directory, as list_stacks shows.' } },
    required: ['stack'],
  },
  annotations: { title: 'Docker Compose stack status', ...readAnnotations },
  async handler(args, { env, signal }) {
    const stack = await findStack(env, args.stack);
    const argv = composeArgs(stack, 'ps', '-a', '--format', 'json');
    const r = await runDocker(env, argv, READ_TIMEOUT_MS, signal);
    if (r.exitCode !== 0) throw dockerError(r, argv);
    const containers = parseComposePs(r.stdout, r.stdoutTruncated);
    return {
      data: {
        stack: stack.name,
        project: stack.project,
        composeFile: stack.composeFile,
        containers,
        ...(r.stdoutTruncated ? { truncated: true } : {}),
      },
      text: formatContainers(stack, containers) + (r.stdoutTruncated ? cutNote(env) : ''),
    };
  },
});

const listImages = defineTool<Record<string, never>>({
  name: 'list_images',
  title: 'List Docker images',
  description: 'Lists the Docker images on this node: repository, tag, ID, when it was created and its size.',
  inputSchema: { type: 'object', additionalProperties: false, properties: {} },
  annotations: { title: 'List Docker images', ...readAnnotations },
  async handler(_args, { env, signal }) {
    const argv = ['image', 'ls', '--format', 'json'];
    const r = await runDocker(env, argv, READ_TIMEOUT_MS, signal);
    if (r.exitCode !== 0) throw dockerError(r, argv);
    const images = parseImageLs(r.stdout, r.stdoutTruncated);
    const w = Math.min(60, Math.max(0, ...images.map((i) => `${i.repository}:${i.tag}`.length)));
    const text =
      images.length === 0
        ? 'no images on this node'
        : [`${images.length} image${images.length === 1 ? '' : 's'}`, ...images.map((i) => `  ${`${i.repository}:${i.tag}`.padEnd(w)}  ${i.id}  ${i.size.padStart(7)}  ${i.createdSince}`)].join('\n');
    return {
      data: { count: images.length, images, ...(r.stdoutTruncated ? { truncated: true } : {}) },
      text: text + (r.stdoutTruncated ? cutNote(env) : ''),
    };
  },
});

/** Arguments of `get_container_logs`. */
export interface ContainerLogsArgs {
  container: string;
  lines?: number;
  since?: string;
}

const getContainerLogs = defineTool<ContainerLogsArgs>({
  name: 'get_container_logs',
  title: 'Container logs',
  description:
    `Shows the last lines (default ${DEFAULT_LOG_LINES}, at most ${MAX_LOG_LINES}) a Docker container on this node wrote to stdout and ` +
    'stderr, merged in time order, each with its timestamp; optionally only those since a time or duration.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      container: { type: 'string', minLength: 1, maxLength: MAX_NAME, description: 'Container name or ID, e.g. homelab-web-1 (get_stack_status shows the names).' },
      lines: { type: 'integer', minimum: 1, maximum: MAX_LOG_LINES, description: `How many of the last lines (default ${DEFAULT_LOG_LINES}).` },
      since: { type: 'string', maxLength: 40, description: 'Only lines since then: a duration such as 10m or 2h, a Unix time, or a date/time such as 2026-11-21T13:00:00Z.' },
    },
    required: ['container'],
  },
  annotations: { title: 'Container logs', ...readAnnotations },
  async handler(args, { env, signal }) {
    const container = validateContainer(args.container);
    const lines = validateLines(args.lines);
    const since = args.since === undefined ? undefined : validateSince(args.since);
    const argv = ['logs', '--tail', String(lines), '--timestamps', ...(since ? ['--since', since] : []), container];
    const r = await runDocker(env, argv, READ_TIMEOUT_MS, signal);
    // The container's own stderr arrives on docker's stderr, so only the exit code tells a failure.
    if (r.exitCode !== 0) throw dockerError(r, argv, container);
    const merged = mergeLogStreams(r.stdout, r.stderr, {
      maxLineChars: MAX_LOG_LINE_CHARS,
      stdoutTruncated: r.stdoutTruncated,
      stderrTruncated: r.stderrTruncated,
    });
    const truncated = merged.cut || r.stdoutTruncated || r.stderrTruncated;
    const head =
      merged.lines.length === 0
        ? `container ${container} wrote no log lines${since ? ` since ${since}` : ''}`
        : `last ${merged.lines.length} log line${merged.lines.length === 1 ? '' : 's'} of container ${container}${since ? ` since ${since}` : ''} (stdout and stderr, oldest first)${truncated ? ', cut' : ''}:`;
    return {
      data: { container, lines: merged.lines, truncated, ...(since ? { since } : {}) },
      text: [head, ...merged.lines].join('\n'),
    };
  },
});

function formatContainerState(c: ContainerState): string {
  const since = c.state === 'running' ? (c.startedAt ? ` since ${c.startedAt}` : '') : c.finishedAt ? ` (ended ${c.finishedAt})` : '';
  const parts = [
    `container ${c.name} (${c.image}, ${c.id}) is ${c.state}${c.health ? ` (${c.health})` : ''}${since}`,
    c.state !== 'running' && c.exitCode !== null ? `exit code ${c.exitCode}${c.oomKilled ? ', killed for lack of memory (OOM)' : ''}` : undefined,
    c.error ? `error: ${c.error}` : undefined,
    c.restartCount > 0 ? `restarted ${c.restartCount} time${c.restartCount === 1 ? '' : 's'}` : undefined,
    c.project ? `compose stack ${c.project}${c.service ? `, service ${c.service}` : ''}` : undefined,
    c.healthLog ? `last health check: ${c.healthLog}` : undefined,
  ].filter(Boolean);
  return parts.join('\n');
}

const getContainerStatus = defineTool<{ container: string }>({
  name: 'get_container_status',
  title: 'Container status',
  description:
    'Shows the state of one Docker container on this node: running or not, its health check, since when, its exit code and error, ' +
    'restarts, out-of-memory kills, and the compose stack and service it belongs to.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { container: { type: 'string', minLength: 1, maxLength: MAX_NAME, description: 'Container name or ID, e.g. homelab-web-1 (get_stack_status shows the names).' } },
    required: ['container'],
  },
  annotations: { title: 'Container status', ...readAnnotations },
  async handler(args, { env, signal }) {
    const container = validateContainer(args.container);
    const argv = ['inspect', '--type', 'container', container];
    const r = await runDocker(env, argv, READ_TIMEOUT_MS, signal);
    if (r.exitCode !== 0) throw dockerError(r, argv, container);
    const c = parseContainerInspect(r.stdout);
    return { data: { ...c }, text: formatContainerState(c) };
  },
});

/** Arguments of `compose_up` and `compose_pull`. */
export interface ComposeWriteArgs {
  stack: string;
  services?: string[];
  timeout_s?: number;
}

// The compose write running per stack directory. Compose takes no lock of its own: an `up` and a
// `down` of one stack at once leave it half of each, so a second write is refused while one runs.
const running = new Map<string, { action: string; since: number }>();

/** Runs one compose write and shapes its answer; a failure is an error result with compose's own words. */
async function composeWrite(action: 'up' | 'down' | 'pull', args: ComposeWriteArgs, env: EdgeEnv, signal: AbortSignal): Promise<ToolOutput> {
  const stack = await findStack(env, args.stack);
  const services = action === 'down' ? [] : validateServices(args.services);
  const timeoutS = validateTimeout(args.timeout_s);
  const verb = action === 'up' ? ['up', '-d'] : [action];
  const argv = composeArgs(stack, ...verb, ...services);
  const busy = running.get(stack.directory);
  if (busy) {
    throw new HomelabError(
      'STACK_BUSY',
      `docker compose ${busy.action} is still running on stack ${stack.name} (for ${Math.round((Date.now() - busy.since) / 1000)} s); try again when it is done`,
    );
  }
  running.set(stack.directory, { action, since: Date.now() });
  let r: RunResult;
  try {
    r = await runDocker(env, argv, Math.round(timeoutS * 1000), signal);
  } finally {
    running.delete(stack.directory);
  }
  const kind = classifyDockerFailure(r.stderr, r.exitCode, true);
  if (r.exitCode !== 0 && kind !== 'other') throw dockerError(r, argv);
  // Compose reports progress on stderr; stdout is normally empty.
  const { output, cut } = summarizeComposeOutput([r.stdout, r.stderr].filter(Boolean).join('\n'), MAX_COMPOSE_LINES);
  const truncated = cut || r.stdoutTruncated || r.stderrTruncated;
  const ok = r.exitCode === 0;
  const command = `docker compose ${verb.join(' ')}${services.length ? ` ${services.join(' ')}` : ''}`;
  const head = ok
    ? `${command} on stack ${stack.name} done in ${(r.durationMs / 1000).toFixed(1)} s`
    : `${command} on stack ${stack.name} failed (exit ${r.exitCode ?? r.signal})`;
  return {
    data: { stack: stack.name, project: stack.project, action, services, ok, exitCode: r.exitCode, output, truncated, durationMs: r.durationMs },
    text: output ? `${head}:\n${output}` : head,
    isError: !ok,
  };
}

const stackArg = { type: 'string' as const, minLength: 1, maxLength: MAX_NAME, description: 'Stack name: a folder of the compose directory, as list_stacks shows.' };
const servicesArg = {
  type: 'array' as const,
  maxItems: MAX_SERVICES,
  items: { type: 'string' as const, minLength: 1, maxLength: MAX_NAME },
  description: 'Only these services of the stack, e.g. ["web"]. Omit for all.',
};
const timeoutArg = {
  type: 'number' as const,
  minimum: 1,
  maximum: MAX_WRITE_TIMEOUT_S,
  description: `Seconds before compose is stopped (default ${DEFAULT_WRITE_TIMEOUT_S}); pulling large images may need more.`,
};

const composeUp = defineTool<ComposeWriteArgs>({
  name: 'compose_up',
  title: 'Start a Docker Compose stack',
  description:
    'Creates and starts the containers of a Docker Compose stack on this node in the background (docker compose up -d), ' +
    'recreating those whose configuration or image changed. Returns what compose reported.',
  inputSchema: { type: 'object', additionalProperties: false, properties: { stack: stackArg, services: servicesArg, timeout_s: timeoutArg }, required: ['stack'] },
  annotations: { title: 'Start a Docker Compose stack', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: (args, { env, signal }) => composeWrite('up', args, env, signal),
});

const composeDown = defineTool<{ stack: string; timeout_s?: number }>({
  name: 'compose_down',
  title: 'Stop and remove a Docker Compose stack',
  description:
    'Stops and removes the containers and networks of a Docker Compose stack on this node (docker compose down). ' +
    'Named volumes are kept.',
  inputSchema: { type: 'object', additionalProperties: false, properties: { stack: stackArg, timeout_s: timeoutArg }, required: ['stack'] },
  annotations: { title: 'Stop and remove a Docker Compose stack', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  handler: (args, { env, signal }) => composeWrite('down', args, env, signal),
});

const composePull = defineTool<ComposeWriteArgs>({
  name: 'compose_pull',
  title: 'Pull the images of a Docker Compose stack',
  description:
    'Pulls the current images of a Docker Compose stack (or of some of its services) on this node (docker compose pull); ' +
    'running containers keep their old image until compose_up.',
  inputSchema: { type: 'object', additionalProperties: false, properties: { stack: stackArg, services: servicesArg, timeout_s: timeoutArg }, required: ['stack'] },
  // Open world: it fetches from image registries.
  annotations: { title: 'Pull the images of a Docker Compose stack', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  handler: (args, { env, signal }) => composeWrite('pull', args, env, signal),
});

/**
 * Checks that docker is on the PATH commands run with. Nothing is spawned at start (a `docker
 * version` would also wake a socket-activated daemon); whether the daemon answers and the Compose
 * plugin exists shows on the first call, with a message that says so.
 */
export async function probeDocker(env: EdgeEnv): Promise<ProbeResult> {
  const found = findExecutable(DOCKER, env.childEnv.PATH);
  if (!found) return { ok: false, reason: DOCKER_MISSING };
  if ('notExecutable' in found) return { ok: false, reason: `docker exists (${found.notExecutable}) but the edge may not execute it` };
  if (!env.composeDir) return { ok: true, detail: `${found.path}; no --compose-dir, so the compose tools say so when called` };
  if (!(await isDir(env.composeDir))) {
    env.log.warn('compose directory missing', { composeDir: env.composeDir });
    return { ok: true, detail: `${found.path}; compose directory ${env.composeDir} does not exist (yet)` };
  }
  return { ok: true, detail: `${found.path}; compose directory ${env.composeDir}` };
}

/** The `docker` capability: stacks, containers, images and logs through the docker CLI. */
export const docker = defineCapability({
  name: 'docker',
  description: 'Docker Compose stacks of the compose directory, container logs and images through the docker CLI.',
  enabledByDefault: true,
  probe: probeDocker,
  tools: [listStacks, getStackStatus, listImages, getContainerStatus, getContainerLogs, composeUp, composeDown, composePull],
});
