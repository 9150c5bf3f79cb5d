/**
 * Docker Compose on a node, end to end: the bundled hub, a real edge process started with
 * `--compose-dir`, and a `docker` on its PATH that records every call and answers with captured
 * output (no Docker engine runs here). The fake's log proves what ran, and what the approval
 * gate kept from running.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  connectClient,
  createFakeDocker,
  dockerFixture,
  resultText,
  startEdgeProcess,
  startHubProcess,
  type EdgeProcess,
  type FakeDocker,
  type FakeDockerRule,
  type HubProcess,
} from '@homelab-mcp/testkit';

const ADMIN = 'docker-admin-token-0123456789';
const root = mkdtempSync(join(tmpdir(), 'docker-e2e-'));
const composeDir = join(root, 'stacks');
mkdirSync(join(composeDir, 'homelab'), { recursive: true });
writeFileSync(join(composeDir, 'homelab', 'compose.yaml'), 'services:\n  web:\n    image: nginx:1.27-alpine\n');
mkdirSync(join(composeDir, 'media'));
writeFileSync(join(composeDir, 'media', 'docker-compose.yml'), 'services:\n  jellyfin:\n    image: jellyfin/jellyfin\n');
const homelab = ['compose', '--project-directory', join(composeDir, 'homelab'), '-f', join(composeDir, 'homelab', 'compose.yaml'), '-p', 'homelab'];

const RULES: FakeDockerRule[] = [
  { command: 'compose ls', stdout: dockerFixture('compose-ls.json') },
  { command: 'compose ps', project: 'homelab', stdout: dockerFixture('compose-ps-homelab.ndjson') },
  { command: 'compose ps', project: 'media', stdout: dockerFixture('compose-ps-media-pre-2.21.json') },
  { command: 'compose up', project: 'homelab', stderr: dockerFixture('compose-up.txt') },
  { command: 'compose down', project: 'homelab', stderr: dockerFixture('compose-down.txt') },
  { command: 'compose pull', project: 'homelab', stderr: dockerFixture('compose-pull.txt') },
  { command: 'image ls', stdout: dockerFixture('image-ls.ndjson') },
  { command: 'logs', args: ['nope'], stderr: dockerFixture('error-no-such-container.txt'), exitCode: 1 },
  { command: 'logs', args: ['homelab-web-1'], stdout: dockerFixture('logs-stdout.txt'), stderr: dockerFixture('logs-stderr.txt') },
];

let fake: FakeDocker;
let dock: EdgeProcess;
let bare: EdgeProcess;
let hub: HubProcess;

beforeAll(async () => {
  fake = createFakeDocker(RULES);
  const env = { PATH: fake.pathWith() };
  [dock, bare] = await Promise.all([
    startEdgeProcess({ env, args: ['--compose-dir', composeDir], timeoutMs: 30_000 }),
    startEdgeProcess({ env, timeoutMs: 30_000 }),
  ]);
  hub = await startHubProcess({
    config: {
      auth: { tokens: [{ user: 'dana', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 6000, burst: 1000 } },
      local: { enabled: false },
      nodes: [
        { name: 'dock', url: dock.url, token: '${DOCK_TOKEN}', roles: ['docker'] },
        { name: 'bare', url: bare.url, token: '${BARE_TOKEN}' },
      ],
    },
    env: { DOCK_TOKEN: dock.token, BARE_TOKEN: bare.token },
    timeoutMs: 40_000,
  });
}, 90_000);

afterAll(async () => {
  await hub?.stop();
  await Promise.all([dock?.stop(), bare?.stop()]);
  fake?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  fake.script(RULES);
  fake.clear();
});

type Result = { content: Array<{ type: string; text: string }>; structuredContent: any; isError?: boolean };
async function call(client: Awaited<ReturnType<typeof connectClient>>, name: string, args: Record<string, unknown>): Promise<Result> {
  return (await client.callTool({ name, arguments: args })) as Result;
}
const ran = () => fake.calls().map((c) => c.argv);

describe('reads through the fleet tools', () => {
  it('offers the docker tools with a node argument, writes marked as such', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const n of ['list_stacks', 'get_stack_status', 'list_images', 'get_container_status', 'compose_up', 'compose_down', 'compose_pull']) {
      expect(byName[n]?.inputSchema.required, n).toContain('node');
    }
    // The hub's own get_container_logs finds the node in the topology when it is not given.
    expect(byName.get_container_logs!.inputSchema.required).toEqual(['container']);
    expect(byName.get_container_logs!.inputSchema.properties).toHaveProperty('node');
    expect(byName.compose_down!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.list_stacks!.annotations).toMatchObject({ readOnlyHint: true });
  });

  it('lists the stacks of the compose directory, stopped ones too', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const r = await call(client, 'list_stacks', { node: 'dock' });
    expect(r.isError).toBeFalsy();
    expect(ran()).toEqual([['compose', 'ls', '-a', '--format', 'json']]);
    expect(r.structuredContent.composeDir).toBe(composeDir);
    expect(r.structuredContent.stacks.map((s: any) => [s.name, s.status, s.state])).toEqual([
      ['homelab', 'running(3)', 'running'],
      ['media', 'exited(1), running(2)', 'partly running'],
    ]);
    expect(r.structuredContent.otherProjects.map((p: any) => p.name)).toEqual(['legacy']);
    expect(resultText(r)).toContain(`2 stacks in ${composeDir}: 1 running, 1 partly running`);
  });

  it('shows the containers of a stack, running compose in its folder', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const r = await call(client, 'get_stack_status', { node: 'dock', stack: 'homelab' });
    expect(ran()).toEqual([[...homelab, 'ps', '-a', '--format', 'json']]);
    expect(r.structuredContent.stack).toBe('homelab');
    expect(r.structuredContent.containers.map(({ name, service, state, health, status, ports }: any) => ({ name, service, state, health, status, ports }))).toEqual([
      { name: 'homelab-web-1', service: 'web', state: 'running', health: 'healthy', status: 'Up 2 hours (healthy)', ports: '0.0.0.0:8080->80/tcp, [::]:8080->80/tcp' },
      { name: 'homelab-db-1', service: 'db', state: 'running', health: '', status: 'Up 2 hours', ports: '5432/tcp' },
      { name: 'homelab-cache-1', service: 'cache', state: 'running', health: 'unhealthy', status: 'Up 2 hours (unhealthy)', ports: '127.0.0.1:6379->6379/tcp' },
    ]);
    expect(resultText(r).split('\n')[0]).toBe('stack homelab: 3 containers, 3 running, 1 unhealthy');
    const media = await call(client, 'get_stack_status', { node: 'dock', stack: 'media' });
    expect(media.structuredContent.containers.find((c: any) => c.service === 'sonarr')).toMatchObject({ state: 'exited', status: 'Exited (137) 5 hours ago' });
  });

  it('lists images and reads container logs, stdout and stderr in time order', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const images = await call(client, 'list_images', { node: 'dock' });
    expect(images.structuredContent.images.map((i: any) => `${i.repository}:${i.tag}`)).toEqual(['nginx:1.27-alpine', 'postgres:16-alpine']);
    const logs = await call(client, 'get_container_logs', { node: 'dock', container: 'homelab-web-1' });
    expect(logs.isError).toBeFalsy();
    expect(logs.structuredContent).toMatchObject({ container: 'homelab-web-1', truncated: false });
    expect(logs.structuredContent.lines).toHaveLength(4);
    expect(logs.structuredContent.lines[1]).toBe('2026-11-21T13:40:01.118201554Z 2026/11/21 13:40:01 [notice] 1#1: nginx/1.27.5');
    await call(client, 'get_container_logs', { node: 'dock', container: 'homelab-web-1', lines: 20, since: '10m' });
    expect(ran()).toEqual([
      ['image', 'ls', '--format', 'json'],
      ['logs', '--tail', '100', '--timestamps', 'homelab-web-1'],
      ['logs', '--tail', '20', '--timestamps', '--since', '10m', 'homelab-web-1'],
    ]);
  });

  it('answers failures as clear error results', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const nope = await call(client, 'get_container_logs', { node: 'dock', container: 'nope' });
    expect(nope.isError).toBe(true);
    expect(resultText(nope)).toContain('no container "nope" on this node (Error response from daemon: No such container: nope)');

    fake.script([{ command: 'image ls', stderr: dockerFixture('error-daemon.txt'), exitCode: 1 }]);
    const down = await call(client, 'list_images', { node: 'dock' });
    expect(down.isError).toBe(true);
    expect(resultText(down)).toContain('the Docker daemon is not running or not reachable on this node (docker image ls: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?)');

    fake.clear();
    const bad = await call(client, 'get_stack_status', { node: 'dock', stack: '../etc' });
    expect(bad.isError).toBe(true);
    expect(resultText(bad)).toContain('stack must be the name of a folder in the compose directory');
    const ghost = await call(client, 'get_stack_status', { node: 'dock', stack: 'ghost' });
    expect(resultText(ghost)).toContain(`no stack "ghost" on this node: ${join(composeDir, 'ghost')} does not exist`);
    const noDir = await call(client, 'list_stacks', { node: 'bare' });
    expect(noDir.isError).toBe(true);
    expect(resultText(noDir)).toContain('no compose directory is configured on this node: start its edge with --compose-dir DIR');
    expect(ran()).toEqual([]); // none of them reached docker
  });
});

describe('writes through the approval gate', () => {
  it('holds compose_up until approve_writes, then runs up -d; down and pull likewise', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const held = await call(client, 'compose_up', { node: 'dock', stack: 'homelab' });
    expect(held.structuredContent.status).toBe('approval_required');
    expect(held.structuredContent.preview).toMatchObject({ tool: 'compose_up', where: ['dock'], arguments: { stack: 'homelab' } });
    // The preview says what would run, not just the tool's name.
    expect(resultText(held)).toContain('This would run `docker compose up -d` for stack homelab (its folder in the compose directory) on dock');
    const heldPull = await call(client, 'compose_pull', { node: 'dock', stack: 'homelab', services: ['web'] });
    expect(heldPull.structuredContent.preview.action).toBe('run `docker compose pull web` for stack homelab (its folder in the compose directory) on dock');
    expect(ran()).toEqual([]); // nothing ran

    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).toContain('approved');
    const up = await call(client, 'compose_up', { node: 'dock', stack: 'homelab' });
    expect(up.isError).toBeFalsy();
    expect(up.structuredContent).toMatchObject({ stack: 'homelab', action: 'up', ok: true, exitCode: 0 });
    expect(resultText(up)).toMatch(/^docker compose up -d on stack homelab done in [\d.]+ s:\n Network homelab_default {2}Creating\n/);
    expect(resultText(up)).toContain(' Container homelab-web-1  Started');

    const down = await call(client, 'compose_down', { node: 'dock', stack: 'homelab' });
    expect(resultText(down)).toContain(' Network homelab_default  Removed');
    const pull = await call(client, 'compose_pull', { node: 'dock', stack: 'homelab', services: ['web', 'db'] });
    expect(pull.structuredContent.services).toEqual(['web', 'db']);
    expect(ran()).toEqual([
      [...homelab, 'up', '-d'],
      [...homelab, 'down'],
      [...homelab, 'pull', 'web', 'db'],
    ]);

    const bad = await call(client, 'compose_down', { node: 'dock', stack: '../../etc' });
    expect(bad.isError).toBe(true);
    expect(resultText(bad)).toContain('stack must be the name of a folder in the compose directory');
    const noDir = await call(client, 'compose_up', { node: 'bare', stack: 'homelab' });
    expect(resultText(noDir)).toContain('--compose-dir');
    expect(ran()).toHaveLength(3);
  });
});
