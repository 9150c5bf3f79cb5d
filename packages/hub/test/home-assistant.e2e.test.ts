/**
 * Home Assistant as an upstream (`type: home-assistant`) through the bundled hub, with an SDK
 * client, against the testkit's fake HA (the SDK's server answering as HA's MCP Server
 * integration does): the cross-device case as a person runs it ("the attic is hot: turn on the
 * attic fan": get_status of the attic Pi, then ha__HassTurnOn held by the gate, approved, run),
 * the legacy SSE fallback of an older HA, an HA exposing nothing, and an unreachable HA and a
 * rejected token next to an edge node and another HA that keep working.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, freePort, resultText, startEdgeProcess, startFakeHomeAssistant, startHubProcess, type Era } from '@homelab-mcp/testkit';

const TOKEN = 'ha-hub-admin-token-0123456789';
const VIEWER = 'ha-hub-viewer-token-0123456789';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

/** A /sys with one thermal zone at `celsius`, as the attic Pi's edge reads it. */
const dirs: string[] = [];
function sysWithTemperature(celsius: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'ha-e2e-sys-'));
  dirs.push(dir);
  const zone = join(dir, 'class', 'thermal', 'thermal_zone0');
  mkdirSync(zone, { recursive: true });
  writeFileSync(join(zone, 'type'), 'cpu-thermal\n');
  writeFileSync(join(zone, 'temp'), `${Math.round(celsius * 1000)}\n`);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.each<Era>(['modern', 'legacy'])('Home Assistant through the hub (%s client)', (era) => {
  it('the attic: get_status reads the Pi\'s temperature, ha__HassTurnOn is held as a write, approved, and the fan is on', { timeout: 120_000 }, async () => {
    await using ha = await startFakeHomeAssistant();
    await using attic = await startEdgeProcess({ args: ['--sys-root', sysWithTemperature(41.5)] });
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'kiosk', role: 'viewer', token: VIEWER }] },
        local: { enabled: false },
        nodes: [{ name: 'attic-pi', url: attic.url, token: attic.token }],
        // Given as the MCP endpoint itself: the hub takes /api/mcp off.
        upstreams: { ha: { type: 'home-assistant', url: `${ha.url}/api/mcp`, token: '${HA_TOKEN}' } },
      },
      env: { HA_TOKEN: ha.token },
    });
    await using client = await connectClient(hub.url, TOKEN, era);
    const tools = (await client.listTools()).tools;
    const byName = (n: string) => tools.find((t) => t.name === n);
    expect(byName('ha__HassTurnOn')?.description).toMatch(/^\[write: needs approval\] Turns on\/opens\/presses a device or entity/);
    expect(byName('ha__HassTurnOn')?.annotations?.readOnlyHint).toBe(false);
    expect(byName('ha__GetLiveContext')?.description).toMatch(/^\[read\] Provides real-time information about the CURRENT state/);
    expect(byName('ha__GetLiveContext')?.annotations?.readOnlyHint).toBe(true);
    expect(byName('ha__GetDateTime')?.description).toMatch(/^\[read\] /);
    expect(byName('ha__good_night')?.description).toMatch(/^\[write: needs approval\] /);
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain('ha__Assist');
    const prompt = await client.getPrompt({ name: 'ha__Assist' });
    expect(JSON.stringify(prompt.messages)).toContain('You are a voice assistant for Home Assistant.');
    // A viewer sees HA's reads, none of its writes, and cannot call one by name.
    await using kiosk = await connectClient(hub.url, VIEWER, era);
    const seen = (await kiosk.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith('ha__'));
    expect(seen.sort()).toEqual(['ha__GetDateTime', 'ha__GetLiveContext']);
    const refused = (await kiosk.callTool({ name: 'ha__HassTurnOn', arguments: { name: 'Attic Fan' } }).catch((err: Error) => ({ isError: true, content: [{ type: 'text', text: err.message }] }))) as Result;
    expect(refused.isError).toBe(true);
    expect(ha.requests().filter((r) => r.tool === 'HassTurnOn')).toEqual([]);

    // "How hot is it up there?"
    const status = (await client.callTool({ name: 'get_status', arguments: { node: 'attic-pi' } })) as Result;
    expect(resultText(status)).toMatch(/41\.5/);
    const live = (await client.callTool({ name: 'ha__GetLiveContext', arguments: { area: 'Attic' } })) as Result;
    expect(JSON.parse(resultText(live)).result).toContain("- names: Attic Fan\n  domain: fan\n  state: 'off'");

    // "Turn on the attic fan": held until approved, nothing changed meanwhile.
    const args = { name: 'Attic Fan' };
    const held = (await client.callTool({ name: 'ha__HassTurnOn', arguments: args })) as Result;
    expect(held.structuredContent).toMatchObject({ status: 'approval_required', preview: { tool: 'ha__HassTurnOn', where: ['ha'], arguments: args } });
    // The preview names what HA would act on now (looked up with GetLiveContext, a read).
    expect(held.structuredContent!.preview.action).toBe(`call HassTurnOn on Home Assistant at ${ha.host} with name "Attic Fan"; it matches now: Attic Fan (fan, off, Attic)`);
    expect(ha.state.entities.find((e) => e.entityId === 'fan.attic')?.state).toBe('off');
    expect(ha.requests().filter((r) => r.tool === 'HassTurnOn')).toEqual([]);
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const done = (await client.callTool({ name: 'ha__HassTurnOn', arguments: args })) as Result;
    expect(done.isError).toBeFalsy();
    expect(JSON.parse(resultText(done))).toMatchObject({ response_type: 'action_done', data: { success: [{ name: 'Attic Fan', type: 'entity', id: 'fan.attic' }], failed: [] } });
    expect(ha.state.entities.find((e) => e.entityId === 'fan.attic')?.state).toBe('on');
    // The REST views of the same HA (its url was given with /api/mcp) see the change.
    const states = (await client.callTool({ name: 'ha_states', arguments: { domain: 'fan' } })) as Result;
    expect(states.isError).toBeFalsy();
    expect(resultText(states)).toMatch(/Attic Fan/);
    expect(resultText(states)).toMatch(/\bon\b/);

    const nodes = (await client.callTool({ name: 'list_nodes', arguments: {} })) as Result;
    expect(nodes.structuredContent!.upstreams).toEqual([expect.objectContaining({ alias: 'ha', status: 'up' })]);
    expect(nodes.structuredContent!.upstreams[0].warning).toBeUndefined();
    expect(ha.unknown()).toEqual([]);
    expect(hub.output()).not.toContain(ha.token);
  });
});

