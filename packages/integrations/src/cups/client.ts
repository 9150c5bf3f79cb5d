/**
 * A small CUPS client: IPP over HTTP POST to the CUPS server (shared/reference/peer-servers.md
 * §4.2): `/` for CUPS-Get-Printers and jobs of every printer, `/printers/NAME` for one printer,
 * `/jobs/` for one job. Every answer is decoded with bounds (ipp.ts); a failure says what in a
 * person's words (CUPS's own status-message when it sends one), naming the server, never a
 * password.
 *
 * @example
 * const cups = createCupsClient({ url: 'http://print.lan:631', user: 'homelab-mcp', http, timeoutMs: 15_000 });
 * const printers = await cups.printers(signal);
 */
import { HomelabError } from '@homelab-mcp/core';
import { isHttpError, type HttpClient, type HttpResponse } from '@homelab-mcp/core/http';
import { decodeIpp, encodeIpp, GROUP_TAG, IPP_OP, IPP_STATUS, IppError, operationGroup, VALUE_TAG, type IppAttribute, type IppResponse, type IppValue } from './ipp.ts';

/** Largest IPP answer read (a few thousand jobs with the attributes we ask). */
export const MAX_IPP_BYTES = 8 * 1024 * 1024;

/** A printer (or class) as list_printers shows it. */
export interface CupsPrinter {
  name: string;
  state: 'idle' | 'processing' | 'stopped' | 'unknown';
  reasons: string[];
  message: string;
  acceptingJobs: boolean;
  queuedJobs: number;
  info: string;
  location: string;
  makeAndModel: string;
  isClass: boolean;
}

export type JobState = 'pending' | 'held' | 'processing' | 'stopped' | 'canceled' | 'aborted' | 'completed' | 'unknown';

/** A print job as list_print_jobs shows it. */
export interface CupsJob {
  id: number;
  name: string;
  printer: string;
  state: JobState;
  reasons: string[];
  owner: string;
  /** ISO time; null when CUPS does not say. */
  created: string | null;
  completed: string | null;
  pages: number | null;
  kilobytes: number | null;
  copies: number | null;
}

/** A CUPS error: `status` is the HTTP status (401 when the credential is refused) or the IPP status code. */
export class CupsError extends HomelabError {
  readonly status: number;
  constructor(status: number, message: string, opts?: { cause?: unknown }) {
    super(status === 401 ? 'AUTH_REJECTED' : status === 503 ? 'UPSTREAM_UNAVAILABLE' : 'UPSTREAM_ERROR', message, opts);
    this.name = 'CupsError';
    this.status = status;
  }
}

export interface CupsClient {
  /** `print.lan:631`. */
  host: string;
  printers(signal?: AbortSignal, limit?: number): Promise<CupsPrinter[]>;
  /** Jobs of one printer or all: `active` (not completed), `completed` or `all`. */
  jobs(printer: string | undefined, which: 'active' | 'completed' | 'all', signal?: AbortSignal): Promise<CupsJob[]>;
  job(id: number, signal?: AbortSignal): Promise<CupsJob>;
  print(printer: string, doc: { data: Uint8Array; format: string; title: string; copies: number }, signal?: AbortSignal): Promise<{ id: number; state: JobState }>;
  cancel(id: number, signal?: AbortSignal): Promise<void>;
}

export interface CupsClientOptions {
  /** `http(s)://host:631` or `ipp(s)://host[:631]`. */
  url: string;
  /** requesting-user-name, the owner of the jobs the hub prints. */
  user: string;
  /** With a password, Basic auth as `user` (for a server whose policy asks for it). */
  password?: string | undefined;
  http: HttpClient;
  timeoutMs: number;
  /** Told when CUPS refuses the credential (the service link's `failed`, so service_health says so). */
  onLinkError?: (err: unknown) => void;
}

/** `ipp://h` is `http://h:631`, `ipps://h` is `https://h:631`; an http(s) URL is kept. */
export function cupsHttpUrl(url: string): URL {
  const u = new URL(url);
  if (u.protocol === 'ipp:' || u.protocol === 'ipps:') {
    const port = u.port || '631';
    return new URL(`${u.protocol === 'ipps:' ? 'https' : 'http'}://${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${port}`);
  }
  return new URL(u.origin);
}

const PRINTER_STATE: Record<number, CupsPrinter['state']> = { 3: 'idle', 4: 'processing', 5: 'stopped' };
const JOB_STATE: Record<number, JobState> = { 3: 'pending', 4: 'held', 5: 'processing', 6: 'stopped', 7: 'canceled', 8: 'aborted', 9: 'completed' };
const PRINTER_ATTRS = ['printer-name', 'printer-state', 'printer-state-reasons', 'printer-state-message', 'printer-is-accepting-jobs', 'queued-job-count', 'printer-info', 'printer-location', 'printer-make-and-model', 'printer-type'];
const JOB_ATTRS = ['job-id', 'job-name', 'job-state', 'job-state-reasons', 'job-printer-uri', 'job-originating-user-name', 'time-at-creation', 'time-at-completed', 'job-impressions-completed', 'job-k-octets', 'copies'];

