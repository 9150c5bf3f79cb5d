/**
 * What an upstream asks the client mid-call (sampling, elicitation, roots) reaches the client
 * whose call caused it, through the real bundled hub, with real SDK v2 upstreams of both eras
 * (a 2025 server with sessions, a stateless 2026-07-28 one, a stdio child) and real SDK v2
 * clients of both eras.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { readJournal, resultText, startHubProcess, type HubProcess } from '@homelab-mcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKEN = 'fwd-admin-token-0123456789abcdef';
/** A user whose writes a person approves (`human` mode). */
const HUMAN_TOKEN = 'fwd-human-token-0123456789abcdef';
const FIXTURE = fileURLToPath(new URL('./fixtures/asking-server.mjs', import.meta.url));

async function startAsking(mode: 'session' | 'modern'): Promise<{ port: number; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [FIXTURE], { env: { ...process.env, MODE: mode }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (b: Buffer) => resolve(JSON.parse(b.toString()).port));
    child.once('exit', () => reject(new Error('asking server exited')));
  });
  return { port, child, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM')))) };
}

type Era = 'legacy' | 'modern';
interface Asked {
  method: string;
  text: string;
}

/**
 * A real client of `era` that declares (and answers) the given capabilities; each answer names
 * `who`, and every request it got is kept in `asked`. `gate` (optional) holds each answer until it resolves.
 */
async function clientOf(hub: HubProcess, era: Era, who: string, caps: Array<'sampling' | 'elicitation' | 'roots'>, gate?: () => Promise<void>, token = TOKEN) {
  const asked: Asked[] = [];
  const client = new Client(
    { name: `client-${who}`, version: '1.0.0' },
    {
      versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' },
      capabilities: {
        ...(caps.includes('sampling') ? { sampling: {} } : {}),
        ...(caps.includes('elicitation') ? { elicitation: { form: {} } } : {}),
        ...(caps.includes('roots') ? { roots: {} } : {}),
      },
    },
  );
  if (caps.includes('sampling')) {
    client.setRequestHandler('sampling/createMessage', async (req) => {
      asked.push({ method: 'sampling/createMessage', text: (req.params.messages[0]!.content as { text: string }).text });
      await gate?.();
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: `answer of ${who}` } };
    });
  }
  if (caps.includes('elicitation')) {
    client.setRequestHandler('elicitation/create', async (req) => {
      const message = (req.params as { message: string }).message;
      asked.push({ method: 'elicitation/create', text: message });
      await gate?.();
      // The hub's own write approval is a yes/no question.
      if ('approve' in ((req.params as { requestedSchema?: { properties?: object } }).requestedSchema?.properties ?? {})) return { action: 'accept' as const, content: { approve: true } as Record<string, boolean | string> };
      return { action: 'accept' as const, content: { colour: `colour of ${who}` } as Record<string, boolean | string> };
    });
  }
  if (caps.includes('roots')) {
    client.setRequestHandler('roots/list', async () => {
      asked.push({ method: 'roots/list', text: '' });
      return { roots: [{ uri: `file:///home/${who}` }] };
    });
  }
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return Object.assign(client, { asked, [Symbol.asyncDispose]: () => client.close() });
}

