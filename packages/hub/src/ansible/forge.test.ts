// The forge client against the fake GitHub and the fake Gitea of the testkit, over loopback, with
// a real bare git repository behind them: a merge is checked on the bare repository's main.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { serveLoopback, startFakeGitea, startFakeGitHub, type FakeForge } from '@homelab-mcp/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Forge } from './contract.ts';
import { createForge, FORGE_MAX_PAGES, ForgeError, isForgeError } from './forge.ts';

const run = promisify(execFile);
const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@example.invalid' };
const TOKEN = 'fake-forge-token-3f9a1c';

async function git(dir: string, ...args: string[]): Promise<string> {
  return (await run('git', ['-C', dir, ...args], { env: GIT_ENV })).stdout.trim();
}

/** A bare repository with main holding site.yml, and a work clone to push branches from. */
class Repo {
  readonly bare: string;
  readonly work: string;
  constructor(readonly dir: string) {
    this.bare = join(dir, 'bare.git');
    this.work = join(dir, 'work');
  }
  static async create(): Promise<Repo> {
    const r = new Repo(await mkdtemp(join(tmpdir(), 'forge-test-')));
    await run('git', ['init', '-q', '--bare', '-b', 'main', r.bare]);
    await run('git', ['clone', '-q', r.bare, r.work], { env: GIT_ENV });
    await git(r.work, 'checkout', '-q', '-b', 'main');
    await writeFile(join(r.work, 'site.yml'), '- hosts: all\n  tasks: []\n');
    await git(r.work, 'add', '.');
    await git(r.work, 'commit', '-q', '-m', 'site');
    await git(r.work, 'push', '-q', 'origin', 'main');
    return r;
  }
  /** Commits `files` on `branch` (created from main when new) and pushes it: the new head. */
  async commit(branch: string, files: Record<string, string>, msg = `change ${branch}`): Promise<string> {
    const exists = (await run('git', ['-C', this.bare, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).then(() => true, () => false));
    await git(this.work, 'fetch', '-q', 'origin');
    await git(this.work, 'checkout', '-q', '-B', branch, exists ? `origin/${branch}` : 'origin/main');
    for (const [f, c] of Object.entries(files)) await writeFile(join(this.work, f), c);
    await git(this.work, 'add', '.');
    await git(this.work, 'commit', '-q', '-m', msg);
    await git(this.work, 'push', '-q', 'origin', branch);
    return git(this.work, 'rev-parse', 'HEAD');
  }
  main(): Promise<string> {
    return git(this.bare, 'rev-parse', 'refs/heads/main');
  }
  [Symbol.asyncDispose](): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

async function failure(p: Promise<unknown>): Promise<ForgeError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, 'expected the call to fail').toBeInstanceOf(ForgeError);
  return err as ForgeError;
}

const KINDS = [
  { kind: 'github' as const, start: startFakeGitHub, label: (_f: FakeForge) => 'GitHub at', pageSize: 100 },
  { kind: 'gitea' as const, start: startFakeGitea, label: (_f: FakeForge) => 'Gitea at', pageSize: 50 },
];

