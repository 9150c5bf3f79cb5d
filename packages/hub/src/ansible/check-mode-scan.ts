/**
 * Finds the tasks that run for real even in a dry run: `check_mode: false` (also `no`,
 * `"False"`, a templated value, anything not literally true) on a task, a block or a play, in
 * the playbook, the playbooks it imports, the task files it includes statically, and the roles
 * it uses (their tasks, handlers and dependencies).
 *
 * It also finds what runs a command on the hub itself while Ansible templates, check mode or
 * not: a `pipe` or `lines` lookup (`lookup('pipe', ...)`, `query('lines', ...)`, `with_pipe`), in
 * those files, in the roles' templates, vars and defaults, and in any group_vars or host_vars
 * folder of the repo (vars are templated when a task uses them).
 *
 * It fails closed: what it cannot read (a path outside the repo, a templated include path, a
 * file over the bounds) is listed too, with a note, since it could hold such a task. It never
 * reads outside `repoDir`, symlinks included.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { HomelabError } from '@homelab-mcp/core';
import type { CheckModeFalseTask } from './contract.ts';

/** Bounds of a scan; a repo beyond them is reported as not fully scanned. */
export const SCAN_LIMITS = { files: 300, depth: 12, fileBytes: 1024 * 1024, findings: 500 } as const;

const TASK_SECTIONS = ['pre_tasks', 'tasks', 'post_tasks', 'handlers'];
const BLOCK_KEYS = ['block', 'rescue', 'always'];
const TASK_INCLUDES = new Set(['import_tasks', 'include_tasks', 'include', 'ansible.builtin.import_tasks', 'ansible.builtin.include_tasks', 'ansible.builtin.include']);
const ROLE_INCLUDES = new Set(['import_role', 'include_role', 'ansible.builtin.import_role', 'ansible.builtin.include_role']);
const PLAYBOOK_IMPORTS = new Set(['import_playbook', 'ansible.builtin.import_playbook', 'include']);
/** Task keywords that are not the module: what is left names the task when it has no `name`. */
const KEYWORDS = new Set(['name', 'when', 'tags', 'register', 'vars', 'loop', 'with_items', 'become', 'become_user', 'check_mode', 'diff', 'notify', 'changed_when', 'failed_when', 'ignore_errors', 'delegate_to', 'run_once', 'no_log', 'environment', 'args', 'loop_control', 'until', 'retries', 'delay', 'listen', 'block', 'rescue', 'always']);

interface Ctx {
  root: string;
  out: CheckModeFalseTask[];
  seen: Set<string>;
  files: number;
  /** The playbook being scanned's folder: roles/ and include paths are also looked up there. */
  playbookDir: string;
}

/** Literally true in YAML 1.1 as Ansible reads it; anything else makes the task run for real. */
function checkModeValue(node: unknown): { risky: boolean; written: string } {
  if (isScalar(node)) {
    const v = node.value;
    const written = typeof v === 'string' ? v : String(v);
    if (v === true || (typeof v === 'string' && /^(yes|true|on)$/i.test(v.trim()))) return { risky: false, written };
    return { risky: true, written };
  }
  return { risky: true, written: 'a non-scalar value' };
}

function plainFalse(written: string): boolean {
  return /^(false|no|off)$/i.test(written.trim());
}

function get(map: YAMLMap, key: string): unknown {
  for (const item of map.items) if (isPair(item) && isScalar(item.key) && item.key.value === key) return item.value;
  return undefined;
}

function keysOf(map: YAMLMap): string[] {
  return map.items.filter((i) => isPair(i) && isScalar(i.key)).map((i) => String((i as { key: { value: unknown } }).key.value));
}

function scalarString(node: unknown): string | undefined {
  return isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') ? String(node.value) : undefined;
}

/** `realPath` inside the repo, else undefined (`..`, an absolute path, a symlink out). */
function insideRepo(ctx: Ctx, path: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined;
  }
  return real === ctx.root || real.startsWith(ctx.root + sep) ? real : undefined;
}

