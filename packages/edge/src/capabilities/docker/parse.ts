/**
 * Pure parsers of the docker CLI's outputs (service-apis.md §13), tested on captured output in
 * `__fixtures__/`. Each takes the text a command printed and whether the edge cut it at its
 * output cap, so a cut NDJSON stream loses only its last, partial line.
 */
import { HomelabError } from '@homelab-mcp/core';

/** One project of `docker compose ls -a --format json`. */
export interface ComposeProject {
  name: string;
  /** As compose prints it: `running(3)`, `exited(1), running(2)`. */
  status: string;
  /** The status as counts per container state: `{ exited: 1, running: 2 }`. */
  counts: Record<string, number>;
  configFiles: string[];
}

/** One container of `docker compose ps -a --format json`. */
export interface ComposeContainer {
  name: string;
  service: string;
  /** created, running, paused, restarting, removing, exited or dead. */
  state: string;
  /** '' (no health check), starting, healthy or unhealthy. */
  health: string;
  /** As docker prints it: `Up 2 hours (healthy)`, `Exited (137) 5 hours ago`. */
  status: string;
  /** Published and exposed ports: `0.0.0.0:8080->80/tcp, 5432/tcp`. */
  ports: string;
  image: string;
  exitCode: number | null;
  id: string;
}

/** One image of `docker image ls --format json`. */
export interface DockerImage {
  repository: string;
  tag: string;
  id: string;
  digest: string | null;
  createdAt: string;
  createdSince: string;
  size: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

function invalid(what: string, detail: string): HomelabError {
  return new HomelabError('DOCKER_OUTPUT_INVALID', `could not read the output of ${what}: ${detail}`);
}

/**
 * Objects from NDJSON, or from one JSON array (what older versions print for the same command).
 * When the edge cut the output, the last, partial line is dropped rather than failing the answer.
 */
export function parseJsonObjects(stdout: string, what: string, truncated = false): Record<string, unknown>[] {
  const text = stdout.trim();
  if (text === '') return [];
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      // A cut array cannot be parsed at all; say why instead of calling the output broken.
      if (truncated) throw invalid(what, 'the output was longer than the edge\'s output cap (--max-output)');
      throw invalid(what, (err as Error).message);
    }
    if (!Array.isArray(parsed)) throw invalid(what, 'expected a JSON array');
    return parsed.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x));
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (truncated && !stdout.endsWith('\n')) lines.pop();
  return lines.map((line, i) => {
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      return v as Record<string, unknown>;
    } catch (err) {
      throw invalid(what, `line ${i + 1}: ${(err as Error).message}`);
    }
  });
}

/** `exited(1), running(2)` → `{ exited: 1, running: 2 }`. */
export function parseStatusCounts(status: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of status.matchAll(/([a-z]+)\((\d+)\)/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + Number(m[2]);
  return counts;
}

/** `docker compose ls -a --format json`: a single JSON array. */
export function parseComposeLs(stdout: string, truncated = false): ComposeProject[] {
  return parseJsonObjects(stdout, 'docker compose ls', truncated).map((o) => {
    const status = str(o.Status);
    return {
      name: str(o.Name),
      status,
      counts: parseStatusCounts(status),
      configFiles: str(o.ConfigFiles).split(',').filter(Boolean),
    };
  });
}

/** Ports from `Publishers` the way docker prints them, for compose < 2.21, which has no `Ports` string. */
export function formatPublishers(publishers: unknown): string {
  if (!Array.isArray(publishers)) return '';
  return publishers
    .filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null)
    .map((p) => {
      const target = `${str(p.TargetPort)}/${str(p.Protocol) || 'tcp'}`;
      if (!p.PublishedPort) return target;
      const url = str(p.URL);
      const host = url.includes(':') ? `[${url}]` : url;
      return `${host ? `${host}:` : ''}${str(p.PublishedPort)}->${target}`;
    })
    .join(', ');
}

