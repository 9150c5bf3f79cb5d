/**
 * Caddy: what each instance serves, read from its admin API (`integrations.caddy` in hub.yaml).
 * One instance (`url`) or an HA pair (`instances`); read tools answer per instance, in parallel.
 *
 * @example hub.yaml
 * integrations:
 *   caddy:
 *     instances:
 *       - { name: proxy1, url: "http://proxy1.lan:2019" }   # the admin API (Caddy's `admin.listen`)
 *       - { name: proxy2, url: "http://proxy2.lan:2019" }
 */
import * as z from 'zod';
import { defineIntegration, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape, type ServiceLink } from '../service.ts';
import { createCaddyClient, type CaddyClient } from './client.ts';
import { caddyTools, sitesOf } from './tools.ts';

export { createCaddyClient, CADDY_PATH, MAX_CADDY_BYTES, type CaddyClient, type CaddyUpstream } from './client.ts';
export { caddyTools, redactCaddyConfig, sitesOf, MAX_SITES, MAX_CONFIG_CHARS, type CaddySite } from './tools.ts';

const url = z.url({ protocol: /^https?$/, error: 'an http(s) URL of the admin API, e.g. http://proxy.lan:2019' });
const InstanceSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'a name of letters, digits, "-" and "_" (at most 32)'),
    url,
    /** Sent with every request (a reverse proxy's auth in front of a remote admin API). */
    headers: z.record(z.string(), z.string()).optional(),
    ...serviceTlsShape,
  })
  .superRefine(checkOneTlsTrust);

export const CaddyConfigSchema = z
  .strictObject({
    /** One instance: its admin API. */
    url: url.optional(),
    headers: z.record(z.string(), z.string()).optional(),
    ...serviceTlsShape,
    /** Several instances, each with a name. */
    instances: z.array(InstanceSchema).min(1).max(16).optional(),
    /** Per request, in ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
  })
  .superRefine((v, ctx) => {
    if ((v.url === undefined) === (v.instances === undefined)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'set url (one Caddy) or instances (several), not both and not neither' });
    if (v.instances && (v.headers || v.caFile || v.fingerprint || v.insecureTls)) ctx.addIssue({ code: 'custom', path: ['instances'], message: 'with instances, set headers and TLS keys on each instance' });
    const seen = new Set<string>();
    v.instances?.forEach((i, n) => {
      if (seen.has(i.name)) ctx.addIssue({ code: 'custom', path: ['instances', n, 'name'], message: `"${i.name}" is already the name of another instance` });
      seen.add(i.name);
    });
    checkOneTlsTrust(v, ctx);
  });
export type CaddyConfig = z.output<typeof CaddyConfigSchema>;

export interface CaddyInstance extends IntegrationInstance {
  clients: CaddyClient[];
}

export const caddyIntegration = defineIntegration({
  name: 'caddy',
  configSchema: CaddyConfigSchema,
  setup(config, ctx): CaddyInstance {
    const list = config.instances ?? [{ name: 'caddy', url: config.url!, headers: config.headers, caFile: config.caFile, fingerprint: config.fingerprint, insecureTls: config.insecureTls }];
    const parts = list.map((i, n) => {
      const key = config.instances ? `integrations.caddy.instances[${n}]` : 'integrations.caddy';
      const { http, close } = serviceHttp(ctx, i, key);
      const client = createCaddyClient({ name: i.name, url: i.url, http, timeoutMs: config.timeoutMs, ...(i.headers ? { headers: i.headers } : {}) });
      const link: ServiceLink = createServiceLink({
        label: `Caddy ${i.name} at ${client.host}`,
        credentialKey: `${key}.headers`,
        check: async (signal) => void (await client.config('apps', signal).catch((err: { status?: number }) => (err.status === 400 ? null : Promise.reject(err)))),
        log: ctx.log,
      });
      return { client, link, close };
    });
    return {
      name: 'caddy',
      title: 'Caddy',
      clients: parts.map((p) => p.client),
      tools: caddyTools(parts.map((p) => p.client)),
      /** Each instance reachable; an upstream with recent failures is a problem. */
      async health(signal): Promise<IntegrationHealth> {
        const states = await Promise.all(
          parts.map(async ({ client, link }) => {
            try {
              await link.ready(signal);
              const failing = (await client.upstreams(signal)).filter((u) => u.fails > 0);
              return { ok: true, line: `${client.name} ready${failing.length ? `, ${failing.length} upstream${failing.length === 1 ? '' : 's'} failing` : ''}`, problems: failing.map((u) => `Caddy ${client.name}: upstream ${u.address} has ${u.fails} recent failed request${u.fails === 1 ? '' : 's'}`) };
            } catch (err) {
              return { ok: false, line: `${client.name}: ${link.failed(err)}`, problems: [] as string[] };
            }
          }),
        );
        const problems = states.flatMap((s) => s.problems);
        return { ok: states.every((s) => s.ok) && !problems.length, detail: states.map((s) => s.line).join('; '), ...(problems.length ? { problems } : {}) };
      },
      /** The Caddy routes in front of a service: those whose hosts include its URL's host name. */
      async diagnose(service, signal): Promise<IntegrationFinding[]> {
        let host: string | undefined;
        try {
          host = service.url ? new URL(service.url).hostname.toLowerCase() : undefined;
        } catch {
          host = undefined;
        }
        if (!host) return [];
        const out: IntegrationFinding[] = [];
        await Promise.all(
          parts.map(async ({ client, link }) => {
            try {
              const [servers, ups] = await Promise.all([client.config('apps/http/servers', signal).catch((err: { status?: number }) => (err.status === 400 ? null : Promise.reject(err))), client.upstreams(signal)]);
              for (const site of sitesOf(servers).filter((x) => x.hosts.some((h) => h.toLowerCase() === host))) {
                const failing = site.upstreams.map((a) => ups.find((u) => u.address === a)).filter((u) => u && u.fails > 0);
                out.push(
                  failing.length
                    ? { check: `caddy ${client.name}`, status: 'problem', detail: `Caddy ${client.name} routes ${host} to ${site.upstreams.join(', ')}; ${failing.map((u) => `${u!.address} failed ${u!.fails} recent request${u!.fails === 1 ? '' : 's'}`).join(', ')}`, suggestion: `Caddy ${client.name} cannot reach the upstream of ${host} (${failing.map((u) => u!.address).join(', ')}): visitors get 502 until ${service.name} answers there.` }
                    : { check: `caddy ${client.name}`, status: 'ok', detail: `Caddy ${client.name} routes ${host} to ${site.upstreams.join(', ') || site.handlers.join('; ')}, no recent failures` },
                );
              }
            } catch (err) {
              out.push({ check: `caddy ${client.name}`, status: 'skipped', detail: `could not read its routes: ${link.failed(err)}` });
            }
          }),
        );
        return out;
      },
      async close() {
        for (const p of parts) p.link.close();
        await Promise.all(parts.map((p) => p.close()));
      },
    };
  },
});
