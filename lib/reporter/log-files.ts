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

/**
 * One log file per task and run, `.cache/logs/<env>/<run>/task_<id>.log` (mode 0600), written from the
 * same events as the console: reason, commands, output, exit codes, attempts and durations.
 * `.cache/logs/<env>/latest` points at the newest run.
 */
export class LogFiles implements Reporter {
  private directory: string | undefined;
  private readonly descriptors = new Map<TaskId, number>();

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
        this.closeTask(event.task);
        return;
      case 'task-failed':
        if (event.attempts === 0 && !this.descriptors.has(event.task)) return;
        this.append(event.task, `== failed after ${event.attempts} attempt(s) in ${formatDuration(event.durationMs)}: ${renderFailure(event.failure)}`);
        this.closeTask(event.task);
        return;
      default:
        return;
    }
  }

  close(): void {
    for (const task of [...this.descriptors.keys()]) this.closeTask(task);
  }

  private append(task: TaskId, line: string): void {
    if (!this.directory) return;
    let descriptor = this.descriptors.get(task);
    if (descriptor === undefined) {
      descriptor = fs.openSync(path.join(this.directory, logFileName(task)), 'a', 0o600);
      this.descriptors.set(task, descriptor);
    }
    fs.writeSync(descriptor, `${line}\n`);
  }

  private closeTask(task: TaskId): void {
    const descriptor = this.descriptors.get(task);
    if (descriptor === undefined) return;
    fs.closeSync(descriptor);
    this.descriptors.delete(task);
  }
}
