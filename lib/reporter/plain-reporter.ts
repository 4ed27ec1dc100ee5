import type { Writable } from 'node:stream';
import type { TaskId } from '../dsl/ids.js';
import type { EngineEvent } from '../scheduler/events.js';
import { describeRunReason, describeSkipReason } from '../scheduler/run-reason.js';
import type { HeldOutput } from './held-output.js';
import { formatDuration, renderFailure } from './render-failure.js';
import { LineWriter } from './line-writer.js';
import { ProgressLines, progressText } from './progress-text.js';
import type { Reporter } from './reporter.js';
import { summarizeRun } from './summary.js';

export type OutputMode = 'interleaved' | 'group';

/**
 * Plain lines for CI and pipes: each prefixed with its task, no ANSI codes. In `group` mode a task's output
 * is held back (see HeldOutput) and printed whole when the task ends, so parallel tasks do not interleave.
 */
export class PlainReporter implements Reporter {
  private readonly held = new Map<TaskId, HeldOutput>();
  private readonly out: LineWriter;
  private readonly progressLines = new ProgressLines();

  /**
   * `holdOutput`: group mode, with what holds a task's lines until it ends; without it, interleaved.
   */
  constructor(
    out: Writable,
    private readonly holdOutput: (() => HeldOutput) | undefined = undefined,
    private readonly options: { readonly showSkipped: boolean; readonly verbose: boolean; readonly logDirectory?: string } = { showSkipped: true, verbose: false },
  ) {
    this.out = new LineWriter(out);
  }

  handle(event: EngineEvent): void {
    switch (event.type) {
      case 'run-started':
        this.write(`run ${event.runId}: environment ${event.environment}, ${event.tasks} tasks${event.estimateMs ? `, about ${formatDuration(event.estimateMs)}` : ''}`);
        return;
      case 'task-skipped':
        if (this.options.showSkipped) this.write(`[${event.task}] ${describeSkipReason(event.why)}`);
        return;
      case 'task-started':
        this.taskLine(event.task, event.attempt > 1 ? `attempt ${event.attempt}` : `run: ${describeRunReason(event.reason)}`);
        return;
      case 'task-command':
        this.taskLine(event.task, `$ ${event.command}`);
        return;
      case 'task-output':
        this.taskLine(event.task, event.line);
        return;
      case 'task-progress':
        if (this.progressLines.due(event)) this.taskLine(event.task, progressText(event));
        return;
      case 'task-command-finished':
        if (event.exitCode !== 0) this.taskLine(event.task, `exit ${event.exitCode ?? event.signal} after ${formatDuration(event.durationMs)}`);
        return;
      case 'task-retrying':
        this.taskLine(event.task, `attempt ${event.attempt} failed (${renderFailure(event.failure)}); retrying in ${formatDuration(event.delayMs)}`);
        return;
      case 'task-succeeded':
        this.taskLine(event.task, `done in ${formatDuration(event.durationMs)}`);
        this.release(event.task);
        return;
      case 'task-failed':
        this.taskLine(event.task, `FAILED: ${renderFailure(event.failure)}`);
        if (this.options.verbose && event.failure.reason === 'task-threw' && event.failure.stack) {
          for (const line of event.failure.stack.split('\n').slice(1)) this.taskLine(event.task, line);
        }
        this.release(event.task);
        return;
      case 'task-blocked':
        this.write(`[${event.task}] blocked: waiting on ${event.waitingOn}, which ${event.waitingOnOutcome === 'interrupted' ? 'was interrupted' : 'failed'}`);
        return;
      case 'task-not-started':
        return;
      case 'warning':
        this.write(`warning: ${event.message}`);
        return;
      case 'run-finished':
        for (const line of summarizeRun(event.record, this.options)) this.write(line);
        return;
    }
  }

  close(): void {
    for (const task of [...this.held.keys()]) this.release(task);
    this.out.flush();
  }

  private taskLine(task: TaskId, text: string): void {
    const line = `[${task}] ${text}`;
    if (!this.holdOutput) return this.write(line);
    let held = this.held.get(task);
    if (!held) this.held.set(task, (held = this.holdOutput()));
    held.add(line);
  }

  private release(task: TaskId): void {
    const held = this.held.get(task);
    if (!held) return;
    this.held.delete(task);
    held.release((text) => this.out.write(text));
  }

  private write(line: string): void {
    this.out.write(`${line}\n`);
  }
}
