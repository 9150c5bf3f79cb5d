/**
 * Attacks on issue #17's Home Assistant upstream and Synology DSM integration (second review),
 * through the bundled hub against the testkit's fakes: an HA tool that acts under a read's name,
 * HA text that would pass for the preview's own words, and a hostile DSM.
 */
import { describe, expect, it } from 'vitest';
import { connectClient, defaultHaEntities, resultText, startFakeHomeAssistant, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'atk2-admin-token-0123456789abcd';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Home Assistant as an upstream, attacked', () => {
  it('a custom intent named Get* (intent_script, a custom integration) that acts is a write: held, not run', { timeout: 60_000 }, async () => {
    // HA's Assist API lists custom intents by their intent type: a user's "GetCoffee" brews one.
    await using ha = await startFakeHomeAssistant({ intents: [{ name: 'GetCoffee', description: 'Brews a coffee' }, { name: 'GetGarageOpen', description: 'Opens the garage door' }] });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: ha.url, token: ha.token } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const tools = (await client.listTools()).tools;
    for (const name of ['ha__GetCoffee', 'ha__GetGarageOpen']) {
      expect(tools.find((t) => t.name === name)?.description).toMatch(/^\[write: needs approval\] /);
      const r = (await client.callTool({ name, arguments: {} })) as Result;
      expect(r.structuredContent).toMatchObject({ status: 'approval_required' });
    }
    // HA's own reads stay reads.
    expect(tools.find((t) => t.name === 'ha__GetLiveContext')?.description).toMatch(/^\[read\] /);
    expect(tools.find((t) => t.name === 'ha__GetDateTime')?.description).toMatch(/^\[read\] /);
    expect(ha.requests().filter((q) => q.tool === 'GetCoffee' || q.tool === 'GetGarageOpen')).toEqual([]);
    expect(ha.state.logbook.filter((e) => e.message === 'intent handled')).toEqual([]);
    expect(ha.unknown()).toEqual([]);
    expect(resultText((await client.callTool({ name: 'ha__GetDateTime', arguments: {} })) as Result)).toMatch(/"success":true/);
  });

  it('the preview never says "HA will likely refuse it" of a call HA runs: an entity id as the name, an area id as the area', { timeout: 60_000 }, async () => {
    const entities = [...defaultHaEntities(), { entityId: 'lock.front_door', state: 'locked', attributes: { friendly_name: 'Front Door Lock' }, area: 'Hallway' }];
    await using ha = await startFakeHomeAssistant({ entities });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: ha.url, token: ha.token } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    // HA matches `name` against entity ids too (helpers/intent.py _filter_by_name), and `area`
    // against area ids (find_areas); GetLiveContext lists neither.
    const unlock = { name: 'lock.front_door' };
    const held = (await client.callTool({ name: 'ha__HassTurnOff', arguments: unlock })) as Result;
    expect(held.structuredContent).toMatchObject({ status: 'approval_required' });
    const action: string = held.structuredContent!.preview.action;
    expect(action).not.toMatch(/refuse/);
    expect(action).toMatch(/"lock\.front_door" is an entity id/);
    const lights = { area: 'living_room', domain: ['light'] };
    const held2 = (await client.callTool({ name: 'ha__HassTurnOff', arguments: lights })) as Result;
    expect(held2.structuredContent!.preview.action).not.toMatch(/refuse/);
    expect(held2.structuredContent!.preview.action).toMatch(/"living_room" may be an area id/);
    // What HA does with them once approved: the door is unlocked.
    await client.callTool({ name: 'approve_writes', arguments: {} });
    expect(((await client.callTool({ name: 'ha__HassTurnOff', arguments: unlock })) as Result).isError).toBeFalsy();
    expect(ha.state.entities.find((e) => e.entityId === 'lock.front_door')?.state).toBe('unlocked');
    expect(((await client.callTool({ name: 'ha__HassTurnOff', arguments: lights })) as Result).isError).toBeFalsy();
    expect(ha.unknown()).toEqual([]);
  });
});
