/**
 * The hub's other doors: legacy HTTP+SSE at /sse, stdio (`homelab-hub stdio`), the
 * `check-config` command, and a Claude-style `mcpServers` config.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, SSEClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { HUB_BUNDLE, resultText, startHubProcess, type HubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'transport-test-token-0123456789';
const STDIO_SERVER = fileURLToPath(new URL('../src/upstreams/__fixtures__/stdio-server.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hub-transports-'));
let hub: HubProcess;

beforeAll(async () => {
  hub = await startHubProcess({
    config: {
      auth: { tokens: [{ user: 'a', role: 'admin', token: TOKEN }] },
      // Pasted as it stands in a Claude Desktop config: no type, just command and args.
      mcpServers: { fs: { command: process.execPath, args: [STDIO_SERVER] } },
    },
  });
});
afterAll(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('legacy HTTP+SSE at /sse', () => {
  it('lists and calls tools', async () => {
    const client = new Client({ name: 'old-client', version: '1' });
    await client.connect(new SSEClientTransport(new URL(`${hub.base}/sse`), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
    try {
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('run_command');
      expect(names).toContain('fs__echo'); // the Claude-style stdio upstream
      expect(resultText(await client.callTool({ name: 'run_command', arguments: { node: 'local', cmd: 'echo over-sse' } }))).toContain('over-sse');
      expect(resultText(await client.callTool({ name: 'fs__echo', arguments: { text: 'through stdio upstream' } }))).toBe('through stdio upstream');
    } finally {
      await client.close();
    }
  });

  it('needs the token for both the stream and the messages', async () => {
    expect((await fetch(`${hub.base}/sse`)).status).toBe(401);
    expect((await fetch(`${hub.base}/messages?sessionId=x`, { method: 'POST', body: '{}' })).status).toBe(401);
    const unknown = await fetch(`${hub.base}/messages?sessionId=nope`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{}' });
    expect(unknown.status).toBe(404);
  });
});

describe('stdio', () => {
  it('serves a local client on stdin/stdout with logs on stderr', async () => {
    const config = join(dir, 'stdio.yaml');
    writeFileSync(config, `dataDir: ${join(dir, 'data')}\nlocal:\n  roles: [desk]\n`);
    const client = new Client({ name: 'desktop', version: '1' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [HUB_BUNDLE, 'stdio', '--config', config], stderr: 'pipe' }));
    try {
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const r = (await client.callTool({ name: 'run_command', arguments: { node: 'role:desk', cmd: 'echo over-stdio' } })) as any;
      expect(r.structuredContent.nodes[0].structuredContent.stdout).toBe('over-stdio\n');
    } finally {
      await client.close();
    }
  });
});

describe('check-config', () => {
  const run = async (file: string) => {
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [HUB_BUNDLE, 'check-config', file], { env: { ...process.env, SET_TOKEN: 'x'.repeat(20) } });
      return { code: 0, out: stdout };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, out: e.stderr };
    }
  };

  it('says ok for a valid file, and names file, line, key and expectation otherwise', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'listen: 127.0.0.1:9000\nnodes:\n  - name: pi\n    url: http://pi.lan:8222/mcp\n    token: ${SET_TOKEN}\n');
    expect(await run(good)).toEqual({ code: 0, out: `${good}: ok\n` });

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'listen: 127.0.0.1:9000\nnodes:\n  - name: pi\n    url: not a url\n    tokne: abc\n');
    const r = await run(bad);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${bad}:5:5: key "nodes[0].tokne": unknown key "tokne"`);
    expect(r.out).toMatch(/bad\.yaml:4:\d+: key "nodes\[0\]\.url"/);

    const env = join(dir, 'env.yaml');
    writeFileSync(env, 'nodes:\n  - name: pi\n    url: http://pi.lan:8222/mcp\n    token: ${UNSET_TOKEN_VAR}\n');
    const e = await run(env);
    expect(e.code).toBe(1);
    expect(e.out).toBe(`${env}:4:5: key "nodes[0].token": environment variable UNSET_TOKEN_VAR is not set\n`);
  });
});
