/**
 * cve_lookup: one vulnerability by id (CVE from NVD and OSV side by side; GHSA, PYSEC and other
 * OSV ids from OSV), or the known vulnerabilities of a package version (OSV `/v1/query`).
 * Severity (CVSS v4, v3.x, v2 as present), summary, affected and fixed versions, references:
 * each bounded. NVD bans clients over its rate limit (5 requests per 30 s without an API key, 50
 * with), so its requests pass a limiter that waits briefly or refuses with when to retry.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { isHomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpResponse } from '@homelab-mcp/core/http';
import type { CatalogTool } from '../catalog/types.ts';
import type { InternetDeps } from './deps.ts';
import { createRateLimiter, type RateLimiterOptions } from './rate-limiter.ts';

const TIMEOUT_MS = 20_000;
const MAX_BYTES = 8 * 1024 * 1024;
const NVD_WINDOW_MS = 30_000;
/** NVD's documented limits per 30 s. */
export const NVD_LIMIT = { withoutKey: 5, withKey: 50 } as const;
const NVD_MAX_WAIT_MS = 10_000;
const OSV_PAGES = 3;
const VULNS_SHOWN = 20;
const VULNS_KEPT = 50;
const REFS_SHOWN = 5;
const AFFECTED_SHOWN = 10;
const TEXT_CUT = 400;

/** Common names for OSV's ecosystems (OSV's own spelling is taken as well). */
const OSV_ECOSYSTEMS: Record<string, string> = {
  npm: 'npm',
  pypi: 'PyPI',
  pip: 'PyPI',
  python: 'PyPI',
  go: 'Go',
  golang: 'Go',
  maven: 'Maven',
  'crates.io': 'crates.io',
  cargo: 'crates.io',
  rust: 'crates.io',
  rubygems: 'RubyGems',
  gem: 'RubyGems',
  nuget: 'NuGet',
  packagist: 'Packagist',
  composer: 'Packagist',
  pub: 'Pub',
  hex: 'Hex',
  debian: 'Debian',
  ubuntu: 'Ubuntu',
  alpine: 'Alpine',
  'github actions': 'GitHub Actions',
  'github-actions': 'GitHub Actions',
};

/** What tests replace: the environment and the NVD limiter's clock. */
export interface CveToolsOptions {
  /** Where NVD_API_KEY is read when `internet.tokens.nvd` is not set; default process.env. */
  env?: Record<string, string | undefined>;
  /** The NVD limiter's clock (tests). */
  now?: RateLimiterOptions['now'];
  sleep?: RateLimiterOptions['sleep'];
}

class UserError extends Error {}

interface OsvVuln {
  id?: string;
  summary?: string;
  details?: string;
  aliases?: string[];
  published?: string;
  modified?: string;
  withdrawn?: string;
  severity?: Array<{ type?: string; score?: string }>;
  database_specific?: { severity?: string };
  references?: Array<{ type?: string; url?: string }>;
  affected?: Array<{
    package?: { name?: string; ecosystem?: string; purl?: string };
    ranges?: Array<{ type?: string; events?: Array<Record<string, string>> }>;
    versions?: string[];
    ecosystem_specific?: { severity?: string };
    database_specific?: { severity?: string };
  }>;
}

interface NvdMetric {
  source?: string;
  type?: string;
  cvssData?: { version?: string; vectorString?: string; baseScore?: number; baseSeverity?: string };
  baseSeverity?: string;
}
interface NvdCve {
  id?: string;
  published?: string;
  lastModified?: string;
  vulnStatus?: string;
  descriptions?: Array<{ lang?: string; value?: string }>;
  metrics?: Record<string, NvdMetric[] | undefined>;
  weaknesses?: Array<{ description?: Array<{ lang?: string; value?: string }> }>;
  configurations?: Array<{ nodes?: Array<{ cpeMatch?: Array<{ vulnerable?: boolean; criteria?: string; versionStartIncluding?: string; versionStartExcluding?: string; versionEndIncluding?: string; versionEndExcluding?: string }> }> }>;
  references?: Array<{ url?: string; tags?: string[] }>;
}

