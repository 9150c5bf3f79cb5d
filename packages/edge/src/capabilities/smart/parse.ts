/**
 * Pure parsers for `smartctl --json` (smartmontools 7.x). Field names follow smartctl's JSON
 * exactly; every field is optional in practice (a USB bridge, a SCSI disk and an NVMe drive
 * each fill a different subset), so each value falls back to `null` rather than guessing.
 */
import { HomelabError } from '@homelab-mcp/core';

/** One smartctl message, as in `smartctl.messages[]`. */
export interface SmartMessage {
  text: string;
  severity: string;
}

/** One disk found by `smartctl --scan --json`. */
export interface SmartScanEntry {
  name: string;
  /** The `-d` type smartctl would use (`sat`, `nvme`, `scsi`, `megaraid,0`, …). */
  type: string;
  protocol: string | null;
  infoName: string | null;
}

/** NVMe health log, from `nvme_smart_health_information_log`. */
export interface NvmeHealth {
  /** Vendor estimate of endurance used, in percent; may exceed 100. */
  percentageUsed: number | null;
  availableSpare: number | null;
  availableSpareThreshold: number | null;
  mediaErrors: number | null;
  criticalWarning: number | null;
  /** `criticalWarning` decoded bit by bit. */
  criticalWarnings: string[];
  unsafeShutdowns: number | null;
}

/** The health of one disk, flattened from one `smartctl --json -a` run. */
export interface SmartReport {
  device: string;
  type: string | null;
  protocol: string | null;
  model: string | null;
  serial: string | null;
  firmware: string | null;
  capacityBytes: number | null;
  /** Capacity as smartctl prints it (decimal units): `500 GB`, `2.00 TB`. */
  capacity: string | null;
  /** `smart_status.passed`; `unknown` when smartctl could not tell. */
  smartPassed: boolean | 'unknown';
  temperatureC: number | null;
  powerOnHours: number | null;
  /** ATA attribute 5, Reallocated_Sector_Ct (raw). */
  reallocatedSectors: number | null;
  /** ATA attribute 197, Current_Pending_Sector (raw). */
  pendingSectors: number | null;
  /** ATA attribute 198, Offline_Uncorrectable (raw). */
  offlineUncorrectable: number | null;
  /** SCSI grown defect list length (the SCSI counterpart of reallocated sectors). */
  grownDefects: number | null;
  nvme: NvmeHealth | null;
  exitStatus: number;
  /** `exitStatus` decoded bit by bit, in plain English. */
  exitStatusBits: string[];
  messages: SmartMessage[];
  /** False when smartctl got no health data at all (exit bit 0 or 1, or no identity). */
  readable: boolean;
  /** Plain-English concerns read from the data (failing status, bad sectors, wear). */
  warnings: string[];
  /** Why smartctl could not read the disk, with what to do about it; null when readable. */
  problem: string | null;
}

/** Meaning of each bit of smartctl's exit status (smartctl(8), "RETURN VALUES"). */
export const SMART_EXIT_BITS: readonly string[] = [
  'command line did not parse (or the device type could not be detected)',
  'device open failed, no IDENTIFY data, or the device is in a low-power mode',
  'a SMART or other ATA command to the disk failed, or a SMART data checksum error',
  'SMART status check returned "DISK FAILING"',
  'prefail attributes are at or below their threshold',
  'SMART status OK, but some usage or prefail attributes were at or below their threshold in the past',
  'the device error log contains records of errors',
  'the device self-test log contains records of errors',
];

/** Meaning of each bit of the NVMe `critical_warning` byte (NVMe base spec, SMART / Health log). */
const NVME_CRITICAL_BITS: readonly string[] = [
  'available spare capacity is below the threshold',
  'temperature is outside the allowed range',
  'NVM subsystem reliability is degraded (media or internal errors)',
  'media has been placed in read-only mode',
  'volatile memory backup device has failed',
  'persistent memory region has become read-only',
];

/** @example decodeSmartExitStatus(192) // ['the device error log …', 'the device self-test log …'] */
export function decodeSmartExitStatus(status: number): string[] {
  return SMART_EXIT_BITS.filter((_, bit) => (status & (1 << bit)) !== 0);
}

/** @example decodeNvmeCriticalWarning(0x04) // ['NVM subsystem reliability is degraded …'] */
export function decodeNvmeCriticalWarning(value: number): string[] {
  return NVME_CRITICAL_BITS.filter((_, bit) => (value & (1 << bit)) !== 0);
}

