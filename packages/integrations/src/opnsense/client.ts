/**
 * A small client for OPNsense's REST API (HTTP Basic with an API key and secret, created under
 * System > Access > Users > API keys), shared/reference/peer-servers.md §3.2. It follows the
 * shapes of OPNsense 26.7 (opnsense/core master, 2026-08), and the snake_case routes its docs
 * list (`/api/firewall/filter/search_rule`): the router maps `search_rule` and `searchRule` to the
 * same action (Mvc/Router.php camelises `_`-separated path parts), so both work on 23.x and later;
 * the documented form is the one used here.
 *
 * - `GET  /api/core/firmware/status`: the last update check (`status` none|update|upgrade|error,
 *   `status_msg`, `status_reboot`, `all_packages`, `all_sets`, `product.product_version`).
 * - `GET  /api/diagnostics/system/system_time` (uptime, loadavg) and `system_resources` (memory).
 * - `GET  /api/interfaces/overview/interfaces_info`: `{ total, rowCount, current, rows }`.
 * - Firewall filter (the MVC rules, Firewall > Automation): `POST search_rule` (`current`,
 *   `rowCount`, `searchPhrase`), `POST add_rule` (`{ rule: {...} }` answered `{ result: "saved",
 *   uuid }` or `{ result: "failed", validations: { "rule.<field>": msg | msg[] } }`),
 *   `GET get_rule/<uuid>` (`{ rule: {...} }`, option fields as `{ key: { value, selected } }`;
 *   `[]` when unknown), `POST toggle_rule/<uuid>/<0|1>` (`{ result: "Enabled"|"Disabled",
 *   changed }`), `POST apply` (`{ status: "OK\n\n" }`).
 *
 * OPNsense 26.7 removed the savepoint/rollback actions (opnsense/core #10411): a rule is live as
 * soon as `apply` returns, and nothing reverts it. Everything read is bounded and checked: the
 * service's answer is never trusted for a shape.
 *
 * @example
 * const opn = createOpnsenseClient({ url: 'https://fw.lan', key, secret, http, timeoutMs: 10_000 });
 * const { rules } = await opn.rules({ limit: 50 }, signal);
 */
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpClient, type HttpResponse } from '@homelab-mcp/core/http';

/** Largest answer read. */
export const MAX_OPNSENSE_BYTES = 2 * 1024 * 1024;
/** Rules read at most from search_rule (then filtered and cut to the caller's limit). */
export const MAX_RULES_READ = 1000;
/** Interfaces read at most. */
export const MAX_INTERFACES = 200;
/** Addresses kept per interface and family. */
export const MAX_ADDRESSES = 16;

export interface OpnFirmware {
  product: string;
  version: string;
  /** none (up to date), update, upgrade (a new major), error, or unknown (no check yet). */
  status: 'none' | 'update' | 'upgrade' | 'error' | 'unknown';
  /** Packages to update (or sets to upgrade). */
  updates: number;
  needsReboot: boolean;
  /** OPNsense's own sentence: `There are 3 updates available, total download size is 42.1 MiB.` */
  message: string;
}

export interface OpnSystem {
  /** As OPNsense words it: `12 days 03:04:05`. */
  uptime: string | null;
  /** `0.10, 0.20, 0.15`. */
  loadAverage: string | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
}

export interface OpnInterface {
  /** OPNsense's name: lan, wan, opt1 ('' when not assigned). */
  name: string;
  device: string;
  description: string;
  status: string;
  enabled: boolean;
  ipv4: string[];
  ipv6: string[];
}

/** A firewall rule, in the API's own field values (strings as OPNsense keeps them). */
export interface OpnRule {
  uuid: string;
  enabled: boolean;
  action: string;
  interface: string;
  direction: string;
  ipprotocol: string;
  protocol: string;
  /** `any`, a network, an address or an alias; `!` in front when inverted. */
  source: string;
  sourcePort: string;
  destination: string;
  destinationPort: string;
  description: string;
  log: boolean;
  /** A rule of the legacy GUI (or an automatic one) that search_rule lists since 25.7: read-only here. */
  legacy: boolean;
}

/** What add_rule takes, in the API's field names. */
export interface OpnNewRule {
  enabled: boolean;
  action: 'pass' | 'block' | 'reject';
  interface: string;
  direction: 'in' | 'out' | 'any';
  ipprotocol: 'inet' | 'inet6' | 'inet46';
  protocol: string;
  source: string;
  sourcePort: string;
  destination: string;
  destinationPort: string;
  description: string;
  log: boolean;
}

