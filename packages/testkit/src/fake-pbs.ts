/**
 * A fake Proxmox Backup Server for tests (shared/reference/service-apis.md §2), since PBS cannot
 * run here: a real HTTPS server on 127.0.0.1 with a self-signed certificate.
 *
 * - `Authorization: PBSAPIToken=USER@REALM!TOKENNAME:SECRET` (a colon before the secret, unlike
 *   Proxmox VE's `=`); anything else, the PVE form included, is 401.
 * - `{"data": ...}` envelopes; `GET /version`, `/admin/datastore`, `/status/datastore-usage`,
 *   `/admin/datastore/{store}/namespace`, `/admin/datastore/{store}/{groups,snapshots}[?ns=]`,
 *   `/nodes/localhost/tasks` (snake_case items) and `/nodes/localhost/tasks/{upid}/log`.
 * - Two datastores; guests with fresh, stale and failed-verify backups; one failed GC task.
 *   Anything else is a 404 recorded in `unknown()`: a test asserts it stays empty.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { delayed } from './delay.ts';
import { serveLoopback } from './serve.ts';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakePbsRequest {
  method: string;
  path: string;
  status: number;
  unknown?: boolean;
}

export interface FakePbs {
  url: string;
  host: string;
  fingerprint: string;
  requests(): FakePbsRequest[];
  unknown(): FakePbsRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DAY = 86400;

export async function startFakePbs(opts: { tokenId: string; secret: string; port?: number; /** Every answer this much later. */ delayMs?: number }): Promise<FakePbs> {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-fake-pbs-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=pbs'], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'c.pem'), 'utf8');
  const key = readFileSync(join(dir, 'k.pem'));
  rmSync(dir, { recursive: true, force: true });
  const now = Math.floor(Date.now() / 1000);
  const log: FakePbsRequest[] = [];
  // store1: vm/100 fresh and verified, ct/101 fresh but its verify failed, vm/102 last backed up 9 days ago.
  const snapshots: Record<string, Array<Record<string, unknown>>> = {
    store1: [
      { 'backup-type': 'vm', 'backup-id': '100', 'backup-time': now - 3600, size: 34_359_739_000, owner: 'root@pam!pve', protected: false, comment: 'homeassistant', verification: { state: 'ok', upid: 'UPID:pbs:0:0:0:0:verify::root@pam:' } },
      { 'backup-type': 'vm', 'backup-id': '100', 'backup-time': now - DAY - 3600, size: 34_359_739_000, owner: 'root@pam!pve', protected: true, comment: 'homeassistant' },
      { 'backup-type': 'ct', 'backup-id': '101', 'backup-time': now - 7200, size: 2_000_000_000, owner: 'root@pam!pve', protected: false, comment: 'n8n', verification: { state: 'failed', upid: 'UPID:pbs:0:0:0:0:verify::root@pam:' } },
      { 'backup-type': 'vm', 'backup-id': '102', 'backup-time': now - 9 * DAY, size: 10_000_000_000, owner: 'root@pam!pve', protected: false, comment: 'nextcloud' },
    ],
    store2: [{ 'backup-type': 'host', 'backup-id': 'nas', 'backup-time': now - 5 * 3600, size: 500_000_000, owner: 'root@pam', protected: false, comment: '' }],
    // A namespace, as Proxmox VE storage entries with `namespace` set write into.
    'store1/pve2': [{ 'backup-type': 'ct', 'backup-id': '30004', 'backup-time': now - 3 * 86400 - 600, size: 1_000_000_000, owner: 'root@pam!pve', protected: false, comment: 'zigbee2mqtt' }],
  };
  const tasks = [
    { upid: `UPID:pbs:00001234:00005678:00000001:${(now - 600).toString(16).toUpperCase()}:garbage_collection:store1:root@pam:`, node: 'pbs', pid: 4660, pstart: 22136, starttime: now - 600, worker_type: 'garbage_collection', worker_id: 'store1', user: 'root@pam', endtime: now - 590, status: 'unable to acquire lock on chunk store - EAGAIN' },
    { upid: `UPID:pbs:00001235:00005679:00000002:${(now - 3600).toString(16).toUpperCase()}:backup:store1%3Avm%2F100:root@pam!pve:`, node: 'pbs', pid: 4661, pstart: 22137, starttime: now - 3600, worker_type: 'backup', worker_id: 'store1:vm/100', user: 'root@pam!pve', endtime: now - 3500, status: 'OK' },
    { upid: `UPID:pbs:00001236:0000567A:00000003:${(now - 60).toString(16).toUpperCase()}:verify:store1:root@pam:`, node: 'pbs', pid: 4662, pstart: 22138, starttime: now - 60, worker_type: 'verify', worker_id: 'store1', user: 'root@pam' },
  ];
  const usage = [
    { store: 'store1', total: 4_000_000_000_000, used: 3_600_000_000_000, avail: 400_000_000_000, 'history-start': now - 30 * DAY, 'history-delta': DAY, 'estimated-full-date': now + 20 * DAY, 'gc-status': { 'index-file-count': 12, 'removed-bytes': 0, 'disk-bytes': 1, upid: tasks[0]!.upid } },
    { store: 'store2', total: 1_000_000_000_000, used: 100_000_000_000, avail: 900_000_000_000, 'history-start': now - 30 * DAY, 'history-delta': DAY, 'estimated-full-date': 0, 'gc-status': { 'index-file-count': 1 } },
  ];
  const send = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return status;
  };
  const auth = `PBSAPIToken=${opts.tokenId}:${opts.secret}`;
  const server: Server = createServer({ key, cert }, delayed((req, res) => {
    const url = new URL(req.url ?? '/', 'https://fake');
    const entry: FakePbsRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0 };
    log.push(entry);
    req.resume();
    const given = (req.headers.authorization ?? '').replace(/^PBSAPIToken /, 'PBSAPIToken=');
    if (decodeURIComponent(given) !== auth) {
      entry.status = send(res, 401, { data: null, message: 'authentication failure' });
      return;
    }
    const p = url.pathname.replace(/^\/api2\/json/, '');
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && p === '/version') entry.status = send(res, 200, { data: { version: '3.3', release: '4', repoid: 'abc' } });
    else if (req.method === 'GET' && p === '/admin/datastore') entry.status = send(res, 200, { data: [{ store: 'store1', comment: 'guests' }, { store: 'store2', comment: 'hosts' }] });
    else if (req.method === 'GET' && p === '/status/datastore-usage') entry.status = send(res, 200, { data: usage });
    else if (req.method === 'GET' && (m = /^\/admin\/datastore\/([^/]+)\/namespace$/.exec(p))) {
      if (!snapshots[m[1]!]) entry.status = send(res, 404, { data: null, message: `no such datastore '${m[1]}'` });
      else entry.status = send(res, 200, { data: [{ ns: '' }, ...Object.keys(snapshots).filter((k) => k.startsWith(`${m![1]}/`)).map((k) => ({ ns: k.slice(m![1]!.length + 1) }))] });
    } else if (req.method === 'GET' && (m = /^\/admin\/datastore\/([^/]+)\/(groups|snapshots)$/.exec(p))) {
      const ns = url.searchParams.get('ns');
      const snaps = snapshots[ns ? `${m[1]}/${ns}` : m[1]!];
      if (!snaps) entry.status = send(res, 404, { data: null, message: `no such datastore '${m[1]}'` });
      else if (m[2] === 'snapshots') entry.status = send(res, 200, { data: snaps });
      else {
        const groups = new Map<string, Array<Record<string, unknown>>>();
        for (const s of snaps) groups.set(`${s['backup-type']}/${s['backup-id']}`, [...(groups.get(`${s['backup-type']}/${s['backup-id']}`) ?? []), s]);
        entry.status = send(res, 200, { data: [...groups.values()].map((g) => ({ 'backup-type': g[0]!['backup-type'], 'backup-id': g[0]!['backup-id'], 'last-backup': Math.max(...g.map((s) => s['backup-time'] as number)), 'backup-count': g.length, files: ['index.json.blob'], owner: g[0]!.owner, comment: g[0]!.comment })) });
      }
    } else if (req.method === 'GET' && p === '/nodes/localhost/tasks') {
      const errors = url.searchParams.get('errors') === '1' || url.searchParams.get('errors') === 'true';
      const list = errors ? tasks.filter((t) => t.status && t.status !== 'OK') : tasks;
      entry.status = send(res, 200, { data: list, total: list.length });
    } else if (req.method === 'GET' && (m = /^\/nodes\/localhost\/tasks\/([^/]+)\/log$/.exec(p))) {
      const t = tasks.find((x) => x.upid === decodeURIComponent(m![1]!));
      if (!t) entry.status = send(res, 400, { data: null, message: 'unable to parse UPID' });
      else entry.status = send(res, 200, { data: [{ n: 1, t: `starting ${t.worker_type} on ${t.worker_id}` }, ...(t.status && t.status !== 'OK' ? [{ n: 2, t: `TASK ERROR: ${t.status}` }] : [{ n: 2, t: 'TASK OK' }])], total: 2 });
    } else {
      entry.status = send(res, 404, { data: null, message: 'Path not found.' });
      entry.unknown = true;
    }
  }, opts.delayMs));
  const { port, stop } = await serveLoopback(server, opts.port);
  return { url: `https://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, fingerprint: new X509Certificate(cert).fingerprint256, requests: () => log, unknown: () => log.filter((r) => r.unknown), stop, [Symbol.asyncDispose]: stop };
}
