import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { startFakePihole, type FakePihole } from '@homelab-mcp/testkit';
import { parseRecords, PiholeConfigSchema, piholeIntegration, type PiholeInstance } from './index.ts';

// The HA pair: two fake Pi-hole v6 APIs with sessions, seats and their own records.
let ns1: FakePihole;
let ns2: FakePihole;
let ph: PiholeInstance;
const reports: HttpRequestReport[] = [];
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
const setup = (instances: Array<Record<string, unknown>>) => piholeIntegration.setup(PiholeConfigSchema.parse({ instances }), { http: createHttpClient({ onRequest: (r) => reports.push(r) }), log });

beforeAll(async () => {
  ns1 = await startFakePihole({ password: 'pw-one', hosts: ['192.168.1.10 nas.lan', '192.168.1.11 printer.lan scanner.lan'], cnames: ['grafana.lan,nas.lan'] });
  ns2 = await startFakePihole({ password: 'pw-two', hosts: ['192.168.1.10 nas.lan'], cnames: ['grafana.lan,nas.lan'], blocking: 'disabled' });
  ph = setup([{ name: 'ns1', url: ns1.url, password: 'pw-one' }, { name: 'ns2', url: ns2.url, password: 'pw-two' }]);
});
afterAll(async () => {
  await ph?.close?.();
  await ns1?.stop();
  await ns2?.stop();
});
afterEach(() => {
  expect(ns1.unknown()).toEqual([]);
  expect(ns2.unknown()).toEqual([]);
});

const call = (name: string, args: Record<string, unknown> = {}, inst = ph) => inst.tools.find((t) => t.def.name === name)!.call(args, { signal: new AbortController().signal });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;
const preview = (name: string, args: Record<string, unknown>) => ph.tools.find((t) => t.def.name === name)!.preview!(args, { signal: new AbortController().signal });

