/**
 * The hub's logger behind the edge's `Logger` interface, for the `local` node's edge: in its
 * child process each line goes over IPC (hub-child.ts) and the hub writes it with its own
 * logger, so it comes out as the hub's own (pino: level words, ISO time, the hub's redaction),
 * in the one JSON-lines stream of the hub, while the edge bundle stays free of pino. The edge
 * calls `log.warn(msg, fields)`; pino takes `log.warn(fields, msg)`.
 */
import { LEVELS, type LogLevel, type Logger as EdgeLogger } from './log.ts';

/** pino's calling convention, fields first; what the hub's logger offers. */
export interface FieldsFirstLogger {
  debug?(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/**
 * An edge `Logger` that writes through `log`, keeping only lines at `level` or above (the
 * edge's own `--log-level`; the hub's level applies after it), with `bindings` on every line.
 *
 * @example createLocalEdge({ log: edgeLoggerFor(hubLog, { level: 'warn', bindings: { node: 'local' } }) })
 */
export function edgeLoggerFor(log: FieldsFirstLogger, opts: { level?: LogLevel; bindings?: Record<string, unknown> } = {}): EdgeLogger {
  const min = LEVELS[opts.level ?? 'info'];
  const bindings = opts.bindings ?? {};
  const emit = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    log[level]?.({ ...bindings, ...fields }, msg);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => edgeLoggerFor(log, { ...opts, bindings: { ...bindings, ...b } }),
  };
}
