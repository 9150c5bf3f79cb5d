/**
 * A fake Synology DSM for tests, since DSM cannot run here: a real HTTPS server on 127.0.0.1
 * with a self-signed certificate (DSM on 5001 usually has one), answering the Web API as
 * Synology's "DSM Login Web API Guide" and well-kept clients (N4S4/synology-api,
 * mib1185/py-synologydsm-api, whose test data shapes the answers) describe it:
 *
 * - `/webapi/query.cgi` and `/webapi/entry.cgi`, GET or POST (`application/x-www-form-urlencoded`);
 *   parameters from the query and the body are merged, as DSM's CGI does. Every answer is HTTP
 *   200 `{"success":true,"data":...}` or `{"success":false,"error":{"code":N}}`.
 * - `SYNO.API.Info` `query` (v1, `query=ALL` or a comma list): path, minVersion, maxVersion.
 * - `SYNO.API.Auth` `login` (v1-7: `account`, `passwd`, `otp_code`, `enable_device_token`,
 *   `device_name`, `device_id`, `session`, `format`) → `sid` (+ `did` when a device token was
 *   asked for with a good OTP code); errors 400 (wrong account or password), 403 (2-step
 *   verification: a code is required), 404 (wrong code); `logout` ends the session of `_sid`.
 * - With a session (`_sid`; none or unknown: 119; expired by the test: 106 or 119):
 *   `SYNO.Core.System` `info`, `SYNO.Core.System.Utilization` `get`, `SYNO.Storage.CGI.Storage`
 *   `load_info`, `SYNO.Core.Share` `list`, `SYNO.Core.Share.Snapshot` `list` (v1-2) and `create`
 *   (v1). Their values are JSON (`requestFormat: JSON`): `name="photo"`, `snapinfo={"desc":..}`.
 * - Anything else (an unknown API, method or version, another path) is answered as DSM answers
 *   it (102, 103, 104; 404 for a path) and recorded in `unknown()`; so is a password sent in a
 *   URL query (URLs reach logs): a test asserts the list stays empty.
 *
 * @example
 * await using dsm = await startFakeDsm({ account: 'hub', password: 's3cret' });
 * dsm.expireSessions(119); // the next request with the old sid is refused
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveLoopback } from './serve.ts';

export interface FakeDsmRequest {
  api: string;
  method: string;
  version: number;
  /** The parameters as decoded (the password and sid left out). */
  params: Record<string, unknown>;
  /** DSM's error code, when it answered one. */
  error?: number;
  unknown?: boolean;
}

export interface FakeDsmSnapshot {
  time: string;
  desc: string;
  lock: boolean;
  schedule_snapshot: boolean;
}

export interface FakeDsmOptions {
  account: string;
  password: string;
  /** The account has 2-step verification: this code is the right one. */
  otpCode?: string;
  /** Device tokens DSM already knows (from an earlier login with enable_device_token). */
  deviceTokens?: string[];
  port?: number;
}

export interface FakeDsm extends AsyncDisposable {
  url: string;
  host: string;
  fingerprint: string;
  requests(): FakeDsmRequest[];
  unknown(): FakeDsmRequest[];
  /** Login attempts (successful or not). */
  logins(): number;
  /** Sessions ended by `logout`. */
  logouts(): number;
  /** Live sessions. */
  sessions(): string[];
  /** Every session id ever issued (to prove none leaked anywhere). */
  issuedSessions(): string[];
  /** Every session ends as DSM ends them on timeout (106) or when it forgets them (119, after a restart). */
  expireSessions(code?: 106 | 119): void;
  /** The shares (DSM's answer, mutable by tests). */
  shares: Array<Record<string, unknown>>;
  /** Snapshots per share name. */
  snapshots: Record<string, FakeDsmSnapshot[]>;
  /** The storage answer (mutable by tests). */
  storage: Record<string, unknown>;
  utilization: Record<string, unknown>;
  /** When set, replaces the data of an API's answer (hostile or odd answers); undefined keeps it. */
  override?: ((api: string, method: string) => unknown) | undefined;
  stop(): Promise<void>;
}

