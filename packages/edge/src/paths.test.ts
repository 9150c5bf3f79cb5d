import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { confine, resolveRoots } from './paths.ts';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'paths-')));
const root = join(base, 'root');
mkdirSync(join(root, 'a'), { recursive: true });
symlinkSync(join(base), join(root, 'up'));
symlinkSync(join(root, 'a'), join(root, 'a-link'));
symlinkSync(root, join(base, 'root-link'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('confine', () => {
  it('allows paths inside the roots, existing or not', async () => {
    const roots = await resolveRoots([root]);
    expect(await confine(join(root, 'a'), roots)).toBe(join(root, 'a'));
    expect(await confine(join(root, 'a', 'new', 'file.txt'), roots)).toBe(join(root, 'a', 'new', 'file.txt'));
    expect(await confine(join(root, 'a-link', 'x'), roots)).toBe(join(root, 'a', 'x'));
  });

  it('refuses .., other directories and symlinks that leave', async () => {
    const roots = await resolveRoots([root]);
    await expect(confine(join(root, 'a') + '/../../x', roots)).rejects.toThrow(/contains "\.\."/);
    await expect(confine('/etc/passwd', roots)).rejects.toThrow(/outside the allowed roots/);
    await expect(confine(join(root, 'up', 'secret'), roots)).rejects.toThrow(/resolves through a symlink/);
    await expect(confine(`${root}-sibling/x`, roots)).rejects.toThrow(/outside the allowed roots/);
    await expect(confine('a/b', roots)).rejects.toThrow(/must be absolute/);
  });

  it('accepts a root that is itself a symlink', async () => {
    const roots = await resolveRoots([join(base, 'root-link')]);
    expect(await confine(join(base, 'root-link', 'a'), roots)).toBe(join(root, 'a'));
  });

  it('allows everything under /', async () => {
    const roots = await resolveRoots(['/']);
    expect(await confine('/etc/hostname', roots)).toBe(realpathSync('/etc/hostname'));
  });
});
