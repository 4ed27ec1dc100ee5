import { readFileSync } from 'node:fs';

/** A process as /proc/<pid>/stat tells it: its process group and its start, in clock ticks after boot. */
export interface ProcessStat {
  readonly group: number;
  readonly startTicks: number;
}

/** /proc/<pid>/stat's group and start time; undefined once the process is gone (or where /proc is not). */
export function processStat(pid: number): ProcessStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { group: Number(fields[2]), startTicks: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** This boot's id: a start time in ticks means nothing on another boot. */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
