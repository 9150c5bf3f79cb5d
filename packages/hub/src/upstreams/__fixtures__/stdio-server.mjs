// A tiny stdio MCP server for the upstream tests (SDK v2), run with `process.execPath`.
// Tools: `echo`, `pid` (this process's PID, so a test can kill it), `env` (one variable, to
// prove the spec's env reaches the child). With FAIL_ON_START set it writes a reason to
// stderr and exits 1, like a server missing its configuration.
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

if (process.env.FAIL_ON_START) {
  process.stderr.write(`fatal: ${process.env.FAIL_ON_START}\n`);
  process.exit(1);
}
process.stderr.write(`stdio test server ${process.pid} ready\n`);

serveStdio(() => {
  const server = new McpServer({ name: 'stdio-server', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  server.registerTool('pid', { inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: String(process.pid) }] }));
  server.registerTool('env', { inputSchema: z.object({ name: z.string() }) }, async ({ name }) => ({
    content: [{ type: 'text', text: process.env[name] ?? '(unset)' }],
  }));
  return server;
});
