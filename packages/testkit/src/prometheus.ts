/**
 * Starts the real Prometheus (`/usr/bin/prometheus`, Debian package `prometheus`) on a free
 * 127.0.0.1 port with its config, rules and TSDB in a temp dir, and waits for `/-/ready`.
 * Prometheus cannot report a port it picked itself, so a free port is probed first (bound on
 * :0 and released); if another program takes it in between, the start is retried on a new one.
 * Scrape and evaluation run every second, and it scrapes itself (job `prometheus`).
 * Stopped by its own PID (SIGTERM, then SIGKILL after 10 s), waiting for the exit.
 *
 * @example
 * await using prom = await startPrometheus({ rules: [{ alert: 'AlwaysFiring', expr: 'vector(1)' }] });
 * await fetch(`${prom.url}/api/v1/alerts`);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface PrometheusRule {
  alert: string;
  expr: string;
  /** Default `0s`: fires at the first evaluation. */
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface StartPrometheusOptions {
  /** Alerting rules, in one group `test`. */
  rules?: PrometheusRule[];
  /** More scrape jobs besides `prometheus` (itself). */
  scrapeTargets?: Array<{ job: string; targets: string[]; metricsPath?: string }>;
  /** Default `1s`. */
  evaluationInterval?: string;
  /** Default `1s`. */
  scrapeInterval?: string;
  /** How long to wait for `/-/ready`; default 30 s. */
  timeoutMs?: number;
}

export interface PrometheusProcess extends AsyncDisposable {
  url: string;
  port: number;
  dir: string;
  pid: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

const handedOut = new Set<number>();

/**
 * A port free on 127.0.0.1 right now (bound on :0 and released). Never the same port twice in
 * one process, so two callers in one test cannot be handed one port; another process may still
 * take it before it is used: where that matters, hold the port (startDeadUpstream).
 */
export async function freePort(): Promise<number> {
  for (let i = 0; ; i++) {
    const s = createServer();
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = s.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    if (!handedOut.has(port) || i >= 20) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * An upstream that is down but keeps its port: it listens on 127.0.0.1 and closes every
 * connection at once, so a proxy in front of it fails (502) and nobody else can take the port
 * while the test runs. `addr` is `127.0.0.1:<port>`.
 */
export async function startDeadUpstream(): Promise<{ port: number; addr: string; close(): Promise<void>; [Symbol.asyncDispose](): Promise<void> }> {
  const s = createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (s.address() as { port: number }).port;
  const close = () => new Promise<void>((resolve) => s.close(() => resolve()));
  return { port, addr: `127.0.0.1:${port}`, close, [Symbol.asyncDispose]: close };
}

function configYaml(port: number, rulesFile: string, o: StartPrometheusOptions): string {
  const jobs = [{ job: 'prometheus', targets: [`127.0.0.1:${port}`] }, ...(o.scrapeTargets ?? [])];
  // JSON is YAML: no YAML library needed, and every string is quoted safely.
  return JSON.stringify({
    global: { scrape_interval: o.scrapeInterval ?? '1s', evaluation_interval: o.evaluationInterval ?? '1s' },
    rule_files: [rulesFile],
    scrape_configs: jobs.map((j) => ({ job_name: j.job, ...(j.metricsPath ? { metrics_path: j.metricsPath } : {}), static_configs: [{ targets: j.targets }] })),
  });
}

function rulesYaml(rules: PrometheusRule[]): string {
  return JSON.stringify({ groups: [{ name: 'test', rules: rules.map((r) => ({ alert: r.alert, expr: r.expr, for: r.for ?? '0s', ...(r.labels ? { labels: r.labels } : {}), ...(r.annotations ? { annotations: r.annotations } : {}) })) }] });
}

export async function startPrometheus(opts: StartPrometheusOptions = {}): Promise<PrometheusProcess> {
  if (!existsSync(PROMETHEUS_BIN)) throw new Error(`${PROMETHEUS_BIN} not found: apt-get install -y --no-install-recommends prometheus`);
  const dir = mkdtempSync(join(tmpdir(), 'homelab-prometheus-'));
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(dir, opts);
      } catch (err) {
        // The probed port was taken by someone else before Prometheus bound it: try another.
        if (attempt < 3 && /address already in use/i.test(String(err))) continue;
        throw err;
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startOnce(dir: string, opts: StartPrometheusOptions): Promise<PrometheusProcess> {
  const port = await freePort();
  const rulesFile = join(dir, 'rules.yml');
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(rulesFile, rulesYaml(opts.rules ?? []));
  writeFileSync(configFile, configYaml(port, rulesFile, opts));
  const dataDir = join(dir, `data-${port}`);
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Without this, the first alert notification happens before any Alertmanager is known
      // and the next only after a minute (real-parts.md §2).
      '--rules.alert.resend-delay=1s',
      '--log.level=info',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const onData = (b: Buffer) => {
    out += b.toString();
    if (out.length > 1_000_000) out = out.slice(-500_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const stopChild = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(t);
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`prometheus exited before it was ready:\n${out.slice(-4000)}`);
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild();
      throw new Error(`prometheus was not ready within ${opts.timeoutMs ?? 30_000} ms:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopChild();
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, port, dir, pid: child.pid!, child, output: () => out, stop, [Symbol.asyncDispose]: stop };
}
