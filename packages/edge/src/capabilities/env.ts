/** `get_env`: the environment commands run with on this device. */
import { redactText } from '@homelab-mcp/core/redact';
import { isSecretKey, REDACTED } from '@homelab-mcp/core/secret-keys';
import { defineCapability, defineTool } from '../capability.ts';

/** What a secret-looking value becomes when the hub's policy says `maskEnv`. */
export const MASKED = '[masked]';

// Names the shared rules (isSecretKey) may not know yet, as environments spell them; compared
// without case, `-` or `_`. Masking a harmless value (a GPIO_PIN number) costs a viewer little;
// showing a secret costs the owner a rotation.
const SECRET_NAME_ENDS = ['passwd', 'auth', 'creds', 'credential', 'credentials', 'cookie', 'cookies', 'private', 'salt', 'webhook', 'webhookurl', 'dsn'];
// Anywhere in the name: `SECRET_KEY_BASE`, `DB_PASSWORD_OLD`, `PRIVATE_KEY_PEM`.
const SECRET_NAME_PARTS = ['secret', 'password', 'passwd', 'privatekey', 'apikey', 'credential'];
const SEPARATED_PIN = /(?:^|[-_])pin$/i;

// Values that are secrets whatever their name, whole: a bearer token, a webhook URL (the URL is
// the credential), a private key. Also a URL password redactText did not catch (it bounds the
// lengths it looks at). Linear patterns: the values are whatever the device's environment holds.
const SECRET_VALUE = [
  /\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\./,
  /\bhooks\.slack\.com\/(?:services|workflows|triggers)\//i,
  /\b(?:discord|discordapp)\.com\/api\/webhooks\//i,
  /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----/,
  /:\/\/[^\s/?#@:]{0,4096}:(?!\[REDACTED\]@)[^\s/?#@]{1,65536}@/,
];
// A Telegram bot token (`123456789:AA…`), alone or in its api.telegram.org/bot… URL: looked for
// in the value as it is, since redactText cuts the token out of the URL and the rest would show.
const TELEGRAM_TOKEN = /(?:^|[^0-9])[0-9]{6,12}:[A-Za-z0-9_-]{30,64}(?![A-Za-z0-9_-])/;

function secretName(name: string): boolean {
  if (isSecretKey(name) || SEPARATED_PIN.test(name)) return true;
  const k = name.toLowerCase().replace(/[-_]/g, '');
  return SECRET_NAME_ENDS.some((e) => k.endsWith(e)) || SECRET_NAME_PARTS.some((p) => k.includes(p));
}

/**
 * A variable's value as `get_env` shows it under `maskEnv`: `[masked]` when the name says secret
 * (`DB_PASSWORD`, `MQTT_PASSWD`, `SMTP_AUTH`, `SESSION_COOKIE`, `PIN`, ...) or the value looks
 * like one whole (a JWT, a Slack or Discord webhook URL, a private key); the value with its
 * secret parts replaced when the shared redaction finds some inside (`postgres://app:[REDACTED]@db/x`);
 * otherwise the value as it is.
 */
export function maskValue(name: string, value: string): string {
  if (secretName(name)) return MASKED;
  // The whole value (redactText cuts at 64 KiB by default; env strings stay far below ARG_MAX).
  const redacted = redactText(value, value.length);
  if (redacted === REDACTED || SECRET_VALUE.some((re) => re.test(redacted)) || TELEGRAM_TOKEN.test(value)) return MASKED;
  return redacted;
}

export const getEnv = defineTool<{ key?: string }>({
  name: 'get_env',
  title: 'Read environment variables',
  description:
    'Returns the environment variables commands on this device run with (all of them, or one by key). The edge’s own token is never included; ' +
    'for roles below admin the hub has secret-looking values (by name or by shape) shown as [masked], or with their secret part [REDACTED].',
  inputSchema: {
    type: 'object',
    properties: { key: { type: 'string', minLength: 1, maxLength: 256, description: 'One variable name; omit for all.' } },
    additionalProperties: false,
  },
  annotations: { title: 'Read environment variables', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ key }, { env, policy }) {
    const shown = (k: string, v: string) => (policy?.maskEnv ? maskValue(k, v) : v);
    if (key !== undefined) {
      // Own keys only: `__proto__` or `constructor` are not variables.
      const raw = Object.hasOwn(env.childEnv, key) ? env.childEnv[key] : undefined;
      const value = raw === undefined ? undefined : shown(key, raw);
      return { data: { key, value: value ?? null, set: value !== undefined }, text: value === undefined ? `${key} is not set` : `${key}=${value}` };
    }
    const vars = Object.fromEntries(
      Object.entries(env.childEnv)
        .filter((e): e is [string, string] => e[1] !== undefined)
        .map(([k, v]) => [k, shown(k, v)])
        .sort(([a], [b]) => a!.localeCompare(b!)),
    );
    return { data: { vars }, text: Object.entries(vars).map(([k, v]) => `${k}=${v}`).join('\n') };
  },
});

export const env = defineCapability({
  name: 'env',
  description: 'get_env: the environment commands run with',
  enabledByDefault: true,
  probe: async () => ({ ok: true }),
  tools: [getEnv],
});
