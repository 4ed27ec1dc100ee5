import fs from 'node:fs';
import path from 'node:path';
import type { TaskId } from '../dsl/ids.js';
import { keyedRecord } from '../dsl/keyed-record.js';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { fileErrorCode, isPathError, unusablePath } from './prepare-directory.js';
import { issueLine } from '../dsl/schema-issue.js';
import { journalEntrySchema, snapshotSchema } from './state-schema.js';
import { applyChange, type StateChange } from './state-changes.js';
import { StateWriteFailed, type LastAttempt, type Stamp, type StateStore, type TaskRecord } from './state-store.js';

type JournalEntry = StateChange;

interface Snapshot {
  readonly version: 1;
  readonly tasks: Record<string, TaskRecord>;
}

/**
 * The embedded state store: `state.json` (a snapshot, replaced atomically) plus `state.journal` (one JSON
 * line per change, written before the call returns; fsynced when it removes a stamp). Appending keeps each
 * change O(1) on a 10,000-task run; close() folds the journal into the snapshot. A torn last journal line
 * (a kill mid-write) is dropped; anything else unreadable is an error and the files are left as they are.
 * A change that cannot be written (a full disk) is not applied and throws; if close() cannot write the
 * snapshot, the journal stays and is read on the next open.
 */
export class JsonStateStore implements StateStore {
  private journalDescriptor: number | undefined;
  /** The journal's length after its last whole line. */
  private journalBytes = 0;

  private constructor(
    private readonly snapshotFile: string,
    private readonly journalFile: string,
    private readonly tasks: Map<TaskId, TaskRecord>,
    readonly warnings: readonly string[],
    /** The journal's length up to its last whole line, as read: a torn tail after it is cut before appending. */
    private readonly journalWholeBytes: number,
  ) {}

  get location(): string {
    return this.snapshotFile;
  }

  static open(directory: string): Result<JsonStateStore, ConfigurationFailure> {
    try {
      return JsonStateStore.load(directory);
    } catch (error) {
      if (isPathError(error)) return fail(unusablePath(error.path ?? directory, "the environment's state", error));
      const failure = error as NodeJS.ErrnoException;
      return fail({ reason: 'state-corrupt', file: failure.path ?? directory, detail: `unreadable (${failure.code ?? failure.message})` });
    }
  }

  private static load(directory: string): Result<JsonStateStore, ConfigurationFailure> {
    const snapshotFile = path.join(directory, 'state.json');
    const journalFile = path.join(directory, 'state.journal');
    const tasks = new Map<TaskId, TaskRecord>();
    const warnings: string[] = [];

    // A directory, a pipe or a device in their place: reading a pipe would wait forever, a device never end.
    for (const file of [snapshotFile, journalFile]) {
      const stats = fs.statSync(file, { throwIfNoEntry: false });
      if (stats && !stats.isFile()) return fail({ reason: 'state-corrupt', file, detail: 'not a regular file' });
    }
    const snapshotText = readIfExists(snapshotFile);
    if (snapshotText !== undefined) {
      const parsed = parseSnapshot(snapshotText);
      if (!parsed.ok) return fail({ reason: 'state-corrupt', file: snapshotFile, detail: parsed.error });
      for (const [id, record] of Object.entries(parsed.value.tasks)) tasks.set(id as TaskId, record);
    }

    const journal = readIfExists(journalFile, null);
    let wholeBytes = journal?.length ?? 0;
    if (journal !== undefined) {
      // Every change is written as one line ending in a newline, and its task goes on only once all of it
      // was: text after the last newline is a change cut short, never acted on.
      const lastNewline = journal.lastIndexOf(0x0a);
      if (lastNewline + 1 < journal.length) {
        wholeBytes = lastNewline + 1;
        warnings.push(`dropped an incomplete last line of ${journalFile} (a run was killed, or the disk filled, while writing it); it is cut off before the next change is written`);
      }
      const lines = journal.subarray(0, wholeBytes).toString('utf8').split('\n');
      for (const [index, line] of lines.entries()) {
        if (line.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          return fail({ reason: 'state-corrupt', file: journalFile, detail: `line ${index + 1} is not valid JSON` });
        }
        const entry = journalEntrySchema.safeParse(value);
        if (!entry.success) return fail({ reason: 'state-corrupt', file: journalFile, detail: `line ${index + 1} is not a change Onboarder writes (${issueLine(entry.error)})` });
        applyChange(tasks, entry.data as JournalEntry);
      }
    }
    return ok(new JsonStateStore(snapshotFile, journalFile, tasks, warnings, wholeBytes));
  }

  record(id: TaskId): TaskRecord | undefined {
    return this.tasks.get(id);
  }

  records(): ReadonlyMap<TaskId, TaskRecord> {
    return this.tasks;
  }

  /**
   * Durable (fsynced) only when it removes a stamp: that removal must survive even a power loss before the
   * task's first side effect, or a half-done task could look done. Every append reaches the kernel before
   * the call returns, so a killed process loses nothing; losing a success record to a power cut only makes
   * the task run again.
   */
  async markStarted(id: TaskId, startedAt: string): Promise<void> {
    this.append({ op: 'start', id, at: startedAt }, this.tasks.get(id)?.stamp !== undefined);
  }

