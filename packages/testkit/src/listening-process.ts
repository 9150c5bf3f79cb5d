/**
 * Spawns one of our servers and waits until it logs where it listens (a JSON line with
 * `"listen":"HOST:PORT"`), so tests bind port 0 and learn the port. Stopped by its own PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ListeningProcess {
  child: ChildProcess;
  port: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
}

export async function spawnListening(
  what: string,
  file: string,
  args: string[],
  /** `ready`: also wait until the output matches it (the hub's "first connect attempts done"). */
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; ready?: RegExp },
): Promise<ListeningProcess> {
  const child = spawn(file, args, { env: opts.env, ...(opts.cwd ? { cwd: opts.cwd } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Nobody gets a handle to stop it: a process that never became ready must not outlive the test.
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start${opts.ready ? ` (listening and ${opts.ready})` : ''} within ${opts.timeoutMs} ms:\n${out}`));
    }, opts.timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /"listen":"[^"]*:(\d+)"/.exec(out);
      if (m && (!opts.ready || opts.ready.test(out))) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? sig}) before listening:\n${out}`));
    });
  });
  return {
    child,
    port,
    output: () => out,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(t);
    },
  };
}
