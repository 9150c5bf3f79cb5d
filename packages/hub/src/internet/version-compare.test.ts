import { describe, expect, it } from 'vitest';
import { compareVersions, isDateLike, parseVersion, tagVariant } from './version-compare.ts';

const order = (list: string[]) => [...list].sort((a, b) => compareVersions(parseVersion(a)!, parseVersion(b)!));

describe('parseVersion', () => {
  it('reads semver, PEP 440, v-prefixed tags and Docker variants', () => {
    expect(parseVersion('1.27.3-alpine')).toMatchObject({ release: [1, 27, 3], variant: 'alpine' });
    expect(parseVersion('1.27-alpine')).toMatchObject({ release: [1, 27], variant: 'alpine' });
    expect(parseVersion('1.27-alpine')!.pre).toBeUndefined();
    expect(parseVersion('v2.3.1')).toMatchObject({ release: [2, 3, 1], variant: '' });
    expect(parseVersion('2.0.0rc1')).toMatchObject({ release: [2, 0, 0], pre: [3, 1] });
    expect(parseVersion('1.0.0-beta.2')).toMatchObject({ pre: [2, 2] });
    expect(parseVersion('1.0a1')).toMatchObject({ release: [1, 0], pre: [1, 1] });
    expect(parseVersion('3.12.1-slim-bookworm')).toMatchObject({ release: [3, 12, 1], variant: 'slim-bookworm' });
    expect(parseVersion('1.2.3-rc.1-alpine')).toMatchObject({ pre: [3, 1], variant: 'alpine' });
    expect(parseVersion('4.5.6-ls123')).toMatchObject({ release: [4, 5, 6], post: 123, variant: '' });
    expect(parseVersion('1.0.post2')).toMatchObject({ release: [1, 0], post: 2 });
    expect(parseVersion('1.2.3+build.5')).toMatchObject({ release: [1, 2, 3] });
  });

  it('takes names for what they are: not versions', () => {
    for (const t of ['latest', 'stable-alpine', 'sha-1a2b3c', 'main', 'nightly', 'edge', '']) expect(parseVersion(t), t).toBeUndefined();
  });

  it('tells a build tag that only looks numeric', () => {
    expect(isDateLike(parseVersion('20240101')!)).toBe(true);
    expect(isDateLike(parseVersion('2024.12.1')!)).toBe(false);
  });
});

describe('compareVersions', () => {
  it('orders numerically, pre-releases before their release, post-releases after', () => {
    expect(order(['1.10.0', '1.9.9', '1.2.0', '1.2.0-rc.2', '1.2.0-rc.10', '1.2.0-beta.1', '1.2.0-alpha', '1.2.0.post1', '0.9'])).toEqual([
      '0.9',
      '1.2.0-alpha',
      '1.2.0-beta.1',
      '1.2.0-rc.2',
      '1.2.0-rc.10',
      '1.2.0',
      '1.2.0.post1',
      '1.9.9',
      '1.10.0',
    ]);
    expect(order(['2.0.0rc1', '2.0.0.dev3', '2.0.0b2', '2.0.0a1', '2.0.0'])).toEqual(['2.0.0.dev3', '2.0.0a1', '2.0.0b2', '2.0.0rc1', '2.0.0']);
  });

  it('treats missing parts as zero: 1.27 is 1.27.0, and v2.3.1 is 2.3.1', () => {
    expect(compareVersions(parseVersion('1.27')!, parseVersion('1.27.0')!)).toBe(0);
    expect(compareVersions(parseVersion('v2.3.1')!, parseVersion('2.3.1')!)).toBe(0);
    expect(compareVersions(parseVersion('1.27')!, parseVersion('1.27.1')!)).toBeLessThan(0);
  });
});

describe('tagVariant', () => {
  it('gives the suffix a moving tag shares with its versioned tags', () => {
    expect(tagVariant('stable-alpine')).toBe('alpine');
    expect(tagVariant('latest')).toBe('');
    expect(tagVariant('1.27-alpine')).toBe('alpine');
    expect(tagVariant('mainline-alpine-slim')).toBe('alpine-slim');
  });
});
