/**
 * Prometheus: PromQL queries, alerts and scrape targets (`integrations.prometheus` in hub.yaml).
 *
 * @example hub.yaml
 * integrations:
 *   prometheus:
 *     url: http://prometheus.lan:9090
 *     headers: { Authorization: "Bearer ${PROM_TOKEN}" }   # when a proxy in front wants it
 */
import * as z from 'zod';
import { defineIntegration, errorMessage, type IntegrationInstance } from '../integration.ts';
import { createPrometheusClient, type PrometheusClient } from './client.ts';
import { alertLine, prometheusTools } from './tools.ts';

export { createPrometheusClient, PrometheusError, type PrometheusClient, type PrometheusClientOptions, type PromAlert, type PromTarget, type PromQueryResult } from './client.ts';
export { prometheusTools, MAX_QUERY_SERIES, MAX_RANGE_SERIES, MAX_RANGE_POINTS } from './tools.ts';

export const PrometheusConfigSchema = z.strictObject({
  /** Base URL of the Prometheus server (a path prefix is kept). */
  url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://prometheus:9090' }),
  /** Sent with every request (auth of a reverse proxy); values may be `${ENV}`. */
  headers: z.record(z.string(), z.string()).optional(),
  /** Per request, in ms. */
  timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
});
export type PrometheusConfig = z.output<typeof PrometheusConfigSchema>;

export interface PrometheusInstance extends IntegrationInstance {
  client: PrometheusClient;
}

export const prometheusIntegration = defineIntegration({
  name: 'prometheus',
  configSchema: PrometheusConfigSchema,
  setup(config, { http }): PrometheusInstance {
    const client = createPrometheusClient({ url: config.url, http, timeoutMs: config.timeoutMs, ...(config.headers ? { headers: config.headers } : {}) });
    return {
      name: 'prometheus',
      client,
      tools: prometheusTools(client),
      /** Ready, and how many alerts fire (each firing alert is a problem to look at). */
      async health(signal) {
        try {
          if (!(await client.ready(signal))) return { ok: false, detail: `Prometheus at ${client.host} is not ready (starting or shutting down)` };
          const alerts = await client.alerts(signal);
          const firing = alerts.filter((a) => a.state === 'firing');
          return {
            ok: true,
            detail: `ready; ${firing.length} alert${firing.length === 1 ? '' : 's'} firing`,
            ...(firing.length ? { problems: firing.slice(0, 20).map((a) => `alert ${alertLine(a)}`) } : {}),
          };
        } catch (err) {
          return { ok: false, detail: errorMessage(err) };
        }
      },
    };
  },
});
