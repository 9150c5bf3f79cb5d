/**
 * `update_edges(node)`: brings edges up to the bundle this hub serves, through each edge's own
 * tools. On each selected node: `run_command mktemp -d` for a private folder, `write_file` of
 * the bundle and of install-edge.sh into it, then one `run_command` of
 * `sh DIR/install-edge.sh --upgrade --bundle-file DIR/homelab-edge.mjs --sha256 HASH` that
 * also removes the folder. The installer verifies the hash, swaps the bundle in and restarts the
 * unit (the edge runs as root under it, so the command does too). The hub then asks the edge
 * again until it answers with the new version, and reports `before -> after`, `already
 * current`, or that it did not come back within `wait_s`: never hidden.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { HomelabError } from '@homelab-mcp/core';
import { stateText, type HubNode } from '../../catalog/nodes.ts';
import { messageOf, NODE_ARG, quotedName, selectNodes } from '../../catalog/fleet.ts';
import type { CallContext, CatalogTool } from '../../catalog/types.ts';
import { callNode } from '../../nodes/file-policy.ts';
import { LOCAL_NODE_URL } from '../../nodes/local-node.ts';
import type { EdgeBundle } from '../../edge-dist/edge-dist.ts';
import { edgeVersionOf, nodeVersion } from './edge-version.ts';

export const DEFAULT_WAIT_S = 120;
const MAX_WAIT_S = 1800;
/** Nodes upgraded at once: each takes the bundle over the network. */
const PARALLEL = 8;
/** The installer may install Node.js with apt-get first. */
const INSTALL_TIMEOUT_S = 600;
const SERVER_INFO_META = 'io.modelcontextprotocol/serverInfo';
/** `mktemp -d` answers this, nothing else is used as a path. */
const TMP_DIR = /^\/tmp\/homelab-edge-upgrade\.[A-Za-z0-9]{6,32}$/;
/** The most of the installer's output an answer carries per node. */
const MAX_OUTPUT_CHARS = 2000;

export interface UpdateEdgesOptions {
  nodes: () => HubNode[];
  /** The bundle this hub serves, with its version. */
  bundle: () => EdgeBundle | undefined;
  /** install-edge.sh as it is in the repository (no hub's defaults written in). */
  installer: () => string;
  callTimeoutMs: () => number;
  /** Pause between two looks at an edge that is restarting; tests shorten it. */
  pollMs?: number;
}

type Status = 'upgraded' | 'current' | 'not_back' | 'failed' | 'skipped';

interface NodeReport {
  node: string;
  status: Status;
  before?: string;
  after?: string;
  /** Seconds from the installer's start until the edge answered with the new version. */
  seconds?: number;
  text: string;
  /** The installer's last words, on failure. */
  output?: string;
}

const cut = (s: string, n = MAX_OUTPUT_CHARS) => (s.length > n ? `…${s.slice(-n)}` : s);
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** What an edge's run_command takes on stdin at most (edge capabilities/commands.ts). */
const MAX_STDIN_BYTES = 1024 * 1024;
/** Writes stdin to `path`, private to root: the way in when write_file cannot reach the folder. */
const stdinCommand = (path: string) => `umask 077 && cat > ${shellQuote(path)}`;

/** The commands run on a node, with its folder: the preview shows them as they will run. */
export function upgradeCommands(dir: string, sha256: string) {
  const q = shellQuote(dir);
  return {
    mktemp: 'mktemp -d /tmp/homelab-edge-upgrade.XXXXXXXX',
    install: `sh ${q}/install-edge.sh --upgrade --bundle-file ${q}/homelab-edge.mjs --sha256 ${sha256}; rc=$?; rm -rf ${q}; exit $rc`,
  };
}

function isLocal(node: HubNode): boolean {
  return node.url === LOCAL_NODE_URL;
}

