import { describe, expect, it } from 'vitest';
import { compareVersions, isOutdated } from './edge-version.ts';

describe('compareVersions', () => {
  it.each([
    ['0.0.9', '0.1.0', -1],
    ['0.10.0', '0.9.9', 1],
    ['1.2.3', '1.2.3', 0],
    ['v1.2.3', '1.2.3', 0],
    ['1.0.0-rc.2', '1.0.0', -1],
    ['1.0.0-rc.2', '1.0.0-rc.10', -1],
    ['1.0.0-alpha', '1.0.0-1', 1],
    ['1.0.0-rc.1', '1.0.0-rc.1.1', -1],
    ['1.0.0+build.5', '1.0.0', 0],
    ['0.0.0-dev', '0.1.0', -1],
  ] as const)('orders %s against %s as %i', (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
  });

  it('leaves what is not a version unordered, and unknown is never outdated', () => {
    for (const bad of ['nightly', '1.2', '1.2.3.4', '', '1.2.3-', '9'.repeat(20) + '.0.0']) expect(compareVersions(bad, '1.0.0')).toBeUndefined();
    expect(isOutdated(undefined, '0.1.0')).toBeUndefined();
    expect(isOutdated('0.0.9', undefined)).toBeUndefined();
    expect(isOutdated('nightly', '0.1.0')).toBeUndefined();
    expect(isOutdated('0.0.9', '0.1.0')).toBe(true);
  });
});
