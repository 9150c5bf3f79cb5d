/**
 * The Pi-hole tools: dns_list_records, pihole_status, pihole_diff (reads, per instance in
 * parallel) and dns_add_record, dns_remove_record (writes to every instance, each saying what
 * happened there). Local records are Pi-hole's `dns.hosts` ("IP NAME...") and
 * `dns.cnameRecords` ("DOMAIN,TARGET[,TTL]").
 */
import { isIP } from 'node:net';
import * as z from 'zod';
import { defineTool, errorResult, textResult, type IntegrationTool } from '../integration.ts';
import { eachInstance, type InstanceAnswer } from '../service.ts';
import type { PiholeClient } from './client.ts';

/** Records shown per instance. */
export const MAX_RECORDS = 1000;
/** Differences shown by pihole_diff. */
export const MAX_DIFFERENCES = 200;

export interface DnsRecord {
  type: 'A' | 'AAAA' | 'CNAME';
  name: string;
  value: string;
  /** The Pi-hole config item it comes from. */
  entry: string;
}

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
const hostname = z.string().regex(HOSTNAME, 'a DNS name such as nas.lan (letters, digits, "-", "_" and dots)');

/** Records of the two config lists. */
export function parseRecords(hosts: string[], cnames: string[]): DnsRecord[] {
  const out: DnsRecord[] = [];
  for (const entry of hosts) {
    const [ip, ...names] = entry.trim().split(/\s+/);
    if (!ip || !names.length) continue;
    for (const name of names) out.push({ type: isIP(ip) === 6 ? 'AAAA' : 'A', name, value: ip, entry });
  }
  for (const entry of cnames) {
    const [name, target] = entry.split(',');
    if (name && target) out.push({ type: 'CNAME', name, value: target, entry });
  }
  return out;
}

const line = (r: DnsRecord) => `${r.type} ${r.name} -> ${r.value}`;
const key = (r: DnsRecord) => `${r.type} ${r.name.toLowerCase()} ${r.value.toLowerCase()}`;

async function recordsOf(c: PiholeClient, signal: AbortSignal): Promise<DnsRecord[]> {
  const [hosts, cnames] = await Promise.all([c.hosts(signal), c.cnames(signal)]);
  return parseRecords(hosts, cnames);
}

/** What a removal does to one instance: which items go, which come back with fewer names. */
function removalPlan(records: DnsRecord[], name: string, value: string | undefined): { remove: DnsRecord[]; ops: Array<{ list: 'hosts' | 'cnameRecords'; drop: string; add?: string }> } {
  const remove = records.filter((r) => r.name.toLowerCase() === name.toLowerCase() && (value === undefined || r.value.toLowerCase() === value.toLowerCase()));
  const ops: Array<{ list: 'hosts' | 'cnameRecords'; drop: string; add?: string }> = [];
  for (const entry of new Set(remove.map((r) => r.entry))) {
    const r = remove.find((x) => x.entry === entry)!;
    if (r.type === 'CNAME') ops.push({ list: 'cnameRecords', drop: entry });
    else {
      // "IP a b": removing a keeps "IP b".
      const [ip, ...names] = entry.trim().split(/\s+/);
      const rest = names.filter((n) => n.toLowerCase() !== name.toLowerCase());
      ops.push({ list: 'hosts', drop: entry, ...(rest.length ? { add: `${ip} ${rest.join(' ')}` } : {}) });
    }
  }
  return { remove, ops };
}

