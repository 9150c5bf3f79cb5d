/**
 * `dns_lookup`: what a name resolves to, with TTLs, as one resolver or every configured one sees
 * it. `server: "all"` asks the named resolvers (internet.dns.resolvers), the Pi-holes and the
 * system's resolver side by side and says where they differ, so "why does X resolve differently
 * on the LAN?" is one call. Questions go out through our own small DNS client (dns-wire.ts):
 * node:dns has TTLs only for A and AAAA and no way to tell NXDOMAIN from REFUSED.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { getServers } from 'node:dns';
import { isIP } from 'node:net';
import type { CatalogTool } from '../catalog/types.ts';
import type { InternetDeps } from './deps.ts';
import { allows, forbiddenReason, parseAllowHosts } from './destination.ts';
import { parseServer, queryDns, RECORD_TYPES, reverseName, type DnsRecord, type RecordType } from './dns-wire.ts';

/** At most this many records of one type from one server are shown (a round-robin of 500 A records says nothing more). */
const MAX_RECORDS = 50;
const MAX_VALUE = 1000;
const HOSTNAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})?)*\.?$/;

interface Target {
  /** How the answer names it: `lan`, `pihole ns1`, `system`, or the address itself. */
  label: string;
  /** The addresses to ask, in order (the system's list has several: the next is asked when one does not answer). */
  servers: Array<{ host: string; port: number }>;
}

export interface ServerAnswer {
  server: string;
  address: string;
  rcode?: string;
  answers: DnsRecord[];
  /** The SOA of a negative answer, whose minimum is how long it is cached. */
  negativeTtl?: number;
  error?: string;
  /** Records left out (more than 50 of one type). */
  omitted?: number;
}

