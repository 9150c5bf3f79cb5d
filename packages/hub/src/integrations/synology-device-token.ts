/**
 * `homelab-hub synology-device-token`: gets the device token a DSM account with 2-step
 * verification needs so that the hub can log in without a code. It asks for the password and
 * a current code (on the terminal, the password unechoed; or two lines on stdin), logs in once
 * with `enable_device_token=yes` and prints the token (`did`) for `integrations.synology.deviceToken`.
 * main.ts reads argv, the CA file and the terminal; this module only runs the exchange.
 *
 * @example homelab-hub synology-device-token --url https://nas.lan:5001 --user hub --fingerprint AB:CD:...
 */
import { createHttpClient } from '@homelab-mcp/core/http';
import { tlsFetch } from '@homelab-mcp/core/tls-fetch';
import { DEFAULT_DSM_DEVICE_NAME, requestDsmDeviceToken } from '@homelab-mcp/integrations';

export const SYNOLOGY_DEVICE_TOKEN_HELP = `homelab-hub synology-device-token --url URL --user USER [--device-name NAME]
                                  [--fingerprint SHA256 | --ca-file FILE | --insecure]

Logs in to Synology DSM once with the account's password and a current 2-step verification
code (asked on the terminal, or read as two lines from stdin), asks DSM for a device token,
logs out, and prints the token. Put it in hub.yaml as integrations.synology.deviceToken (best
as \${SYNOLOGY_DEVICE_TOKEN}); with --device-name, set integrations.synology.deviceName to the
same name. DSM lists the device under Personal > Security > Sign-in activity, where it can be
revoked.

  --url URL            DSM's address, e.g. https://nas.lan:5001
  --user USER          the account the hub logs in with (integrations.synology.username)
  --device-name NAME   default ${DEFAULT_DSM_DEVICE_NAME}
  --fingerprint SHA256 trust DSM's certificate by its SHA-256 fingerprint (self-signed)
  --ca-file FILE       trust the CA in this PEM file
  --insecure           do not check DSM's certificate at all
`;

export interface DeviceTokenArgs {
  url: string;
  user: string;
  deviceName: string;
  fingerprint?: string;
  ca?: string;
  insecure?: boolean;
}

/** The flags of the command, or an error naming the one that is wrong. */
export function parseDeviceTokenArgs(argv: string[]): DeviceTokenArgs & { caFile?: string } {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)} (see synology-device-token --help)`);
    const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (k === 'insecure') {
      flags.insecure = '1';
      continue;
    }
    if (!['url', 'user', 'device-name', 'fingerprint', 'ca-file'].includes(k)) throw new Error(`unknown option --${k} (see synology-device-token --help)`);
    const v = inline ?? argv[++i];
    if (v === undefined || v === '') throw new Error(`--${k} needs a value`);
    flags[k] = v;
  }
  if (!flags.url) throw new Error('--url is required: DSM\'s address, e.g. https://nas.lan:5001');
  let u: URL;
  try {
    u = new URL(flags.url);
  } catch {
    throw new Error(`--url: expected DSM's address such as https://nas.lan:5001, got ${JSON.stringify(flags.url)}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`--url: expected an http(s) address, got ${JSON.stringify(flags.url)}`);
  if (!flags.user) throw new Error('--user is required: the DSM account the hub logs in with');
  const trust = ['fingerprint', 'ca-file', 'insecure'].filter((k) => flags[k] !== undefined);
  if (trust.length > 1) throw new Error(`set one of --fingerprint, --ca-file and --insecure, not ${trust.map((t) => `--${t}`).join(' and ')}`);
  const deviceName = flags['device-name'] ?? DEFAULT_DSM_DEVICE_NAME;
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(deviceName)) throw new Error('--device-name: letters, digits, space, ".", "_" and "-", at most 64');
  return { url: flags.url, user: flags.user, deviceName, ...(flags.fingerprint ? { fingerprint: flags.fingerprint } : {}), ...(flags['ca-file'] ? { caFile: flags['ca-file'] } : {}), ...(flags.insecure ? { insecure: true } : {}) };
}

/** Runs the exchange: the device token, or an error in DSM's words (never the password). */
export async function fetchDeviceToken(args: DeviceTokenArgs, secrets: { password: string; otpCode: string }): Promise<string> {
  const tls = args.fingerprint || args.ca || args.insecure ? tlsFetch({ ...(args.fingerprint ? { fingerprint256: args.fingerprint } : {}), ...(args.ca ? { ca: args.ca } : {}), ...(args.insecure ? { insecure: true } : {}) }) : undefined;
  const base = createHttpClient({ userAgent: 'homelab-hub' });
  try {
    return await requestDsmDeviceToken({ url: args.url, username: args.user, password: secrets.password, otpCode: secrets.otpCode.replace(/\s+/g, ''), deviceName: args.deviceName, http: tls ? base.with({ fetch: tls }) : base, timeoutMs: 20_000 });
  } finally {
    await tls?.close();
  }
}
