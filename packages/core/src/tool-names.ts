import { createHash } from 'node:crypto';
import { HomelabError } from './errors.ts';

/**
 * The namespacing codec: `<prefix>__<name>` for tools and prompts, `homelab://<prefix>/<uri>`
 * for resources.
 *
 * Why these rules: Anthropic, OpenAI, Gemini and Bedrock validate tool names as
 * `^[A-Za-z0-9_-]{1,64}$` (no `.`, no `:`), and Claude Code shows a tool as
 * `mcp__<alias>__<name>`, so the hub should emit names that still fit once that is added
 * (pass a smaller `maxLength`). MetaMCP, and a parent hub, split at the FIRST `__`, so a prefix
 * never contains `__` and never ends with `_`, while `__` inside a name survives.
 */

/** The usual limit of LLM APIs on a tool name. */
export const MAX_TOOL_NAME = 64;

/** Between prefix and name. */
export const TOOL_NAME_SEPARATOR = '__';

/**
 * What a prefix (node name, upstream alias) must look like so that it survives unchanged:
 * for config schemas, e.g. `z.string().regex(TOOL_PREFIX_PATTERN)`.
 */
export const TOOL_PREFIX_PATTERN = /^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$/;

/** `_` + 6 hex characters. */
const SUFFIX_LENGTH = 7;

/**
 * Replaces every run of characters outside `[A-Za-z0-9_-]` with one `_`. Existing underscores,
 * including `__`, are kept: a nested hub's `a__b__tool` must survive.
 *
 * @example sanitizeName('light.turn on') // 'light_turn_on'
 */
export function sanitizeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '_');
}

/**
 * {@link sanitizeName}, then collapses `_` runs and trims `_` at both ends, so the prefix holds
 * no `__` and `<prefix>__<name>` splits back at the right place.
 *
 * @example sanitizePrefix('living room.') // 'living_room'
 */
export function sanitizePrefix(s: string): string {
  return sanitizeName(s).replace(/_+/g, '_').replace(/^_|_$/g, '');
}

/**
 * `prefix__name`, sanitized. When longer than `maxLength`, it is cut and ends with `_` + the
 * first 6 hex characters of sha256 of the ORIGINAL `prefix__name`: the same input always gives
 * the same name (stable across restarts), and two long names that share their first
 * characters still differ. The prefix is never cut.
 *
 * Two different inputs can still meet (`a.b` and `a b` both give `a_b`; a 24-bit hash can
 * collide): {@link createToolNameRegistry} detects and resolves that.
 *
 * @example
 * toolName('ha', 'HassTurnOn') // 'ha__HassTurnOn'
 * toolName('pi', 'x'.repeat(80)) // 'pi__' + 'x'.repeat(53) + '_e87ebd' (64 characters)
 */
export function toolName(prefix: string, name: string, maxLength: number = MAX_TOOL_NAME): string {
  return encode(prefix, name, maxLength, 0, false);
}

/**
 * A name emitted without a prefix (an upstream with `prefix: false`): sanitized, and when longer
 * than `maxLength` cut and ended with `_` + 6 hex characters of sha256 of the original, as
 * {@link toolName} does. Undefined for a name with no usable character.
 *
 * @example plainToolName('light.on') // 'light_on'
 */
export function plainToolName(name: string, maxLength: number = MAX_TOOL_NAME): string | undefined {
  const n = sanitizeName(name);
  if (!n) return undefined;
  if (n.length <= maxLength) return n;
  let head = n.slice(0, maxLength - SUFFIX_LENGTH);
  while (head.length > 1 && head.endsWith('_')) head = head.slice(0, -1);
  return `${head}_${hash6(name, 0)}`;
}

/**
 * Splits at the FIRST `__`, as MetaMCP does: `a__b__tool` → `{ prefix: 'a', rest: 'b__tool' }`.
 * Undefined when there is no `__` or nothing before it.
 */
export function splitToolName(name: string): { prefix: string; rest: string } | undefined {
  const i = name.indexOf(TOOL_NAME_SEPARATOR);
  if (i <= 0) return undefined;
  return { prefix: name.slice(0, i), rest: name.slice(i + TOOL_NAME_SEPARATOR.length) };
}

/**
 * @param salt 0 = the plain name; n > 0 = the n-th alternative after a collision.
 * @param forceSuffix append the hash even when the name fits (used for alternatives).
 */
function encode(prefix: string, name: string, maxLength: number, salt: number, forceSuffix: boolean): string {
  const p = sanitizePrefix(prefix);
  const n = sanitizeName(name);
  if (!p) {
    throw new HomelabError('TOOL_NAME_INVALID', `tool prefix ${JSON.stringify(prefix)} has no usable character ([A-Za-z0-9_-])`);
  }
  if (!n) throw new HomelabError('TOOL_NAME_INVALID', `tool name under prefix "${p}" is empty`);
  const minimum = p.length + TOOL_NAME_SEPARATOR.length + 1 + SUFFIX_LENGTH;
  const full = p + TOOL_NAME_SEPARATOR + n;
  if (!forceSuffix && full.length <= maxLength) return full;
  if (minimum > maxLength) {
    throw new HomelabError(
      'TOOL_NAME_INVALID',
      `tool prefix "${p}" is too long for ${maxLength}-character tool names ` +
        `(at most ${maxLength - minimum + p.length} characters)`,
    );
  }
  let head = full.slice(0, maxLength - SUFFIX_LENGTH);
  // "abc_" + "_1f0c3a" would read as a separator; keep at least one character of the name.
  const keep = p.length + TOOL_NAME_SEPARATOR.length + 1;
  while (head.length > keep && head.endsWith('_')) head = head.slice(0, -1);
  return `${head}_${hash6(`${prefix}${TOOL_NAME_SEPARATOR}${name}`, salt)}`;
}

