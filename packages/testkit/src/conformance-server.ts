/**
 * A reference MCP server for the official conformance suite's server scenarios, written here
 * from the scenarios' own requirements (the suite's `requirements/` lists and each scenario's
 * description): every tool, resource, template and prompt they call, by the names they call,
 * in both protocol eras.
 *
 * - 2026-07-28: the SDK's stateless handler (`createMcpHandler`, `legacy: 'reject'`), with
 *   `input_required` results whose `requestState` is HMAC-sealed so a tampered one is refused.
 * - 2025-11-25 and earlier: one `McpServer` per session over the sessionful Streamable HTTP
 *   transport, so sampling and elicitation requests travel on the call's stream, and
 *   `logging/setLevel`, `resources/subscribe` and progress work.
 *
 * The suite runs against it directly, and the same server sits behind the hub as an upstream
 * (`prefix: false`) so the two runs can be compared: what passes here and fails through the hub
 * is something the hub takes away.
 *
 * @example
 * await using ref = await startConformanceServer();
 * // conformance server --url ${ref.url} --requirements 2026-07-28
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  completable,
  createMcpHandler,
  createRequestStateCodec,
  fromJsonSchema,
  hostHeaderValidationResponse,
  inputRequired,
  inputResponse,
  isInitializeRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  McpServer,
  originValidationResponse,
  ResourceTemplate,
  WebStandardStreamableHTTPServerTransport,
  type McpRequestContext,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

/** A running reference server; stopped by its own handle (`await using`). */
export interface ConformanceServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT/mcp` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

// A 1x1 PNG and a WAV header with no samples: the smallest valid payloads of each kind.
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([36, 0, 0, 0]),
  Buffer.from('WAVEfmt '),
  Buffer.from([16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]),
  Buffer.from('data'),
  Buffer.from([0, 0, 0, 0]),
]).toString('base64');

const WATCHED = 'test://watched-resource';

const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      $anchor: 'address',
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    kind: { type: 'string', enum: ['person', 'company'] },
    email: { type: 'string' },
    phone: { type: 'string' },
  },
  // At least one way to reach them.
  allOf: [{ anyOf: [{ required: ['email'] }, { required: ['phone'] }] }],
  if: { properties: { kind: { const: 'company' } } },
  then: { required: ['address'] },
  else: { required: ['name'] },
  additionalProperties: false,
} as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

/** What a tool may trigger outside its own request: list_changed to 2026 listeners and 2025 sessions. */
interface Hooks {
  toolsChanged(): void;
  promptsChanged(): void;
}

const CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';

function build(ctx: McpRequestContext, codec: ReturnType<typeof createRequestStateCodec<Record<string, unknown>>>, hooks: Hooks): McpServer {
  const server = new McpServer(
    { name: 'homelab-mcp-conformance-reference', version: '1.0.0' },
    {
      capabilities: { logging: {}, completions: {}, resources: { subscribe: true, listChanged: true }, tools: { listChanged: true }, prompts: { listChanged: true } },
      requestState: { verify: codec.verify },
      // Lists and reads of static data may be cached for a minute by the one client that asked.
      cacheHints: { 'tools/list': { ttlMs: 60_000, cacheScope: 'private' }, 'prompts/list': { ttlMs: 60_000 }, 'resources/list': { ttlMs: 60_000 }, 'resources/templates/list': { ttlMs: 60_000 } },
    },
  );
  const none = z.object({});

  server.registerTool('test_simple_text', { description: 'Returns one text block', inputSchema: none }, async () => text('This is a simple text response for testing.'));
  server.registerTool('test_image_content', { description: 'Returns an image', inputSchema: none }, async () => ({
    content: [{ type: 'image', data: PNG, mimeType: 'image/png' }],
  }));
  server.registerTool('test_audio_content', { description: 'Returns audio', inputSchema: none }, async () => ({
    content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }],
  }));
  server.registerTool('test_embedded_resource', { description: 'Returns an embedded resource', inputSchema: none }, async () => ({
    content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }],
  }));
  server.registerTool('test_multiple_content_types', { description: 'Returns text, an image and a resource', inputSchema: none }, async () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } },
    ],
  }));
  server.registerTool('test_tool_with_logging', { description: 'Logs three messages while it runs', inputSchema: none }, async (_a, c: ServerContext) => {
    await c.mcpReq.log('info', 'Tool execution started');
    await sleep(50);
    await c.mcpReq.log('info', 'Tool processing data');
    await sleep(50);
    await c.mcpReq.log('info', 'Tool execution completed');
    return text('Tool with logging executed successfully');
  });
  server.registerTool('test_error_handling', { description: 'Always fails', inputSchema: none }, async () => ({
    isError: true,
    content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
  }));
  server.registerTool('test_tool_with_progress', { description: 'Reports progress 0, 50, 100 of 100', inputSchema: none }, async (_a, c: ServerContext) => {
    const progressToken = c.mcpReq._meta?.progressToken;
    for (const progress of [0, 50, 100]) {
      if (progressToken !== undefined) await c.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress, total: 100, message: `${progress}%` } });
      if (progress < 100) await sleep(50);
    }
    return text('Tool with progress executed successfully');
  });
  // Written once for both eras, as multi-round-trip handlers: a 2026-07-28 client gets the
  // input_required result and retries; on a 2025 session the SDK's shim sends the request to
  // the client on the call's stream and re-enters the handler with the answer. Behind the hub
  // (which reaches this server on 2026-07-28) a 2025 client therefore needs the hub to turn
  // the input_required result into a request on its session.
  server.registerTool('test_sampling', { description: 'Asks the client for an LLM completion', inputSchema: z.object({ prompt: z.string() }) }, async ({ prompt }, c: ServerContext) => {
    const v = inputResponse(c.mcpReq.inputResponses, 'completion');
    if (v.kind !== 'sampling') return inputRequired({ inputRequests: { completion: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 }) } });
    const content = Array.isArray(v.result.content) ? v.result.content[0] : v.result.content;
    return text(`LLM response: ${content && content.type === 'text' ? content.text : JSON.stringify(content)}`);
  });
  // Asks the user (input `key`), then answers with what they said.
  const elicited = (c: ServerContext, key: string, params: Parameters<typeof inputRequired.elicit>[0], answer: (action: string, content: unknown) => string) => {
    const v = inputResponse(c.mcpReq.inputResponses, key);
    if (v.kind !== 'elicit') return inputRequired({ inputRequests: { [key]: inputRequired.elicit(params) } });
    return text(answer(v.action, v.content ?? {}));
  };
  server.registerTool(
    'test_elicitation',
    { description: 'Asks the user for a name and an email', inputSchema: z.object({ message: z.string() }) },
    async ({ message }, c: ServerContext) =>
      elicited(
        c,
        'user',
        {
          message,
          requestedSchema: {
            type: 'object',
            properties: { username: { type: 'string', description: "User's response" }, email: { type: 'string', description: "User's email address" } },
            required: ['username', 'email'],
          },
        },
        (action, content) => `User response: action=${action}, content=${JSON.stringify(content)}`,
      ),
  );
  const completed = (action: string, content: unknown) => `Elicitation completed: action=${action}, content=${JSON.stringify(content)}`;
  server.registerTool(
    'test_elicitation_sep1034_defaults',
    { description: 'Elicitation with defaults for every primitive type', inputSchema: none },
    async (_a, c: ServerContext) =>
      elicited(
        c,
        'details',
        {
          message: 'Please review your details',
          requestedSchema: {
            type: 'object',
            properties: {
              name: { type: 'string', default: 'John Doe' },
              age: { type: 'integer', default: 30 },
              score: { type: 'number', default: 95.5 },
              status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
              verified: { type: 'boolean', default: true },
            },
          },
        },
        completed,
      ),
  );
  server.registerTool(
    'test_elicitation_sep1330_enums',
    { description: 'Elicitation with the five enum shapes', inputSchema: none },
    async (_a, c: ServerContext) =>
      elicited(
        c,
        'choices',
        {
          message: 'Pick options',
          requestedSchema: {
            type: 'object',
            properties: {
              untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
              titledSingle: {
                type: 'string',
                oneOf: [
                  { const: 'value1', title: 'First Option' },
                  { const: 'value2', title: 'Second Option' },
                  { const: 'value3', title: 'Third Option' },
                ],
              },
              legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
              untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
              titledMulti: {
                type: 'array',
                items: {
                  anyOf: [
                    { const: 'value1', title: 'First Choice' },
                    { const: 'value2', title: 'Second Choice' },
                    { const: 'value3', title: 'Third Choice' },
                  ],
                },
              },
            },
          },
        } as Parameters<typeof inputRequired.elicit>[0],
        completed,
      ),
  );
  server.registerTool('json_schema_2020_12_tool', { description: 'Tool with JSON Schema 2020-12 features', inputSchema: fromJsonSchema(JSON_SCHEMA_2020_12 as never) }, async () => text('ok'));

  // 2026-07-28: multi-round-trip tools. (On a 2025 session the SDK's shim asks the client itself.)
  const nameRequest = inputRequired.elicit({ message: 'What is your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } });
  const acceptedName = (v: ReturnType<typeof inputResponse>) => (v.kind === 'elicit' && v.action === 'accept' && typeof v.content?.name === 'string' ? v.content.name : undefined);
  server.registerTool('test_input_required_result_elicitation', { description: 'Asks for a name, then greets', inputSchema: none }, async (_a, c: ServerContext) => {
    const responses = c.mcpReq.inputResponses;
    const name = acceptedName(inputResponse(responses, 'user_name'));
    if (name === undefined) return inputRequired({ inputRequests: { user_name: nameRequest } });
    return text(`Hello, ${name}!`);
  });
  server.registerTool('test_input_required_result_sampling', { description: 'Asks the client for a completion', inputSchema: none }, async (_a, c: ServerContext) => {
    const v = inputResponse(c.mcpReq.inputResponses, 'capital_question');
    if (v.kind !== 'sampling') {
      return inputRequired({
        inputRequests: { capital_question: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }], maxTokens: 100 }) },
      });
    }
    const content = Array.isArray(v.result.content) ? v.result.content[0] : v.result.content;
    return text(`Sampling response: ${content && content.type === 'text' ? content.text : JSON.stringify(content)}`);
  });
  server.registerTool('test_input_required_result_list_roots', { description: "Asks for the client's roots", inputSchema: none }, async (_a, c: ServerContext) => {
    const v = inputResponse(c.mcpReq.inputResponses, 'client_roots');
    if (v.kind !== 'roots') return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    return text(`Roots: ${v.roots.map((r) => r.uri).join(', ') || '(none)'}`);
  });
  server.registerTool('test_input_required_result_request_state', { description: 'Asks for confirmation, with state', inputSchema: none }, async (_a, c: ServerContext) => {
    const state = c.mcpReq.requestState<Record<string, unknown>>();
    const v = inputResponse(c.mcpReq.inputResponses, 'confirm');
    if (v.kind !== 'elicit' || state?.tool !== 'request_state') {
      return inputRequired({
        inputRequests: { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }) },
        requestState: await codec.mint({ tool: 'request_state' }),
      });
    }
    return text(`state-ok: confirmed=${JSON.stringify(v.content?.ok ?? null)}`);
  });
  server.registerTool('test_input_required_result_multiple_inputs', { description: 'Asks for a name, a completion and the roots at once', inputSchema: none }, async (_a, c: ServerContext) => {
    const r = c.mcpReq.inputResponses;
    const name = acceptedName(inputResponse(r, 'user_name'));
    const greeting = inputResponse(r, 'greeting');
    const roots = inputResponse(r, 'client_roots');
    if (name === undefined || greeting.kind !== 'sampling' || roots.kind !== 'roots' || c.mcpReq.requestState<Record<string, unknown>>()?.tool !== 'multiple') {
      return inputRequired({
        inputRequests: {
          user_name: nameRequest,
          greeting: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 }),
          client_roots: inputRequired.listRoots(),
        },
        requestState: await codec.mint({ tool: 'multiple' }),
      });
    }
    return text(`All inputs received: name=${name}, roots=${roots.roots.length}`);
  });
  server.registerTool('test_input_required_result_multi_round', { description: 'Asks two questions, one per round', inputSchema: none }, async (_a, c: ServerContext) => {
    const state = c.mcpReq.requestState<Record<string, unknown>>();
    const r = c.mcpReq.inputResponses;
    if (state?.round === 1) {
      const name = acceptedName(inputResponse(r, 'step1'));
      if (name !== undefined) {
        return inputRequired({
          inputRequests: {
            step2: inputRequired.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] } }),
          },
          requestState: await codec.mint({ round: 2, name }),
        });
      }
    }
    if (state?.round === 2) {
      const v = inputResponse(r, 'step2');
      if (v.kind === 'elicit' && v.action === 'accept') return text(`Done: ${String(state.name)} likes ${String(v.content?.color)}`);
    }
    return inputRequired({
      inputRequests: { step1: inputRequired.elicit({ message: 'Step 1: What is your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } }) },
      requestState: await codec.mint({ round: 1 }),
    });
  });
  server.registerTool('test_input_required_result_tampered_state', { description: 'Asks for confirmation with sealed state', inputSchema: none }, async (_a, c: ServerContext) => {
    const state = c.mcpReq.requestState<Record<string, unknown>>();
    if (state?.tool === 'tampered' && inputResponse(c.mcpReq.inputResponses, 'confirm').kind === 'elicit') return text('state verified');
    return inputRequired({
      inputRequests: { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }) },
      requestState: await codec.mint({ tool: 'tampered' }),
    });
  });
  server.registerTool('test_input_required_result_capabilities', { description: 'Asks only for what the client can answer', inputSchema: none }, async (_a, c: ServerContext) => {
    const caps = (c.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES] as Record<string, unknown> | undefined;
    const r = c.mcpReq.inputResponses;
    if (r && Object.keys(r).length > 0) return text('Thanks for the input');
    const inputRequests: Record<string, ReturnType<typeof inputRequired.listRoots>> = {};
    if (!caps || caps.elicitation) inputRequests.user_name = nameRequest;
    if (!caps || caps.sampling) inputRequests.greeting = inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 });
    if (!caps || caps.roots) inputRequests.client_roots = inputRequired.listRoots();
    if (Object.keys(inputRequests).length === 0) return text('The client can answer no input request');
    return inputRequired({ inputRequests });
  });
  // server-stateless (2026-07-28) diagnostics. A tool that needs sampling: the SDK answers
  // -32021 for the client that did not declare it.
  server.registerTool('test_missing_capability', { description: 'Needs the sampling capability', inputSchema: none }, async (_a, c: ServerContext) => {
    if (inputResponse(c.mcpReq.inputResponses, 'sample').kind === 'sampling') return text('sampled');
    return inputRequired({ inputRequests: { sample: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }], maxTokens: 10 }) } });
  });
  server.registerTool('test_streaming_elicitation', { description: 'Logs on its stream, then asks for a name', inputSchema: none }, async (_a, c: ServerContext) => {
    await c.mcpReq.log('info', 'about to ask for a name');
    const name = acceptedName(inputResponse(c.mcpReq.inputResponses, 'user_name'));
    if (name === undefined) return inputRequired({ inputRequests: { user_name: nameRequest } });
    return text(`Hello, ${name}!`);
  });
  server.registerTool('test_logging_tool', { description: 'Logs one message at each of info and debug', inputSchema: none }, async (_a, c: ServerContext) => {
    await c.mcpReq.log('info', 'logging tool ran');
    await c.mcpReq.log('debug', 'logging tool details');
    return text('logged');
  });
  server.registerTool('test_trigger_tool_change', { description: 'Announces that the tool list changed', inputSchema: none }, async () => {
    hooks.toolsChanged();
    if (ctx.era === 'legacy') await server.sendToolListChanged();
    return text('tools changed');
  });
  server.registerTool('test_trigger_prompt_change', { description: 'Announces that the prompt list changed', inputSchema: none }, async () => {
    hooks.promptsChanged();
    if (ctx.era === 'legacy') await server.sendPromptListChanged();
    return text('prompts changed');
  });
  // SEP-2243: a parameter mirrored in an `Mcp-Param-Region` header, which the SDK checks against the body.
  server.registerTool(
    'test_custom_headers',
    {
      description: 'Echoes a region that also travels in a header',
      inputSchema: fromJsonSchema({ type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } }, required: ['region'] } as never),
    },
    async (args) => text(`region=${String((args as { region?: unknown }).region)}`),
  );

  server.registerResource('static-text', 'test://static-text', { description: 'A static text resource', mimeType: 'text/plain' }, async () => ({
    contents: [{ uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' }],
  }));
  server.registerResource('static-binary', 'test://static-binary', { description: 'A static PNG', mimeType: 'image/png' }, async () => ({
    contents: [{ uri: 'test://static-binary', mimeType: 'image/png', blob: PNG }],
  }));
  server.registerResource('watched-resource', WATCHED, { description: 'A resource clients may subscribe to', mimeType: 'text/plain' }, async () => ({
    contents: [{ uri: WATCHED, mimeType: 'text/plain', text: 'watched' }],
  }));
  server.registerResource(
    'template',
    new ResourceTemplate('test://template/{id}/data', { list: undefined, complete: { id: (v) => ['123', '456'].filter((x) => x.startsWith(v)) } }),
    { description: 'Data for one id', mimeType: 'application/json' },
    async (uri, { id }) => ({
      contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${String(id)}` }) }],
    }),
  );

  server.registerPrompt('test_simple_prompt', { description: 'A prompt without arguments' }, async () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }));
  server.registerPrompt(
    'test_prompt_with_arguments',
    {
      description: 'A prompt with two arguments',
      argsSchema: z.object({
        arg1: completable(z.string().describe('First test argument'), (v) => ['paris', 'park', 'party', 'test', 'testing'].filter((x) => x.startsWith(v))),
        arg2: z.string().describe('Second test argument'),
      }),
    },
    async ({ arg1, arg2 }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }] }),
  );
  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    { description: 'A prompt that embeds a resource', argsSchema: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }) },
    async ({ resourceUri }) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  );
  server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, async () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }));
  server.registerPrompt('test_input_required_result_prompt', { description: 'A prompt that first asks for context' }, async (c: ServerContext) => {
    const v = inputResponse(c.mcpReq.inputResponses, 'user_context');
    if (v.kind !== 'elicit' || v.action !== 'accept') {
      return inputRequired({
        inputRequests: {
          user_context: inputRequired.elicit({ message: 'What context should the prompt use?', requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] } }),
        },
      });
    }
    return { messages: [{ role: 'user', content: { type: 'text', text: `Context: ${String(v.content?.context)}` } }] };
  });

  // resources/subscribe (2025 sessions; one server per session, so per session): the watched
  // resource announces one update right after a subscription, so a client sees it work, and
  // none once unsubscribed.
  const subscriptions = new Set<string>();
  server.server.setRequestHandler('resources/subscribe', async (req) => {
    subscriptions.add(req.params.uri);
    if (req.params.uri === WATCHED) {
      setTimeout(() => {
        if (subscriptions.has(WATCHED)) void server.server.sendResourceUpdated({ uri: WATCHED }).catch(() => undefined);
      }, 10);
    }
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', async (req) => {
    subscriptions.delete(req.params.uri);
    return {};
  });
  return server;
}

