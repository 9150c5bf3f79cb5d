/**
 * The hub's clone of the playbook repo. Its work tree is always exactly the main branch (the
 * configured `branch`) at some commit, which is the only thing that ever runs; refresh moves it
 * forward by fast-forward only. Drafts never touch it: they are commits made with git's plumbing
 * (a blob, a tree from a private index, a commit) and pushed to `<draftPrefix><name>`, and a
 * draft's syntax check runs in a throwaway worktree.
 *
 * A read-write lock keeps runs and the clone apart: runs share it; refresh and promotion take it
 * alone, so a playbook never changes under a running Ansible.
 */
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { tmpdir } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { HomelabError } from '@homelab-mcp/core';
import { git, gitEnv } from './git.ts';

export interface PlaybookRepoOptions {
  /** git URL or absolute path. */
  url: string;
  branch: string;
  /** The clone's folder. */
  dir: string;
  /** Playbooks are the *.yml / *.yaml files of this folder of the repo (`.`: the top). */
  playbookDir: string;
  draftPrefix: string;
  /** A private folder: git's HOME. */
  home: string;
  /** Extra environment for git (GIT_SSH_COMMAND, GIT_CONFIG_* credentials). */
  gitExtraEnv?: Record<string, string>;
  baseEnv?: NodeJS.ProcessEnv;
}

/** A playbook of the main branch. */
export interface PlaybookInfo {
  name: string;
  /** Relative to the repo. */
  path: string;
  /** The plays' `hosts`, joined. */
  hosts: string;
  /** The play names, joined: the one-line description. */
  description: string;
  lastCommit?: { sha: string; date: string; subject: string; author: string };
}

export interface CommitInfo {
  sha: string;
  author: string;
  date: string;
  subject: string;
}

/** Names a playbook may have: a file name, no path. */
export const PLAYBOOK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_PLAYBOOK_BYTES = 256 * 1024;
const MAX_PLAYBOOKS = 500;
const MAX_COMMITS = 50;

/** Why a name is not a playbook name, or undefined when it is one. */
export function badPlaybookName(name: string): string | undefined {
  if (name.includes('/') || name.includes('\\') || name.includes('..')) return `"${name.slice(0, 80)}" is a path; a playbook is named by its file name in the repo (e.g. site or update-pis)`;
  if (!PLAYBOOK_NAME.test(name)) return `"${name.slice(0, 80)}" is not a playbook name: letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit`;
  return undefined;
}

