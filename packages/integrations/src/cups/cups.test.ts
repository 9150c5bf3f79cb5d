/**
 * The CUPS integration against a real cupsd (the testkit's startCups: Debian's CUPS with a PDF
 * queue on a free loopback port): what a person sees from each tool, and what it refuses.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { freePort, startCups, type CupsProcess } from '@homelab-mcp/testkit';
import { CupsConfigSchema, cupsIntegration, detectFormat, type CupsInstance } from './index.ts';

let cups: CupsProcess;
let inst: CupsInstance;
let docs: string;
let web: Server;
let webUrl: string;
let pdfBytes: Buffer;
const reports: HttpRequestReport[] = [];
const log = { info() {}, warn() {}, error() {} };
const setup = (over: Record<string, unknown> = {}) =>
  cupsIntegration.setup(CupsConfigSchema.parse({ url: cups.url, folders: [docs], urlPrefixes: [`${webUrl}/docs/`], maxCopies: 3, ...over }), { http: createHttpClient({ onRequest: (r) => reports.push(r) }), log });
const signal = () => new AbortController().signal;
const tool = (name: string, i = inst) => i.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}, i = inst) => tool(name, i).call(args, { signal: signal() });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;

/** Waits until the job reaches a final state; its state. */
async function finished(job: number): Promise<string> {
  let state = '';
  await expect
    .poll(async () => {
      const r = await call('list_print_jobs', { which: 'all' });
      state = (r.structuredContent as { jobs: Array<{ id: number; state: string }> }).jobs.find((j) => j.id === job)?.state ?? '';
      return ['completed', 'canceled', 'aborted'].includes(state);
    }, { timeout: 30_000, interval: 100 })
    .toBe(true);
  return state;
}

beforeAll(async () => {
  cups = await startCups();
  docs = join(cups.dir, 'docs');
  mkdirSync(join(docs, '.private'), { recursive: true });
  writeFileSync(join(docs, 'note.txt'), 'A note from the docs folder\n');
  writeFileSync(join(docs, '.private', 'secret.txt'), 'hidden\n');
  writeFileSync(join(cups.dir, 'outside.txt'), 'outside\n');
  symlinkSync(join(cups.dir, 'outside.txt'), join(docs, 'link.txt'));
  writeFileSync(join(docs, 'binary.bin'), Buffer.from([0, 1, 2, 3, 0xfe]));
  // A document server on loopback: /docs/x.pdf (a PDF), /docs/moved (a redirect).
  web = createServer((req, res) => {
    if (req.url === '/docs/report.pdf') return void res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdfBytes);
    if (req.url === '/docs/moved') return void res.writeHead(302, { location: '/elsewhere' }).end();
    if (req.url === '/docs/login') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><form>Sign in</form></html>');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  webUrl = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
  inst = setup();
});
afterAll(async () => {
  await inst?.close?.();
  web?.close();
  await cups?.stop();
});

describe('cups config', () => {
  it('names what it expects: absolute folders, URL prefixes, copies, one TLS trust', () => {
    const issues = (c: Record<string, unknown>) => CupsConfigSchema.safeParse({ url: 'ipp://print.lan', ...c }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ folders: ['scans'] })).toEqual(['folders.0: an absolute path']);
    expect(issues({ urlPrefixes: ['paperless.lan/api'] })).toEqual(['urlPrefixes.0: an http(s) URL prefix, e.g. http://paperless.lan:8000/api/documents/']);
    expect(issues({ maxCopies: 0 })).toEqual(['maxCopies: Too small: expected number to be >=1']);
    expect(issues({ url: 'ftp://print.lan' })).toEqual(['url: the CUPS server, e.g. http://print.lan:631 or ipp://print.lan']);
    expect(CupsConfigSchema.parse({ url: 'ipp://print.lan' })).toMatchObject({ user: 'homelab-mcp', maxCopies: 10, folders: [], urlPrefixes: [] });
  });
});