describe('pihole (two fake Pi-hole v6)', () => {
  it('N calls cost one login per Pi-hole; a 401 costs exactly one new login', async () => {
    for (let i = 0; i < 5; i++) await call('dns_list_records');
    await call('pihole_status');
    expect([ns1.logins(), ns2.logins()]).toEqual([1, 1]);
    ns1.expireSessions();
    await call('dns_list_records');
    await call('pihole_status');
    expect([ns1.logins(), ns2.logins()]).toEqual([2, 1]);
    expect([ns1.sessions(), ns2.sessions()]).toEqual([1, 1]);
  });

  it('dns_list_records: A records (a line with two names is two), CNAMEs, per instance; filter', async () => {
    const r = await call('dns_list_records');
    expect(text(r)).toBe('## ns1\n- CNAME grafana.lan -> nas.lan\n- A nas.lan -> 192.168.1.10\n- A printer.lan -> 192.168.1.11\n- A scanner.lan -> 192.168.1.11\n\n## ns2\n- CNAME grafana.lan -> nas.lan\n- A nas.lan -> 192.168.1.10');
    expect(text(await call('dns_list_records', { filter: 'scan', instance: 'ns1' }))).toBe('## ns1\n- A scanner.lan -> 192.168.1.11');
  });

  it('pihole_status and pihole_diff show where the pair disagrees', async () => {
    expect(text(await call('pihole_status', { instance: 'ns2' }))).toMatch(/^## ns2\nblocking disabled; 7497 queries, 12\.0% blocked; 10 active clients; 104756 domains on the blocklists, updated 2 days ago$/);
    const d = await call('pihole_diff');
    expect(text(d)).toBe('2 records not on every Pi-hole:\n- A printer.lan -> 192.168.1.11: on ns1, missing on ns2\n- A scanner.lan -> 192.168.1.11: on ns1, missing on ns2\nblocking differs: ns1 enabled, ns2 disabled');
  });

  it('pihole_diff stays quick and bounded when one Pi-hole has thousands of records the other lacks', async () => {
    const big = await startFakePihole({ password: 'b', hosts: Array.from({ length: 5000 }, (_v, i) => `10.1.${Math.floor(i / 250)}.${i % 250} host${i}.lan`) });
    const empty = await startFakePihole({ password: 'e' });
    const pair = setup([{ name: 'big', url: big.url, password: 'b' }, { name: 'empty', url: empty.url, password: 'e' }]);
    try {
      const r = await call('pihole_diff', {}, pair);
      const lines = text(r).split('\n');
      expect(lines[0]).toBe('5000 records not on every Pi-hole:');
      expect(lines).toHaveLength(1 + 200 + 1);
      expect(lines.at(-1)).toBe('(4800 more not shown)');
      expect(r.structuredContent).toMatchObject({ totalDifferences: 5000 });
    } finally {
      await pair.close?.();
      await big.stop();
      await empty.stop();
    }
  });

  it('dns_add_record: previewed by name, written to both, each saying what happened; a CNAME for a name', async () => {
    expect(await preview('dns_add_record', { name: 'jellyfin.lan', value: '192.168.1.20' })).toEqual({ action: 'Add A record jellyfin.lan -> 192.168.1.20 on ns1, ns2', where: ['pihole/ns1', 'pihole/ns2'] });
    const r = await call('dns_add_record', { name: 'jellyfin.lan', value: '192.168.1.20' });
    expect(text(r)).toBe('A jellyfin.lan -> 192.168.1.20: ns1 added; ns2 added');
    expect(ns1.hosts).toContain('192.168.1.20 jellyfin.lan');
    expect(ns2.hosts).toContain('192.168.1.20 jellyfin.lan');
    expect(text(await call('dns_add_record', { name: 'jellyfin.lan', value: '192.168.1.20' }))).toBe('A jellyfin.lan -> 192.168.1.20: ns1 already there; ns2 already there');
    expect(text(await call('dns_add_record', { name: 'media.lan', value: 'jellyfin.lan' }))).toBe('CNAME media.lan -> jellyfin.lan: ns1 added; ns2 added');
    expect(ns2.cnames).toContain('media.lan,jellyfin.lan');
  });

  it('refuses names and values that could change another config item', async () => {
    for (const [name, value] of [['a.lan 10.0.0.1 evil.lan', '10.0.0.2'], ['a.lan', '10.0.0.1 evil.lan'], ['a.lan,b.lan', 'c.lan'], ['../x', '10.0.0.1'], ['a.lan', 'b.lan,600']]) {
      const r = await call('dns_add_record', { name, value });
      expect(r.isError, `${name} ${value}`).toBe(true);
    }
    expect(text(await call('dns_add_record', { name: 'a b', value: '10.0.0.1' }))).toMatch(/^dns_add_record: argument "name": a DNS name such as nas\.lan/);
  });

  it('dns_remove_record: the preview lists what goes on each; a line with two names keeps the other', async () => {
    expect((await preview('dns_remove_record', { name: 'scanner.lan' })).action).toBe('Remove the local DNS records scanner.lan: ns1: A scanner.lan -> 192.168.1.11 (rewrites "192.168.1.11 printer.lan scanner.lan" as "192.168.1.11 printer.lan"); ns2: nothing (no such record)');
    const r = await call('dns_remove_record', { name: 'scanner.lan' });
    expect(text(r)).toBe('remove scanner.lan: ns1 removed A scanner.lan -> 192.168.1.11; ns2 had no such record');
    expect(ns1.hosts).toContain('192.168.1.11 printer.lan');
    expect(ns1.hosts.join('\n')).not.toContain('scanner');
    const none = await call('dns_remove_record', { name: 'nothing.lan' });
    expect(none).toMatchObject({ isError: true, content: [{ text: 'no local DNS record nothing.lan on ns1, ns2' }] });
  });

  it('a Pi-hole that is down fails only its part of a write, and the answer says the pair now differs', async () => {
    const lone = await startFakePihole({ password: 'x' });
    const pair = setup([{ name: 'a', url: ns1.url, password: 'pw-one' }, { name: 'b', url: lone.url, password: 'x' }]);
    try {
      await lone.stop();
      const r = await call('dns_add_record', { name: 'half.lan', value: '10.0.0.9' }, pair);
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/^A half\.lan -> 10\.0\.0\.9: a added; b failed: 127\.0\.0\.1:\d+: connection refused \(the Pi-holes now differ: pihole_diff shows how\)$/);
    } finally {
      await pair.close?.();
    }
  });

  it('a wrong password is named by its key; seats exhausted say so; nothing leaks the password', async () => {
    const full = await startFakePihole({ password: 'pw', maxSessions: 0 });
    const bad = setup([{ name: 'x', url: ns2.url, password: 'not-the-password' }, { name: 'y', url: full.url, password: 'pw' }]);
    try {
      const r = await call('pihole_status', {}, bad);
      expect(text(r)).toContain(`## x\nerror: Pi-hole x at ${ns2.host} refused the password (integrations.pihole.instances[0].password)`);
      expect(text(r)).toContain(`## y\nerror: Pi-hole y at ${full.host} has no free API session: API seats exceeded (increase webserver.api.max_sessions); another client may be logging in without logging out`);
      const h = await bad.health!(new AbortController().signal);
      expect(h.detail).toContain(`x: Pi-hole x at ${ns2.host} rejected the credential (integrations.pihole.instances[0].password)`);
      expect(JSON.stringify([logs, reports])).not.toContain('not-the-password');
    } finally {
      await bad.close?.();
      await full.stop();
    }
  });

  it('close logs out of each Pi-hole, giving the seats back', async () => {
    const one = await startFakePihole({ password: 'pw' });
    const inst = setup([{ name: 'one', url: one.url, password: 'pw' }]);
    try {
      await call('dns_list_records', {}, inst);
      expect(one.sessions()).toBe(1);
      await inst.close!();
      expect([one.sessions(), one.logouts()]).toEqual([0, 1]);
    } finally {
      await one.stop();
    }
  });

  it('health: blocking disabled on one of the pair is a problem', async () => {
    const h = await ph.health!(new AbortController().signal);
    expect(h).toMatchObject({ ok: false, detail: 'ns1 blocking, 12% blocked; ns2 blocking disabled, 12% blocked', problems: ['Pi-hole ns2: blocking is disabled'] });
  });

  it('parseRecords and the config schema', () => {
    expect(parseRecords(['fd00::1 v6.lan'], ['a.lan,b.lan,300'])).toEqual([
      { type: 'AAAA', name: 'v6.lan', value: 'fd00::1', entry: 'fd00::1 v6.lan' },
      { type: 'CNAME', name: 'a.lan', value: 'b.lan', entry: 'a.lan,b.lan,300' },
    ]);
    const issues = (v: Record<string, unknown>) => PiholeConfigSchema.safeParse(v).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ url: 'http://x' })).toEqual(['password: the Pi-hole (app) password, e.g. "${PIHOLE_PASSWORD}"']);
    expect(issues({ instances: [{ name: 'a', url: 'http://x', password: 'p' }], password: 'p' })).toEqual(['instances: with instances, set password and TLS keys on each instance']);
  });
});
