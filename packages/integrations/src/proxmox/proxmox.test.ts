import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { startFakeProxmox, type FakeProxmox } from '@homelab-mcp/testkit';
import type { IntegrationTool } from '../integration.ts';
import { configAddresses, ProxmoxConfigSchema, proxmoxIntegration, upidNode, type ProxmoxInstance } from './index.ts';

const TOKEN_ID = 'homelab@pve!mcp';
const SECRET = '5f7b0e4c-1d2a-4b8e-9c3f-a1b2c3d4e5f6';
let pve: FakeProxmox;
let px: ProxmoxInstance;
const reports: HttpRequestReport[] = [];
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };

const setup = (over: Record<string, unknown> = {}) =>
  proxmoxIntegration.setup(ProxmoxConfigSchema.parse({ url: pve.url, tokenId: TOKEN_ID, token: SECRET, fingerprint: pve.fingerprint, taskWaitSeconds: 10, ...over }), { http: createHttpClient({ onRequest: (r) => reports.push(r) }), log });

beforeAll(async () => {
  pve = await startFakeProxmox({ tokens: { [TOKEN_ID]: SECRET, 'auditor@pve!ro': 'ro-secret' }, readOnlyTokens: ['auditor@pve!ro'], taskMs: 150 });
  px = setup();
});
afterAll(async () => {
  await px?.close?.();
  await pve?.stop();
});
afterEach(() => expect(pve.unknown()).toEqual([]));

const tool = (inst: ProxmoxInstance, name: string): IntegrationTool => inst.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}, inst = px) => tool(inst, name).call(args, { signal: new AbortController().signal });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;

