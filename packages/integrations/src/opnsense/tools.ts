/**
 * The OPNsense tools: three reads (status, interfaces, firewall rules) and two writes, each
 * applied at once and then read back: opnsense_create_rule and opnsense_toggle_rule. OPNsense
 * 26.7 removed the savepoint/rollback API, so nothing reverts a change by itself: the previews
 * say so, and each write records in its audit event what it changed (the rule as created, or the
 * rule's previous `enabled`), which is what undoing it takes.
 */
import * as z from 'zod';
import { HomelabError } from '@homelab-mcp/core';
import { defineTool, errorResult, textResult, type IntegrationTool } from '../integration.ts';
import { OpnsenseValidationError, UUID_RE, type OpnNewRule, type OpnRule, type OpnsenseClient } from './client.ts';

/** What every write's preview ends with. */
export const NO_ROLLBACK = 'Applied at once; OPNsense has no automatic rollback since 26.7: undo with opnsense_toggle_rule or delete it in the GUI.';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `12 GiB` style, for memory. */
function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

const FAMILY: Record<string, string> = { inet: 'IPv4', inet6: 'IPv6', inet46: 'IPv4+IPv6' };

/** `pass in on lan IPv4 TCP from any to 192.168.1.10 port 443` (pf's order). */
export function ruleText(r: Pick<OpnRule, 'action' | 'direction' | 'interface' | 'ipprotocol' | 'protocol' | 'source' | 'sourcePort' | 'destination' | 'destinationPort'>): string {
  const dir = r.direction === 'any' ? 'in/out' : r.direction || 'in';
  const on = r.interface ? ` on ${r.interface}` : ' on any interface';
  const fam = FAMILY[r.ipprotocol] ?? r.ipprotocol;
  const proto = r.protocol && r.protocol !== 'any' ? ` ${r.protocol}` : '';
  const src = `${r.source || 'any'}${r.sourcePort ? ` port ${r.sourcePort}` : ''}`;
  const dst = `${r.destination || 'any'}${r.destinationPort ? ` port ${r.destinationPort}` : ''}`;
  return `${r.action || 'pass'} ${dir}${on}${fam ? ` ${fam}` : ''}${proto} from ${src} to ${dst}`;
}

/**
 * A rule's description, quoted so that its own quotes cannot close it: set by whoever edits the
 * firewall, it must not pass for another rule's text in a preview (`Guests" (block in on wan...`).
 */
const desc = (d: string) => JSON.stringify(d);

/** One line of a rule: `[on] pass in on lan ... "Allow NAS" (uuid)`. */
function ruleLine(r: OpnRule): string {
  return `- [${r.enabled ? 'on' : 'off'}] ${ruleText(r)}${r.log ? ', logged' : ''}${r.description ? ` ${desc(r.description)}` : ''}${r.legacy ? ' (legacy GUI rule, read-only here)' : r.uuid ? ` (${r.uuid})` : ''}`;
}

const ruleOut = (r: OpnRule) => ({
  uuid: r.uuid,
  enabled: r.enabled,
  action: r.action,
  interface: r.interface,
  direction: r.direction,
  ipprotocol: r.ipprotocol,
  protocol: r.protocol,
  source: r.source,
  sourcePort: r.sourcePort,
  destination: r.destination,
  destinationPort: r.destinationPort,
  description: r.description,
  log: r.log,
  legacy: r.legacy,
});

// Strict argument shapes: whatever reaches OPNsense is one of these, so no argument can smuggle
// a second field, a path or a query into a request.
const NET = z
  .string()
  .min(1)
  .max(100)
  .regex(/^!?(any|\(self\)|[A-Za-z0-9_.:/-]+)$/, 'any, (self), an address or network (192.168.1.10, 10.0.0.0/24, fd00::/64), an interface network (lan, lanip) or an alias name; "!" in front inverts it');
const PORT = z
  .string()
  .max(64)
  .regex(/^([A-Za-z0-9_]+([:-][A-Za-z0-9_]+)?)?$/, 'a port (443), a range (1000-2000), a service name (https) or a port alias; empty for any');

