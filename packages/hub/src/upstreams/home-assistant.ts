/**
 * Home Assistant as an upstream (`type: home-assistant`): what the hub knows about HA's built-in
 * MCP server (the "Model Context Protocol Server" integration, service-apis.md §4a) beyond a plain
 * Streamable HTTP server.
 *
 * - Where it lives: `<url>/api/mcp` (stateless Streamable HTTP, HA 2025.x+); an older HA has only
 *   the legacy SSE endpoint `/mcp_server/sse`, and answers `/api/mcp` with aiohttp's plain
 *   `404: Not Found`, which is the one 404 the hub falls back on.
 * - What its answers mean, said so a person can act on them: the integration not added, the token
 *   rejected (naming the config key, never the token).
 * - The classes HA's tools do not carry (they have no annotations): reads are read, every intent
 *   that acts (and every script) is a write.
 * - Whether it exposes anything to act on: an HA that lists no intent or script tool is useless
 *   to a client, and the reason is in HA's settings, not in the hub.
 *
 * @example
 * haMcpUrl('http://ha.lan:8123')            // 'http://ha.lan:8123/api/mcp'
 * haExposureWarning(tools, 'ha.lan:8123')   // 'Home Assistant at ha.lan:8123 answers but exposes no entities ...'
 */
import type { Tool } from '@modelcontextprotocol/client';
import type { ToolClass } from '../catalog/types.ts';
import { classifyFailure, embeddedProtocolError, ExplainedFailure, httpStatus, shortReason } from './errors.ts';
import { SdkHttpError } from '@modelcontextprotocol/client';

/** The Streamable HTTP endpoint of HA at `base` (its own address, as a browser opens it). */
export function haMcpUrl(base: string): string {
  return new URL('/api/mcp', haBase(base)).href;
}

/** The legacy SSE endpoint of HA at `base`. */
export function haSseUrl(base: string): string {
  return new URL('/mcp_server/sse', haBase(base)).href;
}

/** `base` without `/api/mcp` (a url given as the MCP endpoint itself) or a trailing slash. */
export function haBase(base: string): string {
  const u = new URL(base);
  u.pathname = u.pathname.replace(/\/+$/, '').replace(/\/api\/mcp$/, '') || '/';
  u.search = '';
  u.hash = '';
  return u.href.replace(/\/$/, '');
}

/**
 * Why `url` cannot be HA's address, or undefined when it can: HA serves at the root of its host,
 * so a path other than `/` or `/api/mcp` is a mistake (a dashboard URL pasted, a reverse-proxy
 * prefix HA does not support).
 */
export function haUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined; // the schema's own URL check says so
  }
  const path = u.pathname.replace(/\/+$/, '');
  if (path === '' || path === '/api/mcp') return undefined;
  return `expected Home Assistant's own address such as http://ha.lan:8123 (the hub adds /api/mcp), not a URL with the path ${JSON.stringify(u.pathname.slice(0, 80))}`;
}

/** `host:port` of HA for messages. */
export function haHost(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return '(invalid url)';
  }
}

/** The text of a failed HTTP answer, when the SDK kept it. */
function bodyOf(err: unknown): string | undefined {
  if (err instanceof SdkHttpError && typeof err.data.text === 'string') return err.data.text;
  const m = err instanceof Error ? /^Error POSTing to endpoint(?: \(HTTP \d{3}\))?: ([\s\S]*)$/.exec(err.message) : null;
  return m?.[1];
}

/**
 * True when `/api/mcp` answered as an HA without the streamable endpoint does: aiohttp's own
 * `404: Not Found` (no route). HA's other 404, "not configured", and any JSON-RPC answer are not.
 */
export function isHaStreamableMissing(err: unknown): boolean {
  return httpStatus(err) === 404 && !embeddedProtocolError(err) && (bodyOf(err) ?? '').trim() === '404: Not Found';
}

/** True when HA says its MCP Server integration is not set up. */
export function isHaMcpNotConfigured(err: unknown): boolean {
  return httpStatus(err) === 404 && /Model Context Protocol server is not configured/i.test(bodyOf(err) ?? '');
}

/**
 * A connect failure of HA `alias` at `base` as a person should read it: what to do in HA or in
 * hub.yaml, never the token. The failure kind (auth, unavailable, ...) stays that of `err`.
 */