function hash6(original: string, salt: number): string {
  const h = createHash('sha256').update(original, 'utf8');
  if (salt > 0) h.update(`\u0000${salt}`, 'utf8');
  return h.digest('hex').slice(0, SUFFIX_LENGTH - 1);
}

/** A name as the upstream knows it. */
export interface OriginalToolName {
  prefix: string;
  name: string;
}

/**
 * Remembers which emitted name stands for which original, so the hub can route a call back
 * and never emit one name for two tools.
 */
export interface ToolNameRegistry {
  /** The emitted name for `(prefix, name)`, assigning one on first sight; idempotent. */
  register(prefix: string, name: string): string;
  /** The original behind an emitted name, if registered. */
  resolve(emitted: string): OriginalToolName | undefined;
  /** The emitted name already assigned to `(prefix, name)`, without assigning one. */
  emittedName(prefix: string, name: string): string | undefined;
  /** Forgets one original (its emitted name becomes free); true if it was registered. */
  unregister(prefix: string, name: string): boolean;
  /** Forgets every original under `prefix` (an upstream went away). */
  unregisterPrefix(prefix: string): void;
  readonly size: number;
}

/**
 * Collisions: the first original to claim an emitted name keeps it. A later, different original
 * that would produce the same name gets `<cut name>_<hash>` instead, with the hash taken over
 * its own original `prefix__name` (and, if that too is taken, over the original plus a
 * counter). Names are therefore stable across restarts as long as tools are registered in the
 * same order (config order of upstreams, then each upstream's list order); only a colliding
 * pair's loser depends on order.
 *
 * @example
 * const names = createToolNameRegistry({ maxLength: 64 - 'mcp__hub__'.length });
 * names.register('ha', 'light.on');  // 'ha__light_on'
 * names.register('ha', 'light on');  // 'ha__light_on_30c6f0' (collision resolved)
 * names.resolve('ha__light_on');     // { prefix: 'ha', name: 'light.on' }
 */
export function createToolNameRegistry(opts: { maxLength?: number } = {}): ToolNameRegistry {
  const maxLength = opts.maxLength ?? MAX_TOOL_NAME;
  const byOriginal = new Map<string, string>();
  const byEmitted = new Map<string, OriginalToolName>();
  const keyOf = (prefix: string, name: string) => JSON.stringify([prefix, name]);

  return {
    register(prefix, name) {
      const key = keyOf(prefix, name);
      const known = byOriginal.get(key);
      if (known !== undefined) return known;
      let emitted = encode(prefix, name, maxLength, 0, false);
      for (let salt = 1; byEmitted.has(emitted); salt++) {
        emitted = encode(prefix, name, maxLength, salt === 1 ? 0 : salt, true);
      }
      byOriginal.set(key, emitted);
      byEmitted.set(emitted, { prefix, name });
      return emitted;
    },
    resolve(emitted) {
      const o = byEmitted.get(emitted);
      return o && { ...o };
    },
    emittedName(prefix, name) {
      return byOriginal.get(keyOf(prefix, name));
    },
    unregister(prefix, name) {
      const key = keyOf(prefix, name);
      const emitted = byOriginal.get(key);
      if (emitted === undefined) return false;
      byOriginal.delete(key);
      byEmitted.delete(emitted);
      return true;
    },
    unregisterPrefix(prefix) {
      for (const [emitted, o] of byEmitted) {
        if (o.prefix === prefix) {
          byEmitted.delete(emitted);
          byOriginal.delete(keyOf(o.prefix, o.name));
        }
      }
    },
    get size() {
      return byEmitted.size;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Resources

/** Scheme of namespaced resource URIs. */
export const RESOURCE_URI_SCHEME = 'homelab';

/**
 * `homelab://<prefix>/<encodeURIComponent(original)>`. The encoding is exact for any string
 * (spaces, `#`, `?`, `%`, non-ASCII, no `/` survives unencoded), so {@link splitResourceUri}
 * returns the original byte for byte, and the result is always a valid RFC 3986 URI even when
 * the original is not (`file:///a b`). Resource TEMPLATES (`file:///{path}`) cannot go through
 * this: the braces would be encoded.
 *
 * @example
 * resourceUri('pi', 'file:///etc/hosts') // 'homelab://pi/file%3A%2F%2F%2Fetc%2Fhosts'
 */
export function resourceUri(prefix: string, uri: string): string {
  const p = sanitizePrefix(prefix);
  if (!p) {
    throw new HomelabError('RESOURCE_URI_INVALID', `resource prefix ${JSON.stringify(prefix)} has no usable character`);
  }
  try {
    return `${RESOURCE_URI_SCHEME}://${p}/${encodeURIComponent(uri)}`;
  } catch (err) {
    // encodeURIComponent throws on a lone UTF-16 surrogate: not a URI anyone can read back.
    throw new HomelabError('RESOURCE_URI_INVALID', `resource URI under "${p}" is not valid Unicode`, { cause: err });
  }
}

/**
 * Inverse of {@link resourceUri}; undefined for a URI that is not ours or is malformed.
 * The scheme is matched case-insensitively (RFC 3986); the prefix is returned as written.
 */
export function splitResourceUri(uri: string): { prefix: string; uri: string } | undefined {
  const head = `${RESOURCE_URI_SCHEME}://`;
  if (uri.slice(0, head.length).toLowerCase() !== head) return undefined;
  const slash = uri.indexOf('/', head.length);
  if (slash <= head.length) return undefined;
  try {
    return { prefix: uri.slice(head.length, slash), uri: decodeURIComponent(uri.slice(slash + 1)) };
  } catch {
    return undefined;
  }
}
