// The fake GitHub and Gitea answer as the real APIs document (service-apis.md §11), and record
// every request outside them, so that a client's test asserting `unknown()` is empty means
// something: these tests pin the fakes with plain fetch calls.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGitea, startFakeGitHub, type FakeForge } from './fake-forge.ts';

const run = promisify(execFile);
const ENV = { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.invalid' };
const git = async (dir: string, ...args: string[]) => (await run('git', ['-C', dir, ...args], { env: ENV })).stdout.trim();

let dir: string;
let bare: string;
let fake: FakeForge | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fake-forge-'));
  bare = join(dir, 'bare.git');
  const work = join(dir, 'work');
  await run('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  await run('git', ['init', '-q', '-b', 'main', work]);
  await writeFile(join(work, 'site.yml'), 'a\n');
  await git(work, 'add', '.');
  await git(work, 'commit', '-q', '-m', 'one');
  await git(work, 'checkout', '-q', '-b', 'mcp-draft/x');
  await writeFile(join(work, 'x.yml'), 'x\n');
  await git(work, 'add', '.');
  await git(work, 'commit', '-q', '-m', 'x');
  await git(work, 'push', '-q', bare, 'main', 'mcp-draft/x');
});
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
  await rm(dir, { recursive: true, force: true });
});

const GH = { authorization: 'Bearer tok', accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'content-type': 'application/json' };
const GT = { authorization: 'token tok', accept: 'application/json', 'content-type': 'application/json' };

describe('fake GitHub', () => {
  it('answers a wrong token with the real 401 body, and records what the API does not have', async () => {
    fake = await startFakeGitHub({ bareRepo: bare, owner: 'lab', repo: 'ansible', token: 'tok' });
    const bad = await fetch(`${fake.url}/repos/lab/ansible/pulls`, { headers: { ...GH, authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    expect(fake.unknown()).toEqual([]);

    expect((await fetch(`${fake.url}/repos/lab/ansible/issues`, { headers: GH })).status).toBe(404);
    expect((await fetch(`${fake.url}/repos/lab/ansible/pulls?state=open&labels=x`, { headers: GH })).status).toBe(200);
    // Without the headers GitHub's docs ask for.
    expect((await fetch(`${fake.url}/repos/lab/ansible/pulls`, { headers: { authorization: 'Bearer tok' } })).status).toBe(400);
    const create = await fetch(`${fake.url}/repos/lab/ansible/pulls`, { method: 'POST', headers: GH, body: JSON.stringify({ title: 't', head: 'mcp-draft/x', base: 'main', colour: 'red' }) });
    expect(create.status).toBe(201);
    expect(fake.unknown().map((r) => r.why)).toEqual(['GET /repos/lab/ansible/issues', 'query labels', 'missing GitHub API headers', 'fields colour']);
    // Another repository is the real 404, not an unknown request.
    expect((await fetch(`${fake.url}/repos/lab/other/pulls`, { headers: GH })).status).toBe(404);
    expect(fake.unknown().length).toBe(4);
  });

  it('merges for real: a merge commit on main with both parents, and says so', async () => {
    fake = await startFakeGitHub({ bareRepo: bare, owner: 'lab', repo: 'ansible', token: 'tok' });
    const head = await git(bare, 'rev-parse', 'mcp-draft/x');
    const main = await git(bare, 'rev-parse', 'main');
    const pr = (await (await fetch(`${fake.url}/repos/lab/ansible/pulls`, { method: 'POST', headers: GH, body: JSON.stringify({ title: 't', head: 'mcp-draft/x', base: 'main' }) })).json()) as { number: number; head: { sha: string }; mergeable: boolean };
    expect(pr).toMatchObject({ number: 1, head: { sha: head }, mergeable: true });
    const wrong = await fetch(`${fake.url}/repos/lab/ansible/pulls/1/merge`, { method: 'PUT', headers: GH, body: JSON.stringify({ merge_method: 'merge', sha: main }) });
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { message: string }).message).toBe('Head branch was modified. Review and try the merge again.');
    const ok = await fetch(`${fake.url}/repos/lab/ansible/pulls/1/merge`, { method: 'PUT', headers: GH, body: JSON.stringify({ merge_method: 'merge', sha: head }) });
    const body = (await ok.json()) as { sha: string; merged: boolean };
    expect(ok.status).toBe(200);
    expect(body.merged).toBe(true);
    expect(await git(bare, 'rev-parse', 'main')).toBe(body.sha);
    expect(await git(bare, 'log', '-1', '--format=%P', 'main')).toBe(`${main} ${head}`);
    expect(fake.pulls[0]).toMatchObject({ merged: true, state: 'closed', mergeCommit: body.sha });
    expect(fake.unknown()).toEqual([]);
  });
});

describe('fake Gitea', () => {
  it('answers under /api/v1 with Gitea\'s codes: edit 201, duplicate 409, merge 200 empty, head out of date 409', async () => {
    fake = await startFakeGitea({ bareRepo: bare, owner: 'lab', repo: 'ansible', token: 'tok' });
    const api = `${fake.url}/api/v1/repos/lab/ansible`;
    expect((await fetch(`${api}/pulls`, { headers: { authorization: 'token nope' } })).status).toBe(401);
    const body = JSON.stringify({ title: 't', head: 'mcp-draft/x', base: 'main' });
    expect((await fetch(`${api}/pulls`, { method: 'POST', headers: GT, body })).status).toBe(201);
    const dup = await fetch(`${api}/pulls`, { method: 'POST', headers: GT, body });
    expect(dup.status).toBe(409);
    expect(((await dup.json()) as { message: string }).message).toMatch(/^pull request already exists for these targets/);
    expect((await fetch(`${api}/pulls/1`, { method: 'PATCH', headers: GT, body: JSON.stringify({ title: 'u' }) })).status).toBe(201);
    const stale = await fetch(`${api}/pulls/1/merge`, { method: 'POST', headers: GT, body: JSON.stringify({ Do: 'merge', head_commit_id: 'c'.repeat(40) }) });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { message: string }).message).toBe('head out of date');
    const head = await git(bare, 'rev-parse', 'mcp-draft/x');
    const ok = await fetch(`${api}/pulls/1/merge`, { method: 'POST', headers: GT, body: JSON.stringify({ Do: 'merge', head_commit_id: head }) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('');
    expect((await git(bare, 'log', '-1', '--format=%P%n%s', 'main')).split('\n')).toEqual([expect.stringContaining(head), "Merge pull request 'u' (#1) from mcp-draft/x into main"]);
    const again = await fetch(`${api}/pulls/1/merge`, { method: 'POST', headers: GT, body: JSON.stringify({ Do: 'merge' }) });
    expect(again.status).toBe(405);
    expect(fake.unknown()).toEqual([]);
    // GitHub's shape of a merge is not Gitea's.
    expect((await fetch(`${api}/pulls/1/merge`, { method: 'PUT', headers: GT, body: '{}' })).status).toBe(404);
    expect(fake.unknown().map((r) => r.why)).toEqual([`PUT /api/v1/repos/lab/ansible/pulls/1/merge`]);
  });
});
