import { describe, expect, it } from 'vitest';
import { checkRepoPath, parseRepoUrl } from './git-pull.ts';

describe('parseRepoUrl', () => {
  it('drops credentials of https URLs and says so; keeps an ssh user name', () => {
    expect(parseRepoUrl('https://x-access-token:ghp_abc@github.com/me/dots.git', false)).toMatchObject({ kind: 'https', gitUrl: 'https://github.com/me/dots.git', hadCredentials: true, lastSegment: 'dots' });
    expect(parseRepoUrl('https://ghp_abc@github.com/me/dots', false)).toMatchObject({ gitUrl: 'https://github.com/me/dots', hadCredentials: true });
    expect(parseRepoUrl('ssh://git@10.0.0.2:2222/homelab/playbooks.git', false)).toMatchObject({ kind: 'ssh', gitUrl: 'ssh://git@10.0.0.2:2222/homelab/playbooks.git', port: 2222, hadCredentials: false, lastSegment: 'playbooks' });
    expect(parseRepoUrl('git@github.com:me/dots.git', false)).toMatchObject({ kind: 'ssh', host: 'github.com', lastSegment: 'dots' });
  });

  it('refuses remote helpers, other transports, options, and local repositories unless allowed', () => {
    expect(parseRepoUrl('ext::sh -c touch% /tmp/x', true)).toMatch(/"ext::" transport is refused/);
    expect(parseRepoUrl('fd::17', true)).toMatch(/"fd::" transport is refused/);
    expect(parseRepoUrl('ftp://h/r.git', true)).toMatch(/the ftp: transport is refused/);
    expect(parseRepoUrl('-uhttps://x', true)).toMatch(/does not start with "-"/);
    expect(parseRepoUrl('/srv/git/r.git', false)).toMatch(/file URLs and local paths are refused/);
    expect(parseRepoUrl('file:///srv/git/r.git', false)).toMatch(/file URLs and local paths are refused/);
    expect(parseRepoUrl('/srv/git/r.git', true)).toMatchObject({ kind: 'file', lastSegment: 'r' });
  });
});

describe('checkRepoPath', () => {
  it('keeps a folder inside the git dir', () => {
    expect(checkRepoPath('dotfiles')).toBeUndefined();
    expect(checkRepoPath('infra/ansible')).toBeUndefined();
    for (const p of ['../../etc', '/etc', 'a/../b', '.git', 'a/.hidden', 'a//b', '']) expect(checkRepoPath(p), p).toMatch(/must be a folder inside internet.git.dir/);
  });
});