/** The APIs this DSM offers (DSM 7.2's paths and versions). */
const APIS: Record<string, { path: string; minVersion: number; maxVersion: number; requestFormat?: 'JSON' }> = {
  'SYNO.API.Info': { path: 'entry.cgi', minVersion: 1, maxVersion: 1, requestFormat: 'JSON' },
  'SYNO.API.Auth': { path: 'entry.cgi', minVersion: 1, maxVersion: 7 },
  'SYNO.Core.System': { path: 'entry.cgi', minVersion: 1, maxVersion: 3, requestFormat: 'JSON' },
  'SYNO.Core.System.Utilization': { path: 'entry.cgi', minVersion: 1, maxVersion: 1, requestFormat: 'JSON' },
  'SYNO.Storage.CGI.Storage': { path: 'entry.cgi', minVersion: 1, maxVersion: 1, requestFormat: 'JSON' },
  'SYNO.Core.Share': { path: 'entry.cgi', minVersion: 1, maxVersion: 1, requestFormat: 'JSON' },
  'SYNO.Core.Share.Snapshot': { path: 'entry.cgi', minVersion: 1, maxVersion: 2, requestFormat: 'JSON' },
  'SYNO.FileStation.List': { path: 'entry.cgi', minVersion: 1, maxVersion: 2, requestFormat: 'JSON' },
};

const disk = (n: number, over: Record<string, unknown> = {}) => ({
  id: `sata${n}`,
  name: `Drive ${n}`,
  longName: `Drive ${n}`,
  device: `/dev/sata${n}`,
  diskType: 'SATA',
  firm: '81.00A81',
  model: 'WD80EFAX-68KNBN0        ',
  vendor: 'WDC     ',
  serial: `VAHG7V${n}L`,
  size_total: '8001563222016',
  status: 'normal',
  overview_status: 'normal',
  smart_status: 'normal',
  temp: 38 + n,
  exceed_bad_sector_thr: false,
  below_remain_life_thr: false,
  used_by: 'reuse_1',
  ...over,
});

/** Three volumes (one degraded), one SHR pool, four disks (one with a SMART warning). */
function defaultStorage(): Record<string, unknown> {
  return {
    disks: [disk(1), disk(2), disk(3, { smart_status: 'warning', overview_status: 'warning' }), disk(4, { used_by: 'reuse_2', model: 'ST4000VN008-2DR166', vendor: 'Seagate' })],
    storagePools: [
      { id: 'reuse_1', num_id: 1, desc: 'SHR-1', device_type: 'shr_without_disk_protect', raidType: 'single', status: 'normal', disks: ['sata1', 'sata2', 'sata3'], size: { total: '16002126544896', used: '15002126544896' }, pool_path: 'reuse_1' },
      { id: 'reuse_2', num_id: 2, desc: 'Basic', device_type: 'basic', raidType: 'single', status: 'degraded', disks: ['sata4'], size: { total: '4000000000000', used: '3900000000000' }, pool_path: 'reuse_2' },
    ],
    volumes: [
      { id: 'volume_1', num_id: 1, vol_path: '/volume1', fs_type: 'btrfs', status: 'normal', pool_path: 'reuse_1', desc: '', size: { total: '15000000000000', used: '9300000000000', free_inode: '0', total_inode: '0', total_device: '16002126544896' } },
      { id: 'volume_3', num_id: 3, vol_path: '/volume3', fs_type: 'ext4', status: 'normal', pool_path: 'reuse_1', desc: '', size: { total: '1000000000000', used: '100000000000', free_inode: '0', total_inode: '0', total_device: '1000000000000' } },
      { id: 'volume_2', num_id: 2, vol_path: '/volume2', fs_type: 'btrfs', status: 'degraded', pool_path: 'reuse_2', desc: '', size: { total: '3800000000000', used: '1900000000000', free_inode: '0', total_inode: '0', total_device: '4000000000000' } },
    ],
    env: { batchTask: false, isSyncSysPartition: false },
  };
}

function defaultShares(): Array<Record<string, unknown>> {
  const share = (name: string, vol: string, desc: string, over: Record<string, unknown> = {}) => ({ name, vol_path: vol, desc, encryption: 0, hidden: false, enable_recycle_bin: true, support_snapshot: true, is_usb_share: false, quota_value: 0, share_quota_used: 0, uuid: `${name}-0000-4000-8000-000000000000`, ...over });
  return [
    share('photo', '/volume1', 'Family photos', { share_quota_used: 123456.5 }),
    share('homes', '/volume1', 'user home', { quota_value: 512000, share_quota_used: 20480 }),
    share('docker', '/volume1', 'Docker Containers', { hidden: true }),
    share('vault', '/volume2', 'Papers', { encryption: 2 }),
  ];
}

