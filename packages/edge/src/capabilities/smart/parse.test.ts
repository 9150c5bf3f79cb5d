import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isHomelabError } from '@homelab-mcp/core';
import { decodeNvmeCriticalWarning, decodeSmartExitStatus, formatCapacity, parseSmartReport, parseSmartScan } from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');

describe('decodeSmartExitStatus', () => {
  it('decodes each bit of the smartctl exit status into its own sentence', () => {
    expect(decodeSmartExitStatus(0)).toEqual([]);
    const all = decodeSmartExitStatus(255);
    expect(all).toHaveLength(8);
    expect(all[0]).toMatch(/command line did not parse/);
    expect(all[1]).toMatch(/device open failed/);
    expect(all[2]).toMatch(/command .*failed|checksum/);
    expect(all[3]).toMatch(/DISK FAILING/);
    expect(all[4]).toMatch(/prefail attributes .*threshold/);
    expect(all[5]).toMatch(/in the past/);
    expect(all[6]).toMatch(/error log/);
    expect(all[7]).toMatch(/self-test log/);
    expect(decodeSmartExitStatus(0b1000_0100)).toEqual([all[2], all[7]]);
  });

  it('decodes the NVMe critical warning byte', () => {
    expect(decodeNvmeCriticalWarning(0)).toEqual([]);
    expect(decodeNvmeCriticalWarning(0b1001)).toEqual([
      'available spare capacity is below the threshold',
      'media has been placed in read-only mode',
    ]);
  });
});

describe('formatCapacity', () => {
  it('prints decimal units with three significant digits, as smartctl does', () => {
    expect(formatCapacity(500107862016)).toBe('500 GB');
    expect(formatCapacity(2000398934016)).toBe('2.00 TB');
    expect(formatCapacity(73407820800)).toBe('73.4 GB');
    expect(formatCapacity(512)).toBe('512 bytes');
  });
});

describe('parseSmartScan', () => {
  it('lists the disks with the -d type smartctl chose', () => {
    expect(parseSmartScan(fixture('scan.json'))).toEqual([
      { name: '/dev/sda', type: 'sat', protocol: 'ATA', infoName: '/dev/sda [SAT]' },
      { name: '/dev/sdb', type: 'sat', protocol: 'ATA', infoName: '/dev/sdb [SAT]' },
      { name: '/dev/sdc', type: 'sat', protocol: 'ATA', infoName: '/dev/sdc [SAT]' },
      { name: '/dev/nvme0', type: 'nvme', protocol: 'NVMe', infoName: '/dev/nvme0' },
    ]);
  });

  it('reads a scan without a devices key (no disks) as an empty list', () => {
    const text = fixture('scan-empty.json');
    expect(JSON.parse(text)).not.toHaveProperty('devices');
    expect(parseSmartScan(text)).toEqual([]);
  });

  it('rejects output that is not smartctl JSON with a readable error', () => {
    let err: unknown;
    try {
      parseSmartScan('=======> UNRECOGNIZED OPTION: json\n');
    } catch (e) {
      err = e;
    }
    expect(isHomelabError(err, 'SMARTCTL_TOO_OLD')).toBe(true);
    expect(() => parseSmartScan('')).toThrow(/did not print JSON/);
    expect(() => parseSmartScan('{"devices":[]}')).toThrow(/"smartctl" header/);
  });
});

