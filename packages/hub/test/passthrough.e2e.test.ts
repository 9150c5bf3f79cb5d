/**
 * What a capable upstream offers reaches the client through the bundled hub (#16):
 * completion, resource subscriptions, its JSON-RPC errors, its log messages at each request's
 * level, and the quirks of a hand-written server (no `resultType`, a JSON-lines listen stream).
 * Real processes throughout: the hub bundle, SDK v2 upstream servers of both eras
 * (fixtures/capable-server.mjs), a server without the SDK (fixtures/plain-server.mjs), and SDK
 * v2 clients of both eras.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError, type Client, type StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { connectClient, resultText, startHubProcess, type Era, type HubProcess } from '@homelab-mcp/testkit';

const ADMIN = 'admin-token-0123456789abcdef';

interface Fixture {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

async function startFixture(file: string, env: Record<string, string> = {}): Promise<Fixture> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (b: Buffer) => resolve(JSON.parse(b.toString()).port));
    child.once('exit', () => reject(new Error(`${file} exited`)));
  });
  return { child, port, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM')))) };
}

let modernUpstream: Fixture;
let legacyUpstream: Fixture;
let plain: Fixture;
let hub: HubProcess;

beforeAll(async () => {
  [modernUpstream, legacyUpstream, plain] = await Promise.all([startFixture('capable-server.mjs', { ERA: 'both' }), startFixture('capable-server.mjs', { ERA: 'legacy' }), startFixture('plain-server.mjs')]);
  hub = await startHubProcess({
    config: {
      local: { enabled: false },
      auth: { tokens: [{ user: 'alice', role: 'admin', token: ADMIN }], rateLimit: { perMinute: 60_000, burst: 5_000 } },
      upstreams: {
        // `cap` negotiates 2026-07-28 (its server speaks both eras), `old` speaks 2025 only.
        cap: { url: `http://127.0.0.1:${modernUpstream.port}/mcp`, classes: { '*': 'read' } },
        old: { url: `http://127.0.0.1:${legacyUpstream.port}/mcp`, classes: { '*': 'read' } },
        plain: { url: `http://127.0.0.1:${plain.port}/mcp`, classes: { '*': 'read' } },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await hub?.stop();
  await Promise.all([modernUpstream?.stop(), legacyUpstream?.stop(), plain?.stop()]);
});

/** The JSON-RPC error a request was answered with (fails the test when it succeeded). */
async function rpcError(p: Promise<unknown>): Promise<ProtocolError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProtocolError);
  return err as ProtocolError;
}

/** What the upstream behind `alias` was asked (its `seen` tool, through the hub). */
async function upstreamSeen(client: Client, alias: string): Promise<{ subscribe: string[]; unsubscribe: string[]; listens: string[][]; logLevels: string[]; open: string[] }> {
  return JSON.parse(resultText(await client.callTool({ name: `${alias}__seen`, arguments: {} })));
}

/** The hub's URI of the upstream's `memo://live` (percent-encoded under the alias). */
async function liveUri(client: Client, alias: string): Promise<string> {
  const { resources } = await client.listResources();
  const r = resources.find((x) => x.uri.startsWith(`homelab://${alias}/`) && x.uri.includes('live'));
  expect(r).toBeDefined();
  return r!.uri;
}

const UPSTREAMS = [
  ['cap', '2026-07-28'],
  ['old', '2025-11-25'],
] as const;

