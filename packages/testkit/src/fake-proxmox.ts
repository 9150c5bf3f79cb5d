/**
 * A fake Proxmox VE for tests, since Proxmox cannot run here: a real HTTPS server on 127.0.0.1
 * with a self-signed certificate (as Proxmox ships), answering the API as
 * shared/reference/service-apis.md §1 documents it:
 *
 * - `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET` (or with a space); anything else is
 *   401 `authentication failure` with a plain-text body. A token listed in `readOnlyTokens`
 *   gets 403 `Permission check failed (/vms/ID, VM.PowerMgmt)` on power actions.
 * - Every answer is `{"data": ...}`; errors `{"data":null,"message":"...\n"}` with the message
 *   on the status line too. A missing guest is a 500 `Configuration file
 *   'nodes/N/qemu-server/ID.conf' does not exist`; an offline node a 595.
 * - `GET /version`, `/cluster/resources[?type=vm|storage|node]`, `/nodes`, `/nodes/{n}/status`,
 *   `/nodes/{n}/{qemu|lxc}/{id}/status/current`, `.../config`, `/nodes/{n}/lxc/{id}/interfaces`
 *   (`data: null` when stopped), `/nodes/{n}/qemu/{id}/agent/network-get-interfaces` (500 "No
 *   QEMU guest agent configured" / "VM ID is not running"), `POST .../status/{start|stop|
 *   shutdown|reboot}` (a UPID; the task runs `taskMs`, then `exitstatus` "OK" or the error, such
 *   as "VM 100 not running" for a reboot of a stopped guest), `/nodes/{n}/tasks/{upid}/status`
 *   and `/log`.
 *
 * The cluster is realistic: 4 nodes (pve4 offline), 48 guests of both types with tags, agents,
 * cloud-init and static LXC addresses, 3 storages per node. Anything it does not know is a 501
 * recorded in `unknown()`: a test asserts it stays empty.
 *
 * @example
 * await using pve = await startFakeProxmox({ tokens: { 'homelab@pve!mcp': 's3cret' } });
 * // url: pve.url, fingerprint: pve.fingerprint
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { delayed } from './delay.ts';
import { serveLoopback } from './serve.ts';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeGuest {
  vmid: number;
  type: 'qemu' | 'lxc';
  name: string;
  node: string;
  status: 'running' | 'stopped';
  tags?: string;
  /** qemu: the guest agent is configured (and answers while running). */
  agent?: boolean;
  /** qemu cloud-init `ipconfig0`, lxc `net0` `ip=`: a static address with prefix. */
  staticIp?: string;
  /** The address the guest reports while running (agent / interfaces). */
  liveIp?: string;
  maxmem: number;
  mem: number;
  cpus: number;
}

export interface FakeTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  started: number;
  /** When it ends (ms); until then `status: running`. */
  endsAt: number;
  exitstatus: string;
  log: string[];
}

export interface FakeProxmoxRequest {
  method: string;
  path: string;
  status: number;
  body?: string;
}

export interface FakeProxmoxOptions {
  /** `USER@REALM!TOKENID` → secret. */
  tokens: Record<string, string>;
  /** Token ids without VM.PowerMgmt (403 on power actions). */
  readOnlyTokens?: string[];
  /** How long a power task runs. Default 200 ms. */
  taskMs?: number;
  /** Listen on this port (a test that points the hub at it before it runs); default a free one. */
  port?: number;
  /** Every answer this much later. */
  delayMs?: number;
}

