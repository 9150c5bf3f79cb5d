/**
 * What every homelab-service integration (Proxmox, PBS, Pi-hole, Graylog, ...) shares:
 *
 * - TLS trust per service. These services mostly run self-signed certificates, so a service's
 *   config may name a CA file (`caFile`), pin the server's certificate (`fingerprint`, its
 *   SHA-256), or, explicitly, skip verification (`insecureTls: true`, logged as a warning each
 *   time the integration is set up). Verification is never turned off silently.
 * - A link that knows whether the service is `ready`, `not ready` (unreachable, or answering
 *   with errors) or `auth failed` (the credential was rejected: which service and which key,
 *   never the secret), checks once at setup and keeps retrying in the background with backoff,
 *   so a service that is down at start comes up by itself, and one broken service never stops
 *   the hub or another integration.
 *
 * @example
 * const http = serviceHttp(ctx, config, 'proxmox');
 * const link = createServiceLink({ label: `Proxmox at ${host}`, credentialKey: 'integrations.proxmox.token', check: (signal) => api.version(signal), log: ctx.log });
 * // in a tool: await link.ready(signal); ...
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { isHttpError, type HttpClient } from '@homelab-mcp/core/http';
import { normalizeFingerprint, tlsFetch } from '@homelab-mcp/core/tls-fetch';
import type { IntegrationContext, IntegrationLogger } from './integration.ts';

/** The TLS keys of a service's config; spread into its strict schema (`...serviceTlsShape`). */
export const serviceTlsShape = {
  /** PEM file of the CA that issued the service's certificate (or the certificate itself); relative to hub.yaml. */
  caFile: z.string().min(1).optional(),
  /** SHA-256 fingerprint of the service's certificate (`openssl x509 -noout -fingerprint -sha256 -in cert.pem`): trusted whoever issued it. */
  fingerprint: z
    .string()
    .refine((v) => normalizeFingerprint(v) !== undefined, 'a SHA-256 certificate fingerprint: 64 hex digits, colons allowed (openssl x509 -noout -fingerprint -sha256)')
    .optional(),
  /** No certificate check at all; the hub logs a warning. */
  insecureTls: z.boolean().optional(),
};

/** The TLS keys as parsed. */
export interface ServiceTls {
  caFile?: string | undefined;
  fingerprint?: string | undefined;
  insecureTls?: boolean | undefined;
}

/** One of the three at most: they are different answers to one question. */
export function checkOneTlsTrust(v: ServiceTls, ctx: z.core.$RefinementCtx<unknown>): void {
  const set = (['caFile', 'fingerprint', 'insecureTls'] as const).filter((k) => (k === 'insecureTls' ? v.insecureTls === true : v[k] !== undefined));
  if (set.length > 1) ctx.addIssue({ code: 'custom', path: [set[1]!], message: `set one of caFile, fingerprint and insecureTls, not ${set.join(' and ')}` });
}

/**
 * The HTTP client for one service: `ctx.http` itself when its config sets no TLS key (the
 * system's trust), else a client with that service's trust that reports to the same audit.
 * `key` is the config key for messages (`integrations.proxmox`). Throws when `caFile` cannot
 * be read, naming the key and the file.
 */
