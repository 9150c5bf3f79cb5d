/**
 * The mount table and which of its entries are disks worth reporting.
 *
 * Kept: block-device filesystems (ext4, vfat, btrfs, xfs, ...), network filesystems (nfs, cifs)
 * and fuse mounts, `overlay` (an overlayroot Pi or a container's `/`), and `tmpfs` outside
 * `/dev`, `/run`, `/proc` and `/sys`: a RAM-backed `/tmp` or log2ram's `/var/log`, common on
 * SD-card Pis, does fill up and then breaks things, while `/run`, `/run/user/N` and `/dev/shm`
 * are small, managed by systemd and would only crowd the list.
 * Skipped: kernel pseudo filesystems (proc, sysfs, cgroup, devtmpfs, ...), squashfs (snaps and
 * live images, always 100% full by design), anything under `/snap`, and container runtimes'
 * per-container mounts under `/var/lib/docker` and `/var/lib/containers` (dozens on a Docker host,
 * all views of the same disk).
 */

/** One line of /proc/mounts. */
export interface MountEntry {
  device: string;
  mountpoint: string;
  fstype: string;
  options: string[];
}

/**
 * Parses /proc/mounts (or /proc/self/mounts), decoding the octal escapes the kernel writes for
 * space, tab, newline and backslash in paths.
 * @example parseMounts('/dev/mmcblk0p2 / ext4 rw,noatime 0 0\n') // [{ device: '/dev/mmcblk0p2', mountpoint: '/', fstype: 'ext4', options: ['rw', 'noatime'] }]
 */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // A complete line has six columns; fewer means the header-less table was cut by the read cap.
    if (cols.length < 6) continue;
    out.push({ device: unescapeMount(cols[0]!), mountpoint: unescapeMount(cols[1]!), fstype: cols[2]!, options: cols[3]!.split(',') });
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

const PSEUDO_FSTYPES = new Set([
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs',
  'efivarfs', 'fusectl', 'hugetlbfs', 'mqueue', 'nfsd', 'nsfs', 'proc', 'pstore', 'ramfs', 'rpc_pipefs',
  'securityfs', 'selinuxfs', 'squashfs', 'sysfs', 'tracefs',
]);

const SYSTEM_PREFIXES = ['/dev', '/proc', '/sys', '/run'];
const SKIPPED_PREFIXES = ['/snap', '/var/lib/docker', '/var/lib/containers'];

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix + '/');
}

/** True for a mount `get_status` reports as a disk; see the module comment for the rules. */
export function isReportedMount(m: MountEntry): boolean {
  if (PSEUDO_FSTYPES.has(m.fstype)) return false;
  if (SKIPPED_PREFIXES.some((p) => under(m.mountpoint, p) && m.mountpoint !== p)) return false;
  if (m.fstype === 'tmpfs' && SYSTEM_PREFIXES.some((p) => under(m.mountpoint, p))) return false;
  // A kernel pseudo mount under /proc or /sys of a type not listed above (lxcfs, ...) is not a disk either.
  if (m.fstype !== 'tmpfs' && (under(m.mountpoint, '/proc') || under(m.mountpoint, '/sys'))) return false;
  return true;
}

/**
 * The reported mounts, one per mountpoint: when something is mounted over an existing mount, the
 * later line is the one visible at that path, so it wins.
 */
export function selectDisks(entries: MountEntry[]): MountEntry[] {
  const byMountpoint = new Map<string, MountEntry>();
  for (const m of entries) {
    byMountpoint.delete(m.mountpoint);
    if (isReportedMount(m)) byMountpoint.set(m.mountpoint, m);
  }
  return [...byMountpoint.values()];
}

/** The fields of `fs.statfs` that sizes are computed from. */
export interface StatfsLike {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
}

/** Sizes of one filesystem in bytes. */
export interface DiskUsage {
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
  /** Like df's Use%: used / (used + available), so blocks reserved for root count as unavailable. */
  percent: number;
}

/** @example diskUsage({ bsize: 4096, blocks: 1000, bfree: 600, bavail: 550 }) // { ..., percent: 42.1 } */
export function diskUsage(s: StatfsLike): DiskUsage {
  const used = (s.blocks - s.bfree) * s.bsize;
  const available = s.bavail * s.bsize;
  return {
    totalBytes: s.blocks * s.bsize,
    usedBytes: used,
    availableBytes: available,
    percent: used + available > 0 ? Math.round((used / (used + available)) * 1000) / 10 : 0,
  };
}
