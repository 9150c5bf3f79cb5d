/**
 * A fake Lyrion Music Server (LMS) for tests, since LMS cannot run here: a real HTTP server on
 * 127.0.0.1 answering the JSON-RPC API at `POST /jsonrpc.js` as the LMS CLI documentation
 * (lms-community.github.io, docs/reference/cli) and peer-servers.md §4.3 describe it:
 * `{"id":1,"method":"slim.request","params":["<playerid or \"\">",["<command>", ...]]}`, answered
 * with the request echoed and a `result` object.
 *
 * - Server queries (player `""`): `players <start> <n>` (count, players_loop with playerindex as a
 *   string, playerid, name, model, power, isplaying, connected, ...), `version ?` (`_version`),
 *   `artists|albums|titles <start> <n> search:<term> [tags:...]` (artists_loop, albums_loop,
 *   titles_loop).
 * - Player commands: `status - 1 tags:<letters>` (player_name, power, mode, `mixer volume`,
 *   remote, current_title, playlist_loop), `power 0|1`, `mixer volume <n|+n|-n>`, `play`,
 *   `pause 1`, `stop`, `playlist play <url>`, `playlistcontrol cmd:load artist_id:|album_id:|track_id:`;
 *   commands answer `{}` as LMS does. A command to a disconnected player is ignored, as LMS does.
 * - With `password`, HTTP Basic auth (LMS's "password protection"); anything else is 401.
 * - Anything else (an unknown command, a wrong player id, another path or method) is recorded in
 *   `unknown()` and answered as LMS answers what it does not know (an empty result): a test
 *   asserts the list stays empty.
 *
 * @example
 * await using lms = await startFakeLms();
 * lms.player('Kitchen').power // 0
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { serveLoopback } from './serve.ts';

export interface FakeLmsPlayer {
  id: string;
  name: string;
  model: string;
  connected: boolean;
  power: 0 | 1;
  mode: 'play' | 'pause' | 'stop';
  volume: number;
  /** What is loaded: a track of the library or a URL (a radio stream). */
  playlist: Array<{ id?: number; title: string; artist?: string; album?: string; url?: string }>;
}

export interface FakeLmsRequest {
  player: string;
  command: unknown[];
  unknown?: boolean;
}

export interface FakeLmsOptions {
  /** Basic auth, as LMS's password protection; off by default. */
  username?: string;
  password?: string;
  port?: number;
}

export interface FakeLms extends AsyncDisposable {
  url: string;
  host: string;
  players: FakeLmsPlayer[];
  player(name: string): FakeLmsPlayer;
  requests(): FakeLmsRequest[];
  unknown(): FakeLmsRequest[];
  stop(): Promise<void>;
}

const ARTISTS = [
  { id: 11, artist: 'Miles Davis' },
  { id: 12, artist: 'Nina Simone' },
];
const ALBUMS = [
  { id: 21, album: 'Kind of Blue', artist: 'Miles Davis', artist_id: 11 },
  { id: 22, album: 'Pastel Blues', artist: 'Nina Simone', artist_id: 12 },
];
const TRACKS = [
  { id: 31, title: 'So What', artist: 'Miles Davis', album: 'Kind of Blue', album_id: 21, artist_id: 11 },
  { id: 32, title: 'Blue in Green', artist: 'Miles Davis', album: 'Kind of Blue', album_id: 21, artist_id: 11 },
  { id: 33, title: 'Sinnerman', artist: 'Nina Simone', album: 'Pastel Blues', album_id: 22, artist_id: 12 },
];

/** Three players: two squeezelite speakers (off) and a radio that is not connected. */
function defaultPlayers(): FakeLmsPlayer[] {
  return [
    { id: 'aa:bb:cc:00:00:01', name: 'Kitchen', model: 'squeezelite', connected: true, power: 0, mode: 'stop', volume: 25, playlist: [] },
    { id: 'aa:bb:cc:00:00:02', name: 'Living Room', model: 'squeezelite', connected: true, power: 1, mode: 'play', volume: 40, playlist: [{ id: 33, title: 'Sinnerman', artist: 'Nina Simone', album: 'Pastel Blues' }] },
    { id: '00:04:20:2a:e0:74', name: 'Garage Radio', model: 'baby', connected: false, power: 0, mode: 'stop', volume: 50, playlist: [] },
  ];
}

const tagged = (command: unknown[], key: string): string | undefined => {
  for (const c of command) if (typeof c === 'string' && c.startsWith(`${key}:`)) return c.slice(key.length + 1);
  return undefined;
};