export function explainHaFailure(err: unknown, alias: string, base: string, secrets: readonly string[]): ExplainedFailure {
  const at = `Home Assistant at ${haHost(base)}`;
  const kind = classifyFailure(err, { sessionful: false });
  const status = httpStatus(err);
  if (isHaMcpNotConfigured(err)) return new ExplainedFailure(`${at} has no MCP server: add the Model Context Protocol Server integration in Home Assistant: Settings > Devices & services`, 'other', { cause: err });
  if (status === 401) return new ExplainedFailure(`${at} rejected the token (HTTP 401): set a valid long-lived access token (HA: your profile > Security) as upstreams.${alias}.token`, 'auth', { cause: err });
  if (status === 403) return new ExplainedFailure(`${at} refused the hub (HTTP 403): after failed logins HA bans the address (ip_bans.yaml); check upstreams.${alias}.token`, 'auth', { cause: err });
  if (isHaStreamableMissing(err)) return new ExplainedFailure(`${at} has neither /api/mcp nor /mcp_server/sse: add the Model Context Protocol Server integration (HA 2025.2 or newer)`, 'other', { cause: err });
  return new ExplainedFailure(`${at}: ${shortReason(err, secrets)}`, kind, { cause: err });
}

/**
 * The classes of HA's tools, after the user's `classes` and before "no information means write":
 * its own context tools read, by their exact names; the rest (intents such as HassTurnOn,
 * scripts, and custom intents) stay writes. Not a `Get*` glob: HA's Assist API lists every
 * custom intent (`intent_script`, a custom integration) by its intent type, which its author
 * names freely: a "GetCoffee" that brews one, a "GetGarageOpen" that opens the door, would run
 * unapproved as a read. A user who has such a read says so in `classes`.
 */
export const HA_READ_TOOLS: readonly string[] = ['GetLiveContext', 'GetDateTime', 'GetCurrentLocation', 'GetWeather', 'calendar_get_events', 'todo_get_items'];
export const HA_CLASS_PRESET: ReadonlyArray<[string, ToolClass]> = HA_READ_TOOLS.map((n) => [n, 'read']);

/** HA's own read tools: anything else it lists acts on entities (an intent or a script). */
const READ_TOOLS = new Set(HA_READ_TOOLS);

/** True when HA lists a tool that acts on entities (an intent such as HassTurnOn, or a script). */
export function haActs(tools: readonly Pick<Tool, 'name'>[]): boolean {
  return tools.some((t) => !READ_TOOLS.has(t.name));
}

/**
 * What GetLiveContext's answer says about exposure: `entities` when it lists some, `none` when HA
 * says there is nothing exposed (`success: false`), undefined when it cannot tell.
 */
export function haLiveContextExposure(result: { content?: unknown; isError?: boolean }): 'entities' | 'none' | undefined {
  if (result.isError) return undefined;
  const first = Array.isArray(result.content) ? (result.content[0] as { type?: unknown; text?: unknown } | undefined) : undefined;
  if (first?.type !== 'text' || typeof first.text !== 'string' || first.text.length > 1_000_000) return undefined;
  try {
    const doc = JSON.parse(first.text) as { success?: unknown; result?: unknown };
    if (doc.success === false) return 'none';
    if (doc.success === true && typeof doc.result === 'string') return /^- names: /m.test(doc.result) ? 'entities' : 'none';
  } catch {
    // not HA's shape
  }
  return undefined;
}

/**
 * What to tell a person when HA answers but offers nothing that acts on entities, or undefined.
 * HA lists only its read tools both when nothing is exposed to Assist and when "Control Home
 * Assistant" is off; `exposure` (what GetLiveContext said) tells the two apart.
 */
export function haExposureWarning(tools: readonly Pick<Tool, 'name'>[], host: string, exposure?: 'entities' | 'none'): string | undefined {
  if (haActs(tools)) return undefined;
  const at = `Home Assistant at ${host}`;
  if (exposure === 'entities') return `${at} answers but "Control Home Assistant" is off in the MCP Server integration's options (Settings > Devices & services > Model Context Protocol Server > Configure): its entities can be read, not controlled`;
  return `${at} answers but exposes no entities to Assist: expose them in Settings > Voice assistants > Expose`;
}

/** The part of an upstream the exposure watch needs (upstream.ts `Upstream`). */
interface Watched {
  state(): { status: string };
  tools(): readonly Pick<Tool, 'name'>[];
  callTool(name: string, args: Record<string, unknown>, opts?: { timeoutMs?: number }): Promise<{ content?: unknown; isError?: boolean }>;
  onChange(listener: (what: string) => void): () => void;
}

/**
 * Keeps `warning()` current for HA upstream `u`: whenever it comes up or its tool list changes and
 * no listed tool acts on entities, GetLiveContext (a read) tells "nothing exposed" from "control
 * off". Each warning is logged once.
 *
 * One check runs at a time, and changes meanwhile make one more after it: HA decides how often
 * its tool list changes, and a lookup per change let a hostile one (flipping its list as fast as
 * the hub fetches it) keep hundreds of GetLiveContext calls of up to maxResultBytes in flight,
 * and alternate answers log a warning per change.
 *
 * @example const watch = watchHaExposure(upstream, 'ha.lan:8123', (w) => log.warn({ upstream: 'ha' }, w));
 */
