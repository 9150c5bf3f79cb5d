/**
 * check_package_version: the newest stable release and pre-release of a package on Docker Hub,
 * GHCR, npm, PyPI or GitHub releases, with its date where the source gives one, and whether the
 * version in use is behind. Every request goes through the audited client (one `http_request`
 * event each, without query or token); pages and answers are bounded.
 *
 * Docker tags are compared within their variant (`1.25-alpine` against the `-alpine` tags only);
 * a moving tag (`latest`, `stable-alpine`) is no version: it is resolved by digest to the
 * versioned tag it points to, or said to be not comparable.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { isHomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpResponse } from '@homelab-mcp/core/http';
import type { CatalogTool } from '../catalog/types.ts';
import type { InternetDeps } from './deps.ts';
import { compareVersions, isDateLike, isPrerelease, parseVersion, tagVariant, type Version } from './version-compare.ts';

/** The `ecosystem` argument's values. */
export const ECOSYSTEMS = ['docker', 'ghcr', 'npm', 'pypi', 'github'] as const;
/** One of {@link ECOSYSTEMS}. */
export type Ecosystem = (typeof ECOSYSTEMS)[number];

const TIMEOUT_MS = 15_000;
const DOCKER_PAGES = 10; // of 100 tags, newest pushed first
const GHCR_PAGES = 10; // of 1000 tags
const GITHUB_PAGES = 3; // of 100 releases
const DIGEST_PROBES = 5; // manifests asked for when resolving a moving GHCR tag
const RECENT_SHOWN = 10;
const PACKUMENT_BYTES = 16 * 1024 * 1024;
const MAX_JSON_BYTES = 32 * 1024 * 1024;
const OCI_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** What tests replace: the environment. */
export interface VersionToolsOptions {
  /** Where DOCKERHUB_TOKEN and GITHUB_TOKEN are read when `internet.tokens` lacks them; default process.env. */
  env?: Record<string, string | undefined>;
}

/** One release or tag as a source lists it. */
interface Entry {
  name: string;
  date?: string;
  digest?: string;
  /** The source itself calls it a pre-release (GitHub's flag). */
  pre?: boolean;
}
interface Candidate extends Entry {
  v: Version;
}
/** What one source gave. */
interface Listing {
  /** `Docker Hub library/nginx`. */
  source: string;
  entries: Entry[];
  /** More existed than the bounded pages fetched. */
  truncated: boolean;
  /** The source's own pointer to its latest (npm dist-tags), by name. */
  tags?: Record<string, string>;
  /** The digest of a tag, asked for separately (GHCR's list has none). */
  digestOf?(tag: string): Promise<string | undefined>;
}

class UserError extends Error {}

/**
 * Whether a name has a `.` or `..` path segment: the URL parser would resolve it, and the
 * request (with its token) would reach another path of the endpoint than the package's.
 */
const dotSegment = (name: string) => name.split('/').some((s) => s === '.' || s === '..');

function ok(text: string, data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: data };
}
function fail(text: string): CallToolResult {
  return { content: [{ type: 'text', text: `check_package_version: ${text}` }], isError: true };
}

function pick(...values: Array<string | undefined>): string | undefined {
  return values.find((v) => typeof v === 'string' && v.length > 0);
}

/** `date` as YYYY-MM-DD, or undefined. */
function day(date: string | undefined): string | undefined {
  return date && /^\d{4}-\d{2}-\d{2}/.test(date) ? date.slice(0, 10) : undefined;
}

/** `</v2/o/i/tags/list?last=x&n=1000>; rel="next"` → the URL. */
function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The check_package_version tool.
 *
 * @example internetTools: [...versionTools(deps)]
 */