export interface FakeProxmox {
  url: string;
  host: string;
  /** SHA-256 fingerprint of its certificate (`AB:CD:...`). */
  fingerprint: string;
  /** PEM of its self-signed certificate. */
  certPem: string;
  guests: FakeGuest[];
  tasks(): FakeTask[];
  requests(): FakeProxmoxRequest[];
  /** Requests the fake does not know: must stay empty. */
  unknown(): FakeProxmoxRequest[];
  setTaskMs(ms: number): void;
  /** Task status requests answer 500 (a node too busy to say), for a write that cannot follow its task. */
  setTaskStatusFails(fails: boolean): void;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const GiB = 1024 ** 3;
const NODES = ['pve1', 'pve2', 'pve3', 'pve4'];
const OFFLINE = new Set(['pve4']);
const NAMES = ['n8n', 'pihole', 'homeassistant', 'nextcloud', 'jellyfin', 'grafana', 'prometheus', 'loki', 'gitea', 'vaultwarden', 'paperless', 'immich', 'frigate', 'mosquitto', 'zigbee2mqtt', 'unifi', 'wireguard', 'traefik', 'caddy', 'postgres', 'mariadb', 'redis', 'minio', 'syncthing'];

/** 48 guests: two of each name, one VM and one container, spread over the online nodes. */
export function fakeCluster(): FakeGuest[] {
  const guests: FakeGuest[] = [];
  NAMES.forEach((name, i) => {
    const node = NODES[i % 3]!;
    guests.push({ vmid: 100 + i, type: 'qemu', name: `${name}-vm`, node, status: i % 4 === 3 ? 'stopped' : 'running', tags: i % 2 ? 'prod' : 'lab;test', agent: i % 3 !== 2, staticIp: i % 2 ? `10.0.10.${10 + i}/24` : undefined, liveIp: `10.0.10.${10 + i}`, maxmem: 4 * GiB, mem: Math.round(1.5 * GiB), cpus: 2 });
    guests.push({ vmid: 30000 + i, type: 'lxc', name, node: NODES[(i + 1) % 3]!, status: i % 5 === 4 ? 'stopped' : 'running', tags: 'prod', staticIp: `192.168.20.${20 + i}/24`, liveIp: `192.168.20.${20 + i}`, maxmem: 2 * GiB, mem: Math.round(0.4 * GiB), cpus: 1 });
  });
  return guests;
}

export async function startFakeProxmox(opts: FakeProxmoxOptions): Promise<FakeProxmox> {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-fake-pve-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=pve1'], { stdio: 'ignore' });
  const certPem = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile);
  rmSync(dir, { recursive: true, force: true });
  const guests = fakeCluster();
  const tasks: FakeTask[] = [];
  const log: FakeProxmoxRequest[] = [];
  let taskMs = opts.taskMs ?? 200;
  let taskStatusFails = false;
  let pid = 0x1000;

  const send = (res: ServerResponse, status: number, data: unknown, message?: string) => {
    const body = JSON.stringify(message === undefined ? { data } : { data: null, message: `${message}\n` });
    res.writeHead(status, message ?? 'OK', { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(body) }).end(body);
    return status;
  };

  const tokenOf = (req: IncomingMessage): string | undefined => {
    const m = /(?:^|\s)PVEAPIToken(?:=| )([^;]*)/.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const value = decodeURIComponent(m[1]!.trim());
    const eq = value.lastIndexOf('=');
    if (eq < 0) return undefined;
    const id = value.slice(0, eq);
    return opts.tokens[id] !== undefined && opts.tokens[id] === value.slice(eq + 1) ? id : undefined;
  };

