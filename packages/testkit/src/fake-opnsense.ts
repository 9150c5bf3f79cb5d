/**
 * A fake OPNsense for tests, since OPNsense (FreeBSD, configd, pf) cannot run here: a real HTTP
 * server on 127.0.0.1 answering the REST API as OPNsense 26.7's controllers do
 * (opnsense/core: Firewall/Api/FilterController, FilterBaseController, the MVC base's
 * addBase/getBase/toggleBase/searchRecordsetBase, Core/Api/FirmwareController::statusAction,
 * Diagnostics/Api/SystemController, Interfaces/Api/OverviewController) and peer-servers.md §3.2:
 *
 * - HTTP Basic with the API key and secret; anything else is 401 `{"status":401,"message":"Authentication Failed"}`.
 * - `GET /api/core/firmware/status`, `GET /api/diagnostics/system/system_time|system_resources`,
 *   `GET /api/interfaces/overview/interfaces_info`.
 * - `POST /api/firewall/filter/search_rule` (`current`, `rowCount`, `searchPhrase`): the MVC
 *   rules and, as since 25.7, the legacy GUI rules marked `legacy: true`.
 * - `POST add_rule` (`{ rule }`, validated as the model does for the fields tests use: interface,
 *   networks, ports only with TCP/UDP, description length), `GET get_rule/<uuid>` (option fields
 *   as `{ key: { value, selected } }`, networks and ports as plain strings, `[]` for an unknown uuid), `POST toggle_rule/<uuid>/<0|1>`,
 *   `POST apply` (`{ status: "OK\n\n" }`; the rules saved since are then `applied`).
 * - The documented snake_case routes only: anything else (camelCase, another path, a wrong
 *   method) is recorded in `unknown()` and answered 404 as OPNsense answers an unknown action;
 *   a test asserts the list stays empty.
 * - `override(path, answer)` replaces one endpoint's answer (a hostile or broken firewall).
 *
 * @example
 * await using opn = await startFakeOpnsense();
 * opn.rules[0].enabled // '1'
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { serveLoopback } from './serve.ts';

export interface FakeOpnRule {
  uuid: string;
  enabled: '0' | '1';
  action: 'pass' | 'block' | 'reject';
  interface: string;
  direction: 'in' | 'out' | 'any';
  ipprotocol: 'inet' | 'inet6' | 'inet46';
  protocol: string;
  source_net: string;
  source_not: '0' | '1';
  source_port: string;
  destination_net: string;
  destination_not: '0' | '1';
  destination_port: string;
  description: string;
  log: '0' | '1';
  /** Whether pf runs it as saved (false between a change and `apply`). */
  applied: boolean;
}

export interface FakeOpnRequest {
  method: string;
  path: string;
  body?: unknown;
  unknown?: boolean;
}

export interface FakeOpnsenseOptions {
  key?: string;
  secret?: string;
  port?: number;
}

export interface FakeOpnsense extends AsyncDisposable {
  url: string;
  host: string;
  key: string;
  secret: string;
  rules: FakeOpnRule[];
  /** Times `apply` ran. */
  applies(): number;
  /** Replaces the answer of `path` (without a uuid: `/api/firewall/filter/get_rule`) with status and body (an object, or raw text). */
  override(path: string, answer: { status?: number; body: unknown } | undefined): void;
  requests(): FakeOpnRequest[];
  unknown(): FakeOpnRequest[];
  stop(): Promise<void>;
}

const INTERFACES: Record<string, string> = { lan: 'LAN', wan: 'WAN', opt1: 'IOT' };
const PROTOCOLS = ['any', 'TCP', 'UDP', 'TCP/UDP', 'ICMP', 'IPV6-ICMP', 'ESP', 'AH', 'GRE', 'IGMP', 'OSPF', 'PIM', 'SCTP', 'CARP', 'PFSYNC'];
const ALIASES = ['nas_hosts', 'bogons'];
const WELL_KNOWN = ['http', 'https', 'ssh', 'dns', 'domain', 'ntp', 'smtp'];