/** An OPNsense error: `status` 401 when the key or secret is refused, 503 when unreachable. */
export class OpnsenseError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string, opts?: { cause?: unknown }) {
    super(status === 401 ? 'AUTH_REJECTED' : status === 503 ? 'UPSTREAM_UNAVAILABLE' : status === 404 ? 'NOT_FOUND' : 'UPSTREAM_ERROR', message, opts);
    this.name = 'OpnsenseError';
    this.status = status;
  }
}

/** add_rule refused the rule: OPNsense's messages per field (API field names: `source_net`). */
export class OpnsenseValidationError extends OpnsenseError {
  readonly validations: Record<string, string[]>;
  constructor(host: string, validations: Record<string, string[]>) {
    super(422, `OPNsense at ${host} refused the rule: ${Object.entries(validations)
      .map(([f, m]) => `${f}: ${m.join('; ')}`)
      .join('; ')}`);
    this.name = 'OpnsenseValidationError';
    this.validations = validations;
  }
}

export interface OpnsenseClient {
  host: string;
  firmware(signal?: AbortSignal): Promise<OpnFirmware>;
  system(signal?: AbortSignal): Promise<OpnSystem>;
  interfaces(signal?: AbortSignal): Promise<{ total: number; interfaces: OpnInterface[] }>;
  /** The rules search_rule returns (MVC rules, and since 25.7 the legacy ones marked `legacy`). */
  rules(opts: { searchPhrase?: string }, signal?: AbortSignal): Promise<{ total: number; rules: OpnRule[] }>;
  /** The rule, or undefined when the API does not manage one with this uuid. */
  getRule(uuid: string, signal?: AbortSignal): Promise<OpnRule | undefined>;
  /** The new rule's uuid; throws {@link OpnsenseValidationError} when OPNsense refuses a field. */
  addRule(rule: OpnNewRule, signal?: AbortSignal): Promise<string>;
  /** Sets the rule's enabled flag (explicitly, never a flip); false when OPNsense knows no such rule. */
  toggleRule(uuid: string, enabled: boolean, signal?: AbortSignal): Promise<boolean>;
  /** Loads the saved rules into pf (`filter reload`); throws unless OPNsense says OK. */
  apply(signal?: AbortSignal): Promise<void>;
}

export interface OpnsenseClientOptions {
  url: string;
  key: string;
  secret: string;
  http: HttpClient;
  timeoutMs: number;
  /** Told when OPNsense refuses the key (the service link's `failed`). */
  onAuthRejected?: () => void;
}

/** A UUID as OPNsense's models make them (Type::isUUID): the only thing put in a path. */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
// Control characters (C0 and C1, NEL included) and the Unicode line and paragraph separators
// become spaces: a hostile description must not start a new line in a preview the person
// approves ("...\nApproved by admin") nor in a list the model reads.
const str = (v: unknown, max = 200): string => (typeof v === 'string' ? v.slice(0, max).replace(/[\p{Cc}\u2028\u2029]/gu, ' ') : typeof v === 'number' && Number.isFinite(v) ? String(v) : '');
const num = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};
const flag = (v: unknown): boolean => v === true || v === 1 || v === '1';

/**
 * A field of get_rule: a plain value, or an option list `{ key: { value, selected: 0|1 } }`
 * (OptionField, InterfaceField, NetworkAliasField...), whose selected keys are the value.
 */
function fieldValue(v: unknown, max = 200): string {
  if (typeof v === 'string' || typeof v === 'number') return str(v, max);
  if (!isObj(v)) return '';
  const picked: string[] = [];
  for (const [k, o] of Object.entries(v).slice(0, 2000)) {
    if (isObj(o) && flag(o.selected) && k !== '') picked.push(str(k, 100));
    if (picked.length >= 20) break;
  }
  return picked.join(',').slice(0, max);
}

const negate = (net: string, not: unknown) => (flag(not) && net ? `!${net}` : net);

/** A rule from search_rule (plain values) or get_rule (option lists). */
function toRule(uuid: string, r: Record<string, unknown>): OpnRule {
  return {
    uuid: uuid.slice(0, 64),
    enabled: flag(fieldValue(r.enabled)),
    action: fieldValue(r.action, 20),
    interface: fieldValue(r.interface, 100),
    direction: fieldValue(r.direction, 10),
    ipprotocol: fieldValue(r.ipprotocol, 10),
    protocol: fieldValue(r.protocol, 30),
    source: negate(fieldValue(r.source_net), fieldValue(r.source_not)),
    sourcePort: fieldValue(r.source_port, 100),
    destination: negate(fieldValue(r.destination_net), fieldValue(r.destination_not)),
    destinationPort: fieldValue(r.destination_port, 100),
    description: str(r.description, 255),
    log: flag(fieldValue(r.log)),
    legacy: r.legacy === true || r.legacy === 1 || r.legacy === '1',
  };
}

