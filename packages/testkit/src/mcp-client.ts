/**
 * The SDK v2 client, connected to an MCP endpoint in the given protocol era, with a
 * bearer token. Tests use it to prove that our servers interoperate with the SDK.
 *
 * @example
 * const client = await connectClient(edge.url, edge.token, 'modern');
 * const { tools } = await client.listTools();
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

export type Era = 'legacy' | 'modern';

/** What the person answers to an elicitation. */
export interface ElicitAnswer {
  action: 'accept' | 'decline' | 'cancel';
  content?: Record<string, string | number | boolean>;
}

export interface ClientOptions {
  /** Answers elicitation requests (the person's side); declares the elicitation capability. */
  onElicit?: (message: string) => ElicitAnswer | Promise<ElicitAnswer>;
  /**
   * Declares the elicitation capability without `onElicit`: the client then answers the
   * server's `elicitation/create` with "Method not found", as a client that claims more than it does.
   */
  declareElicitation?: boolean;
  /**
   * `false`: the client never opens the standalone GET stream (its own fetch answers that GET
   * with 405, as a proxy that passes only POST would), so it hears the server only on the
   * streams of its own requests. Default true.
   */
  getStream?: boolean;
  /** The fetch the transport uses (one that trusts a test CA, say); default the global one. */
  fetch?: typeof fetch;
}

export async function connectClient(url: string, token: string | undefined, era: Era, opts: ClientOptions = {}): Promise<Client & AsyncDisposable> {
  const client = new Client(
    { name: 'homelab-test', version: '1.0.0' },
    {
      versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' },
      ...(opts.onElicit || opts.declareElicitation ? { capabilities: { elicitation: { form: {} } } } : {}),
    },
  );
  if (opts.onElicit) {
    const answer = opts.onElicit;
    client.setRequestHandler('elicitation/create', async (req) => ({ ...(await answer((req.params as { message: string }).message)) }));
  }
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
    ...(opts.getStream === false || opts.fetch
      ? { fetch: (input: string | URL | Request, init?: RequestInit) => (opts.getStream === false && init?.method === 'GET' ? Promise.resolve(new Response(null, { status: 405 })) : (opts.fetch ?? fetch)(input, init)) }
      : {}),
  });
  await client.connect(transport);
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

/** The text of a tool result's first content block. */
export function resultText(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.find((c) => c.type === 'text')?.text ?? '';
}
