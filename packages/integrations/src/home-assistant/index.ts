/**
 * Home Assistant's REST views, for each upstream of `type: home-assistant` in hub.yaml (not a key
 * of `integrations:`: the hub derives this config from the upstreams, see the hub's
 * integration-set.ts). HA's built-in MCP server offers control and a live context, but neither the
 * whole state list, history, the logbook nor the error log; these four read tools do, through
 * HA's REST API with the upstream's token: ha_states, ha_history, ha_logbook, ha_error_log. They
 * work whether or not the MCP side of the upstream is connected.
 *
 * @example
 * const inst = homeAssistantRestIntegration.setup({ instances: [{ alias: 'ha', url: 'http://ha.lan:8123', token, key: 'upstreams.ha' }] }, ctx);
 */
import * as z from 'zod';
import { defineIntegration, type IntegrationContext, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { createServiceLink, type ServiceLink } from '../service.ts';
import { createHaClient, HaError, type HaClient } from './client.ts';
import { homeAssistantTools } from './tools.ts';

export { createHaClient, HaError, AREA_TEMPLATE, ENTITY_ID, ERROR_LOG_TAIL_BYTES, MAX_HA_BYTES, MAX_HA_ROWS, MAX_HA_STATES_BYTES, type HaArea, type HaClient, type HaErrorLog, type HaHistoryPoint, type HaLogbookEntry, type HaState } from './client.ts';
export { homeAssistantTools, statesSummary, MAX_ERROR_LOG_CHARS, MAX_HISTORY_SHOWN, MAX_LOGBOOK_SHOWN, MAX_STATES_SHOWN, MAX_TEXT_CHARS } from './tools.ts';

export const HomeAssistantRestConfigSchema = z.strictObject({
  instances: z
    .array(
      z.strictObject({
        /** The upstream's alias: the tools' `instance`. */
        alias: z.string().min(1).max(100),
        url: z.url({ protocol: /^https?$/ }),
        token: z.string().min(1),
        /** Where it is configured, for messages: `upstreams.ha`. */
        key: z.string().min(1).max(200),
      }),
    )
    .min(1),
  timeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
});
export type HomeAssistantRestConfig = z.input<typeof HomeAssistantRestConfigSchema>;

export interface HomeAssistantRestInstance extends IntegrationInstance {
  clients: HaClient[];
}

export const homeAssistantRestIntegration = defineIntegration({
  name: 'home-assistant',
  configSchema: HomeAssistantRestConfigSchema,
  setup(config, ctx): HomeAssistantRestInstance {
    const parts = config.instances.map((i) => {
      let link: ServiceLink | undefined;
      const client = createHaClient({ alias: i.alias, url: i.url, token: i.token, http: ctx.http, timeoutMs: config.timeoutMs, tokenKey: `${i.key}.token`, onAuthRejected: () => void link?.failed({ status: 401 }) });
      link = createServiceLink({
        label: client.label,
        credentialKey: `${i.key}.token`,
        check: async (signal) => {
          try {
            await client.ping(signal);
          } catch (err) {
            // The link words it (`Home Assistant ha at HOST is unreachable: connection refused`): only the cause.
            if (err instanceof HaError && err.status === 503 && err.cause && typeof (err.cause as { detail?: unknown }).detail === 'string') throw new Error((err.cause as { detail: string }).detail);
            throw err;
          }
        },
        log: ctx.log,
      });
      return { client, link };
    });
    const clients = parts.map((p) => p.client);
    return {
      name: 'home-assistant',
      title: 'Home Assistant REST API',
      clients,
      tools: homeAssistantTools(clients),
      /** `ha at ha.lan:8123: API running` per instance. */
      async health(signal): Promise<IntegrationHealth> {
        const states = await Promise.all(
          parts.map(async ({ client, link }) => {
            try {
              await link.ready(signal);
              await client.ping(signal);
              return { ok: true, line: `${client.alias} at ${client.host}: API running` };
            } catch (err) {
              return { ok: false, line: link.failed(err) };
            }
          }),
        );
        return { ok: states.every((s) => s.ok), detail: states.map((s) => s.line).join('; ') };
      },
      close() {
        for (const p of parts) p.link.close();
      },
    };
  },
});

/** The four tools for these Home Assistants, with a health check; `close` stops its background checks. */
export function homeAssistantRestTools(instances: Array<{ alias: string; url: string; token: string; key?: string }>, ctx: IntegrationContext): HomeAssistantRestInstance {
  return homeAssistantRestIntegration.setup(HomeAssistantRestConfigSchema.parse({ instances: instances.map((i) => ({ key: `upstreams.${i.alias}`, ...i })) }), ctx);
}
