/**
 * The Caddy integration through the bundled hub, with an SDK client: two real Caddy processes
 * (Debian `caddy`), one proxying to a live upstream and one to a dead one; a third instance
 * that starts only after the hub comes up by itself. Every admin API request is audited.
 */
import { request } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startCaddy, startDeadUpstream, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'caddy-admin-token-0123456789abcdef';
const VIEWER = 'caddy-viewer-token-0123456789abcdef';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'kim', role: 'viewer', token: VIEWER }] };
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

const get = (url: string, host: string) =>
  new Promise<number>((resolve, reject) =>
    request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end(),
  );

describe('Caddy through the hub', () => {
  it('caddy_sites and caddy_config for a viewer too, a service_health line per pair, audited; an instance down at start comes up without a restart', { timeout: 120_000 }, async () => {
    const app = createServer((_q, res) => res.end('app'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const appAddr = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    await using dead = await startDeadUpstream();
    const deadAddr = dead.addr;
    await using proxy1 = await startCaddy({ routes: [{ host: 'app.test', upstream: appAddr }] });
    await using proxy2 = await startCaddy({ routes: [{ host: 'n8n.test', upstream: deadAddr }] });
    expect(await get(proxy2.httpUrl, 'n8n.test')).toBe(502);
    const latePort = await freePort();
    try {
      await using hub = await startHubProcess({
        config: { auth, local: { enabled: false }, integrations: { caddy: { instances: [{ name: 'proxy1', url: proxy1.adminUrl }, { name: 'proxy2', url: proxy2.adminUrl }, { name: 'late', url: `http://127.0.0.1:${latePort}` }] } } },
      });
      await using viewer = await connectClient(hub.url, VIEWER, 'modern');
      const call = async (name: string, args: Record<string, unknown> = {}) => (await viewer.callTool({ name, arguments: args })) as Result;

      const tools = (await viewer.listTools()).tools.filter((t) => t.name.startsWith('caddy_'));
      expect(tools.map((t) => t.name).sort()).toEqual(['caddy_config', 'caddy_diff', 'caddy_sites']);
      for (const t of tools) expect(t.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });

      const sites = await call('caddy_sites');
      expect(sites.isError).toBeFalsy();
      expect(resultText(sites)).toContain(`## proxy1\n- app.test on ${proxy1.httpUrl.replace('http://', '')} -> reverse_proxy ${appAddr}`);
      expect(resultText(sites)).toContain(`-> reverse_proxy ${deadAddr} [0 in flight, 1 recent fails]`);
      expect(resultText(sites)).toMatch(new RegExp(`## late\\nerror: 127\\.0\\.0\\.1:${latePort}: connection refused`));

      const health = await call('service_health');
      const line = health.structuredContent!.items.find((i: { name: string }) => i.name === 'Caddy');
      expect(line).toMatchObject({ kind: 'integration', healthy: false });
      expect(line.detail).toMatch(new RegExp(`^proxy1 ready; proxy2 ready, 1 upstream failing; late: Caddy late at 127\\.0\\.0\\.1:${latePort} is unreachable: .*connection refused; Caddy proxy2: upstream ${deadAddr} has 1 recent failed request$`));

      // The third instance starts now: the next answers find it without a restart of the hub.
      await using late = await startCaddy({ routes: [{ host: 'late.test', body: 'late' }], adminPort: latePort });
      await expect.poll(async () => resultText(await call('caddy_sites', { instance: 'late' })), { timeout: 30_000, interval: 300 }).toContain('- late.test on');
      await expect.poll(async () => (await call('service_health')).structuredContent!.items.find((i: { name: string }) => i.name === 'Caddy').detail, { timeout: 30_000, interval: 300 }).toMatch(/; late ready; /);
      expect(late.adminUrl).toBe(`http://127.0.0.1:${latePort}`);

      const cfg = await call('caddy_config', { path: 'apps/http/servers/srv0/listen', instance: 'proxy2' });
      expect(cfg.structuredContent).toMatchObject({ path: 'apps/http/servers/srv0/listen', instances: [{ instance: 'proxy2', ok: true, config: JSON.stringify([proxy2.httpUrl.replace('http://', '')], null, 1) }] });

      const http = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'http_request' && e.detail.upstream === 'caddy');
      expect(http.map((e) => e.detail.url)).toEqual(expect.arrayContaining([`${proxy1.adminUrl}/config/apps/http/servers`, `${proxy2.adminUrl}/reverse_proxy/upstreams`, `${proxy2.adminUrl}/config/apps/http/servers/srv0/listen`]));
    } finally {
      app.close();
    }
  });
});
