/**
 * Network probes from this device: `check_port`, `ping_host`, `probe_http`. The hub asks a node
 * to probe when the question is "can the kitchen Pi reach the NAS", which the hub's own view of
 * the network cannot answer. The probes themselves live in core, shared with the hub.
 */
import { PROBE_TOOL_DEFS, runProbeTool } from '@homelab-mcp/core/probe-tools';
import { defineCapability, defineTool, type EdgeEnv, type ProbeResult } from '../capability.ts';
import { findExecutable } from './find-executable.ts';

/**
 * The capability always works (TCP and HTTP need nothing); the probe only says, without
 * spawning anything, whether `ping_host` will use ICMP or fall back to TCP connects.
 */
export async function probeNetwork(env: EdgeEnv): Promise<ProbeResult> {
  const found = findExecutable('ping', env.childEnv.PATH);
  if (!found) return { ok: true, detail: 'ping is not installed: ping_host uses TCP connects' };
  if ('notExecutable' in found) return { ok: true, detail: `ping (${found.notExecutable}) may not be executed: ping_host uses TCP connects` };
  return { ok: true, detail: found.path };
}

/** The `network` capability: `check_port`, `ping_host`, `probe_http` (read-only). */
export const network = defineCapability({
  name: 'network',
  description: 'Network probes from this device: TCP port check, ping (ICMP or TCP), HTTP(S) probe.',
  enabledByDefault: true,
  probe: probeNetwork,
  tools: PROBE_TOOL_DEFS.map((def) =>
    defineTool<Record<string, unknown>>({
      ...def,
      async handler(args, { env, signal }) {
        return runProbeTool(def.name, args, { signal, env: env.childEnv });
      },
    }),
  ),
});
