/**
 * `git_pull`: clones a repository into a folder under internet.git.dir (default DATA/git), or
 * fast-forwards the clone there, and answers with the new HEAD and the commits pulled.
 *
 * What a repo_url can make the hub do is bounded:
 * - transports: https, http, ssh and git only (GIT_ALLOW_PROTOCOL); `ext::`/`fd::` helpers run
 *   commands and are refused, and file:// and local paths only with internet.git.allowLocal
 *   (they would copy any repository the hub can read);
 * - nothing of the repository runs: hooks off (`core.hooksPath=/dev/null`, no template), no
 *   submodules, no system or user git config, objects checked as they arrive;
 * - the folder stays under the git dir: `path` relative, no `..`, no dot-folders, and no symlink
 *   on the way; a clone is made in a hidden folder and renamed when complete;
 * - time (internet.git.timeoutSeconds) and size (internet.git.maxMegabytes: the folder is
 *   watched while git writes, and git is stopped when it passes the limit);
 * - https credentials come from internet.git.credentials as an Authorization header in
 *   GIT_CONFIG_* variables, never in argv, URLs, answers or logs; a repo_url given with
 *   credentials loses them (said in the answer);
 * - ssh with internet.git.sshKey and host keys from internet.git.knownHosts only: a first contact
 *   is refused with the fingerprint to pin.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { HomelabError, isHomelabError } from '@homelab-mcp/core';
import type { CatalogTool } from '../catalog/types.ts';
import { git, gitEnv, gitError } from '../ansible/git.ts';
import { hostKeyRefusal, refusedAddress, scanHostKey } from '../ansible/host-keys.ts';
import type { InternetDeps } from './deps.ts';

/** A repo_url taken apart: what git is given, what people see, and where it goes. */
export interface RepoUrl {
  kind: 'https' | 'http' | 'ssh' | 'git' | 'file';
  /** What git gets: without credentials (an ssh user name stays: it is not a secret). */
  gitUrl: string;
  /** What answers and the journal show. */
  display: string;
  /** host or host:port (none for file). */
  host?: string;
  port?: number;
  /** The URL carried a user name or password (http) or a password (ssh): they were dropped. */
  hadCredentials: boolean;
  /** The folder name a clone gets by default. */
  lastSegment: string;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const HOST = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,252})$|^\[[0-9A-Fa-f:.]+\]$/;

function lastSegmentOf(p: string): string {
  return (
    p
      .replace(/\/+$/, '')
      .split(/[/:]/)
      .at(-1)
      ?.replace(/\.git$/, '') ?? ''
  );
}

/**
 * Takes a repo_url apart, or says why it is refused.
 *
 * @example parseRepoUrl('https://tok@github.com/me/dots.git', false) // { kind: 'https', gitUrl: 'https://github.com/me/dots.git', hadCredentials: true, ... }
 */
export function parseRepoUrl(raw: string, allowLocal: boolean): RepoUrl | string {
  const arg = 'git_pull: argument "repo_url"';
  // ext::, fd:: and other remote helpers given as `<transport>::<address>` run programs.
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(raw)) return `${arg}: the "${raw.split('::')[0]}::" transport is refused (remote helpers can run commands); use an https, ssh or git URL`;
  if (/[\s\0]/.test(raw) || raw.startsWith('-')) return `${arg}: expected a URL without spaces that does not start with "-"`;
  const local = () => (allowLocal ? undefined : `${arg}: file URLs and local paths are refused (set internet.git.allowLocal: true to clone repositories on the hub's own disk)`);
  if (isAbsolute(raw)) return local() ?? { kind: 'file', gitUrl: raw, display: raw, hadCredentials: false, lastSegment: lastSegmentOf(raw) };
  const scp = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?!\/\/)(.+)$/.exec(raw);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(raw) && scp) {
    const [, user, host, path] = scp;
    if (!HOST.test(host!) || host!.startsWith('-')) return `${arg}: "${host}" is not a host name`;
    return { kind: 'ssh', gitUrl: raw, display: raw, host: host!, port: 22, hadCredentials: false, lastSegment: lastSegmentOf(path!) };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `${arg}: expected an https://, ssh://, git:// URL or user@host:path`;
  }
  const kind = u.protocol.slice(0, -1);
  if (kind === 'file') {
    const refused = local();
    if (refused) return refused;
    return { kind: 'file', gitUrl: raw, display: raw, hadCredentials: false, lastSegment: lastSegmentOf(decodeURIComponent(u.pathname)) };
  }
  if (kind !== 'https' && kind !== 'http' && kind !== 'ssh' && kind !== 'git') return `${arg}: the ${u.protocol} transport is refused; use https, http, ssh or git`;
  if (!u.hostname || !HOST.test(u.hostname)) return `${arg}: the URL has no valid host`;
  let hadCredentials = false;
  if (kind === 'ssh') {
    if (u.password) ((hadCredentials = true), (u.password = ''));
  } else if (u.username || u.password) {
    hadCredentials = true;
    u.username = '';
    u.password = '';
  }
  const defaultPort = { https: 443, http: 80, ssh: 22, git: 9418 }[kind];
  const clean = u.toString();
  return { kind, gitUrl: clean, display: clean, host: u.host, port: u.port ? Number(u.port) : defaultPort, hadCredentials, lastSegment: lastSegmentOf(decodeURIComponent(u.pathname)) };
}

