/**
 * NetBox: what the lab is documented to be, devices, VMs, addresses and prefixes
 * (`integrations.netbox` in hub.yaml). An API token, read-only: a v2 token (`nbt_<key>.<token>`,
 * NetBox 4.5 and later) or a v1 token (40 hex digits), of a user with view permission on
 * devices, virtual machines, IP addresses and prefixes, and "write enabled" off.
 *
 * @example hub.yaml
 * integrations:
 *   netbox:
 *     url: https://netbox.lan                     # NetBox's base URL; an /api suffix is accepted
 *     token: ${NETBOX_TOKEN}
 *     caFile: certs/lab-ca.pem
 */
import * as z from 'zod';
import { defineIntegration, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { createNetboxClient, type NetboxClient } from './client.ts';
import { netboxTools } from './tools.ts';

export { createNetboxClient, netboxAuthorization, NetboxError, MAX_NETBOX_BYTES, type NetboxClient, type NetboxList } from './client.ts';
export { netboxTools, project, isNetwork, NETBOX_FIELDS, DEFAULT_FIELDS } from './tools.ts';

export const NetboxConfigSchema = z
  .strictObject({
    /** NetBox's base URL: `https://netbox.lan` (an `/api` suffix is accepted). */
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://netbox.lan' }),
    /** A v2 token `nbt_<key>.<token>` (sent as Bearer) or a v1 token of 40 hex digits (sent as Token); use ${VAR} or ${file:...}. */
    token: z.string().regex(/^\S+$/, 'the API token: nbt_<key>.<token> (v2) or 40 hex digits (v1), no spaces and no "Token "/"Bearer " in front'),
    ...serviceTlsShape,
    /** Per request, in ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
  })
  .superRefine(checkOneTlsTrust);
export type NetboxConfig = z.output<typeof NetboxConfigSchema>;

export interface NetboxInstance extends IntegrationInstance {
  client: NetboxClient;
}

export const netboxIntegration = defineIntegration({
  name: 'netbox',
  configSchema: NetboxConfigSchema,
  setup(config, ctx): NetboxInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.netbox');
    const client = createNetboxClient({ url: config.url, token: config.token, http, timeoutMs: config.timeoutMs, tokenKey: 'integrations.netbox.token' });
    const label = `NetBox at ${client.host}`;
    const link = createServiceLink({ label, credentialKey: 'integrations.netbox.token', check: async (signal) => void (await client.list('dcim/devices', { brief: 'true' }, 1, signal)), log: ctx.log });
    const tools = netboxTools(client);
    const count = async (kind: string, query: Record<string, string>, signal: AbortSignal) => (await client.list(kind, { ...query, brief: 'true' }, 1, signal)).count;
    return {
      name: 'netbox',
      title: 'NetBox',
      client,
      // A tool whose token was rejected tells the link, so service_health says so too.
      tools: tools.map((t) => ({
        ...t,
        async call(args, c) {
          const r = await t.call(args, c);
          if (r.isError && /rejected the API token/.test(r.content[0]?.text ?? '')) link.failed({ status: 401 });
          return r;
        },
      })),
      /** "36 devices (33 active), 24 VMs, 89 IP addresses": what NetBox documents; healthy when it answers. */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const [devices, active, vms, ips] = await Promise.all([
            count('dcim/devices', {}, signal),
            count('dcim/devices', { status: 'active' }, signal),
            count('virtualization/virtual-machines', {}, signal),
            count('ipam/ip-addresses', {}, signal),
          ]);
          return { ok: true, detail: `${devices} devices (${active} active), ${vms} VMs, ${ips} IP addresses` };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** The device or VM NetBox has for the service's node: documented as not active is worth a look. */
      async diagnose(service, signal): Promise<IntegrationFinding[]> {
        type Row = Record<string, any>;
        let found: Array<{ o: Row; what: string }>;
        try {
          const [devices, vms] = await Promise.all([client.list<Row>('dcim/devices', { name: service.node }, 5, signal), client.list<Row>('virtualization/virtual-machines', { name: service.node }, 5, signal)]);
          found = [...devices.results.map((o) => ({ o, what: 'device' })), ...vms.results.map((o) => ({ o, what: 'VM' }))];
        } catch (err) {
          return [{ check: 'netbox', status: 'skipped', detail: `could not look up its node: ${link.failed(err)}` }];
        }
        return found.map(({ o, what }): IntegrationFinding => {
          const st = String(o.status?.value ?? 'unknown');
          const ip = o.primary_ip?.address ?? o.primary_ip4?.address;
          const detail = `NetBox documents ${service.node} as a ${what}${o.site?.name ? ` at site ${o.site.name}` : ''}, status ${st}${ip ? `, primary IP ${ip}` : ''}`;
          if (st === 'active') return { check: 'netbox', status: 'ok', detail };
          // A warning, not a problem: NetBox says what should be, not what is.
          return { check: 'netbox', status: 'warning', detail: `${detail}, not active: being retired or replaced, or NetBox is out of date` };
        });
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