export function versionTools(deps: InternetDeps, opts: VersionToolsOptions = {}): CatalogTool[] {
  const env = opts.env ?? process.env;

  async function get(service: string, url: string, signal: AbortSignal, headers: Record<string, string> = {}, maxBytes = MAX_JSON_BYTES, method = 'GET'): Promise<HttpResponse> {
    try {
      return await deps.http.request({ method, url, headers: { accept: 'application/json', ...headers }, timeoutMs: TIMEOUT_MS, signal, maxBytes });
    } catch (err) {
      if (isHttpError(err, 'too_large')) throw err;
      if (isHttpError(err) || isHomelabError(err)) throw new UserError(`${service}: ${(err as Error).message}`);
      throw err;
    }
  }
  /** A non-2xx answer as a sentence naming the service and what to do. */
  function refused(service: string, what: string, res: HttpResponse): UserError {
    if (res.status === 404) return new UserError(`${service} has no ${what} (HTTP 404)`);
    if (res.status === 401 || res.status === 403) return new UserError(`${service} refused the request for ${what} (HTTP ${res.status}${res.status === 403 ? ', a rate limit or a token without access' : ', the token is missing or wrong'})`);
    if (res.status === 429) return new UserError(`${service} rate-limits this hub (HTTP 429)${res.headers['retry-after'] ? `: retry in ${res.headers['retry-after']} s` : ''}`);
    return new UserError(`${service} answered HTTP ${res.status} for ${what}`);
  }
  function json<T>(service: string, res: HttpResponse): T {
    try {
      return res.json<T>();
    } catch {
      throw new UserError(`${service}: the answer is not JSON`);
    }
  }

  /** An access token of Docker Hub's, exchanged for `user:pat` credentials; kept while it is fresh. */
  let dockerHubAccess: { key: string; token: string; until: number } | undefined;
  /**
   * The Bearer for Docker Hub: DOCKERHUB_TOKEN as is, or, when it is `username:personal-access-token`,
   * the short-lived access token Docker Hub gives for it (`POST /v2/auth/token`), since a PAT
   * is not itself accepted as a Bearer by the Hub API.
   */
  async function dockerHubBearer(base: string, signal: AbortSignal): Promise<string | undefined> {
    const given = pick(deps.config().tokens.dockerHub, env.DOCKERHUB_TOKEN);
    const colon = given?.indexOf(':') ?? -1;
    if (!given || colon <= 0) return given;
    const key = `${base}\u0000${given}`;
    if (dockerHubAccess && dockerHubAccess.key === key && dockerHubAccess.until > Date.now()) return dockerHubAccess.token;
    const res = await deps.http
      .request({ method: 'POST', url: `${base}/v2/auth/token`, headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify({ identifier: given.slice(0, colon), secret: given.slice(colon + 1) }), timeoutMs: TIMEOUT_MS, signal, maxBytes: 64 * 1024 })
      .catch((err: unknown) => {
        throw new UserError(`Docker Hub: ${(err as Error).message}`);
      });
    if (res.status !== 200) throw new UserError(`Docker Hub refused the credentials of internet.tokens.dockerHub / DOCKERHUB_TOKEN (HTTP ${res.status} from /v2/auth/token; expected username:personal-access-token or an access token)`);
    const access = json<{ access_token?: string }>('Docker Hub', res).access_token;
    if (typeof access !== 'string' || !access) throw new UserError('Docker Hub: /v2/auth/token gave no access_token');
    // Docker Hub's access tokens live minutes; renew well before.
    dockerHubAccess = { key, token: access, until: Date.now() + 4 * 60_000 };
    return access;
  }

  async function dockerHub(pkg: string, signal: AbortSignal): Promise<Listing> {
    const name = pkg.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '');
    if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)?$/.test(name)) throw new UserError(`argument "package": "${pkg.slice(0, 100)}" is not a Docker Hub image (nginx, grafana/grafana)`);
    const repo = name.includes('/') ? name : `library/${name}`;
    const base = deps.config().endpoints.dockerHub;
    const token = await dockerHubBearer(base, signal);
    const entries: Entry[] = [];
    let truncated = false;
    for (let page = 1; ; page++) {
      const res = await get('Docker Hub', `${base}/v2/repositories/${repo}/tags?page_size=100&page=${page}&ordering=last_updated`, signal, token ? { authorization: `Bearer ${token}` } : {});
      if (res.status !== 200) throw refused('Docker Hub', `repository ${repo}`, res);
      const body = json<{ next?: string | null; results?: Array<{ name?: string; last_updated?: string; tag_last_pushed?: string; digest?: string }> }>('Docker Hub', res);
      for (const t of body.results ?? []) if (typeof t.name === 'string') entries.push({ name: t.name, ...(pick(t.tag_last_pushed, t.last_updated) ? { date: pick(t.tag_last_pushed, t.last_updated)! } : {}), ...(t.digest ? { digest: t.digest } : {}) });
      if (!body.next) break;
      if (page >= DOCKER_PAGES) {
        truncated = true;
        break;
      }
    }
    return { source: `Docker Hub ${repo}`, entries, truncated };
  }

  async function ghcr(pkg: string, signal: AbortSignal): Promise<Listing> {
    const name = pkg.replace(/^ghcr\.io\//, '');
    if (!/^[a-z0-9._-]+(?:\/[a-z0-9._-]+)+$/.test(name) || dotSegment(name)) throw new UserError(`argument "package": "${pkg.slice(0, 100)}" is not a GHCR image (owner/image, e.g. home-assistant/home-assistant)`);
    const base = deps.config().endpoints.ghcr;
    // The anonymous token dance: a pull token for this repository, then the registry API with it.
    const tr = await get('GHCR', `${base}/token?scope=${encodeURIComponent(`repository:${name}:pull`)}&service=ghcr.io`, signal);
    if (tr.status !== 200) throw refused('GHCR', `image ${name}`, tr);
    const token = json<{ token?: string }>('GHCR', tr).token;
    if (typeof token !== 'string' || !token) throw new UserError('GHCR: the token endpoint gave no token');
    const auth = { authorization: `Bearer ${token}` };
    const entries: Entry[] = [];
    let truncated = false;
    let url = `${base}/v2/${name}/tags/list?n=1000`;
    for (let page = 1; ; page++) {
      const res = await get('GHCR', url, signal, auth);
      if (res.status !== 200) throw refused('GHCR', `image ${name}`, res);
      for (const t of json<{ tags?: string[] | null }>('GHCR', res).tags ?? []) if (typeof t === 'string') entries.push({ name: t });
      const next = nextLink(res.headers.link);
      if (!next) break;
      if (page >= GHCR_PAGES) {
        truncated = true;
        break;
      }
      // The registry's Link is relative; only its path and query are taken, on our endpoint.
      const u = new URL(next, base);
      if (!u.pathname.endsWith(`/v2/${name}/tags/list`)) throw new UserError(`GHCR: the next page link points elsewhere (${u.pathname.slice(0, 100)})`);
      url = `${base}/v2/${name}/tags/list${u.search}`;
    }
    return {
      source: `GHCR ${name}`,
      entries,
      truncated,
      async digestOf(tag) {
        const res = await get('GHCR', `${base}/v2/${name}/manifests/${encodeURIComponent(tag)}`, signal, { ...auth, accept: OCI_ACCEPT }, 1024, 'HEAD');
        return res.status === 200 ? res.headers['docker-content-digest'] : undefined;
      },
    };
  }

  async function npm(pkg: string, signal: AbortSignal): Promise<Listing> {
    if (!/^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9._~-][a-z0-9._~-]*$/i.test(pkg) || pkg.length > 214 || dotSegment(pkg)) throw new UserError(`argument "package": "${pkg.slice(0, 100)}" is not an npm package name (express, @scope/name)`);
    const base = deps.config().endpoints.npm;
    // Scoped names keep the @ and encode the slash, as the registry wants (`/@scope%2fname`).
    const url = `${base}/${pkg.replace('/', '%2f')}`;
    let res: HttpResponse;
    let abbreviated = false;
    try {
      res = await get('npm', url, signal, {}, PACKUMENT_BYTES);
    } catch (err) {
      if (!isHttpError(err, 'too_large')) throw err;
      // A huge packument (thousands of versions): the abbreviated form has the versions, not their dates.
      res = await get('npm', url, signal, { accept: 'application/vnd.npm.install-v1+json' }, MAX_JSON_BYTES);
      abbreviated = true;
    }
    if (res.status !== 200) throw refused('npm', `package ${pkg}`, res);
    const body = json<{ 'dist-tags'?: Record<string, string>; versions?: Record<string, { deprecated?: unknown }>; time?: Record<string, string> }>('npm', res);
    const entries = Object.keys(body.versions ?? {}).map((v) => ({ name: v, ...(body.time?.[v] ? { date: body.time[v] } : {}) }));
    return { source: `npm ${pkg}${abbreviated ? ' (abbreviated metadata: no dates)' : ''}`, entries, truncated: false, tags: body['dist-tags'] ?? {} };
  }

  async function pypi(pkg: string, signal: AbortSignal): Promise<Listing> {
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$/.test(pkg)) throw new UserError(`argument "package": "${pkg.slice(0, 100)}" is not a PyPI project name (requests, django-rest-framework)`);
    const base = deps.config().endpoints.pypi;
    const res = await get('PyPI', `${base}/pypi/${pkg}/json`, signal);
    if (res.status !== 200) throw refused('PyPI', `project ${pkg}`, res);
    const body = json<{ releases?: Record<string, Array<{ upload_time_iso_8601?: string; upload_time?: string; yanked?: boolean }>> }>('PyPI', res);
    const entries: Entry[] = [];
    for (const [v, files] of Object.entries(body.releases ?? {})) {
      // A release whose every file is yanked is withdrawn: not a candidate.
      if (files.length && files.every((f) => f.yanked)) continue;
      const dates = files.map((f) => pick(f.upload_time_iso_8601, f.upload_time)).filter((d): d is string => !!d).sort();
      entries.push({ name: v, ...(dates[0] ? { date: dates[0] } : {}) });
    }
    return { source: `PyPI ${pkg}`, entries, truncated: false };
  }

  async function github(pkg: string, signal: AbortSignal): Promise<Listing> {
    const name = pkg.replace(/^(https:\/\/)?github\.com\//, '').replace(/\.git$/, '');
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/.test(name) || dotSegment(name)) throw new UserError(`argument "package": "${pkg.slice(0, 100)}" is not a GitHub repository (owner/repo)`);
    const base = deps.config().endpoints.github;
    const token = pick(deps.config().tokens.github, env.GITHUB_TOKEN);
    const headers = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const entries: Entry[] = [];
    let truncated = false;
    for (let page = 1; ; page++) {
      let res = await get('GitHub', `${base}/repos/${name}/releases?per_page=100&page=${page}`, signal, headers);
      // A renamed or transferred repository answers 301 to /repositories/<id>/…, which GitHub asks
      // clients to follow; only on the API's own origin, since the token goes along.
      if ([301, 302, 307, 308].includes(res.status) && res.headers.location) {
        let to: URL;
        try {
          to = new URL(res.headers.location, base);
        } catch {
          throw new UserError(`GitHub answered HTTP ${res.status} for releases of ${name} with a Location that is not a URL`);
        }
        if (to.origin !== new URL(base).origin) throw new UserError(`GitHub answered HTTP ${res.status} for releases of ${name}, pointing to another origin (${to.origin.slice(0, 200)}); not followed`);
        res = await get('GitHub', to.href, signal, headers);
      }
      if (res.status !== 200) throw refused('GitHub', `releases of ${name}`, res);
      const list = json<Array<{ tag_name?: string; draft?: boolean; prerelease?: boolean; published_at?: string | null; created_at?: string }>>('GitHub', res);
      if (!Array.isArray(list)) throw new UserError('GitHub: the releases answer is not a list');
      for (const r of list) if (typeof r.tag_name === 'string' && !r.draft) entries.push({ name: r.tag_name, pre: !!r.prerelease, ...(pick(r.published_at ?? undefined, r.created_at) ? { date: pick(r.published_at ?? undefined, r.created_at)! } : {}) });
      if (!nextLink(res.headers.link) || list.length < 100) break;
      if (page >= GITHUB_PAGES) {
        truncated = true;
        break;
      }
    }
    return { source: `GitHub releases of ${name}`, entries, truncated };
  }

  const sources: Record<Ecosystem, (pkg: string, signal: AbortSignal) => Promise<Listing>> = { docker: dockerHub, ghcr, npm, pypi, github };

  return [
    {
      def: {
        name: 'check_package_version',
        title: 'Check a package version',
        description:
          'The newest stable release and pre-release of a package, with release dates where the source has them, and whether `current` is behind. ' +
          'Ecosystems: docker (Docker Hub: nginx, grafana/grafana), ghcr (owner/image), npm, pypi, github (owner/repo releases). ' +
          'Docker tags are compared within their variant (1.25-alpine against -alpine tags); a moving tag such as latest is resolved by digest where possible.',
        inputSchema: {
          type: 'object',
          properties: {
            package: { type: 'string', description: 'The package, image or repository: nginx, grafana/grafana, ghcr owner/image, @scope/name, requests, owner/repo.' },
            ecosystem: { type: 'string', enum: [...ECOSYSTEMS], description: 'Where it is published.' },
            current: { type: 'string', description: 'The version or tag in use (1.25.3, 1.25-alpine, v2.3.1, latest): the answer says whether it is behind.' },
          },
          required: ['package', 'ecosystem'],
          additionalProperties: false,
        },
        annotations: { title: 'Check a package version', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      },
      toolClass: 'read',
      source: 'internet',
      async call(args, ctx) {
        const unknown = Object.keys(args).filter((k) => !['package', 'ecosystem', 'current'].includes(k));
        if (unknown.length) return fail(`unknown argument ${unknown.map((k) => `"${k}"`).join(', ')} (expected: package, ecosystem, current)`);
        const { package: pkg, ecosystem, current } = args;
        if (typeof pkg !== 'string' || !pkg.trim()) return fail('argument "package" is required (nginx, grafana/grafana, owner/image, express, requests, owner/repo)');
        if (typeof ecosystem !== 'string' || !(ECOSYSTEMS as readonly string[]).includes(ecosystem)) return fail(`argument "ecosystem": expected one of ${ECOSYSTEMS.join(', ')}`);
        if (current !== undefined && (typeof current !== 'string' || !current.trim() || current.length > 128)) return fail('argument "current": expected a version or tag (1.25.3, 1.25-alpine, latest)');
        try {
          const listing = bounded(await sources[ecosystem as Ecosystem](pkg.trim(), ctx.signal));
          return ok(...(await analyse(ecosystem as Ecosystem, listing, typeof current === 'string' ? current.trim() : undefined)));
        } catch (err) {
          if (err instanceof UserError) return fail(err.message);
          if (isHttpError(err, 'too_large')) return fail(`the answer is too large: ${err.message}`);
          return fail(`internal error: ${err instanceof Error ? err.message.slice(0, 200) : 'unknown'}`);
        }
      },
    },
  ];
}