async function toRequest(req: IncomingMessage, res: ServerResponse): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  // The client going away aborts the request, as a real server adapter does.
  const ac = new AbortController();
  res.on('close', () => !res.writableFinished && ac.abort());
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'DELETE';
  return new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, { method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined, signal: ac.signal });
}

async function send(res: ServerResponse, r: Response): Promise<void> {
  res.writeHead(r.status, Object.fromEntries(r.headers));
  res.flushHeaders();
  if (r.body) {
    const reader = r.body.getReader();
    res.on('close', () => void reader.cancel().catch(() => undefined));
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) break;
      res.write(value);
    }
  }
  res.end();
}

function jsonRpcError(status: number, code: number, message: string): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }), { status, headers: { 'content-type': 'application/json' } });
}

/**
 * Starts the reference server on 127.0.0.1 (port 0 unless given), without authentication, as a
 * local MCP server is; Host and Origin must be loopback names (DNS-rebinding protection).
 *
 * @example
 * await using ref = await startConformanceServer();
 */
export async function startConformanceServer(opts: { port?: number } = {}): Promise<ConformanceServer> {
  const codec = createRequestStateCodec<Record<string, unknown>>({ key: randomBytes(32) });
  const hooks: Hooks = { toolsChanged: () => modern.notify.toolsChanged(), promptsChanged: () => modern.notify.promptsChanged() };
  const modern = createMcpHandler((ctx) => build(ctx, codec, hooks), { legacy: 'reject' });
  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; server: McpServer }>();
  const hosts = localhostAllowedHostnames();
  const origins = localhostAllowedOrigins();

  async function handle(req: Request): Promise<Response> {
    const refused = hostHeaderValidationResponse(req, hosts) ?? originValidationResponse(req, origins);
    if (refused) return refused;
    if (new URL(req.url).pathname !== '/mcp') return new Response('not found', { status: 404 });
    const sid = req.headers.get('mcp-session-id');
    if (sid) {
      const s = sessions.get(sid);
      if (!s) return jsonRpcError(404, -32001, 'Session not found');
      return s.transport.handleRequest(req);
    }
    // A 2025 client opens a session with `initialize`; everything else without a session is
    // the stateless 2026-07-28 handler's, which answers a 2025 request it cannot serve with
    // the unsupported-version error listing 2026-07-28.
    const body: unknown = req.method === 'POST' ? await req.clone().json().catch(() => undefined) : undefined;
    if (isInitializeRequest(body)) {
      const server = build({ era: 'legacy', requestInfo: req }, codec, hooks);
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, { transport, server }),
        onsessionclosed: (id) => void sessions.delete(id),
      });
      await server.connect(transport);
      return transport.handleRequest(req, { parsedBody: body });
    }
    return modern.fetch(req);
  }

  const http = createServer((req, res) => {
    void toRequest(req, res)
      .then(handle)
      .then((r) => send(res, r))
      .catch((err: unknown) => {
        process.stderr.write(`conformance reference server: ${String((err as Error)?.stack ?? err)}\n`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  await new Promise<void>((resolve) => http.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const stop = async () => {
    for (const s of sessions.values()) await s.server.close().catch(() => undefined);
    sessions.clear();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  };
  return { url: `http://127.0.0.1:${port}/mcp`, port, stop, [Symbol.asyncDispose]: stop };
}