/** A client for one OPNsense; it keeps no state. */
export function createOpnsenseClient(opts: OpnsenseClientOptions): OpnsenseClient {
  const base = new URL(opts.url);
  const host = base.host;
  const headers: Record<string, string> = { accept: 'application/json', authorization: `Basic ${Buffer.from(`${opts.key}:${opts.secret}`).toString('base64')}` };

  async function call(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    let res: HttpResponse;
    try {
      res = await opts.http.request({
        method,
        url: new URL(path, base.origin),
        // OPNsense reads a POST's parameters from a JSON body (an empty object when there are none).
        headers: method === 'POST' ? { ...headers, 'content-type': 'application/json' } : headers,
        ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
        timeoutMs: opts.timeoutMs,
        maxBytes: MAX_OPNSENSE_BYTES,
        redirect: 'manual',
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (isHttpError(err, 'unreachable') || isHttpError(err, 'timeout')) throw new OpnsenseError(503, `OPNsense at ${host} is unreachable: ${err.detail}`, { cause: err });
      if (isHttpError(err, 'too_large')) throw new OpnsenseError(502, `OPNsense at ${host} answered ${path.split('/').slice(0, 5).join('/')} with more than ${MAX_OPNSENSE_BYTES} bytes; not read`);
      throw err;
    }
    if (res.status === 401 || res.status === 403) {
      opts.onAuthRejected?.();
      throw new OpnsenseError(
        401,
        res.status === 401
          ? `OPNsense at ${host} refused the API key and secret (integrations.opnsense.key and integrations.opnsense.secret)`
          : `OPNsense at ${host} refused ${path} for this API key: its user lacks the privilege (integrations.opnsense.key; System > Access > Users)`,
      );
    }
    // No path beyond the action in messages: a uuid is the caller's, the rest is ours.
    const where = path.split('/').slice(0, 5).join('/');
    // The GUI redirects http to https by default; credentials are not sent on to wherever that points.
    if (res.status >= 300 && res.status < 400) throw new OpnsenseError(502, `OPNsense at ${host} redirects ${where} (HTTP ${res.status}${res.headers.location ? ` to ${str(res.headers.location.replace(/[?#].*$/, ''), 120)}` : ''}): set integrations.opnsense.url to the address it redirects to (usually https://)`);
    if (res.status === 404) throw new OpnsenseError(404, `OPNsense at ${host}: ${where} not found (HTTP 404; is this OPNsense, at its web GUI's address?)`);
    if (res.status !== 200) throw new OpnsenseError(res.status >= 500 ? 502 : res.status, `OPNsense at ${host}: HTTP ${res.status} from ${where}`);
    try {
      return res.json();
    } catch {
      throw new OpnsenseError(502, `OPNsense at ${host} answered ${where} with something that is not JSON (is this OPNsense's web GUI address?)`);
    }
  }

  return {
    host,
    async firmware(signal) {
      const r = await call('GET', '/api/core/firmware/status', undefined, signal);
      if (!isObj(r)) throw new OpnsenseError(502, `OPNsense at ${host}: /api/core/firmware/status did not answer an object`);
      const product = isObj(r.product) ? r.product : {};
      const st = str(r.status, 20);
      const count = (v: unknown) => (isObj(v) ? Object.keys(v).length : Array.isArray(v) ? v.length : 0);
      const updates = count(r.all_packages) || count(r.all_sets);
      // `none` with no product_check means no check ran yet: not "up to date".
      const status: OpnFirmware['status'] = st === 'none' && !isObj(product.product_check) && !('all_packages' in r) ? 'unknown' : st === 'none' || st === 'update' || st === 'upgrade' || st === 'error' ? st : 'unknown';
      return {
        product: str(product.product_name, 50) || 'OPNsense',
        version: str(product.product_version, 50),
        status,
        updates: status === 'update' || status === 'upgrade' ? updates : 0,
        needsReboot: flag(r.status_reboot),
        message: str(r.status_msg, 300),
      };
    },
    async system(signal) {
      const [time, res] = await Promise.all([call('GET', '/api/diagnostics/system/system_time', undefined, signal), call('GET', '/api/diagnostics/system/system_resources', undefined, signal)]);
      const t = isObj(time) ? time : {};
      const mem = isObj(res) && isObj(res.memory) ? res.memory : {};
      return { uptime: str(t.uptime, 60) || null, loadAverage: str(t.loadavg, 60) || null, memoryUsedBytes: num(mem.used), memoryTotalBytes: num(mem.total) };
    },
    async interfaces(signal) {
      const r = await call('GET', '/api/interfaces/overview/interfaces_info', undefined, signal);
      const rows = isObj(r) && Array.isArray(r.rows) ? r.rows.slice(0, MAX_INTERFACES).filter(isObj) : [];
      const addrs = (v: unknown) =>
        Array.isArray(v)
          ? v
              .slice(0, MAX_ADDRESSES)
              .map((a) => (isObj(a) ? str(a.ipaddr, 60) : str(a, 60)))
              .filter(Boolean)
          : [];
      return {
        total: isObj(r) ? (num(r.total) ?? rows.length) : 0,
        interfaces: rows.map((i) => ({ name: str(i.identifier, 32), device: str(i.device, 32), description: str(i.description, 100), status: str(i.status, 30) || 'unknown', enabled: flag(i.enabled), ipv4: addrs(i.ipv4), ipv6: addrs(i.ipv6) })),
      };
    },
    async rules({ searchPhrase }, signal) {
      const r = await call('POST', '/api/firewall/filter/search_rule', { current: 1, rowCount: MAX_RULES_READ, ...(searchPhrase ? { searchPhrase } : {}) }, signal);
      const rows = isObj(r) && Array.isArray(r.rows) ? r.rows.slice(0, MAX_RULES_READ).filter(isObj) : [];
      return { total: isObj(r) ? (num(r.total) ?? rows.length) : 0, rules: rows.map((x) => toRule(str(x.uuid, 64), x)) };
    },
    async getRule(uuid, signal) {
      if (!UUID_RE.test(uuid)) throw new OpnsenseError(400, `uuid: expected a rule's UUID, got ${JSON.stringify(uuid.slice(0, 64))}`);
      const r = await call('GET', `/api/firewall/filter/get_rule/${uuid}`, undefined, signal);
      // An unknown uuid is answered `[]`.
      if (!isObj(r) || !isObj(r.rule)) return undefined;
      return toRule(uuid, r.rule);
    },
    async addRule(rule, signal) {
      const body = {
        rule: {
          enabled: rule.enabled ? '1' : '0',
          action: rule.action,
          interface: rule.interface,
          direction: rule.direction,
          ipprotocol: rule.ipprotocol,
          protocol: rule.protocol,
          source_net: rule.source.replace(/^!/, ''),
          source_not: rule.source.startsWith('!') ? '1' : '0',
          source_port: rule.sourcePort,
          destination_net: rule.destination.replace(/^!/, ''),
          destination_not: rule.destination.startsWith('!') ? '1' : '0',
          destination_port: rule.destinationPort,
          description: rule.description,
          log: rule.log ? '1' : '0',
        },
      };
      const r = await call('POST', '/api/firewall/filter/add_rule', body, signal);
      if (isObj(r) && r.result === 'saved' && typeof r.uuid === 'string' && UUID_RE.test(r.uuid)) return r.uuid;
      if (isObj(r) && isObj(r.validations)) {
        // The field names are OPNsense's too: one line each (no control characters), and kept in
        // a Map so that a `__proto__` field is a field, not the record's prototype.
        const out = new Map<string, string[]>();
        for (const [k, v] of Object.entries(r.validations).slice(0, 30)) {
          const msgs = (Array.isArray(v) ? v : [v]).slice(0, 5).map((m) => str(m, 300)).filter(Boolean);
          const field = str(k.replace(/^rule\./, ''), 60);
          if (msgs.length && field) out.set(field, [...(out.get(field) ?? []), ...msgs]);
        }
        if (out.size) throw new OpnsenseValidationError(host, Object.fromEntries(out));
      }
      throw new OpnsenseError(502, `OPNsense at ${host}: add_rule did not save the rule (result ${JSON.stringify(isObj(r) ? str(r.result, 40) : typeof r)})`);
    },
    async toggleRule(uuid, enabled, signal) {
      if (!UUID_RE.test(uuid)) throw new OpnsenseError(400, `uuid: expected a rule's UUID, got ${JSON.stringify(uuid.slice(0, 64))}`);
      const r = await call('POST', `/api/firewall/filter/toggle_rule/${uuid}/${enabled ? 1 : 0}`, {}, signal);
      return isObj(r) && (r.result === 'Enabled' || r.result === 'Disabled');
    },
    async apply(signal) {
      const r = await call('POST', '/api/firewall/filter/apply', {}, signal);
      const status = isObj(r) ? str(r.status, 200).trim() : '';
      if (status !== 'OK') throw new OpnsenseError(502, `OPNsense at ${host}: apply did not load the rules (status ${JSON.stringify(status.slice(0, 80))}); the change is saved but may not be live`);
    },
  };
}