/** Formats bytes the way smartctl does in `User Capacity: … [500 GB]`: decimal, 3 significant digits. */
export function formatCapacity(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  if (i === 0) return `${bytes} bytes`;
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${units[i]}`;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}
function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/**
 * Parses smartctl's JSON text. Throws a HomelabError when the text is not smartctl JSON at all
 * (smartctl 6.x, which has no `--json`, prints a usage error in plain text instead).
 */
export function parseSmartJson(text: string): Json {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    if (/UNRECOGNIZED OPTION|unrecognized option/i.test(text)) {
      throw new HomelabError('SMARTCTL_TOO_OLD', 'smartctl on this node does not support --json (smartmontools 7.0 or newer is needed)');
    }
    const first = text.trim().split('\n')[0] ?? '';
    throw new HomelabError('SMARTCTL_BAD_OUTPUT', `smartctl did not print JSON${first ? `: ${first.slice(0, 200)}` : ' (no output)'}`);
  }
  const o = obj(doc);
  if (!o || !obj(o.smartctl)) throw new HomelabError('SMARTCTL_BAD_OUTPUT', 'smartctl printed JSON without its "smartctl" header');
  return o;
}

/**
 * Reads `smartctl --scan --json`. With no disks smartctl omits the `devices` key entirely,
 * which reads as an empty list here.
 *
 * @example parseSmartScan(stdout) // [{ name: '/dev/sda', type: 'sat', protocol: 'ATA', infoName: '/dev/sda [SAT]' }]
 */
export function parseSmartScan(text: string): SmartScanEntry[] {
  const doc = parseSmartJson(text);
  const devices = Array.isArray(doc.devices) ? doc.devices : [];
  const out: SmartScanEntry[] = [];
  for (const d of devices) {
    const o = obj(d);
    const name = str(o?.name);
    if (!o || !name) continue;
    out.push({ name, type: str(o.type) ?? 'auto', protocol: str(o.protocol), infoName: str(o.info_name) });
  }
  return out;
}

/** Finds the raw value of an ATA attribute by id in `ata_smart_attributes.table`. */
function ataRaw(doc: Json, id: number): number | null {
  const table = obj(doc.ata_smart_attributes)?.table;
  if (!Array.isArray(table)) return null;
  for (const row of table) {
    const r = obj(row);
    if (r && r.id === id) return num(obj(r.raw)?.value);
  }
  return null;
}

/**
 * Flattens one `smartctl --json -a` document into a {@link SmartReport}.
 * `fallback` names the device and exit code when the JSON lacks them (a run that failed early).
 *
 * @example parseSmartReport(stdout, { device: '/dev/sda', exitCode: 0 }).smartPassed // true
 */
export function parseSmartReport(text: string, fallback: { device: string; exitCode?: number | null }): SmartReport {
  const doc = parseSmartJson(text);
  const header = obj(doc.smartctl) ?? {};
  const dev = obj(doc.device);
  const exitStatus = num(header.exit_status) ?? fallback.exitCode ?? 0;
  const messages: SmartMessage[] = [];
  if (Array.isArray(header.messages)) {
    for (const m of header.messages) {
      const o = obj(m);
      const t = str(o?.string);
      if (t) messages.push({ text: t, severity: str(o?.severity) ?? 'information' });
    }
  }

  const protocol = str(dev?.protocol);
  const nvmeLog = obj(doc.nvme_smart_health_information_log);
  const passed = obj(doc.smart_status)?.passed;
  const capacityBytes = num(obj(doc.user_capacity)?.bytes) ?? num(doc.nvme_total_capacity);
  // SCSI disks report vendor and product apart; ATA and NVMe use model_name.
  const scsiModel = str(doc.scsi_model_name) ?? ([str(doc.scsi_vendor), str(doc.scsi_product)].filter(Boolean).join(' ') || null);

  let nvme: NvmeHealth | null = null;
  if (nvmeLog) {
    const cw = num(nvmeLog.critical_warning);
    nvme = {
      percentageUsed: num(nvmeLog.percentage_used),
      availableSpare: num(nvmeLog.available_spare),
      availableSpareThreshold: num(nvmeLog.available_spare_threshold),
      mediaErrors: num(nvmeLog.media_errors),
      criticalWarning: cw,
      criticalWarnings: cw === null ? [] : decodeNvmeCriticalWarning(cw),
      unsafeShutdowns: num(nvmeLog.unsafe_shutdowns),
    };
  }

  // Attribute 194's raw value packs min/max into its upper bytes on many drives, so only
  // its low byte is a temperature, and only when smartctl gave no `temperature.current`.
  const raw194 = ataRaw(doc, 194);
  const temperatureC = num(obj(doc.temperature)?.current) ?? num(nvmeLog?.temperature) ?? (raw194 === null ? null : raw194 & 0xff);

  const report: SmartReport = {
    device: str(dev?.name) ?? fallback.device,
    type: str(dev?.type),
    protocol,
    model: str(doc.model_name) ?? scsiModel,
    serial: str(doc.serial_number),
    firmware: str(doc.firmware_version) ?? str(doc.scsi_revision),
    capacityBytes,
    capacity: capacityBytes === null ? null : formatCapacity(capacityBytes),
    smartPassed: typeof passed === 'boolean' ? passed : 'unknown',
    temperatureC,
    powerOnHours: num(obj(doc.power_on_time)?.hours) ?? num(nvmeLog?.power_on_hours) ?? ataRaw(doc, 9),
    reallocatedSectors: ataRaw(doc, 5),
    pendingSectors: ataRaw(doc, 197),
    offlineUncorrectable: ataRaw(doc, 198),
    grownDefects: num(doc.scsi_grown_defect_list),
    nvme,
    exitStatus,
    exitStatusBits: decodeSmartExitStatus(exitStatus),
    messages,
    // Bits 0 and 1 mean smartctl never got to read the disk; the other bits come with data.
    readable: (exitStatus & 0b11) === 0 && dev !== undefined,
    warnings: [],
    problem: null,
  };
  report.warnings = smartWarnings(report);
  report.problem = explainSmartProblem(report);
  return report;
}

/**
 * Says why smartctl got no data from a disk, naming the fix for the usual causes: the edge
 * lacks privileges, smartctl cannot tell the device type (USB bridges, virtual disks), or the
 * device does not exist. Null for a readable report.
 */
export function explainSmartProblem(r: SmartReport): string | null {
  if (r.readable) return null;
  const said = r.messages.map((m) => m.text).join('; ');
  const dev = r.device;
  if (/permission denied|operation not permitted/i.test(said)) {
    return (
      `smartctl cannot open ${dev} (${said}). Reading SMART data needs root, or the edge's user in the ` +
      'disk group plus CAP_SYS_RAWIO (CAP_SYS_ADMIN for NVMe), e.g. AmbientCapabilities= in its systemd unit'
    );
  }
  if (/unknown usb bridge/i.test(said)) {
    return (
      `${dev} sits behind a USB bridge smartctl does not know (${said}). Pass type "sat" (most USB disk ` +
      'enclosures), or "sntjmicron", "sntasmedia" or "sntrealtek" for USB NVMe enclosures'
    );
  }
  if (/unable to detect device type/i.test(said)) {
    return (
      `smartctl could not detect what kind of disk ${dev} is. Pass type ("sat", "nvme" or "scsi"); ` +
      'virtual disks (virtio /dev/vd*, zram, loop devices) have no SMART data at all'
    );
  }
  if (/no such device|no such file/i.test(said)) return `${dev} does not exist on this node (${said})`;
  if (/standby|sleep/i.test(said)) return `${dev} is in a low-power mode and was not woken (${said})`;
  const bits = r.exitStatusBits.join('; ');
  return `smartctl could not read ${dev} (exit status ${r.exitStatus}${bits ? `: ${bits}` : ''})${said ? `: ${said}` : ''}`;
}

