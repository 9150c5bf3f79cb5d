/**
 * A client for one Synology DSM's Web API (shared/reference/peer-servers.md §4.1; Synology's
 * "DSM Login Web API Guide"). It asks `SYNO.API.Info` once which path and versions each API has
 * (as DSM clients do), logs in once (`SYNO.API.Auth` `login`, `format=sid`) and reuses the
 * session for every request; calls that land while a login is in flight share it. When DSM ends
 * the session (error 106 timeout, 107 interrupted, 119 unknown sid: idle timeout, a restart, a
 * second login elsewhere), the client logs in again once and retries the call once. It logs out
 * when closed (shutdown, reload), as the Pi-hole lesson says (§3.1): sessions are not free.
 *
 * Secrets never travel in a URL (URLs reach logs and proxies): every request but the API
 * discovery is a POST whose form body carries the parameters, the password only in the login's,
 * the sid as `_sid`.
 *
 * A refused login (wrong password, disabled account, 2-step verification) is not retried for a
 * while: DSM blocks an address after a few failed logins (Control Panel > Security >
 * Protection), which would lock the hub out, and often the person too. Until the hold ends,
 * every call answers the same error without asking DSM.
 *
 * @example
 * const nas = createDsmClient({ url: 'https://nas.lan:5001', username: 'hub', password, http, timeoutMs: 10_000 });
 * const shares = await nas.shares(signal);
 * await nas.close();
 */
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpClient, type HttpResponse } from '@homelab-mcp/core/http';

/** A device token (`did`) as DSM issues them: printable ASCII, no spaces. */
const DEVICE_TOKEN = /^[\x21-\x7e]{8,512}$/;
/** Largest answer read from DSM. */
export const MAX_DSM_BYTES = 4 * 1024 * 1024;
/** Items read at most from one list: volumes, pools, disks. */
export const MAX_STORAGE_ITEMS = 128;
/** Shares read at most. */
export const MAX_SHARES = 500;
/** Snapshots read at most per page (two pages at most: the first and the last). */
export const SNAPSHOT_PAGE = 500;
/** The first hold after a refused login; it doubles with each refusal, up to an hour. */
export const LOGIN_HOLD_MS = 5 * 60_000;

/** DSM's own error codes (Login Web API Guide, common and SYNO.API.Auth). */
const COMMON_ERRORS: Record<number, string> = {
  100: 'unknown error',
  101: 'no parameter of API, method or version',
  102: 'the requested API does not exist',
  103: 'the requested method does not exist',
  104: 'the requested version does not support the functionality',
  105: 'the logged in session does not have permission',
  106: 'session timeout',
  107: 'session interrupted by duplicated login',
  108: 'failed to upload the file',
  109: 'the network connection is unstable or the system is busy',
  110: 'the network connection is unstable or the system is busy',
  111: 'the network connection is unstable or the system is busy',
  114: 'lost parameters for this API',
  115: 'not allowed to upload a file',
  116: 'not allowed to perform for a demo site',
  117: 'the network connection is unstable or the system is busy',
  118: 'the network connection is unstable or the system is busy',
  119: 'invalid session',
  150: 'request source IP does not match the login IP',
};
/** The errors that mean "this session is gone": log in again, once. */
const SESSION_ERRORS = new Set([106, 107, 119]);

export interface DsmVolume {
  id: string;
  path: string;
  status: string;
  fsType: string;
  totalBytes: number | null;
  usedBytes: number | null;
  usedPercent: number | null;
}
export interface DsmPool {
  id: string;
  name: string;
  status: string;
  raid: string;
  disks: number;
}
export interface DsmDisk {
  id: string;
  name: string;
  model: string;
  status: string;
  smart: string;
  temperatureC: number | null;
  sizeBytes: number | null;
}
export interface DsmStorage {
  volumes: DsmVolume[];
  pools: DsmPool[];
  disks: DsmDisk[];
  /** Items DSM listed beyond what is read. */
  cut: boolean;
}
export interface DsmSystem {
  model: string;
  version: string;
  uptime: string;
  temperatureC: number | null;
}
export interface DsmUtilization {
  cpuPercent: number | null;
  memoryPercent: number | null;
}
export interface DsmShare {
  name: string;
  volume: string;
  description: string;
  /** DSM's `encryption`: 0 none; otherwise encrypted (1 locked, 2 unlocked, as DSM reports it). */
  encryption: number;
  hidden: boolean;
  supportsSnapshots: boolean;
  /** MB, as DSM reports them; 0 quota is none. */
  quotaMb: number | null;
  usedMb: number | null;
}
export interface DsmSnapshot {
  /** Its name, as DSM names it: `GMT+01-2026.12.07-23.10.05`. */
  name: string;
  /** The name as a time (ISO 8601), or null when it is not in DSM's form. */
  time: string | null;
  description: string;
  locked: boolean;
  scheduled: boolean;
}

