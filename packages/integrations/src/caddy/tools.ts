/**
 * The Caddy tools: `caddy_sites` (hosts, where they go, TLS, upstream counters, per instance)
 * and `caddy_config(path?)` (the running JSON config at a path). Both read-only; answers are
 * bounded, and a cut says so.
 */
import * as z from 'zod';
import { capText, defineTool, textResult, type IntegrationTool } from '../integration.ts';
import { eachInstance, type InstanceAnswer } from '../service.ts';
import { CADDY_PATH, type CaddyClient, type CaddyUpstream } from './client.ts';

/** Routes listed per instance. */
export const MAX_SITES = 200;
/** Hosts shown by caddy_diff. */
export const MAX_DIFF_LINES = 200;
/** Characters of config shown per instance. */
export const MAX_CONFIG_CHARS = 20_000;

/** A route of Caddy's HTTP app, as a person reads it. */
export interface CaddySite {
  server: string;
  listen: string[];
  hosts: string[];
  paths: string[];
  /** `reverse_proxy 127.0.0.1:8080`, `file_server`, `static_response 404`, ... */
  handlers: string[];
  upstreams: string[];
  tls: 'automatic' | 'off' | 'policies' | 'plain HTTP';
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Walks a route's handlers, subroutes included, into words and upstream addresses. */
function walkHandlers(handle: unknown, out: { handlers: string[]; upstreams: string[] }, depth = 0): void {
  if (!Array.isArray(handle) || depth > 8) return;
  for (const h of handle) {
    if (!isObj(h)) continue;
    const name = typeof h.handler === 'string' ? h.handler : '?';
    if (name === 'subroute') {
      for (const r of Array.isArray(h.routes) ? h.routes : []) if (isObj(r)) walkHandlers(r.handle, out, depth + 1);
      continue;
    }
    if (name === 'reverse_proxy') {
      const dials = (Array.isArray(h.upstreams) ? h.upstreams : []).map((u) => (isObj(u) && typeof u.dial === 'string' ? u.dial : '?'));
      out.upstreams.push(...dials);
      out.handlers.push(`reverse_proxy ${dials.join(', ') || '(dynamic upstreams)'}`);
    } else if (name === 'static_response') out.handlers.push(`static_response ${h.status_code ?? 200}`);
    else if (name === 'file_server') out.handlers.push(`file_server${typeof h.root === 'string' ? ` ${h.root}` : ''}`);
    else if (!['vars', 'headers', 'encode', 'rewrite'].includes(name)) out.handlers.push(name);
  }
}

/** The sites of a running config's `apps.http.servers`. */
export function sitesOf(servers: unknown): CaddySite[] {
  if (!isObj(servers)) return [];
  const sites: CaddySite[] = [];
  for (const [server, s] of Object.entries(servers)) {
    if (!isObj(s)) continue;
    const listen = strings(s.listen);
    const autoOff = isObj(s.automatic_https) && s.automatic_https.disable === true;
    for (const r of Array.isArray(s.routes) ? s.routes : []) {
      if (!isObj(r)) continue;
      const matches = Array.isArray(r.match) ? r.match.filter(isObj) : [];
      const hosts = matches.flatMap((m) => strings(m.host));
      const paths = matches.flatMap((m) => strings(m.path));
      const out = { handlers: [] as string[], upstreams: [] as string[] };
      walkHandlers(r.handle, out);
      const tls: CaddySite['tls'] = Array.isArray(s.tls_connection_policies) ? 'policies' : autoOff ? 'off' : listen.some((l) => /:443$/.test(l)) || hosts.some((h) => h.includes('.') && !/^\d+\.\d+\.\d+\.\d+$/.test(h)) ? 'automatic' : 'plain HTTP';
      sites.push({ server, listen, hosts, paths, handlers: out.handlers, upstreams: out.upstreams, tls });
    }
  }
  return sites;
}

const counters = (u: CaddyUpstream | undefined) => (u ? ` [${u.numRequests} in flight, ${u.fails} recent fails]` : '');

function siteLine(s: CaddySite, ups: Map<string, CaddyUpstream>): string {
  const where = `${s.hosts.length ? s.hosts.join(', ') : '(any host)'}${s.paths.length ? ` ${s.paths.join(', ')}` : ''} on ${s.listen.join(', ') || '(no listener)'}`;
  const handlers = s.handlers.map((h) => (h.startsWith('reverse_proxy ') ? `reverse_proxy ${s.upstreams.map((a) => `${a}${counters(ups.get(a))}`).join(', ')}` : h));
  return `${where} -> ${handlers.join('; ') || '(no handler)'} (TLS: ${s.tls})`;
}

/** Keys whose values in a Caddy config are credentials: DNS-provider tokens, private keys, basic_auth hashes, header values. */
const SECRET_KEY = /key|token|secret|password|passwd|hash|pem|credential|authorization|api_?key/i;

/**
 * The config with credentials replaced: a read tool (viewers have it) must not hand out an
 * ACME DNS provider's `api_token`, a `load_pem` private key, `basic_auth` password hashes or an
 * `Authorization` header value set for an upstream. `{env.X}` placeholders are kept (no secret).
 */
export function redactCaddyConfig(v: unknown, depth = 0): unknown {
  if (depth > 64) return '[too deep]';
  if (Array.isArray(v)) return v.map((x) => redactCaddyConfig(x, depth + 1));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const placeholder = typeof x === 'string' && /^\{env\.[A-Za-z0-9_]+\}$/.test(x);
    const text = typeof x === 'string' || (Array.isArray(x) && x.every((y) => typeof y === 'string'));
    out[k] = SECRET_KEY.test(k) && !placeholder && text ? '[redacted]' : redactCaddyConfig(x, depth + 1);
  }
  return out;
}

