/**
 * The static list of homelab service integrations (one folder per service under src/, each set
 * up only when configured under `integrations:` in hub.yaml). Adding one: its folder, an entry
 * in `integrations` and a key in `IntegrationsConfigSchema`.
 */
import * as z from 'zod';
import { caddyIntegration, CaddyConfigSchema } from './caddy/index.ts';
import { pbsIntegration, PbsConfigSchema } from './pbs/index.ts';
import { piholeIntegration, PiholeConfigSchema } from './pihole/index.ts';
import { proxmoxIntegration, ProxmoxConfigSchema } from './proxmox/index.ts';
import { semaphoreIntegration, SemaphoreConfigSchema } from './semaphore/index.ts';
import { lokiIntegration, LokiConfigSchema } from './loki/index.ts';
import { n8nIntegration, N8nConfigSchema } from './n8n/index.ts';
import { netboxIntegration, NetboxConfigSchema } from './netbox/index.ts';
import { graylogIntegration, GraylogConfigSchema } from './graylog/index.ts';
import { prometheusIntegration, PrometheusConfigSchema } from './prometheus/index.ts';
import { cupsIntegration, CupsConfigSchema } from './cups/index.ts';
import { lyrionIntegration, LyrionConfigSchema } from './lyrion/index.ts';
import { opnsenseIntegration, OpnsenseConfigSchema } from './opnsense/index.ts';
import { synologyIntegration, SynologyConfigSchema } from './synology/index.ts';

export * from './integration.ts';
export * from './service.ts';
export * from './prometheus/index.ts';
export * from './loki/index.ts';
export * from './caddy/index.ts';
export * from './proxmox/index.ts';
export * from './pihole/index.ts';
export * from './semaphore/index.ts';
export * from './pbs/index.ts';
export * from './n8n/index.ts';
export * from './netbox/index.ts';
export * from './graylog/index.ts';
export * from './cups/index.ts';
export * from './lyrion/index.ts';
export * from './opnsense/index.ts';
export * from './synology/index.ts';
// Not in `integrations`: set up by the hub from upstreams of type home-assistant.
export * from './home-assistant/index.ts';

/** Every built-in integration; the hub sets up those whose key is configured. */
export const integrations = [prometheusIntegration, lokiIntegration, caddyIntegration, proxmoxIntegration, pbsIntegration, piholeIntegration, semaphoreIntegration, n8nIntegration, netboxIntegration, graylogIntegration, cupsIntegration, lyrionIntegration, opnsenseIntegration, synologyIntegration] as const;

/** The `integrations:` key of hub.yaml, built from each integration's own schema. */
export const IntegrationsConfigSchema = z.strictObject({
  prometheus: PrometheusConfigSchema.optional(),
  loki: LokiConfigSchema.optional(),
  caddy: CaddyConfigSchema.optional(),
  proxmox: ProxmoxConfigSchema.optional(),
  pihole: PiholeConfigSchema.optional(),
  semaphore: SemaphoreConfigSchema.optional(),
  pbs: PbsConfigSchema.optional(),
  n8n: N8nConfigSchema.optional(),
  netbox: NetboxConfigSchema.optional(),
  graylog: GraylogConfigSchema.optional(),
  cups: CupsConfigSchema.optional(),
  lyrion: LyrionConfigSchema.optional(),
  opnsense: OpnsenseConfigSchema.optional(),
  synology: SynologyConfigSchema.optional(),
});
export type IntegrationsConfig = z.output<typeof IntegrationsConfigSchema>;
