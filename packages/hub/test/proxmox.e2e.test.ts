/**
 * The Proxmox integration through the bundled hub, with an SDK client, against the fake Proxmox
 * VE of the testkit (HTTPS, self-signed, pinned by fingerprint; the token from the environment):
 * every tool, a write held by the gate with its named preview and run after approval, a viewer
 * who sees no write, a wrong token that breaks nothing else, a Proxmox down at start that comes
 * up without a restart, and the journal with every request and no secret.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startFakeProxmox, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'pve-admin-token-0123456789abcdef';
const VIEWER = 'pve-viewer-token-0123456789abcdef';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'kim', role: 'viewer', token: VIEWER }] };
const PVE_ID = 'homelab@pve!mcp';
const PVE_SECRET = '0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Proxmox through the hub', () => {
  it('reads for a viewer, a restart held with "Restart LXC ID (name) on node" and run after approval, audited without the token', { timeout: 120_000 }, async () => {
    await using pve = await startFakeProxmox({ tokens: { [PVE_ID]: PVE_SECRET }, taskMs: 100 });
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { proxmox: { url: pve.url, tokenId: PVE_ID, token: '${PVE_TOKEN}', fingerprint: pve.fingerprint } } },
      env: { PVE_TOKEN: PVE_SECRET },
    });
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const viewerTools = (await viewer.listTools()).tools.map((t) => t.name);
    expect(viewerTools).toEqual(expect.arrayContaining(['infra_overview', 'list_guests', 'get_guest', 'node_status', 'get_task']));
    expect(viewerTools.filter((n) => n.startsWith('guest_'))).toEqual([]);
    const overview = (await viewer.callTool({ name: 'infra_overview', arguments: {} })) as Result;
    expect(resultText(overview)).toMatch(/^4 nodes \(3 online\), 48 guests: /);

    await using admin = await connectClient(hub.url, TOKEN, 'legacy');
    const tools = (await admin.listTools()).tools;
    for (const name of ['guest_start', 'guest_stop', 'guest_restart']) expect(tools.find((t) => t.name === name)?.annotations).toMatchObject({ readOnlyHint: false });
    const n8n = pve.guests.find((g) => g.name === 'n8n' && g.type === 'lxc')!;
    const held = (await admin.callTool({ name: 'guest_restart', arguments: { vmid: n8n.vmid } })) as Result;
    expect(held.structuredContent).toMatchObject({ status: 'approval_required', preview: { tool: 'guest_restart', where: [`proxmox/${n8n.node}`], action: `Restart LXC ${n8n.vmid} (n8n) on ${n8n.node}, now running`, arguments: { vmid: n8n.vmid } } });
    expect(pve.tasks()).toEqual([]); // held: nothing ran
    await admin.callTool({ name: 'approve_writes', arguments: {} });
    const done = (await admin.callTool({ name: 'guest_restart', arguments: { vmid: n8n.vmid } })) as Result;
    expect(resultText(done)).toBe(`reboot of LXC ${n8n.vmid} (n8n) on ${n8n.node}: done (task OK)`);
    expect(pve.tasks()).toHaveLength(1);

    const health = (await admin.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'Proxmox')).toMatchObject({ kind: 'integration', healthy: false, detail: expect.stringMatching(/^4 nodes \(3 online\), 48 guests \(\d+ running\); Proxmox node pve4 is offline$/) });

    const events = readJournal(join(hub.dir, 'data'));
    const http = events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'proxmox');
    expect(http.map((e) => e.detail.url)).toEqual(expect.arrayContaining([`${pve.url}/api2/json/cluster/resources`, `${pve.url}/api2/json/nodes/${n8n.node}/lxc/${n8n.vmid}/status/reboot`]));
    const call = events.find((e) => e.kind === 'tool_call' && e.tool === 'guest_restart' && e.outcome === 'succeeded');
    expect(call).toMatchObject({ args: { vmid: n8n.vmid }, nodes: ['proxmox'] });
    const journalText = readdirSync(join(hub.dir, 'data', 'audit')).map((f) => readFileSync(join(hub.dir, 'data', 'audit', f), 'utf8')).join('');
    expect(journalText).not.toContain(PVE_SECRET);
    expect(hub.output()).not.toContain(PVE_SECRET);
    expect(pve.unknown()).toEqual([]);
  });

  it('a Proxmox down at start comes up without a restart', { timeout: 120_000 }, async () => {
    const port = await freePort();
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { proxmox: { url: `https://127.0.0.1:${port}`, tokenId: PVE_ID, token: PVE_SECRET, insecureTls: true } } },
    });
    expect(hub.output()).toMatch(/integrations\.proxmox\.insecureTls is true: the service's certificate is not checked/);
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    const down = (await admin.callTool({ name: 'list_guests', arguments: {} })) as Result;
    expect(down.isError).toBe(true);
    expect(resultText(down)).toBe(`127.0.0.1:${port}: connection refused`);
    const proxmoxLine = async () => ((await admin.callTool({ name: 'service_health', arguments: {} })) as Result).structuredContent!.items.find((i: { name: string }) => i.name === 'Proxmox').detail;
    expect(await proxmoxLine()).toBe(`Proxmox at 127.0.0.1:${port} is unreachable: 127.0.0.1:${port}: connection refused`);
    // The hub's own tools go on.
    expect(((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).isError).toBeFalsy();

    await using pve = await startFakeProxmox({ tokens: { [PVE_ID]: PVE_SECRET }, port });
    expect(resultText((await admin.callTool({ name: 'list_guests', arguments: {} })) as Result)).toMatch(/^48 guests:/);
    await expect.poll(proxmoxLine, { timeout: 30_000, interval: 300 }).toMatch(/^4 nodes \(3 online\), 48 guests/);
    expect(pve.unknown()).toEqual([]);
  });

  it('a wrong token is named by its key in every answer and breaks nothing else', { timeout: 120_000 }, async () => {
    await using pve = await startFakeProxmox({ tokens: { [PVE_ID]: PVE_SECRET } });
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { proxmox: { url: pve.url, tokenId: PVE_ID, token: 'wrong-secret-0123', fingerprint: pve.fingerprint } } },
    });
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    const rejected = (await admin.callTool({ name: 'list_guests', arguments: {} })) as Result;
    expect(resultText(rejected)).toBe(`Proxmox at ${pve.host} rejected the API token (integrations.proxmox.token)`);
    const line = ((await admin.callTool({ name: 'service_health', arguments: {} })) as Result).structuredContent!.items.find((i: { name: string }) => i.name === 'Proxmox');
    expect(line).toMatchObject({ healthy: false, detail: `Proxmox at ${pve.host} rejected the credential (integrations.proxmox.token)` });
    expect(((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).isError).toBeFalsy();
    expect(hub.output()).not.toContain('wrong-secret-0123');
  });
});