function cut(s: string | undefined, n = TEXT_CUT): string {
  const t = (s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}
const MAX_STRING = 500;
const MAX_ITEMS = 50;
const MAX_LINE = 2000;

/** `v` with every string cut at 500 characters and every list at 50 items, at any depth. */
function clamp(v: unknown): unknown {
  if (typeof v === 'string') return v.length > MAX_STRING ? `${v.slice(0, MAX_STRING - 1)}…` : v;
  if (Array.isArray(v)) return v.slice(0, MAX_ITEMS).map(clamp);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clamp(x)]));
  return v;
}

/**
 * The answer bounded whatever the databases sent: each text line at 2000 characters, the
 * structured part as {@link clamp} leaves it. Real records fit; a broken or hostile endpoint
 * (megabyte ids, 50 000 fixed versions) no longer makes a megabyte answer.
 */
function bounded(r: CallToolResult): CallToolResult {
  const content = r.content.map((c) => (c.type === 'text' ? { ...c, text: c.text.split('\n').map((l) => (l.length > MAX_LINE ? `${l.slice(0, MAX_LINE - 1)}…` : l)).join('\n') } : c));
  return { ...r, content, ...(r.structuredContent ? { structuredContent: clamp(r.structuredContent) as Record<string, unknown> } : {}) };
}

function fail(text: string): CallToolResult {
  return { content: [{ type: 'text', text: `cve_lookup: ${text}` }], isError: true };
}

/** `CVSS_V3 CVSS:3.1/AV:N/… [HIGH]`: OSV gives vectors, not scores; the database's own label when present. */
function osvSeverity(v: OsvVuln): string[] {
  const out = (v.severity ?? []).filter((s) => s.type && s.score).map((s) => `${s.type} ${s.score}`);
  const label = v.database_specific?.severity ?? v.affected?.map((a) => a.ecosystem_specific?.severity ?? a.database_specific?.severity).find(Boolean);
  if (label) out.push(`rated ${String(label).toUpperCase()}`);
  return out;
}

/** `PyPI jinja2: introduced 0, fixed 2.11.3`. */
function osvAffected(v: OsvVuln): Array<{ package: string; ecosystem: string; ranges: string[]; fixed: string[]; versions: number }> {
  return (v.affected ?? []).slice(0, AFFECTED_SHOWN).map((a) => {
    const ranges: string[] = [];
    const fixed: string[] = [];
    for (const r of a.ranges ?? []) {
      for (const e of r.events ?? []) {
        for (const [k, val] of Object.entries(e)) {
          ranges.push(`${k.replace('_', ' ')} ${val}`);
          if (k === 'fixed' && r.type !== 'GIT') fixed.push(val);
        }
      }
    }
    return { package: a.package?.name ?? '?', ecosystem: a.package?.ecosystem ?? '?', ranges: ranges.slice(0, 20), fixed, versions: a.versions?.length ?? 0 };
  });
}

function osvText(v: OsvVuln, forPackage?: string): string {
  const aliases = (v.aliases ?? []).slice(0, 5);
  const aff = osvAffected(v);
  const mine = forPackage ? aff.filter((a) => a.package.toLowerCase() === forPackage.toLowerCase()) : [];
  const fixed = [...new Set(mine.flatMap((a) => a.fixed))];
  const refs = (v.references ?? []).filter((r) => r.url);
  return [
    `${v.id}${aliases.length ? ` (${aliases.join(', ')})` : ''}${v.withdrawn ? ' [withdrawn]' : ''}: ${cut(v.summary || v.details) || 'no summary'}`,
    ...(osvSeverity(v).length ? [`  severity: ${osvSeverity(v).join('; ')}`] : []),
    ...(forPackage ? [`  fixed in: ${fixed.length ? fixed.join(', ') : 'no fixed version known'}`] : aff.map((a) => `  affected: ${a.ecosystem} ${a.package}: ${a.ranges.join(', ') || `${a.versions} listed versions`}`)),
    ...(refs.length ? [`  references: ${refs.slice(0, REFS_SHOWN).map((r) => r.url).join(' ')}${refs.length > REFS_SHOWN ? ` (${REFS_SHOWN} of ${refs.length})` : ''}`] : []),
  ].join('\n');
}

