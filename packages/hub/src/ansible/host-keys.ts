/**
 * Host key refusals of a run: which host, at which address, and what key it offers now (read
 * with ssh-keyscan), so the answer can say what to pin. The scanned key is unauthenticated: the
 * message says "if that is its key", and pinning stays a person's decision in hub.yaml.
 */
import { execFile } from 'node:child_process';
import type { HostKeyProblem } from './contract.ts';

/** ssh's words for a refused host key: first contact, or a key that no longer matches. */
const CHANGED = /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for \S+ has changed/;
const UNKNOWN = /No \S+ host key is known for|Host key verification failed/;

/** `unknown`/`changed` when an unreachable message is a host key refusal, else undefined. */
export function hostKeyRefusal(message: string): HostKeyProblem['kind'] | undefined {
  if (CHANGED.test(message)) return 'changed';
  if (UNKNOWN.test(message)) return 'unknown';
  return undefined;
}

/**
 * Host and port ssh connected to: from ssh's own message (`...known for [127.0.0.1]:2222 and`,
 * `Host key for pi1.lan has changed`), else the inventory's ansible_host/ansible_port.
 */
export function refusedAddress(message: string, fallbackHost: string, fallbackPort?: string): { host: string; port: number } {
  const m = /(?:host key is known for|Host key for) (\S+?)(?: and| has)/.exec(message);
  const named = m?.[1];
  if (named) {
    const br = /^\[([^\]]+)\]:(\d+)$/.exec(named);
    if (br) return { host: br[1]!, port: Number(br[2]) };
    return { host: named, port: 22 };
  }
  const port = Number(fallbackPort);
  return { host: fallbackHost, port: Number.isInteger(port) && port > 0 && port < 65536 ? port : 22 };
}

/** The key type ssh named (`No ED25519 host key`, `the ED25519 key sent`), as a known_hosts type prefix. */
function namedKeyType(message: string): string | undefined {
  const t = /No (\S+) host key is known|for the (\S+) key sent/.exec(message);
  const name = (t?.[1] ?? t?.[2])?.toUpperCase();
  if (name === 'ED25519') return 'ssh-ed25519';
  if (name === 'ECDSA') return 'ecdsa-';
  if (name === 'RSA') return 'ssh-rsa';
  return undefined;
}

function run(cmd: string, args: string[], input: string | undefined, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024, encoding: 'utf8' }, (_e, stdout) => resolve(typeof stdout === 'string' ? stdout : ''));
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** A host or IP literal ssh-keyscan can take as an argument (nothing that reads as an option). */
const SAFE_HOST = /^[A-Za-z0-9_][A-Za-z0-9._:-]{0,252}$/;

/**
 * The host key `host:port` offers, as a known_hosts line and an `ssh-ed25519 SHA256:…`
 * fingerprint; the type ssh asked about when it said one, else the strongest offered.
 */
export async function scanHostKey(host: string, port: number, preferType?: string): Promise<{ knownHostsLine: string; fingerprint: string } | undefined> {
  if (!SAFE_HOST.test(host)) return undefined;
  const scanned = await run('ssh-keyscan', ['-p', String(port), '-T', '5', host], undefined, 10_000);
  const lines = scanned.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.trim());
  const order = [preferType, 'ssh-ed25519', 'ecdsa-', 'ssh-rsa'].filter((t): t is string => !!t);
  let line: string | undefined;
  for (const t of order) {
    line = lines.find((l) => l.split(' ')[1]?.startsWith(t));
    if (line) break;
  }
  line ??= lines[0];
  if (!line) return undefined;
  const printed = await run('ssh-keygen', ['-lf', '-'], `${line}\n`, 5000);
  const sha = /SHA256:\S+/.exec(printed)?.[0];
  const type = line.split(' ')[1]!;
  return { knownHostsLine: line, fingerprint: sha ? `${type} ${sha}` : type };
}

/** The problem of one refused host, with the key it offers when ssh-keyscan reads it. */
export async function hostKeyProblem(host: string, message: string, fallbackHost: string, fallbackPort?: string): Promise<HostKeyProblem | undefined> {
  const kind = hostKeyRefusal(message);
  if (!kind) return undefined;
  const addr = refusedAddress(message, fallbackHost, fallbackPort);
  const scanned = await scanHostKey(addr.host, addr.port, namedKeyType(message));
  return { host, address: `${addr.host}:${addr.port}`, kind, ...(scanned ?? {}) };
}

/**
 * What to tell a person about refused host keys, one line per host.
 *
 * @example
 * hostKeyMessage([{ host: 'pi1', address: '127.0.0.1:2222', kind: 'unknown', fingerprint: 'ssh-ed25519 SHA256:abc', knownHostsLine: '[127.0.0.1]:2222 ssh-ed25519 AAAA' }])
 * // 'pi1 (127.0.0.1:2222) offered an unknown host key ssh-ed25519 SHA256:abc; if that is its key, pin it in hub.yaml under ansible.knownHosts: "[127.0.0.1]:2222 ssh-ed25519 AAAA"'
 */
export function hostKeyMessage(problems: readonly HostKeyProblem[]): string {
  return problems
    .map((p) => {
      const who = `${p.host} (${p.address})`;
      const pin = p.knownHostsLine ? `"${p.knownHostsLine}"` : undefined;
      if (p.kind === 'changed') {
        const offered = p.fingerprint ? `offered the host key ${p.fingerprint}, which differs from the one pinned for it` : 'offered a host key that differs from the one pinned for it';
        return `${who} ${offered}: the connection was refused (someone may be intercepting it, or the host was reinstalled); if the host was reinstalled and that is its new key, replace its entry in hub.yaml under ansible.knownHosts with: ${pin ?? `the line \`ssh-keyscan -p PORT HOST\` prints, checked on the host itself`}`;
      }
      if (!p.fingerprint) return `${who} has no pinned host key and ssh-keyscan could not read the one it offers; pin its key in hub.yaml under ansible.knownHosts (the line \`ssh-keyscan -p PORT HOST\` prints, checked on the host itself)`;
      return `${who} offered an unknown host key ${p.fingerprint}; if that is its key, pin it in hub.yaml under ansible.knownHosts: ${pin}`;
    })
    .join('\n');
}
