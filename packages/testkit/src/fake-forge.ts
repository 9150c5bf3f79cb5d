/**
 * A fake GitHub and a fake Gitea pull-request API for tests (shared/reference/service-apis.md
 * §11), since neither can run here: real HTTP servers on 127.0.0.1, backed by a real bare git
 * repository on disk, so a review flow is end to end:
 *
 * - a PR can only be opened from a branch the bare repository has, and its head commit is read
 *   from the bare repository at every answer (a later push moves it, as on a real forge);
 * - merging REALLY merges: `git merge-tree --write-tree`, `git commit-tree -p base -p head`,
 *   `git update-ref` of the base branch against its old value; it is refused as the real API
 *   refuses when the head moved past the sha the client sent, or when the branches conflict;
 * - `mergeable` is computed with `git merge-tree`, unless a test forces it ({@link FakeForge.setMergeable});
 * - commit statuses are whatever a test adds ({@link FakeForge.addStatus}).
 *
 * GitHub: `Authorization: Bearer <token>` (or `token <token>`); a wrong one gets the real 401
 * `{"message":"Bad credentials",...}`. Paths `/repos/{o}/{r}/pulls[/{n}[/merge]]` and
 * `/repos/{o}/{r}/commits/{ref}/status` and `/check-runs` (Actions); list pages of `per_page` (at most 100) with a `Link`
 * header; create 201, 422 when a PR for the head exists, the head is not a branch or has no commits
 * beyond the base; merge `PUT` 200 `{sha, merged: true}`, 405 not mergeable, 409 head modified.
 *
 * Gitea: `Authorization: token <token>` (or `Bearer`), under `/api/v1`; a wrong one is 401
 * `{"message":"token is required",...}`. List pages of `limit` (at most 50); create 201, 409 when
 * a PR for the head exists, 404 for a missing branch; edit answers 201 (as Gitea does); merge
 * `POST` `{Do: "merge", head_commit_id}` 200 with an empty body, 405 not mergeable (an empty
 * message when already merged), 409 `{"message":"head out of date"}` or Gitea's conflict JSON.
 *
 * Another owner/repo in the path is a 404 as the real forge answers; any path, method, query
 * parameter or body field outside the documented API (and, for GitHub, a request without the
 * `Accept` and `X-GitHub-Api-Version` headers the docs ask for) is recorded in `unknown()`:
 * tests assert it stays empty.
 *
 * @example
 * await using gh = await startFakeGitHub({ bareRepo, owner: 'lab', repo: 'ansible', token: 't0ken' });
 * const forge = createForge({ type: 'github', url: gh.url, repo: 'lab/ansible', token: 't0ken' }, http);
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { delayed } from './delay.ts';
import { serveLoopback } from './serve.ts';

export interface FakeForgeOptions {
  /** The bare repository the PRs live in (a path on disk). */
  bareRepo: string;
  owner: string;
  repo: string;
  token: string;
  /** The login PRs are opened by; default `homelab-bot`. */
  login?: string;
  /** Every answer this much later. */
  delayMs?: number;
  port?: number;
}

/** A pull request as the fake keeps it. */
export interface FakeForgePull {
  number: number;
  title: string;
  body: string;
  /** The head branch. */
  head: string;
  base: string;
  author: string;
  createdAt: string;
  updatedAt: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergedAt?: string;
  mergeCommit?: string;
  /** The head commit when it was last seen (kept after the branch is gone). */
  headSha: string;
  /** `owner/name` of the head's repository when it is a fork; absent for this repository. */
  fork?: string;
  /** Forced `mergeable` (see {@link FakeForge.setMergeable}); absent: computed with git. */
  mergeable?: boolean | null;
}

export interface FakeForgeRequest {
  method: string;
  path: string;
  status: number;
  body?: string;
  unknown?: boolean;
  /** Why the request is outside the documented API. */
  why?: string;
}

export type FakeCommitState = 'success' | 'pending' | 'failure' | 'error' | 'warning';
export type FakeCheckConclusion = 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required';

