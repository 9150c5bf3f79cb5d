/**
 * git_pull through the bundled hub: bare repositories on disk (file URLs, allowed by
 * internet.git.allowLocal), git's own smart HTTP server with a token from internet.git.credentials,
 * and a throwaway sshd whose host key is pinned (or not) in internet.git.knownHosts. Clones stay
 * under the git dir, only fast-forwards happen, and the token is in no answer, log or journal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startGitHttp, startHubProcess, startSshd } from '@homelab-mcp/testkit';

const TOKEN = 'git-admin-token-0123456789abcdef';
const GIT_TOKEN = 'ghp_gitSecretToken0123456789abcdefXYZ';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] };
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };
const ENV = { ...process.env, GIT_AUTHOR_NAME: 'Tess', GIT_AUTHOR_EMAIL: 't@x.test', GIT_COMMITTER_NAME: 'Tess', GIT_COMMITTER_EMAIL: 't@x.test', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: ENV, encoding: 'utf8' }).trim();

let base: string;
let work: string;
let bare: string;

function commit(file: string, text: string, message: string): string {
  writeFileSync(join(work, file), text);
  sh(work, 'add', file);
  sh(work, 'commit', '-q', '-m', message);
  return sh(work, 'rev-parse', 'HEAD');
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'homelab-git-pull-'));
  work = join(base, 'work');
  bare = join(base, 'srv', 'dotfiles.git');
  mkdirSync(work);
  sh(work, 'init', '-q', '-b', 'main');
  commit('a.txt', 'one\n', 'first');
  commit('b.txt', 'two\n', 'second');
  sh(base, 'clone', '-q', '--bare', work, bare);
  sh(work, 'remote', 'add', 'origin', bare);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function hubWith(git: Record<string, unknown>) {
  return startHubProcess({ config: { auth, local: { enabled: false }, internet: { git } }, env: { GIT_TOKEN } });
}

describe('git_pull through the hub', () => {
  it('clones, fast-forwards with the commits pulled, refuses a non-fast-forward and paths outside the git dir', { timeout: 120_000 }, async () => {
    await using hub = await hubWith({ allowLocal: true });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const call = async (args: Record<string, unknown>) => (await client.callTool({ name: 'git_pull', arguments: args })) as Result;
    const gitDir = join(hub.dir, 'data', 'git');

    const held = await call({ repo_url: bare });
    expect(held.structuredContent).toMatchObject({ status: 'approval_required', preview: { action: `clone ${bare} into ${join(gitDir, 'dotfiles')}` } });
    await client.callTool({ name: 'approve_writes', arguments: {} });

    const head1 = sh(work, 'rev-parse', 'HEAD');
    const cloned = await call({ repo_url: bare });
    expect(cloned.isError).toBeFalsy();
    expect(cloned.structuredContent).toMatchObject({ action: 'cloned', path: join(gitDir, 'dotfiles'), branch: 'main', head: head1, total: 2 });
    expect(resultText(cloned)).toMatch(new RegExp(`^Cloned ${bare} into ${join(gitDir, 'dotfiles')}: main at ${head1.slice(0, 12)}, 2 commit\\(s\\)\\.`));
    expect(readFileSync(join(gitDir, 'dotfiles', 'b.txt'), 'utf8')).toBe('two\n');
    expect(readdirSync(gitDir)).toEqual(['dotfiles']); // no half-made .incoming-* left

    const up = await call({ repo_url: bare, path: 'dotfiles' });
    expect(up.structuredContent).toMatchObject({ action: 'up_to_date', head: head1 });

    // A hook planted in the clone never runs (core.hooksPath=/dev/null beats the clone's config).
    const marker = join(base, 'hook-ran');
    mkdirSync(join(gitDir, 'dotfiles', '.git', 'hooks'), { recursive: true });
    writeFileSync(join(gitDir, 'dotfiles', '.git', 'hooks', 'post-merge'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    writeFileSync(join(gitDir, 'dotfiles', '.git', 'hooks', 'reference-transaction'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    commit('c.txt', 'three\n', 'third: add c');
    const head2 = commit('d.txt', 'four\n', 'fourth: add d');
    sh(work, 'push', '-q', 'origin', 'main');
    const ff = await call({ repo_url: bare });
    expect(ff.structuredContent).toMatchObject({ action: 'fast_forwarded', previous: head1, head: head2, total: 2 });
    expect(ff.structuredContent!.commits.map((c: any) => c.subject)).toEqual(['fourth: add d', 'third: add c']);
    expect(resultText(ff)).toContain(`from ${head1.slice(0, 12)} to ${head2.slice(0, 12)}: 2 commit(s) pulled`);
    expect(existsSync(marker)).toBe(false);

    // History rewritten upstream: refused, the clone stays where it was.
    sh(work, 'reset', '-q', '--hard', 'HEAD~1');
    const rewritten = commit('e.txt', 'five\n', 'rewritten');
    sh(work, 'push', '-q', '-f', 'origin', 'main');
    const nonFf = await call({ repo_url: bare });
    expect(nonFf.isError).toBe(true);
    expect(resultText(nonFf)).toContain(`does not contain the clone's HEAD (${head2.slice(0, 12)})`);
    expect(resultText(nonFf)).toContain('git_pull only fast-forwards');
    expect(sh(join(gitDir, 'dotfiles'), 'rev-parse', 'HEAD')).toBe(head2);
    expect(rewritten).not.toBe(head2);

    for (const path of ['../../etc', '/etc', 'a/../../x', '.git', 'dotfiles/.git/hooks']) {
      const r = await call({ repo_url: bare, path });
      expect(r.isError).toBe(true);
      expect(resultText(r)).toMatch(/^git_pull: argument "path": ".*" must be a folder inside internet.git.dir/);
    }
    expect(existsSync(join(hub.dir, 'etc'))).toBe(false);
    symlinkSync(base, join(gitDir, 'escape'));
    const viaLink = await call({ repo_url: bare, path: 'escape/dotfiles' });
    expect(resultText(viaLink)).toMatch(/passes through a symbolic link/);
    expect(existsSync(join(base, 'dotfiles'))).toBe(false);

    // Remote helpers run commands: refused before git sees them.
    const ext = await call({ repo_url: `ext::sh -c touch% ${join(base, 'pwned')}`, path: 'x' });
    expect(resultText(ext)).toMatch(/the "ext::" transport is refused/);
    expect(existsSync(join(base, 'pwned'))).toBe(false);
    // Another repository in an existing clone's folder: refused.
    const other = await call({ repo_url: work, path: 'dotfiles' });
    expect(resultText(other)).toMatch(/is a clone of .*dotfiles\.git, not of/);
  });

  it('refuses a clone larger than internet.git.maxMegabytes or slower than timeoutSeconds, leaving nothing behind; refuses file URLs unless allowLocal', { timeout: 120_000 }, async () => {
    const bigWork = join(base, 'big');
    mkdirSync(bigWork);
    sh(bigWork, 'init', '-q', '-b', 'main');
    writeFileSync(join(bigWork, 'blob.bin'), Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, () => Math.floor(Math.random() * 256))));
    sh(bigWork, 'add', 'blob.bin');
    sh(bigWork, 'commit', '-q', '-m', 'big');
    await using hub = await hubWith({ allowLocal: true, maxMegabytes: 1 });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const r = (await client.callTool({ name: 'git_pull', arguments: { repo_url: bigWork } })) as Result;
    expect(resultText(r)).toMatch(/passed internet.git.maxMegabytes \(1 MB\) and git was stopped; nothing was changed/);
    expect(readdirSync(join(hub.dir, 'data', 'git'))).toEqual([]);

    // A server that accepts and never answers: git is stopped at internet.git.timeoutSeconds.
    const held: Socket[] = [];
    const silent = createServer((sock) => void held.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      await using slow = await hubWith({ timeoutSeconds: 5 });
      await using c3 = await connectClient(slow.url, TOKEN, 'legacy');
      await c3.callTool({ name: 'approve_writes', arguments: {} });
      const hung = (await c3.callTool({ name: 'git_pull', arguments: { repo_url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/slow.git` } })) as Result;
      expect(resultText(hung)).toBe('git_pull: git took longer than internet.git.timeoutSeconds (5 s) and was stopped; nothing was changed');
      expect(readdirSync(join(slow.dir, 'data', 'git'))).toEqual([]);
    } finally {
      for (const sock of held) sock.destroy();
      silent.close();
    }

    await using strict = await hubWith({});
    await using c2 = await connectClient(strict.url, TOKEN, 'legacy');
    await c2.callTool({ name: 'approve_writes', arguments: {} });
    for (const repo_url of [bare, `file://${bare}`]) {
      const refused = (await c2.callTool({ name: 'git_pull', arguments: { repo_url } })) as Result;
      expect(resultText(refused)).toMatch(/file URLs and local paths are refused \(set internet.git.allowLocal: true/);
    }
  });

  it('https-style: the token from internet.git.credentials goes in a header, never in answers, logs or the journal', { timeout: 120_000 }, async () => {
    await using srv = await startGitHttp({ root: join(base, 'srv'), username: 'x-access-token', token: GIT_TOKEN });
    const host = `127.0.0.1:${srv.port}`;
    await using hub = await hubWith({ credentials: [{ host, token: '${GIT_TOKEN}' }] });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const url = `${srv.url}/dotfiles.git`;
    const r = (await client.callTool({ name: 'git_pull', arguments: { repo_url: url, path: 'over-http' } })) as Result;
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ action: 'cloned', url, head: sh(work, 'rev-parse', 'HEAD') });
    expect(srv.requests().every((q) => q.status === 200)).toBe(true);
    expect(srv.requests()[0]!.authorization).toBe(`Basic ${Buffer.from(`x-access-token:${GIT_TOKEN}`).toString('base64')}`);

    // Credentials in the URL are dropped (and said to be), not sent: the configured ones are.
    const withCreds = (await client.callTool({ name: 'git_pull', arguments: { repo_url: `http://me:urlSecret123@${host}/dotfiles.git`, path: 'over-http' } })) as Result;
    expect(withCreds.structuredContent).toMatchObject({ action: 'up_to_date', url });
    expect(resultText(withCreds)).toContain('the credentials in repo_url were removed and not used');
    expect(srv.requests().some((q) => q.authorization?.includes(Buffer.from('me:urlSecret123').toString('base64')))).toBe(false);

    const events = readJournal(join(hub.dir, 'data'));
    const fetches = events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'git');
    expect(fetches.map((e) => [e.detail.method, e.detail.url])).toEqual([
      ['GIT', url],
      ['GIT', url],
    ]);
    const everything = JSON.stringify(events) + hub.output() + JSON.stringify(r) + JSON.stringify(withCreds);
    expect(everything).not.toContain(GIT_TOKEN);
    expect(everything).not.toContain(Buffer.from(`x-access-token:${GIT_TOKEN}`).toString('base64'));
    expect(everything).not.toContain('urlSecret123');
  });

  it('a token configured for a host name is never sent in cleartext over http://, nor to another port of that host', { timeout: 120_000 }, async () => {
    await using srv = await startGitHttp({ root: join(base, 'srv'), username: 'x-access-token', token: GIT_TOKEN });
    // The entry names the host only: it means https on 443, not this http service on another port.
    await using hub = await hubWith({ credentials: [{ host: '127.0.0.1', token: '${GIT_TOKEN}' }] });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const r = (await client.callTool({ name: 'git_pull', arguments: { repo_url: `${srv.url}/dotfiles.git`, path: 'cleartext' } })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe(`git_pull: argument "repo_url": internet.git.credentials has a token for 127.0.0.1 over https; it is not sent in cleartext over http://, use https://127.0.0.1/… (or list "127.0.0.1:${srv.port}" with its port to mean that service)`);
    expect(srv.requests().filter((q) => q.authorization)).toEqual([]);
  });

  it('an argument it does not know (a branch) is refused by name, not silently dropped', { timeout: 120_000 }, async () => {
    await using hub = await hubWith({ allowLocal: true });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const r = (await client.callTool({ name: 'git_pull', arguments: { repo_url: bare, path: 'branchy', branch: 'dev' } })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe('git_pull: unknown argument "branch" (expected: repo_url, path; the clone follows the remote\'s default branch)');
    expect(existsSync(join(hub.dir, 'data', 'git', 'branchy'))).toBe(false);
  });

  it('a hostile repository\'s 100 KB author names are cut in the answer', { timeout: 120_000 }, async () => {
    const hostile = join(base, 'hostile');
    mkdirSync(hostile);
    const env = { ...ENV, GIT_AUTHOR_NAME: 'A'.repeat(100_000) };
    const git = (...args: string[]) => execFileSync('git', args, { cwd: hostile, env, encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    for (let i = 0; i < 5; i++) git('commit', '-q', '--allow-empty', '-m', `c${i}`);
    await using hub = await hubWith({ allowLocal: true });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const r = (await client.callTool({ name: 'git_pull', arguments: { repo_url: hostile, path: 'hostile' } })) as Result;
    expect(r.structuredContent).toMatchObject({ action: 'cloned', total: 5 });
    expect(JSON.stringify(r).length).toBeLessThan(16 * 1024);
  });

  it('ssh: a first contact is refused with the host key to pin; pinned, it clones with internet.git.sshKey', { timeout: 120_000 }, async () => {
    await using sshd = await startSshd();
    const url = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${bare}`;
    {
      await using hub = await hubWith({ sshKey: sshd.clientKey });
      await using client = await connectClient(hub.url, TOKEN, 'legacy');
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const r = (await client.callTool({ name: 'git_pull', arguments: { repo_url: url } })) as Result;
      expect(r.isError).toBe(true);
      expect(resultText(r)).toContain(`offered an unknown host key ssh-ed25519 ${sshd.hostFingerprint}: first contact refused`);
      expect(resultText(r)).toContain(`pin it in hub.yaml under internet.git.knownHosts: "${sshd.hostKeyLine}"`);
      expect(existsSync(join(hub.dir, 'data', 'git', 'dotfiles'))).toBe(false);
    }
    await using hub = await hubWith({ sshKey: sshd.clientKey, knownHosts: [sshd.hostKeyLine] });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const r = (await client.callTool({ name: 'git_pull', arguments: { repo_url: url } })) as Result;
    expect(resultText(r)).toMatch(/^Cloned ssh:\/\//);
    expect(r.structuredContent).toMatchObject({ action: 'cloned', head: sh(work, 'rev-parse', 'HEAD') });
    const fetches = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail.upstream === 'git');
    expect(fetches.map((e) => e.detail.method)).toEqual(['GIT']);
  });
});