  const find = (node: string, type: string, vmid: number) => guests.find((g) => g.node === node && g.type === type && g.vmid === vmid);
  const missing = (res: ServerResponse, node: string, type: string, vmid: number) => send(res, 500, null, `Configuration file 'nodes/${node}/${type === 'qemu' ? 'qemu-server' : 'lxc'}/${vmid}.conf' does not exist`);
  const taskView = (t: FakeTask) => {
    const done = Date.now() >= t.endsAt;
    const [user, tokenid] = t.user.split('!');
    return { upid: t.upid, node: t.node, pid: 5, pstart: 5, starttime: Math.floor(t.started / 1000), type: t.type, id: t.id, user, ...(tokenid ? { tokenid } : {}), status: done ? 'stopped' : 'running', ...(done ? { exitstatus: t.exitstatus } : {}) };
  };
  const resources = (type: string | null) => {
    const out: unknown[] = [];
    if (!type || type === 'node') for (const n of NODES) out.push({ id: `node/${n}`, type: 'node', node: n, status: OFFLINE.has(n) ? 'offline' : 'online', ...(OFFLINE.has(n) ? {} : { cpu: 0.12, maxcpu: 16, mem: 20 * GiB, maxmem: 64 * GiB, disk: 40 * GiB, maxdisk: 100 * GiB, uptime: 864000 }) });
    if (!type || type === 'vm')
      for (const g of guests)
        out.push({ id: `${g.type}/${g.vmid}`, type: g.type, vmid: g.vmid, name: g.name, node: g.node, status: OFFLINE.has(g.node) ? 'unknown' : g.status, template: 0, cpu: g.status === 'running' ? 0.03 : 0, maxcpu: g.cpus, mem: g.status === 'running' ? g.mem : 0, maxmem: g.maxmem, disk: 0, maxdisk: 32 * GiB, uptime: g.status === 'running' ? 86400 : 0, ...(g.tags ? { tags: g.tags } : {}) });
    if (!type || type === 'storage')
      for (const n of NODES.filter((x) => !OFFLINE.has(x)))
        for (const [storage, used, total] of [['local', 30, 100], ['local-lvm', 700, 800], ['nas-backup', 2000, 4000]] as const) out.push({ id: `storage/${n}/${storage}`, type: 'storage', storage, node: n, status: 'available', disk: used * GiB, maxdisk: total * GiB, plugintype: storage === 'nas-backup' ? 'nfs' : storage === 'local' ? 'dir' : 'lvmthin', shared: storage === 'nas-backup' ? 1 : 0, content: 'images,rootdir' });
    return out;
  };