function defaultRules(): FakeOpnRule[] {
  const base = { direction: 'in' as const, ipprotocol: 'inet' as const, source_not: '0' as const, source_port: '', destination_not: '0' as const, log: '0' as const, applied: true };
  return [
    { ...base, uuid: '0d1f5a3e-7c41-4b8e-9a55-2f6c1e0b7a01', enabled: '1', action: 'pass', interface: 'lan', protocol: 'TCP', source_net: 'lan', destination_net: '192.168.1.10', destination_port: '443', description: 'Allow NAS https from LAN', log: '1' },
    { ...base, uuid: '5b7e2c90-1d3a-4f62-8e1b-9c0a4d6f2b02', enabled: '1', action: 'block', interface: 'opt1', protocol: 'any', source_net: 'opt1', destination_net: 'lan', destination_port: '', description: 'IoT may not reach LAN' },
    { ...base, uuid: '9e4c1b27-3f8d-4a05-b6c2-7d1e0f9a3c03', enabled: '0', action: 'pass', interface: 'wan', protocol: 'UDP', source_net: 'any', destination_net: 'wanip', destination_port: '51820', description: 'WireGuard (off)' },
  ];
}

/** A legacy GUI rule as list_non_mvc_rules.php renders it (uuid from its label, read-only). */
const LEGACY = { uuid: '02f4ab8ff6a3e5a1c2d3e4f5a6b7c8d9', enabled: '1', action: 'pass', '%action': 'pass', interface: 'LAN', direction: 'in', ipprotocol: 'inet', protocol: '', source_net: 'lan', source_not: '0', source_port: '', destination_net: 'any', destination_not: '0', destination_port: '', description: 'Default allow LAN to any rule', legacy: true, is_automatic: false, sort_order: '400000.1000001' };

const options = (all: Record<string, string>, picked: string) => Object.fromEntries(Object.entries(all).map(([k, v]) => [k, { value: v, selected: picked.split(',').includes(k) ? 1 : 0 }]));

/** get_rule's rendering: option fields as option lists, the rest as strings. */
function rendered(r: FakeOpnRule) {
  return {
    enabled: r.enabled,
    statetype: options({ keep: 'keep state', sloppy: 'sloppy state', none: 'no state' }, 'keep'),
    action: options({ pass: 'Pass', block: 'Block', reject: 'Reject' }, r.action),
    quick: '1',
    interfacenot: '0',
    interface: options(INTERFACES, r.interface),
    direction: options({ in: 'In', out: 'Out', any: 'Both' }, r.direction),
    ipprotocol: options({ inet: 'IPv4', inet6: 'IPv6', inet46: 'any' }, r.ipprotocol),
    protocol: options(Object.fromEntries(PROTOCOLS.map((p) => [p, p])), r.protocol),
    // NetworkAliasField and a single PortField render as their plain value (getNodeOptions).
    source_net: r.source_net,
    source_not: r.source_not,
    source_port: r.source_port,
    destination_net: r.destination_net,
    destination_not: r.destination_not,
    destination_port: r.destination_port,
    log: r.log,
    description: r.description,
  };
}

const isNet = (v: string) => v === 'any' || v === '(self)' || ALIASES.includes(v) || Object.keys(INTERFACES).some((k) => v === k || v === `${k}ip`) || /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(v) || /^[0-9a-f:]+(\/\d{1,3})?$/i.test(v);
const isPort = (v: string) => v === '' || /^\d{1,5}([-:]\d{1,5})?$/.test(v) || WELL_KNOWN.includes(v);

/** The model's validation of a new rule: `{ "rule.<field>": message }`. */
function validate(r: Record<string, unknown>): Record<string, string> {
  const v: Record<string, string> = {};
  const s = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : '');
  if (!['pass', 'block', 'reject'].includes(s('action'))) v['rule.action'] = 'Option not in list.';
  if (s('interface') && !s('interface').split(',').every((i) => i in INTERFACES)) v['rule.interface'] = 'option not in list';
  if (!['in', 'out', 'any'].includes(s('direction'))) v['rule.direction'] = 'Option not in list.';
  if (!['inet', 'inet6', 'inet46'].includes(s('ipprotocol'))) v['rule.ipprotocol'] = 'Option not in list.';
  if (!PROTOCOLS.includes(s('protocol'))) v['rule.protocol'] = 'Option not in list.';
  for (const f of ['source_net', 'destination_net']) if (!isNet(s(f))) v[`rule.${f}`] = `${s(f)} is not a valid source IP address or alias.`.replace('source', f.startsWith('source') ? 'source' : 'destination');
  for (const f of ['source_port', 'destination_port']) {
    if (!isPort(s(f))) v[`rule.${f}`] = 'Please specify a valid portnumber, name, alias or range.';
    else if (s(f) && !['TCP', 'UDP', 'TCP/UDP'].includes(s('protocol'))) v[`rule.${f}`] = 'Source / destination ports can only be used with tcp/udp';
  }
  if (s('description').length > 255) v['rule.description'] = 'Description should be a string between 1 and 255 characters';
  return v;
}