describe.each(UPSTREAMS)('an upstream speaking to the hub in its era (%s, %s)', (alias) => {
  describe.each<Era>(['modern', 'legacy'])('SDK v2 client, %s era', (era) => {
    it('routes completion/complete to the upstream that owns the prompt or the template, and advertises completions', async () => {
      await using client = await connectClient(hub.url, ADMIN, era);
      expect(client.getServerCapabilities()?.completions).toEqual({});
      const prompt = await client.complete({ ref: { type: 'ref/prompt', name: `${alias}__greet` }, argument: { name: 'color', value: 'b' } });
      expect(prompt.completion.values).toEqual(['blue', 'black']);
      const template = await client.complete({ ref: { type: 'ref/resource', uri: `${alias}+item://{id}` }, argument: { name: 'id', value: 'ap' } });
      expect(template.completion.values).toEqual(['apple', 'apricot']);
      // An unknown reference: Invalid params, as the spec says.
      const unknown = await rpcError(client.complete({ ref: { type: 'ref/prompt', name: `${alias}__nope` }, argument: { name: 'color', value: '' } }));
      expect(unknown.code).toBe(-32602);
      expect(unknown.message).toContain(`${alias}__nope`);
      const noTemplate = await rpcError(client.complete({ ref: { type: 'ref/resource', uri: `${alias}+nope://{x}` }, argument: { name: 'x', value: '' } }));
      expect(noTemplate.code).toBe(-32602);
    });

    it("relays the upstream's JSON-RPC errors with their code, message and data, and resource-not-found with the URI the client sent", async () => {
      await using client = await connectClient(hub.url, ADMIN, era);
      const call = await rpcError(client.callTool({ name: `${alias}__fail_protocol`, arguments: {} }));
      expect({ code: call.code, message: call.message, data: call.data }).toEqual({ code: -32050, message: 'refused by the upstream', data: { reason: 'fixture', n: 7 } });
      const prompt = await rpcError(client.getPrompt({ name: `${alias}__broken` }));
      expect({ code: prompt.code, message: prompt.message, data: prompt.data }).toEqual({ code: -32050, message: 'prompt broken on purpose', data: { reason: 'fixture' } });
      const missing = `${alias}+memo://missing`;
      const read = await rpcError(client.readResource({ uri: missing }));
      expect(read.code).toBe(-32602);
      expect(read.data).toEqual({ uri: missing });
      expect(read.message).toBe(`Resource not found: ${missing}`);
      // A hostile upstream's 400 kB error is cut: its message to 2,000 characters, its data dropped.
      const huge = await rpcError(client.callTool({ name: `${alias}__fail_protocol`, arguments: { huge: true } }));
      expect(huge.code).toBe(-32051);
      expect(huge.message.length).toBeLessThanOrEqual(2001);
      expect(huge.data).toBeUndefined();
    });

    it('relays log messages of a call at the level the client asked for', async () => {
      await using client = await connectClient(hub.url, ADMIN, era);
      const seen: Array<{ level: string; logger?: string }> = [];
      client.setNotificationHandler('notifications/message', (n) => void seen.push({ level: n.params.level, ...(n.params.logger ? { logger: n.params.logger } : {}) }));
      const expected = [
        { level: 'debug', logger: `${alias}/capable` },
        { level: 'info', logger: `${alias}/capable` },
        { level: 'warning', logger: `${alias}/capable` },
      ];
      if (era === 'modern') {
        // 2026-07-28: the level is in each request's _meta, and the messages come on the call's stream.
        await client.callTool({ name: `${alias}__log_levels`, arguments: {}, _meta: { 'io.modelcontextprotocol/logLevel': 'warning' } });
        expect(seen).toEqual(expected.slice(2));
        seen.length = 0;
        await client.callTool({ name: `${alias}__log_levels`, arguments: {}, _meta: { 'io.modelcontextprotocol/logLevel': 'debug' } });
        expect(seen).toEqual(expected);
        seen.length = 0;
        await client.callTool({ name: `${alias}__log_levels`, arguments: {} });
        expect(seen).toEqual([]); // no level asked: no messages
        // The hub asked the upstream for the client's level (2025 upstreams send every level).
        if (alias === 'cap') expect((await upstreamSeen(client, alias)).logLevels).toContain('debug');
      } else {
        // 2025: logging/setLevel, once per session; messages come on the session's stream.
        await client.setLoggingLevel('debug');
        await client.callTool({ name: `${alias}__log_levels`, arguments: {} });
        await expect.poll(() => seen.length, { timeout: 20_000 }).toBe(3);
        expect(seen).toEqual(expected);
      }
    });
  });

  it('passes resource updates to exactly the 2025 sessions subscribed, under their URIs, and unsubscribes upstream when the last one leaves', async () => {
    await using a = await connectClient(hub.url, ADMIN, 'legacy');
    await using b = await connectClient(hub.url, ADMIN, 'legacy');
    await using c = await connectClient(hub.url, ADMIN, 'legacy');
    expect(a.getServerCapabilities()?.resources?.subscribe).toBe(true);
    const got = new Map<Client, string[]>([a, b, c].map((x) => [x, []]));
    for (const x of [a, b, c]) x.setNotificationHandler('notifications/resources/updated', (n) => void got.get(x)!.push(n.params.uri));
    const live = await liveUri(a, alias);
    // One resource listed (percent-encoded URI), one filled in from a template (`<alias>+<uri>`).
    const item = `${alias}+item://x`;
    await a.subscribeResource({ uri: live });
    await c.subscribeResource({ uri: live });
    await b.subscribeResource({ uri: item });
    await a.callTool({ name: `${alias}__touch`, arguments: { uri: 'memo://live' } });
    await a.callTool({ name: `${alias}__touch`, arguments: { uri: 'item://x' } });
    await expect.poll(() => got.get(b)!.length, { timeout: 20_000 }).toBe(1);
    await expect.poll(() => got.get(a)!.length, { timeout: 20_000 }).toBe(1);
    await expect.poll(() => got.get(c)!.length, { timeout: 20_000 }).toBe(1);
    // Each session's stream is in order: b heard of `item` only, so it never heard of `live`.
    expect(got.get(a)).toEqual([live]);
    expect(got.get(c)).toEqual([live]);
    expect(got.get(b)).toEqual([item]);
    expect((await upstreamSeen(a, alias)).open).toEqual(['item://x', 'memo://live']);

    // a leaves, c still holds it; then c leaves: the hub gives the upstream subscription back.
    await a.unsubscribeResource({ uri: live });
    expect((await upstreamSeen(a, alias)).open).toEqual(['item://x', 'memo://live']);
    await c.unsubscribeResource({ uri: live });
    await expect.poll(async () => (await upstreamSeen(a, alias)).open, { timeout: 20_000 }).toEqual(['item://x']);
    // A session that ends takes its subscriptions with it.
    await (b.transport as StreamableHTTPClientTransport).terminateSession();
    await expect.poll(async () => (await upstreamSeen(a, alias)).open, { timeout: 20_000 }).toEqual([]);
  });

  it('serves a 2026-07-28 subscriptions/listen with resourceSubscriptions from the upstream, and ends it upstream when the stream closes', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    expect(client.getServerCapabilities()?.resources?.subscribe).toBe(true);
    const got: string[] = [];
    client.setNotificationHandler('notifications/resources/updated', (n) => void got.push(n.params.uri));
    const live = await liveUri(client, alias);
    const sub = await client.listen({ resourceSubscriptions: [live] });
    expect(sub.honoredFilter.resourceSubscriptions).toEqual([live]);
    expect((await upstreamSeen(client, alias)).open).toEqual(['memo://live']);
    await client.callTool({ name: `${alias}__touch`, arguments: { uri: 'memo://live' } });
    await expect.poll(() => got, { timeout: 20_000 }).toEqual([live]);
    await sub.close();
    await expect.poll(async () => (await upstreamSeen(client, alias)).open, { timeout: 20_000 }).toEqual([]);
  });
});

