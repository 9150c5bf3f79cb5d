/**
 * The Lyrion tools: the players with what they play (a read), and two writes previewed with the
 * players they act on: lms_control (play, pause, stop, power, volume) and lms_play (a search of
 * the library, or a URL). `player` resolves like the fleet tools' `node`: a name (or player id),
 * a list, or `all` (every connected player); several players act in parallel and the answer has
 * one line per player.
 */
import * as z from 'zod';
import { HomelabError } from '@homelab-mcp/core';
import { defineTool, errorResult, textResult, type IntegrationTool, type ToolResult } from '../integration.ts';
import type { LmsClient, LmsPlayer, LmsStatus } from './client.ts';

export const PLAYER_ARG = z
  .union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).min(1).max(100)])
  .describe('A player name (or its id), a list of them, or "all" for every connected player; lms_players lists them');

/** A name as the caller wrote it, quoted and cut for a message. */
const quoted = (s: string) => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);

/**
 * The players `selector` names: `all` (every connected player), names (case-insensitive) or
 * ids. Throws naming the known players when one is unknown.
 */
export function selectPlayers(selector: string | string[], players: LmsPlayer[]): LmsPlayer[] {
  const known = () => `known players: ${players.map((p) => `${p.name}${p.connected ? '' : ' (not connected)'}`).join(', ') || '(none)'}`;
  const picked = new Map<string, LmsPlayer>();
  for (const item of typeof selector === 'string' ? [selector] : selector) {
    if (item === 'all') {
      for (const p of players) if (p.connected) picked.set(p.id, p);
      continue;
    }
    const p = players.find((x) => x.id.toLowerCase() === item.toLowerCase()) ?? players.find((x) => x.name.toLowerCase() === item.toLowerCase());
    if (!p) throw new HomelabError('INVALID_ARGUMENTS', `player: unknown player ${quoted(item)} (${known()})`);
    picked.set(p.id, p);
  }
  if (!picked.size) throw new HomelabError('INVALID_ARGUMENTS', `player: no player is connected (${known()})`);
  return [...picked.values()];
}

/** `on, playing "So What - Miles Davis (Kind of Blue)", volume 40` or `off`. */
export function statusLine(s: LmsStatus): string {
  if (!s.power) return 'off';
  const what = s.mode === 'play' ? `playing ${s.nowPlaying ? `"${s.nowPlaying}"` : ''}`.trim() : s.mode === 'pause' ? `paused${s.nowPlaying ? ` on "${s.nowPlaying}"` : ''}` : 'stopped';
  return `on, ${what}${s.volume === null ? '' : `, volume ${s.volume}${s.muted ? ' (muted)' : ''}`}`;
}

const ACTIONS = ['play', 'pause', 'stop', 'power_on', 'power_off', 'volume'] as const;
type Action = (typeof ACTIONS)[number];
const VERB: Record<Action, string> = { play: 'Play on', pause: 'Pause', stop: 'Stop', power_on: 'Power on', power_off: 'Power off', volume: 'Set the volume of' };

/** The LMS command of an action (LMS CLI: play, pause 1, stop, power 0|1, mixer volume). */
function commandOf(action: Action, value: string | undefined): Array<string | number> {
  switch (action) {
    case 'play':
      return ['play'];
    case 'pause':
      return ['pause', '1'];
    case 'stop':
      return ['stop'];
    case 'power_on':
      return ['power', '1'];
    case 'power_off':
      return ['power', '0'];
    case 'volume':
      return ['mixer', 'volume', value!];
  }
}

const names = (ps: LmsPlayer[]) => ps.map((p) => p.name).join(', ');

/** What to play for a library search, chosen as a person would: an exact artist, album or title first. */
interface Pick {
  kind: 'artist' | 'album' | 'tracks';
  /** `artist "Miles Davis"`, `album "Kind of Blue" by Miles Davis`, `3 tracks ("So What" by Miles Davis, ...)`. */
  what: string;
  command: Array<string | number>;
}

const rows = (r: Record<string, unknown>, loop: string) => (Array.isArray(r[loop]) ? (r[loop] as unknown[]).slice(0, 50).filter((x): x is Record<string, unknown> => !!x && typeof x === 'object') : []);
const s = (v: unknown) => (typeof v === 'string' ? v.slice(0, 200) : typeof v === 'number' ? String(v) : '');

