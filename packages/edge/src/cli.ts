/**
 * Command-line and config-file parsing for `homelab-edge`. Pure: `main.ts` hands in argv,
 * the environment and a file reader, so every error path is testable.
 */
import { isAbsolute, resolve } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';
import { isLogLevel, type LogLevel } from './log.ts';

export const DEFAULT_PORT = 8222;
export const DEFAULT_MAX_OUTPUT = 1024 * 1024;
export const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
/**
 * Commands running at once. Their output waits outside the JS heap (2 x --max-output each) and
 * answers are built one at a time; with the deployed 32 MB heap, 32 commands each printing
 * 1 MiB of control characters on both streams pass, 96 abort the edge.
 */
export const DEFAULT_MAX_COMMANDS = 32;

export interface EdgeOptions {
  host: string;
  port: number;
  token?: string;
  /** Where the token came from, for messages (never the token itself). */
  tokenSource?: string;
  /** The token file, when the token came from one: never served by any tool. */
  tokenFile?: string;
  /** The `--config` file, when given: never served by any tool. */
  configFile?: string;
  /** `write_file` may set setuid, setgid and sticky bits. */
  allowSpecialModes: boolean;
  roots: string[];
  /** Capability name -> explicitly enabled (true) or disabled (false). */
  capabilities: Record<string, boolean>;
  maxOutputBytes: number;
  maxBodyBytes: number;
  /** Commands running at once; one more is refused with "busy". */
  maxCommands: number;
  allowedHosts: string[];
  /** Seconds without requests before a socket-activated edge exits; 0 = never. */
  idleExitSeconds: number;
  logLevel: LogLevel;
  procRoot: string;
  sysRoot: string;
  nodeName?: string;
  /** The compose directory: each stack is a folder in it holding a compose file. */
  composeDir?: string;
  /** What `reboot_node` runs, as argv; default `systemctl reboot`. */
  rebootCommand?: string[];
  /** Where this boot's id is read (testing); default `<proc root>/sys/kernel/random/boot_id`. */
  bootIdFile?: string;
}

export type CliResult = { kind: 'run'; options: EdgeOptions } | { kind: 'help' } | { kind: 'version' };

