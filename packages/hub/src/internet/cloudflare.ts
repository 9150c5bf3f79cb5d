/**
 * cloudflare_dns and cloudflare_tunnels: the DNS records of a Cloudflare zone (list, create,
 * update, delete) and the health of the account's Cloudflare Tunnels, through the API v4
 * (`internet.endpoints.cloudflare`, a Bearer token from `internet.cloudflare.token`).
 *
 * cloudflare_dns is one tool whose class depends on `action`: `list` is a read, anything else a
 * write the gate holds with a preview of the record before and after (the preview may read
 * Cloudflare, never change it). The tools are listed whether or not Cloudflare is configured (a
 * reload may add it); without `internet.cloudflare` they refuse, saying what to set.
 *
 * @example
 * internetTools(deps) // [..., ...cloudflareTools(deps)]
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { isHttpError } from '@homelab-mcp/core/http';
import type { CatalogTool } from '../catalog/types.ts';
import type { Preview } from '../policy/gate.ts';
import type { InternetDeps } from './deps.ts';

/** The record types cloudflare_dns creates and changes (any type can be listed and deleted). */
export const CLOUDFLARE_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT'] as const;
const PROXIABLE = new Set(['A', 'AAAA', 'CNAME']);
const ACTIONS = ['list', 'create', 'update', 'delete'] as const;
type Action = (typeof ACTIONS)[number];
const RECORD_KEYS = ['id', 'type', 'name', 'content', 'ttl', 'proxied', 'priority', 'comment'] as const;

/** Cloudflare's page sizes: DNS records up to 5,000,000 a page (100 is their default), zones and accounts 5 to 50. */
const PER_PAGE = 100;
const PER_PAGE_SMALL = 50;
/** Records read by one list (5 pages; about 50 KB of text); more are counted, not shown. */
const MAX_RECORDS = 500;
const MAX_TUNNELS = 200;
/** Tunnels whose connections are looked up (one request each). */
const MAX_CONNECTION_LOOKUPS = 25;
const TIMEOUT_MS = 20_000;
const MAX_BYTES = 8 * 1024 * 1024;
const MAX_COMMENT = 100;
const MAX_TXT = 2048;
const HOSTNAME = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const NOT_CONFIGURED = 'Cloudflare is not configured: set internet.cloudflare.token in hub.yaml (an API token with Zone:Read and Zone:DNS:Edit, and Account:Cloudflare Tunnel:Read for cloudflare_tunnels).';

/** A failure whose message is safe to show: it names the argument or the config key, never the token. */
class CloudflareError extends Error {
  readonly status: number | undefined;
  readonly codes: number[];
  constructor(message: string, opts: { status?: number; codes?: number[] } = {}) {
    super(message);
    this.name = 'CloudflareError';
    this.status = opts.status;
    this.codes = opts.codes ?? [];
  }
}

/** A DNS record as Cloudflare answers it (the fields this module reads). */
interface CfRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
  proxied?: boolean;
  priority?: number;
  comment?: string | null;
}
interface Zone {
  id: string;
  name: string;
}
/** What a write would make the record. */
interface RecordValues {
  type: string;
  name: string;
  content: string;
  ttl: number;
  proxied?: boolean;
  priority?: number;
  comment?: string | null;
}
type RecordArg = Partial<{ id: string; type: string; name: string; content: string; ttl: number; proxied: boolean; priority: number; comment: string }>;
interface ResultInfo {
  page?: number;
  total_pages?: number;
  total_count?: number;
}

const ok = (text: string, data?: Record<string, unknown>): CallToolResult => ({ content: [{ type: 'text', text }], ...(data ? { structuredContent: data } : {}) });
const fail = (text: string): CallToolResult => ({ content: [{ type: 'text', text }], isError: true });

