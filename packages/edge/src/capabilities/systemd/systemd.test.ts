import { scriptedEdgeEnv, testEdgeEnv } from '@homelab-mcp/testkit';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { EdgeEnv, ToolContext } from '../../capability.ts';
import { validate } from '../../schema.ts';
import { SYSTEMD_RUN_DIR, normalizeUnitName, probeSystemd, systemd } from '../systemd.ts';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
const tool = (name: string) => systemd.tools.find((t) => t.name === name)!;


const ctxOf = (env: EdgeEnv): ToolContext => ({ env, signal: new AbortController().signal });
const PROPS = '--property=Id,Description,LoadState,ActiveState,SubState,UnitFileState,MainPID,ExecMainStartTimestamp,ActiveEnterTimestamp,NRestarts,MemoryCurrent,Result';
const show = (unit: string) => `systemctl show ${unit} --no-pager ${PROPS}`;
const LIST = 'systemctl list-units --type=service --all --plain --no-legend --no-pager --full';
const NOT_BOOTED = {
  exitCode: 1,
  stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n",
};

describe('normalizeUnitName', () => {
  it('adds .service when the name has no unit suffix', () => {
    expect(normalizeUnitName('nginx')).toBe('nginx.service');
    expect(normalizeUnitName('nginx.service')).toBe('nginx.service');
    expect(normalizeUnitName('getty@tty1')).toBe('getty@tty1.service');
    expect(normalizeUnitName('apt-daily.timer')).toBe('apt-daily.timer');
    expect(normalizeUnitName('docker.socket')).toBe('docker.socket');
    expect(normalizeUnitName('php8.2-fpm')).toBe('php8.2-fpm.service');
    expect(normalizeUnitName('systemd-fsck@dev-disk-by\\x2dlabel-root')).toBe('systemd-fsck@dev-disk-by\\x2dlabel-root.service');
  });

  it('refuses names that are not unit names, or that systemctl would read as an option', () => {
    for (const bad of ['', '-H', '--host=evil', 'nginx service', 'a;reboot', 'x/y', 'x'.repeat(257), 7]) {
      expect(() => normalizeUnitName(bad)).toThrow(/unit must be a systemd unit name/);
    }
  });
});

describe('get_service_status', () => {
  it('runs systemctl show with the listed properties and reads a running service', async () => {
    const { env, calls, argv } = scriptedEdgeEnv({ [show('nginx.service')]: { stdout: fixture('show-running.txt') } });
    const out = await tool('get_service_status').handler({ unit: 'nginx' }, ctxOf(env));
    expect(argv()).toEqual([show('nginx.service')]);
    expect(calls[0]).toMatchObject({ timeoutMs: 5_000, maxBytes: 1 << 20, env: env.childEnv });
    expect(out.data).toMatchObject({ id: 'nginx.service', activeState: 'active', subState: 'running', mainPid: 812, memoryCurrentBytes: 9437184 });
    expect(out.text).toBe(
      'nginx.service (A high performance web server and a reverse proxy server): active (running), since Sat 2024-05-04 10:11:12 UTC, ' +
        'main PID 812, memory 9.0 MiB, unit file enabled',
    );
  });

  it('shows a failed service with its restarts and result', async () => {
    const { env } = scriptedEdgeEnv({ [show('zigbee2mqtt.service')]: { stdout: fixture('show-failed.txt') } });
    const out = await tool('get_service_status').handler({ unit: 'zigbee2mqtt.service' }, ctxOf(env));
    expect(out.text).toBe('zigbee2mqtt.service (zigbee2mqtt): failed (failed), restarted 5 times, last result exit-code, unit file enabled');
  });

  it('answers a unit that does not exist with an error', async () => {
    const { env } = scriptedEdgeEnv({ [show('nosuch.service')]: { stdout: fixture('show-not-found.txt') } });
    await expect(tool('get_service_status').handler({ unit: 'nosuch' }, ctxOf(env))).rejects.toThrow(/nosuch\.service does not exist on this node \(LoadState=not-found\)/);
  });

  it('says systemd is not running when systemctl has no manager to ask', async () => {
    const { env } = scriptedEdgeEnv({ [show('ssh.service')]: NOT_BOOTED });
    await expect(tool('get_service_status').handler({ unit: 'ssh' }, ctxOf(env))).rejects.toThrow(/^systemd is not running on this node \(PID 1 is not systemd\)/);
  });

  it('refuses an option-like unit before running anything', async () => {
    const { env, calls } = scriptedEdgeEnv({});
    await expect(tool('get_service_status').handler({ unit: '--host=evil' }, ctxOf(env))).rejects.toThrow(/unit must be/);
    expect(calls).toHaveLength(0);
  });
});

