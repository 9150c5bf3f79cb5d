import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import * as z from 'zod';
import { HomelabError } from './errors.ts';
import { readSecretFile } from './secrets.ts';

/**
 * Loading of validated config files (`hub.yaml`, `topology.yaml`, ...).
 *
 * Pipeline: YAML text → document (syntax errors with line:column) → plain JS → `${VAR}`
 * substitution in string scalars → strict zod schema → typed value. Every failure is a
 * {@link ConfigError} (code `CONFIG_INVALID`) whose message names the file, the key, the
 * line:column when known and what was expected, one problem per line.
 *
 * Secrets: `${VAR}` is expanded AFTER parsing, so a secret containing YAML syntax (`: `, `[`,
 * `#`, a newline) stays one string and cannot change the structure. No error message ever
 * contains a value read from the file or the environment: only keys, types and names.
 * `${file:PATH}` reads a secret from a file instead (relative to the config file's folder;
 * readable only by the hub's user: see readSecretFile in secrets.ts).
 */

/** What went wrong while loading a config file; lets a caller react to "no file" differently. */
export type ConfigErrorReason = 'unreadable' | 'empty' | 'syntax' | 'env' | 'invalid';

/**
 * A config file that cannot be used. `message` is `problems` joined by newlines, each one
 * self-contained (`hub.yaml:4:5: key "listen.port": expected number, got string`), so a
 * `main.ts` prints `err.message` and exits non-zero.
 *
 * @example
 * try { cfg = loadConfigFile('hub.yaml', HubConfig, { env: process.env }); }
 * catch (err) { if (isConfigError(err)) { console.error(err.message); process.exit(2); } throw err; }
 */
export class ConfigError extends HomelabError {
  readonly file: string;
  readonly reason: ConfigErrorReason;
  readonly problems: readonly string[];
  constructor(
    file: string,
    reason: ConfigErrorReason,
    problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super('CONFIG_INVALID', problems.join('\n'), options);
    this.name = 'ConfigError';
    this.file = file;
    this.reason = reason;
    this.problems = problems;
  }
}

/** True when `err` is a {@link ConfigError}, optionally for the given reason. */
export function isConfigError(err: unknown, reason?: ConfigErrorReason): err is ConfigError {
  return err instanceof ConfigError && (reason === undefined || err.reason === reason);
}

export interface ConfigLoadOptions {
  /** Variables for `${VAR}`; `main.ts` passes `process.env` (the default). */
  env?: NodeJS.ProcessEnv;
  /** Where `${file:PATH}` paths are relative to; default the config file's folder. */
  baseDir?: string;
  /** Told about things that work but should be fixed (a group-readable secret file). */
  onWarning?: (message: string) => void;
  /**
   * Called before validation when `${VAR}` or `${file:...}` references cannot be resolved;
   * may patch `data` in place (a reload puts back the running entry) and returns the
   * references it did not settle, which then fail the load. Default: none settled.
   */
  settleUnresolved?: (data: unknown, refs: readonly UnresolvedRef[]) => readonly UnresolvedRef[];
  /** Receives the substituted data that passed validation (a reload's next `settleUnresolved` uses it). */
  onData?: (data: unknown) => void;
}

/** A `${VAR}` whose variable is unset, or a `${file:PATH}` that cannot be used. */
export interface UnresolvedRef {
  /** The key holding the reference, e.g. `['nodes', 2, 'token']`. */
  keyPath: PropertyKey[];
  /** The variable, or `file PATH`. */
  name: string;
  /** The whole problem, with the file, line and key. */
  message: string;
}

/**
 * Reads, parses, substitutes and validates one config file (synchronously: it runs once at
 * start, before anything is served). JSON files work too: JSON is YAML.
 *
 * @example
 * const HubConfig = z.strictObject({ listen: z.strictObject({ port: z.number().int() }) });
 * const cfg = loadConfigFile('/etc/homelab/hub.yaml', HubConfig, { env: process.env });
 */
