/**
 * A real CUPS (Debian's cupsd, with cups-filters and cups-pdf) on 127.0.0.1:<free port>, in a
 * temporary directory: its own config, spool, cache and logs, no browsing, no domain socket,
 * nothing of the machine's CUPS used. One PDF queue, `PDF`: with cups-pdf when the tests run
 * as root (its backend is root-only, and its per-queue config can only live in /etc/cups, as
 * `cups-pdf-t<PORT>.conf`, removed on stop), else a `file:` queue with the generic PDF driver.
 * Either way each finished job leaves a PDF that `pdfOf(job)` finds. Stopped by its own PID.
 *
 * Recipe and gotchas: shared/reference/real-parts.md, Part 2 §1 (the directory must be 0755,
 * because cupsd runs its filters as `lp`).
 *
 * @example
 * await using cups = await startCups();
 * await cups.lp(['-d', 'PDF', '-H', 'hold', file]); // a held job, as a person's laptop would send
 * const pdf = await cups.pdfOf(3);
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './prometheus.ts';

export const CUPSD_BIN = '/usr/sbin/cupsd';
const LPADMIN = '/usr/sbin/lpadmin';
const CUPS_PDF_BACKEND = '/usr/lib/cups/backend/cups-pdf';
const CUPS_PDF_PPD = '/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd';
const GENERIC_PDF_PPD = '/usr/share/ppd/cupsfilters/Generic-PDF_Printer-PDF.ppd';

export interface StartCupsOptions {
  /** The queue's name; default `PDF`. */
  queue?: string;
  /**
   * Cancel-Job only for the job's owner or an administrator, with Basic auth, as Debian's
   * default cupsd.conf has it; by default anyone may do anything (a test's throwaway server).
   */
  ownerOnlyCancel?: boolean;
}

