import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomicSync } from '../fs/atomic-write.js';
import { bootId, processStat, type ProcessStat } from '../fs/proc-stat.js';
import { stopGroups, type GroupListener } from './process-groups.js';

/** Clock ticks a second in /proc's times (USER_HZ: 100 on every Linux Node runs on). */
const ticksPerSecond = 100;

interface RecordedGroup {
  readonly group: number;
  /** The leader's start, in clock ticks after boot (/proc/<pid>/stat field 22). */
  readonly startTicks: number;
  readonly program: string;
}

interface GroupsFile {
  readonly bootId: string;
  /** When the file was last written, in clock ticks after boot: the engine was alive then. */
  readonly recordedAtTicks: number;
  readonly groups: readonly RecordedGroup[];
}

/**
 * The process groups a run's tasks are running, kept in a file beside the run lock (mode 0600), rewritten
 * whenever one starts or ends. An engine killed with SIGKILL cannot stop its tasks' programs; the next run
 * reads this file and does (stopLeftoverGroups). Written whole and renamed into place, so a kill leaves the
 * old or the new list.
 */
export class RecordedGroups implements GroupListener {
  private readonly groups = new Map<number, RecordedGroup>();
  private readonly boot = bootId();

  private unsaved = false;

  /** `warn` gets one line if the file cannot be written (a full disk): the run goes on without it. */
  constructor(
    private readonly file: string,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  groupStarted(group: number, program: string): void {
    const startTicks = processStat(group)?.startTicks;
    // Gone already: nothing to stop later.
    if (startTicks === undefined) return;
    this.groups.set(group, { group, startTicks, program });
    this.save();
  }

  groupEnded(group: number): void {
    if (this.groups.delete(group)) this.save();
  }

  /** Written again: what the leader left running was seen alive now, so it counts as the group's. */
  groupOutlivedLeader(group: number): void {
    if (this.groups.has(group)) this.save();
  }

  /** The run is over and every group was stopped: nothing is left to record. */
  close(): void {
    this.groups.clear();
    this.save();
  }

  private save(): void {
    try {
      if (this.groups.size === 0) return rmSync(this.file, { force: true });
      const contents: GroupsFile = { bootId: this.boot, recordedAtTicks: ticksSinceBoot(), groups: [...this.groups.values()] };
      writeFileAtomicSync(this.file, `${JSON.stringify(contents)}\n`);
    } catch (error) {
      if (this.unsaved) return;
      this.unsaved = true;
      this.warn(`could not record the running process groups in ${this.file} (${(error as Error).message}): if this run is killed, the next one cannot stop what it left running`);
    }
  }
}

/**
 * Stops what a killed run left running: each group recorded in `file` that is still ours gets TERM, then
 * KILL after `graceMs`. A group is ours when one of its live members started between its leader's recorded
 * start and the file's last write (the engine was alive and the group existed then; a group id is not
 * reused while any member lives), on the same boot. The file is written again when a leader exits and
 * leaves others running, so what it left in the background counts. Any other process, a reused id above all, is never
 * signalled. Returns the groups stopped, as `<id> (<program>)`, and removes the file.
 */
export async function stopLeftoverGroups(file: string, graceMs: number): Promise<string[]> {
  const recorded = readGroupsFile(file);
  if (!recorded) return [];
  const live = recorded.bootId === bootId() ? liveProcesses() : [];
  const ours = recorded.groups.filter((group) => live.some((stat) => stat.group === group.group && stat.startTicks >= group.startTicks && stat.startTicks <= recorded.recordedAtTicks));
  if (ours.length > 0) await stopGroups(ours.map((group) => group.group), graceMs);
  rmSync(file, { force: true });
  return ours.map((group) => `${group.group} (${group.program})`);
}

function readGroupsFile(file: string): GroupsFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as GroupsFile;
    const valid = typeof parsed.bootId === 'string' && typeof parsed.recordedAtTicks === 'number' && Array.isArray(parsed.groups);
    return valid ? { ...parsed, groups: parsed.groups.filter((group) => Number.isInteger(group.group) && group.group > 1 && typeof group.startTicks === 'number') } : undefined;
  } catch {
    // Missing (the usual case), or torn by a disk that failed: there is nothing we can safely signal.
    return undefined;
  }
}

/** The group and start of every live process, read from /proc once. */
function liveProcesses(): ProcessStat[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => processStat(Number(name)))
    .filter((stat): stat is ProcessStat => stat !== undefined);
}

function ticksSinceBoot(): number {
  return Math.ceil(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * ticksPerSecond);
}