/** Starts the fake OPNsense on a free 127.0.0.1 port with three rules on three interfaces and one legacy rule. */
export async function startFakeOpnsense(opts: FakeOpnsenseOptions = {}): Promise<FakeOpnsense> {
  const key = opts.key ?? 'w86XNZob/8Oq8aC5r0kbNarNtdpoQU781fyoeaOBQsBwkXUt';
  const secret = opts.secret ?? 'XeD26XVrJ5ilAc/EmZfRE1j2vb4IYbF9Vr2kJLUvzOQpe3Z2';
  const auth = `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;
  const log: FakeOpnRequest[] = [];
  const rules = defaultRules();
  const overrides = new Map<string, { status?: number; body: unknown }>();
  let applies = 0;

  const firmware = () => ({
    product: { product_name: 'OPNsense', product_version: '26.1.2', product_abi: '26.1', product_arch: 'amd64', product_mirror: 'https://pkg.opnsense.org/${ABI}', product_latest: '26.1.3', product_check: { upgrade_packages: [] } },
    all_packages: {
      'opnsense': { reason: 'upgrade', old: '26.1.2', new: '26.1.3', repository: 'OPNsense', name: 'opnsense' },
      'openssl': { reason: 'upgrade', old: '3.0.15', new: '3.0.16', repository: 'OPNsense', name: 'openssl' },
      'unbound': { reason: 'upgrade', old: '1.22.0', new: '1.23.0', repository: 'OPNsense', name: 'unbound' },
    },
    all_sets: {},
    needs_reboot: '0',
    status_reboot: '0',
    status: 'update',
    status_msg: 'There are 3 updates available, total download size is 42.1 MiB.',
  });

  const interfaces = () => {
    const rows = [
      { identifier: 'lan', device: 'igc1', description: 'LAN', status: 'up', enabled: true, link_type: 'static', ipv4: [{ ipaddr: '192.168.1.1/24' }], ipv6: [{ ipaddr: 'fd00:1::1/64' }], macaddr: '00:f0:cb:00:00:01', vlan_tag: null },
      { identifier: 'wan', device: 'igc0', description: 'WAN', status: 'up', enabled: true, link_type: 'dhcp', ipv4: [{ ipaddr: '203.0.113.7/24' }], macaddr: '00:f0:cb:00:00:00', vlan_tag: null },
      { identifier: 'opt1', device: 'vlan0.20', description: 'IOT', status: 'no carrier', enabled: true, link_type: 'static', ipv4: [{ ipaddr: '192.168.20.1/24' }], macaddr: '00:f0:cb:00:00:01', vlan_tag: '20' },
      { identifier: '', device: 'igc2', description: 'Unassigned Interface', status: 'down', macaddr: '00:f0:cb:00:00:02' },
    ];
    return { total: rows.length, rowCount: rows.length, current: 1, rows };
  };

  function answer(method: string, path: string, body: Record<string, unknown>): { status: number; body: unknown } | undefined {
    const get = method === 'GET';
    const post = method === 'POST';
    if (get && path === '/api/core/firmware/status') return { status: 200, body: firmware() };
    if (get && path === '/api/diagnostics/system/system_time') return { status: 200, body: { uptime: '12 days 03:04:05', datetime: 'Mon Dec 7 22:00:00 UTC 2026', boottime: 'Wed Nov 25 18:55:55 UTC 2026', config: 'Mon Dec 7 21:00:00 UTC 2026', loadavg: '0.12, 0.20, 0.18' } };
    if (get && path === '/api/diagnostics/system/system_resources') return { status: 200, body: { memory: { total: '8589934592', total_frmt: '8192', used: 2147483648, used_frmt: '2048' } } };
    if (get && path === '/api/interfaces/overview/interfaces_info') return { status: 200, body: interfaces() };
    if (post && path === '/api/firewall/filter/search_rule') {
      const rowCount = typeof body.rowCount === 'number' ? body.rowCount : 9999;
      const current = typeof body.current === 'number' ? body.current : 1;
      const phrase = typeof body.searchPhrase === 'string' ? body.searchPhrase.toLowerCase() : '';
      const all = [...rules.map(({ applied: _a, ...r }) => ({ ...r, '%action': r.action, sort_order: '400000.0000100', legacy: undefined })), LEGACY].map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
      const hits = phrase ? all.filter((r) => phrase.split(/\s+/).every((t) => Object.values(r).some((v) => String(v).toLowerCase().includes(t)))) : all;
      const rows = hits.slice((current - 1) * rowCount, current * rowCount);
      return { status: 200, body: { total: hits.length, rowCount: rows.length, current, rows } };
    }
    if (post && path === '/api/firewall/filter/add_rule') {
      const r = body.rule;
      if (!r || typeof r !== 'object' || Array.isArray(r)) return { status: 200, body: { result: 'failed' } };
      const v = validate(r as Record<string, unknown>);
      if (Object.keys(v).length) return { status: 200, body: { result: 'failed', validations: v } };
      const x = r as Record<string, string>;
      const uuid = randomUUID();
      rules.push({ uuid, enabled: x.enabled === '0' ? '0' : '1', action: x.action as FakeOpnRule['action'], interface: x.interface ?? '', direction: x.direction as FakeOpnRule['direction'], ipprotocol: x.ipprotocol as FakeOpnRule['ipprotocol'], protocol: x.protocol ?? 'any', source_net: x.source_net ?? 'any', source_not: x.source_not === '1' ? '1' : '0', source_port: x.source_port ?? '', destination_net: x.destination_net ?? 'any', destination_not: x.destination_not === '1' ? '1' : '0', destination_port: x.destination_port ?? '', description: x.description ?? '', log: x.log === '1' ? '1' : '0', applied: false });
      return { status: 200, body: { result: 'saved', uuid } };
    }
    let m = /^\/api\/firewall\/filter\/get_rule\/([^/]+)$/.exec(path);
    if (get && m) {
      const r = rules.find((x) => x.uuid === m![1]);
      return { status: 200, body: r ? { rule: rendered(r) } : [] };
    }
    m = /^\/api\/firewall\/filter\/toggle_rule\/([^/]+)(?:\/([01]))?$/.exec(path);
    if (post && m) {
      const r = rules.find((x) => x.uuid === m![1]);
      if (!r) return { status: 200, body: { result: 'failed' } };
      const want = m[2] === undefined ? (r.enabled === '1' ? '0' : '1') : (m[2] as '0' | '1');
      const changed = want !== r.enabled;
      r.enabled = want;
      if (changed) r.applied = false;
      return { status: 200, body: { result: want === '1' ? 'Enabled' : 'Disabled', changed } };
    }
    if (post && path === '/api/firewall/filter/apply') {
      applies++;
      for (const r of rules) r.applied = true;
      return { status: 200, body: { status: 'OK\n\n' } };
    }
    return undefined;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json; charset=UTF-8' }).end(text);
      };
      if (req.headers.authorization !== auth) return send(401, { status: 401, message: 'Authentication Failed' });
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0]!;
      let body: Record<string, unknown> = {};
      const raw = Buffer.concat(chunks).toString('utf8');
      if (method === 'POST') {
        try {
          const parsed = JSON.parse(raw || '{}') as unknown;
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
        } catch {
          log.push({ method, path, body: raw.slice(0, 200), unknown: true });
          return send(400, { status: 400, message: 'Invalid JSON' });
        }
      }
      const over = overrides.get(path.replace(/\/[0-9a-f-]{36}(\/[01])?$/i, ''));
      const a = answer(method, path, body);
      log.push({ method, path, ...(method === 'POST' ? { body } : {}), ...(a === undefined ? { unknown: true } : {}) });
      if (over) return send(over.status ?? 200, over.body);
      if (a === undefined) return send(404, { errorMessage: 'Endpoint not found', errorTitle: 'Error' });
      send(a.status, a.body);
    });
  });
  const { port, stop } = await serveLoopback(server, opts.port);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    key,
    secret,
    rules,
    applies: () => applies,
    override: (path, ans) => void (ans ? overrides.set(path, ans) : overrides.delete(path)),
    requests: () => [...log],
    unknown: () => log.filter((r) => r.unknown),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
