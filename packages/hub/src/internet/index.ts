/**
 * The internet tools (issue #14): http_fetch, dns_lookup, check_package_version, cve_lookup,
 * git_pull, send_notification, cloudflare_dns and cloudflare_tunnels. Each module exports its
 * tools as `xxxTools(deps)`; this list is what the hub serves when `internet.enabled`.
 */
import type { CatalogTool } from '../catalog/types.ts';
import type { InternetDeps } from './deps.ts';
import { cloudflareTools } from './cloudflare.ts';
import { fetchTools } from './fetch.ts';
import { cveTools } from './cve.ts';
import { versionTools } from './versions.ts';
import { dnsTools } from './dns.ts';
import { gitPullTools } from './git-pull.ts';
import { notifyTools } from './notify.ts';

export type { InternetDeps } from './deps.ts';

/** Every internet tool, built once; each reads `deps.config()` per call. */
export function internetTools(deps: InternetDeps): CatalogTool[] {
  return [
    ...fetchTools(deps),
    ...cloudflareTools(deps),
    ...versionTools(deps),
    ...cveTools(deps),
    ...dnsTools(deps),
    ...gitPullTools(deps),
    ...notifyTools(deps),
  ];
}
