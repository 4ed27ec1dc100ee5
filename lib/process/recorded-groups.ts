import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
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

/**
 * The environment variable every program a run starts inherits, set to the run's marker (a random token in
 * its record's first line): a program the engine started but had not recorded yet when it was killed (the
 * engine descheduled between the fork and the write) is still found by it.
 */
export const runMarkerVariable = 'ONBOARDER_RUN';

interface GroupsRecord {
  readonly bootId: string;
  readonly marker?: string;
  /** When the record was last written, in clock ticks after boot: the engine was alive then. */
  readonly recordedAtTicks: number;
  readonly groups: readonly RecordedGroup[];
}

/**
 * One line of the record: its first line names the boot; then a group started, ended, or was seen alive
 * after its leader exited. Each line carries when it was written (`at`, clock ticks after boot).
 */
type RecordLine =
  | { readonly bootId: string; readonly marker: string }
  | { readonly started: number; readonly startTicks: number; readonly program: string; readonly at: number }
  | { readonly ended: number; readonly at: number }
  | { readonly seen: number; readonly at: number };

/**
 * The process groups a run's tasks are running, kept in a file beside the run lock (mode 0600). An engine
 * killed with SIGKILL cannot stop its tasks' programs; the next run reads this file and does
 * (stopLeftoverGroups). The file is a journal: one line appended when a group starts or ends, on a
 * descriptor kept open for the run, so a program start costs one write, not a rewrite and a rename. A
 * kill cannot tear a write the kernel has taken; a line torn by a full disk is skipped when read.
 */
export class RecordedGroups implements GroupListener {
  private readonly boot = bootId();
  /** This run's marker: the value of runMarkerVariable in every program it starts. */
  readonly marker = randomBytes(12).toString('hex');
  private descriptor: number | undefined;
  private unsaved = false;

