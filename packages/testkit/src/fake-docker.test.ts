import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createFakeDocker, dockerFixture } from './fake-docker.ts';

describe('fake docker', () => {
  it('records argv and cwd, and answers by command, project and arguments', () => {
    using fake = createFakeDocker([
      { command: 'compose ls', stdout: dockerFixture('compose-ls.json') },
      { command: 'compose ps', project: 'homelab', stdout: dockerFixture('compose-ps-homelab.ndjson') },
      { command: 'logs', args: ['nope'], stderr: dockerFixture('error-no-such-container.txt'), exitCode: 1 },
      { command: 'logs', stdout: dockerFixture('logs-stdout.txt'), stderr: dockerFixture('logs-stderr.txt') },
    ]);
    const env = { ...process.env, PATH: fake.pathWith() };
    expect(execFileSync('docker', ['compose', 'ls', '-a', '--format', 'json'], { env, encoding: 'utf8' })).toBe(dockerFixture('compose-ls.json'));
    const ps = ['compose', '--project-directory', '/srv/stacks/homelab', '-f', '/srv/stacks/homelab/compose.yaml', '-p', 'homelab', 'ps', '-a', '--format', 'json'];
    expect(execFileSync('docker', ps, { env, encoding: 'utf8', cwd: '/tmp' })).toBe(dockerFixture('compose-ps-homelab.ndjson'));
    const nope = spawnSync('docker', ['logs', '--tail', '100', '--timestamps', 'nope'], { env, encoding: 'utf8' });
    expect([nope.status, nope.stdout, nope.stderr]).toEqual([1, '', 'Error response from daemon: No such container: nope\n']);
    const logs = spawnSync('docker', ['logs', '--tail', '5', '--timestamps', '--since', '10m', 'homelab-web-1'], { env, encoding: 'utf8' });
    expect([logs.status, logs.stdout, logs.stderr]).toEqual([0, dockerFixture('logs-stdout.txt'), dockerFixture('logs-stderr.txt')]);
    // Unscripted: a loud failure, not a silent success.
    const other = spawnSync('docker', ['compose', '-p', 'media', 'ps'], { env, encoding: 'utf8' });
    expect([other.status, other.stderr]).toEqual([99, 'fake docker: no scripted answer for docker compose -p media ps\n']);

    expect(fake.calls().map((c) => [c.command, c.project, c.args])).toEqual([
      ['compose ls', undefined, []],
      ['compose ps', 'homelab', []],
      ['logs', undefined, ['nope']],
      ['logs', undefined, ['homelab-web-1']],
      ['compose ps', 'media', []],
    ]);
    expect(fake.calls()[1]).toMatchObject({ argv: ps, cwd: '/tmp' });
    fake.clear();
    fake.script([{ command: 'image ls', stdout: 'x\n' }]);
    expect(execFileSync('docker', ['image', 'ls', '--format', 'json'], { env, encoding: 'utf8' })).toBe('x\n');
    expect(fake.calls().map((c) => c.command)).toEqual(['image ls']);
  });
});
