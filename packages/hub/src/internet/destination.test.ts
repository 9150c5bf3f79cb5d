import { describe, expect, it } from 'vitest';
import { addressBytes, checkDestination, forbiddenReason, isHubListener, parseAllowHost, parseAllowHosts, type CheckedAddress } from './destination.ts';

const resolver = (table: Record<string, string[]>) => async (host: string): Promise<CheckedAddress[]> => {
  const a = table[host];
  if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('forbiddenReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.3.4', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'this host'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'CGNAT'],
    ['fd00::5', 'unique local'],
    ['fc12::5', 'unique local'],
    ['::ffff:127.0.0.1', 'loopback, as IPv4 inside IPv6'],
    ['::ffff:7f00:1', 'loopback, as IPv4 inside IPv6'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::a00:1', 'private'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
  ])('%s is refused (%s)', (address, why) => {
    expect(forbiddenReason(address)).toContain(why);
  });

  it.each(['93.184.215.14', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:1.1.1.1', '64:ff9b::101:101'])('%s is public', (address) => {
    expect(forbiddenReason(address)).toBeUndefined();
  });

  it('parses IPv6 forms to the same bytes', () => {
    expect(addressBytes('::ffff:127.0.0.1')).toEqual(addressBytes('::ffff:7f00:1'));
    expect(addressBytes('fe80::1%eth0')).toEqual(addressBytes('fe80:0:0:0:0:0:0:1'));
  });
});

describe('the WHATWG URL parser turns numeric IPv4 forms into dotted addresses', () => {
  it.each([
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://0x7f000001/', '127.0.0.1'],
    ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
    ['http://[0:0:0:0:0:0:0:1]/', '[::1]'],
  ])('%s → %s, refused', async (url, host) => {
    const u = new URL(url);
    expect(u.hostname).toBe(host);
    await expect(checkDestination(u, { allow: [], hubListeners: [] })).rejects.toThrow(/loopback/);
  });
});

describe('parseAllowHost', () => {
  it('takes names, wildcards, addresses and CIDR ranges, each with an optional port', () => {
    expect(parseAllowHost('192.168.1.0/24')).toMatchObject({ kind: 'cidr', prefix: 24 });
    expect(parseAllowHost('127.0.0.1:8080')).toMatchObject({ kind: 'cidr', prefix: 32, port: 8080 });
    expect(parseAllowHost('10.0.0.0/8:443')).toMatchObject({ kind: 'cidr', prefix: 8, port: 443 });
    expect(parseAllowHost('fd00::/8')).toMatchObject({ kind: 'cidr', prefix: 8 });
    expect(parseAllowHost('[fd00::5]:443')).toMatchObject({ kind: 'cidr', prefix: 128, port: 443 });
    expect(parseAllowHost('::1')).toMatchObject({ kind: 'cidr', prefix: 128 });
    expect(parseAllowHost('nas.lan')).toMatchObject({ kind: 'name', name: 'nas.lan', wildcard: false });
    expect(parseAllowHost('*.lan:8443')).toMatchObject({ kind: 'name', name: 'lan', wildcard: true, port: 8443 });
  });

  it('says what was expected for a bad entry', () => {
    for (const bad of ['http://nas.lan/', '10.0.0.0/33', 'nas.lan:99999', 'a b', '10.0.0.1/8/8', 'nas.lan:http']) {
      expect(parseAllowHost(bad), bad).toEqual(expect.stringContaining('is not a host name, address or CIDR range'));
    }
    expect(() => parseAllowHosts(['ok.lan', 'http://x'])).toThrow('internet.allowHosts[1]');
  });
});

describe('checkDestination', () => {
  const none = { allow: [], hubListeners: [] };

  it('judges a name by what it resolves to, and returns the addresses to connect to', async () => {
    const resolve = resolver({ 'example.com': ['93.184.215.14'], 'sneaky.example': ['127.0.0.1'], 'mixed.example': ['93.184.215.14', '10.0.0.1'] });
    expect(await checkDestination(new URL('https://example.com/'), { ...none, resolve })).toEqual([{ address: '93.184.215.14', family: 4 }]);
    await expect(checkDestination(new URL('http://sneaky.example/'), { ...none, resolve })).rejects.toThrow('sneaky.example resolves to 127.0.0.1, and 127.0.0.1 is loopback');
    // One forbidden address among several refuses the name: the socket could pick any of them.
    await expect(checkDestination(new URL('http://mixed.example/'), { ...none, resolve })).rejects.toThrow('10.0.0.1 is private');
    await expect(checkDestination(new URL('http://nowhere.example/'), { ...none, resolve })).rejects.toThrow('nowhere.example does not resolve (ENOTFOUND)');
  });

  it('lets allowHosts through: by CIDR, by address and port, by name', async () => {
    const resolve = resolver({ 'nas.lan': ['192.168.1.10'], 'cam.iot.lan': ['10.0.0.7'] });
    const policy = { allow: parseAllowHosts(['192.168.1.0/24', '127.0.0.1:8080', '*.iot.lan']), hubListeners: [], resolve };
    expect(await checkDestination(new URL('http://nas.lan/'), policy)).toHaveLength(1);
    expect(await checkDestination(new URL('http://127.0.0.1:8080/'), policy)).toHaveLength(1);
    await expect(checkDestination(new URL('http://127.0.0.1:8081/'), policy)).rejects.toThrow('e.g. "127.0.0.1:8081"');
    expect(await checkDestination(new URL('http://cam.iot.lan/'), policy)).toHaveLength(1);
    await expect(checkDestination(new URL('http://[::1]:8080/'), policy)).rejects.toThrow('::1 is loopback');
  });

  it('never reaches the hub itself, even when allowHosts covers its address', async () => {
    const policy = { allow: parseAllowHosts(['127.0.0.0/8', '::1']), hubListeners: [{ address: '127.0.0.1', port: 8765 }] };
    await expect(checkDestination(new URL('http://127.0.0.1:8765/mcp'), policy)).rejects.toThrow('port 8765 is the hub itself');
    await expect(checkDestination(new URL('http://127.0.0.2:8765/'), policy)).rejects.toThrow('the hub itself');
    await expect(checkDestination(new URL('http://[::ffff:127.0.0.1]:8765/'), policy)).rejects.toThrow('the hub itself');
    expect(await checkDestination(new URL('http://127.0.0.1:8766/'), policy)).toHaveLength(1);
  });

  it('a hub listening on 0.0.0.0 is every local address on its port', () => {
    const wide = [{ address: '0.0.0.0', port: 8765 }];
    expect(isHubListener('127.0.0.1', 8765, wide)).toBe(true);
    expect(isHubListener('::1', 8765, wide)).toBe(true);
    expect(isHubListener('93.184.215.14', 8765, wide)).toBe(false);
    expect(isHubListener('10.9.9.9', 8765, [{ address: '10.9.9.9', port: 8765 }])).toBe(true);
    expect(isHubListener('10.9.9.9', 8765, [{ address: '127.0.0.1', port: 8765 }])).toBe(false);
  });

  it('refuses schemes other than http and https', async () => {
    await expect(checkDestination(new URL('file:///etc/passwd'), none)).rejects.toThrow('file: URLs are not fetched');
  });
});
