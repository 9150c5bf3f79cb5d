import { scriptedEdgeEnv, toolContext, type ScriptedAnswer } from '@homelab-mcp/testkit';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EdgeEnv, ToolOutput } from '../../capability.ts';
import { validate } from '../../schema.ts';
import { COMPOSE_DIR_MISSING, DOCKER_MISSING, docker, probeDocker, validateContainer, validateSince, validateStackName } from '../docker.ts';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
const tool = (name: string) => docker.tools.find((t) => t.name === name)!;
const call = (name: string, args: Record<string, unknown>, env: EdgeEnv): Promise<ToolOutput> => tool(name).handler(args, toolContext(env));

// A compose directory as a user has it: stacks, a folder that is not one, a name compose
// cannot use, dot folders, a plain file and a symlinked stack.
const root = mkdtempSync(join(tmpdir(), 'docker-cap-'));
const dir = join(root, 'stacks');
const stack = (name: string, file: string) => {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, file), 'services: {}\n');
};
stack('homelab', 'compose.yaml');
stack('media', 'docker-compose.yml');
stack('backup', 'compose.yml');
mkdirSync(join(dir, 'notes'));
writeFileSync(join(dir, 'notes', 'todo.md'), '');
stack('Bad Name', 'compose.yaml');
stack('.git', 'compose.yaml');
writeFileSync(join(dir, 'README.md'), '');
mkdirSync(join(root, 'elsewhere'));
writeFileSync(join(root, 'elsewhere', 'docker-compose.yaml'), 'services: {}\n');
symlinkSync(join(root, 'elsewhere'), join(dir, 'linked'));
// Both normalize to project "homelab": the second is refused, not mixed with the first.
stack('HomeLab', 'compose.yaml');
const binDir = join(root, 'bin');
mkdirSync(binDir);
writeFileSync(join(binDir, 'docker'), '#!/bin/sh\nexit 99\n');
chmodSync(join(binDir, 'docker'), 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const head = (name: string, file = 'compose.yaml') => `docker compose --project-directory ${join(dir, name)} -f ${join(dir, name, file)} -p ${name.toLowerCase()}`;
const envWith = (answers: Record<string, ScriptedAnswer>, composeDir: string | null = dir) => scriptedEdgeEnv(answers, composeDir ? { composeDir } : {});
const DAEMON_DOWN = { stderr: fixture('error-daemon.txt'), exitCode: 1 };

describe('argument validation', () => {
  it('accepts folder names and refuses paths, options and odd characters', () => {
    for (const ok of ['homelab', 'media-server', 'a.b_c', '0day']) expect(validateStackName(ok)).toBe(ok);
    for (const bad of ['../etc', '..', '.', 'a/b', '-p', '', 'x y', 'a\0b', 42, 'x'.repeat(129)]) {
      expect(() => validateStackName(bad)).toThrow(/stack must be the name of a folder in the compose directory/);
    }
  });

  it('checks containers and since', () => {
    expect(validateContainer('homelab-web-1')).toBe('homelab-web-1');
    for (const bad of ['-f', '--tail=1', '', 'a b', '/web']) expect(() => validateContainer(bad)).toThrow(/container must be a container name or ID/);
    for (const ok of ['10m', '1h30m', '42s', '1795268460', '1795268460.5', '2026-11-21', '2026-11-21T13:00:00Z', '2026-11-21T13:00:00.123+01:00']) {
      expect(validateSince(ok)).toBe(ok);
    }
    for (const bad of ['bogus', '-1h', '10 m', '2026-11-21 13:00', 'yesterday']) expect(() => validateSince(bad)).toThrow(/since must be a duration/);
  });
});

describe('schemas and annotations', () => {
  it('describes every argument, refuses unknown ones, and marks reads and writes', () => {
    for (const t of docker.tools) {
      expect(t.inputSchema.additionalProperties).toBe(false);
      for (const p of Object.values(t.inputSchema.properties ?? {})) expect(p.description).toBeTruthy();
    }
    const reads = docker.tools.filter((t) => t.annotations.readOnlyHint).map((t) => t.name);
    expect(reads).toEqual(['list_stacks', 'get_stack_status', 'list_images', 'get_container_status', 'get_container_logs']);
    expect(tool('compose_down').annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(tool('compose_up').annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(tool('compose_pull').annotations).toMatchObject({ readOnlyHint: false, openWorldHint: true });
    expect(validate(tool('compose_down').inputSchema, { stack: 'x', services: ['web'] })).toEqual(['services: is not a known argument']);
    expect(validate(tool('get_container_logs').inputSchema, { container: 'x', lines: 5001 })).toEqual(['lines: must be <= 5000']);
  });
});

describe('list_stacks', () => {
  it('joins the folders with docker compose ls, so stopped and never-started stacks show', async () => {
    const { env, argv, calls } = envWith({ 'docker compose ls -a --format json': { stdout: fixture('compose-ls.json') } });
    const out = await call('list_stacks', {}, env);
    expect(argv()).toEqual(['docker compose ls -a --format json']);
    expect(calls[0]).toMatchObject({ timeoutMs: 20_000, maxBytes: 1 << 20, env: env.childEnv });
    expect(out.isError).toBeFalsy();
    const stacks = out.data.stacks as Array<Record<string, unknown>>;
    expect(stacks.map((s) => [s.name, s.status, s.state])).toEqual([
      ['backup', 'not created', 'not created'],
      ['homelab', 'running(3)', 'running'],
      ['linked', 'not created', 'not created'],
      ['media', 'exited(1), running(2)', 'partly running'],
    ]);
    expect(stacks[1]).toMatchObject({ project: 'homelab', directory: join(dir, 'homelab'), composeFile: join(dir, 'homelab', 'compose.yaml'), counts: { running: 3 } });
    expect(stacks[2]!.composeFile).toBe(join(dir, 'linked', 'docker-compose.yaml'));
    expect(out.data.otherProjects).toEqual([
      expect.objectContaining({ name: 'legacy', status: 'exited(2)' }),
    ]);
    expect(out.data.ignored).toEqual([
      { name: 'Bad Name', reason: 'the name is not a valid stack name (letters, digits, _ . -)' },
      { name: 'HomeLab', reason: 'its compose project name "homelab" is the same as that of stack homelab' },
      { name: 'notes', reason: 'no compose file in it' },
    ]);
    expect(out.text).toContain(`4 stacks in ${dir}: 2 not created, 1 running, 1 partly running`);
    expect(out.text).toMatch(/^ {2}media {4}exited\(1\), running\(2\)$/m);
    expect(out.text).toContain(`other compose projects on this node (not in ${dir}): legacy exited(2)`);
  });

  it('still lists the folders, as an error result, when the daemon is down', async () => {
    const { env } = envWith({ 'docker compose ls -a --format json': DAEMON_DOWN });
    const out = await call('list_stacks', {}, env);
    expect(out.isError).toBe(true);
    expect(out.text!.split('\n')[0]).toBe(
      'the Docker daemon is not running or not reachable on this node (docker compose ls: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?)',
    );
    expect((out.data.stacks as Array<Record<string, unknown>>).map((s) => s.status)).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
    expect(out.data.error).toMatchObject({ code: 'DOCKER_DAEMON_UNREACHABLE' });
  });

  it('says which flag to set when there is no compose directory, and runs nothing', async () => {
    const { env, calls } = envWith({}, null);
    await expect(call('list_stacks', {}, env)).rejects.toThrow(COMPOSE_DIR_MISSING);
    await expect(call('compose_up', { stack: 'homelab' }, env)).rejects.toThrow(/start its edge with --compose-dir DIR/);
    const missing = envWith({}, join(root, 'nope'));
    await expect(call('get_stack_status', { stack: 'homelab' }, missing.env)).rejects.toThrow(`the compose directory ${join(root, 'nope')} (--compose-dir) does not exist`);
    expect(calls).toEqual([]);
    expect(missing.calls).toEqual([]);
  });

  it('says when the Compose plugin is not installed', async () => {
    const { env } = envWith({ 'docker compose ls -a --format json': { stderr: fixture('error-compose-missing.txt'), exitCode: 125 } });
    const out = await call('list_stacks', {}, env);
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(/^Docker Compose v2 is not installed on this node: docker has no compose command \(install the docker-compose-plugin package\); docker said: unknown flag: --project-directory$/m);
  });
});

describe('get_stack_status', () => {
  it('runs compose ps in the stack folder and returns the containers', async () => {
    const { env, argv } = envWith({ [`${head('homelab')} ps -a --format json`]: { stdout: fixture('compose-ps-homelab.ndjson') } });
    const out = await call('get_stack_status', { stack: 'homelab' }, env);
    expect(argv()).toEqual([`${head('homelab')} ps -a --format json`]);
    expect(out.data.stack).toBe('homelab');
    expect(out.data.containers).toEqual([
      expect.objectContaining({ name: 'homelab-web-1', service: 'web', state: 'running', health: 'healthy', status: 'Up 2 hours (healthy)', ports: '0.0.0.0:8080->80/tcp, [::]:8080->80/tcp' }),
      expect.objectContaining({ name: 'homelab-db-1', service: 'db', state: 'running', health: '', status: 'Up 2 hours', ports: '5432/tcp' }),
      expect.objectContaining({ name: 'homelab-cache-1', service: 'cache', health: 'unhealthy' }),
    ]);
    expect(out.text!.split('\n')[0]).toBe('stack homelab: 3 containers, 3 running, 1 unhealthy');
    expect(out.text).toMatch(/^ {2}homelab-web-1 {4}web {4}running {5}Up 2 hours \(healthy\) {2}0\.0\.0\.0:8080->80\/tcp/m);
  });

  it('reads the array older compose prints, with the stack\'s own compose file', async () => {
    const { env } = envWith({ [`${head('media', 'docker-compose.yml')} ps -a --format json`]: { stdout: fixture('compose-ps-media-pre-2.21.json') } });
    const out = await call('get_stack_status', { stack: 'media' }, env);
    expect((out.data.containers as Array<Record<string, unknown>>).map((c) => [c.service, c.state, c.exitCode])).toEqual([
      ['jellyfin', 'running', 0],
      ['qbittorrent', 'running', 0],
      ['sonarr', 'exited', 137],
    ]);
    expect(out.text!.split('\n')[0]).toBe('stack media: 3 containers, 2 running');
  });

  it('says a stack that is not up has no containers', async () => {
    const { env } = envWith({ [`${head('backup', 'compose.yml')} ps -a --format json`]: { stdout: '' } });
    const out = await call('get_stack_status', { stack: 'backup' }, env);
    expect(out.data.containers).toEqual([]);
    expect(out.text).toBe('stack backup has no containers (it is not up; compose_up starts it)');
  });

  it('refuses bad and unknown stacks before running anything', async () => {
    const { env, calls } = envWith({});
    await expect(call('get_stack_status', { stack: '../etc' }, env)).rejects.toThrow('stack must be the name of a folder in the compose directory');
    await expect(call('get_stack_status', { stack: 'ghost' }, env)).rejects.toThrow(`no stack "ghost" on this node: ${join(dir, 'ghost')} does not exist (list_stacks shows the stacks in ${dir})`);
    await expect(call('compose_up', { stack: 'HomeLab' }, env)).rejects.toThrow('"HomeLab" is not a usable stack: its compose project name "homelab" is the same as that of stack homelab');
    await expect(call('get_stack_status', { stack: 'notes' }, env)).rejects.toThrow(/has no compose file \(looked for compose\.yaml, compose\.yml, docker-compose\.yaml, docker-compose\.yml\)/);
    expect(calls).toEqual([]);
  });

  it('turns a hung docker into a clear timeout', async () => {
    const { env } = envWith({ [`${head('homelab')} ps -a --format json`]: { exitCode: null, signal: 'SIGTERM', timedOut: true } });
    await expect(call('get_stack_status', { stack: 'homelab' }, env)).rejects.toThrow('docker compose ps did not finish within 20 s and was stopped (is the Docker daemon hung?)');
  });
});

describe('list_images', () => {
  it('lists what docker image ls printed', async () => {
    const { env, argv } = envWith({ 'docker image ls --format json': { stdout: fixture('image-ls.ndjson') } });
    const out = await call('list_images', {}, env);
    expect(argv()).toEqual(['docker image ls --format json']);
    expect(out.data.count).toBe(2);
    expect((out.data.images as Array<Record<string, unknown>>)[0]).toMatchObject({ repository: 'nginx', tag: '1.27-alpine', id: '1b8b2a3c4d5e', size: '48MB' });
    expect(out.text).toBe('2 images\n  nginx:1.27-alpine   1b8b2a3c4d5e     48MB  18 months ago\n  postgres:16-alpine  7d3e4f5a6b7c    275MB  19 months ago');
  });

  it('says the daemon is down', async () => {
    const { env } = envWith({ 'docker image ls --format json': DAEMON_DOWN });
    await expect(call('list_images', {}, env)).rejects.toThrow(/^the Docker daemon is not running or not reachable on this node \(docker image ls: Cannot connect/);
  });
});

describe('get_container_status', () => {
  it('shows state, failing health check, restarts and its stack', async () => {
    const { env, argv } = envWith({ 'docker inspect --type container homelab-web-1': { stdout: fixture('inspect-web.json') } });
    const out = await call('get_container_status', { container: 'homelab-web-1' }, env);
    expect(argv()).toEqual(['docker inspect --type container homelab-web-1']);
    expect(out.data).toEqual({
      name: 'homelab-web-1',
      id: '7f149ab7d1e8',
      image: 'nginx:1.27',
      state: 'running',
      health: 'unhealthy',
      healthLog: 'curl: (7) Failed to connect to localhost port 80: Connection refused',
      exitCode: 0,
      error: '',
      oomKilled: false,
      restartCount: 2,
      startedAt: '2026-11-21T13:40:00.998877665Z',
      finishedAt: null,
      project: 'homelab',
      service: 'web',
    });
    expect(out.text).toBe(
      [
        'container homelab-web-1 (nginx:1.27, 7f149ab7d1e8) is running (unhealthy) since 2026-11-21T13:40:00.998877665Z',
        'restarted 2 times',
        'compose stack homelab, service web',
        'last health check: curl: (7) Failed to connect to localhost port 80: Connection refused',
      ].join('\n'),
    );
  });

  it('says how a stopped container ended', async () => {
    const { env } = envWith({ 'docker inspect --type container homelab-db-1': { stdout: fixture('inspect-exited.json') } });
    const out = await call('get_container_status', { container: 'homelab-db-1' }, env);
    expect(out.text).toBe('container homelab-db-1 (postgres:15-alpine, 0a1b2c3d4e5f) is exited (ended 2026-11-21T13:10:42.25Z)\nexit code 137, killed for lack of memory (OOM)\ncompose stack homelab, service db');
  });

  it('names a container that does not exist', async () => {
    const { env } = envWith({ 'docker inspect --type container nope': { stdout: '[]\n', stderr: 'Error: No such container: nope\n', exitCode: 1 } });
    await expect(call('get_container_status', { container: 'nope' }, env)).rejects.toThrow('no container "nope" on this node (Error: No such container: nope)');
  });
});

describe('get_container_logs', () => {
  const logs = { stdout: fixture('logs-stdout.txt'), stderr: fixture('logs-stderr.txt') };

  it('merges stdout and stderr in time order, 100 lines by default', async () => {
    const { env, argv } = envWith({ 'docker logs --tail 100 --timestamps homelab-web-1': logs });
    const out = await call('get_container_logs', { container: 'homelab-web-1' }, env);
    expect(argv()).toEqual(['docker logs --tail 100 --timestamps homelab-web-1']);
    expect(out.isError).toBeFalsy();
    expect(out.data).toEqual({
      container: 'homelab-web-1',
      truncated: false,
      lines: [
        '2026-11-21T13:40:01.104817263Z /docker-entrypoint.sh: Configuration complete; ready for start up',
        '2026-11-21T13:40:01.118201554Z 2026/11/21 13:40:01 [notice] 1#1: nginx/1.27.5',
        '2026-11-21T13:41:17.502113008Z 172.18.0.1 - - [21/Nov/2026:13:41:17 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.5.0" "-"',
        '2026-11-21T13:42:09.990123411Z 2026/11/21 13:42:09 [error] 29#29: *2 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory)',
      ],
    });
    expect(out.text!.split('\n')[0]).toBe('last 4 log lines of container homelab-web-1 (stdout and stderr, oldest first):');
  });

  it('passes lines and since', async () => {
    const { env, argv } = envWith({ 'docker logs --tail 5 --timestamps --since 1h30m homelab-web-1': { stdout: '' } });
    const out = await call('get_container_logs', { container: 'homelab-web-1', lines: 5, since: '1h30m' }, env);
    expect(argv()).toEqual(['docker logs --tail 5 --timestamps --since 1h30m homelab-web-1']);
    expect(out.data).toEqual({ container: 'homelab-web-1', lines: [], truncated: false, since: '1h30m' });
    expect(out.text).toBe('container homelab-web-1 wrote no log lines since 1h30m');
  });

  it('flags output the edge cut', async () => {
    const { env } = envWith({ 'docker logs --tail 100 --timestamps web': { stdout: fixture('logs-stdout.txt').slice(0, 150), stdoutTruncated: true } });
    const out = await call('get_container_logs', { container: 'web' }, env);
    expect(out.data).toMatchObject({ truncated: true, lines: ['2026-11-21T13:40:01.104817263Z /docker-entrypoint.sh: Configuration complete; ready for start up'] });
  });

  it('says which container does not exist, and when the daemon is down', async () => {
    const { env } = envWith({
      'docker logs --tail 100 --timestamps nope': { stderr: fixture('error-no-such-container.txt'), exitCode: 1 },
      'docker logs --tail 100 --timestamps web': DAEMON_DOWN,
    });
    await expect(call('get_container_logs', { container: 'nope' }, env)).rejects.toThrow(
      'no container "nope" on this node (Error response from daemon: No such container: nope); get_stack_status lists the containers of a stack',
    );
    await expect(call('get_container_logs', { container: 'web' }, env)).rejects.toThrow(/^the Docker daemon is not running/);
  });

  it('refuses bad arguments before running anything', async () => {
    const { env, calls } = envWith({});
    await expect(call('get_container_logs', { container: '--since=1h' }, env)).rejects.toThrow(/container must be/);
    await expect(call('get_container_logs', { container: 'web', lines: 0 }, env)).rejects.toThrow('lines must be a whole number from 1 to 5000, got 0');
    await expect(call('get_container_logs', { container: 'web', since: '-1h' }, env)).rejects.toThrow(/since must be a duration/);
    expect(calls).toEqual([]);
  });

  it('works without a compose directory', async () => {
    const { env } = envWith({ 'docker logs --tail 100 --timestamps web': logs }, null);
    expect((await call('get_container_logs', { container: 'web' }, env)).data.lines).toHaveLength(4);
  });
});

describe('compose_up, compose_down, compose_pull', () => {
  it('runs up -d for the stack (or some services) and relays what compose did', async () => {
    const { env, argv, calls } = envWith({
      [`${head('homelab')} up -d`]: { stderr: fixture('compose-up.txt'), durationMs: 4200 },
      [`${head('homelab')} up -d web db`]: { stderr: ' Container homelab-web-1  Running\n' },
    });
    const out = await call('compose_up', { stack: 'homelab' }, env);
    expect(calls[0]).toMatchObject({ timeoutMs: 110_000 });
    expect(out.isError).toBe(false);
    expect(out.data).toMatchObject({ stack: 'homelab', project: 'homelab', action: 'up', services: [], ok: true, exitCode: 0, truncated: false });
    expect(out.text!.split('\n').slice(0, 2)).toEqual(['docker compose up -d on stack homelab done in 4.2 s:', ' Network homelab_default  Creating']);
    expect(out.text).toContain(' Container homelab-web-1  Started');
    await call('compose_up', { stack: 'homelab', services: ['web', 'db'], timeout_s: 600 }, env);
    expect(calls[1]).toMatchObject({ timeoutMs: 600_000 });
    expect(argv()).toEqual([`${head('homelab')} up -d`, `${head('homelab')} up -d web db`]);
  });

  it('runs down, and pull without the per-layer progress', async () => {
    const { env, argv } = envWith({
      [`${head('homelab')} down`]: { stderr: fixture('compose-down.txt') },
      [`${head('homelab')} pull`]: { stderr: fixture('compose-pull.txt') },
    });
    const down = await call('compose_down', { stack: 'homelab' }, env);
    expect(down.text).toContain(' Network homelab_default  Removed');
    const pull = await call('compose_pull', { stack: 'homelab' }, env);
    expect(pull.data.output).toBe(' cache Pulling\n db Pulling\n web Pulling\n db Pulled\n cache Pulled\n web Pulled');
    expect(argv()).toEqual([`${head('homelab')} down`, `${head('homelab')} pull`]);
  });

  it('returns compose\'s own words as an error result when it fails', async () => {
    const stderr = ' web Pulling \n web Error manifest for nginx:9.99 not found: manifest unknown: manifest unknown\nError response from daemon: manifest for nginx:9.99 not found: manifest unknown: manifest unknown\n';
    const { env } = envWith({ [`${head('homelab')} pull web`]: { stderr, exitCode: 18 } });
    const out = await call('compose_pull', { stack: 'homelab', services: ['web'] }, env);
    expect(out.isError).toBe(true);
    expect(out.data).toMatchObject({ ok: false, exitCode: 18 });
    expect(out.text).toBe(`docker compose pull web on stack homelab failed (exit 18):\n${stderr.split('\n').filter(Boolean).map((l) => l.trimEnd()).join('\n')}`);
  });

  it('refuses a second write to a stack while one runs, and allows it after', async () => {
    let finish!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const { env } = envWith({});
    // A compose up that runs until the test lets it finish.
    env.run = async (opts) => {
      if (opts.args?.includes('up')) {
        started();
        await new Promise<void>((r) => (finish = r));
      }
      return { stdout: '', stderr: '', exitCode: 0, signal: null, timedOut: false, aborted: false, stdoutTruncated: false, stderrTruncated: false, stdoutBytes: 0, stderrBytes: 0, durationMs: 1 };
    };
    const up = call('compose_up', { stack: 'homelab' }, env);
    await running;
    await expect(call('compose_down', { stack: 'homelab' }, env)).rejects.toThrow(/^docker compose up is still running on stack homelab \(for \d+ s\); try again when it is done$/);
    // Another stack is not held up.
    expect((await call('compose_down', { stack: 'media' }, env)).isError).toBe(false);
    finish();
    expect((await up).isError).toBe(false);
    expect((await call('compose_down', { stack: 'homelab' }, env)).isError).toBe(false);
  });

  it('says the daemon is down instead of relaying output', async () => {
    const { env } = envWith({ [`${head('homelab')} down`]: DAEMON_DOWN });
    await expect(call('compose_down', { stack: 'homelab' }, env)).rejects.toThrow(/^the Docker daemon is not running or not reachable on this node \(docker compose down: Cannot connect/);
  });

  it('refuses bad stacks, services and timeouts before running anything', async () => {
    const { env, calls } = envWith({});
    await expect(call('compose_up', { stack: '..' }, env)).rejects.toThrow(/stack must be/);
    await expect(call('compose_up', { stack: 'homelab', services: ['--build'] }, env)).rejects.toThrow(/services must be a list of at most 64 compose service names/);
    await expect(call('compose_pull', { stack: 'homelab', timeout_s: 0 }, env)).rejects.toThrow(/timeout_s must be a number of seconds from 1 to 3600/);
    await expect(call('compose_down', { stack: 'ghost' }, env)).rejects.toThrow(/no stack "ghost"/);
    expect(calls).toEqual([]);
  });
});

describe('probe', () => {
  it('finds docker on the PATH without running it', async () => {
    const { env, calls } = scriptedEdgeEnv({}, { childEnv: { PATH: binDir }, composeDir: dir });
    expect(await probeDocker(env)).toEqual({ ok: true, detail: `${join(binDir, 'docker')}; compose directory ${dir}` });
    const none = scriptedEdgeEnv({}, { childEnv: { PATH: join(root, 'elsewhere') } });
    expect(await probeDocker(none.env)).toEqual({ ok: false, reason: DOCKER_MISSING });
    const noDir = scriptedEdgeEnv({}, { childEnv: { PATH: binDir } });
    expect(await probeDocker(noDir.env)).toMatchObject({ ok: true, detail: expect.stringContaining('no --compose-dir') });
    expect(calls).toEqual([]);
  });

  it('says docker is not installed when it cannot be spawned', async () => {
    const enoent = Object.assign(new Error('spawn docker ENOENT'), { code: 'ENOENT' });
    const { env } = envWith({ 'docker image ls --format json': enoent });
    await expect(call('list_images', {}, env)).rejects.toThrow(DOCKER_MISSING);
  });
});
