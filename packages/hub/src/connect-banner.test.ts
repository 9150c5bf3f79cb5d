import { describe, expect, it } from 'vitest';
import { connectBanner, desktopEntry } from './connect-banner.ts';

const base = { url: 'http://127.0.0.1:8765/mcp', tokenExpr: '$(cat /srv/hub/data/token)', node: '/usr/bin/node', bundle: '/srv/hub/homelab-hub.mjs', dataDir: '/srv/hub/data/' };

describe('connectBanner', () => {
  it('prints both Claude Code scopes and a Desktop entry with its own data folder and the config', () => {
    const text = connectBanner({ ...base, configFile: '/etc/homelab/hub.yaml' });
    expect(text).toContain('  claude mcp add --transport http homelab http://127.0.0.1:8765/mcp --header "Authorization: Bearer $(cat /srv/hub/data/token)"\n');
    expect(text).toContain('  claude mcp add -s user --transport http homelab http://127.0.0.1:8765/mcp --header "Authorization: Bearer $(cat /srv/hub/data/token)"\n');
    expect(text).toContain('in a browser: http://127.0.0.1:8765/ui (log in once with the same token');
    const json = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1));
    expect(json).toEqual({ mcpServers: { homelab: { command: '/usr/bin/node', args: ['--max-semi-space-size=4', '/srv/hub/homelab-hub.mjs', 'stdio', '--config', '/etc/homelab/hub.yaml', '--data', '/srv/hub/data-stdio'] } } });
  });

  it('leaves --config out for the embedded default', () => {
    expect(desktopEntry(base).mcpServers.homelab.args).toEqual(['--max-semi-space-size=4', '/srv/hub/homelab-hub.mjs', 'stdio', '--data', '/srv/hub/data-stdio']);
  });
});