async function pickFromLibrary(lms: LmsClient, query: string, signal: AbortSignal): Promise<Pick> {
  const [artists, albums, titles] = await Promise.all([
    lms.request('', ['artists', 0, 20, `search:${query}`], signal).then((r) => rows(r, 'artists_loop')),
    lms.request('', ['albums', 0, 20, `search:${query}`, 'tags:la'], signal).then((r) => rows(r, 'albums_loop')),
    lms.request('', ['titles', 0, 50, `search:${query}`, 'tags:al'], signal).then((r) => rows(r, 'titles_loop')),
  ]);
  const q = query.trim().toLowerCase();
  const artist = (a: Record<string, unknown>): Pick => ({ kind: 'artist', what: `artist "${s(a.artist)}"`, command: ['playlistcontrol', 'cmd:load', `artist_id:${s(a.id)}`] });
  const album = (a: Record<string, unknown>): Pick => ({ kind: 'album', what: `album "${s(a.album)}"${s(a.artist) ? ` by ${s(a.artist)}` : ''}`, command: ['playlistcontrol', 'cmd:load', `album_id:${s(a.id)}`] });
  const tracks = (ts: Array<Record<string, unknown>>): Pick => ({
    kind: 'tracks',
    what: `${ts.length === 1 ? 'track' : `${ts.length} tracks`} ${ts
      .slice(0, 3)
      .map((t) => `"${s(t.title)}"${s(t.artist) ? ` by ${s(t.artist)}` : ''}`)
      .join(', ')}${ts.length > 3 ? ', ...' : ''}`,
    command: ['playlistcontrol', 'cmd:load', `track_id:${ts.map((t) => s(t.id)).join(',')}`],
  });
  const exactArtist = artists.find((a) => s(a.artist).toLowerCase() === q);
  if (exactArtist) return artist(exactArtist);
  const exactAlbum = albums.find((a) => s(a.album).toLowerCase() === q);
  if (exactAlbum) return album(exactAlbum);
  const exactTitle = titles.find((t) => s(t.title).toLowerCase() === q);
  if (exactTitle) return tracks([exactTitle]);
  if (albums[0]) return album(albums[0]);
  if (artists[0]) return artist(artists[0]);
  if (titles.length) return tracks(titles);
  throw new HomelabError('INVALID_ARGUMENTS', `lms_play: nothing in the library of Lyrion at ${lms.host} matches ${quoted(query)} (no artist, album or title)`);
}

