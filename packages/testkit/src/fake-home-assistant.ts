/**
 * A fake Home Assistant for tests, since HA cannot run here: a real HTTP server on 127.0.0.1 whose
 * MCP side is a real MCP server of the SDK, served as HA's built-in "Model Context Protocol Server"
 * integration (`mcp_server`, HA 2025.2+) serves it (service-apis.md §4a, peer-servers.md §2):
 *
 * - `POST /api/mcp`: Streamable HTTP, stateless: one JSON-RPC message per POST, a plain
 *   `application/json` answer, no `Mcp-Session-Id`. `Accept` must include application/json (400
 *   `Client must accept application/json`), `Content-Type` must be application/json (400
 *   `Content-Type must be application/json`); a notification or response gets 202; an unknown method
 *   (`server/discover` of a 2026-07-28 client included) the JSON-RPC error -32601 `Method not found`.
 *   `GET` is 405 (`405: Method Not Allowed`).
 * - legacy SSE: `GET /mcp_server/sse`, first event `endpoint` with `/mcp_server/messages/<id>`;
 *   `POST /mcp_server/messages/<id>` answers 200 with an empty body and the reply goes down the
 *   stream. Hand-written: the SDK v2 has no SSE server transport; the SDK's server runs over it.
 * - Bearer token on everything: otherwise 401 text `401: Unauthorized`.
 * - `legacySseOnly` (HA before the streamable endpoint): `/api/mcp` is 404 `404: Not Found`;
 *   `mcpNotConfigured`: both MCP endpoints answer 404 `Model Context Protocol server is not configured`.
 * - Tools as HA's Assist API lists them, with HA's names, descriptions and input schemas and no
 *   annotations: `HassTurnOn`, `HassTurnOff`, `HassLightSet` (a light exposed), `HassFanSetSpeed` (a
 *   fan exposed), each exposed script by its object id, `GetLiveContext`, `GetDateTime`. Results in
 *   HA's text shapes (a JSON document in one text block). With `control: false` only the read tools;
 *   with nothing exposed only `GetLiveContext`/`GetDateTime`, and `GetLiveContext` says so. The
 *   prompt `Assist`.
 * - Intents act on `state.entities` (matched by name or entity id, area name or area id, and domain
 *   among the exposed ones, as HA's intent matching does, simply): turning on the Attic Fan sets its
 *   state to `on`.
 * - The REST API (`/api/states`, ...) is answered by `handleHaRest` (fake-home-assistant-rest.ts).
 * - Anything else is recorded in `unknown()` and answered 404 `404: Not Found` (a JSON-RPC method HA
 *   lacks other than the `server/discover` probe: -32601, also recorded): a test asserts the list
 *   stays empty.
 *
 * @example
 * await using ha = await startFakeHomeAssistant();
 * // hub.yaml: upstreams: { ha: { type: home-assistant, url: ha.url, token: ha.token } }
 * ha.state.entities.find((e) => e.entityId === 'fan.attic')?.state // 'on' after HassTurnOn
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fromJsonSchema, McpServer, WebStandardStreamableHTTPServerTransport, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';
import { areaId, fakeHaState, handleHaRest, type FakeHaEntity, type FakeHaState } from './fake-home-assistant-rest.ts';
import { serveLoopback } from './serve.ts';

export type { FakeHaEntity, FakeHaState } from './fake-home-assistant-rest.ts';

export interface FakeHomeAssistantOptions {
  /** The long-lived access token it accepts; default a random one. */
  token?: string;
  /** The entities; default {@link defaultHaEntities}. */
  entities?: FakeHaEntity[];
  /** Entity ids exposed to Assist; default all. */
  exposed?: string[];
  /** The MCP Server integration's "Control Home Assistant" option; default true. Off: only the read tools. */
  control?: boolean;
  /** An older HA: `/api/mcp` is 404 `404: Not Found`, only the legacy SSE endpoint. */
  legacySseOnly?: boolean;
  /**
   * Custom intents (`intent_script`, custom integrations), listed as tools named by their intent
   * type and described by their `description`, as HA's Assist API lists them (with control on and
   * something exposed); calling one runs it: recorded in `state.logbook`, answered `action_done`.
   */
  intents?: Array<{ name: string; description: string }>;
  /** The MCP Server integration is not added: its endpoints answer 404 `Model Context Protocol server is not configured`. */
  mcpNotConfigured?: boolean;
  port?: number;
}

