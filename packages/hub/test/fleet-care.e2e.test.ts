/**
 * Fleet care end to end: the bundled hub with real edge processes. Package managers are scripts
 * on the edge's PATH that print captured apt-get and dnf output and log their argv (this
 * machine's packages are never touched; the edge unit test runs the real `apt-get -s`); the
 * reboot command is a script that tells the test, which then restarts that edge on the same
 * port with a new boot id; wake-on-LAN packets go to a UDP listener on 127.0.0.1.
 */
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'fleet-admin-token-0123456789';
const VIEWER = 'fleet-viewer-token-0123456789';
const FIXTURES = fileURLToPath(new URL('../../edge/src/capabilities/packages/__fixtures__/', import.meta.url));
const APT_OPTS = '-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

const dir = mkdtempSync(join(tmpdir(), 'fleet-care-e2e-'));

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}
const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : []);

// A PATH of its own for each edge: only the fake package manager is on it, never the real one.
const aptDir = join(dir, 'apt-bin');
const dnfDir = join(dir, 'dnf-bin');
mkdirSync(aptDir);
mkdirSync(dnfDir);
const aptLog = join(dir, 'apt.log');
const dnfLog = join(dir, 'dnf.log');
script(
  join(aptDir, 'apt-get'),
  `echo "$*" >> '${aptLog}'
case "$*" in
  "-s ${APT_OPTS} upgrade") /bin/cat '${FIXTURES}apt-get-s-upgrade.txt' ;;
  "-s ${APT_OPTS} install --only-upgrade bash liblzma5") /bin/cat '${FIXTURES}apt-get-s-install-only-upgrade.txt' ;;
  "${APT_OPTS} install --only-upgrade bash liblzma5") /bin/cat '${FIXTURES}apt-get-upgrade-run.txt' ;;
  *) echo "E: fake apt-get: unexpected arguments: $*" >&2; exit 99 ;;
esac`,
);
script(
  join(dnfDir, 'dnf'),
  `echo "$*" >> '${dnfLog}'
case "$*" in
  "-q check-update") /bin/cat '${FIXTURES}dnf-check-update.txt'; exit 100 ;;
  *) echo "Error: fake dnf: unexpected arguments: $*" >&2; exit 99 ;;
esac`,
);
const rebootMarker = join(dir, 'rebooted');
const rebootScript = join(dir, 'fake-reboot');
script(rebootScript, `echo "$@" >> '${rebootMarker}'`);
const bootIdFile = join(dir, 'boot_id');
const BOOT_1 = '0b7e2a51-3c1d-4f4e-9a0b-111111111111';
const BOOT_2 = '0b7e2a51-3c1d-4f4e-9a0b-222222222222';
writeFileSync(bootIdFile, `${BOOT_1}\n`);

let aptEdge: EdgeProcess;
let dnfEdge: EdgeProcess;
let rebootEdge: EdgeProcess;
let hub: HubProcess;
let udp: Socket;
let udpPort: number;
const packets: Array<{ bytes: Buffer; from: number }> = [];

const rebootArgs = ['--reboot-command', `${rebootScript} now`, '--boot-id-file', bootIdFile, '--node-name', 'pi-r'];