function structured(r: CallToolResult): Record<string, unknown> {
  return r.structuredContent && typeof r.structuredContent === 'object' ? (r.structuredContent as Record<string, unknown>) : {};
}
function textOf(r: CallToolResult): string {
  return (r.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}
/** The version an edge's answer names in its `_meta` (2026-07-28), else what the hub knows. */
function versionOf(r: CallToolResult, node: HubNode): string | undefined {
  const info = r._meta?.[SERVER_INFO_META] as { name?: unknown; version?: unknown } | undefined;
  return info ? edgeVersionOf(info) : nodeVersion(node);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function updateEdgesTool(opts: UpdateEdgesOptions): CatalogTool {
  const pollMs = opts.pollMs ?? 1000;
  const waitOf = (args: Record<string, unknown>): number => {
    const w = args.wait_s;
    if (w === undefined) return DEFAULT_WAIT_S;
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 1 || w > MAX_WAIT_S) throw new HomelabError('INVALID_ARGUMENTS', `wait_s: expected a number of seconds from 1 to ${MAX_WAIT_S}, got ${typeof w === 'number' ? w : JSON.stringify(w)?.slice(0, 40)}`);
    return w;
  };
  const bundleOrThrow = (): EdgeBundle => {
    const b = opts.bundle();
    if (!b) throw new HomelabError('FAILED_PRECONDITION', 'this hub has no edge bundle to give (homelab-edge.mjs is neither beside the hub nor built in packages/edge/dist): nothing can be updated');
    return b;
  };
  const versionWords = (v: string | undefined) => v ?? 'version unknown';

  async function upgradeOne(node: HubNode, bundle: EdgeBundle, waitS: number, ctx: CallContext): Promise<NodeReport> {
    const name = node.name;
    if (isLocal(node)) return { node: name, status: 'skipped', text: 'skipped: the hub’s own node runs the edge built into the hub, and is updated with the hub' };
    const st = stateText(node.source.state());
    if (!st.up) return { node: name, status: 'failed', text: `not updated: ${st.text}` };
    const before = nodeVersion(node);
    const timeoutMs = opts.callTimeoutMs();
    // No file policy: every path and command here is the hub's own, none the caller's (who may
    // run any command anyway), and an edge too old to confirm a policy is the one to upgrade.
    const call = (tool: string, args: Record<string, unknown>, ms = timeoutMs) => callNode(node, tool, args, { signal: ctx.signal, timeoutMs: ms }, undefined);
    const failed = (why: string, output?: string): NodeReport => ({ node: name, status: 'failed', ...(before ? { before } : {}), text: `not updated: ${why}`, ...(output ? { output: cut(output) } : {}) });
    const commandError = (r: CallToolResult): string | undefined => {
      if (r.isError) return textOf(r).split('\n')[0]?.slice(0, 500) || 'failed';
      const s = structured(r);
      if (s.timedOut === true) return 'timed out';
      if (typeof s.signal === 'string' && s.signal) return `killed by ${s.signal}`;
      if (typeof s.exitCode === 'number' && s.exitCode !== 0) return `exit ${s.exitCode}`;
      return undefined;
    };

    // 1. A folder of its own (mktemp -d: no other user can have put anything there).
    let dir: string;
    try {
      const r = await call('run_command', { cmd: upgradeCommands('', bundle.sha256).mktemp, timeout_s: 30 });
      const err = commandError(r);
      if (err) return failed(`mktemp -d failed (${err})`, String(structured(r).stderr ?? ''));
      dir = String(structured(r).stdout ?? '').trim();
      if (!TMP_DIR.test(dir)) return failed(`mktemp -d answered ${quotedName(dir)}, not a folder under /tmp`);
    } catch (err) {
      return failed(messageOf(err));
    }
    const cmds = upgradeCommands(dir, bundle.sha256);
    // 2. The bundle and the installer, through the edge's write_file; an edge whose file tools
    // do not reach /tmp (--root /srv) takes them as a command's stdin instead (the installer
    // checks the bundle's hash either way).
    try {
      for (const [file, bytes] of [
        ['homelab-edge.mjs', bundle.bytes],
        ['install-edge.sh', Buffer.from(opts.installer(), 'utf8')],
      ] as const) {
        const path = `${dir}/${file}`;
        const r = await call('write_file', { path, content: bytes.toString('base64'), encoding: 'base64', mode: '0600' });
        if (!r.isError) continue;
        const why = textOf(r).split('\n')[0]?.slice(0, 500) || 'failed';
        const text = bytes.toString('utf8');
        const piped = bytes.length <= MAX_STDIN_BYTES && Buffer.from(text, 'utf8').equals(bytes) ? await call('run_command', { cmd: stdinCommand(path), stdin: text, timeout_s: 60 }) : undefined;
        const err = piped ? commandError(piped) : `${bytes.length} bytes, too big or not text for a command's stdin`;
        if (err !== undefined) {
          await call('run_command', { cmd: `rm -rf ${shellQuote(dir)}`, timeout_s: 30 }).catch(() => undefined);
          return failed(`write_file ${path}: ${why}; and through stdin: ${err}`);
        }
      }
    } catch (err) {
      return failed(messageOf(err));
    }
    // 3. The installer. Its restart may end the edge before the answer is out: a lost answer
    // is not a failure yet; whether the edge comes back with the new version decides.
    const started = Date.now();
    let output = '';
    let lost: string | undefined;
    try {
      const r = await call('run_command', { cmd: cmds.install, timeout_s: INSTALL_TIMEOUT_S }, INSTALL_TIMEOUT_S * 1000 + 10_000);
      const s = structured(r);
      output = `${String(s.stdout ?? '')}${s.stderr ? `\n${String(s.stderr)}` : ''}`.trim();
      const err = commandError(r);
      if (err) return failed(`install-edge.sh --upgrade: ${err}`, output || textOf(r));
      if (/already current/.test(String(s.stdout ?? ''))) {
        return { node: name, status: 'current', ...(before ? { before, after: before } : {}), text: `already current (${versionWords(before)}): the same bundle is installed; nothing restarted` };
      }
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      lost = messageOf(err);
    }
    // 4. Back? Asked until it answers as the new version, or wait_s has passed.
    const target = bundle.version;
    const until = started + waitS * 1000;
    let sawGone = lost !== undefined;
    /** What the last look found: the version that answered, or why nothing did. */
    let last: { version?: string } | { error: string } | undefined;
    while (Date.now() < until) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (node.source.state().status !== 'up') {
        sawGone = true;
        await node.source.checkNow?.().catch(() => undefined);
      }
      try {
        // The look is also the clean-up: the folder goes even when the restart cut the
        // installer's own `rm -rf` short.
        const r = await call('run_command', { cmd: `rm -rf ${shellQuote(dir)}`, timeout_s: 5 }, Math.min(10_000, Math.max(1000, until - Date.now())));
        if (!r.isError) {
          const v = versionOf(r, node);
          // The target version answering is the new edge. Another build of the version it
          // had cannot be told from the old process: its first answer is taken, and said so. A
          // bundle that names no version: the first answer after the edge was seen gone.
          if (v !== undefined && (target === undefined ? sawGone : v === target)) {
            const same = v === before ? ' (another build of the same version)' : '';
            return { node: name, status: 'upgraded', ...(before ? { before } : {}), after: v, seconds: Math.round((Date.now() - started) / 100) / 10, text: `${versionWords(before)} -> ${v}${same}` };
          }
          last = { ...(v ? { version: v } : {}) };
        } else last = { error: textOf(r).split('\n')[0]?.slice(0, 300) || 'failed' };
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        sawGone = true;
        last = { error: messageOf(err).slice(0, 300) };
      }
      await sleep(pollMs, ctx.signal);
    }
    const ran = lost ? `the installer's answer was lost (${lost})` : `the installer said: ${cut(output.split('\n').filter((l) => /upgraded|restart|stopped/.test(l)).join('; ') || output, 500)}`;
    const now = stateText(node.source.state());
    const seen = !now.up
      ? `it is ${now.text}`
      : !last
        ? 'it was not asked again'
        : 'error' in last
          ? `it does not answer (${last.error})`
          : `it still answers as ${versionWords(last.version)}${target ? `, not ${target}` : ''}`;
    return { node: name, status: 'not_back', ...(before ? { before } : {}), text: `did not come back within ${waitS} s as ${versionWords(target)}: ${seen}; ${ran}`, ...(output ? { output: cut(output) } : {}) };
  }

  return {
    def: {
      name: 'update_edges',
      title: 'Update edges',
      description:
        'Upgrades the edge agent on the node(s) to the edge bundle this hub serves (see list_nodes: outdated edges are marked): through each edge, writes the bundle and install-edge.sh to a temporary folder and runs ' +
        '`install-edge.sh --upgrade` there, which checks the bundle’s sha256, swaps it in and restarts the edge (token, settings and service/socket mode kept). ' +
        `Then waits up to wait_s (default ${DEFAULT_WAIT_S}) for each edge to answer again and reports per node "before -> after", "already current", or that it did not come back.`,
      inputSchema: {
        type: 'object',
        properties: {
          node: NODE_ARG,
          wait_s: { type: 'number', minimum: 1, maximum: MAX_WAIT_S, description: `Seconds to wait for each edge to come back with the new version (default ${DEFAULT_WAIT_S}).` },
        },
        required: ['node'],
        additionalProperties: false,
      },
      annotations: { title: 'Update edges', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    toolClass: 'write',
    source: 'hub',
    targets(args) {
      try {
        return selectNodes(args.node, opts.nodes()).nodes.map((n) => n.name);
      } catch (err) {
        return [`(invalid node: ${messageOf(err)})`];
      }
    },
    preview(args) {
      let sel: HubNode[];
      let bundle: EdgeBundle;
      let waitS: number;
      try {
        sel = selectNodes(args.node, opts.nodes()).nodes;
        bundle = bundleOrThrow();
        waitS = waitOf(args);
      } catch (err) {
        // Nothing would run: the call answers with this error.
        return { tool: 'update_edges', where: [], action: `nothing (${messageOf(err)})`, arguments: args };
      }
      const cmds = upgradeCommands('DIR', bundle.sha256);
      const each = sel.map((n) => {
        if (isLocal(n)) return `${n.name} skipped (the hub's own node is updated with the hub)`;
        const st = stateText(n.source.state());
        return `${n.name} ${versionWords(nodeVersion(n))} -> ${versionWords(bundle.version)}${st.up ? '' : ` (${st.text}: will not be updated)`}`;
      });
      return {
        tool: 'update_edges',
        where: sel.map((n) => n.name),
        action:
          `upgrade the edge to ${versionWords(bundle.version)} (bundle sha256 ${bundle.sha256}, ${bundle.bytes.length} bytes) on ${each.join(', ')}. ` +
          `On each: run \`${cmds.mktemp}\` (DIR), write_file DIR/homelab-edge.mjs (the bundle) and DIR/install-edge.sh (this hub's installer, ${Buffer.byteLength(opts.installer())} bytes) (where write_file cannot reach DIR: run \`${stdinCommand('DIR/FILE')}\` with the file as stdin), ` +
          `then run \`${cmds.install}\` as the edge's user (root under its systemd unit), which restarts the edge; then wait up to ${waitS} s for it to answer as the new version`,
        arguments: args,
      };
    },
    async call(args, ctx) {
      let sel: HubNode[];
      let waitS: number;
      let bundle: EdgeBundle;
      try {
        sel = selectNodes(args.node, opts.nodes()).nodes;
        waitS = waitOf(args);
        bundle = bundleOrThrow();
      } catch (err) {
        return { content: [{ type: 'text', text: messageOf(err) }], isError: true };
      }
      const reports: NodeReport[] = new Array(sel.length);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL, sel.length) }, async () => {
          while (next < sel.length) {
            const i = next++;
            try {
              reports[i] = await upgradeOne(sel[i]!, bundle, waitS, ctx);
            } catch (err) {
              reports[i] = { node: sel[i]!.name, status: 'failed', text: ctx.signal.aborted ? 'cancelled' : `not updated: ${messageOf(err)}` };
            }
          }
        }),
      );
      const count = (s: Status) => reports.filter((r) => r.status === s).length;
      const bad = count('failed') + count('not_back');
      const summary =
        `${reports.length} node${reports.length === 1 ? '' : 's'} to edge ${versionWords(bundle.version)}: ${count('upgraded')} upgraded, ${count('current')} already current` +
        (count('not_back') ? `, ${count('not_back')} did not come back` : '') +
        (count('failed') ? `, ${count('failed')} failed` : '') +
        (count('skipped') ? `, ${count('skipped')} skipped` : '');
      ctx.auditDetail?.({ edgeVersion: bundle.version ?? null, sha256: bundle.sha256, nodes: reports.map((r) => ({ node: r.node, status: r.status, ...(r.before ? { before: r.before } : {}), ...(r.after ? { after: r.after } : {}) })) });
      const text = [summary, ...reports.map((r) => `- ${r.node}: ${r.text}${r.output && r.status !== 'upgraded' ? `\n  output: ${r.output.replace(/\n/g, '\n  ')}` : ''}`)].join('\n');
      return {
        content: [{ type: 'text', text }],
        structuredContent: { summary, target: { version: bundle.version ?? null, sha256: bundle.sha256 }, nodes: reports },
        ...(bad === reports.length && reports.length > 0 && count('skipped') === 0 ? { isError: true } : {}),
      };
    },
  };
}
