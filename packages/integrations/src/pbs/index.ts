/**
 * Proxmox Backup Server: datastores, the last backup of every guest, and failed tasks
 * (`integrations.pbs` in hub.yaml). Read-only: an API token with the `Audit` role on `/`
 * (Datastore.Audit and Sys.Audit; DatastoreAudit alone misses the task list).
 *
 * @example hub.yaml
 * integrations:
 *   pbs:
 *     url: https://pbs.lan:8007
 *     tokenId: homelab@pbs!mcp
 *     token: ${PBS_TOKEN}
 *     fingerprint: "AB:CD:..."
 */
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient } from '@homelab-mcp/core/http';
import * as z from 'zod';
import { defineIntegration, defineTool, textResult, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance, type IntegrationTool } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';

const MAX_BYTES = 8 * 1024 * 1024;
/** Tasks listed at most, and log lines shown of a failed one. */
export const MAX_PBS_TASKS = 50;
export const PBS_LOG_LINES = 10;
/** Namespaces read per datastore at most. */
const MAX_NAMESPACES = 50;

export const PbsConfigSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://pbs.lan:8007' }),
    /** `USER@REALM!TOKENNAME`. */
    tokenId: z.string().regex(/^[^\s@!:]+@[^\s@!:]+![A-Za-z][A-Za-z0-9._-]*$/, 'USER@REALM!TOKENNAME, e.g. homelab@pbs!mcp'),
    token: z.string().min(1, 'the API token secret'),
    ...serviceTlsShape,
    /** A guest whose last backup is older than this many days is flagged. */
    staleDays: z.number().int().min(1).max(365).default(2),
    timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
  })
  .superRefine(checkOneTlsTrust);
export type PbsConfig = z.output<typeof PbsConfigSchema>;

export class PbsError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(status === 401 ? 'AUTH_REJECTED' : 'UPSTREAM_ERROR', message);
    this.name = 'PbsError';
    this.status = status;
  }
}

export interface PbsClient {
  host: string;
  get<T>(path: string, query?: Record<string, string | number>, signal?: AbortSignal): Promise<T>;
}

