/**
 * os-release(5): shell-style `KEY=value` lines, values optionally quoted, `\` escaping `$ " \ \``
 * inside double quotes. Not evaluated by a shell, so this reads it without one.
 */

/** All variables of an os-release file. */
export type OsRelease = Record<string, string>;

/** @example parseOsRelease('ID=debian\nVERSION_ID="12"\n') // { ID: 'debian', VERSION_ID: '12' } */
export function parseOsRelease(text: string): OsRelease {
  const out: OsRelease = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\([$"\\`])/g, '$1');
    else if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}
