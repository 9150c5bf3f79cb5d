import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { badPlaybookName, createPlaybookRepo, createRwLock, playsOf } from './repo.ts';

const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

let root: string;
let bare: string;
let work: string;

function commit(file: string, text: string, msg: string): string {
  writeFileSync(join(work, file), text);
  git(work, 'add', file);
  git(work, 'commit', '--quiet', '-m', msg);
  git(work, 'push', '--quiet', '--force', 'origin', 'main');
  return git(work, 'rev-parse', 'HEAD');
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'homelab-repo-test-'));
  bare = join(root, 'remote.git');
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  work = join(root, 'work');
  git(root, 'clone', '--quiet', bare, work);
  git(work, 'checkout', '--quiet', '-b', 'main');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const repoAt = () => createPlaybookRepo({ url: bare, branch: 'main', dir: join(root, 'clone'), playbookDir: '.', draftPrefix: 'mcp-draft/', home: join(root, 'home') });

describe('the playbook repo clone', () => {
  it('lists the playbooks when the repo also holds a huge .yml file (skipped, not a failure)', async () => {
    commit('site.yml', '- name: Base\n  hosts: all\n  tasks: []\n', 'site');
    commit('data.yml', `items:\n${'  - 0123456789abcdef0123456789abcdef\n'.repeat(40_000)}`, 'generated data');
    const repo = repoAt();
    await repo.refresh();
    expect((await repo.playbooks()).map((p) => p.name)).toEqual(['site']);
  });
  it('tells what a path of a commit is: a file, an executable, a folder and what it holds, or nothing', async () => {
    const sha = commit('site.yml', '- hosts: all\n', 'site');
    const repo = repoAt();
    await repo.refresh();
    expect(await repo.entry(sha, 'site.yml')).toEqual({ mode: '100644', below: [] });
    expect(await repo.entry(sha, './site.yml')).toEqual({ mode: '100644', below: [] });
    expect(await repo.entry(sha, 'nope.yml')).toBeUndefined();
    expect(await repo.entry(sha, 'site')).toBeUndefined();
    expect(await repo.entry(sha, '.')).toEqual({ mode: '040000', below: ['100644'] });
  });
  it('clones, lists playbooks (not vars files), and fast-forwards with the commits pulled', async () => {
    commit('site.yml', '- name: Base\n  hosts: all\n  tasks: []\n- name: Users\n  hosts: pis\n  tasks: []\n', 'site');
    commit('vars.yml', 'a: 1\n', 'a vars file');
    const repo = repoAt();
    const first = await repo.refresh();
    expect(first.cloned).toBe(true);
    expect((await repo.playbooks()).map((p) => [p.name, p.hosts, p.description])).toEqual([['site', 'all, pis', 'Base; Users']]);
    const c2 = commit('update.yml', '- hosts: pis\n  tasks: []\n', 'add update');
    expect((await repo.playbooks()).map((p) => p.name)).toEqual(['site']); // not before a refresh
    const second = await repo.refresh();
    expect(second.after).toBe(c2);
    expect(second.commits.map((c) => c.subject)).toEqual(['add update']);
    expect((await repo.playbooks()).map((p) => p.name)).toEqual(['site', 'update']);
    expect(readFileSync(join(root, 'clone', 'update.yml'), 'utf8')).toContain('hosts: pis');
  });

  it('refuses to follow a rewritten main, and resets local edits of the clone on refresh', async () => {
    const c1 = commit('site.yml', '- hosts: all\n  tasks: []\n', 'one');
    const repo = repoAt();
    await repo.refresh();
    writeFileSync(join(root, 'clone', 'site.yml'), '- hosts: evil\n');
    expect(await repo.clean()).toBe(false);
    await repo.refresh();
    expect(await repo.clean()).toBe(true);
    expect(readFileSync(join(root, 'clone', 'site.yml'), 'utf8')).toBe('- hosts: all\n  tasks: []\n');
    git(work, 'commit', '--quiet', '--amend', '-m', 'rewritten');
    git(work, 'push', '--quiet', '--force', 'origin', 'main');
    await expect(repo.refresh()).rejects.toThrow(/main of the playbook repo was rewritten \(force-pushed\).*remove .*clone/);
    expect(repo.head()).toBe(c1);
  });

  it('drafts by plumbing without touching the work tree, and pushes only if the branch is where it was', async () => {
    const main = commit('site.yml', '- hosts: all\n  tasks: []\n', 'one');
    const repo = repoAt();
    await repo.refresh();
    const draft = (await repo.commitFile(main, 'new.yml', '- hosts: pis\n  tasks: []\n', 'Add new'))!;
    expect(existsSync(join(root, 'clone', 'new.yml'))).toBe(false);
    expect(await repo.commitFile(main, 'site.yml', '- hosts: all\n  tasks: []\n', 'same')).toBeUndefined();
    await repo.pushDraft('new', draft, undefined);
    expect(git(root, '--git-dir', bare, 'rev-parse', 'refs/heads/mcp-draft/new')).toBe(draft);
    // A second push that expects the branch absent (a stale view) is refused.
    const again = (await repo.commitFile(main, 'new.yml', '- hosts: all\n  tasks: []\n', 'Add new v2'))!;
    await expect(repo.pushDraft('new', again, undefined)).rejects.toThrow(/push failed/);
    await repo.pushDraft('new', again, draft);
    expect(git(root, '--git-dir', bare, 'rev-parse', 'refs/heads/mcp-draft/new')).toBe(again);
    expect(await repo.diffStat(main, again)).toMatch(/1 file changed, 2 insertions/);
    const seen = await repo.withCheckout(again, async (dir) => readFileSync(join(dir, 'new.yml'), 'utf8'));
    expect(seen).toBe('- hosts: all\n  tasks: []\n');
  });
});

describe('playbook names and plays', () => {
  it('refuses paths and odd names', () => {
    expect(badPlaybookName('site')).toBeUndefined();
    expect(badPlaybookName('../x')).toMatch(/is a path/);
    expect(badPlaybookName('/etc/passwd')).toMatch(/is a path/);
    expect(badPlaybookName('-x')).toMatch(/not a playbook name/);
  });
  it('tells a playbook from other YAML', () => {
    expect(playsOf('- hosts: all\n')).toEqual([{ hosts: 'all' }]);
    expect(playsOf('- import_playbook: site.yml\n')).toEqual([{ imports: 'site.yml' }]);
    expect(playsOf('a: 1\n')).toBeUndefined();
    expect(playsOf('- name: x\n')).toBeUndefined();
    expect(playsOf(': : :')).toBeUndefined();
  });
});

describe('the read-write lock', () => {
  it('lets readers share and a writer wait for them, then go alone', async () => {
    const lock = createRwLock();
    const order: string[] = [];
    let releaseA!: () => void;
    const a = lock.read(() => new Promise<void>((r) => (order.push('a start'), (releaseA = r))));
    const w = lock.write(async () => void order.push('write'));
    const b = lock.read(async () => void order.push('b'));
    await Promise.resolve();
    expect(order).toEqual(['a start']);
    releaseA();
    await Promise.all([a, w, b]);
    expect(order).toEqual(['a start', 'write', 'b']);
  });
});