describe('parseSmartReport', () => {
  it('reads a healthy SATA SSD', () => {
    const r = parseSmartReport(fixture('ata-ssd.json'), { device: '/dev/sda' });
    expect(r).toMatchObject({
      device: '/dev/sda',
      type: 'sat',
      protocol: 'ATA',
      model: 'Samsung SSD 870 EVO 500GB',
      serial: 'S6PXNM0T412345K',
      firmware: 'SVT02B6Q',
      capacityBytes: 500107862016,
      capacity: '500 GB',
      smartPassed: true,
      temperatureC: 31,
      powerOnHours: 9123,
      reallocatedSectors: 0,
      pendingSectors: null,
      offlineUncorrectable: null,
      nvme: null,
      exitStatus: 0,
      exitStatusBits: [],
      messages: [],
      readable: true,
      warnings: [],
      problem: null,
    });
  });

  it('reads an HDD with bad sectors and decodes exit status 192', () => {
    const r = parseSmartReport(fixture('ata-hdd-bad-sectors.json'), { device: '/dev/sdb' });
    expect(r.model).toBe('WDC WD40EFRX-68N32N0');
    expect(r.capacity).toBe('4.00 TB');
    expect(r.smartPassed).toBe(true);
    expect(r.temperatureC).toBe(37);
    expect(r.powerOnHours).toBe(44862);
    expect(r.reallocatedSectors).toBe(24);
    expect(r.pendingSectors).toBe(8);
    expect(r.offlineUncorrectable).toBe(8);
    expect(r.exitStatus).toBe(192);
    expect(r.exitStatusBits).toEqual([
      'the device error log contains records of errors',
      'the device self-test log contains records of errors',
    ]);
    // Bits 6 and 7 come with a full reading: the disk is readable, and worrying.
    expect(r.readable).toBe(true);
    expect(r.warnings).toEqual([
      '24 reallocated sectors (the disk has remapped bad sectors)',
      '8 sectors pending reallocation (currently unreadable)',
      '8 offline uncorrectable sectors',
    ]);
  });

  it('reads an NVMe drive from its health log', () => {
    const r = parseSmartReport(fixture('nvme.json'), { device: '/dev/nvme0' });
    expect(r).toMatchObject({
      device: '/dev/nvme0',
      type: 'nvme',
      protocol: 'NVMe',
      model: 'Samsung SSD 970 EVO Plus 1TB',
      serial: 'S4EWNX0R123456A',
      firmware: '2B2QEXM7',
      capacity: '1.00 TB',
      smartPassed: true,
      temperatureC: 41,
      powerOnHours: 12877,
      reallocatedSectors: null,
      readable: true,
      warnings: [],
    });
    expect(r.nvme).toEqual({
      percentageUsed: 3,
      availableSpare: 100,
      availableSpareThreshold: 10,
      mediaErrors: 0,
      criticalWarning: 0,
      criticalWarnings: [],
      unsafeShutdowns: 37,
    });
  });

  it('warns about a worn NVMe drive with a critical warning', () => {
    const doc = JSON.parse(fixture('nvme.json'));
    Object.assign(doc.nvme_smart_health_information_log, { critical_warning: 1, available_spare: 8, percentage_used: 104, media_errors: 2 });
    doc.smart_status.passed = false;
    doc.smartctl.exit_status = 8;
    const r = parseSmartReport(JSON.stringify(doc), { device: '/dev/nvme0' });
    expect(r.smartPassed).toBe(false);
    expect(r.exitStatusBits).toEqual(['SMART status check returned "DISK FAILING"']);
    expect(r.warnings).toEqual([
      'SMART overall health self-assessment FAILED: back up this disk and replace it',
      'NVMe critical warning: available spare capacity is below the threshold',
      '104% of rated write endurance used',
      'available spare 8% is at or below the threshold 10%',
      '2 media and data integrity errors',
    ]);
  });

  it('reads a USB bridge disk queried with -d sat as ATA', () => {
    const r = parseSmartReport(fixture('usb-sat.json'), { device: '/dev/sdc' });
    expect(r).toMatchObject({
      device: '/dev/sdc',
      type: 'sat',
      protocol: 'ATA',
      model: 'ST2000LM015-2E8174',
      capacity: '2.00 TB',
      smartPassed: true,
      temperatureC: 34,
      powerOnHours: 5871,
      reallocatedSectors: 0,
      pendingSectors: 0,
      offlineUncorrectable: 0,
      readable: true,
    });
  });

  it('falls back to the low byte of attribute 194 when temperature.current is missing', () => {
    const doc = JSON.parse(fixture('usb-sat.json'));
    delete doc.temperature;
    delete doc.power_on_time;
    const r = parseSmartReport(JSON.stringify(doc), { device: '/dev/sdc' });
    // Raw 206158430242 is 0x3000000022: min/max packed above a 34 °C low byte.
    expect(r.temperatureC).toBe(34);
    expect(r.powerOnHours).toBe(5871);
  });

  it('reads a SAS disk from its SCSI fields', () => {
    const r = parseSmartReport(fixture('scsi-sas.json'), { device: '/dev/sdd' });
    expect(r).toMatchObject({
      protocol: 'SCSI',
      model: 'SEAGATE ST4000NM0023',
      firmware: 'GS0F',
      smartPassed: true,
      temperatureC: 33,
      powerOnHours: 51234,
      grownDefects: 2,
      reallocatedSectors: null,
      readable: true,
      warnings: ['2 grown defects'],
    });
  });

  it('explains the virtual disk of this machine: exit 1, device type not detected', () => {
    const r = parseSmartReport(fixture('vda-unknown-type.json'), { device: '/dev/vda', exitCode: 1 });
    expect(r.readable).toBe(false);
    expect(r.smartPassed).toBe('unknown');
    expect(r.exitStatus).toBe(1);
    expect(r.exitStatusBits).toEqual(['command line did not parse (or the device type could not be detected)']);
    expect(r.messages).toEqual([{ text: '/dev/vda: Unable to detect device type', severity: 'error' }]);
    expect(r.problem).toMatch(/could not detect what kind of disk \/dev\/vda is\. Pass type/);
    expect(r.problem).toMatch(/virtio/);
  });

  it('explains a refused open: root or the disk group with CAP_SYS_RAWIO', () => {
    const r = parseSmartReport(fixture('vda-sat-not-permitted.json'), { device: '/dev/vda', exitCode: 2 });
    expect(r.readable).toBe(false);
    expect(r.exitStatus).toBe(2);
    expect(r.exitStatusBits).toEqual(['device open failed, no IDENTIFY data, or the device is in a low-power mode']);
    expect(r.problem).toMatch(/Operation not permitted/);
    expect(r.problem).toMatch(/needs root, or the edge's user in the disk group plus CAP_SYS_RAWIO/);
  });

  it('suggests -d sat for an unknown USB bridge', () => {
    const r = parseSmartReport(fixture('usb-unknown-bridge.json'), { device: '/dev/sdc', exitCode: 1 });
    expect(r.readable).toBe(false);
    expect(r.messages.map((m) => m.text)).toEqual([
      '/dev/sdc: Unknown USB bridge [0x152d:0x0578 (0x214)]',
      'Please specify device type with the -d option.',
    ]);
    expect(r.problem).toMatch(/USB bridge smartctl does not know .*Pass type "sat"/);
  });
});
