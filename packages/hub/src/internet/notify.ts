/**
 * Push notifications through ntfy (internet.ntfy): the `send_notification` tool, and the hub's
 * own notices (`notify:` in hub.yaml) when a write waits for a person's approval in `human`
 * mode, when a node (edge) goes down, and when a service the hub connects to (a native MCP
 * server such as Home Assistant's) goes down. Each notice of one kind about one subject is sent
 * at most every notify.minIntervalSeconds, so a flapping edge does not ring a phone all night.
 *
 * Messages go out with ntfy's JSON publish (`POST /` with the topic in the body): any text is
 * sent as it is, where headers would need encoding. The token is a Bearer header, never in a URL.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { isHomelabError } from '@homelab-mcp/core';
import { redactText } from '@homelab-mcp/core/redact';
import type { CatalogTool } from '../catalog/types.ts';
import type { InternetDeps } from './deps.ts';

const PRIORITY_NAMES: Record<string, number> = { min: 1, low: 2, default: 3, high: 4, max: 5, urgent: 5 };

const capText = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** What send_notification publishes (ntfy's JSON publish body). */
export interface NtfyMessage {
  topic: string;
  message: string;
  title?: string;
  priority?: number;
  tags?: string[];
  click?: string;
}

const NOT_CONFIGURED = 'send_notification: internet.ntfy is not configured; add to hub.yaml: internet: { ntfy: { url: https://ntfy.example.com, topic: homelab, token: ${NTFY_TOKEN} } }';

function fail(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

const KNOWN_ARGS = ['message', 'title', 'priority', 'tags', 'click'];

/** The message of send_notification's arguments, or what is wrong with them. */
export function ntfyMessage(args: Record<string, unknown>, topic: string): NtfyMessage | string {
  const arg = (n: string, what: string) => `send_notification: argument "${n}": ${what}`;
  // Dropping one would send something else than asked: a topic of its own, a delay, an attachment.
  const unknown = Object.keys(args).filter((k) => !KNOWN_ARGS.includes(k));
  if (unknown.length) return `send_notification: unknown argument ${unknown.map((k) => `"${k}"`).join(', ')} (expected: ${KNOWN_ARGS.join(', ')}; the topic is internet.ntfy.topic)`;
  if (typeof args.message !== 'string' || !args.message.trim()) return arg('message', 'expected the text to send');
  if (args.message.length > 4096) return arg('message', 'at most 4096 characters (ntfy cuts longer messages into an attachment)');
  const m: NtfyMessage = { topic, message: args.message };
  if (args.title !== undefined) {
    if (typeof args.title !== 'string' || args.title.length > 250) return arg('title', 'expected a string of at most 250 characters');
    m.title = args.title;
  }
  if (args.priority !== undefined) {
    const p = typeof args.priority === 'number' ? args.priority : typeof args.priority === 'string' ? (PRIORITY_NAMES[args.priority.toLowerCase()] ?? Number(args.priority)) : NaN;
    if (!Number.isInteger(p) || p < 1 || p > 5) return arg('priority', 'expected 1..5 or min, low, default, high, max, urgent');
    m.priority = p;
  }
  if (args.tags !== undefined) {
    const tags = typeof args.tags === 'string' ? args.tags.split(',').map((t) => t.trim()).filter(Boolean) : args.tags;
    if (!Array.isArray(tags) || tags.length > 20 || !tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 100)) return arg('tags', 'expected a list of at most 20 short strings (emoji short codes such as warning, or words)');
    m.tags = tags as string[];
  }
  if (args.click !== undefined) {
    let ok = false;
    try {
      ok = typeof args.click === 'string' && args.click.length <= 2048 && /^https?:$/.test(new URL(args.click).protocol);
    } catch {
      // not a URL
    }
    if (!ok) return arg('click', 'expected an http:// or https:// URL (at most 2048 characters) to open when the notification is tapped');
    m.click = args.click as string;
  }
  return m;
}

/** Publishes one message; the answer's id, or an error that names ntfy's reason. */
async function publish(deps: InternetDeps, m: NtfyMessage, signal?: AbortSignal): Promise<{ id?: string; url: string }> {
  const n = deps.config().ntfy!;
  const base = n.url.replace(/\/+$/, '');
  const r = await deps.http.request({
    method: 'POST',
    url: `${base}/`,
    headers: { 'content-type': 'application/json', ...(n.token ? { authorization: `Bearer ${n.token}` } : {}) },
    body: JSON.stringify(m),
    timeoutMs: 15_000,
    maxBytes: 64 * 1024,
    ...(signal ? { signal } : {}),
  });
  const text = r.text();
  let j: Record<string, unknown> = {};
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // an HTML error page of a proxy in front of ntfy
  }
  if (r.status !== 200) {
    // A proxy's error page may echo the request: the token must not ride back into the answer
    // (hidden before the cut, so that no part of it is left either).
    const hide = (s: string) => (n.token ? s.split(n.token).join('[REDACTED]') : s);
    const why = typeof j.error === 'string' ? `${hide(j.error).slice(0, 200)}${typeof j.code === 'number' ? ` (code ${j.code})` : ''}` : hide(text).slice(0, 200).trim() || 'no reason given';
    const hint = r.status === 401 || r.status === 403 ? '; check internet.ntfy.token and the topic\'s access' : '';
    throw new Error(`ntfy at ${new URL(base).host} answered ${r.status}: ${why}${hint}`);
  }
  return { ...(typeof j.id === 'string' ? { id: j.id } : {}), url: `${base}/${m.topic}` };
}