const addr = (s: { host: string; port: number }) => (isIP(s.host) === 6 ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`);

function fail(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** The system's resolvers (from /etc/resolv.conf, as node:dns reads it). */
function systemServers(): Array<{ host: string; port: number }> {
  return getServers().flatMap((s) => {
    const p = parseServer(s);
    return p ? [p] : [];
  });
}

function targetsFor(server: string | undefined, deps: InternetDeps): Target[] | string {
  const cfg = deps.config().dns;
  const named = Object.entries(cfg.resolvers);
  const piholes = Object.entries(deps.piholeResolvers());
  const known = [...named.map(([n]) => n), ...piholes.map(([n]) => n)];
  const one = (label: string, address: string, key: string): Target | string => {
    const p = parseServer(address);
    return p ? { label, servers: [p] } : `${key}: "${address}" is not an address (expected 10.0.0.53, 10.0.0.53:5353 or [::1]:53)`;
  };
  const system = (): Target => ({ label: 'system', servers: systemServers() });
  if (server === undefined || server === 'system') return [system()];
  if (server === 'all') {
    const all: Array<Target | string> = [
      ...named.map(([n, a]) => one(n, a, `internet.dns.resolvers.${n}`)),
      ...piholes.filter(([n]) => !cfg.resolvers[n]).map(([n, a]) => one(`pihole ${n}`, a, `the address of Pi-hole ${n}`)),
      ...(cfg.includeSystem ? [system()] : []),
    ];
    const bad = all.find((t): t is string => typeof t === 'string');
    if (bad) return bad;
    return all as Target[];
  }
  const configured = cfg.resolvers[server];
  if (configured) {
    const t = one(server, configured, `internet.dns.resolvers.${server}`);
    return typeof t === 'string' ? t : [t];
  }
  const pihole = deps.piholeResolvers()[server];
  if (pihole) {
    const t = one(`pihole ${server}`, pihole, `the address of Pi-hole ${server}`);
    return typeof t === 'string' ? t : [t];
  }
  const p = parseServer(server);
  if (p) {
    // An address the model picked: a DNS server on port 53 of the LAN or the internet. Not
    // loopback, link-local or the like, nor another port, unless internet.allowHosts lets that
    // address through: a read must not become a way to send packets to the hub's own services.
    const reason = forbiddenReason(p.host);
    const odd = reason !== undefined && !/private|unique local|shared|CGNAT/i.test(reason);
    const known = [...named.map(([, a]) => a), ...piholes.map(([, a]) => a)].map((a) => parseServer(a)).some((k) => k && k.host === p.host && k.port === p.port);
    if ((odd || p.port !== 53) && !known && !parseAllowHosts(deps.config().allowHosts).some((e) => allows(e, p.host, p.host, p.port))) {
      return `dns_lookup: argument "server": ${addr(p)} is ${odd ? reason : `not port 53`}; a DNS server there is asked only when it is configured (internet.dns.resolvers) or listed in internet.allowHosts`;
    }
    return [{ label: addr(p), servers: [p] }];
  }
  return `dns_lookup: argument "server": "${server.slice(0, 100)}" is neither an address (10.0.0.53, 10.0.0.53:5353, [::1]:53) nor a configured resolver or Pi-hole (known: ${known.length ? known.join(', ') : 'none; add some under internet.dns.resolvers'}), nor "all" or "system"`;
}

/** One audit record per question asked: outbound requests are all journaled, DNS included. */
type OnQuery = InternetDeps['onHttpRequest'];

async function ask(t: Target, name: string, types: RecordType[], signal: AbortSignal, onQuery: OnQuery): Promise<ServerAnswer> {
  if (t.servers.length === 0) return { server: t.label, address: '-', answers: [], error: 'no resolver is configured (/etc/resolv.conf lists none)' };
  let last: ServerAnswer | undefined;
  for (const s of t.servers) {
    try {
      const answers: DnsRecord[] = [];
      let rcode = 'NOERROR';
      let negativeTtl: number | undefined;
      let omitted = 0;
      for (const type of types) {
        const started = performance.now();
        const url = `dns://${addr(s)}/${encodeURIComponent(name)}/${type}`;
        let r;
        try {
          r = await queryDns(s, name, type, signal);
        } catch (err) {
          onQuery({ upstream: 'dns', method: 'DNS', url, error: err instanceof Error ? err.message : String(err), durationMs: performance.now() - started });
          throw err;
        }
        onQuery({ upstream: 'dns', method: 'DNS', url, durationMs: performance.now() - started, ...(r.rcode !== 'NOERROR' ? { error: r.rcode } : {}) });
        if (r.rcode !== 'NOERROR') rcode = r.rcode;
        // A CNAME chain comes back with the A question too: each record once.
        for (const rec of r.answers) {
          if (answers.some((a) => a.type === rec.type && a.name === rec.name && a.value === rec.value)) continue;
          if (answers.filter((a) => a.type === rec.type).length >= MAX_RECORDS) {
            omitted++;
            continue;
          }
          answers.push({ ...rec, value: rec.value.length > MAX_VALUE ? `${rec.value.slice(0, MAX_VALUE)}… (${rec.value.length} characters)` : rec.value });
        }
        const soa = r.authority.find((a) => a.type === 'SOA');
        if (r.answers.length === 0 && soa) negativeTtl = Math.min(soa.ttl, Number(soa.value.split(' ').at(-1)));
      }
      return { server: t.label, address: addr(s), rcode, answers, ...(negativeTtl !== undefined ? { negativeTtl } : {}), ...(omitted ? { omitted } : {}) };
    } catch (err) {
      last = { server: t.label, address: addr(s), answers: [], error: err instanceof Error ? err.message : String(err) };
      if (signal.aborted) break;
    }
  }
  return last!;
}

/** What a server said, ignoring TTLs and order: two servers that agree have the same key. */
function answerKey(a: ServerAnswer): string {
  if (a.error) return `error`;
  return JSON.stringify([a.rcode, a.answers.map((r) => `${r.name.toLowerCase()} ${r.type} ${r.value}`).sort()]);
}

function summary(a: ServerAnswer): string {
  if (a.error) return `no answer (${a.error})`;
  const values = a.answers.map((r) => `${r.type} ${r.value}`);
  if (a.rcode !== 'NOERROR') return a.rcode ?? 'no answer';
  return values.length ? values.join(', ') : 'no records';
}

