/**
 * Lyrion Music Server (LMS, formerly Logitech Media Server): its players, what they play, and
 * controlling them (`integrations.lyrion` in hub.yaml), through its JSON-RPC API at
 * `/jsonrpc.js` on the web port (9000). LMS has no API keys: with password protection on
 * (Settings > Advanced > Security), give its username and password (Basic auth).
 *
 * @example hub.yaml
 * integrations:
 *   lyrion:
 *     url: http://music.lan:9000
 */
import * as z from 'zod';
import { isHttpError } from '@homelab-mcp/core/http';
import { defineIntegration, type DiagnosedService, type IntegrationFinding, type IntegrationHealth, type IntegrationInstance } from '../integration.ts';
import { checkOneTlsTrust, createServiceLink, serviceHttp, serviceTlsShape } from '../service.ts';
import { createLmsClient, LmsError, type LmsClient } from './client.ts';
import { lyrionTools } from './tools.ts';

export { createLmsClient, LmsError, MAX_LMS_BYTES, MAX_PLAYERS, type LmsClient, type LmsPlayer, type LmsStatus } from './client.ts';
export { lyrionTools, selectPlayers, statusLine, PLAYER_ARG } from './tools.ts';

export const LyrionConfigSchema = z
  .strictObject({
    /** LMS's web address: `http://music.lan:9000`. */
    url: z.url({ protocol: /^https?$/, error: 'the Lyrion Music Server web address, e.g. http://music.lan:9000' }),
    /** With password protection on (Settings > Advanced > Security). */
    username: z.string().min(1).max(100).optional(),
    /** Use ${VAR} or ${file:...}. */
    password: z.string().min(1).optional(),
    ...serviceTlsShape,
    /** Per request, in ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
  })
  .superRefine(checkOneTlsTrust)
  .superRefine((v, ctx) => {
    if ((v.username === undefined) !== (v.password === undefined)) ctx.addIssue({ code: 'custom', path: [v.username === undefined ? 'username' : 'password'], message: 'set username and password together (LMS password protection), or neither' });
  });
export type LyrionConfig = z.output<typeof LyrionConfigSchema>;

export interface LyrionInstance extends IntegrationInstance {
  client: LmsClient;
}

export const lyrionIntegration = defineIntegration({
  name: 'lyrion',
  configSchema: LyrionConfigSchema,
  setup(config, ctx): LyrionInstance {
    const { http, close } = serviceHttp(ctx, config, 'integrations.lyrion');
    // A tool's request that LMS refuses for its password tells the link, so service_health says so too.
    let onAuthRejected: () => void = () => undefined;
    const client = createLmsClient({ url: config.url, username: config.username, password: config.password, http, timeoutMs: config.timeoutMs, onAuthRejected: () => onAuthRejected() });
    const link = createServiceLink({
      label: `Lyrion at ${client.host}`,
      credentialKey: 'integrations.lyrion.password',
      check: async (signal) => {
        try {
          await client.version(signal);
        } catch (err) {
          // The link words it (`Lyrion at HOST is unreachable: connection refused`): only the cause.
          if (err instanceof LmsError && err.status === 503 && isHttpError(err.cause)) throw new Error(err.cause.detail);
          throw err;
        }
      },
      log: ctx.log,
    });
    onAuthRejected = () => void link.failed({ status: 401 });
    return {
      name: 'lyrion',
      title: 'Lyrion Music Server',
      client,
      tools: lyrionTools(client),
      /** "LMS 9.0.2; 3 players (2 connected, 1 on, 1 playing)". */
      async health(signal): Promise<IntegrationHealth> {
        try {
          await link.ready(signal);
          const [version, players] = await Promise.all([client.version(signal), client.players(signal)]);
          const connected = players.filter((p) => p.connected);
          return {
            ok: true,
            detail: `LMS ${version}; ${players.length} player${players.length === 1 ? '' : 's'} (${connected.length} connected, ${connected.filter((p) => p.power).length} on, ${connected.filter((p) => p.isPlaying).length} playing)`,
          };
        } catch (err) {
          return { ok: false, detail: link.failed(err) };
        }
      },
      /** A service named lms, lyrion, squeezebox(-server) or slimserver, or at LMS's host and port. */
      async diagnose(service: DiagnosedService, signal): Promise<IntegrationFinding[]> {
        let host: string | undefined;
        try {
          host = service.url ? new URL(service.url).host : undefined;
        } catch {
          host = undefined;
        }
        if (!/^(lms|lyrion(-music-server)?|logitechmediaserver|squeezebox(-?server)?|slimserver)$/i.test(service.name) && host !== client.host) return [];
        try {
          const players = await client.players(signal);
          const connected = players.filter((p) => p.connected).length;
          return [
            connected || !players.length
              ? { check: 'lyrion', status: 'ok', detail: `Lyrion answers: ${players.length} players, ${connected} connected` }
              : { check: 'lyrion', status: 'warning', detail: `Lyrion answers, but none of its ${players.length} players is connected`, suggestion: 'Check the players (squeezelite) run and reach LMS on port 3483.' },
          ];
        } catch (err) {
          return [{ check: 'lyrion', status: 'problem', detail: link.failed(err), suggestion: 'Check that LMS runs and its web port (9000) is reachable from the hub.' }];
        }
      },
      async close() {
        link.close();
        await close();
      },
    };
  },
});