export function watchHaExposure(u: Watched, host: string, onWarning: (warning: string) => void): { warning(): string | undefined; off(): void } {
  let warning: string | undefined;
  // At most the two warnings haExposureWarning words for this host.
  const logged = new Set<string>();
  let running = false;
  let again = false;
  let stopped = false;
  const set = (w: string | undefined) => {
    warning = w;
    if (w && !logged.has(w) && logged.size < 8) {
      logged.add(w);
      onWarning(w);
    }
  };
  const once = async () => {
    const tools = u.tools();
    if (u.state().status !== 'up' || haActs(tools)) {
      set(undefined);
      return;
    }
    let exposure: 'entities' | 'none' | undefined;
    if (tools.some((t) => t.name === 'GetLiveContext')) {
      exposure = await u.callTool('GetLiveContext', {}, { timeoutMs: 10_000 }).then(haLiveContextExposure, () => undefined);
    }
    // The list may have changed meanwhile: then another check follows, and decides.
    if (!again && !stopped) set(haExposureWarning(u.tools(), host, exposure));
  };
  const check = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await once();
      } while (again && !stopped);
    } finally {
      running = false;
    }
  };
  const unsubscribe = u.onChange((what) => {
    if (what === 'state' || what === 'tools') void check();
  });
  void check();
  return {
    warning: () => warning,
    off: () => {
      stopped = true;
      unsubscribe();
    },
  };
}

/** One entity of GetLiveContext's YAML overview. */
export interface HaContextEntity {
  names: string;
  domain?: string;
  state?: string;
  areas?: string;
}

const MAX_CONTEXT_ENTITIES = 2_000;

/** A scalar of PyYAML's safe_dump: quotes taken off. */
function unquote(v: string): string {
  const t = v.trim();
  if (t.length >= 2 && t.startsWith("'") && t.endsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
    try {
      return JSON.parse(t) as string;
    } catch {
      return t.slice(1, -1);
    }
  }
  return t;
}

/**
 * The entities of GetLiveContext's `result` (names, domain, state, areas), at most 2,000. HA
 * writes it with PyYAML's default width: a scalar past 80 columns goes on over more-indented
 * lines, each break read back as one space (a name's later aliases, a long area list).
 */
export function parseHaLiveContext(yaml: string): HaContextEntity[] {
  const out: HaContextEntity[] = [];
  let cur: Record<'names' | 'domain' | 'state' | 'areas', string | undefined> | undefined;
  let last: 'names' | 'domain' | 'state' | 'areas' | undefined;
  const done = () => {
    if (!cur) return;
    const e: HaContextEntity = { names: unquote(cur.names ?? '') };
    for (const k of ['domain', 'state', 'areas'] as const) if (cur[k] !== undefined) e[k] = unquote(cur[k]);
    out.push(e);
    cur = undefined;
  };
  for (const line of yaml.split('\n')) {
    const top = /^- names: (.*)$/.exec(line);
    if (top) {
      done();
      if (out.length >= MAX_CONTEXT_ENTITIES) break;
      cur = { names: top[1]!, domain: undefined, state: undefined, areas: undefined };
      last = 'names';
      continue;
    }
    if (!cur) continue;
    const field = /^ {2}([a-z_]+):(?: (.*))?$/.exec(line);
    if (field) {
      const k = field[1]!;
      last = k === 'domain' || k === 'state' || k === 'areas' ? k : undefined;
      if (last) cur[last] = field[2] ?? '';
      continue;
    }
    // A wrapped scalar goes on at a deeper indent; the bounds keep a hostile one from growing.
    if (last && /^ {4,}\S/.test(line) && (cur[last]?.length ?? 0) < 10_000) cur[last] = `${cur[last] ?? ''} ${line.trim()}`;
    else if (!/^ {4,}/.test(line)) last = undefined;
  }
  done();
  return out.slice(0, MAX_CONTEXT_ENTITIES);
}