export interface FakeHomeAssistantRequest {
  method: string;
  path: string;
  status: number;
  /** The JSON-RPC method of an MCP POST. */
  rpc?: string;
  /** The tool of a `tools/call`. */
  tool?: string;
}

export interface FakeHomeAssistant extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, as a user gives HA's address. */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  token: string;
  state: FakeHaState;
  requests(): FakeHomeAssistantRequest[];
  unknown(): FakeHomeAssistantRequest[];
  close(): Promise<void>;
}

/** HA's version, as its MCP server reports it. */
const HA_VERSION = '2026.11.3';
const MAX_BODY = 1024 * 1024;

/**
 * The default home: the REST fake's (a kitchen light, the living room, a coffee maker, ...) plus
 * the attic, whose fan the cross-device test turns on, its temperature and a `good_night` script.
 */
export function defaultHaEntities(): FakeHaEntity[] {
  const t = '2026-12-07T20:00:00.000000+00:00';
  return [
    ...fakeHaState().entities,
    { entityId: 'fan.attic', state: 'off', attributes: { friendly_name: 'Attic Fan', percentage: 0, percentage_step: 1 }, area: 'Attic', lastChanged: t },
    { entityId: 'sensor.attic_temperature', state: '31.5', attributes: { friendly_name: 'Attic Temperature', unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement' }, area: 'Attic', lastChanged: t },
    { entityId: 'script.good_night', state: 'off', attributes: { friendly_name: 'Good night', description: 'Turns off every light and the attic fan' }, lastChanged: t },
  ];
}

const domainOf = (e: FakeHaEntity) => e.entityId.split('.')[0]!;
const nameOf = (e: FakeHaEntity) => (typeof e.attributes.friendly_name === 'string' ? e.attributes.friendly_name : e.entityId);
/** Domains HassTurnOn/HassTurnOff act on (HA's intent handlers, simplified). */
const ON_OFF_DOMAINS = new Set(['light', 'fan', 'switch', 'input_boolean', 'script', 'cover', 'lock', 'media_player', 'automation', 'climate', 'humidifier', 'siren', 'valve', 'vacuum']);

// HA's descriptions (helpers/llm.py, intent handlers), as its MCP server lists them.
const DESCRIPTIONS = {
  HassTurnOn: "Turns on/opens/presses a device or entity. For locks, this performs a 'lock' action. Use for requests like 'turn on', 'activate', 'enable', or 'lock'.",
  HassTurnOff: "Turns off/closes a device or entity. For locks, this performs an 'unlock' action. Use for requests like 'turn off', 'deactivate', 'disable', or 'unlock'.",
  HassLightSet: 'Sets the brightness percentage or color of a light',
  HassFanSetSpeed: "Sets a fan's speed by percentage",
  GetLiveContext:
    "Provides real-time information about the CURRENT state, value, or mode of devices, sensors, entities, or areas. Use this tool for: 1. Answering questions about current conditions (e.g., 'Is the light on?'). 2. As the first step in conditional actions (e.g., 'If the weather is rainy, turn off sprinklers' requires checking the weather first).",
  GetDateTime: 'Provides the current date and time.',
};
const NO_ENTITIES = 'Only if the user wants to control a device, tell them to expose entities to their voice assistant in Home Assistant.';
const ASSIST_PROMPT =
  'You are a voice assistant for Home Assistant.\nAnswer questions about the world truthfully.\nAnswer in plain text. Keep it simple and to the point.\nWhen controlling Home Assistant always call the intent tools. Use HassTurnOn to lock and HassTurnOff to unlock a lock. When controlling a device, prefer passing just name and domain. When controlling an area, prefer passing just area name and domain.\nWhen a user asks to turn on all devices of a specific type, ask user to specify an area, unless there is only one device of that type.';

/** The JSON-RPC methods HA's MCP server answers (tools and prompts); anything else is -32601. */
const RPC_METHODS = new Set(['initialize', 'ping', 'tools/list', 'tools/call', 'prompts/list', 'prompts/get']);

/** One text block holding HA's `json.dumps(tool_response)`. */
const haText = (value: unknown, isError = false) => ({ content: [{ type: 'text' as const, text: JSON.stringify(value) }], ...(isError ? { isError: true } : {}) });
const toolError = (message: string) => ({ content: [{ type: 'text' as const, text: `Error calling tool: ${message}` }], isError: true });

/** A YAML scalar as PyYAML's safe_dump writes a string: quoted when it would read as another type. */
function yamlScalar(s: string): string {
  if (s === '' || /^(?:y|n|yes|no|on|off|true|false|null|~)$/i.test(s) || /^[-+.]?\d/.test(s) || /^[\s!&*?|>'"%@`#,[\]{}-]|: |\s#|\s$|\n/.test(s)) return `'${s.replace(/'/g, "''")}'`;
  return s;
}

/** GetLiveContext's YAML overview of `entities`, as HA writes it (int attributes stringified). */
function liveContext(entities: FakeHaEntity[]): string {
  const lines = ['Live Context: An overview of the areas and the devices in this smart home:'];
  for (const e of entities) {
    lines.push(`- names: ${yamlScalar(nameOf(e))}`, `  domain: ${domainOf(e)}`, `  state: ${yamlScalar(e.state)}`);
    if (e.area) lines.push(`  areas: ${yamlScalar(e.area)}`);
    const attrs = Object.entries(e.attributes).filter(([k, v]) => !['friendly_name', 'description', 'fields', 'supported_color_modes', 'percentage_step', 'state_class'].includes(k) && (typeof v === 'string' || typeof v === 'number'));
    if (attrs.length) {
      lines.push('  attributes:');
      for (const [k, v] of attrs) lines.push(`    ${k}: ${yamlScalar(String(v))}`);
    }
  }
  return lines.join('\n') + '\n';
}

const str = { type: 'string' };
/** A JSON Schema as the SDK server takes it (HA's schemas are JSON Schema, not zod). */
const jsonSchema = (schema: object) => fromJsonSchema<Record<string, unknown>>(schema as Parameters<typeof fromJsonSchema>[0]);
/** An intent's slot schema as HA converts it (voluptuous_openapi): all optional. */
function slotSchema(domains: string[], extra: Record<string, unknown> = {}, required: string[] = []) {
  return {
    type: 'object',
    properties: {
      name: str,
      area: str,
      floor: str,
      domain: { type: 'array', items: { type: 'string', enum: domains } },
      device_class: { type: 'array', items: { type: 'string', enum: ['awning', 'blind', 'curtain', 'damper', 'door', 'garage', 'gate', 'shade', 'shutter', 'window', 'water', 'gas', 'outlet', 'switch', 'tv', 'speaker', 'receiver'] } },
      ...extra,
    },
    ...(required.length ? { required } : {}),
  };
}

export async function startFakeHomeAssistant(opts: FakeHomeAssistantOptions = {}): Promise<FakeHomeAssistant> {
  const token = opts.token ?? randomBytes(24).toString('hex');
  const state: FakeHaState = { ...fakeHaState(), entities: opts.entities ?? defaultHaEntities() };
  const control = opts.control ?? true;
  const log: FakeHomeAssistantRequest[] = [];
  const unknown: FakeHomeAssistantRequest[] = [];
  const sessions = new Map<string, SseSession>();

  const exposed = () => state.entities.filter((e) => !opts.exposed || opts.exposed.includes(e.entityId));

  /** The exposed entities an intent's slots name (HA's matching, simply: name, area, domain). */
  function match(args: { name?: string; area?: string; domain?: string[] }, domains: Set<string>): FakeHaEntity[] | string {
    const name = args.name?.trim().toLowerCase();
    const area = args.area?.trim().toLowerCase();
    const found = exposed().filter(
      (e) =>
        domains.has(domainOf(e)) &&
        (!name || nameOf(e).toLowerCase() === name || e.entityId === name) &&
        // HA takes an area by its name (case-folded) or its id (helpers/intent.py find_areas).
        (!area || e.area?.toLowerCase() === area || (!!e.area && areaId(e.area) === args.area)) &&
        (!args.domain?.length || args.domain.includes(domainOf(e))),
    );
    if (found.length) return found;
    if (name) return `No entity named ${args.name}${area ? ` in area ${args.area}` : ''}`;
    if (area) return `No device or entity in area ${args.area}`;
    return 'Service handler cannot target all devices';
  }

  function actionDone(speech: string, done: FakeHaEntity[]) {
    return haText({ speech: { plain: { speech, extra_data: null } }, response_type: 'action_done', data: { targets: [], success: done.map((e) => ({ name: nameOf(e), type: 'entity', id: e.entityId })), failed: [] } });
  }

  function setState(e: FakeHaEntity, next: string): void {
    e.state = next;
    e.lastChanged = new Date().toISOString().replace('Z', '000+00:00');
    state.logbook.push({ when: e.lastChanged, name: nameOf(e), message: `turned ${next}`, entityId: e.entityId, state: next });
  }

  /** The SDK server HA's MCP integration would be, for the current state. */
  function build(): McpServer {
    const server = new McpServer({ name: 'home-assistant', version: HA_VERSION }, { capabilities: { tools: { listChanged: false }, prompts: { listChanged: false } } });
    const visible = exposed();
    const domains = [...new Set(visible.map(domainOf))].sort();
    if (control && visible.length) {
      const onOff = domains.filter((d) => ON_OFF_DOMAINS.has(d));
      for (const [intent, to] of [['HassTurnOn', 'on'], ['HassTurnOff', 'off']] as const) {
        server.registerTool(intent, { description: DESCRIPTIONS[intent], inputSchema: jsonSchema(slotSchema(onOff)) }, async (args) => {
          const found = match(args as never, new Set(onOff));
          if (typeof found === 'string') return toolError(found);
          for (const e of found) {
            if (domainOf(e) === 'script' && to === 'on') e.attributes.last_triggered = new Date().toISOString();
            else setState(e, domainOf(e) === 'lock' ? (to === 'on' ? 'locked' : 'unlocked') : to);
          }
          const ds = [...new Set(found.map(domainOf))];
          return actionDone(`Turned ${to} the ${ds.length === 1 ? (found.length === 1 ? ds[0] : `${ds[0]}s`) : 'devices'}`, found);
        });
      }
      if (domains.includes('light')) {
        server.registerTool(
          'HassLightSet',
          { description: DESCRIPTIONS.HassLightSet, inputSchema: jsonSchema(slotSchema(['light'], { color: str, temperature: { type: 'integer', minimum: 0 }, brightness: { type: 'integer', minimum: 0, maximum: 100, description: 'The brightness percentage of the light between 0 and 100, where 0 is off and 100 is fully lit' } })) },
          async (args) => {
            const found = match(args as never, new Set(['light']));
            if (typeof found === 'string') return toolError(found);
            for (const e of found) {
              if (typeof args.brightness === 'number') {
                e.attributes.brightness = Math.round((args.brightness * 255) / 100);
                setState(e, args.brightness > 0 ? 'on' : 'off');
              }
            }
            return actionDone('Brightness set', found);
          },
        );
      }
      if (domains.includes('fan')) {
        server.registerTool(
          'HassFanSetSpeed',
          { description: DESCRIPTIONS.HassFanSetSpeed, inputSchema: jsonSchema(slotSchema(['fan'], { percentage: { type: 'integer', minimum: 0, maximum: 100, description: 'The speed percentage of the fan' } }, ['percentage'])) },
          async (args) => {
            const found = match(args as never, new Set(['fan']));
            if (typeof found === 'string') return toolError(found);
            for (const e of found) {
              e.attributes.percentage = args.percentage;
              setState(e, Number(args.percentage) > 0 ? 'on' : 'off');
            }
            return actionDone('Fan speed set', found);
          },
        );
      }
      for (const intent of opts.intents ?? []) {
        server.registerTool(intent.name, { description: intent.description, inputSchema: jsonSchema({ type: 'object', properties: {} }) }, async () => {
          state.logbook.push({ when: new Date().toISOString(), name: intent.name, message: 'intent handled' });
          return actionDone('Done', []);
        });
      }
      // Each exposed script is a tool named by its object id, described by its description.
      for (const s of visible.filter((e) => domainOf(e) === 'script')) {
        const id = s.entityId.slice('script.'.length);
        const description = typeof s.attributes.description === 'string' ? s.attributes.description : nameOf(s);
        server.registerTool(id, { description, inputSchema: jsonSchema({ type: 'object', properties: {} }) }, async () => {
          s.attributes.last_triggered = new Date().toISOString();
          state.logbook.push({ when: new Date().toISOString(), name: nameOf(s), message: 'started', entityId: s.entityId });
          return haText({ success: true, result: {} });
        });
      }
    }
    server.registerTool(
      'GetLiveContext',
      { description: DESCRIPTIONS.GetLiveContext, inputSchema: jsonSchema({ type: 'object', properties: { name: str, domain: { anyOf: [str, { type: 'array', items: str }] }, area: str } }) },
      async (args) => {
        if (!visible.length) return haText({ success: false, error: NO_ENTITIES });
        const doms = typeof args.domain === 'string' ? [args.domain] : Array.isArray(args.domain) ? (args.domain as string[]) : undefined;
        const name = typeof args.name === 'string' ? args.name.toLowerCase() : undefined;
        const area = typeof args.area === 'string' ? args.area.toLowerCase() : undefined;
        const picked = exposed().filter((e) => (!doms || doms.includes(domainOf(e))) && (!name || nameOf(e).toLowerCase() === name) && (!area || e.area?.toLowerCase() === area));
        return haText({ success: true, result: liveContext(picked) });
      },
    );
    server.registerTool('GetDateTime', { description: DESCRIPTIONS.GetDateTime, inputSchema: jsonSchema({ type: 'object', properties: {} }) }, async () => {
      const now = new Date();
      return haText({ success: true, result: { date: now.toISOString().slice(0, 10), time: now.toISOString().slice(11, 19), timezone: 'UTC', weekday: now.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' }) } });
    });
    server.registerPrompt('Assist', { description: 'Default prompt for Home Assistant Assist API' }, async () => ({
      messages: [{ role: 'assistant', content: { type: 'text', text: ASSIST_PROMPT } }],
    }));
    return server;
  }

  /** -32601 as HA's server answers a method it does not have. */
  const methodNotFound = (id: unknown) => ({ jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } });

  async function streamable(req: IncomingMessage, res: ServerResponse, body: string, entry: FakeHomeAssistantRequest): Promise<void> {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json')) return reply(res, entry, 400, 'Client must accept application/json');
    if ((req.headers['content-type'] ?? '').split(';')[0]!.trim() !== 'application/json') return reply(res, entry, 400, 'Content-Type must be application/json');
    let message: { id?: unknown; method?: unknown; params?: { name?: unknown } };
    try {
      message = JSON.parse(body) as typeof message;
    } catch {
      return reply(res, entry, 400, 'Request must be a JSON-RPC message');
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return reply(res, entry, 400, 'Request must be a JSON-RPC message');
    if (typeof message.method === 'string') entry.rpc = message.method;
    if (message.method === 'tools/call' && typeof message.params?.name === 'string') entry.tool = message.params.name.slice(0, 200);
    // A notification or a response: accepted, nothing to answer.
    if (message.id === undefined || typeof message.method !== 'string') return reply(res, entry, 202, '');
    if (!RPC_METHODS.has(message.method)) {
      // A negotiating client's probe is expected; any other method HA lacks fails the test.
      if (message.method !== 'server/discover') unknown.push(entry);
      return reply(res, entry, 200, JSON.stringify(methodNotFound(message.id)), 'application/json');
    }
    // One server per request, stateless, plain JSON answers: as HA's http.py runs it.
    const server = build();
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
    const version = req.headers['mcp-protocol-version'];
    if (typeof version === 'string') headers.set('mcp-protocol-version', version);
    const answer = await transport.handleRequest(new Request(`http://${req.headers.host}/api/mcp`, { method: 'POST', headers, body }), { parsedBody: message });
    const text = await answer.text();
    await server.close().catch(() => undefined);
    return reply(res, entry, answer.status === 200 ? 200 : answer.status, text, 'application/json');
  }

  function openSse(res: ServerResponse, entry: FakeHomeAssistantRequest): void {
    const session = new SseSession(res);
    sessions.set(session.id, session);
    entry.status = 200;
    log.push(entry);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`event: endpoint\ndata: /mcp_server/messages/${session.id}\n\n`);
    res.on('close', () => {
      sessions.delete(session.id);
      void session.close();
    });
    const server = build();
    void server.connect(session);
  }

  function sseMessage(res: ServerResponse, id: string, body: string, entry: FakeHomeAssistantRequest): void {
    const session = sessions.get(id);
    if (!session) return reply(res, entry, 404, 'Could not find session ID');
    let message: JSONRPCMessage & { id?: unknown; method?: unknown; params?: { name?: unknown } };
    try {
      message = JSON.parse(body) as typeof message;
    } catch {
      return reply(res, entry, 400, 'Could not parse message');
    }
    if (typeof message.method === 'string') entry.rpc = message.method;
    if (message.method === 'tools/call' && typeof message.params?.name === 'string') entry.tool = message.params.name.slice(0, 200);
    reply(res, entry, 200, '');
    if (message.id !== undefined && typeof message.method === 'string' && !RPC_METHODS.has(message.method)) {
      unknown.push(entry);
      void session.send(methodNotFound(message.id) as JSONRPCMessage);
      return;
    }
    session.onmessage?.(message);
  }

  function reply(res: ServerResponse, entry: FakeHomeAssistantRequest, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
    entry.status = status;
    log.push(entry);
    res.writeHead(status, status === 202 && !body ? {} : { 'content-type': type });
    res.end(body);
  }

  const http = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = req.method ?? 'GET';
      const entry: FakeHomeAssistantRequest = { method, path: url.pathname, status: 0 };
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_BODY) return reply(res, entry, 413, '413: Request Entity Too Large');
        chunks.push(c as Buffer);
      }
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.headers.authorization !== `Bearer ${token}`) return reply(res, entry, 401, '401: Unauthorized');
      if (url.pathname === '/api/mcp') {
        if (opts.legacySseOnly) return reply(res, entry, 404, '404: Not Found');
        if (opts.mcpNotConfigured) return reply(res, entry, 404, 'Model Context Protocol server is not configured');
        if (method !== 'POST') return reply(res, entry, 405, '405: Method Not Allowed');
        return streamable(req, res, body, entry);
      }
      if (url.pathname === '/mcp_server/sse' || url.pathname.startsWith('/mcp_server/messages/')) {
        if (opts.mcpNotConfigured) return reply(res, entry, 404, 'Model Context Protocol server is not configured');
        if (url.pathname === '/mcp_server/sse' && method === 'GET') return openSse(res, entry);
        if (url.pathname !== '/mcp_server/sse' && method === 'POST') return sseMessage(res, url.pathname.slice('/mcp_server/messages/'.length), body, entry);
        return reply(res, entry, 405, '405: Method Not Allowed');
      }
      const rest = handleHaRest(method, url, body, state, req.headers);
      if (rest) {
        entry.status = rest.status;
        log.push(entry);
        res.writeHead(rest.status, { 'content-type': 'application/json', ...rest.headers });
        res.end(rest.body);
        return;
      }
      unknown.push(entry);
      reply(res, entry, 404, '404: Not Found');
    })().catch((err: unknown) => {
      process.stderr.write(`fake home assistant: ${String((err as Error)?.stack ?? err)}\n`);
      if (!res.headersSent) res.writeHead(500);
      res.end('500 Internal Server Error');
    });
  });
  const { port, stop } = await serveLoopback(http, opts.port);
  const close = async () => {
    for (const s of sessions.values()) await s.close();
    sessions.clear();
    await stop();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    token,
    state,
    requests: () => [...log],
    unknown: () => [...unknown],
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** One legacy SSE session: the SDK server's transport, writing its messages down the event stream. */
class SseSession implements Transport {
  readonly id = randomUUID().replace(/-/g, '');
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private closed = false;
  constructor(private readonly res: ServerResponse) {}
  async start(): Promise<void> {}
  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return;
    this.res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.res.end();
    this.onclose?.();
  }
}
