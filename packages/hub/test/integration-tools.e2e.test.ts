/**
 * Every tool of every homelab-service integration, through the bundled hub with an SDK client,
 * against its service (real Caddy and CUPS; the testkit's fakes for the rest): each read answers without
 * an error; each write is first held with a preview, then runs after approval; each tool's
 * annotations match its class. A tool this test has no arguments for fails it, so a new tool
 * cannot go untried.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, startCaddy, startCups, startFakeGraylog, startFakeLms, startFakeN8n, startFakeNetbox, startFakePbs, startFakePihole, startFakeProxmox, startFakeSemaphore, startFakeOpnsense, startFakeDsm, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'integration-tools-admin-token-0123456789';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('every integration tool through the hub', () => {
  it('reads answer, writes are held and then run, annotations match the class', { timeout: 180_000 }, async () => {
    await using pve = await startFakeProxmox({ tokens: { 'hl@pve!t': 'pve-s' }, taskMs: 50 });
    await using pbs = await startFakePbs({ tokenId: 'hl@pbs!t', secret: 'pbs-s' });
    await using ns1 = await startFakePihole({ password: 'p1', hosts: ['10.0.0.1 a.lan'] });
    await using ns2 = await startFakePihole({ password: 'p2', hosts: ['10.0.0.1 a.lan'] });
    await using sem = await startFakeSemaphore({ token: 'semaphore-s', taskMs: 50 });
    await using c1 = await startCaddy({ routes: [{ host: 'a.test', body: 'a' }] });
    await using c2 = await startCaddy({ routes: [{ host: 'b.test', body: 'b' }] });
    await using n8n = await startFakeN8n({ apiKey: 'n8n-key-0123456789' });
    await using nb = await startFakeNetbox({ tokens: ['nbt_K3y0123.t0kenSecretPart9876543210abcdef'] });
    await using gl = await startFakeGraylog({ token: 'graylog-token-0123456789abcdef' });
    await using cups = await startCups();
    await using lms = await startFakeLms();
    await using opn = await startFakeOpnsense();
    await using dsm = await startFakeDsm({ account: 'hub', password: 'dsm-password-0123' });
    const opnRule = opn.rules[0]!.uuid;
    // A job someone queued on hold, for cancel_print_job.
    writeFileSync(join(cups.dir, 'held.txt'), 'held\n');
    const heldJob = await cups.lp(['-d', 'PDF', '-t', 'held', '-H', 'hold', join(cups.dir, 'held.txt')]);
    await using hub = await startHubProcess({
      config: {
        // Every tool, each write held, approved and revoked: more than the default burst of 60.
        auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }], rateLimit: { perMinute: 6000, burst: 1000 } },
        local: { enabled: false },
        integrations: {
          proxmox: { url: pve.url, tokenId: 'hl@pve!t', token: 'pve-s', fingerprint: pve.fingerprint },
          pbs: { url: pbs.url, tokenId: 'hl@pbs!t', token: 'pbs-s', fingerprint: pbs.fingerprint },
          pihole: { instances: [{ name: 'ns1', url: ns1.url, password: 'p1' }, { name: 'ns2', url: ns2.url, password: 'p2' }] },
          semaphore: { url: sem.url, token: 'semaphore-s' },
          caddy: { instances: [{ name: 'c1', url: c1.adminUrl }, { name: 'c2', url: c2.adminUrl }] },
          n8n: { url: n8n.url, apiKey: 'n8n-key-0123456789' },
          netbox: { url: nb.url, token: 'nbt_K3y0123.t0kenSecretPart9876543210abcdef' },
          graylog: { url: gl.url, token: 'graylog-token-0123456789abcdef' },
          cups: { url: cups.url },
          lyrion: { url: lms.url },
          opnsense: { url: opn.url, key: opn.key, secret: opn.secret },
          synology: { url: dsm.url, username: 'hub', password: 'dsm-password-0123', fingerprint: dsm.fingerprint },
        },
      },
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const running = pve.guests.find((g) => g.status === 'running' && g.node !== 'pve4')!;
    const args: Record<string, Record<string, unknown>> = {
      infra_overview: {},
      list_guests: { status: 'running' },
      get_guest: { vmid: running.vmid },
      node_status: { node: 'pve1' },
      guest_restart: { vmid: running.vmid },
      guest_stop: { vmid: running.vmid },
      guest_start: { vmid: running.vmid },
      pbs_datastores: {},
      pbs_backups: {},
      pbs_tasks: { state: 'failed' },
      dns_list_records: {},
      pihole_status: {},
      pihole_diff: {},
      dns_add_record: { name: 'b.lan', value: '10.0.0.2' },
      dns_remove_record: { name: 'b.lan' },
      semaphore_list_projects: {},
      semaphore_list_templates: {},
      semaphore_task_status: {},
      semaphore_run_task: { template: 'Update servers', dry_run: true },
      caddy_sites: {},
      caddy_config: { path: 'apps/http/servers' },
      caddy_diff: {},
      n8n_workflows: {},
      n8n_executions: { status: 'error' },
      netbox_search: { query: 'grafana' },
      netbox_ips: { prefix_or_address: '10.0.20.0/24' },
      netbox_devices: {},
      search_logs: { query: '*', range: '1h' },
      graylog_streams: {},
      graylog_overview: {},
      list_printers: {},
      list_print_jobs: { which: 'all' },
      print_document: { printer: 'PDF', text: 'integration tools\n' },
      cancel_print_job: { job: heldJob },
      lms_players: {},
      lms_control: { player: 'all', action: 'power_on' },
      lms_play: { player: 'Kitchen', query: 'Kind of Blue' },
      opnsense_status: {},
      opnsense_interfaces: {},
      opnsense_rules: {},
      opnsense_create_rule: { action: 'block', interface: 'lan', source: 'lan', destination: '192.168.1.66', description: 'integration tools' },
      opnsense_toggle_rule: { uuid: opnRule, enabled: false },
      nas_health: {},
      nas_list_shares: {},
      nas_list_snapshots: { share: 'homes' },
      nas_create_snapshot: { share: 'homes', description: 'integration tools' },
    };
    // dns_lookup is an internet tool (internet-dns.e2e tries it against real resolvers), not Pi-hole's.
    const tools = (await client.listTools()).tools.filter((t) => t.name !== 'dns_lookup' && (args[t.name] !== undefined || /^(infra_|list_guests|get_guest|node_status|guest_|get_task|pbs_|dns_|pihole_|semaphore_|caddy_|n8n_|netbox_|graylog_|search_logs|list_print|print_document|cancel_print_job|lms_|opnsense_|nas_)/.test(t.name)));
    const missing = tools.map((t) => t.name).filter((n) => n !== 'get_task' && args[n] === undefined);
    expect(missing, 'integration tools this test has no arguments for').toEqual([]);
    let upid: string | undefined;
    await client.callTool({ name: 'revoke_writes', arguments: {} });
    // In the order above: restart a running guest, then stop it, then start it again.
    for (const name of Object.keys(args)) {
      const t = tools.find((x) => x.name === name);
      expect(t, `${name} is listed`).toBeDefined();
      if (!t) continue;
      const write = t.annotations?.readOnlyHint === false;
      expect(t.description, t.name).toMatch(write ? /^\[write: needs approval\] / : /^\[read\] /);
      if (write) {
        const held = (await client.callTool({ name: t.name, arguments: args[t.name] })) as Result;
        expect(held.structuredContent?.status, t.name).toBe('approval_required');
        expect(held.structuredContent?.preview.action, t.name).not.toMatch(/could not be looked up/);
        await client.callTool({ name: 'approve_writes', arguments: {} });
      }
      const r = (await client.callTool({ name: t.name, arguments: args[t.name] })) as Result;
      expect(r.isError, `${t.name}: ${r.content[0]?.text}`).toBeFalsy();
      expect(r.structuredContent, t.name).toBeDefined();
      if (write) await client.callTool({ name: 'revoke_writes', arguments: {} });
      upid ??= r.structuredContent?.upid;
    }
    expect(upid).toMatch(/^UPID:/);
    expect(((await client.callTool({ name: 'get_task', arguments: { upid } })) as Result).isError).toBeFalsy();
    for (const f of [pve, pbs, ns1, ns2, sem, n8n, nb, gl, lms, opn, dsm]) expect(f.unknown()).toEqual([]);
  });
});
