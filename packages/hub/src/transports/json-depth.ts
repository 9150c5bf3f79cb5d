/**
 * How deep a JSON text nests, checked before it is parsed: `JSON.parse` of a body nested a
 * million deep held the event loop for 1.5 s (and a deep value then costs every walk over it:
 * validation, redaction, the journal). One pass over the characters, stopping at the limit.
 */

/**
 * Whether `text` (JSON, valid or not) opens more than `max` arrays/objects inside each other.
 * Brackets inside strings do not count.
 * @example exceedsJsonDepth('[[[1]]]', 2) // true
 */
export function exceedsJsonDepth(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}