describe('Home Assistant through the hub', () => {
  it('an older HA without /api/mcp: the hub falls back to /mcp_server/sse', { timeout: 60_000 }, async () => {
    await using ha = await startFakeHomeAssistant({ legacySseOnly: true });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: ha.url, token: ha.token } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['ha__HassTurnOn', 'ha__GetLiveContext']));
    const r = (await client.callTool({ name: 'ha__HassTurnOff', arguments: { area: 'Kitchen', domain: ['light'] } })) as Result;
    expect(r.isError).toBeFalsy();
    expect(ha.requests().some((q) => q.path === '/mcp_server/sse' && q.status === 200)).toBe(true);
    expect(ha.requests().some((q) => q.path.startsWith('/mcp_server/messages/') && q.rpc === 'tools/call')).toBe(true);
    expect(ha.unknown()).toEqual([]);
  });

  it('an HA exposing no entities: list_nodes, service_health and /readyz say what to do, the log says it once', { timeout: 60_000 }, async () => {
    await using ha = await startFakeHomeAssistant({ exposed: [] });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: ha.url, token: ha.token } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const want = `Home Assistant at ${ha.host} answers but exposes no entities to Assist: expose them in Settings > Voice assistants > Expose`;
    await expect.poll(async () => ((await client.callTool({ name: 'list_nodes', arguments: {} })) as Result).structuredContent!.upstreams[0].warning, { timeout: 10_000 }).toBe(want);
    const nodes = (await client.callTool({ name: 'list_nodes', arguments: {} })) as Result;
    expect(resultText(nodes)).toContain(`- ha: up`);
    expect(resultText(nodes)).toContain(`WARNING: ${want}`);
    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'ha')).toMatchObject({ healthy: false, detail: `up, but ${want}` });
    const ready = (await (await fetch(`${hub.base}/readyz`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { upstreams: Array<{ name: string; warning?: string }> };
    expect(ready.upstreams.find((u) => u.name === 'ha')?.warning).toBe(want);
    expect(hub.output().split(want).length - 1).toBe(1);
  });

  it('an unreachable HA and a rejected token: clear messages, and the edge node and another HA keep working', { timeout: 90_000 }, async () => {
    const port = await freePort();
    await using wrong = await startFakeHomeAssistant({ token: 'the-real-ha-token-abcdef' });
    await using other = await startFakeHomeAssistant();
    await using fresh = await startFakeHomeAssistant({ mcpNotConfigured: true });
    await using attic = await startEdgeProcess({ args: ['--sys-root', sysWithTemperature(35)] });
    const badToken = 'a-stale-ha-token-0123456789';
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] },
        local: { enabled: false },
       
        nodes: [{ name: 'attic-pi', url: attic.url, token: attic.token }],
        upstreams: {
          gone: { type: 'home-assistant', url: `http://127.0.0.1:${port}`, token: 'whatever-token-1234' },
          house: { type: 'home-assistant', url: wrong.url, token: badToken },
          cabin: { type: 'home-assistant', url: other.url, token: other.token },
          fresh: { type: 'home-assistant', url: fresh.url, token: fresh.token },
        },
      },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const nodes = (await client.callTool({ name: 'list_nodes', arguments: {} })) as Result;
    const ups = Object.fromEntries((nodes.structuredContent!.upstreams as Array<{ alias: string; status: string; error?: string }>).map((u) => [u.alias, u]));
    expect(ups.gone).toMatchObject({ status: 'down', error: `Home Assistant at 127.0.0.1:${port}: connection refused` });
    expect(ups.house).toMatchObject({ status: 'down', error: `Home Assistant at ${wrong.host} rejected the token (HTTP 401): set a valid long-lived access token (HA: your profile > Security) as upstreams.house.token` });
    expect(ups.cabin).toMatchObject({ status: 'up' });
    expect(ups.fresh).toMatchObject({ status: 'down', error: `Home Assistant at ${fresh.host} has no MCP server: add the Model Context Protocol Server integration in Home Assistant: Settings > Devices & services` });
    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'house')).toMatchObject({ healthy: false, detail: expect.stringContaining('rejected the token (HTTP 401)') });
    expect(JSON.stringify(nodes)).not.toContain(badToken);
    expect(hub.output()).not.toContain(badToken);

    const status = (await client.callTool({ name: 'get_status', arguments: { node: 'attic-pi' } })) as Result;
    expect(status.isError).toBeFalsy();
    expect(resultText(status)).toMatch(/35/);
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const on = (await client.callTool({ name: 'cabin__HassTurnOn', arguments: { name: 'Attic Fan' } })) as Result;
    expect(on.isError).toBeFalsy();
    expect(other.state.entities.find((e) => e.entityId === 'fan.attic')?.state).toBe('on');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names.some((n) => n.startsWith('house__') || n.startsWith('gone__'))).toBe(false);
  });

  it('refuses a url with another path, naming the key', { timeout: 30_000 }, async () => {
    const r = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: 'http://127.0.0.1:8123/lovelace/0', token: 'x-token-1234' } } },
    }).then(
      async (h) => {
        await h.stop();
        return 'started';
      },
      (err: Error) => err.message,
    );
    expect(r).toMatch(/upstreams\.ha\.url/);
    expect(r).toMatch(/expected Home Assistant's own address such as http:\/\/ha\.lan:8123/);
  });
});
