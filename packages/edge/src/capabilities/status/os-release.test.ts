import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseOsRelease } from './os-release.ts';

const fixture = (p: string) => readFileSync(new URL(`./__fixtures__/${p}`, import.meta.url), 'utf8');

describe('parseOsRelease', () => {
  it('reads 64-bit Raspberry Pi OS bookworm, which names itself Debian', () => {
    const r = parseOsRelease(fixture('raspberry-pi-4/etc/os-release'));
    expect(r.PRETTY_NAME).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(r.ID).toBe('debian');
    expect(r.VERSION_ID).toBe('12');
    expect(r.VERSION_CODENAME).toBe('bookworm');
  });

  it('reads 32-bit Raspberry Pi OS, single quotes, escapes and comments', () => {
    const r = parseOsRelease(
      '# comment\nPRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nID=raspbian\nID_LIKE=debian\nNAME=\'Raspbian\'\nX="say \\"hi\\" \\$HOME"\n',
    );
    expect(r).toEqual({ PRETTY_NAME: 'Raspbian GNU/Linux 12 (bookworm)', ID: 'raspbian', ID_LIKE: 'debian', NAME: 'Raspbian', X: 'say "hi" $HOME' });
  });
});
