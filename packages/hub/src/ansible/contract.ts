/**
 * The Ansible review queue (issue #13) in three parts, each in its own file; this file is the
 * contract between them, so that they can be built side by side:
 *
 * - `forge.ts`: the pull-request API of GitHub and Gitea ({@link Forge}).
 * - `runner.ts`: `ansible-playbook` runs, syntax checks, the check_mode: false scan, host keys.
 * - `repo.ts` + `tools.ts`: the hub's clone of the playbook repo, drafts, the tools, the gate's rules.
 */

// ---------------------------------------------------------------------------------------------
// forge.ts

/** A pull request as the hub needs it, whichever forge holds it. */
export interface PullRequest {
  number: number;
  /** The page a person opens (`html_url`). */
  url: string;
  title: string;
  body: string;
  /** The head branch (`head.ref`): `mcp-draft/<name>`. */
  branch: string;
  /** The head commit (`head.sha`). */
  headSha: string;
  /** The base branch (`base.ref`). */
  base: string;
  /** The login of who opened it. */
  author: string;
  /** ISO 8601. */
  createdAt: string;
  state: 'open' | 'closed';
  merged: boolean;
  /** What the forge says; null while it is still computing (GitHub) or when it does not say. */
  mergeable: boolean | null;
}

/** Commit checks (CI) of a PR's head, combined: `none` when the forge knows of no check. */
export interface ForgeChecks {
  state: 'success' | 'pending' | 'failure' | 'error' | 'none';
  total: number;
}

/** Why a forge request failed, for a message that says what to do. */
export type ForgeFailure = 'auth' | 'not_found' | 'not_mergeable' | 'head_moved' | 'conflict' | 'bad_response' | 'unreachable';

export interface Forge {
  /** How messages name it: `GitHub repo o/r`, `Gitea at https://git.lan repo o/r`. */
  readonly label: string;
  /** Open PRs, newest first, at most `max` (paginated under the hood). */
  listOpen(opts: { max: number; signal?: AbortSignal }): Promise<PullRequest[]>;
  /** The open PR whose head is `branch` (of this repo), if any. */
  findOpen(branch: string, signal?: AbortSignal): Promise<PullRequest | undefined>;
  create(pr: { branch: string; base: string; title: string; body: string }, signal?: AbortSignal): Promise<PullRequest>;
  /** Updates title and body of an open PR. */
  update(number: number, pr: { title: string; body: string }, signal?: AbortSignal): Promise<PullRequest>;
  get(number: number, signal?: AbortSignal): Promise<PullRequest>;
  /**
   * Merges the PR (a merge commit) only if its head is still `headSha`; throws a ForgeError with
   * reason `head_moved`, `not_mergeable` or `conflict` when the forge refuses.
   */
  merge(number: number, opts: { headSha: string; title?: string }, signal?: AbortSignal): Promise<void>;
  checks(sha: string, signal?: AbortSignal): Promise<ForgeChecks>;
}

// ---------------------------------------------------------------------------------------------
// runner.ts

/** One host's line of the PLAY RECAP. */
export interface HostRecap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** Where a run reads from and how it reaches the hosts. */
export interface AnsibleRunBase {
  /** The checkout the run reads (its cwd); playbook and inventory are relative to it. */
  cwd: string;
  /** Relative to cwd. */
  playbook: string;
  /** Relative to cwd. */
  inventory: string;
  /** Absolute; must be mode 0600 or stricter (checked by the hub before). */
  privateKey?: string;
  remoteUser?: string;
  /** Absolute: the only known_hosts ssh reads; StrictHostKeyChecking=yes. */
  knownHostsFile: string;
  /** Absolute; `--vault-password-file`. */
  vaultPasswordFile?: string;
  /** The whole process group is killed at the deadline or on abort. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The variables hub.yaml takes as `${VAR}`: never passed to Ansible. */
  secretVars?: readonly string[];
  /** Values cut out of everything the run returns or writes (extra_vars secrets, passwords, vault plaintexts). */
  secretValues?: readonly string[];
  /** `ansible-playbook`; tests may point elsewhere. */
  command?: string;
}

export interface PlaybookRunOptions extends AnsibleRunBase {
  /** `--check --diff` when true; a live run also passes `--diff`. */
  check: boolean;
  /** Passed as `-e @file` (a 0600 temp file removed after), never on the command line. */
  extraVars?: Record<string, unknown>;
  limit?: string;
  tags?: string[];
  /** Where the full (scrubbed) log goes; absolute; created 0600. */
  logFile: string;
  /** One call per task started (for progress notifications). */
  onTask?: (t: { index: number; play: string; task: string }) => void;
}

/** A changed task's diff on one host, bounded. */
export interface TaskChange {
  host: string;
  task: string;
  /** Unified-diff-like text; cut with a marker when long. */
  diff: string;
}

export interface HostKeyProblem {
  host: string;
  /** What ssh connects to: `127.0.0.1:2222`. */
  address: string;
  /** `ssh-ed25519 SHA256:...` when ssh-keyscan could read it. */
  fingerprint?: string;
  /** The known_hosts line to pin it (`[127.0.0.1]:2222 ssh-ed25519 AAAA...`). */
  knownHostsLine?: string;
  /** `unknown` (first contact) or `changed` (a pinned key no longer matches). */
  kind: 'unknown' | 'changed';
}

export interface PlaybookRunResult {
  /** Exit code of ansible-playbook (0 ok, 2 a task failed, 4 unreachable, 1 error). */
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  /** Host → recap, from the run's stats. */
  recap: Record<string, HostRecap>;
  /** Changed tasks with a diff (check mode: what would change). Bounded in count and size. */
  changes: TaskChange[];
  /** Failed or unreachable tasks: host, task, message (bounded). */
  failures: Array<{ host: string; task: string; message: string; unreachable: boolean }>;
  hostKeyProblems: HostKeyProblem[];
  /** Tasks that ran (for a preview: "would run 5 tasks"). */
  taskCount: number;
  logFile: string;
  durationMs: number;
  /** Ansible's own error when the run did not get to a recap (YAML error, missing file), cut. */
  error?: string;
  /** Changes left out of `changes` by its bounds (count or size). */
  changesOmitted?: number;
  /** Failures left out of `failures` by its bound. */
  failuresOmitted?: number;
}

/** A task whose `check_mode: false` makes it run for real in a dry run. */
export interface CheckModeFalseTask {
  /** Relative to the repo. */
  file: string;
  line: number;
  task: string;
  /**
   * Set when this is not a plain `check_mode: false`: a value that is not literally true or false
   * (`"{{ x }}"`, treated as false), a block or play whose tasks all run for real, or a file the
   * scan could not read (outside the repo, a templated path, over the bounds), counted as risky.
   */
  note?: string;
}
