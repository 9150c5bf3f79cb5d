import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseKeyValues, parseListUnits, parseServiceStatus } from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');

describe('parseKeyValues', () => {
  it('splits on the first = only', () => {
    expect(parseKeyValues('Environment=A=1 B=2\nId=x.service\n\nnot a pair\n')).toEqual({ Environment: 'A=1 B=2', Id: 'x.service' });
  });
});

describe('parseServiceStatus', () => {
  it('reads a running service', () => {
    expect(parseServiceStatus(fixture('show-running.txt'))).toEqual({
      id: 'nginx.service',
      description: 'A high performance web server and a reverse proxy server',
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      unitFileState: 'enabled',
      mainPid: 812,
      execMainStartTimestamp: 'Sat 2024-05-04 10:11:12 UTC',
      activeEnterTimestamp: 'Sat 2024-05-04 10:11:12 UTC',
      nRestarts: 0,
      memoryCurrentBytes: 9437184,
      result: 'success',
    });
  });

  it('reads a failed service: no PID, no memory, restarts and the failure result', () => {
    expect(parseServiceStatus(fixture('show-failed.txt'))).toMatchObject({
      id: 'zigbee2mqtt.service',
      activeState: 'failed',
      subState: 'failed',
      mainPid: null,
      memoryCurrentBytes: null,
      nRestarts: 5,
      result: 'exit-code',
    });
  });

  it('reads a unit that does not exist', () => {
    expect(parseServiceStatus(fixture('show-not-found.txt'))).toMatchObject({
      id: 'nosuch.service',
      loadState: 'not-found',
      activeState: 'inactive',
      unitFileState: null,
      execMainStartTimestamp: null,
      activeEnterTimestamp: null,
    });
  });

  it('reads old systemd: UINT64_MAX for unset memory, n/a for timestamps', () => {
    expect(parseServiceStatus(fixture('show-systemd241-oneshot.txt'))).toMatchObject({
      id: 'apt-daily-upgrade.service',
      unitFileState: 'static',
      memoryCurrentBytes: null,
      activeEnterTimestamp: null,
      execMainStartTimestamp: 'Thu 2024-05-02 06:25:03 BST',
    });
  });
});

describe('parseListUnits', () => {
  const plain = parseListUnits(fixture('list-units-plain.txt'));

  it('reads every row of --plain output', () => {
    expect(plain).toHaveLength(16);
    expect(plain[0]).toEqual({ unit: 'apparmor.service', load: 'loaded', active: 'active', sub: 'exited', job: null, description: 'Load AppArmor profiles', failed: false });
    expect(plain.find((u) => u.unit === 'nginx.service')?.description).toBe('A high performance web server and a reverse proxy server');
    expect(plain.find((u) => u.unit.startsWith('systemd-fsck@'))?.unit).toBe('systemd-fsck@dev-disk-by\\x2dpartuuid-4e639091\\x2d01.service');
    expect(plain.filter((u) => u.failed).map((u) => u.unit)).toEqual(['zigbee2mqtt.service']);
    expect(plain.find((u) => u.unit === 'auditd.service')).toMatchObject({ load: 'not-found', active: 'inactive', sub: 'dead' });
  });

  it('drops the ● marker and the indent that mark rows in some versions', () => {
    const marked = parseListUnits(fixture('list-units-marker.txt'));
    expect(marked).toEqual(plain);
    expect(parseListUnits('* zigbee2mqtt.service loaded failed failed zigbee2mqtt\n')[0]).toMatchObject({ unit: 'zigbee2mqtt.service', failed: true });
  });

  it('reads the JOB column when a job is queued', () => {
    const rows = parseListUnits(fixture('list-units-job.txt'));
    expect(rows).toHaveLength(16);
    expect(rows.find((u) => u.unit === 'nginx.service')).toMatchObject({ active: 'reloading', sub: 'reload', job: 'reload', description: 'A high performance web server and a reverse proxy server' });
    expect(rows.find((u) => u.unit === 'mosquitto.service')).toMatchObject({ active: 'deactivating', sub: 'stop-sigterm', job: 'restart', description: 'Mosquitto MQTT Broker' });
    expect(rows.find((u) => u.unit === 'cron.service')).toMatchObject({ job: null, description: 'Regular background program processing daemon' });
  });

  it('reads no output as no units', () => {
    expect(parseListUnits('')).toEqual([]);
  });
});
