/**
 * check_package_version and cve_lookup through the bundled hub, against the testkit's fake
 * registries (Docker Hub, GHCR, npm, PyPI, GitHub releases, OSV, NVD) via `internet.endpoints`:
 * a viewer asks, each ecosystem answers with its latest stable and pre-release and whether the
 * version in use is behind; every request the fakes saw is an `http_request` event in the
 * journal, and no token is in the journal or the hub's output.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { connectClient, readJournal, resultText, serveLoopback, startFakeRegistries, startHubProcess, type FakeRegistries, type HubProcess } from '@homelab-mcp/testkit';

const VIEWER = 'versions-viewer-token-0123456789abcdef';
const GITHUB_TOKEN = 'ghp_fixtureToken0123456789abcdefABCDEF';
const DOCKERHUB_PAT = 'dckr_pat_fixture_0123456789abcdef';
const DOCKERHUB_TOKEN = `labuser:${DOCKERHUB_PAT}`;
const NVD_KEY = 'nvd-key-0123456789-abcdef-0123456789';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

/** The journal holds one http_request event for every request a fake saw, URL without query, and no token. */
async function expectJournaled(hub: HubProcess, reg: FakeRegistries, secrets: string[]): Promise<void> {
  const seen = reg.requests().map((r) => `${r.method} ${reg.endpoints[r.service]}${r.path.split('?')[0]}`).sort();
  expect(seen.length).toBeGreaterThan(0);
  await vi.waitFor(() => {
    const events = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail.upstream === 'internet');
    expect(events.map((e) => `${e.detail.method} ${e.detail.url}`).sort()).toEqual(seen);
  });
  const journal = JSON.stringify(readJournal(join(hub.dir, 'data')));
  for (const s of secrets) {
    expect(journal).not.toContain(s);
    expect(hub.output()).not.toContain(s);
  }
}

