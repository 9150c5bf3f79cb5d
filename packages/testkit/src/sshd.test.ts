import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { isAlive } from './process.ts';
import { descendantPids, startSshd } from './sshd.ts';

const dir = mkdtempSync(join(tmpdir(), 'sshd-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ssh(port: number, key: string, knownHosts: string, user: string, cmd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const args = ['-F', '/dev/null', '-p', String(port), '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', `${user}@127.0.0.1`, cmd];
    execFile('ssh', args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}

it('logs in with the client key against the pinned host key, and stop() ends its sessions too', async () => {
  const sshd = await startSshd();
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${sshd.hostKeyLine}\n`);
  expect(sshd.hostKeyLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 AAAA\\S+$`));
  expect(sshd.hostFingerprint).toMatch(/^SHA256:\S+$/);
  expect(statSync(sshd.clientKey).mode & 0o777).toBe(0o600);
  expect(await ssh(sshd.port, sshd.clientKey, knownHosts, sshd.user, 'echo hello-$((40+2))')).toEqual({ code: 0, out: 'hello-42\n' });
  // Host key checking is on: an unpinned key is refused.
  const empty = join(dir, 'empty_known_hosts');
  writeFileSync(empty, '');
  expect((await ssh(sshd.port, sshd.clientKey, empty, sshd.user, 'true')).out).toContain('Host key verification failed');

  const session = ssh(sshd.port, sshd.clientKey, knownHosts, sshd.user, 'sleep 600');
  let sessions: number[] = [];
  for (let i = 0; i < 600 && sessions.length === 0; i++) {
    sessions = descendantPids(sshd.pid);
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(sessions.length).toBeGreaterThan(0);
  await sshd.stop();
  expect(isAlive(sshd.pid)).toBe(false);
  expect(sessions.filter(isAlive)).toEqual([]);
  expect((await session).code).not.toBe(0);
});
