/**
 * The Lyrion integration against the testkit's fake LMS (which follows the documented JSON-RPC
 * API and records any request it does not know).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '@homelab-mcp/core/http';
import { freePort, startFakeLms, type FakeLms } from '@homelab-mcp/testkit';
import { LyrionConfigSchema, lyrionIntegration, type LyrionInstance } from './index.ts';

let lms: FakeLms;
let inst: LyrionInstance;
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
const setup = (over: Record<string, unknown> = {}) => lyrionIntegration.setup(LyrionConfigSchema.parse({ url: lms.url, ...over }), { http: createHttpClient(), log });
const signal = () => new AbortController().signal;
const tool = (name: string, i = inst) => i.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}, i = inst) => tool(name, i).call(args, { signal: signal() });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;

beforeAll(async () => {
  lms = await startFakeLms();
  inst = setup();
});
afterAll(async () => {
  await inst?.close?.();
  await lms?.stop();
});
afterEach(() => expect(lms.unknown()).toEqual([]));

describe('lyrion (fake LMS)', () => {
  it('lms_players: name, id, power, mode, volume and what plays', async () => {
    const r = await call('lms_players');
    expect(text(r)).toBe(
      [
        '- Kitchen (aa:bb:cc:00:00:01, SqueezeLite): off',
        '- Living Room (aa:bb:cc:00:00:02, SqueezeLite): on, playing "Sinnerman - Nina Simone (Pastel Blues)", volume 40',
        '- Garage Radio (00:04:20:2a:e0:74, Squeezebox Radio): not connected',
      ].join('\n'),
    );
    expect((r.structuredContent as { players: unknown[] }).players[1]).toEqual({ name: 'Living Room', id: 'aa:bb:cc:00:00:02', model: 'SqueezeLite', connected: true, power: true, mode: 'play', volume: 40, muted: false, nowPlaying: 'Sinnerman - Nina Simone (Pastel Blues)' });
  });

  it('lms_control: the preview names the players and their state; all means every connected player', async () => {
    const c = tool('lms_control');
    expect(await c.preview!({ player: 'all', action: 'power_on' }, { signal: signal() })).toEqual({
      action: `Power on Kitchen (off), Living Room (on, playing "Sinnerman - Nina Simone (Pastel Blues)", volume 40) on Lyrion at ${lms.host}`,
      where: ['lyrion/Kitchen', 'lyrion/Living Room'],
    });
    const r = await call('lms_control', { player: 'all', action: 'power_on' });
    expect(text(r)).toBe('2 players: 2 ok\n- Kitchen: on, stopped, volume 25\n- Living Room: on, playing "Sinnerman - Nina Simone (Pastel Blues)", volume 40');
    expect(lms.player('Kitchen').power).toBe(1);
    expect(lms.player('Garage Radio').power).toBe(0);
    expect(await c.preview!({ player: ['kitchen', 'Living Room'], action: 'volume', value: 30 }, { signal: signal() })).toMatchObject({ action: `Set the volume of Kitchen (on, stopped, volume 25), Living Room (on, playing "Sinnerman - Nina Simone (Pastel Blues)", volume 40) to 30 on Lyrion at ${lms.host}` });
    expect(text(await call('lms_control', { player: ['kitchen', 'aa:bb:cc:00:00:02'], action: 'volume', value: 30 }))).toBe('2 players: 2 ok\n- Kitchen: on, stopped, volume 30\n- Living Room: on, playing "Sinnerman - Nina Simone (Pastel Blues)", volume 30');
    expect(text(await call('lms_control', { player: 'Kitchen', action: 'volume', value: '+5' }))).toBe('- Kitchen: on, stopped, volume 35');
    expect(text(await call('lms_control', { player: 'Living Room', action: 'pause' }))).toBe('- Living Room: on, paused on "Sinnerman - Nina Simone (Pastel Blues)", volume 30');
    expect(lms.requests().filter((q) => q.command[0] === 'mixer').map((q) => [q.player, ...q.command])).toEqual([
      ['aa:bb:cc:00:00:01', 'mixer', 'volume', '30'],
      ['aa:bb:cc:00:00:02', 'mixer', 'volume', '30'],
      ['aa:bb:cc:00:00:01', 'mixer', 'volume', '+5'],
    ]);
  });

  it('lms_control refuses: an unknown player (naming the known ones), a volume without value, a not-connected player', async () => {
    expect(text(await call('lms_control', { player: 'Bathroom', action: 'stop' }))).toBe('player: unknown player "Bathroom" (known players: Kitchen, Living Room, Garage Radio (not connected))');
    expect(text(await call('lms_control', { player: 'Kitchen', action: 'volume' }))).toBe('lms_control: argument "value": value is required with action "volume" (0 to 100, or "+10"/"-5") and only with it');
    expect(text(await call('lms_control', { player: 'Kitchen', action: 'volume', value: 130 }))).toMatch(/^lms_control: argument "value": /);
    const r = await call('lms_control', { player: 'Garage Radio', action: 'power_on' });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('- Garage Radio: failed: Garage Radio is not connected to Lyrion');
  });

  it('lms_play: a library search picks the exact name first; a URL plays as given', async () => {
    const p = tool('lms_play');
    expect(await p.preview!({ player: 'Kitchen', query: 'kind of blue' }, { signal: signal() })).toEqual({ action: `Play album "Kind of Blue" by Miles Davis on Kitchen on Lyrion at ${lms.host} (replacing what they play)`, where: ['lyrion/Kitchen'] });
    expect(text(await call('lms_play', { player: 'Kitchen', query: 'kind of blue' }))).toBe('play album "Kind of Blue" by Miles Davis:\n- Kitchen: on, playing "So What - Miles Davis (Kind of Blue)", volume 35');
    expect(text(await call('lms_play', { player: 'Kitchen', query: 'nina simone' }))).toMatch(/^play artist "Nina Simone":\n- Kitchen: on, playing "Sinnerman/);
    expect(text(await call('lms_play', { player: 'Kitchen', query: 'blue in' }))).toBe('play track "Blue in Green" by Miles Davis:\n- Kitchen: on, playing "Blue in Green - Miles Davis (Kind of Blue)", volume 35');
    expect(text(await call('lms_play', { player: 'Kitchen', query: 'polka' }))).toBe(`lms_play: nothing in the library of Lyrion at ${lms.host} matches "polka" (no artist, album or title)`);
    expect(text(await call('lms_play', { player: 'all', url: 'http://radio.example/stream.mp3' }))).toBe('play http://radio.example/stream.mp3:\n2 players: 2 ok\n- Kitchen: on, playing "stream.mp3", volume 35\n- Living Room: on, playing "stream.mp3", volume 30');
    expect(text(await call('lms_play', { player: 'Kitchen', url: 'http://radio.example/a.mp3', query: 'y' }))).toBe('lms_play: argument "query": give exactly one of query and url');
  });

  it('health, a password LMS refuses, and an unreachable LMS: said clearly, naming the key', async () => {
    expect(await inst.health!(signal())).toEqual({ ok: true, detail: 'LMS 9.0.2; 3 players (2 connected, 2 on, 2 playing)' });
    await using locked = await startFakeLms({ username: 'admin', password: 'right-password' });
    const wrong = lyrionIntegration.setup(LyrionConfigSchema.parse({ url: locked.url, username: 'admin', password: 'wrong-password' }), { http: createHttpClient(), log });
    const none = lyrionIntegration.setup(LyrionConfigSchema.parse({ url: locked.url }), { http: createHttpClient(), log });
    const right = lyrionIntegration.setup(LyrionConfigSchema.parse({ url: locked.url, username: 'admin', password: 'right-password' }), { http: createHttpClient(), log });
    const port = await freePort();
    const down = lyrionIntegration.setup(LyrionConfigSchema.parse({ url: `http://127.0.0.1:${port}` }), { http: createHttpClient(), log });
    try {
      expect(text(await call('lms_players', {}, wrong))).toBe(`Lyrion at ${locked.host} refused the username and password (integrations.lyrion.username and .password)`);
      expect(await wrong.health!(signal())).toEqual({ ok: false, detail: `Lyrion at ${locked.host} rejected the credential (integrations.lyrion.password)` });
      expect(text(await call('lms_players', {}, none))).toBe(`Lyrion at ${locked.host} refused the request: it has password protection on, set integrations.lyrion.username and .password`);
      expect((await call('lms_players', {}, right)).isError).toBeFalsy();
      expect(text(await call('lms_players', {}, down))).toBe(`Lyrion at 127.0.0.1:${port} is unreachable: connection refused`);
      expect(await down.health!(signal())).toEqual({ ok: false, detail: `Lyrion at 127.0.0.1:${port} is unreachable: connection refused` });
      expect(JSON.stringify(logs)).not.toContain('wrong-password');
      expect(locked.unknown()).toEqual([]);
    } finally {
      for (const i of [wrong, none, right, down]) await i.close?.();
    }
  });

  it('run_diagnostic: a service named lms (or at its address) gets the players; others nothing', async () => {
    expect(await inst.diagnose!({ name: 'lms', node: 'nas' }, signal())).toEqual([{ check: 'lyrion', status: 'ok', detail: 'Lyrion answers: 3 players, 2 connected' }]);
    expect(await inst.diagnose!({ name: 'music', node: 'nas', url: `${lms.url}/` }, signal())).toHaveLength(1);
    expect(await inst.diagnose!({ name: 'nginx', node: 'nas' }, signal())).toEqual([]);
  });

  it('config: username and password go together', () => {
    expect(LyrionConfigSchema.safeParse({ url: 'http://music.lan:9000', password: 'x' }).error?.issues[0]).toMatchObject({ path: ['username'], message: 'set username and password together (LMS password protection), or neither' });
  });
});
