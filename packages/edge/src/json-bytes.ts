/**
 * JSON straight to bytes, in pieces: `JSON.stringify` of an answer holding 2 MiB of output
 * builds the whole escaped text as one string on the heap (and its builder's parts besides)
 * before it becomes bytes, 8 MB or more at once; a few such answers abort an edge with a
 * 32 MB heap. Here each long string is escaped a slice at a time and each piece becomes
 * bytes at once, so the heap holds at most one slice's JSON. The bytes are the same JSON a
 * parser reads back into the same value.
 */

/** Characters of a long string escaped at once (at most 6x that in JSON). */
const SLICE = 16 * 1024;

/**
 * What a value may hold in all (characters of its strings and keys, 24 per other value: see
 * `charsLeft`) and still be written by one `JSON.stringify`: its JSON is then at most ~6x that
 * (384 KB), and nearly every answer (a get_status, a short command's output) is far below.
 * Walking the value to count is several times cheaper than the piecewise writer below.
 */
const SMALL_CHARS = 64 * 1024;
/** Deeper values take the piecewise writer (which JSON.stringify's own limits then apply to). */
const SMALL_DEPTH = 32;

/**
 * What remains of `budget` after the strings in `v`, or -1 when they exceed it (or `v` has a
 * `toJSON`, or is deeper than SMALL_DEPTH): then the piecewise writer is used.
 */
function charsLeft(v: unknown, budget: number, depth: number): number {
  // A string costs its characters (at most 6x in JSON), anything else up to a number's 24, plus
  // its comma or colon: an array of a million numbers is not small either.
  if (typeof v === 'string') return budget - v.length - 2;
  if (v === null || typeof v !== 'object') return budget - 24;
  if (depth > SMALL_DEPTH || typeof (v as { toJSON?: unknown }).toJSON === 'function') return -1;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && budget >= 0; i++) budget = charsLeft(v[i], budget, depth + 1);
    return budget;
  }
  for (const k in v as Record<string, unknown>) {
    if (!Object.hasOwn(v as object, k)) continue;
    budget = charsLeft((v as Record<string, unknown>)[k], budget - k.length, depth + 1);
    if (budget < 0) return budget;
  }
  return budget;
}

/**
 * @example
 * res.end(jsonBytes({ jsonrpc: '2.0', id: 1, result }));
 */
export function jsonBytes(value: unknown): Buffer {
  // A small value at once: the same bytes, without building them in pieces.
  if (charsLeft(value, SMALL_CHARS, 0) >= 0) return Buffer.from(JSON.stringify(value) ?? '');
  const parts: Buffer[] = [];
  let pending = '';
  const put = (s: string) => {
    pending += s;
    if (pending.length >= SLICE) flush();
  };
  const flush = () => {
    if (pending) parts.push(Buffer.from(pending));
    pending = '';
  };
  const str = (s: string) => {
    if (s.length <= SLICE) {
      put(JSON.stringify(s));
      return;
    }
    flush();
    parts.push(Buffer.from('"'));
    for (let i = 0; i < s.length; ) {
      let end = Math.min(i + SLICE, s.length);
      // Never between the two halves of a surrogate pair: escaped apart, they would read back
      // the same, but as escapes instead of the character's UTF-8.
      const last = s.charCodeAt(end - 1);
      if (end < s.length && last >= 0xd800 && last <= 0xdbff) end--;
      const piece = JSON.stringify(s.slice(i, end));
      parts.push(Buffer.from(piece.slice(1, -1)));
      i = end;
    }
    parts.push(Buffer.from('"'));
  };
  const walk = (v: unknown, inArray: boolean): void => {
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(): unknown }).toJSON();
    if (typeof v === 'string') return str(v);
    if (v === null || typeof v === 'number' || typeof v === 'boolean') return put(JSON.stringify(v));
    if (typeof v === 'bigint') throw new TypeError('Do not know how to serialize a BigInt');
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return put(inArray ? 'null' : '');
    if (Array.isArray(v)) {
      put('[');
      v.forEach((item, i) => {
        if (i > 0) put(',');
        walk(item, true);
      });
      return put(']');
    }
    put('{');
    let first = true;
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      if (!first) put(',');
      first = false;
      put(JSON.stringify(k));
      put(':');
      walk(item, false);
    }
    put('}');
  };
  walk(value, false);
  flush();
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