const one = (a: Record<string, IppValue[]>, k: string): IppValue | undefined => a[k]?.[0];
const text = (v: IppValue | undefined): string => (typeof v === 'string' ? v : '');
const num = (v: IppValue | undefined): number | null => (typeof v === 'number' ? v : null);
const strings = (vs: IppValue[] | undefined): string[] => (vs ?? []).filter((v): v is string => typeof v === 'string' && v !== 'none');
// CUPS sends time-at-* as Unix seconds.
const time = (v: IppValue | undefined): string | null => (typeof v === 'number' && v > 0 ? new Date(v * 1000).toISOString() : null);

function toJob(a: Record<string, IppValue[]>): CupsJob {
  const uri = text(one(a, 'job-printer-uri'));
  return {
    id: num(one(a, 'job-id')) ?? 0,
    name: text(one(a, 'job-name')),
    printer: decodeURIComponent(uri.slice(uri.lastIndexOf('/') + 1)),
    state: JOB_STATE[num(one(a, 'job-state')) ?? 0] ?? 'unknown',
    reasons: strings(a['job-state-reasons']),
    owner: text(one(a, 'job-originating-user-name')),
    created: time(one(a, 'time-at-creation')),
    completed: time(one(a, 'time-at-completed')),
    pages: num(one(a, 'job-impressions-completed')),
    kilobytes: num(one(a, 'job-k-octets')),
    copies: num(one(a, 'copies')),
  };
}