beforeAll(async () => {
  udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  udpPort = udp.address().port;
  udp.on('message', (m, rinfo) => packets.push({ bytes: m, from: rinfo.port }));
  [aptEdge, dnfEdge, rebootEdge] = await Promise.all([
    startEdgeProcess({ env: { PATH: aptDir }, timeoutMs: 30_000 }),
    startEdgeProcess({ env: { PATH: dnfDir }, timeoutMs: 30_000 }),
    startEdgeProcess({ env: { PATH: dir }, args: rebootArgs, timeoutMs: 30_000 }),
  ]);
  writeFileSync(
    join(dir, 'topology.yaml'),
    [
      'subnets:',
      '  - { name: lan, cidr: 192.168.1.0/24 }',
      '  - { name: office, cidr: 10.0.8.0/22 }',
      // The test's UDP listener: the "broadcast address" of a /32 is the address itself.
      '  - { name: loop, cidr: 127.0.0.1/32 }',
      'nodes:',
      '  - { name: pi-apt, addresses: [192.168.1.31], subnet: lan, edge: pi-apt }',
      '  - { name: pi-dnf, addresses: [192.168.1.32], subnet: lan, edge: pi-dnf }',
      '  - { name: pi-r, addresses: [192.168.1.33], subnet: lan, edge: pi-r }',
      '  - { name: nas, addresses: [192.168.1.10], subnet: lan, roles: [storage], mac: "00-11-32-AB-CD-EF" }',
      '  - { name: desktop, addresses: [10.0.8.20], subnet: office, roles: [storage], mac: "3c:7c:3f:12:34:56" }',
      '  - { name: printer, addresses: [192.168.1.40], subnet: lan }',
      'services:',
      '  - { name: mpd, node: pi-r, ports: [6600], unit: mpd.service }',
      '',
    ].join('\n'),
  );
  hub = await startHubProcess({
    cwd: dir,
    config: {
      auth: {
        tokens: [
          { user: 'dana', role: 'admin', token: ADMIN },
          { user: 'vic', role: 'viewer', token: VIEWER },
        ],
        rateLimit: { perMinute: 6000, burst: 1000 },
      },
      local: { enabled: false },
      nodes: [
        { name: 'pi-apt', url: aptEdge.url, token: '${APT_TOKEN}', roles: ['debian'] },
        { name: 'pi-dnf', url: dnfEdge.url, token: '${DNF_TOKEN}' },
        { name: 'pi-r', url: rebootEdge.url, token: '${R_TOKEN}', roles: ['speaker'] },
      ],
      topology: { file: 'topology.yaml' },
    },
    env: { APT_TOKEN: aptEdge.token, DNF_TOKEN: dnfEdge.token, R_TOKEN: rebootEdge.token },
    timeoutMs: 40_000,
  });
}, 90_000);

afterAll(async () => {
  await hub?.stop();
  await Promise.all([aptEdge?.stop(), dnfEdge?.stop(), rebootEdge?.stop()]);
  udp?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Result = { content: Array<{ type: string; text: string }>; structuredContent: any; isError?: boolean };
async function call(client: Awaited<ReturnType<typeof connectClient>>, name: string, args: Record<string, unknown>): Promise<Result> {
  return (await client.callTool({ name, arguments: args })) as Result;
}

describe('package_updates and package_upgrade', () => {
  it('lists updates on every node in parallel, one result per node', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const r = await call(client, 'package_updates', { node: ['pi-apt', 'pi-dnf'] });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent.summary).toBe('2 nodes: 2 ok');
    const [apt, dnf] = r.structuredContent.nodes;
    expect(apt.node).toBe('pi-apt');
    expect(apt.structuredContent).toMatchObject({ manager: 'apt', count: 127, command: `apt-get ${APT_OPTS} upgrade` });
    expect(dnf.structuredContent).toMatchObject({ manager: 'dnf', count: 5 });
    expect(resultText(r)).toContain('## pi-apt\n127 package updates, ');
    expect(resultText(r)).toContain('## pi-dnf\n5 package updates via dnf: `dnf -y upgrade`');
  });

  it('a viewer may read updates but neither sees nor calls package_upgrade', async () => {
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('package_updates');
    expect(names).not.toContain('package_upgrade');
    expect(names).not.toContain('reboot_node');
    expect(names).not.toContain('wake_on_lan');
    const before = lines(aptLog).length;
    await expect(call(client, 'package_upgrade', { node: 'pi-apt', packages: ['bash', 'liblzma5'] })).rejects.toThrow(/Tool package_upgrade not found/);
    expect(lines(aptLog).slice(before).some((l) => !l.startsWith('-s '))).toBe(false);
  });

  it('package_upgrade is held with a preview listing exactly the packages, versions and command; runs once approved', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    await call(client, 'revoke_writes', {});
    const before = lines(aptLog).length;
    const held = await call(client, 'package_upgrade', { node: 'pi-apt', packages: ['bash', 'liblzma5'] });
    expect(held.structuredContent.status).toBe('approval_required');
    expect(held.structuredContent.preview.action).toBe(
      [
        'upgrade packages on pi-apt',
        `pi-apt: run \`apt-get ${APT_OPTS} install --only-upgrade bash liblzma5\`, upgrading 4 packages:`,
        '  bash 5.2.15-2+b8 → 5.2.15-2+b13',
        '  liblzma-dev 5.4.1-1 → 5.4.1-1+deb12u2 [security]',
        '  liblzma5 5.4.1-1 → 5.4.1-1+deb12u2 [security]',
        '  xz-utils 5.4.1-1 → 5.4.1-1+deb12u2 [security]',
      ].join('\n│ '),
    );
    // The preview only simulated.
    expect(lines(aptLog).slice(before)).toEqual([`-s ${APT_OPTS} install --only-upgrade bash liblzma5`]);

    expect(resultText(await call(client, 'approve_writes', {}))).toContain('approved');
    const r = await call(client, 'package_upgrade', { node: 'pi-apt', packages: ['bash', 'liblzma5'] });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exitCode: 0, upgraded: ['bash 5.2.15-2+b13', 'liblzma5 5.4.1-1+deb12u2'] });
    expect(lines(aptLog).at(-1)).toBe(`${APT_OPTS} install --only-upgrade bash liblzma5`);
  });

  it('refuses a package name that could be an option before anything runs', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    await call(client, 'approve_writes', {});
    const before = lines(aptLog).length;
    const r = await call(client, 'package_upgrade', { node: 'pi-apt', packages: ['-o', 'APT::Update::Pre-Invoke::=id'] });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toMatch(/packages: "-o" is not a package name/);
    expect(lines(aptLog).slice(before)).toEqual([]);
  });
});