describe('check_package_version through the hub', () => {
  it('answers for Docker Hub, GHCR, npm, PyPI and GitHub releases; moving tags resolved by digest; every request journaled without a token', { timeout: 120_000 }, async () => {
    await using reg = await startFakeRegistries({ tokens: { github: GITHUB_TOKEN, dockerHub: DOCKERHUB_TOKEN } });
    await using hub = await startHubProcess({
      config: {
        auth: { tokens: [{ user: 'kim', role: 'viewer', token: VIEWER }] },
        local: { enabled: false },
        internet: { endpoints: reg.endpoints, tokens: { github: '${GH_TOKEN}' } },
      },
      // DOCKERHUB_TOKEN from the environment, as the issue asks; GitHub's from the config.
      env: { GH_TOKEN: GITHUB_TOKEN, DOCKERHUB_TOKEN, GITHUB_TOKEN: '', NVD_API_KEY: '' },
    });
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const tool = (await client.listTools()).tools.find((t) => t.name === 'check_package_version');
    expect(tool?.annotations).toMatchObject({ readOnlyHint: true });
    const check = async (args: Record<string, string>) => (await client.callTool({ name: 'check_package_version', arguments: args })) as Result;

    // Docker Hub: official image under library/, two pages of tags, variants kept apart.
    const plain = await check({ package: 'nginx', ecosystem: 'docker' });
    expect(plain.isError).toBeFalsy();
    expect(plain.structuredContent).toMatchObject({ source: 'Docker Hub library/nginx', latestStable: { version: '1.27.3' }, latestPrerelease: { version: '1.28.0-rc1' }, truncated: false });
    expect(resultText(plain)).toContain('latest stable 1.27.3 (2026-11-29)');
    const alpine = await check({ package: 'nginx', ecosystem: 'docker', current: '1.25-alpine' });
    expect(alpine.structuredContent).toMatchObject({ variant: 'alpine', latestStable: { version: '1.27.3-alpine' }, current: { given: '1.25-alpine', status: 'behind' } });
    expect(resultText(alpine)).toContain('1.25-alpine is behind: 1.27.3-alpine is newer');
    // A partial tag moves with its line: 1.27-alpine is 1.27.3-alpine today (same digest).
    const line = await check({ package: 'nginx', ecosystem: 'docker', current: '1.27-alpine' });
    expect(line.structuredContent!.current).toEqual({ given: '1.27-alpine', status: 'up_to_date', pointsTo: '1.27.3-alpine' });
    const latest = await check({ package: 'library/nginx', ecosystem: 'docker', current: 'latest' });
    expect(latest.structuredContent!.current).toEqual({ given: 'latest', status: 'up_to_date', pointsTo: '1.27.3' });
    expect(resultText(latest)).toContain('latest points to 1.27.3 (same digest); 1.27.3 is the newest stable release');
    const stableAlpine = await check({ package: 'nginx', ecosystem: 'docker', current: 'stable-alpine' });
    expect(stableAlpine.structuredContent!.current).toEqual({ given: 'stable-alpine', status: 'behind', pointsTo: '1.26.2-alpine' });
    expect(resultText(stableAlpine)).toContain('stable-alpine points to 1.26.2-alpine (same digest); 1.26.2-alpine is behind: 1.27.3-alpine is newer (1 newer release listed)');
    const edge = await check({ package: 'nginx', ecosystem: 'docker', current: 'edge' });
    expect(edge.structuredContent!.current).toEqual({ given: 'edge', status: 'not_comparable' });
    expect(resultText(edge)).toContain('edge is not a version, and its digest matches none of the versioned tags fetched: it cannot be compared');
    // username:PAT exchanged once for an access token (POST /v2/auth/token), then sent as Bearer on every page.
    expect(reg.requests('dockerHub').filter((r) => r.path === '/v2/auth/token').map((r) => [r.method, r.auth])).toEqual([['POST', 'ok']]);
    expect(reg.requests('dockerHub').every((r) => r.auth === 'ok')).toBe(true);
    const missing = await check({ package: 'nosuch', ecosystem: 'docker' });
    expect(missing.isError).toBe(true);
    expect(resultText(missing)).toBe('check_package_version: Docker Hub has no repository library/nosuch (HTTP 404)');

    // GHCR: the anonymous token dance, a Link-paginated tag list, `latest` resolved by manifest digest.
    const app = await check({ package: 'ghcr.io/lab/app', ecosystem: 'ghcr', current: 'latest' });
    expect(app.isError).toBeFalsy();
    expect(app.structuredContent).toMatchObject({ latestStable: { version: '2.3.1' }, latestPrerelease: { version: '2.4.0-beta.1' }, current: { status: 'up_to_date', pointsTo: '2.3.1' } });
    expect(reg.requests('ghcr').filter((r) => r.path.startsWith('/v2/lab/app/tags/list')).length).toBe(2);
    expect(reg.requests('ghcr').filter((r) => r.path.startsWith('/v2/')).every((r) => r.auth === 'ok')).toBe(true);
    const nightly = await check({ package: 'lab/app', ecosystem: 'ghcr', current: 'nightly' });
    expect(nightly.structuredContent!.current).toEqual({ given: 'nightly', status: 'not_comparable' });

    // npm: dist-tags.latest, dates from `time`, scoped names with the slash encoded.
    const express = await check({ package: 'express', ecosystem: 'npm', current: '4.19.2' });
    expect(express.structuredContent).toMatchObject({ latestStable: { version: '4.21.2' }, latestPrerelease: { version: '5.0.0-beta.3' }, current: { status: 'behind' } });
    expect(resultText(express)).toContain('4.19.2 is behind: 4.21.2 is newer (4 newer releases listed)');
    const widget = await check({ package: '@lab/widget', ecosystem: 'npm', current: '1.2.0' });
    expect(widget.structuredContent).toMatchObject({ latestStable: { version: '1.2.0' }, latestPrerelease: { version: '2.0.0-alpha.1' }, current: { status: 'up_to_date' } });
    expect(reg.requests('npm').map((r) => r.path)).toContain('/@lab%2fwidget');

    // PyPI: a yanked release is never the latest; PEP 440 pre-releases.
    const requests = await check({ package: 'requests', ecosystem: 'pypi', current: '2.32.0' });
    expect(requests.structuredContent).toMatchObject({ latestStable: { version: '2.32.3' }, latestPrerelease: { version: '2.33.0rc1' }, current: { status: 'behind' } });
    expect(resultText(requests)).toContain('2.32.0 is behind: 2.32.3 is newer (1 newer release listed)');

    // GitHub releases: two pages, GitHub's prerelease flag, the draft (shown to the token holder) left out.
    const gh = await check({ package: 'lab/tool', ecosystem: 'github', current: 'v2.3.0' });
    expect(gh.structuredContent).toMatchObject({ latestStable: { version: 'v2.3.1' }, latestPrerelease: { version: 'v2.4.0-rc.1' }, current: { status: 'behind' } });
    expect(reg.requests('github').map((r) => [r.path, r.auth])).toEqual([
      ['/repos/lab/tool/releases?per_page=100&page=1', 'ok'],
      ['/repos/lab/tool/releases?per_page=100&page=2', 'ok'],
    ]);
    const dated = await check({ package: 'lab/dated', ecosystem: 'github', current: 'release-2026-10' });
    expect(resultText(dated)).toBe('GitHub releases of lab/dated: latest stable release-2026-11 (2026-11-27) by publication date (its tags are not versions, so they are not compared).');
    expect(dated.structuredContent!.current).toEqual({ given: 'release-2026-10', status: 'not_comparable' });

    const badEco = await check({ package: 'x', ecosystem: 'cargo' });
    expect(resultText(badEco)).toBe('check_package_version: argument "ecosystem": expected one of docker, ghcr, npm, pypi, github');

    expect(reg.unknown()).toEqual([]);
    await expectJournaled(hub, reg, [GITHUB_TOKEN, DOCKERHUB_PAT]);
    // GHCR's pull tokens and Docker Hub's access tokens are secrets too.
    expect(JSON.stringify(readJournal(join(hub.dir, 'data')))).not.toMatch(/djE6|eyJhbGciOi/);

    // (After the journal check: this request is the test's, not the hub's.) Without the token GHCR answers 401 with its challenge, as documented (the fake follows it).
    const bare = await fetch(`${reg.endpoints.ghcr}/v2/lab/app/tags/list`);
    expect([bare.status, bare.headers.get('www-authenticate')]).toEqual([401, `Bearer realm="${reg.endpoints.ghcr}/token",service="ghcr.io",scope="repository:lab/app:pull"`]);
  });
});

