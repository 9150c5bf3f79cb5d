// Home Assistant as an upstream: the endpoint and its fallback, the messages a person reads, the
// class preset and the exposure warning, against the fake HA (the SDK's server, HA's answers).
import { startFakeHomeAssistant, freePort, type FakeHomeAssistantOptions } from '@homelab-mcp/testkit';
import { SdkHttpError, SdkErrorCode } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { classify } from '../policy/classes.ts';
import { createUpstream } from './upstream.ts';
import { HA_CLASS_PRESET, haPreview, parseHaLiveContext, haBase, haExposureWarning, haLiveContextExposure, haMcpUrl, haUrlProblem, isHaMcpNotConfigured, isHaStreamableMissing, watchHaExposure } from './home-assistant.ts';

const http404 = (text: string) => new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, { status: 404, statusText: 'Not Found', text });
const opts = { connectTimeoutMs: 5_000, healthIntervalMs: 0, backoff: { initialMs: 60_000, maxMs: 60_000 } };

describe('Home Assistant upstream helpers', () => {
  it('takes HA at its root, with or without /api/mcp, and refuses any other path', () => {
    expect(haMcpUrl('http://ha.lan:8123')).toBe('http://ha.lan:8123/api/mcp');
    expect(haMcpUrl('http://ha.lan:8123/api/mcp/')).toBe('http://ha.lan:8123/api/mcp');
    expect(haBase('https://ha.example.org/api/mcp')).toBe('https://ha.example.org');
    expect(haBase('http://ha.lan:8123/')).toBe('http://ha.lan:8123');
    expect(haUrlProblem('http://ha.lan:8123/')).toBeUndefined();
    expect(haUrlProblem('http://ha.lan:8123/api/mcp')).toBeUndefined();
    expect(haUrlProblem('http://ha.lan:8123/lovelace/0')).toMatch(/expected Home Assistant's own address such as http:\/\/ha\.lan:8123 .*"\/lovelace\/0"/);
  });

  it('falls back only on aiohttp\'s bare 404, and knows "not configured"', () => {
    expect(isHaStreamableMissing(http404('404: Not Found'))).toBe(true);
    expect(isHaStreamableMissing(http404('Model Context Protocol server is not configured'))).toBe(false);
    expect(isHaStreamableMissing(http404('{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}'))).toBe(false);
    expect(isHaMcpNotConfigured(http404('Model Context Protocol server is not configured'))).toBe(true);
  });

  it('presets HA reads after the user\'s classes; intents and scripts stay writes', () => {
    const tool = (name: string) => ({ name, inputSchema: { type: 'object' as const } });
    const preset = [...HA_CLASS_PRESET];
    expect(['GetLiveContext', 'GetDateTime', 'GetCurrentLocation', 'GetWeather', 'calendar_get_events', 'todo_get_items'].map((n) => classify(tool(n), preset))).toEqual(Array(6).fill('read'));
    expect(['HassTurnOn', 'HassLightSet', 'good_night', 'get_ready', 'HassCancelAllTimers'].map((n) => classify(tool(n), preset))).toEqual(Array(5).fill('write'));
    // Custom intents are named by their authors: a Get* name is no promise of a read.
    expect(['GetCoffee', 'GetGarageOpen', 'GetLiveContextAndUnlock', 'getLiveContext', 'G\u0435tLiveContext'].map((n) => classify(tool(n), preset))).toEqual(Array(5).fill('write'));
    expect(haExposureWarning([{ name: 'GetLiveContext' }, { name: 'GetCoffee' }], 'ha:8123')).toBeUndefined();
    // The user's classes come first: they can make a preset read a write.
    expect(classify(tool('GetLiveContext'), [['GetLiveContext', 'write'], ...preset])).toBe('write');
  });

  it('tells "nothing exposed" from "control off" by what GetLiveContext answers', () => {
    const reads = [{ name: 'GetLiveContext' }, { name: 'GetDateTime' }];
    expect(haExposureWarning([...reads, { name: 'HassTurnOn' }], 'ha:8123')).toBeUndefined();
    expect(haExposureWarning([...reads, { name: 'good_night' }], 'ha:8123')).toBeUndefined();
    expect(haExposureWarning(reads, 'ha:8123', 'none')).toBe('Home Assistant at ha:8123 answers but exposes no entities to Assist: expose them in Settings > Voice assistants > Expose');
    expect(haExposureWarning(reads, 'ha:8123', 'entities')).toMatch(/"Control Home Assistant" is off in the MCP Server integration's options/);
    const text = (t: string) => ({ content: [{ type: 'text', text: t }] });
    expect(haLiveContextExposure(text('{"success": false, "error": "Only if the user wants to control a device, tell them to expose entities"}'))).toBe('none');
    expect(haLiveContextExposure(text(JSON.stringify({ success: true, result: 'Live Context: An overview\n- names: Kitchen Light\n  domain: light\n' })))).toBe('entities');
    expect(haLiveContextExposure(text('not json'))).toBeUndefined();
    expect(haLiveContextExposure({ content: 'x', isError: true })).toBeUndefined();
  });
});

describe('Home Assistant exposure watch, attacked', () => {
  it('a flood of tool list changes runs one GetLiveContext at a time (one in flight, one after), and each warning is logged once', async () => {
    let listener: ((what: string) => void) | undefined;
    const pending: Array<(exposure: 'none' | 'entities') => void> = [];
    const answer = (exposure: 'none' | 'entities') => ({ content: [{ type: 'text', text: JSON.stringify(exposure === 'none' ? { success: false } : { success: true, result: '- names: Lamp\n  domain: light\n' }) }] });
    const u = {
      state: () => ({ status: 'up' }),
      tools: () => [{ name: 'GetLiveContext' }, { name: 'GetDateTime' }],
      callTool: () => new Promise<{ content: unknown }>((resolve) => pending.push((e) => resolve(answer(e)))),
      onChange: (l: (what: string) => void) => {
        listener = l;
        return () => undefined;
      },
    };
    const said: string[] = [];
    const watch = watchHaExposure(u, 'ha:8123', (w) => said.push(w));
    // A hostile HA flips its tool list as fast as the hub fetches it.
    for (let i = 0; i < 200; i++) listener!('tools');
    expect(pending).toHaveLength(1);
    // Its answers alternate: "nothing exposed", "control off", ...
    for (let i = 0; i < 6; i++) {
      pending.shift()!(i % 2 ? 'entities' : 'none');
      await new Promise((r) => setImmediate(r));
      if (i < 5) for (let j = 0; j < 50; j++) listener!('tools');
    }
    expect(pending.length).toBeLessThanOrEqual(1);
    pending.shift()?.('none');
    await new Promise((r) => setImmediate(r));
    expect(pending).toHaveLength(0);
    expect(watch.warning()).toMatch(/exposes no entities/);
    // Changes one after another, answers alternating: each of the two warnings is logged once.
    for (let i = 0; i < 6; i++) {
      listener!('tools');
      expect(pending).toHaveLength(1);
      pending.shift()!(i % 2 ? 'none' : 'entities');
      await new Promise((r) => setImmediate(r));
    }
    expect(watch.warning()).toMatch(/exposes no entities/);
    expect(said).toHaveLength(2);
    watch.off();
  });
});

describe('Home Assistant write previews', () => {
  const yaml = "Live Context: An overview of the areas and the devices in this smart home:\n- names: Attic Fan\n  domain: fan\n  state: 'off'\n  areas: Attic\n  attributes:\n    percentage: '0'\n- names: Kitchen Light, Cooking light\n  domain: light\n  state: 'on'\n  areas: Kitchen\n- names: 'It''s: odd'\n  domain: switch\n  state: unavailable\n";
  const upstream = (text: string | Error) => ({
    callTool: async () => {
      if (text instanceof Error) throw text;
      return { content: [{ type: 'text', text }] };
    },
    tools: () => [{ name: 'good_night', description: 'Turns off every light\nand the attic fan' }],
  });

  it('reads GetLiveContext\'s YAML as HA writes it', () => {
    expect(parseHaLiveContext(yaml)).toEqual([
      { names: 'Attic Fan', domain: 'fan', state: 'off', areas: 'Attic' },
      { names: 'Kitchen Light, Cooking light', domain: 'light', state: 'on', areas: 'Kitchen' },
      { names: "It's: odd", domain: 'switch', state: 'unavailable' },
    ]);
  });

  it('names the entities an intent matches now, by name (or alias), area and domain', async () => {
    const u = upstream(JSON.stringify({ success: true, result: yaml }));
    const p = await haPreview(u, 'ha', 'ha.lan:8123', 'HassTurnOn', 'ha__HassTurnOn', { name: 'attic fan' });
    expect(p).toEqual({ tool: 'ha__HassTurnOn', where: ['ha'], arguments: { name: 'attic fan' }, action: 'call HassTurnOn on Home Assistant at ha.lan:8123 with name "attic fan"; it matches now: Attic Fan (fan, off, Attic)' });
    expect((await haPreview(u, 'ha', 'h', 'HassTurnOff', 'x', { name: 'Cooking light' })).action).toMatch(/it matches now: Kitchen Light, Cooking light \(light, on, Kitchen\)$/);
    expect((await haPreview(u, 'ha', 'h', 'HassTurnOff', 'x', { area: 'Kitchen', domain: ['fan'] })).action).toMatch(/no entity exposed to Assist matches now \(HA will likely refuse it\)$/);
  });

  it('says what HA matches that GetLiveContext cannot show: an entity id as the name, an area id; names compared as HA casefolds them', async () => {
    const u = upstream(JSON.stringify({ success: true, result: yaml + '- names: Straße Lamp\n  domain: light\n  state: off\n  areas: Living Room\n' }));
    const byId = await haPreview(u, 'ha', 'h', 'HassTurnOff', 'x', { name: 'lock.front_door' });
    expect(byId.action).toBe('call HassTurnOff on Home Assistant at h with name "lock.front_door"; name "lock.front_door" is an entity id: HA acts on that entity if it is exposed (GetLiveContext lists no entity ids, so it is not shown here)');
    expect((await haPreview(u, 'ha', 'h', 'HassTurnOff', 'x', { area: 'living_room' })).action).toMatch(/; area "living_room" may be an area id: HA then acts on that area's entities/);
    expect((await haPreview(u, 'ha', 'h', 'HassTurnOff', 'x', { area: 'kitchen' })).action).toMatch(/it matches now: Kitchen Light, Cooking light \(light, on, Kitchen\)$/);
    expect((await haPreview(u, 'ha', 'h', 'HassTurnOn', 'x', { name: 'STRASSE LAMP' })).action).toMatch(/it matches now: Straße Lamp \(light, off, Living Room\)$/);
  });

  it('reads names, aliases and areas that PyYAML wrapped past 80 columns, and names with a comma, as HA matches them', async () => {
    // yaml.dump(..., default_flow_style=False, allow_unicode=True, sort_keys=False), as HA dumps the overview.
    const wrapped =
      "Live Context: An overview of the areas and the devices in this smart home:\n- names: Kitchen Light, Cooking light, Ceiling lamp, Big light over the counter, another\n    alias here\n  domain: light\n  state: 'on'\n  areas: Living Room, Lounge, Family room, TV room, Den, Snug, Front room, Parlour\n  attributes:\n    brightness: '255'\n- names: 'It''s a long name that: has a colon and is long enough to be wrapped by\n    pyyaml yes'\n  domain: switch\n  state: 'off'\n";
    expect(parseHaLiveContext(wrapped)).toEqual([
      { names: 'Kitchen Light, Cooking light, Ceiling lamp, Big light over the counter, another alias here', domain: 'light', state: 'on', areas: 'Living Room, Lounge, Family room, TV room, Den, Snug, Front room, Parlour' },
      { names: "It's a long name that: has a colon and is long enough to be wrapped by pyyaml yes", domain: 'switch', state: 'off' },
    ]);
    const u = upstream(JSON.stringify({ success: true, result: wrapped + '- names: Lamp, Hall\n  domain: light\n  state: off\n' }));
    expect((await haPreview(u, 'ha', 'h', 'HassTurnOff', 'x', { name: 'another alias here' })).action).toMatch(/it matches now: Kitchen Light/);
    expect((await haPreview(u, 'ha', 'h', 'HassTurnOff', 'x', { name: "it's a long name that: has a colon and is long enough to be wrapped by pyyaml yes" })).action).toMatch(/it matches now: It's a long name/);
    // HA joins a name and its aliases with ", ": a name holding a comma is matched whole too.
    expect((await haPreview(u, 'ha', 'h', 'HassTurnOff', 'x', { name: 'Lamp, Hall' })).action).toMatch(/it matches now: Lamp, Hall \(light, off\)$/);
  });

  it('stays bounded on a hostile answer: huge text, 50,000 entities, control characters in a name', async () => {
    expect((await haPreview(upstream('x'.repeat(5_000_000)), 'ha', 'h', 'HassTurnOn', 'x', { name: 'a' })).action).toBe('call HassTurnOn on Home Assistant at h with name "a"');
    const many = Array.from({ length: 50_000 }, (_, i) => `- names: Lamp\n  domain: light\n  state: 'on'\n  areas: Hall ${i}`).join('\n');
    expect(parseHaLiveContext(many)).toHaveLength(2_000);
    const p = await haPreview(upstream(JSON.stringify({ success: true, result: many })), 'ha', 'h', 'HassTurnOff', 'x', { name: 'Lamp' });
    expect(p.action).toMatch(/ and 1980 more$/);
    expect(p.action.length).toBeLessThan(3_000);
    const odd = await haPreview(upstream(JSON.stringify({ success: true, result: "- names: 'Lamp\u001b[2J'\n  domain: light\n" })), 'ha', 'h', 'HassTurnOn', 'x', { name: 'Lamp\u001b[2J', domain: ['light'] });
    // Matched, and shown as is: the gate escapes control characters in every preview it shows.
    expect(odd.action).toContain('it matches now: Lamp\u001b[2J (light)');
  });

  it('falls back to the call and its arguments when it cannot look, and names a script', async () => {
    const p = await haPreview(upstream(new Error('down')), 'ha', 'h', 'HassLightSet', 'ha__HassLightSet', { name: 'Kitchen Light', brightness: 40 });
    expect(p.action).toBe('call HassLightSet on Home Assistant at h with name "Kitchen Light", brightness 40');
    expect((await haPreview(upstream('not json'), 'ha', 'h', 'HassTurnOn', 'x', { name: 'a' })).action).toBe('call HassTurnOn on Home Assistant at h with name "a"');
    expect((await haPreview(upstream(''), 'ha', 'h', 'good_night', 'ha__good_night', {})).action).toBe('run "good_night" on Home Assistant at h (Turns off every light and the attic fan)');
  });
});

describe('Home Assistant upstream connection', () => {
  it('connects to /api/mcp statelessly: probe, -32601, initialize, no GET stream kept', async () => {
    await using ha = await startFakeHomeAssistant();
    const up = createUpstream({ kind: 'home-assistant', name: 'ha', url: ha.url, token: ha.token }, opts);
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'legacy', serverInfo: { name: 'home-assistant' } });
    expect(up.tools().map((t) => t.name)).toContain('HassTurnOn');
    const r = await up.callTool('HassTurnOn', { name: 'Attic Fan' });
    expect(r.isError).toBeFalsy();
    expect(ha.state.entities.find((e) => e.entityId === 'fan.attic')?.state).toBe('on');
    await up.close();
    const rpcs = ha.requests().map((q) => `${q.method} ${q.rpc ?? q.path} ${q.status}`);
    expect(rpcs.slice(0, 3)).toEqual(['POST server/discover 200', 'POST initialize 200', 'POST notifications/initialized 202']);
    // HA answers GET with 405: the SDK asks once and lives without the stream.
    expect(rpcs.filter((x) => x.startsWith('GET')).length).toBeLessThanOrEqual(1);
    expect(ha.unknown()).toEqual([]);
  });

  it('falls back to the legacy SSE endpoint of an HA without /api/mcp', async () => {
    await using ha = await startFakeHomeAssistant({ legacySseOnly: true });
    const up = createUpstream({ kind: 'home-assistant', name: 'ha', url: ha.url, token: ha.token }, opts);
    await up.start();
    expect(up.state()).toMatchObject({ status: 'up', era: 'legacy' });
    await up.callTool('HassTurnOn', { name: 'Kitchen Light' });
    expect(ha.state.entities.find((e) => e.entityId === 'light.kitchen')?.state).toBe('on');
    expect(ha.requests().some((q) => q.path === '/mcp_server/sse' && q.status === 200)).toBe(true);
    await up.close();
  });

  it('says what to do: integration not added, token rejected (never the token), HA unreachable', async () => {
    await using off = await startFakeHomeAssistant({ mcpNotConfigured: true });
    const a = createUpstream({ kind: 'home-assistant', name: 'ha', url: off.url, token: off.token }, opts);
    await a.start();
    expect(a.state().lastError).toBe(`Home Assistant at ${off.host} has no MCP server: add the Model Context Protocol Server integration in Home Assistant: Settings > Devices & services`);
    await a.close();

    await using ha = await startFakeHomeAssistant({ token: 'the-right-token-1234' });
    const b = createUpstream({ kind: 'home-assistant', name: 'house', url: ha.url, token: 'a-wrong-token-5678' }, opts);
    await b.start();
    expect(b.state().lastError).toBe(`Home Assistant at ${ha.host} rejected the token (HTTP 401): set a valid long-lived access token (HA: your profile > Security) as upstreams.house.token`);
    await expect(b.callTool('GetDateTime', {})).rejects.toThrow(/rejected the token/);
    await b.close();

    const port = await freePort();
    const c = createUpstream({ kind: 'home-assistant', name: 'ha', url: `http://127.0.0.1:${port}`, token: 'a-wrong-token-5678' }, opts);
    await c.start();
    expect(c.state().lastError).toBe(`Home Assistant at 127.0.0.1:${port}: connection refused`);
    await c.close();
  });

  it('warns once when HA exposes nothing, and when control is off', async () => {
    const cases: Array<[FakeHomeAssistantOptions, RegExp | undefined]> = [
      [{ exposed: [] }, /exposes no entities to Assist: expose them in Settings > Voice assistants > Expose/],
      [{ control: false }, /"Control Home Assistant" is off/],
      [{}, undefined],
    ];
    for (const [o, want] of cases) {
      await using ha = await startFakeHomeAssistant(o);
      const up = createUpstream({ kind: 'home-assistant', name: 'ha', url: ha.url, token: ha.token }, opts);
      const said: string[] = [];
      const watch = watchHaExposure(up, ha.host, (w) => said.push(w));
      await up.start();
      await expect.poll(() => (want ? watch.warning() : 'none')).toMatch(want ?? 'none');
      if (want) expect(said).toHaveLength(1);
      else expect(watch.warning()).toBeUndefined();
      watch.off();
      await up.close();
    }
  });
});