  function route(req: IncomingMessage, url: URL, body: string, res: ServerResponse): number | undefined {
    const p = url.pathname.replace(/^\/api2\/json/, '');
    const get = req.method === 'GET';
    if (get && p === '/cluster/resources') {
      const type = url.searchParams.get('type');
      if (type && !['vm', 'storage', 'node', 'sdn'].includes(type)) return send(res, 400, null, 'Parameter verification failed.');
      return send(res, 200, resources(type));
    }
    if (get && p === '/version') return send(res, 200, { version: '8.3.2', release: '8.3', repoid: '3e76eec21c4a14a7' });
    if (get && p === '/nodes') return send(res, 200, NODES.map((n) => ({ node: n, status: OFFLINE.has(n) ? 'offline' : 'online', type: 'node', id: `node/${n}`, level: '', ...(OFFLINE.has(n) ? {} : { cpu: 0.12, maxcpu: 16, mem: 20 * GiB, maxmem: 64 * GiB, disk: 40 * GiB, maxdisk: 100 * GiB, uptime: 864000, ssl_fingerprint: 'AA:BB' }) })));
    let m = /^\/nodes\/([^/]+)(\/.*)?$/.exec(p);
    if (!m) return undefined;
    const node = m[1]!;
    const rest = m[2] ?? '';
    if (!NODES.includes(node)) return send(res, 500, null, `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`);
    if (OFFLINE.has(node)) return send(res, 595, null, `No route to host`);
    if (get && rest === '/status')
      return send(res, 200, { cpu: 0.12, wait: 0.001, uptime: 864000, loadavg: ['0.52', '0.61', '0.70'], kversion: 'Linux 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4', pveversion: 'pve-manager/8.3.2/3e76eec21c4a14a7', cpuinfo: { model: 'Intel(R) N100', cores: 4, cpus: 4, sockets: 1, mhz: '806.000' }, memory: { total: 16 * GiB, free: 6 * GiB, used: 10 * GiB }, swap: { total: 0, free: 0, used: 0 }, rootfs: { total: 100 * GiB, free: 60 * GiB, used: 40 * GiB, avail: 60 * GiB } });
    m = /^\/tasks\/([^/]+)\/(status|log)$/.exec(rest);
    if (get && m) {
      const upid = decodeURIComponent(m[1]!);
      const t = tasks.find((x) => x.upid === upid && x.node === node);
      if (!t) return send(res, 500, null, `unable to parse worker upid '${upid}'`);
      if (m[2] === 'status' && taskStatusFails) return send(res, 500, null, 'got timeout');
      if (m[2] === 'status') return send(res, 200, taskView(t));
      const lines = Date.now() >= t.endsAt ? [...t.log, `TASK ${t.exitstatus === 'OK' ? 'OK' : `ERROR: ${t.exitstatus}`}`] : t.log;
      const start = Number(url.searchParams.get('start') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const body = JSON.stringify({ data: lines.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t })), total: lines.length });
      res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' }).end(body);
      return 200;
    }
    m = /^\/(qemu|lxc)\/(\d+)(\/.*)$/.exec(rest);
    if (!m) return undefined;
    const type = m[1]!;
    const vmid = Number(m[2]);
    const sub = m[3]!;
    const g = find(node, type, vmid);
    if (!g) return missing(res, node, type, vmid);
    if (get && sub === '/status/current')
      return send(res, 200, { vmid, name: g.name, status: g.status, cpus: g.cpus, maxmem: g.maxmem, mem: g.status === 'running' ? g.mem : 0, maxdisk: 32 * GiB, disk: 0, uptime: g.status === 'running' ? 86400 : 0, cpu: g.status === 'running' ? 0.03 : 0, ...(g.tags ? { tags: g.tags } : {}), ...(type === 'qemu' ? { qmpstatus: g.status, agent: g.agent ? 1 : 0, ha: { managed: 0 } } : { type: 'lxc', ha: { managed: 0 } }) });
    if (get && sub === '/config') {
      if (type === 'qemu') return send(res, 200, { name: g.name, cores: g.cpus, memory: String(g.maxmem / 1024 / 1024), ostype: 'l26', boot: 'order=scsi0', scsi0: `local-lvm:vm-${vmid}-disk-0,size=32G`, net0: 'virtio=BC:24:11:2E:C5:4A,bridge=vmbr0', ...(g.agent ? { agent: '1' } : {}), ...(g.staticIp ? { ipconfig0: `ip=${g.staticIp},gw=10.0.10.1` } : {}), ...(g.tags ? { tags: g.tags } : {}), digest: 'abc123' });
      return send(res, 200, { hostname: g.name, cores: g.cpus, memory: g.maxmem / 1024 / 1024, ostype: 'debian', arch: 'amd64', rootfs: `local-lvm:vm-${vmid}-disk-0,size=8G`, net0: `name=eth0,bridge=vmbr0,hwaddr=BC:24:11:89:67:07,type=veth${g.staticIp ? `,ip=${g.staticIp},gw=192.168.20.1` : ',ip=dhcp'}`, unprivileged: 1, ...(g.tags ? { tags: g.tags } : {}), digest: 'def456' });
    }
    if (get && type === 'lxc' && sub === '/interfaces') {
      if (g.status !== 'running') return send(res, 200, null);
      return send(res, 200, [
        { name: 'lo', hwaddr: '00:00:00:00:00:00', 'hardware-address': '00:00:00:00:00:00', inet: '127.0.0.1/8', inet6: '::1/128', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'inet', prefix: 8 }, { 'ip-address': '::1', 'ip-address-type': 'inet6', prefix: 128 }] },
        { name: 'eth0', hwaddr: 'bc:24:11:89:67:07', 'hardware-address': 'bc:24:11:89:67:07', inet: `${g.liveIp}/24`, 'ip-addresses': [{ 'ip-address': g.liveIp, 'ip-address-type': 'inet', prefix: 24 }, { 'ip-address': 'fe80::be24:11ff:fe89:6707', 'ip-address-type': 'inet6', prefix: 64 }] },
      ]);
    }
    if (get && type === 'qemu' && sub === '/agent/network-get-interfaces') {
      if (!g.agent) return send(res, 500, null, 'No QEMU guest agent configured');
      if (g.status !== 'running') return send(res, 500, null, `VM ${vmid} is not running`);
      return send(res, 200, { result: [{ name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 }] }, { name: 'eth0', 'hardware-address': 'bc:24:11:2e:c5:4a', 'ip-addresses': [{ 'ip-address': g.liveIp, 'ip-address-type': 'ipv4', prefix: 24 }, { 'ip-address': 'fe80::be24:11ff:fe2e:c54a', 'ip-address-type': 'ipv6', prefix: 64 }] }] });
    }
    m = /^\/status\/(start|stop|shutdown|reboot)$/.exec(sub);
    if (req.method === 'POST' && m) {
      const action = m[1]!;
      const user = (req as IncomingMessage & { tokenId?: string }).tokenId!;
      if (opts.readOnlyTokens?.includes(user)) return send(res, 403, null, `Permission check failed (/vms/${vmid}, VM.PowerMgmt)`);
      if (body && !/^(timeout=\d+)?$/.test(body) && !/^\{.*\}$/.test(body)) return send(res, 400, null, 'Parameter verification failed.');
      const prefix = type === 'qemu' ? 'qm' : 'vz';
      const started = Date.now();
      const upid = `UPID:${node}:${(pid++).toString(16).toUpperCase().padStart(8, '0')}:0ABCDEF0:${Math.floor(started / 1000).toString(16).toUpperCase().padStart(8, '0')}:${prefix}${action}:${vmid}:${user}:`;
      let exitstatus = 'OK';
      if ((action === 'reboot' || action === 'shutdown') && g.status !== 'running') exitstatus = `${type === 'qemu' ? 'VM' : 'CT'} ${vmid} not running`;
      if (action === 'start' && g.status === 'running') exitstatus = `${type === 'qemu' ? 'VM' : 'CT'} ${vmid} already running`;
      const task: FakeTask = { upid, node, type: `${prefix}${action}`, id: String(vmid), user, started, endsAt: started + taskMs, exitstatus, log: [`${action} ${type} ${vmid}`] };
      tasks.push(task);
      if (exitstatus === 'OK') setTimeout(() => (g.status = action === 'start' || action === 'reboot' ? 'running' : 'stopped'), taskMs).unref();
      return send(res, 200, upid);
    }
    return undefined;
  }

  const server: Server = createServer({ key, cert: certPem }, delayed((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://fake');
      const body = Buffer.concat(chunks).toString();
      const entry: FakeProxmoxRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0, ...(body ? { body } : {}) };
      log.push(entry);
      if (!url.pathname.startsWith('/api2/json/')) {
        entry.status = 501;
        res.writeHead(501).end();
        return;
      }
      const id = tokenOf(req);
      if (!id) {
        entry.status = 401;
        res.writeHead(401, 'authentication failure', { 'content-type': 'text/plain' }).end('authentication failure');
        return;
      }
      (req as IncomingMessage & { tokenId?: string }).tokenId = id;
      const status = route(req, url, body, res);
      if (status === undefined) {
        entry.status = 501;
        res.writeHead(501, 'Method not implemented').end();
      } else entry.status = status;
    });
  }, opts.delayMs));
  const { port, stop } = await serveLoopback(server, opts.port);
  return {
    url: `https://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    fingerprint: new X509Certificate(certPem).fingerprint256,
    certPem,
    guests,
    tasks: () => tasks,
    requests: () => log,
    unknown: () => log.filter((r) => r.status === 501),
    setTaskMs: (ms) => void (taskMs = ms),
    setTaskStatusFails: (fails) => void (taskStatusFails = fails),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
