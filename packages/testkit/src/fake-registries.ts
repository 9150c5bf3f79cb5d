/**
 * Fake package registries and vulnerability databases for tests (shared/reference/service-apis.md
 * §11), since the real ones are beyond loopback: Docker Hub, GHCR, npm, PyPI, GitHub releases,
 * OSV and NVD, each a real HTTP server on 127.0.0.1 with fixed data ({@link REGISTRY_FIXTURE}).
 *
 * - Docker Hub: `GET /v2/repositories/{ns}/{repo}/tags?page_size=&page=&ordering=`, pages with
 *   `next`/`previous`, newest pushed first; 404 `{"message":"object not found"}`. Anonymous works;
 *   a wrong `Authorization: Bearer` is 401. `POST /v2/auth/token` `{identifier, secret}` gives an
 *   `access_token` when `tokens.dockerHub` is `identifier:secret` (a token without `:` is taken as is).
 * - GHCR: `GET /token?scope=repository:{o}/{i}:pull&service=ghcr.io` → `{"token"}`; then
 *   `GET /v2/{o}/{i}/tags/list[?n=&last=]` and `GET|HEAD /v2/{o}/{i}/manifests/{tag}` with that
 *   token as Bearer (else 401 with `WWW-Authenticate` and `{"errors":[{"code":"UNAUTHORIZED"}]}`),
 *   tags in lexical order, at most 100 a page, the next page in a relative `Link` header.
 * - npm: `GET /{name}` and `/@scope%2fname`, the full packument (or the abbreviated one with
 *   `Accept: application/vnd.npm.install-v1+json`), `/{name}/{version|latest}`; 404 `{"error":"Not found"}`.
 * - PyPI: `GET /pypi/{project}/json`; 404 `{"message":"Not Found"}`.
 * - GitHub: `GET /repos/{o}/{r}/releases?per_page=&page=` with the `Accept` and
 *   `X-GitHub-Api-Version` headers the docs ask for, `Link` pages; a wrong token is 401 `Bad
 *   credentials`; drafts only for the token's holder.
 * - OSV: `POST /v1/query` (`{}` when nothing matches; 400 `Invalid ecosystem.`), `GET /v1/vulns/{id}`
 *   (404 `{"code":5,"message":"Bug not found."}`).
 * - NVD: `GET /rest/json/cves/2.0?cveId=` (an unknown CVE is 200 with `totalResults: 0`), the
 *   optional `apiKey` header (a wrong one is 404), and its limit: more than 5 requests (50 with a
 *   key) in 30 s is 403.
 *
 * Anything else is recorded in `unknown()`: tests assert it stays empty. Requests are recorded
 * with whether a token came and matched, never the token itself.
 *
 * @example
 * await using reg = await startFakeRegistries({ tokens: { github: 'ghp_x' } });
 * hub config: { internet: { endpoints: reg.endpoints, tokens: { github: 'ghp_x' } } }
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { serveLoopback } from './serve.ts';

export type FakeRegistryService = 'dockerHub' | 'ghcr' | 'npm' | 'pypi' | 'github' | 'osv' | 'nvd';

export interface FakeRegistryRequest {
  service: FakeRegistryService;
  method: string;
  /** Path and query. */
  path: string;
  status: number;
  /** Whether a token came (`none`), matched (`ok`) or not (`wrong`). */
  auth: 'none' | 'ok' | 'wrong';
  unknown?: boolean;
}

export interface FakeRegistriesOptions {
  /** Tokens the fakes accept; a request with another is refused as the real service refuses it. */
  tokens?: { dockerHub?: string; github?: string; nvd?: string };
  /** NVD's clock for its rate limit (a test that moves the hub's clock moves this one too); default Date.now. */
  now?: () => number;
}

