import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startDnsmasq } from '@homelab-mcp/testkit';
import type { CallContext } from '../catalog/types.ts';
import { InternetConfigSchema } from './config.ts';
import type { InternetDeps } from './deps.ts';
import { dnsTools } from './dns.ts';

function tool(dns: object, piholes: Record<string, string> = {}) {
  const config = InternetConfigSchema.parse({ dns: { includeSystem: false, ...dns } });
  const deps = { config: () => config, piholeResolvers: () => piholes, onHttpRequest: () => undefined } as unknown as InternetDeps;
  return dnsTools(deps)[0]!;
}
const ctx = { caller: { user: 't', role: 'viewer' }, session: 's', signal: new AbortController().signal } as CallContext;
const text = (r: { content: Array<{ type: string; text?: string }> }) => (r.content[0] as { text: string }).text;

describe('dns_lookup', () => {
  it('asks a Pi-hole by its instance name, and includes the Pi-holes in "all"', async () => {
    await using ph = await startDnsmasq({ records: ['--host-record=nas.home.test,10.0.0.5'] });
    await using lan = await startDnsmasq({ records: ['--host-record=nas.home.test,10.0.0.5'] });
    const t = tool({ resolvers: { lan: lan.address } }, { ns1: ph.address });
    expect(text(await t.call({ hostname: 'nas.home.test', type: 'A', server: 'ns1' }, ctx))).toBe(`nas.home.test A:\npihole ns1 (${ph.address}): NOERROR\n  nas.home.test. 0 A 10.0.0.5`);
    const all = await t.call({ hostname: 'nas.home.test', type: 'A', server: 'all' }, ctx);
    expect(all.structuredContent).toMatchObject({ agree: true, results: [{ server: 'lan' }, { server: 'pihole ns1' }] });
    expect(text(all)).toMatch(/All 2 resolvers that answered agree\.$/);
  });

  it('a resolver that never answers gives "no answer in time" within internet.dns.timeoutMs, beside the others', async () => {
    const mute = createSocket('udp4');
    await new Promise<void>((r) => mute.bind(0, '127.0.0.1', r));
    try {
      await using lan = await startDnsmasq({ records: ['--host-record=nas.home.test,10.0.0.5'] });
      const address = `127.0.0.1:${(mute.address() as AddressInfo).port}`;
      const t = tool({ resolvers: { lan: lan.address, dead: address }, timeoutMs: 500 });
      const r = await t.call({ hostname: 'nas.home.test', type: 'A', server: 'all' }, ctx);
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent).toMatchObject({ results: [{ server: 'lan', rcode: 'NOERROR' }, { server: 'dead', error: 'no answer in time' }] });
      expect(text(r)).toContain(`dead (${address}): no answer: no answer in time`);
      expect(text(r)).toMatch(/All 1 resolvers that answered agree \(1 did not answer\)\.$/);
      const only = await t.call({ hostname: 'nas.home.test', server: 'dead' }, ctx);
      expect(only.isError).toBe(true);
    } finally {
      mute.close();
    }
  });

  it('refuses a configured resolver that is not an address at start, naming the key', () => {
    const r = InternetConfigSchema.safeParse({ dns: { resolvers: { lan: 'dns.home.test' } } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['dns', 'resolvers', 'lan'], message: 'an address: 10.0.0.53, 10.0.0.53:5353 or [::1]:53' });
  });
});