/**
 * A DSM error. `status` places it for the service link: 401 the credential or session was
 * refused, 503 unreachable, 502 a strange answer, 400 the request was refused; `code` is DSM's.
 */
export class DsmError extends HomelabError {
  readonly status: number;
  readonly dsmCode?: number;
  constructor(status: number, message: string, opts: { code?: number; cause?: unknown } = {}) {
    super(status === 401 ? 'AUTH_REJECTED' : status === 503 ? 'UPSTREAM_UNAVAILABLE' : 'UPSTREAM_ERROR', message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DsmError';
    this.status = status;
    if (opts.code !== undefined) this.dsmCode = opts.code;
  }
}

export interface DsmClientOptions {
  url: string;
  username: string;
  password: string;
  /** The `did` of an earlier login with a 2-step verification code (homelab-hub synology-device-token). */
  deviceToken?: string | undefined;
  /** The device name the token was issued for. */
  deviceName: string;
  http: HttpClient;
  timeoutMs: number;
  /** The config key prefix for messages: `integrations.synology`. */
  key?: string;
  /** Told when DSM refuses the credential (the service link's `failed`). */
  onAuthRejected?: () => void;
  /** For tests: the clock of the login hold. */
  now?: () => number;
}

export interface DsmClient {
  host: string;
  /** `DSM at nas.lan:5001`. */
  label: string;
  /** One API call with the session: DSM's `data`. Parameters are sent JSON-encoded (DSM's `requestFormat: JSON`). */
  call(api: string, method: string, wanted: number, params: Record<string, unknown>, signal?: AbortSignal): Promise<unknown>;
  system(signal?: AbortSignal): Promise<DsmSystem>;
  utilization(signal?: AbortSignal): Promise<DsmUtilization>;
  storage(signal?: AbortSignal): Promise<DsmStorage>;
  shares(signal?: AbortSignal): Promise<{ shares: DsmShare[]; total: number }>;
  /** A share's snapshots, newest first, at most `limit`; `total` as DSM counts them. */
  snapshots(share: string, limit: number, signal?: AbortSignal): Promise<{ snapshots: DsmSnapshot[]; total: number }>;
  /** Takes a snapshot of a share: its name as DSM answers it. */
  createSnapshot(share: string, description: string, signal?: AbortSignal): Promise<string>;
  /** Logins so far (tests, and the health line). */
  logins(): number;
  /** Logs out, if logged in. */
  close(): Promise<void>;
}

const str = (v: unknown, max = 200): string => (typeof v === 'string' ? v.trim().slice(0, max) : typeof v === 'number' && Number.isFinite(v) ? String(v) : '');
const num = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown, max: number): { items: Array<Record<string, unknown>>; cut: boolean } => {
  const all = Array.isArray(v) ? v : [];
  return { items: all.slice(0, max).filter((x): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x)), cut: all.length > max };
};
const pct = (used: number | null, total: number | null): number | null => (used !== null && total !== null && total > 0 ? Math.round((used / total) * 1000) / 10 : null);
const clampPct = (v: number | null): number | null => (v === null ? null : Math.max(0, Math.min(100, Math.round(v))));