describe('cups (real cupsd)', { timeout: 90_000 }, () => {
  it('list_printers: the PDF queue, idle, accepting jobs', async () => {
    const r = await call('list_printers');
    expect(text(r)).toMatch(/^- PDF \(Generic CUPS-PDF Printer \(w\/ options\)|^- PDF \(Generic PDF Printer/);
    expect(text(r)).toMatch(/: idle; 0 queued jobs$/);
    expect(r.structuredContent).toMatchObject({ printers: [{ name: 'PDF', state: 'idle', acceptingJobs: true, queuedJobs: 0, reasons: [] }] });
  });

  it('print_document prints text: the job completes and its PDF appears', async () => {
    const preview = await tool('print_document').preview!({ printer: 'PDF', text: 'Hello from the hub\nsecond line', copies: 2 }, { signal: signal() });
    expect(preview).toEqual({ action: `Print text "Hello from the hub" (30 characters) as job "Hello from the hub" on printer PDF at CUPS ${cups.host}, 2 copies`, where: ['cups/PDF'] });
    const r = await call('print_document', { printer: 'PDF', text: 'Hello from the hub\nsecond line', copies: 2 });
    expect(text(r)).toMatch(/^printed text "Hello from the hub" \(30 characters\) on PDF as job (\d+) "Hello from the hub" \(2 copies\): (pending|processing|completed); /);
    const job = (r.structuredContent as { job: number }).job;
    expect(await finished(job)).toBe('completed');
    const pdf = await cups.pdfOf(job);
    expect((await cups.run('pdfinfo', [pdf])).stdout).toMatch(/^Pages:\s+[12]$/m);
    pdfBytes = readFileSync(pdf);
    expect(detectFormat(pdfBytes)).toBe('application/pdf');
    const done = await call('list_print_jobs', { printer: 'PDF', which: 'completed' });
    expect(text(done)).toContain(`- ${job} "Hello from the hub" on PDF by homelab-mcp: completed`);
  });

  it('print_document prints a PDF (base64), a file from the folders and a URL under a prefix', async () => {
    const viaPdf = await call('print_document', { printer: 'PDF', pdf_base64: pdfBytes.toString('base64'), title: 'again' });
    expect(text(viaPdf)).toMatch(/^printed a PDF \([\d.]+ KB\) on PDF as job \d+ "again" \(1 copy\)/);
    const viaFile = await call('print_document', { printer: 'PDF', file: join(docs, 'note.txt') });
    expect(text(viaFile)).toMatch(new RegExp(`^printed file ${join(docs, 'note.txt')} \\(text, 28 bytes\\) on PDF as job \\d+ "note.txt"`));
    const previewUrl = await tool('print_document').preview!({ printer: 'PDF', url: `${webUrl}/docs/report.pdf` }, { signal: signal() });
    expect(previewUrl.action).toBe(`Print the document at ${webUrl}/docs/report.pdf (fetched when approved) as job "report.pdf" on printer PDF at CUPS ${cups.host}, 1 copy`);
    const viaUrl = await call('print_document', { printer: 'PDF', url: `${webUrl}/docs/report.pdf` });
    expect(text(viaUrl)).toMatch(new RegExp(`^printed ${webUrl}/docs/report.pdf \\(PDF, [\\d.]+ KB\\) on PDF as job \\d+ "report.pdf"`));
    expect(reports.some((r) => r.url === `${webUrl}/docs/report.pdf` && r.status === 200)).toBe(true);
    for (const r of [viaPdf, viaFile, viaUrl]) expect(await finished((r.structuredContent as { job: number }).job)).toBe('completed');
  });

  it('print_document refuses: too many copies, files outside the folders, hidden, binary, URLs off their prefixes, redirects', async () => {
    const refused = async (args: Record<string, unknown>) => {
      const r = await call('print_document', { printer: 'PDF', ...args });
      expect(r.isError, JSON.stringify(args)).toBe(true);
      return text(r);
    };
    expect(await refused({ text: 'x', copies: 4 })).toBe('print_document: argument "copies": Too big: expected number to be <=3');
    expect(await refused({ text: 'x', file: '/etc/hostname' })).toBe('print_document: argument "text": give exactly one of text, pdf_base64, file and url');
    expect(await refused({ file: '/etc/shadow' })).toBe(`print_document: argument "file": /etc/shadow is not under ${docs} (integrations.cups.folders)`);
    expect(await refused({ file: join(docs, 'link.txt') })).toBe(`print_document: argument "file": ${join(docs, 'link.txt')} is not under ${docs} (integrations.cups.folders) once its links are followed (${join(cups.dir, 'outside.txt')})`);
    expect(await refused({ file: join(docs, '.private', 'secret.txt') })).toBe(`print_document: argument "file": ${join(docs, '.private', 'secret.txt')} is hidden (a name starting with "."), which is never printed`);
    expect(await refused({ file: `${docs}/../outside.txt` })).toMatch(/is not under/);
    expect(await refused({ file: 'note.txt' })).toBe(`print_document: argument "file": expected an absolute path under ${docs}`);
    expect(await refused({ file: join(docs, 'binary.bin') })).toBe(`print_document: argument "file": ${join(docs, 'binary.bin')} is not a PDF, PostScript, PNG, JPEG or text file`);
    expect(await refused({ pdf_base64: Buffer.from('not a pdf at all').toString('base64') })).toBe('print_document: argument "pdf_base64": the decoded bytes are not a PDF (they do not start with %PDF-)');
    expect(await refused({ url: 'http://169.254.169.254/latest/meta-data/' })).toBe(`print_document: argument "url": http://169.254.169.254/latest/meta-data/ does not start with one of integrations.cups.urlPrefixes (${webUrl}/docs/)`);
    expect(await refused({ url: `${webUrl}/docs@evil.example/x.pdf`.replace('http://', 'http://u:p@') })).toMatch(/does not start with one of/);
    expect(await refused({ url: `${webUrl}/docs/moved` })).toBe(`print_document: ${webUrl}/docs/moved answered HTTP 302 (a redirect, not followed: give the final URL)`);
    expect(await refused({ url: `${webUrl}/docs/login` })).toBe(`print_document: ${webUrl}/docs/login answered an HTML page, not a document (a login page? give the document's own URL)`);
    expect(await refused({ printer: 'NOPE', text: 'x' })).toBe(`CUPS at ${cups.host}: The printer or class does not exist. (client-error-not-found)`);
    // Without folders and prefixes (the defaults), files and URLs are off.
    const bare = setup({ folders: [], urlPrefixes: [] });
    try {
      expect(text(await call('print_document', { printer: 'PDF', file: join(docs, 'note.txt') }, bare))).toBe('print_document: argument "file": printing files is off (integrations.cups.folders lists no folder)');
      expect(text(await call('print_document', { printer: 'PDF', url: `${webUrl}/docs/report.pdf` }, bare))).toBe('print_document: argument "url": printing from URLs is off (integrations.cups.urlPrefixes lists no prefix); pass the document as text, pdf_base64 or file');
    } finally {
      await bare.close?.();
    }
  });

  it('cancel_print_job: a held job, previewed with its name and owner, cancelled; a finished one is not', async () => {
    const file = join(cups.dir, 'held.txt');
    writeFileSync(file, 'held\n');
    const held = await cups.lp(['-d', 'PDF', '-t', 'held-report', '-U', 'bob', '-H', 'hold', file]);
    const active = await call('list_print_jobs');
    expect(text(active)).toMatch(new RegExp(`^1 active job on CUPS at ${cups.host.replace(/\./g, '\\.')}:\\n- ${held} "held-report" on PDF by bob: held \\(job-hold-until-specified\\), queued `));
    expect(await tool('cancel_print_job').preview!({ job: `PDF-${held}` }, { signal: signal() })).toEqual({ action: `Cancel print job ${held} "held-report" of bob on printer PDF at CUPS ${cups.host} (now held)`, where: ['cups/PDF'] });
    expect(text(await call('cancel_print_job', { job: held }))).toBe(`cancelled job ${held} "held-report" on PDF (was held, now canceled)`);
    expect(text(await call('cancel_print_job', { job: held }))).toBe(`cancel_print_job: job ${held} "held-report" on PDF is already canceled; nothing to cancel`);
    expect(text(await call('cancel_print_job', { job: 9999 }))).toBe(`CUPS at ${cups.host}: Job #9999 does not exist. (client-error-not-found)`);
    expect((await call('list_print_jobs')).structuredContent).toEqual({ total: 0, jobs: [] });
  });

  it('health and run_diagnostic: printers and queue; a stopped printer is a problem', async () => {
    expect(await inst.health!(signal())).toEqual({ ok: true, detail: '1 printer; 0 queued jobs' });
    expect(await inst.diagnose!({ name: 'printer', node: 'nas' }, signal())).toEqual([{ check: 'cups', status: 'ok', detail: 'CUPS answers IPP: 1 printer, 0 queued jobs' }]);
    expect(await inst.diagnose!({ name: 'web', node: 'nas', url: `http://${cups.host}/` }, signal())).toHaveLength(1);
    expect(await inst.diagnose!({ name: 'nginx', node: 'nas', url: 'http://127.0.0.1:1/' }, signal())).toEqual([]);
    await cups.run('cupsdisable', ['-h', cups.host, '-r', 'out of paper', 'PDF']);
    try {
      expect(await inst.health!(signal())).toEqual({ ok: false, detail: '1 printer; 0 queued jobs', problems: ['CUPS: printer PDF is stopped (paused): out of paper'] });
      expect(await inst.diagnose!({ name: 'cups', node: 'nas' }, signal())).toMatchObject([{ check: 'cups', status: 'problem', detail: 'CUPS answers; printer PDF is stopped (paused): out of paper' }]);
      expect(text(await call('list_printers'))).toMatch(/: stopped; 0 queued jobs; reasons: paused; "out of paper"$/);
    } finally {
      await cups.run('cupsenable', ['-h', cups.host, 'PDF']);
    }
  });

  it('a server whose policy keeps cancelling to the owner: the refusal says so, and the service stays ready', async () => {
    await using strict = await startCups({ ownerOnlyCancel: true });
    const file = join(strict.dir, 'theirs.txt');
    writeFileSync(file, 'theirs\n');
    const theirs = await strict.lp(['-d', 'PDF', '-U', 'bob', '-H', 'hold', file]);
    const s = setup({ url: strict.url });
    try {
      const r = await call('cancel_print_job', { job: theirs }, s);
      expect(text(r)).toBe(`CUPS at ${strict.host} did not let user "homelab-mcp" cancel job ${theirs}: its policy asks for the job's owner or an administrator (a user of its SystemGroup, e.g. lpadmin); set integrations.cups.user and .password to such an account`);
      expect(await s.health!(signal())).toEqual({ ok: true, detail: '1 printer; 1 queued job' });
    } finally {
      await s.close?.();
    }
  });

  it('a server that refuses the password (HTTP 401): named by its keys, never its value', async () => {
    // A proxy or a CUPS whose policy requires a valid user: every request answered 401.
    const locked = createServer((_req, res) => void res.writeHead(401, { 'www-authenticate': 'Basic realm="CUPS"' }).end());
    await new Promise<void>((r) => locked.listen(0, '127.0.0.1', () => r()));
    const host = `127.0.0.1:${(locked.address() as { port: number }).port}`;
    const s = setup({ url: `http://${host}`, user: 'printer-admin', password: 'not-the-password' });
    try {
      expect(text(await call('list_printers', {}, s))).toBe(`CUPS at ${host} refused the password of user "printer-admin" (integrations.cups.user and .password)`);
      expect(await s.health!(signal())).toEqual({ ok: false, detail: `CUPS at ${host} rejected the credential (integrations.cups.password)` });
      expect(JSON.stringify(reports)).not.toContain('not-the-password');
    } finally {
      await s.close?.();
      locked.close();
    }
  });

  it('an unreachable CUPS: the tools and health say so, naming the server', async () => {
    const port = await freePort();
    const down = setup({ url: `ipp://127.0.0.1:${port}` });
    try {
      expect(text(await call('list_printers', {}, down))).toBe(`CUPS at 127.0.0.1:${port} is unreachable: connection refused`);
      expect(await down.health!(signal())).toEqual({ ok: false, detail: `CUPS at 127.0.0.1:${port} is unreachable: connection refused` });
    } finally {
      await down.close?.();
    }
  });
});