/**
 * The folder inside the git dir: `path` or the URL's last segment; relative, no `..`, no
 * dot-folders (the hub's own `.incoming-*` live there), at most 8 levels.
 */
export function checkRepoPath(path: string): string | undefined {
  const parts = path.split('/');
  if (isAbsolute(path) || parts.length > 8 || !parts.every((p) => SEGMENT.test(p)))
    return `git_pull: argument "path": "${path.slice(0, 200)}" must be a folder inside internet.git.dir: relative, no "..", no leading "/" or ".", segments of letters, digits, ".", "_" and "-"`;
  return undefined;
}

/** Bytes under `dir` (symlinks not followed), stopping early once over `limit`. */
async function dirBytes(dir: string, limit: number): Promise<number> {
  let total = 0;
  const todo = [dir];
  while (todo.length && total <= limit) {
    const d = todo.pop()!;
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      continue; // git renames and removes files while it works
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) todo.push(p);
      else {
        try {
          total += (await lstat(p)).size;
        } catch {
          // gone meanwhile
        }
      }
    }
  }
  return total;
}

/**
 * Settings that beat a clone's own .git/config (GIT_CONFIG_* ranks like `-c`): no hook, no
 * fsmonitor command and no credential helper of the repository ever runs, were it tampered with.
 */
const SAFE_CONFIG: Array<[string, string]> = [
  ['core.hooksPath', '/dev/null'],
  ['core.fsmonitor', 'false'],
  ['credential.helper', ''],
];

interface Commit {
  sha: string;
  author: string;
  date: string;
  subject: string;
}

const MAX_COMMITS = 50;

function fail(text: string, extra: Record<string, unknown> = {}): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: { error: text, ...extra }, isError: true };
}

