/**
 * A pino-compatible JSON-lines logger in a few lines: the edge must stay tiny and
 * bundle to one file, and pino's transports spawn worker files a bundle cannot carry.
 * Each line has the hub's fields, as its pino logger writes them (`"level":"warn"`, ISO
 * `"time"`, `pid`, `hostname`, `"name":"edge"`, then the fields and `msg`), so one query reads
 * the logs of the hub and of every edge. Lines go to stderr (stdout stays free for a future
 * stdio mode). Secrets are redacted by the hub's key rule (`isSecretKey`), so a token cannot
 * reach the journal by accident. The edge logs only through the `Logger` interface: the hub,
 * running an edge in-process, passes its own pino logger behind it (`fields-first-log.ts`).
 */
import { hostname } from 'node:os';
import { isSecretKey, REDACTED } from '@homelab-mcp/core/secret-keys';

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

function redact(v: unknown, depth = 0): unknown {
  if (depth > 4 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = x !== undefined && x !== null && isSecretKey(k) ? REDACTED : redact(x, depth + 1);
  return out;
}

/** Info and debug lines that follow an earlier one within this many ms are written together. */
export const COALESCE_MS = 100;
/** Characters held at most before they are written anyway. */
const COALESCE_MAX_CHARS = 64 * 1024;

/**
 * Coalesces routine lines into fewer writes: each write to stderr wakes whoever reads it
 * (journald, or the process that started the edge), which cost more than the line itself: one
 * info line per tool call took an edge answering back-to-back calls from ~0.64 to ~1.07 ms p50
 * (get_status, interleaved A/B). A routine line after ≥ COALESCE_MS of quiet is written at once
 * (a start-up line, a call now and then); the ones that follow within COALESCE_MS are held and
 * written together at most COALESCE_MS later. An urgent line (warn and above) writes what is
 * held, then itself, at once; so does the process's exit. Lines keep their own `time`.
 *
 * @example const w = createCoalescer((s) => process.stderr.write(s)); w.write(line, false);
 */
export function createCoalescer(out: (text: string) => void, ms = COALESCE_MS, now: () => number = () => performance.now()) {
  let held = '';
  let timer: NodeJS.Timeout | undefined;
  let lastAt = -Infinity;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!held) return;
    const text = held;
    held = '';
    lastAt = now();
    out(text);
  };
  return {
    write(line: string, urgent: boolean) {
      if (urgent) {
        flush();
        out(line);
        return;
      }
      if (!timer && now() - lastAt >= ms) {
        lastAt = now();
        out(line);
        return;
      }
      held += line;
      if (held.length >= COALESCE_MAX_CHARS) return flush();
      // Unref'd: held lines never keep the process alive; its exit writes them.
      timer ??= setTimeout(flush, Math.max(0, lastAt + ms - now())).unref();
    },
    flush,
  };
}

// One for the process: every logger writing to stderr shares it, so lines keep their order.
let stderrLines: ReturnType<typeof createCoalescer> | undefined;
function stderrCoalescer(): ReturnType<typeof createCoalescer> {
  if (!stderrLines) {
    const c = (stderrLines = createCoalescer((text) => process.stderr.write(text)));
    process.on('exit', () => c.flush());
  }
  return stderrLines;
}

export interface EdgeLoggerOptions {
  level?: LogLevel;
  /** The `name` field of every line; default `edge`. */
  name?: string;
  bindings?: Record<string, unknown>;
  /** Where lines go, each at once; default stderr, routine lines coalesced (`createCoalescer`). */
  write?: (line: string) => void;
  /** The clock, for tests. */
  now?: () => Date;
}

/**
 * @example
 * const log = createLogger({ level: 'info' });
 * log.warn('refused', { host: 'evil.example' });
 * // {"level":"warn","time":"2026-12-07T07:00:00.000Z","pid":812,"hostname":"pi","name":"edge","host":"evil.example","msg":"refused"}
 */
export function createLogger(opts: EdgeLoggerOptions = {}): Logger {
  const min = LEVELS[opts.level ?? 'info'];
  const custom = opts.write;
  const write = custom ? (line: string) => custom(line) : (line: string, urgent: boolean) => stderrCoalescer().write(line, urgent);
  const now = opts.now ?? (() => new Date());
  // pino's default base fields, in its order; bindings are redacted once, when bound.
  const head = { pid: process.pid, hostname: hostname(), name: opts.name ?? 'edge', ...(redact(opts.bindings ?? {}) as object) };
  // The same line built from strings (one line per tool call at info): the head is serialized
  // once, and flat fields that are neither secret nor one of the line's own keys are written as
  // they are. Anything else takes the general path, which gives the same bytes.
  const headJson = JSON.stringify(head).slice(1, -1);
  const ownKeys = new Set(['level', 'time', 'msg', ...Object.keys(head)]);
  const flat = (fields: Record<string, unknown>): boolean => {
    for (const k in fields) {
      const v = fields[k];
      if ((v !== null && typeof v === 'object') || ownKeys.has(k) || (v !== undefined && v !== null && isSecretKey(k))) return false;
    }
    return true;
  };
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    const time = now().toISOString();
    if (fields === undefined || flat(fields)) {
      const f = fields === undefined ? '{}' : JSON.stringify(fields);
      write(`{"level":"${level}","time":"${time}",${headJson}${f.length > 2 ? `,${f.slice(1, -1)}` : ''},"msg":${JSON.stringify(msg)}}\n`, LEVELS[level] >= LEVELS.warn);
      return;
    }
    const rec = { level, time, ...head, ...(redact(fields) as object), msg };
    write(JSON.stringify(rec) + '\n', LEVELS[level] >= LEVELS.warn);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => createLogger({ ...opts, bindings: { ...opts.bindings, ...b } }),
  };
}

export function isLogLevel(s: string): s is LogLevel {
  return Object.hasOwn(LEVELS, s);
}