describe('check_package_version with a hostile package name', () => {
  it('refuses "." and ".." path segments, which would reach another path of the configured endpoint (with its token)', { timeout: 120_000 }, async () => {
    await using reg = await startFakeRegistries({ tokens: { github: GITHUB_TOKEN, dockerHub: DOCKERHUB_TOKEN } });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'kim', role: 'viewer', token: VIEWER }] }, local: { enabled: false }, internet: { endpoints: reg.endpoints, tokens: { github: GITHUB_TOKEN } } },
      env: { GITHUB_TOKEN: '', DOCKERHUB_TOKEN: '', NVD_API_KEY: '' },
    });
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const check = async (args: Record<string, string>) => (await client.callTool({ name: 'check_package_version', arguments: args })) as Result;
    // Each would otherwise be normalised by the URL parser: /repos/lab/../releases is /repos/releases.
    for (const [ecosystem, pkg] of [['github', 'lab/..'], ['github', 'lab/.'], ['ghcr', 'lab/../../x'], ['ghcr', '../lab'], ['npm', '..'], ['npm', '.'], ['npm', '@lab/..']]) {
      const r = await check({ package: pkg!, ecosystem: ecosystem! });
      expect(r.isError, `${ecosystem} ${pkg}`).toBe(true);
      expect(resultText(r), `${ecosystem} ${pkg}`).toMatch(/^check_package_version: argument "package": /);
    }
    expect(reg.requests()).toEqual([]);
  });
});

describe('check_package_version against a hostile registry', () => {
  it('a megabyte-long tag or date from upstream is dropped, not echoed: the answer stays small', { timeout: 120_000 }, async () => {
    const huge = 'a'.repeat(1024 * 1024);
    const releases = [
      { tag_name: `v9.9.9-${huge}`, prerelease: true, published_at: '2026-11-01T00:00:00Z' },
      { tag_name: 'v2.0.0', prerelease: false, published_at: `2026-10-01T00:00:00Z${huge}` },
      { tag_name: 'v1.0.0', prerelease: false, published_at: '2026-09-01T00:00:00Z' },
    ];
    const gh = await serveLoopback(createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(releases))));
    await using _gh = { [Symbol.asyncDispose]: () => gh.stop() };
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'kim', role: 'viewer', token: VIEWER }] }, local: { enabled: false }, internet: { endpoints: { github: `http://127.0.0.1:${gh.port}` } } },
      env: { GITHUB_TOKEN: '' },
    });
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const r = (await client.callTool({ name: 'check_package_version', arguments: { package: 'lab/tool', ecosystem: 'github', current: 'v1.0.0' } })) as Result;
    expect(r.isError).toBeFalsy();
    expect(JSON.stringify(r).length).toBeLessThan(8192);
    expect(r.structuredContent).toMatchObject({ latestStable: { version: 'v2.0.0' }, current: { status: 'behind' } });
    expect(r.structuredContent!.latestStable.date).toBeUndefined();
  });
});