describe.each(KINDS)('forge client against the fake $kind', ({ kind, start, pageSize }) => {
  let repo: Repo;
  let fake: FakeForge;
  let forge: Forge;
  let reports: HttpRequestReport[];
  const make = (over: { repo?: string; token?: string } = {}) => createForge({ type: kind, url: fake.url, repo: over.repo ?? 'lab/ansible', token: over.token ?? TOKEN }, createHttpClient({ onRequest: (r) => reports.push(r) }));

  beforeEach(async () => {
    repo = await Repo.create();
    fake = await start({ bareRepo: repo.bare, owner: 'lab', repo: 'ansible', token: TOKEN });
    reports = [];
    forge = make();
  });
  afterEach(async () => {
    // Every request the client made is one the documented API has.
    expect(fake.unknown()).toEqual([]);
    await fake.stop();
    await repo[Symbol.asyncDispose]();
  });

  it('opens, finds, updates, lists and reads a PR, reports its checks, and a merge really lands on main', async () => {
    expect(forge.label).toBe(kind === 'github' ? `GitHub at ${fake.url} repo lab/ansible` : `Gitea at ${fake.url} repo lab/ansible`);
    const first = await repo.commit('mcp-draft/ntp', { 'ntp.yml': '- hosts: all\n  tasks: [{name: ntp, debug: {msg: hi}}]\n' });
    const pr = await forge.create({ branch: 'mcp-draft/ntp', base: 'main', title: 'Draft: ntp', body: 'Sets up NTP.\n\nsyntax-check: ok' });
    expect(pr).toMatchObject({ number: 1, branch: 'mcp-draft/ntp', base: 'main', headSha: first, title: 'Draft: ntp', body: 'Sets up NTP.\n\nsyntax-check: ok', author: 'homelab-bot', state: 'open', merged: false });
    expect(pr.url).toMatch(kind === 'github' ? /^https:\/\/github\.com\/lab\/ansible\/pull\/1$/ : new RegExp(`^${fake.url}/lab/ansible/pulls/1$`));
    expect(Date.parse(pr.createdAt)).toBeGreaterThan(0);

    expect((await forge.findOpen('mcp-draft/ntp'))?.number).toBe(1);
    expect(await forge.findOpen('mcp-draft/other')).toBeUndefined();

    const updated = await forge.update(1, { title: 'Draft: ntp (2)', body: 'Second draft' });
    expect(updated).toMatchObject({ number: 1, title: 'Draft: ntp (2)', body: 'Second draft' });
    expect((await forge.listOpen({ max: 10 })).map((p) => [p.number, p.title])).toEqual([[1, 'Draft: ntp (2)']]);

    // A later push moves the PR's head, as on the real forge.
    const second = await repo.commit('mcp-draft/ntp', { 'ntp.yml': '- hosts: all\n  tasks: []\n' });
    const got = await forge.get(1);
    expect(got).toMatchObject({ headSha: second, mergeable: true, merged: false });

    expect(await forge.checks(second)).toEqual({ state: 'none', total: 0 });
    fake.addStatus(second, 'pending', 'ci/lint');
    expect(await forge.checks(second)).toEqual({ state: 'pending', total: 1 });
    fake.addStatus(second, 'success', 'ci/lint');
    expect(await forge.checks(second)).toEqual({ state: 'success', total: 1 });
    fake.addStatus(second, 'failure', 'ci/molecule');
    expect(await forge.checks(second)).toEqual({ state: 'failure', total: 2 });

    const mainBefore = await repo.main();
    await forge.merge(1, { headSha: second, title: 'Promote playbook ntp' });
    const [parents, subject] = (await git(repo.bare, 'log', '-1', '--format=%P%n%s', 'main')).split('\n');
    expect(parents!.split(' ')).toEqual([mainBefore, second]);
    expect(subject).toBe('Promote playbook ntp');
    expect(await git(repo.bare, 'show', 'main:ntp.yml')).toBe('- hosts: all\n  tasks: []');
    expect(await forge.get(1)).toMatchObject({ state: 'closed', merged: true });
    expect(await forge.listOpen({ max: 10 })).toEqual([]);
    expect(await forge.findOpen('mcp-draft/ntp')).toBeUndefined();

    // Every request went through the hub's client (the audit), none with the token in its URL.
    expect(reports.length).toBe(fake.requests().length);
    expect(reports.every((r) => !r.error && !JSON.stringify(r).includes(TOKEN))).toBe(true);
  });

  it.runIf(kind === 'github')('counts GitHub Actions check runs with the commit statuses', async () => {
    const head = await repo.commit('mcp-draft/ci', { 'ci.yml': '- hosts: all\n' });
    expect(await forge.checks(head)).toEqual({ state: 'none', total: 0 });
    fake.addCheckRun(head, 'in_progress', undefined, 'build');
    expect(await forge.checks(head)).toEqual({ state: 'pending', total: 1 });
    fake.addCheckRun(head, 'completed', 'success', 'build');
    expect(await forge.checks(head)).toEqual({ state: 'success', total: 1 });
    fake.addStatus(head, 'success', 'ci/external');
    expect(await forge.checks(head)).toEqual({ state: 'success', total: 2 });
    fake.addCheckRun(head, 'completed', 'timed_out', 'lint');
    expect(await forge.checks(head)).toEqual({ state: 'failure', total: 3 });
  });

  it('a merge with a head that moved is refused as head_moved, and main stays', async () => {
    const old = await repo.commit('mcp-draft/a', { 'a.yml': '- hosts: all\n' });
    const pr = await forge.create({ branch: 'mcp-draft/a', base: 'main', title: 'a', body: '' });
    expect(pr.headSha).toBe(old);
    await repo.commit('mcp-draft/a', { 'a.yml': '- hosts: web\n' });
    const main = await repo.main();
    const err = await failure(forge.merge(pr.number, { headSha: old }));
    expect(err.reason).toBe('head_moved');
    expect(err.status).toBe(409);
    expect(err.message).toContain(forge.label);
    expect(err.message).toContain(old.slice(0, 12));
    expect(await repo.main()).toBe(main);
    expect((await forge.get(pr.number)).merged).toBe(false);
  });

  it('a branch that conflicts with main is not merged: mergeable false, and the merge is refused', async () => {
    const head = await repo.commit('mcp-draft/c', { 'site.yml': '- hosts: web\n' });
    const pr = await forge.create({ branch: 'mcp-draft/c', base: 'main', title: 'c', body: '' });
    await repo.commit('main', { 'site.yml': '- hosts: db\n' });
    const main = await repo.main();
    expect((await forge.get(pr.number)).mergeable).toBe(false);
    const err = await failure(forge.merge(pr.number, { headSha: head }));
    // GitHub knows beforehand (405 not mergeable); Gitea's merge answers 409 with its git error.
    expect(err.reason).toBe(kind === 'github' ? 'not_mergeable' : 'conflict');
    expect(err.message).toContain(`${forge.label} cannot merge pull request #${pr.number}`);
    expect(await repo.main()).toBe(main);
  });

  it('a PR the forge calls not mergeable (forced) is refused as not_mergeable with the forge\'s words', async () => {
    const head = await repo.commit('mcp-draft/n', { 'n.yml': '- hosts: all\n' });
    const pr = await forge.create({ branch: 'mcp-draft/n', base: 'main', title: 'n', body: '' });
    fake.setMergeable(pr.number, false);
    expect((await forge.get(pr.number)).mergeable).toBe(false);
    const main = await repo.main();
    const err = await failure(forge.merge(pr.number, { headSha: head }));
    expect(err.reason).toBe('not_mergeable');
    expect(err.message).toBe(`${forge.label} cannot merge pull request #${pr.number}: ${kind === 'github' ? 'Pull Request is not mergeable' : 'Please try again later'}`);
    expect(await repo.main()).toBe(main);
    // Merging twice: the second is refused, main keeps the first merge.
    fake.setMergeable(pr.number, undefined);
    await forge.merge(pr.number, { headSha: head });
    const merged = await repo.main();
    expect((await failure(forge.merge(pr.number, { headSha: head }))).reason).toBe('not_mergeable');
    expect(await repo.main()).toBe(merged);
  });

  it('a second PR for the same branch is a conflict; a branch the forge lacks is not_found', async () => {
    await repo.commit('mcp-draft/d', { 'd.yml': '- hosts: all\n' });
    await forge.create({ branch: 'mcp-draft/d', base: 'main', title: 'd', body: '' });
    const dup = await failure(forge.create({ branch: 'mcp-draft/d', base: 'main', title: 'd', body: '' }));
    expect(dup.reason).toBe('conflict');
    expect(dup.message).toContain(kind === 'github' ? 'A pull request already exists for lab:mcp-draft/d.' : 'pull request already exists for these targets');
    const missing = await failure(forge.create({ branch: 'mcp-draft/never-pushed', base: 'main', title: 'x', body: '' }));
    expect(missing.reason).toBe('not_found');
    expect(missing.message).toContain(forge.label);
    expect((await failure(forge.get(99))).reason).toBe('not_found');
  });

  it('a wrong token is auth, named by its key and never shown', async () => {
    const wrong = make({ token: 'wrong-token-value-77' });
    const err = await failure(wrong.listOpen({ max: 5 }));
    expect(err.reason).toBe('auth');
    expect(err.status).toBe(401);
    expect(err.message).toBe(`${wrong.label} rejected the token (ansible.forge.token): ${kind === 'github' ? 'Bad credentials' : 'token is required'}`);
    expect(err.message).not.toContain('wrong-token-value-77');
    expect(err.message).not.toContain(TOKEN);
    expect((await failure(wrong.merge(1, { headSha: 'a'.repeat(40) }))).reason).toBe('auth');
  });

  it('a repository the forge does not have is not_found, naming ansible.forge.repo', async () => {
    const other = make({ repo: 'lab/nope' });
    const err = await failure(other.listOpen({ max: 5 }));
    expect(err.reason).toBe('not_found');
    expect(err.message).toContain(`${other.label}: the repository lab/nope was not found (HTTP 404)`);
    expect(err.message).toContain('check ansible.forge.repo');
    expect((await failure(other.get(1))).reason).toBe('not_found');
  });

  it('pages through many open PRs, newest first, and leaves out a fork\'s PR that names a draft branch', async () => {
    // More PRs than a page holds, each on its own branch (refs made directly: faster than pushes).
    const head = await repo.commit('mcp-draft/p0', { 'p.yml': '- hosts: all\n' });
    const n = pageSize + 10;
    await run('sh', ['-c', `for i in $(seq 1 ${n}); do echo "create refs/heads/mcp-draft/p$i ${head}"; done | git -C '${repo.bare}' update-ref --stdin`]);
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 1; i <= n; i++) await fake.seedPull({ head: `mcp-draft/p${i}`, headSha: head, createdAt: new Date(t0 + i * 60_000).toISOString().replace(/\.000Z$/, 'Z') });
    // The newest of all, from a fork, with a draft-like branch name.
    await fake.seedPull({ head: 'mcp-draft/p1', fork: 'mallory/ansible', headSha: head, createdAt: '2026-06-01T00:00:00Z' });

    const before = fake.requests().length;
    const list = await forge.listOpen({ max: pageSize + 5 });
    expect(list.length).toBe(pageSize + 5);
    expect(list[0]!.branch).toBe(`mcp-draft/p${n}`);
    expect(list.map((p) => p.createdAt)).toEqual([...list.map((p) => p.createdAt)].sort().reverse());
    expect(fake.requests().length - before).toBe(2);

    // Gitea's list has no head filter: the client reads pages until it finds the branch.
    const oldest = await forge.findOpen('mcp-draft/p1');
    expect(oldest?.number).toBe(1);
    expect(oldest?.headSha).toBe(head);
  });
});

