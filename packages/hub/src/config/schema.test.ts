import { describe, expect, it } from 'vitest';
import { parseConfigText } from '@homelab-mcp/core/config';
import { HubConfigSchema } from './schema.ts';

const parse = (text: string) => parseConfigText(text, 'hub.yaml', HubConfigSchema, { env: {} });

describe('hub.yaml topology section', () => {
  it('defaults to a 60-minute refresh and nothing declared', () => {
    expect(parse('listen: 127.0.0.1:8765\n').topology).toEqual({ refreshMinutes: 60, drift: { ignoreCommonPorts: true, ignorePorts: [], nodes: {} } });
    expect(parse('topology:\n  file: t.yaml\n  ansible: {inventory: hosts.ini}\n').topology).toEqual({
      file: 't.yaml',
      refreshMinutes: 60,
      ansible: { inventory: 'hosts.ini', pattern: 'all', timeoutSeconds: 300 },
      drift: { ignoreCommonPorts: true, ignorePorts: [], nodes: {} },
    });
  });

  it('takes drift ignore lists (ports and ranges, global and per node) and names a bad port', () => {
    expect(parse('topology:\n  drift: { ignorePorts: [8080, "9000-9100"], nodes: { nas: { ignorePorts: [5000] } } }\n').topology.drift).toEqual({
      ignoreCommonPorts: true,
      ignorePorts: [8080, '9000-9100'],
      nodes: { nas: { ignorePorts: [5000] } },
    });
    expect(() => parse('topology:\n  drift: { ignorePorts: ["9100-9000"] }\n')).toThrow(/key "topology\.drift\.ignorePorts\[0\]": "9100-9000": a range goes from the lower port to the higher \("9000-9100"\)/);
    expect(parse('topology:\n  drift: { ignorePorts: ["8080", " 9000 - 9100 "] }\n').topology.drift.ignorePorts).toEqual(['8080', ' 9000 - 9100 ']);
    expect(() => parse('topology:\n  drift: { ignorePorts: [70000] }\n')).toThrow(/key "topology\.drift\.ignorePorts\[0\]"/);
  });

  it('refuses an Ansible pattern that would read as an option, and unknown keys', () => {
    expect(() => parse('topology:\n  ansible: {inventory: h, pattern: "--become"}\n')).toThrow(
      'hub.yaml:2:27: key "topology.ansible.pattern": an Ansible host pattern such as all, webservers or "pi*:!pi-old"',
    );
    expect(() => parse('topology:\n  refreshMinute: 5\n')).toThrow('key "topology.refreshMinute": unknown key "refreshMinute", did you mean "refreshMinutes"?');
    expect(() => parse('topology:\n  refreshMinutes: 0\n')).toThrow('key "topology.refreshMinutes": expected a number > 0');
  });
});

describe('hub.yaml limits section', () => {
  it('defaults the security limits, and names the key of a value out of range', () => {
    expect(parse('listen: 127.0.0.1:8765\n').limits).toEqual({ maxBodyBytes: 4 * 1024 * 1024, maxResultBytes: 8 * 1024 * 1024, maxJsonDepth: 64, authFailuresPerMinute: 30, callTimeoutMs: 120_000, maxToolName: 50 });
    expect(parse('limits:\n  maxResultBytes: 1048576\n').limits.maxJsonDepth).toBe(64);
    expect(() => parse('limits:\n  maxResultBytes: 10\n')).toThrow('key "limits.maxResultBytes"');
    expect(() => parse('limits:\n  maxJsonDepth: 5000\n')).toThrow('key "limits.maxJsonDepth"');
  });
});

