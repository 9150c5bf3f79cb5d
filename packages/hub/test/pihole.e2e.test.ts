/**
 * The Pi-hole integration through the bundled hub, with an SDK client, against two fake Pi-hole
 * v6 APIs (an HA pair): a record added by one write is held by the gate with its preview, runs on
 * both after approval, costs one login per Pi-hole, and the hub logs out of both when it stops
 * and when a reload changes the integration.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startFakePihole, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'pihole-admin-token-0123456789abcdef';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] };
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Pi-hole through the hub', () => {
  it('a DNS record held with its preview, added to both after approval, one login each, logged out at reload and stop', { timeout: 120_000 }, async () => {
    await using ns1 = await startFakePihole({ password: 'pw-ns1-secret', hosts: ['192.168.1.10 nas.lan'] });
    await using ns2 = await startFakePihole({ password: 'pw-ns2-secret', hosts: ['192.168.1.10 nas.lan'] });
    const instances = [
      { name: 'ns1', url: ns1.url, password: '${PIHOLE_NS1}' },
      { name: 'ns2', url: ns2.url, password: '${PIHOLE_NS2}' },
    ];
    const hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { pihole: { instances } } }, env: { PIHOLE_NS1: 'pw-ns1-secret', PIHOLE_NS2: 'pw-ns2-secret' } });
    try {
      await using client = await connectClient(hub.url, TOKEN, 'legacy');
      const held = (await client.callTool({ name: 'dns_add_record', arguments: { name: 'jellyfin.lan', value: '192.168.1.20' } })) as Result;
      expect(held.structuredContent).toMatchObject({ status: 'approval_required', preview: { action: 'Add A record jellyfin.lan -> 192.168.1.20 on ns1, ns2', where: ['pihole/ns1', 'pihole/ns2'] } });
      expect(ns1.hosts).not.toContain('192.168.1.20 jellyfin.lan');
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const done = (await client.callTool({ name: 'dns_add_record', arguments: { name: 'jellyfin.lan', value: '192.168.1.20' } })) as Result;
      expect(resultText(done)).toBe('A jellyfin.lan -> 192.168.1.20: ns1 added; ns2 added');
      for (let i = 0; i < 4; i++) expect(((await client.callTool({ name: 'dns_list_records', arguments: {} })) as Result).isError).toBeFalsy();
      expect(resultText((await client.callTool({ name: 'pihole_diff', arguments: {} })) as Result)).toBe('the 2 Pi-holes have the same 2 local records');
      const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
      expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'Pi-hole')).toMatchObject({ healthy: true, detail: 'ns1 blocking, 12% blocked; ns2 blocking, 12% blocked' });
      expect([ns1.logins(), ns2.logins()]).toEqual([1, 1]);

      // A reload that changes the integration (a longer timeout) logs out of the old sessions.
      const file = join(hub.dir, 'hub.yaml');
      const cfg = JSON.parse(readFileSync(file, 'utf8'));
      cfg.integrations.pihole.timeoutMs = 12_000;
      writeFileSync(file, JSON.stringify(cfg));
      await expect.poll(() => [ns1.logouts(), ns2.logouts()], { timeout: 20_000 }).toEqual([1, 1]);
      await expect.poll(() => [ns1.logins(), ns2.logins()], { timeout: 20_000 }).toEqual([2, 2]); // the new setup logs in again

      const http = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail.upstream === 'pihole');
      expect(http.map((e) => e.detail.url)).toEqual(expect.arrayContaining([`${ns1.url}/api/auth`, `${ns2.url}/api/config/dns/hosts/192.168.1.20%20jellyfin.lan`]));
      expect(JSON.stringify(readJournal(join(hub.dir, 'data')))).not.toMatch(/pw-ns[12]-secret/);
    } finally {
      await hub.stop();
    }
    // Stopping the hub logs out too: no seat is left taken.
    expect([ns1.sessions(), ns2.sessions()]).toEqual([0, 0]);
    expect(ns1.unknown()).toEqual([]);
    expect(ns2.unknown()).toEqual([]);
  });
});
