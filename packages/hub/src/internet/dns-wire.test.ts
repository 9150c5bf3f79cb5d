import { describe, expect, it } from 'vitest';
import { startDnsmasq } from '@homelab-mcp/testkit';
import { parseServer, queryDns, reverseName } from './dns-wire.ts';

describe('dns-wire', () => {
  it('parses server addresses', () => {
    expect(parseServer('10.0.0.53')).toEqual({ host: '10.0.0.53', port: 53 });
    expect(parseServer('10.0.0.53:5353')).toEqual({ host: '10.0.0.53', port: 5353 });
    expect(parseServer('[::1]:53')).toEqual({ host: '::1', port: 53 });
    expect(parseServer('::1')).toEqual({ host: '::1', port: 53 });
    expect(parseServer('lan')).toBeUndefined();
    expect(parseServer('10.0.0.53:99999')).toBeUndefined();
    expect(parseServer('300.0.0.1')).toBeUndefined();
  });

  it('builds reverse names', () => {
    expect(reverseName('10.0.0.5')).toBe('5.0.0.10.in-addr.arpa');
    expect(reverseName('fd00::5')).toBe(`5.${'0.'.repeat(29)}d.f.ip6.arpa`);
  });

  it('reads every record type, with TTLs, from a real dnsmasq', async () => {
    await using d = await startDnsmasq({
      records: [
        '--host-record=nas.home.test,10.0.0.5,fd00::5',
        '--txt-record=nas.home.test,v=spf1 -all,two',
        '--mx-host=home.test,mail.home.test,10',
        '--srv-host=_http._tcp.home.test,nas.home.test,8080,0,5',
        '--ptr-record=5.0.0.10.in-addr.arpa,nas.home.test',
        '--cname=www.home.test,nas.home.test',
        '--local-ttl=120',
      ],
    });
    const s = { host: '127.0.0.1', port: d.port };
    const q = async (n: string, t: Parameters<typeof queryDns>[2]) => queryDns(s, n, t, AbortSignal.timeout(5000));
    expect((await q('nas.home.test', 'A')).answers).toEqual([{ name: 'nas.home.test.', type: 'A', ttl: 120, value: '10.0.0.5' }]);
    expect((await q('nas.home.test', 'AAAA')).answers).toEqual([{ name: 'nas.home.test.', type: 'AAAA', ttl: 120, value: 'fd00::5' }]);
    expect((await q('nas.home.test', 'TXT')).answers.map((a) => a.value)).toEqual(['"v=spf1 -all" "two"']);
    expect((await q('home.test', 'MX')).answers.map((a) => a.value)).toEqual(['10 mail.home.test.']);
    expect((await q('_http._tcp.home.test', 'SRV')).answers.map((a) => a.value)).toEqual(['0 5 8080 nas.home.test.']);
    expect((await q('5.0.0.10.in-addr.arpa', 'PTR')).answers.map((a) => a.value)).toEqual(['nas.home.test.']);
    expect((await q('www.home.test', 'A')).answers.map((a) => `${a.type} ${a.value}`)).toEqual(['CNAME nas.home.test.', 'A 10.0.0.5']);
    expect((await q('nope.home.test', 'A')).rcode).toBe('NXDOMAIN');
  });
});
