import { readFileSync } from 'node:fs';

/**
 * True when the process exists and is not a zombie. `kill(pid, 0)` is not enough: an
 * orphan killed with its group stays a zombie until PID 1 reaps it, and some sandboxes'
 * PID 1 never does.
 */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