export function loadConfigFile<S extends z.ZodType>(
  path: string,
  schema: S,
  opts: ConfigLoadOptions = {},
): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, 'unreadable', [`${path}: cannot read: ${describeFsError(err)}`], {
      cause: err,
    });
  }
  return parseConfigText(text, path, schema, opts);
}

/**
 * The pure part of {@link loadConfigFile}: `path` is only used to name the file in errors.
 *
 * @example
 * parseConfigText('listen:\n  port: 8765\n', 'hub.yaml', HubConfig, { env: {} });
 */
export function parseConfigText<S extends z.ZodType>(
  text: string,
  path: string,
  schema: S,
  opts: ConfigLoadOptions = {},
): z.infer<S> {
  const env = opts.env ?? process.env;
  const lineCounter = new LineCounter();
  // merge: `<<: *defaults` is common in hand-written topology files; strict YAML 1.2
  // would otherwise turn `<<` into an unknown key.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });

  const syntax = doc.errors.map((e) => `${at(path, lineCounter.linePos(e.pos[0]))}: invalid YAML: ${e.message}`);
  // An unknown tag resolves to its plain string, so `token: !secret ha_token` would silently
  // become the string "ha_token" (Home Assistant users write exactly this).
  for (const w of doc.warnings) {
    if (w.code === 'TAG_RESOLVE_FAILED') {
      syntax.push(
        `${at(path, lineCounter.linePos(w.pos[0]))}: unsupported YAML tag ` +
          '(custom tags such as !secret are not supported; use ${VAR} for secrets)',
      );
    }
  }
  if (syntax.length > 0) {
    throw new ConfigError(path, 'syntax', syntax, { cause: doc.errors[0] });
  }

  let raw: unknown;
  try {
    // The alias cap stops a "billion laughs" file from exhausting memory.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(path, 'syntax', [`${path}: invalid YAML: ${why}`], { cause: err });
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError(path, 'empty', [`${path}: is empty`]);
  }

  const locate = (p: readonly PropertyKey[]) => locateInDocument(doc, lineCounter, p);

  const refs: UnresolvedRef[] = [];
  const baseDir = opts.baseDir ?? dirname(resolve(path));
  const data = substituteEnv(raw, { env, baseDir, onWarning: (w) => opts.onWarning?.(`${path}: ${w}`) }, [], (keyPath, what, name) => {
    refs.push({ keyPath, name: name ?? '', message: `${at(path, locate(keyPath))}: ${keyLabel(keyPath)}${what}` });
  });
  // Malformed references are syntax; only unset variables and unusable files can be settled.
  const malformed = refs.filter((r) => r.name === '');
  const unsettled = [...malformed, ...(opts.settleUnresolved ? opts.settleUnresolved(data, refs.filter((r) => r.name !== '')) : refs.filter((r) => r.name !== ''))];

  const result = schema.safeParse(data);
  // A key whose value could not be substituted holds the raw "${VAR}": its own validation
  // issues say nothing. Every other problem is reported first, the unresolved ones after.
  const under = (p: readonly PropertyKey[], q: readonly PropertyKey[]) => q.length <= p.length && q.every((s, i) => String(s) === String(p[i]));
  const issues = result.success ? [] : result.error.issues.filter((i) => !unsettled.some((r) => under(i.path, r.keyPath)));
  const problems = formatZodIssues(issues, path, { data, schema, lineOf: locate });
  if (problems.length > 0 || unsettled.length > 0) {
    throw new ConfigError(path, problems.length > 0 ? 'invalid' : 'env', [...problems, ...unsettled.map((r) => r.message)]);
  }
  opts.onData?.(data);
  return (result as { data: z.infer<S> }).data;
}

// ---------------------------------------------------------------------------------------------
// ${VAR} substitution

const VAR_REF = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Expands `${VAR}`, `${VAR:-default}` (default when unset OR empty, as in sh) and the escape
 * `$${` → literal `${` in every string scalar of `value` (not in keys). Reports problems
 * through `report` with the key path; never with the value.
 */
interface SubstituteContext {
  env: NodeJS.ProcessEnv;
  baseDir: string;
  onWarning: (message: string) => void;
}

