/**
 * A small client for Lyrion Music Server's JSON-RPC API (`POST /jsonrpc.js`, method
 * `slim.request`, shared/reference/peer-servers.md §4.3 and the LMS CLI reference): the
 * players, one player's status, and commands. LMS has no error channel (an unknown or malformed
 * request gets an empty result), so the client checks what it reads and never trusts a shape:
 * numbers may come as strings, lists are capped.
 *
 * @example
 * const lms = createLmsClient({ url: 'http://music.lan:9000', http, timeoutMs: 10_000 });
 * const players = await lms.players(signal);
 * await lms.command(players[0].id, ['power', '1'], signal);
 */
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpClient, type HttpResponse } from '@homelab-mcp/core/http';

/** Largest answer read. */
export const MAX_LMS_BYTES = 2 * 1024 * 1024;
/** Players read at most. */
export const MAX_PLAYERS = 100;

export interface LmsPlayer {
  /** The player id LMS addresses it by (its MAC address, usually). */
  id: string;
  name: string;
  model: string;
  connected: boolean;
  power: boolean;
  isPlaying: boolean;
}

export interface LmsStatus {
  power: boolean;
  /** play, pause or stop; `off` when the player is off (LMS then leaves mode undefined). */
  mode: 'play' | 'pause' | 'stop' | 'off';
  /** 0-100; null when the player has no volume control. */
  volume: number | null;
  muted: boolean;
  /** `Sinnerman - Nina Simone (Pastel Blues)`, a stream's title, or null when nothing is loaded. */
  nowPlaying: string | null;
}

/** An LMS error: `status` 401 when the password is refused. */
export class LmsError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string, opts?: { cause?: unknown }) {
    super(status === 401 ? 'AUTH_REJECTED' : status === 503 ? 'UPSTREAM_UNAVAILABLE' : 'UPSTREAM_ERROR', message, opts);
    this.name = 'LmsError';
    this.status = status;
  }
}

export interface LmsClient {
  host: string;
  /** A raw request: the `result` object (empty when LMS had nothing to say). */
  request(player: string, command: Array<string | number>, signal?: AbortSignal): Promise<Record<string, unknown>>;
  version(signal?: AbortSignal): Promise<string>;
  players(signal?: AbortSignal): Promise<LmsPlayer[]>;
  status(player: string, signal?: AbortSignal): Promise<LmsStatus>;
}

export interface LmsClientOptions {
  url: string;
  /** LMS's password protection (Settings > Advanced > Security): Basic auth. */
  username?: string | undefined;
  password?: string | undefined;
  http: HttpClient;
  timeoutMs: number;
  /** Told when LMS refuses the password (the service link's `failed`). */
  onAuthRejected?: () => void;
}

const str = (v: unknown, max = 200): string => (typeof v === 'string' ? v.slice(0, max) : typeof v === 'number' ? String(v) : '');
const num = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};
const flag = (v: unknown): boolean => num(v) === 1 || v === true;

/** A client for one LMS; it keeps no state but the request id. */
export function createLmsClient(opts: LmsClientOptions): LmsClient {
  const base = new URL(opts.url);
  const host = base.host;
  const endpoint = new URL('/jsonrpc.js', base.origin);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (opts.password !== undefined) headers.authorization = `Basic ${Buffer.from(`${opts.username ?? ''}:${opts.password}`).toString('base64')}`;
  let id = 0;

  async function request(player: string, command: Array<string | number>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    let res: HttpResponse;
    try {
      res = await opts.http.request({ method: 'POST', url: endpoint, headers, body: JSON.stringify({ id: ++id, method: 'slim.request', params: [player, command] }), timeoutMs: opts.timeoutMs, maxBytes: MAX_LMS_BYTES, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (isHttpError(err, 'unreachable') || isHttpError(err, 'timeout')) throw new LmsError(503, `Lyrion at ${host} is unreachable: ${err.detail}`, { cause: err });
      throw err;
    }
    if (res.status === 401 || res.status === 403) {
      opts.onAuthRejected?.();
      throw new LmsError(401, `Lyrion at ${host} refused the ${opts.password !== undefined ? 'username and password (integrations.lyrion.username and .password)' : 'request: it has password protection on, set integrations.lyrion.username and .password'}`);
    }
    if (res.status !== 200) throw new LmsError(res.status, `Lyrion at ${host}: HTTP ${res.status} from /jsonrpc.js (is this a Lyrion Music Server, on its web port, usually 9000?)`);
    let body: unknown;
    try {
      body = res.json();
    } catch {
      throw new LmsError(502, `Lyrion at ${host} answered /jsonrpc.js with something that is not JSON (is this a Lyrion Music Server?)`);
    }
    const result = (body as { result?: unknown } | null)?.result;
    return result && typeof result === 'object' && !Array.isArray(result) ? (result as Record<string, unknown>) : {};
  }

  return {
    host,
    request,
    async version(signal) {
      const v = str((await request('', ['version', '?'], signal))._version);
      if (!v) throw new LmsError(502, `Lyrion at ${host} did not say its version (is this a Lyrion Music Server?)`);
      return v;
    },
    async players(signal) {
      const r = await request('', ['players', 0, MAX_PLAYERS], signal);
      const loop = Array.isArray(r.players_loop) ? (r.players_loop as unknown[]).slice(0, MAX_PLAYERS) : [];
      return loop
        .filter((p): p is Record<string, unknown> => !!p && typeof p === 'object' && typeof (p as { playerid?: unknown }).playerid === 'string')
        .map((p) => ({ id: str(p.playerid, 64), name: str(p.name) || str(p.playerid, 64), model: str(p.modelname) || str(p.model), connected: flag(p.connected), power: flag(p.power), isPlaying: flag(p.isplaying) }));
    },
    async status(player, signal) {
      const r = await request(player, ['status', '-', 1, 'tags:al'], signal);
      const power = flag(r.power);
      const mode = str(r.mode);
      const volume = num(r['mixer volume']);
      const loop = Array.isArray(r.playlist_loop) ? (r.playlist_loop[0] as Record<string, unknown> | undefined) : undefined;
      let nowPlaying: string | null = null;
      if (flag(r.remote) && str(r.current_title)) nowPlaying = str(r.current_title);
      else if (loop && typeof loop === 'object' && str(loop.title)) nowPlaying = `${str(loop.title)}${str(loop.artist) ? ` - ${str(loop.artist)}` : ''}${str(loop.album) ? ` (${str(loop.album)})` : ''}`;
      return {
        power,
        mode: !power ? 'off' : mode === 'play' || mode === 'pause' || mode === 'stop' ? mode : 'stop',
        // A muted player reports its volume negated.
        volume: volume === null ? null : Math.abs(volume),
        muted: volume !== null && volume < 0,
        nowPlaying,
      };
    },
  };
}
