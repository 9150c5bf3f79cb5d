/**
 * Synology DSM (`integrations.synology` in hub.yaml), through its Web API: the NAS's health
 * (volumes, storage pools, disks with SMART, CPU and memory), its shared folders, and their
 * snapshots (list, and take one: a write). One session, reused, renewed once when DSM ends it,
 * logged out at shutdown and reload.
 *
 * The account: a DSM user in the administrators group (storage and snapshot APIs need it),
 * best one made for the hub. With 2-step verification on, the hub never asks for a code: it
 * logs in with a device token got once (`homelab-hub synology-device-token`, see the README).
 *
 * @example hub.yaml
 * integrations:
 *   synology:
 *     url: https://nas.lan:5001
 *     username: hub
 *     password: ${SYNOLOGY_PASSWORD}
 *     deviceToken: ${SYNOLOGY_DEVICE_TOKEN}   # only with 2-step verification
 *     fingerprint: "AB:CD:..."                 # DSM's self-signed certificate, pinned
 */
import * as z from 'zod';
import { defineIntegration, type DiagnosedService, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { createDsmClient, DsmError, type DsmClient } from './client.ts';
import { healthProblems, healthSummary, synologyTools } from './tools.ts';

export { createDsmClient, requestDsmDeviceToken, snapshotTime, DsmError, MAX_DSM_BYTES, LOGIN_HOLD_MS, type DsmClient, type DsmDisk, type DsmShare, type DsmSnapshot, type DsmStorage, type DsmSystem, type DsmUtilization, type DsmVolume, type DsmPool } from './client.ts';
export { synologyTools, healthSummary, healthProblems, findShare, formatBytes, SHARE_ARG } from './tools.ts';

/** The device name the hub logs in with, unless configured: the name a device token is issued for. */
export const DEFAULT_DSM_DEVICE_NAME = 'homelab-hub';

export const SynologyConfigSchema = z
  .strictObject({
    /** DSM's web address: `https://nas.lan:5001` (HTTPS; `http://nas.lan:5000` sends the password in clear). */
    url: z.url({ protocol: /^https?$/, error: 'the DSM web address, e.g. https://nas.lan:5001' }),
    /** A DSM account in the administrators group, best one made for the hub. */
    username: z.string().min(1).max(64),
    /** Use ${VAR} or ${file:...}. */
    password: z.string().min(1, 'the DSM password, e.g. "${SYNOLOGY_PASSWORD}"').max(256),
    /** With 2-step verification: the `did` from `homelab-hub synology-device-token`. */
    deviceToken: z.string().min(8).max(512).optional(),
    /** The device name the token was issued for (the command's --device-name). */
    deviceName: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, 'letters, digits, space, ".", "_" and "-", at most 64')
      .default(DEFAULT_DSM_DEVICE_NAME),
    ...serviceTlsShape,
    /** Per request, in ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
  })
  .superRefine(checkOneTlsTrust);
export type SynologyConfig = z.output<typeof SynologyConfigSchema>;

export interface SynologyInstance extends IntegrationInstance {
  client: DsmClient;
}

/** The link's words, except for our own errors, whose words name the key and what to do. */
const detailOf = (err: unknown, linkWords: string): string => (err instanceof DsmError ? err.message : linkWords);

export const synologyIntegration = defineIntegration({
  name: 'synology',
  configSchema: SynologyConfigSchema,
  setup(config, ctx): SynologyInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.synology');
    if (new URL(config.url).protocol === 'http:') ctx.log.warn({ key: 'integrations.synology.url' }, 'integrations.synology.url is http: the DSM password and session travel in clear; prefer https://...:5001');
    let onAuthRejected: () => void = () => undefined;
    const client = createDsmClient({ url: config.url, username: config.username, password: config.password, deviceToken: config.deviceToken, deviceName: config.deviceName, http, timeoutMs: config.timeoutMs, onAuthRejected: () => onAuthRejected() });
    const link = createServiceLink({
      label: client.label,
      credentialKey: 'integrations.synology.password',
      // Logs in (the one session it keeps) and asks one cheap thing.
      check: async (signal) => {
        await client.system(signal);
      },
      log: ctx.log,
    });
    onAuthRejected = () => void link.failed({ status: 401 });
    return {
      name: 'synology',
      title: 'Synology DSM',
      client,
      tools: synologyTools(client),
      /** "2 volumes normal, 1 degraded; 4 disks, 1 SMART warning; CPU 7%, memory 41%". */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal).catch(() => undefined);
          const [storage, util] = await Promise.all([client.storage(signal), client.utilization(signal).catch(() => undefined)]);
          const problems = healthProblems(storage);
          return { ok: problems.length === 0, detail: healthSummary(storage, util), ...(problems.length ? { problems } : {}) };
        } catch (err) {
          return { ok: false, detail: detailOf(err, link.failed(err)) };
        }
      },
      /** A service named synology, dsm, nas or diskstation (or at DSM's host and port). */
      async diagnose(service: DiagnosedService, signal): Promise<IntegrationFinding[]> {
        let host: string | undefined;
        try {
          host = service.url ? new URL(service.url).host : undefined;
        } catch {
          host = undefined;
        }
        if (!/^(synology|dsm|nas|diskstation)([-_].*)?$/i.test(service.name) && host !== client.host) return [];
        try {
          const storage = await client.storage(signal);
          const problems = healthProblems(storage);
          const summary = healthSummary(storage, undefined);
          return [problems.length ? { check: 'synology', status: 'problem', detail: `${client.label}: ${summary}: ${problems.join('; ')}`, suggestion: 'Open Storage Manager in DSM: repair the volume or pool, replace the disk that SMART warns about.' } : { check: 'synology', status: 'ok', detail: `${client.label}: ${summary}` }];
        } catch (err) {
          return [{ check: 'synology', status: 'problem', detail: detailOf(err, link.failed(err)), suggestion: 'Check that DSM runs and its HTTPS port (5001) is reachable from the hub, and the account in integrations.synology.' }];
        }
      },
      async close() {
        link.close();
        await client.close();
        await close();
      },
    };
  },
});