/** `GMT+01-2026.12.07-23.10.05`, as DSM names snapshots (the NAS's own time and zone; UTC here). */
export function dsmSnapshotName(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `GMT+00-${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())}-${p(d.getUTCHours())}.${p(d.getUTCMinutes())}.${p(d.getUTCSeconds())}`;
}

/** Starts the fake DSM on a free 127.0.0.1 port: a DS920+ with two volumes, four shares and a few snapshots of photo. */
export async function startFakeDsm(opts: FakeDsmOptions): Promise<FakeDsm> {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-fake-dsm-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=synology'], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'c.pem'), 'utf8');
  const key = readFileSync(join(dir, 'k.pem'));
  rmSync(dir, { recursive: true, force: true });

  const log: FakeDsmRequest[] = [];
  const live = new Set<string>();
  const issued: string[] = [];
  const expired = new Map<string, number>();
  const devices = new Set(opts.deviceTokens ?? []);
  let logins = 0;
  let logouts = 0;
  const base = Date.UTC(2026, 11, 1, 3, 0, 0);
  const fake: FakeDsm = {
    url: '',
    host: '',
    fingerprint: new X509Certificate(cert).fingerprint256,
    requests: () => [...log],
    unknown: () => log.filter((r) => r.unknown),
    logins: () => logins,
    logouts: () => logouts,
    sessions: () => [...live],
    issuedSessions: () => [...issued],
    expireSessions(code = 119) {
      for (const s of live) expired.set(s, code);
      live.clear();
    },
    shares: defaultShares(),
    snapshots: {
      photo: [0, 1, 2].map((d) => ({ time: dsmSnapshotName(new Date(base + d * 86_400_000)), desc: d === 2 ? 'before the upgrade' : '', lock: d === 2, schedule_snapshot: d !== 2 })),
      homes: [],
    },
    storage: defaultStorage(),
    utilization: { cpu: { user_load: 4, system_load: 2, other_load: 1, '1min_load': 37, '5min_load': 33, '15min_load': 51, device: 'System' }, memory: { real_usage: 41, memory_size: 8388608, total_real: 8000000, avail_real: 4720000, device: 'Memory' }, network: [], time: 1765100000 },
    stop: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };

  const ok = (data?: unknown) => ({ success: true, ...(data === undefined ? {} : { data }) });
  const fail = (code: number) => ({ success: false, error: { code } });

  /** A JSON-format API's value: JSON when it parses, else the raw string (DSM accepts both). */
  const value = (raw: string | undefined, json: boolean): unknown => {
    if (raw === undefined) return undefined;
    if (!json) return raw;
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  };

  function answer(p: Record<string, string>, entry: FakeDsmRequest): { body: unknown; unknown?: boolean } {
    const info = APIS[entry.api];
    if (!info) return { body: fail(102), unknown: true };
    if (!Number.isInteger(entry.version) || entry.version < info.minVersion || entry.version > info.maxVersion) return { body: fail(104), unknown: true };
    const json = info.requestFormat === 'JSON';
    const v = (k: string) => value(p[k], json);
    for (const k of Object.keys(p)) if (!['api', 'method', 'version', '_sid', 'passwd'].includes(k)) entry.params[k] = v(k);

    if (entry.api === 'SYNO.API.Info') {
      if (entry.method !== 'query') return { body: fail(103), unknown: true };
      const q = String(v('query') ?? 'ALL');
      const names = q === 'ALL' ? Object.keys(APIS) : q.split(',').filter((n) => n in APIS);
      return { body: ok(Object.fromEntries(names.map((n) => [n, APIS[n]]))) };
    }
    if (entry.api === 'SYNO.API.Auth') {
      if (entry.method === 'login') {
        logins++;
        if (p.account !== opts.account || p.passwd !== opts.password) return { body: fail(400) };
        let did: string | undefined;
        if (opts.otpCode !== undefined && !(p.device_id && devices.has(p.device_id))) {
          if (!p.otp_code) return { body: fail(403) };
          if (p.otp_code !== opts.otpCode) return { body: fail(404) };
          if (p.enable_device_token === 'yes') {
            did = randomBytes(24).toString('base64url');
            devices.add(did);
          }
        }
        const sid = randomBytes(30).toString('base64url');
        live.add(sid);
        issued.push(sid);
        return { body: ok({ sid, is_portal_port: false, ...(did ? { did } : {}) }) };
      }
      if (entry.method === 'logout') {
        if (p._sid && live.delete(p._sid)) logouts++;
        return { body: ok() };
      }
      return { body: fail(103), unknown: true };
    }

    // Everything else needs a session.
    const sid = p._sid;
    if (!sid || !live.has(sid)) return { body: fail(sid ? (expired.get(sid) ?? 119) : 119) };

    if (fake.override) {
      const o = fake.override(entry.api, entry.method);
      if (o !== undefined) return { body: o };
    }
    switch (`${entry.api} ${entry.method}`) {
      case 'SYNO.Core.System info':
        return { body: ok({ model: 'DS920+', firmware_ver: 'DSM 7.2.1-69057 Update 5', serial: '2080PDN000000', ram_size: 8192, up_time: '288:10:12', sys_temp: 44, temperature_warning: false, time: '2026-12-07 23:00:00', time_zone: 'UTC', cpu_cores: '4', cpu_series: 'J4125' }) };
      case 'SYNO.Core.System.Utilization get':
        return { body: ok(fake.utilization) };
      case 'SYNO.Storage.CGI.Storage load_info':
        return { body: ok(fake.storage) };
      case 'SYNO.Core.Share list':
        return { body: ok({ shares: fake.shares, total: fake.shares.length }) };
      case 'SYNO.Core.Share.Snapshot list': {
        const name = v('name');
        const list = typeof name === 'string' ? fake.snapshots[name] : undefined;
        if (!list) return { body: fail(403) };
        const offset = Number(v('offset') ?? 0);
        const limit = Number(v('limit') ?? -1);
        const page = list.slice(offset, limit < 0 ? undefined : offset + limit);
        return { body: ok({ snapshots: page, total: list.length }) };
      }
      case 'SYNO.Core.Share.Snapshot create': {
        const name = v('name');
        const info = v('snapinfo') as { desc?: unknown; lock?: unknown } | undefined;
        if (entry.version !== 1 || typeof name !== 'string' || !info || typeof info !== 'object') return { body: fail(101), unknown: true };
        const list = fake.snapshots[name];
        if (!list) return { body: fail(403) };
        // DSM names a snapshot after the second it was taken: a second one in the same second gets the next.
        let t = Date.now();
        while (list.some((s) => s.time === dsmSnapshotName(new Date(t)))) t += 1000;
        const snap = { time: dsmSnapshotName(new Date(t)), desc: typeof info.desc === 'string' ? info.desc : '', lock: info.lock === true, schedule_snapshot: false };
        list.push(snap);
        return { body: ok(snap.time) };
      }
    }
    return { body: fail(103), unknown: true };
  }

  const server: Server = createServer({ key, cert }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://fake');
      const send = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json; charset="UTF-8"' }).end(JSON.stringify(body));
      if (!['/webapi/query.cgi', '/webapi/entry.cgi', '/webapi/auth.cgi'].includes(url.pathname) || (req.method !== 'GET' && req.method !== 'POST')) {
        log.push({ api: '', method: `${req.method} ${url.pathname}`, version: 0, params: {}, unknown: true });
        res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>404</body></html>');
        return;
      }
      const p: Record<string, string> = Object.fromEntries(url.searchParams);
      const type = req.headers['content-type'] ?? '';
      if (req.method === 'POST' && chunks.length) {
        if (!type.startsWith('application/x-www-form-urlencoded')) {
          log.push({ api: '', method: `POST with ${type || 'no content type'}`, version: 0, params: {}, unknown: true });
          return send(fail(101));
        }
        for (const [k, val] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) p[k] = val;
      }
      const entry: FakeDsmRequest = { api: p.api ?? '', method: p.method ?? '', version: Number(p.version) as number, params: {} };
      const { body, unknown } = answer(p, entry);
      const b = body as { success?: boolean; error?: { code?: number } };
      if (b && b.success === false && b.error?.code) entry.error = b.error.code;
      // A secret in a URL is a defect whatever DSM would do with it.
      if (url.searchParams.has('passwd') || url.searchParams.has('_sid')) {
        entry.unknown = true;
        entry.params.inQuery = [...url.searchParams.keys()].filter((k) => k === 'passwd' || k === '_sid');
      } else if (unknown) entry.unknown = true;
      log.push(entry);
      send(body);
    });
  });
  const { port, stop } = await serveLoopback(server, opts.port);
  fake.url = `https://127.0.0.1:${port}`;
  fake.host = `127.0.0.1:${port}`;
  fake.stop = stop;
  fake[Symbol.asyncDispose] = stop;
  return fake;
}