const PROTOCOLS = ['any', 'TCP', 'UDP', 'TCP/UDP', 'ICMP', 'IPV6-ICMP', 'ESP', 'AH', 'GRE', 'IGMP', 'OSPF', 'PIM', 'SCTP', 'CARP', 'PFSYNC'] as const;

export const CreateRuleArgs = z
  .strictObject({
    action: z.enum(['pass', 'block', 'reject']).describe('pass, block (drop silently) or reject (answer with a reset or unreachable)'),
    interface: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,31}$/i, 'an OPNsense interface name such as lan, wan or opt1 (opnsense_interfaces lists them)')
      .describe('The interface (lan, wan, opt1, or an interface group), as opnsense_interfaces names it'),
    direction: z.enum(['in', 'out', 'any']).default('in').describe('in (default), out or any'),
    ipprotocol: z.enum(['inet', 'inet6', 'inet46']).default('inet').describe('inet (IPv4, default), inet6 (IPv6) or inet46 (both)'),
    protocol: z
      .string()
      .transform((v) => (v.toLowerCase() === 'any' ? 'any' : v.toUpperCase()))
      .pipe(z.enum(PROTOCOLS, { error: `one of ${PROTOCOLS.join(', ')}` }))
      .default('any')
      .describe(`The IP protocol: ${PROTOCOLS.join(', ')} (default any)`),
    source: NET.default('any').describe('Source: any (default), an address, a network, lan (its network), lanip, (self), or an alias; "!" in front inverts'),
    sourcePort: PORT.default('').describe('Source port or range (TCP/UDP only); empty (default) for any'),
    destination: NET.default('any').describe('Destination: any (default), an address, a network, an interface network, (self), or an alias; "!" in front inverts'),
    destinationPort: PORT.default('').describe('Destination port, range (1000-2000) or service name (TCP/UDP only); empty (default) for any'),
    description: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^\p{Cc}]*$/u, 'text without control characters')
      .describe('What the rule is for; shown in OPNsense and by opnsense_rules'),
    enabled: z.boolean().default(true).describe('Whether the rule is on (default true)'),
    log: z.boolean().default(false).describe('Log packets that match it (default false)'),
  })
  .refine((a) => (a.sourcePort === '' && a.destinationPort === '') || ['TCP', 'UDP', 'TCP/UDP'].includes(a.protocol), { message: 'ports only go with protocol TCP, UDP or TCP/UDP', path: ['protocol'] });

const UUID = z.string().regex(UUID_RE, 'a rule UUID such as 1b2c3d4e-0000-4000-8000-000000000001 (opnsense_rules lists them)').describe("The rule's UUID, as opnsense_rules lists it");

/** The API fields of a rule, in the caller's words, for messages about a field. */
const ARG_OF: Record<string, string> = {
  source_net: 'source',
  source_not: 'source',
  source_port: 'sourcePort',
  destination_net: 'destination',
  destination_not: 'destination',
  destination_port: 'destinationPort',
  ipprotocol: 'ipprotocol',
};

/** What was asked, against what reads back: the fields that differ. */
function differences(want: OpnNewRule, got: OpnRule): string[] {
  const out: string[] = [];
  const cmp = (name: string, a: unknown, b: unknown) => {
    if (String(a).toLowerCase() !== String(b).toLowerCase()) out.push(`${name}: asked ${JSON.stringify(a)}, reads ${JSON.stringify(b)}`);
  };
  cmp('action', want.action, got.action);
  cmp('interface', want.interface, got.interface);
  cmp('direction', want.direction, got.direction);
  cmp('ipprotocol', want.ipprotocol, got.ipprotocol);
  cmp('protocol', want.protocol, got.protocol);
  cmp('source', want.source, got.source);
  cmp('sourcePort', want.sourcePort, got.sourcePort);
  cmp('destination', want.destination, got.destination);
  cmp('destinationPort', want.destinationPort, got.destinationPort);
  cmp('description', want.description, got.description);
  cmp('enabled', want.enabled, got.enabled);
  cmp('log', want.log, got.log);
  return out;
}