describe('bounds', () => {
  it('refuses a 2025 session its 101st resource subscription, and a listen stream more than 100', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'legacy');
    for (let i = 0; i < 100; i++) await client.subscribeResource({ uri: `old+item://n${i}` });
    const over = await rpcError(client.subscribeResource({ uri: 'old+item://n100' }));
    expect(over.code).toBe(-32600);
    expect(over.message).toMatch(/at most 100 resources per session/);
    await (client.transport as StreamableHTTPClientTransport).terminateSession();

    await using modern = await connectClient(hub.url, ADMIN, 'modern');
    const tooMany = await rpcError(modern.listen({ resourceSubscriptions: Array.from({ length: 101 }, (_, i) => `old+item://m${i}`) }));
    expect(tooMany.code).toBe(-32602);
    await expect.poll(async () => (await upstreamSeen(modern, 'old')).open, { timeout: 20_000 }).toEqual([]);
  });
});

describe('an upstream without the SDK', () => {
  it('is usable although its 2026-07-28 results lack resultType, and its JSON-lines listen stream carries list_changed', async () => {
    await using client = await connectClient(hub.url, ADMIN, 'modern');
    expect(resultText(await client.callTool({ name: 'plain__hello', arguments: {} }))).toBe('hello from a plain server');
    // The hub's listen stream to it (application/x-ndjson) was accepted and stays open.
    expect(Number(resultText(await client.callTool({ name: 'plain__listeners', arguments: {} })))).toBeGreaterThanOrEqual(1);
    await client.callTool({ name: 'plain__grow', arguments: {} });
    await expect.poll(async () => (await client.listTools(undefined, { cacheMode: 'refresh' })).tools.map((t) => t.name), { timeout: 20_000 }).toContain('plain__grown_3');
  });
});