describe('wake_on_lan', () => {
  const magic = (mac: string) => 'ff'.repeat(6) + mac.replace(/:/g, '').repeat(16);
  const until = async (n: number) => {
    while (packets.length < n) await new Promise((r) => setTimeout(r, 20));
  };

  it('finds the MAC in the topology and sends from an edge on the same subnet, with the exact packet', async () => {
    packets.length = 0;
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    // A 2026 client's session is its name: approvals of earlier tests carry over.
    await call(client, 'revoke_writes', {});
    const held = await call(client, 'wake_on_lan', { node: 'nas', address: '127.0.0.1', port: udpPort });
    expect(held.structuredContent.status).toBe('approval_required');
    expect(held.structuredContent.preview.action).toMatch(/^send a wake-on-LAN packet for nas \(00:11:32:ab:cd:ef\) from pi-(apt|dnf|r) to 127\.0\.0\.1:\d+ \(pi-(apt|dnf|r) is on its subnet lan\)$/);
    expect(packets).toHaveLength(0);
    await call(client, 'approve_writes', {});
    const r = await call(client, 'wake_on_lan', { node: 'nas', address: '127.0.0.1', port: udpPort });
    expect(r.isError).toBeFalsy();
    expect(resultText(r)).toMatch(new RegExp(`^sent for nas \\(00:11:32:ab:cd:ef\\) from pi-(apt|dnf|r) to 127\\.0\\.0\\.1:${udpPort}$`));
    await until(1);
    expect(packets.map((p) => p.bytes.toString('hex'))).toEqual([magic('00:11:32:ab:cd:ef')]);
  });

  it('sends from the hub when no edge is on the subnet; by role, one result per machine', async () => {
    packets.length = 0;
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    await call(client, 'approve_writes', {});
    const r = await call(client, 'wake_on_lan', { node: 'role:storage', address: '127.0.0.1', port: udpPort });
    expect(r.structuredContent.summary).toBe('2 machines: 2 packets sent');
    expect(r.structuredContent.targets.map((t: any) => [t.target, t.from])).toEqual([
      ['nas', expect.stringMatching(/^pi-/)],
      ['desktop', 'hub'],
    ]);
    await until(2);
    expect(packets.map((p) => p.bytes.toString('hex')).sort()).toEqual([magic('00:11:32:ab:cd:ef'), magic('3c:7c:3f:12:34:56')].sort());
  });

  it('takes a MAC directly, and refuses bad MACs and nodes without one clearly', async () => {
    packets.length = 0;
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    await call(client, 'approve_writes', {});
    const r = await call(client, 'wake_on_lan', { mac: 'b8:27:eb:00:00:01', via: 'pi-dnf', address: '127.0.0.1', port: udpPort });
    expect(resultText(r)).toBe(`sent for b8:27:eb:00:00:01 from pi-dnf to 127.0.0.1:${udpPort}`);
    await until(1);
    expect(packets[0]!.bytes.toString('hex')).toBe(magic('b8:27:eb:00:00:01'));
    for (const [args, msg] of [
      [{ mac: 'b8:27:eb:00:00' }, 'mac: expected a MAC address such as b8:27:eb:12:34:56, got "b8:27:eb:00:00"'],
      [{ mac: 'ff:ff:ff:ff:ff:ff' }, 'is a multicast or broadcast address'],
      [{ node: 'printer' }, 'node: printer has no mac in topology.yaml'],
      [{ node: 'nas', mac: 'b8:27:eb:00:00:01' }, 'give either node'],
      [{ mac: 'b8:27:eb:00:00:01', via: 'nope' }, 'via: unknown node "nope" (known nodes: pi-apt, pi-dnf, pi-r, or "hub")'],
      [{ node: 'role:printers' }, 'node: no topology node with the role "printers" declares a mac'],
      [{ mac: 'b8:27:eb:00:00:01', address: '192.168.1.255; id', port: udpPort }, 'address: expected an IPv4 broadcast address'],
    ] as const) {
      const bad = await call(client, 'wake_on_lan', args);
      expect(bad.isError, JSON.stringify(args)).toBe(true);
      expect(resultText(bad)).toContain(msg);
    }
    expect(packets).toHaveLength(1);
  });
});

