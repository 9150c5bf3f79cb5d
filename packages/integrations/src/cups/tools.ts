/**
 * The CUPS tools: printers and their queues (reads), printing a document and cancelling a job
 * (writes, previewed with exactly what, where and how many copies).
 *
 * What print_document may print, and why:
 * - `text`, printed as plain text (CUPS turns it into pages);
 * - `pdf_base64`, a PDF in the arguments;
 * - `file`, a file on the hub's machine, only under `integrations.cups.folders` (symbolic links
 *   resolved first, no hidden files or folders), so a model cannot print /etc/shadow;
 * - `url`, fetched by the hub, only when it starts with one of `integrations.cups.urlPrefixes`.
 *   An integration cannot use the hub's http_fetch guard (imports go downward), and what people
 *   print from a URL is mostly on their own network (Paperless, a NAS), which that guard refuses
 *   anyway; so URLs are refused unless the person listed where documents may come from. The
 *   fetch follows no redirect, has a deadline and a size cap, and is audited like every request.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import * as z from 'zod';
import { HomelabError } from '@homelab-mcp/core';
import type { HttpClient } from '@homelab-mcp/core/http';
import { defineTool, errorResult, textResult, type IntegrationTool } from '../integration.ts';
import type { CupsClient, CupsJob, CupsPrinter } from './client.ts';

export interface CupsToolOptions {
  maxCopies: number;
  maxDocumentBytes: number;
  /** Absolute folders whose files print_document may print. */
  folders: string[];
  /** URL prefixes print_document may fetch from. */
  urlPrefixes: string[];
  /** For `url`: the hub's HTTP client with the system's trust (not the CUPS server's). */
  http: HttpClient;
  timeoutMs: number;
}

/** Jobs shown at most by list_print_jobs (it says how many more there are). */
export const MAX_JOBS_SHOWN = 200;

const PRINTER_NAME = z
  .string()
  .min(1)
  .max(127)
  .regex(/^[^\s/#\\?"']+$/, 'a CUPS queue name (no spaces, "/", "#", "\\", "?" or quotes); list_printers shows them');

/** `1.2 KB`, `3.4 MB`. */
export function size(n: number): string {
  return n < 1024 ? `${n} bytes` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The IPP document-format of a document from its first bytes: PDF, PostScript, PNG, JPEG, or
 * UTF-8 text; undefined when it is none of these (CUPS could guess, but a guess can print
 * pages of garbage).
 */
export function detectFormat(b: Uint8Array): string | undefined {
  const head = Buffer.from(b.subarray(0, 8)).toString('latin1');
  if (head.startsWith('%PDF-')) return 'application/pdf';
  if (head.startsWith('%!')) return 'application/postscript';
  if (head.startsWith('\x89PNG')) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  const sample = b.subarray(0, 64 * 1024);
  if (sample.includes(0)) return undefined;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.length < b.length ? trimPartialUtf8(sample) : sample);
    return 'text/plain';
  } catch {
    return undefined;
  }
}

/** A sample cut inside a multi-byte character would not decode: drop the partial tail. */
function trimPartialUtf8(b: Uint8Array): Uint8Array {
  let end = b.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const c = b[end - i]!;
    if ((c & 0xc0) === 0x80) continue;
    if (c >= 0xc0) end -= i;
    break;
  }
  return b.subarray(0, end);
}

const FORMAT_WORD: Record<string, string> = { 'application/pdf': 'PDF', 'application/postscript': 'PostScript', 'image/png': 'PNG image', 'image/jpeg': 'JPEG image', 'text/plain': 'text' };