describe('check_package_version and a moved GitHub repository', () => {
  it('follows GitHub\'s 301 for a renamed repository on the same API origin (with the token), never to another origin', { timeout: 120_000 }, async () => {
    const seen: Array<[string, string | undefined]> = [];
    const gh = await serveLoopback(
      createServer((req, res) => {
        seen.push([req.url!, req.headers.authorization]);
        const [path, query] = req.url!.split('?');
        if (path === '/repos/lab/old-name/releases') return void res.writeHead(301, { location: `http://127.0.0.1:${gh.port}/repositories/42/releases?${query}`, 'content-type': 'application/json' }).end('{"message":"Moved Permanently"}');
        if (path === '/repos/lab/elsewhere/releases') return void res.writeHead(301, { location: `http://localhost:${gh.port}/repositories/43/releases` }).end();
        if (path === '/repositories/42/releases') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ tag_name: 'v1.2.0', published_at: '2026-11-01T00:00:00Z' }]));
        res.writeHead(404).end('{}');
      }),
    );
    await using _gh = { [Symbol.asyncDispose]: () => gh.stop() };
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'kim', role: 'viewer', token: VIEWER }] }, local: { enabled: false }, internet: { endpoints: { github: `http://127.0.0.1:${gh.port}` }, tokens: { github: GITHUB_TOKEN } } },
      env: { GITHUB_TOKEN: '' },
    });
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const moved = (await client.callTool({ name: 'check_package_version', arguments: { package: 'lab/old-name', ecosystem: 'github' } })) as Result;
    expect(moved.isError).toBeFalsy();
    expect(moved.structuredContent).toMatchObject({ latestStable: { version: 'v1.2.0' } });
    expect(seen).toEqual([
      ['/repos/lab/old-name/releases?per_page=100&page=1', `Bearer ${GITHUB_TOKEN}`],
      ['/repositories/42/releases?per_page=100&page=1', `Bearer ${GITHUB_TOKEN}`],
    ]);
    const away = (await client.callTool({ name: 'check_package_version', arguments: { package: 'lab/elsewhere', ecosystem: 'github' } })) as Result;
    expect(resultText(away)).toBe(`check_package_version: GitHub answered HTTP 301 for releases of lab/elsewhere, pointing to another origin (http://localhost:${gh.port}); not followed`);
    expect(seen.map(([u]) => u)).not.toContain('/repositories/43/releases');
  });
});

describe('cve_lookup against a hostile OSV', () => {
  it('megabyte-long ids, references and version lists from upstream are cut: the answer stays small', { timeout: 120_000 }, async () => {
    const huge = 'a'.repeat(1024 * 1024);
    const vuln = {
      id: 'GHSA-aaaa-bbbb-cccc',
      aliases: [`CVE-2026-${huge}`],
      summary: 'a hostile record',
      severity: [{ type: 'CVSS_V3', score: `CVSS:3.1/${huge}` }],
      affected: [{ package: { name: `pkg${huge}`, ecosystem: 'npm' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, ...Array.from({ length: 50_000 }, (_, i) => ({ fixed: `1.${i}.0` }))] }] }],
      references: [{ type: 'WEB', url: `https://example.test/${huge}` }],
    };
    const osv = await serveLoopback(createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(vuln))));
    await using _osv = { [Symbol.asyncDispose]: () => osv.stop() };
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'kim', role: 'viewer', token: VIEWER }] }, local: { enabled: false }, internet: { endpoints: { osv: `http://127.0.0.1:${osv.port}` } } },
      env: { NVD_API_KEY: '' },
    });
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const r = (await client.callTool({ name: 'cve_lookup', arguments: { cve_id: 'GHSA-aaaa-bbbb-cccc' } })) as Result;
    expect(r.isError).toBeFalsy();
    expect(resultText(r)).toMatch(/^OSV GHSA-aaaa-bbbb-cccc/);
    expect(JSON.stringify(r).length).toBeLessThan(64 * 1024);
  });
});

