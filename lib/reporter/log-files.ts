import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TaskId } from '../dsl/ids.js';
import type { EngineEvent } from '../scheduler/events.js';
import { describeRunReason } from '../scheduler/run-reason.js';
import { fileErrorCode } from '../state/prepare-directory.js';
import { ProgressLines, progressText } from './progress-text.js';
import { formatDuration, renderFailure } from './render-failure.js';
import type { Reporter } from './reporter.js';

/**
 * A file name for a task id: `deploy-cluster[cluster=osdc]` -> `task_deploy-cluster_cluster=osdc_.log`. An id
 * too long for a file name (long input values) keeps its first 150 characters and a hash of the whole.
 */
export function logFileName(task: TaskId): string {
  const name = task.replace(/[^A-Za-z0-9._=-]/g, '_');
  if (name.length <= 200) return `task_${name}.log`;
  return `task_${name.slice(0, 150)}-${createHash('sha256').update(task).digest('hex').slice(0, 16)}.log`;
}

/**
 * One log file per task and run, `.cache/logs/<env>/<run>/task_<id>.log` (mode 0600), written from the
 * same events as the console: reason, commands, output, exit codes, attempts and durations.
 * `.cache/logs/<env>/latest` points at the newest run that wrote any (one that only found tasks up to date
 * writes nothing).
 *
 * A file is created on its task's first line. The lines a turn of the event loop hands over (a chunk of a
 * program's output is hundreds of them) are written together at its end, in a microtask: before the
 * console shows them (it writes after the turn), so a killed run's logs hold at least what it showed. One
 * write per line was half the time of a task printing 2,000,000 lines. Both are synchronous: creating a
 * file costs the kernel 0.02-0.6 ms on ext4, less than handing it to libuv's thread pool and being woken
 * for the result, which measured 5% slower on 2000 one-process tasks (bench/README.md).
 */
export class LogFiles implements Reporter {
  private directory: string | undefined;
  private readonly progressLines = new ProgressLines();
  /** The open log of each task that has written a line and not ended. */
  private readonly descriptors = new Map<TaskId, number>();
  /** Tasks whose log file could not be created: the console still has every line. */
  private readonly unwritable = new Set<TaskId>();
  /** Whether the run's directory exists yet (see 'run-started'). */
  private created = false;
  /** Lines handed over in this turn and not written yet, by task. */
  private readonly pending = new Map<TaskId, string[]>();
  private flushQueued = false;

  /** `warn` gets one line when a log cannot be written (a full disk): the run goes on without it. */
  constructor(
    private readonly base: string,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  handle(event: EngineEvent): void {
    switch (event.type) {
      case 'run-started':
        // Made with the run's first line: a run that only finds tasks up to date writes none, and leaves
        // neither an empty directory nor a `latest` that leads to nothing.
        this.directory = path.join(this.base, event.runId);
        this.created = false;
        return;
      case 'task-started':
        this.append(event.task, `== ${event.at} attempt ${event.attempt}: ${describeRunReason(event.reason)}`);
        return;
      case 'task-command':
        this.append(event.task, `$ ${event.command}    (in ${event.cwd})`);
        return;
      case 'task-output':
        this.append(event.task, event.stream === 'stderr' ? `! ${event.line}` : event.line);
        return;
      case 'task-progress':
        if (this.progressLines.due(event)) this.append(event.task, progressText(event));
        return;
      case 'task-command-finished':
        this.append(event.task, `-> exit ${event.exitCode ?? event.signal} after ${formatDuration(event.durationMs)}`);
        return;
      case 'task-retrying':
        this.append(event.task, `== attempt ${event.attempt} failed: ${renderFailure(event.failure)}; retrying in ${formatDuration(event.delayMs)}`);
        return;
      case 'task-succeeded':
        this.append(event.task, `== succeeded after ${event.attempts} attempt(s) in ${formatDuration(event.durationMs)}`);
        this.end(event.task);
        return;
      case 'task-failed':
        if (event.attempts === 0 && !this.descriptors.has(event.task) && !this.pending.has(event.task)) return;
        this.append(event.task, `== failed after ${event.attempts} attempt(s) in ${formatDuration(event.durationMs)}: ${renderFailure(event.failure)}`);
        this.end(event.task);
        return;
      default:
        return;
    }
  }

  /** Writes what is pending and ends every log. */
  async close(): Promise<void> {
    this.flush();
    for (const task of [...this.descriptors.keys()]) this.end(task);
  }

  private append(task: TaskId, line: string): void {
    if (!this.directory || this.unwritable.has(task)) return;
    let lines = this.pending.get(task);
    if (!lines) this.pending.set(task, (lines = []));
    lines.push(line);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    for (const task of [...this.pending.keys()]) this.writePending(task);
  }

  private writePending(task: TaskId): void {
    const lines = this.pending.get(task);
    if (!lines) return;
    this.pending.delete(task);
    if (!this.directory || this.unwritable.has(task) || !this.ensureRunDirectory()) return;
    let descriptor = this.descriptors.get(task);
    if (descriptor === undefined) {
      const file = path.join(this.directory, logFileName(task));
      try {
        descriptor = fs.openSync(file, 'a', 0o600);
      } catch (error) {
        this.unwritable.add(task);
        this.warn(`no log file for ${task}: ${fileErrorCode(error)} creating ${file}; the console has its output`);
        return;
      }
      this.descriptors.set(task, descriptor);
    }
    try {
      // A write the disk cuts short is followed by one that says why (ENOSPC), warned about below.
      const bytes = Buffer.from(`${lines.join('\n')}\n`);
      for (let written = 0; written < bytes.length; ) written += fs.writeSync(descriptor, bytes, written);
    } catch (error) {
      // A full disk or a failing one: every other log would fail the same way. The run goes on.
      this.warn(`task logs stopped: ${fileErrorCode(error)} writing ${path.join(this.directory, logFileName(task))}; the console has every line`);
      this.directory = undefined;
      this.pending.clear();
      for (const open of [...this.descriptors.keys()]) this.end(open);
    }
  }

  /**
   * The run's directory, made on its first line, and `latest` pointed at it. The CLI checked the base
   * directory before the run; should this still fail (a full disk), the run goes on without log files:
   * the console has every line.
   */
  private ensureRunDirectory(): boolean {
    if (this.created) return true;
    const directory = this.directory!;
    try {
      fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
    } catch (error) {
      this.warn(`no task logs for this run: ${fileErrorCode(error)} creating ${directory}; the console has every line`);
      this.directory = undefined;
      this.pending.clear();
      return false;
    }
    this.created = true;
    const latest = path.join(this.base, 'latest');
    try {
      fs.rmSync(latest, { force: true });
      fs.symlinkSync(path.basename(directory), latest);
    } catch {
      // Something not a link in its place: the logs are still under the run's id.
    }
    return true;
  }

  private end(task: TaskId): void {
    this.writePending(task);
    const descriptor = this.descriptors.get(task);
    if (descriptor === undefined) return;
    this.descriptors.delete(task);
    try {
      fs.closeSync(descriptor);
    } catch {
      // Closing can report a write the disk could not keep; the warning above covers it.
    }
  }
}
