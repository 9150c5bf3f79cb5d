// The Playbooks page's list (the service's drafts()) against a real bare git repository, real
// ansible-playbook syntax checks, and the testkit's fake Gitea and GitHub over loopback.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHttpClient } from '@homelab-mcp/core/http';
import { startFakeGitea, startFakeGitHub } from '@homelab-mcp/testkit';
import { AnsibleConfigSchema } from '../config/schema.ts';
import type { CallContext } from '../catalog/types.ts';
import { createAnsibleService, maskDiff } from './service.ts';
import * as runner from './runner.ts';
import type { UiData } from '../ui/contract.ts';
import { playbooksPage } from '../ui/pages/playbooks.ts';

// Counts the real syntax checks (the cache must spare a second page view one).
vi.mock('./runner.ts', async (orig) => {
  const real = await orig<typeof import('./runner.ts')>();
  return { ...real, syntaxCheck: vi.fn(real.syntaxCheck) };
});

const GIT_TOKEN = 'drafts-forge-token-0123456789abcdef';
const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Hand Pusher', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

let root: string;
let work: string;
let bare: string;
beforeEach(() => {
  vi.mocked(runner.syntaxCheck).mockClear();
  root = mkdtempSync(join(tmpdir(), 'homelab-ansible-drafts-test-'));
  bare = join(root, 'remote.git');
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  work = join(root, 'work');
  git(root, 'clone', '--quiet', bare, work);
  git(work, 'checkout', '--quiet', '-b', 'main');
  writeFileSync(join(work, 'hosts.ini'), '[pis]\npi1 ansible_host=127.0.0.1 ansible_port=1\n');
  writeFileSync(join(work, 'site.yml'), '- hosts: pis\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n');
  git(work, 'add', '.');
  git(work, 'commit', '--quiet', '-m', 'seed');
  git(work, 'push', '--quiet', 'origin', 'main');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const ctx = (): CallContext => ({ caller: { user: 'ann', role: 'admin' } as CallContext['caller'], session: 's', signal: new AbortController().signal });
const log = { info: () => undefined, warn: () => undefined };
/** Long enough for every check a test starts: these tests want the results, not "pending". */
const WAIT = 100_000;

/** A branch pushed by hand (not through draft_playbook), from main, with `files`. */
function pushBranch(branch: string, files: Record<string, string>): string {
  git(work, 'checkout', '--quiet', '-B', branch, 'origin/main');
  for (const [f, c] of Object.entries(files)) writeFileSync(join(work, f), c);
  git(work, 'add', '.');
  git(work, 'commit', '--quiet', '-m', `hand-made ${branch}`);
  git(work, 'push', '--quiet', 'origin', branch);
  return git(work, 'rev-parse', 'HEAD');
}

const UPDATE = '- name: Update the pis\n  hosts: pis\n  gather_facts: false\n  vars:\n    db_password: hunter2-in-the-draft\n  tasks:\n    - name: "<script>alert(1)</script>"\n      ansible.builtin.ping:\n';

describe.each([
  { type: 'gitea' as const, start: startFakeGitea },
  { type: 'github' as const, start: startFakeGitHub },
])('drafts() with a fake $type', ({ type, start }) => {
  it('lists a draft_playbook draft with its PR, diff (secrets masked) and a passing syntax check, cached per commit; a hand-pushed draft with broken YAML is not ok; a forge that is down is an error', { timeout: 120_000 }, async () => {
    await using forge = await start({ bareRepo: bare, owner: 'me', repo: 'playbooks', token: GIT_TOKEN });
    const service = createAnsibleService({ config: AnsibleConfigSchema.parse({ repo: bare, inventory: 'hosts.ini', forge: { type, url: forge.url, repo: 'me/playbooks', token: GIT_TOKEN } }), dataDir: join(root, 'data'), http: createHttpClient(), log, draftCheckWaitMs: WAIT });
    const drafted = await service.tools.find((t) => t.def.name === 'draft_playbook')!.call({ name: 'update-pis', content: UPDATE, description: 'update them' }, ctx());
    expect(drafted.isError, JSON.stringify(drafted.content)).toBeFalsy();
    const commit = (drafted.structuredContent as { commit: string }).commit;
    forge.addStatus(commit, 'success', 'ci');
    const broken = pushBranch('mcp-draft/broken', { 'broken.yml': '- hosts: pis\n  tasks: [\n    - ping\n' });
    await forge.seedPull({ head: 'mcp-draft/broken', title: 'Broken by hand', author: 'bob' });
    vi.mocked(runner.syntaxCheck).mockClear();

    const signal = new AbortController().signal;
    const r = await service.drafts(signal);
    expect(r.error).toBeUndefined();
    expect(r.repo).toMatch(new RegExp(`^main at [0-9a-f]{12}, PRs on ${type === 'gitea' ? 'Gitea' : 'GitHub'}`));
    expect(r.drafts.map((d) => d.name).sort()).toEqual(['broken', 'update-pis']);
    const d = r.drafts.find((x) => x.name === 'update-pis')!;
    expect(d).toMatchObject({ branch: 'mcp-draft/update-pis', commit, cut: false, syntax: { ok: true }, pr: { number: expect.any(Number), checks: 'success (1)' } });
    expect(d.pr!.url).toMatch(new RegExp(`^https?://[^/]+/me/playbooks/pulls?/${d.pr!.number}$`));
    expect(d.pr!.title).toBe('Playbook update-pis: new (draft by ann)');
    expect(d.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(d.diff).toContain('diff --git a/update-pis.yml b/update-pis.yml');
    expect(d.diff).toContain('+- name: Update the pis\n');
    expect(d.diff).toContain('+    db_password: [REDACTED]\n');
    expect(d.diff).not.toContain('hunter2');
    const b = r.drafts.find((x) => x.name === 'broken')!;
    expect(b).toMatchObject({ commit: broken, author: 'bob', pr: { title: 'Broken by hand' }, syntax: { ok: false } });
    expect(b.syntax).toMatchObject({ error: expect.stringMatching(/^not valid YAML: line \d+/) });
    expect(b.diff).toContain('+++ b/broken.yml');
    expect(runner.syntaxCheck).toHaveBeenCalledTimes(1);

    // The Playbooks page from these drafts: the draft's hostile task name is text in its diff.
    const data = { playbooks: (s: AbortSignal) => service.drafts(s) } as Partial<UiData> as UiData;
    const page = (await playbooksPage.render({ data, viewer: { user: 'ann', role: 'admin', key: 'k' }, query: new URLSearchParams(), signal, now: Date.now() })).value;
    expect(page).toContain('<table class="diff" id="diff-update-pis">');
    expect(page).toContain('<td class="src">+    - name: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;</td>');
    expect(page).not.toContain('<script>');
    expect(page).toContain(`href="${d.pr!.url}" rel="noreferrer noopener"`);
    expect(page).toContain('<span class="ok syntax-ok">passed</span>');
    expect(page).toContain('<span class="bad syntax-failed">failed (line');

    // A second view: same answers, no new ansible-playbook run.
    const again = await service.drafts(signal);
    expect(again.drafts.find((x) => x.name === 'update-pis')!.syntax).toEqual({ ok: true });
    expect(runner.syntaxCheck).toHaveBeenCalledTimes(1);

    await forge.stop();
    const down = await service.drafts(signal);
    expect(down.drafts).toEqual([]);
    expect(down.error).toBeTruthy();
    expect(down.error).not.toContain(GIT_TOKEN);
  });
});

describe('drafts() without a forge', () => {
  it('lists the draft branches: a draft_playbook draft passes, a hand-pushed one with broken YAML or that changes other files is not ok', { timeout: 120_000 }, async () => {
    const service = createAnsibleService({ config: AnsibleConfigSchema.parse({ repo: bare, inventory: 'hosts.ini' }), dataDir: join(root, 'data'), http: createHttpClient(), log, draftCheckWaitMs: WAIT });
    const drafted = await service.tools.find((t) => t.def.name === 'draft_playbook')!.call({ name: 'site', content: '- hosts: pis\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n    - ansible.builtin.debug: { msg: hi }\n' }, ctx());
    expect(drafted.isError, JSON.stringify(drafted.content)).toBeFalsy();
    // Invalid YAML that draft_playbook would refuse, pushed by hand.
    pushBranch('mcp-draft/bad', { 'bad.yml': '- hosts: pis\n  tasks:\n  - ping: {\n' });
    // Valid YAML that ansible-playbook refuses (no such module).
    pushBranch('mcp-draft/nomodule', { 'nomodule.yml': '- hosts: pis\n  tasks:\n    - no.such.module_xyz: {}\n' });
    pushBranch('mcp-draft/wide', { 'wide.yml': '- hosts: pis\n  tasks: []\n', 'hosts.ini': '[pis]\npi9\n' });

    const r = await service.drafts(new AbortController().signal);
    expect(r.error).toBeUndefined();
    expect(r.repo).toMatch(/^main at [0-9a-f]{12}, no forge/);
    const by = Object.fromEntries(r.drafts.map((d) => [d.name, d]));
    expect(Object.keys(by).sort()).toEqual(['bad', 'nomodule', 'site', 'wide']);
    expect(by.site!.syntax).toEqual({ ok: true });
    expect(by.site!.pr).toBeUndefined();
    expect(by.site!.author).toBe('homelab-mcp');
    expect(by.site!.diff).toMatch(/@@ -2,3 \+2,4 @@[^\n]*\n {3}gather_facts: false\n   tasks:\n     - ansible.builtin.ping:\n\+    - ansible.builtin.debug: \{ msg: hi \}\n/);
    expect(by.bad!.syntax).toMatchObject({ ok: false, error: expect.stringMatching(/^not valid YAML/), line: expect.any(Number) });
    expect(by.bad!.author).toBe('Hand Pusher');
    expect(by.nomodule!.syntax).toMatchObject({ ok: false, error: expect.stringContaining('no.such.module_xyz') });
    expect(by.wide!.syntax).toEqual({ ok: false, error: 'not checked: the branch also changes hosts.ini; the hub syntax-checks a draft only when it changes nothing but wide.yml' });
  });

  it('never evaluates Jinja or loads a file outside the repo from a hand-pushed draft while checking it', { timeout: 120_000 }, async () => {
    const service = createAnsibleService({ config: AnsibleConfigSchema.parse({ repo: bare, inventory: 'hosts.ini' }), dataDir: join(root, 'data'), http: createHttpClient(), log, draftCheckWaitMs: WAIT });
    const pwned = join(root, 'pwned');
    // Plain Jinja in hosts (Ansible templates it while parsing): checked on an inert copy.
    pushBranch('mcp-draft/jinja', { 'jinja.yml': `- hosts: "{{ lookup('pipe', 'touch ${pwned}') }}"\n  gather_facts: false\n  tasks: []\n` });
    // Jinja that only YAML makes, and a file outside the repo: refused before Ansible.
    pushBranch('mcp-draft/escaped', { 'escaped.yml': `- hosts: "\\x7b{ lookup('pipe', 'touch ${pwned}') }}all"\n  gather_facts: false\n  tasks: []\n` });
    pushBranch('mcp-draft/outside', { 'outside.yml': '- hosts: all\n  vars_files: [/etc/passwd]\n  tasks: []\n' });
    const r = await service.drafts(new AbortController().signal);
    const by = Object.fromEntries(r.drafts.map((d) => [d.name, d]));
    expect(by.jinja!.syntax).toEqual({ ok: true });
    expect(by.escaped!.syntax).toMatchObject({ ok: false, error: expect.stringMatching(/^not checked: the draft names files, or holds Jinja, that the hub will not load for an unreviewed draft: line 1: the YAML escape/) });
    expect(by.outside!.syntax).toMatchObject({ ok: false, error: expect.stringContaining('vars_files "/etc/passwd": is absolute') });
    expect(existsSync(pwned)).toBe(false);
    expect(runner.syntaxCheck).toHaveBeenCalledTimes(1);
  });

  it('answers a syntax check that takes longer than its wait as pending, and the finished result on a later view', { timeout: 120_000 }, async () => {
    const service = createAnsibleService({ config: AnsibleConfigSchema.parse({ repo: bare, inventory: 'hosts.ini' }), dataDir: join(root, 'data'), http: createHttpClient(), log, draftCheckWaitMs: 0 });
    pushBranch('mcp-draft/slow', { 'slow.yml': '- hosts: pis\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n' });
    const signal = new AbortController().signal;
    expect((await service.drafts(signal)).drafts[0]!.syntax).toEqual({ ok: false, pending: true, error: 'the syntax check is still running; reload the page in a few seconds' });
    // The check goes on without the view; once done, a view has it at once, whatever its wait.
    await vi.waitFor(async () => expect((await service.drafts(signal)).drafts[0]!.syntax).toEqual({ ok: true }), { timeout: 60_000, interval: 250 });
    expect(runner.syntaxCheck).toHaveBeenCalledTimes(1);
  });

  it('cuts a diff larger than the cap at a line end and says so', { timeout: 60_000 }, async () => {
    const service = createAnsibleService({ config: AnsibleConfigSchema.parse({ repo: bare, inventory: 'hosts.ini' }), dataDir: join(root, 'data'), http: createHttpClient(), log, draftCheckWaitMs: WAIT });
    const big = `- hosts: pis\n  tasks: []\n${Array.from({ length: 12_000 }, (_, i) => `# line ${i} ${'x'.repeat(20)}`).join('\n')}\n`;
    pushBranch('mcp-draft/big', { 'big.yml': big });
    const r = await service.drafts(new AbortController().signal);
    const d = r.drafts[0]!;
    expect(d.cut).toBe(true);
    expect(d.diff.length).toBeLessThanOrEqual(200 * 1024);
    expect(d.diff.length).toBeGreaterThan(190 * 1024);
    expect(d.diff.endsWith('\n')).toBe(true);
  });
});

describe('maskDiff', () => {
  it('masks secret-named values and vault blocks on both sides, keeping the diff columns and line count', () => {
    const diff = 'diff --git a/x.yml b/x.yml\n--- a/x.yml\n+++ b/x.yml\n@@ -1,3 +1,5 @@\n vars:\n-  api_token: old-value\n+  api_token: new-value\n+  key: !vault |\n+    6162636465\n\\ No newline at end of file\n';
    const out = maskDiff(diff);
    expect(out).toBe('diff --git a/x.yml b/x.yml\n--- a/x.yml\n+++ b/x.yml\n@@ -1,3 +1,5 @@\n vars:\n-  api_token: [REDACTED]\n+  api_token: [REDACTED]\n+  key: [VAULT]\n+    [VAULT]\n\\ No newline at end of file\n');
  });
});