/** Runs `fn` on each player in parallel: one line each; an error result only when every player failed. */
async function eachPlayer(ps: LmsPlayer[], fn: (p: LmsPlayer) => Promise<string>): Promise<ToolResult> {
  const results = await Promise.all(
    ps.map(async (p) => {
      if (!p.connected) return { player: p.name, id: p.id, ok: false, text: `${p.name} is not connected to Lyrion` };
      try {
        return { player: p.name, id: p.id, ok: true, text: await fn(p) };
      } catch (err) {
        return { player: p.name, id: p.id, ok: false, text: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  const failed = results.filter((r) => !r.ok).length;
  const text = results.map((r) => `- ${r.player}: ${r.ok ? r.text : `failed: ${r.text}`}`).join('\n');
  const head = ps.length === 1 ? '' : `${ps.length} players: ${ps.length - failed} ok${failed ? `, ${failed} failed` : ''}\n`;
  const body = { results: results.map((r) => ({ player: r.player, id: r.id, ok: r.ok, ...(r.ok ? { state: r.text } : { error: r.text }) })) };
  return failed === results.length ? errorResult(`${head}${text}`, body) : textResult(`${head}${text}`, body);
}

/** The three Lyrion tools for one server. */
export function lyrionTools(lms: LmsClient): IntegrationTool[] {
  const players = defineTool({
    name: 'lms_players',
    title: 'Lyrion players',
    description: 'Lists the Lyrion Music Server players: name, id, model, whether connected and on, what each plays and its volume.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_a, { signal }) {
      const ps = await lms.players(signal);
      const statuses = await Promise.all(ps.map((p) => (p.connected ? lms.status(p.id, signal).catch(() => undefined) : Promise.resolve(undefined))));
      const lines = ps.map((p, i) => `- ${p.name} (${p.id}${p.model ? `, ${p.model}` : ''}): ${!p.connected ? 'not connected' : statuses[i] ? statusLine(statuses[i]!) : p.power ? 'on' : 'off'}`);
      return textResult(ps.length ? lines.join('\n') : `Lyrion at ${lms.host} knows no player`, {
        players: ps.map((p, i) => {
          const st = statuses[i];
          return { name: p.name, id: p.id, model: p.model, connected: p.connected, power: st ? st.power : p.power, mode: st ? st.mode : p.isPlaying ? 'play' : null, volume: st?.volume ?? null, muted: st?.muted ?? false, nowPlaying: st?.nowPlaying ?? null };
        }),
      });
    },
  });

  const controlArgs = z
    .strictObject({
      player: PLAYER_ARG,
      action: z.enum(ACTIONS).describe('play, pause, stop, power_on, power_off or volume'),
      value: z
        .union([z.number().min(0).max(100), z.string().regex(/^[+-]\d{1,3}$/, 'a change such as "+10" or "-5"')])
        .describe('For volume: 0 to 100, or a change such as "+10" or "-5"')
        .optional(),
    })
    .refine((a) => (a.action === 'volume') === (a.value !== undefined), { message: 'value is required with action "volume" (0 to 100, or "+10"/"-5") and only with it', path: ['value'] });

  const control = defineTool({
    name: 'lms_control',
    title: 'Control Lyrion players',
    description: 'Play, pause, stop, power on or off, or set the volume of one player, several, or all connected players (in parallel).',
    args: controlArgs,
    toolClass: 'write',
    annotations: { idempotentHint: true, destructiveHint: false },
    async preview(a, { signal }) {
      const value = a.value === undefined ? undefined : String(a.value);
      try {
        const ps = selectPlayers(a.player, await lms.players(signal));
        const now = await Promise.all(ps.map(async (p) => (p.connected ? statusLine(await lms.status(p.id, signal)) : 'not connected: skipped')));
        const list = ps.map((p, i) => `${p.name} (${now[i]})`).join(', ');
        return { action: `${VERB[a.action]} ${a.action === 'volume' ? `${list} to ${/^[+-]/.test(value!) ? `${value} (a change)` : value}` : list} on Lyrion at ${lms.host}`, where: ps.map((p) => `lyrion/${p.name}`) };
      } catch (err) {
        return { action: `${VERB[a.action]} ${JSON.stringify(a.player)}${value !== undefined ? ` to ${value}` : ''} on Lyrion at ${lms.host} (it could not be looked up: ${err instanceof Error ? err.message : String(err)})` };
      }
    },
    async run(a, { signal }) {
      const ps = selectPlayers(a.player, await lms.players(signal));
      const command = commandOf(a.action, a.value === undefined ? undefined : String(a.value));
      return eachPlayer(ps, async (p) => {
        await lms.request(p.id, command, signal);
        return statusLine(await lms.status(p.id, signal));
      });
    },
  });

  const playArgs = z
    .strictObject({
      player: PLAYER_ARG,
      query: z.string().min(1).max(200).describe('What to play from the library: an artist, an album or a title (an exact name wins)').optional(),
      url: z
        .string()
        .min(1)
        .max(2048)
        .regex(/^(https?|file|[a-z][a-z0-9+.-]{1,20}):\S+$/i, 'a URL LMS can play: a stream (http://...), a file:// path on the LMS machine, or a service URL (spotify:...)')
        .describe('A stream or file URL for LMS to play')
        .optional(),
    })
    .refine((a) => (a.query === undefined) !== (a.url === undefined), { message: 'give exactly one of query and url', path: ['query'] });

  const play = defineTool({
    name: 'lms_play',
    title: 'Play on Lyrion players',
    description: 'Replaces the playlist of one player, several or all with a search of the library (an artist, album or title) or a URL, and plays it.',
    args: playArgs,
    toolClass: 'write',
    annotations: { idempotentHint: false, destructiveHint: false },
    async preview(a, { signal }) {
      try {
        const ps = selectPlayers(a.player, await lms.players(signal));
        const what = a.url !== undefined ? a.url : (await pickFromLibrary(lms, a.query!, signal)).what;
        return { action: `Play ${what} on ${names(ps)} on Lyrion at ${lms.host} (replacing what they play)`, where: ps.map((p) => `lyrion/${p.name}`) };
      } catch (err) {
        return { action: `Play ${a.url ?? JSON.stringify(a.query)} on ${JSON.stringify(a.player)} on Lyrion at ${lms.host} (it could not be looked up: ${err instanceof Error ? err.message : String(err)})` };
      }
    },
    async run(a, { signal }) {
      const ps = selectPlayers(a.player, await lms.players(signal));
      const pick = a.url !== undefined ? { what: a.url, command: ['playlist', 'play', a.url] } : await pickFromLibrary(lms, a.query!, signal);
      const r = await eachPlayer(ps, async (p) => {
        await lms.request(p.id, pick.command, signal);
        return statusLine(await lms.status(p.id, signal));
      });
      r.content[0]!.text = `play ${pick.what}:\n${r.content[0]!.text}`;
      return r;
    },
  });

  return [players, control, play];
}
