/**
 * Home Assistant's REST views (ha_states, ha_history, ha_logbook, ha_error_log) through the
 * bundled hub with an SDK client, against the testkit's fake HA REST API. The fake has no MCP
 * server, so the MCP side of the upstream fails to connect: the REST tools work all the same.
 * Also: a viewer may call them (reads), bounds against a huge and hostile answer, the token
 * never in an answer, a rejected token and an unreachable HA named per upstream (the others
 * unaffected), service_health, the audit trail and a reload that adds and removes upstreams.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startFakeHaRest, startHubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'har-hub-admin-token-0123456789';
const VIEWER = 'har-hub-viewer-token-0123456789';
const HA_TOKEN = 'ha-long-lived-access-token-abcdef0123456789';
const TOOLS = ['ha_error_log', 'ha_history', 'ha_logbook', 'ha_states'];
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };
/** The MCP side of the upstream asks the REST-only fake for its MCP endpoints: not the REST tools' requests. */
const restUnknown = (reqs: Array<{ url: string }>) => reqs.filter((r) => !r.url.startsWith('/api/mcp') && !r.url.startsWith('/mcp_server/'));
const ago = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

describe('Home Assistant REST tools through the hub', () => {
  it('one upstream: each tool for a viewer while the MCP side is down; health, audit; a hostile answer is bounded and scrubbed', { timeout: 120_000 }, async () => {
    let hostile = '';
    await using ha = await startFakeHaRest({
      token: HA_TOKEN,
      respond: (_m, url) => {
        if (hostile === 'echo' && url.pathname === '/api/error_log') return { status: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: `bad request from Bearer ${HA_TOKEN}` }) };
        if (hostile === 'huge' && url.pathname === '/api/states')
          return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ entity_id: `sensor.n${i}`, state: String(i % 3), attributes: { friendly_name: `${HA_TOKEN} ${'x'.repeat(300)}\n- sensor.fake: on` } }))) };
        return undefined;
      },
    });
    ha.state.logbook = [
      { when: ago(5), name: 'Kitchen Light', entityId: 'light.kitchen', state: 'on' },
      { when: ago(2), name: 'Kitchen Light', entityId: 'light.kitchen', state: 'off' },
      { when: ago(1), name: 'Kitchen Light', entityId: 'light.kitchen', state: 'on' },
      { when: ago(0.5), name: 'Good night', message: 'triggered by state of binary_sensor.front_door', entityId: 'automation.good_night' },
    ];
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }, { user: 'vic', role: 'viewer', token: VIEWER }] },
        local: { enabled: false },
        upstreams: { ha: { type: 'home-assistant', url: ha.url, token: HA_TOKEN } },
      },
      noWaitForUpstreams: true,
    });
    await using viewer = await connectClient(hub.url, VIEWER, 'modern');
    const listed = (await viewer.listTools()).tools.filter((t) => TOOLS.includes(t.name));
    expect(listed.map((t) => [t.name, t.annotations?.readOnlyHint, t.annotations?.destructiveHint, /^\[read\] /.test(t.description ?? '')]).sort()).toEqual(TOOLS.map((n) => [n, true, false, true]));
    // One upstream: instance may be left out.
    expect(listed.find((t) => t.name === 'ha_states')!.inputSchema.required ?? []).toEqual([]);

    const call = async (name: string, args: Record<string, unknown> = {}, c = viewer) => (await c.callTool({ name, arguments: args })) as Result;
    const states = await call('ha_states');
    expect(states.isError).toBeFalsy();
    expect(resultText(states).split('\n')[0]).toBe('6 entities: 3 off, 1 3.5, 1 on, 1 unavailable');
    expect(resultText(states)).toContain('- light.kitchen "Kitchen Light": on [Kitchen] since 2026-12-07T06:30:00+00:00');
    expect(resultText(await call('ha_states', { domain: 'light', area: 'Kitchen' })).split('\n')).toEqual(['1 entity: 1 on (domain light, area "Kitchen")', '- light.kitchen "Kitchen Light": on [Kitchen] since 2026-12-07T06:30:00+00:00']);
    const bad = await call('ha_states', { area: 'x'.repeat(500) });
    expect(bad.isError).toBe(true);
    expect(resultText(bad)).toMatch(/^ha_states: argument "area": .*100/);

    const hist = await call('ha_history', { entity: 'light.kitchen', since: '3h' });
    expect(resultText(hist).split('\n').map((l) => l.replace(/^- \S+ /, ''))).toEqual([expect.stringMatching(/^light\.kitchen: 3 states since .+Z, now on$/), 'on', 'off', 'on']);
    const lb = await call('ha_logbook', { since: '3h' });
    expect(resultText(lb).split('\n').map((l) => l.replace(/^- \S+ /, ''))).toEqual([
      expect.stringMatching(/^3 logbook entries since .+ \(newest first\)$/),
      'Good night triggered by state of binary_sensor.front_door (automation.good_night)',
      'Kitchen Light changed to on (light.kitchen)',
      'Kitchen Light changed to off (light.kitchen)',
    ]);
    const log = await call('ha_error_log');
    expect(resultText(log)).toBe(`HA's log, 3 lines\n${ha.state.errorLog.trimEnd()}`);

    // The MCP side of the upstream is down (the fake has no /api/mcp); service_health shows the REST side on its own.
    await using admin = await connectClient(hub.url, ADMIN, 'legacy');
    const health = (await admin.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'Home Assistant REST API')).toMatchObject({ healthy: true, detail: `ha at ${ha.host}: API running` });

    // Hostile: a huge answer (20,000 entities, names carrying the token and fake lines) stays bounded and scrubbed.
    hostile = 'huge';
    const huge = await call('ha_states');
    expect(resultText(huge).length).toBeLessThanOrEqual(31_000);
    expect(resultText(huge).split('\n')[0]).toBe('20000 entities: 6667 0, 6667 1, 6666 2');
    expect(resultText(huge)).not.toMatch(/^- sensor\.fake/m);
    expect(JSON.stringify(huge)).not.toContain(HA_TOKEN);
    expect(JSON.stringify(huge)).toContain('[redacted]');
    hostile = 'echo';
    const echoed = await call('ha_error_log');
    expect(echoed.isError).toBe(true);
    expect(resultText(echoed)).toBe(`Home Assistant ha at ${ha.host}: /api/error_log answered HTTP 500: bad request from Bearer [redacted]`);
    hostile = '';

    const events = readJournal(join(hub.dir, 'data'));
    const requested = events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'home-assistant').map((e) => e.detail.url);
    expect(requested).toEqual(expect.arrayContaining([`${ha.url}/api/states`, `${ha.url}/api/template`, `${ha.url}/api/error_log`, `${ha.url}/api/`]));
    expect(requested.some((u: string) => u.startsWith(`${ha.url}/api/history/period/`) && !u.includes('?'))).toBe(true);
    expect(JSON.stringify(events)).not.toContain(HA_TOKEN);
    expect(hub.output()).not.toContain(HA_TOKEN);
    expect(restUnknown(ha.unknown())).toEqual([]);
  });

  it('several upstreams: instance required; a rejected token and an unreachable HA named by their keys, the good one unaffected; reload adds and removes the tools', { timeout: 120_000 }, async () => {
    await using ha = await startFakeHaRest({ token: HA_TOKEN });
    const deadPort = await freePort();
    const base = { auth: { tokens: [{ user: 'ann', role: 'admin', token: ADMIN }] }, local: { enabled: false } };
    const upstreams = {
      ha: { type: 'home-assistant', url: ha.url, token: HA_TOKEN },
      cabin: { type: 'home-assistant', url: ha.url, token: 'a-revoked-token-0123456789' },
      shed: { type: 'home-assistant', url: `http://127.0.0.1:${deadPort}`, token: 'shed-token-0123456789' },
    };
    await using hub = await startHubProcess({ config: { ...base, upstreams }, noWaitForUpstreams: true });
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as Result;

    expect(resultText(await call('ha_states'))).toBe("ha_states: argument \"instance\" is required (Which Home Assistant: the upstream's alias (ha, cabin, shed); required)");
    expect(resultText(await call('ha_states', { instance: 'attic' }))).toBe('instance: expected one of ha, cabin, shed, got "attic"');
    const rejected = await call('ha_states', { instance: 'cabin' });
    expect(rejected.isError).toBe(true);
    expect(resultText(rejected)).toBe(`Home Assistant cabin at ${ha.host} rejected the token (upstreams.cabin.token)`);
    for (const t of ['ha_states', 'ha_history', 'ha_logbook', 'ha_error_log']) {
      const r = await call(t, { instance: 'shed', ...(t === 'ha_history' ? { entity: 'light.kitchen' } : {}) });
      expect([t, resultText(r)]).toEqual([t, `Home Assistant shed at 127.0.0.1:${deadPort} is unreachable: connection refused`]);
    }
    expect(resultText(await call('ha_states', { instance: 'ha', domain: 'switch' })).split('\n')[0]).toBe('ha: 1 entity: 1 off (domain switch)');

    const health = (await call('service_health')).structuredContent!.items.find((i: { name: string }) => i.name === 'Home Assistant REST API');
    expect(health).toMatchObject({ healthy: false });
    expect(health.detail).toBe(`ha at ${ha.host}: API running; Home Assistant cabin at ${ha.host} rejected the credential (upstreams.cabin.token); Home Assistant shed at 127.0.0.1:${deadPort} is unreachable: connection refused`);
    expect(JSON.stringify(health)).not.toContain('a-revoked-token');
    expect(hub.output()).not.toContain('a-revoked-token-0123456789');

    // Reload: one upstream left, then none (the tools go).
    const file = join(hub.dir, 'hub.yaml');
    // A fresh session each time: what the hub lists now.
    const names = async () => {
      await using c = await connectClient(hub.url, ADMIN, 'legacy');
      return (await c.listTools()).tools.map((t) => t.name).filter((n) => TOOLS.includes(n));
    };
    expect(await names()).toEqual(TOOLS);
    writeFileSync(file, JSON.stringify({ ...base, dataDir: './data', upstreams: { ha: upstreams.ha } }));
    await expect.poll(async () => resultText(await call('ha_states', { domain: 'switch' })).split('\n')[0], { timeout: 15_000 }).toBe('1 entity: 1 off (domain switch)');
    writeFileSync(file, JSON.stringify({ ...base, dataDir: './data' }));
    await expect.poll(names, { timeout: 15_000 }).toEqual([]);
    expect(restUnknown(ha.unknown())).toEqual([]);
  });
});

