/**
 * The hub's configuration file (`hub.yaml`). Keys are camelCase, as in the TypeScript type,
 * so there is no mapping layer; unknown keys are errors (a typo must not silently drop a
 * security setting). Secrets come from the environment as `${VAR}`.
 */
import { isIP } from 'node:net';
import * as z from 'zod';
import { InternetConfigSchema, NotifyConfigSchema } from '../internet/config.ts';
import { IntegrationsConfigSchema } from '@homelab-mcp/integrations';
import { OPERATOR_DENY_PATHS, VIEWER_DENY_PATHS } from '../nodes/file-policy.ts';
import { haUrlProblem } from '../upstreams/home-assistant.ts';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'a name of letters, digits, "-" and "_" (at most 32, starting with a letter or digit)');
const listen = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'HOST:PORT, e.g. 127.0.0.1:8765');
const headers = z.record(z.string(), z.string());
/** The hub speaks HTTP to nodes and upstreams: `ftp://` or `ws://` would only fail later, on every call. */
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
/**
 * A TCP port, or an inclusive range as a string: 8080, "8080", "32768-60999". A wrong one is
 * told what exactly is wrong with it: a message that asks for "a port from 1 to 65535" about
 * "8080" or "9-3" leaves the person guessing.
 */
const portSpec = z.union([
  z.number().int().min(1).max(65535),
  z.string().superRefine((v, ctx) => {
    const expected = 'expected a port from 1 to 65535 or a range "FROM-TO" such as "8000-8100"';
    const m = /^\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?$/.exec(v);
    const why = !m
      ? `"${v.slice(0, 40)}" is not a port or a range; ${expected}`
      : [m[1], m[2]].some((p) => p !== undefined && (Number(p) < 1 || Number(p) > 65535))
        ? `"${v}": a port is from 1 to 65535`
        : m[2] !== undefined && Number(m[1]) > Number(m[2])
          ? `"${v}": a range goes from the lower port to the higher ("${m[2]}-${m[1]}")`
          : undefined;
    if (why) ctx.addIssue({ code: 'custom', message: why });
  }),
]);

export const RoleSchema = z.enum(['admin', 'operator', 'viewer']);

const TokenSchema = z.strictObject({
  user: z.string().min(1),
  role: RoleSchema,
  token: z.string().min(16, 'a token of at least 16 characters (e.g. `openssl rand -hex 32`)'),
});

/** An absolute path glob: `*` within one segment, `**` any whole segments, `?` one character. */
const pathGlob = z.string().regex(/^(\/|\*\*\/)[^\0]*$/, 'an absolute path glob such as /etc/shadow, /root/**, /home/*/.ssh/id_* or **/.ssh/authorized_keys');

/** What one role may reach on the nodes through the file tools and get_env. */
const RoleAccessSchema = (denyPaths: readonly string[], maskEnv: boolean) =>
  z
    .strictObject({
      /** Files the edge refuses to this role (by the real path of what it opened); replaces the default list. */
      denyPaths: z.array(pathGlob).default([...denyPaths]),
      /** get_env shows secret-looking values (by variable name) as [masked]. */
      maskEnv: z.boolean().default(maskEnv),
    })
    .default({ denyPaths: [...denyPaths], maskEnv });

