/**
 * The OPNsense integration through the bundled hub, with an SDK client, against the testkit's
 * fake OPNsense: the reads; a rule created after approval (held first with exactly what it will
 * create), applied and read back; then undone with opnsense_toggle_rule from the previous state
 * the audit journal kept; OPNsense's validation per field; a hostile answer bounded; a wrong
 * key and an unreachable firewall named clearly while other tools keep working; a viewer who
 * does not see the writes. The key and secret come from the environment and reach no answer,
 * journal line or log.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startFakeLms, startFakeOpnsense, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'opnsense-hub-admin-token-0123456789';
const VIEWER = 'opnsense-hub-viewer-token-012345678';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'vic', role: 'viewer', token: VIEWER }] };
const NO_ROLLBACK = 'Applied at once; OPNsense has no automatic rollback since 26.7: undo with opnsense_toggle_rule or delete it in the GUI.';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('OPNsense through the hub', () => {
  it('reads; a rule created after approval, applied, read back; undone from the audit; validations per field; hostile answers bounded; viewer sees no writes', { timeout: 120_000 }, async () => {
    await using opn = await startFakeOpnsense();
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { opnsense: { url: opn.url, key: '${OPNSENSE_KEY}', secret: '${OPNSENSE_SECRET}' } } },
      env: { OPNSENSE_KEY: opn.key, OPNSENSE_SECRET: opn.secret },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as Result;

    const classes: Record<string, 'read' | 'write'> = { opnsense_status: 'read', opnsense_interfaces: 'read', opnsense_rules: 'read', opnsense_create_rule: 'write', opnsense_toggle_rule: 'write' };
    const ours = (await client.listTools()).tools.filter((t) => t.name in classes);
    expect(ours.map((t) => [t.name, t.annotations?.readOnlyHint, t.annotations?.destructiveHint, /^\[(read|write: needs approval)\] /.exec(t.description ?? '')?.[1]]).sort()).toEqual(
      Object.entries(classes).map(([n, c]) => [n, c === 'read', c === 'write', c === 'read' ? 'read' : 'write: needs approval']).sort(),
    );

    expect(resultText(await call('opnsense_status'))).toBe(`OPNsense 26.1.2 at ${opn.host}: 3 updates available; up 12 days 03:04:05; load 0.12, 0.20, 0.18; memory 2.0 GiB of 8.0 GiB used`);
    expect(resultText(await call('opnsense_interfaces')).split('\n')[1]).toBe('- lan igc1: up, 192.168.1.1/24, fd00:1::1/64');
    expect(resultText(await call('opnsense_rules', { filter: 'nas' })).split('\n')[0]).toBe(`1 rule matching "nas" on OPNsense at ${opn.host} (1 enabled)`);

    // Held with exactly the rule it will create; nothing reaches OPNsense before approval.
    const args = { action: 'pass', interface: 'lan', protocol: 'TCP', source: 'lan', destination: '192.168.1.30', destinationPort: '8123', description: 'LAN to Home Assistant', log: true };
    const held = await call('opnsense_create_rule', args);
    expect(held.structuredContent).toMatchObject({
      status: 'approval_required',
      preview: { action: `Create firewall rule on OPNsense at ${opn.host}: pass in on lan IPv4 TCP from lan to 192.168.1.30 port 8123, enabled, logged, description "LAN to Home Assistant". ${NO_ROLLBACK}`, where: ['opnsense/lan'] },
    });
    expect(opn.requests().some((r) => r.path.includes('add_rule'))).toBe(false);
    await call('approve_writes');
    const created = await call('opnsense_create_rule', args);
    expect(created.isError).toBeFalsy();
    const uuid = created.structuredContent!.uuid as string;
    expect(created.structuredContent).toMatchObject({ created: true, verified: true, rule: { uuid, enabled: true, destination: '192.168.1.30', destinationPort: '8123', log: true } });
    expect(opn.rules.find((r) => r.uuid === uuid)).toMatchObject({ applied: true, enabled: '1' });
    expect(resultText(await call('opnsense_rules', { filter: 'home assistant' }))).toContain(`(${uuid})`);

    // Disabled, then undone with the previous state the journal kept.
    const off = await call('opnsense_toggle_rule', { uuid, enabled: false });
    expect(off.structuredContent).toMatchObject({ changed: true, verified: true, enabled: false, previous: { enabled: true } });
    expect(opn.rules.find((r) => r.uuid === uuid)!.enabled).toBe('0');
    let events = readJournal(join(hub.dir, 'data'));
    const createEvent = events.find((e) => e.kind === 'tool_call' && e.tool === 'opnsense_create_rule' && e.outcome === 'succeeded')!;
    expect(createEvent.detail).toMatchObject({ uuid, rule: { uuid, action: 'pass', interface: 'lan', destination: '192.168.1.30', destinationPort: '8123', enabled: true, description: 'LAN to Home Assistant' } });
    const toggleEvent = events.find((e) => e.kind === 'tool_call' && e.tool === 'opnsense_toggle_rule' && e.outcome === 'succeeded')!;
    expect(toggleEvent.detail).toMatchObject({ uuid, description: 'LAN to Home Assistant', previous: { enabled: true }, now: { enabled: false } });
    const undo = await call('opnsense_toggle_rule', { uuid: toggleEvent.detail.uuid, enabled: toggleEvent.detail.previous.enabled });
    expect(resultText(undo)).toMatch(/^Enabled and applied rule "LAN to Home Assistant" .*\(was disabled\); read back as asked\./);
    expect(opn.rules.find((r) => r.uuid === uuid)).toMatchObject({ enabled: '1', applied: true });

    // OPNsense's validations, per argument.
    const refused = await call('opnsense_create_rule', { action: 'block', interface: 'opt7', protocol: 'UDP', destination: 'no_such_alias', destinationPort: '53', description: 'bad' });
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toEqual({ created: false, validations: { interface: ['option not in list'], destination: ['no_such_alias is not a valid destination IP address or alias.'] } });

    // A hostile answer: huge and of the wrong types, bounded.
    opn.override('/api/firewall/filter/search_rule', { body: { total: 10 ** 12, rows: Array.from({ length: 1200 }, (_v, i) => ({ uuid: i, enabled: { x: 1 }, description: ['a'.repeat(400)], interface: 'x'.repeat(1000) })) } });
    const hostile = await call('opnsense_rules', { limit: 200 });
    opn.override('/api/firewall/filter/search_rule', undefined);
    expect(hostile.isError).toBeFalsy();
    expect(hostile.structuredContent).toMatchObject({ total: 1000, shown: 200 });
    expect(resultText(hostile).split('\n')[0]).toMatch(/; showing 200; only the first 1000 of 1000000000000 were read$/);
    expect(resultText(hostile).length).toBeLessThan(200 * 300);

    // A viewer reads, and does not see (nor can call) the writes.
    await using viewer = await connectClient(hub.url, VIEWER, 'legacy');
    const vtools = (await viewer.listTools()).tools.map((t) => t.name);
    expect(vtools).toEqual(expect.arrayContaining(['opnsense_status', 'opnsense_interfaces', 'opnsense_rules']));
    expect(vtools).not.toContain('opnsense_create_rule');
    expect(vtools).not.toContain('opnsense_toggle_rule');
    await expect(viewer.callTool({ name: 'opnsense_toggle_rule', arguments: { uuid, enabled: false } })).rejects.toThrow(/not found/);
    expect(opn.rules.find((r) => r.uuid === uuid)!.enabled).toBe('1');

    const health = (await call('service_health')) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'OPNsense')).toMatchObject({ healthy: true, detail: `OPNsense 26.1.2 at ${opn.host}: 3 updates available` });

    events = readJournal(join(hub.dir, 'data'));
    expect(events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'opnsense').map((e) => e.detail.url)).toContain(`${opn.url}/api/firewall/filter/apply`);
    const basic = Buffer.from(`${opn.key}:${opn.secret}`).toString('base64');
    for (const secret of [opn.key, opn.secret, basic]) {
      expect(JSON.stringify(events)).not.toContain(secret);
      expect(hub.output()).not.toContain(secret);
    }
    expect(opn.unknown()).toEqual([]);
  });

  it('a wrong key and an unreachable OPNsense: clear messages naming integrations.opnsense.key/secret or the host; other tools unaffected', { timeout: 60_000 }, async () => {
    await using opn = await startFakeOpnsense();
    await using lms = await startFakeLms();
    const wrong = 'wrong-secret-for-opnsense-0123456789';
    await using hub = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { opnsense: { url: opn.url, key: '${OPNSENSE_KEY}', secret: '${OPNSENSE_SECRET}' }, lyrion: { url: lms.url } } },
      env: { OPNSENSE_KEY: opn.key, OPNSENSE_SECRET: wrong },
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const r = (await client.callTool({ name: 'opnsense_rules', arguments: {} })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toMatch(new RegExp(`^OPNsense at ${opn.host.replace(/\./g, '\\.')} (refused the API key and secret|rejected the credential) \\(integrations\\.opnsense\\.key and integrations\\.opnsense\\.secret\\)$`));
    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'OPNsense')).toMatchObject({ healthy: false, detail: `OPNsense at ${opn.host} rejected the credential (integrations.opnsense.key and integrations.opnsense.secret)` });
    const players = (await client.callTool({ name: 'lms_players', arguments: {} })) as Result;
    expect(players.isError).toBeFalsy();
    expect(resultText(players)).toContain('Kitchen');
    expect(JSON.stringify([r, health, readJournal(join(hub.dir, 'data'))])).not.toContain(wrong);
    expect(hub.output()).not.toContain(wrong);

    const port = await freePort();
    await using down = await startHubProcess({
      config: { auth, local: { enabled: false }, integrations: { opnsense: { url: `http://127.0.0.1:${port}`, key: 'k-0123456789', secret: 's-0123456789' }, lyrion: { url: lms.url } } },
    });
    await using c2 = await connectClient(down.url, TOKEN, 'modern');
    const st = (await c2.callTool({ name: 'opnsense_status', arguments: {} })) as Result;
    expect(st.isError).toBe(true);
    expect(resultText(st)).toBe(`OPNsense at 127.0.0.1:${port} is unreachable: connection refused`);
    expect(((await c2.callTool({ name: 'lms_players', arguments: {} })) as Result).isError).toBeFalsy();
    expect(opn.unknown()).toEqual([]);
  });
});