/** `name` is the variable (or `file PATH`) that could not be resolved; absent for a malformed reference. */
type Report = (keyPath: PropertyKey[], what: string, name?: string) => void;

function substituteEnv(
  value: unknown,
  env: SubstituteContext,
  keyPath: PropertyKey[],
  report: Report,
): unknown {
  if (typeof value === 'string') return value.includes('$') ? expand(value, env, keyPath, report) : value;
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...keyPath, i], report));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty: a YAML key `__proto__` must stay a plain key, not set the prototype.
      Object.defineProperty(out, k, {
        value: substituteEnv(v, env, [...keyPath, k], report),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

function expand(
  s: string,
  ctx: SubstituteContext,
  keyPath: PropertyKey[],
  report: Report,
): string {
  const env = ctx.env;
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!s.startsWith('${', i)) {
      out += s[i];
      i += 1;
      continue;
    }
    const end = s.indexOf('}', i + 2);
    if (end >= 0 && s.startsWith('file:', i + 2)) {
      const file = resolve(ctx.baseDir, s.slice(i + 7, end));
      try {
        const secret = readSecretFile(file);
        if (secret.warning) ctx.onWarning(`${keyLabel(keyPath)}${secret.warning}`);
        out += secret.value;
      } catch (err) {
        report(keyPath, err instanceof Error ? err.message : String(err), `file ${file}`);
      }
      i = end + 1;
      continue;
    }
    const m = end < 0 ? null : VAR_REF.exec(s.slice(i + 2, end));
    const name = m?.[1];
    if (!m || name === undefined) {
      report(keyPath, 'malformed "${...}" reference (write ${NAME}, ${NAME:-default} or ${file:PATH}, or "$${" for a literal "${")');
      return s;
    }
    const fallback = m[2];
    if (fallback !== undefined && fallback.includes('${')) {
      report(keyPath, `nested "\${...}" in the default of ${name} is not supported`);
      return s;
    }
    const v = env[name];
    if (fallback !== undefined && (v === undefined || v === '')) out += fallback;
    else if (v !== undefined) out += v;
    else report(keyPath, `environment variable ${name} is not set`, name);
    i = end + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Locations

export interface LinePos {
  line: number;
  col: number;
}

/**
 * Line:column (1-based) of the key at `path`; when the path does not exist (a missing key),
 * of its deepest existing ancestor; undefined for the root.
 */
function locateInDocument(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): LinePos | undefined {
  let node: unknown = doc.contents;
  let pos: number | undefined;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      if (isScalar(pair.key) && pair.key.range) pos = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node)) {
      const item: unknown = node.items[Number(seg)];
      const range = (item as { range?: [number, number, number] } | undefined)?.range;
      if (!range) break;
      pos = range[0];
      node = item;
    } else {
      break;
    }
  }
  return pos === undefined ? undefined : lineCounter.linePos(pos);
}

function at(file: string, pos: LinePos | undefined): string {
  return pos ? `${file}:${pos.line}:${pos.col}` : file;
}

// ---------------------------------------------------------------------------------------------
// Zod issues in plain English

