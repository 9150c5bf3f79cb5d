/**
 * Pure parsers for `systemctl show` and `systemctl list-units` output. Both are meant for
 * people, not programs, and vary a little across systemd versions; the quirks handled here
 * are noted where they are handled.
 */

/** The properties `get_service_status` asks `systemctl show` for. */
export const STATUS_PROPERTIES = [
  'Id',
  'Description',
  'LoadState',
  'ActiveState',
  'SubState',
  'UnitFileState',
  'MainPID',
  'ExecMainStartTimestamp',
  'ActiveEnterTimestamp',
  'NRestarts',
  'MemoryCurrent',
  'Result',
] as const;

/** The state of one unit, from `systemctl show`. */
export interface ServiceStatus {
  id: string;
  description: string | null;
  /** `loaded`, `not-found`, `masked`, `bad-setting`, `error`. */
  loadState: string;
  /** `active`, `inactive`, `failed`, `activating`, `deactivating`, `reloading`. */
  activeState: string;
  /** Type-specific: `running`, `exited`, `dead`, `failed`, `auto-restart`, … */
  subState: string;
  /** `enabled`, `disabled`, `static`, `masked`, …; null for a unit without a unit file. */
  unitFileState: string | null;
  /** Null when the service has no main process. */
  mainPid: number | null;
  /** As systemd prints it, in the node's time zone: `Sat 2024-05-04 10:11:12 UTC`. */
  execMainStartTimestamp: string | null;
  activeEnterTimestamp: string | null;
  nRestarts: number | null;
  memoryCurrentBytes: number | null;
  /** `success`, `exit-code`, `signal`, `timeout`, `core-dump`, `oom-kill`, … */
  result: string | null;
}

/** One row of `systemctl list-units`. */
export interface UnitListEntry {
  unit: string;
  load: string;
  active: string;
  sub: string;
  /** Pending job (`start`, `stop`, …), shown only while one is queued. */
  job: string | null;
  description: string;
  /** The unit is in the failed state. */
  failed: boolean;
}

/**
 * Reads `Key=Value` lines. Values may contain `=`; only the first one splits.
 *
 * @example parseKeyValues('Id=ssh.service\nMainPID=612\n') // { Id: 'ssh.service', MainPID: '612' }
 */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).trimEnd();
  }
  return out;
}

const blank = (v: string | undefined): string | null => (v === undefined || v === '' || v === 'n/a' || v === '[not set]' ? null : v);

/** A counter, or null for "unset": `[not set]` in new systemd, UINT64_MAX (as a decimal) in old. */
function counter(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Builds a {@link ServiceStatus} from `systemctl show --property=…` output. systemd prints the
 * properties in its own order, whatever order they were asked in.
 */
export function parseServiceStatus(text: string): ServiceStatus {
  const p = parseKeyValues(text);
  const pid = counter(p.MainPID);
  return {
    id: p.Id ?? '',
    description: blank(p.Description),
    loadState: p.LoadState ?? 'unknown',
    activeState: p.ActiveState ?? 'unknown',
    subState: p.SubState ?? 'unknown',
    unitFileState: blank(p.UnitFileState),
    mainPid: pid === 0 ? null : pid,
    execMainStartTimestamp: blank(p.ExecMainStartTimestamp),
    activeEnterTimestamp: blank(p.ActiveEnterTimestamp),
    nRestarts: counter(p.NRestarts),
    memoryCurrentBytes: counter(p.MemoryCurrent),
    result: blank(p.Result),
  };
}

/** systemd's job types (`job_type_to_string`), the only words the optional JOB column can hold. */
const JOB_TYPES = new Set(['start', 'verify-active', 'stop', 'reload', 'reload-or-start', 'restart', 'try-restart', 'try-reload', 'nop']);

/**
 * Reads `systemctl list-units --plain --no-legend` rows: UNIT LOAD ACTIVE SUB [JOB] DESCRIPTION.
 * Some systemd versions (and any without --plain) start failed, not-found and masked rows with
 * a `●` marker, `*` in a non-UTF-8 locale, and the other rows with spaces; both are dropped
 * here. The JOB column appears only while some unit has a queued job.
 */
export function parseListUnits(text: string): UnitListEntry[] {
  const out: UnitListEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s*(?:●|\*)?\s*/, '');
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    const [, unit, load, active, sub] = m as unknown as [string, string, string, string, string];
    let description = (m[5] ?? '').trim();
    let job: string | null = null;
    const jm = /^(\S+)\s+(.*)$/.exec(description);
    if (jm && JOB_TYPES.has(jm[1]!)) {
      job = jm[1]!;
      description = jm[2]!.trim();
    }
    out.push({ unit, load, active, sub, job, description, failed: active === 'failed' });
  }
  return out;
}