/** git_pull, the write tool of this module. */
export function gitPullTools(deps: InternetDeps): CatalogTool[] {
  const locks = new Map<string, Promise<unknown>>();
  const root = () => resolve(deps.dataDir, deps.config().git.dir ?? 'git');
  const home = () => join(deps.dataDir, 'git-home');

  /** Secrets that must never reach an answer (a git message could echo a header in some future version). */
  const scrub = (s: string): string => {
    let out = s;
    for (const c of deps.config().git.credentials) {
      out = out.split(c.token).join('[REDACTED]');
      out = out.split(Buffer.from(`${c.username}:${c.token}`).toString('base64')).join('[REDACTED]');
    }
    return out;
  };

  function target(args: Record<string, unknown>): { url: RepoUrl; rel: string; dir: string } | string {
    const cfg = deps.config().git;
    const unknown = Object.keys(args).filter((k) => k !== 'repo_url' && k !== 'path');
    if (unknown.length) return `git_pull: unknown argument ${unknown.map((k) => `"${k}"`).join(', ')} (expected: repo_url, path; the clone follows the remote's default branch)`;
    if (typeof args.repo_url !== 'string' || !args.repo_url) return 'git_pull: argument "repo_url": expected a repository URL (https://host/owner/repo.git, ssh://git@host/repo.git or git@host:repo.git)';
    const url = parseRepoUrl(args.repo_url, cfg.allowLocal);
    if (typeof url === 'string') return url;
    if (url.kind === 'http' && !credentialFor(url)) {
      const name = url.host!.toLowerCase().replace(/:\d+$/, '');
      if (cfg.credentials.some((c) => c.host.toLowerCase() === name)) return `git_pull: argument "repo_url": internet.git.credentials has a token for ${name} over https; it is not sent in cleartext over http://, use https://${name}/… (or list "${url.host}" with its port to mean that service)`;
    }
    if (args.path !== undefined && typeof args.path !== 'string') return 'git_pull: argument "path": expected a folder name';
    const rel = (args.path as string | undefined) ?? url.lastSegment;
    if (args.path === undefined && !SEGMENT.test(rel)) return `git_pull: the folder name cannot be derived from repo_url ("${rel.slice(0, 100)}"); give argument "path"`;
    const bad = checkRepoPath(rel);
    if (bad) return bad;
    return { url, rel, dir: join(root(), rel) };
  }

  /** Refuses a folder reached through a symlink (it could point anywhere). */
  async function checkNoSymlink(rel: string): Promise<string | undefined> {
    let p = root();
    for (const seg of rel.split('/')) {
      p = join(p, seg);
      try {
        const s = await lstat(p);
        if (s.isSymbolicLink()) return `git_pull: argument "path": ${rel} passes through a symbolic link (${p}); refused, the clone must stay inside internet.git.dir`;
        if (!s.isDirectory()) return `git_pull: argument "path": ${p} exists and is not a folder`;
      } catch {
        return undefined; // the rest does not exist yet
      }
    }
    return undefined;
  }

  /**
   * The internet.git.credentials entry for `url`. An entry with a port (`git.lan:3000`) is that
   * service, over http or https; one without is the host's https on port 443 only: its token
   * must not go in cleartext to http://github.com, nor to another service on github.com:8080.
   */
  function credentialFor(url: RepoUrl): { username: string; token: string } | undefined {
    const host = url.host!.toLowerCase();
    return deps.config().git.credentials.find((c) => c.host.toLowerCase() === host && (url.kind === 'https' || /:\d+$/.test(host)));
  }

  /** The environment of one git command: no prompts, no config of the machine, credentials for this host only. */
  async function envFor(url: RepoUrl): Promise<NodeJS.ProcessEnv> {
    const cfg = deps.config().git;
    await mkdir(home(), { recursive: true, mode: 0o700 });
    const extra: Record<string, string> = { GIT_ALLOW_PROTOCOL: `https:http:ssh:git${cfg.allowLocal ? ':file' : ''}` };
    const cfgPairs: Array<[string, string]> = [...SAFE_CONFIG, ['transfer.fsckObjects', 'true'], ['submodule.recurse', 'false'], ['protocol.ext.allow', 'never']];
    if ((url.kind === 'https' || url.kind === 'http') && url.host) {
      const cred = credentialFor(url);
      // An http.<url>.extraHeader applies to that origin only; the token never shows in argv or a URL.
      if (cred) cfgPairs.push([`http.${url.kind}://${url.host}/.extraHeader`, `Authorization: Basic ${Buffer.from(`${cred.username}:${cred.token}`).toString('base64')}`]);
    }
    cfgPairs.forEach(([k, v], i) => ((extra[`GIT_CONFIG_KEY_${i}`] = k), (extra[`GIT_CONFIG_VALUE_${i}`] = v)));
    extra.GIT_CONFIG_COUNT = String(cfgPairs.length);
    if (url.kind === 'ssh') {
      const knownHosts = join(home(), 'known_hosts');
      await writeFile(knownHosts, cfg.knownHosts.map((l) => `${l}\n`).join(''), { mode: 0o600 });
      const key = cfg.sshKey;
      if (key) {
        if (!existsSync(key)) throw new HomelabError('CONFIG_INVALID', `the SSH key ${key} (internet.git.sshKey) does not exist`);
        if (statSync(key).mode & 0o077) throw new HomelabError('CONFIG_INVALID', `the SSH key ${key} (internet.git.sshKey) is readable by others; run chmod 600 ${key}`);
      }
      for (const p of [knownHosts, key].filter((x): x is string => !!x)) if (/['\n\r]/.test(p)) throw new HomelabError('CONFIG_INVALID', `the path ${JSON.stringify(p)} must not contain quotes or newlines`);
      extra.GIT_SSH_COMMAND = [
        'ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o CheckHostIP=no -o GlobalKnownHostsFile=/dev/null',
        `-o UserKnownHostsFile='${knownHosts}'`,
        ...(key ? [`-o IdentitiesOnly=yes -i '${key}'`] : []),
      ].join(' ');
      extra.GIT_SSH_VARIANT = 'ssh';
    }
    return gitEnv(home(), process.env, extra);
  }

  /** Why an ssh fetch failed, with the host key to pin when that was it. */
  async function sshRefusal(url: RepoUrl, message: string): Promise<string | undefined> {
    const kind = hostKeyRefusal(message);
    if (!kind) return undefined;
    const host = url.host!.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const addr = refusedAddress(message, host, String(url.port ?? 22));
    const scanned = await scanHostKey(addr.host, addr.port);
    const who = `${url.display} (${addr.host}:${addr.port})`;
    if (kind === 'changed') return `git_pull: ${who} offered a host key${scanned ? ` ${scanned.fingerprint}` : ''} that differs from the one pinned in internet.git.knownHosts: refused (someone may be intercepting the connection, or the host was reinstalled). Nothing was changed.`;
    if (!scanned) return `git_pull: ${who} has no pinned host key and ssh-keyscan could not read the one it offers; pin it in hub.yaml under internet.git.knownHosts (the line \`ssh-keyscan -p PORT HOST\` prints, checked on the host itself). Nothing was changed.`;
    return `git_pull: ${who} offered an unknown host key ${scanned.fingerprint}: first contact refused. If that is its key, pin it in hub.yaml under internet.git.knownHosts: "${scanned.knownHostsLine}". Nothing was changed.`;
  }

  /** Runs a network git command (clone or fetch) under the deadline and the size limit, audited. */
  async function networkGit(url: RepoUrl, args: string[], cwd: string, watch: string, signal: AbortSignal): Promise<void> {
    const cfg = deps.config().git;
    const limit = cfg.maxMegabytes * 1024 * 1024;
    const over = new AbortController();
    const deadline = AbortSignal.timeout(cfg.timeoutSeconds * 1000);
    let tooBig = false;
    const timer = setInterval(() => {
      void dirBytes(watch, limit).then((b) => {
        if (b > limit && !over.signal.aborted) ((tooBig = true), over.abort());
      });
    }, 250);
    const started = performance.now();
    let error: string | undefined;
    try {
      const r = await git(['-c', 'core.hooksPath=/dev/null', ...args], { cwd, env: await envFor(url), signal: AbortSignal.any([signal, deadline, over.signal]), timeoutMs: cfg.timeoutSeconds * 1000 + 5000, okCodes: [128] });
      // All of stderr, not its last lines: ssh says why it refused a host key before git's "Could not read".
      if (r.code !== 0) throw new HomelabError('GIT_FAILED', r.stderr);
      // The last writes may land between two looks.
      if ((await dirBytes(watch, limit)) > limit) tooBig = true;
      if (tooBig) throw new HomelabError('GIT_TOO_BIG', '');
    } catch (err) {
      // Secrets out before anything is cut: a cut token would no longer be found.
      const raw = scrub(isHomelabError(err) ? err.message : String(err));
      const msg = raw.includes('\n') ? gitError(raw) : raw;
      if (tooBig) error = `git_pull: the repository passed internet.git.maxMegabytes (${cfg.maxMegabytes} MB) and git was stopped; nothing was changed`;
      else if (deadline.aborted) error = `git_pull: git took longer than internet.git.timeoutSeconds (${cfg.timeoutSeconds} s) and was stopped; nothing was changed`;
      else error = (url.kind === 'ssh' ? await sshRefusal(url, raw) : undefined) ?? `git_pull: ${args[0] === 'clone' ? 'cloning' : 'fetching'} ${url.display} failed: ${msg.replace(/^git \S+ failed: /, '')}`;
      // A fetch that was stopped leaves its half-written pack behind.
      const packs = join(cwd, '.git', 'objects', 'pack');
      if (args[0] === 'fetch') for (const f of await readdir(packs).catch(() => [] as string[])) if (f.startsWith('tmp_')) await rm(join(packs, f), { force: true });
      throw new HomelabError('GIT_FAILED', scrub(error));
    } finally {
      clearInterval(timer);
      if (url.kind !== 'file') deps.onHttpRequest({ upstream: 'git', method: 'GIT', url: url.display, durationMs: performance.now() - started, ...(error ? { error: scrub(error) } : {}) });
    }
  }

  async function commits(cwd: string, range: string[], env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<{ list: Commit[]; total: number }> {
    const total = Number((await git(['rev-list', '--count', ...range], { cwd, env, signal })).stdout.trim());
    const out = (await git(['log', `--max-count=${MAX_COMMITS}`, '--format=%H%x1f%an%x1f%aI%x1f%s', ...range, '--'], { cwd, env, signal })).stdout;
    const list = out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [sha = '', author = '', date = '', subject = ''] = l.split('\x1f');
        // What a repository says of itself is bounded like any upstream's answer: a 100 KB author name is cut.
        return { sha, author: author.length > 100 ? `${author.slice(0, 99)}…` : author, date: date.slice(0, 40), subject: subject.slice(0, 200) };
      });
    return { list, total };
  }

  const commitLines = (c: { list: Commit[]; total: number }) => [...c.list.map((x) => `- ${x.sha.slice(0, 12)} ${x.date.slice(0, 10)} ${x.author}: ${x.subject}`), ...(c.total > c.list.length ? [`… and ${c.total - c.list.length} older`] : [])];

  async function pull(t: { url: RepoUrl; rel: string; dir: string }, signal: AbortSignal): Promise<CallToolResult> {
    const r = root();
    await mkdir(r, { recursive: true, mode: 0o700 });
    const link = await checkNoSymlink(t.rel);
    if (link) return fail(link);
    const note = t.url.hadCredentials ? ` (the credentials in repo_url were removed and not used: configure them under internet.git.credentials)` : '';
    const localEnv = gitEnv(home(), process.env, { GIT_CONFIG_COUNT: String(SAFE_CONFIG.length), ...Object.fromEntries(SAFE_CONFIG.flatMap(([k, v], i) => [[`GIT_CONFIG_KEY_${i}`, k], [`GIT_CONFIG_VALUE_${i}`, v]])) });
    const exists = existsSync(join(t.dir, '.git'));
    if (!exists && existsSync(t.dir) && (await readdir(t.dir)).length > 0) return fail(`git_pull: ${t.dir} exists and is not a git clone; choose another "path"`);

    if (!exists) {
      const tmp = join(r, `.incoming-${randomBytes(6).toString('hex')}`);
      try {
        await networkGit(t.url, ['clone', '--no-recurse-submodules', '--template=', '--origin', 'origin', '--', t.url.gitUrl, tmp], r, tmp, signal);
        await mkdir(join(t.dir, '..'), { recursive: true, mode: 0o700 });
        // A folder made meanwhile, or a symlink put in its place, is not replaced.
        const again = await checkNoSymlink(t.rel);
        if (again) return fail(again);
        // An empty folder of that name gives way; anything else was refused above.
        if (existsSync(t.dir)) await rmdir(t.dir);
        await rename(tmp, t.dir);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      const head = (await git(['rev-parse', 'HEAD'], { cwd: t.dir, env: localEnv, signal }).catch(() => ({ stdout: '' }))).stdout.trim();
      if (!head) return { content: [{ type: 'text', text: `Cloned ${t.url.display} into ${t.dir}: the repository is empty.${note}` }], structuredContent: { action: 'cloned', url: t.url.display, path: t.dir, head: null, commits: [], total: 0 } };
      const branch = (await git(['symbolic-ref', '--short', '-q', 'HEAD'], { cwd: t.dir, env: localEnv, signal, okCodes: [1] })).stdout.trim();
      const c = await commits(t.dir, ['HEAD'], localEnv, signal);
      const text = [`Cloned ${t.url.display} into ${t.dir}: ${branch || 'HEAD'} at ${head.slice(0, 12)}, ${c.total} commit(s).${note}`, 'Latest commits:', ...commitLines(c)].join('\n');
      return { content: [{ type: 'text', text: scrub(text) }], structuredContent: { action: 'cloned', url: t.url.display, path: t.dir, branch, head, commits: c.list, total: c.total, ...(t.url.hadCredentials ? { credentialsRemoved: true } : {}) } };
    }

    const real = await realpath(t.dir);
    if (!real.startsWith((await realpath(r)) + '/')) return fail(`git_pull: ${t.dir} resolves outside internet.git.dir; refused`);
    const origin = (await git(['remote', 'get-url', 'origin'], { cwd: t.dir, env: localEnv, signal, okCodes: [2] })).stdout.trim();
    if (origin !== t.url.gitUrl) return fail(`git_pull: ${t.dir} is a clone of ${scrub(origin) || '(no origin)'}, not of ${t.url.display}; choose another "path"`);
    const branch = (await git(['symbolic-ref', '--short', '-q', 'HEAD'], { cwd: t.dir, env: localEnv, signal, okCodes: [1] })).stdout.trim();
    if (!branch) return fail(`git_pull: ${t.dir} is not on a branch (detached HEAD); nothing to fast-forward`);
    const old = (await git(['rev-parse', 'HEAD'], { cwd: t.dir, env: localEnv, signal })).stdout.trim();
    await networkGit(t.url, ['fetch', '--no-recurse-submodules', '--no-tags', '--no-write-fetch-head', 'origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`], t.dir, t.dir, signal);
    const next = (await git(['rev-parse', `refs/remotes/origin/${branch}`], { cwd: t.dir, env: localEnv, signal })).stdout.trim();
    if (next === old) return { content: [{ type: 'text', text: `${t.dir} is up to date with ${t.url.display}: ${branch} at ${old.slice(0, 12)}.${note}` }], structuredContent: { action: 'up_to_date', url: t.url.display, path: t.dir, branch, head: old, commits: [], total: 0 } };
    const ff = await git(['merge-base', '--is-ancestor', old, next], { cwd: t.dir, env: localEnv, signal, okCodes: [1] });
    if (ff.code === 1)
      return fail(
        `git_pull: refused: ${t.url.display} ${branch} (${next.slice(0, 12)}) does not contain the clone's HEAD (${old.slice(0, 12)}): its history was rewritten, or the clone has commits of its own. git_pull only fast-forwards; ${t.dir} was left at ${old.slice(0, 12)}.`,
        { head: old, remote: next, path: t.dir },
      );
    await git(['merge', '--ff-only', '--no-edit', next], { cwd: t.dir, env: localEnv, signal });
    const c = await commits(t.dir, [`${old}..${next}`], localEnv, signal);
    const text = [`Fast-forwarded ${t.dir} (${branch}) from ${old.slice(0, 12)} to ${next.slice(0, 12)}: ${c.total} commit(s) pulled from ${t.url.display}.${note}`, ...commitLines(c)].join('\n');
    return { content: [{ type: 'text', text: scrub(text) }], structuredContent: { action: 'fast_forwarded', url: t.url.display, path: t.dir, branch, previous: old, head: next, commits: c.list, total: c.total } };
  }

  return [
    {
      def: {
        name: 'git_pull',
        title: 'Clone or update a git repository',
        description:
          'Clones a repository into a folder under the hub\'s git dir (internet.git.dir), or fast-forwards the clone there; answers with the new HEAD and the commits pulled. A non-fast-forward is refused. https, ssh and git URLs; credentials and SSH host keys come from the hub\'s config (internet.git), never from the URL.',
        inputSchema: {
          type: 'object',
          properties: {
            repo_url: { type: 'string', minLength: 1, maxLength: 2000, description: 'https://host/owner/repo.git, ssh://git@host/repo.git or git@host:owner/repo.git.' },
            path: { type: 'string', minLength: 1, maxLength: 400, description: 'The folder inside the git dir (relative, e.g. "dotfiles" or "infra/ansible"); default the URL\'s last segment without .git.' },
          },
          required: ['repo_url'],
          additionalProperties: false,
        },
        annotations: { title: 'Clone or update a git repository', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      },
      toolClass: 'write',
      source: 'internet',
      targets: () => ['internet'],
      async preview(args) {
        const t = target(args);
        if (typeof t === 'string') return { tool: 'git_pull', where: ['internet'], action: `refuse: ${t}`, arguments: args };
        const cloned = existsSync(join(t.dir, '.git'));
        return {
          tool: 'git_pull',
          where: ['internet'],
          action: cloned ? `fetch ${t.url.display} and fast-forward the clone ${t.dir} (refused if not a fast-forward)` : `clone ${t.url.display} into ${t.dir}`,
          arguments: { repo_url: t.url.display, path: t.rel },
        };
      },
      async call(args, ctx) {
        const t = target(args);
        if (typeof t === 'string') return fail(t);
        // One call per folder at a time: two clones racing into the same folder would clash.
        const prev = locks.get(t.dir) ?? Promise.resolve();
        const run = prev.catch(() => undefined).then(() => pull(t, ctx.signal));
        locks.set(t.dir, run);
        try {
          return await run;
        } catch (err) {
          return fail(scrub(isHomelabError(err) ? err.message : err instanceof Error ? err.message : String(err)));
        } finally {
          if (locks.get(t.dir) === run) locks.delete(t.dir);
        }
      },
    },
  ];
}