/**
 * Renders a key path the way a user would write it: `nodes[1].token`, `labels['a.b']`.
 *
 * @example formatKeyPath(['nodes', 1, 'token']) // 'nodes[1].token'
 */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `['${String(seg).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return out;
}

function keyLabel(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '' : `key "${formatKeyPath(path)}": `;
}

export interface FormatIssuesContext {
  /** The validated value: gives the "got" type (zod 4 issues carry no input by default). */
  data?: unknown;
  /** The schema: gives the list of allowed keys for an unknown key. */
  schema?: z.core.$ZodType;
  /** Position of a key path in the source, if there is a source. */
  lineOf?: (path: readonly PropertyKey[]) => LinePos | undefined;
}

/**
 * Turns zod 4 issues into one line each: `FILE[:LINE:COL]: key "a.b[2].c": expected X, got Y`.
 * An unknown key gets its own line at its own position, with the allowed keys and a
 * "did you mean". Messages a schema author wrote (refinements, `{ error }`) are kept as is.
 * Values are never shown, only their types: config values may be secrets.
 *
 * @example
 * formatZodIssues(result.error.issues, 'hub.yaml', { data, schema })
 * // ['hub.yaml: key "listen.port": expected number, got string']
 */
export function formatZodIssues(
  issues: readonly z.core.$ZodIssue[],
  file: string,
  ctx: FormatIssuesContext = {},
): string[] {
  const out: string[] = [];
  for (const issue of issues) formatIssue(issue, [], ctx.schema, file, ctx, out);
  return out;
}

const en = z.locales.en();

function formatIssue(
  issue: z.core.$ZodIssue,
  base: readonly PropertyKey[],
  baseSchema: z.core.$ZodType | undefined,
  file: string,
  ctx: FormatIssuesContext,
  out: string[],
): void {
  const path = [...base, ...issue.path];
  const value = valueAt(ctx.data, path);
  const line = (p: readonly PropertyKey[], text: string) => {
    out.push(`${at(file, ctx.lineOf?.(p))}: ${keyLabel(p)}${text}`);
  };

  if (issue.code === 'unrecognized_keys') {
    const allowed = objectKeysAt(baseSchema, issue.path, valueAt(ctx.data, base));
    for (const key of issue.keys) line([...path, key], unknownKey(key, allowed));
    return;
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    formatUnion(issue, path, value, baseSchema, file, ctx, out, line);
    return;
  }
  if (issue.code === 'invalid_key' || issue.code === 'invalid_element') {
    // A record key (YAML mapping key) that fails the key schema; the key is in the path.
    const what = issue.code === 'invalid_key' ? 'invalid key' : 'invalid entry';
    const subject = issue.code === 'invalid_key' ? path[path.length - 1] : value;
    if (issue.issues.length === 0) line(path, what);
    for (const sub of issue.issues) line(path, `${what}: ${textOf(sub, subject)}`);
    return;
  }
  line(path, textOf(issue, value));
}

function textOf(issue: z.core.$ZodIssue, value: unknown): string {
  return isDefaultMessage(issue, value) ? describe(issue, value) : issue.message;
}

/**
 * A union whose every branch rejected the value's type reads "expected A or B, got C";
 * otherwise the branch that came closest (its type matched, fewest problems) speaks.
 */
function formatUnion(
  issue: z.core.$ZodIssueInvalidUnion,
  path: PropertyKey[],
  value: unknown,
  baseSchema: z.core.$ZodType | undefined,
  file: string,
  ctx: FormatIssuesContext,
  out: string[],
  line: (p: readonly PropertyKey[], text: string) => void,
): void {
  const typeMismatch = (branch: readonly z.core.$ZodIssue[]) =>
    branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'));
  const candidates = issue.errors.filter((b) => !typeMismatch(b));
  if (candidates.length === 0) {
    const expected = unique(issue.errors.flatMap((b) => b.flatMap((i) => expectedOf(i))));
    line(path, `expected ${joinOr(expected)}, got ${typeName(value)}`);
    return;
  }
  let best = candidates[0]!;
  for (const c of candidates) if (c.length < best.length) best = c;
  const base = path.slice(0, path.length - issue.path.length);
  const options = unionOptions(schemaAt(baseSchema, issue.path, valueAt(ctx.data, base)));
  const branchSchema = options?.[(issue.errors as readonly z.core.$ZodIssue[][]).indexOf(best)];
  for (const sub of best) formatIssue(sub, path, branchSchema, file, ctx, out);
}

function expectedOf(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'invalid_type') return [typeWord(issue.expected)];
  if (issue.code === 'invalid_value') return issue.values.map((v) => literal(v));
  return [];
}

function describe(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `missing required key (expected ${typeWord(issue.expected)})`;
      return `expected ${typeWord(issue.expected)}, got ${typeName(value)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${literal(issue.values[0])}`
        : `expected one of ${issue.values.map((v) => literal(v)).join(', ')}`;
    case 'invalid_union': {
      // Discriminated union with an unknown tag (zod puts the discriminator in the path).
      const options = 'options' in issue ? issue.options : undefined;
      if (!options || options.length === 0) return issue.message;
      const list = options.map((v) => literal(v)).join(', ');
      return value === undefined ? `missing required key (expected one of ${list})` : `expected one of ${list}`;
    }
    case 'too_small':
    case 'too_big':
      return sizeBound(issue, value);
    case 'invalid_format':
      return formatWord(issue);
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}`;
    default:
      return issue.message;
  }
}

