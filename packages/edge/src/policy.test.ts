import { describe, expect, it } from 'vitest';
import { globMatcher, parsePolicy, POLICY_META } from './policy.ts';

describe('globMatcher', () => {
  const m = (pattern: string, path: string) => globMatcher(pattern)(path);

  it('matches * within one segment, ? one character, ** whole segments', () => {
    expect(m('/home/*/.ssh/id_*', '/home/pi/.ssh/id_ed25519')).toBe(true);
    expect(m('/home/*/.ssh/id_*', '/home/pi/x/.ssh/id_rsa')).toBe(false);
    expect(m('/etc/gshado?', '/etc/gshadow')).toBe(true);
    expect(m('/etc/gshado?', '/etc/gshadow-')).toBe(false);
    expect(m('**/.ssh/authorized_keys', '/root/.ssh/authorized_keys')).toBe(true);
    expect(m('**/.ssh/authorized_keys', '/srv/a/b/.ssh/authorized_keys')).toBe(true);
    expect(m('/proc/*/environ', '/proc/1234/environ')).toBe(true);
    expect(m('/proc/*/environ', '/proc/1234/task/1234/environ')).toBe(false);
    expect(m('/proc/**/environ', '/proc/1234/task/1234/environ')).toBe(true);
  });

  it('lets X/** match X itself, and nothing beside it', () => {
    expect(m('/root/**', '/root')).toBe(true);
    expect(m('/root/**', '/root/.bashrc')).toBe(true);
    expect(m('/root/**', '/rootfs/x')).toBe(false);
    expect(m('/etc/ssl/private/**', '/etc/ssl/private/key.pem')).toBe(true);
  });

  it('ignores case: a FAT or casefolded directory names a file as the caller spelled it', () => {
    expect(m('/boot/firmware/user-data', '/boot/firmware/USER-DATA')).toBe(true);
    expect(m('**/.ssh/**', '/srv/git/.SSH/id_rsa')).toBe(true);
    expect(m('/boot/firmware/userconf*', '/boot/firmware/UserConf.txt')).toBe(true);
    expect(m('/boot/firmware/user-data', '/boot/firmware/user-data2')).toBe(false);
  });

  it('takes regex characters literally', () => {
    expect(m('/srv/a.b/(x)', '/srv/a.b/(x)')).toBe(true);
    expect(m('/srv/a.b/(x)', '/srv/aXb/(x)')).toBe(false);
  });
});

describe('parsePolicy', () => {
  it('is undefined without a policy, and compiles one', () => {
    expect(parsePolicy(undefined)).toBeUndefined();
    expect(parsePolicy({ progressToken: 1 })).toBeUndefined();
    const p = parsePolicy({ [POLICY_META]: { denyPaths: ['/etc/shadow'], maskEnv: true } })!;
    expect(p.denies('/etc/shadow')).toBe(true);
    expect(p.denies('/etc/passwd')).toBe(false);
    expect(p.maskEnv).toBe(true);
  });

  it('names the key and what was expected when malformed', () => {
    expect(() => parsePolicy({ [POLICY_META]: 'all' })).toThrow(`_meta["${POLICY_META}"]: expected an object`);
    expect(() => parsePolicy({ [POLICY_META]: { denyPaths: [1] } })).toThrow(`_meta["${POLICY_META}"].denyPaths: expected an array`);
    expect(() => parsePolicy({ [POLICY_META]: { maskEnv: 'yes' } })).toThrow(`_meta["${POLICY_META}"].maskEnv: expected true or false`);
    expect(() => parsePolicy({ [POLICY_META]: { denyGlobs: [] } })).toThrow(/unknown key "denyGlobs"/);
  });
});
