/**
 * `homelab-hub`: the only file of the hub that reads argv, the environment and files.
 *
 *   homelab-hub serve [--config FILE] [--listen HOST:PORT] [--data DIR]
 *   homelab-hub check-config FILE
 *   homelab-hub synology-device-token --url URL --user USER [...]
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { serve } from '@hono/node-server';
import { createServer, type RequestListener, type ServerOptions } from 'node:http';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { isHomelabError, randomHex } from '@homelab-mcp/core';
import { ConfigError, loadConfigFile, type UnresolvedRef } from '@homelab-mcp/core/config';
import { loadTopologyFile } from '@homelab-mcp/core/topology';
import { createLogger } from '@homelab-mcp/core/log';
import { HubConfigSchema, type HubConfig } from './config/schema.ts';
import { keepRunningEntries, type UnresolvedNode } from './config/keep-entries.ts';
import { resolveTokenFiles } from './config/token-files.ts';
import { createHub, HUB_VERSION, type LocalNodeSetup } from './hub.ts';
import { serveHubChild } from '@homelab-mcp/edge/src/hub-child.ts';
import { EDGE_NODE_FLAGS, localNodeEnv } from './nodes/local-node.ts';
import { findEdgeBundle } from './edge-dist/edge-dist.ts';
import { relayLog } from './server/mcp-server.ts';
import type { TokenEntry } from './policy/auth.ts';
import { connectBanner } from './connect-banner.ts';
import { fetchDeviceToken, parseDeviceTokenArgs, SYNOLOGY_DEVICE_TOKEN_HELP } from './integrations/synology-device-token.ts';

const HELP = `homelab-hub: one MCP endpoint for the whole home network.

Usage:
  homelab-hub serve [--config FILE] [--listen HOST:PORT] [--data DIR]
  homelab-hub stdio [--config FILE] [--data DIR]
  homelab-hub check-config FILE
  homelab-hub synology-device-token --url URL --user USER [--device-name NAME] [--fingerprint SHA256 | --ca-file FILE | --insecure]
  homelab-hub --help | --version

serve          Runs the hub. Without --config it runs the embedded default: 127.0.0.1:8765,
               this host as node "local", data in ./data, a generated token in data/token.
stdio          Serves MCP on stdin/stdout for one local client (Claude Desktop); logs go to
               stderr. The client is trusted as admin: it runs the hub as its own process.
check-config   Validates a config file and prints what is wrong (file, key, expected), or "ok".
synology-device-token
               Asks for a DSM account's password and a 2-step verification code and prints the
               device token for integrations.synology.deviceToken (--help for its options).

Options:
  --config FILE        hub.yaml (YAML; \${VAR} takes secrets from the environment)
  --listen HOST:PORT   overrides the config's listen address
  --data DIR           overrides the config's dataDir
`;

function fail(message: string): never {
  process.stderr.write(`homelab-hub: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { cmd: string; flags: Record<string, string>; rest: string[] } {
  const [cmd = 'serve', ...tail] = argv;
  const flags: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < tail.length; i++) {
    const a = tail[i]!;
    if (a === '--help' || a === '-h') flags.help = '1';
    else if (a.startsWith('--')) {
      const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      if (!['config', 'listen', 'data'].includes(k)) fail(`unknown option --${k} (see --help)`);
      const v = inline ?? tail[++i];
      if (v === undefined) fail(`--${k} needs a value`);
      flags[k] = v;
    } else rest.push(a);
  }
  return { cmd, flags, rest };
}

/** Names hub.yaml (or its topology file) takes from the environment as `${VAR}`: its secrets. */
function configVars(...files: Array<string | undefined>): string[] {
  const names = new Set<string>();
  for (const f of files) {
    if (!f) continue;
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // loadConfig names an unreadable file
    }
    for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_]|:[^-])/g)) names.add(m[1]!);
  }
  return [...names];
}