/** `1` is Cloudflare's "automatic" TTL. */
const ttlText = (ttl: number) => (ttl === 1 ? 'auto' : `${ttl} s`);
const short = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} characters)` : s);

/** `A www.example.com → 192.0.2.10 (ttl auto, proxied)`. */
export function recordText(r: RecordValues): string {
  const content = r.type === 'TXT' ? JSON.stringify(short(r.content)) : short(r.content);
  const proxy = PROXIABLE.has(r.type) ? (r.proxied ? ', proxied' : ', DNS only') : '';
  const comment = r.comment ? `, comment ${JSON.stringify(short(r.comment, 100))}` : '';
  return `${r.type} ${r.name} → ${r.priority !== undefined ? `${r.priority} ` : ''}${content} (ttl ${ttlText(r.ttl)}${proxy}${comment})`;
}

/**
 * The `record` argument checked for shape: each known field of the right JSON type, no other.
 * Returns the fields, or the error naming the argument.
 */
export function readRecordArg(v: unknown): RecordArg | string {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'record: expected an object such as { "type": "A", "name": "www", "content": "192.0.2.10" }';
  const out: RecordArg = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (!(RECORD_KEYS as readonly string[]).includes(k)) return `record.${k}: unknown field (expected ${RECORD_KEYS.join(', ')})`;
    if (x === undefined) continue;
    if (k === 'ttl' || k === 'priority') {
      if (typeof x !== 'number' || !Number.isInteger(x)) return `record.${k}: expected an integer, got ${JSON.stringify(x)}`;
      out[k] = x;
    } else if (k === 'proxied') {
      if (typeof x !== 'boolean') return `record.proxied: expected true or false, got ${JSON.stringify(x)}`;
      out.proxied = x;
    } else {
      if (typeof x !== 'string') return `record.${k}: expected a string, got ${JSON.stringify(x)}`;
      if (k === 'id' && !/^[0-9a-f]{32}$/.test(x)) return `record.id: expected a Cloudflare record id (32 hex digits), got ${JSON.stringify(short(x, 80))}`;
      if (k === 'type') {
        const t = x.toUpperCase();
        if (!/^[A-Z0-9]{1,10}$/.test(t)) return `record.type: expected a DNS record type such as A, AAAA, CNAME, MX or TXT, got ${JSON.stringify(short(x, 40))}`;
        out.type = t;
      } else out[k as 'id' | 'name' | 'content' | 'comment'] = x;
    }
  }
  return out;
}

/**
 * `name` as a full name in `zone`: `@` is the apex, a name without a dot is relative (`www` →
 * `www.example.com`), a dotted name must end in the zone (so that `www.other.org` is refused,
 * not silently made `www.other.org.example.com`).
 */
export function fullName(name: string, zone: string, arg = 'record.name'): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  if (n === '@' || n === zone) return zone;
  const full = n.includes('.') ? n : `${n}.${zone}`;
  if (!HOSTNAME.test(full) || full.length > 253) return refuse(`${arg}: ${JSON.stringify(short(name, 80))} is not a DNS name (letters, digits, - and _ in labels of at most 63, a leading *. for a wildcard)`);
  if (!full.endsWith(`.${zone}`)) return refuse(`${arg}: ${n} is not in zone ${zone} (give a name ending in .${zone}, a name without dots such as www, or @ for the zone itself)`);
  return full;
}
/** Throws the error whose message names the argument (for helpers that return a value otherwise). */
function refuse(message: string): never {
  throw new CloudflareError(message);
}

/** Checks what a create or update would write; the error names the field. */
export function checkValues(r: RecordValues): string | undefined {
  if (!(CLOUDFLARE_TYPES as readonly string[]).includes(r.type)) return `record.type: cloudflare_dns creates and changes ${CLOUDFLARE_TYPES.join(', ')} records, not ${r.type}`;
  const c = r.content;
  if (r.type === 'A' && !isIPv4(c)) return `record.content: an A record needs an IPv4 address, got ${JSON.stringify(short(c, 80))}`;
  if (r.type === 'AAAA' && !isIPv6(c)) return `record.content: an AAAA record needs an IPv6 address, got ${JSON.stringify(short(c, 80))}`;
  if (r.type === 'CNAME' || r.type === 'MX') {
    const host = c.trim().toLowerCase().replace(/\.$/, '');
    if (!HOSTNAME.test(host) || host.length > 253 || isIPv4(host)) return `record.content: a${r.type === 'MX' ? 'n MX' : ' CNAME'} record needs a host name (such as ${r.type === 'MX' ? 'mail.example.com' : 'target.example.com'}), got ${JSON.stringify(short(c, 80))}`;
    if (r.type === 'CNAME' && host === r.name) return `record.content: a CNAME cannot point at itself (${r.name})`;
  }
  if (r.type === 'TXT' && (c.length === 0 || c.length > MAX_TXT)) return `record.content: a TXT record needs 1 to ${MAX_TXT} characters, got ${c.length}`;
  if (r.ttl !== 1 && (r.ttl < 60 || r.ttl > 86_400)) return `record.ttl: expected 1 (auto) or 60 to 86400 seconds, got ${r.ttl}`;
  if (r.proxied && !PROXIABLE.has(r.type)) return `record.proxied: only A, AAAA and CNAME records can be proxied, not ${r.type}`;
  if (r.proxied && r.ttl !== 1) return `record.ttl: a proxied record's TTL is always 1 (auto), got ${r.ttl} (set record.proxied: false for a DNS-only record with its own TTL)`;
  if (r.type === 'MX' && (r.priority === undefined || r.priority < 0 || r.priority > 65_535)) return `record.priority: an MX record needs a priority from 0 to 65535${r.priority === undefined ? '' : `, got ${r.priority}`}`;
  if (r.type !== 'MX' && r.priority !== undefined) return `record.priority: only MX records have a priority, not ${r.type}`;
  if (r.comment && r.comment.length > MAX_COMMENT) return `record.comment: at most ${MAX_COMMENT} characters, got ${r.comment.length}`;
  return undefined;
}