/** `docker compose ps -a --format json`: NDJSON (compose >= 2.21) or one JSON array (before). */
export function parseComposePs(stdout: string, truncated = false): ComposeContainer[] {
  return parseJsonObjects(stdout, 'docker compose ps', truncated).map((o) => ({
    name: str(o.Name),
    service: str(o.Service),
    state: str(o.State),
    health: str(o.Health),
    status: str(o.Status),
    ports: typeof o.Ports === 'string' && o.Ports !== '' ? o.Ports : formatPublishers(o.Publishers),
    image: str(o.Image),
    exitCode: typeof o.ExitCode === 'number' ? o.ExitCode : null,
    id: str(o.ID).slice(0, 12),
  }));
}

/** `docker image ls --format json`: one object per line. */
export function parseImageLs(stdout: string, truncated = false): DockerImage[] {
  return parseJsonObjects(stdout, 'docker image ls', truncated).map((o) => {
    const digest = str(o.Digest);
    return {
      repository: str(o.Repository),
      tag: str(o.Tag),
      id: str(o.ID),
      digest: digest === '' || digest === '<none>' ? null : digest,
      createdAt: str(o.CreatedAt),
      createdSince: str(o.CreatedSince),
      size: str(o.Size),
    };
  });
}

/** The state of one container, from `docker inspect --type container` (the Engine API's shape). */
export interface ContainerState {
  name: string;
  id: string;
  image: string;
  /** created, running, paused, restarting, removing, exited or dead. */
  state: string;
  /** '' when the image has no health check; else starting, healthy or unhealthy. */
  health: string;
  /** The last health check's output, when it failed. */
  healthLog?: string;
  exitCode: number | null;
  error: string;
  oomKilled: boolean;
  restartCount: number;
  startedAt: string | null;
  finishedAt: string | null;
  /** The compose project and service it belongs to, from its labels. */
  project?: string;
  service?: string;
}

/** Docker's zero time means "never": show nothing rather than year 1. */
const dockerTime = (v: unknown): string | null => {
  const t = str(v);
  return t === '' || t.startsWith('0001-01-01') ? null : t;
};

/** `docker inspect --type container NAME`: a JSON array with one object. */
export function parseContainerInspect(stdout: string): ContainerState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new HomelabError('COMMAND_FAILED', 'docker inspect printed something that is not JSON');
  }
  const o = (Array.isArray(parsed) ? parsed[0] : undefined) as Record<string, any> | undefined;
  if (!o || typeof o !== 'object') throw new HomelabError('COMMAND_FAILED', 'docker inspect printed no container');
  const st = (o.State ?? {}) as Record<string, any>;
  const health = (st.Health ?? undefined) as Record<string, any> | undefined;
  const labels = ((o.Config ?? {}).Labels ?? {}) as Record<string, unknown>;
  const lastCheck = Array.isArray(health?.Log) ? (health!.Log.at(-1) as Record<string, unknown> | undefined) : undefined;
  const healthStatus = str(health?.Status);
  return {
    name: str(o.Name).replace(/^\//, ''),
    id: str(o.Id).slice(0, 12),
    image: str((o.Config ?? {}).Image) || str(o.Image),
    state: str(st.Status),
    health: healthStatus,
    ...(healthStatus === 'unhealthy' && lastCheck ? { healthLog: str(lastCheck.Output).trim().slice(0, 500) } : {}),
    exitCode: typeof st.ExitCode === 'number' ? st.ExitCode : null,
    error: str(st.Error),
    oomKilled: st.OOMKilled === true,
    restartCount: typeof o.RestartCount === 'number' ? o.RestartCount : 0,
    startedAt: dockerTime(st.StartedAt),
    finishedAt: dockerTime(st.FinishedAt),
    ...(typeof labels['com.docker.compose.project'] === 'string' ? { project: labels['com.docker.compose.project'] } : {}),
    ...(typeof labels['com.docker.compose.service'] === 'string' ? { service: labels['com.docker.compose.service'] } : {}),
  };
}

/**
 * The project name compose derives from a folder name (compose-go's `NormalizeProjectName`):
 * lower case, only `[a-z0-9_-]`, no leading `_` or `-`. `-p` must be given a name in this form,
 * and using the same one compose would pick means a stack someone started by hand in its folder
 * is the same project.
 */
export function normalizeProjectName(name: string): string {
  return (name.toLowerCase().match(/[a-z0-9_-]/g) ?? []).join('').replace(/^[_-]+/, '');
}

