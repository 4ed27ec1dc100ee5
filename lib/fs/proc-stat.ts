import { readdirSync, readFileSync } from 'node:fs';

/** A process as /proc/<pid>/stat tells it: its state, process group and start, in clock ticks after boot. */
export interface ProcessStat {
  /** R, S, D, T, Z (a zombie: dead, waiting for its parent or init to reap it)... */
  readonly state: string;
  readonly group: number;
  readonly startTicks: number;
}

/** /proc/<pid>/stat's group and start time; undefined once the process is gone (or where /proc is not). */
export function processStat(pid: number): ProcessStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, group: Number(fields[2]), startTicks: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/**
 * Whether a process group has a member that is not a zombie. A killed process stays in its group as a
 * zombie until its parent reaps it, and an orphan's reaper is init, which may take a second or more (some
 * container and VM inits reap on a timer): signal 0 still finds the group then, although nothing in it
 * runs. Undefined where /proc cannot tell.
 */
export function groupHasLiveMember(group: number): boolean | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    if (pid.charCodeAt(0) > 57) continue;
    const stat = processStat(Number(pid));
    if (stat && stat.group === group && stat.state !== 'Z') return true;
  }
  return false;
}

/** This boot's id: a start time in ticks means nothing on another boot. */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
