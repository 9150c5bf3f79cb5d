/**
 * Fleet care as an attacker (#18 review): the bundled hub in confirm mode with per-device tools,
 * real edge processes whose package manager is a script (this machine's packages are never
 * touched) printing the simulation held in a file the test swaps, as `apt-get update` from cron
 * would between a preview and its confirmation.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'fleet-atk-admin-token-0123456789';
const FIXTURES = fileURLToPath(new URL('../../../edge/src/capabilities/packages/__fixtures__/', import.meta.url));
const APT_OPTS = '-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

const dir = mkdtempSync(join(tmpdir(), 'fleet-care-atk-'));
function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}
const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : []);

const aptDir = join(dir, 'apt-bin');
mkdirSync(aptDir);
const aptLog = join(dir, 'apt.log');
/** What `apt-get -s install --only-upgrade bash liblzma5` prints now. */
const simulation = join(dir, 'simulation.txt');
copyFileSync(join(FIXTURES, 'apt-get-s-install-only-upgrade.txt'), simulation);
script(
  join(aptDir, 'apt-get'),
  `echo "$*" >> '${aptLog}'
case "$*" in
  "-s ${APT_OPTS} install --only-upgrade bash liblzma5") /bin/cat '${simulation}' ;;
  "${APT_OPTS} install --only-upgrade bash liblzma5") /bin/cat '${FIXTURES}apt-get-upgrade-run.txt' ;;
  *) echo "E: fake apt-get: unexpected arguments: $*" >&2; exit 99 ;;
esac`,
);
const rebootMarker = join(dir, 'rebooted');
const rebootScript = join(dir, 'fake-reboot');
script(rebootScript, `echo "$@" >> '${rebootMarker}'`);

const otherBootId = join(dir, 'boot_id');
writeFileSync(otherBootId, '0b7e2a51-3c1d-4f4e-9a0b-333333333333\n');

let aptEdge: EdgeProcess;
let selfEdge: EdgeProcess;
let hub: HubProcess;

beforeAll(async () => {
  [aptEdge, selfEdge] = await Promise.all([
    // Another machine's boot id.
    startEdgeProcess({ env: { PATH: aptDir }, args: ['--boot-id-file', otherBootId], timeoutMs: 30_000 }),
    // Its boot id is this machine's (no --boot-id-file): the edge runs on the hub's own host.
    startEdgeProcess({ env: { PATH: dir }, args: ['--reboot-command', `${rebootScript} now`], timeoutMs: 30_000 }),
  ]);
  hub = await startHubProcess({
    cwd: dir,
    config: {
      auth: { tokens: [{ user: 'dana', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 6000, burst: 1000 } },
      approval: { mode: 'confirm' },
      local: { enabled: false },
      perDeviceTools: true,
      nodes: [
        { name: 'pi-apt', url: aptEdge.url, token: '${APT_TOKEN}' },
        { name: 'pi-self', url: selfEdge.url, token: '${SELF_TOKEN}' },
      ],
    },
    env: { APT_TOKEN: aptEdge.token, SELF_TOKEN: selfEdge.token },
    timeoutMs: 40_000,
  });
}, 90_000);

afterAll(async () => {
  await hub?.stop();
  await Promise.all([aptEdge?.stop(), selfEdge?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

type Result = { content: Array<{ type: string; text: string }>; structuredContent: any; isError?: boolean };
async function call(client: Awaited<ReturnType<typeof connectClient>>, name: string, args: Record<string, unknown>): Promise<Result> {
  return (await client.callTool({ name, arguments: args })) as Result;
}
const ARGS = { node: 'pi-apt', packages: ['bash', 'liblzma5'] };

describe('package_upgrade is bound to the packages its preview listed', () => {
  it('a confirmation is refused when the packages the upgrade would change are not those the person approved', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    copyFileSync(join(FIXTURES, 'apt-get-s-install-only-upgrade.txt'), simulation);
    const held = await call(client, 'package_upgrade', ARGS);
    expect(held.structuredContent.status).toBe('confirmation_required');
    expect(held.structuredContent.preview.action).toContain('upgrading 4 packages');
    expect(held.structuredContent.preview.action).not.toContain('openssh-server');
    // apt-get update ran in between (cron, unattended-upgrades): the same command now also removes a package.
    writeFileSync(simulation, `${readFileSync(simulation, 'utf8')}Remv openssh-server [1:9.2p1-2+deb12u3]\n`);
    const before = lines(aptLog).length;
    const r = await call(client, 'package_upgrade', { ...ARGS, confirm: held.structuredContent.confirm });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toMatch(/changed since the preview/);
    expect(lines(aptLog).slice(before).every((l) => l.startsWith('-s '))).toBe(true);
  });

  it('the same confirmation runs when nothing changed', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    copyFileSync(join(FIXTURES, 'apt-get-s-install-only-upgrade.txt'), simulation);
    const held = await call(client, 'package_upgrade', ARGS);
    const r = await call(client, 'package_upgrade', { ...ARGS, confirm: held.structuredContent.confirm });
    expect(r.isError).toBeFalsy();
    expect(lines(aptLog).at(-1)).toBe(`${APT_OPTS} install --only-upgrade bash liblzma5`);
  });
});

describe('per-device copies (perDeviceTools)', () => {
  it("pi-apt__package_upgrade previews the packages and versions like the fleet tool, not just the tool's name", async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    copyFileSync(join(FIXTURES, 'apt-get-s-install-only-upgrade.txt'), simulation);
    const held = await call(client, 'pi-apt__package_upgrade', { packages: ['bash', 'liblzma5'] });
    expect(held.structuredContent.status).toBe('confirmation_required');
    expect(held.structuredContent.preview.action).toContain('bash 5.2.15-2+b8 → 5.2.15-2+b13');
    expect(held.structuredContent.preview.where).toEqual(['pi-apt']);
  });
});

describe('reboot_node', () => {
  it("names an edge on the hub's own host (same boot id) in the preview: the hub goes down with it", async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const held = await call(client, 'reboot_node', { node: 'all' });
    expect(held.structuredContent.status).toBe('confirmation_required');
    expect(held.structuredContent.preview.action).toMatch(/pi-self \(the hub's own host[^)]*\)/);
    expect(held.structuredContent.preview.action).not.toMatch(/pi-apt \(the hub's own host/);
    expect(existsSync(rebootMarker)).toBe(false);
  });

  it('the per-device copy pi-self__reboot_node says so too', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const held = await call(client, 'pi-self__reboot_node', {});
    expect(held.structuredContent.preview.action).toMatch(/the hub's own host/);
    expect(existsSync(rebootMarker)).toBe(false);
  });
});

describe('wake_on_lan through a per-device copy (#18 review)', () => {
  it('pi-apt__wake_on_lan is bounded like the hub tool: no UDP to a unicast host and port', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const args = { mac: 'b8:27:eb:00:00:01', address: '127.0.0.53', port: 53 };
    const held = await call(client, 'pi-apt__wake_on_lan', args);
    expect(held.structuredContent.preview.action).toContain('address: 127.0.0.53 is not a broadcast address');
    const r = await call(client, 'pi-apt__wake_on_lan', { ...args, confirm: held.structuredContent.confirm });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toContain('address: 127.0.0.53 is not a broadcast address: expected 255.255.255.255 or the broadcast address of a subnet in topology.yaml (none declared)');
  });
});
