/**
 * The MCP face of the probes, shared by the edge (capability `network`) and the hub (which adds
 * `from`): one schema, one argument check and one text per tool, so a probe answers the same
 * whether the hub or a device ran it. Edge-safe like `probes.ts`: data and node: built-ins only.
 */
import { HomelabError } from './errors.ts';
import {
  checkPort,
  DEFAULT_HTTP_TIMEOUT_MS,
  DEFAULT_PORT_TIMEOUT_MS,
  defaultPingTimeoutMs,
  formatHttpProbe,
  formatPing,
  formatPortCheck,
  MAX_PING_COUNT,
  pingHost,
  probeHttp,
  validateHost,
  validateHttpUrl,
  validatePort,
} from './probes.ts';

export type ProbeToolName = 'check_port' | 'ping_host' | 'probe_http';

/** The JSON Schema subset these tools use (assignable to the edge's and the SDK's types). */
export interface ProbeArgSchema {
  type: 'string' | 'integer' | 'number';
  description: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

export interface ProbeToolDef {
  name: ProbeToolName;
  title: string;
  description: string;
  inputSchema: { type: 'object'; properties: Record<string, ProbeArgSchema>; required: string[]; additionalProperties: false };
  annotations: { title: string; readOnlyHint: true; destructiveHint: false; idempotentHint: true; openWorldHint: true };
}

/** Longest deadline a caller may ask of one probe, in seconds. */
export const MAX_PROBE_TIMEOUT_S = 60;

const host: ProbeArgSchema = { type: 'string', minLength: 1, maxLength: 253, description: 'Host name or IP address, e.g. nas.lan or 192.168.1.10.' };
const timeout = (dflt: string): ProbeArgSchema => ({ type: 'number', minimum: 0.1, maximum: MAX_PROBE_TIMEOUT_S, description: `Deadline in seconds (default ${dflt}, at most ${MAX_PROBE_TIMEOUT_S}).` });
// Probes reach out to other machines (openWorldHint) but change nothing.
const annotations = (title: string): ProbeToolDef['annotations'] => ({ title, readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true });

export const PROBE_TOOL_DEFS: readonly ProbeToolDef[] = [
  {
    name: 'check_port',
    title: 'Check a TCP port',
    description:
      'Checks whether a TCP port on a host accepts connections (connects, then closes at once). Says whether the port is open, ' +
      'and if not why: refused (the host is up, nothing listens), timed out (filtered or host down) or DNS failure.',
    inputSchema: {
      type: 'object',
      properties: { host, port: { type: 'integer', minimum: 1, maximum: 65535, description: 'TCP port, 1-65535.' }, timeout_s: timeout(`${DEFAULT_PORT_TIMEOUT_MS / 1000}`) },
      required: ['host', 'port'],
      additionalProperties: false,
    },
    annotations: annotations('Check a TCP port'),
  },
  {
    name: 'ping_host',
    title: 'Ping a host',
    description:
      'Pings a host with ICMP echo (the system ping) and reports replies and round-trip times. Where ICMP is not permitted or ping is ' +
      'missing it falls back to TCP connects to ports 22, 80 and 443 (a refused connect also proves the host is up) and says so (method "tcp").',
    inputSchema: {
      type: 'object',
      properties: { host, count: { type: 'integer', minimum: 1, maximum: MAX_PING_COUNT, description: `Echo requests to send, 1-${MAX_PING_COUNT} (default 3, one per second).` }, timeout_s: timeout('count + 2') },
      required: ['host'],
      additionalProperties: false,
    },
    annotations: annotations('Ping a host'),
  },
  {
    name: 'probe_http',
    title: 'Probe an HTTP(S) URL',
    description:
      'GETs an http:// or https:// URL once and reports the status, time to answer, a redirect target (not followed), the TLS ' +
      'certificate (https), headers and the start of the body. ok means the status equals expected_status, or is any 2xx/3xx when none is given. ' +
      'Credentials in the URL are used but never shown.',
    inputSchema: {
      type: 'object',
      properties: {
        url: { type: 'string', minLength: 8, maxLength: 2048, description: 'http:// or https:// URL, e.g. http://nas.lan:5000/health.' },
        expected_status: { type: 'integer', minimum: 100, maximum: 599, description: 'The status that counts as healthy, e.g. 200 or 401; default any 2xx or 3xx.' },
        timeout_s: timeout(`${DEFAULT_HTTP_TIMEOUT_MS / 1000}`),
      },
      required: ['url'],
      additionalProperties: false,
    },
    annotations: annotations('Probe an HTTP(S) URL'),
  },
];

function invalid(message: string): HomelabError {
  return new HomelabError('INVALID_ARGUMENTS', message);
}

function timeoutMsOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0.1 || v > MAX_PROBE_TIMEOUT_S) throw invalid(`timeout_s must be a number of seconds from 0.1 to ${MAX_PROBE_TIMEOUT_S}, got ${JSON.stringify(v)}`);
  return Math.round(v * 1000);
}

