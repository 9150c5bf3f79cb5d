/**
 * Helpers the deploy tests share: finding and running programs, and reading a systemd unit's
 * Environment= and ExecStart= the way systemd expands them.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of an executable on PATH, or undefined. */
export function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return join(dir, cmd);
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to completion (async: the HTTP server lives in this process). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdin?.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The unit's Environment= defaults, with the settings file's values on top. */
export function unitEnvironment(unit: string, settingsFile?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unit.split('\n')) {
    const m = /^Environment=(?:"([^"]*)"|(\S*))$/.exec(line);
    if (!m) continue;
    const kv = m[1] ?? m[2]!;
    const i = kv.indexOf('=');
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  if (settingsFile) {
    for (const line of readFileSync(settingsFile, 'utf8').split('\n')) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
      if (m) env[m[1]!] = m[2]!;
    }
  }
  return env;
}

/** ExecStart= expanded the way systemd does for this unit: $VAR splits at whitespace, ${VAR} does not. */
export function execStart(unit: string, env: Record<string, string>): string[] {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart='));
  if (!line) throw new Error('no ExecStart=');
  const argv: string[] = [];
  for (const word of line.slice('ExecStart='.length).split(/\s+/).filter(Boolean)) {
    const whole = /^\$([A-Z_][A-Z0-9_]*)$/.exec(word);
    if (whole) {
      argv.push(...(env[whole[1]!] ?? '').split(/\s+/).filter(Boolean));
      continue;
    }
    argv.push(word.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, k: string) => env[k] ?? ''));
  }
  return argv;
}

/**
 * `systemd-analyze verify` of units given as text (file name -> contents), written to `dir`.
 * verify resolves ExecStart's bare `node` in systemd's own search path, not ours: where no node
 * is there, the copies name this test's node instead.
 */
export async function verifyUnits(analyze: string, dir: string, units: Record<string, string>): Promise<RunResult> {
  const nodeForSystemd = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, 'node')));
  mkdirSync(dir, { recursive: true });
  const files = Object.entries(units).map(([name, text]) => {
    writeFileSync(join(dir, name), nodeForSystemd ? text : text.replace(/^ExecStart=node /m, `ExecStart=${process.execPath} `));
    return join(dir, name);
  });
  return run(analyze, ['verify', ...files], { PATH: process.env.PATH, SYSTEMD_LOG_COLOR: '0' });
}

/** The line install-edge.sh's closing hint says to paste under `nodes:` in hub.yaml, or undefined. */
export function pastedNodeLine(installerOutput: string): string | undefined {
  const at = installerOutput.indexOf('under nodes: in the hub');
  if (at < 0) return undefined;
  return installerOutput.slice(at).split('\n').find((l) => l.startsWith('  - '));
}

/**
 * `homelab-hub check-config` (the bundle at `hubBundle`) on a hub.yaml in `dir` whose `nodes:`
 * holds `line`, pasted as the hint says (its token file, if any, written beside it by the caller).
 */
export function checkPastedNode(hubBundle: string, dir: string, line: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const file = join(dir, 'hub.yaml');
  writeFileSync(file, `listen: 127.0.0.1:8765\nauth:\n  tokens:\n    - { user: alice, role: admin, token: "alice-token-0123456789abcdef" }\nnodes:\n${line}\n`);
  return run(process.execPath, [hubBundle, 'check-config', file], { ...process.env, ...env });
}