export const HELP = `homelab-edge: a tiny MCP server that lets a homelab hub (or Claude Code directly)
run commands, read and write files and read the status of this device.

Usage: homelab-edge [options]

  --listen HOST:PORT     address to serve MCP on (default 127.0.0.1:${DEFAULT_PORT}); [::1]:PORT for IPv6
  --token-file FILE      file holding the bearer token (or set HOMELAB_EDGE_TOKEN);
                         required whenever HOST is not a loopback address
  --root DIR             confine the file tools to DIR (repeatable; default /); the edge's own token
                         and config files and /proc/<t>/ for each of its thread ids t are never
                         served, whatever the root; nor, to anyone, the memory of any process or of
                         the kernel or its layout: /proc/<n>/{mem,maps,smaps,numa_maps,pagemap,
                         syscall,stack,map_files} (also under task/<tid>/), /proc/kcore, /proc/kmem,
                         /dev/mem, /dev/kmem, /dev/port (admins who need them have run_command)
  --enable-CAP           turn a capability on  (CAP: commands, files, env, status, smart, gpio, systemd, docker,
                         network, packages, power)
  --disable-CAP          turn a capability off (all are on by default; each is probed at start)
  --config FILE          JSON file with any of: listen, tokenFile, roots, capabilities {name: bool},
                         maxOutputBytes, maxBodyBytes, maxCommands, allowedHosts,
                         allowSpecialModes, idleExit, logLevel, nodeName, composeDir,
                         rebootCommand (["systemctl", "reboot"]); flags override it
  --compose-dir DIR      the Docker Compose directory of this node: each stack is a folder DIR/<stack>
                         holding a compose.yaml (for list_stacks, compose_up, ...; default: none)
  --reboot-command CMD   what reboot_node runs, words split on spaces (default: systemctl reboot)
  --max-output BYTES     cap of each command output stream (as JSON: a control character counts 6)
                         and file read (default ${DEFAULT_MAX_OUTPUT}); output past it is counted, not kept
  --max-body BYTES       largest request body accepted (default ${DEFAULT_MAX_BODY}); larger gets 413;
                         large bodies are taken one at a time (another gets 503 busy)
  --max-commands N       commands running at once (default ${DEFAULT_MAX_COMMANDS}); one more is refused
                         with "busy: N commands running"
  --allowed-host NAME    also accept requests whose Host (and Origin, if any) names NAME: the name
                         in the hub's URL for this edge (repeatable). Always accepted: IP addresses,
                         loopback names, this device's hostname and --node-name, bare or with
                         .local/.lan/.home/.internal/.home.arpa; any other name gets 403 (DNS
                         rebinding), with or without a token
  --allow-special-modes  let write_file set setuid, setgid and sticky bits (refused by default)
  --idle-exit SECONDS    with systemd socket activation (LISTEN_FDS), exit after SECONDS without
                         requests; systemd starts the edge again on the next connection (default 0: never)
  --log-level LEVEL      debug, info, warn or error (default info); logs are JSON lines on stderr
  --proc-root DIR        read /proc from DIR (testing)        --sys-root DIR   likewise /sys
  --boot-id-file FILE    read this boot's id from FILE (testing; default /proc/sys/kernel/random/boot_id)
  --help                 show this help                       --version        print the version

Endpoints: POST /mcp (MCP, Streamable HTTP, stateless, protocol 2026-07-28 and 2025-11-25/06-18),
GET /healthz (no auth).

Example: homelab-edge --listen 0.0.0.0:8222 --token-file /etc/homelab-edge/token
`;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** True when `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Parses `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT`. */
export function parseListen(value: string, where: string): { host: string; port: number } {
  let host = '127.0.0.1';
  let portText = value;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (value.includes(':')) {
    const i = value.lastIndexOf(':');
    host = value.slice(0, i) || '0.0.0.0';
    portText = value.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new HomelabError('CONFIG_INVALID', `${where}: expected HOST:PORT with a port from 0 to 65535, got "${value}"`);
  }
  return { host, port };
}

function positiveInt(value: unknown, where: string, allowZero = false): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
    throw new HomelabError('CONFIG_INVALID', `${where}: expected a whole number${allowZero ? ' >= 0' : ' > 0'}, got ${JSON.stringify(value)}`);
  }
  return n;
}

const CONFIG_KEYS = new Set(['listen', 'tokenFile', 'roots', 'capabilities', 'maxOutputBytes', 'maxBodyBytes', 'maxCommands', 'allowedHosts', 'allowSpecialModes', 'idleExit', 'logLevel', 'nodeName', 'composeDir', 'rebootCommand']);
/** Flags without a value. */
const SWITCHES = new Set(['allow-special-modes']);

export interface CliIo {
  env: NodeJS.ProcessEnv;
  readFile(path: string): string;
  /** Capability names that exist, for validating --enable-X / config keys. */
  capabilityNames: readonly string[];
}

/**
 * Parses argv (without `node` and the script) into options.
 * Throws a `HomelabError('CONFIG_INVALID')` naming the flag or the file and key.
 */
export function parseCli(argv: string[], io: CliIo): CliResult {
  const flags: Record<string, string[]> = {};
  const caps: Record<string, boolean> = {};
  const valued = new Set(['listen', 'token-file', 'root', 'config', 'max-output', 'max-body', 'max-commands', 'allowed-host', 'idle-exit', 'log-level', 'proc-root', 'sys-root', 'node-name', 'compose-dir', 'reboot-command', 'boot-id-file']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--version' || arg === '-v') return { kind: 'version' };
    if (!arg.startsWith('--')) throw new HomelabError('CONFIG_INVALID', `unexpected argument "${arg}" (see --help)`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const cap = /^(enable|disable)-(.+)$/.exec(name);
    if (cap) {
      if (!io.capabilityNames.includes(cap[2]!)) {
        throw new HomelabError('CONFIG_INVALID', `--${name}: unknown capability "${cap[2]}"; expected one of ${io.capabilityNames.join(', ')}`);
      }
      caps[cap[2]!] = cap[1] === 'enable';
      continue;
    }
    if (SWITCHES.has(name)) {
      if (value !== undefined) throw new HomelabError('CONFIG_INVALID', `--${name} takes no value`);
      (flags[name] ??= []).push('true');
      continue;
    }
    if (!valued.has(name)) throw new HomelabError('CONFIG_INVALID', `unknown option --${name} (see --help)`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new HomelabError('CONFIG_INVALID', `--${name} needs a value`);
    }
    (flags[name] ??= []).push(value);
  }
  const last = (k: string) => flags[k]?.at(-1);

  let file: Record<string, unknown> = {};
  const configPath = last('config');
  if (configPath) {
    let text: string;
    try {
      text = io.readFile(configPath);
    } catch (err) {
      throw new HomelabError('CONFIG_INVALID', `--config ${configPath}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
      file = parsed as Record<string, unknown>;
    } catch (err) {
      throw new HomelabError('CONFIG_INVALID', `${configPath}: not valid JSON: ${(err as Error).message}`);
    }
    for (const k of Object.keys(file)) {
      if (!CONFIG_KEYS.has(k)) throw new HomelabError('CONFIG_INVALID', `${configPath}: unknown key "${k}"; expected one of ${[...CONFIG_KEYS].join(', ')}`);
    }
  }
  const at = (k: string) => `${configPath}: key "${k}"`;
  const strList = (k: string): string[] | undefined => {
    const v = file[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new HomelabError('CONFIG_INVALID', `${at(k)}: expected an array of strings`);
    return v as string[];
  };
  const str = (k: string): string | undefined => {
    const v = file[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new HomelabError('CONFIG_INVALID', `${at(k)}: expected a string`);
    return v;
  };

  const listenText = last('listen') ?? str('listen');
  const { host, port } = listenText ? parseListen(listenText, last('listen') ? '--listen' : at('listen')) : { host: '127.0.0.1', port: DEFAULT_PORT };

  const fileCaps = file.capabilities;
  if (fileCaps !== undefined) {
    if (typeof fileCaps !== 'object' || fileCaps === null || Array.isArray(fileCaps)) throw new HomelabError('CONFIG_INVALID', `${at('capabilities')}: expected an object of name: true|false`);
    for (const [k, v] of Object.entries(fileCaps)) {
      if (!io.capabilityNames.includes(k)) throw new HomelabError('CONFIG_INVALID', `${at('capabilities')}: unknown capability "${k}"; expected one of ${io.capabilityNames.join(', ')}`);
      if (typeof v !== 'boolean') throw new HomelabError('CONFIG_INVALID', `${at('capabilities')}.${k}: expected true or false`);
    }
  }
  const capabilities = { ...(fileCaps as Record<string, boolean> | undefined), ...caps };

  const rootsRaw = flags['root'] ?? strList('roots') ?? ['/'];
  const roots = rootsRaw.map((r) => {
    if (!isAbsolute(r)) throw new HomelabError('CONFIG_INVALID', `${flags['root'] ? '--root' : at('roots')}: "${r}" must be an absolute path`);
    return resolve(r);
  });

  const tokenFile = last('token-file') ?? str('tokenFile');
  let token: string | undefined;
  let tokenSource: string | undefined;
  if (tokenFile) {
    let text: string;
    try {
      text = io.readFile(tokenFile);
    } catch (err) {
      throw new HomelabError('CONFIG_INVALID', `--token-file ${tokenFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    token = text.trim();
    tokenSource = tokenFile;
    if (!token) throw new HomelabError('CONFIG_INVALID', `--token-file ${tokenFile}: the file is empty`);
  } else if (io.env.HOMELAB_EDGE_TOKEN) {
    token = io.env.HOMELAB_EDGE_TOKEN.trim();
    tokenSource = 'HOMELAB_EDGE_TOKEN';
  }
  if (token !== undefined && token.length < 16) {
    throw new HomelabError('CONFIG_INVALID', `${tokenSource}: the token is too short (${token.length} characters); use at least 16, e.g. from \`openssl rand -hex 32\``);
  }
  if (!token && !isLoopback(host)) {
    throw new HomelabError(
      'CONFIG_INVALID',
      `refusing to listen on ${host}:${port} without a token: anyone who can reach this address could run commands as this user. ` +
        'Give --token-file FILE or HOMELAB_EDGE_TOKEN, or listen on 127.0.0.1.',
    );
  }

  const logLevel = last('log-level') ?? str('logLevel') ?? 'info';
  if (!isLogLevel(logLevel)) throw new HomelabError('CONFIG_INVALID', `log level "${logLevel}": expected debug, info, warn or error`);

  const num = (flag: string, key: string, dflt: number, allowZero = false): number => {
    const f = last(flag);
    if (f !== undefined) return positiveInt(f, `--${flag}`, allowZero);
    if (file[key] !== undefined) return positiveInt(file[key], at(key), allowZero);
    return dflt;
  };

  const specialModes = file.allowSpecialModes;
  if (specialModes !== undefined && typeof specialModes !== 'boolean') throw new HomelabError('CONFIG_INVALID', `${at('allowSpecialModes')}: expected true or false`);
  const nodeName = last('node-name') ?? str('nodeName');
  const composeDirRaw = last('compose-dir') ?? str('composeDir');
  if (composeDirRaw !== undefined && !isAbsolute(composeDirRaw)) {
    throw new HomelabError('CONFIG_INVALID', `${last('compose-dir') !== undefined ? '--compose-dir' : at('composeDir')}: "${composeDirRaw}" must be an absolute path`);
  }
  const rebootFlag = last('reboot-command');
  let rebootCommand: string[] | undefined;
  if (rebootFlag !== undefined) {
    rebootCommand = rebootFlag.trim().split(/\s+/).filter(Boolean);
    if (rebootCommand.length === 0) throw new HomelabError('CONFIG_INVALID', '--reboot-command: expected a command such as "systemctl reboot"');
  } else if (file.rebootCommand !== undefined) {
    const v = file.rebootCommand;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x.length > 0)) {
      throw new HomelabError('CONFIG_INVALID', `${at('rebootCommand')}: expected a non-empty array of strings, e.g. ["systemctl", "reboot"]`);
    }
    rebootCommand = v as string[];
  }
  const bootIdFile = last('boot-id-file');
  return {
    kind: 'run',
    options: {
      host,
      port,
      token,
      tokenSource,
      ...(tokenFile ? { tokenFile: resolve(tokenFile) } : {}),
      ...(configPath ? { configFile: resolve(configPath) } : {}),
      allowSpecialModes: last('allow-special-modes') !== undefined || specialModes === true,
      roots,
      capabilities,
      maxOutputBytes: num('max-output', 'maxOutputBytes', DEFAULT_MAX_OUTPUT),
      maxBodyBytes: num('max-body', 'maxBodyBytes', DEFAULT_MAX_BODY),
      maxCommands: num('max-commands', 'maxCommands', DEFAULT_MAX_COMMANDS),
      allowedHosts: flags['allowed-host'] ?? strList('allowedHosts') ?? [],
      idleExitSeconds: num('idle-exit', 'idleExit', 0, true),
      logLevel,
      procRoot: resolve(last('proc-root') ?? '/proc'),
      sysRoot: resolve(last('sys-root') ?? '/sys'),
      ...(nodeName ? { nodeName } : {}),
      ...(composeDirRaw ? { composeDir: resolve(composeDirRaw) } : {}),
      ...(rebootCommand ? { rebootCommand } : {}),
      ...(bootIdFile ? { bootIdFile: resolve(bootIdFile) } : {}),
    },
  };
}