describe('proxmox reads (fake Proxmox VE over HTTPS, its certificate pinned)', () => {
  it('infra_overview: nodes, guests by type and state, storage, on one screen', async () => {
    const r = await call('infra_overview');
    expect(r.isError).toBeFalsy();
    const running = pve.guests.filter((g) => g.status === 'running' && g.node !== 'pve4');
    expect(text(r).split('\n')[0]).toBe(`4 nodes (3 online), 48 guests: VMs ${running.filter((g) => g.type === 'qemu').length} running / ${pve.guests.filter((g) => g.type === 'qemu' && g.status === 'stopped').length} stopped, LXC ${running.filter((g) => g.type === 'lxc').length} running / ${pve.guests.filter((g) => g.type === 'lxc' && g.status === 'stopped').length} stopped`);
    expect(text(r)).toContain('- pve4: offline');
    expect(text(r)).toContain('- local-lvm on pve1: 88% used (700.0/800.0 GiB)');
    // Every request carried the token and is reported without it.
    expect(reports.length).toBeGreaterThan(0);
    expect(JSON.stringify(reports)).not.toContain(SECRET);
  });

  it('list_guests filters by status, node, type and tag, sorted by VMID', async () => {
    const r = await call('list_guests', { type: 'lxc', status: 'stopped' });
    const want = pve.guests.filter((g) => g.type === 'lxc' && g.status === 'stopped').sort((a, b) => a.vmid - b.vmid);
    expect(r.structuredContent).toMatchObject({ total: want.length, guests: want.map((g) => ({ vmid: g.vmid, type: 'lxc', name: g.name, status: 'stopped' })) });
    expect(text(r)).toMatch(/^\d+ guests:\n- 30004 LXC zigbee2mqtt|^\d+ guests:\n- 300\d\d LXC /);
    const tagged = await call('list_guests', { tag: 'test', node: 'pve1' });
    expect((tagged.structuredContent as { guests: Array<{ tags: string[]; node: string }> }).guests.every((g) => g.tags.includes('test') && g.node === 'pve1')).toBe(true);
    const bad = await call('list_guests', { type: 'docker' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/^list_guests: argument "type": /);
  });

  it('get_guest reconciles addresses from the config, cloud-init, the agent and the running container', async () => {
    const lxc = pve.guests.find((g) => g.type === 'lxc' && g.status === 'running')!;
    const r = await call('get_guest', { vmid: lxc.vmid });
    expect(text(r)).toContain(`LXC ${lxc.vmid} ${lxc.name} on ${lxc.node}: running`);
    expect(r.structuredContent).toMatchObject({ addresses: [{ address: lxc.liveIp, sources: ['config', 'interfaces'], interface: 'eth0' }] });
    const vm = pve.guests.find((g) => g.type === 'qemu' && g.status === 'running' && g.agent && g.staticIp)!;
    const v = await call('get_guest', { vmid: vm.vmid });
    expect(v.structuredContent).toMatchObject({ addresses: [{ address: vm.liveIp, sources: ['cloud-init', 'agent'] }] });
    const noAgent = pve.guests.find((g) => g.type === 'qemu' && g.status === 'running' && !g.agent)!;
    expect(text(await call('get_guest', { vmid: noAgent.vmid }))).toContain('no QEMU guest agent configured: only static addresses are known');
    const none = await call('get_guest', { vmid: 999 });
    expect(none).toMatchObject({ isError: true, content: [{ text: `no guest 999 in the cluster (Proxmox at ${pve.host}); list_guests shows the guests there are` }] });
  });

  it('node_status: all nodes, one in detail, an offline one and an unknown one said plainly', async () => {
    expect(text(await call('node_status'))).toMatch(/^- pve1: online, CPU 12% of 16, memory 20\.0\/64\.0 GiB/);
    expect(text(await call('node_status', { node: 'pve2' }))).toMatch(/^pve2: pve-manager\/8\.3\.2.*\nCPU: Intel\(R\) N100 \(4 threads\)/);
    expect(text(await call('node_status', { node: 'pve4' }))).toBe('node pve4 is offline: Proxmox cannot ask it');
    expect(text(await call('node_status', { node: 'pve9' }))).toBe('node_status: argument "node": no node "pve9" in the cluster (there are pve1, pve2, pve3, pve4)');
  });

  it('configAddresses reads LXC net and cloud-init ipconfig lines, skipping dhcp', () => {
    expect(configAddresses('lxc', { net0: 'name=eth0,bridge=vmbr0,ip=192.168.1.5/24,gw=192.168.1.1', net1: 'name=eth1,ip=dhcp' })).toEqual([{ address: '192.168.1.5', source: 'config', interface: 'eth0' }]);
    expect(configAddresses('qemu', { ipconfig0: 'ip=10.0.0.5/24,gw=10.0.0.1,ip6=fd00::5/64' })).toEqual([
      { address: '10.0.0.5', source: 'cloud-init', interface: 'ipconfig0' },
      { address: 'fd00::5', source: 'cloud-init', interface: 'ipconfig0' },
    ]);
    expect(upidNode('UPID:pve1:00001000:0ABCDEF0:65A1B2C3:qmstart:100:root@pam!homelab:')).toBe('pve1');
    expect(upidNode('UPID:../x')).toBeUndefined();
  });
});

describe('proxmox writes', () => {
  it('preview names the guest, its type, node and state; the write waits for its task and reports it', async () => {
    const g = pve.guests.find((x) => x.type === 'lxc' && x.status === 'running' && x.name === 'n8n')!;
    const restart = tool(px, 'guest_restart');
    expect(await restart.preview!({ vmid: g.vmid }, { signal: new AbortController().signal })).toEqual({ action: `Restart LXC ${g.vmid} (n8n) on ${g.node}, now running`, where: [`proxmox/${g.node}`] });
    const before = pve.tasks().length;
    const r = await call('guest_restart', { vmid: g.vmid });
    expect(r.isError).toBeFalsy();
    expect(text(r)).toBe(`reboot of LXC ${g.vmid} (n8n) on ${g.node}: done (task OK)`);
    expect(pve.tasks().slice(before)).toMatchObject([{ type: 'vzreboot', id: String(g.vmid), user: TOKEN_ID }]);
    const stop = tool(px, 'guest_stop');
    expect((await stop.preview!({ vmid: g.vmid, force: true }, { signal: new AbortController().signal })).action).toBe(`Power off (no clean shutdown) LXC ${g.vmid} (n8n) on ${g.node}, now running`);
    expect((await stop.preview!({ vmid: 'x' }, { signal: new AbortController().signal })).action).toMatch(/^guest_stop with arguments it will refuse \(argument "vmid": /);
  });

  it('a failed task is an error with Proxmox’s exit status and the end of its log', async () => {
    const stopped = pve.guests.find((x) => x.type === 'qemu' && x.status === 'stopped' && x.node !== 'pve4')!;
    const r = await call('guest_restart', { vmid: stopped.vmid });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe(`reboot of VM ${stopped.vmid} (${stopped.name}) on ${stopped.node} failed: VM ${stopped.vmid} not running\nlog:\nreboot qemu ${stopped.vmid}\nTASK ERROR: VM ${stopped.vmid} not running`);
  });

  it('a task longer than taskWaitSeconds answers with its UPID, and get_task follows it', async () => {
    const quick = setup({ taskWaitSeconds: 0 });
    try {
      pve.setTaskMs(400);
      const g = pve.guests.find((x) => x.type === 'qemu' && x.status === 'stopped' && x.node !== 'pve4')!;
      const r = await call('guest_start', { vmid: g.vmid }, quick);
      expect(r.structuredContent).toMatchObject({ status: 'running', action: 'start' });
      const upid = (r.structuredContent as { upid: string }).upid;
      expect(text(r)).toBe(`start of VM ${g.vmid} (${g.name}) on ${g.node}: still running after 0 s; get_task(upid: "${upid}") tells how it ends`);
      await expect.poll(async () => (await call('get_task', { upid })).structuredContent).toMatchObject({ status: 'stopped', exitstatus: 'OK' });
      expect(text(await call('get_task', { upid }))).toMatch(new RegExp(`^task qmstart ${g.vmid} on ${g.node}: finished OK\\nlog \\(last 2 of 2 lines\\):\\nstart qemu ${g.vmid}\\nTASK OK$`));
      expect((await call('get_task', { upid: 'UPID:../../etc' })).isError).toBe(true);
    } finally {
      pve.setTaskMs(150);
      await quick.close?.();
    }
  });

  it('a write whose task cannot be followed still answers with its UPID (a retry would restart the guest twice)', async () => {
    const g = pve.guests.find((x) => x.status === 'running' && x.node !== 'pve4')!;
    pve.setTaskStatusFails(true);
    try {
      const r = await call('guest_restart', { vmid: g.vmid });
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent).toMatchObject({ status: 'unknown', upid: expect.stringMatching(/^UPID:/) });
      expect(text(r)).toMatch(/: started \(task UPID:.*\), but its state could not be read: Proxmox at .*: HTTP 500: got timeout; get_task\(upid: "UPID:/);
    } finally {
      pve.setTaskStatusFails(false);
    }
  });

  it('a token without VM.PowerMgmt gets Proxmox’s permission message, naming what it lacks', async () => {
    const ro = setup({ tokenId: 'auditor@pve!ro', token: 'ro-secret' });
    try {
      const g = pve.guests.find((x) => x.status === 'running' && x.node !== 'pve4')!;
      const r = await call('guest_stop', { vmid: g.vmid }, ro);
      expect(r).toMatchObject({ isError: true, content: [{ text: `Proxmox at ${pve.host} refused: Permission check failed (/vms/${g.vmid}, VM.PowerMgmt) (the API token lacks that privilege)` }] });
    } finally {
      await ro.close?.();
    }
  });
});

describe('proxmox trust and credentials', () => {
  it('a wrong token: every tool and the health line say Proxmox rejected the API token, by its key, never its value', async () => {
    const wrong = setup({ token: 'wrong-secret-value' });
    try {
      const r = await call('list_guests', {}, wrong);
      expect(r).toMatchObject({ isError: true, content: [{ text: `Proxmox at ${pve.host} rejected the API token (integrations.proxmox.token)` }] });
      const h = await wrong.health!(new AbortController().signal);
      expect(h).toEqual({ ok: false, detail: `Proxmox at ${pve.host} rejected the credential (integrations.proxmox.token)` });
      expect(JSON.stringify([logs, reports])).not.toContain('wrong-secret-value');
    } finally {
      await wrong.close?.();
    }
  });

  it('without a trust of its own the self-signed certificate is refused; another pin too', async () => {
    const plain = setup({ fingerprint: undefined });
    const pinnedOther = setup({ fingerprint: 'AB'.repeat(32) });
    try {
      expect(text(await call('infra_overview', {}, plain))).toBe(`${pve.host}: TLS certificate is self-signed and not trusted`);
      expect(text(await call('infra_overview', {}, pinnedOther))).toBe(`${pve.host}: TLS certificate is not the one pinned (its SHA-256 fingerprint differs)`);
    } finally {
      await plain.close?.();
      await pinnedOther.close?.();
    }
  });

  it('health: nodes and guests in one line; the offline node is a problem', async () => {
    const h = await px.health!(new AbortController().signal);
    expect(h).toMatchObject({ ok: false, detail: expect.stringMatching(/^4 nodes \(3 online\), 48 guests \(\d+ running\)$/), problems: ['Proxmox node pve4 is offline'] });
  });

  it('the config names what is wrong', () => {
    const issues = (v: Record<string, unknown>) => ProxmoxConfigSchema.safeParse({ url: 'https://pve:8006', tokenId: TOKEN_ID, token: 's', ...v }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ tokenId: 'root@pam=x' })).toEqual(['tokenId: USER@REALM!TOKENID, e.g. homelab@pve!mcp']);
    expect(issues({ url: 'pve:8006' })).toEqual(['url: an http(s) URL, e.g. https://pve.lan:8006']);
    expect(issues({ fingerprint: 'AB', insecureTls: true })?.[0]).toMatch(/^fingerprint: a SHA-256 certificate fingerprint/);
  });
});