export function caddyTools(clients: readonly CaddyClient[]): IntegrationTool[] {
  const names = clients.map((c) => c.name);
  const instanceArg = z
    .string()
    .refine((v) => names.includes(v), { message: `expected one of ${names.join(', ')}` })
    .describe(`One Caddy instance (${names.join(', ')}); default all`)
    .optional();
  const section = <R>(a: InstanceAnswer<R>, body: (v: R) => string) => (clients.length > 1 ? `## ${a.instance}\n` : '') + (a.ok ? body(a.value) : `error: ${a.error}`);

  const sites = defineTool({
    name: 'caddy_sites',
    title: 'Caddy sites',
    description: 'Lists what Caddy serves: each route\'s hosts and paths, where it goes (reverse_proxy upstreams with their request and failure counters, file_server, ...) and TLS, per instance.',
    args: z.strictObject({ instance: instanceArg }),
    toolClass: 'read',
    async run(args, { signal }) {
      const answers = await eachInstance(clients, args.instance, async (c) => {
        const [servers, ups] = await Promise.all([c.config('apps/http/servers', signal).catch((err: { status?: number }) => (err.status === 400 ? null : Promise.reject(err))), c.upstreams(signal)]);
        const all = sitesOf(servers);
        return { sites: all.slice(0, MAX_SITES), total: all.length, upstreams: ups };
      });
      const text = answers
        .map((a) =>
          section(a, (v) => {
            const ups = new Map(v.upstreams.map((u) => [u.address, u]));
            const lines = v.sites.map((s) => `- ${siteLine(s, ups)}`);
            if (v.total > v.sites.length) lines.push(`(${v.total - v.sites.length} more routes not shown)`);
            return lines.length ? lines.join('\n') : 'no HTTP routes configured';
          }),
        )
        .join('\n\n');
      return textResult(text, { instances: answers.map((a) => (a.ok ? { instance: a.instance, ok: true, sites: a.value.sites, totalSites: a.value.total, upstreams: a.value.upstreams.slice(0, MAX_SITES) } : a)) });
    },
  });

  const config = defineTool({
    name: 'caddy_config',
    title: 'Caddy config',
    description: 'Shows the running Caddy JSON config at a path (e.g. apps/http/servers/srv0/routes; default all), per instance, with credentials (tokens, keys, password hashes, header values) redacted.',
    args: z.strictObject({
      path: z.string().max(500).regex(CADDY_PATH, 'a config path such as apps/http/servers (segments of letters, digits, "_", "-", ".", "@" between "/", none starting with ".")').describe('Path in the config, e.g. apps/http/servers; default the whole config').optional(),
      instance: instanceArg,
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const answers = await eachInstance(clients, args.instance, async (c) => capText(JSON.stringify(redactCaddyConfig(await c.config(args.path ?? '', signal)), null, 1), MAX_CONFIG_CHARS));
      const text = answers.map((a) => section(a, (v) => v.text)).join('\n\n');
      return textResult(text, { path: args.path ?? '', instances: answers.map((a) => (a.ok ? { instance: a.instance, ok: true, config: a.value.text, cut: a.value.cut } : a)) });
    },
  });
  const diff = defineTool({
    name: 'caddy_diff',
    title: 'Caddy differences',
    description: 'Where the Caddy instances disagree: hosts one serves and another does not, and hosts they send to different upstreams.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_args, { signal }) {
      const answers = await eachInstance(clients, undefined, async (c) => sitesOf(await c.config('apps/http/servers', signal).catch((err: { status?: number }) => (err.status === 400 ? null : Promise.reject(err)))));
      const ok = answers.filter((a): a is Extract<typeof a, { ok: true }> => a.ok);
      const failed = answers.filter((a) => !a.ok);
      // host -> instance -> where it goes
      const routes = new Map<string, Map<string, string>>();
      for (const a of ok)
        for (const site of a.value)
          for (const h of site.hosts.length ? site.hosts : ['(any host)']) {
            const to = site.upstreams.length ? site.upstreams.join(', ') : site.handlers.join('; ');
            const m = routes.get(h) ?? routes.set(h, new Map()).get(h)!;
            m.set(a.instance, m.has(a.instance) ? `${m.get(a.instance)}; ${to}` : to);
          }
      const differences: Array<{ host: string; on: Record<string, string>; missingOn: string[] }> = [];
      for (const [host, on] of [...routes].sort(([a], [b]) => a.localeCompare(b))) {
        const missingOn = ok.map((a) => a.instance).filter((n) => !on.has(n));
        if (missingOn.length || new Set(on.values()).size > 1) differences.push({ host, on: Object.fromEntries(on), missingOn });
      }
      const total = differences.length;
      differences.splice(MAX_DIFF_LINES);
      const lines = [
        ok.length < 2 ? `only ${ok.length} of ${clients.length} Caddy instances answered: nothing to compare` : total ? `${total} host${total === 1 ? '' : 's'} served differently:` : `the ${ok.length} Caddy instances serve the same ${routes.size} hosts the same way`,
        ...(total > differences.length ? [`(showing ${differences.length})`] : []),
        ...differences.map((d) => `- ${d.host}: ${Object.entries(d.on).map(([i, to]) => `${i} -> ${to}`).join('; ')}${d.missingOn.length ? `; not on ${d.missingOn.join(', ')}` : ''}`),
        ...failed.map((a) => `${a.instance}: ${(a as { error: string }).error}`),
      ];
      return textResult(lines.join('\n'), { differences, ...(failed.length ? { failed } : {}) });
    },
  });
  return clients.length > 1 ? [sites, config, diff] : [sites, config];
}