/** A forge that answers what a test says, to see the client hold against a hostile one. */
async function hostile(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    answer(req, res);
  });
  const { port, stop } = await serveLoopback(server);
  return { url: `http://127.0.0.1:${port}`, seen, [Symbol.asyncDispose]: stop };
}

const sha = 'b'.repeat(40);
const pull = (n: number, over: Record<string, unknown> = {}) => ({
  number: n,
  html_url: `https://git.example/lab/ansible/pulls/${n}`,
  title: `t${n}`,
  body: 'b',
  state: 'open',
  created_at: '2026-01-01T00:00:00Z',
  user: { login: 'bot' },
  merged: false,
  mergeable: true,
  head: { ref: `mcp-draft/x${n}`, sha, repo: { full_name: 'lab/ansible' } },
  base: { ref: 'main', sha, repo: { full_name: 'lab/ansible' } },
  ...over,
});

describe('forge client against a hostile forge', () => {
  const make = (url: string, type: 'github' | 'gitea' = 'gitea') => createForge({ type, url, repo: 'lab/ansible', token: TOKEN, timeoutMs: 10_000 }, createHttpClient());
  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  it('garbage instead of JSON, a wrong shape, and a bad field are bad_response', async () => {
    await using f = await hostile((req, res) => {
      if (req.url!.includes('/pulls?')) return void res.writeHead(200).end('<html>hello</html>');
      if (req.url!.endsWith('/pulls/1')) return json(res, 200, { number: 'one' });
      if (req.url!.endsWith('/pulls/2')) return json(res, 200, pull(2, { html_url: 'javascript:alert(1)' }));
      if (req.url!.endsWith('/pulls/3')) return json(res, 200, pull(3, { head: { ref: 'x', sha: 'not-a-sha' } }));
      if (req.url!.endsWith('/status')) return json(res, 200, { state: 'exploded', total_count: 3 });
      json(res, 200, [1, 2]);
    });
    const forge = make(f.url);
    expect((await failure(forge.listOpen({ max: 5 }))).message).toBe(`Gitea at ${f.url} repo lab/ansible answered listing open pull requests with something that is not JSON (HTTP 200)`);
    expect((await failure(forge.get(1))).message).toBe(`Gitea at ${f.url} repo lab/ansible sent a pull request without a valid number`);
    expect((await failure(forge.get(2))).reason).toBe('bad_response');
    expect((await failure(forge.get(3))).message).toContain('head.sha');
    expect((await failure(forge.checks(sha))).reason).toBe('bad_response');
  });

  it('GitHub check runs the token may not read leave the statuses to speak', async () => {
    await using f = await hostile((req, res) => (req.url!.includes('/check-runs') ? json(res, 403, { message: 'Resource not accessible by personal access token' }) : json(res, 200, { state: 'success', total_count: 1, statuses: [{}] })));
    expect(await make(f.url, 'github').checks(sha)).toEqual({ state: 'success', total: 1 });
    expect(f.seen.map((s) => s.split('?')[0])).toEqual([`GET /repos/lab/ansible/commits/${sha}/status`, `GET /repos/lab/ansible/commits/${sha}/check-runs`]);
  });

  it('a huge answer is refused before it is all read', async () => {
    const chunk = Buffer.alloc(1 << 20, 0x61);
    await using f = await hostile((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      let sent = 0;
      const more = () => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64) res.once('drain', more);
        else res.end();
      };
      res.on('error', () => undefined);
      more();
    });
    const err = await failure(make(f.url).get(1));
    expect(err.reason).toBe('bad_response');
    expect(err.message).toMatch(/larger than \d+ bytes/);
  });

  it('a forge that always has another full page is read FORGE_MAX_PAGES pages, no more', async () => {
    let next = 1;
    await using f = await hostile((_req, res) => json(res, 200, Array.from({ length: 100 }, () => pull(next++))));
    const list = await make(f.url, 'github').listOpen({ max: 1000 });
    expect(f.seen.length).toBe(FORGE_MAX_PAGES);
    expect(list.length).toBe(FORGE_MAX_PAGES * 100);
  });

  it('text is cut and stripped of control characters; an error quoting the token is cut and masked', async () => {
    await using f = await hostile((req, res) => {
      if (req.method === 'GET') return json(res, 200, pull(1, { title: `\u001b[31mred\u001b[0m\n${'x'.repeat(5000)}`, user: { login: 'ev\u202eil' }, body: 'y'.repeat(100_000) }));
      json(res, 403, { message: `no access for ${TOKEN} ${'z'.repeat(5000)}` });
    });
    const forge = make(f.url);
    const pr = await forge.get(1);
    expect(pr.title.startsWith('[31mred[0m x')).toBe(true);
    expect(pr.title.length).toBeLessThan(520);
    expect(pr.author).toBe('evil');
    expect(pr.body.length).toBeLessThan(20_100);
    const err = await failure(forge.merge(1, { headSha: sha }));
    expect(err.reason).toBe('auth');
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).toContain('no access for ***');
    expect(err.message.length).toBeLessThan(600);
  });

  it('a forge that does not answer, or is not there, is unreachable', async () => {
    await using f = await hostile(() => undefined);
    const slow = createForge({ type: 'gitea', url: f.url, repo: 'lab/ansible', token: TOKEN, timeoutMs: 200 }, createHttpClient());
    const err = await failure(slow.get(1));
    expect(err.reason).toBe('unreachable');
    expect(err.message).toBe(`Gitea at ${f.url} repo lab/ansible is unreachable: no answer within 200 ms`);
    const ac = new AbortController();
    const p = make(f.url).get(1, ac.signal);
    ac.abort();
    expect((await failure(p)).message).toBe(`Gitea at ${f.url} repo lab/ansible did not answer: the call was cancelled`);
  });

  it('refuses a config that cannot work, naming the key', () => {
    const http = createHttpClient();
    expect(() => createForge({ type: 'gitea', repo: 'lab/ansible', token: TOKEN }, http)).toThrow('ansible.forge.url: Gitea needs its web address');
    expect(() => createForge({ type: 'github', repo: 'ansible', token: TOKEN }, http)).toThrow('ansible.forge.repo: expected owner/name');
    expect(createForge({ type: 'github', repo: 'lab/ansible', token: TOKEN }, http).label).toBe('GitHub repo lab/ansible');
    expect(createForge({ type: 'gitea', url: 'https://git.lan/api/v1/', repo: 'lab/ansible', token: TOKEN }, http).label).toBe('Gitea at https://git.lan repo lab/ansible');
  });
});

describe('isForgeError', () => {
  it('matches the reason', () => {
    const e = new ForgeError('head_moved', 'x');
    expect(isForgeError(e, 'head_moved')).toBe(true);
    expect(isForgeError(e, 'auth')).toBe(false);
    expect(e.code).toBe('FORGE_HEAD_MOVED');
  });
});