/** The part of an upstream a preview reads through. */
interface Readable {
  callTool(name: string, args: Record<string, unknown>, opts?: { timeoutMs?: number }): Promise<{ content?: unknown; isError?: boolean }>;
  tools(): readonly Pick<Tool, 'name' | 'description'>[];
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

/**
 * A name as HA compares names (`str.strip().casefold()`), or a little wider: a preview that shows
 * more than HA acts on is safe, one that shows less is not.
 */
const fold = (s: string) => s.trim().normalize('NFKC').toLowerCase().replace(/ß/g, 'ss').replace(/ς/g, 'σ');
/** An entity id (`lock.front_door`), which HA accepts as an intent's `name`. */
const ENTITY_ID = /^[a-z0-9_]+\.[a-z0-9_]+$/;
/** What an area id looks like (a slug), which HA accepts as an intent's `area`. */
const AREA_ID = /^[a-z0-9_]+$/;

/**
 * The gate's preview of a write on HA upstream `alias`: which exposed entities the intent's
 * `name`/`area`/`domain` match now, with their state, read with GetLiveContext (a read; nothing
 * changes). HA matches with its own rules (aliases, floors, device classes), so this is what it
 * most likely acts on; the exact arguments are in the preview too. A script names its description.
 */
export async function haPreview(u: Readable, alias: string, host: string, tool: string, shown: string, args: Record<string, unknown>): Promise<{ tool: string; where: string[]; action: string; arguments: unknown }> {
  const base = { tool: shown, where: [alias], arguments: args };
  const at = `Home Assistant at ${host}`;
  if (!/^Hass[A-Z]/.test(tool)) {
    const description = u.tools().find((t) => t.name === tool)?.description;
    return { ...base, action: `run ${JSON.stringify(tool)} on ${at}${description ? ` (${clip(description.replace(/\s+/g, ' '), 200)})` : ''}` };
  }
  const raw = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  const rawName = raw(args.name);
  const rawArea = raw(args.area);
  const name = rawName && fold(rawName);
  const area = rawArea && fold(rawArea);
  const domains = (typeof args.domain === 'string' ? [args.domain] : Array.isArray(args.domain) ? args.domain : []).filter((d): d is string => typeof d === 'string').map((d) => d.toLowerCase());
  const slots = Object.entries(args)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${clip(JSON.stringify(v) ?? '', 100)}`)
    .join(', ');
  const action = `call ${tool} on ${at}${slots ? ` with ${slots}` : ''}`;
  if (!name && !area && domains.length === 0) return { ...base, action };
  let entities: HaContextEntity[] | undefined;
  try {
    const r = await u.callTool('GetLiveContext', {}, { timeoutMs: 10_000 });
    const first = Array.isArray(r.content) ? (r.content[0] as { text?: unknown } | undefined) : undefined;
    const doc = typeof first?.text === 'string' && first.text.length <= 4_000_000 ? (JSON.parse(first.text) as { success?: unknown; result?: unknown }) : undefined;
    if (doc?.success === true && typeof doc.result === 'string') entities = parseHaLiveContext(doc.result);
    else if (doc?.success === false) entities = [];
  } catch {
    // The preview still names the call and its arguments.
  }
  if (!entities) return { ...base, action };
  const split = (s: string | undefined) => (s ?? '').split(',').map(fold);
  // HA joins a name and its aliases with ", " (an area and its aliases too): one holding a comma
  // is matched whole as well, so the preview shows no less than HA acts on.
  const commas = (s: string) => fold(s).replace(/\s*,\s*/g, ',');
  const among = (list: string | undefined, wanted: string) => split(list).includes(wanted) || `,${commas(list ?? '')},`.includes(`,${commas(wanted)},`);
  // What HA matches that GetLiveContext does not show (helpers/intent.py): a name that is an
  // entity id, an area given by its id. Without saying so, "nothing matches, HA will likely
  // refuse it" would pass a call that unlocks `lock.front_door` as harmless.
  const unseen: string[] = [];
  if (rawName && ENTITY_ID.test(rawName)) unseen.push(`name ${JSON.stringify(clip(rawName, 100))} is an entity id: HA acts on that entity if it is exposed (GetLiveContext lists no entity ids, so it is not shown here)`);
  if (rawArea && AREA_ID.test(rawArea) && !entities.some((e) => among(e.areas, area!))) unseen.push(`area ${JSON.stringify(clip(rawArea, 100))} may be an area id: HA then acts on that area's entities, which GetLiveContext does not list by area id`);
  const matched = entities.filter((e) => (!name || among(e.names, name)) && (!area || among(e.areas, area)) && (domains.length === 0 || domains.includes((e.domain ?? '').toLowerCase())));
  if (matched.length === 0) return { ...base, action: `${action}; ${unseen.length ? unseen.join('; ') : 'no entity exposed to Assist matches now (HA will likely refuse it)'}` };
  const shownEntities = matched.slice(0, 20).map((e) => `${clip(e.names, 60)} (${[e.domain, e.state, e.areas].filter(Boolean).map((x) => clip(x!, 40)).join(', ')})`);
  return { ...base, action: `${action}; it matches now: ${shownEntities.join(', ')}${matched.length > 20 ? ` and ${matched.length - 20} more` : ''}${unseen.length ? `; ${unseen.join('; ')}` : ''}` };
}