/** Resolves every waiter once `n` have arrived: two calls overlap for sure. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return () => {
    if (++arrived >= n) open();
    return opened;
  };
}

let s25: Awaited<ReturnType<typeof startAsking>>;
let s26: Awaited<ReturnType<typeof startAsking>>;
let hub: HubProcess;

beforeAll(async () => {
  [s25, s26] = await Promise.all([startAsking('session'), startAsking('modern')]);
  const read = { '*': 'read' };
  hub = await startHubProcess({
    config: {
      auth: {
        tokens: [
          { user: 'alice', role: 'admin', token: TOKEN },
          { user: 'hana', role: 'operator', token: HUMAN_TOKEN },
        ],
        rateLimit: { perMinute: 6000, burst: 1000 },
      },
      approval: { users: { hana: 'human' } },
      local: { enabled: false },
      upstreams: {
        // The same 2026-07-28 server, its tools writes: the gate asks first.
        ask26w: { url: `http://127.0.0.1:${s26.port}/mcp`, classes: { '*': 'write' } },
        ask25w: { url: `http://127.0.0.1:${s25.port}/mcp`, classes: { '*': 'write' } },
        ask25: { url: `http://127.0.0.1:${s25.port}/mcp`, classes: read },
        ask26: { url: `http://127.0.0.1:${s26.port}/mcp`, classes: read },
        askio: { command: process.execPath, args: [FIXTURE], env: { MODE: 'stdio' }, classes: read },
      },
    },
  });
});

afterAll(async () => {
  await hub?.stop();
  await Promise.all([s25?.stop(), s26?.stop()]);
});

describe('a 2025 client', () => {
  // ask25: the 2025 server sends real requests on the call's stream; ask26: the 2026-07-28
  // server answers input_required, which the hub fulfils through the client; askio: stdio.
  it.each(['ask25', 'ask26', 'askio'])('answers %s sampling, elicitation and roots for its own call', async (up) => {
    await using client = await clientOf(hub, 'legacy', 'A', ['sampling', 'elicitation', 'roots']);
    expect(resultText(await client.callTool({ name: `${up}__ask_sample`, arguments: { tag: 'A' } }))).toBe('sampled: answer of A');
    expect(resultText(await client.callTool({ name: `${up}__ask_elicit`, arguments: { tag: 'A' } }))).toBe('elicited: accept {"colour":"colour of A"}');
    expect(resultText(await client.callTool({ name: `${up}__ask_roots`, arguments: { tag: 'A' } }))).toBe('roots: file:///home/A');
    // The person reads who asks: an upstream's question never passes for the hub's own.
    expect(client.asked).toEqual([
      { method: 'sampling/createMessage', text: 'question from A' },
      { method: 'elicitation/create', text: `[${up}] pick a colour for A` },
      { method: 'roots/list', text: '' },
    ]);
  });

  it.each(['ask25', 'askio'])('without the capability, %s gets an error and the call says why', async (up) => {
    await using client = await clientOf(hub, 'legacy', 'N', ['elicitation']);
    const r = await client.callTool({ name: `${up}__ask_sample`, arguments: { tag: 'N' } });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toContain('sampling/createMessage is not available: the client of this call did not declare the capability');
    expect(client.asked).toEqual([]);
  });

  it('without the capability, a 2026-07-28 upstream is told what the client declared and refuses the call itself (-32021, relayed)', async () => {
    await using client = await clientOf(hub, 'legacy', 'N', ['elicitation']);
    await expect(client.callTool({ name: 'ask26__ask_sample', arguments: { tag: 'N' } })).rejects.toMatchObject({ code: -32021, message: expect.stringContaining('sampling/createMessage') });
    expect(client.asked).toEqual([]);
  });

  it.each(['ask25', 'ask26'])('two sessions calling %s at once are each asked only their own question', async (up) => {
    const both = barrier(2);
    await using a = await clientOf(hub, 'legacy', 'A', ['sampling'], both);
    await using b = await clientOf(hub, 'legacy', 'B', ['sampling'], both);
    const [ra, rb] = await Promise.all([a.callTool({ name: `${up}__ask_sample`, arguments: { tag: 'A' } }), b.callTool({ name: `${up}__ask_sample`, arguments: { tag: 'B' } })]);
    expect([resultText(ra), resultText(rb)]).toEqual(['sampled: answer of A', 'sampled: answer of B']);
    expect(a.asked).toEqual([{ method: 'sampling/createMessage', text: 'question from A' }]);
    expect(b.asked).toEqual([{ method: 'sampling/createMessage', text: 'question from B' }]);
  });

  it('a stdio request while another session has a call in flight is refused, not sent to a guessed client', async () => {
    await using holder = await clientOf(hub, 'legacy', 'H', ['sampling']);
    await using asker = await clientOf(hub, 'legacy', 'A', ['sampling']);
    let started!: () => void;
    const holding = new Promise<void>((r) => (started = r));
    const held = holder.callTool({ name: 'askio__hold', arguments: {} }, { onprogress: () => started() });
    await holding;
    const r = await asker.callTool({ name: 'askio__ask_sample', arguments: { tag: 'A' } });
    expect(r.isError).toBe(true);
    expect(resultText(r)).toContain('the hub cannot tell whose client to ask');
    expect([holder.asked, asker.asked]).toEqual([[], []]);
    await asker.callTool({ name: 'askio__release', arguments: {} });
    expect(resultText(await held)).toBe('released');
  });

  it('a request that comes after its call ended goes to no client', async () => {
    await using client = await clientOf(hub, 'legacy', 'L', ['sampling']);
    expect(resultText(await client.callTool({ name: 'askio__ask_later', arguments: {} }))).toBe('answered first');
    // What came of it is read by a client that cannot be asked: the late question reaches the
    // hub either before that call (no call in progress) or during it (the only call in flight,
    // whose client lacks sampling); either way, no client is asked.
    await using reader = await clientOf(hub, 'legacy', 'M', []);
    expect(resultText(await reader.callTool({ name: 'askio__later', arguments: {} }))).toMatch(
      /^refused: sampling\/createMessage (refused by the hub: no call of this server is in progress, so there is no client to ask|is not available: the client of this call did not declare the capability)$/,
    );
    expect(client.asked).toEqual([]);
    expect(reader.asked).toEqual([]);
  });

  it('a request outside the call stream goes to the only call in flight', async () => {
    await using client = await clientOf(hub, 'legacy', 'U', ['sampling']);
    expect(resultText(await client.callTool({ name: 'ask25__ask_unrelated', arguments: { tag: 'U' } }))).toBe('sampled: answer of U');
  });

  it('an upstream cannot flood the client: a call asks at most 16 times', async () => {
    await using client = await clientOf(hub, 'legacy', 'F', ['elicitation']);
    const r = await client.callTool({ name: 'ask25__ask_many', arguments: { n: 40 } });
    expect(resultText(r)).toMatch(/^refused at 16: .*at most 16 times/);
    expect(client.asked.length).toBe(16);
  });

  it('the audit event records each forwarded request (method, upstream), never what it said', async () => {
    await using client = await clientOf(hub, 'legacy', 'J', ['sampling', 'elicitation']);
    await client.callTool({ name: 'ask25__ask_sample', arguments: { tag: 'journal-probe' } });
    await client.callTool({ name: 'ask26__ask_elicit', arguments: { tag: 'journal-probe' } });
    const events = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'tool_call' && JSON.stringify(e.args ?? {}).includes('journal-probe'));
    expect(events.map((e) => [e.tool, e.detail?.clientRequests])).toEqual([
      ['ask25__ask_sample', [{ method: 'sampling/createMessage', upstream: 'ask25', outcome: 'answered' }]],
      ['ask26__ask_elicit', [{ method: 'elicitation/create', upstream: 'ask26', outcome: 'answered' }]],
    ]);
    const text = JSON.stringify(readJournal(join(hub.dir, 'data')));
    expect(text).not.toContain('question from journal-probe');
    expect(text).not.toContain('colour of J');
  });
});

describe('a write that waits for the client\'s answers (session mode)', () => {
  it.each(['ask26w', 'ask25w'])('%s: revoke_writes while the upstream waits stops the retry, which is journaled as denied', async (up) => {
    await using client = await clientOf(hub, 'modern', 'R', ['elicitation']);
    const call = (extra: Record<string, unknown> = {}) => client.callTool({ name: `${up}__ask_elicit`, arguments: { tag: 'R' }, ...extra } as never, { allowInputRequired: true } as never) as Promise<any>;
    expect(resultText(await call())).toContain('approve_writes');
    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).toContain('approved');
    const first = await call();
    expect(first.resultType).toBe('input_required');
    const [key] = Object.keys(first.inputRequests);
    const answer = { inputResponses: { [key!]: { action: 'accept', content: { colour: 'red' } } }, requestState: first.requestState };
    await client.callTool({ name: 'revoke_writes', arguments: {} });
    const denied = await call(answer);
    expect(denied.isError).toBe(true);
    expect(resultText(denied)).toContain('the approval of writes in this session ended');
    // Approved again, the same write runs from the start.
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const again = await call();
    const [k2] = Object.keys(again.inputRequests);
    expect(resultText(await call({ inputResponses: { [k2!]: { action: 'accept', content: { colour: 'blue' } } }, requestState: again.requestState }))).toBe('elicited: accept {"colour":"blue"}');
    await client.callTool({ name: 'revoke_writes', arguments: {} });
  });
});

describe('prompts/get that asks the client', () => {
  const text = (r: { messages: Array<{ content: unknown }> }) => (r.messages[0]!.content as { text: string }).text;

  it.each(['ask25', 'ask26', 'askio'])('a 2025 client is asked on the request\'s stream for %s', async (up) => {
    await using client = await clientOf(hub, 'legacy', 'G', ['elicitation']);
    expect(text(await client.getPrompt({ name: `${up}__ask_prompt`, arguments: { tag: 'G' } }))).toBe('paint it colour of G for G');
    expect(client.asked).toEqual([{ method: 'elicitation/create', text: `[${up}] colour of the prompt for G` }]);
  });

  it.each(['ask25', 'ask26'])('a 2026-07-28 client answers %s through input_required, bound to the prompt and its arguments', async (up) => {
    await using client = await clientOf(hub, 'modern', 'H', ['elicitation']);
    expect(text(await client.getPrompt({ name: `${up}__ask_prompt`, arguments: { tag: 'H' } }))).toBe('paint it colour of H for H');
    const first = (await client.getPrompt({ name: `${up}__ask_prompt`, arguments: { tag: 'H' } }, { allowInputRequired: true } as never)) as any;
    expect(first.resultType).toBe('input_required');
    const [key] = Object.keys(first.inputRequests);
    const answer = { [key!]: { action: 'accept', content: { colour: 'green' } } };
    // The state is this prompt's, with these arguments: not another's.
    await expect(client.getPrompt({ name: `${up}__ask_prompt`, arguments: { tag: 'other' }, inputResponses: answer, requestState: first.requestState } as never, { allowInputRequired: true } as never)).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('belongs to another call'),
    });
    const done = (await client.getPrompt({ name: `${up}__ask_prompt`, arguments: { tag: 'H' }, inputResponses: answer, requestState: first.requestState } as never, { allowInputRequired: true } as never)) as any;
    expect(text(done)).toBe('paint it green for H');
  });
});

describe('a 2026-07-28 client', () => {
  it('answers a 2026-07-28 upstream\'s input_required itself, relayed by the hub, for sampling, elicitation and roots', async () => {
    await using client = await clientOf(hub, 'modern', 'M', ['sampling', 'elicitation', 'roots']);
    expect(resultText(await client.callTool({ name: 'ask26__ask_sample', arguments: { tag: 'M' } }))).toBe('sampled: answer of M');
    expect(resultText(await client.callTool({ name: 'ask26__ask_elicit', arguments: { tag: 'M' } }))).toBe('elicited: accept {"colour":"colour of M"}');
    expect(resultText(await client.callTool({ name: 'ask26__ask_roots', arguments: { tag: 'M' } }))).toBe('roots: file:///home/M');
    expect(resultText(await client.callTool({ name: 'ask26__ask_many', arguments: { n: 3 } }))).toBe('asked 3 times');
    expect(client.asked.slice(0, 3)).toEqual([
      { method: 'sampling/createMessage', text: 'question from M' },
      { method: 'elicitation/create', text: '[ask26] pick a colour for M' },
      { method: 'roots/list', text: '' },
    ]);
  });

  it('sees the upstream\'s questions under the upstream\'s own keys and a requestState of the hub\'s', async () => {
    await using client = await clientOf(hub, 'modern', 'K', ['elicitation']);
    const first = (await client.callTool({ name: 'ask26__ask_elicit', arguments: { tag: 'K' } }, { allowInputRequired: true })) as any;
    expect(first.resultType).toBe('input_required');
    expect(Object.keys(first.inputRequests)).toEqual(['e']);
    expect(first.requestState).toMatch(/^hubfwd1\./);
  });

  it('a changed, replayed or foreign requestState is refused and never reaches the upstream', async () => {
    await using client = await clientOf(hub, 'modern', 'T', ['elicitation']);
    const ask = (name: string, tag: string) => client.callTool({ name, arguments: { tag } }, { allowInputRequired: true }) as Promise<any>;
    const retry = (name: string, tag: string, requestState: string) =>
      client.callTool({ name, arguments: { tag }, inputResponses: { e: { action: 'accept', content: { colour: 'red' } } }, requestState } as never, { allowInputRequired: true }) as Promise<any>;
    const first = await ask('ask26__ask_elicit', 'T');
    const state: string = first.requestState;
    const tampered = state.slice(0, 12) + (state[12] === 'A' ? 'B' : 'A') + state.slice(13);
    await expect(retry('ask26__ask_elicit', 'T', tampered)).rejects.toMatchObject({ code: -32602, message: expect.stringMatching(/Invalid requestState: .*was not issued by this hub/) });
    // Another call: other arguments, or the same tool through another upstream entry.
    await expect(retry('ask26__ask_elicit', 'other', state)).rejects.toThrow(/Invalid requestState: .*belongs to another call/);
    await expect(retry('ask25__ask_elicit', 'T', state)).rejects.toThrow(/Invalid requestState: .*belongs to another call/);
    expect(resultText(await retry('ask26__ask_elicit', 'T', state))).toBe('elicited: accept {"colour":"red"}');
    await expect(retry('ask26__ask_elicit', 'T', state)).rejects.toThrow(/Invalid requestState: .*was already used/);
  });

  it.each(['ask26', 'ask25', 'askio'])('without the capability, a call to %s fails with -32021 naming what is missing, as the upstream would answer this client', async (up) => {
    await using client = await clientOf(hub, 'modern', 'N', ['elicitation']);
    await expect(client.callTool({ name: `${up}__ask_sample`, arguments: { tag: 'N' } })).rejects.toMatchObject({ code: -32021, data: { requiredCapabilities: { sampling: {} } } });
    expect(client.asked).toEqual([]);
  });

  // A 2025 upstream sends real requests mid-call; the hub answers the 2026-07-28 client with
  // them as input_required and keeps the upstream call waiting for the retry.
  it.each(['ask25', 'askio'])('answers %s (2025) questions through input_required while its call waits', async (up) => {
    await using client = await clientOf(hub, 'modern', 'P', ['sampling', 'elicitation', 'roots']);
    expect(resultText(await client.callTool({ name: `${up}__ask_sample`, arguments: { tag: 'P' } }))).toBe('sampled: answer of P');
    expect(resultText(await client.callTool({ name: `${up}__ask_elicit`, arguments: { tag: 'P' } }))).toBe('elicited: accept {"colour":"colour of P"}');
    expect(resultText(await client.callTool({ name: `${up}__ask_roots`, arguments: { tag: 'P' } }))).toBe('roots: file:///home/P');
    expect(resultText(await client.callTool({ name: `${up}__ask_many`, arguments: { n: 3 } }))).toBe('asked 3 times');
    expect(client.asked.slice(0, 3)).toEqual([
      { method: 'sampling/createMessage', text: 'question from P' },
      { method: 'elicitation/create', text: `[${up}] pick a colour for P` },
      { method: 'roots/list', text: '' },
    ]);
  });

  it('a parked 2025 call resumes only once, and only for its own call', async () => {
    await using client = await clientOf(hub, 'modern', 'Q', ['elicitation']);
    const first = (await client.callTool({ name: 'ask25__ask_elicit', arguments: { tag: 'Q' } }, { allowInputRequired: true })) as any;
    expect(Object.keys(first.inputRequests)).toEqual(['q0']);
    const retry = (tag: string) =>
      client.callTool({ name: 'ask25__ask_elicit', arguments: { tag }, inputResponses: { q0: { action: 'accept', content: { colour: 'blue' } } }, requestState: first.requestState } as never, { allowInputRequired: true });
    await expect(retry('someone else')).rejects.toThrow(/Invalid requestState: .*belongs to another call/);
    expect(resultText(await retry('Q'))).toBe('elicited: accept {"colour":"blue"}');
    await expect(retry('Q')).rejects.toThrow(/Invalid requestState: .*was already used/);
  });

  it('the audit records the relayed question with the call that waited, then the call\'s end', async () => {
    await using client = await clientOf(hub, 'modern', 'J', ['elicitation']);
    await client.callTool({ name: 'ask26__ask_elicit', arguments: { tag: 'relay-probe' } });
    await client.callTool({ name: 'ask25__ask_elicit', arguments: { tag: 'relay-probe' } });
    const events = readJournal(join(hub.dir, 'data')).filter((e) => e.kind === 'tool_call' && JSON.stringify(e.args ?? {}).includes('relay-probe'));
    expect(events.map((e) => [e.tool, e.outcome, e.detail?.clientRequests])).toEqual([
      ['ask26__ask_elicit', 'pending', [{ method: 'elicitation/create', upstream: 'ask26', outcome: 'relayed' }]],
      ['ask26__ask_elicit', 'succeeded', undefined],
      ['ask25__ask_elicit', 'pending', [{ method: 'elicitation/create', upstream: 'ask25', outcome: 'relayed' }]],
      ['ask25__ask_elicit', 'succeeded', undefined],
    ]);
    expect(JSON.stringify(readJournal(join(hub.dir, 'data')))).not.toContain('pick a colour for relay-probe');
  });

  it('in human mode the person approves the write once, then answers the upstream\'s question', async () => {
    await using client = await clientOf(hub, 'modern', 'H', ['elicitation'], undefined, HUMAN_TOKEN);
    expect(resultText(await client.callTool({ name: 'ask26w__ask_elicit', arguments: { tag: 'H' } }))).toBe('elicited: accept {"colour":"colour of H"}');
    expect(client.asked.map((a) => a.text.split('\n')[0])).toEqual([expect.stringContaining('ask26w__ask_elicit'), '[ask26w] pick a colour for H']);
  });
});
