// `pnpm start`: serve this host to an MCP client with no configuration.
// Until the hub lands (issue "Hub: one MCP endpoint for the whole network"), this runs the
// edge agent itself on 127.0.0.1:8765 with a generated token in ./data/token, which is what
// the hub's embedded default will serve as its node `local`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const dataDir = resolve(process.env.HOMELAB_DATA ?? 'data');
const tokenFile = resolve(dataDir, 'token');
const listen = process.env.HOMELAB_LISTEN ?? '127.0.0.1:8765';
mkdirSync(dataDir, { recursive: true, mode: 0o700 });
if (!existsSync(tokenFile)) writeFileSync(tokenFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
chmodSync(tokenFile, 0o600);
const url = `http://${listen}/mcp`;
process.stdout.write(
  `homelab-mcp: serving this host as an MCP server at ${url}\n` +
    `token: ${tokenFile} (mode 0600)\n\n` +
    `Connect Claude Code:\n  claude mcp add --transport http homelab ${url} --header "Authorization: Bearer $(cat ${tokenFile})"\n\n`,
);
const bundle = new URL('../packages/edge/dist/homelab-edge.mjs', import.meta.url).pathname;
const child = spawn(process.execPath, [bundle, '--listen', listen, '--token-file', tokenFile, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