describe('hub.yaml access and local sections', () => {
  it('defaults: viewers denied the well-known secrets, env masked below admin, the unit\'s secrets file refused on local', () => {
    const c = parse('listen: 127.0.0.1:8765\n');
    expect(c.access.viewer.maskEnv).toBe(true);
    expect(c.access.viewer.denyPaths).toEqual(expect.arrayContaining(['/etc/shadow', '/etc/gshadow', '/root/**', '/home/*/.ssh/**', '**/.ssh/authorized_keys', '/proc/*/environ', '/etc/ssl/private/**', '/etc/homelab-edge/**', '/etc/default/homelab-edge']));
    // Broadened after the red team: credentials in homes, Wi-Fi/VPN secrets, command lines, descriptors.
    expect(c.access.viewer.denyPaths).toEqual(
      expect.arrayContaining(['/var/backups/*shadow*', '/etc/wpa_supplicant/**', '/etc/NetworkManager/system-connections/**', '/etc/letsencrypt/archive/**', '/etc/letsencrypt/keys/**', '/home/*/.docker/config.json', '/home/*/.aws/**', '/home/*/.gnupg/**', '/home/*/.netrc', '/home/*/.pgpass', '/home/*/.my.cnf', '/home/*/.git-credentials', '/home/*/.kube/**', '/etc/wireguard/**', '/etc/ipsec.secrets', '/etc/ppp/*-secrets', '/var/lib/docker/**', '/proc/*/cmdline', '/proc/*/task/*/cmdline', '/proc/*/fd/**', '/proc/*/mem']),
    );
    // Round 3: VPN and netplan secrets, apps' .env files, cluster and Tailscale state, more home credentials.
    expect(c.access.viewer.denyPaths).toEqual(
      expect.arrayContaining(['/etc/openvpn/**', '/etc/netplan/**', '**/.env', '**/.env.*', '/etc/rancher/k3s/**', '/etc/kubernetes/**', '/etc/mysql/debian.cnf', '/home/*/.config/rclone/**', '/home/*/.config/gh/**', '/home/*/.npmrc', '/home/*/.*_history', '/var/lib/tailscale/**']),
    );
    expect(c.access.operator).toEqual({ denyPaths: ['/proc/*/environ', '/proc/*/task/*/environ', '/proc/*/cmdline', '/proc/*/task/*/cmdline', '/proc/*/mem', '/proc/*/task/*/mem'], maskEnv: true });
    expect(c.access.admin).toEqual({ denyPaths: [], maskEnv: false });
    expect(c.local).toMatchObject({ env: {}, denyPaths: ['/etc/default/homelab-hub'] });
    expect(parse('access:\n  operator: {denyPaths: [/srv/private/**]}\n').access.operator).toEqual({ denyPaths: ['/srv/private/**'], maskEnv: true });
  });

  it('refuses a relative glob, an unknown role and a HOMELAB_* variable for the local node, naming file:line:col', () => {
    expect(() => parse('access:\n  viewer:\n    denyPaths: [etc/shadow]\n')).toThrow('hub.yaml:3:17: key "access.viewer.denyPaths[0]": an absolute path glob');
    expect(() => parse('access:\n  guest: {maskEnv: true}\n')).toThrow('unknown key "guest"');
    expect(() => parse('local:\n  env: {HOMELAB_HUB_ARGS: x}\n')).toThrow(/hub\.yaml:2:9: key "local\.env\.HOMELAB_HUB_ARGS".*not HOMELAB_/);
  });
});

describe('deploy/examples/hub.full.yaml', () => {
  it('is a valid hub.yaml whose access and local sections are the defaults', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../../../../deploy/examples/hub.full.yaml', import.meta.url), 'utf8');
    const env = Object.fromEntries([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => [m[1]!, 'x'.repeat(32)]));
    const full = parseConfigText(text, 'hub.full.yaml', HubConfigSchema, { env });
    const defaults = parse('listen: 127.0.0.1:8765\n');
    expect(full.access).toEqual(defaults.access);
    expect(full.local).toEqual(defaults.local);
  });
});

