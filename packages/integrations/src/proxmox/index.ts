/**
 * Proxmox VE: the cluster's nodes, guests and storage, and power actions on guests
 * (`integrations.proxmox` in hub.yaml). An API token, no password: read tools need the
 * `PVEAuditor` role on `/`; the guest_* writes need `VM.PowerMgmt` (the `PVEVMUser` role) too.
 *
 * @example hub.yaml
 * integrations:
 *   proxmox:
 *     url: https://pve1.lan:8006                  # any node of the cluster
 *     tokenId: homelab@pve!mcp                    # USER@REALM!TOKENID
 *     token: ${PVE_TOKEN}                         # the token's secret
 *     fingerprint: "AB:CD:..."                    # Proxmox's self-signed certificate, pinned
 */
import * as z from 'zod';
import { defineIntegration, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { createProxmoxClient, type ProxmoxClient } from './client.ts';
import { proxmoxTools } from './tools.ts';

export { createProxmoxClient, ProxmoxError, upidNode, MAX_PVE_BYTES, type ProxmoxClient, type PveResource, type PveTaskStatus } from './client.ts';
export { proxmoxTools, configAddresses, liveAddresses, MAX_GUESTS, TASK_LOG_LINES, type GuestAddress } from './tools.ts';

export const ProxmoxConfigSchema = z
  .strictObject({
    /** Any node of the cluster: `https://pve.lan:8006` (a `/api2/json` suffix is accepted). */
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://pve.lan:8006' }),
    /** `USER@REALM!TOKENID`, as Proxmox shows it when the token is made. */
    tokenId: z.string().regex(/^[^\s@!=]+@[^\s@!=]+![A-Za-z][A-Za-z0-9._-]*$/, 'USER@REALM!TOKENID, e.g. homelab@pve!mcp'),
    /** The token's secret (a UUID); use ${VAR} or ${file:...}. */
    token: z.string().min(1, 'the API token secret'),
    ...serviceTlsShape,
    /** Per request, in ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
    /** How long a guest_* write waits for its task before answering with its id. */
    taskWaitSeconds: z.number().int().min(0).max(600).default(60),
  })
  .superRefine(checkOneTlsTrust);
export type ProxmoxConfig = z.output<typeof ProxmoxConfigSchema>;

export interface ProxmoxInstance extends IntegrationInstance {
  client: ProxmoxClient;
}

export const proxmoxIntegration = defineIntegration({
  name: 'proxmox',
  configSchema: ProxmoxConfigSchema,
  setup(config, ctx): ProxmoxInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.proxmox');
    const client = createProxmoxClient({ url: config.url, tokenId: config.tokenId, token: config.token, http, timeoutMs: config.timeoutMs, tokenKey: 'integrations.proxmox.token' });
    const label = `Proxmox at ${client.host}`;
    const link = createServiceLink({ label, credentialKey: 'integrations.proxmox.token', check: async (signal) => void (await client.get('/version', undefined, signal)), log: ctx.log });
    const tools = proxmoxTools(client, { taskWaitMs: config.taskWaitSeconds * 1000 });
    return {
      name: 'proxmox',
      title: 'Proxmox',
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
      /** "4 nodes (3 online), 48 guests (38 running)"; an offline node is a problem. */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const all = await client.resources(undefined, signal);
          const nodes = all.filter((r) => r.type === 'node');
          const guests = all.filter((r) => (r.type === 'qemu' || r.type === 'lxc') && r.template !== 1);
          const offline = nodes.filter((n) => n.status !== 'online');
          return {
            ok: !offline.length,
            detail: `${nodes.length} nodes (${nodes.length - offline.length} online), ${guests.length} guests (${guests.filter((g) => g.status === 'running').length} running)`,
            ...(offline.length ? { problems: offline.map((n) => `Proxmox node ${n.node} is ${n.status ?? 'unknown'}`) } : {}),
          };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** The guest a service runs in: named like the service or like its node (an LXC "n8n" holding service n8n). */
      async diagnose(service, signal): Promise<IntegrationFinding[]> {
        const names = new Set([service.name.toLowerCase(), service.node.toLowerCase()]);
        let guests;
        try {
          guests = (await client.resources('vm', signal)).filter((r) => (r.type === 'qemu' || r.type === 'lxc') && r.template !== 1 && r.name && names.has(r.name.toLowerCase()));
        } catch (err) {
          return [{ check: 'proxmox', status: 'skipped', detail: `could not look for its guest: ${link.failed(err)}` }];
        }
        return guests.map((g): IntegrationFinding => {
          const what = `${g.type === 'lxc' ? 'LXC' : 'VM'} ${g.vmid} (${g.name}) on Proxmox node ${g.node}`;
          if (g.status === 'running') return { check: 'proxmox guest', status: 'ok', detail: `${what} is running` };
          return {
            check: 'proxmox guest',
            status: 'problem',
            detail: `${what} is ${g.status ?? 'in an unknown state'}${g.lock ? ` (locked: ${g.lock})` : ''}`,
            suggestion: g.status === 'stopped' ? `Its Proxmox guest is stopped: start it with guest_start(vmid: ${g.vmid}) (a write that needs approval), then look at why it stopped (get_guest).` : `Its Proxmox guest is ${g.status ?? 'unknown'}: the node ${g.node} may be offline (node_status).`,
          };
        });
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
