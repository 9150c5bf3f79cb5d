/**
 * bench/services (run with `node bench/services/run.mjs`): is `service_health` as fast as its
 * slowest service, not the sum of them? Each homelab-service integration is configured against
 * a fake of its service that answers every request after a fixed delay (50 ms; Semaphore 300 ms;
 * Caddy is the real one behind a proxy that delays it), and the real hub bundle answers
 * `service_health` (a) with one integration alone, for each, and (b) with all of them, in the
 * same run. Target: (b) at most 1.2x the slowest of (a).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectClient, startCaddy, startFakeGraylog, startFakeN8n, startFakeNetbox, startFakePbs, startFakePihole, startFakeProxmox, startFakeSemaphore, startHubProcess } from '../../packages/testkit/src/index.ts';

const TOKEN = 'bench-services-admin-token-0123456789';
const DELAY_MS = 50;
const SLOW_MS = 300;
const TARGET_RATIO = 1.2;

interface Stopper {
  stop(): Promise<void>;
}

/** A proxy in front of Caddy's admin API that answers each request `ms` later. */
async function delayingProxy(target: string, ms: number): Promise<{ url: string } & Stopper> {
  const t = new URL(target);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    setTimeout(() => {
      const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    }, ms);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function main({ repo, argv }: { repo: string; argv: string[] }): Promise<number> {
  const quick = argv.includes('--quick');
  const jsonAt = argv.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? argv[jsonAt + 1] : undefined;
  const calls = quick ? 5 : 20;
  const bundle = path.join(repo, 'packages/hub/dist/homelab-hub.mjs');
  const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  const stoppers: Stopper[] = [];
  // Stopped by its own handles on SIGTERM/SIGINT too (the smoke test's deadline sends SIGTERM).
  const onSignal = () => {
    void Promise.all(stoppers.map((s) => s.stop().catch(() => undefined))).finally(() => process.exit(130));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const pve = await startFakeProxmox({ tokens: { 'bench@pve!t': 'pve-secret' }, delayMs: DELAY_MS });
    stoppers.push(pve);
    const pbs = await startFakePbs({ tokenId: 'bench@pbs!t', secret: 'pbs-secret', delayMs: DELAY_MS });
    stoppers.push(pbs);
    const ph = await startFakePihole({ password: 'pw', delayMs: DELAY_MS });
    stoppers.push(ph);
    const sem = await startFakeSemaphore({ token: 'semaphore-token', delayMs: SLOW_MS });
    stoppers.push(sem);
    const caddy = await startCaddy({ routes: [{ host: 'app.test', body: 'ok' }] });
    stoppers.push(caddy);
    const caddyProxy = await delayingProxy(caddy.adminUrl, DELAY_MS);
    stoppers.push(caddyProxy);
    const n8n = await startFakeN8n({ apiKey: 'n8n-key-0123456789', delayMs: DELAY_MS });
    stoppers.push(n8n);
    const nb = await startFakeNetbox({ tokens: ['nbt_K3y0123.t0kenSecretPart9876543210abcdef'], delayMs: DELAY_MS });
    stoppers.push(nb);
    const gl = await startFakeGraylog({ token: 'graylog-token-0123456789abcdef', delayMs: DELAY_MS });
    stoppers.push(gl);
    const integrations: Record<string, Record<string, unknown>> = {
      proxmox: { url: pve.url, tokenId: 'bench@pve!t', token: 'pve-secret', fingerprint: pve.fingerprint },
      pbs: { url: pbs.url, tokenId: 'bench@pbs!t', token: 'pbs-secret', fingerprint: pbs.fingerprint },
      pihole: { url: ph.url, password: 'pw' },
      semaphore: { url: sem.url, token: 'semaphore-token' },
      caddy: { url: caddyProxy.url },
      n8n: { url: n8n.url, apiKey: 'n8n-key-0123456789' },
      netbox: { url: nb.url, token: 'nbt_K3y0123.t0kenSecretPart9876543210abcdef' },
      graylog: { url: gl.url, token: 'graylog-token-0123456789abcdef' },
    };
    progress(`fakes up: ${Object.keys(integrations).join(', ')} (${DELAY_MS} ms each, semaphore ${SLOW_MS} ms); ${calls} calls per configuration`);

    const measure = async (label: string, config: Record<string, unknown>) => {
      await using hub = await startHubProcess({ bundle, config: { auth: { tokens: [{ user: 'bench', role: 'admin', token: TOKEN }] }, local: { enabled: false }, integrations: config } });
      stoppers.push(hub);
      await using client = await connectClient(hub.url, TOKEN, 'modern');
      const once = async () => {
        const t0 = performance.now();
        const r = (await client.callTool({ name: 'service_health', arguments: {} })) as { isError?: boolean };
        if (r.isError) throw new Error(`${label}: service_health failed`);
        return performance.now() - t0;
      };
      // Warm: the integrations' first checks (logins, connections) are not what is measured.
      await once();
      await once();
      const samples: number[] = [];
      for (let i = 0; i < calls; i++) samples.push(await once());
      const p50 = median(samples);
      progress(`${label}: p50 ${p50.toFixed(1)} ms`);
      return p50;
    };

    const alone: Array<{ name: string; p50: number }> = [];
    for (const [name, cfg] of Object.entries(integrations)) alone.push({ name, p50: await measure(name, { [name]: cfg }) });
    const all = await measure('all', integrations);
    const slowest = alone.reduce((a, b) => (b.p50 > a.p50 ? b : a));
    const ratio = all / slowest.p50;
    const sum = alone.reduce((n, a) => n + a.p50, 0);
    const lines = [
      '| configuration | service_health p50 (ms) |',
      '|---|---|',
      ...alone.map((a) => `| ${a.name} alone | ${a.p50.toFixed(1)} |`),
      `| all ${alone.length} at once | ${all.toFixed(1)} |`,
      '',
      `${ratio <= TARGET_RATIO ? '✔' : '✘'} all ${alone.length} integrations at once take ${ratio.toFixed(2)}x the slowest alone (${slowest.name}, ${slowest.p50.toFixed(1)} ms); target at most ${TARGET_RATIO}x (the sum would be ${(sum / slowest.p50).toFixed(2)}x)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ meta: { calls, delayMs: DELAY_MS, slowMs: SLOW_MS }, alone, all, slowest: slowest.name, ratio, target: { ratio: TARGET_RATIO, pass: ratio <= TARGET_RATIO } }, null, 2));
    return 0;
  } catch (err) {
    process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    for (const s of stoppers.reverse()) await s.stop().catch(() => undefined);
  }
}
