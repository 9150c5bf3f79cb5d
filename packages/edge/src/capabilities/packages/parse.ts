/**
 * Parsers for what the package managers print: `apt-get -s` (simulation) and `dnf check-update`.
 * Pure functions, tested against captured output in `__fixtures__/`. Every list is capped: a
 * hostile or broken package manager printing millions of lines must not grow the answer.
 */

/** One package the upgrade would change. */
export interface PackageChange {
  name: string;
  /** The installed version; null for a package the upgrade newly installs, or when unknown (dnf). */
  from: string | null;
  to: string;
  /** Where the new version comes from: apt's release list (`Debian-Security:12/stable-security`), dnf's repository. */
  origin: string | null;
  arch: string | null;
  /** The new version comes from a security archive (apt: an origin containing `-security`); null when the manager does not say. */
  security: boolean | null;
}

export interface AptSimulation {
  /** Installed packages that get a new version. */
  upgrades: PackageChange[];
  /** Packages the run installs that are not installed yet (a new dependency). */
  installs: PackageChange[];
  /** Packages the run removes: name and installed version. */
  removals: Array<{ name: string; version: string | null }>;
  /** `N upgraded, M newly installed, K to remove and J not upgraded.`, as numbers. */
  counts: { upgraded: number; newlyInstalled: number; toRemove: number; notUpgraded: number } | null;
  /** Packages held back (`The following packages have been kept back:`). */
  keptBack: string[];
  /** Lines that were dropped beyond the caps. */
  truncated: boolean;
}

/** Most packages one answer lists; a Debian release upgrade is a few thousand. */
export const MAX_PACKAGES = 5000;
const MAX_FIELD = 256;

const cut = (s: string) => (s.length > MAX_FIELD ? s.slice(0, MAX_FIELD) : s);

// `Inst NAME [OLD] (NEW ORIGIN[, ORIGIN...] [ARCH]) [...]`; OLD is absent for a new install.
const INST = /^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) ([^[]*?)\s*\[([^\]]+)\]\)/;
const REMV = /^Remv (\S+)(?: \[([^\]]*)\])?/;
const COUNTS = /^(\d+) upgraded, (\d+) newly installed, (\d+) to remove and (\d+) not upgraded\.$/m;

/**
 * Reads the simulation apt-get prints with `-s` (`apt-get -s upgrade`, `apt-get -s install
 * --only-upgrade PKG`). Only its machine-oriented `Inst`/`Remv` lines and the counts line are
 * read; the wrapped human lists are not (they lose versions), except the kept-back list.
 *
 * @example parseAptSimulation('Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])').upgrades[0].to // '5.2.15-2+b13'
 */
export function parseAptSimulation(text: string): AptSimulation {
  const out: AptSimulation = { upgrades: [], installs: [], removals: [], counts: null, keptBack: [], truncated: false };
  const lines = text.split('\n');
  let inKeptBack = false;
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (inKeptBack) {
      if (line.startsWith('  ')) {
        for (const n of line.trim().split(/\s+/)) {
          if (out.keptBack.length < MAX_PACKAGES) out.keptBack.push(cut(n));
          else out.truncated = true;
        }
        continue;
      }
      inKeptBack = false;
    }
    if (line === 'The following packages have been kept back:') {
      inKeptBack = true;
      continue;
    }
    const inst = INST.exec(line);
    if (inst) {
      const origin = inst[4]!.trim();
      const change: PackageChange = {
        name: cut(inst[1]!),
        from: inst[2] !== undefined ? cut(inst[2]) : null,
        to: cut(inst[3]!),
        origin: origin ? cut(origin) : null,
        arch: cut(inst[5]!),
        security: /-security\b/.test(origin),
      };
      const list = change.from === null ? out.installs : out.upgrades;
      if (out.upgrades.length + out.installs.length < MAX_PACKAGES) list.push(change);
      else out.truncated = true;
      continue;
    }
    const remv = REMV.exec(line);
    if (remv) {
      if (out.removals.length < MAX_PACKAGES) out.removals.push({ name: cut(remv[1]!), version: remv[2] !== undefined ? cut(remv[2]) : null });
      else out.truncated = true;
    }
  }
  const c = COUNTS.exec(text);
  if (c) out.counts = { upgraded: Number(c[1]), newlyInstalled: Number(c[2]), toRemove: Number(c[3]), notUpgraded: Number(c[4]) };
  return out;
}

// `NAME.ARCH  [EPOCH:]VERSION-RELEASE  REPO`
const DNF_ROW = /^(\S+)\.([A-Za-z0-9_]+)\s+(\S+)\s+(\S+)$/;

/**
 * Reads `dnf check-update` (dnf 4 and dnf 5): one `name.arch version repo` row per update. A
 * name too long for its column is printed alone with the rest on the next line; that is joined.
 * The `Obsoleting Packages` section that may follow lists replacements, not upgrades: it ends
 * the list. dnf does not say the installed version here, nor (without `--security`) which
 * updates are security fixes: `from` and `security` are null.
 */
export function parseDnfCheckUpdate(text: string): { upgrades: PackageChange[]; truncated: boolean } {
  const upgrades: PackageChange[] = [];
  let truncated = false;
  const lines = text.split('\n').map((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (/^Obsoleting Packages/i.test(line)) break;
    if (/^\S+\.[A-Za-z0-9_]+$/.test(line) && i + 1 < lines.length && /^\S+\s+\S+$/.test(lines[i + 1]!)) line = `${line} ${lines[++i]}`;
    const m = DNF_ROW.exec(line);
    // The header ("Last metadata expiration check: ...") has more than three words.
    if (!m || !/\d/.test(m[3]!)) continue;
    if (upgrades.length >= MAX_PACKAGES) {
      truncated = true;
      break;
    }
    upgrades.push({ name: cut(m[1]!), from: null, to: cut(m[3]!), origin: cut(m[4]!), arch: cut(m[2]!), security: null });
  }
  return { upgrades, truncated };
}

/**
 * The packages an upgrade run set up, from apt's `Setting up NAME:ARCH (VERSION) ...` lines or
 * dnf's `Upgraded:`/`Upgrading :` rows, capped. Best effort: it is what the answer shows, not
 * what decides success (the exit code does).
 */
export function parseUpgradeLog(manager: 'apt' | 'dnf', text: string): string[] {
  const out: string[] = [];
  const re = manager === 'apt' ? /^Setting up (\S+?)(?::\S+)? \(([^)]+)\)/gm : /^\s*Upgrad(?:ing|e)\s*:\s*(\S+)\s+(\S+)/gm;
  for (const m of text.matchAll(re)) {
    if (out.length >= MAX_PACKAGES) break;
    out.push(`${cut(m[1]!)} ${cut(m[2]!)}`);
  }
  return out;
}
