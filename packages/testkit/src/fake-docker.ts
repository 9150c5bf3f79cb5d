/**
 * A `docker` executable for tests, since no Docker engine runs here: a small Node script written
 * into a temp dir that appends each call (argv and cwd) as a JSON line to a log, then answers from
 * a scripted table of captured outputs. Put `fake.dir` first on an edge's PATH and assert exactly
 * which commands ran, and that a command held by the approval gate did not.
 *
 * A rule matches on the command (`compose ps`, `image ls`, `logs`) and optionally on the compose
 * project (`-p`) and the positional arguments; the first match answers. A call no rule matches
 * prints `fake docker: no scripted answer ...` and exits 99, so a test sees it.
 *
 * @example
 * using fake = createFakeDocker([{ command: 'compose ls', stdout: dockerFixture('compose-ls.json') }]);
 * await using edge = await startEdgeProcess({ env: { PATH: fake.pathWith() }, args: ['--compose-dir', dir] });
 * expect(fake.calls().map((c) => c.command)).toEqual(['compose ls']);
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One scripted answer. */
export interface FakeDockerRule {
  /** The subcommand: `compose ls`, `compose ps`, `compose up`, `image ls`, `logs`, ... */
  command: string;
  /** Only for this compose project (`-p`). */
  project?: string;
  /** Only for exactly these positional arguments (container name, service names). */
  args?: string[];
  stdout?: string;
  stderr?: string;
  /** Default 0. */
  exitCode?: number;
}

/** One recorded call. */
export interface FakeDockerCall {
  /** Everything after `docker`. */
  argv: string[];
  cwd: string;
  /** What the rules matched on. */
  command: string;
  project?: string;
  args: string[];
}

export interface FakeDocker {
  /** The directory holding the `docker` executable. */
  dir: string;
  /** The `docker` executable's path. */
  bin: string;
  /** `dir` first, then `path` (default: this process's PATH). */
  pathWith(path?: string): string;
  /** Replaces the table; later calls answer from the new one. */
  script(rules: FakeDockerRule[]): void;
  /** The calls so far, oldest first. */
  calls(): FakeDockerCall[];
  /** Forgets the calls so far. */
  clear(): void;
  cleanup(): void;
  [Symbol.dispose](): void;
}

// CommonJS (the file has no extension and no package.json is near it), no dependencies. The
// parsing mirrors the docker CLI's: top-level flags, then a command, for groups a subcommand;
// compose's global flags come between `compose` and its subcommand.
const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const here = __dirname;
const argv = process.argv.slice(2);
const TOP_VALUED = new Set(['--context', '-c', '-H', '--host', '--config', '-l', '--log-level']);
const COMPOSE_VALUED = new Set(['--project-directory', '-f', '--file', '-p', '--project-name', '--env-file', '--profile', '--ansi', '--progress', '--parallel']);
const SUB_VALUED = new Set(['--type', '--format', '--tail', '-n', '--since', '--until', '--filter', '--timeout', '-t', '--pull', '--scale', '--wait-timeout']);
const GROUPS = new Set(['compose', 'image', 'container', 'volume', 'network', 'context', 'system', 'plugin']);
let i = 0;
let project;
const words = [];
const skip = (valued) => {
  while (i < argv.length && argv[i].startsWith('-')) {
    const a = argv[i++];
    const name = a.split('=')[0];
    if (valued.has(name) && !a.includes('=')) {
      if (name === '-p' || name === '--project-name') project = argv[i];
      i++;
    } else if (a.startsWith('--project-name=')) project = a.slice(15);
  }
};
skip(TOP_VALUED);
if (i < argv.length) words.push(argv[i++]);
if (GROUPS.has(words[0])) {
  skip(words[0] === 'compose' ? COMPOSE_VALUED : SUB_VALUED);
  if (i < argv.length) words.push(argv[i++]);
}
const args = [];
while (i < argv.length) {
  skip(SUB_VALUED);
  if (i < argv.length) args.push(argv[i++]);
}
const command = words.join(' ');
const call = { argv, cwd: process.cwd(), command, args };
if (project !== undefined) call.project = project;
fs.appendFileSync(path.join(here, 'calls.ndjson'), JSON.stringify(call) + '\n');
const rules = JSON.parse(fs.readFileSync(path.join(here, 'rules.json'), 'utf8'));
const rule = rules.find((r) => r.command === command && (r.project === undefined || r.project === project) && (r.args === undefined || JSON.stringify(r.args) === JSON.stringify(args)));
if (!rule) {
  process.stderr.write('fake docker: no scripted answer for docker ' + argv.join(' ') + '\n');
  process.exit(99);
}
if (rule.stdout) process.stdout.write(rule.stdout);
if (rule.stderr) process.stderr.write(rule.stderr);
process.exitCode = rule.exitCode || 0;
`;

/** Writes a fake `docker` into a fresh temp dir. */
export function createFakeDocker(rules: FakeDockerRule[] = []): FakeDocker {
  const dir = mkdtempSync(join(tmpdir(), 'fake-docker-'));
  const bin = join(dir, 'docker');
  const log = join(dir, 'calls.ndjson');
  // The shebang names this very node, so the fake runs whatever PATH the edge has.
  writeFileSync(bin, `#!${process.execPath}\n${SCRIPT}`);
  chmodSync(bin, 0o755);
  const script = (r: FakeDockerRule[]) => writeFileSync(join(dir, 'rules.json'), JSON.stringify(r));
  script(rules);
  writeFileSync(log, '');
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  return {
    dir,
    bin,
    pathWith: (path = process.env.PATH ?? '/usr/bin:/bin') => `${dir}:${path}`,
    script,
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FakeDockerCall),
    clear: () => writeFileSync(log, ''),
    cleanup,
    [Symbol.dispose]: cleanup,
  };
}

/** A captured docker output from the edge's fixtures (`packages/edge/src/capabilities/docker/__fixtures__`). */
export function dockerFixture(name: string): string {
  return readFileSync(new URL(`../../edge/src/capabilities/docker/__fixtures__/${name}`, import.meta.url), 'utf8');
}
