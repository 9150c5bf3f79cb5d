/**
 * Pi-hole v6: local DNS records, blocking and statistics, for one Pi-hole or an HA pair
 * (`integrations.pihole` in hub.yaml). Reads answer per instance in parallel; writes go to every
 * instance and say what happened on each. One API session per instance, reused, renewed once on
 * 401, logged out at shutdown and reload (Pi-hole has about 16 session seats).
 *
 * @example hub.yaml
 * integrations:
 *   pihole:
 *     instances:
 *       - { name: ns1, url: "http://192.168.1.2", password: "${PIHOLE_NS1_PASSWORD}" }   # an app password
 *       - { name: ns2, url: "http://192.168.1.3", password: "${PIHOLE_NS2_PASSWORD}" }
 */
import * as z from 'zod';
import { defineIntegration, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { createPiholeClient, type PiholeClient } from './client.ts';
import { piholeTools } from './tools.ts';

export { createPiholeClient, PiholeError, MAX_PIHOLE_BYTES, type PiholeClient, type PiholeSummary } from './client.ts';
export { piholeTools, parseRecords, MAX_RECORDS, type DnsRecord } from './tools.ts';

/** The host name of a URL, lower-case, without the port; undefined when it is not a URL. */
function safeHost(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Blocklists older than this are a problem in service_health. */
export const GRAVITY_STALE_DAYS = 14;

const url = z.url({ protocol: /^https?$/, error: 'an http(s) URL of the Pi-hole web interface, e.g. http://192.168.1.2' });
const InstanceSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'a name of letters, digits, "-" and "_" (at most 32)'),
    url,
    /** The web password or, better, an app password (Settings > Web interface / API). */
    password: z.string().min(1, 'the Pi-hole (app) password'),
    ...serviceTlsShape,
  })
  .superRefine(checkOneTlsTrust);

export const PiholeConfigSchema = z
  .strictObject({
    url: url.optional(),
    password: z.string().min(1, 'the Pi-hole (app) password').optional(),
    ...serviceTlsShape,
    instances: z.array(InstanceSchema).min(1).max(8).optional(),
    timeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
  })
  .superRefine((v, ctx) => {
    if ((v.url === undefined) === (v.instances === undefined)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'set url and password (one Pi-hole) or instances (several), not both and not neither' });
    if (v.url !== undefined && v.password === undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'the Pi-hole (app) password, e.g. "${PIHOLE_PASSWORD}"' });
    if (v.instances && (v.password !== undefined || v.caFile || v.fingerprint || v.insecureTls)) ctx.addIssue({ code: 'custom', path: ['instances'], message: 'with instances, set password and TLS keys on each instance' });
    const seen = new Set<string>();
    v.instances?.forEach((i, n) => {
      if (seen.has(i.name)) ctx.addIssue({ code: 'custom', path: ['instances', n, 'name'], message: `"${i.name}" is already the name of another instance` });
      seen.add(i.name);
    });
    checkOneTlsTrust(v, ctx);
  });
export type PiholeConfig = z.output<typeof PiholeConfigSchema>;

export interface PiholeInstance extends IntegrationInstance {
  clients: PiholeClient[];
}

export const piholeIntegration = defineIntegration({
  name: 'pihole',
  configSchema: PiholeConfigSchema,
  setup(config, ctx): PiholeInstance {
    const list = config.instances ?? [{ name: 'pihole', url: config.url!, password: config.password!, caFile: config.caFile, fingerprint: config.fingerprint, insecureTls: config.insecureTls }];
    const parts = list.map((i, n) => {
      const key = config.instances ? `integrations.pihole.instances[${n}]` : 'integrations.pihole';
      const { http, close } = serviceHttp(ctx, i, key);
      const client = createPiholeClient({ name: i.name, url: i.url, password: i.password, http, timeoutMs: config.timeoutMs, passwordKey: `${key}.password` });
      // Logs in at setup (the one session it keeps) and retries in the background until it can.
      const link = createServiceLink({ label: `Pi-hole ${i.name} at ${client.host}`, credentialKey: `${key}.password`, check: async (signal) => void (await client.blocking(signal)), log: ctx.log });
      return { client, link, close };
    });
    const clients = parts.map((p) => p.client);
    return {
      name: 'pihole',
      title: 'Pi-hole',
      clients,
      tools: piholeTools(clients),
      /** "ns1 blocking, 12% blocked; ns2 blocking, 11% blocked"; disabled blocking or stale lists are problems. */
      async health(signal): Promise<IntegrationHealth> {
        const states = await Promise.all(
          parts.map(async ({ client: c, link }) => {
            try {
              await link.ready(signal);
              const [b, s] = await Promise.all([c.blocking(signal), c.summary(signal)]);
              const days = s.gravity?.last_update ? (Date.now() / 1000 - s.gravity.last_update) / 86400 : undefined;
              const problems = [...(b.blocking !== 'enabled' ? [`Pi-hole ${c.name}: blocking is ${b.blocking}${b.timer ? ` for ${b.timer} s more` : ''}`] : []), ...(days !== undefined && days > GRAVITY_STALE_DAYS ? [`Pi-hole ${c.name}: blocklists not updated for ${Math.floor(days)} days`] : [])];
              return { ok: true, line: `${c.name} ${b.blocking === 'enabled' ? 'blocking' : `blocking ${b.blocking}`}, ${(s.queries?.percent_blocked ?? 0).toFixed(0)}% blocked`, problems };
            } catch (err) {
              return { ok: false, line: `${c.name}: ${link.failed(err)}`, problems: [] as string[] };
            }
          }),
        );
        const problems = states.flatMap((s) => s.problems);
        return { ok: states.every((s) => s.ok) && !problems.length, detail: states.map((s) => s.line).join('; '), ...(problems.length ? { problems } : {}) };
      },
      /** A service that is one of the Pi-holes: by its URL's host, or by the instance's name. */
      async diagnose(service, signal): Promise<IntegrationFinding[]> {
        const host = service.url ? safeHost(service.url) : undefined;
        const matching = parts.filter(({ client: c }) => c.name.toLowerCase() === service.name.toLowerCase() || (host !== undefined && safeHost(`http://${c.host}`) === host));
        return Promise.all(
          matching.map(async ({ client: c, link }): Promise<IntegrationFinding> => {
            try {
              const b = await c.blocking(signal);
              return b.blocking === 'enabled'
                ? { check: `pi-hole ${c.name}`, status: 'ok', detail: `Pi-hole ${c.name} answers its API and blocks` }
                : { check: `pi-hole ${c.name}`, status: 'problem', detail: `Pi-hole ${c.name} has blocking ${b.blocking}${b.timer ? ` for ${b.timer} s more` : ''}`, suggestion: `Blocking is ${b.blocking} on Pi-hole ${c.name}: turn it back on in its web interface (Disable blocking / Enable), or wait for its timer.` };
            } catch (err) {
              return { check: `pi-hole ${c.name}`, status: 'problem', detail: link.failed(err), suggestion: `The Pi-hole API of ${c.name} does not answer as it should: check pihole-FTL on that host (systemctl status pihole-FTL).` };
            }
          }),
        );
      },
      // Log out of every Pi-hole (shutdown, or a reload that changed this integration).
      async close() {
        await Promise.all(
          parts.map(async (p) => {
            p.link.close();
            await p.client.close();
            await p.close();
          }),
        );
      },
    };
  },
});
