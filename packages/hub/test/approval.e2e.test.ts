/**
 * The write-approval gate end to end, through the bundled hub and its in-process node:
 * a write that is held must not have run (each command touches a marker file).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, resultText, startHubProcess, type Era, type HubProcess } from '@homelab-mcp/testkit';

const SESSION = 'session-user-token-0123456789';
const CONFIRM = 'confirm-user-token-0123456789';
const HUMAN = 'human-user-token-0123456789ab';
const VIEWER = 'viewer-user-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'approval-'));
let marker = 0;
const touch = () => {
  const file = join(dir, `ran-${++marker}`);
  return { file, args: { node: 'local', cmd: `touch ${file}` } };
};
let hub: HubProcess;

beforeAll(async () => {
  hub = await startHubProcess({
    config: {
      auth: {
        tokens: [
          { user: 'sam', role: 'operator', token: SESSION },
          { user: 'cory', role: 'operator', token: CONFIRM },
          { user: 'hugo', role: 'admin', token: HUMAN },
          { user: 'vic', role: 'viewer', token: VIEWER },
        ],
      },
      approval: { mode: 'session', users: { cory: 'confirm', hugo: 'human' } },
    },
  });
});
afterAll(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each<Era>(['legacy', 'modern'])('session mode, %s era', (era) => {
  it('holds a write with a preview until approve_writes, and revoke_writes holds again', async () => {
    await using client = await connectClient(hub.url, SESSION, era);
    const first = touch();
    const held = (await client.callTool({ name: 'run_command', arguments: first.args })) as any;
    expect(held.structuredContent.status).toBe('approval_required');
    expect(held.structuredContent.preview).toMatchObject({ tool: 'run_command', where: ['local'] });
    expect(held.structuredContent.preview.action).toContain(`touch ${first.file}`);
    // Behind an aggregator the approve tool carries a prefix too: the text says which tool it means.
    expect(resultText(held)).toContain("call approve_writes (this server's tool: behind an aggregator or a client that adds a prefix, with the same prefix as this tool)");
    expect(existsSync(first.file)).toBe(false); // nothing ran
    // Reads are never held.
    expect(((await client.callTool({ name: 'get_status', arguments: { node: 'local' } })) as any).isError).toBeFalsy();

    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).toContain('approved');
    const info = (await client.callTool({ name: 'get_session_info', arguments: {} })) as any;
    expect(info.structuredContent).toMatchObject({ user: 'sam', role: 'operator', mode: 'session', writesApproved: true });
    expect(info.structuredContent.calls).toBeGreaterThanOrEqual(2);
    const ran = (await client.callTool({ name: 'run_command', arguments: first.args })) as any;
    expect(ran.structuredContent.nodes ?? ran.structuredContent).toBeDefined();
    expect(existsSync(first.file)).toBe(true);

    await client.callTool({ name: 'revoke_writes', arguments: {} });
    const second = touch();
    expect(((await client.callTool({ name: 'run_command', arguments: second.args })) as any).structuredContent.status).toBe('approval_required');
    expect(existsSync(second.file)).toBe(false);
  });
});

describe('approval is per session', () => {
  it('a new 2025 session starts with none', async () => {
    await using a = await connectClient(hub.url, SESSION, 'legacy');
    await a.callTool({ name: 'approve_writes', arguments: {} });
    await using b = await connectClient(hub.url, SESSION, 'legacy');
    const t = touch();
    expect(((await b.callTool({ name: 'run_command', arguments: t.args })) as any).structuredContent.status).toBe('approval_required');
    expect(existsSync(t.file)).toBe(false);
  });
});

describe('confirm mode', () => {
  it('shows confirm on write tools, previews without it (with a token), runs with the token', async () => {
    await using client = await connectClient(hub.url, CONFIRM, 'modern');
    const tools = (await client.listTools()).tools;
    expect(Object.keys(tools.find((t) => t.name === 'run_command')!.inputSchema.properties ?? {})).toContain('confirm');
    expect(Object.keys(tools.find((t) => t.name === 'get_status')!.inputSchema.properties ?? {})).not.toContain('confirm');
    const t = touch();
    const held = (await client.callTool({ name: 'run_command', arguments: t.args })) as any;
    expect(held.structuredContent).toMatchObject({ status: 'confirmation_required', mode: 'confirm' });
    expect(existsSync(t.file)).toBe(false);
    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).toContain('Not needed');
    expect(typeof held.structuredContent.confirm).toBe('string');
    await client.callTool({ name: 'run_command', arguments: { ...t.args, confirm: held.structuredContent.confirm } });
    expect(existsSync(t.file)).toBe(true);
  });
});

describe.each<Era>(['legacy', 'modern'])('human mode, %s era', (era) => {
  it('asks the person; a yes runs the write, a no does not', async () => {
    const asked: string[] = [];
    let answer = true;
    await using client = await connectClient(hub.url, HUMAN, era, {
      onElicit: (message) => (asked.push(message), { action: 'accept', content: { approve: answer } }),
    });
    const yes = touch();
    await client.callTool({ name: 'run_command', arguments: yes.args });
    expect(asked.at(-1)).toContain(`touch ${yes.file}`);
    expect(existsSync(yes.file)).toBe(true);

    answer = false;
    const no = touch();
    const r = (await client.callTool({ name: 'run_command', arguments: no.args })) as any;
    expect(resultText(r)).toContain('declined');
    expect(existsSync(no.file)).toBe(false);
  });

  it('the model cannot approve itself', async () => {
    await using client = await connectClient(hub.url, HUMAN, era, { onElicit: () => ({ action: 'decline' }) });
    const r = await client.callTool({ name: 'approve_writes', arguments: {} });
    expect(resultText(r)).toContain('only the person approves writes');
    const t = touch();
    await client.callTool({ name: 'run_command', arguments: t.args });
    expect(existsSync(t.file)).toBe(false);
  });

  it('a client that cannot ask its user gets an error that says so', async () => {
    await using client = await connectClient(hub.url, HUMAN, era);
    const t = touch();
    const r = await client.callTool({ name: 'run_command', arguments: t.args });
    expect(resultText(r)).toMatch(/cannot ask its user|elicitation/);
    expect(existsSync(t.file)).toBe(false);
  });
});

describe('viewer', () => {
  it('cannot approve or write', async () => {
    await using client = await connectClient(hub.url, VIEWER, 'legacy');
    expect(resultText(await client.callTool({ name: 'approve_writes', arguments: {} }))).toContain('viewer');
    await expect(client.callTool({ name: 'run_command', arguments: touch().args })).rejects.toThrow(/not found/);
  });
});
