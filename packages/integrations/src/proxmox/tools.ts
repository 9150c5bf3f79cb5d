/**
 * The Proxmox VE tools: infra_overview, list_guests, get_guest, node_status, get_task (reads)
 * and guest_start, guest_stop, guest_restart (writes, previewed by name: "Restart LXC 30062
 * (n8n) on pve2"). A write waits for its task (UPID) up to a bound and reports how it ended; a
 * longer task answers with its id for get_task.
 */
import * as z from 'zod';
import { defineTool, errorResult, textResult, type IntegrationTool } from '../integration.ts';
import { ProxmoxError, upidNode, type ProxmoxClient, type PveResource, type PveTaskStatus } from './client.ts';

/** Guests listed at most by list_guests. */
export const MAX_GUESTS = 500;
/** Task log lines shown by get_task and a failed write. */
export const TASK_LOG_LINES = 20;

const GiB = 1024 ** 3;
const gib = (n: number | undefined) => `${((n ?? 0) / GiB).toFixed(1)}`;
const pct = (used: number | undefined, total: number | undefined) => (total ? `${Math.round(((used ?? 0) / total) * 100)}%` : '?');
function ago(seconds: number | undefined): string {
  const s = Math.max(0, Math.floor(seconds ?? 0));
  if (s >= 86400) return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 60)}m`;
}
const kind = (t: string) => (t === 'lxc' ? 'LXC' : 'VM');
const isGuest = (r: PveResource) => (r.type === 'qemu' || r.type === 'lxc') && r.vmid !== undefined && r.template !== 1;

/** Waits `ms`, or rejects with `why` when `signal` aborts first (its listener removed either way). */
function sleep(ms: number, signal: AbortSignal, why: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Error(why));
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error(why));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const vmidArg = z.number().int().min(100).max(999_999_999).describe('The guest\'s ID (VMID), e.g. 30062');

/** The guest with this VMID, from the cluster's resources; a clear error when there is none. */
async function findGuest(pve: ProxmoxClient, vmid: number, signal: AbortSignal): Promise<PveResource> {
  const g = (await pve.resources('vm', signal)).find((r) => isGuest(r) && r.vmid === vmid);
  if (!g) throw new ProxmoxError(404, `no guest ${vmid} in the cluster (Proxmox at ${pve.host}); list_guests shows the guests there are`);
  return g;
}

/** One address of a guest and where it was seen. */
export interface GuestAddress {
  address: string;
  /** `config` (LXC net*), `cloud-init` (ipconfig*), `agent` (QEMU guest agent), `interfaces` (a running container). */
  source: 'config' | 'cloud-init' | 'agent' | 'interfaces';
  interface?: string;
}

const skipAddr = (a: string) => a.startsWith('127.') || a === '::1' || a.toLowerCase().startsWith('fe80:');

/** Static addresses from a guest's config: LXC `netN: ...,ip=A/P` and QEMU cloud-init `ipconfigN: ip=A/P`. */
export function configAddresses(type: string, config: Record<string, unknown>): GuestAddress[] {
  const out: GuestAddress[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (typeof v !== 'string') continue;
    const lxc = type === 'lxc' && /^net\d+$/.test(k);
    const ci = type === 'qemu' && /^ipconfig\d+$/.test(k);
    if (!lxc && !ci) continue;
    for (const m of v.matchAll(/(?:^|,)ip6?=([^,]+)/g)) {
      const a = m[1]!;
      if (a === 'dhcp' || a === 'auto' || a === 'manual') continue;
      out.push({ address: a.replace(/\/\d+$/, ''), source: lxc ? 'config' : 'cloud-init', interface: lxc ? (/name=([^,]+)/.exec(v)?.[1] ?? k) : k });
    }
  }
  return out;
}

/** Addresses a running guest reports: LXC `/interfaces` or the QEMU agent's `network-get-interfaces`. */
export function liveAddresses(source: 'agent' | 'interfaces', list: unknown): GuestAddress[] {
  const ifaces = Array.isArray(list) ? list : Array.isArray((list as { result?: unknown })?.result) ? (list as { result: unknown[] }).result : [];
  const out: GuestAddress[] = [];
  for (const i of ifaces as Array<{ name?: string; 'ip-addresses'?: Array<{ 'ip-address'?: string }>; inet?: string }>) {
    const addrs = i['ip-addresses']?.map((a) => a['ip-address']).filter((a): a is string => !!a) ?? (i.inet ? [i.inet.replace(/\/\d+$/, '')] : []);
    for (const a of addrs) if (!skipAddr(a)) out.push({ address: a, source, ...(i.name ? { interface: i.name } : {}) });
  }
  return out;
}

interface WriteSpec {
  name: 'guest_start' | 'guest_stop' | 'guest_restart';
  title: string;
  description: string;
  verb: string;
  action(g: PveResource, force: boolean): 'start' | 'stop' | 'shutdown' | 'reboot';
}

const WRITES: WriteSpec[] = [
  { name: 'guest_start', title: 'Start a Proxmox guest', description: 'Starts a VM or container by VMID and waits for the task to finish.', verb: 'Start', action: () => 'start' },
  {
    name: 'guest_stop',
    title: 'Stop a Proxmox guest',
    description: 'Shuts a VM or container down cleanly by VMID (force: true cuts its power instead) and waits for the task.',
    verb: 'Shut down',
    action: (_g, force) => (force ? 'stop' : 'shutdown'),
  },
  { name: 'guest_restart', title: 'Restart a Proxmox guest', description: 'Reboots a running VM or container by VMID and waits for the task to finish.', verb: 'Restart', action: () => 'reboot' },
];

export function proxmoxTools(pve: ProxmoxClient, opts: { taskWaitMs: number; pollMs?: number }): IntegrationTool[] {
  const pollMs = opts.pollMs ?? 500;

  const overview = defineTool({
    name: 'infra_overview',
    title: 'Proxmox overview',
    description: 'One screen of the Proxmox cluster: nodes (online or not, CPU, memory), guests running and stopped by type, and storage use.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_args, { signal }) {
      const all = await pve.resources(undefined, signal);
      const nodes = all.filter((r) => r.type === 'node');
      const guests = all.filter(isGuest);
      const storage = all.filter((r) => r.type === 'storage');
      const count = (t: string, s: string) => guests.filter((g) => g.type === t && g.status === s).length;
      const lines = [
        `${nodes.length} nodes (${nodes.filter((n) => n.status === 'online').length} online), ${guests.length} guests: VMs ${count('qemu', 'running')} running / ${count('qemu', 'stopped')} stopped, LXC ${count('lxc', 'running')} running / ${count('lxc', 'stopped')} stopped${guests.some((g) => g.status !== 'running' && g.status !== 'stopped') ? `, ${guests.filter((g) => g.status !== 'running' && g.status !== 'stopped').length} unknown (on offline nodes)` : ''}`,
        ...nodes.map((n) => (n.status === 'online' ? `- ${n.node}: online, CPU ${pct(n.cpu, 1)} of ${n.maxcpu}, memory ${gib(n.mem)}/${gib(n.maxmem)} GiB, up ${ago(n.uptime)}` : `- ${n.node}: ${n.status ?? 'unknown'}`)),
        'Storage:',
        ...storage.map((s) => `- ${s.storage} on ${s.node}: ${pct(s.disk, s.maxdisk)} used (${gib(s.disk)}/${gib(s.maxdisk)} GiB)${s.status !== 'available' ? ` [${s.status}]` : ''}`),
      ];
      return textResult(lines.join('\n'), {
        nodes: nodes.map((n) => ({ node: n.node, status: n.status, cpu: n.cpu, maxcpu: n.maxcpu, mem: n.mem, maxmem: n.maxmem, uptime: n.uptime })),
        guests: { total: guests.length, qemu: { running: count('qemu', 'running'), stopped: count('qemu', 'stopped') }, lxc: { running: count('lxc', 'running'), stopped: count('lxc', 'stopped') } },
        storage: storage.map((s) => ({ storage: s.storage, node: s.node, status: s.status, used: s.disk, total: s.maxdisk })),
      });
    },
  });

  const listGuests = defineTool({
    name: 'list_guests',
    title: 'Proxmox guests',
    description: 'Lists VMs and containers with node, status, CPU, memory, uptime and tags; filter by status, node, type or tag.',
    args: z.strictObject({
      status: z.enum(['running', 'stopped']).describe('Only guests in this state').optional(),
      node: z.string().max(64).describe('Only guests on this Proxmox node').optional(),
      type: z.enum(['qemu', 'lxc']).describe('qemu (VMs) or lxc (containers)').optional(),
      tag: z.string().max(64).describe('Only guests with this tag').optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const guests = (await pve.resources('vm', signal))
        .filter(isGuest)
        .filter((g) => (!args.status || g.status === args.status) && (!args.node || g.node === args.node) && (!args.type || g.type === args.type) && (!args.tag || (g.tags ?? '').split(/[;,\s]+/).includes(args.tag)))
        .sort((a, b) => a.vmid! - b.vmid!);
      const shown = guests.slice(0, MAX_GUESTS);
      const lines = shown.map((g) => `- ${g.vmid} ${kind(g.type)} ${g.name ?? '?'} on ${g.node}: ${g.status}${g.status === 'running' ? `, CPU ${pct(g.cpu, 1)}, memory ${gib(g.mem)}/${gib(g.maxmem)} GiB, up ${ago(g.uptime)}` : ''}${g.tags ? ` [${g.tags}]` : ''}${g.lock ? ` (locked: ${g.lock})` : ''}`);
      if (guests.length > shown.length) lines.push(`(${guests.length - shown.length} more not shown: filter by node, type, status or tag)`);
      return textResult(`${guests.length} guest${guests.length === 1 ? '' : 's'}${lines.length ? `:\n${lines.join('\n')}` : ''}`, {
        total: guests.length,
        guests: shown.map((g) => ({ vmid: g.vmid, type: g.type, name: g.name, node: g.node, status: g.status, cpu: g.cpu, mem: g.mem, maxmem: g.maxmem, uptime: g.uptime, tags: g.tags ? g.tags.split(/[;,\s]+/).filter(Boolean) : [] })),
      });
    },
  });

  const getGuest = defineTool({
    name: 'get_guest',
    title: 'Proxmox guest',
    description: 'One VM or container by VMID: status, config, and its IP addresses from the config, cloud-init, the QEMU guest agent or the running container, each with its source.',
    args: z.strictObject({ vmid: vmidArg }),
    toolClass: 'read',
    async run({ vmid }, { signal }) {
      const g = await findGuest(pve, vmid, signal);
      const path = `/nodes/${encodeURIComponent(g.node!)}/${g.type}/${vmid}`;
      const [status, config] = await Promise.all([pve.get<Record<string, unknown>>(`${path}/status/current`, undefined, signal), pve.get<Record<string, unknown>>(`${path}/config`, undefined, signal)]);
      const addresses = configAddresses(g.type, config ?? {});
      const notes: string[] = [];
      if (status?.status === 'running') {
        if (g.type === 'lxc') addresses.push(...liveAddresses('interfaces', await pve.get(`${path}/interfaces`, undefined, signal).catch(() => null)));
        else if (String(config?.agent ?? '').startsWith('1') || /enabled=1/.test(String(config?.agent ?? ''))) {
          try {
            addresses.push(...liveAddresses('agent', await pve.get(`${path}/agent/network-get-interfaces`, undefined, signal)));
          } catch (err) {
            notes.push(`guest agent: ${err instanceof Error ? err.message.replace(/^Proxmox at [^:]+: HTTP \d+: /, '') : String(err)}`);
          }
        } else notes.push('no QEMU guest agent configured: only static addresses are known');
      }
      // One line per address, its sources together: the config says 10.0.0.5 and the agent agrees.
      const merged = new Map<string, GuestAddress[]>();
      for (const a of addresses) merged.set(a.address, [...(merged.get(a.address) ?? []), a]);
      const ipLines = [...merged].map(([a, seen]) => `${a} (${[...new Set(seen.map((s) => s.source))].join(', ')}${seen[0]!.interface ? `, ${seen[0]!.interface}` : ''})`);
      const cfgLines = Object.entries(config ?? {})
        .filter(([k]) => k !== 'digest' && !/^(description|sshkeys|cipassword)$/.test(k))
        .map(([k, v]) => `  ${k}: ${String(v).slice(0, 200)}`);
      const text = [
        `${kind(g.type)} ${vmid} ${g.name ?? ''} on ${g.node}: ${String(status?.status ?? g.status)}${status?.status === 'running' ? `, up ${ago(Number(status.uptime))}, CPU ${pct(Number(status.cpu), 1)}, memory ${gib(Number(status.mem))}/${gib(Number(status.maxmem))} GiB` : ''}`,
        `addresses: ${ipLines.join('; ') || 'none known'}`,
        ...notes,
        'config:',
        ...cfgLines,
      ].join('\n');
      const { cipassword: _p, sshkeys: _k, ...shownConfig } = (config ?? {}) as Record<string, unknown>;
      return textResult(text, { vmid, type: g.type, name: g.name, node: g.node, status: status?.status ?? g.status, addresses: [...merged].map(([address, seen]) => ({ address, sources: [...new Set(seen.map((s) => s.source))], interface: seen[0]!.interface })), config: shownConfig, ...(notes.length ? { notes } : {}) });
    },
  });

  const nodeStatus = defineTool({
    name: 'node_status',
    title: 'Proxmox node status',
    description: 'One Proxmox node in detail (CPU model, load, memory, root disk, kernel and PVE version), or every node in a line each.',
    args: z.strictObject({ node: z.string().max(64).describe('The node; default all').optional() }),
    toolClass: 'read',
    async run({ node }, { signal }) {
      const nodes = await pve.get<Array<PveResource & { node: string }>>('/nodes', undefined, signal);
      if (!node)
        return textResult(nodes.map((n) => (n.status === 'online' ? `- ${n.node}: online, CPU ${pct(n.cpu, 1)} of ${n.maxcpu}, memory ${gib(n.mem)}/${gib(n.maxmem)} GiB, root ${pct(n.disk, n.maxdisk)}, up ${ago(n.uptime)}` : `- ${n.node}: ${n.status}`)).join('\n'), {
          nodes: nodes.map((n) => ({ node: n.node, status: n.status, cpu: n.cpu, maxcpu: n.maxcpu, mem: n.mem, maxmem: n.maxmem, disk: n.disk, maxdisk: n.maxdisk, uptime: n.uptime })),
        });
      const known = nodes.find((n) => n.node === node);
      if (!known) return errorResult(`node_status: argument "node": no node ${JSON.stringify(node)} in the cluster (there are ${nodes.map((n) => n.node).join(', ')})`);
      if (known.status !== 'online') return errorResult(`node ${node} is ${known.status}: Proxmox cannot ask it`);
      const s = await pve.get<Record<string, any>>(`/nodes/${encodeURIComponent(node)}/status`, undefined, signal);
      const text = [
        `${node}: ${s.pveversion ?? ''}, ${s.kversion ?? ''}`,
        `CPU: ${s.cpuinfo?.model ?? '?'} (${s.cpuinfo?.cpus ?? '?'} threads), ${pct(s.cpu, 1)} busy, load ${(s.loadavg ?? []).join(' ')}, IO wait ${pct(s.wait, 1)}`,
        `memory: ${gib(s.memory?.used)}/${gib(s.memory?.total)} GiB; swap ${gib(s.swap?.used)}/${gib(s.swap?.total)} GiB`,
        `root disk: ${pct(s.rootfs?.used, s.rootfs?.total)} used (${gib(s.rootfs?.used)}/${gib(s.rootfs?.total)} GiB)`,
        `up ${ago(s.uptime)}`,
      ].join('\n');
      return textResult(text, { node, pveVersion: s.pveversion, kernel: s.kversion, cpu: s.cpu, loadavg: s.loadavg, memory: s.memory, swap: s.swap, rootfs: s.rootfs, uptime: s.uptime });
    },
  });

  async function taskAnswer(node: string, upid: string, signal: AbortSignal): Promise<{ status: PveTaskStatus; log: string[] }> {
    const status = await pve.taskStatus(node, upid, signal);
    const log = status.status === 'running' || status.exitstatus === 'OK' ? [] : (await pve.taskLog(node, upid, TASK_LOG_LINES, signal).catch(() => ({ lines: [] as string[], total: 0 }))).lines;
    return { status, log };
  }

  const getTask = defineTool({
    name: 'get_task',
    title: 'Proxmox task',
    description: 'Status of a Proxmox task by its UPID (as a guest_* write returns it), with the end of its log.',
    args: z.strictObject({ upid: z.string().max(200).refine((v) => upidNode(v) !== undefined, 'a Proxmox task id: UPID:node:pid:pstart:starttime:type:id:user:').describe('The task id, UPID:...') }),
    toolClass: 'read',
    async run({ upid }, { signal }) {
      const node = upidNode(upid)!;
      const status = await pve.taskStatus(node, upid, signal);
      const log = await pve.taskLog(node, upid, TASK_LOG_LINES, signal);
      const state = status.status === 'running' ? 'running' : status.exitstatus === 'OK' ? 'finished OK' : `failed: ${status.exitstatus}`;
      return textResult(`task ${status.type} ${status.id ?? ''} on ${node}: ${state}\nlog (last ${log.lines.length} of ${log.total} lines):\n${log.lines.join('\n')}`, { upid, node, type: status.type, id: status.id, status: status.status, exitstatus: status.exitstatus, log: log.lines, logLines: log.total });
    },
  });

  const writes = WRITES.map((w) =>
    defineTool({
      name: w.name,
      title: w.title,
      description: w.description,
      args: w.name === 'guest_stop' ? z.strictObject({ vmid: vmidArg, force: z.boolean().describe('Cut the power instead of a clean shutdown').optional() }) : z.strictObject({ vmid: vmidArg }),
      toolClass: 'write',
      annotations: { destructiveHint: w.name !== 'guest_start', idempotentHint: false },
      async preview(args, { signal }) {
        const force = (args as { force?: boolean }).force === true;
        const verb = w.name === 'guest_stop' && force ? 'Power off (no clean shutdown)' : w.verb;
        try {
          const g = await findGuest(pve, args.vmid, signal);
          return { action: `${verb} ${kind(g.type)} ${args.vmid} (${g.name ?? 'no name'}) on ${g.node}, now ${g.status}`, where: [`proxmox/${g.node}`] };
        } catch (err) {
          return { action: `${verb} guest ${args.vmid} (its name and node could not be looked up: ${err instanceof Error ? err.message : String(err)})` };
        }
      },
      async run(args, { signal }) {
        const force = (args as { force?: boolean }).force === true;
        const g = await findGuest(pve, args.vmid, signal);
        const action = w.action(g, force);
        const upid = await pve.post<string>(`/nodes/${encodeURIComponent(g.node!)}/${g.type}/${args.vmid}/status/${action}`, undefined, signal);
        const what = `${action} of ${kind(g.type)} ${args.vmid} (${g.name ?? 'no name'}) on ${g.node}`;
        const deadline = Date.now() + opts.taskWaitMs;
        for (;;) {
          let answer: Awaited<ReturnType<typeof taskAnswer>>;
          try {
            answer = await taskAnswer(g.node!, upid, signal);
          } catch (err) {
            // The task started: an answer without its id would read as "nothing happened", and a
            // retry would restart the guest twice.
            if (signal.aborted) throw err;
            return textResult(`${what}: started (task ${upid}), but its state could not be read: ${err instanceof Error ? err.message : String(err)}; get_task(upid: "${upid}") tells how it ends`, { vmid: args.vmid, node: g.node, action, upid, status: 'unknown' });
          }
          const { status, log } = answer;
          if (status.status !== 'running') {
            const ok = status.exitstatus === 'OK';
            const text = ok ? `${what}: done (task OK)` : `${what} failed: ${status.exitstatus}${log.length ? `\nlog:\n${log.join('\n')}` : ''}`;
            const structured = { vmid: args.vmid, type: g.type, name: g.name, node: g.node, action, upid, status: ok ? 'ok' : 'failed', exitstatus: status.exitstatus, ...(log.length ? { log } : {}) };
            return ok ? textResult(text, structured) : errorResult(text, structured);
          }
          if (Date.now() >= deadline) return textResult(`${what}: still running after ${Math.round(opts.taskWaitMs / 1000)} s; get_task(upid: "${upid}") tells how it ends`, { vmid: args.vmid, node: g.node, action, upid, status: 'running' });
          await sleep(pollMs, signal, `cancelled while waiting; the task ${upid} goes on (get_task)`);
        }
      },
    }),
  );

  return [overview, listGuests, getGuest, nodeStatus, getTask, ...writes];
}