export interface FakeForge {
  kind: 'github' | 'gitea';
  /** What `ansible.forge.url` takes: GitHub's API root, or Gitea's web address. */
  url: string;
  host: string;
  pulls: FakeForgePull[];
  /** Forces `mergeable` of PR `number` (false: the merge is refused as not mergeable); undefined: computed again. */
  setMergeable(number: number, mergeable: boolean | null | undefined): void;
  /** A commit status on `sha`, as CI posts it; the latest per `context` counts. */
  addStatus(sha: string, state: FakeCommitState, context?: string): void;
  /** A GitHub check run on `sha` (GitHub Actions reports these, not statuses); Gitea has none and throws. */
  addCheckRun(sha: string, status: 'queued' | 'in_progress' | 'completed', conclusion?: FakeCheckConclusion, name?: string): void;
  /** A PR put in place without the API (a fork's, or many for paging); its head must be a branch of the bare repo unless `headSha` is given. */
  seedPull(p: { head: string; base?: string; title?: string; fork?: string; author?: string; createdAt?: string; headSha?: string }): Promise<FakeForgePull>;
  requests(): FakeForgeRequest[];
  unknown(): FakeForgeRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Git {
  code: number;
  stdout: string;
  stderr: string;
}

function git(bare: string, args: string[], env?: Record<string, string>): Promise<Git> {
  return new Promise((resolve) => {
    execFile('git', ['-C', bare, ...args], { env: { ...process.env, ...env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 128) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

// What a branch name may be here; anything else is simply not a branch of the repository.
const BRANCH_RE = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]{1,200}(?<![./])$/;

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The fake GitHub REST API (`url` is the API root, as `https://api.github.com`). */
export function startFakeGitHub(opts: FakeForgeOptions): Promise<FakeForge> {
  return startFakeForge('github', opts);
}

/** The fake Gitea API (`url` is the web address; the API is under `/api/v1`). */
export function startFakeGitea(opts: FakeForgeOptions): Promise<FakeForge> {
  return startFakeForge('gitea', opts);
}

async function startFakeForge(kind: 'github' | 'gitea', opts: FakeForgeOptions): Promise<FakeForge> {
  const github = kind === 'github';
  const log: FakeForgeRequest[] = [];
  const pulls: FakeForgePull[] = [];
  const statuses = new Map<string, Array<{ id: number; state: FakeCommitState; context: string; created_at: string }>>();
  const login = opts.login ?? 'homelab-bot';
  const full = `${opts.owner}/${opts.repo}`;
  let base = '';
  let statusId = 0;
  const checkRuns = new Map<string, Array<{ id: number; name: string; status: string; conclusion: FakeCheckConclusion | null }>>();

  // The branches as the bare repository has them, read once per request (requests run one at a
  // time, and a push from a test lands between requests): a list of 100 PRs costs one git call.
  let refs: Map<string, string> | undefined;
  const sha = async (branch: string): Promise<string | undefined> => {
    if (!BRANCH_RE.test(branch)) return undefined;
    if (!refs) {
      const r = await git(opts.bareRepo, ['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/']);
      if (r.code !== 0) throw new Error(`git for-each-ref failed: ${r.stderr.trim()}`);
      refs = new Map(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(l.indexOf(' ') + 'refs/heads/'.length + 1), l.slice(0, l.indexOf(' '))]));
    }
    return refs.get(branch);
  };
  const headOf = async (p: FakeForgePull): Promise<string> => {
    // A fork's branch is not in this repository: its head stays what was seeded.
    if (p.state === 'open' && !p.fork) p.headSha = (await sha(p.head)) ?? p.headSha;
    return p.headSha;
  };
  /** Clean merge of head into base: the tree, or undefined on a conflict (with git's words). */
  // Two commits always merge the same way: computed once.
  const merges = new Map<string, { tree?: string; conflict?: string }>();
  const mergeTree = async (baseSha: string, headSha: string): Promise<{ tree?: string; conflict?: string }> => {
    const key = `${baseSha} ${headSha}`;
    const known = merges.get(key);
    if (known) return known;
    const r = await git(opts.bareRepo, ['merge-tree', '--write-tree', baseSha, headSha]);
    let out: { tree?: string; conflict?: string };
    if (r.code === 0) out = { tree: r.stdout.split('\n')[0]!.trim() };
    else if (r.code === 1) out = { conflict: r.stdout.split('\n').filter((l) => l.startsWith('CONFLICT')).join('\n') || 'conflict' };
    else throw new Error(`git merge-tree failed: ${r.stderr.trim()}`);
    merges.set(key, out);
    return out;
  };
  const mergeable = async (p: FakeForgePull): Promise<boolean | null> => {
    if (p.mergeable !== undefined) return p.mergeable;
    if (p.merged) return github ? null : false;
    if (p.state !== 'open') return github ? null : false;
    const [b, h] = [await sha(p.base), await headOf(p)];
    if (!b) return false;
    return (await mergeTree(b, h)).tree !== undefined;
  };

  // ------------------------------------------------------------------ the JSON the forge sends
  const user = (l: string) => (github ? { login: l, id: l.length * 1000 + 7, node_id: `U_${l}`, type: 'User', site_admin: false, html_url: `https://github.com/${l}` } : { id: l.length * 1000 + 7, login: l, login_name: '', full_name: '', email: `${l}@noreply.localhost`, avatar_url: '', html_url: `${base}/${l}` });
  const repoJson = (fullName: string) => {
    const [o, n] = fullName.split('/') as [string, string];
    return github
      ? { id: fullName === full ? 1 : 2, node_id: `R_${fullName}`, name: n, full_name: fullName, private: true, owner: user(o), html_url: `https://github.com/${fullName}`, default_branch: 'main' }
      : { id: fullName === full ? 1 : 2, owner: user(o), name: n, full_name: fullName, private: true, fork: fullName !== full, html_url: `${base}/${fullName}`, default_branch: 'main' };
  };
  const pullJson = async (p: FakeForgePull, listItem: boolean) => {
    const headSha = await headOf(p);
    const baseSha = (await sha(p.base)) ?? '';
    const headRepo = p.fork ?? full;
    const headOwner = headRepo.split('/')[0]!;
    const m = listItem && github ? undefined : await mergeable(p);
    if (github) {
      const apiUrl = `${base}/repos/${full}/pulls/${p.number}`;
      return {
        url: apiUrl,
        id: 100_000 + p.number,
        node_id: `PR_${p.number}`,
        html_url: `https://github.com/${full}/pull/${p.number}`,
        diff_url: `https://github.com/${full}/pull/${p.number}.diff`,
        patch_url: `https://github.com/${full}/pull/${p.number}.patch`,
        issue_url: `${base}/repos/${full}/issues/${p.number}`,
        number: p.number,
        state: p.state,
        locked: false,
        title: p.title,
        user: user(p.author),
        body: p.body || null,
        labels: [],
        milestone: null,
        active_lock_reason: null,
        created_at: p.createdAt,
        updated_at: p.updatedAt,
        closed_at: p.state === 'closed' ? (p.mergedAt ?? p.updatedAt) : null,
        merged_at: p.mergedAt ?? null,
        merge_commit_sha: p.mergeCommit ?? null,
        assignee: null,
        assignees: [],
        requested_reviewers: [],
        requested_teams: [],
        head: { label: `${headOwner}:${p.head}`, ref: p.head, sha: headSha, user: user(headOwner), repo: repoJson(headRepo) },
        base: { label: `${opts.owner}:${p.base}`, ref: p.base, sha: baseSha, user: user(opts.owner), repo: repoJson(full) },
        author_association: 'OWNER',
        auto_merge: null,
        draft: false,
        // The list leaves out what GitHub computes per PR.
        ...(listItem
          ? {}
          : { merged: p.merged, mergeable: m, rebaseable: m, mergeable_state: m === null ? 'unknown' : m ? 'clean' : 'dirty', merged_by: p.merged ? user(login) : null, comments: 0, review_comments: 0, maintainer_can_modify: false, commits: 1, additions: 1, deletions: 0, changed_files: 1 }),
      };
    }
    return {
      id: 100_000 + p.number,
      url: `${base}/${full}/pulls/${p.number}`,
      number: p.number,
      user: user(p.author),
      title: p.title,
      body: p.body,
      labels: [],
      milestone: null,
      assignee: null,
      assignees: null,
      requested_reviewers: null,
      state: p.state,
      draft: false,
      is_locked: false,
      comments: 0,
      html_url: `${base}/${full}/pulls/${p.number}`,
      diff_url: `${base}/${full}/pulls/${p.number}.diff`,
      patch_url: `${base}/${full}/pulls/${p.number}.patch`,
      mergeable: m,
      merged: p.merged,
      merged_at: p.mergedAt ?? null,
      merge_commit_sha: p.mergeCommit ?? null,
      merged_by: p.merged ? user(login) : null,
      allow_maintainer_edit: false,
      base: { label: p.base, ref: p.base, sha: baseSha, repo_id: 1, repo: repoJson(full) },
      head: { label: p.head, ref: p.head, sha: headSha, repo_id: p.fork ? 2 : 1, repo: repoJson(headRepo) },
      merge_base: baseSha,
      due_date: null,
      created_at: p.createdAt.replace(/Z$/, '+00:00'),
      updated_at: p.updatedAt.replace(/Z$/, '+00:00'),
      closed_at: p.state === 'closed' ? (p.mergedAt ?? p.updatedAt).replace(/Z$/, '+00:00') : null,
      pin_order: 0,
    };
  };

  // ------------------------------------------------------------------ answers
  type Answer = { status: number; body?: unknown; headers?: Record<string, string>; unknown?: string };
  const docs = 'https://docs.github.com/rest/pulls/pulls';
  const error = (status: number, message: string, extra: Record<string, unknown> = {}): Answer =>
    github ? { status, body: { message, ...extra, documentation_url: docs, status: String(status) } } : { status, body: { message, url: `${base}/api/swagger`, ...extra } };
  const notFound = (): Answer => (github ? error(404, 'Not Found') : { status: 404, body: { errors: [], message: "The target couldn't be found.", url: `${base}/api/swagger` } });
  const outside = (why: string): Answer => ({ ...(github ? error(404, 'Not Found') : notFound()), unknown: why });

  const GH_LIST = ['state', 'head', 'base', 'sort', 'direction', 'per_page', 'page'];
  const GT_LIST = ['state', 'sort', 'milestone', 'labels', 'poster', 'page', 'limit'];
  const GH_CREATE = ['title', 'head', 'head_repo', 'base', 'body', 'maintainer_can_modify', 'draft', 'issue'];
  const GT_CREATE = ['title', 'head', 'base', 'body', 'assignee', 'assignees', 'labels', 'milestone', 'due_date', 'reviewers', 'team_reviewers'];
  const GH_EDIT = ['title', 'body', 'state', 'base', 'maintainer_can_modify'];
  const GT_EDIT = ['title', 'body', 'base', 'assignee', 'assignees', 'milestone', 'labels', 'state', 'due_date', 'unset_due_date', 'allow_maintainer_edit'];
  const GH_MERGE = ['commit_title', 'commit_message', 'sha', 'merge_method'];
  const GT_MERGE = ['Do', 'MergeTitleField', 'MergeMessageField', 'MergeCommitID', 'head_commit_id', 'force_merge', 'merge_when_checks_succeed', 'delete_branch_after_merge'];

  const strayKeys = (obj: Record<string, unknown>, allowed: string[]) => Object.keys(obj).filter((k) => !allowed.includes(k));
  const strayParams = (q: URLSearchParams, allowed: string[]) => [...q.keys()].filter((k) => !allowed.includes(k));
  const parseBody = (text: string): Record<string, unknown> | undefined => {
    try {
      const v = JSON.parse(text) as unknown;
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const bodyError = (): Answer => (github ? error(400, 'Problems parsing JSON') : error(422, 'invalid JSON body'));
  const findPull = (n: string) => pulls.find((p) => p.number === Number(n));

  async function list(q: URLSearchParams): Promise<Answer> {
    const stray = strayParams(q, github ? GH_LIST : GT_LIST);
    const state = q.get('state') ?? 'open';
    const max = github ? 100 : 50;
    const size = Math.min(max, Math.max(1, Number(q.get(github ? 'per_page' : 'limit') ?? (github ? 30 : 30)) || 30));
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    let hits = pulls.filter((p) => state === 'all' || p.state === state);
    const head = github ? q.get('head') : null;
    if (head !== null) {
      const [o, ...rest] = head.split(':');
      const ref = rest.join(':');
      hits = hits.filter((p) => (p.fork ?? full).split('/')[0]!.toLowerCase() === o!.toLowerCase() && p.head === ref);
    }
    const baseFilter = github ? q.get('base') : null;
    if (baseFilter !== null) hits = hits.filter((p) => p.base === baseFilter);
    // Newest first, the default of both.
    hits = [...hits].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.number - a.number);
    if (q.get(github ? 'direction' : 'sort') === (github ? 'asc' : 'oldest')) hits.reverse();
    const slice = hits.slice((page - 1) * size, page * size);
    const last = Math.max(1, Math.ceil(hits.length / size));
    const link = (n: number) => {
      const u = new URLSearchParams(q);
      u.set('page', String(n));
      return `<${base}${github ? '' : '/api/v1'}/repos/${full}/pulls?${u}>`;
    };
    const links = [...(page < last ? [`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`] : []), ...(page > 1 ? [`${link(1)}; rel="first"`, `${link(page - 1)}; rel="prev"`] : [])];
    return {
      status: 200,
      body: await Promise.all(slice.map((p) => pullJson(p, true))),
      headers: { ...(links.length ? { link: links.join(', ') } : {}), ...(github ? {} : { 'x-total-count': String(hits.length) }) },
      ...(stray.length ? { unknown: `query ${stray.join(', ')}` } : {}),
    };
  }

  async function create(text: string): Promise<Answer> {
    const b = parseBody(text);
    if (!b) return bodyError();
    const stray = strayKeys(b, github ? GH_CREATE : GT_CREATE);
    const tag = stray.length ? { unknown: `fields ${stray.join(', ')}` } : {};
    if (typeof b.title !== 'string' || !b.title || typeof b.head !== 'string' || typeof b.base !== 'string') {
      return { ...(github ? error(422, 'Validation Failed', { errors: [{ resource: 'PullRequest', field: typeof b.title !== 'string' ? 'title' : typeof b.head !== 'string' ? 'head' : 'base', code: 'missing_field' }] }) : error(422, '[Title]: Required')), ...tag };
    }
    const head = b.head.includes(':') ? b.head.split(':').slice(1).join(':') : b.head;
    const [headSha, baseSha] = [await sha(head), await sha(b.base)];
    if (!headSha || !baseSha) {
      const field = !headSha ? 'head' : 'base';
      return { ...(github ? error(422, 'Validation Failed', { errors: [{ resource: 'PullRequest', field, code: 'invalid' }] }) : notFound()), ...tag };
    }
    const dup = pulls.find((p) => p.state === 'open' && !p.fork && p.head === head && p.base === b.base);
    if (dup) {
      return { ...(github ? error(422, 'Validation Failed', { errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${opts.owner}:${head}.` }] }) : error(409, `pull request already exists for these targets [id: ${100_000 + dup.number}, issue_id: ${dup.number}, head_repo_id: 1, base_repo_id: 1, head_branch: ${head}, base_branch: ${b.base}]`)), ...tag };
    }
    // Nothing to merge: the head is already in the base.
    if ((await git(opts.bareRepo, ['merge-base', '--is-ancestor', headSha, baseSha])).code === 0) {
      return { ...(github ? error(422, 'Validation Failed', { errors: [{ resource: 'PullRequest', code: 'custom', message: `No commits between ${b.base} and ${head}` }] }) : error(422, 'There are no changes between the head and the base')), ...tag };
    }
    const t = now();
    const p: FakeForgePull = { number: pulls.reduce((m, x) => Math.max(m, x.number), 0) + 1, title: b.title, body: typeof b.body === 'string' ? b.body : '', head, base: b.base, author: login, createdAt: t, updatedAt: t, state: 'open', merged: false, headSha };
    pulls.push(p);
    return { status: 201, body: await pullJson(p, false), ...tag };
  }

  async function edit(p: FakeForgePull, text: string): Promise<Answer> {
    const b = parseBody(text);
    if (!b) return bodyError();
    const stray = strayKeys(b, github ? GH_EDIT : GT_EDIT);
    if (typeof b.title === 'string') p.title = b.title;
    if (typeof b.body === 'string') p.body = b.body;
    if ((b.state === 'closed' || b.state === 'open') && !p.merged) p.state = b.state;
    p.updatedAt = now();
    // Gitea answers an edit with 201 ("TODO this should be 200" in its source).
    return { status: github ? 200 : 201, body: await pullJson(p, false), ...(stray.length ? { unknown: `fields ${stray.join(', ')}` } : {}) };
  }

  async function merge(p: FakeForgePull, text: string): Promise<Answer> {
    const b = parseBody(text);
    if (!b) return bodyError();
    const stray = strayKeys(b, github ? GH_MERGE : GT_MERGE);
    const tag = stray.length ? { unknown: `fields ${stray.join(', ')}` } : {};
    const style = github ? (b.merge_method ?? 'merge') : b.Do;
    if (!github && typeof style !== 'string') return { ...error(422, '[Do]: Required'), ...tag };
    // The fake makes merge commits only.
    if (style !== 'merge') return { ...(github ? error(422, `Merge method ${String(style)} is not supported by this fake`) : error(405, `${String(style)} is not allowed an allowed merge style for this repository`)), unknown: `merge style ${String(style)}` };
    if (p.merged) return { ...(github ? error(405, 'Pull Request is not mergeable') : error(405, '')), ...tag };
    if (p.state !== 'open') return { ...(github ? error(405, 'Pull Request is not mergeable') : notFound()), ...tag };
    if (p.mergeable === false) return { ...(github ? error(405, 'Pull Request is not mergeable') : error(405, 'Please try again later')), ...tag };
    const headSha = await headOf(p);
    const expected = github ? b.sha : b.head_commit_id;
    if (typeof expected === 'string' && expected !== '' && expected !== headSha) {
      return { ...(github ? error(409, 'Head branch was modified. Review and try the merge again.') : error(409, 'head out of date')), ...tag };
    }
    const baseSha = await sha(p.base);
    if (!baseSha) return { ...(github ? error(405, 'Pull Request is not mergeable') : error(405, 'Please try again later')), ...tag };
    const { tree, conflict } = await mergeTree(baseSha, headSha);
    if (!tree) {
      // GitHub knows of the conflict beforehand (mergeable false); Gitea's merge answers with its git error as JSON.
      return { ...(github ? error(405, 'Pull Request is not mergeable') : { status: 409, body: { Style: 'merge', StdOut: conflict ?? '', StdErr: '', Err: {} } }), ...tag };
    }
    const title = github ? (typeof b.commit_title === 'string' && b.commit_title ? b.commit_title : `Merge pull request #${p.number} from ${opts.owner}/${p.head}`) : typeof b.MergeTitleField === 'string' && b.MergeTitleField.trim() ? b.MergeTitleField.trim() : `Merge pull request '${p.title}' (#${p.number}) from ${p.head} into ${p.base}`;
    const message = github ? `${title}\n\n${typeof b.commit_message === 'string' ? b.commit_message : p.title}` : `${title}${typeof b.MergeMessageField === 'string' && b.MergeMessageField.trim() ? `\n\n${b.MergeMessageField.trim()}` : ''}`;
    const who = { GIT_AUTHOR_NAME: login, GIT_AUTHOR_EMAIL: `${login}@fake-forge.invalid`, GIT_COMMITTER_NAME: github ? 'GitHub' : 'Gitea', GIT_COMMITTER_EMAIL: 'noreply@fake-forge.invalid' };
    const commit = await git(opts.bareRepo, ['commit-tree', tree, '-p', baseSha, '-p', headSha, '-m', message], who);
    if (commit.code !== 0) throw new Error(`git commit-tree failed: ${commit.stderr.trim()}`);
    const merged = commit.stdout.trim();
    // Against the old value: a push to the base meanwhile makes this fail instead of losing it.
    const upd = await git(opts.bareRepo, ['update-ref', '-m', `merge pull request #${p.number}`, `refs/heads/${p.base}`, merged, baseSha]);
    if (upd.code !== 0) return { ...(github ? error(405, 'Base branch was modified. Review and try the merge again.') : error(409, 'merge push out of date')), ...tag };
    refs = undefined;
    p.merged = true;
    p.state = 'closed';
    p.mergedAt = now();
    p.updatedAt = p.mergedAt;
    p.mergeCommit = merged;
    p.headSha = headSha;
    return { status: 200, ...(github ? { body: { sha: merged, merged: true, message: 'Pull Request successfully merged' } } : {}), ...tag };
  }

  async function combinedStatus(ref: string, q: URLSearchParams): Promise<Answer> {
    const stray = strayParams(q, github ? ['per_page', 'page'] : ['page', 'limit']);
    const tag = stray.length ? { unknown: `query ${stray.join(', ')}` } : {};
    const resolved = /^[0-9a-f]{40}$/.test(ref) ? ((await git(opts.bareRepo, ['cat-file', '-e', `${ref}^{commit}`])).code === 0 ? ref : undefined) : await sha(ref);
    if (!resolved) return { ...(github ? error(422, `No commit found for SHA: ${ref}`) : notFound()), ...tag };
    const latest = new Map<string, { id: number; state: FakeCommitState; context: string; created_at: string }>();
    for (const s of statuses.get(resolved) ?? []) latest.set(s.context, s);
    const all = [...latest.values()];
    const has = (st: FakeCommitState) => all.some((s) => s.state === st);
    if (!github && all.length === 0) return { status: 200, body: { state: '', sha: '', total_count: 0, statuses: null, repository: null, commit_url: '', url: '' }, ...tag };
    const state = github
      ? has('error') || has('failure')
        ? 'failure'
        : all.length === 0 || has('pending')
          ? 'pending'
          : 'success'
      : has('error')
        ? 'error'
        : has('failure')
          ? 'failure'
          : has('warning')
            ? 'warning'
            : has('pending')
              ? 'pending'
              : 'success';
    const statusJson = all.map((s) => ({ id: s.id, state: s.state, description: `${s.context} ${s.state}`, target_url: null, context: s.context, created_at: s.created_at, updated_at: s.created_at }));
    return { status: 200, body: { state, statuses: statusJson, sha: resolved, total_count: all.length, repository: repoJson(full), commit_url: `${base}/repos/${full}/commits/${resolved}`, url: `${base}/repos/${full}/commits/${resolved}/status` }, ...tag };
  }

  async function listCheckRuns(ref: string, q: URLSearchParams): Promise<Answer> {
    const stray = strayParams(q, ['check_name', 'status', 'filter', 'per_page', 'page', 'app_id']);
    const tag = stray.length ? { unknown: `query ${stray.join(', ')}` } : {};
    const resolved = /^[0-9a-f]{40}$/.test(ref) ? ref : await sha(ref);
    if (!resolved || (await git(opts.bareRepo, ['cat-file', '-e', `${resolved}^{commit}`])).code !== 0) return { ...error(422, `No commit found for SHA: ${ref}`), ...tag };
    // filter=latest (the default) keeps the most recent run of each name.
    const all = checkRuns.get(resolved) ?? [];
    const runs = q.get('filter') === 'all' ? all : [...new Map(all.map((r) => [r.name, r])).values()];
    const size = Math.min(100, Math.max(1, Number(q.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    return {
      status: 200,
      body: { total_count: runs.length, check_runs: runs.slice((page - 1) * size, page * size).map((r) => ({ id: r.id, head_sha: resolved, node_id: `CR_${r.id}`, external_id: '', url: `${base}/repos/${full}/check-runs/${r.id}`, html_url: `https://github.com/${full}/runs/${r.id}`, details_url: null, status: r.status, conclusion: r.conclusion, started_at: now(), completed_at: r.status === 'completed' ? now() : null, output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: '' }, name: r.name, check_suite: { id: 1 }, app: { id: 15368, slug: 'github-actions', name: 'GitHub Actions' }, pull_requests: [] })) },
      ...tag,
    };
  }

  async function route(method: string, url: URL, text: string, headers: IncomingMessage['headers']): Promise<Answer> {
    const root = github ? '' : '/api/v1';
    if (!url.pathname.startsWith(`${root}/repos/`)) return outside(`path ${url.pathname}`);
    const parts = url.pathname.slice(root.length + '/repos/'.length).split('/').map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
    const [o, r, kindSeg, ...rest] = parts;
    const shape = `${method} ${kindSeg ?? ''}${rest.length ? `/${rest.map((x, i) => (i === 0 ? ':x' : x)).join('/')}` : ''}`;
    const known = github
      ? ['GET pulls', 'POST pulls', 'GET pulls/:x', 'PATCH pulls/:x', 'PUT pulls/:x/merge', 'GET commits/:x/status', 'GET commits/:x/check-runs']
      : ['GET pulls', 'POST pulls', 'GET pulls/:x', 'PATCH pulls/:x', 'POST pulls/:x/merge', 'GET commits/:x/status'];
    if (!known.includes(shape)) return outside(`${method} ${url.pathname}`);
    if (github && (!/application\/vnd\.github\+json/.test(String(headers.accept ?? '')) || headers['x-github-api-version'] !== '2022-11-28')) {
      return { status: 400, body: { message: 'the fake wants Accept: application/vnd.github+json and X-GitHub-Api-Version: 2022-11-28' }, unknown: 'missing GitHub API headers' };
    }
    if (o?.toLowerCase() !== opts.owner.toLowerCase() || r?.toLowerCase() !== opts.repo.toLowerCase()) return notFound();
    if (kindSeg === 'commits') return rest[1] === 'check-runs' ? listCheckRuns(rest[0]!, url.searchParams) : combinedStatus(rest[0]!, url.searchParams);
    if (rest.length === 0) return method === 'GET' ? list(url.searchParams) : create(text);
    const p = /^\d+$/.test(rest[0]!) ? findPull(rest[0]!) : undefined;
    if (!p) return notFound();
    if (rest.length === 2) return merge(p, text);
    if (method === 'PATCH') return edit(p, text);
    return { status: 200, body: await pullJson(p, false) };
  }

  const authorized = (h: string | undefined) => {
    const m = /^(bearer|token)\s+(.+)$/i.exec(h ?? '');
    return !!m && m[2] === opts.token;
  };

  // One request at a time: the fake's state and the bare repository change together.
  let queue: Promise<unknown> = Promise.resolve();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1 << 20) chunks.push(c);
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString();
      const entry: FakeForgeRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0, ...(text ? { body: text } : {}) };
      log.push(entry);
      const work = async (): Promise<Answer> => {
        refs = undefined;
        if (size > 1 << 20) return error(413, 'request body too large');
        if (!authorized(req.headers.authorization)) return github ? { status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' } } : error(401, 'token is required');
        return route(req.method ?? '', url, text, req.headers);
      };
      const run = queue.then(work).catch((err: unknown): Answer => error(500, err instanceof Error ? err.message : String(err)));
      queue = run;
      void run.then((a) => {
        entry.status = a.status;
        if (a.unknown) {
          entry.unknown = true;
          entry.why = a.unknown;
        }
        const json = a.body === undefined ? '' : JSON.stringify(a.body);
        res.writeHead(a.status, { ...(json ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...(a.headers ?? {}) }).end(json);
      });
    });
  };

  const server: Server = createServer(delayed(handle, opts.delayMs));
  const { port, stop } = await serveLoopback(server, opts.port);
  base = `http://127.0.0.1:${port}`;
  return {
    kind,
    url: base,
    host: `127.0.0.1:${port}`,
    pulls,
    setMergeable(number, value) {
      const p = pulls.find((x) => x.number === number);
      if (!p) throw new Error(`fake forge: no pull request #${number}`);
      if (value === undefined) delete p.mergeable;
      else p.mergeable = value;
    },
    addStatus(commit, state, context = 'ci/test') {
      const list = statuses.get(commit) ?? [];
      list.push({ id: ++statusId, state, context, created_at: now() });
      statuses.set(commit, list);
    },
    addCheckRun(commit, status, conclusion, name = 'build') {
      if (!github) throw new Error('fake forge: Gitea has no check runs (Gitea Actions posts commit statuses): use addStatus');
      const list = checkRuns.get(commit) ?? [];
      list.push({ id: ++statusId, name, status, conclusion: status === 'completed' ? (conclusion ?? 'success') : null });
      checkRuns.set(commit, list);
    },
    async seedPull(s) {
      const headSha = s.headSha ?? ((refs = undefined), await sha(s.head));
      if (!headSha) throw new Error(`fake forge: the bare repository has no branch ${s.head}`);
      const t = s.createdAt ?? now();
      const p: FakeForgePull = { number: pulls.reduce((m, x) => Math.max(m, x.number), 0) + 1, title: s.title ?? `Draft ${s.head}`, body: '', head: s.head, base: s.base ?? 'main', author: s.author ?? login, createdAt: t, updatedAt: t, state: 'open', merged: false, headSha, ...(s.fork ? { fork: s.fork } : {}) };
      pulls.push(p);
      return p;
    },
    requests: () => log,
    unknown: () => log.filter((r) => r.unknown),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
