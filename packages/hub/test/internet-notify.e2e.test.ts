/**
 * ntfy through the bundled hub, against a fake ntfy that follows the documented publish API:
 * send_notification's preview shows exactly what will be posted and where; the token travels as
 * a header and is in no answer, log or journal; and the hub's own notices (`notify:`) ring when a
 * write waits for a person in human mode and when a node or a native MCP server goes down, once per subject per
 * notify.minIntervalSeconds.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, serveLoopback, startEdgeProcess, startFakeNtfy, startFakePihole, startHubProcess, type ElicitAnswer } from '@homelab-mcp/testkit';

const TOKEN = 'ntfy-admin-token-0123456789abcdef';
const NTFY_TOKEN = 'tk_ntfySecret0123456789abcdefghij';
const auth = { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] };
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('send_notification and notify: through the hub', () => {
  it('previews exactly what is sent and where, sends with the token as a header, never shows the token', { timeout: 90_000 }, async () => {
    await using ntfy = await startFakeNtfy({ token: NTFY_TOKEN });
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, internet: { ntfy: { url: ntfy.url, topic: 'homelab', token: '${NTFY_TOKEN}' } } }, env: { NTFY_TOKEN } });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    const args = { message: 'Backup failed on nas', title: 'Backup', priority: 'high', tags: ['warning', 'backup'], click: 'https://nas.example.test/backups' };
    const held = (await client.callTool({ name: 'send_notification', arguments: args })) as Result;
    const body = { topic: 'homelab', message: 'Backup failed on nas', title: 'Backup', priority: 4, tags: ['warning', 'backup'], click: 'https://nas.example.test/backups' };
    expect(held.structuredContent).toMatchObject({ status: 'approval_required', preview: { where: ['ntfy'], action: `send to ntfy ${ntfy.url}/homelab: ${JSON.stringify(body)}` } });
    expect(ntfy.messages()).toEqual([]);
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const sent = (await client.callTool({ name: 'send_notification', arguments: args })) as Result;
    expect(sent.isError).toBeFalsy();
    const [m] = ntfy.messages();
    expect(m).toMatchObject({ ...body, via: 'json', authorization: `Bearer ${NTFY_TOKEN}` });
    expect(resultText(sent)).toBe(`Sent to ${ntfy.url}/homelab (message ${m!.id}).`);

    const bad = (await client.callTool({ name: 'send_notification', arguments: { message: 'x', priority: 9 } })) as Result;
    expect(resultText(bad)).toBe('send_notification: argument "priority": expected 1..5 or min, low, default, high, max, urgent');
    expect(ntfy.messages()).toHaveLength(1);

    const events = readJournal(join(hub.dir, 'data'));
    expect(events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'internet').map((e) => [e.detail.method, e.detail.url, e.detail.status])).toEqual([['POST', `${ntfy.url}/`, 200]]);
    expect(JSON.stringify(events) + hub.output() + JSON.stringify(held) + JSON.stringify(sent)).not.toContain(NTFY_TOKEN);
    expect(ntfy.unknown()).toEqual([]);
  });

  it('says what to configure when internet.ntfy is not set; a wrong token is ntfy\'s 401, said', { timeout: 90_000 }, async () => {
    await using ntfy = await startFakeNtfy({ token: NTFY_TOKEN });
    await using bare = await startHubProcess({ config: { auth, local: { enabled: false }, approval: { mode: 'confirm' } } });
    await using c1 = await connectClient(bare.url, TOKEN, 'legacy');
    const preview = (await c1.callTool({ name: 'send_notification', arguments: { message: 'hi' } })) as Result;
    expect(preview.structuredContent!.preview.action).toMatch(/^refuse: send_notification: internet.ntfy is not configured; add to hub.yaml: internet: \{ ntfy: \{ url: /);
    const r = (await c1.callTool({ name: 'send_notification', arguments: { message: 'hi', confirm: preview.structuredContent!.confirm } })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toMatch(/^send_notification: internet.ntfy is not configured/);

    await using wrong = await startHubProcess({ config: { auth, local: { enabled: false }, approval: { mode: 'confirm' }, internet: { ntfy: { url: ntfy.url, topic: 'homelab', token: 'tk_wrong' } } } });
    await using c2 = await connectClient(wrong.url, TOKEN, 'legacy');
    const p2 = (await c2.callTool({ name: 'send_notification', arguments: { message: 'hi' } })) as Result;
    const r2 = (await c2.callTool({ name: 'send_notification', arguments: { message: 'hi', confirm: p2.structuredContent!.confirm } })) as Result;
    expect(resultText(r2)).toBe(`send_notification: ntfy at 127.0.0.1:${ntfy.port} answered 401: unauthorized (code 40101); check internet.ntfy.token and the topic's access`);
    expect(ntfy.messages()).toEqual([]);
    expect(ntfy.unknown()).toEqual([]);
  });

  it('an error page that echoes the request (a misconfigured proxy in front of ntfy) does not bring the token into the answer', { timeout: 90_000 }, async () => {
    const echo = await serveLoopback(createServer((req, res) => void res.writeHead(502, { 'content-type': 'text/plain' }).end(`bad gateway; you sent ${req.headers.authorization?.replace(/^Bearer /, 'token=')}`)));
    await using _echo = { [Symbol.asyncDispose]: () => echo.stop() };
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, approval: { mode: 'confirm' }, internet: { ntfy: { url: `http://127.0.0.1:${echo.port}`, topic: 'homelab', token: '${NTFY_TOKEN}' } } }, env: { NTFY_TOKEN } });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const p = (await client.callTool({ name: 'send_notification', arguments: { message: 'hi' } })) as Result;
    const r = (await client.callTool({ name: 'send_notification', arguments: { message: 'hi', confirm: p.structuredContent!.confirm } })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe(`send_notification: ntfy at 127.0.0.1:${echo.port} answered 502: bad gateway; you sent token=[REDACTED]`);
    expect(JSON.stringify(readJournal(join(hub.dir, 'data'))) + hub.output()).not.toContain(NTFY_TOKEN);
  });

  it('an argument it does not know (a topic of its own, a delay) is refused by name, not silently dropped', { timeout: 90_000 }, async () => {
    await using ntfy = await startFakeNtfy({ token: NTFY_TOKEN });
    await using hub = await startHubProcess({ config: { auth, local: { enabled: false }, internet: { ntfy: { url: ntfy.url, topic: 'homelab', token: '${NTFY_TOKEN}' } } }, env: { NTFY_TOKEN } });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const r = (await client.callTool({ name: 'send_notification', arguments: { message: 'hi', topic: 'family', delay: '1h' } })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe('send_notification: unknown argument "topic", "delay" (expected: message, title, priority, tags, click; the topic is internet.ntfy.topic)');
    expect(ntfy.messages()).toEqual([]);
  });

  it('notify: a write waiting for a person (once per user and tool per interval), a node down, a native MCP server down', { timeout: 120_000 }, async () => {
    await using ntfy = await startFakeNtfy({ token: NTFY_TOKEN });
    await using edge = await startEdgeProcess();
    await using hub = await startHubProcess({
      config: {
        auth,
        local: { enabled: false },
        approval: { mode: 'human' },
        nodes: [{ name: 'flaky', url: edge.url, token: '${EDGE_TOKEN}' }],
        // A native MCP server whose process exits at once: a service down.
        upstreams: { ha: { type: 'stdio', command: process.execPath, args: ['-e', 'process.exit(3)'] } },
        internet: { ntfy: { url: ntfy.url, topic: 'homelab', token: '${NTFY_TOKEN}' } },
        notify: { minIntervalSeconds: 3600 },
      },
      env: { NTFY_TOKEN, EDGE_TOKEN: edge.token },
    });
    const titled = (prefix: string) => ntfy.messages().filter((m) => m.title?.startsWith(prefix));
    let asked = 0;
    await using client = await connectClient(hub.url, TOKEN, 'legacy', {
      onElicit: async (): Promise<ElicitAnswer> => {
        asked++;
        // The person's phone rang before they are asked to answer.
        await expect.poll(() => titled('Approval needed').length, { timeout: 10_000 }).toBe(1);
        return { action: 'accept', content: { approve: true } };
      },
    });
    for (const message of ['first', 'second']) {
      const r = (await client.callTool({ name: 'send_notification', arguments: { message } })) as Result;
      expect(r.isError, resultText(r)).toBeFalsy();
    }
    expect(asked).toBe(2);
    expect(titled('Approval needed')).toEqual([expect.objectContaining({ topic: 'homelab', title: 'Approval needed: send_notification', priority: 4, authorization: `Bearer ${NTFY_TOKEN}` })]);
    expect(titled('Approval needed')[0]!.message).toMatch(/^ann asks to send to ntfy .*"message":"first".*\. Answer in the MCP client\.$/);
    expect(ntfy.messages().map((m) => m.message).filter((m) => m === 'first' || m === 'second')).toEqual(['first', 'second']);

    await edge.stop();
    const down = (await client.callTool({ name: 'get_status', arguments: { node: 'flaky' } })) as Result;
    expect(down.isError).toBe(true);
    await expect.poll(() => titled('Node down').map((m) => m.title), { timeout: 20_000 }).toEqual(['Node down: flaky']);
    expect(titled('Node down')[0]!.message).toMatch(/^flaky is down/);
    await expect.poll(() => titled('Service down').map((m) => m.title), { timeout: 20_000 }).toEqual(['Service down: ha']);
    expect(titled('Service down')[0]!.message).toMatch(/^ha is down: /);
    expect(JSON.stringify(readJournal(join(hub.dir, 'data'))) + hub.output()).not.toContain(NTFY_TOKEN);
    expect(ntfy.unknown()).toEqual([]);
  });

  it('notify: a built-in integration that stops answering (checked every notify.checkSeconds) rings once', { timeout: 120_000 }, async () => {
    await using ntfy = await startFakeNtfy({ token: NTFY_TOKEN });
    const pihole = await startFakePihole({ password: 'pi-pass' });
    try {
      await using hub = await startHubProcess({
        config: {
          auth,
          local: { enabled: false },
          integrations: { pihole: { url: pihole.url, password: '${PIHOLE_PASSWORD}' } },
          internet: { ntfy: { url: ntfy.url, topic: 'homelab', token: '${NTFY_TOKEN}' } },
          notify: { on: ['service_down'], minIntervalSeconds: 3600, checkSeconds: 1 },
        },
        env: { NTFY_TOKEN, PIHOLE_PASSWORD: 'pi-pass' },
      });
      const down = () => ntfy.messages().filter((m) => m.title?.startsWith('Service down'));
      // Healthy checks ring nothing: wait for two rounds of checks to reach the Pi-hole.
      const seen = pihole.requests().length;
      await expect.poll(() => pihole.requests().length, { timeout: 20_000 }).toBeGreaterThan(seen + 2);
      expect(down()).toEqual([]);
      await pihole.stop();
      await expect.poll(() => down().map((m) => m.title), { timeout: 30_000 }).toEqual(['Service down: Pi-hole']);
      expect(down()[0]!.message).toMatch(/^Pi-hole is down: /);
      expect(JSON.stringify(readJournal(join(hub.dir, 'data'))) + hub.output() + JSON.stringify(ntfy.messages())).not.toContain('pi-pass');
    } finally {
      await pihole.stop().catch(() => undefined);
    }
    expect(ntfy.unknown()).toEqual([]);
  });
});
