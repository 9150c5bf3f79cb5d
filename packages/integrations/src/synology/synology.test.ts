/**
 * The Synology integration against the testkit's fake DSM (HTTPS with a self-signed
 * certificate, pinned here as a person would; it follows the documented Web API and records any
 * request it does not know, and any secret sent in a URL).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '@homelab-mcp/core/http';
import { tlsFetch } from '@homelab-mcp/core/tls-fetch';
import { freePort, startFakeDsm, type FakeDsm } from '@homelab-mcp/testkit';
import { createDsmClient, requestDsmDeviceToken, snapshotTime, SynologyConfigSchema, synologyIntegration, type SynologyInstance } from './index.ts';

const PASSWORD = 'correct horse battery staple';
let dsm: FakeDsm;
let inst: SynologyInstance;
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
const setup = (over: Record<string, unknown> = {}, fake = dsm) => synologyIntegration.setup(SynologyConfigSchema.parse({ url: fake.url, username: 'hub', password: PASSWORD, fingerprint: fake.fingerprint, ...over }), { http: createHttpClient(), log });
const signal = () => new AbortController().signal;
const call = (name: string, args: Record<string, unknown> = {}, i = inst) => i.tools.find((t) => t.def.name === name)!.call(args, { signal: signal() });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;
const sc = (r: { structuredContent?: Record<string, unknown> }) => r.structuredContent as Record<string, any>;

beforeAll(async () => {
  dsm = await startFakeDsm({ account: 'hub', password: PASSWORD });
  inst = setup();
});
afterAll(async () => {
  await inst?.close?.();
  await dsm?.stop();
});
afterEach(() => {
  expect(dsm.unknown()).toEqual([]);
  dsm.override = undefined;
});

describe('synology (fake DSM)', () => {
  it('nas_health: one summary line, then volumes, pools, disks with SMART; bounded numbers', async () => {
    const r = await call('nas_health');
    expect(r.isError).toBeFalsy();
    expect(text(r)).toBe(
      [
        '2 volumes normal, 1 degraded; 4 disks, 1 SMART warning; CPU 7%, memory 41%',
        'DS920+ (DSM 7.2.1-69057 Update 5), up 288:10:12, 44 °C',
        'Volumes:',
        '- /volume1 (btrfs): normal, 62% used (9.3 TB of 15.0 TB)',
        '- /volume3 (ext4): normal, 10% used (100.0 GB of 1.0 TB)',
        '- /volume2 (btrfs): degraded, 50% used (1.9 TB of 3.8 TB)',
        'Storage pools:',
        '- Storage Pool 1: normal, SHR-1, 3 disks',
        '- Storage Pool 2: degraded, Basic, 1 disk',
        'Disks:',
        '- Drive 1 (WD80EFAX-68KNBN0): normal, SMART normal, 39 °C, 8.0 TB',
        '- Drive 2 (WD80EFAX-68KNBN0): normal, SMART normal, 40 °C, 8.0 TB',
        '- Drive 3 (WD80EFAX-68KNBN0): normal, SMART warning, 41 °C, 8.0 TB',
        '- Drive 4 (ST4000VN008-2DR166): normal, SMART normal, 42 °C, 8.0 TB',
      ].join('\n'),
    );
    expect(sc(r)).toMatchObject({ healthy: false, cpuPercent: 7, memoryPercent: 41, problems: ['volume /volume2 is degraded', 'Storage Pool 2 (Basic) is degraded', 'Drive 3 (WD80EFAX-68KNBN0) reports SMART warning'] });
    const health = await inst.health!(signal());
    expect(health).toMatchObject({ ok: false, detail: '2 volumes normal, 1 degraded; 4 disks, 1 SMART warning; CPU 7%, memory 41%' });
    // One login served everything so far: the session is reused.
    expect(inst.client.logins()).toBe(1);
  });

  it('nas_list_shares: name, volume, description, encryption, size and quota', async () => {
    const r = await call('nas_list_shares');
    expect(text(r)).toBe(
      ['4 shared folders on DSM at ' + dsm.host, '- photo (/volume1): "Family photos", 123.5 GB used', '- homes (/volume1): "user home", 20.5 GB used of quota 512.0 GB', '- docker (/volume1, hidden): "Docker Containers"', '- vault (/volume2, encrypted): "Papers"'].join('\n'),
    );
    expect(sc(r).shares[3]).toEqual({ name: 'vault', volume: '/volume2', description: 'Papers', encrypted: true, encryption: 2, hidden: false, supportsSnapshots: true, usedMb: 0, quotaMb: null });
    expect((await call('nas_list_shares', { limit: 1 })).content[0]!.text).toMatch(/^4 shared folders on DSM at .* \(1 shown\)\n- photo /);
  });

  it('nas_list_snapshots: newest first, times from DSM names; a share by any case; unknown and hostile names refused', async () => {
    const r = await call('nas_list_snapshots', { share: 'Photo' });
    expect(text(r)).toBe(
      [
        `3 snapshots of photo (/volume1) on DSM at ${dsm.host}`,
        '- GMT+00-2026.12.03-03.00.00 (2026-12-03T03:00:00+00:00): "before the upgrade", locked, manual',
        '- GMT+00-2026.12.02-03.00.00 (2026-12-02T03:00:00+00:00), scheduled',
        '- GMT+00-2026.12.01-03.00.00 (2026-12-01T03:00:00+00:00), scheduled',
      ].join('\n'),
    );
    const unknown = await call('nas_list_snapshots', { share: 'music' });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toBe(`share: DSM at ${dsm.host} has no shared folder "music" (it has: photo, homes, docker, vault)`);
    const before = dsm.requests().length;
    for (const share of ['photo","x', '../photo', 'photo&limit=1', '-photo', 'a'.repeat(33), 'pho\nto']) {
      const bad = await call('nas_list_snapshots', { share });
      expect(bad.isError, share).toBe(true);
      expect(text(bad)).toMatch(/^nas_list_snapshots: argument "share": /);
    }
    expect(dsm.requests().length).toBe(before);
    // The name goes to DSM as a JSON string, never spliced into a query.
    expect(dsm.requests().filter((q) => q.api === 'SYNO.Core.Share.Snapshot').map((q) => q.params.name)).toEqual(['photo']);
    expect(snapshotTime('GMT+09-2023.09.11-23.23.40')).toBe('2023-09-11T23:23:40+09:00');
    expect(snapshotTime('GMT-05:30-2023.09.11-23.23.40')).toBe('2023-09-11T23:23:40-05:30');
    expect(snapshotTime('yesterday')).toBeNull();
  });

  it('nas_create_snapshot: the preview looks the share up and changes nothing; the run answers the snapshot read back', async () => {
    const tool = inst.tools.find((t) => t.def.name === 'nas_create_snapshot')!;
    expect(tool.toolClass).toBe('write');
    expect(tool.def.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    const preview = await tool.preview!({ share: 'homes', description: 'before the DSM update' }, { signal: signal() });
    expect(preview).toEqual({ action: `Take a snapshot of shared folder "homes" (on /volume1, 0 snapshots so far) with description "before the DSM update" on DSM at ${dsm.host}`, where: ['synology/homes'] });
    expect(dsm.snapshots.homes).toEqual([]);
    expect(dsm.requests().some((q) => q.method === 'create')).toBe(false);
    const missing = await tool.preview!({ share: 'music' }, { signal: signal() });
    expect(missing.action).toBe(`Take a snapshot of shared folder "music" without a description on DSM at ${dsm.host} (it could not be looked up: share: DSM at ${dsm.host} has no shared folder "music" (it has: photo, homes, docker, vault))`);

    const r = await call('nas_create_snapshot', { share: 'homes', description: 'before the DSM update' });
    expect(r.isError).toBeFalsy();
    const name = dsm.snapshots.homes![0]!.time;
    expect(text(r)).toBe(`Took snapshot ${name} of homes (/volume1), at ${snapshotTime(name)}, description "before the DSM update"; 1 snapshot now`);
    expect(sc(r)).toMatchObject({ share: 'homes', listed: true, total: 1, snapshot: { name, description: 'before the DSM update', locked: false, scheduled: false } });
    expect(dsm.requests().find((q) => q.method === 'create')!.params).toEqual({ name: 'homes', snapinfo: { desc: 'before the DSM update', lock: false } });
    const bad = await call('nas_create_snapshot', { share: 'homes', description: 'two\nlines' });
    expect(text(bad)).toMatch(/^nas_create_snapshot: argument "description": text without control characters/);
  });

  it('a session DSM ends (119, 106) is renewed with exactly one login, shared by concurrent calls', async () => {
    await call('nas_list_shares');
    const logins = dsm.logins();
    dsm.expireSessions(119);
    const rs = await Promise.all([call('nas_list_shares'), call('nas_health'), call('nas_list_snapshots', { share: 'photo' })]);
    expect(rs.map((r) => r.isError ?? false)).toEqual([false, false, false]);
    expect(dsm.logins()).toBe(logins + 1);
    dsm.expireSessions(106);
    expect((await call('nas_list_shares')).isError).toBeFalsy();
    expect(dsm.logins()).toBe(logins + 2);
    expect(dsm.requests().filter((q) => q.error === 106 || q.error === 119).length).toBeGreaterThanOrEqual(4);
  });

  it('a refused password: the key is named, never the password; no second login for the hold; other tools of the hub unaffected', async () => {
    await using other = await startFakeDsm({ account: 'hub', password: 'something else' });
    const bad = setup({}, other);
    try {
      const r = await call('nas_list_shares', {}, bad);
      expect(r.isError).toBe(true);
      expect(text(r)).toBe(`DSM at ${other.host} rejected the username or password (integrations.synology.password, for account "hub"): the hub tries again in 5 minutes, not sooner: DSM blocks an address after repeated failed logins; fix it and reload the hub`);
      expect(text(r)).not.toContain(PASSWORD);
      for (let i = 0; i < 3; i++) await call('nas_health', {}, bad);
      const health = await bad.health!(signal());
      expect(health.ok).toBe(false);
      expect(health.detail).toContain('integrations.synology.password');
      expect(other.logins()).toBe(1);
      expect(other.unknown()).toEqual([]);
      // The good integration still answers.
      expect((await call('nas_list_shares')).isError).toBeFalsy();
    } finally {
      await bad.close?.();
    }
  });

  it('2-step verification: without a device token, a message saying how to get one; with one, it works; a revoked one is named', async () => {
    const port = await freePort();
    await using otp = await startFakeDsm({ account: 'hub', password: PASSWORD, otpCode: '123456', port });
    const none = setup({}, otp);
    try {
      const r = await call('nas_list_shares', {}, none);
      expect(text(r)).toBe(
        `DSM at ${otp.host}: the account "hub" has 2-step verification, and the hub never asks for a code: get a device token once with \`homelab-hub synology-device-token --url ${otp.url} --user hub\` and set it as integrations.synology.deviceToken (see the README): the hub tries again in 5 minutes, not sooner: DSM blocks an address after repeated failed logins; fix it and reload the hub`,
      );
    } finally {
      await none.close?.();
    }
    const http = createHttpClient().with({ fetch: tlsFetch({ fingerprint256: otp.fingerprint }) });
    await expect(requestDsmDeviceToken({ url: otp.url, username: 'hub', password: PASSWORD, otpCode: '000000', deviceName: 'homelab-hub', http, timeoutMs: 5000 })).rejects.toThrow(`DSM at ${otp.host} refused the login: the 2-step verification code was wrong (or expired: codes last 30 seconds)`);
    const did = await requestDsmDeviceToken({ url: otp.url, username: 'hub', password: PASSWORD, otpCode: '123456', deviceName: 'homelab-hub', http, timeoutMs: 5000 });
    expect(did).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(otp.sessions()).toEqual([]); // the command's own session was logged out
    const good = setup({ deviceToken: did }, otp);
    try {
      expect((await call('nas_list_shares', {}, good)).isError).toBeFalsy();
      const login = otp.requests().filter((q) => q.method === 'login').at(-1)!;
      expect(login.params).toMatchObject({ device_id: did, device_name: 'homelab-hub', account: 'hub' });
      expect(login.params.otp_code).toBeUndefined();
    } finally {
      await good.close?.();
    }
    const revoked = setup({ deviceToken: 'revoked-token-0123456789' }, otp);
    try {
      expect(text(await call('nas_list_shares', {}, revoked))).toMatch(/^DSM at .* did not accept the device token \(integrations\.synology\.deviceToken\) for account "hub": it may have been revoked/);
    } finally {
      await revoked.close?.();
    }
    expect(otp.unknown()).toEqual([]);
  });

  it('hostile answers are bounded: huge lists cut, wrong types ignored, long strings cut', async () => {
    const long = 'x'.repeat(300);
    dsm.override = (api, method) => {
      if (api === 'SYNO.Storage.CGI.Storage') return { success: true, data: { volumes: Array.from({ length: 5000 }, (_, i) => ({ id: `v${i}`, vol_path: long, status: true, size: { total: 'lots', used: null } })), disks: 'no', storagePools: [null, 7, { id: {}, status: 'normal' }] } };
      if (api === 'SYNO.Core.Share' && method === 'list') return { success: true, data: { shares: [{ name: long, desc: long, vol_path: ['x'] }, { name: 'ok', desc: { a: 1 } }], total: 'many' } };
      return undefined;
    };
    const h = await call('nas_health');
    expect(h.isError).toBeFalsy();
    expect(sc(h).volumes).toHaveLength(128);
    expect(sc(h).volumes[0]).toMatchObject({ status: 'unknown', usedPercent: null });
    expect(sc(h).volumes[0].path.length).toBe(100);
    expect(text(h)).toContain('(lists cut: DSM listed more than the hub reads)');
    expect(text(h).length).toBeLessThan(25_000);
    const s = await call('nas_list_shares');
    expect(sc(s).shares.map((x: { name: string }) => x.name.length)).toEqual([64, 2]);
    expect(sc(s).shares[1].description).toBe('');
    // More than the hub reads at all: refused, named.
    dsm.override = (api) => (api === 'SYNO.Core.Share' ? { success: true, data: { shares: [{ name: 'x'.repeat(5 * 1024 * 1024) }] } } : undefined);
    expect(text(await call('nas_list_shares'))).toBe(`DSM at ${dsm.host} answered more than 4194304 bytes to SYNO.Core.Share list`);
    // DSM's http port redirecting to https: not followed, and said.
    const { createServer } = await import('node:http');
    const redirect = createServer((_q, res) => res.writeHead(301, { location: 'https://elsewhere.example:5001/' }).end()).listen(0, '127.0.0.1');
    await new Promise((r) => redirect.once('listening', r));
    const rport = (redirect.address() as { port: number }).port;
    const viaHttp = setup({ url: `http://127.0.0.1:${rport}`, fingerprint: undefined });
    try {
      expect(text(await call('nas_list_shares', {}, viaHttp))).toBe(`DSM at 127.0.0.1:${rport} redirects /webapi/query.cgi elsewhere (HTTP 301; DSM set to redirect HTTP to HTTPS?): set integrations.synology.url to DSM's https address, usually https://127.0.0.1:5001`);
      expect(logs).toContain('integrations.synology.url is http: the DSM password and session travel in clear; prefer https://...:5001');
    } finally {
      await viaHttp.close?.();
      redirect.close();
    }
    // Not DSM at all: an answer without success or error.
    dsm.override = () => 'not an envelope';
    expect(text(await call('nas_list_shares'))).toBe(`DSM at ${dsm.host} answered SYNO.Core.Share list with neither success nor an error code (is this a Synology DSM?)`);
  });

  it('run_diagnostic: a service named nas (or at the DSM address) gets the storage problems; others nothing', async () => {
    expect(await inst.diagnose!({ name: 'grafana', node: 'pve1' }, signal())).toEqual([]);
    const [f] = await inst.diagnose!({ name: 'nas', node: 'diskstation' }, signal());
    expect(f).toMatchObject({ check: 'synology', status: 'problem', detail: `DSM at ${dsm.host}: 2 volumes normal, 1 degraded; 4 disks, 1 SMART warning: volume /volume2 is degraded; Storage Pool 2 (Basic) is degraded; Drive 3 (WD80EFAX-68KNBN0) reports SMART warning` });
    expect(await inst.diagnose!({ name: 'files', node: 'x', url: `${dsm.url}/` }, signal())).toHaveLength(1);
  });

  it('an account without the storage permission (105): nas_health says so and shows the rest', async () => {
    dsm.override = (api) => (api === 'SYNO.Storage.CGI.Storage' ? { success: false, error: { code: 105 } } : undefined);
    const r = await call('nas_health');
    expect(r.isError).toBeFalsy();
    expect(text(r)).toBe(['storage unknown; CPU 7%, memory 41%', 'DS920+ (DSM 7.2.1-69057 Update 5), up 288:10:12, 44 °C', `storage: DSM at ${dsm.host}: the account "hub" has no permission for SYNO.Storage.CGI.Storage load_info (DSM error 105); the hub's account must be in the administrators group`].join('\n'));
    expect(sc(r)).toMatchObject({ healthy: false, volumes: null, cpuPercent: 7 });
  });

  it('an unreachable DSM: the tools and service_health say so; close logs the session out', async () => {
    const port = await freePort();
    const down = setup({ url: `https://127.0.0.1:${port}` });
    try {
      const r = await call('nas_list_shares', {}, down);
      expect(text(r)).toBe(`DSM at 127.0.0.1:${port} is unreachable: connection refused`);
      expect((await down.health!(signal())).detail).toBe(`DSM at 127.0.0.1:${port} is unreachable: connection refused`);
    } finally {
      await down.close?.();
    }
    await using fresh = await startFakeDsm({ account: 'hub', password: PASSWORD });
    const i = setup({}, fresh);
    await call('nas_list_shares', {}, i);
    expect(fresh.sessions()).toHaveLength(1);
    await i.close?.();
    expect(fresh.sessions()).toEqual([]);
    expect(fresh.logouts()).toBe(1);
    expect(fresh.unknown()).toEqual([]);
  });

  it('the client: a configured path prefix, no secret in any URL, and the login hold', async () => {
    let clock = 0;
    await using other = await startFakeDsm({ account: 'hub', password: 'other' });
    const http = createHttpClient().with({ fetch: tlsFetch({ fingerprint256: other.fingerprint }) });
    const c = createDsmClient({ url: `${other.url}/webapi/`, username: 'hub', password: PASSWORD, deviceName: 'homelab-hub', http, timeoutMs: 5000, now: () => clock });
    await expect(c.shares()).rejects.toThrow(/rejected the username or password/);
    await expect(c.shares()).rejects.toThrow(/tries again in 5 minutes/);
    expect(other.logins()).toBe(1);
    clock += 5 * 60_000;
    await expect(c.shares()).rejects.toThrow(/tries again in 10 minutes/);
    expect(other.logins()).toBe(2);
    expect(other.unknown()).toEqual([]);
    await c.close();
  });

  it('a call cancelled while the shared discovery and login run fails alone: the others sharing them go on, and no DSM session is left behind', async () => {
    await using fresh = await startFakeDsm({ account: 'hub', password: PASSWORD });
    const http = createHttpClient().with({ fetch: tlsFetch({ fingerprint256: fresh.fingerprint }) });
    const c = createDsmClient({ url: fresh.url, username: 'hub', password: PASSWORD, deviceName: 'homelab-hub', http, timeoutMs: 5000 });
    // One model's call is cancelled at once; another's lands on the same discovery and login.
    const gone = new AbortController();
    gone.abort(new Error('cancelled by the client'));
    const [a, b] = await Promise.allSettled([c.shares(gone.signal), c.shares(new AbortController().signal)]);
    expect(a.status).toBe('rejected');
    expect(b.status).toBe('fulfilled');
    // A cancel after DSM took the login: the session is kept (and used), not orphaned.
    const c2 = createDsmClient({ url: fresh.url, username: 'hub', password: PASSWORD, deviceName: 'homelab-hub', http, timeoutMs: 5000 });
    const late = new AbortController();
    const p = c2.shares(late.signal);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (fresh.logins() >= 2) {
          clearInterval(t);
          resolve();
        }
      }, 1);
    });
    late.abort(new Error('cancelled by the client'));
    await expect(p).rejects.toThrow();
    expect((await c2.shares()).shares.length).toBeGreaterThan(0);
    expect(fresh.logins()).toBe(2);
    await c.close();
    await c2.close();
    expect(fresh.sessions()).toEqual([]);
    expect(fresh.unknown()).toEqual([]);
  });
});
