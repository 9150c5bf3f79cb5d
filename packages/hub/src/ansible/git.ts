/**
 * Runs git for the playbook repo: argv only (never a shell), a deadline and the caller's abort
 * kill it, output is bounded, and its environment is the hub's harmless variables plus what git
 * needs here (no prompts, no system or user config, the repo's own credentials), so that no
 * secret of the hub's environment reaches git, its ssh or a hook.
 */
import { spawn } from 'node:child_process';
import { HomelabError } from '@homelab-mcp/core';

export interface GitOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** Written to git's stdin. */
  input?: string | Buffer;
  /** Largest stdout kept; more fails the command (default 8 MiB). */
  maxBytes?: number;
  /** Exit codes that are answers rather than failures (`merge-base --is-ancestor` answers 1). */
  okCodes?: number[];
  /**
   * Keep the first `maxBytes` of stdout and stop git there, as a success with `cut: true`,
   * rather than failing (a diff shown capped).
   */
  cutAtMax?: boolean;
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout was cut at `maxBytes` ({@link GitOptions.cutAtMax}). */
  cut?: boolean;
}

const HARMLESS = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|USER|LOGNAME|TMPDIR|SSH_AUTH_SOCK)$/;

/**
 * The environment git runs with: harmless variables of `base`, then `extra`. HOME is the given
 * private folder, and global and system config are off, so a person's ~/.gitconfig (credential
 * helpers, hooks paths) does not apply to the hub's clone.
 *
 * @example gitEnv('/var/lib/homelab/ansible/home', process.env, { GIT_SSH_COMMAND: 'ssh -i k' })
 */
export function gitEnv(home: string, base: NodeJS.ProcessEnv, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && HARMLESS.test(k)) env[k] = v;
  return {
    ...env,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_AUTHOR_NAME: 'homelab-mcp',
    GIT_AUTHOR_EMAIL: 'homelab-mcp@localhost',
    GIT_COMMITTER_NAME: 'homelab-mcp',
    GIT_COMMITTER_EMAIL: 'homelab-mcp@localhost',
    ...extra,
  };
}

/** The last lines of git's stderr, short, for a message. */
export function gitError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('hint:'));
  return lines.slice(-3).join(' ').slice(0, 400) || 'no message';
}

/**
 * @example const { stdout } = await git(['rev-parse', 'HEAD'], { cwd, env });
 */
export function git(args: string[], o: GitOptions): Promise<GitResult> {
  const max = o.maxBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(new HomelabError('CANCELLED', 'cancelled'));
    const child = spawn('git', args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let why: string | undefined;
    let cut = false;
    const kill = (reason: string) => {
      why ??= reason;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill(`git ${args[0]} took longer than ${Math.round((o.timeoutMs ?? 120_000) / 1000)} s`), o.timeoutMs ?? 120_000);
    const onAbort = () => kill('cancelled');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (b: Buffer) => {
      if (cut) return;
      outBytes += b.length;
      if (outBytes > max && o.cutAtMax) {
        out.push(b.subarray(0, b.length - (outBytes - max)));
        cut = true;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      } else if (outBytes > max) kill(`git ${args[0]} printed more than ${max} bytes`);
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      if (err.length < 64 * 1024) err += b.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
    child.on('error', (e) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      reject(new HomelabError('GIT_FAILED', `git could not be started: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (why) return reject(new HomelabError(why === 'cancelled' ? 'CANCELLED' : 'GIT_FAILED', why));
      if (cut) return resolve({ code: 0, stdout: Buffer.concat(out).toString('utf8'), stderr: err, cut: true });
      const r = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: err };
      if (code === 0 || (code !== null && o.okCodes?.includes(code))) resolve(r);
      else reject(new HomelabError('GIT_FAILED', `git ${args[0]} failed: ${gitError(err)}`));
    });
  });
}
