/**
 * Graylog: log search, streams, and the cluster's health (`integrations.graylog` in hub.yaml).
 * An access token (System > Users > Edit tokens) of a user with the Reader role and read access
 * to the streams to search; the tools only read.
 *
 * @example hub.yaml
 * integrations:
 *   graylog:
 *     url: https://graylog.lan:9000               # an /api suffix is accepted
 *     token: ${GRAYLOG_TOKEN}
 */
import * as z from 'zod';
import { defineIntegration, type DiagnosedService, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { createGraylogClient, type GraylogClient } from './client.ts';
import { graylogOverview, graylogTools, overviewProblems } from './tools.ts';

export { createGraylogClient, GraylogError, MAX_GRAYLOG_BYTES, type GraylogClient } from './client.ts';
export { graylogTools, graylogOverview, overviewProblems, MESSAGE_CHARS, type GraylogOverview, type GraylogStream } from './tools.ts';

export const GraylogConfigSchema = z
  .strictObject({
    /** Graylog's web/API address: `https://graylog.lan:9000` (an `/api` suffix is accepted). */
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://graylog.lan:9000' }),
    /** An access token (sent as Basic `<token>:token`); use ${VAR} or ${file:...}. */
    token: z.string().regex(/^\S+$/, 'the access token, no spaces'),
    ...serviceTlsShape,
    /** Per request, in ms (a search over days can take a while). */
    timeoutMs: z.number().int().min(1000).max(300_000).default(30_000),
  })
  .superRefine(checkOneTlsTrust);
export type GraylogConfig = z.output<typeof GraylogConfigSchema>;

export interface GraylogInstance extends IntegrationInstance {
  client: GraylogClient;
}

/** Whether a topology service is this Graylog: named graylog, or its URL at Graylog's host and port (a Docker host runs many services). */
function isGraylogService(service: DiagnosedService, url: URL): boolean {
  if (/(^|[^a-z0-9])graylog([^a-z0-9]|$)/i.test(service.name)) return true;
  if (!service.url) return false;
  try {
    return new URL(service.url).host.toLowerCase() === url.host.toLowerCase();
  } catch {
    return false;
  }
}

export const graylogIntegration = defineIntegration({
  name: 'graylog',
  configSchema: GraylogConfigSchema,
  setup(config, ctx): GraylogInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.graylog');
    const client = createGraylogClient({ url: config.url, token: config.token, http, timeoutMs: config.timeoutMs, tokenKey: 'integrations.graylog.token' });
    const label = `Graylog at ${client.host}`;
    const link = createServiceLink({ label, credentialKey: 'integrations.graylog.token', check: async (signal) => void (await client.get('/system', undefined, signal)), log: ctx.log });
    const tools = graylogTools(client);
    return {
      name: 'graylog',
      title: 'Graylog',
      client,
      // A tool whose token was rejected tells the link, so service_health says so too.
      tools: tools.map((t) => ({
        ...t,
        async call(args, c) {
          const r = await t.call(args, c);
          if (r.isError && /rejected the access token/.test(r.content[0]?.text ?? '')) link.failed({ status: 401 });
          return r;
        },
      })),
      /** "42 msg/s, indexer green, 2 indexing failures in 24 h"; a non-green indexer, failures and urgent notifications are problems. */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const o = await graylogOverview(client, signal);
          const problems = overviewProblems(o);
          return {
            ok: !problems.length,
            detail: `${o.throughput} msg/s, indexer ${o.indexer}, ${o.failures24h} indexing failure${o.failures24h === 1 ? '' : 's'} in 24 h`,
            ...(problems.length ? { problems } : {}),
          };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** A service named graylog, or on Graylog's host: does the API answer, and is the indexer healthy. */
      async diagnose(service, signal): Promise<IntegrationFinding[]> {
        if (!isGraylogService(service, new URL(config.url))) return [];
        try {
          await link.ready(signal);
          const o = await graylogOverview(client, signal);
          const problems = overviewProblems(o);
          const detail = `Graylog API answers; ${o.throughput} msg/s, indexer ${o.indexer}, ${o.failures24h} indexing failures in 24 h`;
          if (!problems.length) return [{ check: 'graylog', status: 'ok', detail }];
          return [{ check: 'graylog', status: 'problem', detail: `${detail}: ${problems.join('; ')}`, suggestion: 'graylog_overview shows the cluster; a yellow or red indexer means OpenSearch lost shards or disk space.' }];
        } catch (err) {
          return [{ check: 'graylog', status: 'problem', detail: link.failed(err) }];
        }
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