function osvData(v: OsvVuln, forPackage?: string): Record<string, unknown> {
  const aff = osvAffected(v);
  return {
    id: v.id,
    aliases: (v.aliases ?? []).slice(0, 20),
    summary: cut(v.summary || v.details),
    ...(v.published ? { published: v.published } : {}),
    ...(v.withdrawn ? { withdrawn: v.withdrawn } : {}),
    severity: osvSeverity(v),
    affected: aff,
    ...(forPackage ? { fixed: [...new Set(aff.filter((a) => a.package.toLowerCase() === forPackage.toLowerCase()).flatMap((a) => a.fixed))] } : {}),
    references: (v.references ?? []).filter((r) => r.url).slice(0, REFS_SHOWN).map((r) => r.url),
  };
}

/** The CVSS metrics NVD gives, newest version first: `CVSS 3.1 9.8 CRITICAL (nvd@nist.gov) CVSS:3.1/…`. */
function nvdSeverity(c: NvdCve): Array<{ version: string; score?: number; severity?: string; vector?: string; source?: string }> {
  const out: Array<{ version: string; score?: number; severity?: string; vector?: string; source?: string }> = [];
  for (const key of ['cvssMetricV40', 'cvssMetricV31', 'cvssMetricV30', 'cvssMetricV2']) {
    const list = c.metrics?.[key] ?? [];
    // NVD's own (Primary) score first, then the CNA's.
    for (const m of [...list].sort((a, b) => (a.type === 'Primary' ? -1 : 0) - (b.type === 'Primary' ? -1 : 0)).slice(0, 2)) {
      const d = m.cvssData ?? {};
      const sev = d.baseSeverity ?? m.baseSeverity; // v2 keeps it beside cvssData
      out.push({ version: d.version ?? key.replace('cvssMetricV', ''), ...(d.baseScore !== undefined ? { score: d.baseScore } : {}), ...(sev ? { severity: sev } : {}), ...(d.vectorString ? { vector: d.vectorString } : {}), ...(m.source ? { source: m.source } : {}) });
    }
  }
  return out;
}

function nvdAffected(c: NvdCve): string[] {
  const out: string[] = [];
  for (const conf of c.configurations ?? [])
    for (const n of conf.nodes ?? [])
      for (const m of n.cpeMatch ?? []) {
        if (!m.vulnerable || !m.criteria) continue;
        const parts = m.criteria.split(':');
        const product = `${parts[3] ?? '?'}:${parts[4] ?? '?'}${parts[5] && parts[5] !== '*' && parts[5] !== '-' ? ` ${parts[5]}` : ''}`;
        const range = [
          m.versionStartIncluding ? `from ${m.versionStartIncluding}` : m.versionStartExcluding ? `after ${m.versionStartExcluding}` : '',
          m.versionEndExcluding ? `before ${m.versionEndExcluding}` : m.versionEndIncluding ? `up to ${m.versionEndIncluding}` : '',
        ]
          .filter(Boolean)
          .join(' ');
        out.push(range ? `${product} ${range}` : product);
      }
  return [...new Set(out)];
}

/**
 * The cve_lookup tool.
 *
 * @example internetTools: [...cveTools(deps)]
 */
