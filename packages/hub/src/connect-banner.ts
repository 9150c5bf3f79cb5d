/**
 * The "how to connect" part of the hub's start banner: Claude Code in both scopes, and Claude
 * Desktop, which starts MCP servers itself over stdio and so gets a hub process of its own.
 */

export interface ConnectBannerInput {
  /** The `/mcp` URL the hub serves. */
  url: string;
  /** What to put after `Bearer `: `$(cat /abs/data/token)` or `<your token>`. */
  tokenExpr: string;
  /** Absolute path of the Node binary and of the hub bundle, for the stdio command. */
  node: string;
  bundle: string;
  /** Absolute path of hub.yaml, when the hub runs with one. */
  configFile?: string;
  /** Absolute data folder of this (serving) hub. */
  dataDir: string;
  /** Variables hub.yaml takes from the environment that the stdio hub needs too. */
  desktopEnv?: string[];
}

/**
 * The Claude Desktop entry for `homelab-hub stdio`. Its data folder is a sibling of the serving
 * hub's (`data-stdio` next to `data`): a journal has one writer, and Claude Desktop runs its hub
 * while this one runs.
 *
 * @example desktopEntry({ node: '/usr/bin/node', bundle: '/opt/hub/homelab-hub.mjs', dataDir: '/opt/hub/data', ... })
 * // { mcpServers: { homelab: { command: '/usr/bin/node', args: ['--max-semi-space-size=4', '/opt/hub/homelab-hub.mjs', 'stdio', '--data', '/opt/hub/data-stdio'] } } }
 */
export function desktopEntry(i: ConnectBannerInput): { mcpServers: { homelab: { command: string; args: string[] } } } {
  const args = ['--max-semi-space-size=4', i.bundle, 'stdio', ...(i.configFile ? ['--config', i.configFile] : []), '--data', `${i.dataDir.replace(/\/+$/, '')}-stdio`];
  return { mcpServers: { homelab: { command: i.node, args } } };
}

/**
 * The lines to print. `claude mcp add` without `-s` is the local scope (this folder only, for
 * this user); `-s user` makes the hub available in every project.
 *
 * @example connectBanner({ url: 'http://127.0.0.1:8765/mcp', tokenExpr: '$(cat /srv/hub/data/token)', ... })
 */
export function connectBanner(i: ConnectBannerInput): string {
  const add = (scope: string) => `claude mcp add${scope} --transport http homelab ${i.url} --header "Authorization: Bearer ${i.tokenExpr}"`;
  const json = JSON.stringify(desktopEntry(i), null, 2).replace(/\n/g, '\n  ');
  return (
    `Connect Claude Code, in this folder only (local scope):\n  ${add('')}\n` +
    `or in every project (user scope):\n  ${add(' -s user')}\n\n` +
    `Connect Claude Desktop (claude_desktop_config.json; it starts a hub of its own on stdio, trusted as admin):\n  ${json}\n` +
    desktopEnvNote(i.desktopEnv ?? []) +
    `\nSee what the AI did and what waits for you in a browser: ${i.url.replace(/\/mcp$/, '/ui')} (log in once with the same token; it is kept as an 8-hour cookie, never in a URL).\n` +
    '\n'
  );
}

/**
 * Claude Desktop starts its servers with an environment of its own, without the shell's
 * variables: a stdio hub whose hub.yaml needs one would exit at once, so the person is told
 * which to give it (their values are secrets: never printed).
 */
function desktopEnvNote(vars: string[]): string {
  if (vars.length === 0) return '';
  const env = vars.map((v) => `"${v}": "..."`).join(', ');
  return `  hub.yaml takes ${vars.join(', ')} from the environment, which Claude Desktop does not pass on: add "env": { ${env} } to this entry, or read them from files (tokenFile:, \${file:PATH}).\n`;
}
