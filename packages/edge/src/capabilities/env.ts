/** `get_env`: the environment commands run with on this device. */
import { isSecretKey } from '@homelab-mcp/core/secret-keys';
import { defineCapability, defineTool } from '../capability.ts';

/** What a secret-looking value becomes when the hub's policy says `maskEnv`. */
export const MASKED = '[masked]';

export const getEnv = defineTool<{ key?: string }>({
  name: 'get_env',
  title: 'Read environment variables',
  description:
    'Returns the environment variables commands on this device run with (all of them, or one by key). The edge’s own token is never included; ' +
    'for roles below admin the hub has secret-looking values (by name) shown as [masked].',
  inputSchema: {
    type: 'object',
    properties: { key: { type: 'string', minLength: 1, maxLength: 256, description: 'One variable name; omit for all.' } },
    additionalProperties: false,
  },
  annotations: { title: 'Read environment variables', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ key }, { env, policy }) {
    // By name, with the rules the hub's logger and journal redact by (one definition of "secret").
    const shown = (k: string, v: string) => (policy?.maskEnv && isSecretKey(k) ? MASKED : v);
    if (key !== undefined) {
      const raw = env.childEnv[key];
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