export interface FakeRegistries {
  /** For `internet.endpoints`. */
  endpoints: Record<FakeRegistryService, string>;
  requests(service?: FakeRegistryService): FakeRegistryRequest[];
  unknown(): FakeRegistryRequest[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const day = (n: number) => new Date(Date.UTC(2026, 10, 30) - n * 86_400_000).toISOString();
const digest = (s: string) => `sha256:${Buffer.from(s).toString('hex').padEnd(64, '0').slice(0, 64)}`;

/** What the fakes serve, for tests to state what they expect. */
export const REGISTRY_FIXTURE = (() => {
  // Docker Hub library/nginx: moving tags and their digests; >100 tags so that a second page is needed.
  const nginx: Array<{ name: string; digest: string; pushed: string }> = [
    { name: 'latest', digest: digest('1.27.3'), pushed: day(1) },
    { name: 'mainline', digest: digest('1.27.3'), pushed: day(1) },
    { name: '1.27.3', digest: digest('1.27.3'), pushed: day(1) },
    { name: '1.27', digest: digest('1.27.3'), pushed: day(1) },
    { name: 'alpine', digest: digest('1.27.3-alpine'), pushed: day(1) },
    { name: '1.27.3-alpine', digest: digest('1.27.3-alpine'), pushed: day(1) },
    { name: '1.27-alpine', digest: digest('1.27.3-alpine'), pushed: day(1) },
    { name: '1.28.0-rc1', digest: digest('1.28.0-rc1'), pushed: day(2) },
    { name: 'stable', digest: digest('1.26.2'), pushed: day(3) },
    { name: '1.26.2', digest: digest('1.26.2'), pushed: day(3) },
    { name: 'stable-alpine', digest: digest('1.26.2-alpine'), pushed: day(3) },
    { name: '1.26.2-alpine', digest: digest('1.26.2-alpine'), pushed: day(3) },
    { name: 'edge', digest: digest('edge-build'), pushed: day(4) },
  ];
  for (let minor = 25; minor >= 10; minor--) {
    nginx.push({ name: `1.${minor}.0-alpine`, digest: digest(`1.${minor}.0-alpine`), pushed: day(300 - minor) });
    for (let patch = 4; patch >= 0; patch--) nginx.push({ name: `1.${minor}.${patch}`, digest: digest(`1.${minor}.${patch}`), pushed: day(300 - minor * 10 - patch) });
  }
  // GHCR lab/app: `latest` is 2.3.1; `nightly` matches no version; >100 tags so that the Link header is followed.
  const ghcrTags: Record<string, string> = { latest: digest('2.3.1'), '2.3.1': digest('2.3.1'), '2.3.0': digest('2.3.0'), '2.4.0-beta.1': digest('2.4.0-beta.1'), nightly: digest('nightly'), 'sha-0a1b2c3': digest('2.3.1') };
  for (let i = 0; i < 140; i++) ghcrTags[`1.${Math.floor(i / 10)}.${i % 10}`] = digest(`1.${Math.floor(i / 10)}.${i % 10}`);
  // GitHub lab/tool: 120 releases (two pages), one pre-release newer than the stable, one draft.
  const releases: Array<{ tag_name: string; prerelease: boolean; draft: boolean; published_at: string | null }> = [
    { tag_name: 'v3.0.0', prerelease: false, draft: true, published_at: null },
    { tag_name: 'v2.4.0-rc.1', prerelease: true, draft: false, published_at: day(2) },
    { tag_name: 'v2.3.1', prerelease: false, draft: false, published_at: day(10) },
    { tag_name: 'v2.3.0', prerelease: false, draft: false, published_at: day(40) },
  ];
  for (let i = 0; i < 116; i++) releases.push({ tag_name: `v1.${Math.floor(i / 10)}.${i % 10}`, prerelease: false, draft: false, published_at: day(100 + 116 - i) });
  return {
    dockerHub: { 'library/nginx': nginx },
    ghcr: { 'lab/app': ghcrTags },
    npm: {
      express: { 'dist-tags': { latest: '4.21.2', next: '5.0.0-beta.3' }, versions: ['4.19.2', '4.20.0', '4.21.0', '4.21.1', '4.21.2', '5.0.0-beta.1', '5.0.0-beta.3'] },
      '@lab/widget': { 'dist-tags': { latest: '1.2.0' }, versions: ['1.0.0', '1.1.0', '1.2.0', '2.0.0-alpha.1'] },
    } as Record<string, { 'dist-tags': Record<string, string>; versions: string[] }>,
    pypi: {
      // 2.32.1 is yanked: never the latest.
      requests: { '2.31.0': { date: day(500) }, '2.32.0': { date: day(200) }, '2.32.1': { date: day(190), yanked: true }, '2.32.3': { date: day(150) }, '2.33.0rc1': { date: day(5) } },
    } as Record<string, Record<string, { date: string; yanked?: boolean }>>,
    github: {
      'lab/tool': releases,
      // Tags that are not versions: only the publication order says which is newest.
      'lab/dated': [
        { tag_name: 'release-2026-11', prerelease: false, draft: false, published_at: day(3) },
        { tag_name: 'release-2026-10', prerelease: false, draft: false, published_at: day(33) },
      ],
    },
  };
})();

const OSV_VULNS = [
  {
    id: 'GHSA-462w-v97r-4m45',
    summary: 'Jinja2 sandbox escape via string formatting',
    details: 'In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape.',
    aliases: ['CVE-2019-10906', 'PYSEC-2019-217'],
    modified: '2024-09-01T00:00:00Z',
    published: '2019-04-10T14:30:24Z',
    references: [
      { type: 'ADVISORY', url: 'https://nvd.nist.gov/vuln/detail/CVE-2019-10906' },
      { type: 'WEB', url: 'https://palletsprojects.com/blog/jinja-2-10-1-released' },
    ],
    affected: [{ package: { name: 'jinja2', ecosystem: 'PyPI', purl: 'pkg:pypi/jinja2' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.10.1' }] }], versions: ['2.4.1', '2.10'], database_specific: { source: 'x' } }],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N' }],
    database_specific: { severity: 'HIGH', cwe_ids: ['CWE-693'] },
    schema_version: '1.6.0',
  },
  {
    id: 'GHSA-g3rq-g295-4j3m',
    summary: 'Regular Expression Denial of Service (ReDoS) in Jinja2',
    details: 'This affects the package jinja2 from 0.0.0 and before 2.11.3.',
    aliases: ['CVE-2020-28493', 'PYSEC-2021-66'],
    modified: '2024-09-01T00:00:00Z',
    published: '2021-03-19T21:28:05Z',
    references: [{ type: 'ADVISORY', url: 'https://nvd.nist.gov/vuln/detail/CVE-2020-28493' }],
    affected: [{ package: { name: 'jinja2', ecosystem: 'PyPI', purl: 'pkg:pypi/jinja2' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.11.3' }] }], versions: ['2.4.1', '2.10', '2.11.2'] }],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L' }],
    database_specific: { severity: 'MODERATE' },
    schema_version: '1.6.0',
  },
  {
    id: 'GHSA-jfh8-c2jp-5v3q',
    summary: 'Remote code injection in Log4j',
    details: 'Log4j2 JNDI features do not protect against attacker controlled LDAP endpoints.',
    aliases: ['CVE-2021-44228'],
    modified: '2024-09-01T00:00:00Z',
    published: '2021-12-10T00:40:56Z',
    references: [{ type: 'ADVISORY', url: 'https://nvd.nist.gov/vuln/detail/CVE-2021-44228' }],
    affected: [{ package: { name: 'org.apache.logging.log4j:log4j-core', ecosystem: 'Maven' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.13.0' }, { fixed: '2.15.0' }] }], versions: ['2.14.1'] }],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H' }],
    database_specific: { severity: 'CRITICAL' },
    schema_version: '1.6.0',
  },
];
const OSV_ECOSYSTEMS = new Set(['npm', 'PyPI', 'Go', 'Maven', 'crates.io', 'RubyGems', 'NuGet', 'Packagist', 'Pub', 'Hex', 'Debian', 'Ubuntu', 'Alpine', 'GitHub Actions']);

const NVD_CVES: Record<string, Record<string, unknown>> = {
  'CVE-2021-44228': {
    id: 'CVE-2021-44228',
    sourceIdentifier: 'security@apache.org',
    published: '2021-12-10T10:15:09.143',
    lastModified: '2025-02-04T15:15:13.773',
    vulnStatus: 'Analyzed',
    descriptions: [
      { lang: 'en', value: 'Apache Log4j2 2.0-beta9 through 2.15.0 JNDI features used in configuration, log messages, and parameters do not protect against attacker controlled LDAP and other JNDI related endpoints.' },
      { lang: 'es', value: 'Las funciones JNDI de Apache Log4j2...' },
    ],
    metrics: {
      cvssMetricV31: [{ source: 'nvd@nist.gov', type: 'Primary', cvssData: { version: '3.1', vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', baseScore: 10.0, baseSeverity: 'CRITICAL' }, exploitabilityScore: 3.9, impactScore: 6.0 }],
      cvssMetricV2: [{ source: 'nvd@nist.gov', type: 'Primary', cvssData: { version: '2.0', vectorString: 'AV:N/AC:M/Au:N/C:C/I:C/A:C', baseScore: 9.3 }, baseSeverity: 'HIGH', exploitabilityScore: 8.6, impactScore: 10.0 }],
    },
    weaknesses: [{ source: 'security@apache.org', type: 'Primary', description: [{ lang: 'en', value: 'CWE-917' }] }],
    configurations: [
      {
        nodes: [
          {
            operator: 'OR',
            negate: false,
            cpeMatch: [
              { vulnerable: true, criteria: 'cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*', versionStartIncluding: '2.0.1', versionEndExcluding: '2.3.1', matchCriteriaId: 'x' },
              { vulnerable: true, criteria: 'cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*', versionStartIncluding: '2.13.0', versionEndExcluding: '2.15.0', matchCriteriaId: 'y' },
            ],
          },
        ],
      },
    ],
    references: Array.from({ length: 8 }, (_, i) => ({ url: `https://logging.apache.org/log4j/2.x/security-${i}.html`, source: 'security@apache.org', tags: ['Vendor Advisory'] })),
  },
};

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, body: string, entry: FakeRegistryRequest) => number;

/** Starts the seven fakes (each on its own 127.0.0.1 port). */
export async function startFakeRegistries(opts: FakeRegistriesOptions = {}): Promise<FakeRegistries> {
  const log: FakeRegistryRequest[] = [];
  const tokens = opts.tokens ?? {};
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
    return status;
  };
  const off = (res: ServerResponse, entry: FakeRegistryRequest, status = 404, body: unknown = { message: 'not found' }) => {
    entry.unknown = true;
    return send(res, status, body);
  };
  /** Only these query parameters (documented, each at most once). */
  const onlyParams = (url: URL, allowed: string[]) => [...url.searchParams.keys()].every((k) => allowed.includes(k)) && new Set(url.searchParams.keys()).size === [...url.searchParams.keys()].length;
  const bearer = (req: IncomingMessage, expected: string | undefined, entry: FakeRegistryRequest): boolean => {
    const h = req.headers.authorization;
    if (!h) return true;
    entry.auth = expected !== undefined && (h === `Bearer ${expected}` || h === `token ${expected}`) ? 'ok' : 'wrong';
    return entry.auth === 'ok';
  };

  const ghcrTokens = new Map<string, string>(); // token → repository
  const dockerAccess = new Set<string>(); // access tokens given for a PAT
  const nvdSent: number[] = [];

  const handlers: Record<FakeRegistryService, Handler> = {
    dockerHub(req, res, url, body, entry) {
      if (url.pathname === '/v2/auth/token') {
        // A personal access token is exchanged for a short-lived access token (Bearer).
        let b: { identifier?: unknown; secret?: unknown } = {};
        try {
          b = JSON.parse(body);
        } catch {
          /* refused below */
        }
        if (req.method !== 'POST' || url.search || Object.keys(b).some((k) => k !== 'identifier' && k !== 'secret')) return off(res, entry, 400, { message: 'bad request' });
        entry.auth = `${String(b.identifier)}:${String(b.secret)}` === tokens.dockerHub ? 'ok' : 'wrong';
        if (entry.auth === 'wrong') return send(res, 401, { message: 'Incorrect authentication credentials.', errinfo: {} });
        const access = `eyJhbGciOi.${randomBytes(18).toString('base64url')}`;
        dockerAccess.add(access);
        return send(res, 200, { access_token: access });
      }
      const m = /^\/v2\/repositories\/([a-z0-9._-]+)\/([a-z0-9._-]+)\/tags\/?$/.exec(url.pathname);
      if (req.method !== 'GET' || !m || !onlyParams(url, ['page_size', 'page', 'ordering', 'name'])) return off(res, entry);
      const h = req.headers.authorization;
      if (h) {
        entry.auth = (h.startsWith('Bearer ') && dockerAccess.has(h.slice(7))) || (tokens.dockerHub !== undefined && !tokens.dockerHub.includes(':') && h === `Bearer ${tokens.dockerHub}`) ? 'ok' : 'wrong';
        if (entry.auth === 'wrong') return send(res, 401, { message: 'Incorrect authentication credentials.', errinfo: {} });
      }
      const all = REGISTRY_FIXTURE.dockerHub[`${m[1]}/${m[2]}` as 'library/nginx'];
      if (!all) return send(res, 404, { message: 'object not found', errinfo: {} });
      const size = Number(url.searchParams.get('page_size') ?? 10);
      const page = Number(url.searchParams.get('page') ?? 1);
      const ordering = url.searchParams.get('ordering') ?? 'last_updated';
      if (!(size >= 1 && size <= 100) || !(page >= 1) || !['last_updated', '-last_updated', 'name', '-name'].includes(ordering)) return off(res, entry, 400, { message: 'invalid parameter' });
      const sorted = [...all].sort((a, b) => (ordering.endsWith('name') ? a.name.localeCompare(b.name) : b.pushed.localeCompare(a.pushed)) * (ordering.startsWith('-') ? -1 : 1));
      const slice = sorted.slice((page - 1) * size, page * size);
      if (!slice.length && page > 1) return send(res, 404, { message: 'object not found', errinfo: {} });
      const link = (p: number) => `${url.origin}${url.pathname}?page=${p}&page_size=${size}&ordering=${ordering}`;
      return send(res, 200, {
        count: all.length,
        next: page * size < all.length ? link(page + 1) : null,
        previous: page > 1 ? link(page - 1) : null,
        results: slice.map((t, i) => ({
          creator: 1,
          id: 1000 + i,
          images: [{ architecture: 'amd64', features: '', variant: null, digest: digest(`${t.name}-amd64`), os: 'linux', os_features: '', os_version: null, size: 20_000_000, status: 'active', last_pulled: day(0), last_pushed: t.pushed }],
          last_updated: t.pushed,
          last_updater: 1,
          last_updater_username: 'doijanky',
          name: t.name,
          repository: 1,
          full_size: 20_000_000,
          v2: true,
          tag_status: 'active',
          tag_last_pulled: day(0),
          tag_last_pushed: t.pushed,
          media_type: 'application/vnd.oci.image.index.v1+json',
          content_type: 'image',
          digest: t.digest,
        })),
      });
    },

    ghcr(req, res, url, _body, entry) {
      if (url.pathname === '/token') {
        const scope = /^repository:([a-z0-9._/-]+):pull$/.exec(url.searchParams.get('scope') ?? '');
        if (req.method !== 'GET' || !scope || url.searchParams.get('service') !== 'ghcr.io' || !onlyParams(url, ['scope', 'service'])) return off(res, entry, 400, { errors: [{ code: 'UNSUPPORTED', message: 'unsupported' }] });
        const token = `djE6${randomBytes(24).toString('base64url')}`;
        ghcrTokens.set(token, scope[1]!);
        return send(res, 200, { token });
      }
      const m = /^\/v2\/(.+)\/(tags\/list|manifests\/([^/]+))$/.exec(url.pathname);
      if (!m) return off(res, entry, 404, { errors: [{ code: 'NOT_FOUND', message: 'not found' }] });
      const name = m[1]!;
      const h = req.headers.authorization ?? '';
      entry.auth = h ? 'wrong' : 'none';
      if (!h.startsWith('Bearer ') || ghcrTokens.get(h.slice(7)) !== name) {
        return send(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': `Bearer realm="${url.origin}/token",service="ghcr.io",scope="repository:${name}:pull"` });
      }
      entry.auth = 'ok';
      const tags = REGISTRY_FIXTURE.ghcr[name as 'lab/app'];
      if (!tags) return send(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] });
      if (m[2] === 'tags/list') {
        if (req.method !== 'GET' || !onlyParams(url, ['n', 'last'])) return off(res, entry);
        const n = Math.min(Number(url.searchParams.get('n') ?? 100), 100);
        const last = url.searchParams.get('last');
        const sorted = Object.keys(tags).sort();
        const from = last === null ? 0 : sorted.findIndex((t) => t > last);
        const page = from < 0 ? [] : sorted.slice(from, from + n);
        const more = from >= 0 && from + n < sorted.length;
        return send(res, 200, { name, tags: page }, more ? { link: `</v2/${name}/tags/list?last=${encodeURIComponent(page[page.length - 1]!)}&n=${n}>; rel="next"` } : {});
      }
      const ref = decodeURIComponent(m[3]!);
      if ((req.method !== 'GET' && req.method !== 'HEAD') || url.search || !(req.headers.accept ?? '').includes('application/vnd.oci.image.index.v1+json')) return off(res, entry);
      const d = tags[ref];
      if (!d) return send(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': d, 'content-length': String(Buffer.byteLength(manifest)) });
      res.end(req.method === 'HEAD' ? undefined : manifest);
      return 200;
    },

    npm(req, res, url, _body, entry) {
      // The raw path: the scoped name's slash arrives encoded (`/@lab%2fwidget`).
      const raw = (req.url ?? '/').split('?')[0]!;
      const m = /^\/((?:@[a-z0-9._~-]+%2[fF])?[a-z0-9._~-]+)(?:\/([^/]+))?$/.exec(raw);
      if (req.method !== 'GET' || !m || url.search) return off(res, entry, 404, { error: 'Not found' });
      const name = decodeURIComponent(m[1]!);
      const pkg = REGISTRY_FIXTURE.npm[name];
      if (!pkg) return send(res, 404, { error: 'Not found' });
      const time = Object.fromEntries(pkg.versions.map((v, i) => [v, day(100 - i * 10)]));
      const manifest = (v: string) => ({ name, version: v, description: `${name} fixture`, dist: { tarball: `${url.origin}/${m[1]}/-/${name.split('/').pop()}-${v}.tgz`, shasum: 'x', integrity: 'sha512-x' }, dependencies: {} });
      if (m[2]) {
        const v = m[2] === 'latest' ? pkg['dist-tags'].latest! : decodeURIComponent(m[2]);
        return pkg.versions.includes(v) ? send(res, 200, manifest(v)) : send(res, 404, JSON.stringify(`version not found: ${v}`));
      }
      if ((req.headers.accept ?? '').includes('application/vnd.npm.install-v1+json')) {
        return send(res, 200, { name, 'dist-tags': pkg['dist-tags'], modified: day(0), versions: Object.fromEntries(pkg.versions.map((v) => [v, { name, version: v, dist: manifest(v).dist }])) }, { 'content-type': 'application/vnd.npm.install-v1+json' });
      }
      return send(res, 200, { _id: name, name, 'dist-tags': pkg['dist-tags'], versions: Object.fromEntries(pkg.versions.map((v) => [v, manifest(v)])), time: { created: day(400), modified: day(0), ...time } });
    },

    pypi(req, res, url, _body, entry) {
      const m = /^\/pypi\/([A-Za-z0-9._-]+)(?:\/([^/]+))?\/json\/?$/.exec(url.pathname);
      if (req.method !== 'GET' || !m || url.search) return off(res, entry, 404, { message: 'Not Found' });
      const proj = REGISTRY_FIXTURE.pypi[m[1]!.toLowerCase()];
      if (!proj) return send(res, 404, { message: 'Not Found' });
      const file = (v: string, r: { date: string; yanked?: boolean }) => ({
        filename: `${m[1]}-${v}-py3-none-any.whl`,
        packagetype: 'bdist_wheel',
        python_version: 'py3',
        requires_python: '>=3.8',
        size: 64_000,
        upload_time: r.date.slice(0, 19),
        upload_time_iso_8601: r.date,
        url: `https://files.example/${v}.whl`,
        digests: { md5: 'x', sha256: 'y', blake2b_256: 'z' },
        yanked: !!r.yanked,
        yanked_reason: r.yanked ? 'broken' : null,
      });
      const latest = '2.32.3';
      if (m[2]) {
        const r = proj[m[2]];
        if (!r) return send(res, 404, { message: 'Not Found' });
        return send(res, 200, { info: { name: m[1], version: m[2], summary: 'fixture', yanked: !!r.yanked }, last_serial: 1, urls: [file(m[2], r)], vulnerabilities: [] });
      }
      return send(res, 200, {
        info: { name: m[1], version: latest, summary: 'Python HTTP for Humans.', requires_python: '>=3.8', project_urls: {}, home_page: '', license: 'Apache-2.0', yanked: false, yanked_reason: null },
        last_serial: 1,
        releases: Object.fromEntries(Object.entries(proj).map(([v, r]) => [v, [file(v, r)]])),
        urls: [file(latest, proj[latest]!)],
        vulnerabilities: [],
      });
    },

    github(req, res, url, _body, entry) {
      const m = /^\/repos\/([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)\/releases$/.exec(url.pathname);
      if (req.method !== 'GET' || !m || !onlyParams(url, ['per_page', 'page']) || req.headers.accept !== 'application/vnd.github+json' || req.headers['x-github-api-version'] !== '2022-11-28') return off(res, entry, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
      if (!bearer(req, tokens.github, entry)) return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      const all = REGISTRY_FIXTURE.github[`${m[1]}/${m[2]}` as 'lab/tool' | 'lab/dated'];
      if (!all) return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/releases/releases#list-releases', status: '404' });
      // Drafts are only listed to users with push access: the token's holder here.
      const visible = all.filter((r) => !r.draft || entry.auth === 'ok');
      const per = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
      const page = Number(url.searchParams.get('page') ?? 1);
      const lastPage = Math.max(1, Math.ceil(visible.length / per));
      const rel = (p: number, r: string) => `<${url.origin}${url.pathname}?per_page=${per}&page=${p}>; rel="${r}"`;
      const links = [...(page < lastPage ? [rel(page + 1, 'next'), rel(lastPage, 'last')] : []), ...(page > 1 ? [rel(1, 'first'), rel(page - 1, 'prev')] : [])];
      const list = visible.slice((page - 1) * per, page * per).map((r, i) => ({
        url: `${url.origin}/repos/${m[1]}/${m[2]}/releases/${i + 1}`,
        html_url: `https://github.com/${m[1]}/${m[2]}/releases/tag/${r.tag_name}`,
        id: i + 1,
        tag_name: r.tag_name,
        target_commitish: 'main',
        name: r.tag_name,
        draft: r.draft,
        prerelease: r.prerelease,
        created_at: r.published_at ?? day(0),
        published_at: r.published_at,
        author: { login: 'lab-bot' },
        assets: [],
        body: 'notes',
      }));
      return send(res, 200, list, links.length ? { link: links.join(', ') } : {});
    },

    osv(req, res, url, body, entry) {
      if (req.method === 'POST' && url.pathname === '/v1/query' && !url.search) {
        let q: { package?: { name?: string; ecosystem?: string; purl?: string }; version?: string; page_token?: string; commit?: string };
        try {
          q = JSON.parse(body);
        } catch {
          return off(res, entry, 400, { code: 3, message: 'Invalid query.' });
        }
        const extra = Object.keys(q).filter((k) => !['package', 'version', 'page_token', 'commit'].includes(k));
        if (extra.length || q.page_token || q.commit || !q.package?.name) return off(res, entry, 400, { code: 3, message: 'Invalid query.' });
        if (!OSV_ECOSYSTEMS.has(q.package.ecosystem ?? '')) return send(res, 400, { code: 3, message: 'Invalid ecosystem.' });
        const hits = OSV_VULNS.filter((v) => v.affected.some((a) => a.package.name === q.package!.name!.toLowerCase() && a.package.ecosystem === q.package!.ecosystem && (q.version === undefined || a.versions.includes(q.version))));
        return send(res, 200, hits.length ? { vulns: hits } : {});
      }
      const m = /^\/v1\/vulns\/([^/]+)$/.exec(url.pathname);
      if (req.method !== 'GET' || !m || url.search) return off(res, entry, 404, { code: 5, message: 'Not found' });
      const v = OSV_VULNS.find((x) => x.id === decodeURIComponent(m[1]!));
      return v ? send(res, 200, v) : send(res, 404, { code: 5, message: 'Bug not found.' });
    },

    nvd(req, res, url, _body, entry) {
      if (req.method !== 'GET' || url.pathname !== '/rest/json/cves/2.0' || !onlyParams(url, ['cveId']) || !url.searchParams.get('cveId')) return off(res, entry);
      const key = req.headers.apikey;
      if (key !== undefined) {
        entry.auth = key === tokens.nvd ? 'ok' : 'wrong';
        if (entry.auth === 'wrong') return send(res, 404, '');
      }
      // NVD's limit: a client over it is refused (403) for the rest of the window.
      const now = (opts.now ?? Date.now)();
      while (nvdSent.length && nvdSent[0]! <= now - 30_000) nvdSent.shift();
      nvdSent.push(now);
      if (nvdSent.length > (entry.auth === 'ok' ? 50 : 5)) return send(res, 403, '');
      const cve = NVD_CVES[url.searchParams.get('cveId')!];
      return send(res, 200, { resultsPerPage: cve ? 1 : 0, startIndex: 0, totalResults: cve ? 1 : 0, format: 'NVD_CVE', version: '2.0', timestamp: day(0).slice(0, 23), vulnerabilities: cve ? [{ cve }] : [] });
    },
  };

  const started: Array<{ service: FakeRegistryService; url: string; stop(): Promise<void> }> = [];
  for (const service of Object.keys(handlers) as FakeRegistryService[]) {
    const server: Server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      const entry: FakeRegistryRequest = { service, method: req.method ?? '', path: url.pathname + url.search, status: 0, auth: 'none' };
      log.push(entry);
      let body = '';
      req.on('data', (c: Buffer) => {
        if (body.length < 1 << 20) body += c.toString();
      });
      req.on('end', () => {
        entry.status = handlers[service](req, res, url, body, entry);
      });
    });
    const s = await serveLoopback(server);
    started.push({ service, url: `http://127.0.0.1:${s.port}`, stop: s.stop });
  }
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  return {
    endpoints: Object.fromEntries(started.map((s) => [s.service, s.url])) as Record<FakeRegistryService, string>,
    requests: (service) => log.filter((r) => !service || r.service === service),
    unknown: () => log.filter((r) => r.unknown),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
