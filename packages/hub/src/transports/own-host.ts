/**
 * Whether a Host name names this hub itself, for the files under `/edge/` only: a device on the
 * LAN fetches the installer as `http://192.168.1.5:8765/edge/install.sh` or `http://hub:8765/...`
 * before anyone has put that address in `allowedHosts`. The installer and the bundle are not
 * secrets, and a name that DNS rebinding could use (an attacker's domain) is still refused:
 * IP literals are accepted only when they are this hub's own addresses, names only when they
 * are this host's name, bare or under a suffix only the local network's resolver answers for
 * (`hub.lan`, `hub.local`; a page elsewhere cannot make those resolve to the hub).
 * `/mcp` keeps the strict check: loopback names and `allowedHosts`.
 */
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

const LOCAL_SUFFIXES = ['', '.local', '.lan', '.home', '.internal', '.home.arpa', '.localdomain'];

/** `::ffff:192.168.1.5` (an IPv4 client on a dual-stack socket) -> `192.168.1.5`. */
function plainAddress(a: string): string {
  return a.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

export interface OwnHostSources {
  /** The addresses of this host's interfaces; default `os.networkInterfaces()`. */
  addresses?: () => string[];
  /** This host's name; default `os.hostname()`. */
  hostName?: () => string;
}

/**
 * A check of Host names (lower case, no port; IPv6 in brackets) against this hub's own
 * addresses and host name. `localAddress` is the address the request's connection reached
 * (a LAN address when the hub listens on 0.0.0.0), always accepted.
 *
 * @example
 * const own = createOwnHostCheck();
 * own('192.168.1.5', '192.168.1.5') // true: the address this connection came in on
 * own('evil.example', '192.168.1.5') // false
 */
export function createOwnHostCheck(src: OwnHostSources = {}): (name: string, localAddress: string | undefined) => boolean {
  const addresses =
    src.addresses ??
    (() =>
      Object.values(networkInterfaces())
        .flat()
        .flatMap((i) => (i ? [i.address] : [])));
  const hostName = src.hostName ?? hostname;
  return (name, localAddress) => {
    const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
    if (isIP(bare) !== 0) {
      const want = plainAddress(bare);
      if (localAddress !== undefined && plainAddress(localAddress) === want) return true;
      return addresses().some((a) => plainAddress(a) === want);
    }
    const full = hostName().toLowerCase();
    if (!full) return false;
    if (name === full) return true;
    const short = full.split('.')[0]!;
    return LOCAL_SUFFIXES.some((s) => name === `${short}${s}`);
  };
}