/**
 * Checks a probe tool's arguments (names as the tool takes them), throwing `INVALID_ARGUMENTS`
 * that names the argument (`alsoKnown`: arguments the caller handles itself, such as the hub's
 * `from`, accepted here). Returns the longest the probe may take, so a caller forwarding it
 * can size its own deadline.
 */
export function checkProbeArgs(name: ProbeToolName, args: Record<string, unknown>, alsoKnown: string[] = []): { timeoutMs: number } {
  const def = PROBE_TOOL_DEFS.find((d) => d.name === name);
  if (!def) throw invalid(`unknown probe tool ${name}`);
  const known = [...Object.keys(def.inputSchema.properties), ...alsoKnown];
  for (const k of Object.keys(args)) if (!known.includes(k)) throw invalid(`${k}: is not a known argument of ${name} (known: ${known.join(', ')})`);
  for (const k of def.inputSchema.required) if (args[k] === undefined) throw invalid(`${k}: is required`);
  const t = timeoutMsOf(args.timeout_s);
  if (name === 'check_port') {
    validateHost(args.host);
    validatePort(args.port);
    return { timeoutMs: t ?? DEFAULT_PORT_TIMEOUT_MS };
  }
  if (name === 'ping_host') {
    validateHost(args.host);
    const count = args.count ?? 3;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PING_COUNT) throw invalid(`count must be an integer from 1 to ${MAX_PING_COUNT}, got ${JSON.stringify(count)}`);
    // Falling back to TCP costs at most another deadline.
    return { timeoutMs: 2 * (t ?? defaultPingTimeoutMs(count)) };
  }
  validateHttpUrl(args.url);
  const s = args.expected_status;
  if (s !== undefined && (typeof s !== 'number' || !Number.isInteger(s) || s < 100 || s > 599)) throw invalid(`expected_status must be an HTTP status code from 100 to 599, got ${JSON.stringify(s)}`);
  return { timeoutMs: t ?? DEFAULT_HTTP_TIMEOUT_MS };
}

/**
 * Runs a probe tool: checks the arguments, probes, and answers with the structured result and
 * one text for people.
 * @example await runProbeTool('check_port', { host: 'nas.lan', port: 445 }, { signal })
 */
export async function runProbeTool(
  name: ProbeToolName,
  args: Record<string, unknown>,
  ctx: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
): Promise<{ data: Record<string, unknown>; text: string }> {
  checkProbeArgs(name, args);
  const timeoutMs = timeoutMsOf(args.timeout_s);
  const common = { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) };
  if (name === 'check_port') {
    const r = await checkPort({ host: args.host as string, port: args.port as number, ...common });
    return { data: { ...r }, text: formatPortCheck(r) };
  }
  if (name === 'ping_host') {
    const r = await pingHost({ host: args.host as string, ...(args.count !== undefined ? { count: args.count as number } : {}), ...common, ...(ctx.env ? { env: ctx.env } : {}) });
    return { data: { ...r }, text: formatPing(r) };
  }
  const r = await probeHttp({ url: args.url as string, ...(args.expected_status !== undefined ? { expectedStatus: args.expected_status as number } : {}), ...common });
  return { data: { ...r }, text: formatHttpProbe(r) };
}
