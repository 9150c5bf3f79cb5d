/**
 * A throwaway OpenSSH server on 127.0.0.1 for tests that need a real SSH target (Ansible runs):
 * its own config, a generated ed25519 host key, and a generated client key pair authorized for
 * the current user. Stopped by its own PID, together with the per-connection sshd processes it
 * forked (those outlive the listener otherwise, with the commands they run).
 *
 * @example
 * await using sshd = await startSshd();
 * writeFileSync(knownHosts, `${sshd.hostKeyLine}\n`);
 * // ssh -p sshd.port -i sshd.clientKey -o UserKnownHostsFile=knownHosts root@127.0.0.1
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './prometheus.ts';

export const SSHD_BIN = '/usr/sbin/sshd';

export interface StartSshdOptions {
  /** Where its keys and config go; default a new temp dir, removed by stop(). */
  dir?: string;
}

export interface SshdProcess extends AsyncDisposable {
  port: number;
  pid: number;
  /** The current user's name, the one the client key logs in as. */
  user: string;
  /** Private key (mode 0600) authorized for `user`. */
  clientKey: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...`: the known_hosts line that pins its host key. */
  hostKeyLine: string;
  /** `SHA256:...` of the host key, as `ssh-keygen -lf` prints it. */
  hostFingerprint: string;
  dir: string;
  /** The last lines sshd wrote (it runs with `-e`: its log goes to stderr). */
  output(): string;
  stop(): Promise<void>;
}

function keygen(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
}

/** PIDs whose parent chain leads to `root` (not `root` itself), from /proc. */
export function descendantPids(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop()!;
    for (const [pid, pp] of parent) if (pp === p) (out.push(pid), todo.push(pid));
  }
  return out;
}

/**
 * Starts sshd on a free 127.0.0.1 port (retried on another port if someone took it first) and
 * waits until it listens.
 */
export async function startSshd(opts: StartSshdOptions = {}): Promise<SshdProcess> {
  if (!existsSync(SSHD_BIN)) throw new Error(`${SSHD_BIN} not found: apt-get install -y --no-install-recommends openssh-server`);
  const ownDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'homelab-sshd-'));
  // The privilege separation directory sshd insists on, even when run by root for tests.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  keygen(hostKey, 'homelab-test-host');
  keygen(clientKey, 'homelab-test-client');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  const hostFingerprint = execFileSync('ssh-keygen', ['-lf', `${hostKey}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  const user = userInfo().username;

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const cfg = join(dir, 'sshd_config');
    writeFileSync(
      cfg,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        // The temp dir's modes are whatever mkdtemp and the umask gave; not what is tested here.
        'StrictModes no',
        `PidFile ${join(dir, 'sshd.pid')}`,
        'UsePAM no',
        'PrintMotd no',
        'KbdInteractiveAuthentication no',
        'PasswordAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        // Ansible copies modules over sftp first; without it each copy fails and falls back.
        'Subsystem sftp /usr/lib/openssh/sftp-server',
        // SHLVL=1 makes bash skip ~/.bashrc for `ssh host cmd`, as a stock Debian .bashrc would;
        // this machine's root .bashrc runs pyenv init, ~0.5 s per command (Ansible runs several).
        'SetEnv SHLVL=1',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );
    const child = spawn(SSHD_BIN, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    let exited = false;
    const exit = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    child.stderr!.on('data', (b: Buffer) => {
      log = (log + b.toString()).slice(-8000);
    });
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (/Server listening on 127\.0\.0\.1 port/.test(log)) (clearTimeout(timer), resolve(true));
      };
      child.stderr!.on('data', check);
      void exit.then(() => (clearTimeout(timer), resolve(false)));
    });
    const stopChild = async () => {
      // Sessions first, while sshd still is their parent (they do not end with the listener).
      if (child.pid) {
        for (const pid of descendantPids(child.pid).reverse()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
      }
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(t);
      }
    };
    if (ready) {
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        await stopChild();
        if (ownDir) rmSync(dir, { recursive: true, force: true });
      };
      return {
        port,
        pid: child.pid!,
        user,
        clientKey,
        hostKeyLine: `[127.0.0.1]:${port} ${hostPub}`,
        hostFingerprint,
        dir,
        output: () => log,
        stop,
        [Symbol.asyncDispose]: stop,
      };
    }
    await stopChild();
    // A lost race for the probed port: try another one.
    if (attempt >= 3 || !/Address already in use|Bind to port/.test(log)) {
      if (ownDir) rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start:\n${log.trim()}`);
    }
  }
}