export function serviceHttp(ctx: IntegrationContext, tls: ServiceTls, key: string): { http: HttpClient; close(): Promise<void> } {
  if (!tls.caFile && !tls.fingerprint && !tls.insecureTls) return { http: ctx.http, close: async () => undefined };
  let ca: string | undefined;
  if (tls.caFile) {
    const file = isAbsolute(tls.caFile) ? tls.caFile : resolve(ctx.baseDir ?? process.cwd(), tls.caFile);
    try {
      ca = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${key}.caFile: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${key}.caFile: ${file} holds no PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
  }
  if (tls.insecureTls) ctx.log.warn({ key: `${key}.insecureTls` }, `${key}.insecureTls is true: the service's certificate is not checked, so anyone on the network path can read and change this traffic (its credential included). Prefer ${key}.fingerprint.`);
  const fetch = tlsFetch({ ...(ca ? { ca } : {}), ...(tls.fingerprint ? { fingerprint256: tls.fingerprint } : {}), ...(tls.insecureTls ? { insecure: true } : {}) });
  return { http: ctx.http.with({ fetch }), close: () => fetch.close() };
}

/** Where a service stands, as service_health and the tools say it. */
export interface LinkState {
  status: 'connecting' | 'ready' | 'not ready' | 'auth failed';
  /** Since when it is in this state. */
  since: Date;
  /** Why it is not ready, in words (never a secret). */
  why?: string;
}

export interface ServiceLinkOptions {
  /** How the service is named in messages: `Proxmox at 192.168.1.5:8006`. */
  label: string;
  /** The config key of the credential, named when the service rejects it. */
  credentialKey: string;
  /** One cheap authenticated request; throws when the service is not usable. */
  check(signal: AbortSignal): Promise<void>;
  log: IntegrationLogger;
  /** Background retry delays: the first, doubling up to the last. Default 1 s to 60 s. */
  retryMs?: { first: number; max: number };
  /** Deadline of one check. Default 10 s. */
  checkTimeoutMs?: number;
}

export interface ServiceLink {
  state(): LinkState;
  /**
   * Resolves when the service is ready; when it is not, checks again at once (one check at a
   * time, shared) and throws an error saying why, for the tool's answer.
   */
  ready(signal?: AbortSignal): Promise<void>;
  /**
   * Called with the error of a request that failed after the link was ready: a rejected
   * credential (401/403) or an unreachable service (connection refused, timeout) changes the
   * state and starts the background retry; any other error is the request's own. Returns the
   * error in the link's words (`Caddy b at HOST is unreachable: ...`).
   */
  failed(err: unknown): string;
  close(): void;
}

/** Whether an error is the service refusing the credential (401, 403). */
export function isAuthRejection(err: unknown): boolean {
  return isHttpError(err) ? err.status === 401 || err.status === 403 : (err as { status?: unknown } | null)?.status === 401 || (err as { status?: unknown } | null)?.status === 403;
}

/**
 * Starts checking the service at once and keeps retrying in the background until it is ready.
 * A link never throws out of its timers and never keeps the process alive.
 */
export function createServiceLink(opts: ServiceLinkOptions): ServiceLink {
  const first = opts.retryMs?.first ?? 1000;
  const max = opts.retryMs?.max ?? 60_000;
  let state: LinkState = { status: 'connecting', since: new Date() };
  let delay = first;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> | undefined;
  let closed = false;
  const stop = new AbortController();

  const why = (err: unknown): string => {
    if (isAuthRejection(err)) return `${opts.label} rejected the credential (${opts.credentialKey})`;
    const msg = err instanceof Error ? err.message : String(err);
    return `${opts.label} is unreachable: ${msg}`;
  };
  const set = (next: Omit<LinkState, 'since'>): void => {
    if (next.status === state.status && next.why === state.why) return;
    const was = state.status;
    state = { ...next, since: new Date() };
    if (next.status === 'ready') opts.log.info({ service: opts.label, was }, `${opts.label} is ready`);
    else opts.log.warn({ service: opts.label, status: next.status }, `${next.why ?? opts.label}; retrying in the background`);
  };
  const schedule = (): void => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void check().catch(() => undefined);
    }, delay);
    timer.unref();
    delay = Math.min(max, delay * 2);
  };
  const check = (): Promise<void> =>
    (inflight ??= (async () => {
      try {
        const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(opts.checkTimeoutMs ?? 10_000)]);
        await opts.check(signal);
        delay = first;
        set({ status: 'ready' });
      } catch (err) {
        if (closed) return;
        set({ status: isAuthRejection(err) ? 'auth failed' : 'not ready', why: why(err) });
        schedule();
        throw new Error(state.why);
      } finally {
        inflight = undefined;
      }
    })());

  void check().catch(() => undefined);

  return {
    state: () => state,
    async ready(signal) {
      if (state.status === 'ready') return;
      if (closed) throw new Error(`${opts.label}: the integration was closed (reloaded)`);
      const pending = check();
      if (!signal) return pending;
      if (signal.aborted) throw new Error('cancelled');
      await new Promise<void>((res, rej) => {
        const onAbort = () => rej(new Error('cancelled'));
        signal.addEventListener('abort', onAbort, { once: true });
        pending.then(res, rej).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },
    failed(err) {
      const auth = isAuthRejection(err);
      const down = isHttpError(err, 'unreachable') || isHttpError(err, 'timeout');
      if (!auth && !down) return err instanceof Error ? err.message : String(err);
      const text = why(err);
      if (!closed) {
        set({ status: auth ? 'auth failed' : 'not ready', why: text });
        schedule();
      }
      return text;
    },
    close() {
      closed = true;
      stop.abort();
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** One instance's answer in a read over several instances (the Pi-hole and Caddy pairs). */
export type InstanceAnswer<R> = { instance: string; ok: true; value: R } | { instance: string; ok: false; error: string };

/**
 * Runs `fn` on the instance named `pick`, or on every instance in parallel, one answer each in
 * the configured order; a failure is that instance's answer, never the others'. An unknown
 * `pick` throws an error that lists the instances.
 *
 * @example const answers = await eachInstance(clients, args.instance, (c) => c.config('apps/http/servers'));
 */
export async function eachInstance<C extends { name: string }, R>(instances: readonly C[], pick: string | undefined, fn: (c: C) => Promise<R>): Promise<Array<InstanceAnswer<R>>> {
  const chosen = pick === undefined ? instances : instances.filter((c) => c.name === pick);
  if (!chosen.length) throw new Error(`instance: expected one of ${instances.map((c) => c.name).join(', ')}, got ${JSON.stringify(pick)}`);
  return Promise.all(
    chosen.map(async (c): Promise<InstanceAnswer<R>> => {
      try {
        return { instance: c.name, ok: true, value: await fn(c) };
      } catch (err) {
        return { instance: c.name, ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}
