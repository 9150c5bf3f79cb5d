import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { broadcastOf, magicPacket, parseMac, sendMagicPacket, wolTarget } from './wake-on-lan.ts';

describe('parseMac', () => {
  it('reads the usual spellings', () => {
    for (const s of ['b8:27:eb:12:34:56', 'B8-27-EB-12-34-56', 'b827.eb12.3456', 'B827EB123456', ' b8:27:eb:12:34:56 ']) expect(parseMac(s)).toBe('b8:27:eb:12:34:56');
  });

  it('refuses what is not a device MAC, naming the argument', () => {
    for (const bad of ['', 'b8:27:eb:12:34', 'b8:27:eb:12:34:56:78', 'b8:27-eb:12:34:56', 'zz:27:eb:12:34:56', 'b8:27:eb:12:34:56; reboot', 'x'.repeat(1000), 7, null]) {
      expect(() => parseMac(bad)).toThrow(/^mac: expected a MAC address such as b8:27:eb:12:34:56, got /);
    }
    expect(() => parseMac('ff:ff:ff:ff:ff:ff')).toThrow(/multicast or broadcast address/);
    expect(() => parseMac('01:00:5e:00:00:01')).toThrow(/multicast or broadcast address/);
    expect(() => parseMac('00:00:00:00:00:00')).toThrow(/not a device's MAC address/);
    expect(() => parseMac('nope', 'node mac')).toThrow(/^node mac: /);
  });
});

describe('magic packet', () => {
  it('is 6 bytes of 0xFF and the MAC 16 times', () => {
    const p = magicPacket('b8:27:eb:12:34:56');
    expect(p).toHaveLength(102);
    expect(p.subarray(0, 6).toString('hex')).toBe('ffffffffffff');
    expect(p.subarray(6).toString('hex')).toBe('b827eb123456'.repeat(16));
  });

  it('knows the broadcast address of a subnet', () => {
    expect(broadcastOf('192.168.20.0/24')).toBe('192.168.20.255');
    expect(broadcastOf('10.0.0.0/8')).toBe('10.255.255.255');
    expect(broadcastOf('192.168.1.77/26')).toBe('192.168.1.127');
    expect(broadcastOf('192.168.1.7/32')).toBe('192.168.1.7');
    expect(broadcastOf('fd00::/64')).toBeUndefined();
  });

  it('refuses a target that is not IPv4 or a port out of range', () => {
    expect(() => wolTarget('fd00::1', 9)).toThrow(/^address: expected an IPv4 broadcast address/);
    expect(() => wolTarget('nas.lan', 9)).toThrow(/^address: /);
    expect(() => wolTarget('127.0.0.1', 0)).toThrow(/^port: expected a UDP port from 1 to 65535/);
  });

  it('sends exactly the packet, once, to the address and port given', async () => {
    const listener = createSocket('udp4');
    await new Promise<void>((r) => listener.bind(0, '127.0.0.1', r));
    const got = new Promise<Buffer>((r) => listener.once('message', (m) => r(m)));
    try {
      const sent = await sendMagicPacket('b8:27:eb:12:34:56', { address: '127.0.0.1', port: listener.address().port });
      expect(sent).toEqual({ mac: 'b8:27:eb:12:34:56', address: '127.0.0.1', port: listener.address().port, bytes: 102 });
      expect((await got).equals(magicPacket('b8:27:eb:12:34:56'))).toBe(true);
    } finally {
      listener.close();
    }
  });
});