/**
 * The variables a stdio hub started from this file needs (its bearer tokens' are not: see
 * loadConfig): Claude Desktop starts it with an environment of its own, so the banner names them.
 */
function stdioEnvVars(path: string | undefined): string[] {
  if (!path) return [];
  const names = new Set<string>();
  try {
    loadConfigFile(path, HubConfigSchema, {
      env: {},
      settleUnresolved: (_d, refs) => {
        for (const r of refs) if (r.keyPath[0] !== 'auth' && !r.name.startsWith('file ')) names.add(r.name);
        return refs;
      },
    });
  } catch {
    // It throws for the very variables it just listed.
  }
  return [...names];
}

/**
 * How the `local` node's child starts and what it inherits: only harmless variables, none
 * hub.yaml uses (nodes/local-node.ts). It is the edge bundle the hub serves (beside the hub's
 * own file, as deployed), with the edge unit's Node flags: a process of ~30 MB where this whole
 * bundle would take ~85 MB. Without it (a hub bundle copied alone), this very bundle, `local-node`.
 */
function localNodeSetup(config: HubConfig, configFile: string | undefined): LocalNodeSetup {
  const edgeBundle = findEdgeBundle();
  return {
    command: edgeBundle
      ? { execPath: process.execPath, args: [...EDGE_NODE_FLAGS, edgeBundle, '--hub-child'] }
      : // The hub's Node flags (the unit's heap settings) apply to it too; a debugger's do not.
        { execPath: process.execPath, args: [...process.execArgv.filter((f) => !/^--(inspect|debug)/.test(f)), process.argv[1]!, 'local-node'] },
    env: localNodeEnv(process.env, configVars(configFile, config.topology.file), config.local.env),
    ...(configFile ? { configFile: resolve(configFile) } : {}),
  };
}

/** A loaded hub.yaml, with what a reload keeps for the next one and what to log. */
interface LoadedConfig {
  config: HubConfig;
  baseDir: string;
  /** The file's data after substitution, before defaults: the next reload keeps entries from it. */
  data?: unknown;
  /** Entries a reload kept (or left out) because a reference in them could not be resolved. */
  notes: string[];
  /** Things that work but should be fixed (a group-readable secret file). */
  warnings: string[];
  /** New nodes a reload could not resolve: in the fleet, unreachable, saying why. */
  unresolvedNodes: UnresolvedNode[];
}

/**
 * Loads and validates hub.yaml, its token files and its topology file. With `running` (a
 * reload), an entry whose `${VAR}`, `${file:...}` or `tokenFile` cannot be resolved keeps its
 * running settings (config/keep-entries.ts) instead of failing the whole reload.
 */