/** A client for one CUPS server; every call is one IPP request over HTTP POST. */
export function createCupsClient(opts: CupsClientOptions): CupsClient {
  const base = cupsHttpUrl(opts.url);
  const host = base.host;
  // The URIs inside IPP messages: CUPS routes on their path, whatever their host says.
  const ippBase = `ipp://${host}`;
  const auth: Record<string, string> = opts.password !== undefined ? { authorization: `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}` } : {};
  let requestId = 0;

  /**
   * One IPP request. `write` names what a write does (`print on PDF`, `cancel job 12`): CUPS's
   * policy often allows reads to anyone but a write only to the job's owner or an
   * administrator, so a refused write says that, and is not taken for a refused credential.
   */
  async function call(path: string, operation: number, target: IppAttribute, more: IppAttribute[], extra: { job?: IppAttribute[]; data?: Uint8Array; write?: string } = {}, signal?: AbortSignal): Promise<IppResponse> {
    const op = operationGroup(target, opts.user, more);
    const body = encodeIpp({ operation, requestId: ++requestId, groups: [op, ...(extra.job?.length ? [{ tag: GROUP_TAG.job, attributes: extra.job }] : [])], ...(extra.data ? { data: extra.data } : {}) });
    let res: HttpResponse;
    try {
      res = await opts.http.request({ method: 'POST', url: new URL(path, base), headers: { 'content-type': 'application/ipp', accept: 'application/ipp', ...auth }, body, timeoutMs: opts.timeoutMs, maxBytes: MAX_IPP_BYTES, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (isHttpError(err, 'unreachable') || isHttpError(err, 'timeout')) throw new CupsError(503, `CUPS at ${host} is unreachable: ${err.detail}`, { cause: err });
      throw err;
    }
    const refusedWrite = () =>
      new CupsError(403, `CUPS at ${host} did not let user "${opts.user}"${opts.password !== undefined ? ' (with its password)' : ''} ${extra.write}: its policy asks for ${operation === IPP_OP.cancelJob ? 'the job\'s owner or ' : ''}an administrator (a user of its SystemGroup, e.g. lpadmin); set integrations.cups.user and .password to such an account`);
    if ((res.status === 401 || res.status === 403) && extra.write) throw refusedWrite();
    if (res.status === 401 || res.status === 403) opts.onLinkError?.({ status: 401 });
    if (res.status === 401 || res.status === 403) throw new CupsError(401, `CUPS at ${host} refused ${opts.password !== undefined ? 'the password of' : 'requests of'} user "${opts.user}" (integrations.cups.user${opts.password !== undefined ? ' and .password' : ', or set integrations.cups.password'})`);
    if (res.status === 426) throw new CupsError(426, `CUPS at ${host} requires encryption: use an https:// (or ipps://) URL in integrations.cups.url`);
    if (res.status !== 200) throw new CupsError(res.status, `CUPS at ${host}: HTTP ${res.status} for ${path}${res.headers['content-type']?.startsWith('application/ipp') ? '' : ' (is this a CUPS server?)'}`);
    let decoded: IppResponse;
    try {
      decoded = decodeIpp(res.body);
    } catch (err) {
      throw new CupsError(502, `CUPS at ${host} answered something that is not valid IPP (${err instanceof IppError ? err.message : 'undecodable'})`);
    }
    if (decoded.statusCode >= 0x0400) {
      const said = text(decoded.groups[0]?.attributes['status-message']?.[0]).slice(0, 300);
      const name = IPP_STATUS[decoded.statusCode] ?? `status 0x${decoded.statusCode.toString(16).padStart(4, '0')}`;
      if ((decoded.statusCode === 0x0402 || decoded.statusCode === 0x0403) && extra.write) throw refusedWrite();
      if (decoded.statusCode === 0x0402 || decoded.statusCode === 0x0403) opts.onLinkError?.({ status: 401 });
      if (decoded.statusCode === 0x0402 || decoded.statusCode === 0x0403) throw new CupsError(401, `CUPS at ${host} did not allow user "${opts.user}" this (${name}${said ? `: ${said}` : ''}); set integrations.cups.user and .password to an account its policy allows`);
      throw new CupsError(decoded.statusCode, `CUPS at ${host}: ${said || name}${said ? ` (${name})` : ''}`);
    }
    return decoded;
  }

  const printerUri = (name: string): IppAttribute => ({ tag: VALUE_TAG.uri, name: 'printer-uri', values: [`${ippBase}/printers/${encodeURIComponent(name)}`] });
  const serverUri: IppAttribute = { tag: VALUE_TAG.uri, name: 'printer-uri', values: [`${ippBase}/`] };
  const jobUri = (id: number): IppAttribute => ({ tag: VALUE_TAG.uri, name: 'job-uri', values: [`${ippBase}/jobs/${id}`] });
  const requested = (names: string[]): IppAttribute => ({ tag: VALUE_TAG.keyword, name: 'requested-attributes', values: names });

  return {
    host,
    async printers(signal, limit) {
      const res = await call('/', IPP_OP.cupsGetPrinters, serverUri, [requested(PRINTER_ATTRS), ...(limit ? [{ tag: VALUE_TAG.integer, name: 'limit', values: [limit] }] : [])], {}, signal);
      return res.groups
        .filter((g) => g.tag === 'printer')
        .map(({ attributes: a }) => ({
          name: text(one(a, 'printer-name')),
          state: PRINTER_STATE[num(one(a, 'printer-state')) ?? 0] ?? 'unknown',
          reasons: strings(a['printer-state-reasons']),
          message: text(one(a, 'printer-state-message')),
          acceptingJobs: one(a, 'printer-is-accepting-jobs') === true,
          queuedJobs: num(one(a, 'queued-job-count')) ?? 0,
          info: text(one(a, 'printer-info')),
          location: text(one(a, 'printer-location')),
          makeAndModel: text(one(a, 'printer-make-and-model')),
          // printer-type bit 0: a class of printers (CUPS).
          isClass: ((num(one(a, 'printer-type')) ?? 0) & 1) === 1,
        }));
    },
    async jobs(printer, which, signal) {
      const target = printer === undefined ? serverUri : printerUri(printer);
      const res = await call(printer === undefined ? '/' : `/printers/${encodeURIComponent(printer)}`, IPP_OP.getJobs, target, [{ tag: VALUE_TAG.keyword, name: 'which-jobs', values: [which === 'active' ? 'not-completed' : which] }, requested(JOB_ATTRS)], {}, signal);
      return res.groups.filter((g) => g.tag === 'job').map((g) => toJob(g.attributes));
    },
    async job(id, signal) {
      const res = await call('/jobs/', IPP_OP.getJobAttributes, jobUri(id), [requested(JOB_ATTRS)], {}, signal);
      const g = res.groups.find((x) => x.tag === 'job');
      if (!g) throw new CupsError(0x0406, `CUPS at ${host}: job ${id} does not exist`);
      return toJob(g.attributes);
    },
    async print(printer, doc, signal) {
      const res = await call(
        `/printers/${encodeURIComponent(printer)}`,
        IPP_OP.printJob,
        printerUri(printer),
        [
          { tag: VALUE_TAG.name, name: 'job-name', values: [doc.title] },
          { tag: VALUE_TAG.mimeMediaType, name: 'document-format', values: [doc.format] },
        ],
        { job: doc.copies > 1 ? [{ tag: VALUE_TAG.integer, name: 'copies', values: [doc.copies] }] : [], data: doc.data, write: `print on ${printer}` },
        signal,
      );
      const g = res.groups.find((x) => x.tag === 'job');
      const id = num(g ? one(g.attributes, 'job-id') : undefined);
      if (id === null) throw new CupsError(502, `CUPS at ${host} accepted the document but named no job id`);
      return { id, state: JOB_STATE[num(one(g!.attributes, 'job-state')) ?? 0] ?? 'unknown' };
    },
    async cancel(id, signal) {
      await call('/jobs/', IPP_OP.cancelJob, jobUri(id), [], { write: `cancel job ${id}` }, signal);
    },
  };
}
