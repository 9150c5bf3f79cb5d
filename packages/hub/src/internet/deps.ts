/**
 * What every internet tool gets from the hub. Each module of this folder exports a function
 * `xxxTools(deps: InternetDeps): CatalogTool[]`, collected by index.ts.
 */
import type { HttpClient } from '@homelab-mcp/core/http';
import type { InternetConfig, NotifyConfig } from './config.ts';

export interface InternetDeps {
  /** The configuration in force now (a reload changes it; read it per call). */
  config(): InternetConfig;
  notify(): NotifyConfig | undefined;
  /** Audited HTTP (every request an `http_request` event) for the fixed endpoints. */
  http: HttpClient;
  /** For requests made without `http` (http_fetch's own connection, git): one audit event each. */
  onHttpRequest(r: { upstream: string; method: string; url: string; status?: number; error?: string; durationMs: number; bytes?: number }): void;
  /** The hub's data dir (git_pull's clones go under DATA/git). */
  dataDir: string;
  /** Where the hub itself listens: never a destination of http_fetch. */
  hubListeners(): Array<{ address: string; port: number }>;
  /** Pi-hole instances by name, with the address of their DNS server (`10.0.0.2:53`). */
  piholeResolvers(): Record<string, string>;
  log: { info(o: Record<string, unknown>, m: string): void; warn(o: Record<string, unknown>, m: string): void };
  /** Variables hub.yaml takes as `${VAR}` (never passed to git). */
  secretVars?: readonly string[];
}