/** A lookup that runs a command on the controller (the hub) whenever it is templated. */
const COMMAND_LOOKUP = /\b(?:lookup|query|q)\s*\(\s*['"](?:ansible\.builtin\.)?(?:pipe|lines)['"]|\bwith_(?:pipe|lines)\b/g;
const COMMAND_NOTE = 'a pipe or lines lookup runs a command on the hub while Ansible templates, even in a dry run';

/** Each command lookup in `text` (a file of the repo) as a finding at its line. */
function commandLookups(ctx: Ctx, file: string, text: string): void {
  for (const m of text.matchAll(COMMAND_LOOKUP)) {
    const line = text.slice(0, m.index).split('\n').length;
    add(ctx, { file, line, task: m[0].replace(/\s+/g, ' ').slice(0, 60), note: COMMAND_NOTE });
  }
}

/** Every file under `dir` (bounded), scanned for command lookups as text. */
function scanTextTree(ctx: Ctx, dir: string, depth = 0): void {
  const real = insideRepo(ctx, dir);
  if (!real || depth > 6 || ctx.seen.has(real)) return;
  ctx.seen.add(real);
  let names: string[] = [];
  try {
    names = readdirSync(real).sort();
  } catch {
    return;
  }
  for (const n of names) {
    if (n === '.git') continue;
    const p = join(real, n);
    const inside = insideRepo(ctx, p);
    if (!inside) continue;
    const st = statSync(inside);
    if (st.isDirectory()) scanTextTree(ctx, inside, depth + 1);
    else if (st.isFile() && ctx.files < SCAN_LIMITS.files) {
      ctx.files++;
      if (st.size > SCAN_LIMITS.fileBytes) {
        add(ctx, { file: relative(ctx.root, inside), line: 1, task: '(a file over the scan bounds)', note: `larger than ${SCAN_LIMITS.fileBytes} bytes: not scanned for command lookups, counted as risky` });
        continue;
      }
      commandLookups(ctx, relative(ctx.root, inside), readFileSync(inside, 'utf8'));
    }
  }
}

/** The group_vars and host_vars folders anywhere in the repo (not deeper than 4). */
function scanVarsFolders(ctx: Ctx, dir: string, depth = 0): void {
  if (depth > 4) return;
  let names: string[] = [];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== '.git')
      .map((d) => d.name)
      .sort();
  } catch {
    return;
  }
  for (const n of names) {
    if (n === 'group_vars' || n === 'host_vars') scanTextTree(ctx, join(dir, n));
    else if (n !== 'roles') scanVarsFolders(ctx, join(dir, n), depth + 1);
  }
}

function add(ctx: Ctx, f: CheckModeFalseTask): void {
  if (ctx.out.length < SCAN_LIMITS.findings) ctx.out.push(f);
}

interface FileRef {
  /** Relative to the repo. */
  file: string;
  lines: LineCounter;
}

function lineOf(ref: FileRef, node: unknown): number {
  const range = (node as Node | undefined)?.range;
  return range ? ref.lines.linePos(range[0]).line : 1;
}

/** Parses a file of the repo, or records why it was not scanned. */
function load(ctx: Ctx, path: string, from: { ref: FileRef; node: unknown; what: string } | undefined, depth: number): { ref: FileRef; doc: unknown } | undefined {
  const notScanned = (why: string) => {
    if (from) add(ctx, { file: from.ref.file, line: lineOf(from.ref, from.node), task: from.what, note: `${why}: not scanned for check_mode, counted as risky` });
  };
  const lexical = relative(ctx.root, resolve(path));
  const lexicallyOutside = lexical.startsWith('..') || isAbsolute(lexical);
  let real: string | undefined;
  try {
    real = realpathSync(path);
  } catch {
    return (notScanned(`${JSON.stringify(lexical)} ${lexicallyOutside ? 'is outside the repo' : 'was not found'}`), undefined);
  }
  if (real !== ctx.root && !real.startsWith(ctx.root + sep)) {
    return (notScanned(`${JSON.stringify(lexical)} is outside the repo${lexicallyOutside ? '' : ' (through a symlink)'}`), undefined);
  }
  if (ctx.seen.has(real)) return undefined;
  if (depth > SCAN_LIMITS.depth) return (notScanned(`includes nested deeper than ${SCAN_LIMITS.depth}`), undefined);
  if (ctx.files >= SCAN_LIMITS.files) return (notScanned(`more than ${SCAN_LIMITS.files} files`), undefined);
  const st = statSync(real);
  if (!st.isFile()) return (notScanned(`${relative(ctx.root, real)} is not a file`), undefined);
  if (st.size > SCAN_LIMITS.fileBytes) return (notScanned(`${relative(ctx.root, real)} is larger than ${SCAN_LIMITS.fileBytes} bytes`), undefined);
  ctx.seen.add(real);
  ctx.files++;
  const lines = new LineCounter();
  const text = readFileSync(real, 'utf8');
  commandLookups(ctx, relative(ctx.root, real), text);
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, strict: false });
  // A file Ansible cannot parse fails the run itself (and syntax checks say where).
  if (doc.errors.length) return undefined;
  return { ref: { file: relative(ctx.root, real), lines }, doc: doc.contents };
}

/** Where Ansible would look for an included file: beside the includer, the role's tasks/, the playbook. */
function includeCandidates(ctx: Ctx, ref: FileRef, target: string, roleTasksDir?: string): string {
  const bases = [dirname(join(ctx.root, ref.file)), ...(roleTasksDir ? [roleTasksDir] : []), ctx.playbookDir];
  for (const b of bases) {
    const p = resolve(b, target);
    try {
      statSync(p);
      return p;
    } catch {
      // next
    }
  }
  return resolve(bases[0]!, target);
}

