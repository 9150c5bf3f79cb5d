/**
 * `internet:` and `notify:` of hub.yaml: the tools that ask the outside world (issue #14). Each
 * block belongs to one module of this folder; the defaults are the public services, and every
 * base URL can be pointed elsewhere (`endpoints`: a mirror, or a test's fake).
 */
import * as z from 'zod';
import { parseAllowHost } from './destination.ts';
import { parseServer } from './dns-wire.ts';

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/** The public services' base URLs (no trailing slash). */
export const DEFAULT_ENDPOINTS = {
  dockerHub: 'https://hub.docker.com',
  ghcr: 'https://ghcr.io',
  npm: 'https://registry.npmjs.org',
  pypi: 'https://pypi.org',
  github: 'https://api.github.com',
  osv: 'https://api.osv.dev',
  nvd: 'https://services.nvd.nist.gov',
  cloudflare: 'https://api.cloudflare.com/client/v4',
} as const;

export const InternetConfigSchema = z.strictObject({
  /** false: none of the internet tools is served. */
  enabled: z.boolean().default(true),
  /**
   * Private destinations http_fetch may reach anyway (it refuses loopback, link-local, private and
   * ULA addresses by default, and the hub's own listeners always): host names (`nas.lan`,
   * `*.lan`), addresses or CIDR ranges (`192.168.1.0/24`), each optionally with a port so that
   * only that service is allowed (`10.0.0.5:8080`, `[fd00::5]:443`). See destination.ts.
   */
  allowHosts: z
    .array(
      z
        .string()
        .min(1)
        .max(260)
        .superRefine((v, ctx) => {
          const p = parseAllowHost(v);
          if (typeof p === 'string') ctx.addIssue({ code: 'custom', message: p });
        }),
    )
    .default([]),
  endpoints: z
    .strictObject({
      dockerHub: httpUrl.default(DEFAULT_ENDPOINTS.dockerHub),
      ghcr: httpUrl.default(DEFAULT_ENDPOINTS.ghcr),
      npm: httpUrl.default(DEFAULT_ENDPOINTS.npm),
      pypi: httpUrl.default(DEFAULT_ENDPOINTS.pypi),
      github: httpUrl.default(DEFAULT_ENDPOINTS.github),
      osv: httpUrl.default(DEFAULT_ENDPOINTS.osv),
      nvd: httpUrl.default(DEFAULT_ENDPOINTS.nvd),
      cloudflare: httpUrl.default(DEFAULT_ENDPOINTS.cloudflare),
    })
    .default({ ...DEFAULT_ENDPOINTS }),
  /** API tokens; each optional (DOCKERHUB_TOKEN, GITHUB_TOKEN and NVD_API_KEY from the environment are used when these are not set). */
  tokens: z
    .strictObject({
      dockerHub: z.string().min(1).optional(),
      github: z.string().min(1).optional(),
      nvd: z.string().min(1).optional(),
    })
    .default({}),
  /** http_fetch's bounds. */
  fetch: z
    .strictObject({
      maxBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
      timeoutMs: z.number().int().min(1000).max(300_000).default(20_000),
      maxRedirects: z.number().int().min(0).max(10).default(5),
    })
    .default({ maxBytes: 256 * 1024, timeoutMs: 20_000, maxRedirects: 5 }),
  /** Named resolvers for dns_lookup's `server` (besides addresses and Pi-hole instance names): `{ lan: "10.0.0.53", quad9: "9.9.9.9:53" }`. */
  dns: z
    .strictObject({
      resolvers: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$/, 'a name such as lan or quad9'), z.string().min(1).max(300).refine((s) => parseServer(s) !== undefined, 'an address: 10.0.0.53, 10.0.0.53:5353 or [::1]:53')).default({}),
      timeoutMs: z.number().int().min(500).max(60_000).default(5000),
      /** Whether `server: "all"` also asks the hub's own resolver (/etc/resolv.conf). */
      includeSystem: z.boolean().default(true),
    })
    .default({ resolvers: {}, timeoutMs: 5000, includeSystem: true }),
  /** git_pull: clones live under `dir` (default DATA/git), never outside it. */
  git: z
    .strictObject({
      /** Relative to the data dir; default DATA/git. */
      dir: z.string().min(1).optional(),
      /** file:// URLs and local paths: off, since a caller could copy any repository the hub can read. */
      allowLocal: z.boolean().default(false),
      timeoutSeconds: z.number().int().min(5).max(3600).default(300),
      maxMegabytes: z.number().int().min(1).max(100_000).default(1024),
      /** The key for ssh URLs; host keys in `knownHosts` (first contact refused with the fingerprint). */
      sshKey: z.string().min(1).optional(),
      knownHosts: z.array(z.string().regex(/^\S+ (ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+( .*)?$/, 'a known_hosts line: HOST KEYTYPE BASE64KEY')).default([]),
      /** https credentials per host: `{ host: github.com, username: x-access-token, token: ${GITHUB_TOKEN} }`; a host without a port is its https on 443 only, `git.lan:3000` that service over http or https. */
      credentials: z.array(z.strictObject({ host: z.string().min(1), username: z.string().min(1).default('x-access-token'), token: z.string().min(1) })).default([]),
    })
    .default({ allowLocal: false, timeoutSeconds: 300, maxMegabytes: 1024, knownHosts: [], credentials: [] }),
  /** ntfy for send_notification (and `notify:`): a self-hosted or ntfy.sh server. */
  ntfy: z.strictObject({ url: httpUrl, topic: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an ntfy topic: letters, digits, _ and -'), token: z.string().min(1).optional() }).optional(),
  /** Cloudflare API token (Zone:DNS:Edit for writes, Zone:Read, and Account:Cloudflare Tunnel:Read for tunnels). */
  cloudflare: z.strictObject({ token: z.string().min(1), accountId: z.string().regex(/^[0-9a-f]{32}$/, 'a Cloudflare account id (32 hex digits)').optional() }).optional(),
});
export type InternetConfig = z.output<typeof InternetConfigSchema>;

/** What the hub tells the person on its own, through internet.ntfy. */
export const NotifyConfigSchema = z.strictObject({
  on: z.array(z.enum(['approval_pending', 'node_down', 'service_down'])).default(['approval_pending', 'node_down', 'service_down']),
  /** The same event for the same thing at most this often. */
  minIntervalSeconds: z.number().int().min(0).max(86_400).default(300),
  /** How often the built-in integrations (Proxmox, Pi-hole, ...) are checked for service_down; edges and native MCP servers are watched all the time. */
  checkSeconds: z.number().int().min(1).max(86_400).default(300),
});
export type NotifyConfig = z.output<typeof NotifyConfigSchema>;
