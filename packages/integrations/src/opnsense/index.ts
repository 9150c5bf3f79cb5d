/**
 * OPNsense, the firewall (`integrations.opnsense` in hub.yaml): its firmware and system status,
 * interfaces and firewall filter rules, and two writes (create a rule, enable/disable one), each
 * applied at once and read back. Auth is an API key and secret (System > Access > Users > API
 * keys), sent as HTTP Basic. OPNsense ships a self-signed certificate: pin it (`fingerprint`) or
 * name its CA (`caFile`).
 *
 * @example hub.yaml
 * integrations:
 *   opnsense:
 *     url: https://fw.lan
 *     key: ${OPNSENSE_KEY}
 *     secret: ${OPNSENSE_SECRET}
 *     fingerprint: "AB:CD:..."
 */
import * as z from 'zod';
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError } from '@homelab-mcp/core/http';
import { defineIntegration, type DiagnosedService, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { createOpnsenseClient, OpnsenseError, type OpnFirmware, type OpnsenseClient } from './client.ts';
import { opnsenseTools } from './tools.ts';

export { createOpnsenseClient, OpnsenseError, OpnsenseValidationError, MAX_OPNSENSE_BYTES, MAX_RULES_READ, MAX_INTERFACES, UUID_RE, type OpnsenseClient, type OpnRule, type OpnNewRule, type OpnFirmware, type OpnInterface, type OpnSystem } from './client.ts';
export { opnsenseTools, ruleText, CreateRuleArgs, NO_ROLLBACK } from './tools.ts';

export const OpnsenseConfigSchema = z
  .strictObject({
    /** The web GUI's address: `https://fw.lan` (or `https://fw.lan:8443` when moved). */
    url: z.url({ protocol: /^https?$/, error: 'the OPNsense web GUI address, e.g. https://fw.lan' }),
    /** The API key (System > Access > Users > API keys); use ${VAR} or ${file:...}. */
    key: z.string().min(1).max(200),
    /** The API secret that goes with the key; use ${VAR} or ${file:...}. */
    secret: z.string().min(1).max(200),
    ...serviceTlsShape,
    /** Per request, in ms; `apply` reloads pf and may take a few seconds on a big rule set. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
  })
  .superRefine(checkOneTlsTrust);
export type OpnsenseConfig = z.output<typeof OpnsenseConfigSchema>;

export interface OpnsenseInstance extends IntegrationInstance {
  client: OpnsenseClient;
}

/** `3 updates available, needs a reboot`, `up to date`, `no update check yet`. */
export function updatesText(fw: OpnFirmware): string {
  if (fw.status === 'unknown') return 'no update check yet';
  if (fw.status === 'error') return `update check failed${fw.message ? `: ${fw.message}` : ''}`;
  if (!fw.updates) return 'up to date';
  return `${fw.updates} ${fw.status === 'upgrade' ? (fw.updates === 1 ? 'upgrade set' : 'upgrade sets') : fw.updates === 1 ? 'update' : 'updates'} available${fw.needsReboot ? ', needs a reboot' : ''}`;
}

export const opnsenseIntegration = defineIntegration({
  name: 'opnsense',
  configSchema: OpnsenseConfigSchema,
  setup(config, ctx): OpnsenseInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.opnsense');
    // A tool's request that OPNsense refuses for its key tells the link, so service_health says so too.
    let onAuthRejected: () => void = () => undefined;
    const client = createOpnsenseClient({ url: config.url, key: config.key, secret: config.secret, http, timeoutMs: config.timeoutMs, onAuthRejected: () => onAuthRejected() });
    const link = createServiceLink({
      label: `OPNsense at ${client.host}`,
      credentialKey: 'integrations.opnsense.key and integrations.opnsense.secret',
      check: async (signal) => {
        try {
          await client.firmware(signal);
        } catch (err) {
          // The link words it (`OPNsense at HOST is unreachable: connection refused`): only the cause.
          if (err instanceof OpnsenseError && err.status === 503 && isHttpError(err.cause)) throw new Error(err.cause.detail);
          throw err;
        }
      },
      log: ctx.log,
    });
    onAuthRejected = () => void link.failed({ status: 401 });
    const ready = async (signal: AbortSignal) => {
      // A refused key is the link's answer (naming the config keys); an unreachable firewall is
      // the request's own, so a firewall that came back is used at once.
      if (link.state().status !== 'auth failed') return;
      try {
        await link.ready(signal);
      } catch (err) {
        // The link's own words (`OPNsense at HOST rejected the credential (integrations.opnsense.key ...)`).
        throw new HomelabError('AUTH_REJECTED', err instanceof Error ? err.message : String(err));
      }
    };
    return {
      name: 'opnsense',
      title: 'OPNsense',
      client,
      tools: opnsenseTools(client, { ready }),
      /** "OPNsense 26.1.2 at fw.lan: 3 updates available". */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const fw = await client.firmware(signal);
          const problems = fw.status === 'error' ? [`OPNsense's update check failed: ${fw.message || 'no reason given'}`] : fw.needsReboot ? ['OPNsense has updates that need a reboot'] : [];
          return { ok: true, detail: `${fw.product} ${fw.version} at ${client.host}: ${updatesText(fw)}`, ...(problems.length ? { problems } : {}) };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** A service named opnsense, firewall, fw or router, or at OPNsense's host. */
      async diagnose(service: DiagnosedService, signal): Promise<IntegrationFinding[]> {
        let host: string | undefined;
        try {
          host = service.url ? new URL(service.url).host : undefined;
        } catch {
          host = undefined;
        }
        if (!/^(opnsense|firewall|fw)$/i.test(service.name) && host !== client.host) return [];
        try {
          const fw = await client.firmware(signal);
          return [
            fw.status === 'error'
              ? { check: 'opnsense', status: 'warning', detail: `OPNsense ${fw.version} answers, but its update check failed: ${fw.message}`, suggestion: 'Check the firewall reaches its update mirror (System > Firmware > Settings).' }
              : { check: 'opnsense', status: 'ok', detail: `OPNsense ${fw.version} answers: ${updatesText(fw)}` },
          ];
        } catch (err) {
          return [{ check: 'opnsense', status: 'problem', detail: link.failed(err), suggestion: 'Check that the OPNsense web GUI is reachable from the hub and the API key is valid (System > Access > Users).' }];
        }
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