/** The class of one cloudflare_dns call: only an explicit `list` is a read (anything else is held, fail-closed). */
export function cloudflareDnsClass(args: Record<string, unknown>): 'read' | 'write' {
  return args.action === 'list' ? 'read' : 'write';
}

/** The Cloudflare API v4 for one call: the envelope unwrapped, errors in words that name the key. */
function client(deps: InternetDeps, signal?: AbortSignal) {
  const cfg = deps.config();
  const cf = cfg.cloudflare;
  if (!cf) throw new CloudflareError(NOT_CONFIGURED);
  const { token, accountId } = cf;
  const base = cfg.endpoints.cloudflare.replace(/\/+$/, '');
  const hide = (s: string) => (token.length >= 4 ? s.split(token).join('***') : s);
  async function request<T>(method: string, path: string, opts: { query?: Record<string, string | number>; body?: unknown; need: string; what: string }): Promise<{ result: T; info: ResultInfo | undefined }> {
    const url = new URL(`${base}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, String(v));
    let res;
    try {
      res = await deps.http.request({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        timeoutMs: TIMEOUT_MS,
        maxBytes: MAX_BYTES,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (isHttpError(err)) throw new CloudflareError(`Cloudflare (internet.endpoints.cloudflare) could not be asked to ${opts.what}: ${err.message}`);
      throw err;
    }
    let env: { success?: boolean; errors?: Array<{ code?: number; message?: string }>; result?: T; result_info?: ResultInfo };
    try {
      env = res.json();
    } catch {
      throw new CloudflareError(`Cloudflare answered HTTP ${res.status} without its JSON envelope when asked to ${opts.what} (is internet.endpoints.cloudflare the API base, …/client/v4?)`, { status: res.status });
    }
    const errors = Array.isArray(env?.errors) ? env.errors : [];
    const codes = errors.map((e) => Number(e.code)).filter(Number.isFinite);
    // Hidden before the cut: a token cut in two would no longer match, and its first half show.
    const said = errors.map((e) => `${hide(String(e.message ?? 'error')).slice(0, 200)} (code ${hide(String(e.code)).slice(0, 20)})`).slice(0, 5).join('; ') || `HTTP ${res.status}`;
    // 9109 invalid token, 10000 authentication error (bad token, or one without the permission), 6003/6111 a malformed header.
    if (res.status === 401 || res.status === 403 || codes.some((c) => [9109, 10000, 6003, 6111].includes(c))) {
      throw new CloudflareError(`Cloudflare refused the API token (internet.cloudflare.token) when asked to ${opts.what}: ${said}. The token must be active and have ${opts.need}.`, { status: res.status, codes });
    }
    if (res.status >= 300 || env?.success !== true) throw new CloudflareError(`Cloudflare refused to ${opts.what}: ${said}`, { status: res.status, codes });
    return { result: env.result as T, info: env.result_info };
  }
  /** Every page of a list, up to `max` items; `total` is what Cloudflare counted. */
  async function list<T>(path: string, query: Record<string, string | number>, max: number, need: string, what: string): Promise<{ items: T[]; total: number }> {
    const items: T[] = [];
    let total = 0;
    for (let page = 1; ; page++) {
      const perPage = path.endsWith('/dns_records') ? PER_PAGE : PER_PAGE_SMALL;
      const { result, info } = await request<T[]>('GET', path, { query: { ...query, page, per_page: perPage }, need, what });
      const got = Array.isArray(result) ? result : [];
      items.push(...got);
      total = Math.max(info?.total_count ?? 0, items.length);
      if (got.length === 0 || items.length >= max || page >= (info?.total_pages ?? 1)) break;
    }
    return { items: items.slice(0, max), total };
  }
  return { request, list, hide, accountId };
}
type Client = ReturnType<typeof client>;
const DNS_READ = 'Zone:Read and Zone:DNS:Read (or Edit) on the zone';
const DNS_EDIT = 'Zone:DNS:Edit on the zone';

/** A zone by name or by id (32 hex digits). Not found: the zones this token sees. */
async function findZone(c: Client, zone: string): Promise<Zone> {
  const z = zone.trim().toLowerCase().replace(/\.$/, '');
  if (/^[0-9a-f]{32}$/.test(z)) {
    try {
      const { result } = await c.request<Zone>('GET', `/zones/${z}`, { need: DNS_READ, what: `read zone ${z}` });
      return { id: result.id, name: result.name };
    } catch (err) {
      if (!(err instanceof CloudflareError && (err.status === 404 || err.codes.includes(7003)))) throw err;
    }
  } else {
    if (!HOSTNAME.test(z)) throw new CloudflareError(`zone: expected a zone name such as example.com or a zone id (32 hex digits), got ${JSON.stringify(short(zone, 80))}`);
    const { items } = await c.list<Zone>('/zones', { name: z }, 5, DNS_READ, `find zone ${z}`);
    const found = items.find((x) => x.name === z);
    if (found) return { id: found.id, name: found.name };
  }
  const seen = await c.list<Zone>('/zones', {}, 50, DNS_READ, 'list zones');
  const names = seen.items.map((x) => `${x.name} (${x.id})`);
  throw new CloudflareError(`zone: no zone ${JSON.stringify(short(zone, 80))} among the ${seen.total} zone(s) this token sees${names.length ? `: ${names.join(', ')}${seen.total > names.length ? `, … ${seen.total - names.length} more` : ''}` : ''}`);
}

const slim = (r: CfRecord): RecordValues & { id: string } => ({
  id: r.id,
  type: r.type,
  name: r.name,
  content: r.content,
  ttl: r.ttl,
  ...(PROXIABLE.has(r.type) ? { proxied: r.proxied === true } : {}),
  ...(r.priority !== undefined ? { priority: r.priority } : {}),
  comment: r.comment ?? null,
});

/** The one record an update or delete acts on: by id, or by name+type (several → refused, listing them). */
async function findRecord(c: Client, zone: Zone, r: RecordArg, action: 'update' | 'delete'): Promise<CfRecord> {
  if (r.id) {
    try {
      return (await c.request<CfRecord>('GET', `/zones/${zone.id}/dns_records/${r.id}`, { need: DNS_READ, what: `read record ${r.id}` })).result;
    } catch (err) {
      if (err instanceof CloudflareError && (err.status === 404 || err.codes.includes(81044))) throw new CloudflareError(`record.id: no record ${r.id} in zone ${zone.name}`);
      throw err;
    }
  }
  if (!r.name || !r.type) throw new CloudflareError(`record: give record.id, or record.name and record.type, to say which record to ${action}`);
  const name = fullName(r.name, zone.name);
  // For a delete, content narrows the match (one of several A records of a name); for an update it is the new value.
  const byContent = action === 'delete' && r.content !== undefined;
  const query: Record<string, string> = { type: r.type, name, ...(byContent ? { content: r.content! } : {}) };
  const { items, total } = await c.list<CfRecord>(`/zones/${zone.id}/dns_records`, query, 20, DNS_READ, `look up ${r.type} ${name}`);
  const what = `${r.type} record named ${name}${byContent ? ` with content ${JSON.stringify(short(r.content!, 80))}` : ''}`;
  if (items.length === 0) throw new CloudflareError(`record: no ${what} in zone ${zone.name}`);
  if (items.length > 1) {
    throw new CloudflareError(`record: ${total} ${what.replace('record', 'records')} in zone ${zone.name}; give record.id of the one to ${action}: ${items.map((x) => `${x.id} (${recordText(slim(x))})`).join('; ')}${total > items.length ? `; … ${total - items.length} more` : ''}`);
  }
  return items[0]!;
}

/** `proxied` of a record of `type`: kept off the record for types that cannot be proxied, unless asked (checkValues refuses that). */
const proxiedOf = (type: string, asked: boolean | undefined, was: boolean): { proxied?: boolean } => (PROXIABLE.has(type) ? { proxied: asked ?? was } : asked ? { proxied: true } : {});

type Plan =
  | { action: 'create'; zone: Zone; after: RecordValues; existing: CfRecord[] }
  | { action: 'update'; zone: Zone; before: CfRecord; after: RecordValues; changed: string[] }
  | { action: 'delete'; zone: Zone; before: CfRecord };

/** The arguments of a call, checked without asking Cloudflare: the action, the zone, the record's fields. */
function readArgs(args: Record<string, unknown>): { action: Action; zone: string; record: RecordArg } | string {
  const { action, zone, record, ...rest } = args;
  const extra = Object.keys(rest).filter((k) => k !== 'confirm');
  if (extra.length) return `${extra[0]}: unknown argument (cloudflare_dns takes action, zone and record)`;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) return `action: expected one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action ?? null)}`;
  if (typeof zone !== 'string' || !zone.trim()) return 'zone: expected a zone name such as example.com, or its id';
  const r = readRecordArg(record);
  if (typeof r === 'string') return r;
  if (action === 'create') {
    const missing = (['type', 'name', 'content'] as const).filter((k) => r[k] === undefined);
    if (missing.length) return `record.${missing[0]}: a create needs record.type, record.name and record.content${r.type === 'MX' ? ' (and record.priority)' : ''}`;
    if (r.id !== undefined) return 'record.id: Cloudflare chooses the id of a new record; leave it out';
  }
  if (action === 'update' && !['content', 'ttl', 'proxied', 'priority', 'comment', ...(r.id ? ['name', 'type'] : [])].some((k) => r[k as keyof RecordArg] !== undefined)) {
    return 'record: an update needs at least one new value: content, ttl, proxied, priority or comment (or, with record.id, name or type)';
  }
  return { action: action as Action, zone, record: r };
}

/** What a write would do, reading Cloudflare (the zone, the record as it is now) but changing nothing. */
async function plan(c: Client, action: Exclude<Action, 'list'>, zoneArg: string, r: RecordArg, withExisting: boolean): Promise<Plan> {
  const zone = await findZone(c, zoneArg);
  if (action === 'create') {
    const type = r.type!;
    const after: RecordValues = {
      type,
      name: fullName(r.name!, zone.name),
      content: type === 'CNAME' || type === 'MX' ? r.content!.trim().toLowerCase().replace(/\.$/, '') : r.content!,
      ttl: r.ttl ?? 1,
      ...proxiedOf(type, r.proxied, false),
      ...(r.priority !== undefined ? { priority: r.priority } : {}),
      ...(r.comment ? { comment: r.comment } : {}),
    };
    const bad = checkValues(after);
    if (bad) throw new CloudflareError(bad);
    const existing = withExisting ? (await c.list<CfRecord>(`/zones/${zone.id}/dns_records`, { name: after.name }, 20, DNS_READ, `look up ${after.name}`)).items : [];
    return { action, zone, after, existing };
  }
  const before = await findRecord(c, zone, r, action);
  if (action === 'delete') return { action, zone, before };
  if (!(CLOUDFLARE_TYPES as readonly string[]).includes(before.type) && !(r.id && r.type)) {
    throw new CloudflareError(`record: ${before.type} records cannot be changed by cloudflare_dns (it changes ${CLOUDFLARE_TYPES.join(', ')}); use the Cloudflare dashboard`);
  }
  // With an id, name and type are new values too; found by name+type, they only said which record.
  const type = r.id && r.type ? r.type : before.type;
  const content = r.content ?? before.content;
  const priority = type === 'MX' ? (r.priority ?? before.priority) : r.priority;
  const proxied = proxiedOf(type, r.proxied, before.proxied === true);
  const after: RecordValues = {
    type,
    name: r.id && r.name ? fullName(r.name, zone.name) : before.name,
    content: r.content !== undefined && (type === 'CNAME' || type === 'MX') ? content.trim().toLowerCase().replace(/\.$/, '') : content,
    // Proxying a record makes its TTL auto, as Cloudflare does: asking for proxied alone is enough.
    ttl: r.ttl ?? (proxied.proxied ? 1 : before.ttl),
    ...proxied,
    ...(priority !== undefined ? { priority } : {}),
    comment: r.comment !== undefined ? r.comment || null : (before.comment ?? null),
  };
  const bad = checkValues(after);
  if (bad) throw new CloudflareError(bad);
  const was = slim(before);
  const changed = (['type', 'name', 'content', 'ttl', 'proxied', 'priority', 'comment'] as const).filter((k) => (after[k] ?? null) !== (was[k] ?? null));
  return { action, zone, before, after, changed };
}

function planText(p: Plan): string {
  if (p.action === 'create') {
    const others = p.existing.length ? `; ${p.after.name} has now: ${p.existing.slice(0, 10).map((x) => recordText(slim(x))).join('; ')}${p.existing.length > 10 ? '; …' : ''}` : `; no record is named ${p.after.name} now`;
    return `create in Cloudflare zone ${p.zone.name}: before: nothing; after: ${recordText(p.after)}${others}`;
  }
  if (p.action === 'delete') return `delete from Cloudflare zone ${p.zone.name} record ${p.before.id}: before: ${recordText(slim(p.before))}; after: nothing`;
  if (p.changed.length === 0) return `nothing to change in Cloudflare zone ${p.zone.name}: record ${p.before.id} is already ${recordText(slim(p.before))}`;
  return `update in Cloudflare zone ${p.zone.name} record ${p.before.id} (${p.changed.join(', ')}): before: ${recordText(slim(p.before))}; after: ${recordText(p.after)}`;
}

/** The body of a create or update: the whole record, so an update never depends on PATCH's merge of the omitted fields. */
const bodyOf = (v: RecordValues) => ({
  type: v.type,
  name: v.name,
  content: v.content,
  ttl: v.ttl,
  ...(PROXIABLE.has(v.type) ? { proxied: v.proxied === true } : {}),
  ...(v.priority !== undefined ? { priority: v.priority } : {}),
  ...(v.comment !== undefined ? { comment: v.comment } : {}),
});

function errorText(err: unknown, hide: (s: string) => string = (s) => s): string {
  if (err instanceof CloudflareError) return hide(err.message);
  return 'Cloudflare: unexpected error (see the hub log)';
}

async function listRecords(c: Client, zoneArg: string, r: RecordArg): Promise<CallToolResult> {
  const zone = await findZone(c, zoneArg);
  if (r.id) {
    const rec = await findRecord(c, zone, { id: r.id }, 'update');
    return ok(`Record ${rec.id} in zone ${zone.name}: ${recordText(slim(rec))}`, { zone, total: 1, records: [slim(rec)], truncated: false });
  }
  const query: Record<string, string> = {};
  if (r.type) query.type = r.type;
  if (r.name) query.name = fullName(r.name, zone.name);
  if (r.content !== undefined) query.content = r.content;
  const filter = Object.entries(query).map(([k, v]) => `${k} ${JSON.stringify(short(v, 80))}`).join(', ');
  const { items, total } = await c.list<CfRecord>(`/zones/${zone.id}/dns_records`, query, MAX_RECORDS, DNS_READ, `list the records of ${zone.name}`);
  const lines = items.map((x) => `- ${recordText(slim(x))} id ${x.id}`);
  const more = total > items.length ? [`… ${total - items.length} more not shown (filter with record.type or record.name)`] : [];
  const head = `${total} record(s) in Cloudflare zone ${zone.name} (${zone.id})${filter ? ` matching ${filter}` : ''}${total ? ':' : '.'}`;
  return ok([head, ...lines, ...more].join('\n'), { zone, total, records: items.map(slim), truncated: total > items.length });
}

async function runWrite(c: Client, p: Plan): Promise<CallToolResult> {
  if (p.action === 'create') {
    const { result } = await c.request<CfRecord>('POST', `/zones/${p.zone.id}/dns_records`, { body: bodyOf(p.after), need: DNS_EDIT, what: `create ${p.after.type} ${p.after.name}` });
    return ok(`Created in zone ${p.zone.name}: ${recordText(slim(result))}, id ${result.id}.`, { zone: p.zone, action: 'create', before: null, after: slim(result) });
  }
  if (p.action === 'delete') {
    await c.request<{ id: string }>('DELETE', `/zones/${p.zone.id}/dns_records/${p.before.id}`, { need: DNS_EDIT, what: `delete record ${p.before.id}` });
    return ok(`Deleted from zone ${p.zone.name}: ${recordText(slim(p.before))} (id ${p.before.id}).`, { zone: p.zone, action: 'delete', before: slim(p.before), after: null });
  }
  if (p.changed.length === 0) return ok(`Nothing to change: record ${p.before.id} in zone ${p.zone.name} is already ${recordText(slim(p.before))}.`, { zone: p.zone, action: 'update', before: slim(p.before), after: slim(p.before), changed: [] });
  const { result } = await c.request<CfRecord>('PATCH', `/zones/${p.zone.id}/dns_records/${p.before.id}`, { body: bodyOf(p.after), need: DNS_EDIT, what: `update record ${p.before.id}` });
  return ok(`Updated in zone ${p.zone.name} (${p.changed.join(', ')}): before ${recordText(slim(p.before))}; now ${recordText(slim(result))}.`, { zone: p.zone, action: 'update', before: slim(p.before), after: slim(result), changed: p.changed });
}

interface CfTunnel {
  id: string;
  name: string;
  status?: string;
  created_at?: string;
  conns_active_at?: string | null;
  conns_inactive_at?: string | null;
}
interface CfConnector {
  id?: string;
  version?: string;
  arch?: string;
  conns?: Array<{ colo_name?: string; origin_ip?: string; opened_at?: string; is_pending_reconnect?: boolean }>;
}
interface Connection {
  colo: string;
  originIp: string;
  openedAt: string;
  pendingReconnect: boolean;
  connector: string;
  version: string;
}
const TUNNEL_READ = 'Account:Cloudflare Tunnel:Read';

/** The account of cloudflare_tunnels: the configured one, or the only one the token sees. */
async function findAccount(c: Client): Promise<{ id: string; name?: string; how: string }> {
  if (c.accountId) return { id: c.accountId, how: 'internet.cloudflare.accountId' };
  const { items, total } = await c.list<{ id: string; name: string }>('/accounts', {}, 20, `${TUNNEL_READ} (or set internet.cloudflare.accountId)`, 'list the accounts');
  if (items.length === 1) return { id: items[0]!.id, name: items[0]!.name, how: 'the only account this token sees (set internet.cloudflare.accountId to pin it)' };
  if (items.length === 0) throw new CloudflareError('Cloudflare: the token sees no account; set internet.cloudflare.accountId, or give the token Account:Cloudflare Tunnel:Read');
  throw new CloudflareError(`Cloudflare: the token sees ${total} accounts; set internet.cloudflare.accountId to one of: ${items.map((a) => `${a.id} (${a.name})`).join(', ')}`);
}

async function tunnels(c: Client): Promise<CallToolResult> {
  const account = await findAccount(c);
  const { items, total } = await c.list<CfTunnel>(`/accounts/${account.id}/cfd_tunnel`, { is_deleted: 'false' }, MAX_TUNNELS, TUNNEL_READ, 'list the tunnels');
  // The list's `connections` is deprecated (Cloudflare sends it empty): one request per tunnel, a few at a time.
  const conns = new Map<string, Connection[] | string>();
  const lookups = items.filter((t) => t.status !== 'inactive').slice(0, MAX_CONNECTION_LOOKUPS);
  for (let i = 0; i < lookups.length; i += 5) {
    await Promise.all(
      lookups.slice(i, i + 5).map(async (t) => {
        try {
          const { result } = await c.request<CfConnector[] | null>('GET', `/accounts/${account.id}/cfd_tunnel/${t.id}/connections`, { need: TUNNEL_READ, what: `read the connections of tunnel ${t.name}` });
          conns.set(
            t.id,
            (result ?? []).flatMap((k) => (k.conns ?? []).map((x) => ({ colo: x.colo_name ?? '?', originIp: x.origin_ip ?? '?', openedAt: x.opened_at ?? '?', pendingReconnect: x.is_pending_reconnect === true, connector: k.id ?? '?', version: `${k.version ?? '?'}${k.arch ? ` ${k.arch}` : ''}` }))).slice(0, 100),
          );
        } catch (err) {
          conns.set(t.id, errorText(err, c.hide));
        }
      }),
    );
  }
  const up = items.filter((t) => t.status === 'healthy' || t.status === 'degraded');
  const line = (t: CfTunnel): string => {
    const cs = conns.get(t.id);
    const list = Array.isArray(cs) ? cs : [];
    const live = list.filter((x) => !x.pendingReconnect);
    const connText = typeof cs === 'string' ? `; connections unknown: ${cs}` : cs === undefined ? (t.status === 'inactive' ? '' : '; connections not looked up (too many tunnels)') : live.length ? `, ${live.length} connection(s): ${live.map((x) => `${x.colo} from ${x.originIp} since ${x.openedAt}`).join(', ')}; cloudflared ${[...new Set(live.map((x) => x.version))].join(', ')}` : ', no live connection';
    const pending = list.length > live.length ? ` (${list.length - live.length} disconnected, pending reconnect)` : '';
    const status =
      t.status === 'healthy' ? 'healthy' : t.status === 'degraded' ? 'DEGRADED (serving, but unhealthy)' : t.status === 'down' ? `DOWN since ${t.conns_inactive_at ?? '?'} (no connection to Cloudflare)` : t.status === 'inactive' ? 'inactive (never run)' : (t.status ?? 'unknown');
    return `- ${t.name} (${t.id}): ${status}${connText}${pending}`;
  };
  const who = `${account.name ? `${account.name} (${account.id})` : account.id}, ${account.how}`;
  const head = `${up.length} of ${total} Cloudflare tunnel(s) up in account ${who}${up.length < items.length ? `; not up: ${items.filter((t) => !up.includes(t)).map((t) => `${t.name} (${t.status})`).join(', ')}` : ''}.`;
  const more = total > items.length ? [`… ${total - items.length} more tunnels not shown`] : [];
  return ok([head, ...items.map(line), ...more].join('\n'), {
    account: { id: account.id, ...(account.name ? { name: account.name } : {}), chosenBy: account.how },
    total,
    up: up.length,
    tunnels: items.map((t) => {
      const cs = conns.get(t.id);
      return { id: t.id, name: t.name, status: t.status ?? 'unknown', connsActiveAt: t.conns_active_at ?? null, connsInactiveAt: t.conns_inactive_at ?? null, ...(Array.isArray(cs) ? { connections: cs } : typeof cs === 'string' ? { connectionsError: cs } : {}) };
    }),
    truncated: total > items.length,
  });
}

/** cloudflare_dns and cloudflare_tunnels, reading `deps.config()` per call. */
export function cloudflareTools(deps: InternetDeps): CatalogTool[] {
  const safely = async (run: (c: Client) => Promise<CallToolResult>, signal?: AbortSignal): Promise<CallToolResult> => {
    let c: Client;
    try {
      c = client(deps, signal);
    } catch (err) {
      return fail(errorText(err));
    }
    try {
      return await run(c);
    } catch (err) {
      if (!(err instanceof CloudflareError)) deps.log.warn({ err: err instanceof Error ? c.hide(err.message) : String(err) }, 'cloudflare: unexpected error');
      return fail(errorText(err, c.hide));
    }
  };
  return [
    {
      def: {
        name: 'cloudflare_dns',
        title: 'Cloudflare DNS records',
        description:
          'The DNS records of a Cloudflare zone. action "list" (a read) lists them, optionally filtered by record.type, record.name or record.content. "create", "update" and "delete" are writes that need approval; their preview shows the record before and after. ' +
          `create: record { type (${CLOUDFLARE_TYPES.join(', ')}), name ("www", "@" or a full name in the zone), content, ttl (1 = auto, or 60-86400), proxied (A, AAAA, CNAME only), priority (MX), comment }. ` +
          'update and delete: the record is record.id, or record.name + record.type (refused when several match: the answer lists their ids); update sets the other fields given (with record.id, name and type too); delete may narrow by record.content. zone: a name (example.com) or a zone id.',
        inputSchema: {
          type: 'object',
          properties: {
            action: { type: 'string', enum: [...ACTIONS], description: 'list (read), or create, update, delete (writes).' },
            zone: { type: 'string', description: 'The zone: example.com, or its 32-hex-digit id.' },
            record: {
              type: 'object',
              description: 'The record: its fields for create; which one and the new values for update; which one for delete; filters for list.',
              properties: {
                id: { type: 'string', description: 'The record id (32 hex digits), from a list.' },
                type: { type: 'string', description: `${CLOUDFLARE_TYPES.join(', ')} (any type to list or delete).` },
                name: { type: 'string', description: 'www, @ (the zone itself) or a full name in the zone.' },
                content: { type: 'string', description: 'A: an IPv4 address; AAAA: an IPv6 address; CNAME and MX: a host name; TXT: the text.' },
                ttl: { type: 'integer', description: '1 = auto (default), or 60 to 86400 seconds; a proxied record is always auto.' },
                proxied: { type: 'boolean', description: "Through Cloudflare's proxy (A, AAAA, CNAME only); default false." },
                priority: { type: 'integer', minimum: 0, maximum: 65535, description: 'MX only, required there.' },
                comment: { type: 'string', maxLength: MAX_COMMENT, description: 'A note kept with the record ("" clears it on update).' },
              },
              additionalProperties: false,
            },
          },
          required: ['action', 'zone'],
          additionalProperties: false,
        },
        // readOnlyHint false and destructiveHint false: a read tool that can change state (the catalog keeps it off readOnly).
        annotations: { title: 'Cloudflare DNS records', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
      },
      toolClass: 'read',
      classFor: cloudflareDnsClass,
      source: 'internet',
      targets: (args) => [`cloudflare/${typeof args.zone === 'string' ? args.zone : '?'}`],
      async preview(args): Promise<Preview> {
        const where = [`cloudflare/${typeof args.zone === 'string' ? args.zone : '?'}`];
        const a = readArgs(args);
        if (typeof a === 'string') return { tool: 'cloudflare_dns', where, action: `cloudflare_dns with arguments it will refuse (${a})`, arguments: args };
        if (a.action === 'list') return { tool: 'cloudflare_dns', where, action: `list the records of Cloudflare zone ${a.zone}`, arguments: args };
        const action = a.action;
        const text = await safely(async (c) => ok(planText(await plan(c, action, a.zone, a.record, true))));
        const line = (text.content[0] as { text: string }).text;
        return { tool: 'cloudflare_dns', where, action: text.isError ? `${action} in Cloudflare zone ${a.zone}, which will be refused: ${line}` : line, arguments: args };
      },
      async call(args, ctx) {
        const a = readArgs(args);
        if (typeof a === 'string') return fail(`cloudflare_dns: ${a}`);
        const action = a.action;
        return safely(async (c) => (action === 'list' ? listRecords(c, a.zone, a.record) : runWrite(c, await plan(c, action, a.zone, a.record, false))), ctx.signal);
      },
    },
    {
      def: {
        name: 'cloudflare_tunnels',
        title: 'Cloudflare Tunnel health',
        description:
          "Every Cloudflare Tunnel (cloudflared) of the account and its health: healthy, degraded, down (no connection to Cloudflare) or inactive (never run), with each connection's Cloudflare data center, origin IP and since when. Answers \"is my remote access up?\". The account is internet.cloudflare.accountId, or the only one the token sees.",
        inputSchema: { type: 'object', properties: {}, additionalProperties: false },
        annotations: { title: 'Cloudflare Tunnel health', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      },
      toolClass: 'read',
      source: 'internet',
      call: (_args, ctx) => safely((c) => tunnels(c), ctx.signal),
    },
  ];
}
