import { testEdgeEnv, toolContext } from '@homelab-mcp/testkit';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { validate } from '../../schema.ts';
import { checkPackages, packages, probePackages, upgradeArgv } from '../packages.ts';
import { parseAptSimulation, parseDnfCheckUpdate, parseUpgradeLog } from './parse.ts';

const FIXTURES = fileURLToPath(new URL('./__fixtures__/', import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const tool = (name: string) => packages.tools.find((t) => t.name === name)!;

const root = mkdtempSync(join(tmpdir(), 'packages-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * A PATH directory holding a fake package manager: a shell script that logs its argv (one line,
 * words separated by spaces) and its DEBIAN_FRONTEND, then prints captured output.
 */
function fakeBin(name: string, bin: 'apt-get' | 'dnf', body: string): { path: string; log: () => string[]; env: () => string[] } {
  const dir = join(root, name);
  mkdirSync(dir);
  const log = join(dir, 'argv.log');
  const envLog = join(dir, 'env.log');
  writeFileSync(join(dir, bin), `#!/bin/sh\necho "$*" >> '${log}'\necho "$DEBIAN_FRONTEND $LC_ALL" >> '${envLog}'\n${body}\n`);
  chmodSync(join(dir, bin), 0o755);
  const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n') : []);
  return { path: dir, log: () => lines(log), env: () => lines(envLog) };
}

const APT = fakeBin(
  'apt',
  'apt-get',
  `case "$*" in
  "-s -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade") /bin/cat '${FIXTURES}apt-get-s-upgrade.txt' ;;
  "-s -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade bash liblzma5") /bin/cat '${FIXTURES}apt-get-s-install-only-upgrade.txt' ;;
  "-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade bash liblzma5") /bin/cat '${FIXTURES}apt-get-upgrade-run.txt' ;;
  "-s -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade nosuch") echo "E: Unable to locate package nosuch" >&2; exit 100 ;;
  *) echo "fake apt-get: unexpected arguments: $*" >&2; exit 99 ;;
esac`,
);
const APT_NOT_ROOT = fakeBin('apt-nonroot', 'apt-get', `/bin/cat '${FIXTURES}apt-get-not-root.txt' >&2\nexit 100`);
const DNF = fakeBin(
  'dnf',
  'dnf',
  `case "$*" in
  "-q check-update") /bin/cat '${FIXTURES}dnf-check-update.txt'; exit 100 ;;
  "-q check-update tzdata") echo; exit 0 ;;
  *) echo "fake dnf: unexpected arguments: $*" >&2; exit 99 ;;
esac`,
);
const EMPTY = join(root, 'empty');
mkdirSync(EMPTY);

const envWith = (path: string) => testEdgeEnv({ childEnv: { PATH: path } });

describe('parsers', () => {
  it('reads apt-get -s upgrade as captured on Debian 12: every Inst line, versions, origins and security', () => {
    const sim = parseAptSimulation(fixture('apt-get-s-upgrade.txt'));
    expect(sim.counts).toEqual({ upgraded: 127, newlyInstalled: 0, toRemove: 0, notUpgraded: 0 });
    expect(sim.upgrades).toHaveLength(127);
    expect(sim.installs).toEqual([]);
    expect(sim.upgrades.find((u) => u.name === 'bash')).toEqual({
      name: 'bash', from: '5.2.15-2+b8', to: '5.2.15-2+b13', origin: 'Debian:12.15/oldstable', arch: 'amd64', security: false,
    });
    // Two origins, one of them the security archive.
    expect(sim.upgrades.find((u) => u.name === 'libgcrypt20')).toMatchObject({ to: '1.10.1-3+deb12u1', origin: 'Debian:12.15/oldstable, Debian-Security:12/oldstable-security', security: true });
    expect(sim.upgrades.filter((u) => u.security).length).toBeGreaterThan(10);
  });

  it('reads new installs, removals and kept-back packages', () => {
    const sim = parseAptSimulation(
      [
        'The following packages have been kept back:',
        '  linux-image-amd64 firmware-misc-nonfree',
        '1 upgraded, 1 newly installed, 1 to remove and 2 not upgraded.',
        'Remv oldlib1 [1.0-1]',
        'Inst linux-image-6.1.0-28-amd64 (6.1.119-1 Debian-Security:12/stable-security [amd64])',
        'Inst bash [5.2.15-2+b7] (5.2.15-2+b8 Debian:12.8/stable [amd64])',
      ].join('\n'),
    );
    expect(sim.keptBack).toEqual(['linux-image-amd64', 'firmware-misc-nonfree']);
    expect(sim.removals).toEqual([{ name: 'oldlib1', version: '1.0-1' }]);
    expect(sim.installs).toEqual([{ name: 'linux-image-6.1.0-28-amd64', from: null, to: '6.1.119-1', origin: 'Debian-Security:12/stable-security', arch: 'amd64', security: true }]);
    expect(sim.upgrades.map((u) => u.name)).toEqual(['bash']);
  });

  it('caps what a package manager printing without end can make it keep', () => {
    const line = 'Inst p [1] (2 o [all])\n';
    const sim = parseAptSimulation(line.repeat(6000));
    expect(sim.upgrades).toHaveLength(5000);
    expect(sim.truncated).toBe(true);
    const long = parseAptSimulation(`Inst ${'a'.repeat(10_000)} [1] (2 o [all])`);
    expect(long.upgrades[0]!.name).toHaveLength(256);
  });

  it('reads dnf check-update, joining wrapped rows and stopping at Obsoleting Packages', () => {
    const { upgrades } = parseDnfCheckUpdate(fixture('dnf-check-update.txt'));
    expect(upgrades.map((u) => `${u.name}.${u.arch} ${u.to} ${u.origin}`)).toEqual([
      'curl.x86_64 7.76.1-29.el9_4.1 baseos',
      'kernel.x86_64 5.14.0-427.42.1.el9_4 baseos',
      'openssl.x86_64 1:3.0.7-28.el9_4 baseos',
      'python3-unbound-very-long-package-name.x86_64 1.16.2-3.el9_3.5 appstream',
      'tzdata.noarch 2024b-2.el9 baseos',
    ]);
    expect(upgrades[0]).toMatchObject({ from: null, security: null });
  });

  it('reads what an apt run set up', () => {
    expect(parseUpgradeLog('apt', fixture('apt-get-upgrade-run.txt'))).toEqual(['bash 5.2.15-2+b13', 'liblzma5 5.4.1-1+deb12u2']);
  });
});

describe('arguments', () => {
  it('accepts package names and refuses option-like or shell-like ones before running anything', () => {
    expect(checkPackages(['bash', 'libssl3:amd64', 'g++', 'python3.11', 'bash'])).toEqual(['bash', 'libssl3:amd64', 'g++', 'python3.11']);
    expect(checkPackages(undefined)).toBeUndefined();
    for (const bad of [['-o'], ['--reinstall'], ['a;reboot'], ['$(id)'], ['a b'], ['../x'], [''], [7], 'bash', []]) {
      expect(() => checkPackages(bad)).toThrow(/^packages: /);
    }
    expect(() => checkPackages(Array.from({ length: 501 }, (_, i) => `p${i}`))).toThrow(/1 to 500 package names/);
  });

  it("refuses a name ending in '-': apt-get install --only-upgrade NAME- removes NAME (an upgrade tool must not uninstall)", () => {
    for (const bad of ['openssh-server-', 'openssh-server:amd64-', 'bash-']) {
      expect(() => checkPackages([bad]), bad).toThrow(/^packages: .*not a package name.*not ending in -/);
    }
    // A name that ends in + is a real one (g++); apt reads it as the package first.
    expect(checkPackages(['g++', 'libstdc++6'])).toEqual(['g++', 'libstdc++6']);
  });

  it('says the exact command line of an upgrade', () => {
    expect(upgradeArgv('apt', undefined).join(' ')).toBe('-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade');
    expect(upgradeArgv('dnf', ['curl']).join(' ')).toBe('-y upgrade curl');
  });

  it('describes every argument and accepts only known ones', () => {
    for (const t of packages.tools) {
      expect(t.inputSchema.additionalProperties).toBe(false);
      for (const p of Object.values(t.inputSchema.properties ?? {})) expect(p.description).toBeTruthy();
    }
    expect(validate(tool('package_upgrade').inputSchema, { timeout_s: 0 })).not.toEqual([]);
    expect(validate(tool('package_updates').inputSchema, { apply: true })).not.toEqual([]);
  });

  it('annotates package_updates as a read and package_upgrade as a write', () => {
    expect(tool('package_updates').annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(tool('package_upgrade').annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  });
});

describe('with apt-get (a script printing captured output)', () => {
  it('lists the upgrades the simulation of the upgrade command shows, noninteractive and in the C locale', async () => {
    const before = APT.log().length;
    const out = await tool('package_updates').handler({}, toolContext(envWith(APT.path)));
    expect(APT.log().slice(before)).toEqual(['-s -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade']);
    expect(APT.env().at(-1)).toBe('noninteractive C');
    expect(out.data).toMatchObject({ manager: 'apt', count: 127, packages: null, command: 'apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade' });
    const sec = (out.data.upgrades as Array<{ security: boolean }>).filter((u) => u.security).length;
    expect(out.data.securityCount).toBe(sec);
    const lines = out.text!.split('\n');
    expect(lines[0]).toBe(`127 package updates, ${sec} security via apt: \`apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade\``);
    expect(lines).toContain('bash 5.2.15-2+b8 → 5.2.15-2+b13');
    expect(lines).toContain('liblzma5 5.4.1-1 → 5.4.1-1+deb12u2 [security]');
  });

  it('for named packages, simulates install --only-upgrade and shows the dependencies it pulls in', async () => {
    const out = await tool('package_updates').handler({ packages: ['bash', 'liblzma5'] }, toolContext(envWith(APT.path)));
    expect((out.data.upgrades as Array<{ name: string }>).map((u) => u.name)).toEqual(['bash', 'liblzma-dev', 'liblzma5', 'xz-utils']);
    expect(out.data.command).toBe('apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade bash liblzma5');
  });

  it("says apt's error for an unknown package", async () => {
    await expect(tool('package_updates').handler({ packages: ['nosuch'] }, toolContext(envWith(APT.path)))).rejects.toThrow(/failed \(exit 100\): Unable to locate package nosuch/);
  });

  it('upgrades the named packages and lists what was set up', async () => {
    const before = APT.log().length;
    const out = await tool('package_upgrade').handler({ packages: ['bash', 'liblzma5'] }, toolContext(envWith(APT.path)));
    expect(APT.log().slice(before)).toEqual(['-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade bash liblzma5']);
    expect(out.isError).toBeFalsy();
    expect(out.data).toMatchObject({ manager: 'apt', exitCode: 0, upgraded: ['bash 5.2.15-2+b13', 'liblzma5 5.4.1-1+deb12u2'], count: 2 });
    expect(out.text).toMatch(/^upgraded 2 packages with `apt-get -y .* install --only-upgrade bash liblzma5` in \d+\.\d s\nbash 5\.2\.15-2\+b13\nliblzma5 5\.4\.1-1\+deb12u2$/);
  });

  it('says that an edge not running as root cannot upgrade', async () => {
    const out = await tool('package_upgrade').handler({}, toolContext(envWith(APT_NOT_ROOT.path)));
    expect(out.isError).toBe(true);
    expect(out.text!.split('\n')[0]).toBe(
      '`apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade` failed (exit 100): apt-get needs root, and the edge does not run as root: ' +
        'Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)',
    );
  });
});

describe('the upgrade outside the edge unit (#18 review)', () => {
  // Under systemd (INVOCATION_ID set), an upgrade run in the edge's own cgroup is killed with the
  // edge (an idle exit, a restart, `systemctl stop`: KillMode=control-group) and by its
  // MemoryMax=128M (OOMPolicy=continue): dpkg killed halfway leaves packages half-configured.
  const SYSTEMD_RUN = (() => {
    const dir = join(root, 'systemd-run');
    mkdirSync(dir);
    const log = join(dir, 'argv.log');
    writeFileSync(join(dir, 'systemd-run'), `#!/bin/sh\necho "$*" >> '${log}'\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n`);
    chmodSync(join(dir, 'systemd-run'), 0o755);
    return { path: dir, log: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
  })();

  it('runs the package manager in a transient scope of its own (systemd-run --scope) when the edge runs under systemd', async () => {
    const before = APT.log().length;
    const env = testEdgeEnv({ childEnv: { PATH: `${SYSTEMD_RUN.path}:${APT.path}`, INVOCATION_ID: '0123456789abcdef0123456789abcdef' } });
    const out = await tool('package_upgrade').handler({ packages: ['bash', 'liblzma5'] }, toolContext(env));
    expect(out.isError).toBeFalsy();
    expect(SYSTEMD_RUN.log().at(-1)).toBe(
      `--scope --quiet --collect --description=homelab-edge package_upgrade -- ${join(APT.path, 'apt-get')} -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade bash liblzma5`,
    );
    expect(APT.log().slice(before)).toEqual(['-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade bash liblzma5']);
    // The command the answer names is still the package manager's.
    expect(out.data.command).toBe('apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade bash liblzma5');
  });

  it('runs it directly when not under systemd, and never wraps the read-only simulation', async () => {
    const n = SYSTEMD_RUN.log().length;
    await tool('package_upgrade').handler({ packages: ['bash', 'liblzma5'] }, toolContext(envWith(`${SYSTEMD_RUN.path}:${APT.path}`)));
    await tool('package_updates').handler({}, toolContext(testEdgeEnv({ childEnv: { PATH: `${SYSTEMD_RUN.path}:${APT.path}`, INVOCATION_ID: 'x' } })));
    expect(SYSTEMD_RUN.log()).toHaveLength(n);
  });
});

describe('with dnf (a script printing captured output)', () => {
  it('lists check-update rows (exit 100 means updates)', async () => {
    const out = await tool('package_updates').handler({}, toolContext(envWith(DNF.path)));
    expect(out.data).toMatchObject({ manager: 'dnf', count: 5, securityCount: null, command: 'dnf -y upgrade' });
    expect(out.text!.split('\n')[0]).toBe('5 package updates via dnf: `dnf -y upgrade`');
    expect(out.text!.split('\n')).toContain('kernel → 5.14.0-427.42.1.el9_4');
  });

  it('answers no updates (exit 0)', async () => {
    const out = await tool('package_updates').handler({ packages: ['tzdata'] }, toolContext(envWith(DNF.path)));
    expect(out.text).toBe('no package updates (dnf, for tzdata)');
  });
});

describe('probe', () => {
  it('finds apt-get before dnf, and says when there is neither', async () => {
    expect(await probePackages(envWith(`${EMPTY}:${DNF.path}:${APT.path}`))).toEqual({ ok: true, detail: `apt (${join(APT.path, 'apt-get')})` });
    expect(await probePackages(envWith(DNF.path))).toEqual({ ok: true, detail: `dnf (${join(DNF.path, 'dnf')})` });
    expect(await probePackages(envWith(EMPTY))).toEqual({ ok: false, reason: 'no supported package manager on this node (looked for apt-get and dnf on the PATH)' });
    await expect(tool('package_updates').handler({}, toolContext(envWith(EMPTY)))).rejects.toThrow(/no supported package manager/);
  });
});

describe('the real apt-get on this machine (simulation only)', () => {
  const hasApt = existsSync('/usr/bin/apt-get');
  it.skipIf(!hasApt)('package_updates runs apt-get -s and parses what it prints', async () => {
    const out = await tool('package_updates').handler({}, toolContext(testEdgeEnv({ childEnv: { PATH: '/usr/bin:/bin' } })));
    expect(out.data.manager).toBe('apt');
    const count = out.data.count as number;
    // The summary line apt printed agrees with the Inst lines read.
    expect(out.text!.split('\n')[0]).toMatch(count === 0 ? /^no package updates \(apt\)$/ : new RegExp(`^${count} package updates?, \\d+ security`));
    for (const u of out.data.upgrades as Array<{ name: string; from: string; to: string }>) {
      expect(u.name).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
      expect(u.from).not.toBe(u.to);
    }
  });
});