function sizeBound(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, value: unknown): string {
  const small = issue.code === 'too_small';
  const n = small ? issue.minimum : issue.maximum;
  const unit = (word: string) => `${n} ${word}${Number(n) === 1 ? '' : 's'}`;
  const bound = issue.exact ? 'exactly' : small ? 'at least' : 'at most';
  switch (issue.origin) {
    case 'string':
      if (small && !issue.exact && Number(n) === 1) return 'must not be empty';
      return `expected ${bound} ${unit('character')}`;
    case 'array':
    case 'set': {
      // The count of items is not a secret; the length of a string might hint at one.
      const got = Array.isArray(value) ? `, got ${value.length}` : '';
      return `expected ${bound} ${unit('item')}${got}`;
    }
    case 'number':
    case 'int':
    case 'bigint': {
      const op = small ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      return `expected a number ${op} ${n}`;
    }
    default:
      return issue.message;
  }
}

const FORMAT_WORDS: Record<string, string> = {
  url: 'a URL',
  email: 'an email address',
  uuid: 'a UUID',
  guid: 'a GUID',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  cidrv4: 'an IPv4 CIDR range',
  cidrv6: 'an IPv6 CIDR range',
  mac: 'a MAC address',
  hostname: 'a hostname',
  datetime: 'an ISO 8601 date-time',
  date: 'an ISO 8601 date (YYYY-MM-DD)',
  time: 'an ISO 8601 time (HH:MM[:SS])',
  duration: 'an ISO 8601 duration',
  base64: 'base64 text',
  base64url: 'base64url text',
  e164: 'an E.164 phone number',
  jwt: 'a JWT',
};

function formatWord(issue: z.core.$ZodIssueInvalidStringFormat): string {
  const i = issue as z.core.$ZodStringFormatIssues;
  switch (i.format) {
    case 'regex':
      return `expected a string matching ${i.pattern}`;
    case 'starts_with':
      return `expected a string starting with ${literal(i.prefix)}`;
    case 'ends_with':
      return `expected a string ending with ${literal(i.suffix)}`;
    case 'includes':
      return `expected a string containing ${literal(i.includes)}`;
    default: {
      const word = FORMAT_WORDS[i.format];
      return word ? `expected ${word}` : `expected a valid ${i.format}`;
    }
  }
}

function unknownKey(key: string, allowed: string[] | undefined): string {
  if (!allowed || allowed.length === 0) return `unknown key "${key}"`;
  const guess = closest(key, allowed);
  const hint = guess ? `, did you mean "${guess}"?` : '';
  return `unknown key "${key}"${hint} (expected one of: ${allowed.join(', ')})`;
}