/** A simple async read-write lock: many readers, or one writer. */
export function createRwLock() {
  let readers = 0;
  let writer = false;
  const waiting: Array<{ write: boolean; go: () => void }> = [];
  const pump = () => {
    while (waiting.length) {
      const next = waiting[0]!;
      if (next.write ? writer || readers > 0 : writer) return;
      waiting.shift();
      if (next.write) writer = true;
      else readers++;
      next.go();
      if (next.write) return;
    }
  };
  const take = (write: boolean) =>
    new Promise<() => void>((resolve) => {
      waiting.push({
        write,
        go: () =>
          resolve(() => {
            if (write) writer = false;
            else readers--;
            pump();
          }),
      });
      pump();
    });
  return {
    async read<T>(fn: () => Promise<T>): Promise<T> {
      const release = await take(false);
      try {
        return await fn();
      } finally {
        release();
      }
    },
    async write<T>(fn: () => Promise<T>): Promise<T> {
      const release = await take(true);
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}

/** The plays of a playbook's YAML, or undefined when it is not a playbook (a vars file, an inventory). */
export function playsOf(text: string): Array<{ name?: string; hosts?: string; imports?: string }> | undefined {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch {
    return undefined;
  }
  if (!Array.isArray(doc) || doc.length === 0) return undefined;
  const plays: Array<{ name?: string; hosts?: string; imports?: string }> = [];
  for (const p of doc) {
    if (!p || typeof p !== 'object' || Array.isArray(p)) return undefined;
    const r = p as Record<string, unknown>;
    const imp = r.import_playbook ?? r['ansible.builtin.import_playbook'];
    if (r.hosts === undefined && imp === undefined) return undefined;
    const hosts = Array.isArray(r.hosts) ? r.hosts.map(String).join(',') : r.hosts === undefined ? undefined : String(r.hosts);
    plays.push({ ...(typeof r.name === 'string' ? { name: r.name } : {}), ...(hosts !== undefined ? { hosts } : {}), ...(typeof imp === 'string' ? { imports: imp } : {}) });
  }
  return plays;
}

/**
 * @example
 * const repo = createPlaybookRepo({ url, branch: 'main', dir, playbookDir: '.', draftPrefix: 'mcp-draft/', home });
 * await repo.refresh(); repo.head(); await repo.playbooks();
 */
export function createPlaybookRepo(o: PlaybookRepoOptions) {
  const env = gitEnv(o.home, o.baseEnv ?? process.env, o.gitExtraEnv);
  const run = (args: string[], x: { signal?: AbortSignal | undefined; input?: string; okCodes?: number[]; cwd?: string; env?: NodeJS.ProcessEnv; maxBytes?: number; cutAtMax?: boolean } = {}) =>
    git(args, { cwd: x.cwd ?? o.dir, env: x.env ?? env, signal: x.signal, ...(x.input !== undefined ? { input: x.input } : {}), ...(x.okCodes ? { okCodes: x.okCodes } : {}), ...(x.maxBytes ? { maxBytes: x.maxBytes } : {}), ...(x.cutAtMax ? { cutAtMax: true } : {}) });
  const lock = createRwLock();
  const remoteMain = `refs/remotes/origin/${o.branch}`;
  let headSha: string | undefined;
  let cache: { sha: string; list: PlaybookInfo[] } | undefined;
  const dirPrefix = o.playbookDir === '.' ? '' : `${o.playbookDir.replace(/\/+$/, '')}/`;

  const cloned = () => existsSync(join(o.dir, '.git'));

  async function fetch(signal?: AbortSignal): Promise<void> {
    await run(['fetch', '--quiet', '--prune', 'origin', `+refs/heads/${o.branch}:${remoteMain}`, `+refs/heads/${o.draftPrefix}*:refs/remotes/origin/${o.draftPrefix}*`], { signal });
  }

  async function revParse(ref: string, signal?: AbortSignal): Promise<string | undefined> {
    const r = await run(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { signal, okCodes: [1, 128] });
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  async function isAncestor(a: string, b: string, signal?: AbortSignal): Promise<boolean> {
    const r = await run(['merge-base', '--is-ancestor', a, b], { signal, okCodes: [1] });
    return r.code === 0;
  }

  async function commitsBetween(from: string | undefined, to: string, signal?: AbortSignal): Promise<{ commits: CommitInfo[]; more: number }> {
    const range = from ? `${from}..${to}` : to;
    const count = Number((await run(['rev-list', '--count', range], { signal })).stdout.trim()) || 0;
    const log = await run(['log', `--max-count=${MAX_COMMITS}`, '--format=%H%x1f%an%x1f%aI%x1f%s', range], { signal });
    const commits = log.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [sha = '', author = '', date = '', subject = ''] = l.split('\x1f');
        return { sha, author: author.slice(0, 100), date, subject: subject.slice(0, 200) };
      });
    return { commits, more: Math.max(0, count - commits.length) };
  }

  /** Clones if need be, fetches, and fast-forwards the work tree to origin's main. */
  async function refreshUnlocked(signal?: AbortSignal): Promise<{ before?: string; after: string; commits: CommitInfo[]; more: number; cloned: boolean }> {
    let fresh = false;
    if (!cloned()) {
      mkdirSync(o.dir, { recursive: true, mode: 0o700 });
      await run(['clone', '--quiet', '--no-checkout', '--origin', 'origin', '--', o.url, o.dir], { signal, cwd: o.dir });
      fresh = true;
    }
    const before = fresh ? undefined : await revParse('HEAD', signal);
    await fetch(signal);
    const target = await revParse(remoteMain, signal);
    if (!target) throw new HomelabError('ANSIBLE_REPO', `the playbook repo has no branch ${o.branch} (ansible.branch)`);
    if (before && before !== target && !(await isAncestor(before, target, signal))) {
      throw new HomelabError(
        'ANSIBLE_REPO',
        `${o.branch} of the playbook repo was rewritten (force-pushed): the hub's clone is at ${before.slice(0, 12)}, which ${o.branch} (${target.slice(0, 12)}) no longer contains. The clone stays where it is; if the rewrite is intended, remove ${o.dir} and refresh again.`,
      );
    }
    // The work tree is the hub's: anything changed in it is discarded, so that what runs is the commit.
    await run(['checkout', '--quiet', '--force', '-B', o.branch, target], { signal });
    await run(['clean', '--quiet', '-ffd'], { signal });
    headSha = target;
    const { commits, more } = before === target ? { commits: [], more: 0 } : await commitsBetween(before, target, signal);
    return { ...(before ? { before } : {}), after: target, commits, more, cloned: fresh };
  }

  // The first clone is made once, however many calls ask for it at the same time.
  let first: Promise<string> | undefined;
  async function ensure(signal?: AbortSignal): Promise<string> {
    if (headSha) return headSha;
    first ??= (async () => {
      if (cloned()) {
        const h = await revParse('HEAD', signal);
        if (h) return (headSha = h);
      }
      return (await refreshUnlocked(signal)).after;
    })().finally(() => {
      first = undefined;
    });
    return first;
  }

  async function show(rev: string, path: string, signal?: AbortSignal): Promise<string | undefined> {
    const r = await run(['cat-file', '-p', `${rev}:${path}`], { signal, okCodes: [128], maxBytes: MAX_PLAYBOOK_BYTES * 4 });
    return r.code === 0 ? r.stdout : undefined;
  }

  async function listAt(sha: string, signal?: AbortSignal): Promise<PlaybookInfo[]> {
    // Sizes first: one huge .yml (generated data) must not fail the whole listing on show's bound.
    const ls = await run(['ls-tree', '-z', '--format=%(objectsize) %(path)', sha, '--', dirPrefix || '.'], { signal });
    const files = ls.stdout
      .split('\0')
      .filter(Boolean)
      .map((l) => ({ size: Number(l.slice(0, l.indexOf(' '))), path: l.slice(l.indexOf(' ') + 1) }))
      .filter((f) => /\.ya?ml$/i.test(f.path) && !f.path.slice(dirPrefix.length).includes('/') && Number.isFinite(f.size) && f.size <= MAX_PLAYBOOK_BYTES)
      .map((f) => f.path)
      .slice(0, MAX_PLAYBOOKS);
    const out: PlaybookInfo[] = [];
    for (const path of files) {
      const text = await show(sha, path, signal);
      if (text === undefined || text.length > MAX_PLAYBOOK_BYTES) continue;
      const plays = playsOf(text);
      if (!plays) continue;
      const name = posix.basename(path).replace(/\.ya?ml$/i, '');
      if (badPlaybookName(name)) continue;
      const last = (await run(['log', '-1', '--format=%h%x1f%aI%x1f%s%x1f%an', sha, '--', path], { signal })).stdout.trim();
      const [s = '', date = '', subject = '', author = ''] = last.split('\x1f');
      out.push({
        name,
        path,
        hosts: [...new Set(plays.map((p) => p.hosts ?? (p.imports ? `(imports ${p.imports})` : '?')))].join(', ').slice(0, 200),
        description: plays.map((p) => p.name ?? (p.imports ? `import ${p.imports}` : `play on ${p.hosts}`)).join('; ').slice(0, 300),
        ...(s ? { lastCommit: { sha: s, date, subject: subject.slice(0, 200), author: author.slice(0, 100) } } : {}),
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  return {
    dir: o.dir,
    branch: o.branch,
    lock,
    /** The commit the clone is on (cached; undefined before the first refresh). */
    head: () => headSha,
    ensure,
    /** Fetch and fast-forward (alone: no run reads the clone meanwhile). */
    refresh: (signal?: AbortSignal) => lock.write(() => refreshUnlocked(signal)),
    /** Refresh while already holding the write lock (promotion). */
    refreshUnlocked,
    /** The playbooks of main at the clone's commit. */
    async playbooks(signal?: AbortSignal): Promise<PlaybookInfo[]> {
      const sha = await ensure(signal);
      if (cache?.sha === sha) return cache.list;
      const list = await listAt(sha, signal);
      cache = { sha, list };
      return list;
    },
    /** A playbook of main by name (`site` or `site.yml`), or undefined. */
    async find(name: string, signal?: AbortSignal): Promise<PlaybookInfo | undefined> {
      const base = name.replace(/\.ya?ml$/i, '');
      return (await this.playbooks(signal)).find((p) => p.name === base);
    },
    show,
    fetch,
    revParse,
    isAncestor,
    commitsBetween,
    /** The remote-tracking ref of a draft branch. */
    draftRef: (name: string) => `refs/remotes/origin/${o.draftPrefix}${name}`,
    draftBranch: (name: string) => `${o.draftPrefix}${name}`,
    /** Draft branches as fetched: name → head sha. */
    async draftBranches(signal?: AbortSignal): Promise<Array<{ name: string; sha: string; date: string; author: string }>> {
      const r = await run(['for-each-ref', '--format=%(refname)%1f%(objectname)%1f%(committerdate:iso-strict)%1f%(authorname)', `refs/remotes/origin/${o.draftPrefix}`], { signal });
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .slice(0, 200)
        .map((l) => {
          const [ref = '', sha = '', date = '', author = ''] = l.split('\x1f');
          return { name: ref.slice(`refs/remotes/origin/${o.draftPrefix}`.length), sha, date, author };
        });
    },
    /** `2 files changed, 10 insertions(+)` between main and a commit. */
    async diffStat(from: string, to: string, signal?: AbortSignal): Promise<string> {
      return (await run(['diff', '--shortstat', `${from}...${to}`], { signal })).stdout.trim() || 'no changes';
    },
    /**
     * The unified diff of what `to` changes since it left `from` (`git diff from...to`), at most
     * `maxBytes` (cut at a line end; `cut` says so). No external diff driver or textconv runs.
     *
     * @example await repo.diff('refs/remotes/origin/main', draftSha, 200 * 1024) // { diff: 'diff --git a/x.yml b/x.yml\n…', cut: false }
     */
    async diff(from: string, to: string, maxBytes: number, signal?: AbortSignal): Promise<{ diff: string; cut: boolean }> {
      const r = await run(['diff', '--no-color', '--no-ext-diff', '--no-textconv', `${from}...${to}`, '--'], { signal, maxBytes, cutAtMax: true });
      if (!r.cut) return { diff: r.stdout, cut: false };
      const end = r.stdout.lastIndexOf('\n');
      return { diff: end >= 0 ? r.stdout.slice(0, end + 1) : '', cut: true };
    },
    /** The paths `to` changes since it left `from` (`git diff --name-only from...to`), at most 1000. */
    async changedPaths(from: string, to: string, signal?: AbortSignal): Promise<string[]> {
      const r = await run(['diff', '--name-only', '-z', '--no-renames', `${from}...${to}`, '--'], { signal });
      return r.stdout.split('\0').filter(Boolean).slice(0, 1000);
    },
    /** The path a playbook named `name` has (or would have) in the repo. */
    pathFor: (name: string) => `${dirPrefix}${name}.yml`,
    /**
     * A commit of `content` at `path` on top of `parent`, made without touching the work tree;
     * undefined when it would change nothing.
     */
    async commitFile(parent: string, path: string, content: string, message: string, signal?: AbortSignal): Promise<string | undefined> {
      const blob = (await run(['hash-object', '-w', '--stdin'], { signal, input: content })).stdout.trim();
      const tmp = mkdtempSync(join(tmpdir(), 'homelab-draft-index-'));
      try {
        const ienv = { ...env, GIT_INDEX_FILE: join(tmp, 'index') };
        await run(['read-tree', parent], { signal, env: ienv });
        await run(['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], { signal, env: ienv });
        const tree = (await run(['write-tree'], { signal, env: ienv })).stdout.trim();
        const parentTree = (await run(['rev-parse', `${parent}^{tree}`], { signal })).stdout.trim();
        if (tree === parentTree) return undefined;
        return (await run(['commit-tree', tree, '-p', parent, '-F', '-'], { signal, input: message })).stdout.trim();
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
    /** A throwaway checkout of `sha` for `fn` (a draft's syntax check), removed after. */
    async withCheckout<T>(sha: string, fn: (dir: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
      const tmp = mkdtempSync(join(tmpdir(), 'homelab-draft-'));
      const wt = join(tmp, 'wt');
      await run(['worktree', 'add', '--quiet', '--detach', wt, sha], { signal });
      try {
        return await fn(wt);
      } finally {
        await run(['worktree', 'remove', '--force', wt]).catch(() => undefined);
        rmSync(tmp, { recursive: true, force: true });
        await run(['worktree', 'prune']).catch(() => undefined);
      }
    },
    /** Pushes `sha` to a draft branch, only if the branch is still at `expected` (absent: must not exist). */
    async pushDraft(name: string, sha: string, expected: string | undefined, signal?: AbortSignal): Promise<void> {
      const branch = `${o.draftPrefix}${name}`;
      await run(['push', '--quiet', '--porcelain', `--force-with-lease=refs/heads/${branch}:${expected ?? ''}`, 'origin', `${sha}:refs/heads/${branch}`], { signal });
      await run(['update-ref', `refs/remotes/origin/${branch}`, sha], { signal });
    },
    /**
     * What `path` is at `sha`, with everything under it when it is a folder: `mode` as git
     * stores it (`100644` a file, `100755` an executable, `120000` a symlink, `040000` a folder);
     * undefined when the commit has no such path.
     */
    async entry(sha: string, path: string, signal?: AbortSignal): Promise<{ mode: string; below: string[] } | undefined> {
      const clean = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (clean === '' || clean === '.') return { mode: '040000', below: (await run(['ls-tree', '-r', '-z', '--format=%(objectmode)', sha], { signal })).stdout.split('\0').filter(Boolean) };
      const self = (await run(['ls-tree', '-z', '--format=%(objectmode) %(path)', sha, '--', clean], { signal })).stdout.split('\0').filter(Boolean);
      const mode = self.find((l) => l.slice(l.indexOf(' ') + 1) === clean)?.split(' ')[0];
      if (!mode) return undefined;
      const below = mode === '040000' ? (await run(['ls-tree', '-r', '-z', '--format=%(objectmode)', sha, '--', `${clean}/`], { signal })).stdout.split('\0').filter(Boolean) : [];
      return { mode, below };
    },
    /** Is the work tree exactly the commit (nothing tracked changed)? */
    async clean(signal?: AbortSignal): Promise<boolean> {
      return (await run(['status', '--porcelain', '--untracked-files=no'], { signal })).stdout.trim() === '';
    },
  };
}

export type PlaybookRepo = ReturnType<typeof createPlaybookRepo>;