const MAX_NAME = 128;
const MAX_DATE = 40;
const MAX_DIGEST = 100;

/**
 * The listing without what no real registry sends: a tag longer than 128 characters is dropped,
 * an over-long date or digest forgotten, so that a broken or hostile endpoint cannot make the
 * answer megabytes long by echoing its own strings.
 */
function bounded(l: Listing): Listing {
  const entries: Entry[] = [];
  for (const e of l.entries) {
    if (e.name.length > MAX_NAME) continue;
    const { date, digest, ...rest } = e;
    entries.push({ ...rest, ...(typeof date === 'string' && date.length <= MAX_DATE ? { date } : {}), ...(typeof digest === 'string' && digest.length <= MAX_DIGEST ? { digest } : {}) });
  }
  const tags = l.tags && Object.fromEntries(Object.entries(l.tags).filter(([k, v]) => k.length <= MAX_NAME && typeof v === 'string' && v.length <= MAX_NAME));
  return { ...l, entries, ...(tags ? { tags } : {}) };
}

/** Status of `current` against the listing. */
type CurrentStatus = 'behind' | 'up_to_date' | 'ahead' | 'not_comparable';

const when = (c: Entry | undefined) => (c?.date ? ` (${day(c.date) ?? c.date.slice(0, 25)})` : '');