/** Starts the fake LMS on a free 127.0.0.1 port with three players (two connected) and a small library. */
export async function startFakeLms(opts: FakeLmsOptions = {}): Promise<FakeLms> {
  const log: FakeLmsRequest[] = [];
  const players = defaultPlayers();
  const auth = opts.password !== undefined ? `Basic ${Buffer.from(`${opts.username ?? 'admin'}:${opts.password}`).toString('base64')}` : undefined;

  /** The result of one request, or undefined when LMS would not know it. */
  function answer(playerId: string, command: unknown[]): Record<string, unknown> | undefined {
    const [cmd, a1, a2] = command;
    if (playerId === '' || playerId === '-') {
      if (cmd === 'version' && a1 === '?') return { _version: '9.0.2' };
      if (cmd === 'players') {
        const start = Number(a1 ?? 0);
        const n = Number(a2 ?? players.length);
        return {
          count: players.length,
          players_loop: players.slice(start, start + n).map((p, i) => ({ playerindex: String(start + i), playerid: p.id, uuid: null, ip: `192.168.1.${50 + i}:3483`, name: p.name, seq_no: 0, model: p.model, modelname: p.model === 'baby' ? 'Squeezebox Radio' : 'SqueezeLite', power: p.power, isplaying: p.mode === 'play' ? 1 : 0, displaytype: 'none', isplayer: 1, canpoweroff: 1, connected: p.connected ? 1 : 0, firmware: 'v1.9.9-1449' })),
        };
      }
      const term = (tagged(command, 'search') ?? '').toLowerCase();
      if (cmd === 'artists' && term) {
        const hits = ARTISTS.filter((x) => x.artist.toLowerCase().includes(term));
        return { count: hits.length, artists_loop: hits.map((x) => ({ id: x.id, artist: x.artist })) };
      }
      if (cmd === 'albums' && term) {
        const hits = ALBUMS.filter((x) => x.album.toLowerCase().includes(term));
        return { count: hits.length, albums_loop: hits.map((x) => ({ id: x.id, album: x.album, artist: x.artist })) };
      }
      if ((cmd === 'titles' || cmd === 'tracks' || cmd === 'songs') && term) {
        const hits = TRACKS.filter((x) => x.title.toLowerCase().includes(term));
        return { count: hits.length, titles_loop: hits.map((x) => ({ id: x.id, title: x.title, artist: x.artist, album: x.album })) };
      }
      return undefined;
    }
    const p = players.find((x) => x.id === playerId);
    if (!p) return undefined;
    if (cmd === 'status') {
      const current = p.playlist[0];
      return {
        player_name: p.name,
        player_connected: p.connected ? 1 : 0,
        ...(p.connected ? { player_ip: '192.168.1.50:3483' } : {}),
        power: p.power,
        ...(p.power ? { mode: p.mode } : {}),
        'mixer volume': p.volume,
        'playlist repeat': 0,
        'playlist shuffle': 0,
        'playlist mode': 'off',
        seq_no: 0,
        playlist_tracks: p.playlist.length,
        ...(current?.url ? { remote: 1, current_title: current.title } : {}),
        ...(current ? { playlist_cur_index: '0', playlist_loop: [{ 'playlist index': 0, id: current.id ?? -1, title: current.title, ...(current.artist ? { artist: current.artist } : {}), ...(current.album ? { album: current.album } : {}) }] } : {}),
      };
    }
    // Commands change nothing on a player that is not connected (LMS ignores them).
    const act = (f: () => void) => {
      if (p.connected) f();
      return {};
    };
    if (cmd === 'power' && (a1 === '0' || a1 === '1')) return act(() => ((p.power = a1 === '1' ? 1 : 0), a1 === '0' && p.mode === 'play' && (p.mode = 'pause')));
    if (cmd === 'mixer' && a1 === 'volume' && typeof a2 === 'string' && /^[+-]?\d+(\.\d+)?$/.test(a2)) {
      return act(() => (p.volume = Math.max(0, Math.min(100, /^[+-]/.test(a2) ? p.volume + Number(a2) : Number(a2)))));
    }
    if (cmd === 'play' && command.length === 1) return act(() => ((p.power = 1), p.playlist.length && (p.mode = 'play')));
    if (cmd === 'pause' && a1 === '1' && command.length === 2) return act(() => p.mode === 'play' && (p.mode = 'pause'));
    if (cmd === 'stop' && command.length === 1) return act(() => (p.mode = 'stop'));
    if (cmd === 'playlist' && a1 === 'play' && typeof a2 === 'string' && a2) {
      return act(() => ((p.playlist = [{ title: a2.replace(/^.*\//, '') || a2, url: a2 }]), (p.power = 1), (p.mode = 'play')));
    }
    if (cmd === 'playlistcontrol' && a1 === 'cmd:load') {
      const artist = tagged(command, 'artist_id');
      const album = tagged(command, 'album_id');
      const track = tagged(command, 'track_id');
      const list = artist ? TRACKS.filter((t) => String(t.artist_id) === artist) : album ? TRACKS.filter((t) => String(t.album_id) === album) : track ? track.split(',').map((id) => TRACKS.find((t) => String(t.id) === id)).filter((t) => !!t) : [];
      if (!list.length) return undefined;
      act(() => ((p.playlist = list.map((t) => ({ id: t.id, title: t.title, artist: t.artist, album: t.album }))), (p.power = 1), (p.mode = 'play')));
      return { count: list.length };
    }
    return undefined;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (auth && req.headers.authorization !== auth) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="Lyrion Music Server"', 'content-type': 'text/html' }).end('<html><body>401 Authorization Required</body></html>');
        return;
      }
      if (req.method !== 'POST' || req.url !== '/jsonrpc.js') {
        log.push({ player: '', command: [`${req.method} ${req.url}`], unknown: true });
        res.writeHead(404).end();
        return;
      }
      let body: { id?: unknown; method?: unknown; params?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        log.push({ player: '', command: ['(not JSON)'], unknown: true });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const params = Array.isArray(body.params) ? body.params : [];
      const player = typeof params[0] === 'string' ? params[0] : String(params[0] ?? '');
      const command = Array.isArray(params[1]) ? (params[1] as unknown[]) : [];
      const result = body.method === 'slim.request' ? answer(player, command) : undefined;
      log.push({ player, command, ...(result === undefined ? { unknown: true } : {}) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: body.id, method: body.method, params, result: result ?? {} }));
    });
  });
  const { port, stop } = await serveLoopback(server, opts.port);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    players,
    player: (name) => players.find((p) => p.name === name)!,
    requests: () => [...log],
    unknown: () => log.filter((r) => r.unknown),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