describe('wake_on_lan is no way to send UDP anywhere (#18 review)', () => {
  it('refuses an address that is not 255.255.255.255 nor the broadcast address of a topology subnet; nothing is sent', async () => {
    packets.length = 0;
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    await call(client, 'approve_writes', {});
    for (const [args, from] of [
      [{ mac: 'b8:27:eb:00:00:01', address: '8.8.8.8', port: 53 }, 'the hub'],
      [{ mac: 'b8:27:eb:00:00:01', address: '127.0.0.2', port: udpPort }, 'the hub'],
      [{ node: 'nas', address: '192.168.1.10', port: udpPort }, 'an edge'],
      [{ mac: 'b8:27:eb:00:00:01', via: 'pi-dnf', address: '127.0.0.53', port: 53 }, 'an edge'],
    ] as const) {
      const r = await call(client, 'wake_on_lan', args);
      expect(r.isError, `${JSON.stringify(args)} from ${from}`).toBe(true);
      expect(resultText(r)).toContain(`address: ${args.address} is not a broadcast address: expected 255.255.255.255 or the broadcast address of a subnet in topology.yaml (192.168.1.255, 10.0.11.255, 127.0.0.1)`);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(packets).toHaveLength(0);
  });
});

describe('reboot_node', () => {
  it('shows the node and what runs on it, reboots through the edge, waits for the new boot id and says how long it took', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    await call(client, 'revoke_writes', {});
    const held = await call(client, 'reboot_node', { node: 'role:speaker', timeout_s: 120 });
    expect(held.structuredContent.preview.action).toBe('reboot pi-r (running mpd), then wait up to 120 s for each to come back');
    expect(existsSync(rebootMarker)).toBe(false);
    await call(client, 'approve_writes', {});
    const pending = call(client, 'reboot_node', { node: 'pi-r', timeout_s: 120 });
    // The "device" reboots: the edge ran its reboot command; the test restarts it on the same port with a new boot id.
    // The script creates the file, then writes to it: wait for the line.
    while (!lines(rebootMarker).length) await new Promise((r) => setTimeout(r, 20));
    expect(readFileSync(rebootMarker, 'utf8')).toBe('now\n');
    const port = rebootEdge.port;
    await rebootEdge.stop();
    writeFileSync(bootIdFile, `${BOOT_2}\n`);
    rebootEdge = await startEdgeProcess({ env: { PATH: dir }, args: rebootArgs, listen: `127.0.0.1:${port}`, token: rebootEdge.token!, timeoutMs: 30_000 });
    const r = await pending;
    expect(r.isError).toBeFalsy();
    expect(resultText(r)).toMatch(new RegExp(`^pi-r: back after \\d+(\\.\\d)? s \\(boot id ${BOOT_2}\\)$`));
    expect(r.structuredContent.nodes[0]).toMatchObject({ node: 'pi-r', ok: true, bootIdBefore: BOOT_1, bootIdAfter: BOOT_2 });
  }, 60_000);

  it('reports a node that does not come back within the timeout', async () => {
    rmSync(rebootMarker, { force: true });
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    await call(client, 'approve_writes', {});
    // The reboot command runs, but nothing restarts the edge: the boot id stays the same.
    const r = await call(client, 'reboot_node', { node: 'pi-r', timeout_s: 3 });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe('pi-r: did not come back within 3 s (it answers, but with the same boot id: it has not rebooted)');
  }, 30_000);
});