/** The file `file` names, if it is inside one of `folders` (after symbolic links) and visible. */
export async function fileInFolders(file: string, folders: string[]): Promise<string> {
  if (!folders.length) throw new HomelabError('INVALID_ARGUMENTS', 'print_document: argument "file": printing files is off (integrations.cups.folders lists no folder)');
  if (!isAbsolute(file)) throw new HomelabError('INVALID_ARGUMENTS', `print_document: argument "file": expected an absolute path under ${folders.join(', ')}`);
  let real: string;
  try {
    real = await realpath(file);
  } catch (err) {
    throw new HomelabError('INVALID_ARGUMENTS', `print_document: argument "file": ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  for (const folder of folders) {
    let root: string;
    try {
      root = await realpath(folder);
    } catch {
      continue;
    }
    const rel = relative(root, real);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) continue;
    if (rel.split(sep).some((part) => part.startsWith('.'))) throw new HomelabError('INVALID_ARGUMENTS', `print_document: argument "file": ${file} is hidden (a name starting with "."), which is never printed`);
    return real;
  }
  throw new HomelabError('INVALID_ARGUMENTS', `print_document: argument "file": ${file} is not under ${folders.join(', ')} (integrations.cups.folders)${real !== file ? ` once its links are followed (${real})` : ''}`);
}

/** Whether `url` starts with one of the prefixes (compared as parsed URLs, so `http://a.lan:80@evil/` is not `http://a.lan:80/`). */
export function urlAllowed(url: string, prefixes: string[]): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username || u.password || (u.protocol !== 'http:' && u.protocol !== 'https:')) return false;
  return prefixes.some((p) => u.href.startsWith(new URL(p).href));
}

interface Document {
  data: Uint8Array;
  format: string;
  /** `text "Shopping list…" (120 characters)`, `file /srv/print/a.pdf (PDF, 34.1 KB)`. */
  what: string;
  title: string;
}

type PrintArgs = { printer: string; text?: string | undefined; pdf_base64?: string | undefined; file?: string | undefined; url?: string | undefined; copies?: number | undefined; title?: string | undefined };

const firstLine = (t: string) => {
  const line = t.trim().split('\n')[0]!.trim();
  return line.length > 60 ? `${line.slice(0, 60)}…` : line;
};

/** The four CUPS tools for one server, with the limits of its config. */
export function cupsTools(cups: CupsClient, o: CupsToolOptions): IntegrationTool[] {
  const maxBase64 = Math.ceil((o.maxDocumentBytes * 4) / 3) + 4;

  /** What to print, read and checked; `peek` (the preview) neither fetches the URL nor fails on it. */
  async function documentOf(args: PrintArgs, signal: AbortSignal, peek: boolean): Promise<Document> {
    const title = args.title;
    if (args.text !== undefined) {
      const data = new TextEncoder().encode(args.text);
      return { data, format: 'text/plain', what: `text "${firstLine(args.text)}" (${[...args.text].length} characters)`, title: title ?? (firstLine(args.text) || 'text') };
    }
    if (args.pdf_base64 !== undefined) {
      const data = Buffer.from(args.pdf_base64, 'base64');
      if (detectFormat(data) !== 'application/pdf') throw new HomelabError('INVALID_ARGUMENTS', 'print_document: argument "pdf_base64": the decoded bytes are not a PDF (they do not start with %PDF-)');
      return { data, format: 'application/pdf', what: `a PDF (${size(data.length)})`, title: title ?? 'document.pdf' };
    }
    if (args.file !== undefined) {
      const real = await fileInFolders(args.file, o.folders);
      const st = await stat(real);
      if (!st.isFile()) throw new HomelabError('INVALID_ARGUMENTS', `print_document: argument "file": ${args.file} is not a regular file`);
      if (st.size > o.maxDocumentBytes) throw new HomelabError('INVALID_ARGUMENTS', `print_document: argument "file": ${args.file} is ${size(st.size)}, more than integrations.cups.maxDocumentBytes (${size(o.maxDocumentBytes)})`);
      const data = await readFile(real);
      const format = detectFormat(data);
      if (!format) throw new HomelabError('INVALID_ARGUMENTS', `print_document: argument "file": ${args.file} is not a PDF, PostScript, PNG, JPEG or text file`);
      return { data, format, what: `file ${real} (${FORMAT_WORD[format]}, ${size(data.length)})`, title: title ?? real.slice(real.lastIndexOf(sep) + 1) };
    }
    const url = args.url!;
    if (!o.urlPrefixes.length) throw new HomelabError('INVALID_ARGUMENTS', 'print_document: argument "url": printing from URLs is off (integrations.cups.urlPrefixes lists no prefix); pass the document as text, pdf_base64 or file');
    if (!urlAllowed(url, o.urlPrefixes)) throw new HomelabError('INVALID_ARGUMENTS', `print_document: argument "url": ${url} does not start with one of integrations.cups.urlPrefixes (${o.urlPrefixes.join(', ')})`);
    const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'document');
    if (peek) return { data: new Uint8Array(0), format: '', what: `the document at ${url} (fetched when approved)`, title: title ?? name };
    const res = await o.http.request({ url, timeoutMs: o.timeoutMs, maxBytes: o.maxDocumentBytes, signal, redirect: 'manual' });
    if (res.status >= 300 && res.status < 400) throw new HomelabError('UPSTREAM_ERROR', `print_document: ${url} answered HTTP ${res.status} (a redirect, not followed: give the final URL)`);
    if (res.status !== 200) throw new HomelabError('UPSTREAM_ERROR', `print_document: ${url} answered HTTP ${res.status}`);
    // A login or error page would "print" as its HTML source.
    if (/^\s*text\/html\b/i.test(res.headers['content-type'] ?? '')) throw new HomelabError('UPSTREAM_ERROR', `print_document: ${url} answered an HTML page, not a document (a login page? give the document's own URL)`);
    const format = detectFormat(res.body);
    if (!format) throw new HomelabError('UPSTREAM_ERROR', `print_document: ${url} is not a PDF, PostScript, PNG, JPEG or text document (${res.headers['content-type'] ?? 'no content type'})`);
    return { data: res.body, format, what: `${url} (${FORMAT_WORD[format]}, ${size(res.body.length)})`, title: title ?? name };
  }

  const printerLine = (p: CupsPrinter) => {
    const bits = [`${p.state}${p.acceptingJobs ? '' : ', not accepting jobs'}`, `${p.queuedJobs} queued job${p.queuedJobs === 1 ? '' : 's'}`];
    if (p.reasons.length) bits.push(`reasons: ${p.reasons.join(', ')}`);
    if (p.message) bits.push(`"${p.message}"`);
    const about = [p.info && p.info !== p.name ? p.info : '', p.makeAndModel, p.location ? `at ${p.location}` : ''].filter(Boolean).join(', ');
    return `- ${p.name}${p.isClass ? ' (class)' : ''}${about ? ` (${about})` : ''}: ${bits.join('; ')}`;
  };

  const listPrinters = defineTool({
    name: 'list_printers',
    title: 'Printers',
    description: 'Lists the printers (and classes) of the CUPS server: state (idle, processing, stopped), whether they accept jobs, their state reasons (media-empty, toner-low, ...) and how many jobs wait.',
    args: z.strictObject({}),
    toolClass: 'read',
    async run(_a, { signal }) {
      const ps = await cups.printers(signal);
      return textResult(ps.length ? ps.map(printerLine).join('\n') : `CUPS at ${cups.host} has no printers`, { printers: ps });
    },
  });

  const jobLine = (j: CupsJob) =>
    `- ${j.id} "${j.name}" on ${j.printer} by ${j.owner || '?'}: ${j.state}${j.reasons.length ? ` (${j.reasons.join(', ')})` : ''}${j.pages !== null && j.pages > 0 ? `, ${j.pages} page${j.pages === 1 ? '' : 's'}` : ''}${j.created ? `, queued ${j.created}` : ''}`;

  const listJobs = defineTool({
    name: 'list_print_jobs',
    title: 'Print jobs',
    description: 'Lists print jobs of one printer or all: active ones (pending, held, printing; the default), completed ones (done, cancelled, aborted) or all, newest first.',
    args: z.strictObject({
      printer: PRINTER_NAME.describe('Only this printer (queue name); default all').optional(),
      which: z.enum(['active', 'completed', 'all']).describe('active (default), completed or all').optional(),
      limit: z.number().int().min(1).max(MAX_JOBS_SHOWN).describe(`At most this many jobs (default 50, at most ${MAX_JOBS_SHOWN})`).optional(),
    }),
    toolClass: 'read',
    async run(args, { signal }) {
      const which = args.which ?? 'active';
      const all = (await cups.jobs(args.printer, which, signal)).sort((a, b) => b.id - a.id);
      const shown = all.slice(0, args.limit ?? 50);
      const where = args.printer ? `on ${args.printer}` : `on CUPS at ${cups.host}`;
      const head = `${all.length} ${which === 'all' ? '' : `${which} `}job${all.length === 1 ? '' : 's'} ${where}`;
      const lines = shown.map(jobLine);
      if (all.length > shown.length) lines.push(`(${all.length - shown.length} older jobs not shown: raise limit)`);
      return textResult(lines.length ? `${head}:\n${lines.join('\n')}` : head, { total: all.length, jobs: shown });
    },
  });

  const printArgs = z
    .strictObject({
      printer: PRINTER_NAME.describe('The printer (CUPS queue name; list_printers shows them)'),
      text: z.string().min(1).max(o.maxDocumentBytes).describe('Plain text to print').optional(),
      pdf_base64: z.string().min(8).max(maxBase64).regex(/^[A-Za-z0-9+/=\s]+$/, 'base64').describe('A PDF, base64-encoded').optional(),
      file: z.string().min(1).max(4096).describe(`A file on the hub's machine, under ${o.folders.length ? o.folders.join(', ') : '(no folder is configured)'}`).optional(),
      url: z.string().min(1).max(2048).describe(o.urlPrefixes.length ? `A document URL starting with ${o.urlPrefixes.join(' or ')}` : 'A document URL (off: integrations.cups.urlPrefixes is empty)').optional(),
      copies: z.number().int().min(1).max(o.maxCopies).describe(`Copies (1 to ${o.maxCopies}; default 1)`).optional(),
      title: z.string().min(1).max(200).describe('The job name shown in the queue').optional(),
    })
    .refine((a) => [a.text, a.pdf_base64, a.file, a.url].filter((x) => x !== undefined).length === 1, { message: 'give exactly one of text, pdf_base64, file and url', path: ['text'] });

  const print = defineTool({
    name: 'print_document',
    title: 'Print a document',
    description: 'Prints text, a PDF (base64), a file from the configured folders or a document from an allowed URL on a CUPS printer, in up to the configured number of copies. Answers with the job id (list_print_jobs follows it; cancel_print_job cancels it).',
    args: printArgs,
    toolClass: 'write',
    annotations: { idempotentHint: false, destructiveHint: false },
    async preview(args, { signal }) {
      const a: PrintArgs = args;
      const copies = a.copies ?? 1;
      let what: string;
      let title: string;
      try {
        ({ what, title } = await documentOf(a, signal, true));
      } catch (err) {
        return { action: `Print on printer ${a.printer} at CUPS ${cups.host}: refused (${err instanceof Error ? err.message : String(err)})`, where: [`cups/${a.printer}`] };
      }
      return { action: `Print ${what} as job "${title}" on printer ${a.printer} at CUPS ${cups.host}, ${copies} cop${copies === 1 ? 'y' : 'ies'}`, where: [`cups/${a.printer}`] };
    },
    async run(args, { signal }) {
      const a: PrintArgs = args;
      const doc = await documentOf(a, signal, false);
      const copies = a.copies ?? 1;
      const job = await cups.print(a.printer, { data: doc.data, format: doc.format, title: doc.title, copies }, signal);
      return textResult(`printed ${doc.what} on ${a.printer} as job ${job.id} "${doc.title}" (${copies} cop${copies === 1 ? 'y' : 'ies'}): ${job.state}; list_print_jobs(printer: "${a.printer}", which: "all") follows it`, { job: job.id, printer: a.printer, state: job.state, title: doc.title, format: doc.format, bytes: doc.data.length, copies });
    },
  });

  const jobArg = z
    .union([z.number().int().positive(), z.string().regex(/^[^\s/#]+-\d+$/, 'a job id such as 12 or PRINTER-12 (as lpstat shows it)')])
    .describe('The job id (12) or PRINTER-12 as lpstat shows it');
  const jobId = (j: number | string) => (typeof j === 'number' ? j : Number(j.slice(j.lastIndexOf('-') + 1)));

  const cancel = defineTool({
    name: 'cancel_print_job',
    title: 'Cancel a print job',
    description: 'Cancels a print job that has not finished (pending, held or printing), by its id.',
    args: z.strictObject({ job: jobArg }),
    toolClass: 'write',
    annotations: { idempotentHint: true },
    async preview({ job }, { signal }) {
      const id = jobId(job);
      try {
        const j = await cups.job(id, signal);
        return { action: `Cancel print job ${j.id} "${j.name}" of ${j.owner || 'an unknown user'} on printer ${j.printer} at CUPS ${cups.host} (now ${j.state})`, where: [`cups/${j.printer}`] };
      } catch (err) {
        return { action: `Cancel print job ${id} at CUPS ${cups.host} (it could not be looked up: ${err instanceof Error ? err.message : String(err)})` };
      }
    },
    async run({ job }, { signal }) {
      const id = jobId(job);
      const before = await cups.job(id, signal);
      if (['completed', 'canceled', 'aborted'].includes(before.state)) return errorResult(`cancel_print_job: job ${id} "${before.name}" on ${before.printer} is already ${before.state}; nothing to cancel`, { job: id, state: before.state });
      await cups.cancel(id, signal);
      const after = await cups.job(id, signal).catch(() => undefined);
      return textResult(`cancelled job ${id} "${before.name}" on ${before.printer} (was ${before.state}${after ? `, now ${after.state}` : ''})`, { job: id, printer: before.printer, was: before.state, state: after?.state ?? 'canceled' });
    },
  });

  return [listPrinters, listJobs, print, cancel];
}
