import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  classifyDockerFailure,
  formatPublishers,
  mergeLogStreams,
  normalizeProjectName,
  parseComposeLs,
  parseComposePs,
  parseImageLs,
  parseStatusCounts,
  summarizeComposeOutput,
} from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');

describe('docker compose ls', () => {
  it('reads the single JSON array, status counts and every config file', () => {
    expect(parseComposeLs(fixture('compose-ls.json'))).toEqual([
      { name: 'homelab', status: 'running(3)', counts: { running: 3 }, configFiles: ['/srv/stacks/homelab/compose.yaml'] },
      { name: 'media', status: 'exited(1), running(2)', counts: { exited: 1, running: 2 }, configFiles: ['/srv/stacks/media/docker-compose.yml'] },
      {
        name: 'legacy',
        status: 'exited(2)',
        counts: { exited: 2 },
        configFiles: ['/home/admin/legacy/docker-compose.yml', '/home/admin/legacy/docker-compose.override.yml'],
      },
    ]);
    expect(parseComposeLs('[]\n')).toEqual([]);
    expect(parseComposeLs('')).toEqual([]);
  });

  it('counts states', () => {
    expect(parseStatusCounts('exited(1), running(2), paused(1)')).toEqual({ exited: 1, running: 2, paused: 1 });
    expect(parseStatusCounts('')).toEqual({});
  });

  it('says the output was cut when a cut array cannot be read, and calls other garbage invalid', () => {
    const text = fixture('compose-ls.json');
    expect(() => parseComposeLs(text.slice(0, 60), true)).toThrow(/longer than the edge's output cap/);
    expect(() => parseComposeLs('[{"Name":')).toThrow(/could not read the output of docker compose ls/);
  });
});

describe('docker compose ps', () => {
  it('reads NDJSON (compose >= 2.21)', () => {
    const cs = parseComposePs(fixture('compose-ps-homelab.ndjson'));
    expect(cs.map((c) => [c.name, c.service, c.state, c.health, c.status, c.ports])).toEqual([
      ['homelab-web-1', 'web', 'running', 'healthy', 'Up 2 hours (healthy)', '0.0.0.0:8080->80/tcp, [::]:8080->80/tcp'],
      ['homelab-db-1', 'db', 'running', '', 'Up 2 hours', '5432/tcp'],
      ['homelab-cache-1', 'cache', 'running', 'unhealthy', 'Up 2 hours (unhealthy)', '127.0.0.1:6379->6379/tcp'],
    ]);
    expect(cs[0]).toMatchObject({ image: 'nginx:1.27-alpine', exitCode: 0, id: '3f9a1c2b7d4e' });
  });

  it('reads the JSON array of compose < 2.21, building ports from Publishers', () => {
    const cs = parseComposePs(fixture('compose-ps-media-pre-2.21.json'));
    expect(cs.map((c) => [c.name, c.service, c.state, c.status, c.ports, c.exitCode, c.id])).toEqual([
      ['media-jellyfin-1', 'jellyfin', 'running', 'Up 3 days', '0.0.0.0:8096->8096/tcp', 0, '5d2e8f1a9c07'],
      ['media-qbittorrent-1', 'qbittorrent', 'running', 'Up 3 days', '0.0.0.0:8081->8081/tcp, 6881/udp', 0, '9b8a7c6d5e4f'],
      ['media-sonarr-1', 'sonarr', 'exited', 'Exited (137) 5 hours ago', '', 137, '1a2b3c4d5e6f'],
    ]);
  });

  it('formats IPv6 publishers the way docker does', () => {
    expect(formatPublishers([{ URL: '::', TargetPort: 80, PublishedPort: 8080, Protocol: 'tcp' }])).toBe('[::]:8080->80/tcp');
    expect(formatPublishers(null)).toBe('');
  });

  it('is empty for a stack that is not up, and drops a partial last line of cut output', () => {
    expect(parseComposePs('')).toEqual([]);
    const text = fixture('compose-ps-homelab.ndjson');
    const cut = text.slice(0, text.indexOf('\n') + 40);
    expect(parseComposePs(cut, true).map((c) => c.name)).toEqual(['homelab-web-1']);
    expect(() => parseComposePs(cut, false)).toThrow(/docker compose ps: line 2/);
  });
});

describe('docker image ls', () => {
  it('reads the NDJSON the docker 28.2.2 CLI printed', () => {
    expect(parseImageLs(fixture('image-ls.ndjson'))).toEqual([
      { repository: 'nginx', tag: '1.27-alpine', id: '1b8b2a3c4d5e', digest: null, createdAt: '2025-05-15 09:06:40 +0000 UTC', createdSince: '18 months ago', size: '48MB' },
      { repository: 'postgres', tag: '16-alpine', id: '7d3e4f5a6b7c', digest: null, createdAt: '2025-04-30 08:00:00 +0000 UTC', createdSince: '19 months ago', size: '275MB' },
    ]);
  });
});

describe('docker logs', () => {
  it('merges the two streams in time order', () => {
    const { lines, cut } = mergeLogStreams(fixture('logs-stdout.txt'), fixture('logs-stderr.txt'), { maxLineChars: 8192 });
    expect(cut).toBe(false);
    expect(lines.map((l) => l.slice(0, 30))).toEqual([
      '2026-11-21T13:40:01.104817263Z',
      '2026-11-21T13:40:01.118201554Z',
      '2026-11-21T13:41:17.502113008Z',
      '2026-11-21T13:42:09.990123411Z',
    ]);
    expect(lines[1]).toBe('2026-11-21T13:40:01.118201554Z 2026/11/21 13:40:01 [notice] 1#1: nginx/1.27.5');
    expect(lines[3]).toContain('[error] 29#29: *2 open() "/usr/share/nginx/html/favicon.ico" failed');
  });

  it('cuts long lines and drops a partial line of a cut stream', () => {
    const long = `2026-11-21T13:40:01.000000000Z ${'x'.repeat(100)}\n`;
    const r = mergeLogStreams(long, '', { maxLineChars: 50 });
    expect(r.cut).toBe(true);
    expect(r.lines[0]).toMatch(/^2026-11-21T13:40:01\.000000000Z x+ \[… 81 more characters cut\]$/);
    const partial = mergeLogStreams('2026-11-21T13:40:01.000000000Z a\n2026-11-21T13:40:02.0000', '', { maxLineChars: 50, stdoutTruncated: true });
    expect(partial.lines).toEqual(['2026-11-21T13:40:01.000000000Z a']);
    expect(mergeLogStreams('', '', { maxLineChars: 50 }).lines).toEqual([]);
    const tty = mergeLogStreams('2026-11-21T13:40:01.000000000Z a\r\n2026-11-21T13:40:02.000000000Z b\r\n', '', { maxLineChars: 50 });
    expect(tty.lines).toEqual(['2026-11-21T13:40:01.000000000Z a', '2026-11-21T13:40:02.000000000Z b']);
  });
});

describe('compose output', () => {
  it('keeps what compose did and drops per-layer pull progress', () => {
    const { output, cut } = summarizeComposeOutput(fixture('compose-pull.txt'), 200);
    expect(cut).toBe(false);
    expect(output.split('\n')).toEqual([' cache Pulling', ' db Pulling', ' web Pulling', ' db Pulled', ' cache Pulled', ' web Pulled']);
  });

  it('keeps the last lines when there are too many', () => {
    const { output, cut } = summarizeComposeOutput(fixture('compose-up.txt'), 3);
    expect(cut).toBe(true);
    expect(output.split('\n')).toEqual(['[… 11 earlier lines cut]', ' Container homelab-cache-1  Started', ' Container homelab-web-1  Starting', ' Container homelab-web-1  Started']);
  });
});

describe('failures', () => {
  it('recognizes the real messages of the docker CLI', () => {
    expect(classifyDockerFailure(fixture('error-daemon.txt'), 1, false)).toBe('daemon-unreachable');
    expect(classifyDockerFailure(fixture('error-daemon.txt'), 1, true)).toBe('daemon-unreachable');
    expect(classifyDockerFailure(fixture('error-compose-missing.txt'), 125, true)).toBe('compose-missing');
    expect(classifyDockerFailure(fixture('error-no-such-container.txt'), 1, false)).toBe('no-such-container');
    expect(classifyDockerFailure('invalid value for "since": failed to parse value as time or duration: "bogus"', 1, false)).toBe('invalid-since');
    expect(
      classifyDockerFailure('permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.50/images/json": dial unix /var/run/docker.sock: connect: permission denied', 1, false),
    ).toBe('permission-denied');
    expect(classifyDockerFailure('service "nope" has neither an image nor a build context specified: invalid compose project', 1, true)).toBe('other');
  });
});

describe('project names', () => {
  it('derives the name compose would from a folder', () => {
    expect(normalizeProjectName('homelab')).toBe('homelab');
    expect(normalizeProjectName('Media.Server_2')).toBe('mediaserver_2');
    expect(normalizeProjectName('0-day')).toBe('0-day');
  });
});