function loadConfig(path: string | undefined, running?: LoadedConfig, mode?: 'stdio'): LoadedConfig {
  if (!path) return { config: HubConfigSchema.parse({}), baseDir: process.cwd(), notes: [], warnings: [], unresolvedNodes: [] };
  const notes: string[] = [];
  const unresolvedNodes: UnresolvedNode[] = [];
  const warnings: string[] = [];
  let data: unknown;
  const config = loadConfigFile(path, HubConfigSchema, {
    env: process.env,
    onWarning: (w) => warnings.push(w),
    onData: (d) => (data = structuredClone(d)),
    ...(running
      ? {
          settleUnresolved: (d: unknown, refs: readonly UnresolvedRef[]) => {
            const r = keepRunningEntries(d, refs, running.data, path);
            notes.push(...r.notes);
            unresolvedNodes.push(...r.nodes);
            return r.unsettled;
          },
        }
      : mode === 'stdio'
        ? {
            // A stdio hub is its client's own process and never checks a token: the bearer
            // tokens' variables, which Claude Desktop does not pass on, must not stop it.
            settleUnresolved: (d: unknown, refs: readonly UnresolvedRef[]) => {
              if (refs.some((r) => r.keyPath[0] === 'auth') && d !== null && typeof d === 'object') delete (d as { auth?: unknown }).auth;
              return refs.filter((r) => r.keyPath[0] !== 'auth');
            },
          }
        : {}),
  });
  const baseDir = dirname(resolve(path));
  const tokens = resolveTokenFiles(config, path, baseDir, running?.config);
  notes.push(...tokens.notes);
  warnings.push(...tokens.warnings);
  unresolvedNodes.push(...tokens.unresolved);
  // Topology paths are relative to the config file; the topology file is validated with it,
  // so check-config, start and reload all refuse a bad one (naming its file and key).
  const t = config.topology;
  if (t.file) t.file = resolve(baseDir, t.file);
  if (t.docs) t.docs = resolve(baseDir, t.docs);
  // "host1,host2," is an inline inventory, not a path.
  if (t.ansible && !t.ansible.inventory.includes(',')) t.ansible.inventory = resolve(baseDir, t.ansible.inventory);
  const absent = (key: string, p: string) => new ConfigError(path, 'invalid', [`${path}: key "${key}": ${p} does not exist`]);
  if (t.docs && !existsSync(t.docs)) throw absent('topology.docs', t.docs);
  if (t.ansible && !t.ansible.inventory.includes(',') && !existsSync(t.ansible.inventory)) throw absent('topology.ansible.inventory', t.ansible.inventory);
  if (config.notify && !config.internet.ntfy) warnings.push(`${path}: key "notify": no notice can be sent without internet.ntfy ({ url, topic, token }); notify: does nothing until it is set`);
  const a = config.ansible;
  if (a) {
    // A repo that is not a URL (scheme://, or scp-like user@host:path) is a path on this host.
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(a.repo) && !/^[^/:]+@[^/:]+:/.test(a.repo)) a.repo = resolve(baseDir, a.repo);
    for (const k of ['clone', 'sshKey', 'vaultPasswordFile', 'gitSshKey'] as const) if (a[k]) a[k] = resolve(baseDir, a[k]);
    // The keys must be the hub's alone: ssh itself refuses a private key others can read.
    for (const k of ['sshKey', 'gitSshKey', 'vaultPasswordFile'] as const) {
      const f = a[k];
      if (!f) continue;
      if (!existsSync(f)) {
        warnings.push(`${path}: key "ansible.${k}": ${f} does not exist (yet); Ansible tools that need it will say so`);
        continue;
      }
      const mode = statSync(f).mode;
      if (mode & 0o077) throw new ConfigError(path, 'invalid', [`${path}: key "ansible.${k}": ${f} is readable or writable by others (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${f}`]);
    }
  }
  const hubNodeNames = [...(config.local.enabled ? [config.local.name] : []), ...config.nodes.map((n) => n.name), ...unresolvedNodes.map((n) => n.name)];
  const declared = t.file ? loadTopologyFile(t.file, { env: process.env, edgeNames: hubNodeNames }).nodes.map((n) => n.name) : [];
  // A misspelt node under topology.drift.nodes would hide nothing, silently. With an Ansible
  // inventory, its hosts become nodes too, and the hub cannot know their names before a run.
  if (!t.ansible) {
    const known = [...new Set([...hubNodeNames, ...declared])];
    for (const name of Object.keys(t.drift.nodes)) {
      if (!known.includes(name)) warnings.push(`${path}: key "topology.drift.nodes.${name}": no node is named "${name}" (nodes: ${known.join(', ') || 'none'}); its ignorePorts hide nothing`);
    }
  }
  return { config, baseDir, data, notes, warnings, unresolvedNodes };
}