function render(name: string, types: RecordType[], results: ServerAnswer[]): string {
  const lines = [`${name} ${types.join(', ')}:`];
  for (const r of results) {
    const head = `${r.server}${r.server === r.address ? '' : ` (${r.address})`}`;
    if (r.error) {
      lines.push(`${head}: no answer: ${r.error}`);
      continue;
    }
    lines.push(`${head}: ${r.rcode}${r.answers.length === 0 ? (r.rcode === 'NOERROR' ? ', no records' : '') + (r.negativeTtl !== undefined ? ` (cached as negative for ${r.negativeTtl} s)` : '') : ''}`);
    for (const a of r.answers) lines.push(`  ${a.name} ${a.ttl} ${a.type} ${a.value}`);
    if (r.omitted) lines.push(`  … ${r.omitted} more record(s) not shown`);
  }
  if (results.length > 1) {
    const answered = results.filter((r) => !r.error);
    const groups = new Map<string, ServerAnswer[]>();
    for (const r of answered) groups.set(answerKey(r), [...(groups.get(answerKey(r)) ?? []), r]);
    if (groups.size <= 1) lines.push(answered.length ? `All ${answered.length} resolvers that answered agree${answered.length < results.length ? ` (${results.length - answered.length} did not answer)` : ''}.` : 'No resolver answered.');
    else lines.push(`The resolvers disagree: ${[...groups.values()].map((g) => `${g.map((r) => r.server).join(', ')} ${g.length === 1 ? 'says' : 'say'} ${summary(g[0]!)}`).join('; ')}.`);
  }
  return lines.join('\n');
}

/** dns_lookup, the read tool of this module. */
export function dnsTools(deps: InternetDeps): CatalogTool[] {
  return [
    {
      def: {
        name: 'dns_lookup',
        title: 'DNS lookup',
        description:
          'Resolves a name (A, AAAA, CNAME, MX, TXT, SRV, NS, SOA or PTR; an IP address gives its PTR) with TTLs. `server` is a resolver address (10.0.0.53, 10.0.0.53:5353, [::1]:53), a name from internet.dns.resolvers, a Pi-hole instance, "system" (the default) or "all": every configured resolver side by side, saying where they differ.',
        inputSchema: {
          type: 'object',
          properties: {
            hostname: { type: 'string', minLength: 1, maxLength: 253, description: 'The name to resolve (nas.example.com), or an IP address for its PTR record.' },
            type: { type: 'string', enum: Object.keys(RECORD_TYPES), description: 'The record type (default: A and AAAA; PTR for an IP address).' },
            server: { type: 'string', minLength: 1, maxLength: 300, description: 'Which resolver to ask: an address, a configured resolver or Pi-hole name, "system" or "all".' },
          },
          required: ['hostname'],
          additionalProperties: false,
        },
        annotations: { title: 'DNS lookup', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      },
      toolClass: 'read',
      source: 'internet',
      async call(args, ctx) {
        // Dropping one would answer another question than asked (an A lookup for `record_type: MX`).
        const unknown = Object.keys(args).filter((k) => !['hostname', 'type', 'server'].includes(k));
        if (unknown.length) return fail(`dns_lookup: unknown argument ${unknown.map((k) => `"${k}"`).join(', ')} (expected: hostname, type, server)`);
        const host = args.hostname;
        if (typeof host !== 'string' || !(isIP(host) || HOSTNAME.test(host))) return fail('dns_lookup: argument "hostname": expected a DNS name (letters, digits, - and _, dot-separated, at most 253 characters) or an IP address');
        const type = args.type;
        if (type !== undefined && (typeof type !== 'string' || !(type.toUpperCase() in RECORD_TYPES))) return fail(`dns_lookup: argument "type": expected one of ${Object.keys(RECORD_TYPES).join(', ')}`);
        if (args.server !== undefined && typeof args.server !== 'string') return fail('dns_lookup: argument "server": expected a string');
        const targets = targetsFor(args.server as string | undefined, deps);
        if (typeof targets === 'string') return fail(targets);
        const ip = isIP(host) !== 0;
        const types: RecordType[] = type ? [(type as string).toUpperCase() as RecordType] : ip ? ['PTR'] : ['A', 'AAAA'];
        // A PTR question about an address is asked under in-addr.arpa / ip6.arpa.
        const name = ip && types[0] === 'PTR' ? reverseName(host) : host;
        const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(deps.config().dns.timeoutMs)]);
        const results = await Promise.all(targets.map((t) => ask(t, name, types, signal, deps.onHttpRequest)));
        const text = render(name, types, results);
        const distinct = new Set(results.filter((r) => !r.error).map(answerKey)).size;
        return {
          content: [{ type: 'text', text }],
          structuredContent: { hostname: host, name, types, results, ...(results.length > 1 ? { agree: distinct <= 1 } : {}) },
          ...(results.every((r) => r.error) ? { isError: true } : {}),
        };
      },
    },
  ];
}