export function createPbsClient(opts: { url: string; tokenId: string; token: string; http: HttpClient; timeoutMs: number }): PbsClient {
  const base = new URL(opts.url);
  const host = base.host;
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/api2\/json$/, '')}/api2/json`;
  // A colon before the secret: PBS is not PVE (whose `=` here is the usual 401).
  const auth = `PBSAPIToken=${opts.tokenId}:${opts.token}`;
  return {
    host,
    async get<T>(path: string, query?: Record<string, string | number>, signal?: AbortSignal): Promise<T> {
      const url = new URL(`${root}${path}`);
      for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, String(v));
      const res = await opts.http.request({ url, headers: { authorization: auth, accept: 'application/json' }, timeoutMs: opts.timeoutMs, maxBytes: MAX_BYTES, ...(signal ? { signal } : {}) });
      if (res.status === 200) return res.json<{ data: T }>().data;
      if (res.status === 401) throw new PbsError(401, `Proxmox Backup Server at ${host} rejected the API token (integrations.pbs.token)`);
      let msg = '';
      try {
        msg = String(res.json<{ message?: unknown }>().message ?? '').trim().slice(0, 300);
      } catch {
        // not JSON
      }
      if (res.status === 403) throw new PbsError(403, `Proxmox Backup Server at ${host} refused: ${msg || 'permission denied'} (the token needs the Audit role on /)`);
      throw new PbsError(res.status, `Proxmox Backup Server at ${host}: HTTP ${res.status}${msg ? `: ${msg}` : ''}`);
    },
  };
}

const GB = 1e9;
const fmt = (b: number | undefined) => `${((b ?? 0) / GB).toFixed(0)} GB`;
const age = (sec: number, now = Date.now() / 1000) => {
  const d = (now - sec) / 86400;
  return d >= 1 ? `${d.toFixed(1)} days ago` : `${Math.max(0, Math.round(d * 24))} h ago`;
};
const iso = (sec: number) => new Date(sec * 1000).toISOString();

interface Snapshot {
  'backup-type': string;
  'backup-id': string;
  'backup-time': number;
  size?: number;
  protected?: boolean;
  comment?: string;
  verification?: { state?: string };
}
interface TaskItem {
  upid: string;
  worker_type: string;
  worker_id?: string;
  starttime: number;
  endtime?: number;
  status?: string;
}

export function pbsTools(c: PbsClient, opts: { staleDays: number }): IntegrationTool[] {
  const stores = async (signal: AbortSignal) => (await c.get<Array<{ store: string }>>('/admin/datastore', undefined, signal)).map((s) => s.store);

  const datastores = defineTool({
    name: 'pbs_datastores',
    title: 'PBS datastores',
    description: 'Each Proxmox Backup Server datastore: usage, when it is estimated to be full, and its last garbage collection and verify state.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_a, { signal }) {
      const [usage, tasks] = await Promise.all([
        c.get<Array<{ store: string; total?: number; used?: number; 'estimated-full-date'?: number; error?: string }>>('/status/datastore-usage', undefined, signal),
        c.get<TaskItem[]>('/nodes/localhost/tasks', { limit: 200 }, signal),
      ]);
      const last = (type: string, store: string) => tasks.filter((t) => t.worker_type === type && (t.worker_id ?? '').split(':')[0] === store).sort((a, b) => b.starttime - a.starttime)[0];
      const rows = usage.map((u) => {
        const gc = last('garbage_collection', u.store);
        const verify = last('verify', u.store);
        const state = (t: TaskItem | undefined) => (!t ? 'none seen' : t.status === undefined ? `running since ${age(t.starttime)}` : `${t.status === 'OK' ? 'OK' : `failed: ${t.status}`} ${age(t.endtime ?? t.starttime)}`);
        return { store: u.store, used: u.used ?? 0, total: u.total ?? 0, percent: u.total ? Math.round(((u.used ?? 0) / u.total) * 100) : 0, estimatedFull: u['estimated-full-date'] ? iso(u['estimated-full-date']) : null, gc: state(gc), verify: state(verify), ...(u.error ? { error: u.error } : {}) };
      });
      return textResult(rows.map((r) => `- ${r.store}: ${r.percent}% used (${fmt(r.used)} of ${fmt(r.total)})${r.estimatedFull ? `, full around ${r.estimatedFull.slice(0, 10)}` : ''}; GC ${r.gc}; verify ${r.verify}${r.error ? `; error: ${r.error}` : ''}`).join('\n'), { datastores: rows });
    },
  });

  const backups = defineTool({
    name: 'pbs_backups',
    title: 'PBS backups',
    description: `The last backup of every guest (or one), with its verify state and protection; guests with no backup in ${opts.staleDays} days and failed verifies come first.`,
    args: z.strictObject({ guest: z.string().max(64).describe('A guest id (100), a type/id (vm/100, ct/101) or its name (comment)').optional() }),
    toolClass: 'read',
    async run(args, { signal }) {
      const names = await stores(signal);
      // Every namespace of every store (Proxmox VE often backs guests up into one): the root
      // alone would miss them and call everything healthy.
      const spaces = (
        await Promise.all(
          names.map(async (store) => {
            const list = await c.get<Array<{ ns?: string }>>(`/admin/datastore/${encodeURIComponent(store)}/namespace`, undefined, signal).catch(() => [{ ns: '' }]);
            return list.slice(0, MAX_NAMESPACES).map((n) => ({ store, ns: n.ns ?? '' }));
          }),
        )
      ).flat();
      const all = (
        await Promise.all(spaces.map(async ({ store, ns }) => (await c.get<Snapshot[]>(`/admin/datastore/${encodeURIComponent(store)}/snapshots`, ns ? { ns } : undefined, signal)).map((s) => ({ ...s, store: ns ? `${store}/${ns}` : store }))))
      ).flat();
      const latest = new Map<string, Snapshot & { store: string; count: number }>();
      for (const s of all) {
        const k = `${s.store}/${s['backup-type']}/${s['backup-id']}`;
        const cur = latest.get(k);
        if (!cur || s['backup-time'] > cur['backup-time']) latest.set(k, { ...s, count: (cur?.count ?? 0) + 1 });
        else cur.count++;
      }
      const want = args.guest?.toLowerCase();
      const now = Date.now() / 1000;
      const rows = [...latest.values()]
        .filter((s) => !want || s['backup-id'].toLowerCase() === want || `${s['backup-type']}/${s['backup-id']}` === want || (s.comment ?? '').toLowerCase() === want)
        .map((s) => {
          const stale = now - s['backup-time'] > opts.staleDays * 86400;
          const verify = s.verification?.state ?? 'not verified';
          return { store: s.store, type: s['backup-type'], id: s['backup-id'], name: s.comment ?? '', last: iso(s['backup-time']), lastEpoch: s['backup-time'], snapshots: s.count, verify, protected: !!s.protected, stale, attention: stale || verify === 'failed' };
        })
        .sort((a, b) => Number(b.attention) - Number(a.attention) || a.lastEpoch - b.lastEpoch);
      if (want && !rows.length) return textResult(`no backup of ${args.guest} on ${names.join(', ')}`, { backups: [] });
      const lines = rows.map((r) => `- ${r.type}/${r.id}${r.name ? ` (${r.name})` : ''} on ${r.store}: last ${age(r.lastEpoch)}${r.stale ? ` [none in ${opts.staleDays} days]` : ''}, verify ${r.verify}${r.verify === 'failed' ? ' [!]' : ''}, ${r.snapshots} snapshot${r.snapshots === 1 ? '' : 's'}${r.protected ? ', protected' : ''}`);
      return textResult(lines.join('\n'), { backups: rows.map(({ lastEpoch: _e, ...r }) => r) });
    },
  });

  const tasksTool = defineTool({
    name: 'pbs_tasks',
    title: 'PBS tasks',
    description: 'Recent Proxmox Backup Server tasks (backup, verify, garbage collection, prune, sync), failed first with the end of their log.',
    args: z.strictObject({ state: z.enum(['failed', 'running', 'ok', 'all']).describe('Which tasks; default all').optional() }),
    toolClass: 'read',
    async run(args, { signal }) {
      const tasks = await c.get<TaskItem[]>('/nodes/localhost/tasks', { limit: 200 }, signal);
      const state = (t: TaskItem) => (t.status === undefined ? 'running' : t.status === 'OK' || t.status.startsWith('WARNINGS') ? 'ok' : 'failed');
      const chosen = tasks.filter((t) => !args.state || args.state === 'all' || state(t) === args.state).sort((a, b) => Number(state(b) === 'failed') - Number(state(a) === 'failed') || b.starttime - a.starttime).slice(0, MAX_PBS_TASKS);
      const logs = await Promise.all(chosen.map((t) => (state(t) === 'failed' ? c.get<Array<{ t: string }>>(`/nodes/localhost/tasks/${encodeURIComponent(t.upid)}/log`, { start: 0, limit: 500 }, signal).then((l) => l.slice(-PBS_LOG_LINES).map((x) => x.t), () => [] as string[]) : Promise.resolve([] as string[]))));
      const lines = chosen.map((t, i) => `- ${t.worker_type} ${t.worker_id ?? ''} ${age(t.starttime)}: ${state(t) === 'running' ? 'running' : t.status}${logs[i]!.length ? `\n    ${logs[i]!.join('\n    ')}` : ''}`);
      return textResult(lines.join('\n') || 'no tasks', { tasks: chosen.map((t, i) => ({ upid: t.upid, type: t.worker_type, id: t.worker_id ?? null, start: iso(t.starttime), end: t.endtime ? iso(t.endtime) : null, state: state(t), status: t.status ?? null, ...(logs[i]!.length ? { log: logs[i] } : {}) })) });
    },
  });
  return [datastores, backups, tasksTool];
}

export interface PbsInstance extends IntegrationInstance {
  client: PbsClient;
}

export const pbsIntegration = defineIntegration({
  name: 'pbs',
  configSchema: PbsConfigSchema,
  setup(config, ctx): PbsInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.pbs');
    const client = createPbsClient({ url: config.url, tokenId: config.tokenId, token: config.token, http, timeoutMs: config.timeoutMs });
    const link = createServiceLink({ label: `Proxmox Backup Server at ${client.host}`, credentialKey: 'integrations.pbs.token', check: async (signal) => void (await client.get('/version', undefined, signal)), log: ctx.log });
    const tools = pbsTools(client, { staleDays: config.staleDays });
    return {
      name: 'pbs',
      title: 'Proxmox Backup Server',
      client,
      tools,
      /** "2 datastores (90% and 10% used), 4 guests backed up"; stale backups, failed verifies and failed tasks are problems. */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const sig = { signal };
          const [ds, bk, failed] = await Promise.all([tools[0]!.call({}, sig), tools[1]!.call({}, sig), tools[2]!.call({ state: 'failed' }, sig)]);
          for (const r of [ds, bk, failed]) if (r.isError) throw new Error(r.content[0]?.text ?? 'failed');
          const stores = (ds.structuredContent as { datastores: Array<{ store: string; percent: number }> }).datastores;
          const backups = (bk.structuredContent as { backups: Array<{ type: string; id: string; name: string; stale: boolean; verify: string }> }).backups;
          const failedTasks = (failed.structuredContent as { tasks: Array<{ type: string; id: string | null; status: string }> }).tasks;
          const problems = [
            ...backups.filter((b) => b.stale).map((b) => `PBS: no backup of ${b.type}/${b.id}${b.name ? ` (${b.name})` : ''} in ${config.staleDays} days`),
            ...backups.filter((b) => b.verify === 'failed').map((b) => `PBS: the last backup of ${b.type}/${b.id}${b.name ? ` (${b.name})` : ''} failed verification`),
            ...failedTasks.slice(0, 5).map((t) => `PBS: ${t.type} ${t.id ?? ''} failed: ${t.status}`),
            ...stores.filter((s) => s.percent >= 90).map((s) => `PBS: datastore ${s.store} is ${s.percent}% full`),
          ];
          return { ok: !problems.length, detail: `${stores.length} datastores (${stores.map((s) => `${s.store} ${s.percent}%`).join(', ')}), ${backups.length} backup groups`, ...(problems.length ? { problems } : {}) };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** The backups of the guest a service runs in: named (its backup comment) like the service or its node. */
      async diagnose(service, signal): Promise<IntegrationFinding[]> {
        const names = new Set([service.name.toLowerCase(), service.node.toLowerCase()]);
        const r = await tools[1]!.call({}, { signal });
        if (r.isError) return [{ check: 'pbs backups', status: 'skipped', detail: `could not read the backups: ${r.content[0]?.text ?? ''}` }];
        const rows = (r.structuredContent as { backups: Array<{ type: string; id: string; name: string; last: string; stale: boolean; verify: string; store: string }> }).backups.filter((b) => b.name && names.has(b.name.toLowerCase()));
        return rows.map((b): IntegrationFinding => {
          const what = `the last backup of ${b.type}/${b.id} (${b.name}) on ${b.store} is from ${b.last}, verify ${b.verify}`;
          if (b.stale) return { check: 'pbs backups', status: 'warning', detail: `${what}: none in ${config.staleDays} days`, suggestion: `No recent backup of ${b.name}: check its backup job in Proxmox (pbs_tasks shows failed tasks).` };
          if (b.verify === 'failed') return { check: 'pbs backups', status: 'warning', detail: what, suggestion: `The last backup of ${b.name} failed verification: run a verify job on ${b.store}, or back it up again.` };
          return { check: 'pbs backups', status: 'ok', detail: what };
        });
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
