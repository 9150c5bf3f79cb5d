/**
 * Installing an edge from the LAN: a device fetches `/edge/install.sh` by the hub's own address
 * (or host name) before anyone has put it in `allowedHosts`. 127.0.0.2 stands for the hub's LAN
 * address: the hub listens there, and loopback names alone would not accept it. `/mcp` keeps
 * the strict check, and every refused Host or Origin is logged with the name and the key that
 * would allow it.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EDGE_BUNDLE, startHubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'lan-admin-token-0123456789abcdef';

/** A request to `ip:port` (always loopback) carrying this Host header; status and body. */
function get(ip: string, port: number, path: string, host: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ip, port, path, method, headers: { host, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) : undefined);
  });
}

const refusalLines = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"refusal":"forbidden_host"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('installing an edge from the LAN', () => {
  it("serves /edge/* to a Host that is the hub's own address or name, keeps /mcp strict, and logs every refused name with allowedHosts", async () => {
    await using hub = await startHubProcess({ listen: '127.0.0.2:0', config: { auth: { tokens: [{ user: 'a', role: 'admin', token: ADMIN }] }, local: { enabled: false } } });
    const lan = `127.0.0.2:${hub.port}`;

    // The installer, fetched as a device on the LAN does: it names the hub by that address.
    const script = await get('127.0.0.2', hub.port, '/edge/install.sh', lan);
    expect(script.status, script.body).toBe(200);
    expect(script.body).toContain(`DEFAULT_HUB='http://${lan}'`);
    const bundle = await get('127.0.0.2', hub.port, '/edge/homelab-edge.mjs', lan);
    expect(bundle.status).toBe(200);
    // By this host's name too (`curl http://hub:8765/edge/install.sh`).
    const short = hostname().split('.')[0]!.toLowerCase();
    expect((await get('127.0.0.2', hub.port, '/edge/install.sh', `${short}:${hub.port}`)).status).toBe(200);
    expect((await get('127.0.0.2', hub.port, '/edge/install.sh', `${short}.lan:${hub.port}`)).status).toBe(200);

    // The installer runs end to end from that address: it fetches and checks the bundle there.
    const root = mkdtempSync(join(tmpdir(), 'edge-install-lan-'));
    try {
      const file = join(root, 'install.sh');
      writeFileSync(file, script.body);
      await promisify(execFile)('sh', ['-c', `cat "${file}" | sh -s -- --token edge-token-0123456789abcdef --root "${root}"`]);
      expect(readFileSync(join(root, 'usr/local/lib/homelab-edge/homelab-edge.mjs')).equals(readFileSync(EDGE_BUNDLE))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }

    // /mcp keeps the strict check: that address is not in allowedHosts, token or not.
    const mcp = await get('127.0.0.2', hub.port, '/mcp', lan, { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, 'POST');
    expect(mcp.status).toBe(403);
    expect(mcp.body).toContain('allowedHosts');
    // A name DNS rebinding could use is refused everywhere, /edge/ included.
    expect((await get('127.0.0.2', hub.port, '/edge/install.sh', 'evil.example')).status).toBe(403);
    expect((await get('127.0.0.2', hub.port, '/edge/install.sh', `${short}.evil.example`)).status).toBe(403);
    expect((await get('127.0.0.2', hub.port, '/edge/install.sh', lan, { origin: 'http://evil.example' })).status).toBe(403);

    // Each refused name is in the log, with the key that would allow it.
    await expect.poll(() => refusalLines(hub.output()).length).toBe(4);
    const lines = refusalLines(hub.output());
    expect(lines.map((l) => [l.path, l.host ?? l.origin, l.allowWith])).toEqual([
      ['/mcp', lan, 'allowedHosts'],
      ['/edge/install.sh', 'evil.example', 'allowedHosts'],
      ['/edge/install.sh', `${short}.evil.example`, 'allowedHosts'],
      ['/edge/install.sh', 'http://evil.example', 'allowedHosts'],
    ]);
    expect(String(lines[0]!.msg)).toContain('Host "127.0.0.2" is not a name of this hub');
    expect(String(lines[0]!.msg)).toContain('add "127.0.0.2" to allowedHosts in hub.yaml');
    expect(String(lines[1]!.msg)).toContain("/edge/ also accepts this hub's own addresses and host name");
    expect(lines[0]).toMatchObject({ level: 'warn', name: 'hub' });
  });

  it("accepts, on a hub listening on 127.0.0.1, a Host naming one of the host's own interface addresses, for /edge/* only", async (ctx) => {
    const own = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!own) ctx.skip(); // no non-loopback interface on this machine
    await using hub = await startHubProcess({ config: { auth: { tokens: [{ user: 'a', role: 'admin', token: ADMIN }] }, local: { enabled: false } } });
    // Connected to 127.0.0.1 (no traffic leaves the machine); only the Host header names it.
    const script = await get('127.0.0.1', hub.port, '/edge/install.sh', `${own}:${hub.port}`);
    expect(script.status, script.body).toBe(200);
    expect(script.body).toContain(`DEFAULT_HUB='http://${own}:${hub.port}'`);
    expect((await get('127.0.0.1', hub.port, '/healthz', `${own}:${hub.port}`)).status).toBe(403);
  });
});
