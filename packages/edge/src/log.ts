/**
 * A pino-compatible JSON-lines logger in a few lines: the edge must stay tiny and
 * bundle to one file, and pino's transports spawn worker files a bundle cannot carry.
 * Lines go to stderr (stdout stays free for a future stdio mode). Fields named like
 * secrets are redacted, so a token cannot reach the journal by accident. The edge logs only
 * through the `Logger` interface: the hub, running an edge in-process, passes its own pino
 * logger behind it (`fields-first-log.ts`), so those lines come out in the hub's format.
 */
export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

const SECRET_KEY = /token|secret|password|passwd|authorization|cookie|api[-_]?key/i;

function redact(v: unknown, depth = 0): unknown {
  if (depth > 4 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEY.test(k) ? '[REDACTED]' : redact(x, depth + 1);
  return out;
}

/** @example const log = createLogger({ level: 'info', name: 'edge' }); log.info('listening', { port }); */
export function createLogger(opts: { level?: LogLevel; bindings?: Record<string, unknown>; write?: (line: string) => void } = {}): Logger {
  const min = LEVELS[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const bindings = opts.bindings ?? {};
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    const rec = { level: LEVELS[level], time: Date.now(), ...bindings, ...(fields ? (redact(fields) as object) : {}), msg };
    write(JSON.stringify(rec) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => createLogger({ ...opts, bindings: { ...bindings, ...b } }),
  };
}

export function isLogLevel(s: string): s is LogLevel {
  return Object.hasOwn(LEVELS, s);
}