describe('cve_lookup through the hub', () => {
  it('a CVE from NVD and OSV, an OSV id, and a package version from OSV; every request journaled without the API key', { timeout: 120_000 }, async () => {
    await using reg = await startFakeRegistries({ tokens: { nvd: NVD_KEY } });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'kim', role: 'viewer', token: VIEWER }] }, local: { enabled: false }, internet: { endpoints: reg.endpoints } },
      // The key from the environment (internet.tokens.nvd not set).
      env: { NVD_API_KEY: NVD_KEY, GITHUB_TOKEN: '', DOCKERHUB_TOKEN: '' },
    });
    await using client = await connectClient(hub.url, VIEWER, 'modern');
    const cve = async (args: Record<string, string>) => (await client.callTool({ name: 'cve_lookup', arguments: args })) as Result;

    const log4shell = await cve({ cve_id: 'cve-2021-44228' });
    expect(log4shell.isError).toBeFalsy();
    const text = resultText(log4shell);
    expect(text).toContain('NVD CVE-2021-44228 (Analyzed, published 2021-12-10): Apache Log4j2 2.0-beta9 through 2.15.0 JNDI features');
    expect(text).toContain('severity: CVSS 3.1 10 CRITICAL (nvd@nist.gov); CVSS 2.0 9.3 HIGH (nvd@nist.gov)');
    expect(text).toContain('affected: apache:log4j from 2.0.1 before 2.3.1; apache:log4j from 2.13.0 before 2.15.0');
    expect(text).toContain('(5 of 8)');
    expect(text).toContain('OSV has no record of CVE-2021-44228.');
    expect(log4shell.structuredContent).toMatchObject({ id: 'CVE-2021-44228', found: true, nvd: { weaknesses: ['CWE-917'] } });
    expect(reg.requests('nvd').map((r) => [r.path, r.auth])).toEqual([['/rest/json/cves/2.0?cveId=CVE-2021-44228', 'ok']]);

    const unknownCve = await cve({ cve_id: 'CVE-2099-0001' });
    expect(unknownCve.isError).toBeFalsy();
    expect(resultText(unknownCve)).toBe('NVD has no record of CVE-2099-0001.\nOSV has no record of CVE-2099-0001.');
    expect(unknownCve.structuredContent).toMatchObject({ found: false });

    const ghsa = await cve({ cve_id: 'GHSA-jfh8-c2jp-5v3q' });
    expect(resultText(ghsa)).toContain('OSV GHSA-jfh8-c2jp-5v3q (CVE-2021-44228): Remote code injection in Log4j');
    expect(resultText(ghsa)).toContain('affected: Maven org.apache.logging.log4j:log4j-core: introduced 2.13.0, fixed 2.15.0');
    expect(resultText(ghsa)).toContain('rated CRITICAL');

    const jinja = await cve({ package: 'jinja2', ecosystem: 'pypi', version: '2.4.1' });
    expect(jinja.isError).toBeFalsy();
    expect(resultText(jinja).split('\n')[0]).toBe('PyPI jinja2 2.4.1: 2 known vulnerabilities (OSV):');
    expect(jinja.structuredContent).toMatchObject({ count: 2, fixedVersions: ['2.10.1', '2.11.3'] });
    expect(resultText(jinja)).toContain('GHSA-462w-v97r-4m45 (CVE-2019-10906, PYSEC-2019-217): Jinja2 sandbox escape via string formatting');

    // OSV's `{}`: no hits.
    const clean = await cve({ package: 'jinja2', ecosystem: 'PyPI', version: '3.1.4' });
    expect(resultText(clean)).toBe('PyPI jinja2 3.1.4: no known vulnerability (OSV).');

    const badEco = await cve({ package: 'x', ecosystem: 'cobol', version: '1' });
    expect(badEco.isError).toBe(true);
    expect(resultText(badEco)).toBe('cve_lookup: OSV answered HTTP 400 for cobol x: Invalid ecosystem.');
    const neither = await cve({ package: 'jinja2' });
    expect(resultText(neither)).toBe('cve_lookup: give "cve_id", or all of "package", "ecosystem" and "version" (missing: ecosystem, version)');

    expect(reg.unknown()).toEqual([]);
    await expectJournaled(hub, reg, [NVD_KEY]);
  });
});