describe('list_services', () => {
  it('lists all services with the plain, legend-free format', async () => {
    const { env, argv } = scriptedEdgeEnv({ [LIST]: { stdout: fixture('list-units-plain.txt') } });
    const out = await tool('list_services').handler({}, ctxOf(env));
    expect(argv()).toEqual([LIST]);
    expect(out.data.count).toBe(16);
    expect(out.data.state).toBeNull();
    expect(out.text?.split('\n')[0]).toBe('16 services: 9 running, 1 failed');
    expect(out.text).toMatch(/^● zigbee2mqtt\.service +failed\/failed +zigbee2mqtt$/m);
  });

  it('filters by state with --state=', async () => {
    const { env, argv } = scriptedEdgeEnv({ [`${LIST} --state=failed`]: { stdout: fixture('list-units-failed.txt') } });
    const out = await tool('list_services').handler({ state: 'failed' }, ctxOf(env));
    expect(argv()).toEqual([`${LIST} --state=failed`]);
    expect(out.data.services).toEqual([
      { unit: 'zigbee2mqtt.service', load: 'loaded', active: 'failed', sub: 'failed', job: null, description: 'zigbee2mqtt', failed: true },
    ]);
  });

  it('answers "no services" for an empty list', async () => {
    const { env } = scriptedEdgeEnv({ [`${LIST} --state=failed`]: { stdout: '' } });
    const out = await tool('list_services').handler({ state: 'failed' }, ctxOf(env));
    expect(out.data.count).toBe(0);
    expect(out.text).toBe('no services in state failed on this node');
  });

  it('refuses a state outside the list', async () => {
    const { env, calls } = scriptedEdgeEnv({});
    await expect(tool('list_services').handler({ state: '--all' as never }, ctxOf(env))).rejects.toThrow(/state must be one of/);
    expect(calls).toHaveLength(0);
  });

  it('describes every argument and accepts only known ones', () => {
    for (const t of systemd.tools) {
      expect(t.inputSchema.additionalProperties).toBe(false);
      for (const p of Object.values(t.inputSchema.properties ?? {})) expect(p.description).toBeTruthy();
    }
    const l = tool('list_services').inputSchema;
    expect(validate(l, { state: 'failed' })).toEqual([]);
    expect(validate(l, { state: 'broken' })).not.toEqual([]);
    expect(validate(tool('get_service_status').inputSchema, {})).toEqual(['unit: is required']);
  });

  it('annotates both tools as read-only', () => {
    for (const t of systemd.tools) expect(t.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: false });
  });
});

describe('probe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'systemd-probe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // A PATH directory with a systemctl in it, and an empty one: the probe runs nothing.
  const bin = join(dir, 'bin');
  const empty = join(dir, 'empty');
  mkdirSync(bin);
  mkdirSync(empty);
  writeFileSync(join(bin, 'systemctl'), '#!/bin/sh\nexit 99\n');
  chmodSync(join(bin, 'systemctl'), 0o755);

  it('passes when systemctl is on PATH and the run directory exists, without running systemctl', async () => {
    const { env, calls } = scriptedEdgeEnv({}, { childEnv: { PATH: `${empty}:${bin}` } });
    expect(await probeSystemd(env, dir)).toEqual({ ok: true, detail: join(bin, 'systemctl') });
    expect(calls).toHaveLength(0);
  });

  it('fails with the reason when systemd is not the init system', async () => {
    const { env } = scriptedEdgeEnv({}, { childEnv: { PATH: bin } });
    expect(await probeSystemd(env, join(dir, 'missing'))).toEqual({
      ok: false,
      reason: `systemd is not the init system on this node (${join(dir, 'missing')} does not exist), so there are no services to query`,
    });
    // A file is not the directory sd_booted(3) looks for.
    expect(await probeSystemd(env, join(bin, 'systemctl'))).toMatchObject({ ok: false });
  });

  it('fails when systemctl is not installed', async () => {
    const { env } = scriptedEdgeEnv({}, { childEnv: { PATH: empty } });
    expect(await probeSystemd(env, dir)).toEqual({ ok: false, reason: 'systemctl is not installed on this node (it does not run systemd)' });
  });
});

describe('systemd on this machine', () => {
  let booted = false;
  try {
    booted = readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
  } catch {
    // No /proc/1/comm: treat as not booted with systemd.
  }
  let hasSystemctl = false;
  try {
    execFileSync('systemctl', ['--version'], { stdio: 'ignore' });
    hasSystemctl = true;
  } catch {
    // systemctl missing: the probe reports it, which the test below also accepts.
  }
  const env = testEdgeEnv();

  it.skipIf(booted)('probe fails with a clear reason on a machine without systemd', async () => {
    const p = await systemd.probe(env);
    expect(p.ok).toBe(false);
    expect(!p.ok && p.reason).toBe(
      hasSystemctl
        ? `systemd is not the init system on this node (${SYSTEMD_RUN_DIR} does not exist), so there are no services to query`
        : 'systemctl is not installed on this node (it does not run systemd)',
    );
  });

  it.skipIf(booted || !hasSystemctl)('the tools answer that systemd is not running', async () => {
    await expect(tool('list_services').handler({}, ctxOf(env))).rejects.toThrow(/systemd is not running on this node/);
  });
});
