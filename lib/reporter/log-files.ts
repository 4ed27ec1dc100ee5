import fs from 'node:fs';
import path from 'node:path';
import type { TaskId } from '../dsl/ids.js';
import type { EngineEvent } from '../scheduler/events.js';
import { describeRunReason } from '../scheduler/run-reason.js';
import { formatDuration, renderFailure } from './render-failure.js';
import type { Reporter } from './reporter.js';

/** A file name for a task id: `deploy-cluster[cluster=osdc]` -> `task_deploy-cluster_cluster=osdc_.log`. */
export function logFileName(task: TaskId): string {
  return `task_${task.replace(/[^A-Za-z0-9._=-]/g, '_')}.log`;
}

/** A task's log file: lines wait in `pending` until the file is open, then are written as they come. */
interface TaskLog {
  descriptor: number | undefined;
  pending: string[];
  ended: boolean;
}

/**
 * One log file per task and run, `.cache/logs/<env>/<run>/task_<id>.log` (mode 0600), written from the
 * same events as the console: reason, commands, output, exit codes, attempts and durations.
 * `.cache/logs/<env>/latest` points at the newest run.
 *
 * Creating a file costs the kernel 0.02-0.6 ms on an ext4 disk, so files are opened off the event loop
 * (the scheduler keeps starting tasks meanwhile); once open, each line is written before handle() returns,
 * so a killed run loses at most the lines of files still being opened. close() waits for every file.
 */
export class LogFiles implements Reporter {
  private directory: string | undefined;
  private readonly logs = new Map<TaskId, TaskLog>();
  private readonly opening = new Set<Promise<void>>();

  constructor(private readonly base: string) {}

  handle(event: EngineEvent): void {
    switch (event.type) {
      case 'run-started': {
        this.directory = path.join(this.base, event.runId);
        fs.mkdirSync(this.directory, { recursive: true, mode: 0o700 });
        const latest = path.join(this.base, 'latest');
        fs.rmSync(latest, { force: true });
        fs.symlinkSync(event.runId, latest);
        return;
      }
      case 'task-started':
        this.append(event.task, `== ${event.at} attempt ${event.attempt}: ${describeRunReason(event.reason)}`);
        return;
      case 'task-command':
        this.append(event.task, `$ ${event.command}    (in ${event.cwd})`);
        return;
      case 'task-output':
        this.append(event.task, event.stream === 'stderr' ? `! ${event.line}` : event.line);
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
        if (event.attempts === 0 && !this.logs.has(event.task)) return;
        this.append(event.task, `== failed after ${event.attempts} attempt(s) in ${formatDuration(event.durationMs)}: ${renderFailure(event.failure)}`);
        this.end(event.task);
        return;
      default:
        return;
    }
  }

  /** Ends every log and resolves when all of them are written and closed. */
  async close(): Promise<void> {
    for (const task of [...this.logs.keys()]) this.end(task);
    while (this.opening.size > 0) await Promise.all(this.opening);
  }

  private append(task: TaskId, line: string): void {
    if (!this.directory) return;
    let log = this.logs.get(task);
    if (!log) {
      log = { descriptor: undefined, pending: [], ended: false };
      this.logs.set(task, log);
      this.open(task, log, path.join(this.directory, logFileName(task)));
    }
    if (log.descriptor === undefined) log.pending.push(`${line}\n`);
    else fs.writeSync(log.descriptor, `${line}\n`);
  }

  private open(task: TaskId, log: TaskLog, file: string): void {
    const opened = new Promise<void>((resolve) => {
      // fs.open with a callback: a raw descriptor, so later lines are plain synchronous writes.
      fs.open(file, 'a', 0o600, (error, descriptor) => {
        if (error) {
          // An unwritable log directory must not fail the deployment; the console still has every line.
          log.pending = [];
          if (this.logs.get(task) === log) this.logs.delete(task);
        } else {
          log.descriptor = descriptor;
          if (log.pending.length > 0) fs.writeSync(descriptor, log.pending.join(''));
          log.pending = [];
          if (log.ended) this.closeDescriptor(task, log);
        }
        resolve();
      });
    });
    this.opening.add(opened);
    void opened.finally(() => this.opening.delete(opened));
  }

  private end(task: TaskId): void {
    const log = this.logs.get(task);
    if (!log) return;
    log.ended = true;
    if (log.descriptor !== undefined) this.closeDescriptor(task, log);
  }

  private closeDescriptor(task: TaskId, log: TaskLog): void {
    fs.closeSync(log.descriptor!);
    log.descriptor = undefined;
    if (this.logs.get(task) === log) this.logs.delete(task);
  }
}