/** `"Allow NAS https" (pass in on lan IPv4 TCP from any to 192.168.1.10 port 443, 1b2c...)`. */
const named = (r: OpnRule) => `${r.description ? `${desc(r.description)} ` : ''}(${ruleText(r)}, ${r.uuid})`;

export interface OpnsenseToolsOptions {
  /** Before each call: resolves when OPNsense is ready, else throws why (the service link). */
  ready(signal: AbortSignal): Promise<void>;
}

/** The five OPNsense tools for one firewall. */
export function opnsenseTools(opn: OpnsenseClient, opts: OpnsenseToolsOptions): IntegrationTool[] {
  const at = `OPNsense at ${opn.host}`;

  const status = defineTool({
    name: 'opnsense_status',
    title: 'OPNsense status',
    description: 'The OPNsense firewall: its version, whether updates are available (from its last update check) and need a reboot, its uptime, load and memory.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_a, { signal }) {
      await opts.ready(signal);
      const [fw, sys] = await Promise.all([opn.firmware(signal), opn.system(signal).catch(() => undefined)]);
      const updates =
        fw.status === 'unknown'
          ? 'no update check yet'
          : fw.status === 'error'
            ? `update check failed${fw.message ? ` (${fw.message})` : ''}`
            : fw.updates
              ? `${plural(fw.updates, fw.status === 'upgrade' ? 'upgrade set' : 'update')} available${fw.needsReboot ? ', needs a reboot' : ''}`
              : 'up to date';
      const parts = [`${fw.product} ${fw.version || '(version unknown)'} at ${opn.host}: ${updates}`];
      if (sys?.uptime) parts.push(`up ${sys.uptime}`);
      if (sys?.loadAverage) parts.push(`load ${sys.loadAverage}`);
      if (sys?.memoryUsedBytes != null && sys.memoryTotalBytes) parts.push(`memory ${bytes(sys.memoryUsedBytes)} of ${bytes(sys.memoryTotalBytes)} used`);
      return textResult(parts.join('; '), {
        host: opn.host,
        product: fw.product,
        version: fw.version,
        updateStatus: fw.status,
        updates: fw.updates,
        needsReboot: fw.needsReboot,
        updateMessage: fw.message,
        uptime: sys?.uptime ?? null,
        loadAverage: sys?.loadAverage ?? null,
        memoryUsedBytes: sys?.memoryUsedBytes ?? null,
        memoryTotalBytes: sys?.memoryTotalBytes ?? null,
      });
    },
  });

  const interfaces = defineTool({
    name: 'opnsense_interfaces',
    title: 'OPNsense interfaces',
    description: 'The interfaces of the OPNsense firewall: name (lan, wan, opt1), device, description, status and IPv4/IPv6 addresses.',
    args: z.strictObject({ limit: z.number().int().min(1).max(200).default(50).describe('At most this many interfaces (default 50)') }),
    toolClass: 'read',
    async run(a, { signal }) {
      await opts.ready(signal);
      const { total, interfaces: all } = await opn.interfaces(signal);
      // Assigned interfaces first: those are the ones rules name.
      const sorted = [...all].sort((x, y) => Number(!x.name) - Number(!y.name));
      const shown = sorted.slice(0, a.limit);
      const lines = shown.map((i) => `- ${i.name || '(unassigned)'} ${i.device}${i.description && i.description.toLowerCase() !== i.name ? ` "${i.description}"` : ''}: ${i.status}${i.name && !i.enabled ? ' (disabled)' : ''}${[...i.ipv4, ...i.ipv6].length ? `, ${[...i.ipv4, ...i.ipv6].join(', ')}` : ''}`);
      const count = Math.max(total, all.length);
      const head = `${plural(count, 'interface')} on ${at} (${all.filter((i) => i.status === 'up').length} up)${shown.length < count ? `; showing ${shown.length}` : ''}`;
      return textResult([head, ...lines].join('\n'), { total: count, shown: shown.length, interfaces: shown });
    },
  });

  const rules = defineTool({
    name: 'opnsense_rules',
    title: 'OPNsense firewall rules',
    description:
      'The firewall filter rules of OPNsense (Firewall > Automation, the ones this API manages), each with its UUID; `filter` keeps those whose description, interface, source or destination contain the text. Since OPNsense 25.7 the list also holds the legacy GUI rules, marked read-only; older versions do not return legacy GUI rules at all.',
    args: z.strictObject({
      filter: z
        .string()
        .max(100)
        .regex(/^[^\p{Cc}]*$/u, 'text without control characters')
        .optional()
        .describe('Text a rule\'s description, interface, source or destination contains (case-insensitive): "nas", "lan", "192.168.1.10"'),
      limit: z.number().int().min(1).max(200).default(50).describe('At most this many rules (default 50)'),
    }),
    toolClass: 'read',
    async run(a, { signal }) {
      await opts.ready(signal);
      const { total, rules: all } = await opn.rules({}, signal);
      const f = a.filter?.trim().toLowerCase();
      const hits = f ? all.filter((r) => [r.description, r.interface, r.source, r.destination].some((v) => v.toLowerCase().includes(f))) : all;
      const shown = hits.slice(0, a.limit);
      const legacy = hits.filter((r) => r.legacy).length;
      const head = `${plural(hits.length, 'rule')}${f ? ` matching ${JSON.stringify(a.filter)}` : ''} on ${at} (${hits.filter((r) => r.enabled).length} enabled${legacy ? `, ${legacy} legacy read-only` : ''})${shown.length < hits.length ? `; showing ${shown.length}` : ''}${total > all.length ? `; only the first ${all.length} of ${total} were read` : ''}`;
      return textResult([head, ...shown.map(ruleLine)].join('\n'), { total: hits.length, shown: shown.length, rules: shown.map(ruleOut) });
    },
  });

  const toNew = (a: z.output<typeof CreateRuleArgs>): OpnNewRule => ({ ...a });

  const create = defineTool({
    name: 'opnsense_create_rule',
    title: 'Create an OPNsense firewall rule',
    description: `Creates a firewall filter rule on OPNsense, applies it at once and reads it back. ${NO_ROLLBACK}`,
    args: CreateRuleArgs,
    toolClass: 'write',
    annotations: { destructiveHint: true, idempotentHint: false },
    async preview(a) {
      const r = toNew(a);
      return {
        action: `Create firewall rule on ${at}: ${ruleText(r)}, ${r.enabled ? 'enabled' : 'disabled'}, ${r.log ? 'logged' : 'not logged'}, description ${JSON.stringify(r.description)}. ${NO_ROLLBACK}`,
        where: [`opnsense/${r.interface}`],
      };
    },
    async run(a, { signal, auditDetail }) {
      await opts.ready(signal);
      const want = toNew(a);
      let uuid: string;
      try {
        uuid = await opn.addRule(want, signal);
      } catch (err) {
        if (!(err instanceof OpnsenseValidationError)) throw err;
        // A Map: the field names are OPNsense's (`__proto__` included).
        const byArg = new Map<string, string[]>();
        for (const [field, msgs] of Object.entries(err.validations)) {
          const arg = (Object.hasOwn(ARG_OF, field) ? ARG_OF[field] : undefined) ?? field.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
          byArg.set(arg, [...(byArg.get(arg) ?? []), ...msgs]);
        }
        const lines = [...byArg].map(([arg, msgs]) => `- ${arg}: ${msgs.join('; ')}`);
        return errorResult([`${at} refused the rule; nothing was created:`, ...lines].join('\n'), { created: false, validations: Object.fromEntries(byArg) });
      }
      // Recorded before apply: from here on the rule exists, whatever happens next.
      auditDetail?.({ uuid, rule: { ...want } });
      // add_rule only saves the config; pf runs it after apply (peers' "rule created but not
      // there" reports, vespo92/OPNSenseMCP 0.7.5). Then read back what OPNsense keeps.
      await opn.apply(signal);
      const got = await opn.getRule(uuid, signal);
      if (!got) return errorResult(`${at} created rule ${uuid} and applied it, but it does not read back (get_rule answers nothing); check Firewall > Automation`, { created: true, uuid, verified: false });
      auditDetail?.({ uuid, rule: ruleOut(got) });
      const diff = differences(want, got);
      if (diff.length) return errorResult(`${at} created and applied rule ${uuid}, but it reads back differently: ${diff.join('; ')}`, { created: true, uuid, verified: false, differences: diff, rule: ruleOut(got) });
      return textResult(`Created and applied rule ${named(got)} on ${at}, ${got.enabled ? 'enabled' : 'disabled'}; read back as asked. Undo: opnsense_toggle_rule with uuid ${uuid} and enabled false, or delete it in the GUI.`, { created: true, uuid, verified: true, rule: ruleOut(got) });
    },
  });

  const ruleOrThrow = async (uuid: string, signal: AbortSignal): Promise<OpnRule> => {
    const r = await opn.getRule(uuid, signal);
    if (!r) throw new HomelabError('NOT_FOUND', `uuid: ${at} has no rule ${uuid} managed by its API (opnsense_rules lists them; legacy GUI rules cannot be changed through it)`);
    return r;
  };

  const toggle = defineTool({
    name: 'opnsense_toggle_rule',
    title: 'Enable or disable an OPNsense firewall rule',
    description: `Enables or disables a firewall rule of OPNsense by UUID (enabled says which: never a flip, so the approved preview is what runs), applies it at once and reads it back. ${NO_ROLLBACK}`,
    // `enabled` is required: a flip computed from the state at run time could do the opposite of
    // what the preview (the state at preview time) said and the person approved.
    args: z.strictObject({ uuid: UUID, enabled: z.boolean().describe('true to enable, false to disable (required: the tool never flips)') }),
    toolClass: 'write',
    annotations: { destructiveHint: true, idempotentHint: false },
    async preview(a, { signal }) {
      try {
        const r = await ruleOrThrow(a.uuid, signal);
        const target = a.enabled;
        if (target === r.enabled) return { action: `Nothing to change: rule ${named(r)} on ${at} is already ${r.enabled ? 'enabled' : 'disabled'}`, where: [`opnsense/${r.interface || 'floating'}`] };
        return { action: `${target ? 'Enable' : 'Disable'} rule ${named(r)} on ${at} (now ${r.enabled ? 'enabled' : 'disabled'}). ${NO_ROLLBACK}`, where: [`opnsense/${r.interface || 'floating'}`] };
      } catch (err) {
        return { action: `${a.enabled ? 'Enable' : 'Disable'} rule ${a.uuid} on ${at} (it could not be looked up: ${err instanceof Error ? err.message : String(err)}). ${NO_ROLLBACK}` };
      }
    },
    async run(a, { signal, auditDetail }) {
      await opts.ready(signal);
      const before = await ruleOrThrow(a.uuid, signal);
      const target = a.enabled;
      if (target === before.enabled) return textResult(`Rule ${named(before)} on ${at} is already ${target ? 'enabled' : 'disabled'}; nothing changed`, { uuid: a.uuid, changed: false, enabled: target, rule: ruleOut(before) });
      if (!(await opn.toggleRule(a.uuid, target, signal))) throw new HomelabError('NOT_FOUND', `uuid: ${at} did not toggle rule ${a.uuid} (it no longer knows it)`);
      // The previous state is what undoing this takes: recorded as soon as the change is saved.
      auditDetail?.({ uuid: a.uuid, description: before.description, previous: { enabled: before.enabled }, now: { enabled: target } });
      await opn.apply(signal);
      const after = await opn.getRule(a.uuid, signal);
      if (!after || after.enabled !== target) return errorResult(`${at} toggled rule ${a.uuid} and applied, but it reads back ${after ? (after.enabled ? 'enabled' : 'disabled') : 'as gone'}`, { uuid: a.uuid, changed: true, verified: false });
      return textResult(`${target ? 'Enabled' : 'Disabled'} and applied rule ${named(after)} on ${at} (was ${before.enabled ? 'enabled' : 'disabled'}); read back as asked. Undo: opnsense_toggle_rule with uuid ${a.uuid} and enabled ${before.enabled}.`, {
        uuid: a.uuid,
        changed: true,
        verified: true,
        previous: { enabled: before.enabled },
        enabled: after.enabled,
        rule: ruleOut(after),
      });
    },
  });

  return [status, interfaces, rules, create, toggle];
}