/** Picks the newest stable and pre-release and places `current`; text and structured answer. */
async function analyse(eco: Ecosystem, l: Listing, current: string | undefined): Promise<[string, Record<string, unknown>]> {
  const isImage = eco === 'docker' || eco === 'ghcr';
  const cur = current === undefined ? undefined : parseVersion(current);
  // Images: compare within the variant of `current` (1.25-alpine → -alpine), else the plain tags.
  const variant = isImage ? (current === undefined ? '' : tagVariant(current)) : undefined;
  const all: Candidate[] = [];
  for (const e of l.entries) {
    const v = parseVersion(e.name);
    if (!v) continue;
    if (variant !== undefined && v.variant !== variant) continue;
    if (isImage && isDateLike(v) && !(cur && isDateLike(cur))) continue;
    all.push({ ...e, v });
  }
  const newestFirst = all.sort((x, y) => compareVersions(y.v, x.v) || y.name.length - x.name.length);
  const pre = (c: Candidate) => isPrerelease(c.v) || !!c.pre;
  // npm's own `latest` dist-tag is the registry's answer (a maintainer may hold it below the newest).
  const npmLatest = l.tags?.latest ? newestFirst.find((c) => c.name === l.tags!.latest && !pre(c)) : undefined;
  const stable = npmLatest ?? newestFirst.find((c) => !pre(c));
  const preNewest = newestFirst.find(pre);
  const what = variant ? ` (variant -${variant})` : '';
  const lines: string[] = [];
  if (!stable && !preNewest && eco === 'github' && l.entries.some((e) => !e.pre)) {
    // Tags that are not versions (release-2024-06): GitHub lists releases newest first.
    const byDate = l.entries.find((e) => !e.pre)!;
    lines.push(`${l.source}: latest stable ${byDate.name}${when(byDate)} by publication date (its tags are not versions, so they are not compared).`);
    return [lines.join('\n'), { ecosystem: eco, source: l.source, latestStable: { version: byDate.name, ...(byDate.date ? { date: byDate.date } : {}) }, ...(current !== undefined ? { current: { given: current, status: 'not_comparable' } } : {}), recent: l.entries.slice(0, RECENT_SHOWN).map((e) => e.name), versionsConsidered: 0, truncated: l.truncated }];
  }
  if (!stable && !preNewest) lines.push(`${l.source}${what}: no versioned release among ${l.entries.length} ${isImage ? 'tag' : 'entrie'}s${l.entries.length ? ` (${l.entries.slice(0, RECENT_SHOWN).map((e) => e.name).join(', ')})` : ''}.`);
  else {
    lines.push(`${l.source}${what}: latest stable ${stable ? `${stable.name}${when(stable)}` : 'none'}; newest pre-release ${preNewest ? `${preNewest.name}${when(preNewest)}${stable && compareVersions(preNewest.v, stable.v) < 0 ? ' (older than the stable)' : ''}` : 'none'}.`);
  }

  let currentInfo: Record<string, unknown> | undefined;
  if (current !== undefined) {
    let resolved: Candidate | undefined;
    let status: CurrentStatus;
    let reason: string;
    if (cur) resolved = (isImage ? await resolvePartial(l, current, cur, newestFirst) : undefined) ?? newestFirst.find((c) => c.name === current) ?? { name: current, v: cur };
    else if (eco === 'npm' && l.tags?.[current]) resolved = newestFirst.find((c) => c.name === l.tags![current]);
    else if (isImage) resolved = await resolveMoving(l, current, newestFirst);
    if (!resolved) {
      status = 'not_comparable';
      reason = isImage
        ? `${current} is not a version, and its digest matches none of the versioned${variant ? ` -${variant}` : ''} tags fetched: it cannot be compared`
        : `${current} is not a version: it cannot be compared`;
    } else {
      const via = resolved.name !== current ? `${current} points to ${resolved.name}${isImage ? ' (same digest)' : ''}; ` : '';
      // A pre-release in use is measured against every newer release, pre-releases included.
      const target = pre(resolved) && preNewest && (!stable || compareVersions(preNewest.v, stable.v) > 0) ? preNewest : stable;
      if (!target) {
        status = 'not_comparable';
        reason = `${via}there is no release to compare with`;
      } else {
        const d = compareVersions(resolved.v, target.v);
        status = d < 0 ? 'behind' : d > 0 ? 'ahead' : 'up_to_date';
        const between = newestFirst.filter((c) => compareVersions(c.v, resolved!.v) > 0 && compareVersions(c.v, target.v) <= 0 && (pre(resolved!) || !pre(c)));
        // A partial tag (1.27-alpine) is another name of a release listed in full: not counted.
        const gap = between.filter((c) => !between.some((d) => d.v.release.length > c.v.release.length && c.v.release.every((n, i) => d.v.release[i] === n))).length;
        reason =
          status === 'behind'
            ? `${via}${resolved.name} is behind: ${target.name} is newer (${gap} newer ${gap === 1 ? 'release' : 'releases'} listed)`
            : status === 'ahead'
              ? `${via}${resolved.name} is newer than ${target.name}, the newest listed${l.truncated ? ' (the listing was cut short)' : ''}`
              : `${via}${resolved.name} is the newest${pre(resolved) ? ' pre-release' : ' stable release'}`;
        if (cur && !l.entries.some((e) => e.name === current)) reason += ` (${current} itself is not among the ${isImage ? 'tags' : 'versions'} listed)`;
      }
    }
    lines.push(`current: ${reason}.`);
    currentInfo = { given: current, status, ...(resolved && resolved.name !== current ? { pointsTo: resolved.name } : {}) };
  }
  const recent = newestFirst.slice(0, RECENT_SHOWN).map((c) => c.name);
  if (recent.length) lines.push(`recent: ${recent.join(', ')}${newestFirst.length > recent.length ? ` (${recent.length} of ${newestFirst.length})` : ''}.`);
  if (l.truncated) lines.push(`(only the first pages were fetched: older ${isImage ? 'tags' : 'releases'} are not considered)`);
  const entry = (c: Candidate | undefined) => (c ? { version: c.name, ...(c.date ? { date: c.date } : {}) } : undefined);
  return [
    lines.join('\n'),
    {
      ecosystem: eco,
      source: l.source,
      ...(variant ? { variant } : {}),
      ...(stable ? { latestStable: entry(stable) } : {}),
      ...(preNewest ? { latestPrerelease: entry(preNewest) } : {}),
      ...(currentInfo ? { current: currentInfo } : {}),
      recent,
      versionsConsidered: newestFirst.length,
      truncated: l.truncated,
    },
  ];
}