/** `docker logs --timestamps` prefixes every line with an RFC 3339 time in UTC. */
const TS_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) /;

interface LogLine {
  ts: string;
  line: string;
}

function logLines(text: string, dropPartial: boolean): LogLine[] {
  const raw = text.split('\n');
  // The text ends with a newline, so the last piece is '' (or, when cut, a partial line).
  const last = raw.pop();
  if (last && !dropPartial) raw.push(last);
  const out: LogLine[] = [];
  for (const piece of raw) {
    // A TTY container's lines end in \r\n.
    const line = piece.endsWith('\r') ? piece.slice(0, -1) : piece;
    const m = TS_RE.exec(line);
    // A line without a timestamp (a TTY container's \r, say) sorts with the line before it.
    out.push({ ts: m ? m[1]! : (out.at(-1)?.ts ?? ''), line });
  }
  return out;
}

/**
 * The container's stdout and stderr (what `docker logs` writes to its own stdout and stderr)
 * merged into one list in time order, oldest first, by the timestamps `--timestamps` adds.
 * Lines longer than `maxLineChars` are cut; `cut` says whether any was.
 */
export function mergeLogStreams(
  stdout: string,
  stderr: string,
  opts: { maxLineChars: number; stdoutTruncated?: boolean; stderrTruncated?: boolean },
): { lines: string[]; cut: boolean } {
  const a = logLines(stdout, opts.stdoutTruncated === true);
  const b = logLines(stderr, opts.stderrTruncated === true);
  const merged: LogLine[] = [];
  let i = 0;
  let j = 0;
  // Both streams are in time order already; docker's fixed-width UTC stamps compare as strings.
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.ts <= b[j]!.ts)) merged.push(a[i++]!);
    else merged.push(b[j++]!);
  }
  let cut = false;
  const lines = merged.map(({ line }) => {
    if (line.length <= opts.maxLineChars) return line;
    cut = true;
    return `${line.slice(0, opts.maxLineChars)} [… ${line.length - opts.maxLineChars} more characters cut]`;
  });
  return { lines, cut };
}

/** Per-layer progress of an image pull (` 4f4fb700ef54 Downloading [=>  ] 32kB/3MB`): noise in an answer. */
const LAYER_LINE_RE = /^\s*[0-9a-f]{12} (Pulling fs layer|Waiting|Downloading|Verifying Checksum|Download complete|Extracting|Pull complete|Already exists)\b/;

/**
 * What compose printed (progress on stderr), for an answer: per-layer pull progress dropped, and
 * at most `maxLines` lines, the last ones, since a failure is explained at the end.
 */
export function summarizeComposeOutput(text: string, maxLines: number): { output: string; cut: boolean } {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !LAYER_LINE_RE.test(l)).map((l) => l.trimEnd());
  const cut = lines.length > maxLines;
  return { output: (cut ? [`[… ${lines.length - maxLines} earlier lines cut]`, ...lines.slice(-maxLines)] : lines).join('\n'), cut };
}

/** What kind of failure a docker command's stderr shows. */
export type DockerFailure =
  | 'daemon-unreachable'
  | 'permission-denied'
  | 'compose-missing'
  | 'no-such-container'
  | 'invalid-since'
  | 'other';

/** Sorts a failed docker command by its stderr, so that the answer can say what to do. */
export function classifyDockerFailure(stderr: string, exitCode: number | null, compose: boolean): DockerFailure {
  if (/Cannot connect to the Docker daemon|Is the docker daemon running\?/i.test(stderr)) return 'daemon-unreachable';
  if (/permission denied while trying to connect to the Docker daemon/i.test(stderr)) return 'permission-denied';
  // Without the Compose plugin the docker CLI reads `compose` as nothing it knows and rejects the
  // first compose flag (`unknown flag: --project-directory`), exit 125.
  if (compose && (/unknown command: docker compose|docker: 'compose' is not a docker command/i.test(stderr) || (exitCode === 125 && /unknown (shorthand )?flag/i.test(stderr)))) {
    return 'compose-missing';
  }
  if (/No such container/i.test(stderr)) return 'no-such-container';
  if (/invalid value for "since"/i.test(stderr)) return 'invalid-since';
  return 'other';
}

/** The first line of stderr that says something, for messages. */
export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}
