/** `get_env`: the environment commands run with on this device. */
import { defineCapability, defineTool } from '../capability.ts';

export const getEnv = defineTool<{ key?: string }>({
  name: 'get_env',
  title: 'Read environment variables',
  description: 'Returns the environment variables commands on this device run with (all of them, or one by key). The edge’s own token is never included.',
  inputSchema: {
    type: 'object',
    properties: { key: { type: 'string', minLength: 1, maxLength: 256, description: 'One variable name; omit for all.' } },
    additionalProperties: false,
  },
  annotations: { title: 'Read environment variables', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ key }, { env }) {
    if (key !== undefined) {
      const value = env.childEnv[key];
      return { data: { key, value: value ?? null, set: value !== undefined }, text: value === undefined ? `${key} is not set` : `${key}=${value}` };
    }
    const vars = Object.fromEntries(Object.entries(env.childEnv).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
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
