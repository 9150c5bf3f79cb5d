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

export interface ClientOptions {
  /** Answers elicitation requests (the person's side); declares the elicitation capability. */
  onElicit?: (message: string) => { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, string | number | boolean> };
}

export async function connectClient(url: string, token: string | undefined, era: Era, opts: ClientOptions = {}): Promise<Client & AsyncDisposable> {
  const client = new Client(
    { name: 'homelab-test', version: '1.0.0' },
    {
      versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' },
      ...(opts.onElicit ? { capabilities: { elicitation: { form: {} } } } : {}),
    },
  );
  if (opts.onElicit) {
    const answer = opts.onElicit;
    client.setRequestHandler('elicitation/create', (req) => answer((req.params as { message: string }).message));
  }
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
  });
  await client.connect(transport);
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

/** The text of a tool result's first content block. */
export function resultText(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.find((c) => c.type === 'text')?.text ?? '';
}
