#!/usr/bin/env node
// Many tiny native MCP servers in one process, for the hub bench's `tools/list` row: one
// node:http server on 127.0.0.1 port 0 answers `/u1/mcp` ... `/uN/mcp`, each a distinct,
// stateless MCP server with `TOOLS` tools of its own (names, descriptions and schemas the size
// of a Home Assistant or Gitea tool). Both protocol eras, as the hub's client probes
// `server/discover` (2026-07-28) first and falls back to `initialize`.
//
//   node bench/hub/fake-upstreams.mjs --count 100 --tools 20
//
// Logs {"listen":"127.0.0.1:PORT","count":N,"tools":T} on stdout once listening.
// Plain Node ESM, no dependencies: this must cost the hub nothing but its own work.
import http from 'node:http';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const COUNT = arg('count', 100);
const TOOLS = arg('tools', 20);
const MODERN = '2026-07-28';
const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

const VERBS = ['get', 'list', 'set', 'turn_on', 'turn_off', 'restart', 'query', 'create', 'delete', 'update'];
const THINGS = ['light', 'switch', 'sensor', 'container', 'repository', 'issue', 'backup', 'volume', 'zone', 'record'];

/** The tools of server `u`: distinct names per server, realistic size (about 500 bytes each). */
function toolsOf(u) {
  const out = [];
  for (let i = 0; i < TOOLS; i++) {
    const verb = VERBS[i % VERBS.length];
    const thing = THINGS[(i + u) % THINGS.length];
    const readOnly = verb === 'get' || verb === 'list' || verb === 'query';
    out.push({
      name: `${verb}_${thing}_${i}`,
      title: `${verb.replace('_', ' ')} ${thing} ${i}`,
      description: `${verb.replace('_', ' ')} a ${thing} on service u${u}. Returns the ${thing} as JSON with its id, name, state and attributes; fails with a clear message when the ${thing} does not exist.`,
      inputSchema: {
        type: 'object',
        properties: {
          id: { type: 'string', description: `The ${thing} id, as listed by list_${thing}.` },
          area: { type: 'string', description: 'Restrict to one area or group (optional).' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'At most this many items.' },
        },
        required: readOnly ? [] : ['id'],
        additionalProperties: false,
      },
      annotations: { readOnlyHint: readOnly, destructiveHint: verb === 'delete', idempotentHint: readOnly },
    });
  }
  return out;
}

const SERVERS = Array.from({ length: COUNT }, (_, i) => {
  const u = i + 1;
  const tools = toolsOf(u);
  return { u, info: { name: `fake-upstream-${u}`, version: '1.0.0' }, tools, names: new Set(tools.map((t) => t.name)) };
});

const CAPS = { tools: { listChanged: false } };

/** The JSON-RPC answer to one request, or undefined for a notification. */
function answer(srv, msg) {
  const modern = msg.params?._meta?.['io.modelcontextprotocol/protocolVersion'] === MODERN;
  const ok = (result) => ({
    jsonrpc: '2.0',
    id: msg.id,
    result: modern ? { ...result, resultType: 'complete', _meta: { 'io.modelcontextprotocol/serverInfo': srv.info } } : result,
  });
  const err = (code, message) => ({ jsonrpc: '2.0', id: msg.id, error: { code, message } });
  if (msg.id === undefined || msg.id === null) return undefined;
  switch (msg.method) {
    case 'server/discover':
      return ok({ supportedVersions: [MODERN], capabilities: CAPS });
    case 'initialize': {
      const asked = msg.params?.protocolVersion;
      return ok({ protocolVersion: LEGACY_VERSIONS.includes(asked) ? asked : LEGACY_VERSIONS[0], capabilities: CAPS, serverInfo: srv.info });
    }
    case 'ping':
      return ok({});
    case 'tools/list':
      // 2026-07-28 list results are cacheable and must say for how long and for whom.
      return ok(modern ? { tools: srv.tools, ttlMs: 60_000, cacheScope: 'private' } : { tools: srv.tools });
    case 'tools/call': {
      const name = msg.params?.name;
      if (!srv.names.has(name)) return err(-32602, `Tool ${name} not found`);
      return ok({ content: [{ type: 'text', text: `${name} on u${srv.u}: ok` }] });
    }
    default:
      return err(-32601, `Method not found: ${msg.method}`);
  }
}

const server = http.createServer((req, res) => {
  const m = /^\/u(\d+)\/mcp(?:\?.*)?$/.exec(req.url ?? '');
  const srv = m ? SERVERS[Number(m[1]) - 1] : undefined;
  if (!srv) return void res.writeHead(404).end();
  if (req.method === 'DELETE') return void res.writeHead(200).end();
  // Stateless: no GET stream (405 tells a 2025 client there is none, as the spec allows).
  if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let msg;
    try {
      msg = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
    }
    const out = Array.isArray(msg) ? msg.map((x) => answer(srv, x)).filter(Boolean) : answer(srv, msg);
    if (out === undefined || (Array.isArray(out) && out.length === 0)) return void res.writeHead(202).end();
    const body = JSON.stringify(out);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ listen: `127.0.0.1:${server.address().port}`, count: COUNT, tools: TOOLS })}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