/**
 * A partial version tag (`1.27-alpine`, `2`) moves with its line: the full version it points to
 * now, by digest, when one is listed (`1.27-alpine` → `1.27.3-alpine`).
 */
async function resolvePartial(l: Listing, tag: string, v: Version, newestFirst: Candidate[]): Promise<Candidate | undefined> {
  if (v.release.length >= 3 || v.pre) return undefined;
  const listed = l.entries.find((e) => e.name === tag);
  if (!listed) return undefined;
  const sameLine = newestFirst.filter((c) => c.v.release.length > v.release.length && v.release.every((n, i) => c.v.release[i] === n) && !isPrerelease(c.v));
  if (listed.digest) return sameLine.find((c) => c.digest === listed.digest);
  if (!l.digestOf) return undefined;
  const digest = await l.digestOf(tag);
  if (!digest) return undefined;
  for (const c of sameLine.slice(0, DIGEST_PROBES)) if ((await l.digestOf(c.name)) === digest) return c;
  return undefined;
}

/** The versioned tag of the same variant that a moving tag (latest, stable-alpine) points to, by digest. */
async function resolveMoving(l: Listing, tag: string, newestFirst: Candidate[]): Promise<Candidate | undefined> {
  const listed = l.entries.find((e) => e.name === tag);
  if (listed?.digest) return newestFirst.find((c) => c.digest === listed.digest);
  if (!l.digestOf || (!listed && l.entries.length)) return undefined;
  const digest = await l.digestOf(tag);
  if (!digest) return undefined;
  // Only the newest few: a moving tag points at a recent release, and each probe is a request.
  for (const c of newestFirst.filter((x) => !isPrerelease(x.v)).slice(0, DIGEST_PROBES)) if ((await l.digestOf(c.name)) === digest) return c;
  return undefined;
}
