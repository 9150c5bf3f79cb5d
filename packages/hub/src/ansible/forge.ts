/**
 * The pull-request API of GitHub and Gitea, for the Ansible review queue (issue #13): drafts go
 * to `mcp-draft/<name>` branches with a pull request, and promoting one merges that PR (a merge
 * commit, only if its head is still the commit the hub checked). Every request goes through the
 * hub's {@link HttpClient}, so each is audited, has a deadline and a bounded body.
 *
 * A forge is a remote service and is treated as untrusted: every answer is checked field by
 * field, strings are cut, lists and pages are bounded, and a forge's own error message is quoted
 * cut (and without the token, should a forge echo it).
 *
 * @example
 * const forge = createForge({ type: 'gitea', url: 'https://git.lan', repo: 'lab/ansible', token }, http);
 * const pr = await forge.create({ branch: 'mcp-draft/ntp', base: 'main', title: 'Draft: ntp', body: '...' });
 * await forge.merge(pr.number, { headSha: pr.headSha });
 */
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpClient, type HttpResponse } from '@homelab-mcp/core/http';
import type { Forge, ForgeChecks, ForgeFailure, PullRequest } from './contract.ts';

/** `ansible.forge` of hub.yaml, as {@link createForge} takes it. */
export interface ForgeConfig {
  type: 'github' | 'gitea';
  /** GitHub: default `https://api.github.com` (GitHub Enterprise: `https://ghe.example/api/v3`). Gitea: required, e.g. `https://git.lan` (an `/api/v1` suffix is accepted). */
  url?: string;
  /** `owner/name`. */
  repo: string;
  token: string;
  /** Deadline of each request; default {@link FORGE_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Deadline of each forge request unless the config says otherwise. */
export const FORGE_TIMEOUT_MS = 15_000;
/** Pages read at most by a listing (GitHub: 100 PRs a page, Gitea: 50). */
export const FORGE_MAX_PAGES = 10;
/** Characters of a forge's own error message quoted in ours. */
export const FORGE_QUOTE_CHARS = 300;
/** Characters of a PR body kept. */
export const FORGE_BODY_CHARS = 20_000;

// A page of 100 GitHub PRs is about 2.5 MB (each carries both repositories in full).
const LIST_MAX_BYTES = 8 << 20;
const ONE_MAX_BYTES = 2 << 20;
const GITHUB_PAGE = 100;
// Gitea caps a page at its MAX_RESPONSE_ITEMS, 50 by default.
const GITEA_PAGE = 50;
const TOKEN_KEY = 'ansible.forge.token';
const REPO_KEY = 'ansible.forge.repo';

/**
 * A forge request that failed; `reason` says what to do, `message` says it to a person and names
 * the forge ({@link Forge.label}) and the config key at fault, never the token.
 *
 * @example
 * try { await forge.merge(7, { headSha }); } catch (err) { if (isForgeError(err, 'head_moved')) ... }
 */
export class ForgeError extends HomelabError {
  readonly reason: ForgeFailure;
  /** The forge's HTTP status, when it answered. */
  readonly status?: number;
  constructor(reason: ForgeFailure, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(`FORGE_${reason.toUpperCase()}`, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ForgeError';
    this.reason = reason;
    if (opts.status !== undefined) this.status = opts.status;
  }
}

/** True when `err` is a {@link ForgeError}, optionally with the given reason. */
export function isForgeError(err: unknown, reason?: ForgeFailure): err is ForgeError {
  return err instanceof ForgeError && (reason === undefined || err.reason === reason);
}

const REPO_RE = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
const SHA_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
// C0 and C1 controls, DEL, and bidi overrides: a forge's text must not rewrite the terminal or the page it lands on.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const LINE_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function cut(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}… (cut)` : s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Creates the client of one repository on one forge. Throws a `CONFIG_INVALID` HomelabError when
 * the config cannot work (no url for Gitea, a repo that is not owner/name).
 *
 * @example const forge = createForge({ type: 'github', repo: 'me/ansible', token: process.env.GIT_TOKEN! }, http);
 */
export function createForge(config: ForgeConfig, http: HttpClient): Forge {
  if (!REPO_RE.test(config.repo)) throw new HomelabError('CONFIG_INVALID', `${REPO_KEY}: expected owner/name, e.g. lab/ansible (got ${JSON.stringify(cut(String(config.repo), 100))})`);
  if (!config.token) throw new HomelabError('CONFIG_INVALID', `${TOKEN_KEY}: a token is required`);
  const github = config.type === 'github';
  if (!github && config.type !== 'gitea') throw new HomelabError('CONFIG_INVALID', `ansible.forge.type: expected github or gitea`);
  if (!github && !config.url) throw new HomelabError('CONFIG_INVALID', 'ansible.forge.url: Gitea needs its web address, e.g. https://git.lan');
  let base: URL;
  try {
    base = new URL(config.url ?? 'https://api.github.com');
  } catch {
    throw new HomelabError('CONFIG_INVALID', 'ansible.forge.url: expected an http(s) URL, e.g. https://git.lan');
  }
  if ((base.protocol !== 'http:' && base.protocol !== 'https:') || base.username || base.password || base.search) {
    throw new HomelabError('CONFIG_INVALID', 'ansible.forge.url: expected an http(s) URL without credentials or query, e.g. https://git.lan');
  }
  const path = base.pathname.replace(/\/+$/, '');
  const shown = `${base.origin}${github ? path : path.replace(/\/api\/v1$/i, '')}`;
  const apiRoot = github ? shown : `${shown}/api/v1`;
  const [owner, name] = config.repo.split('/') as [string, string];
  const repoPath = `${apiRoot}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  const label = github ? (config.url && shown !== 'https://api.github.com' ? `GitHub at ${shown} repo ${config.repo}` : `GitHub repo ${config.repo}`) : `Gitea at ${shown} repo ${config.repo}`;
  const timeoutMs = config.timeoutMs ?? FORGE_TIMEOUT_MS;
  const headers: Record<string, string> = github
    ? { authorization: `Bearer ${config.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }
    : { authorization: `token ${config.token}`, accept: 'application/json' };

  /** A forge's text for our message: one line, no token, cut. */
  function quote(s: string): string {
    let t = s;
    if (config.token.length >= 4) t = t.split(config.token).join('***');
    return cut(t.replace(LINE_CONTROLS, ' ').replace(/\s+/g, ' ').trim(), FORGE_QUOTE_CHARS);
  }

  /** The forge's own words in an error answer: `message`, and GitHub's validation `errors`. */
  function forgeMessage(res: HttpResponse): string {
    let body: unknown;
    try {
      body = JSON.parse(res.text());
    } catch {
      return '';
    }
    if (!isRecord(body)) return '';
    const parts: string[] = [];
    if (typeof body.message === 'string' && body.message) parts.push(body.message);
    if (Array.isArray(body.errors)) {
      for (const e of body.errors.slice(0, 5)) {
        if (typeof e === 'string') parts.push(e);
        else if (isRecord(e) && typeof e.message === 'string') parts.push(e.message);
        else if (isRecord(e) && typeof e.field === 'string' && typeof e.code === 'string') parts.push(`${e.field} ${e.code}`);
      }
    }
    return quote(parts.join(': '));
  }

  async function send(method: string, url: string, opts: { body?: unknown; signal?: AbortSignal | undefined; maxBytes: number }): Promise<HttpResponse> {
    try {
      return await http.request({
        method,
        url,
        headers: opts.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
        timeoutMs,
        maxBytes: opts.maxBytes,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (isHttpError(err)) {
        const bad = err.reason === 'too_large' || err.reason === 'bad_response';
        const what = bad ? `sent an answer the hub cannot use: ${err.detail}` : err.reason === 'aborted' ? 'did not answer: the call was cancelled' : `is unreachable: ${err.detail}`;
        throw new ForgeError(bad ? 'bad_response' : 'unreachable', `${label} ${what}`, { ...(err.status !== undefined ? { status: err.status } : {}), cause: err });
      }
      throw err;
    }
  }

  function json(res: HttpResponse, what: string): unknown {
    try {
      return JSON.parse(res.text());
    } catch (err) {
      throw new ForgeError('bad_response', `${label} answered ${what} with something that is not JSON (HTTP ${res.status})`, { status: res.status, cause: err });
    }
  }

  /** The errors every call shares; `what` names the object for a 404 ("pull request #7"). */
  function failure(res: HttpResponse, doing: string, what: string): ForgeError {
    const status = res.status;
    const msg = forgeMessage(res);
    const said = msg ? `: ${msg}` : '';
    if (status === 401) return new ForgeError('auth', `${label} rejected the token (${TOKEN_KEY})${msg ? `: ${msg}` : ' (HTTP 401)'}`, { status });
    const rateLimited = status === 429 || (status === 403 && (res.headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(msg)));
    if (rateLimited) {
      const reset = Number(res.headers['x-ratelimit-reset']);
      const when = Number.isFinite(reset) && reset > 0 && reset < 1e11 ? `; try again after ${new Date(reset * 1000).toISOString()}` : '; try again later';
      return new ForgeError('unreachable', `${label} is rate-limiting the token (${TOKEN_KEY}) while ${doing}${said}${when}`, { status });
    }
    if (status === 403) return new ForgeError('auth', `${label} refused ${doing} (HTTP 403)${said}; the token (${TOKEN_KEY}) needs read and write access to the repository's contents and pull requests`, { status });
    if (status === 404) return new ForgeError('not_found', `${label}: ${what} was not found (HTTP 404)${said}; check ${REPO_KEY}, and that the token (${TOKEN_KEY}) can see the repository`, { status });
    if (status === 301 || status === 302 || status === 307 || status === 308) return new ForgeError('not_found', `${label} answered ${doing} with a redirect (HTTP ${status}): the repository was renamed or moved; set ${REPO_KEY} (and ansible.forge.url) to where it is now`, { status });
    if (status >= 500) return new ForgeError('unreachable', `${label} failed while ${doing} (HTTP ${status})${said}`, { status });
    return new ForgeError('bad_response', `${label} refused ${doing} (HTTP ${status})${said}`, { status });
  }

  /** One PR from the forge's JSON; throws bad_response when a field the hub relies on is missing or malformed. */
  function parsePull(raw: unknown): PullRequest {
    const bad = (field: string) => new ForgeError('bad_response', `${label} sent a pull request without a valid ${field}`);
    if (!isRecord(raw)) throw bad('object');
    const num = raw.number;
    if (typeof num !== 'number' || !Number.isSafeInteger(num) || num < 1) throw bad('number');
    const str = (v: unknown, field: string, max: number): string => {
      if (typeof v !== 'string' || !v) throw bad(field);
      return cut(v.replace(CONTROLS, '').replace(/[\n\t]/g, ' '), max);
    };
    const url = str(raw.html_url, 'html_url', 2000);
    if (!/^https?:\/\//i.test(url)) throw bad('html_url');
    const head = isRecord(raw.head) ? raw.head : undefined;
    const baseRef = isRecord(raw.base) ? raw.base : undefined;
    if (!head) throw bad('head');
    if (!baseRef) throw bad('base');
    const headSha = typeof head.sha === 'string' ? head.sha.toLowerCase() : '';
    if (!SHA_RE.test(headSha)) throw bad('head.sha');
    const created = typeof raw.created_at === 'string' ? Date.parse(raw.created_at) : NaN;
    if (!Number.isFinite(created)) throw bad('created_at');
    if (raw.state !== 'open' && raw.state !== 'closed') throw bad('state');
    const user = isRecord(raw.user) && typeof raw.user.login === 'string' && raw.user.login ? cut(raw.user.login.replace(CONTROLS, ''), 100) : 'unknown';
    const body = typeof raw.body === 'string' ? cut(raw.body.replace(CONTROLS, ''), FORGE_BODY_CHARS) : '';
    // GitHub's list items carry merged_at but not merged.
    const merged = typeof raw.merged === 'boolean' ? raw.merged : typeof raw.merged_at === 'string' && raw.merged_at !== '';
    const mergeable = typeof raw.mergeable === 'boolean' ? raw.mergeable : null;
    return {
      number: num,
      url,
      title: typeof raw.title === 'string' ? cut(raw.title.replace(CONTROLS, '').replace(/[\n\t]/g, ' '), 500) : '',
      body,
      branch: str(head.ref, 'head.ref', 255),
      headSha,
      base: str(baseRef.ref, 'base.ref', 255),
      author: user,
      createdAt: new Date(created).toISOString(),
      state: raw.state,
      merged,
      mergeable,
    };
  }

  /**
   * Whether the PR's head is a branch of this very repository: a fork's PR may name its branch
   * `mcp-draft/x` too, and must never pass for one of the hub's drafts.
   */
  function headInRepo(raw: unknown): boolean {
    if (!isRecord(raw) || !isRecord(raw.head) || !isRecord(raw.head.repo)) return false;
    const full = raw.head.repo.full_name;
    return typeof full === 'string' && full.toLowerCase() === config.repo.toLowerCase();
  }

  async function one(method: string, url: string, doing: string, what: string, ok: number[], body: unknown, signal: AbortSignal | undefined): Promise<PullRequest> {
    const res = await send(method, url, { body, signal, maxBytes: ONE_MAX_BYTES });
    if (!ok.includes(res.status)) throw failure(res, doing, what);
    return parsePull(json(res, doing));
  }

  /** Open PRs page by page, at most FORGE_MAX_PAGES pages, until `enough` says stop. */
  async function pages(signal: AbortSignal | undefined, doing: string, enough: (found: Map<number, { pr: PullRequest; raw: unknown }>) => boolean, headFilter?: string): Promise<Map<number, { pr: PullRequest; raw: unknown }>> {
    const found = new Map<number, { pr: PullRequest; raw: unknown }>();
    const size = github ? GITHUB_PAGE : GITEA_PAGE;
    for (let page = 1; page <= FORGE_MAX_PAGES; page++) {
      const q = github ? `state=open&per_page=${size}&page=${page}${headFilter ? `&head=${encodeURIComponent(`${owner}:${headFilter}`)}` : ''}` : `state=open&limit=${size}&page=${page}`;
      const res = await send('GET', `${repoPath}/pulls?${q}`, { signal, maxBytes: LIST_MAX_BYTES });
      if (res.status !== 200) throw failure(res, doing, `the repository ${config.repo}`);
      const list = json(res, doing);
      if (!Array.isArray(list)) throw new ForgeError('bad_response', `${label} answered ${doing} with something other than a list`);
      // A forge that sends more than a page holds is not to be believed past the page.
      for (const raw of list.slice(0, size)) {
        const pr = parsePull(raw);
        if (pr.state === 'open' && !found.has(pr.number)) found.set(pr.number, { pr, raw });
      }
      if (list.length < size || enough(found)) break;
    }
    return found;
  }

  /**
   * GitHub Actions reports check runs, not commit statuses: without them a PR whose workflow
   * failed would show no checks at all. A token that may not read them (a fine-grained token
   * without "Checks: read") leaves the statuses alone to speak: undefined.
   */
  async function checkRuns(s: string, doing: string, signal: AbortSignal | undefined): Promise<{ total: number; states: Set<ForgeChecks['state']> } | undefined> {
    const res = await send('GET', `${repoPath}/commits/${s}/check-runs?per_page=100`, { signal, maxBytes: LIST_MAX_BYTES });
    if (res.status === 403 || res.status === 404) return undefined;
    if (res.status !== 200) throw failure(res, doing, `the commit ${s.slice(0, 12)}`);
    const r = json(res, doing);
    if (!isRecord(r) || !Array.isArray(r.check_runs)) throw new ForgeError('bad_response', `${label} answered ${doing} without check_runs`);
    const states = new Set<ForgeChecks['state']>();
    const runs = r.check_runs.slice(0, 100);
    for (const run of runs) {
      if (!isRecord(run)) throw new ForgeError('bad_response', `${label} sent a check run that is not an object`);
      if (run.status !== 'completed') states.add('pending');
      else if (['failure', 'timed_out', 'cancelled', 'action_required', 'startup_failure'].includes(String(run.conclusion))) states.add('failure');
      else if (['success', 'neutral', 'skipped', 'stale'].includes(String(run.conclusion))) states.add('success');
      else throw new ForgeError('bad_response', `${label} sent a check run with an unknown conclusion`);
    }
    const count = typeof r.total_count === 'number' && Number.isSafeInteger(r.total_count) && r.total_count >= runs.length ? r.total_count : runs.length;
    // Runs past the first page are counted but not read: the read ones decide.
    return { total: count, states };
  }

  const pullPath = (n: number) => {
    if (!Number.isSafeInteger(n) || n < 1) throw new HomelabError('INVALID_ARGUMENTS', `pull request number: expected a positive integer (got ${String(n)})`);
    return `${repoPath}/pulls/${n}`;
  };

  return {
    label,

    async listOpen({ max, signal }) {
      const limit = Math.max(1, Math.min(1000, Math.floor(max)));
      const found = await pages(signal, 'listing open pull requests', (f) => [...f.values()].filter((x) => headInRepo(x.raw)).length >= limit);
      return [...found.values()]
        .filter((x) => headInRepo(x.raw))
        .map((x) => x.pr)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.number - a.number)
        .slice(0, limit);
    },

    async findOpen(branch, signal) {
      const doing = `looking for the pull request of ${branch}`;
      const match = (x: { pr: PullRequest; raw: unknown }) => x.pr.branch === branch && headInRepo(x.raw);
      // GitHub filters by head itself; Gitea's list has no such filter, so read pages until found.
      const found = await pages(signal, doing, (f) => github || [...f.values()].some(match), github ? branch : undefined);
      return [...found.values()].find(match)?.pr;
    },

    create(pr, signal) {
      const doing = `opening a pull request from ${pr.branch} into ${pr.base}`;
      return send('POST', `${repoPath}/pulls`, { body: { title: pr.title, head: pr.branch, base: pr.base, body: pr.body }, signal, maxBytes: ONE_MAX_BYTES }).then((res) => {
        if (res.status === 201) return parsePull(json(res, doing));
        const msg = forgeMessage(res);
        if (github && res.status === 422) {
          // GitHub says "head invalid" for a branch it does not have.
          if (/\b(head|base) invalid\b/.test(msg)) throw new ForgeError('not_found', `${label} refused ${doing}: ${msg}; is the branch pushed?`, { status: 422 });
          throw new ForgeError('conflict', `${label} refused ${doing}: ${msg || 'HTTP 422'}`, { status: 422 });
        }
        if (!github && (res.status === 409 || res.status === 422)) throw new ForgeError('conflict', `${label} refused ${doing}: ${msg || `HTTP ${res.status}`}`, { status: res.status });
        throw failure(res, doing, `the repository ${config.repo}, the branch ${pr.branch} or the base ${pr.base}`);
      });
    },

    update(number, pr, signal) {
      // Gitea answers an edit with 201.
      return one('PATCH', pullPath(number), `updating pull request #${number}`, `pull request #${number}`, [200, 201], { title: pr.title, body: pr.body }, signal);
    },

    get(number, signal) {
      return one('GET', pullPath(number), `reading pull request #${number}`, `pull request #${number}`, [200], undefined, signal);
    },

    async merge(number, opts, signal) {
      const sha = opts.headSha.toLowerCase();
      if (!SHA_RE.test(sha)) throw new HomelabError('INVALID_ARGUMENTS', `headSha: expected a full commit id (40 or 64 hex digits)`);
      const doing = `merging pull request #${number}`;
      const body = github
        ? { merge_method: 'merge', sha, ...(opts.title ? { commit_title: opts.title } : {}) }
        : { Do: 'merge', head_commit_id: sha, ...(opts.title ? { MergeTitleField: opts.title } : {}) };
      const res = await send(github ? 'PUT' : 'POST', `${pullPath(number)}/merge`, { body, signal, maxBytes: ONE_MAX_BYTES });
      const msg = forgeMessage(res);
      const said = msg ? `: ${msg}` : '';
      if (res.status === 200) {
        // GitHub says merged: true; Gitea answers an empty 200.
        if (github) {
          const r = json(res, doing);
          if (!isRecord(r) || r.merged !== true) throw new ForgeError('bad_response', `${label} answered ${doing} without saying it merged${said}`, { status: 200 });
        }
        return;
      }
      if (github) {
        if (res.status === 409) throw new ForgeError('head_moved', `${label} did not merge pull request #${number}: its branch moved past ${sha.slice(0, 12)} since it was checked${said}`, { status: 409 });
        if (res.status === 405 || res.status === 422) throw new ForgeError('not_mergeable', `${label} cannot merge pull request #${number}${said || ' (HTTP 405)'}`, { status: res.status });
      } else {
        if (res.status === 409 && /head out of date/i.test(msg)) throw new ForgeError('head_moved', `${label} did not merge pull request #${number}: its branch moved past ${sha.slice(0, 12)} since it was checked${said}`, { status: 409 });
        // Gitea's conflict answer is its git error as JSON, without a message.
        if (res.status === 409) throw new ForgeError('conflict', `${label} cannot merge pull request #${number}: ${msg || 'it conflicts with its base branch'}; the draft needs to be redone from the base branch`, { status: 409 });
        // Gitea's 405 has an empty message when the PR is already merged.
        if (res.status === 405) throw new ForgeError('not_mergeable', `${label} cannot merge pull request #${number}: ${msg || 'it is already merged, or the forge does not allow it'}`, { status: 405 });
      }
      throw failure(res, doing, `pull request #${number}`);
    },

    async checks(sha, signal) {
      const s = sha.toLowerCase();
      if (!SHA_RE.test(s)) throw new HomelabError('INVALID_ARGUMENTS', `sha: expected a full commit id (40 or 64 hex digits)`);
      const doing = `reading the checks of ${s.slice(0, 12)}`;
      const res = await send('GET', `${repoPath}/commits/${s}/status`, { signal, maxBytes: ONE_MAX_BYTES });
      if (res.status !== 200) throw failure(res, doing, `the commit ${s.slice(0, 12)}`);
      const r = json(res, doing);
      if (!isRecord(r)) throw new ForgeError('bad_response', `${label} answered ${doing} with something other than an object`);
      let total = typeof r.total_count === 'number' && Number.isSafeInteger(r.total_count) && r.total_count >= 0 ? r.total_count : Array.isArray(r.statuses) ? r.statuses.length : undefined;
      if (total === undefined) throw new ForgeError('bad_response', `${label} answered ${doing} without total_count`);
      const states = new Set<ForgeChecks['state']>();
      // GitHub says pending and Gitea says nothing when no status ever reported.
      if (total > 0) {
        const state = r.state;
        if (state === 'success' || state === 'pending' || state === 'failure' || state === 'error') states.add(state);
        // Gitea's warning never counts as green.
        else if (state === 'warning') states.add('failure');
        else throw new ForgeError('bad_response', `${label} answered ${doing} with an unknown state ${JSON.stringify(quote(String(state)).slice(0, 40))}`);
      }
      if (github) {
        const runs = await checkRuns(s, doing, signal);
        if (runs) {
          total += runs.total;
          for (const st of runs.states) states.add(st);
        }
      }
      if (total === 0) return { state: 'none', total: 0 } satisfies ForgeChecks;
      for (const st of ['error', 'failure', 'pending'] as const) if (states.has(st)) return { state: st, total };
      return { state: 'success', total };
    },
  };
}