  async markSucceeded(id: TaskId, stamp: Stamp): Promise<void> {
    this.append({ op: 'success', id, stamp }, false);
  }

  async markFinishedWithoutSuccess(id: TaskId, last: LastAttempt): Promise<void> {
    this.append({ op: 'finish', id, last }, false);
  }

  async reset(id: TaskId): Promise<void> {
    this.append({ op: 'reset', id }, true);
  }

  /** `state pull`: the records become `records`, written whole as the snapshot (the journal goes). */
  async replaceAll(records: ReadonlyMap<TaskId, TaskRecord>): Promise<void> {
    if (this.journalDescriptor !== undefined) fs.closeSync(this.journalDescriptor);
    this.journalDescriptor = undefined;
    this.tasks.clear();
    for (const [task, record] of records) this.tasks.set(task, record);
    const tasks = keyedRecord<TaskRecord>();
    for (const id of [...this.tasks.keys()].sort((a, b) => a.localeCompare(b))) tasks[id] = this.tasks.get(id)!;
    await writeFileAtomic(this.snapshotFile, `${JSON.stringify({ version: 1, tasks } satisfies Snapshot, null, 1)}\n`);
    fs.rmSync(this.journalFile, { force: true });
  }

  async close(): Promise<void> {
    if (this.journalDescriptor === undefined) return;
    fs.closeSync(this.journalDescriptor);
    this.journalDescriptor = undefined;
    const tasks = keyedRecord<TaskRecord>();
    for (const id of [...this.tasks.keys()].sort((a, b) => a.localeCompare(b))) tasks[id] = this.tasks.get(id)!;
    const snapshot: Snapshot = { version: 1, tasks };
    await writeFileAtomic(this.snapshotFile, `${JSON.stringify(snapshot, null, 1)}\n`);
    // Replaying the journal over the new snapshot is harmless, so a crash between these two steps loses nothing.
    fs.rmSync(this.journalFile, { force: true });
  }

  /**
   * Applies a change and appends it to the journal. A write that fails or is cut short (a full disk) is cut
   * back off the journal, so a torn line never sits between whole ones, and throws StateWriteFailed.
   */
  private append(entry: JournalEntry, durable: boolean): void {
    try {
      if (this.journalDescriptor === undefined) {
        fs.mkdirSync(path.dirname(this.journalFile), { recursive: true, mode: 0o700 });
        this.journalDescriptor = fs.openSync(this.journalFile, 'a', 0o600);
        this.journalBytes = this.journalWholeBytes;
        // A torn tail a killed run left: appended after, it would make a whole line unreadable.
        if (fs.fstatSync(this.journalDescriptor).size !== this.journalBytes) fs.ftruncateSync(this.journalDescriptor, this.journalBytes);
      }
      const line = Buffer.from(`${JSON.stringify(entry)}\n`);
      try {
        // A write can be short (the disk filled mid-line): the rest is written, or its error thrown.
        for (let written = 0; written < line.length; ) written += fs.writeSync(this.journalDescriptor, line, written, line.length - written);
        if (durable) fs.fdatasyncSync(this.journalDescriptor);
      } catch (error) {
        try {
          fs.ftruncateSync(this.journalDescriptor, this.journalBytes);
        } catch {
          // Nothing more to do: a torn last line is dropped when the journal is read.
        }
        throw error;
      }
      this.journalBytes += line.length;
    } catch (error) {
      throw new StateWriteFailed(this.journalFile, fileErrorCode(error), entry.op === 'reset-all' ? 'the reset' : `'${entry.op}' of ${entry.id}`);
    }
    applyChange(this.tasks, entry);
  }
}

/**
 * Moves an environment's state files aside as `<name>.<time>` (--reset-state): kept, never read again, and
 * never deleted by the engine. Returns the names they were given.
 */
export function moveStateAside(directory: string, at: Date): string[] {
  const suffix = at.toISOString().replace(/[:.]/g, '-');
  const moved: string[] = [];
  for (const name of ['state.json', 'state.journal']) {
    const file = path.join(directory, name);
    if (!fs.existsSync(file)) continue;
    fs.renameSync(file, `${file}.${suffix}`);
    moved.push(`${name}.${suffix}`);
  }
  return moved;
}

function readIfExists(file: string): string | undefined;
function readIfExists(file: string, encoding: null): Buffer | undefined;
function readIfExists(file: string, encoding: 'utf8' | null = 'utf8'): string | Buffer | undefined {
  try {
    return fs.readFileSync(file, encoding === null ? undefined : encoding);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseSnapshot(text: string): Result<Snapshot, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(`not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || (value as Snapshot).version !== 1) {
    return fail('not an Onboarder state file (expected {"version": 1, "tasks": {...}})');
  }
  const parsed = snapshotSchema.safeParse(value);
  return parsed.success ? ok(parsed.data as Snapshot) : fail(`not an Onboarder state file: ${issueLine(parsed.error)}`);
}