export function cveTools(deps: InternetDeps, opts: CveToolsOptions = {}): CatalogTool[] {
  const env = opts.env ?? process.env;
  const nvdLimiter = createRateLimiter({ windowMs: NVD_WINDOW_MS, maxWaitMs: NVD_MAX_WAIT_MS, ...(opts.now ? { now: opts.now } : {}), ...(opts.sleep ? { sleep: opts.sleep } : {}) });

  async function request(service: string, req: { method?: string; url: string; headers?: Record<string, string>; body?: string }, signal: AbortSignal): Promise<HttpResponse> {
    try {
      return await deps.http.request({ ...req, headers: { accept: 'application/json', ...req.headers }, timeoutMs: TIMEOUT_MS, signal, maxBytes: MAX_BYTES });
    } catch (err) {
      if (isHttpError(err) || isHomelabError(err)) throw new UserError(`${service}: ${(err as Error).message}`);
      throw err;
    }
  }
  function json<T>(service: string, res: HttpResponse): T {
    try {
      return res.json<T>();
    } catch {
      throw new UserError(`${service}: the answer is not JSON (HTTP ${res.status})`);
    }
  }
  function osvError(res: HttpResponse, what: string): UserError {
    let msg = '';
    try {
      msg = String(res.json<{ message?: string }>().message ?? '');
    } catch {
      /* not JSON */
    }
    return new UserError(`OSV answered HTTP ${res.status} for ${what}${msg ? `: ${cut(msg, 200)}` : ''}`);
  }

  async function osvById(id: string, signal: AbortSignal): Promise<OsvVuln | undefined> {
    const res = await request('OSV', { url: `${deps.config().endpoints.osv}/v1/vulns/${encodeURIComponent(id)}` }, signal);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw osvError(res, id);
    return json<OsvVuln>('OSV', res);
  }

  async function nvdById(id: string, signal: AbortSignal): Promise<NvdCve | undefined> {
    const key = deps.config().tokens.nvd ?? (env.NVD_API_KEY || undefined);
    const limit = key ? NVD_LIMIT.withKey : NVD_LIMIT.withoutKey;
    const slot = await nvdLimiter.acquire(limit, signal);
    if (!slot.ok) throw new UserError(`NVD not asked: its rate limit is ${limit} requests per 30 s${key ? '' : ' without an API key (internet.tokens.nvd or NVD_API_KEY raises it to 50)'}; retry in ${Math.ceil(slot.retryInMs / 1000)} s`);
    const res = await request('NVD', { url: `${deps.config().endpoints.nvd}/rest/json/cves/2.0?cveId=${encodeURIComponent(id)}`, headers: key ? { apiKey: key } : {} }, signal);
    if (res.status === 403 || res.status === 503 || res.status === 429) throw new UserError(`NVD refused the request (HTTP ${res.status}: its rate limit${key ? ' or a wrong API key' : ''}); retry in 30 s`);
    if (res.status === 404 && key) throw new UserError('NVD answered HTTP 404: the API key (internet.tokens.nvd or NVD_API_KEY) is not valid');
    if (res.status !== 200) throw new UserError(`NVD answered HTTP ${res.status} for ${id}`);
    const body = json<{ totalResults?: number; vulnerabilities?: Array<{ cve?: NvdCve }> }>('NVD', res);
    return body.vulnerabilities?.[0]?.cve;
  }

  async function byId(id: string, signal: AbortSignal): Promise<CallToolResult> {
    const isCve = /^CVE-\d{4}-\d{4,}$/.test(id);
    const [osv, nvd] = await Promise.allSettled([osvById(id, signal), isCve ? nvdById(id, signal) : Promise.resolve(undefined)]);
    const lines: string[] = [];
    const data: Record<string, unknown> = { id };
    const problem = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? (r.reason instanceof UserError ? r.reason.message : `internal error: ${String((r.reason as Error)?.message ?? r.reason).slice(0, 200)}`) : undefined);
    if (nvd.status === 'fulfilled' && nvd.value) {
      const c = nvd.value;
      const sev = nvdSeverity(c);
      const affected = nvdAffected(c);
      const refs = (c.references ?? []).filter((r) => r.url);
      const cwes = [...new Set((c.weaknesses ?? []).flatMap((w) => (w.description ?? []).map((d) => d.value)).filter((v): v is string => !!v && v.startsWith('CWE-')))];
      lines.push(
        `NVD ${c.id} (${c.vulnStatus ?? 'status unknown'}, published ${(c.published ?? '?').slice(0, 10)}): ${cut(c.descriptions?.find((d) => d.lang === 'en')?.value) || 'no description'}`,
        `  severity: ${sev.length ? sev.map((s) => `CVSS ${s.version} ${s.score ?? '?'} ${s.severity ?? ''}${s.source ? ` (${s.source})` : ''}`.replace(/\s+/g, ' ')).join('; ') : 'not scored yet'}`,
        ...(cwes.length ? [`  weakness: ${cwes.slice(0, 5).join(', ')}`] : []),
        ...(affected.length ? [`  affected: ${affected.slice(0, AFFECTED_SHOWN).join('; ')}${affected.length > AFFECTED_SHOWN ? ` (${AFFECTED_SHOWN} of ${affected.length})` : ''}`] : []),
        ...(refs.length ? [`  references: ${refs.slice(0, REFS_SHOWN).map((r) => r.url).join(' ')}${refs.length > REFS_SHOWN ? ` (${REFS_SHOWN} of ${refs.length})` : ''}`] : []),
      );
      data.nvd = { id: c.id, status: c.vulnStatus, published: c.published, lastModified: c.lastModified, description: cut(c.descriptions?.find((d) => d.lang === 'en')?.value), severity: sev, weaknesses: cwes.slice(0, 10), affected: affected.slice(0, AFFECTED_SHOWN), references: refs.slice(0, REFS_SHOWN).map((r) => r.url) };
    } else if (isCve) {
      const p = problem(nvd);
      lines.push(p ? `NVD: ${p}` : `NVD has no record of ${id}.`);
      if (p) data.nvdError = p;
    }
    if (osv.status === 'fulfilled' && osv.value) {
      lines.push(`OSV ${osvText(osv.value)}`);
      data.osv = osvData(osv.value);
    } else {
      const p = problem(osv);
      lines.push(p ? `OSV: ${p}` : `OSV has no record of ${id}.`);
      if (p) data.osvError = p;
    }
    const found = !!data.nvd || !!data.osv;
    if (!found && (data.nvdError || data.osvError)) return fail(lines.join('\n'));
    return { content: [{ type: 'text', text: lines.join('\n') }], structuredContent: { ...data, found } };
  }

  async function byPackage(name: string, ecosystem: string, version: string, signal: AbortSignal): Promise<CallToolResult> {
    const eco = OSV_ECOSYSTEMS[ecosystem.toLowerCase()] ?? ecosystem;
    const vulns: OsvVuln[] = [];
    let pageToken: string | undefined;
    let truncated = false;
    for (let page = 1; ; page++) {
      const body = JSON.stringify({ package: { name, ecosystem: eco }, version, ...(pageToken ? { page_token: pageToken } : {}) });
      const res = await request('OSV', { method: 'POST', url: `${deps.config().endpoints.osv}/v1/query`, headers: { 'content-type': 'application/json' }, body }, signal);
      if (res.status === 400) throw osvError(res, `${eco} ${name}`);
      if (res.status !== 200) throw osvError(res, `${eco} ${name} ${version}`);
      // No hits is `{}`: no `vulns` key at all.
      const r = json<{ vulns?: OsvVuln[]; next_page_token?: string }>('OSV', res);
      vulns.push(...(r.vulns ?? []));
      pageToken = r.next_page_token;
      if (!pageToken) break;
      if (page >= OSV_PAGES) {
        truncated = true;
        break;
      }
    }
    const live = vulns.filter((v) => !v.withdrawn);
    const head = live.length
      ? `${eco} ${name} ${version}: ${live.length}${truncated ? '+' : ''} known ${live.length === 1 ? 'vulnerability' : 'vulnerabilities'} (OSV)${live.length > VULNS_SHOWN ? `, the first ${VULNS_SHOWN} shown` : ''}:`
      : `${eco} ${name} ${version}: no known vulnerability (OSV).`;
    const fixedAll = live.flatMap((v) => osvData(v, name).fixed as string[]);
    const text = [head, ...live.slice(0, VULNS_SHOWN).map((v) => osvText(v, name))].join('\n');
    return {
      content: [{ type: 'text', text }],
      structuredContent: { package: name, ecosystem: eco, version, count: live.length, truncated, fixedVersions: [...new Set(fixedAll)].slice(0, 50), vulns: live.slice(0, VULNS_KEPT).map((v) => osvData(v, name)) },
    };
  }

  return [
    {
      def: {
        name: 'cve_lookup',
        title: 'Look up a vulnerability',
        description:
          'A vulnerability by id (CVE-2021-44228 from NVD and OSV; GHSA-…, PYSEC-… from OSV), or the known vulnerabilities of one package version (OSV): severity (CVSS), summary, affected and fixed versions, references. ' +
          'Give either cve_id, or package + ecosystem (npm, PyPI, Go, Maven, crates.io, RubyGems, NuGet, Debian, …) + version.',
        inputSchema: {
          type: 'object',
          properties: {
            cve_id: { type: 'string', description: 'CVE-YYYY-NNNN, or an OSV id such as GHSA-xxxx-xxxx-xxxx or PYSEC-2021-66.' },
            package: { type: 'string', description: 'The package name, as its ecosystem spells it (jinja2, lodash, github.com/gin-gonic/gin).' },
            ecosystem: { type: 'string', description: 'The OSV ecosystem: npm, PyPI, Go, Maven, crates.io, RubyGems, NuGet, Packagist, Debian, Alpine, …' },
            version: { type: 'string', description: 'The version in use.' },
          },
          additionalProperties: false,
        },
        annotations: { title: 'Look up a vulnerability', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      },
      toolClass: 'read',
      source: 'internet',
      async call(args, ctx) {
        const known = ['cve_id', 'package', 'ecosystem', 'version'];
        const unknown = Object.keys(args).filter((k) => !known.includes(k));
        if (unknown.length) return fail(`unknown argument ${unknown.map((k) => `"${k}"`).join(', ')} (expected: ${known.join(', ')})`);
        const str = (k: string) => (typeof args[k] === 'string' && (args[k] as string).trim() ? (args[k] as string).trim() : undefined);
        for (const k of known) if (args[k] !== undefined && !str(k)) return fail(`argument "${k}": expected a non-empty string`);
        const id = str('cve_id');
        const pkg = str('package');
        try {
          if (id) {
            if (pkg || str('ecosystem') || str('version')) return fail('give either "cve_id", or "package", "ecosystem" and "version", not both');
            const norm = /^cve-/i.test(id) ? id.toUpperCase() : id;
            if (!/^[A-Za-z][A-Za-z0-9]{1,15}-[A-Za-z0-9._:-]{1,80}$/.test(norm)) return fail(`argument "cve_id": "${id.slice(0, 100)}" is not a vulnerability id (CVE-2021-44228, GHSA-jfh8-c2jp-5v3q, PYSEC-2021-66)`);
            return bounded(await byId(norm, ctx.signal));
          }
          const eco = str('ecosystem');
          const version = str('version');
          if (!pkg || !eco || !version) return fail(`give "cve_id", or all of "package", "ecosystem" and "version" (missing: ${['package', 'ecosystem', 'version'].filter((k) => !str(k)).join(', ')})`);
          if (pkg.length > 300 || eco.length > 50 || version.length > 128) return fail('argument too long ("package" up to 300 characters, "ecosystem" 50, "version" 128)');
          return bounded(await byPackage(pkg, eco, version, ctx.signal));
        } catch (err) {
          if (err instanceof UserError) return fail(err.message);
          return fail(`internal error: ${err instanceof Error ? err.message.slice(0, 200) : 'unknown'}`);
        }
      },
    },
  ];
}