function taskName(map: YAMLMap): string {
  const name = scalarString(get(map, 'name'));
  if (name) return name;
  const module = keysOf(map).find((k) => !KEYWORDS.has(k));
  return module ? `(unnamed ${module} task)` : '(unnamed task)';
}

function scanTasks(ctx: Ctx, ref: FileRef, seq: unknown, depth: number, roleTasksDir?: string): void {
  if (!isSeq(seq)) return;
  for (const item of seq.items) {
    if (!isMap(item)) continue;
    const keys = keysOf(item);
    const isBlock = keys.some((k) => BLOCK_KEYS.includes(k));
    const cm = get(item, 'check_mode');
    if (cm !== undefined) {
      const { risky, written } = checkModeValue(cm);
      if (risky) {
        const name = isBlock ? `block ${JSON.stringify(scalarString(get(item, 'name')) ?? '(unnamed)')}` : taskName(item);
        const notes = [
          ...(plainFalse(written) ? [] : [`check_mode is ${JSON.stringify(written)}, not literally true: treated as false`]),
          ...(isBlock ? ['every task in the block runs for real in check mode'] : []),
        ];
        add(ctx, { file: ref.file, line: lineOf(ref, item), task: name, ...(notes.length ? { note: notes.join('; ') } : {}) });
      }
    }
    for (const k of BLOCK_KEYS) scanTasks(ctx, ref, get(item, k), depth + 1, roleTasksDir);
    for (const k of keys) {
      if (TASK_INCLUDES.has(k)) {
        const v = get(item, k);
        const target = scalarString(v) ?? (isMap(v) ? scalarString(get(v, 'file')) : undefined) ?? (isMap(get(item, 'args')) ? scalarString(get(get(item, 'args') as YAMLMap, 'file')) : undefined);
        const what = `${k}: ${target ?? '(no file)'}`;
        if (!target || target.includes('{{')) {
          add(ctx, { file: ref.file, line: lineOf(ref, item), task: what, note: 'a templated or missing file name: not scanned for check_mode, counted as risky' });
          continue;
        }
        const loaded = load(ctx, includeCandidates(ctx, ref, target, roleTasksDir), { ref, node: item, what }, depth + 1);
        if (loaded) scanTasks(ctx, loaded.ref, loaded.doc, depth + 1, roleTasksDir);
      } else if (ROLE_INCLUDES.has(k)) {
        const v = get(item, k);
        const role = isMap(v) ? scalarString(get(v, 'name')) : scalarString(v);
        scanRole(ctx, role, { ref, node: item, what: `${k}: ${role ?? '(no name)'}` }, depth + 1);
      }
    }
  }
}

/** A role by name or path: its tasks/*.yml, handlers/*.yml and meta dependencies. */
function scanRole(ctx: Ctx, role: string | undefined, from: { ref: FileRef; node: unknown; what: string }, depth: number): void {
  if (!role || role.includes('{{')) {
    add(ctx, { file: from.ref.file, line: lineOf(from.ref, from.node), task: from.what, note: 'a templated or missing role name: not scanned for check_mode, counted as risky' });
    return;
  }
  // A collection's role (`ns.coll.role`) is not in the repo; what it does is the collection's.
  if (/^[\w-]+\.[\w-]+\.[\w-]+$/.test(role)) return;
  const candidates = role.includes('/') ? [resolve(ctx.playbookDir, role), resolve(ctx.root, role)] : [join(ctx.playbookDir, 'roles', role), join(ctx.root, 'roles', role)];
  let dir: string | undefined;
  for (const c of candidates) {
    try {
      if (lstatSync(c)) {
        dir = c;
        break;
      }
    } catch {
      // next
    }
  }
  if (!dir) return; // not in the repo (a role installed elsewhere): Ansible says so when it runs
  const real = insideRepo(ctx, dir);
  if (!real) {
    add(ctx, { file: from.ref.file, line: lineOf(from.ref, from.node), task: from.what, note: `role ${JSON.stringify(role)} is outside the repo: not scanned for check_mode, counted as risky` });
    return;
  }
  if (ctx.seen.has(real)) return;
  ctx.seen.add(real);
  for (const sub of ['tasks', 'handlers']) {
    let names: string[] = [];
    const subDir = insideRepo(ctx, join(real, sub));
    if (!subDir) {
      let exists = false;
      try {
        exists = !!lstatSync(join(real, sub));
      } catch {
        // a role without handlers (or tasks)
      }
      if (exists) add(ctx, { file: from.ref.file, line: lineOf(from.ref, from.node), task: from.what, note: `role ${JSON.stringify(role)}: ${sub}/ is outside the repo (through a symlink): not scanned for check_mode, counted as risky` });
      continue;
    }
    try {
      names = readdirSync(subDir)
        .filter((n) => /\.ya?ml$/.test(n))
        .sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const loaded = load(ctx, join(subDir, n), { ...from, what: `${from.what} (${sub}/${n})` }, depth + 1);
      if (loaded) scanTasks(ctx, loaded.ref, loaded.doc, depth + 1, join(real, 'tasks'));
    }
  }
  for (const sub of ['templates', 'vars', 'defaults']) scanTextTree(ctx, join(real, sub));
  const meta = load(ctx, join(real, 'meta', 'main.yml'), undefined, depth + 1);
  if (meta && isMap(meta.doc)) {
    const deps = get(meta.doc, 'dependencies');
    if (isSeq(deps)) {
      for (const d of deps.items) {
        const name = isMap(d) ? (scalarString(get(d, 'role')) ?? scalarString(get(d, 'name'))) : scalarString(d);
        scanRole(ctx, name, { ref: meta.ref, node: d, what: `dependency ${name ?? '(no name)'}` }, depth + 1);
      }
    }
  }
}

