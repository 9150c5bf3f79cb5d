import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatIpv6, parseProcNetTcp, sortListening } from './proc-net-tcp.ts';

const fixture = (p: string) => readFileSync(new URL(`./__fixtures__/${p}`, import.meta.url), 'utf8');

describe('parseProcNetTcp', () => {
  it('keeps sshd listening on 0.0.0.0:22 and ignores the established session', () => {
    expect(parseProcNetTcp(fixture('raspberry-pi-4/proc/net/tcp'), 'ipv4')).toEqual([{ family: 'ipv4', address: '0.0.0.0', port: 22 }]);
  });

  it('decodes tcp6 listeners and ignores an established IPv4-mapped connection', () => {
    expect(parseProcNetTcp(fixture('raspberry-pi-4/proc/net/tcp6'), 'ipv6')).toEqual([
      { family: 'ipv6', address: '::', port: 22 },
      { family: 'ipv6', address: '::', port: 8222 },
    ]);
  });

  it('reads a capture from an x86 VM', () => {
    expect(parseProcNetTcp(fixture('x86-vm/proc/net/tcp'), 'ipv4')).toEqual([{ family: 'ipv4', address: '0.0.0.0', port: 2024 }]);
    expect(parseProcNetTcp(fixture('x86-vm/proc/net/tcp6'), 'ipv6')).toEqual([]);
  });

  it('reverses the bytes of each word on little-endian machines', () => {
    const line = (addr: string, port: string) => `   0: ${addr}:${port} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0`;
    expect(parseProcNetTcp(line('0100007F', '0CEA'), 'ipv4')).toEqual([{ family: 'ipv4', address: '127.0.0.1', port: 3306 }]);
    expect(parseProcNetTcp(line('0101A8C0', '0050'), 'ipv4')[0]?.address).toBe('192.168.1.1');
    expect(parseProcNetTcp(line('00000000000000000000000001000000', '1F90'), 'ipv6')).toEqual([{ family: 'ipv6', address: '::1', port: 8080 }]);
    expect(parseProcNetTcp(line('0000000000000000FFFF00006401A8C0', '01BB'), 'ipv6')[0]?.address).toBe('::ffff:192.168.1.100');
    // fd12:3456:789a:1::53, as a little-endian kernel prints it.
    expect(parseProcNetTcp(line('563412FD01009A780000000053000000', '0035'), 'ipv6')[0]?.address).toBe('fd12:3456:789a:1::53');
    expect(parseProcNetTcp(line('7F000001', '0016'), 'ipv4', 'BE')[0]?.address).toBe('127.0.0.1');
  });

  it('skips the header and a line cut short by the read cap', () => {
    expect(parseProcNetTcp('  sl  local_address rem_address   st\n   0: 00000000:00', 'ipv4')).toEqual([]);
  });
});

describe('sortListening', () => {
  it('dedupes SO_REUSEPORT sockets and sorts by port, IPv4 first', () => {
    const s = sortListening([
      { family: 'ipv6', address: '::', port: 8222 },
      { family: 'ipv6', address: '::', port: 22 },
      { family: 'ipv4', address: '0.0.0.0', port: 80 },
      { family: 'ipv4', address: '0.0.0.0', port: 80 },
      { family: 'ipv4', address: '0.0.0.0', port: 22 },
    ]);
    expect(s.map((x) => `${x.address}:${x.port}`)).toEqual(['0.0.0.0:22', ':::22', '0.0.0.0:80', ':::8222']);
  });
});

describe('formatIpv6', () => {
  it('compresses the longest zero run, the first on a tie', () => {
    expect(formatIpv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])).toBe('2001:db8::1:0:0:1');
    expect(formatIpv6(new Array(16).fill(0))).toBe('::');
    expect(formatIpv6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xde, 0xa6, 0x32, 0xff, 0xfe, 0x4f, 0x8b, 0x12])).toBe('fe80::dea6:32ff:fe4f:8b12');
  });
  it('does not compress a single zero group', () => {
    expect(formatIpv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1])).toBe('2001:db8:0:1:1:1:1:1');
  });
});
