/**
 * run_diagnostic with the homelab-service integrations: a topology service gets each matching
 * integration's view. Its Proxmox guest (named like the service or its node) stopped, the
 * Pi-hole it is with blocking disabled, the real Caddy route in front of it whose upstream
 * fails: each a problem with what to do. Real Caddy; fake Proxmox and Pi-hole (testkit).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, freePort, startCaddy, startFakePihole, startFakeProxmox, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'views-admin-token-0123456789abcdef';
const PVE_ID = 'homelab@pve!mcp';
const PVE_SECRET = 'views-pve-secret-0123456789';
type Diagnosis = { findings: Array<{ check: string; status: string; detail: string }>; suggestions: string[] };

describe('run_diagnostic asks the integrations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-views-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the stopped Proxmox guest, the Pi-hole with blocking off and the Caddy route whose upstream fails', { timeout: 120_000 }, async () => {
    await using pve = await startFakeProxmox({ tokens: { [PVE_ID]: PVE_SECRET } });
    const stopped = pve.guests.find((g) => g.type === 'lxc' && g.status === 'stopped' && g.node !== 'pve4')!;
    const running = pve.guests.find((g) => g.type === 'lxc' && g.status === 'running')!;
    await using ns1 = await startFakePihole({ password: 'pw', blocking: 'disabled' });
    const deadPort = await freePort();
    await using caddy = await startCaddy({ routes: [{ host: 'app.test', upstream: `127.0.0.1:${deadPort}` }] });
    // One visitor got a 502: Caddy counts the failed upstream.
    await new Promise<void>((resolve, reject) =>
      request(caddy.httpUrl, { headers: { host: 'app.test' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end(),
    );
    const topology = join(dir, 'topology.yaml');
    writeFileSync(
      topology,
      [
        'nodes:',
        `  - { name: ${stopped.name}, addresses: [127.0.0.1] }`,
        `  - { name: ${running.name}, addresses: [127.0.0.1] }`,
        '  - { name: dns1, addresses: [127.0.0.1] }',
        'services:',
        `  - { name: ${stopped.name}, node: ${stopped.name} }`,
        `  - { name: ${running.name}, node: ${running.name} }`,
        `  - { name: pihole, node: dns1, url: "${ns1.url}/admin/" }`,
        `  - { name: app, node: dns1, url: "http://app.test/" }`,
        '',
      ].join('\n'),
    );
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] },
        local: { enabled: false },
        topology: { file: topology },
        integrations: {
          proxmox: { url: pve.url, tokenId: PVE_ID, token: PVE_SECRET, fingerprint: pve.fingerprint },
          pihole: { instances: [{ name: 'ns1', url: ns1.url, password: 'pw' }] },
          caddy: { url: caddy.adminUrl },
        },
      },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const diagnose = async (service: string) => ((await client.callTool({ name: 'run_diagnostic', arguments: { service } })) as { structuredContent: Diagnosis }).structuredContent;

    const down = await diagnose(stopped.name);
    expect(down.findings).toContainEqual({ check: 'proxmox guest', status: 'problem', detail: `LXC ${stopped.vmid} (${stopped.name}) on Proxmox node ${stopped.node} is stopped` });
    expect(down.suggestions).toContain(`Its Proxmox guest is stopped: start it with guest_start(vmid: ${stopped.vmid}) (a write that needs approval), then look at why it stopped (get_guest).`);
    expect((await diagnose(running.name)).findings).toContainEqual({ check: 'proxmox guest', status: 'ok', detail: `LXC ${running.vmid} (${running.name}) on Proxmox node ${running.node} is running` });

    const dns = await diagnose('pihole');
    expect(dns.findings).toContainEqual({ check: 'pi-hole ns1', status: 'problem', detail: 'Pi-hole ns1 has blocking disabled' });

    const app = await diagnose('app');
    expect(app.findings).toContainEqual({ check: 'caddy caddy', status: 'problem', detail: `Caddy caddy routes app.test to 127.0.0.1:${deadPort}; 127.0.0.1:${deadPort} failed 1 recent request` });
    expect(app.suggestions).toContain(`Caddy caddy cannot reach the upstream of app.test (127.0.0.1:${deadPort}): visitors get 502 until app answers there.`);
    // No guest is named app or dns1: no Proxmox finding for it.
    expect(app.findings.filter((f) => f.check.startsWith('proxmox'))).toEqual([]);
    // The fake cluster has a guest named pihole: the Pi-hole service gets its view too.
    expect(dns.findings.map((f) => f.check)).toContain('proxmox guest');
    expect(pve.unknown()).toEqual([]);
    expect(ns1.unknown()).toEqual([]);
  });
});
