/**
 * The Synology tools: nas_health (volumes, storage pools, disks with their SMART state, CPU and
 * memory, one summary line), nas_list_shares, nas_list_snapshots(share) (reads), and
 * nas_create_snapshot(share, description?) (a write, previewed with the share looked up: its
 * volume and how many snapshots it has).
 */
import * as z from 'zod';
import { HomelabError } from '@homelab-mcp/core';
import { defineTool, textResult, type IntegrationTool } from '../integration.ts';
import type { DsmClient, DsmDisk, DsmShare, DsmStorage, DsmSystem, DsmUtilization } from './client.ts';

/**
 * A shared folder's name as DSM allows it: 1 to 32 characters, none of
 * `! " # $ % & ' ( ) * + , / : ; < = > ? @ [ ] \ ^ ` { } | ~` nor a control character, not
 * starting with `-` or a space, not ending with a space (DSM's naming rules).
 */
export const SHARE_ARG = z
  .string()
  .min(1)
  .max(32)
  .regex(/^(?![- ])[^!"#$%&'()*+,/:;<=>?@[\]\\^`{}|~\p{Cc}]+(?<! )$/u, 'a shared folder name as DSM allows it: 1-32 characters, none of !"#$%&\'()*+,/:;<=>?@[]\\^`{}|~, not starting with "-" or a space')
  .describe('The shared folder, by name (nas_list_shares lists them)');

/** `1.2 TB`, `512 MB`. */
export function formatBytes(n: number | null): string {
  if (n === null) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** `2 volumes normal, 1 degraded`: counts per state, the most common first. */
function byState(noun: string, states: string[]): string {
  if (!states.length) return `0 ${noun}s`;
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  const parts = [...counts].sort((a, b) => (a[0] === 'normal' ? -1 : b[0] === 'normal' ? 1 : b[1] - a[1]));
  return parts.map(([s, n], i) => `${n}${i === 0 ? ` ${noun}${n === 1 ? '' : 's'}` : ''} ${s.replace(/_/g, ' ')}`).join(', ');
}

const SMART_OK = new Set(['normal', 'unknown', '']);

/** `2 volumes normal, 1 degraded; 4 disks, 1 SMART warning; CPU 7%, memory 41%`. */
export function healthSummary(storage: DsmStorage | undefined, util: DsmUtilization | undefined): string {
  const parts: string[] = [];
  if (storage) {
    parts.push(byState('volume', storage.volumes.map((v) => v.status)));
    const smart = new Map<string, number>();
    for (const d of storage.disks) if (!SMART_OK.has(d.smart)) smart.set(d.smart, (smart.get(d.smart) ?? 0) + 1);
    const failed = storage.disks.filter((d) => ['crashed', 'failing', 'abnormal'].includes(d.status)).length;
    parts.push([`${storage.disks.length} disk${storage.disks.length === 1 ? '' : 's'}`, ...[...smart].map(([s, n]) => `${n} SMART ${s.replace(/_/g, ' ')}`), ...(failed ? [`${failed} failing`] : [])].join(', '));
  } else parts.push('storage unknown');
  if (util) parts.push(`CPU ${util.cpuPercent ?? '?'}%, memory ${util.memoryPercent ?? '?'}%`);
  return parts.join('; ');
}

/** What a person should look at: volumes, pools and disks that are not normal. */
export function healthProblems(storage: DsmStorage): string[] {
  return [
    ...storage.volumes.filter((v) => v.status !== 'normal').map((v) => `volume ${v.path || v.id} is ${v.status}`),
    ...storage.pools.filter((p) => p.status !== 'normal').map((p) => `${p.name} (${p.raid}) is ${p.status}`),
    ...storage.disks.filter((d) => !SMART_OK.has(d.smart)).map((d) => `${d.name} (${d.model}) reports SMART ${d.smart}`),
    ...storage.disks.filter((d) => ['crashed', 'failing', 'abnormal'].includes(d.status)).map((d) => `${d.name} (${d.model}) is ${d.status}`),
  ];
}

const diskLine = (d: DsmDisk) => `- ${d.name}${d.model ? ` (${d.model})` : ''}: ${d.status}, SMART ${d.smart}${d.temperatureC !== null ? `, ${d.temperatureC} °C` : ''}${d.sizeBytes !== null ? `, ${formatBytes(d.sizeBytes)}` : ''}`;

/** `photo (/volume1): "Family photos", 120.6 GB used`. */
function shareLine(s: DsmShare): string {
  const bits = [s.volume || '?'];
  if (s.encryption) bits.push('encrypted');
  if (s.hidden) bits.push('hidden');
  const used = s.usedMb !== null && s.usedMb > 0 ? `${formatBytes(s.usedMb * 1e6)} used` : '';
  const quota = s.quotaMb ? `quota ${formatBytes(s.quotaMb * 1e6)}` : '';
  return `- ${s.name} (${bits.join(', ')})${s.description ? `: "${s.description}"` : ''}${used || quota ? `${s.description ? ',' : ':'} ${[used, quota].filter(Boolean).join(' of ')}` : ''}`;
}

/** The share named `name` (DSM's names are case-insensitive), or an error naming the known ones. */
export function findShare(shares: DsmShare[], name: string, label: string): DsmShare {
  const s = shares.find((x) => x.name === name) ?? shares.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (s) return s;
  const known = shares.map((x) => x.name);
  throw new HomelabError('INVALID_ARGUMENTS', `share: ${label} has no shared folder ${JSON.stringify(name)} (it has: ${known.slice(0, 30).join(', ') || 'none'}${known.length > 30 ? `, and ${known.length - 30} more` : ''})`);
}

/** The four Synology tools for one DSM. */
export function synologyTools(nas: DsmClient): IntegrationTool[] {
  const health = defineTool({
    name: 'nas_health',
    title: 'Synology NAS health',
    description: 'The health of the Synology NAS: volumes (status, used %), storage pools (status, RAID type), disks (model, status, SMART state, temperature), CPU and memory use, and one summary line.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_a, { signal }) {
      // Each part on its own: an account without the storage permission still sees the rest.
      const [sys, storage, util] = await Promise.allSettled([nas.system(signal), nas.storage(signal), nas.utilization(signal)]);
      if (sys.status === 'rejected' && storage.status === 'rejected' && util.status === 'rejected') throw sys.reason;
      const why = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? (r.reason instanceof Error ? r.reason.message : String(r.reason)) : undefined);
      const s: DsmSystem | undefined = sys.status === 'fulfilled' ? sys.value : undefined;
      const st: DsmStorage | undefined = storage.status === 'fulfilled' ? storage.value : undefined;
      const u: DsmUtilization | undefined = util.status === 'fulfilled' ? util.value : undefined;
      const summary = healthSummary(st, u);
      const lines = [summary];
      if (s) lines.push(`${s.model || 'Synology'}${s.version ? ` (${s.version})` : ''}${s.uptime ? `, up ${s.uptime}` : ''}${s.temperatureC !== null ? `, ${s.temperatureC} °C` : ''}`);
      if (st) {
        lines.push('Volumes:', ...(st.volumes.length ? st.volumes.map((v) => `- ${v.path || v.id}${v.fsType ? ` (${v.fsType})` : ''}: ${v.status}, ${v.usedPercent ?? '?'}% used (${formatBytes(v.usedBytes)} of ${formatBytes(v.totalBytes)})`) : ['- none']));
        lines.push('Storage pools:', ...(st.pools.length ? st.pools.map((p) => `- ${p.name}: ${p.status}${p.raid ? `, ${p.raid}` : ''}, ${p.disks} disk${p.disks === 1 ? '' : 's'}`) : ['- none']));
        lines.push('Disks:', ...(st.disks.length ? st.disks.map(diskLine) : ['- none']));
        if (st.cut) lines.push('(lists cut: DSM listed more than the hub reads)');
      }
      for (const [part, r] of [['system', sys], ['storage', storage], ['utilization', util]] as const) if (why(r)) lines.push(`${part}: ${why(r)}`);
      const problems = st ? healthProblems(st) : [];
      return textResult(lines.join('\n'), {
        summary,
        healthy: !!st && problems.length === 0,
        problems,
        system: s ?? null,
        volumes: st?.volumes ?? null,
        storagePools: st?.pools ?? null,
        disks: st?.disks ?? null,
        cpuPercent: u?.cpuPercent ?? null,
        memoryPercent: u?.memoryPercent ?? null,
        errors: Object.fromEntries((['system', 'storage', 'utilization'] as const).map((k, i) => [k, why([sys, storage, util][i]!)]).filter(([, v]) => v)),
      });
    },
  });

  const shares = defineTool({
    name: 'nas_list_shares',
    title: 'Synology shared folders',
    description: 'Lists the shared folders of the Synology NAS: name, volume, description, encryption, hidden, used size and quota, whether snapshots are supported.',
    args: z.strictObject({ limit: z.number().int().min(1).max(500).default(100).describe('At most this many (default 100)') }),
    toolClass: 'read',
    async run(a, { signal }) {
      const { shares: list, total } = await nas.shares(signal);
      const shown = list.slice(0, a.limit);
      const more = Math.max(total, list.length) - shown.length;
      return textResult(`${list.length} shared folder${list.length === 1 ? '' : 's'} on ${nas.label}${more > 0 ? ` (${shown.length} shown)` : ''}\n${shown.map(shareLine).join('\n')}`.trim(), {
        total: Math.max(total, list.length),
        shares: shown.map((s) => ({ name: s.name, volume: s.volume, description: s.description, encrypted: s.encryption !== 0, encryption: s.encryption, hidden: s.hidden, supportsSnapshots: s.supportsSnapshots, usedMb: s.usedMb, quotaMb: s.quotaMb || null })),
      });
    },
  });

  const snapshots = defineTool({
    name: 'nas_list_snapshots',
    title: 'Synology snapshots of a shared folder',
    description: 'Lists the snapshots of one shared folder (Snapshot Replication), newest first: name, time, description, locked, scheduled or manual.',
    args: z.strictObject({ share: SHARE_ARG, limit: z.number().int().min(1).max(200).default(50).describe('At most this many, newest first (default 50)') }),
    toolClass: 'read',
    async run(a, { signal }) {
      const share = findShare((await nas.shares(signal)).shares, a.share, nas.label);
      const r = await nas.snapshots(share.name, a.limit, signal);
      const head = `${r.total} snapshot${r.total === 1 ? '' : 's'} of ${share.name} (${share.volume || '?'}) on ${nas.label}${r.total > r.snapshots.length ? `, newest ${r.snapshots.length} shown` : ''}`;
      const lines = r.snapshots.map((s) => `- ${s.name}${s.time ? ` (${s.time})` : ''}${s.description ? `: "${s.description}"` : ''}${s.locked ? ', locked' : ''}${s.scheduled ? ', scheduled' : ', manual'}`);
      return textResult([head, ...lines].join('\n'), { share: share.name, volume: share.volume, total: r.total, snapshots: r.snapshots });
    },
  });

  const create = defineTool({
    name: 'nas_create_snapshot',
    title: 'Take a Synology snapshot',
    description: 'Takes a snapshot of one shared folder (Btrfs, Snapshot Replication), with an optional description; answers its name and time as DSM lists it.',
    args: z.strictObject({
      share: SHARE_ARG,
      description: z
        .string()
        .max(255)
        .regex(/^[^\p{Cc}]*$/u, 'text without control characters')
        .describe('What the snapshot is for ("before the DSM update"), at most 255 characters')
        .optional(),
    }),
    toolClass: 'write',
    annotations: { destructiveHint: false, idempotentHint: false },
    async preview(a, { signal }) {
      const desc = a.description ? ` with description ${JSON.stringify(a.description)}` : ' without a description';
      try {
        const share = findShare((await nas.shares(signal)).shares, a.share, nas.label);
        const count = await nas.snapshots(share.name, 1, signal).then(
          (r) => `${r.total} snapshot${r.total === 1 ? '' : 's'} so far`,
          (err: unknown) => `its snapshots could not be counted: ${err instanceof Error ? err.message : String(err)}`,
        );
        return { action: `Take a snapshot of shared folder ${JSON.stringify(share.name)} (on ${share.volume || '?'}, ${count}${share.supportsSnapshots ? '' : '; DSM says it does not support snapshots'})${desc} on ${nas.label}`, where: [`synology/${share.name}`] };
      } catch (err) {
        return { action: `Take a snapshot of shared folder ${JSON.stringify(a.share)}${desc} on ${nas.label} (it could not be looked up: ${err instanceof Error ? err.message : String(err)})` };
      }
    },
    async run(a, { signal }) {
      const share = findShare((await nas.shares(signal)).shares, a.share, nas.label);
      const name = await nas.createSnapshot(share.name, a.description ?? '', signal);
      // Read it back: what DSM lists is what was taken.
      const after = await nas.snapshots(share.name, 200, signal);
      const found = after.snapshots.find((s) => s.name === name);
      const text = found
        ? `Took snapshot ${name} of ${share.name} (${share.volume || '?'})${found.time ? `, at ${found.time}` : ''}${found.description ? `, description "${found.description}"` : ''}; ${after.total} snapshot${after.total === 1 ? '' : 's'} now`
        : `DSM says it took snapshot ${name} of ${share.name}, but does not list it among the newest ${after.snapshots.length} of ${after.total}`;
      return textResult(text, { share: share.name, volume: share.volume, snapshot: found ?? { name, time: null, description: a.description ?? '', locked: false, scheduled: false }, listed: !!found, total: after.total });
    },
  });

  return [health, shares, snapshots, create];
}