export interface CupsProcess extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, as `integrations.cups.url` takes it. */
  url: string;
  /** `127.0.0.1:PORT`, as `lp -h` takes it. */
  host: string;
  port: number;
  pid: number;
  dir: string;
  queue: string;
  /** `cups-pdf` (root) or `file` (the generic PDF driver writing one file). */
  backend: 'cups-pdf' | 'file';
  /** Runs a CUPS client command (`lp`, `lpstat`, `cancel`, `cupsdisable`, ...) against this server. */
  run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `lp -h HOST ...args`; the job id from its answer ("request id is PDF-3"). */
  lp(args: string[]): Promise<number>;
  /** The PDF job `job` produced, once it is whole (the job completed; polls up to `timeoutMs`, default 30 s); its path. */
  pdfOf(job: number, timeoutMs?: number): Promise<string>;
  /** The end of cupsd's error_log, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      resolve({ code: err ? (typeof code === 'number' ? code : -1) : 0, stdout, stderr });
    });
  });
}

/** Starts cupsd on a free 127.0.0.1 port with one PDF queue and waits until it answers. */
export async function startCups(opts: StartCupsOptions = {}): Promise<CupsProcess> {
  if (!existsSync(CUPSD_BIN)) throw new Error(`${CUPSD_BIN} not found: apt-get install -y --no-install-recommends cups cups-daemon cups-client cups-ipp-utils cups-filters printer-driver-cups-pdf poppler-utils`);
  const queue = opts.queue ?? 'PDF';
  const root = process.getuid?.() === 0;
  const backend: 'cups-pdf' | 'file' = root && existsSync(CUPS_PDF_BACKEND) ? 'cups-pdf' : 'file';
  const dir = mkdtempSync(join(tmpdir(), 'cups-test-'));
  // cupsd (as root) runs its filters as `lp`: they must be able to enter this directory.
  chmodSync(dir, 0o755);
  for (const d of ['etc/ppd', 'spool/tmp', 'cups-pdf/gs', 'cups-pdf/spool', 'cache', 'run', 'log', 'out']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  // cups-pdf runs Ghostscript as the job's owner, `nobody` for a user this machine does not
  // know (the hub's `homelab-mcp`): its spool, temp and output must be reachable by it, so
  // outside cupsd's RequestRoot (which cupsd makes 0710 root:lp).
  for (const d of ['out', 'cups-pdf/gs', 'cups-pdf/spool']) chmodSync(join(dir, d), 0o1777);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'etc/cupsd.conf'),
    [
      'LogLevel info',
      'MaxLogSize 0',
      `Listen ${host}`,
      'ServerName 127.0.0.1',
      'Browsing No',
      'BrowseLocalProtocols none',
      `DefaultAuthType ${opts.ownerOnlyCancel ? 'Basic' : 'None'}`,
      'WebInterface No',
      'PreserveJobHistory Yes',
      '<Location />',
      '  Order allow,deny',
      '  Allow from 127.0.0.1',
      '</Location>',
      '<Policy default>',
      // Job names and owners visible to every requesting user, as on a home print server.
      '  JobPrivateAccess all',
      '  JobPrivateValues none',
      '  SubscriptionPrivateAccess all',
      '  SubscriptionPrivateValues none',
      ...(opts.ownerOnlyCancel ? ['  <Limit Cancel-Job>', '    Require user @OWNER @SYSTEM', '    Order deny,allow', '  </Limit>'] : []),
      '  <Limit All>',
      '    Order deny,allow',
      '  </Limit>',
      '</Policy>',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'etc/cups-files.conf'),
    [
      ...(root ? ['User lp', 'Group lp', 'SystemGroup root'] : []),
      'FileDevice Yes',
      `ServerRoot ${dir}/etc`,
      `RequestRoot ${dir}/spool`,
      `TempDir ${dir}/spool/tmp`,
      `CacheDir ${dir}/cache`,
      `StateDir ${dir}/run`,
      `AccessLog ${dir}/log/access_log`,
      `ErrorLog ${dir}/log/error_log`,
      `PageLog ${dir}/log/page_log`,
      // Both default to system paths (/run/cups, /etc/cups/ssl).
      `Printcap ${dir}/run/printcap`,
      `ServerKeychain ${dir}/etc/ssl`,
      '',
    ].join('\n'),
  );
  const child = spawn(CUPSD_BIN, ['-f', '-c', join(dir, 'etc/cupsd.conf'), '-s', join(dir, 'etc/cups-files.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => (out = (out + b.toString('utf8')).slice(-8000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const cupsPdfConf = `/etc/cups/cups-pdf-t${port}.conf`;
  const log = () => {
    try {
      return out + readFileSync(join(dir, 'log/error_log'), 'utf8').slice(-4000);
    } catch {
      return out;
    }
  };
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(t);
    }
    if (backend === 'cups-pdf') rmSync(cupsPdfConf, { force: true });
    rmSync(dir, { recursive: true, force: true });
  };
  const env = { ...process.env, CUPS_SERVER: host };
  try {
    const started = Date.now();
    for (;;) {
      if (exited) throw new Error(`cupsd exited before answering: ${log().slice(-2000)}`);
      const ok = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => (void r.body?.cancel(), true),
        () => false,
      );
      if (ok) break;
      if (Date.now() - started > 20_000) throw new Error(`cupsd did not answer on ${host} within 20 s: ${log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    let added: { code: number; stderr: string };
    if (backend === 'cups-pdf') {
      // cups-pdf reads its config only from /etc/cups/cups-pdf-<suffix of the device URI>.conf.
      writeFileSync(cupsPdfConf, [`Out ${dir}/out`, `AnonDirName ${dir}/out`, `Spool ${dir}/cups-pdf/spool`, `Log ${dir}/log`, `GSTmp ${dir}/cups-pdf/gs`, ''].join('\n'));
      // `-E` after `-p`: enable and accept jobs (before it, it would mean encryption).
      added = await run(LPADMIN, ['-h', host, '-p', queue, '-E', '-v', `cups-pdf:/t${port}`, '-P', CUPS_PDF_PPD], env);
    } else {
      added = await run(LPADMIN, ['-h', host, '-p', queue, '-E', '-v', `file://${dir}/out/${queue}.pdf`, '-P', GENERIC_PDF_PPD], env);
    }
    if (added.code !== 0) throw new Error(`lpadmin failed (${added.code}): ${added.stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }

  const client = (command: string, args: string[]) => run(command, args, env);
  return {
    url: `http://${host}`,
    host,
    port,
    pid: child.pid!,
    dir,
    queue,
    backend,
    run: client,
    async lp(args) {
      const r = await client('lp', ['-h', host, ...args]);
      const m = /request id is \S+-(\d+)/.exec(r.stdout);
      if (r.code !== 0 || !m) throw new Error(`lp ${args.join(' ')} failed (${r.code}): ${r.stdout}${r.stderr}`);
      return Number(m[1]);
    },
    async pdfOf(job, timeoutMs = 30_000) {
      const started = Date.now();
      for (;;) {
        const hit =
          backend === 'cups-pdf'
            ? listPdfs(join(dir, 'out')).find((f) => f.endsWith(`-job_${job}.pdf`))
            : existsSync(join(dir, 'out', `${queue}.pdf`))
              ? join(dir, 'out', `${queue}.pdf`)
              : undefined;
        // The backend writes the file progressively: it is whole once CUPS calls the job completed.
        if (hit && new RegExp(`^${queue}-${job}\\s`, 'm').test((await client('lpstat', ['-h', host, '-W', 'completed', '-o', queue])).stdout)) return hit;
        if (Date.now() - started > timeoutMs) throw new Error(`no PDF for job ${job} in ${dir}/out after ${timeoutMs} ms: ${log().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    log,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Every PDF under `dir` (cups-pdf may put a user's jobs in a sub-directory). */
function listPdfs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.pdf'))
    .map((e) => join(e.parentPath, e.name));
}
