#!/usr/bin/env node
// A reference row for the hub bench, not a product: the least any HTTP hop in front of the edge
// can add on this machine. node:http in, node:http out over a keep-alive pool, a constant-time
// bearer check, the token swapped for the edge's, bodies piped through unparsed: no MCP, no
// JSON, no fetch, no web streams. Whatever the hub adds beyond this row is the price of what it
// does with the message (and of how it does it).
//
//   node bench/hub/bare-forwarder.mjs --upstream http://127.0.0.1:E/mcp --token-file F --auth-token T
//
// Logs {"listen":"127.0.0.1:PORT"} on stdout once listening on 127.0.0.1 port 0.
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) {
    process.stderr.write(`bare-forwarder: --${name} is required\n`);
    process.exit(2);
  }
  return v;
}
const upstream = new URL(arg('upstream'));
const edgeAuth = `Bearer ${readFileSync(arg('token-file'), 'utf8').trim()}`;
const expected = Buffer.from(`Bearer ${arg('auth-token')}`);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const authorized = (header) => {
  const got = Buffer.from(header ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
};

const server = http.createServer((req, res) => {
  if (!authorized(req.headers.authorization)) return void res.writeHead(401).end();
  const headers = { ...req.headers, host: upstream.host, authorization: edgeAuth };
  const up = http.request({ host: upstream.hostname, port: upstream.port, path: upstream.pathname, method: req.method, headers, agent }, (ur) => {
    res.writeHead(ur.statusCode ?? 502, ur.headers);
    ur.pipe(res);
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ listen: `127.0.0.1:${server.address().port}` })}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
