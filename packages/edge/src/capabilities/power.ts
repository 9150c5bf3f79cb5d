/**
 * Power: `reboot_node` (reboots this device a moment after answering) and `wake_on_lan` (sends a
 * magic packet from this device, for a machine on its LAN that the hub's broadcast cannot reach).
 * Both are writes. The hub has its own `reboot_node` and `wake_on_lan` with the same names, which
 * replace these fleet copies: the hub's reboot waits for the node to come back with a new boot id,
 * and its wake-on-LAN finds the MAC and the edge on the device's subnet in the topology.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HomelabError } from '@homelab-mcp/core';
import { parseMac, sendMagicPacket, WOL_DEFAULT_ADDRESS, WOL_DEFAULT_PORT } from '@homelab-mcp/core/wake-on-lan';
import { defineCapability, defineTool, type EdgeEnv } from '../capability.ts';

/** What reboots the device unless configured otherwise (`--reboot-command`). */
export const DEFAULT_REBOOT_COMMAND: readonly string[] = ['systemctl', 'reboot'];
/** The answer leaves before the reboot starts: the hub must learn the old boot id. */
export const REBOOT_DELAY_MS = 1000;

/** Where the kernel tells this boot's id: `--boot-id-file`, else under the proc root. */
export function bootIdFile(env: EdgeEnv): string {
  return env.bootIdFile ?? join(env.procRoot, 'sys', 'kernel', 'random', 'boot_id');
}

/** This boot's id (a UUID the kernel draws at boot), or null when it cannot be read. */
export function readBootId(env: EdgeEnv): string | null {
  try {
    const id = readFileSync(bootIdFile(env), 'utf8').trim();
    return /^[0-9A-Za-z-]{1,64}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

/** Reboots are one at a time: a second call while one is scheduled gets told so. */
const scheduled = new WeakSet<EdgeEnv['log']>();

const rebootNode = defineTool<Record<string, never>>({
  name: 'reboot_node',
  title: 'Reboot this device',
  description:
    'Reboots this device: answers first (with its current boot id), then runs the reboot command (systemctl reboot unless the edge ' +
    'is configured otherwise) a second later. Everything running on the device stops.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  annotations: { title: 'Reboot this device', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(_args, { env }) {
    const command = env.rebootCommand ?? DEFAULT_REBOOT_COMMAND;
    const bootId = readBootId(env);
    if (scheduled.has(env.log)) throw new HomelabError('REBOOT_PENDING', 'a reboot of this device is already under way');
    scheduled.add(env.log);
    const [file, ...args] = command;
    // Not tied to the call: its signal aborts and its reply lease ends before the reboot starts,
    // and the command must outlive the edge (systemctl reboot stops it). Own process group, no pipes.
    setTimeout(() => {
      env.log.warn('rebooting', { command: command.join(' ') });
      const done = () => scheduled.delete(env.log);
      try {
        const child = spawn(file!, args, { detached: true, stdio: 'ignore', env: env.childEnv });
        child.once('error', (err) => {
          env.log.error('reboot command could not run', { command: command.join(' '), error: err.message });
          done();
        });
        // Allowed again after: a reboot command that did nothing must not block the next try.
        child.once('exit', (code, sig) => {
          if (code !== 0) env.log.error('reboot command failed', { command: command.join(' '), exitCode: code, signal: sig });
          done();
        });
        child.unref();
      } catch (err) {
        env.log.error('reboot command could not run', { command: command.join(' '), error: err instanceof Error ? err.message : String(err) });
        done();
      }
    }, REBOOT_DELAY_MS).unref();
    return {
      data: { rebooting: true, command: command.join(' '), bootId, delayMs: REBOOT_DELAY_MS },
      text: `rebooting in ${REBOOT_DELAY_MS / 1000} s with \`${command.join(' ')}\`${bootId ? ` (boot id now ${bootId})` : ''}`,
    };
  },
});

const wakeOnLan = defineTool<{ mac: string; address?: string; port?: number }>({
  name: 'wake_on_lan',
  title: 'Wake on LAN',
  description: 'Sends a wake-on-LAN magic packet from this device (UDP, to the broadcast address of its LAN) to wake the machine with that MAC address.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      mac: { type: 'string', minLength: 1, maxLength: 40, description: 'MAC address of the machine to wake, e.g. b8:27:eb:12:34:56.' },
      address: { type: 'string', minLength: 7, maxLength: 15, description: `IPv4 address to send to: the subnet's broadcast address, e.g. 192.168.1.255 (default ${WOL_DEFAULT_ADDRESS}).` },
      port: { type: 'integer', minimum: 1, maximum: 65535, description: `UDP port (default ${WOL_DEFAULT_PORT}).` },
    },
    required: ['mac'],
  },
  annotations: { title: 'Wake on LAN', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { signal }) {
    const mac = parseMac(args.mac);
    const sent = await sendMagicPacket(mac, { ...(args.address !== undefined ? { address: args.address } : {}), ...(args.port !== undefined ? { port: args.port } : {}), signal });
    return { data: { ...sent }, text: `sent the wake-on-LAN packet for ${mac} to ${sent.address}:${sent.port}` };
  },
});

/** The `power` capability: `reboot_node`, `wake_on_lan` (both writes). Needs nothing to probe. */
export const power = defineCapability({
  name: 'power',
  description: 'Reboot this device (the configured reboot command) and send wake-on-LAN packets from it.',
  enabledByDefault: true,
  async probe(env) {
    return { ok: true, detail: `reboot command: ${(env.rebootCommand ?? DEFAULT_REBOOT_COMMAND).join(' ')}` };
  },
  tools: [rebootNode, wakeOnLan],
});
