/**
 * What output costs in an answer, so that caps bound the edge's memory and not only the bytes
 * read: JSON escapes a control character as `\u0001` (6 bytes), and an answer carries the text
 * twice (structured content and text content). One MiB of control characters was 12-24 MB of
 * answer and aborted an edge running with its deployed 32 MB heap.
 */

/** The JSON-escaped length of a character code, twice for one that forces a two-byte string in V8. */
export function replyCost(c: number): number {
  if (c < 0x20) return c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
  if (c === 0x22 || c === 0x5c) return 2;
  return c > 0xff ? 2 : 1;
}

/** The longest prefix of `s` whose reply cost is at most `max`. */
export function cutText(s: string, max: number): string {
  let cost = 0;
  for (let i = 0; i < s.length; i++) {
    cost += replyCost(s.charCodeAt(i));
    if (cost > max) return s.slice(0, i);
  }
  return s;
}

/**
 * How many leading bytes of UTF-8 `buf` to keep so that their text costs at most `max` in a
 * reply (bytes of multi-byte characters count 2 each, an upper bound), never splitting a character,
 * and at least one character.
 */
export function keptBytes(buf: Uint8Array, max: number): number {
  let cost = 0;
  let i = 0;
  for (; i < buf.length; i++) {
    const b = buf[i]!;
    cost += b < 0x80 ? replyCost(b) : 2;
    if (cost > max) break;
  }
  if (i === buf.length) return i;
  // Back to the start of the character the cut fell in (continuation bytes are 10xxxxxx).
  while (i > 0 && (buf[i]! & 0xc0) === 0x80) i--;
  // Always at least one character, so that a caller reading on from here makes progress.
  if (i === 0) for (i = 1; i < buf.length && (buf[i]! & 0xc0) === 0x80; ) i++;
  return i;
}
