/**
 * The internet tools (issue #14): http_fetch, dns_lookup, check_package_version, cve_lookup,
 * git_pull, send_notification, cloudflare_dns and cloudflare_tunnels. Each module exports its
 * tools as `xxxTools(deps)`; this list is what the hub serves when `internet.enabled`.
 */
import type { CatalogTool } from '../catalog/types.ts';
import type { InternetDeps } from './deps.ts';
import { dnsTools } from './dns.ts';
import { gitPullTools } from './git-pull.ts';
import { notifyTools } from './notify.ts';

export type { InternetDeps } from './deps.ts';

/** Every internet tool, built once; each reads `deps.config()` per call. */
export function internetTools(deps: InternetDeps): CatalogTool[] {
  void deps;
  return [
    // one line per module: ...fetchTools(deps),
    ...dnsTools(deps),
    ...gitPullTools(deps),
    ...notifyTools(deps),
  ];
}