/** Plain-English concerns a person would act on, read from a report. */
function smartWarnings(r: SmartReport): string[] {
  const w: string[] = [];
  if (r.smartPassed === false) w.push('SMART overall health self-assessment FAILED: back up this disk and replace it');
  if (r.reallocatedSectors) w.push(`${r.reallocatedSectors} reallocated sectors (the disk has remapped bad sectors)`);
  if (r.pendingSectors) w.push(`${r.pendingSectors} sectors pending reallocation (currently unreadable)`);
  if (r.offlineUncorrectable) w.push(`${r.offlineUncorrectable} offline uncorrectable sectors`);
  if (r.grownDefects) w.push(`${r.grownDefects} grown defects`);
  const n = r.nvme;
  if (n) {
    for (const c of n.criticalWarnings) w.push(`NVMe critical warning: ${c}`);
    if (n.percentageUsed !== null && n.percentageUsed >= 80) w.push(`${n.percentageUsed}% of rated write endurance used`);
    if (n.availableSpare !== null && n.availableSpareThreshold !== null && n.availableSpare <= n.availableSpareThreshold) {
      w.push(`available spare ${n.availableSpare}% is at or below the threshold ${n.availableSpareThreshold}%`);
    }
    if (n.mediaErrors) w.push(`${n.mediaErrors} media and data integrity errors`);
  }
  return w;
}
