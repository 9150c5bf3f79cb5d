/**
 * check_package_version's tag handling on answers a test writes (the e2e test runs the real hub
 * against the testkit's fake registries): build tags that only look numeric, a `current` newer
 * than anything listed, and a GHCR next-page link that points elsewhere.
 */
import { describe, expect, it } from 'vitest';
import type { HttpClient, HttpRequest, HttpResponse } from '@homelab-mcp/core/http';
import type { CallContext } from '../catalog/types.ts';
import { InternetConfigSchema } from './config.ts';
import type { InternetDeps } from './deps.ts';
import { versionTools } from './versions.ts';

const ctx = { caller: { user: 't', role: 'viewer' }, session: 's', signal: new AbortController().signal } as CallContext;
type Answer = { status?: number; body: unknown; headers?: Record<string, string> };

/** An HttpClient that answers from `route(url)` and remembers the URLs asked. */
function stubHttp(route: (url: string, req: HttpRequest) => Answer): HttpClient & { urls: string[] } {
  const urls: string[] = [];
  const client = {
    urls,
    async request(req: HttpRequest): Promise<HttpResponse> {
      urls.push(String(req.url));
      const a = route(String(req.url), req);
      const text = JSON.stringify(a.body);
      return { status: a.status ?? 200, headers: a.headers ?? {}, body: new TextEncoder().encode(text), truncated: false, text: () => text, json: <T>() => JSON.parse(text) as T };
    },
    with: () => client,
  };
  return client;
}

function tool(http: HttpClient) {
  const config = InternetConfigSchema.parse({ endpoints: { dockerHub: 'http://hub.test', ghcr: 'http://ghcr.test' } });
  const deps: InternetDeps = { config: () => config, notify: () => undefined, http, onHttpRequest() {}, dataDir: '/nonexistent', hubListeners: () => [], piholeResolvers: () => ({}), log: { info() {}, warn() {} } };
  return versionTools(deps, { env: {} })[0]!;
}

const dockerPage = (names: string[]) => ({ body: { count: names.length, next: null, previous: null, results: names.map((name) => ({ name, last_updated: '2026-11-01T00:00:00Z', digest: `sha256:${name}` })) } });

describe('check_package_version tag handling', () => {
  it('leaves out build tags that only look numeric, unless current is one', async () => {
    const t = tool(stubHttp(() => dockerPage(['20240101', '1700000000', '2.1.0', '2.0.5', 'latest'])));
    const r = (await t.call({ package: 'lab/thing', ecosystem: 'docker', current: '2.0.5' }, ctx)) as { structuredContent: Record<string, any> };
    expect(r.structuredContent).toMatchObject({ latestStable: { version: '2.1.0' }, current: { status: 'behind' } });
    const dated = (await t.call({ package: 'lab/thing', ecosystem: 'docker', current: '20240101' }, ctx)) as { structuredContent: Record<string, any> };
    expect(dated.structuredContent).toMatchObject({ latestStable: { version: '1700000000' }, current: { status: 'behind' } });
  });

  it('says when current is newer than anything listed, and that it is not listed', async () => {
    const t = tool(stubHttp(() => dockerPage(['2.1.0', '2.0.5'])));
    const r = (await t.call({ package: 'lab/thing', ecosystem: 'docker', current: 'v2.2.0' }, ctx)) as { content: Array<{ text: string }>; structuredContent: Record<string, any> };
    expect(r.structuredContent.current).toEqual({ given: 'v2.2.0', status: 'ahead' });
    expect(r.content[0]!.text).toContain('current: v2.2.0 is newer than 2.1.0, the newest listed (v2.2.0 itself is not among the tags listed).');
  });

  it('refuses a GHCR next-page link to another path instead of following it', async () => {
    const http = stubHttp((url) => {
      if (url.startsWith('http://ghcr.test/token')) return { body: { token: 't' } };
      return { body: { name: 'o/i', tags: ['1.0.0'] }, headers: { link: '</v2/other/image/tags/list?last=1.0.0&n=1000>; rel="next"' } };
    });
    const r = (await tool(http).call({ package: 'o/i', ecosystem: 'ghcr' }, ctx)) as { content: Array<{ text: string }>; isError?: boolean };
    expect(r.isError).toBe(true);
    expect(r.content[0]!.text).toBe('check_package_version: GHCR: the next page link points elsewhere (/v2/other/image/tags/list)');
    expect(http.urls).toEqual(['http://ghcr.test/token?scope=repository%3Ao%2Fi%3Apull&service=ghcr.io', 'http://ghcr.test/v2/o/i/tags/list?n=1000']);
  });

  it('names the argument that is wrong', async () => {
    const t = tool(stubHttp(() => ({ body: {} })));
    const text = async (args: Record<string, unknown>) => ((await t.call(args, ctx)) as { content: Array<{ text: string }> }).content[0]!.text;
    expect(await text({ package: 'Nginx!', ecosystem: 'docker' })).toBe('check_package_version: argument "package": "Nginx!" is not a Docker Hub image (nginx, grafana/grafana)');
    expect(await text({ package: 'x', ecosystem: 'npm', tag: 'y' })).toBe('check_package_version: unknown argument "tag" (expected: package, ecosystem, current)');
    expect(await text({ package: 'onlyowner', ecosystem: 'github' })).toBe('check_package_version: argument "package": "onlyowner" is not a GitHub repository (owner/repo)');
  });
});
