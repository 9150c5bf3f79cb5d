import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findExecutable } from './find-executable.ts';

const dir = mkdtempSync(join(tmpdir(), 'find-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const a = join(dir, 'a');
const b = join(dir, 'b');
mkdirSync(a);
mkdirSync(b);
writeFileSync(join(a, 'tool'), '#!/bin/sh\n', { mode: 0o644 }); // not executable
writeFileSync(join(b, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
writeFileSync(join(a, 'only-a'), '#!/bin/sh\n', { mode: 0o644 });
mkdirSync(join(a, 'dir-tool'));
chmodSync(join(a, 'dir-tool'), 0o755);

describe('findExecutable', () => {
  it('finds the first executable file on PATH, skipping non-executable files like execvp', () => {
    expect(findExecutable('tool', `${a}:${b}`)).toEqual({ path: join(b, 'tool') });
    expect(findExecutable('tool', `::${b}`)).toEqual({ path: join(b, 'tool') });
  });

  it('is undefined for a missing program, and a directory is not a program', () => {
    expect(findExecutable('nope', `${a}:${b}:/nonexistent`)).toBeUndefined();
    expect(findExecutable('dir-tool', a)).toBeUndefined();
    expect(findExecutable('tool', '')).toBeUndefined();
  });

  it('reports a file that exists but may not be executed', () => {
    expect(findExecutable('only-a', `${a}:${b}`)).toEqual({ notExecutable: join(a, 'only-a') });
  });

  it('finds sh on this machine', () => {
    expect(findExecutable('sh', process.env.PATH)).toEqual({ path: expect.stringMatching(/\/sh$/) });
  });
});