/** A suggestion only when it is plausibly a typo: small edit distance relative to length. */
function closest(key: string, allowed: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  if (best === undefined) return undefined;
  return bestD <= Math.max(1, Math.floor(Math.min(key.length, best.length) / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  // Damerau (optimal string alignment): a swapped pair of letters is one typo, not two.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * zod 4 cannot tell us whether a message is its own or the schema author's; regenerate the
 * English default for the issue and compare. A custom message is shown as is.
 */
function isDefaultMessage(issue: z.core.$ZodIssue, input: unknown): boolean {
  const raw = { ...issue, input } as unknown as z.core.$ZodRawIssue;
  const made = en.localeError?.(raw);
  const text = typeof made === 'string' ? made : made?.message;
  return text === undefined || text === issue.message;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'mapping',
  record: 'mapping',
  array: 'list',
  tuple: 'list',
  int: 'integer',
};

function typeWord(expected: string): string {
  return TYPE_WORDS[expected] ?? expected;
}

/** The kind of a value in YAML words, never the value itself. */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (typeof v === 'object') return 'mapping';
  if (v === undefined) return 'nothing';
  return typeof v;
}

function literal(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function joinOr(words: string[]): string {
  if (words.length <= 1) return words[0] ?? 'something else';
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = Object.hasOwn(v, seg) ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  }
  return v;
}

function describeFsError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return typeof code === 'string' ? code : String(err);
}

// ---------------------------------------------------------------------------------------------
// Walking a zod 4 schema (best effort; used only to list allowed keys in messages)

type Def = {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  out?: z.core.$ZodType;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
  options?: readonly z.core.$ZodType[];
  left?: z.core.$ZodType;
  right?: z.core.$ZodType;
  getter?: () => z.core.$ZodType;
  items?: readonly z.core.$ZodType[];
  rest?: z.core.$ZodType | null;
  values?: readonly unknown[];
};

const defOf = (s: z.core.$ZodType): Def => s._zod.def as unknown as Def;

/** Peels wrappers (optional, default, pipe, lazy, ...) down to a structural schema. */
function unwrap(s: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  for (let i = 0; s && i < 32; i++) {
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe') s = d.in && defOf(d.in).type !== 'transform' ? d.in : d.out;
    else if (d.type === 'lazy' && d.getter) s = d.getter();
    else return s;
  }
  return s;
}

function unionOptions(s: z.core.$ZodType | undefined): readonly z.core.$ZodType[] | undefined {
  const u = unwrap(s);
  return u && defOf(u).type === 'union' ? defOf(u).options : undefined;
}

/** The object schema(s) that can stand at `value`, narrowed by literal fields the value has. */
function objectCandidates(s: z.core.$ZodType | undefined, value: unknown): z.core.$ZodType[] {
  const u = unwrap(s);
  if (!u) return [];
  const d = defOf(u);
  if (d.type === 'object') return [u];
  if (d.type === 'intersection') return [...objectCandidates(d.left, value), ...objectCandidates(d.right, value)];
  if (d.type !== 'union' || !d.options) return [];
  const all = d.options.flatMap((o) => objectCandidates(o, value));
  const fitting = all.filter((o) => literalsMatch(o, value));
  return fitting.length > 0 ? fitting : all;
}

function literalsMatch(obj: z.core.$ZodType, value: unknown): boolean {
  for (const [k, field] of Object.entries(defOf(obj).shape ?? {})) {
    const f = unwrap(field);
    if (!f || defOf(f).type !== 'literal') continue;
    if (!defOf(f).values?.includes(valueAt(value, [k]))) return false;
  }
  return true;
}

function schemaAt(
  s: z.core.$ZodType | undefined,
  path: readonly PropertyKey[],
  value: unknown,
): z.core.$ZodType | undefined {
  let cur = s;
  let v = value;
  for (const seg of path) {
    const u = unwrap(cur);
    if (!u) return undefined;
    const d = defOf(u);
    if (d.type === 'array') cur = d.element;
    else if (d.type === 'tuple') cur = d.items?.[Number(seg)] ?? d.rest ?? undefined;
    else if (d.type === 'record') cur = d.valueType;
    else {
      const objects = objectCandidates(u, v).filter((o) => defOf(o).shape?.[String(seg)]);
      cur = objects.length === 1 ? defOf(objects[0]!).shape?.[String(seg)] : undefined;
    }
    v = valueAt(v, [seg]);
  }
  return cur;
}

function objectKeysAt(
  s: z.core.$ZodType | undefined,
  path: readonly PropertyKey[],
  base: unknown,
): string[] | undefined {
  if (!s) return undefined;
  const target = path.length === 0 ? s : schemaAt(s, path, base);
  const objects = objectCandidates(target, valueAt(base, path));
  if (objects.length === 0) return undefined;
  return unique(objects.flatMap((o) => Object.keys(defOf(o).shape ?? {})));
}