export function piholeTools(clients: readonly PiholeClient[]): IntegrationTool[] {
  const names = clients.map((c) => c.name);
  const all = names.join(', ');
  const instanceArg = z
    .string()
    .refine((v) => names.includes(v), { message: `expected one of ${all}` })
    .describe(`One Pi-hole (${all}); default all`)
    .optional();
  const section = <R>(a: InstanceAnswer<R>, body: (v: R) => string) => (clients.length > 1 ? `## ${a.instance}\n` : '') + (a.ok ? body(a.value) : `error: ${a.error}`);

  const list = defineTool({
    name: 'dns_list_records',
    title: 'Pi-hole local DNS records',
    description: 'Lists the local DNS records (A/AAAA host records and CNAMEs) of each Pi-hole; filter matches names and values.',
    args: z.strictObject({ filter: z.string().max(253).describe('Only records whose name or value contains this').optional(), instance: instanceArg }),
    toolClass: 'read',
    async run(args, { signal }) {
      const f = args.filter?.toLowerCase();
      const answers = await eachInstance(clients, args.instance, async (c) => {
        const rs = (await recordsOf(c, signal)).filter((r) => !f || r.name.toLowerCase().includes(f) || r.value.toLowerCase().includes(f)).sort((a, b) => a.name.localeCompare(b.name));
        return { records: rs.slice(0, MAX_RECORDS), total: rs.length };
      });
      const text = answers.map((a) => section(a, (v) => (v.records.length ? v.records.map((r) => `- ${line(r)}`).join('\n') + (v.total > v.records.length ? `\n(${v.total - v.records.length} more)` : '') : 'no records'))).join('\n\n');
      return textResult(text, { instances: answers.map((a) => (a.ok ? { instance: a.instance, ok: true, total: a.value.total, records: a.value.records.map(({ type, name, value }) => ({ type, name, value })) } : a)) });
    },
  });

  const status = defineTool({
    name: 'pihole_status',
    title: 'Pi-hole status',
    description: 'Blocking state, queries and the share blocked, active clients and the age of the blocklists (gravity), per Pi-hole.',
    args: z.strictObject({ instance: instanceArg }),
    toolClass: 'read',
    async run(args, { signal }) {
      const answers = await eachInstance(clients, args.instance, async (c) => {
        const [b, s] = await Promise.all([c.blocking(signal), c.summary(signal)]);
        const gravityDays = s.gravity?.last_update ? (Date.now() / 1000 - s.gravity.last_update) / 86400 : undefined;
        return { blocking: b.blocking, timer: b.timer, queries: s.queries?.total ?? 0, blocked: s.queries?.blocked ?? 0, percentBlocked: s.queries?.percent_blocked ?? 0, activeClients: s.clients?.active ?? 0, domainsBlocked: s.gravity?.domains_being_blocked ?? 0, ...(gravityDays !== undefined ? { gravityAgeDays: Math.round(gravityDays * 10) / 10 } : {}) };
      });
      const text = answers
        .map((a) =>
          section(a, (v) => `blocking ${v.blocking}${v.timer ? ` (for ${v.timer} s more)` : ''}; ${v.queries} queries, ${v.percentBlocked.toFixed(1)}% blocked; ${v.activeClients} active clients; ${v.domainsBlocked} domains on the blocklists${v.gravityAgeDays !== undefined ? `, updated ${v.gravityAgeDays} days ago` : ''}`),
        )
        .join('\n\n');
      return textResult(text, { instances: answers.map((a) => (a.ok ? { instance: a.instance, ok: true, ...a.value } : a)) });
    },
  });

  const diff = defineTool({
    name: 'pihole_diff',
    title: 'Pi-hole differences',
    description: 'Where the Pi-holes disagree: local DNS records one has and another lacks, and a different blocking state.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_args, { signal }) {
      const answers = await eachInstance(clients, undefined, async (c) => ({ records: await recordsOf(c, signal), blocking: (await c.blocking(signal)).blocking }));
      const failed = answers.filter((a) => !a.ok);
      const ok = answers.filter((a): a is Extract<typeof a, { ok: true }> => a.ok);
      const every = new Map<string, DnsRecord>();
      // One set of keys per instance: a lookup per record, not a scan (10,000 records stay fast).
      const keys = ok.map((a) => new Set(a.value.records.map(key)));
      for (const a of ok) for (const r of a.value.records) every.set(key(r), r);
      const all: Array<{ record: string; on: string[]; missingOn: string[] }> = [];
      for (const [k, r] of every) {
        const on = ok.filter((_a, i) => keys[i]!.has(k)).map((a) => a.instance);
        if (on.length < ok.length) all.push({ record: line(r), on, missingOn: ok.map((a) => a.instance).filter((n) => !on.includes(n)) });
      }
      all.sort((a, b) => a.record.localeCompare(b.record));
      const differences = all.slice(0, MAX_DIFFERENCES);
      const blocking = [...new Set(ok.map((a) => a.value.blocking))];
      const lines = [
        ok.length < 2 ? `only ${ok.length} of ${clients.length} Pi-holes answered: nothing to compare` : all.length ? `${all.length} record${all.length === 1 ? '' : 's'} not on every Pi-hole:` : `the ${ok.length} Pi-holes have the same ${every.size} local records`,
        ...differences.map((d) => `- ${d.record}: on ${d.on.join(', ')}, missing on ${d.missingOn.join(', ')}`),
        ...(all.length > differences.length ? [`(${all.length - differences.length} more not shown)`] : []),
        ...(blocking.length > 1 ? [`blocking differs: ${ok.map((a) => `${a.instance} ${a.value.blocking}`).join(', ')}`] : []),
        ...failed.map((a) => `${a.instance}: ${(a as { error: string }).error}`),
      ];
      return textResult(lines.join('\n'), { differences, totalDifferences: all.length, blocking: Object.fromEntries(ok.map((a) => [a.instance, a.value.blocking])), ...(failed.length ? { failed } : {}) });
    },
  });

  /** "2 Pi-holes: ns1 added, ns2 already there"; an error answer when none did it. */
  function writeAnswer<R extends { outcome: string; done: boolean }>(what: string, answers: Array<InstanceAnswer<R>>) {
    const parts = answers.map((a) => `${a.instance} ${a.ok ? a.value.outcome : `failed: ${a.error}`}`);
    const text = `${what}: ${parts.join('; ')}`;
    const structured = { instances: answers.map((a) => (a.ok ? { instance: a.instance, ok: true, outcome: a.value.outcome } : a)) };
    return answers.some((a) => !a.ok) ? errorResult(`${text}${answers.some((a) => a.ok) ? ' (the Pi-holes now differ: pihole_diff shows how)' : ''}`, structured) : textResult(text, structured);
  }

  const recordArgs = z.strictObject({
    name: hostname.describe('The DNS name, e.g. nas.lan'),
    value: z.string().max(253).refine((v) => isIP(v) !== 0 || HOSTNAME.test(v), 'an IP address (an A/AAAA record) or a DNS name (a CNAME target)').describe('An IP address for an A/AAAA record, or the target name of a CNAME'),
  });
  const itemOf = (name: string, value: string) => (isIP(value) ? { list: 'hosts' as const, item: `${value} ${name}`, type: isIP(value) === 6 ? 'AAAA' : 'A' } : { list: 'cnameRecords' as const, item: `${name},${value}`, type: 'CNAME' });

  const add = defineTool({
    name: 'dns_add_record',
    title: 'Add a Pi-hole DNS record',
    description: `Adds a local DNS record to every Pi-hole (${all}): an A/AAAA record when value is an IP address, a CNAME when it is a name.`,
    args: recordArgs,
    toolClass: 'write',
    annotations: { destructiveHint: false, idempotentHint: true },
    async preview({ name, value }) {
      const { type } = itemOf(name, value);
      return { action: `Add ${type} record ${name} -> ${value} on ${all}`, where: names.map((n) => `pihole/${n}`) };
    },
    async run({ name, value }, { signal }) {
      const { list, item, type } = itemOf(name, value);
      const answers = await eachInstance(clients, undefined, async (c) => {
        const added = await c.addItem(list, item, signal);
        return { outcome: added ? 'added' : 'already there', done: true };
      });
      return writeAnswer(`${type} ${name} -> ${value}`, answers);
    },
  });

  const remove = defineTool({
    name: 'dns_remove_record',
    title: 'Remove a Pi-hole DNS record',
    description: `Removes a local DNS record by name (and value, when given) from every Pi-hole (${all}).`,
    args: z.strictObject({ name: hostname.describe('The DNS name, e.g. nas.lan'), value: z.string().max(253).describe('Only the record with this IP address or CNAME target').optional() }),
    toolClass: 'write',
    async preview({ name, value }, { signal }) {
      const answers = await eachInstance(clients, undefined, async (c) => removalPlan(await recordsOf(c, signal), name, value));
      const parts = answers.map((a) =>
        a.ok
          ? a.value.remove.length
            ? `${a.instance}: ${a.value.remove.map(line).join(', ')}${a.value.ops.filter((o) => o.add).map((o) => ` (rewrites "${o.drop}" as "${o.add}")`).join('')}`
            : `${a.instance}: nothing (no such record)`
          : `${a.instance}: cannot look (${a.error})`,
      );
      return { action: `Remove the local DNS record${value === undefined ? 's' : ''} ${name}${value === undefined ? '' : ` -> ${value}`}: ${parts.join('; ')}`, where: names.map((n) => `pihole/${n}`) };
    },
    async run({ name, value }, { signal }) {
      const answers = await eachInstance(clients, undefined, async (c) => {
        const plan = removalPlan(await recordsOf(c, signal), name, value);
        if (!plan.remove.length) return { outcome: 'had no such record', done: false };
        for (const op of plan.ops) {
          // The rewritten line first: a failure between the two steps must not lose the other names.
          if (op.add) await c.addItem(op.list, op.add, signal);
          await c.removeItem(op.list, op.drop, signal);
        }
        return { outcome: `removed ${plan.remove.map(line).join(', ')}`, done: true };
      });
      if (answers.every((a) => a.ok && !a.value.done)) return errorResult(`no local DNS record ${name}${value ? ` -> ${value}` : ''} on ${all}`, { instances: answers.map((a) => ({ instance: a.instance, ok: true })) });
      return writeAnswer(`remove ${name}${value ? ` -> ${value}` : ''}`, answers);
    },
  });

  return [list, status, diff, add, remove];
}
