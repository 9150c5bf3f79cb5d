#!/usr/bin/env node
// The peer of the hub bench: punkpeye's mcp-proxy in front of an edge over HTTP.
//
// The mcp-proxy CLI only spawns a stdio command (`mcp-proxy [options] -- <command>`), and the
// edge has no stdio mode, so the CLI cannot front it. This is the CLI's own `proxy()` wiring
// (mcp-proxy 6.7.x, src/bin/mcp-proxy.ts) built from the library's exports, with one change:
// the upstream client uses `StreamableHTTPClientTransport` to the edge instead of
// `StdioClientTransport` to a child. Everything on the serving side is the CLI's code path:
// `startHTTPServer` with the CLI's defaults (both eras on /mcp, event store on, 2025 sessions),
// one shared upstream `Client`, `proxyServer` per downstream server instance, the upstream
// bridge for list_changed. `--upstreamProtocol auto`, as the README says is needed to front a
// 2026-07-28 server; `--apiKey`, so that it checks a credential on every request as the hub does.
//
//   node bench/hub/mcp-proxy-peer.mjs --port P --upstream http://127.0.0.1:E/mcp --token-file F --api-key K
//
// Needs mcp-proxy in bench/hub/node_modules (run.mjs installs it). Logs
// {"listen":"127.0.0.1:P"} on stdout once listening.
import { readFileSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Server } from '@modelcontextprotocol/server';
import { getUpstreamBridge, proxyServer, resolveVersionNegotiation, startHTTPServer } from 'mcp-proxy';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) {
    process.stderr.write(`mcp-proxy-peer: --${name} is required\n`);
    process.exit(2);
  }
  return v;
}
const port = Number(arg('port'));
const upstream = new URL(arg('upstream'));
const token = readFileSync(arg('token-file'), 'utf8').trim();
const apiKey = arg('api-key');
const REQUEST_TIMEOUT = 300_000; // the CLI's default

const client = new Client({ name: 'mcp-proxy', version: '1.0.0' }, { capabilities: {}, versionNegotiation: resolveVersionNegotiation('auto') });
await client.connect(new StreamableHTTPClientTransport(upstream, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }), { timeout: 60_000 });

// createProxyServer() of the CLI (not exported by the package).
const createServer = async () => {
  const serverCapabilities = client.getServerCapabilities();
  const server = new Server(client.getServerVersion(), { capabilities: serverCapabilities, instructions: client.getInstructions() });
  await proxyServer({ client, requestTimeout: REQUEST_TIMEOUT, server, serverCapabilities });
  return server;
};

const http = await startHTTPServer({
  apiKey,
  createServer,
  eventStoreMaxEvents: 1000,
  host: '127.0.0.1',
  keepAliveTimeout: 300_000,
  maxBodySize: 10 * 1024 * 1024,
  modern: true,
  port,
  stateless: false,
});
getUpstreamBridge({ client, requestTimeout: REQUEST_TIMEOUT }).subscribe({
  promptsListChanged: () => http.notify.promptsChanged(),
  resourcesListChanged: () => http.notify.resourcesChanged(),
  resourceUpdated: ({ uri }) => http.notify.resourceUpdated(uri),
  toolsListChanged: () => http.notify.toolsChanged(),
});
process.stdout.write(`${JSON.stringify({ listen: `127.0.0.1:${port}`, upstreamEra: client.getProtocolEra?.() })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 3000).unref();
  await http.close().catch(() => undefined);
  await client.close().catch(() => undefined);
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
