/**
 * Grafana Loki: `query_logs` (`integrations.loki` in hub.yaml). When only `audit.loki` is
 * configured, the hub uses that Loki for query_logs too; then a non-admin's query cannot select
 * the audit stream (the hub adds `job!="mcp-audit"` to its selectors; get_audit_log reads it).
 *
 * @example hub.yaml
 * integrations:
 *   loki:
 *     url: http://loki.lan:3100
 *     tenant: homelab                  # X-Scope-OrgID, for a multi-tenant Loki
 */
import * as z from 'zod';
import { defineIntegration, errorMessage, type IntegrationInstance } from '../integration.ts';
import { createLokiClient, type LokiClient } from './client.ts';
import { queryLogsTool } from './tools.ts';

export { createLokiClient, LokiError, type LokiClient, type LokiClientOptions, type LokiQuery, type LokiStream } from './client.ts';
export { queryLogsTool, nsToIso, MAX_LOG_LIMIT, DEFAULT_LOG_LIMIT, MAX_LINE_CHARS, MAX_ANSWER_CHARS } from './tools.ts';

export const LokiConfigSchema = z.strictObject({
  /** Base URL of Loki (or of a gateway in front of it; a path prefix is kept). */
  url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://loki:3100' }),
  /** `X-Scope-OrgID` when Loki runs multi-tenant (`auth_enabled: true`). */
  tenant: z.string().min(1).optional(),
  /** Sent with every request (auth of a reverse proxy); values may be `${ENV}`. */
  headers: z.record(z.string(), z.string()).optional(),
  /** Per request, in ms. */
  timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
});
export type LokiConfig = z.output<typeof LokiConfigSchema>;

export interface LokiInstance extends IntegrationInstance {
  client: LokiClient;
}

export const lokiIntegration = defineIntegration({
  name: 'loki',
  configSchema: LokiConfigSchema,
  setup(config, { http }): LokiInstance {
    const client = createLokiClient({ url: config.url, http, timeoutMs: config.timeoutMs, ...(config.tenant ? { tenant: config.tenant } : {}), ...(config.headers ? { headers: config.headers } : {}) });
    return {
      name: 'loki',
      client,
      tools: [queryLogsTool(client)],
      async health(signal) {
        try {
          return (await client.ready(signal)) ? { ok: true, detail: 'ready' } : { ok: false, detail: `Loki at ${client.host} is not ready` };
        } catch (err) {
          return { ok: false, detail: errorMessage(err) };
        }
      },
    };
  },
});
