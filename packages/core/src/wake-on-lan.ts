/**
 * Wake-on-LAN: the magic packet (6 bytes of 0xFF, then the MAC address 16 times) sent as one UDP
 * datagram, by default to the limited broadcast address on port 9 (discard). Shared by the hub
 * (a device on the hub's own LAN) and the edge (a device on the edge's LAN, where the hub's
 * broadcast would not reach: broadcasts do not cross routers).
 *
 * @example
 * await sendMagicPacket(parseMac('b8:27:eb:12:34:56'), { address: '192.168.20.255' });
 */
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { HomelabError } from './errors.ts';

export const WOL_DEFAULT_ADDRESS = '255.255.255.255';
export const WOL_DEFAULT_PORT = 9;

/**
 * A MAC address in any usual spelling (`b8:27:eb:12:34:56`, `B8-27-EB-12-34-56`,
 * `b827.eb12.3456`, `b827eb123456`) as `b8:27:eb:12:34:56`; throws INVALID_ARGUMENTS naming
 * `what` otherwise. Broadcast and multicast addresses wake nothing and are refused.
 */
export function parseMac(v: unknown, what = 'mac'): string {
  const shown = typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v);
  const expected = `${what}: expected a MAC address such as b8:27:eb:12:34:56, got ${shown}`;
  if (typeof v !== 'string' || v.length > 40) throw new HomelabError('INVALID_ARGUMENTS', expected);
  const s = v.trim();
  let hex: string | undefined;
  if (/^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$/.test(s)) hex = s.replace(/[:-]/g, '');
  else if (/^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$/.test(s)) hex = s.replace(/\./g, '');
  else if (/^[0-9A-Fa-f]{12}$/.test(s)) hex = s;
  if (!hex) throw new HomelabError('INVALID_ARGUMENTS', expected);
  hex = hex.toLowerCase();
  // The group bit of the first octet: multicast (and ff:ff:ff:ff:ff:ff) is no network card.
  if (parseInt(hex.slice(0, 2), 16) & 1) throw new HomelabError('INVALID_ARGUMENTS', `${what}: ${shown} is a multicast or broadcast address, not a device's MAC address`);
  if (hex === '000000000000') throw new HomelabError('INVALID_ARGUMENTS', `${what}: 00:00:00:00:00:00 is not a device's MAC address`);
  return hex.match(/../g)!.join(':');
}

/** The 102-byte magic packet for a MAC as `parseMac` returns it. */
export function magicPacket(mac: string): Buffer {
  const m = Buffer.from(mac.replace(/:/g, ''), 'hex');
  if (m.length !== 6) throw new HomelabError('INVALID_ARGUMENTS', `mac: expected 6 bytes, got ${m.length}`);
  return Buffer.concat([Buffer.alloc(6, 0xff), ...Array.from({ length: 16 }, () => m)]);
}

/** Checks a target address (IPv4: broadcasts are an IPv4 notion) and port. */
export function wolTarget(address: unknown = WOL_DEFAULT_ADDRESS, port: unknown = WOL_DEFAULT_PORT): { address: string; port: number } {
  if (typeof address !== 'string' || !isIPv4(address)) throw new HomelabError('INVALID_ARGUMENTS', `address: expected an IPv4 broadcast address such as 192.168.1.255, got ${JSON.stringify(address)}`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new HomelabError('INVALID_ARGUMENTS', `port: expected a UDP port from 1 to 65535, got ${JSON.stringify(port)}`);
  return { address, port };
}

/**
 * The broadcast address of an IPv4 CIDR (`192.168.20.0/24` → `192.168.20.255`); undefined for
 * IPv6 or a malformed range.
 */
export function broadcastOf(cidr: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const bits = Number(m[5]);
  const octets = m.slice(1, 5).map(Number);
  if (bits > 32 || octets.some((o) => o > 255)) return undefined;
  const ip = octets.reduce((a, o) => a * 256 + o, 0);
  const host = bits === 32 ? 0 : 2 ** (32 - bits) - 1;
  const b = (ip - (ip % (host + 1))) + host;
  return [24, 16, 8, 0].map((s) => Math.floor(b / 2 ** s) % 256).join('.');
}

/** Sends the magic packet for `mac` once. Resolves when the datagram left the socket. */
export async function sendMagicPacket(mac: string, opts: { address?: string; port?: number; signal?: AbortSignal } = {}): Promise<{ mac: string; address: string; port: number; bytes: number }> {
  const { address, port } = wolTarget(opts.address ?? WOL_DEFAULT_ADDRESS, opts.port ?? WOL_DEFAULT_PORT);
  const packet = magicPacket(mac);
  opts.signal?.throwIfAborted();
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.setBroadcast(true);
        socket.send(packet, port, address, (err) => (err ? reject(err) : resolve()));
      });
    });
  } catch (err) {
    throw new HomelabError('WOL_FAILED', `could not send the wake-on-LAN packet to ${address}:${port}: ${(err as Error).message}`, { cause: err });
  } finally {
    socket.close();
  }
  return { mac, address, port, bytes: packet.length };
}