  /** `warn` gets one line if the file cannot be written (a full disk): the run goes on without it. */
  constructor(
    private readonly file: string,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /**
   * Writes the record's first line (the boot and this run's marker) before any program starts, and gives
   * the engine's environment the marker, which every program it starts then inherits.
   */
  open(): void {
    process.env[runMarkerVariable] = this.marker;
    this.append(undefined);
  }

  groupStarted(group: number, program: string): void {
    const startTicks = processStat(group)?.startTicks;
    // Gone already: nothing to stop later.
    if (startTicks === undefined) return;
    this.append({ started: group, startTicks, program, at: ticksSinceBoot() });
  }

  groupEnded(group: number): void {
    this.append({ ended: group, at: ticksSinceBoot() });
  }

  /** Written again: what the leader left running was seen alive now, so it counts as the group's. */
  groupOutlivedLeader(group: number): void {
    this.append({ seen: group, at: ticksSinceBoot() });
  }

  /** The run is over and every group was stopped: nothing is left to record. */
  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
    try {
      unlinkSync(this.file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Left behind (a directory that went read-only): the next run reads it and finds nothing of this run's alive.
      if (code !== 'ENOENT') this.warn(`could not remove ${this.file} (${code}): the next run reads it and finds nothing left running`);
    }
  }

  private append(line: RecordLine | undefined): void {
    if (this.unsaved) return;
    try {
      if (this.descriptor === undefined) {
        // A record left by an earlier run was read and removed before this run started anything.
        this.descriptor = openSync(this.file, 'w', 0o600);
        writeSync(this.descriptor, `${JSON.stringify({ bootId: this.boot, marker: this.marker })}\n`);
      }
      if (line === undefined) return;
      const text = `${JSON.stringify(line)}\n`;
      if (writeSync(this.descriptor, text) !== Buffer.byteLength(text)) throw new Error('the disk took part of a line');
    } catch (error) {
      // Nothing more is written: the record would have gaps a reader could not see.
      this.unsaved = true;
      this.warn(`could not record the running process groups in ${this.file} (${(error as Error).message}): if this run is killed, the next one cannot stop what it left running`);
    }
  }
}

/**
 * Stops what a killed run left running: each group recorded in `file` that is still ours gets TERM, then
 * KILL after `graceMs`. A group is ours when one of its live members started between its leader's recorded
 * start and the record's last line (the engine was alive and the group existed then; a group id is not
 * reused while any member lives), on the same boot. A line is appended when a leader exits and leaves
 * others running, so what it left in the background counts. Any other process, a reused id above all, is
 * never signalled. Returns the groups stopped, as `<id> (<program>)`, and removes the file.
 */
export async function stopLeftoverGroups(file: string, graceMs: number): Promise<string[]> {
  const recorded = readGroupsRecord(file);
  if (!recorded) return [];
  const live = recorded.bootId === bootId() ? liveProcesses() : [];
  const ours = recorded.groups.filter((group) => live.some((stat) => stat.group === group.group && stat.startTicks >= group.startTicks && stat.startTicks <= recorded.recordedAtTicks));
  // And the groups of live programs that carry the run's marker, recorded or not: never this process's own
  // group, and none at all when this process carries it (a program of that run, whose ancestors carry it too).
  const known = new Set(ours.map((group) => group.group));
  const ownGroup = processStat(process.pid)?.group;
  const searched = recorded.marker !== undefined && process.env[runMarkerVariable] !== recorded.marker;
  const marked = searched ? markedGroups(live, recorded.marker!).filter((group) => !known.has(group.group) && group.group !== ownGroup) : [];
  const stopping = [...ours, ...marked];
  if (stopping.length > 0) await stopGroups(stopping.map((group) => group.group), graceMs);
  // Read once: a record that cannot be removed (a read-only directory) is read again next time, harmlessly.
  try {
    unlinkSync(file);
  } catch {
    // Gone already, or kept by the file system.
  }
  return stopping.map((group) => `${group.group} (${group.program})`);
}

/** The process groups of live processes whose environment holds `ONBOARDER_RUN=<marker>`, named by the command of their first such member. */
function markedGroups(live: readonly (ProcessStat & { readonly pid: number })[], marker: string): { readonly group: number; readonly program: string }[] {
  const wanted = Buffer.from(`\0${runMarkerVariable}=${marker}\0`);
  const groups = new Map<number, string>();
  for (const stat of live) {
    if (stat.state === 'Z' || groups.has(stat.group)) continue;
    try {
      if (!Buffer.concat([Buffer.from('\0'), readFileSync(`/proc/${stat.pid}/environ`), Buffer.from('\0')]).includes(wanted)) continue;
      groups.set(stat.group, readFileSync(`/proc/${stat.pid}/comm`, 'utf8').trim());
    } catch {
      // Gone, or another user's: not ours to read, nor to stop.
    }
  }
  return [...groups].map(([group, program]) => ({ group, program }));
}

/** The groups still running when the record was last written, replayed from its lines. */
function readGroupsRecord(file: string): GroupsRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // Missing: the usual case.
    return undefined;
  }
  const lines = text.split('\n').flatMap((line) => {
    try {
      const parsed: unknown = JSON.parse(line);
      return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? [parsed as Partial<Record<string, unknown>>] : [];
    } catch {
      // Torn by a disk that filled up, or empty: it recorded nothing we can safely act on.
      return [];
    }
  });
  const header = lines[0];
  if (typeof header?.bootId !== 'string') return undefined;
  const marker = typeof header.marker === 'string' && /^[0-9a-f]{24}$/.test(header.marker) ? { marker: header.marker } : {};
  // Written whole by an earlier version: the list and its time are in the one line.
  if (Array.isArray(header.groups) && typeof header.recordedAtTicks === 'number') {
    const groups = (header.groups as RecordedGroup[]).filter((group) => Number.isInteger(group.group) && group.group > 1 && typeof group.startTicks === 'number');
    return { bootId: header.bootId, recordedAtTicks: header.recordedAtTicks, groups };
  }
  const groups = new Map<number, RecordedGroup>();
  let recordedAtTicks = 0;
  for (const line of lines.slice(1)) {
    if (typeof line.at !== 'number') continue;
    recordedAtTicks = Math.max(recordedAtTicks, line.at);
    if (Number.isInteger(line.started) && (line.started as number) > 1 && typeof line.startTicks === 'number') {
      groups.set(line.started as number, { group: line.started as number, startTicks: line.startTicks, program: String(line.program) });
    } else if (typeof line.ended === 'number') groups.delete(line.ended);
  }
  return { bootId: header.bootId, ...marker, recordedAtTicks, groups: [...groups.values()] };
}

/** The id, group and start of every live process, read from /proc once. */
function liveProcesses(): (ProcessStat & { readonly pid: number })[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => {
      const stat = processStat(Number(name));
      return stat ? [{ ...stat, pid: Number(name) }] : [];
    });
}

function ticksSinceBoot(): number {
  return Math.ceil(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * ticksPerSecond);
}
