/**
 * A real dnsmasq (Debian's dnsmasq-base) answering on 127.0.0.1:<free port> for tests that need a
 * resolver: only the records given, no upstream, no /etc/hosts, nothing read from the machine.
 * Names under `local` (default `test`) it does not hold are NXDOMAIN, never forwarded, so a test
 * never resolves a real name. Stopped by its own PID.
 *
 * @example
 * await using lan = await startDnsmasq({ records: ['--host-record=nas.home.test,10.0.0.5'] });
 * // dig -p lan.port @127.0.0.1 nas.home.test
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { freePort } from './prometheus.ts';
import { isAlive } from './process.ts';

export const DNSMASQ_BIN = '/usr/sbin/dnsmasq';

export interface StartDnsmasqOptions {
  /** dnsmasq options that define records: `--host-record=a.test,10.0.0.1`, `--txt-record=…`, `--mx-host=…`, `--srv-host=…`, `--ptr-record=…`, `--cname=…`. */
  records: string[];
  /** The domain answered locally (default `test`). */
  local?: string;
}

export interface DnsmasqProcess extends AsyncDisposable {
  port: number;
  pid: number;
  /** `127.0.0.1:PORT`, as dns_lookup's `server` takes it. */
  address: string;
  output(): string;
  stop(): Promise<void>;
}

/** Resolves when a UDP question to the port gets any answer (dnsmasq is serving). */
async function answers(port: number): Promise<boolean> {
  const sock = createSocket('udp4');
  try {
    // A query for `test. SOA`, id 0x1234.
    const q = Buffer.from('123401000001000000000000047465737400000600 01'.replace(/ /g, ''), 'hex');
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 300);
      sock.on('message', () => (clearTimeout(t), resolve(true)));
      sock.on('error', () => (clearTimeout(t), resolve(false)));
      sock.send(q, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

/** Starts dnsmasq on a free 127.0.0.1 port (UDP and TCP) and waits until it answers. */
export async function startDnsmasq(opts: StartDnsmasqOptions): Promise<DnsmasqProcess> {
  if (!existsSync(DNSMASQ_BIN)) throw new Error(`${DNSMASQ_BIN} not found: apt-get install -y --no-install-recommends dnsmasq-base`);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = [
      '--no-daemon',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      // Only this address and port: other programs (a system dnsmasq) share the machine.
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--port=${port}`,
      '--pid-file',
      // Run as whoever started it: as root, dnsmasq would switch to nobody and need a writable lease dir.
      '--user=',
      '--log-facility=-',
      `--local=/${opts.local ?? 'test'}/`,
      ...opts.records,
    ];
    const child = spawn(DNSMASQ_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (b: Buffer) => (log = (log + b.toString('utf8')).slice(-8000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let exited = false;
    const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
    const stop = async () => {
      if (exited || !child.pid || !isAlive(child.pid)) return;
      child.kill('SIGTERM');
      await exit;
    };
    for (let i = 0; i < 100 && !exited; i++) {
      if (await answers(port)) {
        return { port, pid: child.pid!, address: `127.0.0.1:${port}`, output: () => log, stop, [Symbol.asyncDispose]: stop };
      }
    }
    await stop();
    if (/Address already in use/.test(log) && attempt < 5) continue;
    throw new Error(`dnsmasq did not start on 127.0.0.1:${port}: ${log.trim().slice(-1000)}`);
  }
}