function scanPlaybook(ctx: Ctx, path: string, from: { ref: FileRef; node: unknown; what: string } | undefined, depth: number): void {
  const loaded = load(ctx, path, from, depth);
  if (!loaded || !isSeq(loaded.doc)) return;
  const { ref } = loaded;
  const outer = ctx.playbookDir;
  ctx.playbookDir = dirname(join(ctx.root, ref.file));
  try {
    for (const play of loaded.doc.items) {
      if (!isMap(play)) continue;
      for (const k of keysOf(play)) {
        if (!PLAYBOOK_IMPORTS.has(k)) continue;
        const target = scalarString(get(play, k));
        const what = `${k}: ${target ?? '(no file)'}`;
        if (!target || target.includes('{{')) add(ctx, { file: ref.file, line: lineOf(ref, play), task: what, note: 'a templated or missing file name: not scanned for check_mode, counted as risky' });
        else scanPlaybook(ctx, resolve(ctx.playbookDir, target), { ref, node: play, what }, depth + 1);
      }
      const cm = get(play, 'check_mode');
      if (cm !== undefined) {
        const { risky, written } = checkModeValue(cm);
        if (risky) {
          const note = ['every task in the play runs for real in check mode', ...(plainFalse(written) ? [] : [`check_mode is ${JSON.stringify(written)}, not literally true: treated as false`])].join('; ');
          add(ctx, { file: ref.file, line: lineOf(ref, play), task: `play ${JSON.stringify(scalarString(get(play, 'name')) ?? '(unnamed)')}`, note });
        }
      }
      const roles = get(play, 'roles');
      if (isSeq(roles)) {
        for (const r of roles.items) {
          const name = isMap(r) ? (scalarString(get(r, 'role')) ?? scalarString(get(r, 'name'))) : scalarString(r);
          if (isMap(r) && get(r, 'check_mode') !== undefined && checkModeValue(get(r, 'check_mode')).risky) {
            add(ctx, { file: ref.file, line: lineOf(ref, r), task: `role ${name ?? '(no name)'}`, note: 'every task of the role runs for real in check mode' });
          }
          scanRole(ctx, name, { ref, node: r, what: `role ${name ?? '(no name)'}` }, depth + 1);
        }
      }
      for (const s of TASK_SECTIONS) scanTasks(ctx, ref, get(play, s), depth + 1);
    }
  } finally {
    ctx.playbookDir = outer;
  }
}

/**
 * Every task that runs for real in check mode, in `playbook` (relative to `repoDir`) and what
 * it uses, in the order found; bounded (files, depth, size) and never outside `repoDir`.
 *
 * @example
 * await checkModeFalseTasks('/var/lib/homelab/ansible', 'site.yml')
 * // [{ file: 'roles/web/tasks/main.yml', line: 12, task: 'Reload nginx' }]
 */
export async function checkModeFalseTasks(repoDir: string, playbook: string): Promise<CheckModeFalseTask[]> {
  const root = realpathSync(repoDir);
  const ctx: Ctx = { root, out: [], seen: new Set(), files: 0, playbookDir: root };
  const path = resolve(root, playbook);
  const real = insideRepo(ctx, path);
  if (!real || !statSync(real).isFile()) throw new HomelabError('INVALID_ARGUMENTS', `playbook ${JSON.stringify(playbook)} is not a file inside ${repoDir}`);
  scanPlaybook(ctx, real, undefined, 0);
  scanVarsFolders(ctx, root);
  return ctx.out;
}
