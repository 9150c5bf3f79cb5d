/**
 * A draft is content nobody has reviewed yet, and `ansible-playbook --syntax-check` is not
 * harmless on it: Ansible templates some keywords while it parses (`hosts`, `import_playbook`,
 * `import_tasks`, `vars_files`, role names), so a draft holding
 * `{{ lookup('pipe', 'cat DATA/token') }}` would run that command on the hub, and a draft whose
 * `vars_files` names a file outside the repo would have its content quoted back in the error
 * ("Got: <the file's first line>"). So before the syntax check:
 *
 * - every place Ansible reads a file while parsing must name a relative path inside the repo,
 *   without `..` and without Jinja (checked here; the draft is refused otherwise), and
 * - the syntax check reads a copy of the draft with every Jinja expression replaced by an inert
 *   word ({@link inertCopy}): nothing the draft says is ever evaluated on the hub. Files of main
 *   it imports are reviewed content and stay as they are.
 */
import { parse as parseYaml } from 'yaml';

/** Keywords whose value Ansible loads as a file (or a role folder) while it parses a playbook. */
const PATH_KEYS = new Set([
  'import_playbook',
  'ansible.builtin.import_playbook',
  'import_tasks',
  'ansible.builtin.import_tasks',
  'include_tasks',
  'ansible.builtin.include_tasks',
  'include',
  'ansible.builtin.include',
  'vars_files',
  'import_role',
  'ansible.builtin.import_role',
  'include_role',
  'ansible.builtin.include_role',
  'roles',
]);
const ROLE_FILE_KEYS = ['name', 'role', 'tasks_from', 'vars_from', 'defaults_from', 'handlers_from'];
const JINJA = /\{\{|\{%|\{#/;

/** Why `p` is not a safe path to load while parsing, or undefined. */
function badPath(p: string): string | undefined {
  if (JINJA.test(p)) return 'is templated (Jinja), which the hub will not evaluate in an unreviewed draft';
  if (p.startsWith('/') || p.startsWith('~')) return 'is absolute: a draft may only use files of the repo';
  if (p.split(/[\\/]/).includes('..')) return 'leaves the repo ("..")';
  if (p.split(/[\\/]/).includes('.git')) return 'is inside .git (the clone\'s own files, its remote URL among them), not a file of the repo';
  if (/[\u0000-\u001f]/.test(p)) return 'holds control characters';
  return undefined;
}

/**
 * Every file reference of a draft that the hub refuses, as `keyword "value": why`.
 *
 * @example draftPathProblems('- import_playbook: /etc/shadow\n') // ['import_playbook "/etc/shadow": is absolute: ...']
 */
export function draftPathProblems(content: string): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(content, { maxAliasCount: 100 });
  } catch {
    return [];
  }
  const out: string[] = [];
  const check = (key: string, v: unknown) => {
    if (typeof v !== 'string') return;
    const why = badPath(v);
    if (why && out.length < 20) out.push(`${key} "${v.slice(0, 120)}": ${why}`);
  };
  const walk = (v: unknown, depth: number) => {
    if (depth > 64 || out.length >= 20) return;
    if (Array.isArray(v)) return v.forEach((x) => walk(x, depth + 1));
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (PATH_KEYS.has(k)) {
        const items = (Array.isArray(x) ? x : [x]).flat();
        for (const item of items) {
          if (typeof item === 'string') check(k, item);
          else if (item && typeof item === 'object') {
            const r = item as Record<string, unknown>;
            for (const f of [...ROLE_FILE_KEYS, 'file']) check(`${k}.${f}`, r[f]);
          }
        }
      }
      walk(x, depth + 1);
    }
  };
  walk(doc, 0);
  return out;
}

/**
 * The draft with every Jinja expression, statement and comment replaced by inert text, for the
 * syntax check only (what is committed is the draft as written). Line numbers stay.
 *
 * @example inertCopy('hosts: "{{ lookup(\'pipe\', \'id\') }}"') // 'hosts: "JINJA"'
 */
export function inertCopy(content: string): string {
  const keepLines = (m: string, word: string) => word + '\n'.repeat((m.match(/\n/g) ?? []).length);
  return content
    .replace(/\{\{[\s\S]*?\}\}/g, (m) => keepLines(m, 'JINJA'))
    .replace(/\{%[\s\S]*?%\}/g, (m) => keepLines(m, ''))
    .replace(/\{#[\s\S]*?#\}/g, (m) => keepLines(m, ''))
    .replace(/\{\{|\{%|\{#/g, 'JINJA');
}

/** A YAML escape that writes `{`, `%` or `#` (`\x7b`, `\u007B`, `\U0000007b`, and `\x25`, `\x23`). */
const ESCAPED_JINJA_CHAR = /\\(?:x(?:7[bB]|25|23)|u00(?:7[bB]|25|23)|U000000(?:7[bB]|25|23))/;

/**
 * Jinja that {@link inertCopy} cannot see in the text but that YAML produces when it reads it:
 * `"\x7b{ lookup('pipe', 'id') }}"`, or a `{` and a `{` joined by a double-quoted line
 * continuation. Ansible templates such a value while it parses (`hosts`, for one), so a draft
 * holding one is refused rather than syntax-checked. Also refused: YAML escapes of `{`, `%` and
 * `#` anywhere, which no playbook needs and which another YAML reader might read differently.
 *
 * @example hiddenJinja('- hosts: "\\x7b{ lookup(\'pipe\', \'id\') }}"\n') // ['line 1: a YAML escape ...']
 */
export function hiddenJinja(content: string): string[] {
  const out: string[] = [];
  const lines = content.split('\n');
  for (let i = 0; i < lines.length && out.length < 20; i++) {
    const m = ESCAPED_JINJA_CHAR.exec(lines[i]!);
    if (m) out.push(`line ${i + 1}: the YAML escape "${m[0]}" writes "{", "%" or "#", which could make Jinja the hub would evaluate`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(inertCopy(content), { maxAliasCount: 100 });
  } catch {
    return [...out, 'the draft cannot be read once its Jinja is made inert'];
  }
  const walk = (v: unknown, path: string, depth: number) => {
    if (depth > 64 || out.length >= 20) return;
    if (typeof v === 'string') {
      if (JINJA.test(v)) out.push(`${path || 'the document'}: "${v.slice(0, 80)}" holds Jinja written with YAML escapes or a line continuation`);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, depth + 1));
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (JINJA.test(k)) out.push(`${path || 'the document'}: the key "${k.slice(0, 80)}" holds Jinja written with YAML escapes or a line continuation`);
        walk(x, path ? `${path}.${k}` : k, depth + 1);
      }
  };
  walk(doc, '', 0);
  return out;
}