/** `GMT+09-2023.09.11-23.23.40` (DSM's snapshot names) as ISO 8601, or null. */
export function snapshotTime(name: string): string | null {
  const m = /^GMT([+-])(\d{1,2})(?::?(\d{2}))?-(\d{4})\.(\d{2})\.(\d{2})-(\d{2})\.(\d{2})\.(\d{2})$/.exec(name);
  if (!m) return null;
  const [, sign, hh, mm = '00', y, mo, d, h, mi, s] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${sign}${hh!.padStart(2, '0')}:${mm}`;
  return Number.isNaN(Date.parse(iso)) ? null : iso;
}

/** `p`, or the reason of `signal` as soon as it aborts (`p` itself goes on). */
function raced<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

export function createDsmClient(opts: DsmClientOptions): DsmClient {
  const base = new URL(opts.url);
  const host = base.host;
  const label = `DSM at ${host}`;
  const key = opts.key ?? 'integrations.synology';
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/webapi$/, '')}/webapi`;
  const now = opts.now ?? Date.now;
  const tokenSteps = `homelab-hub synology-device-token --url ${base.origin} --user ${opts.username}`;

  let apis: Promise<Map<string, { path: string; min: number; max: number }>> | undefined;
  let sid: string | undefined;
  let loggingIn: Promise<string> | undefined;
  let logins = 0;
  let closed = false;
  let hold: { until: number; error: DsmError; ms: number } | undefined;

  /**
   * One request to DSM: the parsed envelope. A POST with the parameters in the form body, except
   * `get` (SYNO.API.Info only, which carries nothing secret): a GET, as every DSM client asks it.
   */
  async function post(path: string, form: Record<string, string>, signal?: AbortSignal, get = false): Promise<{ success: boolean; data?: unknown; code?: number }> {
    let res: HttpResponse;
    const encoded = new URLSearchParams(form).toString();
    try {
      res = await opts.http.request({ method: get ? 'GET' : 'POST', url: get ? `${root}/${path}?${encoded}` : `${root}/${path}`, headers: { accept: 'application/json', ...(get ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) }, ...(get ? {} : { body: encoded }), timeoutMs: opts.timeoutMs, maxBytes: MAX_DSM_BYTES, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (isHttpError(err, 'unreachable') || isHttpError(err, 'timeout')) throw new DsmError(503, `${label} is unreachable: ${err.detail}`, { cause: err });
      if (isHttpError(err, 'too_large')) throw new DsmError(502, `${label} answered more than ${MAX_DSM_BYTES} bytes to ${form.api} ${form.method}`, { cause: err });
      throw err;
    }
    // DSM's "redirect HTTP connections to HTTPS" answers the http port with a redirect: never followed (the body would go elsewhere).
    if (res.status >= 300 && res.status < 400) throw new DsmError(502, `${label} redirects /webapi/${path} elsewhere (HTTP ${res.status}; DSM set to redirect HTTP to HTTPS?): set ${key}.url to DSM's https address, usually https://${base.hostname}:5001`);
    if (res.status !== 200) throw new DsmError(502, `${label}: HTTP ${res.status} from /webapi/${path} (is this a Synology DSM, on its web port, usually 5001 for HTTPS?)`);
    let body: unknown;
    try {
      body = res.json();
    } catch {
      throw new DsmError(502, `${label} answered /webapi/${path} with something that is not JSON (is this a Synology DSM?)`);
    }
    const b = obj(body);
    if (b.success === true) return { success: true, data: b.data };
    const code = num(obj(b.error).code);
    if (b.success === false && code !== null) return { success: false, code };
    throw new DsmError(502, `${label} answered ${form.api} ${form.method} with neither success nor an error code (is this a Synology DSM?)`);
  }

  /** Path and versions of the APIs the client uses, asked once (again after a failure). */
  function discover(signal?: AbortSignal): Promise<Map<string, { path: string; min: number; max: number }>> {
    // Shared by every call that lands meanwhile: run to its own deadline, not a caller's signal.
    apis ??= (async () => {
      const r = await post('query.cgi', { api: 'SYNO.API.Info', version: '1', method: 'query', query: 'SYNO.API.Auth,SYNO.Core.System,SYNO.Core.System.Utilization,SYNO.Storage.CGI.Storage,SYNO.Core.Share,SYNO.Core.Share.Snapshot' }, undefined, true);
      if (!r.success) throw new DsmError(502, `${label}: SYNO.API.Info query failed (DSM error ${r.code})`);
      const map = new Map<string, { path: string; min: number; max: number }>();
      for (const [name, v] of Object.entries(obj(r.data)).slice(0, 50)) {
        const i = obj(v);
        const path = str(i.path, 100);
        const min = num(i.minVersion);
        const max = num(i.maxVersion);
        // Only a plain file name under /webapi: a path is DSM's to give, not to walk anywhere.
        if (/^[A-Za-z0-9_.-]+\.cgi$/.test(path) && min !== null && max !== null) map.set(name, { path, min, max });
      }
      if (!map.has('SYNO.API.Auth')) throw new DsmError(502, `${label} does not list SYNO.API.Auth in SYNO.API.Info (is this a Synology DSM?)`);
      return map;
    })();
    apis.catch(() => (apis = undefined));
    return raced(apis, signal);
  }

  async function api(name: string, wanted: number, signal?: AbortSignal): Promise<{ path: string; version: number }> {
    const a = (await discover(signal)).get(name);
    if (!a) throw new DsmError(400, `${label} does not offer ${name} (DSM too old, or the API is not installed)`);
    return { path: a.path, version: Math.max(a.min, Math.min(a.max, wanted)) };
  }

  /** The words for a refused login, naming the key to fix (never its value). */
  function loginRefusal(code: number, holdMs: number): DsmError {
    const wait = `the hub tries again in ${Math.round(holdMs / 60_000)} minutes, not sooner: DSM blocks an address after repeated failed logins; fix it and reload the hub`;
    switch (code) {
      case 400:
        return new DsmError(401, `${label} rejected the username or password (${key}.password, for account ${JSON.stringify(opts.username)}): ${wait}`, { code });
      case 401:
        return new DsmError(401, `${label}: the account ${JSON.stringify(opts.username)} (${key}.username) is disabled: ${wait}`, { code });
      case 402:
        return new DsmError(401, `${label}: the account ${JSON.stringify(opts.username)} (${key}.username) may not log in here (permission denied): ${wait}`, { code });
      case 403:
      case 404:
      case 406:
        return opts.deviceToken
          ? new DsmError(401, `${label} did not accept the device token (${key}.deviceToken) for account ${JSON.stringify(opts.username)}: it may have been revoked (Personal > Security > Sign-in activity) or issued for another device name than ${key}.deviceName (${JSON.stringify(opts.deviceName)}); get a new one with \`${tokenSteps}\`: ${wait}`, { code })
          : new DsmError(401, `${label}: the account ${JSON.stringify(opts.username)} has 2-step verification${code === 406 ? ' enforced' : ''}, and the hub never asks for a code: get a device token once with \`${tokenSteps}\` and set it as ${key}.deviceToken (see the README): ${wait}`, { code });
      case 407:
        return new DsmError(401, `${label} has blocked the hub's address after too many failed logins (Control Panel > Security > Protection, Allow/Block List): ${wait}`, { code });
      case 408:
      case 409:
      case 410:
        return new DsmError(401, `${label}: the password of account ${JSON.stringify(opts.username)} has expired or must be changed (DSM error ${code}); log in to DSM as that account once to change it, then set ${key}.password: ${wait}`, { code });
      default:
        return new DsmError(401, `${label} refused the login of account ${JSON.stringify(opts.username)} (DSM error ${code}${COMMON_ERRORS[code] ? `: ${COMMON_ERRORS[code]}` : ''}): ${wait}`, { code });
    }
  }

  /**
   * The session, logging in when there is none. The login is shared by the calls that land
   * meanwhile and runs to its own deadline, not to the signal of the call that started it: one
   * cancelled call must not fail the others, nor drop a session DSM already opened (never logged
   * out then, left to DSM's idle timeout).
   */
  function login(signal?: AbortSignal): Promise<string> {
    if (hold && now() < hold.until) return Promise.reject(hold.error);
    loggingIn ??= (async () => {
      try {
        const a = await api('SYNO.API.Auth', 6);
        const form: Record<string, string> = { api: 'SYNO.API.Auth', version: String(a.version), method: 'login', account: opts.username, passwd: opts.password, session: 'webui', format: 'sid' };
        if (opts.deviceToken) Object.assign(form, { device_id: opts.deviceToken, device_name: opts.deviceName });
        logins++;
        const r = await post(a.path, form);
        if (!r.success) {
          const ms = hold ? Math.min(hold.ms * 2, 60 * 60_000) : LOGIN_HOLD_MS;
          const error = loginRefusal(r.code!, ms);
          hold = { until: now() + ms, error, ms };
          opts.onAuthRejected?.();
          throw error;
        }
        const s = str(obj(r.data).sid, 512);
        if (!s) throw new DsmError(502, `${label} answered the login without a session id (is this a Synology DSM?)`);
        hold = undefined;
        // Closed while logging in: give the session back at once.
        if (closed) {
          await logout(s);
          throw new DsmError(503, `${label}: the integration was closed (reloaded)`);
        }
        sid = s;
        return s;
      } finally {
        loggingIn = undefined;
      }
    })();
    return raced(loggingIn, signal);
  }

  async function logout(session: string): Promise<void> {
    try {
      const a = await api('SYNO.API.Auth', 6);
      await post(a.path, { api: 'SYNO.API.Auth', version: String(a.version), method: 'logout', session: 'webui', _sid: session });
    } catch {
      // DSM is gone: its session ends with its timeout.
    }
  }

  async function call(name: string, method: string, wanted: number, params: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    if (closed) throw new DsmError(503, `${label}: the integration was closed (reloaded)`);
    const a = await api(name, wanted, signal);
    const form: Record<string, string> = { api: name, version: String(a.version), method };
    // JSON values, as DSM's own web UI sends them: a share name stays a string whatever it looks like.
    for (const [k, v] of Object.entries(params)) form[k] = JSON.stringify(v);
    for (let attempt = 0; ; attempt++) {
      const current = sid ?? (await login(signal));
      const r = await post(a.path, { ...form, _sid: current }, signal);
      if (r.success) return r.data;
      if (SESSION_ERRORS.has(r.code!) && attempt === 0) {
        // The session ended (timeout, restart, a login elsewhere): one new login, shared, one retry.
        if (sid === current) sid = undefined;
        continue;
      }
      if (SESSION_ERRORS.has(r.code!)) throw new DsmError(401, `${label} refused a session right after logging in (DSM error ${r.code}: ${COMMON_ERRORS[r.code!]})`, { code: r.code! });
      if (r.code === 105) throw new DsmError(400, `${label}: the account ${JSON.stringify(opts.username)} has no permission for ${name} ${method} (DSM error 105); the hub's account must be in the administrators group`, { code: 105 });
      throw new DsmError(400, `${label}: ${name} ${method} failed: DSM error ${r.code}${COMMON_ERRORS[r.code!] ? ` (${COMMON_ERRORS[r.code!]})` : ''}`, { code: r.code! });
    }
  }

  const client: DsmClient = {
    host,
    label,
    call,
    async system(signal) {
      const d = obj(await call('SYNO.Core.System', 'info', 1, {}, signal));
      return { model: str(d.model, 64), version: str(d.firmware_ver, 100), uptime: str(d.up_time, 32), temperatureC: num(d.sys_temp) };
    },
    async utilization(signal) {
      const d = obj(await call('SYNO.Core.System.Utilization', 'get', 1, {}, signal));
      const cpu = obj(d.cpu);
      const parts = [num(cpu.user_load), num(cpu.system_load), num(cpu.other_load)];
      return { cpuPercent: parts.every((p) => p === null) ? null : clampPct(parts.reduce<number>((s, p) => s + (p ?? 0), 0)), memoryPercent: clampPct(num(obj(d.memory).real_usage)) };
    },
    async storage(signal) {
      const d = obj(await call('SYNO.Storage.CGI.Storage', 'load_info', 1, {}, signal));
      const vols = arr(d.volumes, MAX_STORAGE_ITEMS);
      const pools = arr(d.storagePools, MAX_STORAGE_ITEMS);
      const disks = arr(d.disks, MAX_STORAGE_ITEMS);
      return {
        volumes: vols.items.map((v) => {
          const size = obj(v.size);
          const total = num(size.total);
          const used = num(size.used);
          return { id: str(v.id, 64), path: str(v.vol_path, 100), status: str(v.status, 40) || 'unknown', fsType: str(v.fs_type, 20), totalBytes: total, usedBytes: used, usedPercent: pct(used, total) };
        }),
        pools: pools.items.map((p) => ({ id: str(p.id, 64), name: `Storage Pool ${str(p.num_id, 8) || str(p.id, 64)}`, status: str(p.status, 40) || 'unknown', raid: str(p.desc, 60) || str(p.device_type, 60) || str(p.raidType, 40), disks: Array.isArray(p.disks) ? p.disks.length : 0 })),
        disks: disks.items.map((k) => ({ id: str(k.id, 64), name: str(k.longName, 64) || str(k.name, 64) || str(k.id, 64), model: str(k.model, 80), status: str(k.status, 40) || 'unknown', smart: str(k.smart_status, 40) || 'unknown', temperatureC: num(k.temp), sizeBytes: num(k.size_total) })),
        cut: vols.cut || pools.cut || disks.cut,
      };
    },
    async shares(signal) {
      const d = obj(await call('SYNO.Core.Share', 'list', 1, { shareType: 'all', additional: ['encryption', 'hidden', 'support_snapshot', 'share_quota'], offset: 0, limit: MAX_SHARES }, signal));
      const list = arr(d.shares, MAX_SHARES);
      return {
        shares: list.items
          .filter((s) => str(s.name, 64))
          .map((s) => ({ name: str(s.name, 64), volume: str(s.vol_path, 100), description: str(s.desc, 200), encryption: num(s.encryption) ?? 0, hidden: s.hidden === true, supportsSnapshots: s.support_snapshot === true, quotaMb: num(s.quota_value), usedMb: num(s.share_quota_used) })),
        total: num(d.total) ?? list.items.length,
      };
    },
    async snapshots(share, limit, signal) {
      const page = async (offset: number) => obj(await call('SYNO.Core.Share.Snapshot', 'list', 2, { name: share, additional: ['desc', 'lock', 'schedule_snapshot'], offset, limit: SNAPSHOT_PAGE }, signal));
      const first = await page(0);
      const total = num(first.total) ?? 0;
      let rows = arr(first.snapshots, SNAPSHOT_PAGE).items;
      // Past one page, the newest may be at either end: read the last page too.
      if (total > SNAPSHOT_PAGE) rows = rows.concat(arr((await page(Math.max(SNAPSHOT_PAGE, total - SNAPSHOT_PAGE))).snapshots, SNAPSHOT_PAGE).items);
      const seen = new Set<string>();
      const snaps = rows
        .map((s) => ({ name: str(s.time, 64), time: snapshotTime(str(s.time, 64)), description: str(s.desc, 255), locked: s.lock === true, scheduled: s.schedule_snapshot === true }))
        .filter((s) => s.name && !seen.has(s.name) && seen.add(s.name));
      snaps.sort((x, y) => (Date.parse(y.time ?? '') || 0) - (Date.parse(x.time ?? '') || 0) || (x.name < y.name ? 1 : -1));
      return { snapshots: snaps.slice(0, limit), total: Math.max(total, snaps.length) };
    },
    async createSnapshot(share, description, signal) {
      const d = await call('SYNO.Core.Share.Snapshot', 'create', 1, { name: share, snapinfo: { desc: description, lock: false } }, signal);
      const name = str(d, 64);
      if (!name) throw new DsmError(502, `${label} took the snapshot of ${JSON.stringify(share)} but did not say its name`);
      return name;
    },
    logins: () => logins,
    async close() {
      closed = true;
      const current = sid;
      sid = undefined;
      if (current) await logout(current);
      // A login in flight logs itself out when it lands (see login).
      await loggingIn?.catch(() => undefined);
    },
  };
  return client;
}

/**
 * One login with a 2-step verification code, asking DSM for a device token (`did`) so that later
 * logins skip the code: what `homelab-hub synology-device-token` runs. Logs the session out at once.
 */
export async function requestDsmDeviceToken(opts: { url: string; username: string; password: string; otpCode: string; deviceName: string; http: HttpClient; timeoutMs: number }): Promise<string> {
  const base = new URL(opts.url);
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/webapi$/, '')}/webapi`;
  const label = `DSM at ${base.host}`;
  const post = async (path: string, form: Record<string, string>, get = false) => {
    let res: HttpResponse;
    const encoded = new URLSearchParams(form).toString();
    try {
      res = await opts.http.request({ method: get ? 'GET' : 'POST', url: get ? `${root}/${path}?${encoded}` : `${root}/${path}`, headers: { accept: 'application/json', ...(get ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) }, ...(get ? {} : { body: encoded }), timeoutMs: opts.timeoutMs, maxBytes: 1024 * 1024 });
    } catch (err) {
      if (isHttpError(err)) throw new DsmError(503, `${label} is unreachable: ${err.detail}`, { cause: err });
      throw err;
    }
    if (res.status !== 200) throw new DsmError(502, `${label}: HTTP ${res.status} from /webapi/${path} (is this a Synology DSM, usually on port 5001?)`);
    let body: Record<string, unknown>;
    try {
      body = obj(res.json());
    } catch {
      throw new DsmError(502, `${label} answered /webapi/${path} with something that is not JSON`);
    }
    return body;
  };
  const info = obj(obj((await post('query.cgi', { api: 'SYNO.API.Info', version: '1', method: 'query', query: 'SYNO.API.Auth' }, true)).data)['SYNO.API.Auth']);
  const path = str(info.path, 100);
  const max = num(info.maxVersion);
  if (!/^[A-Za-z0-9_.-]+\.cgi$/.test(path) || max === null) throw new DsmError(502, `${label} does not list SYNO.API.Auth (is this a Synology DSM?)`);
  if (max < 6) throw new DsmError(400, `${label} has SYNO.API.Auth up to version ${max}: device tokens need version 6 (DSM 6.0 or later)`);
  const r = await post(path, { api: 'SYNO.API.Auth', version: '6', method: 'login', account: opts.username, passwd: opts.password, otp_code: opts.otpCode, enable_device_token: 'yes', device_name: opts.deviceName, session: 'webui', format: 'sid' });
  if (r.success !== true) {
    const code = num(obj(r.error).code);
    const why: Record<number, string> = { 400: 'wrong account or password', 401: 'the account is disabled', 402: 'permission denied', 403: 'a 2-step verification code is required', 404: 'the 2-step verification code was wrong (or expired: codes last 30 seconds)', 406: '2-step verification is enforced but not set up for this account: set it up in DSM first', 407: "the hub's address is blocked after too many failed logins" };
    throw new DsmError(401, `${label} refused the login: ${code !== null && why[code] ? why[code] : `DSM error ${code}`}`, code !== null ? { code } : {});
  }
  const data = obj(r.data);
  // DSM 6 answers `did`; DSM 7 has been seen answering `device_id`.
  const did = str(data.did, 512) || str(data.device_id, 512);
  const sid = str(data.sid, 512);
  if (sid) await post(path, { api: 'SYNO.API.Auth', version: '6', method: 'logout', session: 'webui', _sid: sid }).catch(() => undefined);
  if (!did) throw new DsmError(502, `${label} accepted the login but gave no device token: the account may not have 2-step verification on (then no token is needed: leave deviceToken out)`);
  // The command prints it on a terminal: escapes from a hostile answer would redraw the screen or
  // set the clipboard (OSC 52). DSM's are letters, digits and a few marks.
  const given = typeof data.did === 'string' && data.did ? data.did : data.device_id;
  if (typeof given !== 'string' || !DEVICE_TOKEN.test(given)) throw new DsmError(502, `${label} gave a device token that is not in the form DSM gives them (8 to 512 printable characters, no spaces or control characters): it was not printed; is this a Synology DSM?`);
  return did;
}