/** The token of the embedded default: generated once, kept in DATA/token with mode 0600. */
function dataToken(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = resolve(dataDir, 'token');
  if (!existsSync(file)) writeFileSync(file, randomHex(32) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

/**
 * Asks on the terminal (stderr, the answer unechoed when `hidden`), or reads the next line of
 * stdin when it is not a terminal (a script, a test): `printf 'pw\n123456\n' | homelab-hub ...`.
 */
function terminalAsker(): { ask(question: string, hidden: boolean): Promise<string>; close(): void } {
  const tty = !!process.stdin.isTTY;
  let muted = false;
  const echo = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk as Buffer);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output: echo, terminal: tty, prompt: '' });
  const lines = rl[Symbol.asyncIterator]();
  return {
    async ask(question, hidden) {
      process.stderr.write(question);
      muted = hidden && tty;
      const next = await lines.next();
      muted = false;
      if (hidden && tty) process.stderr.write('\n');
      if (next.done) fail(`no answer to "${question.trim()}" (stdin ended)`);
      return String(next.value);
    },
    close: () => rl.close(),
  };
}

/** `homelab-hub synology-device-token`: the device token a 2-step verification account needs. */
async function synologyDeviceToken(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return void process.stdout.write(SYNOLOGY_DEVICE_TOKEN_HELP);
  let args: ReturnType<typeof parseDeviceTokenArgs>;
  try {
    args = parseDeviceTokenArgs(argv);
  } catch (err) {
    fail(`synology-device-token: ${err instanceof Error ? err.message : String(err)}`);
  }
  let ca: string | undefined;
  if (args.caFile) {
    try {
      ca = readFileSync(resolve(args.caFile), 'utf8');
    } catch (err) {
      fail(`synology-device-token: --ca-file: cannot read ${args.caFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  const terminal = terminalAsker();
  const password = await terminal.ask(`DSM password of ${args.user}: `, true);
  const otpCode = await terminal.ask('2-step verification code (from the authenticator app): ', false);
  terminal.close();
  let did: string;
  try {
    did = await fetchDeviceToken({ ...args, ...(ca ? { ca } : {}) }, { password, otpCode });
  } catch (err) {
    process.stderr.write(`homelab-hub: ${isHomelabError(err) ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `DSM issued a device token for "${args.deviceName}". Set it in hub.yaml (it is a secret: best through the environment):\n` +
      `  integrations:\n    synology:\n      deviceToken: \${SYNOLOGY_DEVICE_TOKEN}\n${args.deviceName === 'homelab-hub' ? '' : `      deviceName: ${args.deviceName}\n`}` +
      `DSM lists it under Personal > Security > Sign-in activity, where it can be revoked. The token:\n`,
  );
  process.stdout.write(`${did}\n`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--help' || argv[0] === '-h') return void process.stdout.write(HELP);
  if (argv[0] === '--version' || argv[0] === '-v') return void process.stdout.write(`homelab-hub ${HUB_VERSION}\n`);
  // Not in --help: the hub starts it itself, as its `local` node's process (the edge's hub-child.ts).
  if (argv[0] === 'local-node') {
    if (!serveHubChild()) fail('local-node is started by the hub itself, over IPC');
    return;
  }
  // Its own options (parseArgs knows the server's): before it.
  if (argv[0] === 'synology-device-token') return synologyDeviceToken(argv.slice(1));
  const { cmd, flags, rest } = parseArgs(argv);
  if (flags.help) return void process.stdout.write(HELP);

  if (cmd === 'check-config') {
    const file = rest[0] ?? flags.config;
    if (!file) fail('check-config needs a FILE');
    let checked: LoadedConfig;
    try {
      checked = loadConfig(file);
    } catch (err) {
      process.stderr.write(`${isHomelabError(err) ? err.message : String(err)}\n`);
      process.exit(1);
    }
    for (const w of checked.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`${file}: ok\n`);
    return;
  }
  if (cmd !== 'serve' && cmd !== 'stdio') fail(`unknown command "${cmd}" (expected serve, stdio, check-config or synology-device-token; see --help)`);

  let loaded;
  try {
    loaded = loadConfig(flags.config, undefined, cmd === 'stdio' ? 'stdio' : undefined);
  } catch (err) {
    fail(isHomelabError(err) ? err.message : String(err));
  }
  const { config, baseDir } = loaded;
  if (flags.listen) config.listen = flags.listen;
  const dataDir = resolve(baseDir, flags.data ?? config.dataDir);
  // In stdio mode stdout carries the protocol: logs go to stderr.
  const log = createLogger({ level: config.logLevel, name: 'hub', ...(cmd === 'stdio' ? { destination: process.stderr } : {}) });
  for (const w of loaded.warnings) log.warn({ file: flags.config }, w);
  if (cmd === 'stdio') {
    const hub = await createHub({ config, dataDir, tokens: [], log, localNode: localNodeSetup(config, flags.config), secretVars: configVars(flags.config, config.topology.file) });
    // The stdio client (Claude Desktop) started the hub to use it now and lists the tools once
    // as it starts: its first answer waits for every upstream's first attempt, as before. Over
    // HTTP the hub listens at once (createHub does not wait) and list_changed tells the rest.
    await hub.connected;
    let server: ReturnType<typeof hub.serverFor> | undefined;
    const handle = serveStdio(() => (server = hub.serverFor({ user: 'stdio', role: 'admin' }, 'stdio')));
    hub.onListChanged(() => void server?.sendToolListChanged().catch(() => undefined));
    hub.onLog((source, message) => server && relayLog(server, source, message));
    const stop = async () => {
      await handle.close().catch(() => undefined);
      await hub.close().catch(() => undefined);
      process.exit(0);
    };
    // The client closed the pipe: the SDK's transport closes with it (answers still running
    // are lost, as on any stdio server), so the hub stops.
    process.stdin.on('end', () => void stop());
    process.on('SIGTERM', () => void stop());
    process.on('SIGINT', () => void stop());
    return;
  }

  const tokensOf = (c: HubConfig): TokenEntry[] => c.auth?.tokens ?? [{ user: 'admin', role: 'admin', token: dataToken(dataDir) }];
  const tokens = tokensOf(config);
  const tokenNote = config.auth ? `tokens from ${flags.config}` : `${resolve(dataDir, 'token')} (mode 0600)`;

  const m = /^(.*):(\d+)$/.exec(config.listen);
  if (!m) fail(`listen: expected HOST:PORT, got "${config.listen}"`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = Number(m[2]);

  // Only for measuring what the audit trail costs (bench/hub); never a config setting.
  const audit = process.env.HOMELAB_HUB_UNSAFE_NO_AUDIT !== '1';
  if (!audit) log.warn({}, 'HOMELAB_HUB_UNSAFE_NO_AUDIT=1: the audit trail is OFF; calls are not recorded (benchmarks only)');
  const hub = await createHub({ config, dataDir, tokens, log, audit, localNode: localNodeSetup(config, flags.config), secretVars: configVars(flags.config, config.topology.file) });
  // A plain 2026-07-28 tools/call is answered from the Node request before Hono (hub.nodeListener).
  const createServerFast = ((options: ServerOptions, listener: RequestListener) => createServer(options, hub.nodeListener(listener))) as typeof createServer;
  const server = serve({ fetch: hub.app.fetch, hostname: host, port, createServer: createServerFast }, (addr) => {
    const shownHost = host.includes(':') ? `[${host}]` : host;
    const url = `http://${shownHost}:${addr.port}/mcp`;
    hub.setListenPort(addr.port);
    const edgeBundleSha256 = hub.edgeBundle()?.sha256;
    log.info({ listen: `${shownHost}:${addr.port}`, version: HUB_VERSION, nodes: hub.nodes().map((n) => n.name), ...(edgeBundleSha256 ? { edgeBundleSha256 } : {}) }, 'homelab-hub listening');
    const tokenExpr = config.auth ? '<your token>' : `$(cat ${resolve(dataDir, 'token')})`;
    process.stdout.write(
      `\nhomelab-hub ${HUB_VERSION} is serving ${hub.nodes().length} node(s) at ${url}\n` +
        `token: ${tokenNote}\n\n` +
        connectBanner({ url, tokenExpr, node: process.execPath, bundle: resolve(process.argv[1] ?? 'homelab-hub.mjs'), dataDir, ...(flags.config ? { configFile: resolve(flags.config), desktopEnv: stdioEnvVars(flags.config) } : {}) }) +
        edgeBanner(edgeBundleSha256, config.allowedHosts[0] ?? 'HUB'),
    );
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    log.error({ listen: config.listen }, `cannot listen on ${config.listen}: ${err.code ?? err.message}${err.code === 'EADDRINUSE' ? ' (address in use: is another hub running?)' : ''}`);
    process.exit(1);
  });

  // topology.yaml is read again when it changes (not only at the next refresh): the new
  // declaration is merged with fresh edge facts; an invalid edit keeps the previous one and
  // says why in the log. The watch follows topology.file across config reloads.
  let topologyWatch: { file: string; close(): void } | undefined;
  const watchTopology = () => {
    const file = hub.topologyFile();
    if (topologyWatch?.file === file) return;
    topologyWatch?.close();
    topologyWatch = undefined;
    if (!file) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const w = watch(dirname(file), (_event, name) => {
        if (name !== basename(file)) return;
        clearTimeout(timer);
        timer = setTimeout(() => {
          hub.topology.refresh({ ansible: false }).catch((err: unknown) => log.warn({ file, err: String(err) }, 'topology refresh after an edit failed'));
        }, 300);
      });
      w.unref();
      topologyWatch = { file, close: () => w.close() };
    } catch (err) {
      log.warn({ file, err: String(err) }, 'cannot watch the topology file; edits apply at the next refresh');
    }
  };
  watchTopology();

  if (flags.config) {
    // Reload on change without dropping clients. Editors replace files by rename, so the
    // directory is watched; a burst of events becomes one reload, and an invalid file keeps
    // the running configuration.
    const file = resolve(flags.config);
    let last = readFileSync(file, 'utf8');
    // The configuration running now (its entries are what a reload keeps when one of theirs
    // cannot be resolved).
    let running = loaded;
    let timer: NodeJS.Timeout | undefined;
    const reload = async () => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return; // mid-rename: the next event brings the new file
      }
      if (text === last) return;
      last = text;
      try {
        const candidate = loadConfig(file, running);
        const next = candidate.config;
        if (flags.listen) next.listen = flags.listen;
        const notApplied = await hub.reconfigure(next, tokensOf(next), localNodeSetup(next, file), candidate.unresolvedNodes);
        running = candidate;
        watchTopology();
        for (const w of candidate.warnings) log.warn({ file }, w);
        for (const n of candidate.notes) log.warn({ file }, `config reload: ${n}`);
        log.info({ file, ...(notApplied.length ? { needsRestart: notApplied } : {}), ...(candidate.notes.length ? { entriesKept: candidate.notes.length } : {}) }, notApplied.length ? `config reloaded; restart to apply ${notApplied.join(', ')}` : 'config reloaded');
      } catch (err) {
        log.error({ file }, `config reload failed, keeping the running configuration: ${isHomelabError(err) ? err.message : String(err)}`);
      }
    };
    watch(dirname(file), (_event, name) => {
      if (name !== basename(file)) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), 300);
    }).unref();
  }


  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'stopping');
    server.close();
    setTimeout(() => process.exit(0), 10_000).unref();
    await hub.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`homelab-hub: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * How to add a device, with the sha256 of the edge bundle this hub serves: the installer and
 * bundle are piped into `sudo sh`, so the person gets the hash from here (the hub's own
 * console), not from the network, and `--sha256` makes the installer refuse anything else.
 */
function edgeBanner(sha256: string | undefined, publicHost: string): string {
  if (!sha256) return '';
  return (
    `Add a device (edge agent), through the hub's HTTPS address (its reverse proxy or tunnel; deploy/README.md):\n` +
    `  curl -fsSL https://${publicHost}/edge/install.sh | sudo sh -s -- --token TOKEN --sha256 ${sha256}\n` +
    `edge bundle sha256: ${sha256}\n\n`
  );
}