/** The hub's own notices, rate-limited per kind and subject. */
export interface Notifier {
  /** A write is waiting for a person's answer (human mode). */
  approvalPending(e: { user: string; tool: string; action: string }): void;
  /** A node (`node_down`) or a service (`service_down`) went down. */
  down(kind: 'node_down' | 'service_down', subject: string, error?: string): void;
}

/**
 * @example const notifier = createNotifier(deps); notifier.down('node_down', 'pi-kitchen', 'connection refused');
 */
export function createNotifier(deps: InternetDeps, now: () => number = Date.now): Notifier {
  const last = new Map<string, number>();
  const send = (kind: 'approval_pending' | 'node_down' | 'service_down', subject: string, m: Omit<NtfyMessage, 'topic'>) => {
    const cfg = deps.notify();
    const ntfy = deps.config().ntfy;
    if (!cfg || !ntfy || !cfg.on.includes(kind)) return;
    const key = `${kind}\u0000${subject}`;
    const t = now();
    const prev = last.get(key);
    if (prev !== undefined && t - prev < cfg.minIntervalSeconds * 1000) return;
    if (last.size >= 10_000) last.clear();
    last.set(key, t);
    void publish(deps, { topic: ntfy.topic, ...m }).catch((err: unknown) =>
      deps.log.warn({ kind, subject, err: isHomelabError(err) || err instanceof Error ? err.message : String(err) }, `notify: the ${kind} notice about ${subject} could not be sent`),
    );
  };
  return {
    // The notice leaves the LAN (ntfy.sh, perhaps): secrets a command carries are masked, and it
    // is short; the full preview is in the client, where the person answers.
    approvalPending: (e) => send('approval_pending', `${e.user}\u0000${e.tool}`, { title: `Approval needed: ${e.tool}`, message: `${e.user} asks to ${capText(redactText(e.action), 300)}. Answer in the MCP client.`, priority: 4, tags: ['lock'] }),
    down: (kind, subject, error) =>
      send(kind, subject, { title: `${kind === 'node_down' ? 'Node' : 'Service'} down: ${subject}`, message: `${subject} is down${error ? `: ${capText(redactText(error), 300)}` : ''}.`, priority: 4, tags: ['warning'] }),
  };
}

/** send_notification, the write tool of this module. */
export function notifyTools(deps: InternetDeps): CatalogTool[] {
  return [
    {
      def: {
        name: 'send_notification',
        title: 'Send a push notification',
        description: 'Sends a push notification through the hub\'s ntfy server and topic (internet.ntfy): to a phone, "the backup failed". Priority 1..5 (or min..urgent), tags are ntfy tags or emoji short codes, click a URL opened when the notification is tapped.',
        inputSchema: {
          type: 'object',
          properties: {
            message: { type: 'string', minLength: 1, maxLength: 4096, description: 'The text.' },
            title: { type: 'string', maxLength: 250 },
            priority: { anyOf: [{ type: 'integer', minimum: 1, maximum: 5 }, { type: 'string', enum: ['min', 'low', 'default', 'high', 'max', 'urgent'] }], description: '1 (min) .. 5 (max/urgent); default 3.' },
            tags: { type: 'array', items: { type: 'string', maxLength: 100 }, maxItems: 20, description: 'e.g. ["warning", "backup"].' },
            click: { type: 'string', description: 'An http(s) URL opened when the notification is tapped.' },
          },
          required: ['message'],
          additionalProperties: false,
        },
        annotations: { title: 'Send a push notification', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
      },
      toolClass: 'write',
      source: 'internet',
      targets: () => ['ntfy'],
      preview(args) {
        const n = deps.config().ntfy;
        if (!n) return { tool: 'send_notification', where: ['ntfy'], action: `refuse: ${NOT_CONFIGURED}`, arguments: args };
        const m = ntfyMessage(args, n.topic);
        if (typeof m === 'string') return { tool: 'send_notification', where: ['ntfy'], action: `refuse: ${m}`, arguments: args };
        // Exactly the body that will be posted, and where (the token is a header, never shown).
        return { tool: 'send_notification', where: ['ntfy'], action: `send to ntfy ${n.url.replace(/\/+$/, '')}/${n.topic}: ${JSON.stringify(m)}`, arguments: args };
      },
      async call(args, ctx) {
        const n = deps.config().ntfy;
        if (!n) return fail(NOT_CONFIGURED);
        const m = ntfyMessage(args, n.topic);
        if (typeof m === 'string') return fail(m);
        try {
          const r = await publish(deps, m, ctx.signal);
          return { content: [{ type: 'text', text: `Sent to ${r.url}${r.id ? ` (message ${r.id})` : ''}.` }], structuredContent: { sent: true, url: r.url, ...(r.id ? { id: r.id } : {}), message: m } };
        } catch (err) {
          return fail(`send_notification: ${err instanceof Error ? err.message : String(err)}`);
        }
      },
    },
  ];
}
