import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';
import { isSecretKey, REDACTED } from './secret-keys.ts';
/** Which keys hold secrets (its own module, so the edge bundle can have it without pino). */
export { isSecretKey, REDACTED };

/**
 * The logger factory: pino, JSON lines, stdout, no transports (a transport spawns a worker
 * file that the single-file edge bundle cannot carry), secrets redacted.
 *
 * Why redaction is a key-name walk and not pino's `redact` paths: pino's paths are explicit,
 * so `token` at any depth needs one wildcard path per depth (`*.token`, `*.*.token`, ...) and
 * each wildcard path runs on every top-level key of every line. Measured here with pino 10:
 * 19 secret keys × 3 depths cost ~75-120 µs per line against ~2 µs without; this walk costs
 * ~1 µs, covers every depth, and also catches `Authorization`, `x-api-key`, `haToken`,
 * `clientSecret` spelled any way. It runs on the logged object, on child bindings and on
 * serialized errors.
 *
 * Not covered: secrets inside a string (`msg`, a URL with `user:pass@`, `%o` interpolation).
 * Log objects, not formatted strings.
 */

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Valid values of `level`, e.g. for a config schema: `z.enum(LOG_LEVELS)`. */
export const LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const satisfies readonly LogLevel[];

/** What a redacted value is replaced with. */

export interface LoggerOptions {
  /** Default `info`. */
  level?: LogLevel;
  /** Becomes the `name` field of every line: `hub`, `edge`. */
  name: string;
  /** Where lines go; default stdout. Anything with `write(line: string)`, e.g. a test stream. */
  destination?: DestinationStream;
}

/**
 * Creates the root logger of an app. Components take a child with their own bindings.
 *
 * @example
 * const log = createLogger({ level: 'info', name: 'hub' });
 * const edgeLog = log.child({ edge: 'pi' });
 * edgeLog.info({ url, headers }, 'connected'); // headers.authorization → "[REDACTED]"
 */
export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    name: opts.name,
    level: opts.level ?? 'info',
    // ISO time and level words: read by people in `journalctl` as often as by Loki.
    timestamp: stdTimeFunctions.isoTime,
    formatters: {
      level: (label: string) => ({ level: label }),
      // Applies to the root's bindings only: pino resets it for children (see `child` below).
      bindings: (b: Record<string, unknown>) => redactSecrets(b),
      log: (o: Record<string, unknown>) => redactSecrets(o),
    },
    // `formatters.log` already serialized (and redacted) every Error; pino's default `err`
    // serializer would serialize that plain result again as `type: "Object"`.
    serializers: { err: (e: unknown) => e },
  };
  const root = opts.destination ? pino(options, opts.destination) : pino(options);
  // pino does not pass child bindings through any formatter, so `log.child({ token })` would
  // print the token on every line. Children are `Object.create(parent)`, so overriding these
  // two methods on the root covers every descendant.
  const child = root.child;
  const setBindings = root.setBindings;
  Object.assign(root, {
    child(this: Logger, bindings: Record<string, unknown>, options?: unknown) {
      return child.call(this, redactSecrets(bindings), options as never);
    },
    setBindings(this: Logger, bindings: Record<string, unknown>) {
      setBindings.call(this, redactSecrets(bindings));
    },
  });
  return root;
}

const MAX_DEPTH = 12;

/**
 * A copy of `value` with every secret-keyed value (see {@link isSecretKey}) replaced by
 * `[REDACTED]`, at any depth, in plain objects and arrays. Untouched branches are shared, not
 * copied; the input is never modified. Usable beyond logs, e.g. for audit arguments.
 *
 * @example redactSecrets({ args: { node: 'pi', token: 't' } }) // { args: { node: 'pi', token: '[REDACTED]' } }
 */
export function redactSecrets<T>(value: T): T {
  return walk(value, 0, new Set()) as T;
}

function walk(v: unknown, depth: number, seen: Set<object>): unknown {
  if (v === null || typeof v !== 'object') return v;
  // An Error becomes pino's usual `{ type, message, stack, ...own props }` here, before the
  // walk, because `formatters.log` runs before serializers: an error that carries a request
  // config (`err.config.headers.Authorization`) is redacted like anything else. Its `cause`
  // contributes only message and stack (pino's "caused by").
  if (v instanceof Error) {
    const serialized = stdSerializers.err(v) as unknown as object;
    seen.add(v);
    const out = walk(serialized, depth, seen);
    seen.delete(v);
    return out === serialized ? { ...serialized } : out;
  }
  // What JSON.stringify prints: `toJSON()` when there is one (Date, URL, Buffer: nothing to
  // redact by key), otherwise the own enumerable keys, of plain objects and class instances
  // alike.
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return v;
  // A secret met again through a cycle would print unredacted; pino would print "[Circular]".
  if (seen.has(v)) return '[Circular]';
  // Deeper than anyone logs on purpose; cut rather than risk an unredacted secret.
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(v);
  let out: object | undefined;
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const w = walk(v[i], depth + 1, seen);
      if (w !== v[i]) (copy ??= v.slice())[i] = w;
    }
    out = copy;
  } else {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      const w = x !== undefined && x !== null && isSecretKey(k) ? REDACTED : walk(x, depth + 1, seen);
      if (w !== x) {
        out ??= { ...o };
        // defineProperty: an own key named `__proto__` must not reach the prototype setter.
        Object.defineProperty(out, k, { value: w, enumerable: true, writable: true, configurable: true });
      }
    }
  }
  seen.delete(v);
  return out ?? v;
}
