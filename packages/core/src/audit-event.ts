import * as z from 'zod';
import { capString, redactArgs, redactText } from './redact.ts';
import { sha256Hex } from './secrets.ts';

/**
 * The audit event: one per tool call (allowed, pending, denied, failed, succeeded), per approval
 * change, per outbound HTTP request the hub makes and per OAuth registration, grant, refresh,
 * revocation or refusal. It is written to the journal as one JSON
 * line and shipped to Loki as that same line, so this schema is the contract between the hub,
 * the journal, the shipper, `get_audit_log` and anyone reading the files or Loki.
 *
 * Build events with {@link createAuditEvent}: it assigns `v`, `id` and `time` and passes `args`,
 * `detail` and `error` through {@link redactArgs} / {@link redactText}, so that a secret never
 * reaches the journal (or Loki, which keeps it for good) whatever the caller passes.
 *
 * @example
 * const ev = createAuditEvent({ kind: 'tool_call', user: 'alice', session: 's1', tool: 'pve_restart',
 *   nodes: ['pve1'], args: { vmid: 101, password: 'x' }, class: 'write', decision: 'allowed',
 *   outcome: 'succeeded', durationMs: 812 });
 * ev.args // { vmid: 101, password: '[REDACTED]' }
 */

export const AUDIT_KINDS = ['tool_call', 'approval', 'http_request', 'oauth'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

const json = z.json();

/** Plain JSON, as `args` and `detail` hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The zod schema of one audit event (version 1). Not strict: a newer writer may add optional
 * keys, which parsing drops; readers of raw lines ({@link parseAuditLine}) keep them.
 */
export const auditEventSchema = z.object({
  v: z.literal(1),
  /** Time-sortable unique id (ULID layout: 10 chars of ms time, 16 random; Crockford base32). */
  id: z.string().min(1).max(64),
  /** ISO 8601 UTC, when the event happened (for a call: when it was received). */
  time: z.iso.datetime(),
  kind: z.enum(AUDIT_KINDS),
  /** The authenticated user, or `hub` for what the hub does on its own (outbound HTTP, reloads). */
  user: z.string(),
  role: z.string().optional(),
  /** MCP session id, or a per-request id on the stateless 2026-07-28 path. */
  session: z.string().optional(),
  client: z.object({ name: z.string(), version: z.string().optional() }).optional(),
  /**
   * `tool_call`: the address the request came from: the peer, or behind the hub's
   * `trustedProxies` the client the proxy or tunnel named (X-Forwarded-For, Cf-Connecting-Ip).
   */
  source: z.string().max(64).optional(),
  tool: z.string().optional(),
  nodes: z.array(z.string()).optional(),
  /** The arguments, redacted and bounded (see {@link redactArgs}). */
  args: json.optional(),
  /**
   * `tool_call` only: SHA-256 (hex) of the exact arguments, unredacted, as {@link canonicalJson}
   * writes them. `args` is redacted; this binds the record to what ran: whoever holds the
   * arguments (the client's log, the model's transcript) can prove they are the ones.
   */
  argsSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  class: z.enum(['read', 'write']).optional(),
  decision: z.enum(['allowed', 'pending', 'denied']).optional(),
  /**
   * `partial`: a fleet call where some nodes succeeded and some failed; `cancelled`: by the client;
   * `unknown`: the call's start was journaled and the hub stopped before its outcome was (written
   * when the journal is next opened; see the hub's journal `begin`).
   */
  outcome: z.enum(['succeeded', 'partial', 'failed', 'cancelled', 'pending', 'denied', 'unknown']).optional(),
  /** A short error message (redacted, capped); never a stack. */
  error: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
  /** Free JSON, redacted like `args`: `{ method, url, status }` for `http_request`, `{ from, to, mode }` for `approval`. */
  detail: json.optional(),
});

export type AuditEvent = z.infer<typeof auditEventSchema>;

/** What a caller supplies; `v` and `id` are assigned, `time` defaults to now. */
export type AuditEventInput = Omit<AuditEvent, 'v' | 'id' | 'time' | 'args' | 'detail'> & {
  time?: Date | string;
  /** The id of an earlier event this one completes (a call's outcome after its start record); default: a new one. */
  id?: string;
  /** Anything; redacted and bounded on the way in. */
  args?: unknown;
  detail?: unknown;
};

const MAX_ERROR_CHARS = 2048;

/**
 * A complete event from what the caller knows: id and time assigned, `args`/`detail` redacted
 * and bounded, `error` redacted and capped. The result is what the journal stores.
 */
export function createAuditEvent(input: AuditEventInput): AuditEvent {
  const { time, id, args, detail, error, ...rest } = input;
  const date = time === undefined ? new Date() : new Date(time);
  const ev: AuditEvent = { v: 1, id: id ?? newAuditId(date.getTime()), time: date.toISOString(), ...rest };
  if (args !== undefined) {
    ev.args = redactArgs(args);
    if (rest.kind === 'tool_call') ev.argsSha256 = argsSha256(args);
  }
  if (detail !== undefined) ev.detail = redactArgs(detail);
  if (error !== undefined) ev.error = capString(redactText(String(error)), MAX_ERROR_CHARS);
  return ev;
}

/**
 * The canonical JSON of a value: the text whose SHA-256 is an event's `argsSha256`. It is
 * RFC 8785 (JCS) for JSON input: no whitespace; object keys sorted by their UTF-16 code
 * units; strings and numbers as `JSON.stringify` writes them (so a lone surrogate is the
 * escape `\udXXX`); arrays in order. Like `JSON.stringify`, `undefined`, functions and symbols
 * are dropped from objects and are `null` in arrays; `toJSON()` is honoured (Date → ISO text).
 *
 * @example canonicalJson({ b: 1, a: [true, 'x'] }) // '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, 0) ?? 'null';
}

function canonical(v: unknown, depth: number): string | undefined {
  if (depth > 1000) throw new Error('canonicalJson: nested deeper than 1000 levels');
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(): unknown }).toJSON();
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'bigint') return JSON.stringify(v.toString());
    return JSON.stringify(v) as string | undefined;
  }
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x, depth + 1) ?? 'null').join(',')}]`;
  const rec = v as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(rec).sort()) {
    const x = canonical(rec[k], depth + 1);
    if (x !== undefined) parts.push(`${JSON.stringify(k)}:${x}`);
  }
  return `{${parts.join(',')}}`;
}

/** SHA-256 (hex) of {@link canonicalJson}`(args)`: an audit event's `argsSha256`. */
export function argsSha256(args: unknown): string {
  return sha256Hex(canonicalJson(args));
}

/**
 * A parsed journal or Loki line, or undefined when the line is not an audit event (a torn write,
 * another program's line). A cheap structural check, not the full schema: readers run it on every
 * line, and a reader should show what a newer writer wrote.
 */
export function parseAuditLine(line: string): AuditEvent | undefined {
  if (line.length < 2 || line.charCodeAt(0) !== 0x7b /* { */) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (o.v !== 1 || typeof o.id !== 'string' || typeof o.time !== 'string' || typeof o.kind !== 'string' || typeof o.user !== 'string') {
    return undefined;
  }
  return o as AuditEvent;
}

// ---------------------------------------------------------------------------------------------
// Ids

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastMs = -1;
const lastRand = new Uint8Array(16);
/** CSPRNG bytes for the random part of ids, 16 a new millisecond. */
const randPool = new Uint8Array(4096);
let poolAt = randPool.length;

/**
 * A ULID-layout id: 10 base32 chars of milliseconds, then 16 random ones (80 bits). Ids made by one
 * process sort in creation order even within one millisecond or when the clock steps back (the
 * random part is then incremented, as in ULID's monotonic mode), so sorting by id sorts by time.
 *
 * @example newAuditId() // '01J9ZK3V7X8Q4M2N6P0R5S1T3W'
 */
export function newAuditId(ms: number = Date.now()): string {
  if (ms <= lastMs) {
    // Same (or earlier: the clock stepped back) millisecond: keep lastMs and count up.
    ms = lastMs;
    let i = 15;
    while (i >= 0 && lastRand[i] === 31) lastRand[i--] = 0;
    if (i >= 0) lastRand[i]!++;
  } else {
    lastMs = ms;
    // From a pool filled 256 ids at a time: getRandomValues costs about as much per call as
    // the rest of an event's creation (bench/hub profile), whatever the size asked.
    if (poolAt + 16 > randPool.length) {
      globalThis.crypto.getRandomValues(randPool);
      poolAt = 0;
    }
    lastRand.set(randPool.subarray(poolAt, poolAt + 16));
    poolAt += 16;
    // The top bit stays clear so that ~2^79 increments fit before a carry out of the id.
    for (let i = 0; i < 16; i++) lastRand[i]! &= i === 0 ? 15 : 31;
  }
  let out = '';
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  for (let i = 0; i < 16; i++) out += CROCKFORD[lastRand[i]!]!;
  return out;
}

export { redactArgs, redactText, safeUrl, type RedactArgsOptions, type TruncatedArgs } from './redact.ts';
