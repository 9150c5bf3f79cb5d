/**
 * The Synology DSM integration through the bundled hub, with an SDK client, against the
 * testkit's fake DSM (HTTPS, self-signed, pinned by fingerprint): the reads, a snapshot held
 * with its preview then approved, a session DSM ends mid-way renewed with exactly one login, the
 * journal without the password or any session id, the session logged out when the hub stops; a
 * refused password named by its key while the hub's other tools answer; a 2-step verification
 * account without a device token, then `homelab-hub synology-device-token` and the token that
 * makes it work; an unreachable DSM.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, HUB_BUNDLE, readJournal, resultText, startFakeDsm, startFakeLms, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'synology-hub-admin-token-0123456789';
const VIEWER = 'synology-hub-viewer-token-0123456789';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'kim', role: 'viewer', token: VIEWER }] };
const PASSWORD = 'Tr0ub4dor&3-synology';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

/** Runs the hub bundle's synology-device-token with `input` on stdin. */
function deviceTokenCommand(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [HUB_BUNDLE, 'synology-device-token', ...args], { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    child.stdin!.end(input);
  });
}

describe('Synology DSM through the hub', () => {
  it('reads; a snapshot held with its preview, then approved; a session DSM ends renewed with one login; no secret in the journal; logged out at stop', { timeout: 120_000 }, async () => {
    await using dsm = await startFakeDsm({ account: 'hub', password: PASSWORD });
    const hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { synology: { url: dsm.url, username: 'hub', password: '${SYNOLOGY_PASSWORD}', fingerprint: dsm.fingerprint } } },
      env: { SYNOLOGY_PASSWORD: PASSWORD },
    });
    try {
      await using client = await connectClient(hub.url, TOKEN, 'modern');
      const classes: Record<string, 'read' | 'write'> = { nas_health: 'read', nas_list_shares: 'read', nas_list_snapshots: 'read', nas_create_snapshot: 'write' };
      const ours = (await client.listTools()).tools.filter((t) => t.name in classes);
      expect(ours.map((t) => [t.name, t.annotations?.readOnlyHint, /^\[(read|write: needs approval)\] /.exec(t.description ?? '')?.[1]]).sort()).toEqual(Object.entries(classes).map(([n, c]) => [n, c === 'read', c === 'read' ? 'read' : 'write: needs approval']).sort());

      const health = (await client.callTool({ name: 'nas_health', arguments: {} })) as Result;
      expect(resultText(health).split('\n')[0]).toBe('2 volumes normal, 1 degraded; 4 disks, 1 SMART warning; CPU 7%, memory 41%');
      expect(health.structuredContent).toMatchObject({ healthy: false, cpuPercent: 7, memoryPercent: 41 });
      const shares = (await client.callTool({ name: 'nas_list_shares', arguments: {} })) as Result;
      expect(shares.structuredContent!.shares.map((s: { name: string }) => s.name)).toEqual(['photo', 'homes', 'docker', 'vault']);
      const snaps = (await client.callTool({ name: 'nas_list_snapshots', arguments: { share: 'photo' } })) as Result;
      expect(resultText(snaps)).toMatch(/^3 snapshots of photo \(\/volume1\) on DSM at 127\.0\.0\.1:\d+\n- GMT\+00-2026\.12\.03-03\.00\.00 /);

      // DSM ends the session (idle timeout, a restart): the next call logs in once more, transparently.
      const logins = dsm.logins();
      dsm.expireSessions(119);
      const again = (await client.callTool({ name: 'nas_list_shares', arguments: {} })) as Result;
      expect(again.isError).toBeFalsy();
      dsm.expireSessions(106);
      expect(((await client.callTool({ name: 'nas_list_snapshots', arguments: { share: 'homes' } })) as Result).isError).toBeFalsy();
      expect(dsm.logins()).toBe(logins + 2);

      // A viewer sees the reads, not the write, and cannot run it.
      await using viewer = await connectClient(hub.url, VIEWER, 'legacy');
      const viewerTools = (await viewer.listTools()).tools.map((t) => t.name);
      expect(viewerTools).toEqual(expect.arrayContaining(['nas_health', 'nas_list_shares', 'nas_list_snapshots']));
      expect(viewerTools).not.toContain('nas_create_snapshot');
      await expect(viewer.callTool({ name: 'nas_create_snapshot', arguments: { share: 'homes' } })).rejects.toThrow(/Tool nas_create_snapshot not found/);

      const args = { share: 'homes', description: 'before the DSM update' };
      const held = (await client.callTool({ name: 'nas_create_snapshot', arguments: args })) as Result;
      expect(held.structuredContent).toMatchObject({ status: 'approval_required', preview: { action: `Take a snapshot of shared folder "homes" (on /volume1, 0 snapshots so far) with description "before the DSM update" on DSM at ${dsm.host}`, where: ['synology/homes'] } });
      expect(dsm.snapshots.homes).toEqual([]);
      expect(dsm.requests().some((r) => r.method === 'create')).toBe(false);
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const took = (await client.callTool({ name: 'nas_create_snapshot', arguments: args })) as Result;
      const name = dsm.snapshots.homes![0]!.time;
      expect(resultText(took)).toMatch(new RegExp(`^Took snapshot ${name.replace(/[.+]/g, '\\$&')} of homes \\(/volume1\\), at \\S+, description "before the DSM update"; 1 snapshot now$`));

      const sh = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
      expect(sh.structuredContent!.items.find((i: { name: string }) => i.name === 'Synology DSM')).toMatchObject({ healthy: false, detail: '2 volumes normal, 1 degraded; 4 disks, 1 SMART warning; CPU 7%, memory 41%; volume /volume2 is degraded; Storage Pool 2 (Basic) is degraded; Drive 3 (WD80EFAX-68KNBN0) reports SMART warning' });

      // The journal: every request, by path only; never the password or a session id.
      const events = readJournal(join(hub.dir, 'data'));
      const urls = events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'synology').map((e) => String(e.detail.url));
      expect(urls).toContain(`${dsm.url}/webapi/entry.cgi`);
      expect(urls.filter((u) => u.includes('?'))).toEqual([]);
      const journal = JSON.stringify(events);
      expect(journal).not.toContain(PASSWORD);
      for (const sid of dsm.issuedSessions()) expect(journal).not.toContain(sid);
      for (const r of [health, shares, snaps, took, sh]) for (const sid of dsm.issuedSessions()) expect(JSON.stringify(r)).not.toContain(sid);
      expect(dsm.unknown()).toEqual([]);
    } finally {
      await hub.stop();
    }
    // The hub's session ends with the hub.
    expect(dsm.sessions()).toEqual([]);
    expect(dsm.logouts()).toBeGreaterThanOrEqual(1);
  });

  it('a refused password: named by its key, never shown, not retried; the hub\'s other tools answer', { timeout: 60_000 }, async () => {
    await using dsm = await startFakeDsm({ account: 'hub', password: 'the real one' });
    await using lms = await startFakeLms();
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { synology: { url: dsm.url, username: 'hub', password: '${SYNOLOGY_PASSWORD}', fingerprint: dsm.fingerprint }, lyrion: { url: lms.url } } },
      env: { SYNOLOGY_PASSWORD: PASSWORD },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const r = (await client.callTool({ name: 'nas_list_shares', arguments: {} })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe(`DSM at ${dsm.host} rejected the username or password (integrations.synology.password, for account "hub"): the hub tries again in 5 minutes, not sooner: DSM blocks an address after repeated failed logins; fix it and reload the hub`);
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'nas_health', arguments: {} });
    const sh = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    const item = sh.structuredContent!.items.find((i: { name: string }) => i.name === 'Synology DSM');
    expect(item).toMatchObject({ healthy: false });
    expect(item.detail).toContain('integrations.synology.password');
    // One login attempt in all: DSM's auto-block never sees the hub hammering it.
    expect(dsm.logins()).toBe(1);
    const players = (await client.callTool({ name: 'lms_players', arguments: {} })) as Result;
    expect(players.isError).toBeFalsy();
    expect(JSON.stringify([r, sh, readJournal(join(hub.dir, 'data'))])).not.toContain(PASSWORD);
    expect(dsm.unknown()).toEqual([]);
  });

  it('2-step verification: no device token says how to get one; synology-device-token gets it; with it the hub logs in', { timeout: 120_000 }, async () => {
    await using dsm = await startFakeDsm({ account: 'hub', password: PASSWORD, otpCode: '246810' });
    const config = (extra: Record<string, unknown>) => ({ auth, local: { enabled: false }, integrations: { synology: { url: dsm.url, username: 'hub', password: '${SYNOLOGY_PASSWORD}', fingerprint: dsm.fingerprint, ...extra } } });
    {
      await using hub = await startHubProcess({ config: config({}), env: { SYNOLOGY_PASSWORD: PASSWORD } });
      await using client = await connectClient(hub.url, TOKEN, 'legacy');
      const r = (await client.callTool({ name: 'nas_list_shares', arguments: {} })) as Result;
      expect(resultText(r)).toContain(`the account "hub" has 2-step verification, and the hub never asks for a code: get a device token once with \`homelab-hub synology-device-token --url ${dsm.url} --user hub\` and set it as integrations.synology.deviceToken`);
    }

    const wrong = await deviceTokenCommand(['--url', dsm.url, '--user', 'hub', '--fingerprint', dsm.fingerprint], `${PASSWORD}\n111111\n`);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`DSM at ${dsm.host} refused the login: the 2-step verification code was wrong`);
    expect(wrong.stdout).toBe('');
    const bad = await deviceTokenCommand(['--url', dsm.url, '--user', 'hub', '--fingerprint', dsm.fingerprint, '--insecure'], '');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('set one of --fingerprint, --ca-file and --insecure, not --fingerprint and --insecure');
    const got = await deviceTokenCommand(['--url', dsm.url, '--user', 'hub', '--fingerprint', dsm.fingerprint], `${PASSWORD}\n246 810\n`);
    expect(got.code).toBe(0);
    const did = got.stdout.trim();
    expect(did).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(got.stderr).toContain('deviceToken: ${SYNOLOGY_DEVICE_TOKEN}');
    expect(got.stderr + got.stdout).not.toContain(PASSWORD);

    await using hub = await startHubProcess({ config: config({ deviceToken: '${SYNOLOGY_DEVICE_TOKEN}' }), env: { SYNOLOGY_PASSWORD: PASSWORD, SYNOLOGY_DEVICE_TOKEN: did } });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const r = (await client.callTool({ name: 'nas_list_shares', arguments: {} })) as Result;
    expect(r.isError).toBeFalsy();
    expect(JSON.stringify(readJournal(join(hub.dir, 'data')))).not.toContain(did);
    expect(dsm.unknown()).toEqual([]);
  });

  it('an unreachable DSM: the tools and service_health name it', { timeout: 60_000 }, async () => {
    const port = await freePort();
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, integrations: { synology: { url: `https://127.0.0.1:${port}`, username: 'hub', password: 'x', insecureTls: true } } } });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const r = (await client.callTool({ name: 'nas_health', arguments: {} })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe(`DSM at 127.0.0.1:${port} is unreachable: connection refused`);
    const sh = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(sh.structuredContent!.items.find((i: { name: string }) => i.name === 'Synology DSM')).toMatchObject({ healthy: false, detail: `DSM at 127.0.0.1:${port} is unreachable: connection refused` });
  });
});