/** Variables the hub never hands to its `local` node, whatever `local.env` says. */
const localEnvName = z.string().regex(/^(?!HOMELAB_)[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name (letters, digits, "_"), not HOMELAB_*: the hub\'s own variables never reach the local node');

const NodeSchema = z
  .strictObject({
    name,
    url: httpUrl,
    token: z.string().min(16).optional(),
    /**
     * A file holding the node's token (relative to hub.yaml), read at start and at each reload,
     * so adding a device needs no restart for a new variable. Readable only by the hub's user:
     * a world-readable file is refused, a group-readable one warned about.
     */
    tokenFile: z.string().min(1).optional(),
    roles: z.array(z.string().min(1)).default([]),
  })
  .refine((n) => !(n.token !== undefined && n.tokenFile !== undefined), { message: 'set token or tokenFile, not both', path: ['tokenFile'] });

/**
 * Class overrides per tool-name glob, first match wins: `{ "Get*": read, "*": write }`.
 * A tool no glob matches is a write, unless `trustAnnotations` is set.
 */
const classes = z.record(z.string().min(1), z.enum(['read', 'write'])).optional();
/**
 * Lets this upstream's own `readOnlyHint`/`destructiveHint` decide the class of tools that no
 * `classes` glob matches. Off by default: annotations are untrusted hints (MCP spec), and a
 * hostile server could mark `delete_everything` read-only. Set it only for a server you trust
 * as much as the hub, such as another homelab hub.
 */
const trustAnnotations = z.boolean().default(false);
/**
 * The protocol era to speak with this upstream instead of negotiating it: `2025-11-25`
 * (`initialize`, no `server/discover` probe) or `2026-07-28` (must be offered, no fallback).
 */
const protocol = z.enum(['2025-11-25', '2026-07-28']).optional();
/**
 * `false`: this upstream's tools, prompts, resources and resource templates keep their own
 * names and URIs (no `<alias>__`, no `homelab://<alias>/`). A name that meets another in the
 * catalog refuses a reload; one the upstream announces later is left out (catalog.ts).
 */
const prefix = z.boolean().default(true);
const HttpUpstream = z.strictObject({
  type: z.enum(['http', 'streamable-http', 'hub']).default('http'),
  url: httpUrl,
  headers: headers.optional(),
  classes,
  trustAnnotations,
  protocol,
  prefix,
});
const SseUpstream = z.strictObject({ type: z.literal('sse'), url: httpUrl, headers: headers.optional(), classes, trustAnnotations, prefix });
const StdioUpstream = z.strictObject({
  type: z.literal('stdio').default('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  classes,
  trustAnnotations,
  protocol,
  prefix,
});
/**
 * Home Assistant's built-in MCP server (the "Model Context Protocol Server" integration, HA
 * 2025.2+), reached with a long-lived access token: the hub connects to `<url>/api/mcp` (or the
 * legacy `/mcp_server/sse` of an HA that has no `/api/mcp`), presets
 * the classes HA's tools do not carry (its reads are read, every intent that acts is a write;
 * `classes` here are checked first) and adds HA's REST views as tools (`ha_states`, ...).
 *
 * @example hub.yaml
 * upstreams:
 *   ha: { type: home-assistant, url: "http://ha.lan:8123", token: "${HA_TOKEN}" }
 */
const HomeAssistantUpstream = z.strictObject({
  type: z.literal('home-assistant'),
  /** HA's own address, as a browser opens it: `http://ha.lan:8123` (a trailing `/api/mcp` is taken off). */
  url: httpUrl.superRefine((v, ctx) => {
    const problem = haUrlProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  /** A long-lived access token (HA: your profile > Security > Long-lived access tokens). Use ${VAR}. */
  token: z.string().min(1),
  classes,
  trustAnnotations,
  protocol,
  prefix,
});
/** One native MCP server: Streamable HTTP (url), legacy SSE (`type: sse`), stdio (command) or Home Assistant. */
export const UpstreamSchema = z.union([HomeAssistantUpstream, SseUpstream, StdioUpstream, HttpUpstream]);

/** A path inside the playbook repo: relative, no `..`, no leading `-`. */
const repoPath = z
  .string()
  .min(1)
  .max(512)
  .refine((p) => !p.startsWith('/') && !p.startsWith('-') && !p.split(/[\\/]/).includes('..') && !/[\u0000-\u001f]/.test(p), 'a relative path inside the playbook repo (no "..", not absolute)');

/** `ansible:` of hub.yaml (see HubConfigBase). */
export const AnsibleConfigSchema = z.strictObject({
  /** The playbook repo: an ssh or https git URL (`git@github.com:me/playbooks.git`), or a path to a repository on this host. */
  repo: z.string().min(1).max(2048).refine((v) => !v.startsWith('-'), 'a git URL or a path, not an option'),
  /** The only branch that ever runs. */
  branch: z.string().regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,100}$/, 'a branch name such as main').default('main'),
  /** Where the hub keeps its clone; default DATA/ansible/repo. */
  clone: z.string().min(1).optional(),
  /** The inventory inside the repo (a file or a folder). */
  inventory: repoPath.default('inventory'),
  /** The folder of the repo whose *.yml files are the playbooks (`.`: the top). */
  playbookDir: z.union([z.literal('.'), repoPath]).default('.'),
  /** Review branches are `<draftPrefix><name>`. */
  draftPrefix: z.string().regex(/^(?!-)[A-Za-z0-9._/-]{1,60}$/, 'a branch prefix such as mcp-draft/').default('mcp-draft/'),
  /** The private key Ansible logs in to the managed hosts with; must not be readable by group or others. */
  sshKey: z.string().min(1).optional(),
  /** The user Ansible logs in as (default: the inventory's ansible_user, else ssh's default). */
  remoteUser: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, 'a user name').optional(),
  /** known_hosts lines pinned for the managed hosts (`[10.0.0.5]:22 ssh-ed25519 AAAA...`); others are kept in DATA/ansible/known_hosts. */
  knownHosts: z.array(z.string().regex(/^\S+ (ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+( .*)?$/, 'a known_hosts line: HOST KEYTYPE BASE64KEY')).default([]),
  /** A file holding the vault password (`--vault-password-file`). */
  vaultPasswordFile: z.string().min(1).optional(),
  /** The key git uses to fetch and push an ssh `repo`. */
  gitSshKey: z.string().min(1).optional(),
  /** How long a successful dry run allows the live run of exactly the same thing. */
  dryRunValidMinutes: z.number().int().min(1).max(24 * 60).default(30),
  /** Deadline of one ansible-playbook run. */
  timeoutSeconds: z.number().int().min(10).max(24 * 3600).default(1800),
  /** The forge that holds the pull requests; without it drafts are pushed branches and promotion is refused. */
  forge: z
    .strictObject({
      type: z.enum(['github', 'gitea']),
      /** API base: default https://api.github.com for github; the Gitea server (https://git.lan) for gitea. */
      url: httpUrl.optional(),
      /** owner/name */
      repo: z.string().regex(/^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/, 'owner/name, e.g. me/playbooks'),
      token: z.string().min(1),
    })
    .refine((f) => f.type === 'github' || f.url !== undefined, { message: 'a gitea forge needs its url (https://git.lan)', path: ['url'] })
    .optional(),
});
export type AnsibleConfig = z.output<typeof AnsibleConfigSchema>;

const HubConfigBase = z.strictObject({
  listen: listen.default('127.0.0.1:8765'),
  /** Where the hub keeps its token, journal and state; relative to the config file. */
  dataDir: z.string().default('./data'),
  /** Public host names (tunnel, reverse proxy) accepted in Host/Origin, besides loopback. */
  allowedHosts: z.array(z.string().min(1)).default([]),
  /**
   * Addresses of the reverse proxies or tunnels in front of the hub (cloudflared, Caddy, nginx,
   * often 127.0.0.1). A request from one of them is attributed to the client its
   * X-Forwarded-For names (the nearest address that is not itself a trusted proxy), so failed
   * logins throttle that client, not everyone behind the proxy. Empty: the header is ignored.
   */
  trustedProxies: z.array(z.string().refine((a) => isIP(a) !== 0, 'expected an IP address (IPv4 or IPv6), not a name')).default([]),
  /**
   * The header a trusted proxy names the client in: `x-forwarded-for` (default; Caddy, nginx,
   * Traefik, and cloudflared too, which passes Cloudflare's) or `cf-connecting-ip` (Cloudflare
   * Tunnel only: Cloudflare's edge sets it to the address it saw). Read only from
   * `trustedProxies`: never set `cf-connecting-ip` when something else fronts the hub, which
   * would pass on whatever a client put there.
   */
  clientIpHeader: z.enum(['x-forwarded-for', 'cf-connecting-ip']).default('x-forwarded-for'),
  auth: z
    .strictObject({
      tokens: z.array(TokenSchema).min(1),
      rateLimit: z.strictObject({ perMinute: z.number().int().positive().default(600), burst: z.number().int().positive().default(60) }).default({ perMinute: 600, burst: 60 }),
    })
    .optional(),
  local: z
    .strictObject({
      enabled: z.boolean().default(true),
      name: name.default('local'),
      roles: z.array(z.string()).default(['hub']),
      /** Edge flags for the local node, e.g. ["--root", "/srv", "--disable-gpio"]. */
      edgeArgs: z.array(z.string()).default([]),
      /**
       * The local node runs as a child process with a scrubbed environment: PATH, HOME, LANG,
       * LC_*, TZ, USER, LOGNAME, SHELL, TERM and TMPDIR of the hub's (unless hub.yaml uses
       * them as ${VAR}), plus exactly these.
       */
      env: z.record(localEnvName, z.string()).default({}),
      /**
       * Files refused on the local node to every role, besides those the hub always refuses
       * there (its config and topology files, its data dir, /proc/<pid>/ of the hub, its
       * parents and the local node): the EnvironmentFile of its systemd unit by default. An
       * entry without `*` or `?` is also refused by identity (device + inode: through a hard
       * link or a bind mount, and everything under it for a directory).
       */
      denyPaths: z.array(pathGlob).default(['/etc/default/homelab-hub']),
    })
    .default({ enabled: true, name: 'local', roles: ['hub'], edgeArgs: [], env: {}, denyPaths: ['/etc/default/homelab-hub'] }),
  /**
   * Per token role, what the file tools and get_env may reach on every node (sent to the edge
   * with each call; an edge that does not confirm it enforces the policy has its answer
   * withheld). Read at each call: a reload applies to open sessions.
   */
  access: z
    .strictObject({
      viewer: RoleAccessSchema(VIEWER_DENY_PATHS, true),
      operator: RoleAccessSchema(OPERATOR_DENY_PATHS, true),
      admin: RoleAccessSchema([], false),
    })
    .default({ viewer: { denyPaths: [...VIEWER_DENY_PATHS], maskEnv: true }, operator: { denyPaths: [...OPERATOR_DENY_PATHS], maskEnv: true }, admin: { denyPaths: [], maskEnv: false } }),
  nodes: z.array(NodeSchema).default([]),
  /** Native MCP servers by alias; their tools appear as `<alias>__<tool>` (as `<tool>` with `prefix: false`). */
  upstreams: z.record(name, UpstreamSchema).default({}),
  /** Claude-style servers, accepted as they are pasted from a client config. */
  mcpServers: z.record(name, UpstreamSchema).default({}),
  /**
   * The write-approval gate: `session` (approve_writes unlocks a session), `confirm` (each
   * write carries the token its preview returned) or `human` (the person approves each write
   * through the client). `users` sets a mode per user. `idleMinutes`: a session's write
   * approval lapses after this long without calls (2026-07-28 clients have no session that
   * ends, only a name they choose).
   */
  approval: z
    .strictObject({
      mode: z.enum(['session', 'confirm', 'human']).default('session'),
      users: z.record(z.string(), z.enum(['session', 'confirm', 'human'])).default({}),
      idleMinutes: z.number().positive().max(10080).default(30),
    })
    .default({ mode: 'session', users: {}, idleMinutes: 30 }),
  /**
   * The audit trail: a local journal (always) shipped to Loki when `loki` is set; an outage
   * delays shipping and loses nothing.
   */
  audit: z
    .strictObject({
      fsync: z.enum(['batch', 'always']).default('batch'),
      maxFileBytes: z.number().int().min(65536).default(16 * 1024 * 1024),
      maxFiles: z.number().int().min(2).default(20),
      loki: z
        .strictObject({
          url: httpUrl,
          labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a Loki label name'), z.string()).default({}),
          tenant: z.string().optional(),
          headers: headers.optional(),
          /** Unshipped journal bytes (Loki down) at which the hub logs a warning; nothing is dropped. */
          backlogWarnBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
        })
        .optional(),
    })
    .default({ fsync: 'batch', maxFileBytes: 16 * 1024 * 1024, maxFiles: 20 }),
  /**
   * Built-in integrations, each set up only when its key is present (`prometheus`, `loki`);
   * each integration owns its schema. query_logs falls back to `audit.loki` when `loki` is absent.
   */
  integrations: IntegrationsConfigSchema.default({}),
  /** Also serve `<node>__<tool>` copies of every edge tool. */
  perDeviceTools: z.boolean().default(false),
  /** The read-only admin web UI at /ui (login with a hub token); `enabled: false` answers 404 there. */
  ui: z.strictObject({ enabled: z.boolean().default(true) }).default({ enabled: true }),
  /**
   * OAuth 2.1 for clients that cannot send a static header (Claude.ai connectors, Claude mobile,
   * ChatGPT), served on `/oauth/mcp` only (never `/mcp`). The consent page asks for a hub token;
   * the issued tokens carry its user and role. `issuer` defaults to https://<first allowedHosts
   * name>; it must be https unless its host is loopback. Off by default.
   */
  oauth: z
    .strictObject({
      enabled: z.boolean().default(false),
      issuer: z
        .string()
        .max(300)
        .superRefine((v, ctx) => {
          let u: URL;
          try {
            u = new URL(v);
          } catch {
            ctx.addIssue({ code: 'custom', message: `expected an absolute URL such as https://hub.example.com, got "${v.slice(0, 100)}"` });
            return;
          }
          const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
          if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) ctx.addIssue({ code: 'custom', message: 'must be https (http only on a loopback host)' });
          if (u.pathname !== '/' || u.search || u.hash || u.username || u.password || v.endsWith('/')) ctx.addIssue({ code: 'custom', message: 'must be an origin only (scheme, host and port; no path, query or trailing slash)' });
        })
        .optional(),
      accessTokenMinutes: z.number().int().min(1).max(24 * 60).default(60),
      refreshTokenDays: z.number().int().min(1).max(365).default(30),
    })
    .default({ enabled: false, accessTokenMinutes: 60, refreshTokenDays: 30 }),
  limits: z
    .strictObject({
      maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
      /**
       * Largest answer the hub reads from a node or upstream (a JSON body, or one SSE event);
       * a larger one fails that call with an error naming the upstream and this key.
       */
      maxResultBytes: z.number().int().min(64 * 1024).default(8 * 1024 * 1024),
      /** Deepest nesting of arrays and objects accepted in a client's JSON body. */
      maxJsonDepth: z.number().int().min(8).max(1000).default(64),
      /** Failed authentications per source address and minute; beyond, that address gets 429s. */
      authFailuresPerMinute: z.number().int().positive().default(30),
      callTimeoutMs: z.number().int().positive().default(120_000),
      /**
       * Longest tool name the hub emits. Claude Code shows `mcp__<alias>__<name>` and LLM APIs
       * cap names at 64, so the default leaves 14 characters for `mcp__homelab__`.
       */
      maxToolName: z.number().int().min(16).max(128).default(50),
    })
    .default({ maxBodyBytes: 4 * 1024 * 1024, maxResultBytes: 8 * 1024 * 1024, maxJsonDepth: 64, authFailuresPerMinute: 30, callTimeoutMs: 120_000, maxToolName: 50 }),
  /**
   * The Ansible review queue: the playbook repo the hub clones (only its `branch` ever runs),
   * drafts pushed to `draftPrefix<name>` with a pull request on `forge`, and how Ansible reaches
   * the managed hosts. Paths are relative to this config file; `clone` defaults to DATA/ansible/repo.
   */
  ansible: AnsibleConfigSchema.optional(),
  /** The tools that ask the outside world (http_fetch, dns_lookup, versions, CVEs, git, ntfy, Cloudflare); see internet/config.ts. */
  internet: InternetConfigSchema.default(InternetConfigSchema.parse({})),
  /** Notifications the hub sends on its own through internet.ntfy (an approval waiting, a node or service down). */
  notify: NotifyConfigSchema.optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /**
   * The network's topology: `file` (topology.yaml) is the declared base, enriched every
   * `refreshMinutes` and on demand from each edge's get_status and, with `ansible`, from
   * `ansible PATTERN -i INVENTORY -m setup`. `docs` is a folder of Markdown served as resources.
   * Paths are relative to this config file.
   */
  topology: z
    .strictObject({
      file: z.string().min(1).optional(),
      refreshMinutes: z.number().positive().max(7 * 24 * 60).default(60),
      ansible: z
        .strictObject({
          inventory: z.string().min(1),
          // argv, never a shell; a leading "-" would read as an option.
          pattern: z.string().regex(/^(?!-)\S{1,200}$/, 'an Ansible host pattern such as all, webservers or "pi*:!pi-old"').default('all'),
          timeoutSeconds: z.number().int().min(5).max(3600).default(300),
        })
        .optional(),
      docs: z.string().min(1).optional(),
      /**
       * Open ports that are not drift: by default the common system ports (SSH, DNS, rpcbind,
       * CUPS, mDNS, LLMNR, the ephemeral range; topology/view.ts COMMON_SYSTEM_PORTS), plus
       * `ignorePorts` on every node and `nodes.<name>.ignorePorts` on one.
       */
      drift: z
        .strictObject({
          ignoreCommonPorts: z.boolean().default(true),
          ignorePorts: z.array(portSpec).default([]),
          nodes: z.record(z.string().min(1), z.strictObject({ ignorePorts: z.array(portSpec).default([]) })).default({}),
        })
        .default({ ignoreCommonPorts: true, ignorePorts: [], nodes: {} }),
    })
    .default({ refreshMinutes: 60, drift: { ignoreCommonPorts: true, ignorePorts: [], nodes: {} } }),
});

// `when`: the name checks run even when another key is wrong, so check-config lists every
// problem at once; checkNames therefore reads the value defensively.
export const HubConfigSchema = HubConfigBase.check(z.superRefine(checkNames, { when: () => true }));

/** The longest prefix (node name, upstream alias) that leaves room for a name under `maxToolName`. */
export function longestPrefix(maxToolName: number): number {
  // "<prefix>__" + at least one character + "_" + 6 hex digits (core/tool-names.ts).
  return maxToolName - 10;
}

/**
 * Names that parse one by one but not together: two nodes with one name, a node named like the
 * local node, an alias in both `upstreams` and `mcpServers`, a prefix too long for
 * `limits.maxToolName` (the catalog could not name any of its tools). Check-config, start and
 * reload all run it, so a reload that would leave the catalog unbuildable keeps the old config.
 */
const ALL = 'all';
const ALL_TAKEN = '"all" selects every node (node: all); give this node another name';

function checkNames(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  const c = (value ?? {}) as Partial<z.output<typeof HubConfigBase>>;
  // OAuth without an https issuer serves only a hub bound to loopback (tests, one machine).
  if (c.oauth?.enabled && !c.oauth.issuer && !(c.allowedHosts ?? []).length) {
    const host = typeof c.listen === 'string' ? c.listen.slice(0, c.listen.lastIndexOf(':')) : '127.0.0.1';
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
      ctx.addIssue({ code: 'custom', path: ['oauth', 'issuer'], message: `oauth.enabled needs an https issuer (oauth.issuer, or a public name in allowedHosts) when the hub listens on ${host}, not only on loopback` });
    }
  }
  const nodes = Array.isArray(c.nodes) ? c.nodes : [];
  const local = c.local && typeof c.local === 'object' ? c.local : { enabled: true, name: 'local' };
  const seen = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (typeof n?.name !== 'string') return;
    const first = seen.get(n.name);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: `"${n.name}" is already the name of nodes[${first}]; node names must be unique` });
    else seen.set(n.name, i);
    if (local.enabled !== false && n.name === (local.name ?? 'local')) {
      ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: `"${n.name}" is the name of the hub's own node (local.name); rename this node, or set local.name or local.enabled: false` });
    }
    // `node: all` is the whole fleet: a node of that name could never be named alone, and a
    // write meant for it would run everywhere.
    if (n.name === ALL) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: ALL_TAKEN });
  });
  if (local.enabled !== false && local.name === ALL) ctx.addIssue({ code: 'custom', path: ['local', 'name'], message: ALL_TAKEN });
  const maxToolName = typeof c.limits?.maxToolName === 'number' ? c.limits.maxToolName : 50;
  const max = longestPrefix(maxToolName);
  const tooLong = (what: string) => `${what} is too long for limits.maxToolName ${maxToolName} (at most ${max} characters, so that its tools can be named)`;
  const aliases = (k: 'upstreams' | 'mcpServers') => (c[k] && typeof c[k] === 'object' ? Object.keys(c[k]) : []);
  const entry = (k: 'upstreams' | 'mcpServers', alias: string) => (c[k] as Record<string, unknown> | undefined)?.[alias] as { type?: unknown; prefix?: unknown } | undefined;
  // An unprefixed upstream names nothing after its alias, so the alias has no length to fit.
  const prefixed = (k: 'upstreams' | 'mcpServers') => aliases(k).filter((a) => entry(k, a)?.prefix !== false);
  for (const key of ['upstreams', 'mcpServers'] as const) {
    for (const alias of aliases(key)) {
      if (alias.length > max && entry(key, alias)?.prefix !== false) ctx.addIssue({ code: 'custom', path: [key, alias], message: tooLong(`alias "${alias}"`) });
      if (key === 'mcpServers' && aliases('upstreams').includes(alias)) ctx.addIssue({ code: 'custom', path: [key, alias], message: `alias "${alias}" is also in upstreams; aliases must be unique` });
      // Another homelab hub always serves the hub's own session tools: without its prefix its
      // approve_writes would meet this hub's, and the model could not tell which gate it opens.
      const e = entry(key, alias);
      if (e?.type === 'hub' && e.prefix === false) {
        ctx.addIssue({ code: 'custom', path: [key, alias, 'prefix'], message: `upstream "${alias}" is another hub (type: hub), whose tools approve_writes, revoke_writes, list_nodes, ... are also this hub's own; keep its prefix (remove prefix: false)` });
      }
    }
  }
  if (c.perDeviceTools === true) {
    nodes.forEach((n, i) => {
      if (typeof n?.name === 'string' && n.name.length > max) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: tooLong(`node name "${n.name}" (perDeviceTools)`) });
    });
    // Both would name tools <name>__<tool>: one of the two sets would silently shadow the other.
    const nodeNames = [...(local.enabled !== false ? [local.name ?? 'local'] : []), ...nodes.map((n) => n?.name)];
    for (const key of ['upstreams', 'mcpServers'] as const) {
      for (const alias of prefixed(key)) {
        if (nodeNames.includes(alias)) ctx.addIssue({ code: 'custom', path: [key, alias], message: `alias "${alias}" is also the name of a node, whose tools are named ${alias}__<tool> too (perDeviceTools); rename one of them` });
      }
    }
  }
}

export type HubConfig = z.infer<typeof HubConfigSchema>;
export type UpstreamConfig = z.infer<typeof UpstreamSchema>;
