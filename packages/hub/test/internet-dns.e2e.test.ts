/**
 * dns_lookup through the bundled hub against two real dnsmasq resolvers on loopback that disagree
 * about a name (the LAN's answers a local address, the other a public one): `server: "all"` shows
 * both side by side and says where they differ; one resolver by name or by address; a PTR from an
 * IP; TTLs on every record type; every question journaled as an outbound request.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { connectClient, readJournal, resultText, startDnsmasq, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'dns-admin-token-0123456789abcdef';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'val', role: 'viewer', token: `${TOKEN}-viewer` }] };
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('dns_lookup through the hub', () => {
  it('two resolvers that disagree, side by side; one by name, by address; PTR; TTLs', { timeout: 90_000 }, async () => {
    await using lan = await startDnsmasq({
      records: ['--host-record=nas.home.test,10.0.0.5', '--ptr-record=5.0.0.10.in-addr.arpa,nas.home.test', '--mx-host=home.test,mail.home.test,10', '--txt-record=home.test,v=spf1 -all', '--srv-host=_jellyfin._tcp.home.test,nas.home.test,8096,0,5', '--local-ttl=60'],
    });
    await using wan = await startDnsmasq({ records: ['--host-record=nas.home.test,203.0.113.7', '--mx-host=home.test,mail.home.test,10', '--local-ttl=300'] });
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, internet: { dns: { resolvers: { lan: lan.address, wan: wan.address }, includeSystem: false } } } });
    await using client = await connectClient(hub.url, `${TOKEN}-viewer`, 'legacy');
    const call = async (args: Record<string, unknown>) => (await client.callTool({ name: 'dns_lookup', arguments: args })) as Result;

    const all = await call({ hostname: 'nas.home.test', type: 'A', server: 'all' });
    expect(all.isError).toBeFalsy();
    expect(resultText(all)).toBe(
      [
        'nas.home.test A:',
        `lan (${lan.address}): NOERROR`,
        '  nas.home.test. 60 A 10.0.0.5',
        `wan (${wan.address}): NOERROR`,
        '  nas.home.test. 300 A 203.0.113.7',
        'The resolvers disagree: lan says A 10.0.0.5; wan says A 203.0.113.7.',
      ].join('\n'),
    );
    expect(all.structuredContent).toMatchObject({ agree: false, results: [{ server: 'lan', rcode: 'NOERROR' }, { server: 'wan', rcode: 'NOERROR' }] });

    const mx = await call({ hostname: 'home.test', type: 'MX', server: 'all' });
    expect(resultText(mx)).toMatch(/All 2 resolvers that answered agree\.$/);
    expect(mx.structuredContent!.results[0].answers).toEqual([{ name: 'home.test.', type: 'MX', ttl: 60, value: '10 mail.home.test.' }]);

    // A name one resolver does not know: NXDOMAIN there, with how long it is cached as such.
    const srv = await call({ hostname: '_jellyfin._tcp.home.test', type: 'srv', server: 'all' });
    expect(srv.structuredContent!.results.map((r: any) => r.rcode)).toEqual(['NOERROR', 'NXDOMAIN']);
    expect(srv.structuredContent!.results[0].answers[0]).toMatchObject({ type: 'SRV', ttl: 60, value: '0 5 8096 nas.home.test.' });

    const byName = await call({ hostname: 'home.test', type: 'TXT', server: 'lan' });
    expect(resultText(byName)).toBe(`home.test TXT:\nlan (${lan.address}): NOERROR\n  home.test. 60 TXT "v=spf1 -all"`);
    const byAddress = await call({ hostname: 'nas.home.test', server: wan.address });
    expect(byAddress.structuredContent).toMatchObject({ types: ['A', 'AAAA'], results: [{ server: wan.address, answers: [{ type: 'A', value: '203.0.113.7', ttl: 300 }] }] });

    // An address nobody configured, on loopback or another port than 53: not asked (a read
    // must not send packets to the hub's own services).
    const adHoc = await call({ hostname: 'nas.home.test', server: `127.0.0.1:${hub.port}` });
    expect(adHoc.isError).toBe(true);
    expect(resultText(adHoc)).toMatch(/argument "server": 127\.0\.0\.1:\d+ is loopback; a DNS server there is asked only when it is configured/);
    const ptr = await call({ hostname: '10.0.0.5', server: 'lan' });
    expect(resultText(ptr)).toBe(`5.0.0.10.in-addr.arpa PTR:\nlan (${lan.address}): NOERROR\n  5.0.0.10.in-addr.arpa. 60 PTR nas.home.test.`);

    const unknown = await call({ hostname: 'nas.home.test', server: 'office' });
    expect(unknown.isError).toBe(true);
    expect(resultText(unknown)).toMatch(/argument "server": "office" is neither an address .* \(known: lan, wan\)/);
    expect(resultText(await call({ hostname: 'nas home', server: 'lan' }))).toMatch(/argument "hostname": expected a DNS name/);

    // Every question asked is in the journal, as an outbound request.
    const asked = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail.upstream === 'dns');
    expect(asked.map((e) => `${e.detail.method} ${e.detail.url}${e.detail.error ? ` ${e.detail.error}` : ''}`)).toEqual(
      expect.arrayContaining([`DNS dns://${lan.address}/nas.home.test/A`, `DNS dns://${wan.address}/nas.home.test/A`, `DNS dns://${wan.address}/_jellyfin._tcp.home.test/SRV NXDOMAIN`, `DNS dns://${lan.address}/5.0.0.10.in-addr.arpa/PTR`]),
    );
    expect(asked).toHaveLength(10);
  });
});

describe('dns_lookup arguments', () => {
  it('an argument it does not know (record_type for type) is refused by name, not silently dropped for an A lookup', { timeout: 90_000 }, async () => {
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, internet: { dns: { resolvers: {}, includeSystem: false } } } });
    await using client = await connectClient(hub.url, `${TOKEN}-viewer`, 'legacy');
    const r = (await client.callTool({ name: 'dns_lookup', arguments: { hostname: 'home.test', record_type: 'MX' } })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe('dns_lookup: unknown argument "record_type" (expected: hostname, type, server)');
  });
});