describe('hub.yaml names and URLs', () => {
  it('refuses duplicate node names, a node named like the local node, and non-HTTP(S) URLs, naming each key', () => {
    const problems = (text: string) => {
      try {
        parse(text);
      } catch (err) {
        return (err as { problems: string[] }).problems;
      }
      return [];
    };
    expect(problems('nodes:\n  - {name: pi, url: "http://127.0.0.1:1/mcp"}\n  - {name: pi, url: "http://127.0.0.1:2/mcp"}\n  - {name: local, url: "https://127.0.0.1:3/mcp"}\n')).toEqual([
      'hub.yaml:3:6: key "nodes[1].name": "pi" is already the name of nodes[0]; node names must be unique',
      'hub.yaml:4:6: key "nodes[2].name": "local" is the name of the hub\'s own node (local.name); rename this node, or set local.name or local.enabled: false',
    ]);
    expect(parse('local: {enabled: false}\nnodes:\n  - {name: local, url: "http://127.0.0.1:1/mcp"}\n').nodes[0]!.name).toBe('local');
    expect(problems('nodes:\n  - {name: pi, url: "ftp://127.0.0.1/x"}\nupstreams:\n  ha: {url: "ws://127.0.0.1:1/api/mcp"}\naudit:\n  loki: {url: "file:///tmp/x"}\n')).toEqual([
      'hub.yaml:2:16: key "nodes[0].url": expected an http:// or https:// URL',
      'hub.yaml:4:8: key "upstreams.ha.url": expected an http:// or https:// URL',
      'hub.yaml:6:10: key "audit.loki.url": expected an http:// or https:// URL',
    ]);
  });

  it('refuses an alias (or, with perDeviceTools, a node name) too long for limits.maxToolName, and an alias in both upstreams and mcpServers', () => {
    expect(() => parse('limits: {maxToolName: 20}\nupstreams:\n  homeassistant: {url: "http://127.0.0.1:1/mcp"}\n')).toThrow(
      'hub.yaml:3:3: key "upstreams.homeassistant": alias "homeassistant" is too long for limits.maxToolName 20 (at most 10 characters, so that its tools can be named)',
    );
    expect(parse('limits: {maxToolName: 20}\nupstreams:\n  ha: {url: "http://127.0.0.1:1/mcp"}\n').limits.maxToolName).toBe(20);
    expect(() => parse('limits: {maxToolName: 20}\nperDeviceTools: true\nnodes:\n  - {name: pi-kitchen-1, url: "http://127.0.0.1:1/mcp"}\n')).toThrow('key "nodes[0].name": node name "pi-kitchen-1" (perDeviceTools) is too long');
    expect(() => parse('upstreams:\n  ha: {url: "http://127.0.0.1:1/mcp"}\nmcpServers:\n  ha: {command: x}\n')).toThrow('key "mcpServers.ha": alias "ha" is also in upstreams');
  });

  it('takes prefix: false on any upstream but another hub, whose tools are this hub\'s own names; the alias then needs no room in tool names', () => {
    const c = parse('limits: {maxToolName: 20}\nperDeviceTools: true\nnodes:\n  - {name: pi, url: "http://127.0.0.1:1/mcp"}\nupstreams:\n  homeassistant: {url: "http://127.0.0.1:1/mcp", prefix: false}\n  pi: {command: x, prefix: false}\n  ha: {url: "http://127.0.0.1:1/mcp"}\n');
    expect([c.upstreams.homeassistant!.prefix, c.upstreams.pi!.prefix, c.upstreams.ha!.prefix]).toEqual([false, false, true]);
    expect(() => parse('mcpServers:\n  site2: {type: hub, url: "http://127.0.0.1:1/mcp", prefix: false}\n')).toThrow(
      'hub.yaml:2:53: key "mcpServers.site2.prefix": upstream "site2" is another hub (type: hub), whose tools approve_writes, revoke_writes, list_nodes, ... are also this hub\'s own; keep its prefix (remove prefix: false)',
    );
    expect(() => parse('upstreams:\n  ha: {url: "http://127.0.0.1:1/mcp", prefix: "no"}\n')).toThrow('key "upstreams.ha');
  });

  it('takes tokenFile or token for a node, not both', () => {
    expect(parse('nodes:\n  - {name: pi, url: "http://127.0.0.1:1/mcp", tokenFile: pi.token}\n').nodes[0]!.tokenFile).toBe('pi.token');
    expect(() => parse('nodes:\n  - {name: pi, url: "http://127.0.0.1:1/mcp", tokenFile: pi.token, token: "0123456789abcdef0"}\n')).toThrow('key "nodes[0].tokenFile": set token or tokenFile, not both');
  });
});

describe('hub.yaml oauth section', () => {
  it('is off by default; the issuer must be an https origin (http only on loopback); a non-loopback hub needs one', () => {
    expect(HubConfigSchema.parse({}).oauth).toEqual({ enabled: false, accessTokenMinutes: 60, refreshTokenDays: 30 });
    expect(HubConfigSchema.parse({ oauth: { enabled: true, issuer: 'https://hub.example.com' } }).oauth.issuer).toBe('https://hub.example.com');
    expect(HubConfigSchema.parse({ oauth: { enabled: true, issuer: 'http://127.0.0.1:8765' } }).oauth.enabled).toBe(true);
    for (const issuer of ['http://hub.example.com', 'https://hub.example.com/', 'https://hub.example.com/path', 'hub.example.com']) {
      const r = HubConfigSchema.safeParse({ oauth: { enabled: true, issuer } });
      expect(r.success, issuer).toBe(false);
      expect(JSON.stringify(r.error?.issues[0]?.path)).toBe('["oauth","issuer"]');
    }
    // Listening beyond loopback with no issuer and no allowedHosts: refused; with allowedHosts: https://<first>.
    expect(HubConfigSchema.safeParse({ listen: '0.0.0.0:8765', oauth: { enabled: true } }).success).toBe(false);
    expect(HubConfigSchema.safeParse({ listen: '0.0.0.0:8765', allowedHosts: ['hub.example.com'], oauth: { enabled: true } }).success).toBe(true);
    expect(HubConfigSchema.safeParse({ listen: '0.0.0.0:8765' }).success).toBe(true);
  });
});
